// The conversations on the customer card: write a message (e-mail, or SMS
// when the customer has a phone number), and each conversation with what was
// sent (its status) and what the customer answered, oldest first, with a
// composer that answers in the same conversation (POST :sendMessage with its
// conversationId, so the customer's next reply joins it too). The API:
// GET /v1/customers/{id}/conversations (docs/notify.md, "Replies"). Every
// string from the message catalogue (i18n.js).

import { get, newRequestKey, request, seg } from "./api.js";
import { banner, chip, field, h, newId, replace, toast } from "./dom.js";
import { clearErrors, showErrors } from "./forms.js";
import { fromLocalInput, sentText, when, zoneNote } from "./format.js";
import { t } from "./i18n.js";

const STATUS_KIND = { QUEUED: "info", SENT: "ok", FAILED: "danger", REPLIED: "ok", SCHEDULED: "info", CANCELLED: "warn" };

/**
 * A composer: subject (e-mail) and text, sent as :sendMessage of customer c;
 * conversation: the one it continues (null: a new one). Returns the form.
 */
function composer(c, { conversation, onSent }) {
  const smsOnly = conversation && conversation.channel === "SMS";
  const channel = h("select", { class: "conv-channel" },
    h("option", { value: "EMAIL" }, t("msg.email")),
    c.phone ? h("option", { value: "SMS" }, t("msg.sms")) : null);
  if (smsOnly) channel.value = "SMS";
  const subject = h("input", { type: "text", class: "conv-subject", maxlength: 200 });
  if (conversation) subject.value = /^re:/i.test(conversation.subject || "") ? conversation.subject : `Re: ${conversation.subject || ""}`;
  const text = h("textarea", { class: "conv-text", rows: 3, id: newId("conv-text") });
  // "Send later": a date-time on the business's wall clock, sent as UTC (sendAt).
  const later = h("input", { type: "checkbox", class: "conv-later", id: newId("conv-later") });
  const sendAt = h("input", { type: "datetime-local", class: "conv-send-at", id: newId("conv-send-at") });
  const fields = {
    channel: field({ label: t("conv.channel"), input: channel }),
    subject: field({ label: t("conv.subject"), input: subject }),
    text: field({ label: t("conv.text"), input: text, required: true }),
    sendAt: field({ label: t("conv.sendAt"), input: sendAt, hint: zoneNote("zone.input") || undefined }),
  };
  const laterRow = h("label", { class: "conv-later-row", for: later.id }, later, " ", t("conv.later"));
  const summary = h("div", { class: "form-summary" });
  const send = h("button", { type: "submit", class: "btn btn-primary btn-small conv-send" }, t("conv.send"));
  const form = h("form", { class: "conv-form", novalidate: true, "aria-label": conversation ? t("conv.reply") : t("conv.new") },
    summary, conversation ? null : fields.channel.row, fields.subject.row, fields.text.row,
    laterRow, fields.sendAt.row, h("div", { class: "form-actions-inline" }, send));
  const showLater = () => {
    fields.sendAt.row.hidden = !later.checked;
    send.textContent = later.checked ? t("conv.schedule") : t("conv.send");
  };
  later.addEventListener("change", showLater);
  showLater();
  const showSubject = () => { fields.subject.row.hidden = channel.value === "SMS"; };
  channel.addEventListener("change", showSubject);
  showSubject();
  let key = newRequestKey();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, summary);
    send.disabled = true;
    const body = { channel: channel.value, text: text.value };
    if (channel.value !== "SMS") body.subject = subject.value;
    if (conversation) body.conversationId = conversation.id;
    if (later.checked) {
      // The input has no zone: it is the business's wall clock.
      body.sendAt = fromLocalInput(sendAt.value) || sendAt.value;
    }
    try {
      const r = await request("POST", `/v1/customers/${seg(c.id)}:sendMessage`, { body, headers: { "Idempotency-Key": key } });
      key = newRequestKey();
      text.value = "";
      toast(r.data && r.data.status === "SCHEDULED" ? t("msg.scheduled", { when: when(r.data.sendAt) }) : t("msg.queued"));
      later.checked = false;
      showLater();
      onSent && onSent();
    } catch (e) {
      showErrors(e, fields, summary);
    } finally {
      send.disabled = false;
    }
  });
  return form;
}

/** One entry of a conversation: a sent message or a reply. */
function entryItem(e) {
  if (e.message) {
    const m = e.message;
    return h("li", { class: "conv-entry conv-sent", dataset: { id: m.id, status: m.status } },
      h("div", { class: "message-head" },
        chip(t("conv.sent")),
        chip(t(`msg.status.${m.status}`), { kind: STATUS_KIND[m.status] }),
        h("span", { class: "muted" }, when(e.at))),
      m.subject ? h("p", { class: "conv-subject-line" }, m.subject) : null,
      h("p", { class: "conv-text-body" }, sentText(m.text)));
  }
  const r = e.reply || {};
  return h("li", { class: "conv-entry conv-reply", dataset: { id: r.id } },
    h("div", { class: "message-head" },
      chip(t("conv.answer"), { kind: "info" }),
      h("span", { class: "muted" }, when(e.at))),
    h("p", { class: "muted conv-from" }, t("conv.from", { from: r.fromName ? `${r.fromName} <${r.from}>` : r.from })),
    r.subject ? h("p", { class: "conv-subject-line" }, r.subject) : null,
    h("p", { class: "conv-text-body" }, r.text || t("conv.empty")),
    (r.attachments || []).length ? h("p", { class: "muted conv-attachments" }, t("conv.attachments", { names: r.attachments.join(", ") })) : null);
}

/**
 * The conversations section of customer c. Returns {section, load}; call
 * load() once. onChange() after a send (the timeline shows messages too).
 */
export function conversationsSection(c, { onChange } = {}) {
  const list = h("ol", { class: "conversations", id: "conversations", "aria-label": t("conv.title") });
  const status = h("div", { class: "conversations-status", id: "conversations-status" });
  const sent = async () => {
    await load();
    onChange && onChange();
  };
  const newForm = h("details", { class: "conv-new", id: "conv-new" },
    h("summary", {}, t("conv.new")), composer(c, { conversation: null, onSent: sent }));
  const section = h("section", { class: "card conversations-card", "aria-labelledby": "conversations-title", id: "conversations-section" },
    h("h2", { id: "conversations-title" }, t("conv.title")), newForm, status, list);

  function item(cv) {
    const replyBox = h("div", { class: "conv-reply-box", hidden: true });
    const open = h("button", { type: "button", class: "btn btn-small conv-reply-open" }, t("conv.reply"));
    open.addEventListener("click", () => {
      if (!replyBox.firstChild) replyBox.append(composer(c, { conversation: cv, onSent: sent }));
      replyBox.hidden = !replyBox.hidden;
      if (!replyBox.hidden) replyBox.querySelector("textarea").focus();
    });
    return h("li", { class: "conversation", dataset: { id: cv.id } },
      h("div", { class: "message-head" },
        chip(cv.channel === "SMS" ? t("msg.sms") : t("msg.email")),
        h("strong", { class: "conv-title" }, cv.subject || t("conv.noSubject"))),
      h("ol", { class: "conv-entries" }, (cv.entries || []).map(entryItem)),
      h("div", { class: "form-actions-inline" }, open), replyBox);
  }

  async function load() {
    let conversations = [];
    try {
      const r = await get(`/v1/customers/${seg(c.id)}/conversations`, { pageSize: 20 });
      conversations = r.data.conversations || [];
    } catch (e) {
      replace(status, banner("error", t("conv.loadFailed", { message: e.message })));
      return;
    }
    replace(status);
    replace(list, conversations.length ? conversations.map(item) : h("li", { class: "muted" }, t("conv.none")));
  }
  return { section, load };
}
