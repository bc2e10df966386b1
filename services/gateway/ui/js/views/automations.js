// Settings › Automations: rules that act on customers when something happens
// (docs/rules.md). The rules with their switch, last error and counts, all of
// them or the Orders bot's alone (rules with order actions); a form to create
// or change one (trigger, conditions and actions picked from the business's
// tags, groups and message templates; the order conditions and actions only
// for an order trigger); a dry run ("who would it act on now", with what the
// order actions would do) and the rule's history. Every string from i18n.js.

import { ApiError, get, request, seg } from "../api.js";
import { banner, confirmDialog, field, h, newId, replace, select, setTitle, toast } from "../dom.js";
import { showErrors } from "../forms.js";
import { when } from "../format.js";
import { loadGroups } from "../session.js";
import { t } from "../i18n.js";

const TRIGGERS = ["CUSTOMER_CREATED", "ORDER_PLACED", "ORDER_PAID", "BOOKING_MADE", "VISIT_COMPLETED",
  "NO_SHOW", "TAG_ADDED"];
// The Orders bot's: about (acting on) the order that started the rule, so
// offered only for an order trigger.
const ORDER_TRIGGERS = ["ORDER_PLACED", "ORDER_PAID"];
const ORDER_CONDITIONS = ["ORDER_TOTAL_AT_LEAST", "FIRST_ORDER"];
const ORDER_ACTIONS = ["ORDER_HOLD", "ORDER_PRIORITY", "ORDER_NOTE", "ORDER_NOTIFY_STAFF"];
const CONDITIONS = ["MIN_ORDERS", "MIN_VISITS", "MIN_SPENT", "LAST_VISIT_DAYS", "HAS_TAG", "NOT_TAG",
  "IN_GROUP", "SOURCE", "HAS_COMPANY", ...ORDER_CONDITIONS];
const ACTIONS = ["ADD_TAG", "REMOVE_TAG", "ADD_TO_GROUP", "SEND_EMAIL", ...ORDER_ACTIONS];
const STAFF_ROLES = ["OWNER", "ADMIN", "STAFF", "READONLY"];
const SOURCES = ["MANUAL", "IMPORT", "BOOKING", "STORE", "API", "SIGNUP"];
const MAX_CONDITIONS = 10;
const MAX_ACTIONS = 5;

const strip = (value, prefix) => String(value || "").replace(prefix, "");

/** The business's tags, groups and templates, for the pickers. */
async function choices() {
  const [tags, groups, templates] = await Promise.all([
    get("/v1/tags").then((r) => (r.data.tags || []).map((x) => x.name)).catch(() => []),
    loadGroups().then((g) => g.map((x) => x.name)).catch(() => []),
    get("/v1/templates").then((r) => r.data.templates || []).catch(() => []),
  ]);
  return { tags, groups, templates };
}

/** One line that says what a rule does, for its card. */
function summary(r) {
  const trig = strip(r.trigger, "RULE_TRIGGER_");
  const when_ = t(`auto.trigger.${trig}`) + (r.triggerTag ? ` (${r.triggerTag})` : "");
  const conds = (r.conditions || []).map(conditionText);
  const acts = (r.actions || []).map(actionText);
  return [when_, conds.length ? t("auto.if", { what: conds.join(t("auto.and")) }) : "",
    t("auto.then", { what: acts.join(", ") })].filter(Boolean).join(" · ");
}

const MONEY_CONDITIONS = ["MIN_SPENT", "ORDER_TOTAL_AT_LEAST"];

function conditionText(c) {
  const kind = strip(c.kind, "RULE_CONDITION_");
  const value = kind === "SOURCE" ? t(`enum.source.${strip(c.source, "SOURCE_")}`)
    : MONEY_CONDITIONS.includes(kind) ? `${(Number(c.number || 0) / 100).toFixed(2)} ${c.currency || ""}`
      : c.value || String(c.number || 0);
  return t(`auto.cond.${kind}`, { value });
}

function actionText(a) {
  const kind = strip(a.kind, "RULE_ACTION_");
  const value = kind === "SEND_EMAIL" ? a.subject || ""
    : kind === "ORDER_NOTE" ? a.text || ""
      : kind === "ORDER_NOTIFY_STAFF" ? a.staffEmail || t(`ob.role.${strip(a.staffRole, "ROLE_")}`)
        : a.value || "";
  return t(`auto.act.${kind}`, { value });
}

/** Whether the rule acts on orders: an Orders-bot rule. */
function ordersBot(r) {
  return (r.actions || []).some((a) => ORDER_ACTIONS.includes(strip(a.kind, "RULE_ACTION_")));
}

/** Offers the order kinds of a kind chooser only for an order trigger. */
function offerOrderKinds(kindSelect, orderKinds, onOrder) {
  for (const o of kindSelect.options) {
    if (orderKinds.includes(o.value)) {
      o.hidden = !onOrder;
      o.disabled = !onOrder;
    }
  }
}

// ---------------------------------------------------------------------- the form

/** A datalist of names (tags) an input may pick from. */
function datalist(names) {
  const id = newId("names");
  return { id, el: h("datalist", { id }, names.map((n) => h("option", { value: n }))) };
}

/** A row of the form: the kind chooser, what that kind needs (pick(kind)
 * gives the controls), a remove button; row.read() gives the API's object. */
function kindRow(kind, value, pick, onRemove, read) {
  const show = () => replace(value, pick(kind.value));
  kind.addEventListener("change", show);
  show();
  const remove = h("button", { type: "button", class: "btn btn-small btn-quiet", onclick: onRemove }, t("auto.remove"));
  const row = h("li", { class: "auto-row" }, kind, value, remove);
  row.read = () => read(kind.value);
  return row;
}

/** One condition's row: kind, and the value that kind needs. */
function conditionRow(c, lists, onRemove) {
  const kind = select(CONDITIONS.map((k) => [k, t(`auto.condKind.${k}`)]), strip(c.kind, "RULE_CONDITION_") || "MIN_ORDERS",
    { class: "auto-cond-kind", "aria-label": t("auto.conditionKind") });
  const number = h("input", { type: "number", min: "0", step: "1", class: "auto-number short", "aria-label": t("auto.number") });
  const amount = h("input", { type: "number", min: "0", step: "0.01", class: "auto-amount short", "aria-label": t("auto.amount") });
  const currency = h("input", { type: "text", maxlength: 3, class: "auto-currency upper short", "aria-label": t("auto.currency") });
  const tag = h("input", { type: "text", maxlength: 100, class: "auto-tag", list: lists.tags.id, "aria-label": t("auto.tag") });
  const group = select(lists.groups.map((g) => [g, g]), "", { class: "auto-group", "aria-label": t("auto.group") });
  const source = select(SOURCES.map((s) => [s, t(`enum.source.${s}`)]), "MANUAL", { class: "auto-source", "aria-label": t("auto.source") });
  const k = strip(c.kind, "RULE_CONDITION_");
  if (MONEY_CONDITIONS.includes(k)) amount.value = (Number(c.number || 0) / 100).toFixed(2);
  else number.value = c.number || "";
  currency.value = c.currency || "EUR";
  tag.value = c.value || "";
  if (c.value) group.value = c.value;
  if (c.source) source.value = strip(c.source, "SOURCE_");
  const pick = (v) => (MONEY_CONDITIONS.includes(v) ? [amount, currency]
    : v === "HAS_TAG" || v === "NOT_TAG" ? tag
      : v === "IN_GROUP" ? group : v === "SOURCE" ? source
        : v === "FIRST_ORDER" || v === "HAS_COMPANY" ? null : number);
  return kindRow(kind, h("span", { class: "auto-value" }), pick, onRemove, (v) => {
    const out = { kind: `RULE_CONDITION_${v}` };
    if (v === "FIRST_ORDER" || v === "HAS_COMPANY") return out;
    if (MONEY_CONDITIONS.includes(v)) {
      out.number = String(Math.round(Number(amount.value || 0) * 100));
      out.currency = currency.value.trim().toUpperCase();
    } else if (v === "HAS_TAG" || v === "NOT_TAG") out.value = tag.value.trim();
    else if (v === "IN_GROUP") out.value = group.value;
    else if (v === "SOURCE") out.source = `SOURCE_${source.value}`;
    else out.number = String(number.value || 0);
    return out;
  });
}

/** One action's row: kind, and its tag, group or e-mail. */
function actionRow(a, lists, templates, onRemove) {
  const kind = select(ACTIONS.map((k) => [k, t(`auto.actKind.${k}`)]), strip(a.kind, "RULE_ACTION_") || "ADD_TAG",
    { class: "auto-act-kind", "aria-label": t("auto.actionKind") });
  const tag = h("input", { type: "text", maxlength: 100, class: "auto-tag", list: lists.tags.id, "aria-label": t("auto.tag") });
  const group = select(lists.groups.map((g) => [g, g]), "", { class: "auto-group", "aria-label": t("auto.group") });
  tag.value = a.value || "";
  if (a.value) group.value = a.value;
  const from = select([["", t("auto.fromTemplate")], ...templates.map((x, i) => [String(i), `${t(`msg.kind.${x.kind}`)} · ${t(`tpl.lang.${x.language}`)}`])], "",
    { class: "auto-template", "aria-label": t("auto.fromTemplate") });
  const subject = h("input", { type: "text", maxlength: 200, class: "auto-subject", "aria-label": t("auto.subject"), placeholder: t("auto.subject") });
  const text = h("textarea", { rows: 4, class: "auto-text", "aria-label": t("auto.text"), placeholder: t("auto.text") });
  const marketing = h("input", { type: "checkbox", class: "auto-marketing", id: newId("mkt") });
  subject.value = a.subject || "";
  text.value = a.text || "";
  marketing.checked = Boolean(a.marketing);
  from.addEventListener("change", () => {
    const tpl = templates[Number(from.value)];
    if (!tpl) return;
    subject.value = tpl.subject || "";
    text.value = tpl.text || "";
  });
  const mail = h("div", { class: "auto-mail" }, from, subject, text,
    h("label", { class: "check", for: marketing.id }, marketing, t("auto.marketing")),
    h("p", { class: "hint" }, t("auto.mailHint")));
  const order = orderControls(a);
  const pick = (v) => (v === "ADD_TO_GROUP" ? group : v === "SEND_EMAIL" ? mail : order.pick(v) || tag);
  return kindRow(kind, h("div", { class: "auto-value" }), pick, onRemove, (v) => {
    const out = { kind: `RULE_ACTION_${v}` };
    if (v === "ADD_TO_GROUP") out.value = group.value;
    else if (v === "SEND_EMAIL") Object.assign(out, { subject: subject.value.trim(), text: text.value, marketing: marketing.checked });
    else if (ORDER_ACTIONS.includes(v)) Object.assign(out, order.read(v));
    else out.value = tag.value.trim();
    return out;
  });
}

/** The controls of the Orders bot's actions: a hold's reason, a priority's
 * label, an order note, and a staff e-mail (to an address or a role). */
function orderControls(a) {
  const reason = h("input", { type: "text", maxlength: 200, class: "auto-hold", "aria-label": t("ob.reason"), placeholder: t("ob.reason") });
  const label = h("input", { type: "text", maxlength: 50, class: "auto-priority", "aria-label": t("ob.priority"), placeholder: t("ob.priorityHint") });
  const note = h("textarea", { rows: 3, maxlength: 1000, class: "auto-note", "aria-label": t("ob.note"), placeholder: t("ob.note") });
  const to = select([["email", t("ob.toEmail")], ["role", t("ob.toRole")]], a.staffRole ? "role" : "email",
    { class: "auto-staff-to", "aria-label": t("ob.to") });
  const email = h("input", { type: "email", maxlength: 254, class: "auto-staff-email", "aria-label": t("ob.staffEmail"), placeholder: t("ob.staffEmail") });
  const role = select(STAFF_ROLES.map((r) => [r, t(`ob.role.${r}`)]), strip(a.staffRole, "ROLE_") || "OWNER",
    { class: "auto-staff-role", "aria-label": t("ob.staffRole") });
  const subject = h("input", { type: "text", maxlength: 200, class: "auto-staff-subject", "aria-label": t("auto.subject"), placeholder: t("auto.subject") });
  const text = h("textarea", { rows: 3, class: "auto-staff-text", "aria-label": t("auto.text"), placeholder: t("auto.text") });
  const kind = strip(a.kind, "RULE_ACTION_");
  if (kind === "ORDER_HOLD") reason.value = a.value || "";
  if (kind === "ORDER_PRIORITY") label.value = a.value || "";
  note.value = kind === "ORDER_NOTE" ? a.text || "" : "";
  email.value = a.staffEmail || "";
  subject.value = kind === "ORDER_NOTIFY_STAFF" ? a.subject || "" : "";
  text.value = kind === "ORDER_NOTIFY_STAFF" ? a.text || "" : "";
  const showTo = () => { email.hidden = to.value !== "email"; role.hidden = to.value !== "role"; };
  to.addEventListener("change", showTo);
  showTo();
  const staff = h("div", { class: "auto-mail auto-staff" }, h("div", { class: "auto-staff-to-row" }, to, email, role),
    subject, text, h("p", { class: "hint" }, t("ob.staffHint")));
  const noteBox = h("div", { class: "auto-mail" }, note, h("p", { class: "hint" }, t("ob.noteHint")));
  return {
    pick: (v) => ({ ORDER_HOLD: reason, ORDER_PRIORITY: label, ORDER_NOTE: noteBox, ORDER_NOTIFY_STAFF: staff })[v] || null,
    read(v) {
      if (v === "ORDER_HOLD") return { value: reason.value.trim() };
      if (v === "ORDER_PRIORITY") return { value: label.value.trim() };
      if (v === "ORDER_NOTE") return { text: note.value };
      return { subject: subject.value.trim(), text: text.value,
        ...(to.value === "role" ? { staffRole: `ROLE_${role.value}` } : { staffEmail: email.value.trim() }) };
    },
  };
}

/** The create/edit form of rule (null: a new one); onDone(saved) when stored. */
function ruleForm(rule, pick, onDone, onCancel) {
  const r = rule || { enabled: true, trigger: "RULE_TRIGGER_ORDER_PLACED", conditions: [], actions: [{}] };
  const lists = { tags: datalist(pick.tags), groups: pick.groups };
  const name = h("input", { type: "text", id: "auto-name", maxlength: 100, autocomplete: "off" });
  name.value = r.name || "";
  const nameField = field({ label: t("auto.name"), input: name, required: true });
  const trigger = select(TRIGGERS.map((k) => [k, t(`auto.trigger.${k}`)]), strip(r.trigger, "RULE_TRIGGER_"), { id: "auto-trigger" });
  const triggerField = field({ label: t("auto.when"), input: trigger });
  const triggerTag = h("input", { type: "text", id: "auto-trigger-tag", maxlength: 100, list: lists.tags.id });
  triggerTag.value = r.triggerTag || "";
  const tagField = field({ label: t("auto.triggerTag"), input: triggerTag, hint: t("auto.triggerTagHint") });
  const showTag = () => { tagField.row.hidden = trigger.value !== "TAG_ADDED"; };
  trigger.addEventListener("change", showTag);
  showTag();
  // The order conditions and actions only for an order trigger.
  const offerOrder = () => {
    const on = ORDER_TRIGGERS.includes(trigger.value);
    for (const k of form.querySelectorAll(".auto-cond-kind")) offerOrderKinds(k, ORDER_CONDITIONS, on);
    for (const k of form.querySelectorAll(".auto-act-kind")) offerOrderKinds(k, ORDER_ACTIONS, on);
  };
  trigger.addEventListener("change", () => offerOrder());
  const enabled = h("input", { type: "checkbox", id: "auto-enabled", checked: r.enabled !== false });

  const conds = h("ul", { class: "auto-rows", id: "auto-conditions" });
  const acts = h("ul", { class: "auto-rows", id: "auto-actions" });
  const addCond = h("button", { type: "button", class: "btn btn-small", id: "auto-add-condition" }, t("auto.addCondition"));
  const addAct = h("button", { type: "button", class: "btn btn-small", id: "auto-add-action" }, t("auto.addAction"));
  const limits = () => {
    addCond.disabled = conds.children.length >= MAX_CONDITIONS;
    addAct.disabled = acts.children.length >= MAX_ACTIONS;
  };
  const addC = (c) => {
    const row = conditionRow(c, lists, () => { row.remove(); limits(); });
    conds.append(row);
    offerOrderKinds(row.querySelector(".auto-cond-kind"), ORDER_CONDITIONS, ORDER_TRIGGERS.includes(trigger.value));
    limits();
  };
  const addA = (a) => {
    const row = actionRow(a, lists, pick.templates, () => { row.remove(); limits(); });
    acts.append(row);
    offerOrderKinds(row.querySelector(".auto-act-kind"), ORDER_ACTIONS, ORDER_TRIGGERS.includes(trigger.value));
    limits();
  };
  for (const c of r.conditions || []) addC(c);
  for (const a of r.actions || []) addA(a);
  addCond.addEventListener("click", () => addC({}));
  addAct.addEventListener("click", () => addA({}));

  const message = h("div", { id: "auto-form-message" });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "auto-save" }, t("auto.save"));
  const cancel = h("button", { type: "button", class: "btn", onclick: onCancel }, t("common.cancel"));
  const dry = h("button", { type: "button", class: "btn", id: "auto-form-dry" }, t("auto.dryRun"));
  const dryOut = h("div", { id: "auto-form-dry-result", "aria-live": "polite" });
  const form = h("form", { class: "card auto-form", novalidate: true, "aria-labelledby": "auto-form-title" },
    h("h2", { id: "auto-form-title" }, rule ? t("auto.editTitle", { name: rule.name }) : t("auto.new")),
    lists.tags.el, message,
    h("div", { class: "grid" }, nameField.row, triggerField.row, tagField.row),
    h("label", { class: "check", for: enabled.id }, enabled, t("auto.enabled")),
    h("fieldset", { class: "auto-set" }, h("legend", {}, t("auto.conditions")),
      h("p", { class: "hint" }, t("auto.conditionsHint")), conds, addCond),
    h("fieldset", { class: "auto-set" }, h("legend", {}, t("auto.actions")), acts, addAct),
    h("div", { class: "form-actions-inline" }, save, dry, cancel), dryOut);
  offerOrder();
  const fields = { "rule.name": nameField, "rule.trigger": triggerField, "rule.triggerTag": tagField };

  const body = () => ({
    name: name.value.trim(),
    enabled: enabled.checked,
    trigger: `RULE_TRIGGER_${trigger.value}`,
    triggerTag: trigger.value === "TAG_ADDED" ? triggerTag.value.trim() : "",
    conditions: Array.from(conds.children).map((row) => row.read()),
    actions: Array.from(acts.children).map((row) => row.read()),
  });
  dry.addEventListener("click", async () => {
    dry.disabled = true;
    try {
      const { data } = await request("POST", "/v1/rules:dryRun", { body: { rule: body() } });
      replace(dryOut, dryRunView(data));
    } catch (e) {
      if (!(e instanceof ApiError) || !showErrors(e, fields, message)) replace(message, banner("error", e.message));
    } finally {
      dry.disabled = false;
    }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      const { data } = rule
        ? await request("PUT", `/v1/rules/${seg(rule.id)}`, { body: body() })
        : await request("POST", "/v1/rules", { body: body() });
      toast(t("auto.saved", { name: data.name }));
      onDone(data);
    } catch (e) {
      if (!(e instanceof ApiError) || !showErrors(e, fields, message)) replace(message, banner("error", e.message));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------------- dry run, history

function customerLink(id, name) {
  return h("a", { href: `#/customers/${seg(id)}` }, name || id);
}

function dryRunView(d) {
  const matches = d.matches || [];
  return h("div", { class: "auto-dry" },
    h("p", { class: "auto-dry-count" }, matches.length
      ? t(d.complete ? "auto.dryMatches" : "auto.dryMatchesPartial", { n: matches.length, scanned: d.scanned || 0 })
      : t("auto.dryNone", { scanned: d.scanned || 0 })),
    matches.length ? h("ul", { class: "auto-dry-list" }, matches.map((m) => h("li", {}, customerLink(m.customerId, m.name),
      m.orderId ? h("p", { class: "small auto-dry-order" }, t("ob.dryOrder", { id: m.orderId,
        what: (m.orderActions || []).map(outcomeText).join("; ") })) : null))) : null);
}

// What a run's steps came to (RuleOutcome codes), worded in the reader's language.
const OUTCOMES = new Set(["TAG_ADDED", "TAG_ALREADY", "TAG_REMOVED", "TAG_NOT_THERE", "GROUP_ADDED",
  "GROUP_ALREADY", "EMAIL_QUEUED", "EMAIL_NO_CONSENT", "EMAIL_NO_ADDRESS", "EMAIL_REFUSED", "SWITCHED_OFF",
  "NOT_THE_TAG", "CUSTOMER_DELETED", "CONDITIONS_NOT_MET", "FAILED", "ORDER_HOLD", "ORDER_PRIORITY",
  "ORDER_NOTE", "STAFF_NOTIFIED", "STAFF_NONE", "ORDER_GONE"]);

/** One outcome in the reader's language; a staff role is named as the UI names it. */
function outcomeText(o) {
  if (!OUTCOMES.has(o.code)) return o.value || o.code;
  const role = /^ROLE_[A-Z]+$/.test(o.value || "") ? t(`ob.role.${strip(o.value, "ROLE_")}`) : "";
  return t(`auto.outcome.${o.code}`, { value: role || o.value || "" });
}

function runResult(r) {
  const steps = (r.outcomes || []).map(outcomeText);
  const text = steps.length ? steps.join("; ") : r.result;
  return text ? h("p", { class: "small auto-run-result" }, text) : null;
}

function historyView(runs) {
  if (!runs.length) return h("p", { class: "muted" }, t("auto.noRuns"));
  return h("ol", { class: "auto-runs" }, runs.map((r) => h("li", { class: "auto-run", dataset: { status: r.status } },
    h("span", { class: `badge run-${r.status.toLowerCase()}` }, t(`auto.status.${r.status}`)), " ",
    customerLink(r.customerId), h("span", { class: "muted" }, ` · ${r.eventType} · ${when(r.createdAt)}`),
    runResult(r),
    r.status === "PENDING" && r.attempts ? h("p", { class: "small muted" }, t("auto.retrying", { n: r.attempts })) : null)));
}

// ---------------------------------------------------------------------- the screen

function ruleCard(r, actions) {
  const toggle = h("input", { type: "checkbox", class: "auto-toggle", id: `auto-on-${r.id}`, checked: Boolean(r.enabled) });
  toggle.addEventListener("change", () => actions.toggle(r, toggle));
  const detail = h("div", { class: "auto-detail", "aria-live": "polite" });
  const button = (label, cls, fn) => h("button", { type: "button", class: `btn btn-small ${cls}`, onclick: () => fn(r, detail) }, label);
  return h("li", { class: "card auto-rule", dataset: { id: r.id, enabled: String(Boolean(r.enabled)) } },
    h("div", { class: "auto-head" },
      h("h3", { class: "auto-name" }, r.name),
      h("label", { class: "check auto-switch", for: toggle.id }, toggle, t("auto.on"))),
    h("p", { class: "auto-summary" }, summary(r)),
    h("p", { class: "muted small" }, t("auto.counts", { runs: r.runs || 0, failed: r.failedRuns || 0 })),
    r.lastError ? banner("error", t("auto.lastError", { when: when(r.lastErrorAt), message: r.lastError })) : null,
    h("div", { class: "form-actions-inline" },
      button(t("auto.edit"), "auto-edit", actions.edit),
      button(t("auto.dryRun"), "auto-dry-run", actions.dry),
      button(t("auto.history"), "auto-history", actions.history),
      button(t("common.delete"), "btn-danger-quiet auto-delete", actions.remove)),
    detail);
}

export async function renderAutomations(view, ctx) {
  setTitle(t("auto.title"));
  const pick = await choices();
  if (!ctx.live()) return;
  const message = h("div", {});
  const list = h("ul", { class: "auto-list", id: "auto-list" });
  const editor = h("div", { id: "auto-editor" });
  const create = h("button", { type: "button", class: "btn btn-primary", id: "auto-new" }, t("auto.new"));
  // All rules, or the Orders bot's alone.
  let only = "all";
  const tabs = [["all", t("ob.tabAll")], ["orders", t("ob.tabOrders")]].map(([k, label]) =>
    h("button", { type: "button", class: "filter-chip auto-tab", dataset: { tab: k }, "aria-pressed": String(k === only) }, label));
  for (const b of tabs) {
    b.addEventListener("click", async () => {
      only = b.dataset.tab;
      for (const x of tabs) x.setAttribute("aria-pressed", String(x === b));
      await load();
    });
  }

  const close = () => {
    replace(editor);
    create.hidden = false;
  };
  const open = (rule) => {
    create.hidden = true;
    replace(editor, ruleForm(rule, pick, async () => {
      close();
      await load();
    }, close));
    editor.querySelector("#auto-name").focus();
  };
  create.addEventListener("click", () => open(null));

  const actions = {
    edit: (r) => open(r),
    async toggle(r, box) {
      box.disabled = true;
      try {
        const { id, createdAt, updatedAt, lastError, lastErrorAt, runs, failedRuns, ...rest } = r;
        await request("PUT", `/v1/rules/${seg(id)}`, { body: { ...rest, enabled: box.checked } });
        toast(t(box.checked ? "auto.switchedOn" : "auto.switchedOff", { name: r.name }));
      } catch (e) {
        box.checked = !box.checked;
        replace(message, banner("error", e.message));
      }
      await load();
    },
    async dry(r, detail) {
      replace(detail, h("p", { class: "muted" }, t("common.loading")));
      try {
        const { data } = await request("POST", "/v1/rules:dryRun", { body: { id: r.id } });
        replace(detail, dryRunView(data));
      } catch (e) {
        replace(detail, banner("error", e.message));
      }
    },
    async history(r, detail) {
      replace(detail, h("p", { class: "muted" }, t("common.loading")));
      try {
        const { data } = await get(`/v1/rules/${seg(r.id)}/runs`, { pageSize: 50 });
        replace(detail, h("h4", {}, t("auto.history")), historyView(data.runs || []));
      } catch (e) {
        replace(detail, banner("error", e.message));
      }
    },
    async remove(r) {
      const ok = await confirmDialog({ title: t("auto.deleteTitle"), message: t("auto.deleteMessage", { name: r.name }) });
      if (!ok) return;
      try {
        await request("DELETE", `/v1/rules/${seg(r.id)}`);
        toast(t("auto.deleted", { name: r.name }));
      } catch (e) {
        replace(message, banner("error", e.message));
      }
      await load();
    },
  };

  async function load() {
    let rules;
    try {
      rules = (await get("/v1/rules")).data.rules || [];
    } catch (e) {
      replace(list, banner("error", e.message));
      return;
    }
    if (!ctx.live()) return;
    const shown = only === "orders" ? rules.filter(ordersBot) : rules;
    replace(list, shown.length ? shown.map((r) => ruleCard(r, actions))
      : h("li", { class: "muted" }, t(only === "orders" ? "ob.none" : "auto.none")));
  }

  replace(view, h("p", { class: "muted small" }, h("a", { href: "#/settings" }, t("nav.settings")), " › ", t("auto.title")),
    h("h1", { id: "auto-title" }, t("auto.title")),
    h("p", { class: "muted" }, t("auto.lead")), message,
    h("div", { class: "form-actions-inline" }, create),
    h("div", { class: "filter-chips auto-tabs", role: "group", "aria-label": t("ob.tabs") }, tabs), editor, list);
  await load();
}
