// Keys: create one (shown once in full, with Copy), edit its limits, revoke it. Users see their own; the
// admin sees every key with its owner.
import { api } from "./api.js";
import { clear, copy, field, form, fromLocalInput, h, list, localInput, notice, optionalNumber, table, toQuota, usd } from "./dom.js";

function limitFields(key, isAdmin, users) {
  return [
    isAdmin && !key ? field({ label: "User", name: "user_id", options: users.map((u) => [u.id, u.name]) }) : null,
    field({ label: "Name", name: "name", value: key?.name ?? "" }),
    field({ label: "Quota", name: "quota", value: key && !key.unlimited ? String(key.remain_quota / 500000) : "", inputmode: "decimal", hint: "USD; empty = unlimited" }),
    field({ label: "Models", name: "allowed_models", value: (key?.allowed_models || []).join(", "), hint: "comma-separated; empty = all" }),
    field({ label: "Expires", name: "expires_at", type: "datetime-local", value: localInput(key?.expires_at), hint: "empty = never" }),
    field({ label: "IP ranges", name: "allowed_ips", value: (key?.allowed_ips || []).join(", "), hint: "CIDR, comma-separated; empty = anywhere" }),
    field({ label: "RPM", name: "rpm", value: key?.rpm ?? "", inputmode: "numeric", hint: "requests per minute; empty = no limit" }),
    field({ label: "TPM", name: "tpm", value: key?.tpm ?? "", inputmode: "numeric", hint: "tokens per minute; empty = no limit" }),
    isAdmin ? field({ label: "Group", name: "group", value: key?.group ?? "", hint: "empty = the user's group" }) : null,
  ];
}

function limits(v, isAdmin) {
  const body = {
    name: v.name,
    quota: v.quota === "" ? null : toQuota(v.quota),
    allowed_models: v.allowed_models ? list(v.allowed_models) : null,
    allowed_ips: v.allowed_ips ? list(v.allowed_ips) : null,
    expires_at: fromLocalInput(v.expires_at),
    rpm: optionalNumber(v.rpm, "RPM"),
    tpm: optionalNumber(v.tpm, "TPM"),
  };
  if (isAdmin) body.group = v.group || null;
  return body;
}

export async function keysPage(main, { isAdmin, user }) {
  const users = isAdmin ? await api("GET", "/api/users") : [user];
  const names = new Map(users.map((u) => [u.id, u.name]));
  const formBox = h("div");
  const shown = h("div");
  const listBox = h("div");
  const create = h("button", { type: "button", class: "primary", onclick: () => openForm(null) }, "Create key");
  main.append(h("div", { class: "toolbar" }, create), shown, formBox, listBox);

  function closeForm() {
    clear(formBox);
    create.hidden = false;
  }

  function showOnce(created) {
    const status = h("p", { class: "notice" });
    clear(shown, h("section", { class: "card once" },
      h("h2", { id: "new-key" }, "Your new key"),
      h("p", {}, "Copy it now: it is shown this once, and only its hint afterwards."),
      h("p", {}, h("code", { class: "secret" }, created.key)),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: () => copy(created.key, status) }, "Copy"),
        h("button", { type: "button", onclick: () => clear(shown) }, "Done")),
      status));
  }

  function openForm(key) {
    create.hidden = true;
    clear(shown);
    clear(formBox, form(key ? `Edit key ${key.name || key.hint}` : "Create key", limitFields(key, isAdmin, users), async (v) => {
      const body = limits(v, isAdmin);
      if (key) {
        const patch = { ...body, unlimited: body.quota === null };
        if (body.quota === null) delete patch.quota;
        await api("PATCH", isAdmin ? `/api/keys/${key.id}` : `/api/self/keys/${key.id}`, patch);
      } else if (isAdmin) {
        showOnce(await api("POST", "/api/keys", { ...body, user_id: Number(v.user_id) }));
      } else {
        delete body.group;
        showOnce(await api("POST", "/api/self/keys", body));
      }
      closeForm();
      await load();
    }, { cancel: closeForm }));
    formBox.querySelector("input, select").focus();
  }

  async function revoke(key, status) {
    try {
      await api("DELETE", isAdmin ? `/api/keys/${key.id}` : `/api/self/keys/${key.id}`);
      await load();
    } catch (err) {
      notice(status, err.message, false);
    }
  }

  async function load() {
    const keys = (await api("GET", isAdmin ? "/api/keys" : "/api/self/keys")).sort((a, b) => b.id - a.id);
    clear(listBox, table("Keys", [
      ["Name", (k) => k.name || "—"],
      ["Key", (k) => h("code", {}, k.hint)],
      isAdmin ? ["Owner", (k) => names.get(k.user_id) || `user ${k.user_id}`] : null,
      isAdmin ? ["Kind", (k) => k.kind] : null,
      ["Quota", (k) => (k.unlimited ? "unlimited" : `${usd(k.remain_quota)} left`)],
      ["Used", (k) => usd(k.used_quota)],
      ["Models", (k) => (k.allowed_models ? k.allowed_models.join(", ") : "all")],
      ["Status", (k) => (!k.enabled ? "revoked" : k.expires_at && k.expires_at * 1000 < Date.now() ? "expired" : "active")],
      ["Actions", (k) => {
        const status = h("span");
        return h("div", { class: "row-actions" },
          h("button", { type: "button", onclick: () => openForm(k) }, "Edit"),
          k.enabled ? h("button", { type: "button", onclick: () => revoke(k, status) }, "Revoke") : null, status);
      }],
    ].filter(Boolean), keys, "No keys yet: create one to call the API."));
  }
  await load();
}
