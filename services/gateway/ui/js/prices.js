// Discounts (price rules; docs/api.md, "Price rules"): the customer card's
// "Discounts" section (the rules that apply to the customer, whence each
// comes, add, change and remove the customer's own, and a price check), and
// the rules of a group or a tag on the groups screen. Amounts are shown with
// Intl.NumberFormat in the business's currency, which every list of rules
// carries.

import { get, request, seg } from "./api.js";
import { banner, confirmDialog, field, h, newId, replace, select, toast } from "./dom.js";
import { day, money } from "./format.js";
import { locale, t } from "./i18n.js";

/** Digits of a currency's minor unit (PLN 2, JPY 0). */
function minorDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** "12.50" or "12,50" (major units) as integer minor units; NaN when it is no amount. */
export function toMinor(text, currency) {
  const s = String(text || "").trim().replace(",", ".");
  const d = minorDigits(currency);
  const m = /^(\d{1,12})(?:\.(\d+))?$/.exec(s);
  if (!m || (m[2] || "").length > d) return NaN;
  return Number(m[1]) * 10 ** d + Number(((m[2] || "") + "0".repeat(d)).slice(0, d) || 0);
}

/** "12,5" or "12.5" (percent) as basis points; NaN unless 0.01..100 with at most two decimals. */
function toBp(text) {
  const m = /^(\d{1,3})(?:[.,](\d{1,2}))?$/.exec(String(text || "").trim());
  if (!m) return NaN;
  const bp = Number(m[1]) * 100 + Number(((m[2] || "") + "00").slice(0, 2));
  return bp >= 1 && bp <= 10000 ? bp : NaN;
}

function percent(bp) {
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 2 }).format(bp / 10000);
}

/** What a rule takes off and on what, in words. */
export function ruleText(r, currency) {
  const off = r.percentOffBp
    ? t("price.percentOff", { pct: percent(r.percentOffBp) })
    : t("price.amountOff", { amount: money(r.amountOffMinor, currency) });
  const on = r.target === "CATEGORY" ? t("price.onCategory", { code: r.code })
    : r.target === "PRODUCT" ? t("price.onProduct", { code: r.code }) : t("price.onAll");
  let dates = "";
  if (r.validFrom && r.validUntil) dates = t("price.between", { from: day(r.validFrom), until: day(r.validUntil) });
  else if (r.validFrom) dates = t("price.from", { from: day(r.validFrom) });
  else if (r.validUntil) dates = t("price.until", { until: day(r.validUntil) });
  return [off, on, dates].filter(Boolean).join(" · ");
}

/** Whence a rule applies to a customer. */
function whence(r) {
  if (r.via === "TAG") return t("price.viaTag", { tag: r.tag });
  if (r.via === "GROUP") return t("price.viaGroup", { group: r.groupName });
  return t("price.own");
}

/** A timeline or audit line for a change of "discounts" (a rule as JSON). */
export function discountChange(type, ch) {
  let rule = {};
  try {
    rule = JSON.parse((type === "customer.discount_removed" ? ch.oldValue : ch.newValue) || "{}");
  } catch {
    rule = {};
  }
  const text = [rule.name, ruleText(rule, "")].filter(Boolean).join(": ");
  const key = type === "customer.discount_added" ? "price.tlAdded"
    : type === "customer.discount_removed" ? "price.tlRemoved" : "price.tlChanged";
  return t(key, { rule: text });
}

const FIELD_OF = {
  name: "name", code: "code", target: "code", percentOffBp: "value", amountOffMinor: "value",
  validFrom: "from", validUntil: "until",
};

/** The form for a new rule of who ({customerId}, {tag} or {groupId}) or to change rule. */
function ruleForm({ who, rule, currency, onSaved, onCancel }) {
  const id = newId("rule");
  const r = rule || { target: "ALL" };
  const name = h("input", { type: "text", id: `${id}-name`, maxlength: 100, autocomplete: "off" });
  name.value = r.name || "";
  const target = select([["ALL", t("price.targetAll")], ["CATEGORY", t("price.targetCategory")],
    ["PRODUCT", t("price.targetProduct")]], r.target || "ALL", { id: `${id}-target`, class: "rule-target" });
  const code = h("input", { type: "text", id: `${id}-code`, maxlength: 64, autocomplete: "off", class: "rule-code" });
  code.value = r.code || "";
  const kind = select([["PERCENT", t("price.kindPercent")], ["AMOUNT", t("price.kindAmount", { currency })]],
    r.amountOffMinor && Number(r.amountOffMinor) ? "AMOUNT" : "PERCENT", { id: `${id}-kind`, class: "rule-kind" });
  const value = h("input", { type: "text", id: `${id}-value`, inputmode: "decimal", autocomplete: "off", class: "rule-value" });
  if (r.percentOffBp) value.value = String(r.percentOffBp / 100);
  else if (r.amountOffMinor && Number(r.amountOffMinor)) value.value = String(Number(r.amountOffMinor) / 10 ** minorDigits(currency));
  const from = h("input", { type: "date", id: `${id}-from` });
  from.value = r.validFrom || "";
  const until = h("input", { type: "date", id: `${id}-until` });
  until.value = r.validUntil || "";
  const f = {
    name: field({ label: t("price.name"), input: name }),
    target: field({ label: t("price.target"), input: target }),
    code: field({ label: t("price.code"), input: code, hint: t("price.codeHint") }),
    kind: field({ label: t("price.kind"), input: kind }),
    value: field({ label: t("price.value"), input: value, required: true }),
    from: field({ label: t("price.validFrom"), input: from }),
    until: field({ label: t("price.validUntil"), input: until }),
  };
  const showCode = () => { f.code.row.hidden = target.value === "ALL"; };
  target.addEventListener("change", showCode);
  showCode();
  const message = h("div");
  const save = h("button", { type: "submit", class: "btn btn-primary btn-small rule-save" }, t("common.save"));
  const cancel = h("button", { type: "button", class: "btn btn-small" }, t("common.cancel"));
  cancel.addEventListener("click", onCancel);
  const form = h("form", { class: "rule-form", novalidate: true, "aria-label": t(rule ? "price.editTitle" : "price.addTitle") },
    h("div", { class: "grid" }, f.name.row, f.target.row, f.code.row, f.kind.row, f.value.row, f.from.row, f.until.row),
    message, h("div", { class: "form-actions-inline" }, save, cancel));
  const fail = (key, text) => {
    f[key].error.textContent = text;
    f[key].error.hidden = false;
    f[key].input.setAttribute("aria-invalid", "true");
    f[key].input.focus();
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const x of Object.values(f)) {
      x.error.hidden = true;
      x.input.removeAttribute("aria-invalid");
    }
    replace(message);
    const body = {
      name: name.value.trim(), target: target.value, code: target.value === "ALL" ? "" : code.value.trim(),
      validFrom: from.value, validUntil: until.value, percentOffBp: 0, amountOffMinor: "0",
    };
    if (kind.value === "PERCENT") {
      body.percentOffBp = toBp(value.value);
      if (Number.isNaN(body.percentOffBp)) return fail("value", t("price.badPercent"));
    } else {
      const minor = toMinor(value.value, currency);
      if (Number.isNaN(minor) || minor < 1) return fail("value", t("price.badAmount"));
      body.amountOffMinor = String(minor);
    }
    if (target.value !== "ALL" && !body.code) return fail("code", t("price.needCode"));
    save.disabled = true;
    try {
      const { data } = rule
        ? await request("PATCH", `/v1/priceRules/${seg(rule.id)}`, { body })
        : await request("POST", "/v1/priceRules", { body: { ...body, ...who } });
      await onSaved(data);
    } catch (e) {
      const d = (e.details || []).find((x) => FIELD_OF[x.field]);
      if (d) fail(FIELD_OF[d.field], d.description);
      else replace(message, banner("error", e.message));
    } finally {
      save.disabled = false;
    }
  });
  setTimeout(() => name.focus(), 0);
  return form;
}

/**
 * A list of rules with whence each comes (withWhence), change and remove
 * for those editable(r) says, and an "add" button making rules for who.
 * load() fetches them with fetchRules() -> {rules, currency}.
 */
function rulesEditor({ who, fetchRules, editable, withWhence, listId, addLabel, onChange }) {
  const list = h("ul", { class: "rules", id: listId });
  const status = h("div");
  const slot = h("div");
  const add = h("button", { type: "button", class: "btn btn-small rule-add" }, addLabel);
  let currency = "";
  const close = () => {
    replace(slot);
    add.hidden = false;
  };
  const saved = (key) => async (r) => {
    close();
    toast(t(key, { rule: ruleText(r, currency) }));
    await load();
    if (onChange) onChange();
  };
  add.addEventListener("click", () => {
    add.hidden = true;
    replace(slot, ruleForm({ who, currency, onSaved: saved("price.added"), onCancel: close }));
  });

  function item(r) {
    const text = h("span", { class: "rule-text" }, r.name ? h("strong", {}, r.name, ": ") : null, ruleText(r, currency));
    const li = h("li", { class: "rule", dataset: { id: r.id, via: r.via } }, text,
      withWhence ? h("span", { class: "rule-whence muted" }, " ", whence(r)) : null);
    if (!editable(r)) return li;
    const edit = h("button", { type: "button", class: "btn btn-small rule-edit" }, t("common.edit"));
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet rule-remove" }, t("price.remove"));
    edit.addEventListener("click", () => {
      const form = ruleForm({ who, rule: r, currency, onSaved: saved("price.saved"), onCancel: () => li.replaceWith(item(r)) });
      li.replaceWith(h("li", { class: "rule editing" }, form));
    });
    del.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: t("price.removeTitle"), message: ruleText(r, currency), confirmLabel: t("price.remove") });
      if (!ok) return;
      try {
        await request("DELETE", `/v1/priceRules/${seg(r.id)}`);
        toast(t("price.removed"));
        await load();
        if (onChange) onChange();
      } catch (e) {
        replace(status, banner("error", e.message));
      }
    });
    li.append(h("span", { class: "rule-actions" }, edit, del));
    return li;
  }

  async function load() {
    let data;
    try {
      data = await fetchRules();
    } catch (e) {
      replace(status, banner("error", t("price.loadFailed", { message: e.message })));
      return;
    }
    replace(status);
    currency = data.currency || "";
    const rules = data.rules || [];
    replace(list, rules.length ? rules.map(item) : h("li", { class: "muted" }, t("price.none")));
  }
  return { nodes: [status, list, slot, add], load, currency: () => currency };
}

/** The card's "Discounts": what applies to the customer, their own rules, a price check. */
export function discountsSection(c, { onChange } = {}) {
  const editor = rulesEditor({
    who: { customerId: c.id },
    fetchRules: async () => (await get(`/v1/customers/${seg(c.id)}/priceRules`)).data,
    editable: (r) => r.via === "CUSTOMER",
    withWhence: true,
    listId: "discounts",
    addLabel: t("price.add"),
    onChange,
  });

  // The price check: one product at a price, for this customer, as the store would ask.
  const code = h("input", { type: "text", id: "price-code", maxlength: 64, autocomplete: "off" });
  const category = h("input", { type: "text", id: "price-category", maxlength: 64, autocomplete: "off" });
  const amount = h("input", { type: "text", id: "price-amount", inputmode: "decimal", autocomplete: "off" });
  const fc = field({ label: t("price.code"), input: code, required: true });
  const fcat = field({ label: t("price.category"), input: category });
  const fa = field({ label: t("price.listPrice"), input: amount, required: true });
  const result = h("p", { id: "price-result", class: "price-result", "aria-live": "polite" });
  const check = h("button", { type: "submit", class: "btn btn-small", id: "price-check" }, t("price.check"));
  const form = h("form", { class: "price-check", novalidate: true, "aria-labelledby": "price-check-title" },
    h("h3", { id: "price-check-title" }, t("price.checkTitle")),
    h("div", { class: "grid grid-3" }, fc.row, fcat.row, fa.row), h("div", { class: "form-actions-inline" }, check), result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const x of [fc, fa]) x.error.hidden = true;
    const currency = editor.currency();
    const minor = toMinor(amount.value, currency);
    if (!code.value.trim()) {
      fc.error.textContent = t("price.needCode");
      fc.error.hidden = false;
      return;
    }
    if (Number.isNaN(minor)) {
      fa.error.textContent = t("price.badAmount");
      fa.error.hidden = false;
      return;
    }
    check.disabled = true;
    try {
      const { data } = await request("POST", "/v1/prices:quote", {
        body: { customerId: c.id, lines: [{ productCode: code.value.trim(), categoryCode: category.value.trim(), quantity: 1, unitPriceMinor: String(minor) }] },
      });
      const line = (data.lines || [])[0] || {};
      const cur = data.currency || currency;
      result.textContent = line.rule
        ? t("price.result", { price: money(line.priceMinor, cur), list: money(line.unitPriceMinor, cur), rule: ruleText(line.rule, cur), whence: whence(line.rule) })
        : t("price.resultList", { price: money(line.unitPriceMinor, cur) });
    } catch (e) {
      result.textContent = e.message;
    } finally {
      check.disabled = false;
    }
  });

  const section = h("section", { class: "card discounts", "aria-labelledby": "discounts-title", id: "discounts-section" },
    h("h2", { id: "discounts-title" }, t("price.title")),
    h("p", { class: "muted" }, t("price.lead")), editor.nodes, form);
  return { section, load: editor.load };
}

/** The rules of a group ({groupId}) or a tag ({tag}), for the groups screen. */
export function rulesPanel(who, listId) {
  const editor = rulesEditor({
    who,
    fetchRules: async () => (await get("/v1/priceRules", who)).data,
    editable: () => true,
    withWhence: false,
    listId,
    addLabel: t("price.add"),
  });
  return { nodes: editor.nodes, load: editor.load };
}
