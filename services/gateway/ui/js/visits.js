// Visits and purchases on the card (docs/visits.md). Visits: the customer's
// bookings, newest first; one opens its parameters (a preset's names to fill,
// rows to add and remove, a remark) saved with If-Match. Purchases: the
// customer's orders with "Return" and "Cancel", each asking for a reason and
// confirming; a return takes the whole order, chosen items or an amount, and
// may go to the customer's balance.
// GET /v1/customers/{id}/visits, /visits/{booking}/parameters (GET, PUT),
// /v1/visitPresets, GET /v1/customers/{id}/purchases, POST
// /purchases/{order}:cancel, :return.

import { ApiError, get, newRequestKey, request, seg } from "./api.js";
import { banner, confirmDialog, field, h, replace, select, toast } from "./dom.js";
import { money, when } from "./format.js";
import { t } from "./i18n.js";
import { parseMoney } from "./wallet.js";

const VISIT_STATUS = {
  BOOKED: "vis.status.BOOKED",
  CANCELLED: "vis.status.CANCELLED",
  ATTENDED: "vis.status.ATTENDED",
  NO_SHOW: "vis.status.NO_SHOW",
};
const PURCHASE_STATUS = {
  PLACED: "pur.status.PLACED",
  PAID: "pur.status.PAID",
  PARTIALLY_REFUNDED: "pur.status.PARTIALLY_REFUNDED",
  REFUNDED: "pur.status.REFUNDED",
  CANCELLED: "pur.status.CANCELLED",
};

const statusText = (table, s) => (table[s] ? t(table[s]) : s || "");

/** A paged list section: title, status line, list, "Older" button. */
function pagedSection({ id, title, path, key, item }) {
  const status = h("div");
  const list = h("ul", { class: "visit-list", id: `${id}-list`, "aria-label": title });
  const more = h("button", { type: "button", class: "btn btn-small", id: `${id}-more`, hidden: true }, t("vis.older"));
  const section = h("section", { class: "card visits-card", "aria-labelledby": `${id}-title`, id: `${id}-section` },
    h("h2", { id: `${id}-title` }, title), status, list, more);
  let token = "";
  async function page(first) {
    if (first) token = "";
    more.disabled = true;
    // What is shown stays until the answer replaces it (busy meanwhile), so a
    // reload after an action never empties the list and moves what is below.
    list.setAttribute("aria-busy", "true");
    let data;
    try {
      data = (await get(path, { pageSize: 10, pageToken: token })).data;
    } catch (e) {
      list.removeAttribute("aria-busy");
      replace(status, banner("error", t("vis.loadFailed", { message: e.message })));
      return;
    }
    replace(status);
    const items = (data[key] || []).map(item);
    if (first) replace(list, items);
    else list.append(...items);
    list.removeAttribute("aria-busy");
    if (!list.children.length) list.append(h("li", { class: "muted" }, t(key === "visits" ? "vis.none" : "pur.none")));
    token = data.nextPageToken || "";
    more.hidden = !token;
    more.disabled = false;
  }
  more.addEventListener("click", () => page(false));
  return { section, load: () => page(true) };
}

// ---------------------------------------------------------------------- visits

/** The card's visits; load() (re)reads them. onChange runs after a save. */
export function visitsSection(customerId, { onChange = () => {} } = {}) {
  const base = `/v1/customers/${seg(customerId)}/visits`;
  let presets = null;
  const paged = pagedSection({
    id: "visits",
    title: t("vis.title"),
    path: base,
    key: "visits",
    item: (v) => {
      const panel = h("div", { class: "visit-panel" });
      const open = h("button", { type: "button", class: "btn btn-small visit-open", "aria-expanded": "false", dataset: { booking: v.id } },
        t("vis.parameters"));
      open.addEventListener("click", async () => {
        const opening = open.getAttribute("aria-expanded") !== "true";
        open.setAttribute("aria-expanded", String(opening));
        if (!opening) {
          replace(panel);
          return;
        }
        if (!presets) {
          try {
            presets = (await get("/v1/visitPresets")).data.presets || [];
          } catch {
            presets = [];
          }
        }
        await editor(v, panel, () => open.click());
      });
      return h("li", { class: "visit", dataset: { booking: v.id } },
        h("div", { class: "visit-head" },
          h("strong", {}, v.service || t("vis.noService")),
          h("span", { class: "muted" }, ` · ${when(v.startsAt)}`),
          v.staff ? h("span", { class: "muted" }, ` · ${v.staff}`) : null,
          h("span", { class: `status-badge visit-${(v.status || "").toLowerCase()}` }, statusText(VISIT_STATUS, v.status)),
          v.hasParameters ? h("span", { class: "status-badge" }, t("vis.hasParameters")) : null),
        h("div", { class: "form-actions-inline" }, open), panel);
    },
  });

  async function editor(v, panel, close) {
    const path = `${base}/${seg(v.id)}/parameters`;
    let current;
    try {
      current = (await get(path, { source: v.source })).data;
    } catch (e) {
      replace(panel, banner("error", t("vis.loadFailed", { message: e.message })));
      return;
    }
    const rows = h("div", { class: "param-rows", id: "param-rows" });
    const addRow = (name = "", value = "") => {
      const n = h("input", { type: "text", class: "param-name", maxlength: 100, value: name, "aria-label": t("vis.name") });
      const val = h("input", { type: "text", class: "param-value", maxlength: 500, value, "aria-label": t("vis.value") });
      const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet", "aria-label": t("vis.removeRow") }, "×");
      const row = h("div", { class: "param-row" }, n, val, del);
      del.addEventListener("click", () => row.remove());
      rows.append(row);
      return n;
    };
    for (const p of current.parameters || []) addRow(p.name, p.value);
    const picker = select([["", t("vis.pickPreset")], ...presets.map((p) => [p.id, p.name])], "", { id: "visit-preset", "aria-label": t("vis.preset") });
    picker.addEventListener("change", () => {
      const preset = presets.find((p) => p.id === picker.value);
      if (!preset) return;
      const have = new Set(Array.from(rows.querySelectorAll(".param-name")).map((i) => i.value.trim()));
      for (const name of preset.parameterNames || []) if (!have.has(name)) addRow(name, "");
      picker.value = "";
    });
    const add = h("button", { type: "button", class: "btn btn-small", id: "param-add" }, t("vis.addRow"));
    add.addEventListener("click", () => addRow().focus());
    const remark = field({ label: t("vis.remark"), input: h("textarea", { id: "visit-remark", rows: 3, maxlength: 2000 }) });
    remark.input.value = current.remark || "";
    const save = h("button", { type: "submit", class: "btn btn-primary", id: "param-save" }, t("vis.save"));
    const cancel = h("button", { type: "button", class: "btn" }, t("common.cancel"));
    cancel.addEventListener("click", close);
    const formStatus = h("div");
    let etag = current.etag || "0";
    const idem = newRequestKey();
    const form = h("form", { class: "task-form visit-form", id: "visit-form", novalidate: true },
      presets.length ? field({ label: t("vis.preset"), input: picker }).row : null,
      rows, add, remark.row, formStatus, h("div", { class: "form-actions-inline" }, save, cancel));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(formStatus);
      const parameters = Array.from(rows.querySelectorAll(".param-row"))
        .map((r) => ({ name: r.querySelector(".param-name").value.trim(), value: r.querySelector(".param-value").value.trim() }))
        .filter((p) => p.name || p.value);
      if (parameters.some((p) => !p.name)) {
        replace(formStatus, banner("error", t("vis.nameRequired")));
        return;
      }
      save.disabled = true;
      try {
        const r = await request("PUT", path, {
          body: { parameters, remark: remark.input.value, source: v.source },
          headers: { "If-Match": `"${etag}"`, "Idempotency-Key": `${idem}-${etag}` },
        });
        etag = r.data.etag;
        toast(t("vis.saved"));
        onChange();
        close();
        paged.load();
      } catch (e) {
        save.disabled = false;
        const msg = e instanceof ApiError && e.status === 412 ? t("vis.changedMeanwhile") : e.message;
        replace(formStatus, banner("error", msg));
      }
    });
    replace(panel, form);
  }

  return paged;
}

// ---------------------------------------------------------------------- purchases

/** The card's purchases; load() (re)reads them. onChange runs after an action. */
export function purchasesSection(customerId, { onChange = () => {} } = {}) {
  const base = `/v1/customers/${seg(customerId)}/purchases`;
  const paged = pagedSection({
    id: "purchases",
    title: t("pur.title"),
    path: base,
    key: "purchases",
    item: (p) => {
      const cur = (p.total || {}).currency;
      const panel = h("div", { class: "visit-panel" });
      const paid = Number(p.paidMinor || 0);
      const refunded = Number(p.refundedMinor || 0);
      const canReturn = paid > refunded && p.status !== "CANCELLED";
      const canCancel = p.status === "PLACED" || p.status === "PAID";
      const retBtn = h("button", { type: "button", class: "btn btn-small purchase-return", hidden: !canReturn }, t("pur.return"));
      const canBtn = h("button", { type: "button", class: "btn btn-small btn-danger-quiet purchase-cancel", hidden: !canCancel }, t("pur.cancel"));
      retBtn.addEventListener("click", () => replace(panel, actionForm(p, "return", () => replace(panel))));
      canBtn.addEventListener("click", () => replace(panel, actionForm(p, "cancel", () => replace(panel))));
      return h("li", { class: "visit purchase", dataset: { order: p.id } },
        h("div", { class: "visit-head" },
          h("strong", {}, t("pur.order", { id: p.id })),
          h("span", { class: "muted" }, ` · ${when(p.placedAt)}`),
          h("span", {}, ` · ${money((p.total || {}).amountMinor, cur)}`),
          h("span", { class: "status-badge" }, statusText(PURCHASE_STATUS, p.status))),
        (p.items || []).length ? h("p", { class: "muted small" }, p.items.map((i) => `${i.quantity} × ${i.name}`).join(", ")) : null,
        refunded ? h("p", { class: "small" }, t("pur.refunded", { amount: money(refunded, cur) })) : null,
        (p.credits || []).map((c) => creditLine(p, c)),
        h("div", { class: "form-actions-inline" }, retBtn, canBtn), panel);
    },
  });

  // A return's credit to the balance customers refused for good: why, and
  // the two ways staff settle it; one settled another way: who and when.
  function creditLine(p, c) {
    const amount = money((c.amount || {}).amountMinor, (c.amount || {}).currency);
    if (c.state === "SETTLED")
      return h("p", { class: "small purchase-credit", dataset: { credit: c.returnId, state: c.state } },
        t("pur.creditSettled", { amount, who: c.settledBy || "", when: when(c.settledAt) }));
    if (c.state !== "FAILED") return null;
    const retry = h("button", { type: "button", class: "btn btn-small credit-retry" }, t("pur.creditRetry"));
    const settle = h("button", { type: "button", class: "btn btn-small btn-danger-quiet credit-settle" }, t("pur.creditSettle"));
    const status = h("div");
    const send = async (verb) => {
      retry.disabled = settle.disabled = true;
      replace(status);
      try {
        const r = await request("POST", `${base}/${seg(p.id)}:${verb}`, { body: { returnId: c.returnId }, headers: { "Idempotency-Key": newRequestKey() } });
        const d = r.data;
        if (d.walletCredit === "SETTLED") toast(t("pur.creditSettledDone"));
        else if (d.walletCredit === "DONE") toast(t("pur.creditDone", { amount }));
        else if (d.walletCredit === "PENDING") toast(t("pur.creditPending", { amount }));
        else toast(t("pur.creditFailedAgain", { error: d.walletCreditError || "" }), "error");
        onChange();
        paged.load();
      } catch (e) {
        retry.disabled = settle.disabled = false;
        replace(status, banner("error", e.message));
      }
    };
    retry.addEventListener("click", () => send("retryCredit"));
    settle.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: t("pur.creditSettleTitle"), message: t("pur.creditSettleMessage", { amount }),
        confirmLabel: t("pur.creditSettle") });
      if (ok) send("settleCredit");
    });
    return h("div", { class: "purchase-credit", dataset: { credit: c.returnId, state: c.state } },
      h("p", { class: "small credit-error", role: "status" }, t("pur.creditFailed", { amount, error: c.error || "" })),
      status, h("div", { class: "form-actions-inline" }, retry, settle));
  }

  function actionForm(p, verb, close) {
    const cur = (p.total || {}).currency;
    const left = Number(p.paidMinor || 0) - Number(p.refundedMinor || 0);
    const parts = [];
    let mode;
    let amount;
    const qty = [];
    let toBalance;
    if (verb === "return") {
      mode = select([["whole", t("pur.whole", { amount: money(left, cur) })], ["items", t("pur.items")], ["amount", t("pur.amountMode")]],
        "whole", { id: "return-mode" });
      const itemsBox = h("div", { class: "param-rows", id: "return-items", hidden: true });
      (p.items || []).forEach((i, index) => {
        const back = Number((p.returnedQuantities || [])[index] || 0);
        const input = h("input", { type: "number", min: 0, max: i.quantity - back, value: 0, class: "return-qty", dataset: { index },
          "aria-label": t("pur.qtyOf", { name: i.name }) });
        qty.push(input);
        itemsBox.append(h("label", { class: "param-row" }, h("span", {}, `${i.name} (${i.quantity - back})`), input));
      });
      amount = field({ label: t("pur.amount", { currency: cur }), input: h("input", { type: "text", inputmode: "decimal", id: "return-amount", autocomplete: "off" }) });
      amount.row.hidden = true;
      mode.addEventListener("change", () => {
        itemsBox.hidden = mode.value !== "items";
        amount.row.hidden = mode.value !== "amount";
      });
      toBalance = h("input", { type: "checkbox", id: "return-balance" });
      parts.push(field({ label: t("pur.what"), input: mode }).row, itemsBox, amount.row,
        h("label", { class: "check-row", for: "return-balance" }, toBalance, " ", t("pur.toBalance")));
    }
    const reason = field({ label: t("pur.reason"), input: h("input", { type: "text", id: `${verb}-reason`, maxlength: 500 }) });
    const go = h("button", { type: "submit", class: "btn btn-primary", id: `${verb}-go` }, t(verb === "return" ? "pur.return" : "pur.cancel"));
    const back = h("button", { type: "button", class: "btn" }, t("common.cancel"));
    back.addEventListener("click", close);
    const formStatus = h("div");
    const idem = newRequestKey();
    const form = h("form", { class: "task-form purchase-form", id: `${verb}-form`, novalidate: true },
      parts, reason.row, formStatus, h("div", { class: "form-actions-inline" }, go, back));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(formStatus);
      const body = { reason: reason.input.value.trim() };
      let sum = "";
      if (verb === "return") {
        body.refundToBalance = toBalance.checked;
        if (mode.value === "whole") {
          body.whole = true;
          sum = money(left, cur);
        } else if (mode.value === "items") {
          body.items = qty.filter((i) => Number(i.value) > 0).map((i) => ({ index: Number(i.dataset.index), quantity: Number(i.value) }));
          if (!body.items.length) {
            replace(formStatus, banner("error", t("pur.pickItems")));
            return;
          }
        } else {
          const minor = parseMoney(amount.input.value, cur);
          if (minor === null || minor > left) {
            replace(formStatus, banner("error", t("pur.badAmount", { amount: money(left, cur) })));
            return;
          }
          body.amountMinor = String(minor);
          sum = money(minor, cur);
        }
      }
      const ok = await confirmDialog({
        title: t(verb === "return" ? "pur.confirmReturnTitle" : "pur.confirmCancelTitle", { id: p.id }),
        message: t(verb === "return" ? (sum ? "pur.confirmReturn" : "pur.confirmReturnItems") : "pur.confirmCancel", { id: p.id, amount: sum }),
        confirmLabel: t(verb === "return" ? "pur.return" : "pur.cancel"),
      });
      if (!ok) return;
      go.disabled = true;
      try {
        const r = await request("POST", `${base}/${seg(p.id)}:${verb}`, { body, headers: { "Idempotency-Key": idem } });
        const a = r.data.amount;
        const credited = a ? money(a.amountMinor, a.currency) : "";
        if (verb !== "return") toast(t("pur.cancelled"));
        else if (r.data.walletCredit === "PENDING") toast(t("pur.returnedCreditPending", { amount: credited }));
        else if (r.data.walletCredit === "FAILED")
          toast(t("pur.returnedCreditFailed", { amount: credited, error: r.data.walletCreditError || "" }), "error");
        else if (r.data.walletCredit === "DONE" && a && r.data.walletEntry && r.data.walletEntry.balanceAfter !== undefined)
          toast(t("pur.returnedToBalance", { amount: credited, balance: money(r.data.walletEntry.balanceAfter, a.currency) }));
        else toast(t("pur.returned", { amount: credited }));
        onChange();
        paged.load();
      } catch (e) {
        go.disabled = false;
        replace(formStatus, banner("error", e.message));
      }
    });
    return form;
  }

  return paged;
}

// ---------------------------------------------------------------------- presets (settings)

/** Settings' visit presets: the list, each with Edit and Delete, and a form
 * (name, one parameter name a line) to add or change one. */
export async function presetsSettings() {
  const list = h("ul", { class: "visit-list", id: "presets-list", "aria-label": t("vis.presetsTitle") });
  const status = h("div");
  const name = field({ label: t("vis.presetName"), input: h("input", { type: "text", id: "preset-name", maxlength: 100 }), required: true });
  const names = field({ label: t("vis.presetNames"), input: h("textarea", { id: "preset-names", rows: 4 }), hint: t("vis.presetNamesHint"), required: true });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "preset-save" }, t("vis.presetSave"));
  const formStatus = h("div");
  let editing = null;
  const form = h("form", { class: "task-form", id: "preset-form", novalidate: true },
    name.row, names.row, formStatus, h("div", { class: "form-actions-inline" }, save));
  const section = h("section", { class: "card", "aria-labelledby": "presets-title", id: "presets-section" },
    h("h2", { id: "presets-title" }, t("vis.presetsTitle")), h("p", { class: "muted" }, t("vis.presetsLead")),
    status, list, form);

  async function load() {
    let presets;
    try {
      presets = (await get("/v1/visitPresets")).data.presets || [];
    } catch (e) {
      replace(status, banner("error", t("vis.loadFailed", { message: e.message })));
      return;
    }
    replace(status);
    replace(list, presets.map((p) => {
      const edit = h("button", { type: "button", class: "btn btn-small preset-edit" }, t("common.edit"));
      const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet preset-delete" }, t("common.delete"));
      edit.addEventListener("click", () => {
        editing = p;
        name.input.value = p.name;
        names.input.value = (p.parameterNames || []).join("\n");
        name.input.focus();
      });
      del.addEventListener("click", async () => {
        if (!(await confirmDialog({ title: t("vis.presetDeleteTitle", { name: p.name }), message: t("vis.presetDeleteText") }))) return;
        try {
          await request("DELETE", `/v1/visitPresets/${seg(p.id)}`);
          await load();
        } catch (e) {
          replace(status, banner("error", e.message));
        }
      });
      return h("li", { class: "visit", dataset: { preset: p.id } },
        h("div", { class: "visit-head" }, h("strong", {}, p.name)),
        h("p", { class: "muted small" }, (p.parameterNames || []).join(", ")),
        h("div", { class: "form-actions-inline" }, edit, del));
    }));
    if (!presets.length) list.append(h("li", { class: "muted" }, t("vis.noPresets")));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(formStatus);
    const body = { name: name.input.value.trim(), parameterNames: names.input.value.split("\n").map((x) => x.trim()).filter(Boolean) };
    save.disabled = true;
    try {
      if (editing) {
        await request("PUT", `/v1/visitPresets/${seg(editing.id)}`, { body, headers: { "If-Match": `"${editing.etag}"` } });
      } else {
        await request("POST", "/v1/visitPresets", { body, headers: { "Idempotency-Key": newRequestKey() } });
      }
      toast(t("vis.presetSaved"));
      editing = null;
      name.input.value = "";
      names.input.value = "";
      await load();
    } catch (e) {
      const d = e instanceof ApiError && e.details.length ? e.details[0].description : e.message;
      replace(formStatus, banner("error", e.status === 412 ? t("vis.changedMeanwhile") : d));
    } finally {
      save.disabled = false;
    }
  });
  await load();
  return section;
}
