// The customer's story on the card: the summary strip (GET
// /v1/customers/{id}/summary) and the timeline (GET .../timeline: newest
// first, paged, filtered by kind) in readable lines such as "Booked Haircut
// with Eva for Thu 27 Nov, 10:00" or "Order o-9 paid: PLN 129.00". Times are
// shown in the reader's locale and time zone; money with Intl.NumberFormat.

import { get, isAbort, seg } from "./api.js";
import { banner, h, replace } from "./dom.js";
import { changeValue, count, dateOf, due, fieldName, money, slot, when } from "./format.js";
import { t } from "./i18n.js";
import { vatStatusText } from "./vatcheck.js";

// ---------------------------------------------------------------------- summary

/** The summary section; {section, load}. */
export function summarySection(customerId) {
  const body = h("div", { class: "summary-body" }, h("p", { class: "muted" }, "Loading…"));
  const section = h("section", { class: "card summary-card", "aria-labelledby": "summary-title", id: "summary" },
    h("h2", { id: "summary-title" }, "At a glance"), body);

  async function load() {
    let s;
    try {
      s = (await get(`/v1/customers/${seg(customerId)}/summary`)).data || {};
    } catch (e) {
      replace(body, banner("error", `The summary could not be loaded: ${e.message}`,
        h("button", { type: "button", class: "btn", onclick: () => load() }, "Try again")));
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
  const bookingsExtra = [n(s.attended) ? `${count(s.attended)} attended` : "", n(s.cancellations) ? `${count(s.cancellations)} cancelled` : ""]
    .filter(Boolean).join(", ");
  const strip = h("dl", { class: "summary-strip", id: "summary-strip" },
    tile("registered", "Registered", dateOf(s.registeredAt)),
    tile("firstBooking", "First booking", dateOf(s.firstBookingAt)),
    tile("firstOrder", "First order", dateOf(s.firstOrderAt)),
    tile("lastVisit", "Last visit", dateOf(s.lastVisitAt)),
    tile("bookings", "Bookings", count(s.bookings), bookingsExtra),
    tile("noShows", "No-shows", count(s.noShows)),
    tile("orders", "Orders", count(s.orders)),
    tile("spent", "Total spent", spent.length
      ? h("span", { class: "money-list" }, spent.map((m, i) => [i ? h("br") : null, h("span", { class: "money" }, money(m.amountMinor, m.currency))]))
      : ""));
  const lists = h("div", { class: "summary-lists" },
    h("div", { class: "summary-list", id: "summary-upcoming" },
      h("h3", {}, "Upcoming appointments"),
      upcoming.length
        ? h("ul", {}, upcoming.map((b) => h("li", {},
          h("time", { datetime: b.startsAt }, slot(b.startsAt)), " · ", b.service || "Appointment",
          b.staff ? ` with ${b.staff}` : "")))
        : h("p", { class: "muted" }, "None booked.")),
    h("div", { class: "summary-list", id: "summary-top" },
      h("h3", {}, "Most booked services"),
      top.length
        ? h("ol", {}, top.map((x) => h("li", {}, x.service, h("span", { class: "muted" }, ` × ${count(x.count)}`))))
        : h("p", { class: "muted" }, "No bookings yet.")));
  return [strip, lists];
}

// ---------------------------------------------------------------------- timeline

export const KINDS = [
  ["CUSTOMER", "Changes"],
  ["BOOKING", "Bookings"],
  ["ORDER", "Orders"],
  ["NOTE", "Notes"],
  ["TASK", "Tasks"],
  ["MESSAGE", "Messages"],
  ["CONSENT", "Consents"],
  ["IMPORT", "Imports"],
];

const SOURCES = {
  ui: "Web UI",
  api: "API",
  import: "Import",
  booking: "Booking system",
  store: "Web store",
  notes: "",
  company: "Company service",
};

const CHANNELS = { email: "E-mail", sms: "SMS", push: "Push notification" };

const PAGE_SIZE = 20;

/** "Haircut with Eva", or what there is of it. */
function what(b) {
  const service = b.service || "an appointment";
  return b.staff ? `${service} with ${b.staff}` : service;
}

function sentence(field) {
  const name = fieldName(field);
  // "E-mail" -> "e-mail", but "SMS consent" and "VAT number" stay.
  return /^[A-Z][a-z-]/.test(name) ? name[0].toLowerCase() + name.slice(1) : name;
}

function changeLine(ch) {
  const before = changeValue(ch.field, ch.oldValue);
  const after = changeValue(ch.field, ch.newValue);
  if (before === "—") return `Set ${sentence(ch.field)} to ${after}`;
  if (after === "—") return `Removed ${sentence(ch.field)} (was ${before})`;
  return `Changed ${sentence(ch.field)} from ${before} to ${after}`;
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
      line = `Booked ${what(b)}${b.startsAt ? ` for ${slot(b.startsAt)}` : ""}`;
      break;
    case "booking.moved":
      line = `Moved ${what(b)}${b.startsAt ? ` to ${slot(b.startsAt)}` : ""}`;
      break;
    case "booking.cancelled":
      line = `Cancelled ${what(b)}${b.startsAt ? ` for ${slot(b.startsAt)}` : ""}`;
      break;
    case "booking.attended":
      line = `Came to ${what(b)}${b.startsAt ? ` on ${slot(b.startsAt)}` : ""}`;
      break;
    case "booking.no_show":
      line = `Did not come to ${what(b)}${b.startsAt ? ` on ${slot(b.startsAt)}` : ""}`;
      break;
    case "order.placed":
      line = `Order ${o.id || ""} placed${total ? `: ${total}` : ""}`;
      break;
    case "order.paid":
      line = `Order ${o.id || ""} paid${total ? `: ${total}` : ""}`;
      break;
    case "order.refunded": {
      const r = o.refund && o.refund.currency ? money(o.refund.amountMinor, o.refund.currency) : total;
      line = `Order ${o.id || ""} refunded${r ? `: ${r}` : ""}`;
      break;
    }
    case "order.cancelled":
      line = `Order ${o.id || ""} cancelled`;
      break;
    case "customer.signed_up":
      line = "Signed up for an account";
      break;
    case "customer.created":
      line = "Added to the customer book";
      break;
    case "customer.registered":
      line = "Registered automatically";
      break;
    case "customer.deleted":
      line = "Deleted";
      break;
    case "customer.vat_checked": {
      const v = e.vatCheck || {};
      line = t("timeline.vatChecked", { vat: v.vatNumber || "", status: vatStatusText(v) });
      if (v.consultationNumber) extra.push(t("timeline.consultation", { number: v.consultationNumber }));
      break;
    }
    case "customer.updated":
      if (changes.length === 1) line = changeLine(changes[0]);
      else line = `Changed ${changes.length} fields`;
      break;
    case "note.created": {
      const n = e.note || {};
      const text = n.body || "";
      line = `Note${n.authorName ? ` by ${n.authorName}` : ""}: ${text.length > 160 ? `${text.slice(0, 160)}…` : text}`;
      break;
    }
    case "task.created": {
      const t = e.task || {};
      line = `Task “${t.title || ""}” added${t.dueAt ? `, due ${due(t.dueAt)}` : ""}${t.assigneeName ? ` for ${t.assigneeName}` : ""}`;
      break;
    }
    case "task.done":
      line = `Task “${(e.task || {}).title || ""}” done`;
      break;
    default:
      if (/^message\./.test(e.type || "")) {
        const verb = { "message.queued": "queued", "message.sent": "sent", "message.delivered": "delivered", "message.failed": "could not be delivered", "message.replied": "answered by the customer" }[e.type] || e.type.slice(8);
        line = `${CHANNELS[m.channel] || m.channel || "Message"}${m.subject ? ` “${m.subject}”` : ""} ${verb}`;
        // Why notify could not deliver one of its own messages.
        if (e.type === "message.failed" && m.reason) extra.push(m.reason);
        // What the customer answered (its start).
        if (e.type === "message.replied" && m.reply) extra.push(m.reply);
      } else if (changes.length === 1) {
        line = changeLine(changes[0]);
      } else {
        line = e.type || "Something happened";
      }
  }
  if (changes.length > 1 || (changes.length === 1 && e.type === "customer.created")) {
    for (const ch of changes) extra.push(changeLine(ch));
  }
  for (const it of o.items || []) {
    if (!it) continue;
    const amount = o.total && o.total.currency && it.amountMinor !== undefined ? ` (${money(it.amountMinor, o.total.currency)})` : "";
    extra.push(`${it.name || it.sku || "Item"} × ${count(it.quantity || 1)}${amount}`);
  }
  if (b.endsAt && b.startsAt && e.kind === "BOOKING" && !/cancelled|no_show/.test(e.type || "")) {
    // The appointment's length, as staff plan with it.
    const minutes = Math.round((new Date(b.endsAt) - new Date(b.startsAt)) / 60000);
    if (minutes > 0) extra.push(`${minutes} min`);
  }
  return { line, extra };
}

function entryView(e) {
  const { line, extra } = describe(e);
  const source = e.source in SOURCES ? SOURCES[e.source] : e.source;
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
  const chips = h("div", { class: "tl-filters", role: "group", "aria-label": "Show only" });
  const allBtn = h("button", { type: "button", class: "filter-chip", dataset: { kind: "" }, "aria-pressed": "true" }, "Everything");
  const kindBtns = KINDS.map(([k, text]) => h("button", { type: "button", class: "filter-chip", dataset: { kind: k }, "aria-pressed": "false" }, text));
  chips.append(allBtn, ...kindBtns);
  const list = h("ol", { class: "timeline", id: "timeline", "aria-live": "off" });
  const status = h("p", { class: "muted small", id: "timeline-status", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "btn", id: "timeline-more", hidden: true }, "Load more");
  const problem = h("div");
  const section = h("section", { class: "card timeline-card", "aria-labelledby": "timeline-title", id: "timeline-section" },
    h("h2", { id: "timeline-title" }, "Timeline"),
    h("p", { class: "muted" }, "Everything that happened, newest first: bookings, orders, messages, notes, tasks and changes."),
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
      replace(problem, banner("error", `The timeline could not be loaded: ${e.message}`,
        h("button", { type: "button", class: "btn", onclick: () => page(first) }, "Try again")));
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
    status.textContent = shown ? `${count(shown)} shown${token ? "; there is more" : ""}.`
      : chosen.size ? "Nothing of these kinds yet." : "Nothing has happened yet.";
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
