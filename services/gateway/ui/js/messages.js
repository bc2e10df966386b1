// The messages on the customer card: send a set-password link or an
// activation (e-mail, or SMS when the customer has a phone number), and every
// message sent to the customer, newest first, a page at a time ("Load more"),
// with its fate (queued, sent, failed and why; scheduled, with Cancel, looked
// at again when it goes). With make run's trial mailbox (GET /v1/trialMailbox)
// the section says so, and each message it received can be opened as it
// arrived there. Every string from the message catalogue (i18n.js).

import { ApiError, get, newRequestKey, request, seg } from "./api.js";
import { banner, chip, h, replace, toast } from "./dom.js";
import { sentText, when } from "./format.js";
import { t } from "./i18n.js";

const STATUS_KIND = { QUEUED: "info", SENT: "ok", FAILED: "danger", REPLIED: "ok", SCHEDULED: "info", CANCELLED: "warn" };
/** Reloads while a message is still queued, at most this many times. */
const POLLS = 30;
const POLL_MS = 2000;
const PAGE_SIZE = 20;
/** A scheduled message due within this long is looked at again when it goes. */
const SCHEDULED_WATCH_MS = 60 * 60 * 1000;

function errorText(e) {
  const d = e instanceof ApiError && e.details[0];
  return d && d.description ? d.description : e.message;
}

/**
 * One message as a list item; entry: what the trial mailbox received, if
 * anything; onCancel(m): a scheduled message's Cancel button was pressed.
 */
function messageItem(m, entry, onCancel) {
  const what = m.channel === "SMS" ? sentText(m.text) : m.subject;
  const kind = t(`msg.kind.${m.kind}`) === `msg.kind.${m.kind}` ? m.kind : t(`msg.kind.${m.kind}`);
  const item = h("li", { class: "message", dataset: { id: m.id, status: m.status } },
    h("div", { class: "message-head" },
      chip(m.channel === "SMS" ? t("msg.sms") : t("msg.email")),
      chip(t(`msg.status.${m.status}`), { kind: STATUS_KIND[m.status] }),
      h("span", { class: "muted" }, when(m.sentAt || m.failedAt || m.createdAt))),
    m.status === "SCHEDULED" ? h("p", { class: "message-send-at" }, t("msg.scheduledFor", { when: when(m.sendAt) })) : null,
    h("p", { class: "message-what" }, kind, ": ", what),
    h("p", { class: "muted message-to" }, t("msg.to", { to: m.to })));
  if (m.status === "SCHEDULED") {
    const b = h("button", { type: "button", class: "btn btn-small message-cancel" }, t("msg.cancel"));
    b.addEventListener("click", () => { b.disabled = true; onCancel(m).finally(() => { b.disabled = false; }); });
    item.append(b);
  }
  if (m.status === "CANCELLED" && m.lastError) {
    item.append(h("p", { class: "muted message-error" }, m.lastError));
  }
  if (m.status === "FAILED" || (m.status === "QUEUED" && m.lastError)) {
    item.append(h("p", { class: "message-error" },
      t(m.status === "FAILED" ? "msg.failedBecause" : "msg.retrying", { reason: m.lastError, attempts: m.attempts })));
  }
  if (entry) {
    const raw = h("pre", { class: "message-raw" }, entry.raw);
    item.append(h("details", { class: "message-trial" },
      h("summary", {}, t("msg.trialReceived", { when: when(entry.receivedAt) })), raw));
  }
  return item;
}

/**
 * The messages section of customer c. Returns {section, load}; call load() once.
 * onChange() after a send (the timeline shows messages too).
 */
export function messagesSection(c, { onChange } = {}) {
  const list = h("ol", { class: "messages", id: "messages", "aria-label": t("msg.title") });
  const status = h("div", { class: "messages-status", id: "messages-status" });
  const trialNote = h("div", { id: "trial-note" });
  // The set-password link and the activation e-mail go to the customer's
  // e-mail address: without one they are not offered, and the card says why.
  const buttons = [];
  if (c.email) {
    buttons.push(["send-password-link", "msg.sendPasswordLink", `/v1/customers/${seg(c.id)}:sendPasswordLink`, {}],
      ["send-activation", "msg.sendActivation", `/v1/customers/${seg(c.id)}:sendActivation`, { channel: "EMAIL" }]);
  }
  if (c.phone) {
    buttons.push(["send-activation-sms", "msg.sendActivationSms", `/v1/customers/${seg(c.id)}:sendActivation`, { channel: "SMS" }]);
  }
  const actions = h("div", { class: "messages-actions" });
  let polls = 0;
  let timer = 0;

  for (const [id, key, path, body] of buttons) {
    const b = h("button", { type: "button", class: "btn btn-small", id }, t(key));
    b.addEventListener("click", async () => {
      b.disabled = true;
      replace(status);
      try {
        await request("POST", path, { body, headers: { "Idempotency-Key": newRequestKey() } });
        toast(t("msg.queued"));
        polls = 0;
        await load();
        onChange && onChange();
      } catch (e) {
        replace(status, banner("error", t("msg.notSent", { message: errorText(e) })));
      } finally {
        b.disabled = false;
      }
    });
    actions.append(b);
  }

  const needsEmail = c.email ? null : h("p", { class: "muted", id: "needs-email" }, t("msg.needsEmail"));
  const more = h("button", { type: "button", class: "btn btn-small messages-more", id: "messages-more", hidden: true }, t("common.loadMore"));
  more.addEventListener("click", () => load(true));
  const section = h("section", { class: "card messages-card", "aria-labelledby": "messages-title", id: "messages-section" },
    h("h2", { id: "messages-title" }, t("msg.title")), trialNote, needsEmail, actions, status, list, more);

  async function cancel(m) {
    replace(status);
    try {
      await request("POST", `/v1/messages/${seg(m.id)}:cancel`, { body: {} });
      toast(t("msg.cancelled"));
    } catch (e) {
      replace(status, banner("error", t("msg.notCancelled", { message: errorText(e) })));
    }
    await load();
  }

  // Every page up to the one last shown, so a reload keeps what was open.
  let pages = 1;
  async function readPages() {
    const messages = [];
    let token = "";
    for (let i = 0; i < pages; i++) {
      const { data } = await get(`/v1/customers/${seg(c.id)}/messages`, { pageSize: PAGE_SIZE, pageToken: token });
      messages.push(...(data.messages || []));
      token = data.nextPageToken || "";
      if (!token) break;
    }
    return { messages, more: Boolean(token) };
  }

  async function load(extra = false) {
    clearTimeout(timer);
    if (extra) pages += 1;
    more.disabled = true;
    let messages = [];
    let hasMore = false;
    let trial = null;
    try {
      const [m, box] = await Promise.all([readPages(), get("/v1/trialMailbox", { pageSize: 100 })]);
      ({ messages, more: hasMore } = m);
      trial = box.data;
    } catch (e) {
      replace(status, banner("error", t("msg.loadFailed", { message: errorText(e) })));
      more.disabled = false;
      return;
    }
    more.hidden = !hasMore;
    more.disabled = false;
    const received = new Map();
    if (trial && trial.trial) {
      for (const e of trial.entries || []) received.set(e.message.id, e);
      replace(trialNote, h("p", { class: "trial-note", id: "trial-mailbox" }, chip(t("msg.trial"), { kind: "info" }), " ", t("msg.trialExplained")));
    } else {
      replace(trialNote);
    }
    if (!messages.length) {
      replace(list, h("li", { class: "muted" }, t("msg.none")));
    } else {
      replace(list, messages.map((m) => messageItem(m, received.get(m.id), cancel)));
    }
    // Queued ones are on their way: look again in a moment.
    if (messages.some((m) => m.status === "QUEUED") && polls++ < POLLS) {
      clearTimeout(timer); // another load() may have set one while this one waited
      timer = setTimeout(() => section.isConnected && load(), POLL_MS);
      return;
    }
    // A scheduled one due soon: look again when it goes.
    const due = messages.filter((m) => m.status === "SCHEDULED").map((m) => Date.parse(m.sendAt) - Date.now());
    const next = Math.min(...due);
    if (next < SCHEDULED_WATCH_MS) {
      polls = 0;
      clearTimeout(timer);
      timer = setTimeout(() => section.isConnected && load(), Math.max(next, 0) + POLL_MS);
    }
  }
  return { section, load };
}
