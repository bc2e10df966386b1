// "Download data" beside a company's VAT number: asks the company service
// (POST /v1/company:lookup, which asks the EU's VIES) and fills the company's
// name and address where they are empty or still what the last download put
// there, so nothing staff typed is overwritten. Says plainly what happened,
// and that an outage of VIES decided nothing. Every string: i18n.js.

import { ApiError, request } from "./api.js";
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

/**
 * The control for the inputs {vat, name, address} (input/textarea elements).
 * Returns {row, stop}: the element to place under the VAT number, and what
 * the view calls when it is left.
 */
export function vatDownload({ vat, name, address }) {
  const button = h("button", { type: "button", class: "btn btn-small", id: "vat-download" }, t("vat.download"));
  const status = h("p", { class: "vat-status muted", id: "vat-status", role: "status", "aria-live": "polite" });
  const row = h("div", { class: "vat-download field-wide" }, button, status);
  const filled = { name: null, address: null }; // what the last download wrote
  let inflight = null;

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
        const seconds = (/retry in (\d+)/.exec(e.message) || [])[1] || "60";
        say(t("vat.unavailable", { code: d.reason || e.code, seconds }), "field-error");
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
  };
}
