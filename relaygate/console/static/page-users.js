// Users (admin): balances in USD, create, top up, set a balance with a reason, disable, reset a password, group.
import { api } from "./api.js";
import { clear, field, form, h, table, toQuota, usd, when } from "./dom.js";

export async function usersPage(main) {
  const groups = await api("GET", "/api/groups");
  const groupOptions = groups.map((g) => [g.name, g.name]);
  const formBox = h("div");
  const listBox = h("div");
  const create = h("button", { type: "button", class: "primary", onclick: () => open(createForm()) }, "Create user");
  main.append(h("div", { class: "toolbar" }, create), formBox, listBox);

  function open(el) {
    create.hidden = true;
    clear(formBox, el);
    formBox.querySelector("input, select").focus();
    formBox.scrollIntoView({ block: "nearest" });
  }
  function close() {
    clear(formBox);
    create.hidden = false;
  }
  async function done() {
    close();
    await load();
  }

  const createForm = () => form("Create user", [
    field({ label: "Username", name: "name", required: true, autocomplete: "off" }),
    field({ label: "Password", name: "password", type: "password", autocomplete: "new-password", hint: "8 characters or more; empty = no console log-in" }),
    field({ label: "Balance", name: "balance", inputmode: "decimal", hint: "USD, optional" }),
    field({ label: "Role", name: "role", value: "user", options: [["user", "user"], ["admin", "admin"]] }),
    field({ label: "Group", name: "group", value: "default", options: groupOptions }),
  ], async (v) => {
    await api("POST", "/api/users", {
      name: v.name, role: v.role, group: v.group, balance: v.balance ? toQuota(v.balance) : 0,
      password: v.password || null,
    });
    await done();
  }, { cancel: close });

  const topUp = (u) => form(`Top up ${u.name}`, [
    field({ label: "Amount", name: "amount", required: true, inputmode: "decimal", hint: "USD to add" }),
    field({ label: "Note", name: "note" }),
  ], async (v) => {
    await api("POST", `/api/users/${u.id}/topup`, { amount: toQuota(v.amount), note: v.note });
    await done();
  }, { cancel: close });

  const setBalance = (u) => form(`Set the balance of ${u.name}`, [
    field({ label: "New balance", name: "balance", required: true, inputmode: "decimal", hint: `USD; now ${usd(u.balance)}`, value: String(u.balance / 500000) }),
    field({ label: "Reason", name: "note", required: true }),
  ], async (v) => {
    if (!v.note) throw new Error("Give a reason: it goes into the audit log.");
    await api("PUT", `/api/users/${u.id}/balance`, { balance: toQuota(v.balance), note: v.note });
    await done();
  }, { cancel: close });

  const resetPassword = (u) => form(`Reset the password of ${u.name}`, [
    field({ label: "New password", name: "password", type: "password", required: true, autocomplete: "new-password", hint: "8 characters or more; their sessions end" }),
  ], async (v) => {
    await api("PUT", `/api/users/${u.id}/password`, { password: v.password });
    await done();
  }, { cancel: close });

  const changeGroup = (u) => form(`Group of ${u.name}`, [
    field({ label: "Group", name: "group", value: u.group, options: groupOptions }),
  ], async (v) => {
    await api("PATCH", `/api/users/${u.id}`, { group: v.group });
    await done();
  }, { cancel: close });

  async function setEnabled(u, enabled) {
    await api("PATCH", `/api/users/${u.id}`, { enabled });
    await load();
  }

  async function load() {
    const users = (await api("GET", "/api/users")).sort((a, b) => b.id - a.id);
    clear(listBox, table("Users", [
      ["Name", (u) => u.name],
      ["Role", (u) => u.role],
      ["Group", (u) => u.group],
      ["Balance", (u) => usd(u.balance)],
      ["Used", (u) => usd(u.used_quota)],
      ["Status", (u) => (u.enabled ? "enabled" : "disabled")],
      ["Created", (u) => when(u.created_at)],
      ["Actions", (u) => h("div", { class: "row-actions" },
        h("button", { type: "button", onclick: () => open(topUp(u)) }, "Top up"),
        h("button", { type: "button", onclick: () => open(setBalance(u)) }, "Set balance"),
        h("button", { type: "button", onclick: () => open(resetPassword(u)) }, "Reset password"),
        h("button", { type: "button", onclick: () => open(changeGroup(u)) }, "Change group"),
        u.enabled
          ? h("button", { type: "button", onclick: () => setEnabled(u, false) }, "Disable")
          : h("button", { type: "button", onclick: () => setEnabled(u, true) }, "Enable"))],
    ], users));
  }
  await load();
}
