// Building the page from elements (never from HTML strings): forms of labelled fields, tables, money.
export const QUOTA_PER_USD = 500000;

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  append(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldCount = 0;

// A labelled field: {label, name, type, value, options, required, hint, placeholder, textarea}
export function field(spec) {
  const id = `f${++fieldCount}-${spec.name}`;
  let input;
  if (spec.options) {
    input = h("select", { id, name: spec.name, required: spec.required },
      spec.options.map(([value, text]) => h("option", { value, selected: String(spec.value ?? "") === String(value) }, text)));
  } else if (spec.textarea) {
    input = h("textarea", { id, name: spec.name, rows: 3, required: spec.required, placeholder: spec.placeholder });
    input.value = spec.value ?? "";
  } else {
    input = h("input", {
      id, name: spec.name, type: spec.type || "text", required: spec.required, placeholder: spec.placeholder,
      autocomplete: spec.autocomplete || "off", step: spec.step, min: spec.min, inputmode: spec.inputmode,
    });
    if (spec.type === "checkbox") input.checked = Boolean(spec.value);
    else input.value = spec.value ?? "";
  }
  const hintId = spec.hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: spec.type === "checkbox" ? "field check" : "field" },
    h("label", { for: id }, spec.label), input, hintId ? h("small", { id: hintId, class: "hint" }, spec.hint) : null);
}

// A form of fields with a submit button; onsubmit(values, form) may throw to show the error in the form.
export function form(title, fields, onsubmit, { submit = "Save", cancel = null, extra = null } = {}) {
  const status = h("p", { class: "form-error", role: "alert" });
  // no aria-label: it would be one more "label" a field's name could be mistaken for
  const el = h("form", { class: "card", novalidate: true },
    h("h2", {}, title), fields, extra,
    status,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, submit),
      cancel ? h("button", { type: "button", onclick: cancel }, "Cancel") : null));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    const button = el.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onsubmit(values(el), el);
    } catch (err) {
      status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

export function values(formEl) {
  const out = {};
  for (const input of formEl.querySelectorAll("input, select, textarea")) {
    if (!input.name) continue;
    out[input.name] = input.type === "checkbox" ? input.checked : input.value.trim();
  }
  return out;
}

// A table: columns [[header, cell(row) → node or text]], rows; newest first is the caller's order. An empty list
// is still a table with its header cells (and no body rows), the message under it.
export function table(caption, columns, rows, empty = "Nothing here yet.") {
  return h("div", {},
    h("div", { class: "table-wrap" },
      h("table", {},
        h("caption", { class: "visually-hidden" }, caption),
        h("thead", {}, h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name)))),
        h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([name, cell]) => h("td", { "data-label": name }, cell(row)))))))),
    rows.length ? null : h("p", { class: "empty" }, empty));
}

export function usd(quota, { units = false } = {}) {
  const dollars = Number(quota || 0) / QUOTA_PER_USD;
  const abs = Math.abs(dollars);
  const digits = abs === 0 || abs >= 1 ? 2 : abs >= 0.01 ? 4 : 6;
  const text = (dollars < 0 ? "-$" : "$") + abs.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits });
  return units ? `${text} (${Number(quota || 0).toLocaleString("en-US")} quota)` : text;
}

export function usdText(dollars) {
  if (dollars === null || dollars === undefined) return "—";
  return "$" + Number(dollars).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 6 });
}

export function toQuota(text) {
  const dollars = Number(text);
  if (text === "" || !Number.isFinite(dollars) || dollars < 0) throw new Error(`"${text}" is not an amount in USD.`);
  return Math.round(dollars * QUOTA_PER_USD);
}

export function optionalNumber(text, what) {
  if (text === "") return null;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what}: "${text}" is not a number.`);
  return n;
}

export function list(text) {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

export function when(ts) {
  if (!ts) return "—";
  const d = new Date(ts * 1000);
  return d.toLocaleString("en-GB", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function localInput(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(text) {
  if (!text) return null;
  const ms = new Date(text).getTime();
  if (!Number.isFinite(ms)) throw new Error(`"${text}" is not a date and time.`);
  return ms / 1000;
}

export function num(n) {
  return Number(n || 0).toLocaleString("en-US");
}

// A message for a status line: ok → polite status, else an alert.
export function notice(el, text, ok = true) {
  el.setAttribute("role", ok ? "status" : "alert");
  el.className = ok ? "notice ok" : "notice bad";
  el.textContent = text;
}

export async function copy(text, statusEl) {
  try {
    await navigator.clipboard.writeText(text);
    notice(statusEl, "Copied.");
  } catch (err) {
    notice(statusEl, "Select the text and copy it (this browser did not allow copying).", false);
  }
}
