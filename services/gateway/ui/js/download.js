// Files the browser downloads: a Blob saved under a name, the name a
// Content-Disposition answer gives, and the export of the customer list as
// it is filtered or searched (the list screen's Export menu). Every string
// comes from the message catalogue (i18n.js).

import { request } from "./api.js";
import { banner, h, replace } from "./dom.js";
import { language, t } from "./i18n.js";

/** Saves a Blob as a file the browser downloads. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** The file name of a Content-Disposition answer, or fallback. */
export function fileName(headers, fallback) {
  const cd = headers.get("Content-Disposition") || "";
  const m = /filename="([^"]+)"/.exec(cd);
  return m ? m[1] : fallback;
}

// The list's filters and search that the export route understands
// (docs/api.md, GET /v1/customers:export).
const EXPORT_FILTERS = ["q", "group", "tag", "isCompany", "hasAccount", "accountStatus"];

const FORMATS = [
  { id: "csv", query: { format: "csv" }, label: "lx.csv" },
  { id: "csv-semicolon", query: { format: "csv", delimiter: ";" }, label: "lx.csvSemicolon" },
  { id: "xlsx", query: { format: "xlsx" }, label: "lx.xlsx" },
];

/**
 * The list screen's Export menu: the customers the list shows now (its
 * filters and search, every page) as CSV, CSV with semicolons or an Excel
 * workbook. filters() answers the list's current state; status is where the
 * outcome is told.
 */
export function exportMenu(filters, status) {
  const menu = h("details", { class: "menu export-menu", id: "list-export" });
  const summary = h("summary", { class: "btn" }, t("lx.export"));
  const items = h("div", { class: "menu-items", role: "menu" });
  menu.append(summary, items);
  for (const f of FORMATS) {
    const item = h("button", { type: "button", class: "btn btn-link", role: "menuitem", dataset: { format: f.id } },
      t(f.label));
    item.addEventListener("click", async () => {
      menu.open = false;
      // Column headings in the user's language, as the Import & export screen's default.
      const query = { ...f.query, headers: language() };
      const now = filters();
      for (const k of EXPORT_FILTERS) if (now[k] !== undefined && now[k] !== "") query[k] = now[k];
      summary.setAttribute("aria-busy", "true");
      replace(status, h("p", { class: "muted" }, t("lx.exporting")));
      try {
        const r = await request("GET", "/v1/customers:export", { query });
        const name = fileName(r.headers, `customers.${query.format}`);
        saveBlob(r.data, name);
        replace(status, banner("ok", t("lx.exported", { name })));
      } catch (e) {
        replace(status, banner("error", t("lx.failed", { message: e.message })));
      } finally {
        summary.removeAttribute("aria-busy");
      }
    });
    items.append(item);
  }
  return menu;
}
