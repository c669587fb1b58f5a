// The usage chart: requests as bars and spend as a line, over the dashboard's range, drawn as SVG.
import { h, svg, usd } from "./dom.js";

const W = 720;
const H = 220;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

function label(start, granularity) {
  const d = new Date(start * 1000);
  return granularity === "hour"
    ? d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString("en-GB", { day: "2-digit", month: "short" });
}

export function usageChart(series, granularity) {
  const maxRequests = Math.max(1, ...series.map((p) => p.requests));
  const maxCost = Math.max(1, ...series.map((p) => p.cost));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = innerW / Math.max(1, series.length);
  const bars = series.map((p, i) => {
    const barH = (p.requests / maxRequests) * innerH;
    return svg("rect", {
      class: "bar", x: (PAD.left + i * step + step * 0.15).toFixed(1), y: (PAD.top + innerH - barH).toFixed(1),
      width: Math.max(1, step * 0.7).toFixed(1), height: barH.toFixed(1),
    }, svg("title", {}, `${label(p.start, granularity)}: ${p.requests} requests, ${usd(p.cost)}`));
  });
  const points = series.map((p, i) =>
    `${(PAD.left + i * step + step / 2).toFixed(1)},${(PAD.top + innerH - (p.cost / maxCost) * innerH).toFixed(1)}`);
  const every = Math.max(1, Math.ceil(series.length / 8));
  const ticks = series.map((p, i) => (i % every === 0
    ? svg("text", { class: "tick", x: (PAD.left + i * step + step / 2).toFixed(1), y: H - 8, "text-anchor": "middle" }, label(p.start, granularity))
    : null)).filter(Boolean);
  const total = series.reduce((n, p) => n + p.requests, 0);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `Usage chart: ${total} requests in total, shown per ${granularity}` },
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top + innerH, x2: W - PAD.right, y2: PAD.top + innerH }),
    svg("text", { class: "tick", x: PAD.left - 6, y: PAD.top + 10, "text-anchor": "end" }, String(maxRequests)),
    svg("text", { class: "tick", x: PAD.left - 6, y: PAD.top + innerH, "text-anchor": "end" }, "0"),
    bars,
    svg("polyline", { class: "spend", points: points.join(" "), fill: "none" }),
    ticks);
  return h("figure", { class: "chart-box" }, chart,
    h("figcaption", {}, h("span", { class: "key-bars" }, "Requests"), " · ", h("span", { class: "key-line" }, `Spend (peak ${usd(maxCost === 1 && !series.some((p) => p.cost) ? 0 : maxCost)})`)));
}
