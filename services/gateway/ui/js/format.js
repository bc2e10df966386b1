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

/** One-line address. */
export function addressLine(a) {
  return [a.line1, a.line2, [a.postalCode, a.city].filter(Boolean).join(" "), a.region, a.country]
    .filter((s) => s && String(s).trim())
    .join(", ");
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}
