// Tasks as the card and the Tasks page show them: one item (tick done, edit,
// delete) and the add/edit form (title, description, due date and time in the
// reader's time zone, assignee). The API: POST /v1/customers/{id}/tasks (or
// /v1/tasks), PATCH and DELETE /v1/tasks/{id} with If-Match.

import { newRequestKey, request, seg } from "./api.js";
import { confirmDialog, field, h, newId, replace, select, toast } from "./dom.js";
import { counter, clearErrors, showErrors } from "./forms.js";
import { due, fromLocalInput, toLocalInput, when, zoneNote } from "./format.js";
import { can, currentMember, loadStaff } from "./session.js";
import { t } from "./i18n.js";

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 10000;

/** Who a StaffMember is, for people. */
export function staffName(m) {
  return (m && (m.name || m.id)) || "";
}

/**
 * The add/edit form of a task. task: the task to edit, or null to add one
 * (for customerId when given). onSaved(task) after a save, onCancel() for
 * Cancel (the form is then the caller's to remove). Returns the <form>.
 */
export function taskForm({ task = null, customerId = "", onSaved, onCancel }) {
  const uid = newId("task");
  const title = h("input", { type: "text", id: `${uid}-title`, class: "task-title-input", maxlength: TITLE_MAX, autocomplete: "off" });
  const description = h("textarea", { id: `${uid}-description`, class: "task-description-input", rows: 3 });
  const dueInput = h("input", { type: "datetime-local", id: `${uid}-due`, class: "task-due-input" });
  // The assignee is chosen from the team (GET /v1/staff); "" is whoever saves it.
  const me = currentMember();
  const currentId = (task && task.assignee && task.assignee.id) || "";
  const initial = me && currentId === me.id ? "" : currentId;
  const assignee = select([["", t("task.assignMe")]], "", { id: `${uid}-assignee`, class: "task-assignee-input" });
  if (initial) {
    assignee.append(h("option", { value: initial }, staffName(task.assignee)));
    assignee.value = initial;
  }
  const names = new Map(); // member id -> name, sent with the id (the task keeps both)
  if (initial) names.set(initial, staffName(task.assignee));
  loadStaff().then((staff) => {
    for (const m of staff) {
      names.set(m.id, m.name || m.email);
      if (m.status === "DISABLED" || m.id === initial || (me && m.id === me.id)) continue;
      assignee.append(h("option", { value: m.id }, m.name ? `${m.name} (${m.email})` : m.email));
    }
  }).catch(() => {
    // No team list (an API key without the staff route): only "me" and the current assignee.
  });
  if (task) {
    title.value = task.title || "";
    description.value = task.description || "";
    dueInput.value = toLocalInput(task.dueAt);
  }
  const fields = {
    title: field({ label: t("task.title"), input: title, required: true }),
    description: field({ label: t("task.description"), input: description }),
    dueAt: field({ label: t("task.due"), input: dueInput, hint: [t("task.dueHint"), zoneNote("zone.input")].filter(Boolean).join(" ") }),
    assignee: field({ label: t("task.assignee"), input: assignee, hint: t("task.assigneePick") }),
  };
  const desc = counter(description, DESCRIPTION_MAX);
  fields.description.row.append(desc.el);
  const summary = h("div", { class: "form-summary" });
  const save = h("button", { type: "submit", class: "btn btn-primary task-save" }, t(task ? "task.save" : "task.add"));
  const cancel = h("button", { type: "button", class: "btn task-cancel" }, t("common.cancel"));
  cancel.addEventListener("click", () => onCancel && onCancel());
  const form = h("form", { class: "task-form", novalidate: true, "aria-label": t(task ? "task.editTheTask" : "task.addATask") },
    summary,
    h("div", { class: "grid" }, fields.title.row, fields.dueAt.row, fields.description.row, fields.assignee.row),
    h("div", { class: "form-actions-inline" }, save, cancel));
  fields.description.row.classList.add("field-wide");
  form.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && onCancel) {
      ev.preventDefault();
      onCancel();
    }
  });
  const createKey = newRequestKey();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, summary);
    const body = {};
    const dueValue = fromLocalInput(dueInput.value);
    const who = assignee.value;
    if (task) {
      // Only what changed, so a concurrent edit of another field stays.
      if (title.value.trim() !== (task.title || "")) body.title = title.value.trim();
      if (description.value !== (task.description || "")) body.description = description.value;
      if (dueInput.value !== toLocalInput(task.dueAt)) body.dueAt = dueValue;
      if (who !== initial) body.assignee = who ? { id: who, name: names.get(who) || "" } : { id: "me" };
      if (!Object.keys(body).length) {
        onSaved && onSaved(task);
        return;
      }
    } else {
      body.title = title.value.trim();
      if (description.value) body.description = description.value;
      if (dueValue) body.dueAt = dueValue;
      if (who) body.assignee = { id: who, name: names.get(who) || "" };
    }
    save.disabled = true;
    try {
      let saved;
      if (task) {
        saved = (await request("PATCH", `/v1/tasks/${seg(task.id)}`, {
          body, headers: { "If-Match": `"${task.etag}"` },
        })).data;
      } else {
        const path = customerId ? `/v1/customers/${seg(customerId)}/tasks` : "/v1/tasks";
        saved = (await request("POST", path, { body, headers: { "Idempotency-Key": createKey } })).data;
      }
      toast(t(task ? "task.saved" : "task.added"));
      onSaved && onSaved(saved);
    } catch (e) {
      if (e.status === 412) {
        replace(summary, h("div", { class: "banner banner-error", role: "alert" },
          h("p", {}, t("task.conflict"))));
      } else {
        showErrors(e, fields, summary);
      }
    } finally {
      save.disabled = false;
    }
  });
  setTimeout(() => title.focus(), 0);
  return form;
}

/**
 * One task: a done checkbox, title, due (overdue marked), assignee, the
 * customer (showCustomer), description, and Edit/Delete. onChange() after any
 * change (the caller reloads). Returns an <li>.
 */
export function taskItem(task, { showCustomer = false, onChange } = {}) {
  const uid = newId("t");
  const box = h("input", { type: "checkbox", id: `${uid}-done`, class: "task-done", checked: Boolean(task.done), disabled: !can("notes:write") });
  const titleId = `${uid}-title`;
  box.setAttribute("aria-labelledby", titleId);
  box.setAttribute("aria-describedby", `${uid}-meta`);
  const li = h("li", { class: `task${task.done ? " task-is-done" : ""}${task.overdue ? " task-overdue" : ""}`, dataset: { id: task.id } });
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      await request("PATCH", `/v1/tasks/${seg(task.id)}`, { body: { done: box.checked }, headers: { "If-Match": `"${task.etag}"` } });
      toast(t(box.checked ? "task.doneToast" : "task.reopened", { title: task.title }));
      onChange && onChange();
    } catch (e) {
      box.checked = !box.checked;
      box.disabled = false;
      toast(e.status === 412 ? t("task.reloaded") : e.message, "error");
      if (e.status === 412 && onChange) onChange();
    }
  });
  const edit = h("button", { type: "button", class: "btn btn-small task-edit", "aria-label": t("task.editOne", { title: task.title }) }, t("common.edit"));
  const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet task-delete", "aria-label": t("task.deleteOne", { title: task.title }) }, t("common.delete"));
  const meta = [];
  if (task.dueAt) {
    meta.push(h("span", { class: task.overdue ? "task-due overdue" : "task-due" },
      task.overdue ? h("strong", {}, t("task.overdueLabel")) : t("task.dueLabel"), h("time", { datetime: task.dueAt }, due(task.dueAt))));
  } else {
    meta.push(h("span", { class: "task-due muted" }, t("task.noDue")));
  }
  if (staffName(task.assignee)) meta.push(h("span", { class: "task-assignee" }, t("task.forWho", { who: staffName(task.assignee) })));
  // Who added it, when someone other than the assignee did.
  if (staffName(task.createdBy) && (!task.assignee || task.createdBy.id !== task.assignee.id)) {
    meta.push(h("span", { class: "task-author" }, t("task.addedBy", { who: staffName(task.createdBy) })));
  }
  if (task.done && task.doneAt) meta.push(h("span", {}, t("task.doneAt", { when: when(task.doneAt) })));
  if (showCustomer && task.customerId) {
    meta.push(h("a", { class: "task-customer", href: `#/customers/${encodeURIComponent(task.customerId)}` }, task.customerName || t("task.theCustomer")));
  }
  const view = () => replace(li,
    h("div", { class: "task-row" },
      box,
      h("div", { class: "task-main" },
        h("span", { class: "task-title", id: titleId }, task.title),
        h("div", { class: "task-meta small", id: `${uid}-meta` }, meta.map((m, i) => (i ? [" · ", m] : m))),
        task.description ? h("p", { class: "task-description note small" }, task.description) : null),
      h("div", { class: "task-actions" }, edit, del)));
  edit.addEventListener("click", () => {
    replace(li, taskForm({
      task,
      onSaved: () => onChange && onChange(),
      onCancel: () => {
        view();
        edit.focus();
      },
    }));
  });
  del.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: t("task.deleteTitle"), message: t("task.deleteMessage", { title: task.title }) });
    if (!ok) return;
    try {
      await request("DELETE", `/v1/tasks/${seg(task.id)}`, { headers: { "If-Match": `"${task.etag}"` } });
      toast(t("task.deleted"));
      onChange && onChange();
    } catch (e) {
      toast(e.message, "error");
    }
  });
  view();
  return li;
}
