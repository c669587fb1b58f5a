// Channels: the list with status, a Test button per row and for all, add and edit with the type's own options.
import { api } from "./api.js";
import { clear, field, form, h, list, notice, table } from "./dom.js";

function statusText(ch) {
  if (ch.status === "auto_disabled") return `auto-disabled${ch.status_reason ? `: ${ch.status_reason}` : ""}`;
  return ch.status;
}

function testText(result) {
  if (result.ok) return `OK · ${Math.round(result.latency_ms)} ms`;
  return `failed: ${result.message || (result.status ? `status ${result.status}` : "no answer")}`;
}

function optionFields(kind, current) {
  return kind.options.map((o) => field({
    label: o.name.replaceAll("_", " ").replace(/models?/g, "patterns"), name: `opt_${o.name}`,
    hint: o.description + (o.kind === "list" ? " (comma-separated)" : ""),
    value: Array.isArray(current[o.name]) ? current[o.name].join(", ") : current[o.name] ?? "",
    inputmode: o.kind === "integer" || o.kind === "number" ? "numeric" : undefined,
  }));
}

function readOptions(kind, v) {
  const out = {};
  for (const o of kind.options) {
    const raw = v[`opt_${o.name}`];
    if (raw === undefined || raw === "") continue;
    out[o.name] = o.kind === "list" ? list(raw) : o.kind === "integer" || o.kind === "number" ? Number(raw) : raw;
  }
  return out;
}

function channelForm(types, channel, done, cancel) {
  const editing = Boolean(channel);
  const ch = channel || { type: "openai", groups: ["default"], priority: 0, weight: 1, models: [], model_mapping: {}, options: {} };
  const optionsBox = h("div", { class: "options" });
  let opened = false;
  const toggle = h("button", { type: "button", "aria-expanded": "false" }, "Show type options");
  const kindOf = (name) => types.find((t) => t.type === name) || { type: name, options: [] };
  const showOptions = () => {
    const kind = kindOf(el.querySelector("[name=type]").value);
    clear(optionsBox, opened ? (kind.options.length ? optionFields(kind, ch.type === kind.type ? ch.options : {}) : h("p", { class: "hint" }, "This type takes no options.")) : null);
    toggle.textContent = opened ? "Hide type options" : "Show type options";
    toggle.setAttribute("aria-expanded", String(opened));
  };
  toggle.addEventListener("click", () => { opened = !opened; showOptions(); });
  const mapping = Object.entries(ch.model_mapping || {}).map(([a, b]) => `${a}=${b}`).join(", ");
  const el = form(editing ? `Edit channel ${ch.name}` : "Add channel", [
    field({ label: "Name", name: "name", value: ch.name, required: true }),
    field({ label: "Type", name: "type", value: ch.type, options: types.map((t) => [t.type, t.type]) }),
    field({ label: "Base URL", name: "base_url", value: ch.base_url, required: true, placeholder: "https://api.openai.com", type: "url" }),
    field({ label: "Key", name: "credentials", type: "password", required: !editing, hint: editing ? `${ch.credential_count} stored; leave empty to keep them. Several: one per line or comma-separated.` : "Several: comma-separated; they are rotated." }),
    field({ label: "Models", name: "models", value: (ch.models || []).join(", "), required: true, hint: "comma-separated; a trailing * matches a family (claude-*)" }),
    field({ label: "Model mapping", name: "model_mapping", value: mapping, hint: "client=upstream pairs, comma-separated" }),
    field({ label: "Groups", name: "groups", value: (ch.groups || []).join(", "), hint: "who may use it (comma-separated)" }),
    field({ label: "Priority", name: "priority", value: ch.priority, type: "number", step: 1 }),
    field({ label: "Weight", name: "weight", value: ch.weight, type: "number", step: 1, min: 1 }),
    field({ label: "Test with", name: "test_model", value: ch.test_model || "", hint: "the model the Test button asks (default: the first listed)" }),
  ], async (v) => {
    const kind = kindOf(v.type);
    const body = {
      name: v.name, base_url: v.base_url, models: list(v.models), groups: list(v.groups || "default"),
      priority: Number(v.priority || 0), weight: Number(v.weight || 1), test_model: v.test_model || null,
      model_mapping: Object.fromEntries(list(v.model_mapping).map((pair) => pair.split("=").map((s) => s.trim()))),
    };
    if (opened) body.options = readOptions(kind, v);
    if (v.credentials) body.credentials = list(v.credentials);
    if (editing) await api("PATCH", `/api/channels/${ch.id}`, body);
    else await api("POST", "/api/channels", { ...body, type: v.type });
    await done();
  }, { cancel, extra: h("div", { class: "options-box" }, toggle, optionsBox) });
  const typeSelect = el.querySelector("[name=type]");
  if (editing) typeSelect.disabled = true;
  typeSelect.addEventListener("change", showOptions);
  return el;
}

export async function channelsPage(main) {
  const types = await api("GET", "/api/channel-types");
  const progress = h("p", { class: "notice", role: "status" });
  const formBox = h("div");
  const listBox = h("div");
  const results = new Map();
  const add = h("button", { type: "button", class: "primary", onclick: () => openForm(null) }, "Add channel");
  const testAll = h("button", { type: "button", onclick: () => runAll() }, "Test all");
  main.append(h("div", { class: "toolbar" }, add, testAll), progress, formBox, listBox);
  let channels = [];

  function openForm(channel) {
    add.hidden = true;
    clear(formBox, channelForm(types, channel, async () => { closeForm(); await load(); }, closeForm));
    formBox.querySelector("input").focus();
  }
  function closeForm() {
    clear(formBox);
    add.hidden = false;
  }

  async function test(ch, cell) {
    notice(cell, "testing…");
    try {
      const result = await api("POST", `/api/channels/${ch.id}/test`);
      results.set(ch.id, result);
      notice(cell, testText(result), result.ok);
      return result;
    } catch (err) {
      notice(cell, `failed: ${err.message}`, false);
      return { ok: false };
    }
  }

  async function runAll() {
    testAll.disabled = true;
    let ok = 0;
    for (let i = 0; i < channels.length; i++) {
      notice(progress, `Testing ${i + 1} of ${channels.length}: ${channels[i].name}…`);
      const cell = listBox.querySelector(`[data-test-for="${channels[i].id}"]`);
      if ((await test(channels[i], cell)).ok) ok++;
    }
    notice(progress, `Tested ${channels.length} channels: ${ok} OK, ${channels.length - ok} failed.`, ok === channels.length);
    testAll.disabled = false;
  }

  async function setStatus(ch, verb) {
    await api("POST", `/api/channels/${ch.id}/${verb}`);
    await load();
  }

  async function load() {
    channels = (await api("GET", "/api/channels")).sort((a, b) => b.id - a.id);
    clear(listBox, table("Channels", [
      ["Name", (c) => c.name],
      ["Type", (c) => c.type],
      ["Status", (c) => h("span", { class: `status ${c.status}` }, statusText(c))],
      ["Priority", (c) => String(c.priority)],
      ["Weight", (c) => String(c.weight)],
      ["Models", (c) => c.models.join(", ")],
      ["Last test", (c) => {
        const cell = h("span", { "data-test-for": c.id, class: "notice" });
        if (results.has(c.id)) notice(cell, testText(results.get(c.id)), results.get(c.id).ok);
        return cell;
      }],
      ["Actions", (c) => h("div", { class: "row-actions" },
        h("button", { type: "button", onclick: (e) => test(c, e.target.closest("tr").querySelector("[data-test-for]")) }, "Test"),
        h("button", { type: "button", onclick: () => openForm(c) }, "Edit"),
        c.status === "enabled"
          ? h("button", { type: "button", onclick: () => setStatus(c, "disable") }, "Disable")
          : h("button", { type: "button", onclick: () => setStatus(c, "enable") }, "Enable"))],
    ], channels, "No channels yet: add one to connect an upstream."));
  }
  await load();
}
