// Private notes on the customer card: add, edit, delete, pin and unpin; each
// with its author and time. The API: /v1/customers/{id}/notes (pinned first,
// then newest first), PATCH/DELETE .../notes/{noteId} with If-Match. Up to
// 10,000 characters, with a live counter; the API's errors show at the field.

import { get, newRequestKey, request, seg } from "./api.js";
import { banner, confirmDialog, field, h, newId, replace, toast } from "./dom.js";
import { clearErrors, counter, showErrors } from "./forms.js";
import { when } from "./format.js";
import { staffName } from "./taskkit.js";
import { t } from "./i18n.js";

export const NOTE_MAX = 10000;
const PAGE_SIZE = 50;

/** The textarea of a note with its label, counter and error; {row, input, error, counter}. */
function noteField(label, value, id = newId("note")) {
  const input = h("textarea", { id, class: "note-input", rows: 4 });
  input.value = value || "";
  const f = field({ label, input, hint: t("common.staffOnly") });
  const c = counter(input, NOTE_MAX);
  f.row.append(c.el);
  return { ...f, counter: c };
}

/**
 * The notes section of customer customerId. onChange() after any change (the
 * timeline shows notes too). Returns {section, load}; call load() once.
 */
export function notesSection(customerId, { onChange } = {}) {
  const list = h("ol", { class: "notes", id: "notes", "aria-label": t("enum.kind.NOTE") });
  const more = h("button", { type: "button", class: "btn", id: "notes-more", hidden: true }, t("card.olderNotes"));
  const status = h("div", { class: "notes-status" });

  // ---- adding
  const add = noteField(t("card.newNote"), "", "note-new");
  const pin = h("input", { type: "checkbox", id: "note-new-pinned" });
  const addSummary = h("div", { class: "form-summary" });
  const addBtn = h("button", { type: "submit", class: "btn btn-primary", id: "note-add" }, t("card.addNote"));
  let createKey = newRequestKey();
  const addForm = h("form", { class: "note-form", id: "note-form", novalidate: true, "aria-label": t("card.addANote") },
    addSummary, add.row,
    h("div", { class: "form-actions-inline" }, addBtn,
      h("label", { class: "check-row inline", for: "note-new-pinned" }, pin, " ", t("card.pinTop"))));
  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors({ body: add }, addSummary);
    addBtn.disabled = true;
    try {
      await request("POST", `/v1/customers/${seg(customerId)}/notes`, {
        body: { body: add.input.value, pinned: pin.checked },
        headers: { "Idempotency-Key": createKey },
      });
      createKey = newRequestKey();
      add.input.value = "";
      pin.checked = false;
      add.counter.update();
      toast(t("card.noteAdded"));
      await load();
      onChange && onChange();
      add.input.focus();
    } catch (e) {
      showErrors(e, { body: add }, addSummary);
    } finally {
      addBtn.disabled = false;
    }
  });

  const section = h("section", { class: "card notes-card", "aria-labelledby": "notes-title", id: "notes-section" },
    h("h2", { id: "notes-title" }, t("enum.kind.NOTE")), addForm, status, list, more);

  // ---- one note
  function item(n) {
    const li = h("li", { class: `note-item${n.pinned ? " note-pinned" : ""}`, dataset: { id: n.id } });
    const edited = n.updatedAt && n.createdAt && n.updatedAt !== n.createdAt;
    const show = () => {
      const editBtn = h("button", { type: "button", class: "btn btn-small note-edit", "aria-label": t("card.editNote") }, t("common.edit"));
      const pinBtn = h("button", { type: "button", class: "btn btn-small note-pin", "aria-pressed": n.pinned ? "true" : "false" },
        t(n.pinned ? "card.unpin" : "card.pin"));
      const delBtn = h("button", { type: "button", class: "btn btn-small btn-danger-quiet note-delete", "aria-label": t("card.deleteNote") }, t("common.delete"));
      editBtn.addEventListener("click", () => editing(editBtn));
      pinBtn.addEventListener("click", () => patch({ pinned: !n.pinned }, pinBtn));
      delBtn.addEventListener("click", async () => {
        const ok = await confirmDialog({ title: t("card.deleteNoteTitle"), message: t("card.deleteNoteMessage") });
        if (!ok) return;
        try {
          await request("DELETE", `/v1/customers/${seg(customerId)}/notes/${seg(n.id)}`, { headers: { "If-Match": `"${n.etag}"` } });
          toast(t("card.noteDeleted"));
          await load();
          onChange && onChange();
          (list.querySelector(".note-edit") || add.input).focus();
        } catch (e) {
          toast(e.status === 412 ? t("card.noteChangedDelete") : e.message, "error");
          if (e.status === 412) load();
        }
      });
      replace(li,
        h("div", { class: "note-head small" },
          n.pinned ? h("span", { class: "chip note-pin-mark" }, t("card.pinned")) : null,
          h("strong", { class: "note-author" }, staffName(n.author) || t("card.someoneCap")),
          h("time", { class: "muted", datetime: n.createdAt }, when(n.createdAt)),
          edited ? h("span", { class: "muted note-edited" },
            staffName(n.editedBy) ? t("card.editedBy", { who: staffName(n.editedBy), when: when(n.updatedAt) })
              : t("card.edited", { when: when(n.updatedAt) })) : null),
        h("p", { class: "note note-body" }, n.body),
        h("div", { class: "note-actions" }, pinBtn, editBtn, delBtn));
    };
    const editing = (returnTo) => {
      const f = noteField(t("card.editTheNote"), n.body);
      const summary = h("div", { class: "form-summary" });
      const save = h("button", { type: "submit", class: "btn btn-primary note-save" }, t("card.saveNote"));
      const cancel = h("button", { type: "button", class: "btn note-cancel" }, t("common.cancel"));
      const form = h("form", { class: "note-form", novalidate: true, "aria-label": t("card.editTheNote") },
        summary, f.row, h("div", { class: "form-actions-inline" }, save, cancel));
      const back = () => {
        show();
        const again = li.querySelector(".note-edit");
        (again || returnTo).focus();
      };
      cancel.addEventListener("click", back);
      form.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") {
          ev.preventDefault();
          back();
        }
      });
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (f.input.value === n.body) {
          back();
          return;
        }
        save.disabled = true;
        try {
          await patch({ body: f.input.value }, null, true);
        } catch (e) {
          if (e.status === 412) {
            replace(summary, banner("error", t("card.noteConflict")));
          } else {
            showErrors(e, { body: f }, summary);
          }
        } finally {
          save.disabled = false;
        }
      });
      replace(li, form);
      f.input.focus();
    };
    // PATCH with If-Match; rethrows when asked (the edit form shows errors itself).
    const patch = async (body, btn, rethrow = false) => {
      if (btn) btn.disabled = true;
      try {
        await request("PATCH", `/v1/customers/${seg(customerId)}/notes/${seg(n.id)}`, {
          body, headers: { "If-Match": `"${n.etag}"` },
        });
        toast(t("pinned" in body ? (body.pinned ? "card.notePinned" : "card.noteUnpinned") : "card.noteSaved"));
        await load();
        onChange && onChange();
        const again = list.querySelector(`li[data-id="${CSS.escape(n.id)}"] ${"pinned" in body ? ".note-pin" : ".note-edit"}`);
        if (again) again.focus();
      } catch (e) {
        if (rethrow) throw e;
        if (btn) btn.disabled = false;
        toast(e.status === 412 ? t("card.noteReloaded") : e.message, "error");
        if (e.status === 412) load();
      }
    };
    show();
    return li;
  }

  // ---- loading: every page up to the one last shown
  let pages = 1;
  let seq = 0; // only the latest load's answer is shown: an earlier one is older
  async function load(extra = false) {
    if (extra) pages += 1;
    seq += 1;
    const mine = seq;
    more.disabled = true;
    const notes = [];
    let token = ""; // each load its own: two that overlap must not read each other's pages
    try {
      for (let i = 0; i < pages; i++) {
        const { data } = await get(`/v1/customers/${seg(customerId)}/notes`, { pageSize: PAGE_SIZE, pageToken: token });
        notes.push(...(data.notes || []));
        token = data.nextPageToken || "";
        if (!token) break;
      }
    } catch (e) {
      if (mine !== seq) return;
      replace(status, banner("error", t("card.notesFailed", { message: e.message }),
        h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      more.disabled = false;
      return;
    }
    if (mine !== seq) return;
    replace(status);
    replace(list, notes.map(item));
    if (!notes.length) list.append(h("li", { class: "muted empty-note" }, t("card.noNotesYet")));
    more.hidden = !token;
    more.disabled = false;
  }
  more.addEventListener("click", () => load(true));
  return { section, load };
}
