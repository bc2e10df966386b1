// Subscriptions and packages: on the card the customer's subscriptions (state,
// visits left, dates), selling one from a plan (paid outside or from the money
// balance), a click to see and edit one (end date, visits left, note, with its
// changes), and cancelling with a confirmation and an optional refund; on the
// settings page the plans the business sells.
// GET/POST /v1/customers/{id}/subscriptions, GET/PATCH .../{subscriptionId},
// POST ...:cancel; GET/POST /v1/plans, PATCH /v1/plans/{id}.

import { ApiError, get, newRequestKey, request, seg } from "./api.js";
import { banner, closeInto, confirmDialog, field, h, replace, select, toast } from "./dom.js";
import { day, money, when } from "./format.js";
import { t, tn } from "./i18n.js";
import { parseMoney } from "./wallet.js";

/** "7 of 10 visits left" or "Unlimited visits". */
export function visitsText(s) {
  return s.unlimited ? t("subs.unlimited") : tn("subs.visitsLeft", Number(s.visitsLeft || 0), { total: s.visitsTotal || 0 });
}

/** A plan's terms: "10 visits · 30 days · €120.00". */
function planTerms(p) {
  const parts = [];
  parts.push(p.visits ? tn("subs.visits", p.visits) : t("subs.unlimited"));
  if (p.periodUnit === "DAY" && p.periodCount) parts.push(tn("subs.days", p.periodCount));
  if (p.periodUnit === "MONTH" && p.periodCount) parts.push(tn("subs.months", p.periodCount));
  if (!p.periodCount) parts.push(t("subs.noExpiry"));
  parts.push(money(p.price, p.currency));
  return parts.join(" · ");
}

function until(s) {
  return s.endsOn ? t("subs.until", { date: day(s.endsOn) }) : t("subs.noExpiry");
}

/** The card's subscriptions section; load() (re)reads it. onChange runs after a change. */
/* Today's date (YYYY-MM-DD) on the business's calendar, in its time zone. */
function businessToday(zone) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date())) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export function subsSection(customerId, { onChange = () => {} } = {}) {
  const status = h("div");
  const list = h("ul", { class: "subs-list", id: "subs-list" });
  const sellBtn = h("button", { type: "button", class: "btn btn-small", id: "subs-sell-open", "aria-expanded": "false" }, t("subs.sell"));
  const panel = h("div", { class: "subs-panel", id: "subs-panel" });
  const section = h("section", { class: "card subs-card", "aria-labelledby": "subs-title", id: "subs-section" },
    h("h2", { id: "subs-title" }, t("subs.title")),
    status, list, h("div", { class: "form-actions-inline" }, sellBtn), panel);
  const base = `/v1/customers/${seg(customerId)}/subscriptions`;

  const close = () => closeInto(panel, sellBtn, () => {
    sellBtn.setAttribute("aria-expanded", "false");
    replace(panel);
  });
  const changed = async () => {
    await load();
    onChange();
  };

  sellBtn.addEventListener("click", async () => {
    if (sellBtn.getAttribute("aria-expanded") === "true") return close();
    sellBtn.setAttribute("aria-expanded", "true");
    replace(panel, await sellForm());
  });

  async function sellForm() {
    let plans = [];
    let currency = "EUR";
    let zone = "UTC";
    try {
      plans = (await get("/v1/plans")).data.plans || [];
      currency = ((await get(`/v1/customers/${seg(customerId)}/wallet`)).data || {}).currency || currency;
    } catch (e) {
      return banner("error", t("subs.loadFailed", { message: e.message }));
    }
    if (!plans.length) return h("p", { class: "muted", id: "subs-no-plans" }, t("subs.noPlans"));
    try {
      zone = ((await get("/v1/settings")).data || {}).timeZone || zone;
    } catch (e) {
      /* The start field then offers UTC's today; the person can change it. */
    }
    const plan = select(plans.map((p) => [p.id, `${p.name} (${planTerms(p)})`]), plans[0].id, { id: "subs-plan" });
    const start = h("input", { type: "date", id: "subs-start" });
    start.value = businessToday(zone);
    const pay = h("input", { type: "checkbox", id: "subs-pay-balance" });
    const note = h("input", { type: "text", id: "subs-note", maxlength: 500 });
    const fields = {
      planId: field({ label: t("subs.plan"), input: plan, required: true }),
      startsOn: field({ label: t("subs.start"), input: start }),
      note: field({ label: t("subs.note"), input: note }),
    };
    const formStatus = h("div");
    const go = h("button", { type: "submit", class: "btn btn-primary", id: "subs-sell" }, t("subs.sellGo"));
    const idem = newRequestKey();
    const form = h("form", { class: "task-form subs-form", id: "subs-sell-form", novalidate: true },
      fields.planId.row, fields.startsOn.row,
      h("div", { class: "check-row" }, pay, h("label", { for: pay.id }, t("subs.payFromBalance"))),
      fields.note.row, formStatus, h("div", { class: "form-actions-inline" }, go));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(formStatus);
      for (const f of Object.values(fields)) f.error.hidden = true;
      go.disabled = true;
      try {
        const r = (await request("POST", base, {
          body: { planId: plan.value, startsOn: start.value, payFromBalance: pay.checked, note: note.value.trim() },
          headers: { "Idempotency-Key": `${idem}-${plan.value}-${start.value}-${pay.checked}` },
        })).data;
        const s = r.subscription || {};
        toast(r.wallet ? t("subs.soldPaid", { plan: s.planName, amount: money(s.price, s.currency || currency) }) : t("subs.sold", { plan: s.planName }));
        close();
        await changed();
      } catch (e) {
        go.disabled = false;
        showErrors(e, fields, formStatus, { payFromBalance: "subs.notEnough" });
      }
    });
    return form;
  }

  function item(s) {
    const open = h("button", { type: "button", class: "link subs-open", dataset: { id: s.id } }, s.planName);
    open.addEventListener("click", () => detail(s.id));
    return h("li", { class: "subs-item", dataset: { state: s.state || "", id: s.id } },
      open, " ",
      h("span", { class: `badge subs-state subs-${(s.state || "").toLowerCase()}` }, t(`subs.state.${s.state || "ACTIVE"}`)),
      h("p", { class: "muted small" }, [visitsText(s), until(s)].join(" · ")));
  }

  async function detail(id) {
    sellBtn.setAttribute("aria-expanded", "false");
    let s;
    try {
      s = (await get(`${base}/${seg(id)}`)).data;
    } catch (e) {
      replace(panel, banner("error", t("subs.loadFailed", { message: e.message })));
      return;
    }
    const facts = h("dl", { class: "facts", id: "subs-detail" },
      h("dt", {}, t("subs.plan")), h("dd", {}, s.planName),
      h("dt", {}, t("subs.stateLabel")), h("dd", { id: "subs-detail-state" }, t(`subs.state.${s.state}`)),
      h("dt", {}, t("subs.visitsLabel")), h("dd", { id: "subs-detail-visits" }, visitsText(s)),
      h("dt", {}, t("subs.dates")), h("dd", {}, `${day(s.startsOn)} – ${s.endsOn ? day(s.endsOn) : t("subs.noExpiry")}`),
      h("dt", {}, t("subs.price")), h("dd", {}, `${money(s.price, s.currency)}${s.paidFromBalance ? ` · ${t("subs.paidFromBalance")}` : ""}`),
      h("dt", {}, t("subs.soldBy")), h("dd", {}, [when(s.createdAt), s.createdBy].filter(Boolean).join(" · ")),
      s.cancelledAt ? [h("dt", {}, t("subs.cancelledLabel")), h("dd", {}, [when(s.cancelledAt), s.cancelledBy, s.cancelReason,
        Number(s.refunded) ? t("subs.refunded", { amount: money(s.refunded, s.currency) }) : ""].filter(Boolean).join(" · "))] : null);
    const changes = h("ul", { class: "subs-changes", id: "subs-changes" },
      (s.changes || []).map((c) => h("li", { class: "muted small" },
        t("subs.change", { field: t(`subs.field.${c.field}`), from: c.oldValue || "—", to: c.newValue || "—" }),
        " · ", [when(c.changedAt), c.changedBy].filter(Boolean).join(" · "))));
    const closeBtn = h("button", { type: "button", class: "btn btn-small", id: "subs-close" }, t("subs.close"));
    closeBtn.addEventListener("click", close);
    const parts = [h("h3", {}, s.planName), facts];
    if (s.state !== "CANCELLED") parts.push(editForm(s), cancelForm(s));
    if ((s.changes || []).length) parts.push(h("h4", {}, t("subs.changes")), changes);
    parts.push(h("div", { class: "form-actions-inline" }, closeBtn));
    replace(panel, ...parts);
  }

  function editForm(s) {
    const ends = h("input", { type: "date", id: "subs-ends" });
    ends.value = s.endsOn || "";
    const visits = h("input", { type: "text", inputmode: "numeric", id: "subs-visits", autocomplete: "off", disabled: Boolean(s.unlimited) });
    visits.value = String(s.visitsLeft || 0);
    const note = h("input", { type: "text", id: "subs-edit-note", maxlength: 500 });
    note.value = s.note || "";
    const fields = {
      "subscription.endsOn": field({ label: t("subs.ends"), input: ends, hint: t("subs.endsHint") }),
      "subscription.visitsLeft": field({ label: t("subs.visitsLabel"), input: visits }),
      "subscription.note": field({ label: t("subs.note"), input: note }),
    };
    const formStatus = h("div");
    const save = h("button", { type: "submit", class: "btn btn-primary", id: "subs-save" }, t("subs.save"));
    const form = h("form", { class: "task-form subs-form", id: "subs-edit", novalidate: true },
      ...Object.values(fields).map((f) => f.row), formStatus, h("div", { class: "form-actions-inline" }, save));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(formStatus);
      for (const f of Object.values(fields)) f.error.hidden = true;
      const body = { endsOn: ends.value, note: note.value.trim() };
      if (!s.unlimited && !/^\d{1,4}$/.test(visits.value.trim())) {
        fields["subscription.visitsLeft"].error.textContent = t("subs.badNumber");
        fields["subscription.visitsLeft"].error.hidden = false;
        return;
      }
      if (!s.unlimited) body.visitsLeft = Number(visits.value.trim());
      save.disabled = true;
      try {
        await request("PATCH", `${base}/${seg(s.id)}`, { body });
        toast(t("subs.saved"));
        await changed();
        await detail(s.id);
      } catch (e) {
        save.disabled = false;
        showErrors(e, fields, formStatus, {});
      }
    });
    return form;
  }

  function cancelForm(s) {
    const reason = h("input", { type: "text", id: "subs-cancel-reason", maxlength: 500 });
    const refund = h("input", { type: "text", inputmode: "decimal", id: "subs-refund", autocomplete: "off" });
    const fields = {
      reason: field({ label: t("subs.cancelReason"), input: reason }),
      refund: field({ label: t("subs.refund", { currency: s.currency }), input: refund, hint: t("subs.refundHint", { amount: money(s.price, s.currency) }) }),
    };
    const formStatus = h("div");
    const go = h("button", { type: "submit", class: "btn btn-danger", id: "subs-cancel" }, t("subs.cancel"));
    const form = h("form", { class: "task-form subs-form", id: "subs-cancel-form", novalidate: true },
      h("h4", {}, t("subs.cancel")), fields.reason.row, fields.refund.row, formStatus,
      h("div", { class: "form-actions-inline" }, go));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(formStatus);
      for (const f of Object.values(fields)) f.error.hidden = true;
      const minor = refund.value.trim() ? parseMoney(refund.value, s.currency) : 0;
      if (minor === null || minor > Number(s.price)) {
        fields.refund.error.textContent = t("subs.badRefund", { amount: money(s.price, s.currency) });
        fields.refund.error.hidden = false;
        return;
      }
      const yes = await confirmDialog({
        title: t("subs.cancelTitle", { plan: s.planName }),
        message: minor ? t("subs.cancelRefund", { amount: money(minor, s.currency) }) : t("subs.cancelNoRefund"),
        confirmLabel: t("subs.cancel"),
        cancelLabel: t("subs.keep"),
      });
      if (!yes) return;
      go.disabled = true;
      try {
        await request("POST", `${base}/${seg(s.id)}:cancel`, { body: { reason: reason.value.trim(), refund: String(minor) } });
        toast(t("subs.cancelled", { plan: s.planName }));
        await changed();
        await detail(s.id);
      } catch (e) {
        go.disabled = false;
        showErrors(e, fields, formStatus, {});
      }
    });
    return form;
  }

  async function load() {
    let data;
    try {
      data = (await get(base)).data;
    } catch (e) {
      replace(status, banner("error", t("subs.loadFailed", { message: e.message })));
      return;
    }
    replace(status);
    const subs = data.subscriptions || [];
    replace(list, ...(subs.length ? subs.map(item) : [h("li", { class: "muted" }, t("subs.none"))]));
  }
  return { section, load };
}

/** Puts an API error's field violations under their fields, the rest in status. */
function showErrors(e, fields, status, conflicts) {
  let shown = false;
  if (e instanceof ApiError) {
    for (const v of e.details || []) {
      const f = fields[v.field];
      if (!f) continue;
      f.error.textContent = v.description;
      f.error.hidden = false;
      shown = true;
    }
    for (const [name, key] of Object.entries(conflicts)) {
      if (e.status === 409 && (e.details || []).some((v) => v.field === name)) {
        replace(status, banner("error", t(key)));
        return;
      }
    }
  }
  if (!shown) replace(status, banner("error", e.message));
}

/** The settings page's plans: the list with retire/restore, and a form to add one. */
export async function plansSettings() {
  const listBody = h("ul", { class: "subs-list", id: "plans-list" });
  const message = h("div");
  const section = h("section", { class: "card settings-form", id: "plans-settings", "aria-labelledby": "plans-title" },
    h("h2", { id: "plans-title" }, t("plans.title")),
    h("p", { class: "muted" }, t("plans.lead")), message, listBody);

  const load = async () => {
    let plans = [];
    try {
      plans = (await get("/v1/plans", { includeRetired: true })).data.plans || [];
    } catch (e) {
      replace(message, banner("error", t("subs.loadFailed", { message: e.message })));
      return;
    }
    replace(listBody, ...(plans.length ? plans.map(planItem) : [h("li", { class: "muted" }, t("subs.noPlans"))]));
  };

  function planItem(p) {
    const toggle = h("button", { type: "button", class: "btn btn-small plan-toggle" }, t(p.active ? "plans.retire" : "plans.restore"));
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        await request("PATCH", `/v1/plans/${seg(p.id)}`, { body: { active: !p.active } });
        await load();
      } catch (e) {
        toggle.disabled = false;
        replace(message, banner("error", e.message));
      }
    });
    return h("li", { class: "subs-item plan-item", dataset: { id: p.id, active: String(Boolean(p.active)) } },
      h("strong", {}, p.name), " ", p.active ? null : h("span", { class: "badge" }, t("plans.retired")),
      h("p", { class: "muted small" }, `${t(`plans.kind.${p.kind}`)} · ${planTerms(p)}`), toggle);
  }

  const { data: ws } = await get("/v1/walletSettings");
  const currency = ws.currency || "EUR";
  const name = h("input", { type: "text", id: "plan-name", maxlength: 100 });
  const kind = select([["SUBSCRIPTION", t("plans.kind.SUBSCRIPTION")], ["PACKAGE", t("plans.kind.PACKAGE")]], "PACKAGE", { id: "plan-kind" });
  const unit = select([["", t("subs.noExpiry")], ["DAY", t("plans.unit.DAY")], ["MONTH", t("plans.unit.MONTH")]], "", { id: "plan-unit" });
  const countIn = h("input", { type: "text", inputmode: "numeric", id: "plan-count", autocomplete: "off" });
  const visits = h("input", { type: "text", inputmode: "numeric", id: "plan-visits", autocomplete: "off" });
  const price = h("input", { type: "text", inputmode: "decimal", id: "plan-price", autocomplete: "off" });
  const fields = {
    "plan.name": field({ label: t("plans.name"), input: name, required: true }),
    "plan.kind": field({ label: t("plans.kind"), input: kind }),
    "plan.periodUnit": field({ label: t("plans.unit"), input: unit }),
    "plan.periodCount": field({ label: t("plans.count"), input: countIn }),
    "plan.visits": field({ label: t("plans.visits"), input: visits, hint: t("plans.visitsHint") }),
    "plan.price": field({ label: t("plans.price", { currency }), input: price }),
  };
  const formStatus = h("div");
  const add = h("button", { type: "submit", class: "btn btn-primary", id: "plan-add" }, t("plans.add"));
  const form = h("form", { class: "task-form", id: "plan-form", novalidate: true },
    h("h3", {}, t("plans.new")), h("div", { class: "grid" }, ...Object.values(fields).map((f) => f.row)),
    formStatus, h("div", { class: "form-actions-inline" }, add));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(formStatus);
    for (const f of Object.values(fields)) f.error.hidden = true;
    let bad = false;
    for (const [input, key] of [[countIn, "plan.periodCount"], [visits, "plan.visits"]]) {
      if (input.value.trim() && !/^\d{1,4}$/.test(input.value.trim())) {
        fields[key].error.textContent = t("subs.badNumber");
        fields[key].error.hidden = false;
        bad = true;
      }
    }
    if (bad) return;
    const minor = price.value.trim() === "0" ? 0 : parseMoney(price.value, currency);
    if (minor === null) {
      fields["plan.price"].error.textContent = t("wallet.badAmount");
      fields["plan.price"].error.hidden = false;
      return;
    }
    add.disabled = true;
    try {
      await request("POST", "/v1/plans", {
        body: { name: name.value.trim(), kind: kind.value, ...(unit.value ? { periodUnit: unit.value } : {}), periodCount: Number(countIn.value) || 0, visits: Number(visits.value) || 0, price: String(minor) },
      });
      toast(t("plans.added", { name: name.value.trim() }));
      form.reset();
      await load();
    } catch (e) {
      showErrors(e, fields, formStatus, {});
    } finally {
      add.disabled = false;
    }
  });
  section.append(form);
  await load();
  return section;
}
