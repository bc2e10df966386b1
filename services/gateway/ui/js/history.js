// The customer's story on the card: the summary strip (GET
// /v1/customers/{id}/summary) and the timeline (GET .../timeline: newest
// first, paged, filtered by kind) in readable lines such as "Booked Haircut
// with Eva for Thu 27 Nov, 10:00" or "Order o-9 paid: PLN 129.00". Times are
// shown in the reader's locale and time zone; money with Intl.NumberFormat.

import { get, isAbort, seg } from "./api.js";
import { banner, h, replace } from "./dom.js";
import { changeValue, count, dateOf, due, fieldName, money, slot, when } from "./format.js";
import { inSentence, t, tn } from "./i18n.js";
import { vatStatusText } from "./vatcheck.js";
import { walletAmount, walletSource } from "./wallet.js";
import { discountChange } from "./prices.js";

// ---------------------------------------------------------------------- summary

/** The summary section; {section, load}. */
export function summarySection(customerId) {
  const body = h("div", { class: "summary-body" }, h("p", { class: "muted" }, t("common.loading")));
  const section = h("section", { class: "card summary-card", "aria-labelledby": "summary-title", id: "summary" },
    h("h2", { id: "summary-title" }, t("card.atGlance")), body);

  async function load() {
    let s;
    try {
      s = (await get(`/v1/customers/${seg(customerId)}/summary`)).data || {};
    } catch (e) {
      replace(body, banner("error", t("card.summaryFailed", { message: e.message }),
        h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      return;
    }
    replace(body, summaryView(s));
  }
  return { section, load };
}

function tile(key, label, value, extra) {
  return h("div", { class: "stat", dataset: { stat: key } },
    h("dt", {}, label),
    h("dd", {}, h("span", { class: "stat-value" }, value === "" || value === null || value === undefined ? "—" : value),
      extra ? h("span", { class: "stat-extra muted small" }, extra) : null));
}

function summaryView(s) {
  const n = (x) => Number(x || 0);
  const spent = (s.totalSpent || []).filter((m) => m && m.currency);
  const upcoming = s.upcoming || [];
  const top = (s.topServices || []).filter((x) => x && x.service);
  const bookingsExtra = [n(s.attended) ? t("card.attended", { n: count(s.attended) }) : "",
    n(s.cancellations) ? t("card.cancelled", { n: count(s.cancellations) }) : ""]
    .filter(Boolean).join(", ");
  const strip = h("dl", { class: "summary-strip", id: "summary-strip" },
    tile("registered", t("card.registered"), dateOf(s.registeredAt)),
    tile("firstBooking", t("card.firstBooking"), dateOf(s.firstBookingAt)),
    tile("firstOrder", t("card.firstOrder"), dateOf(s.firstOrderAt)),
    tile("lastVisit", t("card.lastVisit"), dateOf(s.lastVisitAt)),
    tile("bookings", t("enum.kind.BOOKING"), count(s.bookings), bookingsExtra),
    tile("noShows", t("card.noShows"), count(s.noShows)),
    tile("orders", t("enum.kind.ORDER"), count(s.orders)),
    tile("spent", t("card.totalSpent"), spent.length
      ? h("span", { class: "money-list" }, spent.map((m, i) => [i ? h("br") : null, h("span", { class: "money" }, money(m.amountMinor, m.currency))]))
      : ""));
  const lists = h("div", { class: "summary-lists" },
    h("div", { class: "summary-list", id: "summary-upcoming" },
      h("h3", {}, t("card.upcoming")),
      upcoming.length
        ? h("ul", {}, upcoming.map((b) => h("li", {},
          h("time", { datetime: b.startsAt }, slot(b.startsAt)), " · ", b.service || t("card.appointment"),
          b.staff ? [" ", t("card.withStaff", { staff: b.staff })] : "")))
        : h("p", { class: "muted" }, t("card.noneBooked"))),
    h("div", { class: "summary-list", id: "summary-top" },
      h("h3", {}, t("card.topServices")),
      top.length
        ? h("ol", {}, top.map((x) => h("li", {}, x.service, h("span", { class: "muted" }, ` × ${count(x.count)}`))))
        : h("p", { class: "muted" }, t("card.noBookings"))));
  return [strip, lists];
}

// ---------------------------------------------------------------------- timeline

export const KINDS = [
  ["CUSTOMER", "enum.kind.CUSTOMER"],
  ["BOOKING", "enum.kind.BOOKING"],
  ["ORDER", "enum.kind.ORDER"],
  ["NOTE", "enum.kind.NOTE"],
  ["TASK", "enum.kind.TASK"],
  ["MESSAGE", "enum.kind.MESSAGE"],
  ["CONSENT", "enum.kind.CONSENT"],
  ["IMPORT", "enum.kind.IMPORT"],
  ["WALLET", "enum.kind.WALLET"],
  ["SUBSCRIPTION", "enum.kind.SUBSCRIPTION"],
  ["FILE", "enum.kind.FILE"],
  ["FORM", "frm.kind"],
  ["VISIT_PARAMETERS", "vis.kind"],
];

// Where an entry came from; notes' own entries say nothing.
const SOURCES = {
  ui: "enum.channel.ui",
  api: "enum.channel.api",
  import: "enum.channel.import",
  booking: "enum.channel.booking",
  store: "enum.channel.store",
  notes: "",
  // A message's own line says it was sent or answered: the sending service's name tells staff nothing.
  notify: "",
  company: "enum.channel.company",
  // An automation rule's line names the rule.
  rule: "",
};

const CHANNELS = { email: "enum.msgChannel.email", sms: "enum.msgChannel.sms", push: "enum.msgChannel.push" };

const MESSAGE_VERBS = {
  "message.queued": "tl.msg.queued",
  "message.sent": "tl.msg.sent",
  "message.delivered": "tl.msg.delivered",
  "message.failed": "tl.msg.failed",
  "message.replied": "tl.msg.replied",
};

const PAGE_SIZE = 20;

/** "Haircut with Eva", or what there is of it. */
function what(b) {
  const service = b.service || t("tl.anAppointment");
  return b.staff ? t("tl.serviceWith", { service, staff: b.staff }) : service;
}

function changeLine(ch) {
  const before = changeValue(ch.field, ch.oldValue);
  const after = changeValue(ch.field, ch.newValue);
  // "E-mail" -> "e-mail" inside the sentence, but "SMS consent" and "VAT number" stay.
  const field = inSentence(fieldName(ch.field));
  if (before === "—") return t("tl.set", { field, after });
  if (after === "—") return t("tl.removed", { field, before });
  return t("tl.changed", { field, before, after });
}

/** key, or keyAt with the time when there is one. */
function at(key, subject, startsAt) {
  return startsAt ? t(`${key}At`, { what: subject, when: slot(startsAt) }) : t(key, { what: subject });
}

/** An order's line: key, or keyTotal with the amount when there is one. */
function orderLine(key, id, amount) {
  return amount ? t(`${key}Total`, { id, total: amount }) : t(key, { id });
}

/** The names in a change's JSON list value ("[\"a\",\"b\"]"), lower-cased for comparing. */
function names(json) {
  try {
    const v = JSON.parse(json || "[]");
    return Array.isArray(v) ? v.map(String) : [];
  } catch (e) {
    return [];
  }
}

/** What an automation rule (actor "rule: <name>") did to the tags and groups,
 * one line each ("Tag VIP added by rule “Big spender”"); null for another actor. */
function ruleLines(actor, changes) {
  if (!(actor || "").startsWith("rule: ")) return null;
  const rule = actor.slice(6);
  const lines = [];
  for (const ch of changes) {
    if (ch.field !== "tags" && ch.field !== "groups") continue;
    const before = names(ch.oldValue);
    const after = names(ch.newValue);
    const had = new Set(before.map((x) => x.toLowerCase()));
    const has = new Set(after.map((x) => x.toLowerCase()));
    for (const x of after.filter((y) => !had.has(y.toLowerCase()))) {
      lines.push(ch.field === "tags" ? t("tl.ruleTagAdded", { tag: x, rule }) : t("tl.ruleGroupAdded", { group: x, rule }));
    }
    if (ch.field === "tags") {
      for (const x of before.filter((y) => !has.has(y.toLowerCase()))) lines.push(t("tl.ruleTagRemoved", { tag: x, rule }));
    }
  }
  return lines.length ? lines : null;
}

/** The main line of a timeline entry, and extra lines under it. */
export function describe(e) {
  const b = e.booking || {};
  const o = e.order || {};
  const m = e.message || {};
  const total = o.total && o.total.currency ? money(o.total.amountMinor, o.total.currency) : "";
  const changes = (e.changes || []).filter(Boolean);
  const extra = [];
  let line;
  switch (e.type) {
    case "booking.created":
      line = at("tl.booked", what(b), b.startsAt);
      break;
    case "booking.moved":
      line = at("tl.moved", what(b), b.startsAt);
      break;
    case "booking.cancelled":
      line = at("tl.cancelled", what(b), b.startsAt);
      break;
    case "booking.attended":
      line = at("tl.attended", what(b), b.startsAt);
      break;
    case "booking.no_show":
      line = at("tl.noShow", what(b), b.startsAt);
      break;
    case "order.placed":
      line = orderLine("tl.orderPlaced", o.id || "", total);
      break;
    case "order.paid":
      line = orderLine("tl.orderPaid", o.id || "", total);
      break;
    case "order.refunded": {
      const r = o.refund && o.refund.currency ? money(o.refund.amountMinor, o.refund.currency) : total;
      line = orderLine("tl.orderRefunded", o.id || "", r);
      break;
    }
    case "order.cancelled":
      line = t("tl.orderCancelled", { id: o.id || "" });
      break;
    case "order.instruction": {
      // The Orders bot's instruction for the order (docs/rules.md, "Orders bot").
      const ins = e.orderInstruction || {};
      line = t(`ob.tl.${ins.kind || "HOLD"}`, { id: ins.orderId || "", value: ins.value || "" });
      if (ins.ruleName) extra.push(t("ob.tl.byRule", { rule: ins.ruleName }));
      break;
    }
    case "customer.signed_up":
      line = t("tl.signedUp");
      break;
    case "customer.created":
      line = t("tl.created");
      break;
    case "customer.registered":
      line = t("tl.registered");
      break;
    case "customer.deleted":
      line = t("tl.deleted");
      break;
    case "customer.merged": {
      // The duplicate record folded into this one; its name is erased with the customer.
      const merged = e.merged || {};
      line = t("tl.merged", { name: merged.name || merged.id || "" });
      break;
    }
    case "customer.vat_checked": {
      const v = e.vatCheck || {};
      line = t("timeline.vatChecked", { vat: v.vatNumber || "", status: vatStatusText(v) });
      if (v.consultationNumber) extra.push(t("timeline.consultation", { number: v.consultationNumber }));
      break;
    }
    case "wallet.entry": {
      const w = e.wallet || {};
      const amount = walletAmount(w.kind, w.amount, w.currency);
      const key = w.kind === "POINTS" ? (Number(w.amount) < 0 ? "tl.pointsSpent" : "tl.pointsEarned")
        : (Number(w.amount) < 0 ? "tl.moneyTakenOff" : "tl.moneyAdded");
      const from = walletSource(w);
      line = t(from ? `${key}From` : key, { amount, from });
      if (w.reason) extra.push(w.reason);
      break;
    }
    case "subscription.sold":
    case "subscription.updated":
    case "subscription.cancelled":
    case "subscription.visit_undone": {
      const sub = e.subscription || {};
      const key = { "subscription.sold": "tl.subs.sold", "subscription.updated": "tl.subs.updated",
        "subscription.cancelled": "tl.subs.cancelled", "subscription.visit_undone": "tl.subs.undone" }[e.type];
      line = t(key, { plan: sub.planName || "" });
      break;
    }
    case "subscription.visit_used": {
      const sub = e.subscription || {};
      line = sub.unlimited ? t("tl.subs.usedUnlimited", { plan: sub.planName || "" })
        : tn("tl.subs.used", Number(sub.visitsLeft || 0), { plan: sub.planName || "" });
      break;
    }
    case "customer.discount_added":
    case "customer.discount_changed":
    case "customer.discount_removed":
      line = discountChange(e.type, changes[0] || {});
      break;
    case "customer.updated": {
      const byRule = ruleLines(e.actor, changes);
      if (byRule) {
        [line] = byRule;
        extra.push(...byRule.slice(1));
      } else if (changes.length === 1) line = changeLine(changes[0]);
      else line = tn("tl.changedFields", changes.length);
      break;
    }
    case "note.created": {
      const n = e.note || {};
      const text = n.body || "";
      const shown = text.length > 160 ? `${text.slice(0, 160)}…` : text;
      line = n.authorName ? t("tl.noteBy", { author: n.authorName, text: shown }) : t("tl.note", { text: shown });
      break;
    }
    case "task.created": {
      const task = e.task || {};
      line = t("tl.taskAdded", { title: task.title || "" }) + (task.dueAt ? t("tl.taskDue", { due: due(task.dueAt) }) : "")
        + (task.assigneeName ? t("tl.taskFor", { who: task.assigneeName }) : "");
      break;
    }
    case "task.done":
      line = t("tl.taskDone", { title: (e.task || {}).title || "" });
      break;
    case "file.added":
    case "file.deleted": {
      // A deleted customer's file names are erased: the entry still says what happened.
      const name = (e.file || {}).filename || t("fil.aFile");
      line = t(e.type === "file.added" ? "tl.fileAdded" : "tl.fileDeleted", { name });
      break;
    }
    case "terms.signed":
      line = t("tl.termsSigned", { version: (e.file || {}).termsVersion || "?" });
      break;
    case "card.updated": {
      // The questions are the business's own words, shown as written.
      const qs = (e.form || {}).questions || [];
      line = qs.length ? t("frm.tlCardUpdated", { questions: qs.join(", ") }) : t("frm.tlCardSaved");
      break;
    }
    case "visit.parameters_changed": {
      // The parameters are the staff's own words; values as the timeline keeps them.
      const v = e.visit || {};
      line = t("vis.tlChanged", { service: v.service || v.bookingId || "" });
      for (const ch of v.changes || []) {
        const name = ch.field === "remark" ? t("vis.tlRemark") : ch.field;
        const val = (x) => {
          try {
            return x ? JSON.parse(x) : "—";
          } catch {
            return x;
          }
        };
        extra.push(`${name}: ${val(ch.oldValue)} → ${val(ch.newValue)}`);
      }
      break;
    }
    case "purchase.returned":
    case "purchase.cancelled": {
      const pu = e.purchase || {};
      const amt = pu.amount && pu.amount.currency ? money(pu.amount.amountMinor, pu.amount.currency) : "";
      line = e.type === "purchase.returned" ? t("pur.tlReturned", { id: o.id || "", amount: amt }) : t("pur.tlCancelled", { id: o.id || "" });
      if (pu.reason) extra.push(pu.reason);
      if (pu.refundToBalance) extra.push(t("pur.tlBalance"));
      break;
    }
    case "purchase.credit_retried":
    case "purchase.credit_settled": {
      const pu = e.purchase || {};
      const amt = pu.amount && pu.amount.currency ? money(pu.amount.amountMinor, pu.amount.currency) : "";
      line = t(e.type === "purchase.credit_retried" ? "pur.tlCreditRetried" : "pur.tlCreditSettled", { id: o.id || "", amount: amt });
      break;
    }
    case "survey.filled":
      line = t((e.form || {}).byCustomer ? "frm.tlSurveyByCustomer" : "frm.tlSurveyFilled", { title: (e.form || {}).title || "" });
      break;
    default:
      if (/^message\./.test(e.type || "")) {
        const verb = MESSAGE_VERBS[e.type] ? t(MESSAGE_VERBS[e.type]) : e.type.slice(8);
        const channel = CHANNELS[m.channel] ? t(CHANNELS[m.channel]) : m.channel || t("tl.messageFallback");
        line = m.subject ? t("tl.messageSubject", { channel, subject: m.subject, verb }) : t("tl.message", { channel, verb });
        // Why notify could not deliver one of its own messages.
        if (e.type === "message.failed" && m.reason) extra.push(m.reason);
        // What the customer answered (its start).
        if (e.type === "message.replied" && m.reply) extra.push(m.reply);
      } else if (changes.length === 1) {
        line = changeLine(changes[0]);
      } else {
        line = e.type || t("tl.something");
      }
  }
  if (changes.length > 1 || (changes.length === 1 && e.type === "customer.created")) {
    for (const ch of changes) extra.push(changeLine(ch));
  }
  for (const it of o.items || []) {
    if (!it) continue;
    const amount = o.total && o.total.currency && it.amountMinor !== undefined ? ` (${money(it.amountMinor, o.total.currency)})` : "";
    extra.push(`${it.name || it.sku || t("tl.item")} × ${count(it.quantity || 1)}${amount}`);
  }
  if (b.endsAt && b.startsAt && e.kind === "BOOKING" && !/cancelled|no_show/.test(e.type || "")) {
    // The appointment's length, as staff plan with it.
    const minutes = Math.round((new Date(b.endsAt) - new Date(b.startsAt)) / 60000);
    if (minutes > 0) extra.push(t("tl.minutes", { n: count(minutes) }));
  }
  return { line, extra };
}

function entryView(e) {
  const { line, extra } = describe(e);
  const source = e.source in SOURCES ? (SOURCES[e.source] ? t(SOURCES[e.source]) : "") : e.source;
  const meta = [
    h("time", { datetime: e.occurredAt }, when(e.occurredAt)),
    e.actor ? ` · ${e.actor}` : "",
    source ? ` · ${source}` : "",
  ];
  return h("li", { class: "tl-entry", dataset: { kind: e.kind || "", type: e.type || "" } },
    h("p", { class: "tl-line" }, line),
    extra.length ? h("ul", { class: "tl-extra small" }, extra.map((x) => h("li", {}, x))) : null,
    h("p", { class: "tl-meta muted small" }, meta));
}

/** The timeline section; {section, load}: load() starts again from the newest. */
export function timelineSection(customerId) {
  const chosen = new Set();
  const chips = h("div", { class: "tl-filters", role: "group", "aria-label": t("tl.showOnly") });
  const allBtn = h("button", { type: "button", class: "filter-chip", dataset: { kind: "" }, "aria-pressed": "true" }, t("tl.everything"));
  const kindBtns = KINDS.map(([k, key]) => h("button", { type: "button", class: "filter-chip", dataset: { kind: k }, "aria-pressed": "false" }, t(key)));
  chips.append(allBtn, ...kindBtns);
  const list = h("ol", { class: "timeline", id: "timeline", "aria-live": "off" });
  const status = h("p", { class: "muted small", id: "timeline-status", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "btn", id: "timeline-more", hidden: true }, t("common.loadMore"));
  const problem = h("div");
  const section = h("section", { class: "card timeline-card", "aria-labelledby": "timeline-title", id: "timeline-section" },
    h("h2", { id: "timeline-title" }, t("tl.title")),
    h("p", { class: "muted" }, t("tl.lead")),
    chips, problem, list, status, more);

  const pressed = () => {
    allBtn.setAttribute("aria-pressed", chosen.size ? "false" : "true");
    for (const b of kindBtns) b.setAttribute("aria-pressed", chosen.has(b.dataset.kind) ? "true" : "false");
  };
  allBtn.addEventListener("click", () => {
    chosen.clear();
    pressed();
    load();
  });
  for (const b of kindBtns) {
    b.addEventListener("click", () => {
      if (chosen.has(b.dataset.kind)) chosen.delete(b.dataset.kind);
      else chosen.add(b.dataset.kind);
      pressed();
      load();
    });
  }

  let token = "";
  let seq = 0;
  let inflight = null;
  async function page(first) {
    seq += 1;
    const mine = seq;
    if (inflight) inflight.abort();
    const abort = new AbortController();
    inflight = abort;
    more.disabled = true;
    list.setAttribute("aria-busy", "true");
    let data;
    try {
      data = (await get(`/v1/customers/${seg(customerId)}/timeline`,
        { pageSize: PAGE_SIZE, pageToken: first ? "" : token, kind: [...chosen] }, { signal: abort.signal })).data || {};
    } catch (e) {
      if (isAbort(e) || mine !== seq) return;
      list.removeAttribute("aria-busy");
      more.disabled = false;
      replace(problem, banner("error", t("tl.failed", { message: e.message }),
        h("button", { type: "button", class: "btn", onclick: () => page(first) }, t("common.tryAgain"))));
      return;
    }
    if (mine !== seq) return;
    inflight = null;
    replace(problem);
    list.removeAttribute("aria-busy");
    const entries = data.entries || [];
    if (first) replace(list);
    const before = list.children.length;
    for (const e of entries) list.append(entryView(e));
    token = data.nextPageToken || "";
    more.hidden = !token;
    more.disabled = false;
    const shown = list.querySelectorAll(".tl-entry").length;
    status.textContent = shown ? t(token ? "tl.shownMore" : "tl.shown", { n: count(shown) })
      : t(chosen.size ? "tl.noneOfKinds" : "tl.nothing");
    // "Load more" keeps the reader's place: focus the first new entry.
    if (!first && entries.length && list.children[before]) {
      list.children[before].setAttribute("tabindex", "-1");
      list.children[before].focus();
    }
  }
  /** Starts again from the newest entry (the filter chips, a new note or task). */
  function load() {
    return page(true);
  }
  more.addEventListener("click", () => page(false));
  return { section, load };
}
