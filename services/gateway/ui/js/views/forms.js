// Settings › Card and surveys (#/settings/forms): the business's forms, the
// customer card and surveys, built question by question (add, move up and
// down, remove; the type, required, choices, a number's range); a survey's
// results (#/forms/{id}/results); and filling a survey for a customer
// (#/customers/{id}/survey/{formId}), in tablet mode (?tablet=1) full screen
// for the customer, without the staff's navigation. The API: /v1/forms,
// /v1/forms/{id} (PATCH with If-Match), /v1/forms/{id}/results,
// POST /v1/customers/{id}/surveys.

import { get, newRequestKey, request, seg } from "../api.js";
import { banner, confirmDialog, field, h, replace, select, setTitle, toast } from "../dom.js";
import { clearErrors, showErrors } from "../forms.js";
import { count, displayName } from "../format.js";
import { QUESTION_TYPES, answerInputs, answeredText } from "../formkit.js";
import { can } from "../session.js";
import { t } from "../i18n.js";

const CHOICE_TYPES = new Set(["ONE_CHOICE", "MANY_CHOICES"]);

function crumbs(...parts) {
  return h("nav", { class: "crumbs", "aria-label": t("common.breadcrumb") },
    parts.map((p, i) => [i ? " / " : "", p]));
}

/** #/settings/forms: the forms, and the editor of one (new or chosen). */
export async function renderForms(view, ctx) {
  setTitle(t("frm.title"));
  const listEl = h("ul", { class: "form-list", id: "form-list" });
  const editorEl = h("div", { id: "form-editor" });
  const makeCard = h("button", { type: "button", class: "btn", id: "form-new-card" }, t("frm.newCard"));
  const makeSurvey = h("button", { type: "button", class: "btn btn-primary", id: "form-new-survey" }, t("frm.newSurvey"));
  replace(view,
    crumbs(h("a", { href: "#/settings" }, t("nav.settings")), t("frm.title")),
    h("h1", {}, t("frm.title")),
    h("p", { class: "muted" }, t("frm.lead")),
    h("section", { class: "card", "aria-labelledby": "forms-title" },
      h("div", { class: "section-head" }, h("h2", { id: "forms-title" }, t("frm.forms"))),
      listEl,
      can("settings") ? h("div", { class: "form-actions-inline wrap" }, makeSurvey, makeCard) : null),
    editorEl);

  let forms = [];
  async function load() {
    forms = (await get("/v1/forms")).data.forms || [];
    if (!ctx.live()) return;
    makeCard.hidden = forms.some((f) => f.purpose === "CARD");
    replace(listEl, forms.length ? forms.map((f) => h("li", { class: "form-item", dataset: { id: f.id } },
      h("div", {}, h("strong", {}, f.title), " ",
        h("span", { class: "chip" }, t(f.purpose === "CARD" ? "frm.card" : "frm.survey")),
        h("p", { class: "hint" }, t("frm.questionsVersion", { n: count((f.questions || []).length), version: f.version }))),
      h("div", { class: "form-actions-inline wrap" },
        can("settings") ? h("button", { type: "button", class: "btn btn-small form-edit", onclick: () => edit(f) }, t("common.edit")) : null,
        f.purpose === "SURVEY" ? h("a", { class: "btn btn-small form-results", href: `#/forms/${seg(f.id)}/results` }, t("frm.results")) : null,
        can("settings") ? h("button", { type: "button", class: "btn btn-small btn-danger-quiet form-delete", onclick: () => remove(f) }, t("common.delete")) : null)))
      : h("li", { class: "muted", id: "forms-none" }, t("frm.noForms")));
  }

  async function remove(f) {
    const ok = await confirmDialog({ title: t("frm.deleteTitle"), message: t("frm.deleteMessage", { title: f.title }) });
    if (!ok) return;
    try {
      await request("DELETE", `/v1/forms/${seg(f.id)}`);
      toast(t("frm.deleted"));
      replace(editorEl);
      await load();
    } catch (e) {
      toast(e.message, "error");
    }
  }

  function edit(f) {
    replace(editorEl, formEditor(f, async (saved) => {
      await load();
      edit(saved);
    }));
    editorEl.querySelector("#form-title").focus();
  }

  makeSurvey.addEventListener("click", () => edit({ purpose: "SURVEY", title: "", questions: [] }));
  makeCard.addEventListener("click", () => edit({ purpose: "CARD", title: t("frm.card"), questions: [] }));
  await load();
}

/** The editor of form f (no id: a new one). onSaved(form) after a save. */
function formEditor(f, onSaved) {
  const title = h("input", { type: "text", id: "form-title", maxlength: 200, autocomplete: "off" });
  title.value = f.title || "";
  const fields = { title: field({ label: t("frm.formTitle"), input: title, required: true, wide: true }) };
  const rows = h("ol", { class: "question-list", id: "question-list" });
  const summary = h("div", { class: "form-summary" });
  const questions = (f.questions || []).map((q) => ({ ...q }));
  let key = newRequestKey();

  function draw() {
    for (const k of Object.keys(fields)) if (k !== "title") delete fields[k];
    replace(rows, questions.map((q, i) => questionEditor(q, i)));
  }

  function questionEditor(q, i) {
    const text = h("input", { type: "text", id: `q-${i}-text`, maxlength: 500, autocomplete: "off", class: "q-text" });
    text.value = q.text || "";
    text.addEventListener("input", () => { q.text = text.value; });
    const type = select(QUESTION_TYPES.map(([v, k]) => [v, t(k)]), q.type || "SHORT_TEXT", { id: `q-${i}-type`, class: "q-type" });
    q.type = type.value;
    type.addEventListener("change", () => {
      q.type = type.value;
      draw();
      rows.querySelector(`#q-${i}-type`).focus();
    });
    const required = h("input", { type: "checkbox", id: `q-${i}-required`, checked: Boolean(q.required) });
    required.addEventListener("change", () => { q.required = required.checked; });
    const textF = field({ label: t("frm.question", { n: i + 1 }), input: text, required: true, wide: true });
    const typeF = field({ label: t("frm.type"), input: type });
    fields[`questions[${i}].text`] = textF;
    fields[`questions[${i}].type`] = typeF;
    const extra = [];
    if (CHOICE_TYPES.has(q.type)) {
      const choices = h("textarea", { id: `q-${i}-choices`, rows: 4, class: "q-choices" });
      choices.value = (q.choices || []).join("\n");
      choices.addEventListener("input", () => {
        q.choices = choices.value.split("\n").map((c) => c.trim()).filter(Boolean);
      });
      const cf = field({ label: t("frm.choices"), input: choices, hint: t("frm.choicesHint"), required: true, wide: true });
      fields[`questions[${i}].choices`] = cf;
      (q.choices || []).forEach((_, c) => { fields[`questions[${i}].choices[${c}]`] = cf; });
      extra.push(cf.row);
    }
    if (q.type === "NUMBER") {
      const num = (name, label) => {
        const input = h("input", { type: "text", id: `q-${i}-${name}`, inputmode: "decimal", class: "short", autocomplete: "off" });
        input.value = q[name] === undefined || q[name] === null ? "" : String(q[name]);
        input.addEventListener("input", () => {
          const v = input.value.trim();
          q[name] = v === "" ? null : Number(v);
        });
        const nf = field({ label, input });
        fields[`questions[${i}].${name}`] = nf;
        return nf.row;
      };
      extra.push(h("div", { class: "grid" }, num("min", t("frm.min")), num("max", t("frm.max"))));
    }
    const move = (d) => () => {
      const j = i + d;
      [questions[i], questions[j]] = [questions[j], questions[i]];
      draw();
      rows.querySelector(`#q-${j}-${d < 0 ? "up" : "down"}`)?.focus();
    };
    const up = h("button", { type: "button", class: "btn btn-small", id: `q-${i}-up`, disabled: i === 0, "aria-label": t("frm.moveUp") }, "↑");
    up.addEventListener("click", move(-1));
    const down = h("button", { type: "button", class: "btn btn-small", id: `q-${i}-down`, disabled: i === questions.length - 1, "aria-label": t("frm.moveDown") }, "↓");
    down.addEventListener("click", move(1));
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet", id: `q-${i}-remove` }, t("frm.removeQuestion"));
    del.addEventListener("click", () => {
      questions.splice(i, 1);
      draw();
      addBtn.focus();
    });
    return h("li", { class: "question-item", dataset: { index: i } },
      h("div", { class: "grid" }, textF.row, typeF.row), extra,
      h("div", { class: "form-actions-inline wrap" },
        h("label", { class: "check-row inline", for: required.id }, required, " ", t("frm.required")),
        up, down, del));
  }

  const addBtn = h("button", { type: "button", class: "btn", id: "question-add" }, t("frm.addQuestion"));
  addBtn.addEventListener("click", () => {
    questions.push({ text: "", type: "SHORT_TEXT", required: false });
    draw();
    rows.querySelector(`#q-${questions.length - 1}-text`).focus();
  });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "form-save" }, t("frm.save"));
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "form-editor-title" },
    h("h2", { id: "form-editor-title" }, f.id ? t("frm.editForm") : t(f.purpose === "CARD" ? "frm.newCard" : "frm.newSurvey")),
    summary, fields.title.row, rows,
    h("div", { class: "form-actions-inline wrap" }, addBtn, save));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, summary);
    const body = {
      title: title.value,
      purpose: f.purpose,
      questions: questions.map((q) => {
        const out = { id: q.id || "", text: q.text || "", type: q.type, required: Boolean(q.required) };
        if (CHOICE_TYPES.has(q.type)) out.choices = q.choices || [];
        if (q.type === "NUMBER") {
          if (q.min !== undefined && q.min !== null && !Number.isNaN(q.min)) out.min = q.min;
          if (q.max !== undefined && q.max !== null && !Number.isNaN(q.max)) out.max = q.max;
        }
        return out;
      }),
    };
    save.disabled = true;
    try {
      const { data } = f.id
        ? await request("PATCH", `/v1/forms/${seg(f.id)}`, { body: { title: body.title, questions: body.questions }, headers: { "If-Match": `"${f.etag}"` } })
        : await request("POST", "/v1/forms", { body, headers: { "Idempotency-Key": key } });
      key = newRequestKey();
      toast(t("frm.saved"));
      await onSaved(data);
    } catch (e) {
      if (e.status === 412) replace(summary, banner("error", t("frm.formChanged")));
      else showErrors(e, fields, summary);
    } finally {
      save.disabled = false;
    }
  });
  draw();
  return form;
}

/** #/forms/{id}/results: per question, the counts, the range and the texts. */
export async function renderResults(view, ctx) {
  const id = ctx.parts[1];
  const { data: r } = await get(`/v1/forms/${seg(id)}/results`);
  if (!ctx.live()) return;
  setTitle(t("frm.resultsOf", { title: r.form.title }));
  const blocks = (r.questions || []).map((q, i) => {
    const parts = [h("h3", {}, q.text), h("p", { class: "hint" }, answeredText(q.answered || 0))];
    if (q.choices && q.choices.length) {
      parts.push(h("ul", { class: "result-bars" }, q.choices.map((c) => {
        const share = q.answered ? Math.round(((c.count || 0) * 100) / q.answered) : 0;
        return h("li", {}, h("span", { class: "result-label" }, c.choice),
          h("span", { class: "result-bar", "aria-hidden": "true" }, h("span", { style: { width: `${share}%` } })),
          h("span", { class: "result-count" }, `${count(c.count || 0)} (${share}%)`));
      })));
    } else if (q.type === "YES_NO") {
      parts.push(h("dl", { class: "kv" }, h("dt", {}, t("frm.yes")), h("dd", { class: "result-yes" }, count(q.yes || 0)),
        h("dt", {}, t("frm.no")), h("dd", { class: "result-no" }, count(q.no || 0))));
    } else if (q.type === "NUMBER") {
      const n = (v) => (v === undefined || v === null ? "—" : count(Math.round(v * 100) / 100));
      parts.push(h("dl", { class: "kv" }, h("dt", {}, t("frm.min")), h("dd", { class: "result-min" }, n(q.min)),
        h("dt", {}, t("frm.avg")), h("dd", { class: "result-avg" }, n(q.avg)),
        h("dt", {}, t("frm.max")), h("dd", { class: "result-max" }, n(q.max))));
    } else if ((q.texts || []).length) {
      parts.push(h("ul", { class: "result-texts" }, q.texts.map((x) => h("li", { class: "pre-line" }, x))));
    }
    return h("section", { class: "card result", id: `result-${i}`, dataset: { question: q.questionId } }, parts);
  });
  replace(view,
    crumbs(h("a", { href: "#/settings" }, t("nav.settings")), h("a", { href: "#/settings/forms" }, t("frm.title")), r.form.title),
    h("h1", {}, t("frm.resultsOf", { title: r.form.title })),
    h("p", { class: "muted", id: "results-count" }, t("frm.fillingsCounted", { n: count(r.fillings || 0) })),
    blocks);
}

/** #/customers/{id}/survey/{formId}[?tablet=1]: a survey filled for a customer. */
export async function renderSurveyFill(view, ctx) {
  const customerId = ctx.parts[1];
  const formId = ctx.parts[3];
  const tablet = ctx.query.get("tablet") === "1";
  const [{ data: c }, { data: form }] = await Promise.all([
    get(`/v1/customers/${seg(customerId)}`), get(`/v1/forms/${seg(formId)}`)]);
  if (!ctx.live()) return;
  setTitle(form.title);
  // In tablet mode the customer holds the device: no navigation of the staff's.
  document.body.classList.toggle("tablet-mode", tablet);
  ctx.onLeave(() => document.body.classList.remove("tablet-mode"));
  const back = `/customers/${customerId}`;
  const inputs = answerInputs(form, null);
  const summary = h("div", { class: "form-summary" });
  const send = h("button", { type: "submit", class: "btn btn-primary", id: "survey-send" }, t("frm.send"));
  const cancel = h("a", { class: "btn", href: `#${back}`, id: "survey-cancel" }, t("common.cancel"));
  let key = newRequestKey();
  const formEl = h("form", { class: "card survey-form", novalidate: true, "aria-labelledby": "survey-title" },
    summary, inputs.el, h("div", { class: "form-actions-inline wrap" }, send, tablet ? null : cancel));
  formEl.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(inputs.fields, summary);
    send.disabled = true;
    try {
      await request("POST", `/v1/customers/${seg(customerId)}/surveys`, {
        body: { formId: form.id, answers: inputs.answers(), byCustomer: tablet },
        headers: { "Idempotency-Key": key },
      });
      key = newRequestKey();
      if (tablet) {
        const done = h("button", { type: "button", class: "btn btn-primary", id: "survey-hand-back" }, t("frm.handBack"));
        done.addEventListener("click", () => ctx.navigate(back));
        replace(view, h("h1", { id: "survey-thanks", tabindex: "-1" }, t("frm.thanks")), h("p", {}, t("frm.thanksLead")), h("p", {}, done));
        view.querySelector("h1").focus();
      } else {
        toast(t("frm.surveySaved"));
        ctx.navigate(back);
      }
    } catch (e) {
      showErrors(e, inputs.fields, summary);
    } finally {
      send.disabled = false;
    }
  });
  replace(view,
    tablet ? null : crumbs(h("a", { href: "#/customers" }, t("nav.customers")), h("a", { href: `#${back}` }, displayName(c)), form.title),
    h("h1", { id: "survey-title" }, form.title),
    tablet ? h("p", { class: "muted" }, t("frm.tabletLead")) : h("p", { class: "muted" }, t("frm.forCustomer", { name: displayName(c) })),
    formEl);
}
