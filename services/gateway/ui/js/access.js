// Access control (docs/access.md): on the card an "Access" button opens the
// customer's credentials (add, block with a reason, unblock, delete), grants
// (add with a zone and dates, days and hours or a plan; remove) and the last
// checks at the doors; on the settings page the business's access zones.
// GET/POST /v1/customers/{id}/accessCredentials, PATCH/DELETE .../{id};
// GET/POST /v1/customers/{id}/accessGrants, DELETE .../{id};
// GET /v1/customers/{id}/accessLog; GET/POST /v1/accessZones, PATCH/DELETE /v1/accessZones/{id}.

import { get, request, seg } from "./api.js";
import { banner, closeInto, confirmDialog, field, h, replace, scrollTable, select, toast } from "./dom.js";
import { day, when } from "./format.js";
import { showErrors } from "./forms.js";
import { t } from "./i18n.js";
import { can } from "./session.js";

const KINDS = ["CARD", "FOB", "CODE", "QR"];
const DAYS = [1, 2, 3, 4, 5, 6, 7];
const LOG_SIZE = 50;

/** A grant's conditions in words: "Mon, Tue · 06:00–21:00 · from 1 Dec 2026 · Plan 'Gym'". */
function conditions(g) {
  const parts = [];
  if ((g.days || []).length) parts.push(g.days.map((d) => t(`access.day.${d}`)).join(", "));
  if (g.fromTime) parts.push(`${g.fromTime}–${g.untilTime}`);
  if (g.validFrom && g.validUntil) parts.push(`${day(g.validFrom)} – ${day(g.validUntil)}`);
  else if (g.validFrom) parts.push(t("access.from", { date: day(g.validFrom) }));
  else if (g.validUntil) parts.push(t("access.until", { date: day(g.validUntil) }));
  if (g.planId) parts.push(t("access.whilePlan", { plan: g.planName }));
  return parts.length ? parts.join(" · ") : t("access.always");
}

/**
 * Sends what body() makes when form is submitted (POST to url), then says done,
 * empties the form and runs after(); a refusal goes under its fields.
 */
function onSubmit(form, button, fields, status, url, body, done, after) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      await request("POST", url, { body: body() });
      toast(done());
      form.reset();
      replace(status);
      await after();
    } catch (e) {
      showErrors(e, fields, status);
    } finally {
      button.disabled = false;
    }
  });
}

/** The card's Access button and the panel it opens. */
export function accessSection(customerId) {
  const button = h("button", { type: "button", class: "btn", id: "access-open", "aria-expanded": "false", "aria-controls": "access-section" }, t("access.button"));
  const status = h("div");
  const creds = h("ul", { class: "subs-list", id: "access-credentials" });
  const grants = h("ul", { class: "subs-list", id: "access-grants" });
  const log = h("tbody", { id: "access-log" });
  const credForm = h("div");
  const grantForm = h("div");
  const closeBtn = h("button", { type: "button", class: "btn btn-small", id: "access-close" }, t("access.close"));
  const section = h("section", { class: "card access-card", id: "access-section", "aria-labelledby": "access-title", hidden: true },
    h("h2", { id: "access-title" }, t("access.title")), status,
    h("h3", {}, t("access.credentials")), creds, credForm,
    h("h3", {}, t("access.grants")), grants, grantForm,
    h("h3", {}, t("access.log")),
    scrollTable(t("access.log"), h("table", { class: "table access-log" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("access.when")), h("th", { scope: "col" }, t("access.zone")),
        h("th", { scope: "col" }, t("access.decision")))), log)),
    h("div", { class: "form-actions-inline" }, closeBtn));
  const base = `/v1/customers/${seg(customerId)}`;
  const writer = can("customers:write");

  const close = () => closeInto(section, button, () => {
    section.hidden = true;
    button.setAttribute("aria-expanded", "false");
  });
  closeBtn.addEventListener("click", close);
  button.addEventListener("click", async () => {
    if (!section.hidden) return close();
    section.hidden = false;
    button.setAttribute("aria-expanded", "true");
    await load();
    section.scrollIntoView({ block: "start" });
  });

  const fail = (e) => replace(status, banner("error", t("access.failed", { message: e.message })));

  function credItem(c) {
    const state = c.blocked
      ? h("span", { class: "badge access-blocked" }, c.blockReason ? t("access.blockedWhy", { reason: c.blockReason }) : t("access.blocked"))
      : h("span", { class: "badge access-active" }, t("access.active"));
    const actions = h("div", { class: "form-actions-inline" });
    const li = h("li", { class: "subs-item access-credential", dataset: { id: c.id, blocked: String(Boolean(c.blocked)) } },
      h("strong", {}, t(`access.kind.${c.kind}`)), " ", h("code", {}, c.value), " ", state, actions);
    if (!writer) return li;
    const toggle = h("button", { type: "button", class: "btn btn-small access-toggle" }, t(c.blocked ? "access.unblock" : "access.block"));
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet access-delete" }, t("common.delete"));
    const url = `${base}/accessCredentials/${seg(c.id)}`;
    toggle.addEventListener("click", () => {
      if (c.blocked) return save({ blocked: false });
      const reason = h("input", { type: "text", class: "access-reason", maxlength: 200, "aria-label": t("access.reason") });
      const go = h("button", { type: "button", class: "btn btn-small btn-danger access-block-go" }, t("access.block"));
      go.addEventListener("click", () => save({ blocked: true, blockReason: reason.value.trim() }));
      replace(actions, field({ label: t("access.reason"), input: reason }).row, go);
      reason.focus();
    });
    async function save(body) {
      try {
        await request("PATCH", url, { body });
        toast(t(body.blocked ? "access.blockedDone" : "access.unblockedDone"));
        await load();
      } catch (e) {
        fail(e);
      }
    }
    del.addEventListener("click", async () => {
      const yes = await confirmDialog({ title: t("access.deleteTitle"), message: t("access.deleteCredential", { value: c.value }) });
      if (!yes) return;
      try {
        await request("DELETE", url);
        await load();
      } catch (e) {
        fail(e);
      }
    });
    replace(actions, toggle, del);
    return li;
  }

  function grantItem(g) {
    const li = h("li", { class: "subs-item access-grant", dataset: { id: g.id } },
      h("strong", {}, g.zoneName), h("p", { class: "muted small" }, conditions(g)));
    if (!writer) return li;
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet access-grant-delete" }, t("access.remove"));
    del.addEventListener("click", async () => {
      try {
        await request("DELETE", `${base}/accessGrants/${seg(g.id)}`);
        toast(t("access.removed"));
        await load();
      } catch (e) {
        fail(e);
      }
    });
    li.append(h("div", { class: "form-actions-inline" }, del));
    return li;
  }

  function logRow(e) {
    const ok = e.decision === "ALLOW";
    return h("tr", { class: "access-entry", dataset: { decision: e.decision, reason: e.reason || "" } },
      h("td", {}, when(e.at)), h("td", {}, e.zoneName),
      h("td", {}, h("span", { class: `badge ${ok ? "access-active" : "access-blocked"}` },
        ok ? t("access.allow") : `${t("access.deny")}: ${t(`access.reason.${e.reason}`)}`)));
  }

  function newCredential() {
    const kind = select(KINDS.map((k) => [k, t(`access.kind.${k}`)]), "CARD", { id: "access-kind" });
    const value = h("input", { type: "text", id: "access-value", maxlength: 64, autocomplete: "off", spellcheck: "false" });
    const fields = {
      kind: field({ label: t("access.kindLabel"), input: kind }),
      value: field({ label: t("access.value"), input: value, hint: t("access.valueHint"), required: true }),
    };
    const formStatus = h("div");
    const add = h("button", { type: "submit", class: "btn btn-primary", id: "access-add-credential" }, t("access.addCredential"));
    const form = h("form", { class: "task-form", id: "access-credential-form", novalidate: true },
      fields.kind.row, fields.value.row, formStatus, h("div", { class: "form-actions-inline" }, add));
    onSubmit(form, add, fields, formStatus, `${base}/accessCredentials`,
      () => ({ kind: kind.value, value: value.value.trim() }), () => t("access.credentialAdded"), load);
    return form;
  }

  function newGrant(zones, plans) {
    if (!zones.length) return h("p", { class: "muted", id: "access-no-zones" }, t("access.noZones"));
    const zone = select(zones.map((z) => [z.id, z.name]), zones[0].id, { id: "access-zone" });
    const from = h("input", { type: "date", id: "access-valid-from" });
    const until = h("input", { type: "date", id: "access-valid-until" });
    const boxes = DAYS.map((d) => h("input", { type: "checkbox", id: `access-day-${d}`, value: String(d) }));
    const days = h("fieldset", { class: "access-days", id: "access-days" }, h("legend", {}, t("access.days")),
      ...boxes.map((b, i) => h("span", { class: "check-row" }, b, h("label", { for: b.id }, t(`access.day.${DAYS[i]}`)))));
    const fromTime = h("input", { type: "time", id: "access-from-time" });
    const untilTime = h("input", { type: "time", id: "access-until-time" });
    const plan = select([["", t("access.noPlan")], ...plans.map((p) => [p.id, p.name])], "", { id: "access-plan" });
    const fields = {
      zoneId: field({ label: t("access.zone"), input: zone, required: true }),
      validFrom: field({ label: t("access.validFrom"), input: from }),
      validUntil: field({ label: t("access.validUntil"), input: until }),
      fromTime: field({ label: t("access.fromTime"), input: fromTime, hint: t("access.hoursHint") }),
      untilTime: field({ label: t("access.untilTime"), input: untilTime }),
      planId: field({ label: t("access.plan"), input: plan, hint: t("access.planHint") }),
    };
    const daysError = h("p", { class: "field-error", hidden: true });
    fields.days = { input: boxes[0], error: daysError, row: days };
    const formStatus = h("div");
    const add = h("button", { type: "submit", class: "btn btn-primary", id: "access-add-grant" }, t("access.addGrant"));
    const form = h("form", { class: "task-form", id: "access-grant-form", novalidate: true },
      fields.zoneId.row, h("div", { class: "grid" }, fields.validFrom.row, fields.validUntil.row), days, daysError,
      h("div", { class: "grid" }, fields.fromTime.row, fields.untilTime.row), fields.planId.row,
      formStatus, h("div", { class: "form-actions-inline" }, add));
    // A time field cannot say 24:00: an end of 00:00 after a start means midnight.
    onSubmit(form, add, fields, formStatus, `${base}/accessGrants`, () => ({
      zoneId: zone.value, validFrom: from.value, validUntil: until.value,
      days: boxes.filter((b) => b.checked).map((b) => Number(b.value)),
      fromTime: fromTime.value, untilTime: untilTime.value === "00:00" && fromTime.value ? "24:00" : untilTime.value,
      planId: plan.value,
    }), () => t("access.grantAdded"), load);
    return form;
  }

  async function load() {
    let c, g, l, zones = [], plans = [];
    try {
      [c, g, l] = await Promise.all([get(`${base}/accessCredentials`), get(`${base}/accessGrants`),
        get(`${base}/accessLog`, { pageSize: LOG_SIZE })]);
      if (writer) [zones, plans] = await Promise.all([get("/v1/accessZones"), get("/v1/plans")]).then((r) => [r[0].data.zones || [], r[1].data.plans || []]);
    } catch (e) {
      fail(e);
      return;
    }
    replace(status);
    const cl = c.data.credentials || [];
    const gl = g.data.grants || [];
    const ll = l.data.entries || [];
    replace(creds, ...(cl.length ? cl.map(credItem) : [h("li", { class: "muted" }, t("access.noCredentials"))]));
    replace(grants, ...(gl.length ? gl.map(grantItem) : [h("li", { class: "muted" }, t("access.noGrants"))]));
    replace(log, ...(ll.length ? ll.map(logRow) : [h("tr", {}, h("td", { colspan: "3", class: "muted" }, t("access.noLog")))]));
    if (writer && !credForm.firstChild) replace(credForm, newCredential());
    if (writer) replace(grantForm, newGrant(zones, plans));
  }
  return { button, section, load };
}

/** The settings page's access zones: the list (rename, delete) and a form to add one. */
export async function accessZonesSettings() {
  const list = h("ul", { class: "subs-list", id: "zones-list" });
  const message = h("div");
  const section = h("section", { class: "card settings-form", id: "zones-settings", "aria-labelledby": "zones-title" },
    h("h2", { id: "zones-title" }, t("zones.title")), h("p", { class: "muted" }, t("zones.lead")), message, list);
  const editable = can("settings");

  const load = async () => {
    let zones = [];
    try {
      zones = (await get("/v1/accessZones")).data.zones || [];
    } catch (e) {
      replace(message, banner("error", t("access.failed", { message: e.message })));
      return;
    }
    replace(list, ...(zones.length ? zones.map(item) : [h("li", { class: "muted" }, t("zones.none"))]));
  };

  function item(z) {
    const li = h("li", { class: "subs-item zone-item", dataset: { id: z.id } },
      h("strong", {}, z.name), h("p", { class: "muted small" }, t("zones.id"), " ", h("code", {}, z.id)));
    if (!editable) return li;
    const rename = h("button", { type: "button", class: "btn btn-small zone-rename" }, t("zones.rename"));
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet zone-delete" }, t("common.delete"));
    const actions = h("div", { class: "form-actions-inline" }, rename, del);
    rename.addEventListener("click", () => {
      const input = h("input", { type: "text", class: "zone-name-input", maxlength: 100, value: z.name });
      const f = field({ label: t("zones.name"), input });
      const save = h("button", { type: "button", class: "btn btn-small btn-primary zone-save" }, t("zones.save"));
      save.addEventListener("click", async () => {
        try {
          await request("PATCH", `/v1/accessZones/${seg(z.id)}`, { body: { name: input.value.trim() } });
          await load();
        } catch (e) {
          showErrors(e, { name: f }, message);
        }
      });
      replace(actions, f.row, save);
      input.focus();
    });
    del.addEventListener("click", async () => {
      const yes = await confirmDialog({ title: t("zones.deleteTitle", { name: z.name }), message: t("zones.deleteLead") });
      if (!yes) return;
      try {
        await request("DELETE", `/v1/accessZones/${seg(z.id)}`);
        await load();
      } catch (e) {
        replace(message, banner("error", e.message));
      }
    });
    li.append(actions);
    return li;
  }

  if (editable) {
    const name = h("input", { type: "text", id: "zone-name", maxlength: 100 });
    const fields = { name: field({ label: t("zones.name"), input: name, required: true }) };
    const formStatus = h("div");
    const add = h("button", { type: "submit", class: "btn btn-primary", id: "zone-add" }, t("zones.add"));
    const form = h("form", { class: "task-form", id: "zone-form", novalidate: true },
      fields.name.row, formStatus, h("div", { class: "form-actions-inline" }, add));
    let added = "";
    onSubmit(form, add, fields, formStatus, "/v1/accessZones", () => {
      added = name.value.trim();
      return { name: added };
    }, () => t("zones.added", { name: added }), load);
    section.append(form);
  }
  await load();
  return section;
}
