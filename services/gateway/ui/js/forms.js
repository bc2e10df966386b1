// Small forms (a note, a task): the API's field errors shown at their inputs,
// the rest in a banner, and a live character counter.

import { ApiError } from "./api.js";
import { banner, h, replace, toast } from "./dom.js";
import { charCount, count, fieldName } from "./format.js";
import { t } from "./i18n.js";

/**
 * Clears what showErrors put up. fields: {name: {input, error}} as field()
 * returns them; summary: the element for errors that belong to no field.
 */
export function clearErrors(fields, summary) {
  for (const f of Object.values(fields)) {
    f.error.hidden = true;
    f.error.replaceChildren();
    f.input.removeAttribute("aria-invalid");
  }
  if (summary) replace(summary);
}

/** Shows message at field f ({input, error} as field() returns it), marks
 * the input invalid and focuses it; the form's own checks use it. */
export function fieldProblem(f, message) {
  f.error.textContent = message;
  f.error.hidden = false;
  f.input.setAttribute("aria-invalid", "true");
  f.input.focus();
}

/**
 * Puts e's field errors (details[].field, e.g. "note.body" or "task.dueAt";
 * the prefix before the first dot is dropped when the full path is unknown)
 * next to their inputs and focuses the first; anything else goes into
 * summary as a banner. Returns true when at least one field got an error.
 */
export function showErrors(e, fields, summary) {
  clearErrors(fields, summary);
  const loose = [];
  let first = null;
  const details = e instanceof ApiError ? e.details : [];
  for (const d of details) {
    const path = d.field || "";
    const f = fields[path] || fields[path.replace(/^[a-z]+\./, "")] || fields[path.split(".").slice(-2, -1)[0]];
    const text = d.description || d.reason || t("common.invalid");
    if (!f) {
      loose.push(path ? `${fieldName(path)}: ${text}` : text);
      continue;
    }
    if (!f.error.hidden) f.error.append(h("br"));
    f.error.append(text);
    f.error.hidden = false;
    f.input.setAttribute("aria-invalid", "true");
    first = first || f.input;
  }
  if (!first || loose.length) {
    const msg = loose.length ? loose.join("; ") : e.message || String(e);
    if (summary) replace(summary, banner("error", msg));
  }
  if (first) first.focus();
  return Boolean(first);
}

/**
 * A live "123 / 10,000 characters" for a textarea, counted in Unicode
 * characters as the API counts them; over the limit it turns red (the API
 * still decides, and says so at the field). Returns the counter element.
 */
export function counter(textarea, max) {
  const el = h("p", { class: "hint counter", id: `${textarea.id}-count`, "aria-live": "polite", "aria-atomic": "true" });
  let announced = -1;
  const update = () => {
    const n = charCount(textarea.value);
    el.textContent = t("common.chars", { n: count(n), max: count(max) });
    el.classList.toggle("counter-over", n > max);
    // Screen readers hear it only near and past the limit, not every keystroke.
    const near = n > max * 0.9;
    el.setAttribute("aria-live", near && n !== announced ? "polite" : "off");
    announced = n;
  };
  textarea.addEventListener("input", update);
  update();
  const described = (textarea.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  textarea.setAttribute("aria-describedby", [...described, el.id].join(" "));
  return { el, update };
}

/**
 * Saves a settings form: button disabled meanwhile; "Settings saved." when
 * send() succeeds, else the errors at their fields (fields as showErrors
 * takes them) and a 403 as "only administrators". Resolves the reply's data,
 * or null when it failed.
 */
export async function saveSettings({ button, message, fields, send }) {
  button.disabled = true;
  try {
    const { data } = await send();
    toast(t("set.saved"));
    replace(message, banner("ok", t("set.saved")));
    return data;
  } catch (e) {
    if (e.status === 403) replace(message, banner("error", t("set.adminOnly")));
    else showErrors(e, fields, message);
    return null;
  } finally {
    button.disabled = false;
  }
}
