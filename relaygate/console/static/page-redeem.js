// Redeem a code: the balance grows by its amount, once; a used, expired or unknown code is refused clearly.
import { api } from "./api.js";
import { field, form, h, notice, table, usd, when } from "./dom.js";

// `title`: the form's heading; on the Redeem page it must not repeat the page's name (one "Redeem" heading there)
export function redeemForm(after, title = "Redeem a code") {
  const message = h("p", { class: "notice" });
  const el = form(title, [
    field({ label: "Redemption code", name: "code", required: true, placeholder: "ABCD1234-…" }),
  ], async (v, formEl) => {
    if (!v.code) throw new Error("Enter a redemption code.");
    message.textContent = "";
    try {
      const done = await api("POST", "/api/self/redeem", { code: v.code });
      notice(message, `Redeemed: ${usd(done.amount)} added; your balance is ${usd(done.balance)}.`);
      formEl.reset();
      if (after) await after();
    } catch (err) {
      notice(message, err.code === "code_already_used" ? "This code was already used." : err.message, false);
    }
  }, { submit: "Redeem" });
  el.append(message);
  return el;
}

export async function redeemPage(main, { isAdmin }) {
  if (isAdmin) return;
  const history = h("section", {});
  async function load() {
    const rows = await api("GET", "/api/self/redemptions");
    history.replaceChildren(h("h2", { id: "used-codes" }, "Codes you used"),
      table("Codes you used", [["Code", (c) => c.hint], ["Amount", (c) => usd(c.amount)], ["Redeemed", (c) => when(c.redeemed_at)]], rows, "No codes redeemed yet."));
  }
  main.append(redeemForm(load, "Enter a code"), history);
  await load();
}
