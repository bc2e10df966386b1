// Settings (administrators): the business's name, the default country for
// local phone numbers and new addresses, its time zone (access hours are read
// in it), and which fields every customer must have; then the messages to customers (GET/PUT /v1/notifySettings):
// the sender they see, and the welcome with a set-password link that a
// customer the booking site or the store registers gets; and whether
// customers may register themselves at the business's public page (the link
// to share, with a copy button); then the wallet's currency and loyalty
// points (views/vouchers.js); the presets of visit parameters (visits.js).

import { ApiError, get, request } from "../api.js";
import { banner, copyText, field, h, replace, select, setTitle, toast } from "../dom.js";
import { clearErrors, saveSettings } from "../forms.js";
import { REQUIRABLE, when } from "../format.js";
import { can, loadSettings, setSettings } from "../session.js";
import { t } from "../i18n.js";
import { walletSettingsForm } from "./vouchers.js";
import { plansSettings } from "../subs.js";
import { accessZonesSettings } from "../access.js";
import { termsForm } from "../terms.js";
import { presetsSettings } from "../visits.js";

export async function renderSettings(view, ctx) {
  setTitle(t("nav.settings"));
  const s = await loadSettings(true);
  if (!ctx.live()) return;
  const required = new Set(s.requiredFields || []);

  const name = h("input", { type: "text", id: "settings-name", autocomplete: "organization", maxlength: 200 });
  name.value = s.name || "";
  const nameField = field({ label: t("set.name"), input: name });
  const country = h("input", { type: "text", id: "settings-country", autocomplete: "off", maxlength: 2, class: "upper short" });
  country.value = s.defaultCountry || "";
  const countryField = field({
    label: t("set.country"),
    input: country,
    hint: t("set.countryHint"),
  });
  const vat = h("input", { type: "text", id: "settings-vatNumber", autocomplete: "off", maxlength: 40, class: "upper" });
  vat.value = s.vatNumber || "";
  const vatField = field({ label: t("settings.vatNumber"), input: vat, hint: t("settings.vatHint") });
  const zoneField = timeZoneField(s.timeZone);
  const boxes = REQUIRABLE.map(([key, labelKey]) => {
    const box = h("input", { type: "checkbox", id: `req-${key}`, value: key, checked: required.has(key) });
    return h("label", { class: "check-chip", for: box.id }, box, t(labelKey));
  });
  const reqError = h("p", { class: "field-error", hidden: true, id: "required-error" });
  const reqSet = h("fieldset", { class: "field field-wide", "aria-describedby": "required-help required-error" },
    h("legend", {}, t("set.required")),
    h("p", { class: "hint", id: "required-help" }, t("set.requiredHint")),
    h("div", { class: "check-chips" }, boxes), reqError);
  const message = h("div", { id: "settings-message" });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-settings" }, t("set.save"));
  const form = h("form", { class: "card settings-form", id: "settings-form-main", novalidate: true, "aria-labelledby": "settings-title" },
    h("div", { class: "grid" }, nameField.row, countryField.row, vatField.row, zoneField.row), reqSet,
    h("div", { class: "form-actions-inline" }, save));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(message);
    for (const f of [nameField, countryField, vatField, zoneField]) {
      f.error.hidden = true;
      f.input.removeAttribute("aria-invalid");
    }
    reqError.hidden = true;
    const body = {
      name: name.value.trim(),
      defaultCountry: country.value.trim().toUpperCase(),
      vatNumber: vat.value.trim(),
      timeZone: zoneField.input.value.trim(),
      requiredFields: boxes.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
    };
    save.disabled = true;
    try {
      const { data } = await request("PATCH", "/v1/settings", { body });
      setSettings(data);
      toast(t("set.saved"));
      replace(message, banner("ok", t("set.saved")));
    } catch (e) {
      let shown = false;
      if (e instanceof ApiError) {
        for (const d of e.details) {
          const f = { name: nameField, defaultCountry: countryField, vatNumber: vatField, timeZone: zoneField }[d.field] || null;
          if (f) {
            f.error.textContent = d.description;
            f.error.hidden = false;
            f.input.setAttribute("aria-invalid", "true");
            shown = true;
          } else if (d.field.startsWith("requiredFields")) {
            reqError.textContent = d.description;
            reqError.hidden = false;
            shown = true;
          }
        }
      }
      if (!shown) {
        replace(message, banner("error", e.status === 403
          ? t("set.adminOnly")
          : e.message));
      }
    } finally {
      save.disabled = false;
    }
  });

  replace(view, h("h1", { id: "settings-title" }, t("nav.settings")),
    h("p", { class: "muted" }, t("set.lead")),
    can("settings") ? h("p", { class: "card" }, h("a", { href: "#/automations", id: "settings-automations" }, t("auto.settingsLink"))) : null,
    message, form, await messagesForm(), await walletSettingsForm(), await plansSettings(), await presetsSettings(), await accessZonesSettings(), await termsForm(),
    h("section", { class: "card", "aria-labelledby": "forms-link-title" }, h("h2", { id: "forms-link-title" }, t("frm.title")),
      h("p", { class: "muted" }, t("frm.lead")), h("p", {}, h("a", { class: "btn", href: "#/settings/forms", id: "settings-forms" }, t("frm.open")))));
}

/**
 * The business's time zone (access hours are read in it): a text field with
 * the browser's list of IANA names to pick from as one types (the server
 * checks the name against PostgreSQL's), and a button that fills in this
 * device's zone.
 */
function timeZoneField(current) {
  const input = h("input", { type: "text", id: "settings-timeZone", autocomplete: "off", spellcheck: "false", maxlength: 64, list: "time-zones" });
  input.value = current || "UTC";
  const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const list = h("datalist", { id: "time-zones" },
    ["UTC", ...names.filter((n) => n !== "UTC")].map((n) => h("option", { value: n })));
  const f = field({ label: t("set.timeZone"), input, hint: t("set.timeZoneHint") });
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const suggest = here
    ? h("button", { type: "button", class: "btn", id: "time-zone-suggest", onclick: () => { input.value = here; input.focus(); } },
      t("set.timeZoneSuggest", { zone: here }))
    : null;
  f.row.append(list);
  if (suggest) f.row.insertBefore(suggest, f.error);
  return f;
}

/** The messages-to-customers form: the sender, the welcome on auto-registration and self-registration. */
async function messagesForm() {
  const { data: n } = await get("/v1/notifySettings");
  const text = (id, value, maxlength, effective, autocomplete) => {
    const input = h("input", { type: "text", id, autocomplete, maxlength });
    input.value = value || "";
    return { input, hint: t("set.senderHint", { value: effective || "—" }) };
  };
  const fromName = text("notify-emailFromName", n.emailFromName, 100, n.effectiveEmailFromName, "organization");
  const fromEmail = text("notify-emailFrom", n.emailFrom, 254, n.effectiveEmailFrom, "email");
  fromEmail.input.type = "email";
  const smsFrom = text("notify-smsFrom", n.smsFrom, 11, n.effectiveSmsFrom, "off");
  const fields = {
    emailFromName: field({ label: t("set.fromName"), ...fromName }),
    emailFrom: field({ label: t("set.fromEmail"), ...fromEmail }),
    smsFrom: field({ label: t("set.smsFrom"), ...smsFrom }),
  };
  const welcome = h("input", { type: "checkbox", id: "notify-welcome", checked: Boolean(n.welcomeOnAutoRegistration) });
  const channel = select([["EMAIL", t("msg.email")], ["SMS", t("msg.sms")]], n.welcomeChannel || "EMAIL", { id: "notify-welcomeChannel" });
  fields.welcomeChannel = field({ label: t("set.welcomeChannel"), input: channel });
  const since = h("p", { class: "hint", id: "notify-welcome-since" });
  const showSince = (v) => replace(since, v ? t("set.welcomeSince", { when: when(v) }) : t("set.welcomeOff"));
  showSince(n.welcomeSince);
  const selfReg = h("input", { type: "checkbox", id: "notify-selfRegistration", checked: Boolean(n.selfRegistration) });
  const regLink = h("input", { type: "text", id: "notify-registrationLink", readonly: true, class: "mono", value: n.registrationLink || "" });
  const regCopy = h("button", { type: "button", class: "btn", id: "notify-registrationLink-copy" }, t("common.copy"));
  regCopy.addEventListener("click", () => copyText(regLink));
  regLink.addEventListener("focus", () => regLink.select());
  const regShare = h("div", { class: "field field-wide", id: "notify-registration-share" },
    h("label", { for: regLink.id }, t("set.registrationLink")),
    h("div", { class: "copy-row" }, regLink, regCopy),
    h("p", { class: "hint" }, t("set.registrationLinkHint")));
  const showShare = (on) => { regShare.hidden = !on; };
  showShare(Boolean(n.selfRegistration));
  selfReg.addEventListener("change", () => showShare(selfReg.checked));
  const message = h("div", {});
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-notify" }, t("set.saveMessages"));
  const form = h("form", { class: "card settings-form", novalidate: true, "aria-labelledby": "notify-title", id: "notify-settings" },
    h("h2", { id: "notify-title" }, t("set.msgTitle")),
    h("div", { class: "grid" }, fields.emailFromName.row, fields.emailFrom.row, fields.smsFrom.row),
    h("div", { class: "field field-wide" },
      h("div", { class: "check-row" }, welcome, h("label", { for: welcome.id }, t("set.welcome"))),
      h("p", { class: "hint" }, t("set.welcomeHint")), since),
    h("div", { class: "grid" }, fields.welcomeChannel.row),
    h("div", { class: "field field-wide" },
      h("div", { class: "check-row" }, selfReg, h("label", { for: selfReg.id }, t("set.selfRegistration"))),
      h("p", { class: "hint" }, t("set.selfRegistrationHint"))),
    regShare,
    message,
    h("div", { class: "form-actions-inline" }, save));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, message);
    // PUT replaces every field: the sender's are sent as they are on screen.
    const body = {
      emailFromName: fromName.input.value.trim(),
      emailFrom: fromEmail.input.value.trim(),
      smsFrom: smsFrom.input.value.trim(),
      welcomeOnAutoRegistration: welcome.checked,
      welcomeChannel: channel.value,
      selfRegistration: selfReg.checked,
    };
    const data = await saveSettings({ button: save, message, fields, send: () => request("PUT", "/v1/notifySettings", { body }) });
    if (data) {
      showSince(data.welcomeSince);
      showShare(Boolean(data.selfRegistration));
    }
  });
  return form;
}
