// "Merge with another record…" on the customer card: staff find the other
// record of the same person, see side by side what each holds and what the
// card will hold after the merge (the server's own answer: POST
// /v1/customers/{id}:merge with validateOnly, so the rules live in one
// place), and confirm. The other record is folded into this one and removed
// (docs/api.md, "Merging two records").

import { ApiError, get, newRequestKey, request, seg } from "./api.js";
import { banner, closeInto, h, replace, toast } from "./dom.js";
import { ACCOUNT_STATUSES, addressLine, day, displayName, label } from "./format.js";
import { t } from "./i18n.js";
import { can } from "./session.js";

const FOUND = 8; // customers listed for a search

/** The rows of the side-by-side preview: [catalogue key, value of a customer as text]. */
const ROWS = [
  ["enum.field.firstName", (c) => c.firstName],
  ["enum.field.lastName", (c) => c.lastName],
  ["enum.field.email", (c) => c.email],
  ["enum.field.phone", (c) => c.phone],
  ["enum.field.birthDate", (c) => day(c.birthDate)],
  ["enum.field.tags", (c) => (c.tags || []).join(", ")],
  ["enum.field.groups", (c) => (c.groups || []).join(", ")],
  ["enum.field.addresses", (c) => (c.addresses || []).map(addressLine).join(" · ")],
  ["enum.field.externalIds", (c) => (c.externalIds || []).map((x) => `${x.system}: ${x.id}`).join(", ")],
  ["enum.field.account", (c) => label(ACCOUNT_STATUSES, (c.account && c.account.status) || "NONE")],
];

/** What a refused merge says to staff, in their language where the reason is known. */
function refusal(e) {
  if (!(e instanceof ApiError)) return e.message;
  const reasons = new Set(e.details.map((d) => `${d.field}:${d.reason}`));
  if (reasons.has("duplicateId:CURRENCY_MISMATCH")) return t("merge.currency");
  if (reasons.has("description:TOO_LONG")) return t("merge.tooLong");
  if (e.status === 412) return t("merge.changed");
  if (e.status === 404) return t("merge.gone");
  return e.message;
}

/**
 * The card's merge button and the panel it opens, for customer c. onMerged
 * runs after a merge (the card shows the customer again). A key or member
 * without customers:write gets no button.
 */
export function mergeSection(c, { onMerged }) {
  const button = h("button", { type: "button", class: "btn", id: "merge-open", "aria-expanded": "false", "aria-controls": "merge-section" }, t("merge.button"));
  const query = h("input", { type: "search", id: "merge-search", maxlength: 200, autocomplete: "off", "aria-label": t("merge.searchLabel"), placeholder: t("merge.searchLabel") });
  const find = h("button", { type: "submit", class: "btn", id: "merge-find" }, t("merge.find"));
  const form = h("form", { class: "merge-search-row", role: "search" }, query, find);
  const status = h("div");
  const results = h("ul", { class: "merge-results", id: "merge-results" });
  const preview = h("div", { id: "merge-preview" });
  const closeBtn = h("button", { type: "button", class: "btn btn-small", id: "merge-close" }, t("merge.close"));
  const section = h("section", { class: "card merge-card", id: "merge-section", "aria-labelledby": "merge-title", hidden: true },
    h("h2", { id: "merge-title" }, t("merge.title")),
    h("p", { class: "muted" }, t("merge.lead")),
    form, status, results, preview,
    h("div", { class: "form-actions-inline" }, closeBtn));
  const url = `/v1/customers/${seg(c.id)}:merge`;

  // Closed, the panel gives the keyboard's focus back to the button that opened it.
  const close = () => closeInto(section, button, () => {
    section.hidden = true;
    button.setAttribute("aria-expanded", "false");
  });
  closeBtn.addEventListener("click", close);
  section.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") close();
  });
  button.addEventListener("click", () => {
    if (!section.hidden) return close();
    section.hidden = false;
    button.setAttribute("aria-expanded", "true");
    section.scrollIntoView({ block: "start" });
    query.focus();
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = query.value.trim();
    replace(preview);
    if (!q) return;
    let found;
    try {
      found = (await get("/v1/customers:search", { q, pageSize: FOUND + 1 })).data.customers || [];
    } catch (e) {
      replace(status, banner("error", e.message));
      return;
    }
    replace(status);
    const others = found.filter((o) => o.id !== c.id).slice(0, FOUND);
    replace(results, others.length
      ? others.map((o) => {
        const pick = h("button", { type: "button", class: "btn-link merge-pick", dataset: { id: o.id } },
          h("strong", {}, displayName(o)), " ", h("span", { class: "muted" }, [o.email, o.phone].filter(Boolean).join(" · ")));
        pick.addEventListener("click", () => showPreview(o.id));
        return h("li", {}, pick);
      })
      : h("li", { class: "muted" }, t("merge.noneFound")));
  });

  async function showPreview(otherId) {
    replace(status);
    let other;
    let after;
    try {
      other = (await get(`/v1/customers/${seg(otherId)}`)).data;
      after = (await request("POST", url, {
        body: { duplicateId: other.id, duplicateEtag: other.etag, validateOnly: true },
        headers: { "If-Match": `"${c.etag}"` },
      })).data.customer;
    } catch (e) {
      replace(preview, banner("error", refusal(e)));
      return;
    }
    replace(results);
    // A field neither record has is left out: the preview stays short on a phone.
    const rows = ROWS.filter(([, value]) => value(c) || value(other) || value(after)).map(([key, value]) => {
      const mine = value(c) || "";
      const theirs = value(other) || "";
      const result = value(after) || "";
      return h("tr", { dataset: { changed: String(result !== mine) } },
        h("th", { scope: "row" }, t(key)),
        h("td", { class: "merge-this", dataset: { label: t("merge.this") } }, mine || "—"),
        h("td", { class: "merge-other", dataset: { label: t("merge.other") } }, theirs || "—"),
        h("td", { class: "merge-after", dataset: { label: t("merge.after") } }, result || "—"));
    });
    const confirm = h("button", { type: "button", class: "btn btn-primary", id: "merge-confirm" }, t("merge.confirm"));
    const cancel = h("button", { type: "button", class: "btn", id: "merge-cancel" }, t("common.cancel"));
    cancel.addEventListener("click", () => replace(preview));
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await request("POST", url, {
          body: { duplicateId: other.id, duplicateEtag: other.etag },
          headers: { "If-Match": `"${c.etag}"`, "Idempotency-Key": newRequestKey() },
        });
      } catch (e) {
        confirm.disabled = false;
        replace(status, banner("error", refusal(e)));
        return;
      }
      toast(t("merge.done", { name: displayName(other) }));
      onMerged();
    });
    replace(preview,
      h("p", {}, t("merge.previewLead", { name: displayName(other) })),
      h("div", { class: "table-wrap" }, h("table", { class: "table stack-table merge-table", id: "merge-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("card.field")),
          h("th", { scope: "col" }, t("merge.this")), h("th", { scope: "col" }, t("merge.other")),
          h("th", { scope: "col" }, t("merge.after")))),
        h("tbody", {}, rows))),
      h("p", { class: "muted" }, t("merge.moves")),
      h("div", { class: "form-actions-inline" }, cancel, confirm));
    confirm.focus();
  }

  return { button: can("customers:write") ? button : null, section };
}
