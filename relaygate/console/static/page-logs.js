// Logs: recent requests, filtered by model, request id, key, user, status and time, a page at a time.
import { api } from "./api.js";
import { clear, field, fromLocalInput, h, num, table, usd, values, when } from "./dom.js";

const PAGE = 50;

export async function logsPage(main, { isAdmin }) {
  const [users, keys] = isAdmin
    ? await Promise.all([api("GET", "/api/users"), api("GET", "/api/keys")])
    : [[], await api("GET", "/api/self/keys")];
  const userNames = new Map(users.map((u) => [u.id, u.name]));
  const keyNames = new Map(keys.map((k) => [k.id, k.name || k.hint]));
  const filters = h("form", { class: "card filters", role: "search" },
    h("h2", {}, "Filter"),
    h("div", { class: "filter-grid" },
      field({ label: "Model", name: "model" }),
      field({ label: "Request ID", name: "request_id", placeholder: "req_…" }),
      field({ label: "API key", name: "key_id", options: [["", "any"], ...keys.map((k) => [k.id, `${k.name || "unnamed"} (${k.hint})`])] }),
      isAdmin ? field({ label: "User", name: "user_id", options: [["", "any"], ...users.map((u) => [u.id, u.name])] }) : null,
      field({ label: "Status", name: "status", options: [["", "any"], ["ok", "OK (below 400)"], ["error", "errors (400 and up)"], ["429", "429"]] }),
      field({ label: "From", name: "since", type: "datetime-local" }),
      field({ label: "To", name: "until", type: "datetime-local" })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Filter"),
      h("button", { type: "reset" }, "Clear")));
  const error = h("p", { role: "alert", class: "form-error" });
  const listBox = h("div");
  const pager = h("div", { class: "actions pager" });
  main.append(filters, error, listBox, pager);
  const cursors = [];

  function query(before) {
    const v = values(filters);
    const q = new URLSearchParams({ limit: String(PAGE) });
    for (const name of ["model", "request_id", "key_id", "user_id", "status"]) if (v[name]) q.set(name, v[name]);
    const since = fromLocalInput(v.since);
    const until = fromLocalInput(v.until);
    if (since) q.set("since", String(since));
    if (until) q.set("until", String(until));
    if (before) q.set("before", String(before));
    return q;
  }

  let latest = 0;
  async function load(before) {
    const mine = ++latest;
    error.textContent = "";
    let rows;
    try {
      rows = await api("GET", `${isAdmin ? "/api/logs" : "/api/self/logs"}?${query(before)}`);
    } catch (err) {
      if (mine === latest) error.textContent = err.message;
      return;
    }
    if (mine !== latest) return; // a newer filter's answer is on its way: never show an older one over it
    clear(listBox, table("Request logs", [
      ["Time", (r) => when(r.created_at)],
      ["Key", (r) => (r.key_id ? keyNames.get(r.key_id) || `key ${r.key_id}` : "—")],
      isAdmin ? ["User", (r) => (r.user_id ? userNames.get(r.user_id) || `user ${r.user_id}` : "—")] : null,
      ["Model", (r) => r.model || r.endpoint],
      ["Channel", (r) => (r.channel_id ? String(r.channel_id) : "—")],
      ["Tokens", (r) => `${num(r.prompt_tokens + r.completion_tokens)} (${num(r.prompt_tokens)} in, ${num(r.completion_tokens)} out)`],
      ["Cost", (r) => usd(r.cost)],
      ["Latency", (r) => `${Math.round(r.latency_ms)} ms`],
      ["Status", (r) => h("span", { class: r.status >= 400 ? "status bad" : "status ok" }, r.error_code ? `${r.status} ${r.error_code}` : String(r.status))],
      ["Request ID", (r) => h("code", {}, r.request_id)],
    ].filter(Boolean), rows, "No requests match."));
    clear(pager,
      cursors.length ? h("button", { type: "button", onclick: () => { cursors.pop(); load(cursors[cursors.length - 1]); } }, "Newer") : null,
      rows.length === PAGE ? h("button", { type: "button", onclick: () => { cursors.push(rows[rows.length - 1].id); load(rows[rows.length - 1].id); } }, "Older") : null);
  }
  let typing = null;
  const first = () => { clearTimeout(typing); cursors.length = 0; load(); };
  filters.addEventListener("submit", (e) => { e.preventDefault(); first(); });
  filters.addEventListener("reset", () => setTimeout(first));
  // the filters also apply as they change: a choice at once, typing after a pause (Filter or Enter at once)
  filters.addEventListener("change", (e) => { if (e.target.tagName === "SELECT" || e.target.type === "datetime-local") first(); });
  filters.addEventListener("input", (e) => {
    if (e.target.tagName !== "INPUT" || e.target.type === "datetime-local") return;
    clearTimeout(typing);
    typing = setTimeout(first, 400);
  });
  await load();
}
