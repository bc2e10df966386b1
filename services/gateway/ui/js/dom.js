// Building the page with DOM calls only. Nothing from the API is ever parsed as
// HTML: text goes in as text nodes, attributes through setAttribute or
// properties, so a customer named "<img src=x onerror=...>" is just a name.

import { t } from "./i18n.js";

// Set as properties (their live state); everything else is an attribute.
const PROPS = new Set(["value", "checked", "disabled", "hidden", "indeterminate", "selected", "multiple"]);

/**
 * Makes an element: h("button", {type: "button", onclick: fn}, "Save").
 * attrs: class, text, dataset {...}, style {...} (CSSOM, allowed by the CSP),
 * on<event> functions, "for", the live properties in PROPS, and anything
 * else as an attribute (true: present; false, null, undefined: left out). Children are
 * nodes, strings (text), numbers, arrays of those, or null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "for") el.htmlFor = value;
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (see h) to el. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Removes every child of el, then appends the given ones. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A document-unique id with a readable prefix, for label/for and aria links. */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A table in a box that scrolls sideways when the screen is narrower than
 * the table: the box takes the keyboard's focus (the arrow keys scroll it)
 * and is a group named label, so a screen reader says what it holds (a
 * group, not a region: the section around it is the landmark).
 */
export function scrollTable(label, table) {
  return h("div", { class: "table-scroll", tabindex: "0", role: "group", "aria-label": label }, table);
}

/**
 * Closes a panel: runs hide (which hides or empties box) and, when the
 * keyboard's focus was in box (or nowhere: a button pressed in it was
 * disabled while it worked), gives it to back (the button that opened the
 * panel), so the focus is not lost to the page's start.
 */
export function closeInto(box, back, hide) {
  const now = document.activeElement;
  const inside = !now || now === document.body || box.contains(now);
  hide();
  if (inside) back.focus();
}

/**
 * A labelled form field: {label, input, hint, id, required}. Returns
 * {row, input, error} where error is the element for the field's error
 * message, linked to the input with aria-describedby.
 */
export function field({ label, input, hint, required, wide }) {
  if (!input.id) input.id = newId("f");
  const errorId = `${input.id}-error`;
  const hintId = hint ? `${input.id}-hint` : null;
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  input.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  if (required) input.setAttribute("aria-required", "true");
  const row = h(
    "div",
    { class: wide ? "field field-wide" : "field" },
    h("label", { for: input.id }, label, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    input,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
  );
  return { row, input, error };
}

/**
 * Dresses a file input (already in its field) in the page's language: a
 * "Choose a file" button and the chosen file's name, where the browser's own
 * would speak the browser's language. The input itself stays, invisible over
 * them: a click, the keyboard, a screen reader and drag and drop reach it as
 * before. Returns {update}: call it after setting input.value in code (no
 * change event then).
 */
export function fileChooser(input) {
  const name = h("span", { class: "file-name", "aria-hidden": "true" });
  const update = () => {
    const files = Array.from(input.files || []);
    name.textContent = files.length ? files.map((f) => f.name).join(", ") : t("common.noFile");
  };
  const box = h("span", { class: "file-chooser" });
  input.before(box);
  box.append(h("span", { class: "btn btn-small file-button", "aria-hidden": "true" }, t("common.chooseFile")), name, input);
  input.addEventListener("change", update);
  update();
  return { update };
}

/** A <select> from [[value, label], ...] with value selected. */
export function select(options, value, attrs) {
  const el = h("select", attrs || {});
  for (const [v, text] of options) el.append(h("option", { value: v }, text));
  el.value = value ?? "";
  return el;
}

/** A coloured chip for a group or a plain one for a tag. */
export function chip(text, { color, kind } = {}) {
  const el = h("span", { class: `chip ${kind ? `chip-${kind}` : ""}` });
  if (color) {
    el.append(h("span", { class: "swatch", style: { backgroundColor: safeColor(color) }, "aria-hidden": "true" }));
  }
  el.append(text);
  return el;
}

/** color if it is "#rrggbb", else a neutral grey (never arbitrary CSS). */
export function safeColor(color) {
  return /^#[0-9a-fA-F]{6}$/.test(color || "") ? color : "#9aa5b1";
}

/**
 * Asks a yes/no question in a modal <dialog>. Resolves true when confirmed.
 * Escape and "Cancel" resolve false. The confirm button has class
 * "confirm-yes" (the browser tests press it). With `input` (a field's row
 * and its input, as field() makes them) the dialog asks for that too, and
 * the confirm button waits until the input holds more than spaces.
 */
export function confirmDialog({ title, message, confirmLabel = t("common.delete"), cancelLabel = t("common.cancel"), danger = true, input = null }) {
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: danger ? "btn btn-danger confirm-yes" : "btn btn-primary confirm-yes" }, confirmLabel);
    const no = h("button", { type: "button", class: "btn confirm-no" }, cancelLabel);
    const titleId = newId("dlg");
    const dlg = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, message),
      input ? input.row : null,
      h("div", { class: "dialog-actions" }, no, yes),
    );
    if (input) {
      const fill = () => {
        yes.disabled = !input.input.value.trim();
      };
      fill();
      input.input.addEventListener("input", fill);
    }
    let answered = false;
    const done = (answer) => {
      if (answered) return;
      answered = true;
      dlg.close();
      dlg.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => done(true));
    no.addEventListener("click", () => done(false));
    dlg.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    (input ? input.input : no).focus();
  });
}

/** How many toasts show at once. */
const TOASTS = 3;

/** Shows a short message in the page's live region for a few seconds. */
export function toast(message, kind = "ok") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  // At most TOASTS at once, the oldest going first: quick work piled them over
  // a phone's whole screen (clicks pass through them, eyes do not).
  while (region.children.length >= TOASTS) region.firstElementChild.remove();
  region.append(el);
  setTimeout(() => el.remove(), 5000);
}

/** A banner for errors or notices inside a view; actions are nodes. */
export function banner(kind, message, ...actions) {
  return h(
    "div",
    { class: `banner banner-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("p", {}, message),
    actions.length ? h("div", { class: "banner-actions" }, actions) : null,
  );
}

/** The page's title in the browser tab. */
export function setTitle(text) {
  document.title = text ? `${text} · ${t("nav.brand")}` : t("nav.brand");
}

/** Copies a read-only input's text (the clipboard, else the selection way);
 * says in a toast whether it worked. */
export async function copyText(input) {
  input.focus();
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    toast(t("common.copied"));
    return;
  } catch {
    // No clipboard permission (or no secure context): the selection way.
  }
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  toast(ok ? t("common.copied") : t("common.pressCopy"), ok ? "ok" : "error");
}

/**
 * A secret or link shown once: a banner with the value in a read-only input,
 * a Copy button and a line saying it will not be shown again. id names the
 * input (its Copy button is id-copy); label and note are texts.
 */
export function copyOnce({ id, label, value, note }) {
  const input = h("input", { type: "text", id, readonly: true, class: "mono", value, "aria-describedby": `${id}-note` });
  const copy = h("button", { type: "button", class: "btn", id: `${id}-copy` }, t("common.copy"));
  copy.addEventListener("click", () => copyText(input));
  input.addEventListener("focus", () => input.select());
  return h("div", { class: "banner banner-ok copy-once", role: "status" },
    h("p", {}, h("label", { for: id }, label)),
    h("div", { class: "copy-row" }, input, copy),
    h("p", { class: "small", id: `${id}-note` }, note));
}
