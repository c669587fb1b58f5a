// Redemption codes (admin): create N codes of an amount, shown once with a Download; the list shows hints only.
import { api } from "./api.js";
import { clear, copy, field, form, fromLocalInput, h, table, toQuota, usd, when } from "./dom.js";

function csv(codes, created) {
  const rows = [["code", "amount_usd", "expires_at"]];
  codes.forEach((code, i) => rows.push([code, (created[i].amount / 500000).toFixed(6), created[i].expires_at ? new Date(created[i].expires_at * 1000).toISOString() : ""]));
  return rows.map((r) => r.join(",")).join("\n") + "\n";
}

export async function codesPage(main) {
  const formBox = h("div");
  const shown = h("div");
  const listBox = h("div");
  const create = h("button", { type: "button", class: "primary", onclick: () => open() }, "Create codes");
  main.append(h("div", { class: "toolbar" }, create), shown, formBox, listBox);
  let download = null;

  function close() {
    clear(formBox);
    create.hidden = false;
  }

  function showOnce(result) {
    if (download) URL.revokeObjectURL(download);
    download = URL.createObjectURL(new Blob([csv(result.codes, result.created)], { type: "text/csv" }));
    const status = h("p", { class: "notice" });
    clear(shown, h("section", { class: "card once" },
      h("h2", { id: "new-codes" }, `${result.codes.length} new code${result.codes.length === 1 ? "" : "s"} of ${usd(result.created[0].amount)}`),
      h("p", {}, "Save them now: they are shown this once, and only their hints afterwards."),
      h("ul", { class: "codes", "aria-label": "New redemption codes" }, result.codes.map((c) => h("li", {}, h("code", { class: "secret" }, c)))),
      h("div", { class: "actions" },
        h("a", { class: "button primary", href: download, download: "redemption-codes.csv" }, "Download"),
        h("button", { type: "button", onclick: () => copy(result.codes.join("\n"), status) }, "Copy"),
        h("button", { type: "button", onclick: () => clear(shown) }, "Done")),
      status));
  }

  function open() {
    create.hidden = true;
    clear(shown);
    clear(formBox, form("Create codes", [
      field({ label: "Count", name: "count", value: "1", inputmode: "numeric", required: true, hint: "1 to 1000" }),
      field({ label: "Amount", name: "amount", inputmode: "decimal", required: true, hint: "USD each code adds" }),
      field({ label: "Expires", name: "expires_at", type: "datetime-local", hint: "empty = never" }),
      field({ label: "Label", name: "name", hint: "optional, to find the batch later" }),
    ], async (v) => {
      const count = Number(v.count);
      if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error("Count: a whole number from 1 to 1000.");
      showOnce(await api("POST", "/api/redemptions", { count, amount: toQuota(v.amount), expires_at: fromLocalInput(v.expires_at), name: v.name }));
      close();
      await load();
    }, { cancel: close }));
    formBox.querySelector("input").focus();
  }

  async function remove(code) {
    await api("DELETE", `/api/redemptions/${code.id}`);
    await load();
  }

  async function load() {
    const codes = await api("GET", "/api/redemptions");
    clear(listBox, table("Redemption codes", [
      ["Code", (c) => h("code", {}, c.hint)],
      ["Label", (c) => c.name || "—"],
      ["Amount", (c) => usd(c.amount)],
      ["Status", (c) => c.status],
      ["Created", (c) => when(c.created_at)],
      ["Expires", (c) => (c.expires_at ? when(c.expires_at) : "never")],
      ["Redeemed by", (c) => (c.redeemed_by ? `user ${c.redeemed_by} at ${when(c.redeemed_at)}` : "—")],
      ["Actions", (c) => (c.status === "unused" ? h("button", { type: "button", onclick: () => remove(c) }, "Delete") : "")],
    ], codes, "No codes yet."));
  }
  await load();
}
