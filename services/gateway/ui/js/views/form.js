// Add or edit a customer: every field of the API. A new customer is POSTed;
// an edit PATCHes only what changed, with If-Match from the ETag (412: someone
// else changed it; offer to reload). The API's field errors appear next to
// their inputs (details[].field, e.g. "addresses[0].country"), and a 409
// duplicate links to the customer that already has the value. A new
// customer's form takes first name, last name, e-mail and phone from the URL
// (#/customers/new?firstName=Jan&lastName=Kowalski), as the list's "Add Jan
// Kowalski" after an empty search sends them. While a new customer is typed,
// customers with a matching name, e-mail or phone are listed (duplicates.js).

import { ApiError, get, newRequestKey, request, seg } from "../api.js";
import { banner, field, fileChooser, h, newId, replace, safeColor, select, setTitle, toast } from "../dom.js";
import {
  ACCOUNT_STATUSES, ADDRESS_KINDS, CONSENTS, GENDERS, displayName, fieldName, named, today, when,
} from "../format.js";
import { can, loadGroups, loadSettings, noteWrite } from "../session.js";
import { PHOTO_MAX, PHOTO_TYPES, avatar, blobUrl, releasePhotos } from "../photo.js";
import { watchDuplicates } from "../duplicates.js";
import { vatDownload } from "../vat.js";
import { t, tn } from "../i18n.js";

// What #/customers/new?... may fill in, and how long each may be.
const PREFILL = { firstName: 100, lastName: 100, email: 254, phone: 40 };

const LANGUAGES = ["pl", "de", "de-AT", "bg", "en", "en-GB", "cs", "sk", "hu", "ro", "uk", "fr", "it", "es", "nl", "lt"];

/** The empty shapes the form works with, so a new and an old customer compare field by field. */
function blankAddress(country) {
  return { kind: "BILLING", line1: "", line2: "", postalCode: "", city: "", region: "", country: country || "" };
}

function normAddress(a) {
  const b = blankAddress("");
  for (const k of Object.keys(b)) b[k] = (a && a[k]) || (k === "kind" ? "UNSPECIFIED" : "");
  return b;
}

function consentOf(p, name) {
  const c = (p && p[name]) || {};
  return { granted: Boolean(c.granted), source: c.source || "", changedAt: c.changedAt || "" };
}

export async function renderForm(view, ctx) {
  const id = ctx.parts.length === 3 ? ctx.parts[1] : null;
  releasePhotos();
  setTitle(t(id ? "form.editTitle" : "form.addTitle"));
  replace(view, h("h1", {}, t(id ? "form.editTitle" : "form.addTitle")), h("p", { class: "muted" }, t("common.loading")));

  const [settings, groups, tags] = await Promise.all([
    loadSettings().catch(() => ({})),
    loadGroups().catch(() => []),
    get("/v1/tags").then((r) => r.data.tags || []).catch(() => []),
  ]);
  let original = {};
  let etag = "";
  if (id) {
    const r = await get(`/v1/customers/${seg(id)}`);
    original = r.data;
    etag = r.etag;
  } else {
    // Prefilled values (a new customer has no original to compare with).
    for (const [k, max] of Object.entries(PREFILL)) {
      const v = (ctx.query.get(k) || "").trim().slice(0, max);
      if (v) original[k] = v;
    }
  }
  if (!ctx.live()) return;
  build(view, ctx, { id, original, etag, settings, groups, tags });
}

function build(view, ctx, { id, original, etag, settings, groups, tags }) {
  const required = new Set(settings.requiredFields || []);
  const createKey = newRequestKey(); // one per form: a retried create takes effect once
  const inputs = {}; // API field path -> {input, error}
  let pendingPhoto = null;
  let removePhoto = false;

  const text = (name, label, opts = {}) => {
    const input = h(opts.multiline ? "textarea" : "input", {
      id: `f-${name.replace(/\./g, "-")}`,
      name,
      type: opts.multiline ? null : opts.type || "text",
      autocomplete: opts.autocomplete || "off",
      maxlength: opts.maxlength,
      rows: opts.rows,
      class: opts.class,
      inputmode: opts.inputmode,
      placeholder: opts.placeholder,
    });
    input.value = opts.value ?? "";
    const f = field({ label, input, hint: opts.hint, required: required.has(name.split(".")[0]), wide: opts.wide });
    inputs[name] = f;
    return f.row;
  };

  const c = original;
  const company = c.company || {};
  const prefs = c.preferences || {};

  // ---- person
  const gender = select(named(GENDERS), c.gender || "UNSPECIFIED", { id: "f-gender", name: "gender" });
  const genderField = field({ label: t("enum.field.gender"), input: gender, required: required.has("gender") });
  inputs.gender = genderField;
  const birth = h("input", { type: "date", id: "f-birthDate", name: "birthDate", max: today() });
  birth.value = c.birthDate || "";
  const birthField = field({ label: t("enum.field.birthDate"), input: birth, required: required.has("birthDate") });
  inputs.birthDate = birthField;
  // A new customer's name, e-mail and phone are looked up as they are typed:
  // customers who may be the same person are listed here (duplicates.js).
  const dupBox = h("div", { class: "duplicates", id: "possible-duplicates", hidden: true, "aria-live": "polite" });
  const phoneHint = settings.defaultCountry ? t("form.phoneHintLocal", { country: settings.defaultCountry }) : t("form.phoneHint");
  const person = section(t("form.person"),
    h("div", { class: "grid" },
      text("firstName", t("enum.field.firstName"), { value: c.firstName, autocomplete: "off" }),
      text("lastName", t("enum.field.lastName"), { value: c.lastName }),
      text("email", t("enum.field.email"), { value: c.email, type: "email", inputmode: "email" }),
      text("phone", t("enum.field.phone"), { value: c.phone, type: "tel", hint: phoneHint }),
      genderField.row, birthField.row),
    id ? null : dupBox);
  // Stopped when the form is saved or left: a look-up must not outlive the form.
  let stopDuplicates = () => {};
  if (!id) {
    stopDuplicates = watchDuplicates({ firstName: inputs.firstName.input, lastName: inputs.lastName.input,
      email: inputs.email.input, phone: inputs.phone.input }, dupBox);
    ctx.onLeave(() => stopDuplicates());
  }

  // ---- photo
  const photoBox = h("div", { class: "photo-box" }, avatar(c, "large"));
  const photoInput = h("input", { type: "file", id: "f-photo", accept: PHOTO_TYPES.join(","), class: "file" });
  const photoField = field({ label: t(c.hasPhoto ? "form.photoReplace" : "form.photoUpload"), input: photoInput, hint: t("form.photoHint") });
  inputs.photo = photoField;
  const chooser = fileChooser(photoInput);
  const removeBtn = h("button", { type: "button", class: "btn btn-small", id: "remove-photo", hidden: !c.hasPhoto }, t("form.photoRemove"));
  photoInput.addEventListener("change", () => {
    photoField.error.hidden = true;
    const file = photoInput.files[0];
    if (!file) return;
    if (!PHOTO_TYPES.includes(file.type)) {
      showError(photoField, t("form.photoType"));
      photoInput.value = "";
      chooser.update();
      return;
    }
    if (file.size > PHOTO_MAX) {
      showError(photoField, t("form.photoSize"));
      photoInput.value = "";
      chooser.update();
      return;
    }
    pendingPhoto = file;
    removePhoto = false;
    replace(photoBox, h("div", { class: "avatar avatar-large" }, h("img", { src: blobUrl(file), alt: t("form.photoChosen"), class: "photo" })));
    removeBtn.hidden = false;
  });
  removeBtn.addEventListener("click", () => {
    pendingPhoto = null;
    photoInput.value = "";
    chooser.update();
    removePhoto = Boolean(c.hasPhoto);
    replace(photoBox, avatar({ firstName: c.firstName, lastName: c.lastName }, "large"));
    removeBtn.hidden = true;
  });
  const photo = section(t("enum.field.photo"), h("div", { class: "photo-row" }, photoBox, h("div", {}, photoField.row, removeBtn)));

  // ---- private note
  const note = section(t("enum.field.description"),
    h("p", { class: "staff-only", id: "staff-only-note" }, t("common.staffOnly")),
    text("description", t("form.descriptionLabel"), { value: c.description, multiline: true, rows: 4, wide: true }));
  inputs.description.input.setAttribute("aria-describedby", `staff-only-note ${inputs.description.input.getAttribute("aria-describedby")}`);

  // ---- groups (a multi-select of checkboxes)
  const memberOf = new Set((c.groups || []).map((g) => g.toLowerCase()));
  const groupNames = groups.map((g) => g.name);
  for (const g of c.groups || []) if (!groupNames.some((n) => n.toLowerCase() === g.toLowerCase())) groupNames.push(g);
  const groupBoxes = groupNames.map((name) => {
    const g = groups.find((x) => x.name === name);
    const box = h("input", { type: "checkbox", name: "groups", value: name, id: newId("g"), checked: memberOf.has(name.toLowerCase()) });
    return h("label", { class: "check-chip", for: box.id }, box,
      h("span", { class: "swatch", style: { backgroundColor: safeColor(g && g.color) }, "aria-hidden": "true" }), name);
  });
  const groupsError = h("p", { class: "field-error", id: "f-groups-error", hidden: true });
  const groupsSet = h("fieldset", { class: "field field-wide group-set", id: "f-groups", "aria-describedby": "f-groups-error" },
    h("legend", {}, t("enum.field.groups"), required.has("groups") ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null),
    groupBoxes.length ? h("div", { class: "check-chips" }, groupBoxes)
      : h("p", { class: "muted" }, t("form.noGroups"), h("a", { href: "#/groups" }, t("form.createGroups")), t("form.noGroupsEnd")),
    groupsError);
  inputs.groups = { input: groupBoxes.length ? groupBoxes[0].querySelector("input") : groupsSet, error: groupsError, row: groupsSet };

  // ---- tags (chips)
  const tagList = (c.tags || []).slice();
  const tagChips = h("ul", { class: "tag-chips", "aria-label": t("form.tagsOf") });
  const tagInput = h("input", { type: "text", id: "f-tags", list: "tag-suggestions", autocomplete: "off", placeholder: t("form.tagPlaceholder") });
  const suggestions = h("datalist", { id: "tag-suggestions" }, tags.map((tag) => h("option", { value: tag.name })));
  const tagsField = field({ label: t("enum.field.tags"), input: tagInput, hint: t("form.tagsHint"), required: required.has("tags"), wide: true });
  inputs.tags = tagsField;
  const renderTags = () => {
    replace(tagChips, tagList.map((tag, i) => h("li", { class: "chip chip-tag" }, tag,
      h("button", { type: "button", class: "chip-remove", "aria-label": t("form.removeTag", { tag }), onclick: () => {
        tagList.splice(i, 1);
        renderTags();
        tagInput.focus();
      } }, "×"))));
  };
  const addTag = () => {
    const parts = tagInput.value.split(",").map((part) => part.trim()).filter(Boolean);
    for (const part of parts) if (!tagList.some((x) => x.toLowerCase() === part.toLowerCase())) tagList.push(part);
    tagInput.value = "";
    renderTags();
  };
  tagInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === ",") {
      ev.preventDefault();
      addTag();
    } else if (ev.key === "Backspace" && !tagInput.value && tagList.length) {
      tagList.pop();
      renderTags();
    }
  });
  tagInput.addEventListener("change", () => {
    // Picking a suggestion from the list adds it at once.
    if (tags.some((tag) => tag.name === tagInput.value)) addTag();
  });
  renderTags();
  tagsField.row.insertBefore(tagChips, tagInput);
  const groupsTags = section(t("form.groupsTags"), groupsSet, tagsField.row, suggestions);

  // ---- company
  const isCompany = h("input", { type: "checkbox", id: "f-isCompany", name: "isCompany", checked: Boolean(c.isCompany) });
  // The company's name is there for everyone (where a person works, as a store
  // keeps it); its VAT number, address and "Download data" are a company's.
  const companyName = h("div", { class: "grid" },
    text("company.name", t("enum.field.company.name"), { value: company.name, hint: t("form.companyNameHint") }));
  const companyFields = h("div", { class: "grid", id: "company-fields", hidden: !c.isCompany },
    text("company.vatNumber", t("enum.field.company.vatNumber"), { value: company.vatNumber, hint: t("form.vatHint"), class: "mono" }),
    text("company.address", t("enum.field.company.address"), { value: company.address, multiline: true, rows: 3, wide: true }));
  // "Download data": name and address from the EU's VIES (vat.js).
  const vat = vatDownload({ vat: inputs["company.vatNumber"].input, name: inputs["company.name"].input,
    address: inputs["company.address"].input });
  companyFields.append(vat.row);
  ctx.onLeave(vat.stop);
  isCompany.addEventListener("change", () => {
    companyFields.hidden = !isCompany.checked;
  });
  const companyErr = h("p", { class: "field-error", id: "f-company-error", hidden: true });
  inputs.company = { input: isCompany, error: companyErr };
  inputs.isCompany = inputs.company;
  const companySection = section(t("enum.field.company"), companyName,
    h("div", { class: "check-row" }, isCompany, h("label", { for: "f-isCompany" }, t("form.isCompany"))),
    companyErr, companyFields);

  // ---- addresses
  const addresses = (c.addresses || []).map(normAddress);
  const addrList = h("div", { class: "addresses" });
  const addrError = h("p", { class: "field-error", id: "f-addresses-error", hidden: true });
  const addBtn = h("button", { type: "button", class: "btn", id: "add-address" }, t("form.addAddress"));
  const addrInputs = []; // per address: {path suffix -> field}, plus block and its error
  const renderAddresses = () => {
    addrInputs.length = 0;
    replace(addrList, addresses.map((a, i) => {
      const fields = {};
      const input = (key, label, opts = {}) => {
        const el = h("input", { type: "text", id: `f-addresses-${i}-${key}`, autocomplete: "off", maxlength: opts.maxlength, class: opts.class });
        el.value = a[key];
        const keep = () => {
          a[key] = key === "country" ? el.value.toUpperCase() : el.value;
        };
        el.addEventListener("input", keep);
        el.addEventListener("change", keep);
        const f = field({ label, input: el, hint: opts.hint });
        fields[key] = f;
        return f.row;
      };
      const kind = select(named(ADDRESS_KINDS), a.kind, { id: `f-addresses-${i}-kind` });
      kind.addEventListener("change", () => {
        a.kind = kind.value;
      });
      fields.kind = field({ label: t("enum.addressPart.kind"), input: kind });
      const blockError = h("p", { class: "field-error", hidden: true });
      const remove = h("button", { type: "button", class: "btn btn-small btn-danger-quiet", "aria-label": t("form.removeAddress", { n: i + 1 }) }, t("form.remove"));
      remove.addEventListener("click", () => {
        addresses.splice(i, 1);
        renderAddresses();
        addBtn.focus();
      });
      const grid = h("div", { class: "grid" }, fields.kind.row,
        input("line1", t("enum.addressPart.line1")), input("line2", t("enum.addressPart.line2")),
        input("postalCode", t("enum.addressPart.postalCode"), { maxlength: 20 }), input("city", t("enum.addressPart.city")),
        input("region", t("enum.addressPart.region")),
        input("country", t("enum.addressPart.country"), { maxlength: 2, class: "upper", hint: t("form.countryHint") }));
      addrInputs.push({ fields, error: blockError, first: fields.line1.input });
      return h("fieldset", { class: "address", id: `f-addresses-${i}` },
        h("legend", {}, t("enum.field.addressN", { n: i + 1 })), grid, blockError, h("div", { class: "address-actions" }, remove));
    }));
    if (!addresses.length) addrList.append(h("p", { class: "muted" }, t("form.noAddress")));
  };
  addBtn.addEventListener("click", () => {
    addresses.push(blankAddress(settings.defaultCountry));
    renderAddresses();
    addrInputs[addrInputs.length - 1].first.focus();
  });
  renderAddresses();
  inputs.addresses = { input: addBtn, error: addrError };
  const addrSection = section(t("enum.field.addresses"), addrList, addrError, addBtn);

  // ---- account and sales
  const status = select(named(ACCOUNT_STATUSES), (c.account && c.account.status) || "NONE", { id: "f-account-status", name: "account.status" });
  const statusField = field({ label: t("enum.field.account.status"), input: status, hint: t("form.accountHint") });
  inputs["account.status"] = statusField;
  inputs.account = statusField;
  const accountSection = section(t("form.accountSales"), h("div", { class: "grid" },
    statusField.row, text("salesAgent", t("enum.field.salesAgent"), { value: c.salesAgent })));

  // ---- preferences
  const langRow = text("preferences.language", t("enum.field.language"), { value: prefs.language, hint: t("form.languageHint"), maxlength: 35 });
  inputs["preferences.language"].input.setAttribute("list", "language-list");
  inputs.preferences = inputs["preferences.language"];
  const consentRows = CONSENTS.map(([key, labelKey]) => {
    const labelText = t(labelKey);
    const cur = consentOf(prefs, key);
    const box = h("input", { type: "checkbox", id: `f-consent-${key}`, checked: cur.granted });
    const source = h("input", { type: "text", id: `f-consent-${key}-source`, autocomplete: "off", placeholder: t("form.consentSourcePlaceholder"), "aria-label": t("form.consentWhere", { channel: labelText }) });
    source.value = cur.source;
    const err = h("p", { class: "field-error", id: `f-consent-${key}-error`, hidden: true });
    source.setAttribute("aria-describedby", err.id);
    inputs[`preferences.${key}`] = { input: box, error: err };
    inputs[`preferences.${key}.source`] = { input: source, error: err };
    inputs[`preferences.${key}.changedAt`] = { input: box, error: err };
    return h("tr", {},
      h("th", { scope: "row" }, h("label", { for: box.id }, labelText)),
      h("td", { class: "consent-agreed", dataset: { label: t("form.agreed") } }, box),
      h("td", { class: "consent-source", dataset: { label: t("form.source") } }, source, err),
      h("td", { class: "consent-changed muted small", dataset: { label: t("form.lastChanged") } },
        cur.changedAt ? when(cur.changedAt) : "—"));
  });
  const prefSection = section(t("form.prefs"),
    h("div", { class: "grid" }, langRow),
    h("datalist", { id: "language-list" }, LANGUAGES.map((l) => h("option", { value: l }))),
    h("table", { class: "table consents" },
      h("caption", {}, t("form.consentsCaption")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("form.channel")), h("th", { scope: "col" }, t("form.agreed")),
        h("th", { scope: "col" }, t("form.source")), h("th", { scope: "col" }, t("form.lastChanged")))),
      h("tbody", {}, consentRows)));

  // ---- the form itself
  const summary = h("div", { class: "form-summary", tabindex: "-1" });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save" }, t(id ? "form.saveChanges" : "form.addTitle"));
  const cancel = h("a", { class: "btn", href: id ? `#/customers/${encodeURIComponent(id)}` : "#/customers" }, t("common.cancel"));
  const form = h("form", { class: "customer-form", novalidate: true, "aria-labelledby": "form-title" },
    summary, person, photo, note, groupsTags, companySection, addrSection, accountSection, prefSection,
    h("div", { class: "form-actions" }, save, cancel));
  const title = id ? t("form.editNamed", { name: displayName(c) }) : t("form.addTitle");
  setTitle(title);
  replace(view,
    h("nav", { class: "crumbs", "aria-label": t("common.breadcrumb") }, h("a", { href: "#/customers" }, t("nav.customers")),
      id ? [" / ", h("a", { href: `#/customers/${encodeURIComponent(id)}` }, displayName(c))] : null),
    h("h1", { id: "form-title" }, title), form);

  // ---- reading the form
  const collect = () => {
    if (tagInput.value.trim()) addTag();
    const v = (name) => inputs[name].input.value.trim();
    const cur = {
      firstName: v("firstName"),
      lastName: v("lastName"),
      email: v("email"),
      phone: v("phone"),
      gender: gender.value,
      birthDate: birth.value,
      description: inputs.description.input.value,
      groups: groupBoxes.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
      tags: tagList.slice(),
      isCompany: isCompany.checked,
      company: { name: v("company.name"), vatNumber: v("company.vatNumber"), address: inputs["company.address"].input.value.trim() },
      addresses: addresses.map((a) => normAddress({ ...a, country: a.country.trim().toUpperCase() })),
      salesAgent: v("salesAgent"),
      account: { status: status.value },
      preferences: { language: v("preferences.language") },
    };
    for (const [key] of CONSENTS) {
      cur.preferences[key] = {
        granted: document.getElementById(`f-consent-${key}`).checked,
        source: document.getElementById(`f-consent-${key}-source`).value.trim(),
      };
    }
    return cur;
  };

  const forCreate = (cur) => {
    const body = {};
    for (const k of ["firstName", "lastName", "email", "phone", "birthDate", "description", "salesAgent"]) {
      if (cur[k]) body[k] = cur[k];
    }
    if (cur.gender !== "UNSPECIFIED") body.gender = cur.gender;
    if (cur.groups.length) body.groups = cur.groups;
    if (cur.tags.length) body.tags = cur.tags;
    if (cur.isCompany) {
      body.isCompany = true;
      body.company = cur.company;
    } else if (cur.company.name) {
      body.company = { name: cur.company.name };
    }
    if (cur.addresses.length) body.addresses = cur.addresses;
    if (cur.account.status !== "NONE") body.account = cur.account;
    const p = {};
    if (cur.preferences.language) p.language = cur.preferences.language;
    for (const [key] of CONSENTS) {
      const x = cur.preferences[key];
      if (x.granted || x.source) p[key] = x;
    }
    if (Object.keys(p).length) body.preferences = p;
    return body;
  };

  const forPatch = (cur) => {
    const o = original;
    const patch = {};
    for (const k of ["firstName", "lastName", "email", "phone", "birthDate", "description", "salesAgent"]) {
      if ((o[k] || "") !== cur[k]) patch[k] = cur[k];
    }
    if ((o.gender || "UNSPECIFIED") !== cur.gender) patch.gender = cur.gender;
    if (Boolean(o.isCompany) !== cur.isCompany) patch.isCompany = cur.isCompany;
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    // Groups and tags are sets: another order is no change.
    const sameSet = (a, b) => same([...a].sort(), [...b].sort());
    if (!sameSet(o.groups || [], cur.groups)) patch.groups = cur.groups;
    if (!sameSet(o.tags || [], cur.tags)) patch.tags = cur.tags;
    if (!same((o.addresses || []).map(normAddress), cur.addresses)) patch.addresses = cur.addresses;
    const oc = o.company || {};
    const comp = {};
    for (const k of ["name", "vatNumber", "address"]) if ((oc[k] || "") !== cur.company[k]) comp[k] = cur.company[k];
    if (Object.keys(comp).length) patch.company = comp;
    if (((o.account && o.account.status) || "NONE") !== cur.account.status) patch.account = cur.account;
    const op = o.preferences || {};
    const pref = {};
    if ((op.language || "") !== cur.preferences.language) pref.language = cur.preferences.language;
    for (const [key] of CONSENTS) {
      const was = consentOf(op, key);
      const now = cur.preferences[key];
      if (was.granted !== now.granted || was.source !== now.source) pref[key] = now;
    }
    if (Object.keys(pref).length) patch.preferences = pref;
    return patch;
  };

  // ---- errors
  function clearErrors() {
    replace(summary);
    for (const f of Object.values(inputs)) {
      f.error.hidden = true;
      f.error.replaceChildren();
      if (f.input.removeAttribute) f.input.removeAttribute("aria-invalid");
    }
    for (const a of addrInputs) {
      a.error.hidden = true;
      for (const f of Object.values(a.fields)) {
        f.error.hidden = true;
        f.input.removeAttribute("aria-invalid");
      }
    }
    addrError.hidden = true;
  }

  /** The field element pair for an API path, or null. */
  function target(path) {
    const m = /^addresses\[(\d+)\](?:\.(\w+))?$/.exec(path);
    if (m) {
      const a = addrInputs[Number(m[1])];
      if (!a) return inputs.addresses;
      if (m[2] && a.fields[m[2]]) return a.fields[m[2]];
      return { input: a.first, error: a.error };
    }
    const base = path.replace(/\[\d+\]$/, ""); // tags[2] -> tags
    return inputs[path] || inputs[base] || null;
  }

  function showError(f, ...content) {
    if (f.error.hidden) f.error.replaceChildren();
    else f.error.append(h("br"));
    append_(f.error, content);
    f.error.hidden = false;
    if (f.input.setAttribute) f.input.setAttribute("aria-invalid", "true");
  }

  function showApiError(e) {
    clearErrors();
    if (!(e instanceof ApiError)) {
      replace(summary, banner("error", e.message));
      summary.focus();
      return;
    }
    if (e.status === 403) {
      // Refused (a role that may only read): the form keeps every value.
      replace(summary, banner("error", t("ro.refused", { message: e.message })));
      summary.focus();
      return;
    }
    if (e.status === 412) {
      replace(summary, banner("error",
        t("form.conflict"),
        h("button", { type: "button", class: "btn btn-primary", id: "reload-customer", onclick: () => ctx.navigate(location.hash.slice(1), { replace: true }) }, t("form.loadTheirs")),
        h("a", { class: "btn", href: `#/customers/${encodeURIComponent(id)}`, target: "_blank", rel: "noopener" }, t("form.seeNewTab"))));
      summary.focus();
      return;
    }
    const items = [];
    let first = null;
    for (const d of e.details) {
      const f = target(d.field || "");
      const dup = d.reason === "DUPLICATE" && d.resourceId;
      const link = dup ? h("a", { href: `#/customers/${encodeURIComponent(d.resourceId)}`, class: "duplicate-link" }, t("form.openExisting")) : null;
      // A field the business's settings require: said in the staff's language.
      const said = d.reason === "REQUIRED" && required.has(d.field) ? t("form.requiredByBusiness") : d.description || d.reason;
      const textMsg = dup ? t("form.duplicateField", { field: fieldName(d.field) }) : said || t("common.invalid");
      if (f) {
        showError(f, textMsg, link ? [" ", link] : null);
        first = first || f.input;
      }
      items.push(h("li", {}, f ? h("a", { href: "#", onclick: (ev) => {
        ev.preventDefault();
        f.input.focus();
      } }, `${fieldName(d.field)}: ${said}`) : `${fieldName(d.field)}: ${said}`,
      dup ? [" — ", h("a", { href: `#/customers/${encodeURIComponent(d.resourceId)}` }, t("form.openExistingLower"))] : null));
    }
    const headline = e.status === 409 ? t("form.exists") : items.length ? tn("form.correct", items.length) : e.message;
    replace(summary, h("div", { class: "banner banner-error", role: "alert" },
      h("p", {}, headline), items.length ? h("ul", {}, items) : null));
    if (first && first.focus) first.focus();
    else summary.focus();
  }

  // ---- saving
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const cur = collect();
    save.disabled = true;
    save.textContent = t("common.saving");
    try {
      let saved;
      if (!id) {
        saved = (await request("POST", "/v1/customers", { body: forCreate(cur), headers: { "Idempotency-Key": createKey } })).data;
        stopDuplicates(); // added: nothing left to warn about
      } else {
        const patch = forPatch(cur);
        if (Object.keys(patch).length) {
          saved = (await request("PATCH", `/v1/customers/${seg(id)}`, {
            body: patch,
            headers: { "If-Match": etag || "*", "Idempotency-Key": newRequestKey() },
          })).data;
        } else {
          saved = original;
        }
      }
      let photoProblem = "";
      try {
        if (pendingPhoto) {
          await request("PUT", `/v1/customers/${seg(saved.id)}/photo`, { raw: pendingPhoto, contentType: pendingPhoto.type });
        } else if (removePhoto) {
          await request("DELETE", `/v1/customers/${seg(saved.id)}/photo`);
        }
      } catch (pe) {
        photoProblem = pe.message;
      }
      await vat.afterSave(saved);
      noteWrite(saved.id, saved.etag);
      if (photoProblem) toast(t("form.photoFailed", { message: photoProblem }), "error");
      else toast(t(id ? "form.saved" : "form.added", { name: displayName(saved) }));
      ctx.navigate(`/customers/${encodeURIComponent(saved.id)}`);
    } catch (e) {
      if (!ctx.live()) return;
      showApiError(e);
    } finally {
      save.disabled = false;
      save.textContent = t(id ? "form.saveChanges" : "form.addTitle");
    }
  });
  if (!can("customers:write")) {
    save.disabled = true;
    replace(summary, banner("info", t("ro.readOnly")));
  }
  inputs.firstName.input.focus();
}

function section(title, ...children) {
  const headingId = newId("s");
  return h("section", { class: "card form-section", "aria-labelledby": headingId }, h("h2", { id: headingId }, title), children);
}

function append_(el, content) {
  for (const x of content.flat(Infinity)) {
    if (x === null || x === undefined) continue;
    el.append(x instanceof Node ? x : document.createTextNode(String(x)));
  }
}
