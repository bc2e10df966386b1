// Replies: what customers (or anyone) sent back by e-mail or SMS through the
// inbound webhooks. Those that joined no conversation (unassigned) by
// default, every reply on request; each with its sender, subject, text and
// attachments, and a link to the customer's card when it joined one. The
// API: GET /v1/replies (docs/notify.md, "Replies"). Every string from the
// message catalogue (i18n.js).

import { get, seg } from "../api.js";
import { banner, chip, h, replace, setTitle } from "../dom.js";
import { when } from "../format.js";
import { t } from "../i18n.js";

const PAGE_SIZE = 50;

function replyItem(r) {
  const from = r.fromName ? `${r.fromName} <${r.from}>` : r.from;
  return h("li", { class: "card reply", dataset: { id: r.id } },
    h("div", { class: "message-head" },
      chip(r.channel === "SMS" ? t("msg.sms") : t("msg.email")),
      r.customerId ? null : chip(t("rep.unassigned"), { kind: "info" }),
      r.stop ? chip(t("rep.stop"), { kind: "danger" }) : null,
      h("span", { class: "muted" }, when(r.receivedAt))),
    h("p", { class: "muted conv-from" }, t("conv.from", { from })),
    r.subject ? h("p", { class: "conv-subject-line" }, r.subject) : null,
    h("p", { class: "conv-text-body" }, r.text || t("conv.empty")),
    (r.attachments || []).length ? h("p", { class: "muted conv-attachments" }, t("conv.attachments", { names: r.attachments.join(", ") })) : null,
    r.customerId ? h("p", {}, h("a", { href: `#/customers/${seg(r.customerId)}` }, t("rep.card"))) : null);
}

export async function renderReplies(view, ctx) {
  setTitle(t("rep.title"));
  const status = h("div", { id: "replies-status" });
  const list = h("ol", { class: "replies", id: "replies" });
  const more = h("button", { type: "button", class: "btn", id: "replies-more", hidden: true }, t("rep.more"));
  const all = h("input", { type: "checkbox", id: "replies-all" });
  let token = "";

  // Ticking "all" again makes the answers to earlier requests stale: only
  // the latest request's answer is shown.
  let seq = 0;
  async function load(append) {
    seq += 1;
    const mine = seq;
    try {
      const { data } = await get("/v1/replies", { unassigned: all.checked ? undefined : "true", pageSize: PAGE_SIZE, pageToken: append ? token : undefined });
      if (!ctx.live() || mine !== seq) return;
      const items = (data.replies || []).map(replyItem);
      if (append) list.append(...items);
      else replace(list, items.length ? items : h("li", { class: "muted" }, t(all.checked ? "rep.noneAll" : "rep.none")));
      token = data.nextPageToken || "";
      more.hidden = !token;
      replace(status);
    } catch (e) {
      if (mine !== seq) return;
      replace(status, banner("error", t("rep.loadFailed", { message: e.message })));
    }
  }
  all.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));

  replace(view,
    h("div", { class: "view-head" }, h("h1", {}, t("rep.title"))),
    h("p", { class: "muted" }, t("rep.lead")),
    h("label", { class: "check-row inline", for: "replies-all" }, all, " ", t("rep.all")),
    status, list, more);
  await load(false);
}
