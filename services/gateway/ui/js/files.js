// A customer's files on the card: the list (name, size, date, who), upload
// (the phone's file picker offers the camera too), download, delete with a
// confirmation, and the latest signature under the terms with its version.
// The API: GET/POST /v1/customers/{id}/files (the body is the file, its name
// in ?filename=), GET .../files/{fileId}/content (an attachment), DELETE
// .../files/{fileId}. Every string comes from i18n.js.

import { get, newRequestKey, request, seg } from "./api.js";
import { banner, confirmDialog, h, replace, toast } from "./dom.js";
import { saveBlob } from "./download.js";
import { blobUrl } from "./photo.js";
import { when } from "./format.js";
import { staffName } from "./taskkit.js";
import { locale, t } from "./i18n.js";

// The notes service's file_max_bytes default (docs/api.md, limits).
export const FILE_MAX = 10 * 1024 * 1024;

/** "512 B", "12.5 KB", "3.2 MB" in the reader's locale. */
export function sizeText(bytes) {
  const n = Number(bytes || 0);
  const fmt = (x) => new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(x);
  if (n < 1024) return t("fil.bytes", { n: fmt(n) });
  if (n < 1024 * 1024) return t("fil.kib", { n: fmt(n / 1024) });
  return t("fil.mib", { n: fmt(n / (1024 * 1024)) });
}

const contentPath = (customerId, f) => `/v1/customers/${seg(customerId)}/files/${seg(f.id)}/content`;

/** The file's bytes as a Blob. */
async function fetchFile(customerId, f) {
  const { data } = await request("GET", contentPath(customerId, f));
  return data instanceof Blob ? data : new Blob([]);
}

/**
 * The files section of customer c. onChange() after an upload or a delete
 * (the timeline shows them). Returns {section, load}; call load() once.
 */
export function filesSection(c, { onChange } = {}) {
  const list = h("ul", { class: "files", id: "files", "aria-label": t("fil.title") });
  const status = h("div", { class: "files-status", "aria-live": "polite" });
  const signature = h("div", { class: "signature-latest", id: "signature-latest" });

  const input = h("input", { type: "file", id: "file-upload", class: "file-upload-input", multiple: true });
  const uploadLabel = h("label", { class: "btn btn-primary file-upload", for: "file-upload" }, t("fil.upload"), input);
  const signLink = h("a", { class: "btn", id: "sign-on-tablet", href: `#/sign/${encodeURIComponent(c.id)}` }, t("fil.signOnTablet"));
  input.addEventListener("change", async () => {
    const chosen = Array.from(input.files || []);
    input.value = "";
    for (const file of chosen) await upload(file);
    await load();
    onChange && onChange();
  });

  async function upload(file) {
    if (file.size > FILE_MAX) {
      replace(status, banner("error", t("fil.tooLarge", { name: file.name, max: sizeText(FILE_MAX) })));
      return;
    }
    replace(status, h("p", { class: "muted" }, t("fil.uploading", { name: file.name })));
    try {
      await request("POST", `/v1/customers/${seg(c.id)}/files`, {
        raw: file,
        contentType: file.type || "application/octet-stream",
        query: { filename: file.name },
        headers: { "Idempotency-Key": newRequestKey() },
      });
      replace(status);
      toast(t("fil.uploaded", { name: file.name }));
    } catch (e) {
      replace(status, banner("error", t("fil.failed", { name: file.name, message: e.message })));
    }
  }

  const section = h("section", { class: "card files-card", "aria-labelledby": "files-title", id: "files-section" },
    h("div", { class: "section-head" }, h("h2", { id: "files-title" }, t("fil.title")),
      h("div", { class: "files-actions" }, signLink, uploadLabel)),
    h("p", { class: "hint" }, t("fil.hint", { max: sizeText(FILE_MAX) })),
    signature, status, list);

  function item(f) {
    const download = h("button", { type: "button", class: "btn btn-link file-name-link", "aria-label": t("fil.download", { name: f.filename }) }, f.filename);
    download.addEventListener("click", async () => {
      try {
        saveBlob(await fetchFile(c.id, f), f.filename);
      } catch (e) {
        toast(e.message, "error");
      }
    });
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet file-delete", "aria-label": t("fil.delete", { name: f.filename }) }, t("common.delete"));
    del.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: t("fil.deleteTitle"), message: t("fil.deleteMessage", { name: f.filename }) });
      if (!ok) return;
      try {
        await request("DELETE", `/v1/customers/${seg(c.id)}/files/${seg(f.id)}`);
        toast(t("fil.deleted", { name: f.filename }));
        await load();
        onChange && onChange();
      } catch (e) {
        toast(e.message, "error");
      }
    });
    return h("li", { class: "file-item", dataset: { id: f.id, kind: f.kind || "FILE" } },
      h("div", { class: "file-main" }, download,
        h("p", { class: "muted small file-meta" },
          t("fil.meta", { size: sizeText(f.size), when: when(f.createdAt), who: staffName(f.createdBy) || t("card.someoneCap") }))),
      del);
  }

  async function showSignature(f) {
    if (!f) {
      replace(signature, h("p", { class: "muted" }, t("fil.noSignature")));
      return;
    }
    const img = h("img", { class: "signature-image", alt: t("fil.signatureOf", { version: f.termsVersion }) });
    replace(signature, h("h3", {}, t("fil.signature")), img,
      h("p", { class: "small", id: "signature-version" },
        t("fil.signedLine", { version: f.termsVersion, when: when(f.createdAt), who: staffName(f.createdBy) || t("card.someoneCap") })));
    try {
      img.src = blobUrl(await fetchFile(c.id, f));
    } catch {
      img.remove();
    }
  }

  async function load() {
    let files;
    try {
      files = (await get(`/v1/customers/${seg(c.id)}/files`)).data.files || [];
    } catch (e) {
      replace(list, h("li", {}, banner("error", t("fil.loadFailed", { message: e.message }))));
      return;
    }
    showSignature(files.find((f) => f.kind === "SIGNATURE"));
    replace(list, files.length ? files.map(item) : h("li", { class: "muted" }, t("fil.none")));
  }

  return { section, load };
}
