// What the UI remembers while signed in: the tenant's settings and groups
// (both small), loaded once and refreshed after a change.

import { get } from "./api.js";

let settings = null;
let groups = null;

export function clearSession() {
  settings = null;
  groups = null;
  writes = [];
  const name = document.getElementById("tenant-name");
  if (name) name.textContent = "";
}

/** The tenant's settings ({name, defaultCountry, requiredFields}). */
export async function loadSettings(force = false) {
  if (!settings || force) {
    settings = (await get("/v1/settings")).data;
    const name = document.getElementById("tenant-name");
    if (name) name.textContent = settings.name || "";
  }
  return settings;
}

export function setSettings(s) {
  settings = s;
  const name = document.getElementById("tenant-name");
  if (name) name.textContent = s.name || "";
}

/** Every group, sorted by name. */
export async function loadGroups(force = false) {
  if (!groups || force) {
    const data = (await get("/v1/groups")).data;
    groups = (data.groups || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  }
  return groups;
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
