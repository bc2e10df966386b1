// Labels and formatting shared by the views. An enumeration is a list of
// [API value, catalogue key] pairs: label() and named() give the words in the
// reader's language. Dates and numbers follow the chosen language (Intl).
// Every date-time is shown, and every date-time typed is read, on the
// business's wall clock (timeZone in GET /v1/settings), whatever zone the
// device is in; dates alone (a birth date) have no zone.

import { locale, t } from "./i18n.js";

export const GENDERS = [
  ["UNSPECIFIED", "enum.gender.UNSPECIFIED"],
  ["FEMALE", "enum.gender.FEMALE"],
  ["MALE", "enum.gender.MALE"],
  ["OTHER", "enum.gender.OTHER"],
];

export const ACCOUNT_STATUSES = [
  ["NONE", "enum.account.NONE"],
  ["INVITED", "enum.account.INVITED"],
  ["ACTIVE", "enum.account.ACTIVE"],
  ["DISABLED", "enum.account.DISABLED"],
];

export const ADDRESS_KINDS = [
  ["BILLING", "enum.address.BILLING"],
  ["SHIPPING", "enum.address.SHIPPING"],
];

export const SOURCES = [
  ["UNSPECIFIED", "enum.source.UNSPECIFIED"],
  ["MANUAL", "enum.source.MANUAL"],
  ["IMPORT", "enum.source.IMPORT"],
  ["BOOKING", "enum.source.BOOKING"],
  ["STORE", "enum.source.STORE"],
  ["API", "enum.source.API"],
  ["SIGNUP", "enum.source.SIGNUP"],
];

export const CONSENTS = [
  ["email", "enum.consent.email"],
  ["sms", "enum.consent.sms"],
  ["push", "enum.consent.push"],
  ["marketing", "enum.consent.marketing"],
];

/** A company's VAT check status (company.vatCheck.status), short. */
export const VAT_STATUSES = [
  ["UNVERIFIED", "enum.vat.UNVERIFIED"],
  ["PENDING", "enum.vat.PENDING"],
  ["VALID", "enum.vat.VALID"],
  ["INVALID", "enum.vat.INVALID"],
  ["UNAVAILABLE", "enum.vat.UNAVAILABLE"],
];

/** The fields an administrator may make required (the customers service's list). */
export const REQUIRABLE = [
  ["firstName", "enum.field.firstName"],
  ["lastName", "enum.field.lastName"],
  ["email", "enum.field.email"],
  ["phone", "enum.field.phone"],
  ["gender", "enum.field.gender"],
  ["birthDate", "enum.field.birthDate"],
  ["description", "enum.field.description"],
  ["groups", "enum.field.groups"],
  ["tags", "enum.field.tags"],
  ["company", "enum.field.companyData"],
  ["addresses", "enum.field.addresses"],
  ["salesAgent", "enum.field.salesAgent"],
];

/** Readable names for audit field paths ("company.vatNumber" -> "VAT number"). */
const FIELD_NAMES = {
  firstName: "enum.field.firstName",
  lastName: "enum.field.lastName",
  email: "enum.field.email",
  phone: "enum.field.phone",
  gender: "enum.field.gender",
  birthDate: "enum.field.birthDate",
  description: "enum.field.description",
  groups: "enum.field.groups",
  tags: "enum.field.tags",
  isCompany: "enum.field.isCompany",
  company: "enum.field.company",
  "company.name": "enum.field.company.name",
  "company.vatNumber": "enum.field.company.vatNumber",
  "company.address": "enum.field.company.address",
  "company.vatCheck": "enum.field.vatCheck",
  "company.vatCheck.status": "enum.field.vatCheck.status",
  "company.vatCheck.vatNumber": "enum.field.vatCheck.vatNumber",
  "company.vatCheck.checkedAt": "enum.field.vatCheck.checkedAt",
  "company.vatCheck.requestDate": "enum.field.vatCheck.requestDate",
  "company.vatCheck.consultationNumber": "enum.field.vatCheck.consultationNumber",
  "company.vatCheck.name": "enum.field.vatCheck.name",
  "company.vatCheck.address": "enum.field.vatCheck.address",
  "company.vatCheck.nameWithheld": "enum.field.vatCheck.nameWithheld",
  "company.vatCheck.addressWithheld": "enum.field.vatCheck.addressWithheld",
  "company.vatCheck.raw": "enum.field.vatCheck.raw",
  "company.vatCheck.errorCode": "enum.field.vatCheck.errorCode",
  "company.vatCheck.filledName": "enum.field.vatCheck.filledName",
  "company.vatCheck.filledAddress": "enum.field.vatCheck.filledAddress",
  addresses: "enum.field.addresses",
  salesAgent: "enum.field.salesAgent",
  account: "enum.field.account",
  "account.status": "enum.field.account.status",
  preferences: "enum.field.preferences",
  "preferences.language": "enum.field.language",
  "preferences.email": "enum.field.consent.email",
  "preferences.sms": "enum.field.consent.sms",
  "preferences.push": "enum.field.consent.push",
  "preferences.marketing": "enum.field.consent.marketing",
  mergedId: "enum.field.mergedId",
  mergedInto: "enum.field.mergedInto",
  photo: "enum.field.photo",
  hasPhoto: "enum.field.photo",
  source: "enum.field.source",
  externalIds: "enum.field.externalIds",
};

const CONSENT_PARTS = {
  granted: "enum.field.consentPart.granted",
  changedAt: "enum.field.consentPart.changedAt",
  source: "enum.field.consentPart.source",
};

/** The parts of an address, as the form labels them. */
export const ADDRESS_PARTS = {
  kind: "enum.addressPart.kind",
  line1: "enum.addressPart.line1",
  line2: "enum.addressPart.line2",
  postalCode: "enum.addressPart.postalCode",
  city: "enum.addressPart.city",
  region: "enum.addressPart.region",
  country: "enum.addressPart.country",
};

/** A field path of the API ("addresses[0].city") in the reader's words. */
export function fieldName(path) {
  if (FIELD_NAMES[path]) return t(FIELD_NAMES[path]);
  const m = /^preferences\.(email|sms|push|marketing)\.(granted|changedAt|source)$/.exec(path);
  if (m) return t(CONSENT_PARTS[m[2]], { channel: label(CONSENTS, m[1]) });
  const a = /^addresses\[(\d+)\](?:\.(\w+))?$/.exec(path);
  if (a) {
    const n = Number(a[1]) + 1;
    if (!a[2]) return t("enum.field.addressN", { n });
    return t("enum.field.addressPart", { n, part: ADDRESS_PARTS[a[2]] ? t(ADDRESS_PARTS[a[2]]) : a[2] });
  }
  return path;
}

/** The [value, words] pairs of an enumeration, for a <select>. */
export function named(pairs) {
  return pairs.map(([v, key]) => [v, t(key)]);
}

const ROLES = {
  admin: "enum.role.admin",
  staff: "enum.role.staff",
  readonly: "enum.role.readonly",
  service: "enum.role.service",
};

/** A principal's role from the API ("ROLE_ADMIN") in words, or "" for none. */
export function roleName(role) {
  const r = (role || "").toLowerCase().replace(/^role_/, "");
  if (!r || r === "unspecified") return "";
  return ROLES[r] ? t(ROLES[r]) : r;
}

/** The words for value of an enumeration (the value itself when unknown). */
export function label(pairs, value) {
  const hit = pairs.find(([v]) => v === value);
  return hit ? t(hit[1]) : value || "";
}

/** "Nowak, Łukasz", or whichever part exists, or "(no name)" in the reader's language. */
export function displayName(c) {
  const last = (c.lastName || "").trim();
  const first = (c.firstName || "").trim();
  if (last && first) return `${last}, ${first}`;
  return last || first || t("common.noName");
}

/** "Łukasz Nowak" for headings. */
export function fullName(c) {
  return [c.firstName, c.lastName].filter((s) => s && s.trim()).join(" ") || t("common.noName");
}

export function initials(c) {
  const a = Array.from((c.firstName || "").trim())[0] || "";
  const b = Array.from((c.lastName || "").trim())[0] || "";
  return (a + b).toUpperCase() || "?";
}

// The business's time zone (an IANA name), set from the settings once signed
// in (session.js); "" until then, which is the device's own.
let zone = "";

/** The device's own time zone. */
export function deviceZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/**
 * Shows and reads times in time zone name from now on (a zone this browser
 * does not know, or "", is the device's). Returns whether it changed.
 */
export function setBusinessZone(name) {
  let next = name || "";
  try {
    if (next) new Intl.DateTimeFormat("en", { timeZone: next });
  } catch {
    next = "";
  }
  if (next === zone) return false;
  zone = next;
  made.clear();
  return true;
}

/** The zone times are shown in: the business's, or the device's before it is known. */
export function businessZone() {
  return zone || deviceZone();
}

/**
 * "Times in Europe/Sofia" when the business's zone is not the device's (its
 * clock reads differently now), else "": shown once where times are read or typed.
 */
export function zoneNote(key = "zone.note") {
  if (!zone || offsetAt(Date.now()) === offsetAt(Date.now(), deviceZone())) return "";
  return t(key, { zone: zone.replaceAll("_", " ") });
}

// Formatters for the chosen language and the business's zone, made when first
// needed and again after either changes.
const made = new Map();
function formatter(name, make) {
  const key = `${name}|${locale()}`;
  if (!made.has(key)) made.set(key, make(locale()));
  return made.get(key);
}
const inZone = (options) => (zone ? { ...options, timeZone: zone } : options);
const dateTime = () => formatter("dateTime", (l) => new Intl.DateTimeFormat(l, inZone({ dateStyle: "medium", timeStyle: "short" })));
const dateOnly = () => formatter("dateOnly", (l) => new Intl.DateTimeFormat(l, { dateStyle: "medium", timeZone: "UTC" }));
// The wall-clock parts of an instant, for reading and writing input values.
const wallParts = (tz) => new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23",
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** The wall clock of zone tz at instant ms, as milliseconds of a UTC clock showing the same. */
function wallAt(ms, tz = businessZone()) {
  const p = {};
  for (const x of wallParts(tz).formatToParts(new Date(ms))) p[x.type] = x.value;
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
}

/** How far zone tz's clock is ahead of UTC at instant ms, in milliseconds (whole seconds). */
function offsetAt(ms, tz = businessZone()) {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallAt(whole, tz) - whole;
}

const DAY_MS = 86400000;

/**
 * The instant a wall-clock time of the business means (wall: milliseconds of
 * a UTC clock showing it). A time the clock skips when it goes forward is read
 * with the offset before the change, so it lands that far after the change
 * (02:30 on a night the clock jumps from 02:00 to 03:00 is 03:30); a time the
 * clock shows twice when it goes back is the first of the two. The same rule
 * as the export's workbooks (docs/exchange.md) and as browsers' own.
 */
export function instantOf(wall) {
  const before = offsetAt(wall - DAY_MS), after = offsetAt(wall + DAY_MS);
  const fits = [...new Set([before, after])].map((o) => wall - o).filter((u) => offsetAt(u) === wall - u);
  return fits.length ? Math.min(...fits) : wall - before;
}

/** Today on the business's calendar, YYYY-MM-DD. */
export function today() {
  return new Date(wallAt(Date.now())).toISOString().slice(0, 10);
}

/** An RFC 3339 time in the business's time zone, or "". */
export function when(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : dateTime().format(d);
}

/** A YYYY-MM-DD date as a calendar date (no time zone shift), or "". */
export function day(ymd) {
  if (!ymd) return "";
  const d = new Date(`${ymd}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? ymd : dateOnly().format(d);
}

/** An audit value (JSON text, "" when absent) as readable text. */
export function auditValue(text) {
  if (text === "" || text === undefined || text === null) return "—";
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  return plain(v);
}

function plain(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "boolean") return t(v ? "common.yes" : "common.no");
  if (Array.isArray(v)) return v.length ? v.map(plain).join(", ") : "—";
  if (typeof v === "object") {
    const parts = Object.entries(v)
      .filter(([, x]) => x !== "" && x !== null && !(Array.isArray(x) && !x.length))
      .map(([k, x]) => `${k}: ${plain(x)}`);
    return parts.length ? `{${parts.join("; ")}}` : "—";
  }
  return String(v);
}

/** An audit value, with enum values in words ("MANUAL" -> "Added by staff"). */
export function changeValue(field, text) {
  if (field === "addresses" && text) {
    try {
      const list = JSON.parse(text);
      if (Array.isArray(list)) {
        return list.length ? list.map((a) => `${label(ADDRESS_KINDS, a.kind)}: ${addressLine(a)}`).join(" | ") : "—";
      }
    } catch {
      // shown as it is below
    }
  }
  if (field === "externalIds" && text) {
    try {
      const list = JSON.parse(text);
      if (Array.isArray(list)) return list.length ? list.map((x) => `${x.system}: ${x.id}`).join(", ") : "—";
    } catch {
      // shown as it is below
    }
  }
  const shown = auditValue(text);
  if (/changedAt$/.test(field) && shown !== "—") return when(shown);
  if (field === "source") return label(SOURCES, shown);
  if (field === "gender") return label(GENDERS, shown);
  if (field === "account.status") return label(ACCOUNT_STATUSES, shown);
  if (field === "company.vatCheck.status") return label(VAT_STATUSES, shown);
  return shown;
}

/** One-line address. */
export function addressLine(a) {
  return [a.line1, a.line2, [a.postalCode, a.city].filter(Boolean).join(" "), a.region, a.country]
    .filter((s) => s && String(s).trim())
    .join(", ");
}

/** A count in the reader's locale: 1234 -> "1,234". */
export function count(n) {
  return formatter("integer", (l) => new Intl.NumberFormat(l)).format(Number(n) || 0);
}

/**
 * An amount in integer minor units (a number, or a string as int64 is in JSON)
 * in its currency, in the reader's locale: (12900, "PLN") -> "PLN 129.00".
 * The currency's own number of decimals applies (JPY has none).
 */
export function money(amountMinor, currency) {
  const cur = /^[A-Za-z]{3}$/.test(currency || "") ? currency.toUpperCase() : "";
  const minor = Number(amountMinor || 0);
  if (!cur) return count(minor);
  let fmt;
  try {
    fmt = formatter(`money-${cur}`, (l) => new Intl.NumberFormat(l, { style: "currency", currency: cur }));
  } catch {
    return `${count(minor)} ${cur}`;
  }
  const digits = fmt.resolvedOptions().maximumFractionDigits;
  return fmt.format(minor / 10 ** digits);
}

const dateMedium = () => formatter("dateMedium", (l) => new Intl.DateTimeFormat(l, inZone({ dateStyle: "medium" })));
const timeShort = () => formatter("timeShort", (l) => new Intl.DateTimeFormat(l, inZone({ timeStyle: "short" })));
const weekdayDate = () => formatter("weekdayDate", (l) => new Intl.DateTimeFormat(l,
  inZone({ weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" })));

/** A calendar day of an RFC 3339 time in the business's time zone, or "". */
export function dateOf(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : dateMedium().format(d);
}

/** "Thu 27 Nov, 10:00": an appointment's time, short, in the business's time zone. */
export function slot(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : weekdayDate().format(d);
}

/** Just the time of day of an RFC 3339 time ("10:00"). */
export function timeOf(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? "" : timeShort().format(d);
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A task's due value (RFC 3339, or a date alone) as readable text. */
export function due(value) {
  if (!value) return "";
  return DATE_ONLY.test(value) ? day(value) : when(value);
}

/** A due value as the value of <input type="datetime-local"> (the business's wall clock), or "". */
export function toLocalInput(value) {
  if (!value) return "";
  if (DATE_ONLY.test(value)) return `${value}T00:00`;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(wallAt(d.getTime())).toISOString().slice(0, 16);
}

/** The value of <input type="datetime-local"> (the business's wall clock) as RFC 3339 UTC, or "". */
export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
  if (!m) return "";
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] || 0));
  return Number.isNaN(wall) ? "" : new Date(instantOf(wall)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A sent message's text as staff read it: the set-password link it carried is
 * kept out of the stored text as "{{link}}" (docs/notify.md), and is named in
 * words here instead of showing the placeholder.
 */
export function sentText(text) {
  return (text || "").replaceAll("{{link}}", t("msg.linkHidden"));
}

/** Number of Unicode characters (code points), as the API counts them. */
export function charCount(text) {
  let n = 0;
  for (const _ of text || "") n += 1; // eslint-disable-line no-unused-vars
  return n;
}
