// "Download data" beside a company's VAT number: asks the company service
// (POST /v1/company:lookup, which asks the EU's VIES) and fills the company's
// name and address where they are empty or still what the last download put
// there, so nothing staff typed is overwritten. Says plainly what happened,
// and that an outage of VIES decided nothing: once the customer is saved the
// form asks for a verification (afterSave), which the company service retries
// in the background until VIES answers. Every string: i18n.js.

import { ApiError, request, seg } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

/**
 * The control for the inputs {vat, name, address} (input/textarea elements).
 * Returns {row, stop, afterSave}: the element to place under the VAT number,
 * what the view calls when it is left, and what it calls with the customer
 * once saved.
 */
export function vatDownload({ vat, name, address }) {
  const button = h("button", { type: "button", class: "btn btn-small", id: "vat-download" }, t("vat.download"));
  const status = h("p", { class: "vat-status muted", id: "vat-status", role: "status", "aria-live": "polite" });
  const row = h("div", { class: "vat-download field-wide" }, button, status);
  const filled = { name: null, address: null }; // what the last download wrote
  let inflight = null;
  let unanswered = null; // the number VIES could not check at the last download

  const settable = (el, key) => !el.value.trim() || el.value === filled[key];
  const say = (text, kind) => {
    status.className = `vat-status ${kind || "muted"}`;
    replace(status, text);
  };

  button.addEventListener("click", async () => {
    const number = vat.value.trim();
    if (!number) {
      say(t("vat.needNumber"), "field-error");
      vat.focus();
      return;
    }
    if (inflight) inflight.abort();
    const abort = new AbortController();
    inflight = abort;
    unanswered = null;
    button.disabled = true;
    say(t("vat.downloading"));
    try {
      const js = (await request("POST", "/v1/company:lookup", { body: { vatNumber: number }, signal: abort.signal })).data;
      if (!js.valid) {
        say(t("vat.invalid", { vat: js.vatNumber || number }), "field-error");
        return;
      }
      vat.value = js.vatNumber || number;
      const wrote = [];
      if (js.name && settable(name, "name")) {
        name.value = js.name;
        filled.name = js.name;
        wrote.push(t("vat.name"));
      }
      const text = (js.addressLines || []).join("\n") || js.address || "";
      if (text && settable(address, "address")) {
        address.value = text;
        filled.address = text;
        wrote.push(t("vat.address"));
      }
      for (const el of [vat, name, address]) el.dispatchEvent(new Event("input", { bubbles: true }));
      if (js.nameWithheld && js.addressWithheld) say(t("vat.withheld", { country: js.countryCode }));
      else if (wrote.length) say(t("vat.filled", { what: wrote.join(t("vat.and")) }), "ok");
      else say(t("vat.validNothing"));
    } catch (e) {
      if (e && e.name === "AbortError") return;
      if (e instanceof ApiError && e.status === 503) {
        const d = e.details.find((x) => x.field === "vatNumber") || {};
        unanswered = number;
        say(t("vat.unavailableRetry", { code: d.reason || e.code }), "field-error");
      } else {
        const d = e instanceof ApiError ? e.details[0] : null;
        say(t("vat.error", { message: (d && d.description) || e.message }), "field-error");
      }
    } finally {
      if (inflight === abort) inflight = null;
      button.disabled = false;
    }
  });
  return {
    row,
    stop: () => {
      if (inflight) inflight.abort();
    },
    // After a download VIES could not answer, and with the number unchanged since: the
    // verification, PENDING at first, is retried by the company service until VIES answers
    // (and fills the name and address where they are empty then).
    afterSave: async (customer) => {
      if (!unanswered || vat.value.trim() !== unanswered || !customer || !customer.company ||
          !customer.company.vatNumber) return;
      unanswered = null;
      try {
        await request("POST", `/v1/customers/${seg(customer.id)}:verifyVat`, { body: { fill: true } });
      } catch (e) {
        // The card shows the status as it is, and "Verify again".
      }
    },
  };
}
