// What the UI remembers while signed in: the tenant's settings and groups
// (both small), loaded once and refreshed after a change.

import { get } from "./api.js";

let settings = null;
let groups = null;

export function clearSession() {
  settings = null;
  groups = null;
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
