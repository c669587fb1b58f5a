// Account: change your own password (your other sessions end).
import { api } from "./api.js";
import { field, form, h, notice } from "./dom.js";

export async function accountPage(main, { user }) {
  const message = h("p", { class: "notice" });
  const el = form("Change your password", [
    field({ label: "Current password", name: "current_password", type: "password", required: true, autocomplete: "current-password" }),
    field({ label: "New password", name: "new_password", type: "password", required: true, autocomplete: "new-password", hint: "8 characters or more" }),
  ], async (v, formEl) => {
    await api("POST", "/api/self/password", v);
    notice(message, "Password changed; your other sessions have ended.");
    formEl.reset();
  });
  el.append(message);
  main.append(h("p", {}, `Logged in as ${user.name} (${user.role}, group ${user.group}).`), el);
}
