// Labels and formatting shared by the views.

export const GENDERS = [
  ["UNSPECIFIED", "Not given"],
  ["FEMALE", "Female"],
  ["MALE", "Male"],
  ["OTHER", "Other"],
];

export const ACCOUNT_STATUSES = [
  ["NONE", "No account"],
  ["INVITED", "Invited"],
  ["ACTIVE", "Active"],
  ["DISABLED", "Disabled"],
];

export const ADDRESS_KINDS = [
  ["BILLING", "Billing"],
  ["SHIPPING", "Shipping"],
];

export const SOURCES = {
  UNSPECIFIED: "Unknown",
  MANUAL: "Added by staff",
  IMPORT: "Import",
  BOOKING: "Booking system",
  STORE: "Web store",
  API: "API",
};

export const CONSENTS = [
  ["email", "E-mail"],
  ["sms", "SMS"],
  ["push", "Push notifications"],
  ["marketing", "Marketing"],
];

/** The fields an administrator may make required (the customers service's list). */
export const REQUIRABLE = [
  ["firstName", "First name"],
  ["lastName", "Last name"],
  ["email", "E-mail"],
  ["phone", "Phone"],
  ["gender", "Gender"],
  ["birthDate", "Date of birth"],
  ["description", "Private description"],
  ["groups", "Groups"],
  ["tags", "Tags"],
  ["company", "Company data"],
  ["addresses", "Addresses"],
  ["salesAgent", "Sales agent"],
];

/** Readable names for audit field paths ("company.vatNumber" -> "Company VAT number"). */
const FIELD_NAMES = {
  firstName: "First name",
  lastName: "Last name",
  email: "E-mail",
  phone: "Phone",
  gender: "Gender",
  birthDate: "Date of birth",
  description: "Private description",
  groups: "Groups",
  tags: "Tags",
  isCompany: "Is a company",
  company: "Company",
  "company.name": "Company name",
  "company.vatNumber": "VAT number",
  "company.address": "Company address",
  "company.vatCheck": "VAT check",
  "company.vatCheck.status": "VAT status",
  "company.vatCheck.vatNumber": "VAT number checked",
  "company.vatCheck.checkedAt": "VAT checked at",
  "company.vatCheck.requestDate": "VIES request date",
  "company.vatCheck.consultationNumber": "VIES consultation number",
  "company.vatCheck.name": "Name at VIES",
  "company.vatCheck.address": "Address at VIES",
  "company.vatCheck.nameWithheld": "Name withheld at VIES",
  "company.vatCheck.addressWithheld": "Address withheld at VIES",
  "company.vatCheck.raw": "VIES's answer",
  "company.vatCheck.errorCode": "VIES error",
  "company.vatCheck.filledName": "Name filled from VIES",
  "company.vatCheck.filledAddress": "Address filled from VIES",
  addresses: "Addresses",
  salesAgent: "Sales agent",
  account: "Account",
  "account.status": "Account status",
  preferences: "Preferences",
  "preferences.language": "Language",
  "preferences.email": "E-mail consent",
  "preferences.sms": "SMS consent",
  "preferences.push": "Push consent",
  "preferences.marketing": "Marketing consent",
  photo: "Photo",
  hasPhoto: "Photo",
  source: "Source",
  externalIds: "External ids",
};

const CONSENT_PARTS = { granted: "consent", changedAt: "consent changed", source: "consent source" };

export function fieldName(path) {
  if (FIELD_NAMES[path]) return FIELD_NAMES[path];
  const m = /^preferences\.(email|sms|push|marketing)\.(granted|changedAt|source)$/.exec(path);
  if (m) return `${FIELD_NAMES[`preferences.${m[1]}`].replace(/ consent$/, "")} ${CONSENT_PARTS[m[2]]}`;
  const a = /^addresses\[(\d+)\](?:\.(\w+))?$/.exec(path);
  if (a) return `Address ${Number(a[1]) + 1}${a[2] ? ` ${a[2]}` : ""}`;
  return path;
}

export function label(pairs, value) {
  const hit = pairs.find(([v]) => v === value);
  return hit ? hit[1] : value || "";
}

/** "Nowak, Łukasz", or whichever part exists, or "(no name)". */
export function displayName(c) {
  const last = (c.lastName || "").trim();
  const first = (c.firstName || "").trim();
  if (last && first) return `${last}, ${first}`;
  return last || first || "(no name)";
}

/** "Łukasz Nowak" for headings. */
export function fullName(c) {
  return [c.firstName, c.lastName].filter((s) => s && s.trim()).join(" ") || "(no name)";
}

export function initials(c) {
  const a = Array.from((c.firstName || "").trim())[0] || "";
  const b = Array.from((c.lastName || "").trim())[0] || "";
  return (a + b).toUpperCase() || "?";
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

/** An RFC 3339 time in the reader's time zone, or "". */
export function when(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : dateTime.format(d);
}

/** A YYYY-MM-DD date as a calendar date (no time zone shift), or "". */
export function day(ymd) {
  if (!ymd) return "";
  const d = new Date(`${ymd}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? ymd : dateOnly.format(d);
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
  if (typeof v === "boolean") return v ? "yes" : "no";
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
  if (field === "source") return SOURCES[shown] || shown;
  if (field === "gender") return label(GENDERS, shown);
  if (field === "account.status") return label(ACCOUNT_STATUSES, shown);
  return shown;
}

/** One-line address. */
export function addressLine(a) {
  return [a.line1, a.line2, [a.postalCode, a.city].filter(Boolean).join(" "), a.region, a.country]
    .filter((s) => s && String(s).trim())
    .join(", ");
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

const integer = new Intl.NumberFormat();

/** A count in the reader's locale: 1234 -> "1,234". */
export function count(n) {
  return integer.format(Number(n) || 0);
}

/** "1,234 customers", "1 customer". */
export function counted(n, one, many) {
  return `${count(n)} ${Number(n) === 1 ? one : many}`;
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
    fmt = new Intl.NumberFormat(undefined, { style: "currency", currency: cur });
  } catch {
    return `${count(minor)} ${cur}`;
  }
  const digits = fmt.resolvedOptions().maximumFractionDigits;
  return fmt.format(minor / 10 ** digits);
}

const dateMedium = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeShort = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const weekdayDate = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

/** A calendar day of an RFC 3339 time in the reader's time zone, or "". */
export function dateOf(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : dateMedium.format(d);
}

/** "Thu 27 Nov, 10:00": an appointment's time, short, in the reader's time zone. */
export function slot(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : weekdayDate.format(d);
}

/** Just the time of day of an RFC 3339 time ("10:00"). */
export function timeOf(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? "" : timeShort.format(d);
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A task's due value (RFC 3339, or a date alone) as readable text. */
export function due(value) {
  if (!value) return "";
  return DATE_ONLY.test(value) ? day(value) : when(value);
}

/** A due value as the value of <input type="datetime-local"> (local time), or "". */
export function toLocalInput(value) {
  if (!value) return "";
  if (DATE_ONLY.test(value)) return `${value}T00:00`;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The value of <input type="datetime-local"> (local time) as RFC 3339 UTC, or "". */
export function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value); // a date-time without offset is local time
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Number of Unicode characters (code points), as the API counts them. */
export function charCount(text) {
  let n = 0;
  for (const _ of text || "") n += 1; // eslint-disable-line no-unused-vars
  return n;
}
