// The customer's account on the card: the money balance and the loyalty
// points (when the business counts them), each with a button that opens its
// history (where from, how much, when, who) and a form to add or take off
// with a reason; and redeeming a gift voucher's code onto the account.
// GET /v1/customers/{id}/wallet, /wallet/entries, POST /wallet:adjust,
// /wallet:redeemVoucher.

import { ApiError, get, newRequestKey, request, seg } from "./api.js";
import { banner, closeInto, field, h, replace, select, toast } from "./dom.js";
import { count, money, when } from "./format.js";
import { t, tn } from "./i18n.js";

const SOURCE_KEYS = {
  STAFF: "wallet.source.STAFF",
  BOOKING: "wallet.source.BOOKING",
  STORE: "wallet.source.STORE",
  VOUCHER: "wallet.source.VOUCHER",
  IMPORT: "wallet.source.IMPORT",
};

/** The digits after the point of a currency (2 for EUR, 0 for ISK). */
export function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** Minor units from what staff typed ("10", "10,50", "10.5"), or null. */
export function parseMoney(text, currency) {
  const s = String(text || "").replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
  const m = /^(\d{1,13})(?:\.(\d+))?$/.exec(s);
  const digits = currencyDigits(currency);
  if (!m || (m[2] && m[2].length > digits)) return null;
  const frac = (m[2] || "").padEnd(digits, "0");
  const minor = Number(m[1]) * 10 ** digits + Number(frac || 0);
  return minor > 0 ? minor : null;
}

/** A wallet amount: money in the currency, points as a count. */
export function walletAmount(kind, amount, currency, signed = false) {
  const n = Number(amount || 0);
  const text = kind === "POINTS" ? tn("wallet.points", Math.abs(n)) : money(Math.abs(n), currency);
  if (!signed) return text;
  return n < 0 ? `−${text}` : `+${text}`;
}

/** Where an entry came from, with its reference ("Store · order 1234"). */
export function walletSource(e) {
  const src = SOURCE_KEYS[e.source] ? t(SOURCE_KEYS[e.source]) : e.source || "";
  return e.reference && e.source !== "VOUCHER" ? t("wallet.sourceRef", { source: src, reference: e.reference }) : src;
}

function entryItem(e) {
  const meta = [when(e.createdAt), e.createdBy, walletSource(e)].filter(Boolean).join(" · ");
  return h("li", { class: "wallet-entry", dataset: { kind: e.kind || "", amount: e.amount || "0" } },
    h("strong", { class: Number(e.amount) < 0 ? "wallet-minus" : "wallet-plus" }, walletAmount(e.kind, e.amount, e.currency, true)),
    e.reason ? h("span", {}, " ", e.reason) : null,
    h("p", { class: "muted small" }, meta));
}

/** The card's wallet section; load() (re)reads it. onChange runs after a change. */
export function walletSection(customerId, { onChange = () => {} } = {}) {
  const status = h("div");
  const moneyOut = h("dd", { id: "wallet-money" }, "…");
  const pointsOut = h("dd", { id: "wallet-points" }, "…");
  const pointsRow = [h("dt", {}, t("wallet.pointsLabel")), pointsOut];
  const moneyBtn = h("button", { type: "button", class: "btn btn-small", id: "wallet-money-open", "aria-expanded": "false" }, t("wallet.moneyHistory"));
  const pointsBtn = h("button", { type: "button", class: "btn btn-small", id: "wallet-points-open", "aria-expanded": "false" }, t("wallet.pointsHistory"));
  const redeemBtn = h("button", { type: "button", class: "btn btn-small", id: "wallet-redeem-open", "aria-expanded": "false" }, t("wallet.redeem"));
  const panel = h("div", { class: "wallet-panel" });
  const facts = h("dl", { class: "facts" }, h("dt", {}, t("wallet.moneyLabel")), moneyOut, pointsRow);
  const section = h("section", { class: "card wallet-card", "aria-labelledby": "wallet-title", id: "wallet-section" },
    h("h2", { id: "wallet-title" }, t("wallet.title")),
    status, facts,
    h("div", { class: "form-actions-inline wallet-buttons" }, moneyBtn, pointsBtn, redeemBtn),
    panel);
  let wallet = null;
  let open = "";

  const setOpen = (which) => {
    const show = () => {
      open = which;
      moneyBtn.setAttribute("aria-expanded", String(which === "MONEY"));
      pointsBtn.setAttribute("aria-expanded", String(which === "POINTS"));
      redeemBtn.setAttribute("aria-expanded", String(which === "REDEEM"));
      if (!which) replace(panel);
      else if (which === "REDEEM") replace(panel, redeemForm());
      else historyPanel(which);
    };
    // Closed, the panel gives the focus back to the button that opened it.
    const opener = { MONEY: moneyBtn, POINTS: pointsBtn, REDEEM: redeemBtn }[open];
    if (!which && opener) closeInto(panel, opener, show);
    else show();
  };
  moneyBtn.addEventListener("click", () => setOpen(open === "MONEY" ? "" : "MONEY"));
  pointsBtn.addEventListener("click", () => setOpen(open === "POINTS" ? "" : "POINTS"));
  redeemBtn.addEventListener("click", () => setOpen(open === "REDEEM" ? "" : "REDEEM"));

  const changed = async () => {
    await load();
    if (open === "MONEY" || open === "POINTS") historyPanel(open);
    onChange();
  };

  async function historyPanel(kind) {
    const list = h("ol", { class: "wallet-entries", id: "wallet-entries", "aria-label": t(kind === "POINTS" ? "wallet.pointsHistory" : "wallet.moneyHistory") });
    const more = h("button", { type: "button", class: "btn btn-small", id: "wallet-more", hidden: true }, t("wallet.older"));
    const listStatus = h("div");
    replace(panel, h("h3", {}, t(kind === "POINTS" ? "wallet.pointsHistory" : "wallet.moneyHistory")),
      adjustForm(kind), listStatus, list, more);
    let token = "";
    const page = async () => {
      more.disabled = true;
      let data;
      try {
        data = (await get(`/v1/customers/${seg(customerId)}/wallet/entries`, { kind, pageSize: 20, pageToken: token })).data;
      } catch (e) {
        replace(listStatus, banner("error", t("wallet.loadFailed", { message: e.message })));
        return;
      }
      for (const e of data.entries || []) list.append(entryItem(e));
      if (!list.children.length) list.append(h("li", { class: "muted" }, t("wallet.noEntries")));
      token = data.nextPageToken || "";
      more.hidden = !token;
      more.disabled = false;
    };
    more.addEventListener("click", page);
    await page();
  }

  function adjustForm(kind) {
    const currency = (wallet && wallet.currency) || "EUR";
    const direction = select([["add", t("wallet.add")], ["take", t("wallet.takeOff")]], "add", { id: "wallet-direction" });
    const amount = field({
      label: kind === "POINTS" ? t("wallet.pointsAmount") : t("wallet.amount", { currency }),
      input: h("input", { type: "text", inputmode: kind === "POINTS" ? "numeric" : "decimal", id: "wallet-amount", autocomplete: "off" }),
      required: true,
    });
    const reason = field({ label: t("wallet.reason"), input: h("input", { type: "text", id: "wallet-reason", maxlength: 500 }), required: true });
    const save = h("button", { type: "submit", class: "btn btn-primary", id: "wallet-save" }, t("wallet.save"));
    const formStatus = h("div");
    let idem = newRequestKey();
    const form = h("form", { class: "task-form wallet-form", id: "wallet-adjust", novalidate: true },
      field({ label: t("wallet.direction"), input: direction }).row, amount.row, reason.row, formStatus,
      h("div", { class: "form-actions-inline" }, save));
    form.addEventListener("input", () => {
      idem = newRequestKey();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      amount.error.hidden = true;
      reason.error.hidden = true;
      replace(formStatus);
      const minor = kind === "POINTS"
        ? (/^\d{1,11}$/.test(amount.input.value.trim()) && Number(amount.input.value) > 0 ? Number(amount.input.value) : null)
        : parseMoney(amount.input.value, currency);
      let bad = false;
      if (minor === null) {
        amount.error.textContent = t(kind === "POINTS" ? "wallet.badPoints" : "wallet.badAmount");
        amount.error.hidden = false;
        bad = true;
      }
      if (!reason.input.value.trim()) {
        reason.error.textContent = t("wallet.reasonRequired");
        reason.error.hidden = false;
        bad = true;
      }
      if (bad) return;
      const signed = direction.value === "take" ? -minor : minor;
      save.disabled = true;
      try {
        await request("POST", `/v1/customers/${seg(customerId)}/wallet:adjust`, {
          body: { kind, amount: String(signed), reason: reason.input.value.trim() },
          headers: { "Idempotency-Key": idem },
        });
        toast(t(signed < 0 ? "wallet.takenOff" : "wallet.added", { amount: walletAmount(kind, minor, currency) }));
        await changed();
      } catch (e) {
        save.disabled = false;
        const msg = e instanceof ApiError && e.status === 409 ? t("wallet.notEnough") : e.message;
        replace(formStatus, banner("error", msg));
      }
    });
    return form;
  }

  function redeemForm() {
    const code = field({ label: t("wallet.code"), input: h("input", { type: "text", id: "voucher-code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: 40 }), hint: t("wallet.codeHint"), required: true });
    const go = h("button", { type: "submit", class: "btn btn-primary", id: "voucher-redeem" }, t("wallet.redeemGo"));
    const formStatus = h("div");
    const idem = newRequestKey();
    const form = h("form", { class: "task-form wallet-form", id: "wallet-redeem", novalidate: true },
      code.row, formStatus, h("div", { class: "form-actions-inline" }, go));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(formStatus);
      if (!code.input.value.trim()) {
        code.error.textContent = t("wallet.codeRequired");
        code.error.hidden = false;
        return;
      }
      code.error.hidden = true;
      go.disabled = true;
      try {
        const r = (await request("POST", `/v1/customers/${seg(customerId)}/wallet:redeemVoucher`, {
          body: { code: code.input.value.trim() },
          headers: { "Idempotency-Key": `${idem}-${code.input.value.trim()}` },
        })).data;
        toast(t("wallet.redeemed", { amount: money(r.entry.amount, r.entry.currency) }));
        setOpen("");
        await changed();
      } catch (e) {
        go.disabled = false;
        const key = !(e instanceof ApiError) ? "" : e.status === 404 ? "wallet.codeUnknown"
          : e.status === 409 ? "wallet.codeUsed" : e.status === 412 ? "wallet.codeExpired"
            : e.status === 429 ? "wallet.codeTooMany" : "";
        replace(formStatus, banner("error", key ? t(key) : e.message));
      }
    });
    return form;
  }

  async function load() {
    try {
      wallet = (await get(`/v1/customers/${seg(customerId)}/wallet`)).data;
    } catch (e) {
      replace(status, banner("error", t("wallet.loadFailed", { message: e.message })));
      return;
    }
    replace(status);
    moneyOut.textContent = money(wallet.money, wallet.currency);
    pointsOut.textContent = count(Number(wallet.points || 0));
    // Without loyalty points there is nothing to show or open.
    for (const el of pointsRow) el.hidden = !wallet.loyaltyEnabled;
    pointsBtn.hidden = !wallet.loyaltyEnabled;
  }
  return { section, load };
}
