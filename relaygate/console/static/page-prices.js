// Prices (admin): every model's effective price, built-in or the operator's, editable in every unit; group
// multipliers.
import { api } from "./api.js";
import { clear, field, form, h, optionalNumber, table, usdText } from "./dom.js";

function variants(perImage) {
  return Object.entries(perImage || {}).map(([v, p]) => `${v}=${p}`).join(", ");
}

function readVariants(text) {
  if (!text) return null;
  const out = {};
  for (const pair of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const at = pair.lastIndexOf("=");
    const price = Number(pair.slice(at + 1));
    if (at < 1 || !Number.isFinite(price)) throw new Error(`Per image: "${pair}" is not size/quality=USD.`);
    out[pair.slice(0, at).trim()] = price;
  }
  return out;
}

function priceForm(price, done, cancel) {
  const p = price || {};
  return form(price ? `Edit the price of ${p.model}` : "Add a price", [
    price ? null : field({ label: "Model", name: "model", required: true }),
    field({ label: "Input", name: "input_per_1m", value: p.input_per_1m ?? "", inputmode: "decimal", hint: "USD per 1M prompt tokens" }),
    field({ label: "Output", name: "output_per_1m", value: p.output_per_1m ?? "", inputmode: "decimal", hint: "USD per 1M completion tokens" }),
    field({ label: "Per call", name: "per_call", value: p.per_call ?? "", inputmode: "decimal", hint: "USD per request; empty = none" }),
    field({ label: "Per 1M characters", name: "per_1m_characters", value: p.per_1m_characters ?? "", inputmode: "decimal", hint: "text to speech" }),
    field({ label: "Per second", name: "per_second", value: p.per_second ?? "", inputmode: "decimal", hint: "USD per second of audio (transcription)" }),
    field({ label: "Per image", name: "per_image", value: variants(p.per_image), hint: "size/quality=USD pairs, e.g. 1024x1024/hd=0.08, *=0.04" }),
    field({ label: "Cached prompt", name: "cache_read_per_1m", value: p.cache_read_per_1m ?? "", inputmode: "decimal", hint: "USD per 1M tokens read from cache; empty = as input" }),
    field({ label: "Cache write", name: "cache_write_per_1m", value: p.cache_write_per_1m ?? "", inputmode: "decimal", hint: "USD per 1M tokens written to cache; empty = as input" }),
  ], async (v) => {
    const body = {
      input_per_1m: optionalNumber(v.input_per_1m, "Input") ?? 0,
      output_per_1m: optionalNumber(v.output_per_1m, "Output"),
      per_call: optionalNumber(v.per_call, "Per call"),
      per_1m_characters: optionalNumber(v.per_1m_characters, "Per 1M characters"),
      per_second: optionalNumber(v.per_second, "Per second"),
      per_image: readVariants(v.per_image),
      cache_read_per_1m: optionalNumber(v.cache_read_per_1m, "Cached prompt"),
      cache_write_per_1m: optionalNumber(v.cache_write_per_1m, "Cache write"),
    };
    if (p.image_input_per_1m !== undefined && p.image_input_per_1m !== null) body.image_input_per_1m = p.image_input_per_1m;
    const model = price ? p.model : v.model;
    if (!model) throw new Error("Name the model.");
    await api("PUT", `/api/prices/${encodeURIComponent(model)}`, body);
    await done();
  }, { cancel });
}

function groupForm(group, done, cancel) {
  const g = group || {};
  return form(group ? `Edit group ${g.name}` : "Add a group", [
    group ? null : field({ label: "Group name", name: "name", required: true }),
    field({ label: "Multiplier", name: "multiplier", value: g.multiplier ?? 1, inputmode: "decimal", hint: "prices × this for the group's users" }),
    field({ label: "Description", name: "description", value: g.description ?? "" }),
  ], async (v) => {
    await api("PUT", "/api/groups", { name: group ? g.name : v.name, multiplier: optionalNumber(v.multiplier, "Multiplier") ?? 1, description: v.description });
    await done();
  }, { cancel });
}

export async function pricesPage(main) {
  const formBox = h("div");
  const listBox = h("div");
  const groupsBox = h("section", {});
  const add = h("button", { type: "button", class: "primary", onclick: () => open(priceForm(null, done, close)) }, "Add price");
  const find = field({ label: "Find a price", name: "find", type: "search", placeholder: "gpt-4o" });
  main.append(h("div", { class: "toolbar" }, add), find, formBox, listBox, groupsBox);
  let prices = [];
  find.querySelector("input").addEventListener("input", () => show());

  function open(el) {
    add.hidden = true;
    clear(formBox, el);
    formBox.querySelector("input").focus();
    formBox.scrollIntoView({ block: "nearest" });
  }
  function close() {
    clear(formBox);
    add.hidden = false;
  }
  async function done() {
    close();
    await load();
  }
  async function remove(p) {
    await api("DELETE", `/api/prices/${encodeURIComponent(p.model)}`);
    await load();
  }

  function show() {
    const wanted = find.querySelector("input").value.trim().toLowerCase();
    const shown = wanted ? prices.filter((p) => p.model.toLowerCase().includes(wanted)) : prices;
    clear(listBox, table("Prices", [
      ["Model", (p) => p.model],
      ["Input (USD / 1M tokens)", (p) => usdText(p.input_per_1m)],
      ["Output (USD / 1M tokens)", (p) => usdText(p.output_per_1m ?? (p.input_per_1m ?? 0) * (p.completion_ratio ?? 1))],
      ["Per call", (p) => (p.per_call ? usdText(p.per_call) : "—")],
      ["Per 1M characters", (p) => (p.per_1m_characters ? usdText(p.per_1m_characters) : "—")],
      ["Per second", (p) => (p.per_second ? usdText(p.per_second) : "—")],
      ["Per image", (p) => variants(p.per_image) || "—"],
      ["Source", (p) => (p.source === "default" ? "built-in" : "operator")],
      ["Actions", (p) => h("div", { class: "row-actions" },
        h("button", { type: "button", onclick: () => open(priceForm(p, done, close)) }, "Edit"),
        p.source === "operator" ? h("button", { type: "button", onclick: () => remove(p) }, "Remove") : null)],
    ], shown, wanted ? "No model matches." : "No prices: requests for unpriced models are refused."));
  }

  async function load() {
    let groups;
    [prices, groups] = await Promise.all([api("GET", "/api/prices"), api("GET", "/api/groups")]);
    show();
    clear(groupsBox, h("h2", { id: "groups" }, "Group multipliers"),
      h("div", { class: "toolbar" }, h("button", { type: "button", onclick: () => open(groupForm(null, done, close)) }, "Add group")),
      table("Group multipliers", [
        ["Group", (g) => g.name],
        ["Multiplier", (g) => (g.multiplier === null ? "1 (stored value unreadable)" : `× ${g.multiplier}`)],
        ["Description", (g) => g.description],
        ["Actions", (g) => h("button", { type: "button", onclick: () => open(groupForm(g, done, close)) }, "Edit")],
      ], groups));
  }
  await load();
}
