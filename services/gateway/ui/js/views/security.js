// Security events (#/security, administrators): sign-ins, failed sign-ins,
// lock-outs, sign-outs, invitations, role changes, members disabled or
// enabled, API keys made or revoked, passwords reset; newest first, a page at a time
// (GET /v1/securityEvents?pageSize&pageToken), each kind in words.

import { get } from "../api.js";
import { banner, h, replace, setTitle } from "../dom.js";
import { when } from "../format.js";
import { t } from "../i18n.js";

const PAGE_SIZE = 50;
export const KINDS = ["SIGN_IN", "SIGN_IN_FAILED", "LOCKED_OUT", "SIGN_OUT", "SIGN_OUT_EVERYWHERE", "INVITED",
  "INVITE_ACCEPTED", "ROLE_CHANGED", "STAFF_DISABLED", "STAFF_ENABLED", "KEY_CREATED", "KEY_REVOKED",
  "OWNER_CREATED", "PASSWORD_SET", "PASSWORD_RESET_REQUESTED", "PASSWORD_RESET"];

/** A kind in words (an unknown one as it is). */
const kindName = (kind) => (KINDS.includes(kind) ? t(`sec.kind.${kind}`) : kind || "");

export async function renderSecurity(view, ctx) {
  setTitle(t("sec.title"));
  const message = h("div", { id: "security-message" });
  const list = h("tbody");
  const more = h("button", { type: "button", class: "btn", id: "security-more", hidden: true }, t("common.loadMore"));

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, t("sec.title")))),
    h("p", { class: "muted" }, t("sec.lead")),
    message,
    h("div", { class: "table-wrap" }, h("table", { class: "table stack-table", id: "security-table" },
      h("caption", { class: "sr-only" }, t("sec.title")),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("sec.time")), h("th", { scope: "col" }, t("sec.what")),
        h("th", { scope: "col" }, t("sec.who")), h("th", { scope: "col" }, t("sec.address")))),
      list)),
    h("p", {}, more));

  function row(e) {
    const kind = e.kind || "";
    const bad = ["SIGN_IN_FAILED", "LOCKED_OUT"].includes(kind);
    const actor = e.actor && (e.actor.name || e.actor.id);
    return h("tr", { dataset: { id: e.id || "", kind } },
      h("td", { "data-label": t("sec.time") }, h("time", { datetime: e.time || "" }, when(e.time))),
      h("td", { "data-label": t("sec.what") }, h("span", { class: `sec-kind${bad ? " sec-bad" : ""}` }, kindName(kind)),
        e.subject ? [h("br"), h("span", { class: "small" }, e.subject)] : null,
        e.detail ? [h("br"), h("span", { class: "muted small sec-detail" }, e.detail)] : null),
      h("td", { "data-label": t("sec.who") }, actor || h("span", { class: "muted" }, t("sec.nobody"))),
      h("td", { "data-label": t("sec.address"), class: "mono small" }, e.address || ""));
  }

  let token = "";
  async function load(next) {
    more.disabled = true;
    let data;
    try {
      data = (await get("/v1/securityEvents", { pageSize: PAGE_SIZE, pageToken: next ? token : "" })).data || {};
    } catch (e) {
      more.disabled = false;
      replace(message, banner("error", e.message, h("button", { type: "button", class: "btn", onclick: () => load(next) }, t("common.tryAgain"))));
      return;
    }
    if (!ctx.live()) return;
    replace(message);
    const events = data.events || [];
    if (!next) replace(list);
    list.append(...events.map(row));
    if (!list.children.length) list.append(h("tr", {}, h("td", { colspan: "4", class: "empty" }, t("sec.none"))));
    token = data.nextPageToken || "";
    more.hidden = !token;
    more.disabled = false;
  }
  more.addEventListener("click", () => load(true));
  await load(false);
}
