// What the UI remembers while signed in: who is signed in (the staff member
// of the session, GET /v1/session) and what the role may do, the tenant's
// settings and groups (both small), loaded once and refreshed after a change.

import { get, request, setCsrfToken } from "./api.js";
import { setBusinessZone, zoneNote } from "./format.js";

let settings = null;
let groups = null;
let me = null; // {id, email, name, role, status, tenantId, tenantName} of the session
let keyScopes = null; // with an API key: the scopes it holds (GET /v1/whoami); null: not known
let staffList = null;
// Counts sign-outs: a load that began before the last one answers its caller
// but keeps nothing, so the next member never sees the last one's tenant.
let epoch = 0;

// What each role may do (docs/api.md "Roles and scopes"): the UI hides or
// disables what the signed-in member's role cannot do; the server decides.
const ALL = ["customers:read", "customers:write", "notes:read", "notes:write", "private:read", "messages:send",
  "company:read", "events:publish", "events:read", "exchange", "settings", "staff", "access:check"];
const ROLE_SCOPES = {
  OWNER: ALL,
  ADMIN: ALL,
  STAFF: ALL.filter((s) => !["exchange", "settings", "staff", "events:publish"].includes(s)),
  READONLY: ["customers:read", "notes:read", "private:read", "company:read"],
};
ROLE_SCOPES.READ_ONLY = ROLE_SCOPES.READONLY;

export function clearSession() {
  settings = null;
  groups = null;
  me = null;
  keyScopes = null;
  staffList = null;
  epoch += 1;
  setBusinessZone("");
  setCsrfToken("");
  writes = [];
  const name = document.getElementById("tenant-name");
  if (name) name.textContent = "";
  const zone = document.getElementById("tenant-zone");
  if (zone) zone.textContent = "";
}

/** Takes a session answer ({staff, csrfToken}) as who is signed in. */
export function setMe(data) {
  me = (data && data.staff) || null;
  if (data && data.csrfToken) setCsrfToken(data.csrfToken);
  const name = document.getElementById("tenant-name");
  if (name && me && me.tenantName) name.textContent = me.tenantName;
}

/** The signed-in staff member, or null (signed out, or signed in with an API key). */
export function currentMember() {
  return me;
}

/**
 * Asks the server who the session cookie belongs to (GET /v1/session).
 * Resolves the member or null; a 401 is an answer here, not an error.
 */
export async function loadMe() {
  try {
    setMe((await request("GET", "/v1/session", { quiet: true, key: "" })).data);
  } catch (e) {
    if (e.status !== 401) throw e;
    me = null;
  }
  return me;
}

/**
 * Asks the server what the API key in use may do (GET /v1/whoami: its role's
 * scopes narrowed by its own list) and remembers it for can(). Resolves the
 * scopes, or null when they cannot be known (can() then offers everything
 * and the server decides).
 */
export async function loadKeyScopes() {
  try {
    keyScopes = (await request("GET", "/v1/whoami", { quiet: true })).data.scopes || [];
  } catch (e) {
    if (e.status === 401) throw e;
    keyScopes = null;
  }
  return keyScopes;
}

/** True when the signed-in member's role grants scope, or the API key in use
 * holds it; true when neither is known (the server checks anyway). */
export function can(scope) {
  if (me) return (ROLE_SCOPES[me.role] || []).includes(scope);
  if (keyScopes) return keyScopes.includes(scope);
  return true;
}

/** The tenant's staff members (GET /v1/staff), sorted by name; for pickers. */
export async function loadStaff(force = false) {
  if (staffList && !force) return staffList;
  const at = epoch;
  const data = (await get("/v1/staff")).data || {};
  const list = (data.staff || []).slice().sort((a, b) => (a.name || a.email).localeCompare(b.name || b.email));
  if (at === epoch) staffList = list;
  return list;
}

/** The tenant's settings ({name, defaultCountry, requiredFields}). */
export async function loadSettings(force = false) {
  if (settings && !force) return settings;
  const at = epoch;
  const data = (await get("/v1/settings")).data;
  if (at === epoch) setSettings(data);
  return data;
}

/** Takes s as the tenant's settings: its name in the header, its time zone for every time shown. */
export function setSettings(s) {
  settings = s;
  setBusinessZone(s.timeZone || "");
  const name = document.getElementById("tenant-name");
  if (name) name.textContent = s.name || "";
  const zone = document.getElementById("tenant-zone");
  if (zone) zone.textContent = zoneNote();
}

/** Every group, sorted by name. */
export async function loadGroups(force = false) {
  if (groups && !force) return groups;
  const at = epoch;
  const data = (await get("/v1/groups")).data;
  const list = (data.groups || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  if (at === epoch) groups = list;
  return list;
}

export function forgetGroups() {
  groups = null;
}

/** {name: color} of the known groups. */
export async function groupColors() {
  const map = new Map();
  try {
    for (const g of await loadGroups()) map.set(g.name.toLowerCase(), g.color);
  } catch {
    // Colours are decoration; the names still show.
  }
  return map;
}

// Read-your-writes for search: the customers this tab created, changed or
// deleted lately, as "ID:ETAG" ("ID:deleted"). A search made right after
// passes them as consistentWith, so the index catches up with them before it
// answers and the list shows the change at once.
const WRITES_MAX = 10; // the search API takes at most 10
const WRITES_TTL_MS = 60000; // after a minute the index has long caught up
let writes = []; // [{id, etag, at}], newest last

/** Remembers a write of customer id that left it at etag ("deleted" after a delete). */
export function noteWrite(id, etag) {
  if (!id || !etag) return;
  writes = writes.filter((w) => w.id !== id);
  writes.push({ id, etag: String(etag).replace(/^W\//, "").replace(/"/g, ""), at: Date.now() });
  if (writes.length > WRITES_MAX) writes = writes.slice(-WRITES_MAX);
}

/** The recent writes as consistentWith values, oldest first. */
export function recentWrites() {
  const now = Date.now();
  writes = writes.filter((w) => now - w.at < WRITES_TTL_MS);
  return writes.map((w) => `${w.id}:${w.etag}`);
}
