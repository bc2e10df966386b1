// The VAT status of a company on the customer's card (company.vatCheck, which
// the company service records: POST /v1/customers/{id}:verifyVat): the
// status, its evidence (when, VIES's consultation number, the name and
// address VIES gave, or the code of an outage), and "Verify again". Every
// string: i18n.js.

import { ApiError, request, seg } from "./api.js";
import { h, replace } from "./dom.js";
import { when } from "./format.js";
import { t } from "./i18n.js";

const STATUSES = ["UNVERIFIED", "PENDING", "VALID", "INVALID", "UNAVAILABLE"];

/** The status of a check in words: "Valid", "Pending: VIES could not answer (…)…". */
export function vatStatusText(check) {
  const v = check || {};
  const status = STATUSES.includes(v.status) ? v.status : "UNVERIFIED";
  return t(`vatcheck.${status}`, { code: v.errorCode || "" });
}

function facts(v) {
  const rows = [];
  const add = (key, value) => {
    if (value) rows.push(h("dt", {}, t(key)), h("dd", {}, value));
  };
  add("vatcheck.checkedAt", v.checkedAt ? h("time", { datetime: v.checkedAt }, when(v.checkedAt)) : "");
  add("vatcheck.consultation", v.consultationNumber ? h("code", { id: "vat-consultation" }, v.consultationNumber) : "");
  add("vatcheck.viesName", v.nameWithheld ? t("vatcheck.withheld") : v.name);
  add("vatcheck.viesAddress", v.addressWithheld ? t("vatcheck.withheld")
    : v.address ? h("span", { class: "pre" }, v.address) : "");
  return rows.length ? h("dl", { class: "facts vat-facts" }, rows) : null;
}

/**
 * The status block for customer c (a company with a VAT number); onChange(customer)
 * is called with the customer as recorded after "Verify again".
 */
export function vatCheckView(c, onChange) {
  const box = h("div", { class: "vat-check", id: "vat-check" });
  const render = (cust) => {
    const v = (cust.company && cust.company.vatCheck) || {};
    const status = STATUSES.includes(v.status) ? v.status : "UNVERIFIED";
    const checked = status !== "UNVERIFIED";
    const button = h("button", { type: "button", class: "btn btn-small", id: "vat-verify" },
      t(checked ? "vatcheck.verify" : "vatcheck.verifyFirst"));
    const said = h("p", { class: "vat-status muted", id: "vat-verify-status", role: "status", "aria-live": "polite" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      replace(said, t("vatcheck.verifying"));
      try {
        const got = (await request("POST", `/v1/customers/${seg(cust.id)}:verifyVat`, { body: { fill: false } })).data;
        render(got);
        if (onChange) onChange(got);
      } catch (e) {
        const d = e instanceof ApiError ? e.details[0] : null;
        said.className = "vat-status field-error";
        replace(said, t("vatcheck.failed", { message: (d && d.description) || e.message }));
        button.disabled = false;
      }
    });
    replace(box,
      h("p", { class: "vat-check-line" },
        h("span", { class: `vat-badge vat-${status.toLowerCase()}`, id: "vat-check-status", dataset: { status } },
          vatStatusText(v))),
      facts(v),
      h("div", { class: "vat-download" }, button, said));
  };
  render(c);
  return box;
}
