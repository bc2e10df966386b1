// Import and export (#/exchange): the whole customer book out as a CSV file
// or an Excel workbook (downloaded at once, or prepared in the background as
// an export job with its progress and a download kept for a while), and a CSV file or workbook in, with the import's
// progress, its counts and the rows that failed (downloadable to fix and
// import again), and its revert. Every string comes from the message
// catalogue (i18n.js).

import { ApiError, request, seg } from "../api.js";
import { banner, confirmDialog, field, fileChooser, h, replace, scrollTable, select, setTitle } from "../dom.js";
import { fileName, saveBlob } from "../download.js";
import { when } from "../format.js";
import { language, t } from "../i18n.js";

const POLL_MS = 1000;
const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** The export's query (format, separator and column headings) as the form says. */
function exportQuery(format, delimiter, headers) {
  const query = { format: format.value, headers: headers.value };
  if (format.value === "csv" && delimiter.value === ";") query.delimiter = ";";
  return query;
}

/** An export job (POST /v1/exports): started, polled, its file downloaded. */
function exportJob(ctx, format, delimiter, headers, status) {
  const box = h("div", { id: "export-job", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "btn", id: "export-job-start" }, t("xch.jobStart"));
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  const download = async (job) => {
    try {
      const r = await request("GET", `/v1/exports/${seg(job.id)}/file`);
      const name = fileName(r.headers, job.filename);
      saveBlob(r.data, name);
      replace(status, banner("ok", t("xch.exported", { name })));
    } catch (e) {
      const msg = e instanceof ApiError && e.status === 410 ? t("xch.jobGone") : e.message;
      replace(status, banner("error", t("xch.failed", { message: msg })));
    }
  };

  const show = (job) => {
    const written = Number(job.rowsWritten || 0);
    const total = Math.max(Number(job.rowsTotal || 0), written);
    const bar = h("progress", { id: "export-job-progress", max: String(total || 1),
      value: String(job.state === "DONE" ? total || 1 : written) });
    const parts = [
      h("p", { id: "export-job-state" }, `${t(`xch.state.${job.state}`) || job.state}: `,
        t("xch.jobRows", { written, total })),
      bar,
    ];
    if (job.state === "DONE") {
      parts.push(h("p", {}, t("xch.jobReady"), " ", t("xch.jobKept", { time: when(job.expiresAt) })),
        h("p", {}, h("button", { type: "button", class: "btn btn-primary", id: "export-job-download",
          onclick: () => download(job) }, t("xch.jobDownload", { name: job.filename }))));
    } else if (job.state === "FAILED") {
      parts.push(banner("error", t("xch.jobStopped", { message: job.message })));
    } else if (job.state === "EXPIRED") {
      parts.push(banner("error", t("xch.jobGone")));
    }
    replace(box, ...parts);
  };

  const poll = async (id) => {
    if (!ctx.live()) return;
    try {
      const r = await request("GET", `/v1/exports/${seg(id)}`);
      if (!ctx.live()) return;
      show(r.data);
      if (r.data.state !== "QUEUED" && r.data.state !== "RUNNING") {
        button.disabled = false;
        return;
      }
    } catch (e) {
      if (!ctx.live()) return;
      replace(status, banner("error", t("xch.failed", { message: e.message })));
    }
    timer = setTimeout(() => poll(id), POLL_MS);
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    clearTimeout(timer);
    replace(status);
    try {
      const r = await request("POST", "/v1/exports", { body: exportQuery(format, delimiter, headers) });
      show(r.data);
      poll(r.data.id);
    } catch (e) {
      replace(status, banner("error", t("xch.failed", { message: e.message })));
      button.disabled = false;
    }
  });
  return { button, box };
}

function exportSection(ctx) {
  const format = select([["csv", t("xch.formatCsv")], ["xlsx", t("xch.formatXlsx")]], "csv",
    { id: "export-format" });
  const delimiter = select([[",", t("xch.delimComma")], [";", t("xch.delimSemicolon")]], ",",
    { id: "export-delimiter" });
  const delimField = field({ label: t("xch.delimiter"), input: delimiter, hint: t("xch.delimiterHint") });
  // Headings a person reads, in the language of the screen, unless a script wants the API's names.
  const headers = select([[language(), t("xch.headersLang")], ["api", t("xch.headersApi")]], language(),
    { id: "export-headers" });
  const headersField = field({ label: t("xch.headers"), input: headers, hint: t("xch.headersHint") });
  const status = h("div", { id: "export-status", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "btn btn-primary", id: "export-download" },
    t("xch.download"));
  const job = exportJob(ctx, format, delimiter, headers, status);
  format.addEventListener("change", () => {
    delimField.row.hidden = format.value !== "csv";
  });
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, t("xch.exportTitle")),
    h("p", { class: "hint" }, t("xch.exportLead")),
    h("div", { class: "grid grid-2" }, field({ label: t("xch.format"), input: format }).row, delimField.row,
      headersField.row),
    h("div", { class: "form-actions-inline" }, button, job.button),
    h("p", { class: "hint" }, t("xch.jobHint")),
    status, job.box);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    replace(status, h("p", {}, t("xch.exporting")));
    try {
      const r = await request("GET", "/v1/customers:export", { query: exportQuery(format, delimiter, headers) });
      const name = fileName(r.headers, `customers.${format.value}`);
      saveBlob(r.data, name);
      replace(status, banner("ok", t("xch.exported", { name })));
    } catch (e) {
      replace(status, banner("error", t("xch.failed", { message: e.message })));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The job's counts and progress as a definition list. */
function jobSummary(job) {
  const n = (k) => Number(job[k] || 0);
  const state = t(`xch.state.${job.state}`) || job.state;
  const rows = [
    [t("xch.state"), state],
    [t("xch.progress"), job.rowsTotal && Number(job.rowsTotal) > 0
      ? t("xch.rowsOf", { read: n("rowsRead"), total: n("rowsTotal") })
      : t("xch.rowsRead", { read: n("rowsRead") })],
    [job.dryRun ? t("xch.wouldCreate") : t("xch.created"), String(n("created"))],
    [job.dryRun ? t("xch.wouldUpdate") : t("xch.updated"), String(n("updated"))],
    [t("xch.unchanged"), String(n("unchanged"))],
    [t("xch.failedRows"), String(n("failed"))],
  ];
  const dl = h("dl", { class: "kv", id: "import-counts" });
  for (const [k, v] of rows) dl.append(h("dt", {}, k), h("dd", { "data-count": k }, v));
  return dl;
}

/** A revert's progress or counts, and the rows it left as they are. */
function revertSummary(rv) {
  const n = (k) => Number(rv[k] || 0);
  const parts = [rv.state === "DONE"
    ? banner("ok", t("xch.reverted", { removed: n("removed"), restored: n("restored"), skipped: n("skipped") }))
    : h("p", { id: "import-reverting" }, t("xch.reverting", { done: n("rowsDone"), total: n("rowsTotal") }))];
  if ((rv.skips || []).length) {
    const tbody = h("tbody");
    for (const e of rv.skips) tbody.append(h("tr", {}, h("td", {}, String(e.row)), h("td", {}, e.message || e.reason)));
    parts.push(scrollTable(t("xch.skippedRows"),
      h("table", { class: "table", id: "import-revert-skips" },
        h("thead", {}, h("tr", {}, h("th", {}, t("xch.row")), h("th", {}, t("xch.reason")))),
        tbody)));
  }
  parts[0].id = "import-revert-state";
  return parts;
}

function importSection(ctx) {
  const file = h("input", { type: "file", id: "import-file",
    accept: `.csv,.txt,.xlsx,text/csv,${XLSX_TYPE}` });
  const mode = select([
    ["CREATE_OR_UPDATE", t("xch.modeCreateOrUpdate")],
    ["CREATE_ONLY", t("xch.modeCreateOnly")],
    ["UPDATE_ONLY", t("xch.modeUpdateOnly")],
  ], "CREATE_OR_UPDATE", { id: "import-mode" });
  const dry = h("input", { type: "checkbox", id: "import-dry" });
  const fileField = field({ label: t("xch.file"), input: file, hint: t("xch.fileHint"), required: true });
  fileChooser(file);
  const button = h("button", { type: "submit", class: "btn btn-primary", id: "import-start" }, t("xch.start"));
  const status = h("div", { id: "import-status", "aria-live": "polite" });
  const result = h("div", { id: "import-result" });
  const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "import-title" },
    h("h2", { id: "import-title" }, t("xch.importTitle")),
    h("p", { class: "hint" }, t("xch.importLead")),
    h("div", { class: "grid grid-2" }, fileField.row,
      field({ label: t("xch.mode"), input: mode, hint: t("xch.modeHint") }).row),
    h("div", { class: "field check" }, h("label", { for: dry.id }, dry, " ", t("xch.dryRun"))),
    h("div", { class: "form-actions-inline" }, button),
    status, result);

  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  // The column mapping: how each header of the file is read, as the last
  // run found it, changed by the user for the next run (header -> column,
  // "" to ignore it). The layout's columns come from the API once, each
  // with its heading in the screen's language.
  let mapping = {};
  let layout = null;
  file.addEventListener("change", () => { mapping = {}; });
  const mappingTable = async (job) => {
    if (!layout) {
      try {
        const r = (await request("GET", "/v1/imports:columns", { query: { headers: language() } })).data;
        layout = (r.columns || []).map((c, i) => [c, (r.labels || [])[i] ? `${r.labels[i]} (${c})` : c]);
      } catch {
        return null;
      }
    }
    const tbody = h("tbody");
    (job.headers || []).forEach((header, i) => {
      // A header with ';' or '=' cannot be named in a mapping: it keeps what was found.
      if (!header || /[;=]/.test(header)) return;
      const now = header in mapping ? mapping[header] : (job.columns || [])[i] || "";
      const sel = select([["", t("xch.mapIgnore")], ...layout], now,
        { "aria-label": t("xch.mapFieldFor", { header }), dataset: { header } });
      sel.addEventListener("change", () => { mapping[header] = sel.value; });
      tbody.append(h("tr", {}, h("td", {}, header), h("td", {}, sel)));
    });
    if (!tbody.children.length) return null;
    return h("section", { id: "import-mapping", "aria-labelledby": "import-mapping-title" },
      h("h3", { id: "import-mapping-title" }, t("xch.mapTitle")),
      h("p", { class: "hint" }, t("xch.mapLead")),
      scrollTable(t("xch.mapTitle"),
        h("table", { class: "table" },
          h("thead", {}, h("tr", {}, h("th", {}, t("xch.mapHeader")), h("th", {}, t("xch.mapField")))),
          tbody)));
  };

  const failedRows = async (job) => {
    try {
      const r = await request("GET", `/v1/imports/${seg(job.id)}/failedRows`);
      saveBlob(r.data, fileName(r.headers, "failed-rows.csv"));
    } catch (e) {
      replace(status, banner("error", t("xch.failed", { message: e.message })));
    }
  };

  const show = (job) => {
    const parts = [jobSummary(job)];
    if ((job.unknownColumns || []).length) {
      parts.push(h("p", { id: "import-unknown" }, t("xch.unknownColumns", { names: job.unknownColumns.join(", ") })));
    }
    if (job.message) parts.push(banner(job.state === "FAILED" ? "error" : "ok", job.message));
    if ((job.errors || []).length) {
      const tbody = h("tbody");
      for (const e of job.errors) {
        tbody.append(h("tr", {}, h("td", {}, String(e.row)), h("td", {}, e.column || ""), h("td", {}, e.message || e.reason)));
      }
      parts.push(scrollTable(t("xch.failedRows"),
        h("table", { class: "table", id: "import-errors" },
          h("thead", {}, h("tr", {}, h("th", {}, t("xch.row")), h("th", {}, t("xch.column")), h("th", {}, t("xch.reason")))),
          tbody)));
    }
    const ended = job.state === "DONE" || job.state === "FAILED";
    if (Number(job.failed || 0) > 0 && ended) {
      parts.push(h("p", {}, h("button", { type: "button", class: "btn", id: "import-failed-download",
        onclick: () => failedRows(job) }, t("xch.downloadFailed"))));
    }
    const wrote = Number(job.created || 0) + Number(job.updated || 0) > 0;
    if (ended && !job.dryRun && wrote && !job.revert) {
      parts.push(h("p", {}, h("button", { type: "button", class: "btn btn-danger", id: "import-revert",
        onclick: () => revert(job) }, t("xch.revert"))));
    }
    if (job.revert) parts.push(...revertSummary(job.revert));
    replace(result, ...parts);
    if (ended && !job.revert) {
      mappingTable(job).then((table) => { if (table && ctx.live()) result.append(table); });
    }
  };

  const revert = async (job) => {
    const ok = await confirmDialog({
      title: t("xch.revertTitle"),
      message: t("xch.revertMessage"),
      confirmLabel: t("xch.revertConfirm"),
      cancelLabel: t("xch.cancel"),
    });
    if (!ok || !ctx.live()) return;
    try {
      const r = await request("POST", `/v1/imports/${seg(job.id)}:revert`, { body: {} });
      show(r.data);
      clearTimeout(timer);
      poll(job.id);
    } catch (e) {
      replace(status, banner("error", t("xch.failed", { message: e.message })));
    }
  };

  const poll = async (id) => {
    if (!ctx.live()) return;
    try {
      const r = await request("GET", `/v1/imports/${seg(id)}`);
      if (!ctx.live()) return;
      show(r.data);
      const reverting = r.data.revert && r.data.revert.state !== "DONE";
      if ((r.data.state === "DONE" || r.data.state === "FAILED") && !reverting) {
        replace(status, banner(r.data.state === "DONE" ? "ok" : "error",
          t(r.data.state === "DONE" ? (r.data.dryRun ? "xch.dryDone" : "xch.done") : "xch.jobFailed")));
        button.disabled = false;
        return;
      }
    } catch (e) {
      if (!ctx.live()) return;
      replace(status, banner("error", t("xch.failed", { message: e.message })));
    }
    timer = setTimeout(() => poll(id), POLL_MS);
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fileField.error.hidden = true;
    const f = file.files && file.files[0];
    if (!f) {
      fileField.error.textContent = t("xch.chooseFile");
      fileField.error.hidden = false;
      file.focus();
      return;
    }
    button.disabled = true;
    replace(result);
    replace(status, h("p", {}, t("xch.uploading", { name: f.name })));
    try {
      const xlsx = /\.xlsx$/i.test(f.name) || f.type === XLSX_TYPE;
      const r = await request("POST", "/v1/imports", {
        raw: f,
        contentType: xlsx ? XLSX_TYPE : "text/csv",
        query: {
          mode: mode.value,
          dryRun: dry.checked ? "true" : "",
          mapping: Object.entries(mapping).map(([k, v]) => `${k}=${v}`).join(";"),
        },
      });
      replace(status, h("p", {}, t("xch.running")));
      show(r.data);
      poll(r.data.id);
    } catch (e) {
      const msg = e instanceof ApiError && e.status === 413 ? t("xch.tooLarge") : e.message;
      replace(status, banner("error", t("xch.failed", { message: msg })));
      button.disabled = false;
    }
  });
  return form;
}

export async function renderExchange(view, ctx) {
  setTitle(t("xch.title"));
  replace(view,
    h("h1", { tabindex: "-1" }, t("xch.title")),
    exportSection(ctx),
    importSection(ctx));
}
