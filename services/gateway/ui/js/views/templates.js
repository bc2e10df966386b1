// Templates: the messages the suite sends on its own (set-password link,
// activation, welcome), each in five languages. The list shows which are the
// tenant's own; the editor changes subject, text and HTML, previews a draft
// with sample values (POST /v1/templates:preview), saves it (PUT) or goes
// back to the ready text (DELETE). Every string from the message catalogue
// (i18n.js); the preview's HTML is shown as its source, never parsed.

import { get, request, seg } from "../api.js";
import { banner, field, h, replace, setTitle, toast } from "../dom.js";
import { clearErrors, showErrors } from "../forms.js";
import { t } from "../i18n.js";

const KINDS = ["password_link", "activation", "welcome", "registration"];
const LANGS = ["en", "de", "pl", "nb", "bg"];
const VARS = ["firstName", "lastName", "fullName", "businessName", "email", "link", "validHours"];

const path = (kind, lang) => `/v1/templates/${seg(kind)}/${seg(lang)}`;

function entry(tpl, onEdit) {
  const edit = h("button", { type: "button", class: "btn btn-small tpl-edit" }, t("tpl.edit"));
  edit.addEventListener("click", () => onEdit(tpl.kind, tpl.language));
  return h("li", { class: "tpl-entry", dataset: { kind: tpl.kind, language: tpl.language, custom: tpl.custom ? "1" : "0" } },
    h("span", { class: "tpl-lang" }, t(`tpl.lang.${tpl.language}`)),
    h("span", { class: `badge ${tpl.custom ? "tpl-custom" : "tpl-default"}` }, tpl.custom ? t("tpl.custom") : t("tpl.default")),
    h("span", { class: "tpl-subject muted" }, tpl.subject),
    edit);
}

export async function renderTemplates(view) {
  setTitle(t("tpl.title"));
  const message = h("div", {});
  const list = h("div", { class: "tpl-list", id: "tpl-list" });

  const heading = h("h2", { id: "tpl-editing" }, t("tpl.edit")); // the template's name once one is chosen
  const subject = h("input", { type: "text", id: "tpl-subject", autocomplete: "off", maxlength: 200 });
  const text = h("textarea", { id: "tpl-text", rows: 8 });
  const html = h("textarea", { id: "tpl-html", rows: 6 });
  const fields = {
    subject: field({ label: t("tpl.subject"), input: subject, required: true }),
    text: field({ label: t("tpl.text"), input: text, required: true, hint: t("tpl.vars", { vars: VARS.map((v) => `{{${v}}}`).join(" ") }) }),
    html: field({ label: t("tpl.html"), input: html, hint: t("tpl.htmlHint") }),
  };
  const previewBtn = h("button", { type: "button", class: "btn", id: "tpl-preview" }, t("tpl.preview"));
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "tpl-save" }, t("tpl.save"));
  const reset = h("button", { type: "button", class: "btn btn-danger-quiet", id: "tpl-reset" }, t("tpl.reset"));
  const preview = h("div", { class: "card tpl-preview", id: "tpl-preview-out", hidden: true, "aria-live": "polite" });
  const form = h("form", { class: "card tpl-editor", id: "tpl-editor", novalidate: true, hidden: true, "aria-labelledby": "tpl-editing" },
    heading, fields.subject.row, fields.text.row, fields.html.row,
    h("div", { class: "form-actions-inline tpl-actions" }, previewBtn, save, reset));

  let current = null; // {kind, language} in the editor

  // The API names template.subject, template.text, template.html: forms.js
  // puts each at its field, anything else in the banner.
  const clear = () => clearErrors(fields, message);
  const failed = (e) => showErrors(e, fields, message);

  const draft = () => ({ subject: subject.value, text: text.value, html: html.value });

  async function load() {
    let templates;
    try {
      templates = (await get("/v1/templates")).data.templates || [];
    } catch (e) {
      replace(message, banner("error", t("tpl.error", { message: e.message })));
      return;
    }
    const byKey = new Map(templates.map((x) => [`${x.kind}/${x.language}`, x]));
    replace(list, KINDS.map((kind) => h("section", { class: "card tpl-kind", dataset: { kind } },
      h("h2", {}, t(`msg.kind.${kind}`)),
      h("ul", { class: "tpl-entries" },
        LANGS.map((lang) => byKey.get(`${kind}/${lang}`)).filter(Boolean).map((x) => entry(x, edit))))));
  }

  async function edit(kind, language) {
    clear();
    preview.hidden = true;
    let tpl;
    try {
      tpl = (await get(path(kind, language))).data;
    } catch (e) {
      replace(message, banner("error", t("tpl.error", { message: e.message })));
      return;
    }
    current = { kind, language };
    heading.textContent = t("tpl.editing", { kind: t(`msg.kind.${kind}`), language: t(`tpl.lang.${language}`) });
    form.dataset.kind = kind;
    form.dataset.language = language;
    form.dataset.custom = tpl.custom ? "1" : "0";
    subject.value = tpl.subject || "";
    text.value = tpl.text || "";
    html.value = tpl.html || "";
    reset.hidden = !tpl.custom;
    form.hidden = false;
    subject.focus();
  }

  previewBtn.addEventListener("click", async () => {
    if (!current) return;
    clear();
    previewBtn.disabled = true;
    try {
      const body = { kind: current.kind, language: current.language, template: draft() };
      const { data } = await request("POST", "/v1/templates:preview", { body });
      replace(preview,
        h("h3", {}, t("tpl.previewTitle")),
        h("p", { class: "tpl-preview-subject" }, h("strong", {}, data.subject)),
        h("pre", { class: "tpl-preview-text" }, data.text),
        h("h4", {}, t("tpl.previewHtml")),
        h("pre", { class: "tpl-preview-html" }, data.html));
      preview.hidden = false;
    } catch (e) {
      failed(e);
    } finally {
      previewBtn.disabled = false;
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    clear();
    save.disabled = true;
    try {
      await request("PUT", path(current.kind, current.language), { body: draft() });
      toast(t("tpl.saved"));
      await load();
      await edit(current.kind, current.language);
    } catch (e) {
      failed(e);
    } finally {
      save.disabled = false;
    }
  });

  reset.addEventListener("click", async () => {
    if (!current) return;
    clear();
    reset.disabled = true;
    try {
      await request("DELETE", path(current.kind, current.language));
      toast(t("tpl.resetDone"));
      await load();
      await edit(current.kind, current.language);
    } catch (e) {
      failed(e);
    } finally {
      reset.disabled = false;
    }
  });

  replace(view,
    h("div", { class: "view-head" }, h("h1", {}, t("tpl.title"))),
    h("p", { class: "muted" }, t("tpl.lead")),
    message, form, preview, list);
  await load();
}
