// The business's forms on the customer card: the inputs of a form's questions
// and the answers read back from them, answers shown as a list, and the two
// sections of the card, "Card" (the customer card, edited over time, each
// version kept: GET/PUT /v1/customers/{id}/card, .../card/history) and
// "Surveys" (filled surveys with their answers, and starting one:
// /v1/customers/{id}/surveys). Question texts are the business's own words and
// are shown as written; everything else comes from the catalogue.

import { get, request, seg } from "./api.js";
import { banner, field, h, newId, replace, toast } from "./dom.js";
import { clearErrors, showErrors } from "./forms.js";
import { day, when } from "./format.js";
import { can } from "./session.js";
import { t, tn } from "./i18n.js";

export const QUESTION_TYPES = [
  ["SHORT_TEXT", "frm.type.SHORT_TEXT"],
  ["LONG_TEXT", "frm.type.LONG_TEXT"],
  ["NUMBER", "frm.type.NUMBER"],
  ["YES_NO", "frm.type.YES_NO"],
  ["DATE", "frm.type.DATE"],
  ["ONE_CHOICE", "frm.type.ONE_CHOICE"],
  ["MANY_CHOICES", "frm.type.MANY_CHOICES"],
];

/** A group of radio buttons or check boxes in a fieldset; {row, input, error, boxes}. */
function choiceGroup(kind, legend, options, required) {
  const name = newId("q");
  const error = h("p", { class: "field-error", id: `${name}-error`, hidden: true });
  const boxes = options.map(([value, label], i) => {
    const box = h("input", { type: kind, name, id: `${name}-${i}`, value });
    return { box, label: h("label", { class: "check-chip", for: box.id }, box, label) };
  });
  const row = h("fieldset", { class: "field field-wide answer-group", "aria-describedby": error.id },
    h("legend", {}, legend, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    h("div", { class: "check-chips" }, boxes.map((b) => b.label)), error);
  return { row, input: boxes[0] ? boxes[0].box : row, error, boxes: boxes.map((b) => b.box) };
}

/**
 * The input of one question, filled with answer a (or none). Returns
 * {row, input, error, read()} where read() gives the answer to send
 * ({questionId, value} or {questionId, values}), or null when empty.
 */
export function questionInput(q, a) {
  const label = q.text;
  const value = (a && a.value) || "";
  const values = (a && a.values) || [];
  const id = newId("answer");
  let f;
  let read;
  switch (q.type) {
    case "LONG_TEXT": {
      const input = h("textarea", { id, rows: 3, maxlength: 5000 });
      input.value = value;
      f = field({ label, input, required: q.required, wide: true });
      read = () => input.value;
      break;
    }
    case "NUMBER": {
      const input = h("input", { type: "text", id, inputmode: "decimal", class: "short", autocomplete: "off" });
      input.value = value;
      const range = q.min !== undefined && q.min !== null && q.max !== undefined && q.max !== null
        ? t("frm.range", { min: q.min, max: q.max })
        : q.min !== undefined && q.min !== null ? t("frm.atLeast", { min: q.min })
          : q.max !== undefined && q.max !== null ? t("frm.atMost", { max: q.max }) : "";
      f = field({ label, input, required: q.required, hint: range || undefined });
      read = () => input.value.trim();
      break;
    }
    case "DATE": {
      const input = h("input", { type: "date", id });
      input.value = value;
      f = field({ label, input, required: q.required });
      read = () => input.value;
      break;
    }
    case "YES_NO":
    case "ONE_CHOICE": {
      const options = q.type === "YES_NO" ? [["yes", t("frm.yes")], ["no", t("frm.no")]]
        : (q.choices || []).map((c) => [c, c]);
      f = choiceGroup("radio", label, options, q.required);
      for (const b of f.boxes) b.checked = b.value === value;
      read = () => (f.boxes.find((b) => b.checked) || {}).value || "";
      break;
    }
    case "MANY_CHOICES": {
      f = choiceGroup("checkbox", label, (q.choices || []).map((c) => [c, c]), q.required);
      for (const b of f.boxes) b.checked = values.includes(b.value);
      const many = () => f.boxes.filter((b) => b.checked).map((b) => b.value);
      return { ...f, read: () => (many().length ? { questionId: q.id, values: many() } : null) };
    }
    default: {
      const input = h("input", { type: "text", id, maxlength: 500, autocomplete: "off" });
      input.value = value;
      f = field({ label, input, required: q.required, wide: true });
      read = () => input.value;
    }
  }
  return { ...f, read: () => (read().trim() ? { questionId: q.id, value: read() } : null) };
}

/**
 * The inputs of a form's questions: {el, fields, answers()} where fields maps
 * "answers.<questionId>" to each input (for showErrors) and answers() gives
 * what to send.
 */
export function answerInputs(form, filling) {
  const given = new Map(((filling && filling.answers) || []).map((a) => [a.questionId, a]));
  const inputs = (form.questions || []).map((q) => ({ q, f: questionInput(q, given.get(q.id)) }));
  const fields = {};
  for (const { q, f } of inputs) fields[`answers.${q.id}`] = f;
  const el = h("div", { class: "grid answer-grid" }, inputs.map(({ f }) => f.row));
  return { el, fields, answers: () => inputs.map(({ f }) => f.read()).filter(Boolean) };
}

/** One answer as text: yes and no in the reader's language, choices joined, dates as dates. */
export function answerText(a) {
  if (a.type === "YES_NO") return a.value === "yes" ? t("frm.yes") : t("frm.no");
  if (a.type === "MANY_CHOICES") return (a.values || []).join(", ");
  if (a.type === "DATE") return day(a.value);
  return a.value || "";
}

/** A filling's answers as a definition list (each with the question it answered then). */
export function answersList(filling) {
  const answers = (filling && filling.answers) || [];
  if (!answers.length) return h("p", { class: "muted" }, t("frm.noAnswers"));
  return h("dl", { class: "kv answers" }, answers.map((a) => [
    h("dt", {}, a.questionText), h("dd", { class: a.type === "LONG_TEXT" ? "pre-line" : null }, answerText(a))]));
}

/** "Filled 3 Dec 2026 by Anna" (and "by the customer on a tablet"). */
function filledLine(f) {
  const who = f.byCustomer ? t("frm.byCustomer") : (f.filledBy && f.filledBy.name) || "";
  return who ? t("frm.filledBy", { when: when(f.filledAt), who }) : t("frm.filledAt", { when: when(f.filledAt) });
}

/**
 * The customer card section. onChange() after a save (the timeline shows it).
 * Returns {section, load}; call load() once.
 */
export function cardFormSection(customerId, { onChange } = {}) {
  const body = h("div", { id: "card-form-body" });
  const section = h("section", { class: "card", "aria-labelledby": "card-form-title", id: "card-form" },
    h("h2", { id: "card-form-title" }, t("frm.card")), body);

  async function load() {
    // The card is private content (docs/forms.md): not asked for without private:read.
    if (!can("private:read")) {
      replace(body, h("p", { class: "muted", id: "card-form-private" }, t("frm.cardPrivate")));
      return;
    }
    let card;
    try {
      card = (await get(`/v1/customers/${seg(customerId)}/card`)).data;
    } catch (e) {
      replace(body, banner("error", t("frm.loadFailed", { message: e.message })));
      return;
    }
    show(card);
  }

  function show(card) {
    if (!card.form) {
      replace(body, h("p", { class: "muted", id: "card-form-none" }, t("frm.noCardForm")),
        can("settings") ? h("p", {}, h("a", { href: "#/settings/forms" }, t("frm.makeCardForm"))) : null);
      return;
    }
    const edit = h("button", { type: "button", class: "btn btn-small", id: "card-form-edit" },
      card.filling ? t("common.edit") : t("frm.fillCard"));
    edit.addEventListener("click", () => editor(card));
    const older = h("button", { type: "button", class: "btn btn-link", id: "card-form-history" }, t("frm.earlier"));
    const olderList = h("ol", { class: "notes", id: "card-form-versions", hidden: true });
    older.addEventListener("click", () => versions(olderList, older));
    replace(body,
      h("p", { class: "muted small" }, card.form.title),
      card.filling ? answersList(card.filling) : h("p", { class: "muted", id: "card-form-empty" }, t("frm.cardEmpty")),
      card.filling ? h("p", { class: "hint" }, filledLine(card.filling)) : null,
      h("div", { class: "form-actions-inline customer-write" }, edit, card.filling ? older : null),
      olderList);
  }

  async function versions(list, button) {
    button.disabled = true;
    try {
      const { data } = await get(`/v1/customers/${seg(customerId)}/card/history`, { pageSize: 50 });
      const rows = (data.fillings || []).slice(1);
      replace(list, rows.length ? rows.map((f) => h("li", { class: "note-item" },
        h("p", { class: "hint" }, filledLine(f)), answersList(f)))
        : h("li", { class: "muted" }, t("frm.noEarlier")));
      list.hidden = false;
      button.hidden = true;
    } catch (e) {
      list.replaceWith(banner("error", t("frm.loadFailed", { message: e.message })));
    } finally {
      button.disabled = false;
    }
  }

  function editor(card) {
    const inputs = answerInputs(card.form, card.filling);
    const summary = h("div", { class: "form-summary" });
    const save = h("button", { type: "submit", class: "btn btn-primary", id: "card-form-save" }, t("frm.saveCard"));
    const cancel = h("button", { type: "button", class: "btn", id: "card-form-cancel" }, t("common.cancel"));
    cancel.addEventListener("click", () => show(card));
    const form = h("form", { class: "card-form-edit", novalidate: true, "aria-label": t("frm.card") },
      summary, inputs.el, h("div", { class: "form-actions-inline" }, save, cancel));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(inputs.fields, summary);
      save.disabled = true;
      try {
        const { data } = await request("PUT", `/v1/customers/${seg(customerId)}/card`, {
          body: { answers: inputs.answers() },
          headers: { "If-Match": `"${card.etag}"` },
        });
        toast(t("frm.cardSaved"));
        show(data);
        onChange && onChange();
      } catch (e) {
        if (e.status === 412) replace(summary, banner("error", t("frm.cardChanged")));
        else showErrors(e, inputs.fields, summary);
      } finally {
        save.disabled = false;
      }
    });
    replace(body, form);
    const first = form.querySelector("input, textarea");
    if (first) first.focus();
  }

  return { section, load };
}

/**
 * The surveys section: the customer's filled surveys (newest first, each
 * opening to its answers) and "Start survey". Returns {section, load}.
 */
export function surveysSection(customerId) {
  const list = h("ol", { class: "notes", id: "surveys-list" });
  const start = h("div", { class: "form-actions-inline survey-start customer-write", id: "survey-start" });
  const section = h("section", { class: "card", "aria-labelledby": "surveys-title", id: "surveys" },
    h("h2", { id: "surveys-title" }, t("frm.surveys")), start, list);

  async function load() {
    let forms;
    let fillings;
    try {
      const [a, b] = await Promise.all([get("/v1/forms", { purpose: "SURVEY" }),
        get(`/v1/customers/${seg(customerId)}/surveys`, { pageSize: 50 })]);
      forms = a.data.forms || [];
      fillings = b.data.fillings || [];
    } catch (e) {
      replace(list, h("li", {}, banner("error", t("frm.loadFailed", { message: e.message }))));
      return;
    }
    if (forms.length) {
      const pick = h("select", { id: "survey-pick", "aria-label": t("frm.pickSurvey") },
        forms.map((f) => h("option", { value: f.id }, f.title)));
      const go = (tablet) => () => {
        location.hash = `#/customers/${seg(customerId)}/survey/${seg(pick.value)}${tablet ? "?tablet=1" : ""}`;
      };
      replace(start, pick,
        h("button", { type: "button", class: "btn btn-primary", id: "survey-fill", onclick: go(false) }, t("frm.startSurvey")),
        h("button", { type: "button", class: "btn", id: "survey-tablet", onclick: go(true) }, t("frm.handOver")));
    } else {
      replace(start, h("p", { class: "muted" }, t("frm.noSurveys")));
    }
    replace(list, fillings.length ? fillings.map((f) => h("li", { class: "note-item survey-filling", dataset: { id: f.id } },
      h("details", {}, h("summary", {}, h("strong", {}, f.formTitle), " · ", filledLine(f)), answersList(f))))
      : h("li", { class: "muted", id: "surveys-none" }, t("frm.noneFilled")));
  }

  return { section, load };
}

/** "12 answers" in the reader's language. */
export function answeredText(n) {
  return tn("frm.answered", n);
}
