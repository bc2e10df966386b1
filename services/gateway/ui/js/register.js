// The page a business shares for customers to register themselves
// (/ui/register.html?business=<tenant id>): no staff key. It speaks the
// language of the business's country, or the one chosen on the page; sends
// the registration (POST /v1/registrations) and says the same whatever
// happened: a link to confirm is on its way by e-mail. A field the API
// refuses is named next to it. Every string from the message catalogue.
import { h, replace } from "./dom.js";
import { LANGUAGES, LANGUAGE_NAMES, t, useLanguage } from "./i18n.js";
import { publicJson } from "./public.js";

const main = document.getElementById("main");
const params = new URLSearchParams(location.search);
const business = params.get("business") || "";
const FIELDS = ["firstName", "lastName", "email", "phone"];
let form = { businessName: "", language: "en" };
let chosen = "";

function speak(lang) {
  chosen = lang;
  useLanguage(lang);
  document.documentElement.lang = lang;
  document.title = t("reg.title");
}

function page(...children) {
  const chooser = h("select", { id: "reg-language", "aria-label": t("reg.language") },
    ...LANGUAGES.map((l) => h("option", { value: l, selected: l === chosen }, LANGUAGE_NAMES[l])));
  chooser.addEventListener("change", () => {
    speak(chooser.value);
    showForm();
  });
  replace(main, h("div", { class: "card password-card" },
    h("div", { class: "register-language" }, h("label", { for: chooser.id, text: t("reg.language") }), chooser),
    h("h1", { text: t("reg.title") }), ...children));
}

function status(key, vars) {
  return h("p", { id: "reg-status", class: "password-status", role: "status", text: t(key, vars) });
}

function showForm() {
  const inputs = {
    firstName: h("input", { type: "text", id: "reg-firstName", autocomplete: "given-name", required: true, maxlength: 100 }),
    lastName: h("input", { type: "text", id: "reg-lastName", autocomplete: "family-name", required: true, maxlength: 100 }),
    email: h("input", { type: "email", id: "reg-email", autocomplete: "email", required: true, maxlength: 254 }),
    phone: h("input", { type: "tel", id: "reg-phone", autocomplete: "tel", maxlength: 40 }),
  };
  const errors = {};
  const rows = FIELDS.map((f) => {
    errors[f] = h("p", { id: `reg-${f}-error`, class: "password-error", role: "alert" });
    inputs[f].setAttribute("aria-describedby", errors[f].id);
    return [h("label", { for: inputs[f].id, text: t(`reg.${f}`) }), inputs[f], errors[f]];
  }).flat();
  const consentEmail = h("input", { type: "checkbox", id: "reg-consentEmail" });
  const consentSms = h("input", { type: "checkbox", id: "reg-consentSms" });
  const error = h("p", { id: "reg-error", class: "password-error", role: "alert" });
  const submit = h("button", { type: "submit", id: "reg-submit", class: "btn btn-primary btn-block", text: t("reg.submit") });
  const el = h("form", { class: "password-form", novalidate: true }, ...rows,
    h("fieldset", { class: "register-consents" }, h("legend", { text: t("reg.consents") }),
      h("div", { class: "check-row" }, consentEmail, h("label", { for: consentEmail.id, text: t("reg.consentEmail") })),
      h("div", { class: "check-row" }, consentSms, h("label", { for: consentSms.id, text: t("reg.consentSms") }))),
    error, submit);
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const f of FIELDS) replace(errors[f]);
    replace(error);
    submit.disabled = true;
    submit.textContent = t("reg.sending");
    const body = { business, language: chosen, consents: { email: consentEmail.checked, sms: consentSms.checked } };
    for (const f of FIELDS) body[f] = inputs[f].value.trim();
    const r = await publicJson("POST", "/v1/registrations", body);
    submit.disabled = false;
    submit.textContent = t("reg.submit");
    if (r.status === 202) {
      page(status("reg.sent", { hours: r.body.validHours || 72 }));
      return;
    }
    if (r.status === 404) {
      page(status("reg.closed"));
      return;
    }
    if (r.status === 429) {
      replace(error, t("reg.tooMany"));
      return;
    }
    const details = (r.body.error && r.body.error.details) || [];
    let first = null;
    for (const d of details) {
      if (!errors[d.field]) continue;
      const known = ["REQUIRED", "INVALID_FORMAT", "TOO_LONG"].includes(d.reason);
      replace(errors[d.field], known ? t(`reg.${d.reason}`) : d.description || d.reason);
      first = first || inputs[d.field];
    }
    if (first) first.focus();
    else replace(error, t("reg.error", { message: (r.body.error && r.body.error.message) || r.status }));
  });
  const lead = form.businessName ? t("reg.lead", { business: form.businessName }) : t("reg.leadNoName");
  page(h("p", { text: lead }), el);
}

async function start() {
  const r = business ? await publicJson("GET", `/v1/registrationForms/${encodeURIComponent(business)}`) : { status: 404, body: {} };
  const asked = params.get("lang") || "";
  if (r.status === 200) form = r.body;
  speak(LANGUAGES.includes(asked) ? asked : form.language || "en");
  if (r.status === 200) showForm();
  else page(status("reg.closed"));
}

start();
