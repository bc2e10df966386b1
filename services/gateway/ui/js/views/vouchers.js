// Gift vouchers (#/vouchers): staff issue one (amount, optional expiry and
// note) and get its code once, to read aloud or print; the list shows what
// was issued, redeemed by whom, what expired and what was cancelled (the
// last valid day in the business's time zone), and
// cancels one not redeemed (with a reason, after a confirm). Also the
// wallet's settings form the settings page shows: the currency and the
// loyalty rule. GET/POST /v1/vouchers, POST /v1/vouchers/{id}:cancel,
// GET/PATCH /v1/walletSettings.

import { ApiError, get, newRequestKey, request } from "../api.js";
import { banner, confirmDialog, field, h, replace, scrollTable, select, setTitle, toast } from "../dom.js";
import { clearErrors, saveSettings, showErrors } from "../forms.js";
import { day, money, when } from "../format.js";
import { t, tn } from "../i18n.js";
import { parseMoney } from "../wallet.js";
import { can, loadSettings } from "../session.js";

const STATES = [
  ["", "vch.state.all"],
  ["ISSUED", "vch.state.ISSUED"],
  ["REDEEMED", "vch.state.REDEEMED"],
  ["EXPIRED", "vch.state.EXPIRED"],
  ["CANCELLED", "vch.state.CANCELLED"],
];

/** Asks for a reason and a confirm, then cancels voucher v. Resolves true when it was. */
async function cancelVoucher(v) {
  const reason = field({ label: t("vch.cancelReason"), input: h("input", { type: "text", id: "voucher-cancel-reason", maxlength: 500, autocomplete: "off" }), required: true });
  const ok = await confirmDialog({ title: t("vch.cancelTitle", { hint: v.codeHint }), message: t("vch.cancelMessage"),
    confirmLabel: t("vch.cancelConfirm"), cancelLabel: t("vch.cancelKeep"), input: reason });
  if (!ok) return false;
  try {
    await request("POST", `/v1/vouchers/${encodeURIComponent(v.id)}:cancel`, { body: { reason: reason.input.value.trim() } });
  } catch (e) {
    toast(e.message, "error");
    return false;
  }
  toast(t("vch.cancelled"));
  return true;
}

export async function renderVouchers(view, ctx) {
  setTitle(t("vch.title"));
  const [{ data: ws }, settings] = await Promise.all([get("/v1/walletSettings"), loadSettings()]);
  if (!ctx.live()) return;
  const currency = ws.currency || "EUR";
  const fields = {
    amount: field({ label: t("wallet.amount", { currency }), input: h("input", { type: "text", inputmode: "decimal", id: "voucher-amount", autocomplete: "off" }), required: true }),
    expiresOn: field({ label: t("vch.expiresOn"), input: h("input", { type: "date", id: "voucher-expires" }), hint: t("vch.expiresHint") }),
    note: field({ label: t("vch.note"), input: h("input", { type: "text", id: "voucher-note", maxlength: 500 }) }),
  };
  const message = h("div");
  const issued = h("div", { id: "voucher-issued", "aria-live": "polite" });
  const issueBtn = h("button", { type: "submit", class: "btn btn-primary", id: "voucher-issue" }, t("vch.issue"));
  let idem = newRequestKey();
  const form = h("form", { class: "card settings-form", id: "voucher-form", novalidate: true, "aria-labelledby": "voucher-form-title" },
    h("h2", { id: "voucher-form-title" }, t("vch.new")),
    h("div", { class: "grid" }, fields.amount.row, fields.expiresOn.row, fields.note.row),
    message, h("div", { class: "form-actions-inline" }, issueBtn), issued);
  form.addEventListener("input", () => {
    idem = newRequestKey();
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, message);
    replace(issued);
    const minor = parseMoney(fields.amount.input.value, currency);
    if (minor === null) {
      fields.amount.error.textContent = t("wallet.badAmount");
      fields.amount.error.hidden = false;
      return;
    }
    issueBtn.disabled = true;
    try {
      const { data } = await request("POST", "/v1/vouchers", {
        body: { amount: String(minor), expiresOn: fields.expiresOn.input.value, note: fields.note.input.value.trim() },
        headers: { "Idempotency-Key": idem },
      });
      idem = newRequestKey();
      const print = h("button", { type: "button", class: "btn", id: "voucher-print" }, t("vch.print"));
      print.addEventListener("click", () => window.print());
      replace(issued, h("div", { class: "banner banner-ok" },
        h("p", {}, t("vch.issued", { amount: money(data.voucher.amount, data.voucher.currency) })),
        h("p", { class: "voucher-code", id: "voucher-new-code" }, data.code),
        h("p", { class: "small" }, t("vch.codeOnce")), print));
      form.reset();
      await list.load();
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) replace(message, banner("error", t("vch.notAllowed")));
      else showErrors(e, fields, message);
    } finally {
      issueBtn.disabled = false;
    }
  });
  const list = voucherList(settings.timeZone || "UTC");
  replace(view, h("h1", {}, t("vch.title")), h("p", { class: "muted" }, t("vch.lead")), form, list.section);
  await list.load();
}

/**
 * A voucher's last valid day: it expires at the midnight after it in the
 * business's time zone, so the day of the instant just before, read there.
 */
function lastValidDay(expiresAt, timeZone) {
  const d = new Date(new Date(expiresAt).getTime() - 1);
  if (Number.isNaN(d.getTime())) return expiresAt.slice(0, 10);
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
  } catch {
    return d.toISOString().slice(0, 10); // a zone this browser does not know: UTC's day
  }
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

function voucherList(timeZone) {
  const state = select(STATES.map(([v, k]) => [v, t(k)]), "", { id: "voucher-state" });
  const body = h("tbody");
  const status = h("div");
  const more = h("button", { type: "button", class: "btn", id: "voucher-more", hidden: true }, t("wallet.older"));
  const section = h("section", { class: "card", "aria-labelledby": "voucher-list-title" },
    h("div", { class: "section-head" }, h("h2", { id: "voucher-list-title" }, t("vch.list")),
      field({ label: t("vch.show"), input: state }).row),
    status,
    scrollTable(t("vch.list"), h("table", { class: "table", id: "voucher-table" },
      h("thead", {}, h("tr", {}, ["vch.code", "vch.amount", "vch.issuedCol", "vch.expiresCol", "vch.stateCol", "vch.redeemedCol", "vch.actionsCol"]
        .map((k) => h("th", { scope: "col" }, t(k))))),
      body)),
    more);
  let token = "";
  const row = (v) => h("tr", { dataset: { id: v.id, state: v.state } },
    h("td", {}, h("code", {}, `…${v.codeHint}`), v.note ? h("div", { class: "small muted" }, v.note) : null),
    h("td", {}, money(v.amount, v.currency)),
    h("td", {}, when(v.issuedAt), v.issuedBy ? h("div", { class: "small muted" }, v.issuedBy) : null),
    h("td", {}, v.expiresAt ? day(lastValidDay(v.expiresAt, timeZone)) : t("vch.never")),
    h("td", {}, t(`vch.state.${v.state}`), v.state === "CANCELLED"
      ? h("div", { class: "small muted" }, when(v.cancelledAt), " · ", t("vch.cancelledBy", { name: v.cancelledBy || "—", reason: v.cancelReason || "" }))
      : null),
    h("td", {}, v.redeemedAt ? [when(v.redeemedAt), h("div", { class: "small muted" }, v.redeemedBy || ""),
      v.customerId ? h("a", { href: `#/customers/${encodeURIComponent(v.customerId)}` }, t("vch.customer")) : null] : "—"),
    h("td", {}, cancelButton(v)));
  // Only what was not redeemed (ISSUED, EXPIRED) may be cancelled, and only by
  // a role that writes.
  const cancelButton = (v) => {
    if (!can("customers:write") || (v.state !== "ISSUED" && v.state !== "EXPIRED")) return null;
    const btn = h("button", { type: "button", class: "btn btn-small voucher-cancel" }, t("vch.cancel"));
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      if (await cancelVoucher(v)) await page(true);
      else btn.disabled = false;
    });
    return btn;
  };
  // A new filter or reload makes the answers to earlier requests stale: only
  // the latest request's answer is shown.
  let seq = 0;
  async function page(reset) {
    seq += 1;
    const mine = seq;
    if (reset) {
      token = "";
      replace(body);
    }
    more.disabled = true;
    let data;
    try {
      data = (await get("/v1/vouchers", { state: state.value, pageSize: 50, pageToken: token })).data;
    } catch (e) {
      if (mine !== seq) return;
      replace(status, banner("error", e.message));
      return;
    }
    if (mine !== seq) return;
    replace(status);
    for (const v of data.vouchers || []) body.append(row(v));
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, t("vch.none"))));
    token = data.nextPageToken || "";
    more.hidden = !token;
    more.disabled = false;
  }
  state.addEventListener("change", () => page(true));
  more.addEventListener("click", () => page(false));
  return { section, load: () => page(true) };
}

/** The settings page's wallet form: the currency, and loyalty points with their rule. */
export async function walletSettingsForm() {
  const { data: s } = await get("/v1/walletSettings");
  const currency = h("input", { type: "text", id: "wallet-currency", maxlength: 3, class: "upper short", autocomplete: "off" });
  currency.value = s.currency || "";
  const loyalty = h("input", { type: "checkbox", id: "wallet-loyalty", checked: Boolean(s.loyaltyEnabled) });
  const points = h("input", { type: "number", id: "wallet-points-per-unit", min: 1, max: 1000, step: 1 });
  points.value = String(s.pointsPerUnit || 1);
  const unit = h("input", { type: "text", inputmode: "decimal", id: "wallet-unit", autocomplete: "off" });
  const digits = (c) => new Intl.NumberFormat("en", { style: "currency", currency: /^[A-Z]{3}$/.test(c) ? c : "EUR" }).resolvedOptions().maximumFractionDigits;
  unit.value = (Number(s.unitMinor || 100) / 10 ** digits(s.currency || "EUR")).toFixed(digits(s.currency || "EUR"));
  const fields = {
    currency: field({ label: t("wset.currency"), input: currency, hint: t("wset.currencyHint") }),
    pointsPerUnit: field({ label: t("wset.points"), input: points }),
    unitMinor: field({ label: t("wset.unit"), input: unit, hint: t("wset.unitHint") }),
  };
  const example = h("p", { class: "hint", id: "wallet-rule" });
  const showRule = () => {
    const minor = parseMoney(unit.value, s.currency || "EUR");
    example.textContent = minor ? tn("wset.rule", Number(points.value) || 0, { amount: money(minor, s.currency || "EUR") }) : "";
  };
  showRule();
  points.addEventListener("input", showRule);
  unit.addEventListener("input", showRule);
  const message = h("div");
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-wallet" }, t("wset.save"));
  const form = h("form", { class: "card settings-form", id: "wallet-settings", novalidate: true, "aria-labelledby": "wallet-settings-title" },
    h("h2", { id: "wallet-settings-title" }, t("wset.title")),
    h("div", { class: "grid" }, fields.currency.row),
    h("div", { class: "field field-wide" },
      h("div", { class: "check-row" }, loyalty, h("label", { for: loyalty.id }, t("wset.loyalty"))),
      h("p", { class: "hint" }, t("wset.loyaltyHint"))),
    h("div", { class: "grid" }, fields.pointsPerUnit.row, fields.unitMinor.row), example,
    message, h("div", { class: "form-actions-inline" }, save));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, message);
    const cur = currency.value.trim().toUpperCase();
    const minor = parseMoney(unit.value, /^[A-Z]{3}$/.test(cur) ? cur : "EUR");
    if (minor === null) {
      fields.unitMinor.error.textContent = t("wallet.badAmount");
      fields.unitMinor.error.hidden = false;
      return;
    }
    const data = await saveSettings({
      button: save,
      message,
      fields,
      send: () => request("PATCH", "/v1/walletSettings", {
        body: { currency: cur, loyaltyEnabled: loyalty.checked, pointsPerUnit: Number(points.value) || 0, unitMinor: String(minor) },
      }),
    });
    if (data) s.currency = data.currency;
  });
  return form;
}
