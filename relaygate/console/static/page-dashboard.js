// The dashboard: today's requests, tokens and spend, usage over time, per model and per channel; a user's own
// traffic and balance, with the redeem form.
import { api } from "./api.js";
import { usageChart } from "./chart.js";
import { clear, field, h, num, table, usd } from "./dom.js";
import { redeemForm } from "./page-redeem.js";

function figure(label, value, extra) {
  return h("div", { class: "figure" }, h("dt", {}, label), h("dd", {}, value, extra ? h("span", { class: "units" }, extra) : null));
}

function usageTable(caption, rows, first) {
  return table(caption, [
    [first[0], first[1]],
    ["Requests", (r) => num(r.requests)],
    ["Tokens", (r) => num(r.tokens)],
    ["Spend", (r) => usd(r.cost)],
  ], rows, "No requests in this time.");
}

export async function dashboardPage(main, { isAdmin }) {
  const path = isAdmin ? "/api/dashboard" : "/api/self/dashboard";
  const body = h("div", { class: "dashboard" });
  const range = field({ label: "Range", name: "range", value: "7d", options: [["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"], ["90d", "Last 90 days"]] });
  const by = field({ label: "Granularity", name: "granularity", value: "", options: [["", "Default"], ["hour", "Hour"], ["day", "Day"]] });
  const controls = h("form", { class: "controls" }, range, by);
  controls.addEventListener("change", () => load());
  controls.addEventListener("submit", (e) => e.preventDefault());
  if (!isAdmin) main.append(redeemForm(() => load()));
  main.append(body);

  async function load() {
    const r = controls.querySelector("[name=range]").value;
    const g = controls.querySelector("[name=granularity]").value;
    const data = await api("GET", `${path}?range=${r}${g ? `&granularity=${g}` : ""}`);
    const today = data.today;
    clear(body,
      h("dl", { class: "figures" },
        figure("Requests today", num(today.requests), today.failures ? ` (${num(today.failures)} failed)` : null),
        figure("Tokens today", num(today.tokens)),
        figure("Spend today", usd(today.cost), ` ${num(today.cost)} quota units`),
        isAdmin ? null : figure("Balance", usd(data.balance), ` ${num(data.balance)} quota units`)),
      h("p", { class: "hint" }, `Days are counted in ${data.time_zone}.`),
      h("section", {},
        h("h2", { id: "models-today" }, "Models used today"),
        usageTable("Models used today", data.models_today, ["Model", (m) => m.model])),
      h("section", {},
        h("h2", { id: "usage-over-time" }, "Usage over time"),
        controls,
        usageChart(data.series, data.granularity)),
      h("section", {},
        h("h2", { id: "per-model" }, "Per model"),
        usageTable("Usage per model in the range", data.models, ["Model", (m) => m.model])),
      isAdmin ? h("section", {},
        h("h2", { id: "per-channel" }, "Per channel"),
        usageTable("Usage per channel in the range", data.channels, ["Channel", (c) => c.name])) : null);
  }
  await load();
  // refresh while the dashboard is what is shown and the tab is visible
  const timer = setInterval(() => {
    if (!body.isConnected) clearInterval(timer);
    else if (document.visibilityState === "visible") load().catch(() => clearInterval(timer));
  }, 30000);
}
