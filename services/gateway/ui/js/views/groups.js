// Groups: the list with customer counts and colours; create, rename,
// recolour, describe and delete. A group's customers are one click away
// (the customer list filtered by it).

import { ApiError, request, seg } from "../api.js";
import { banner, confirmDialog, field, h, newId, replace, safeColor, setTitle, toast } from "../dom.js";
import { plural } from "../format.js";
import { forgetGroups, loadGroups } from "../session.js";

const PALETTE = ["#1e88e5", "#43a047", "#f4511e", "#8e24aa", "#fdd835", "#00897b", "#d81b60", "#6d4c41", "#546e7a"];

/** A colour picker: preset swatches (buttons) and the browser's own picker. */
function colorPicker(value, idPrefix) {
  const input = h("input", { type: "color", id: `${idPrefix}-color`, class: "color-input" });
  input.value = safeColor(value || PALETTE[0]);
  const swatches = PALETTE.map((c) => h("button", {
    type: "button",
    class: "swatch-btn",
    style: { backgroundColor: c },
    "aria-label": `Colour ${c}`,
    onclick: () => {
      input.value = c;
      input.dispatchEvent(new Event("input"));
    },
  }));
  return { input, row: h("div", { class: "color-picker" }, input, h("div", { class: "swatches" }, swatches)) };
}

export async function renderGroups(view, ctx) {
  setTitle("Groups");
  const message = h("div", {});
  const tbody = h("tbody");
  const count = h("p", { class: "total", id: "group-count" });

  // ---- create
  const name = h("input", { type: "text", id: "new-group-name", autocomplete: "off", maxlength: 200 });
  const nameField = field({ label: "Name", input: name, required: true, hint: "For example Regulars, New customers, VIP" });
  const desc = h("input", { type: "text", id: "new-group-description", autocomplete: "off" });
  const descField = field({ label: "Description", input: desc });
  const color = colorPicker(PALETTE[Math.floor(Math.random() * PALETTE.length)], "new-group");
  const colorField = h("div", { class: "field" }, h("label", { for: color.input.id }, "Colour"), color.row);
  const createBtn = h("button", { type: "submit", class: "btn btn-primary", id: "create-group" }, "Add group");
  const createForm = h("form", { class: "card group-create", novalidate: true, "aria-labelledby": "new-group-title" },
    h("h2", { id: "new-group-title" }, "New group"),
    h("div", { class: "grid grid-3" }, nameField.row, descField.row, colorField),
    h("div", { class: "form-actions-inline" }, createBtn));

  const showFieldErrors = (e, map, fallback) => {
    let shown = false;
    for (const d of e.details || []) {
      const f = map[d.field];
      if (!f) continue;
      f.error.textContent = d.reason === "DUPLICATE" ? "Another group already has this name." : d.description;
      f.error.hidden = false;
      f.input.setAttribute("aria-invalid", "true");
      if (!shown) f.input.focus();
      shown = true;
    }
    if (!shown) replace(fallback, banner("error", e.message));
  };
  const clear = (...fields) => {
    for (const f of fields) {
      f.error.hidden = true;
      f.input.removeAttribute("aria-invalid");
    }
    replace(message);
  };

  createForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(nameField, descField);
    if (!name.value.trim()) {
      nameField.error.textContent = "A group needs a name.";
      nameField.error.hidden = false;
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return;
    }
    createBtn.disabled = true;
    try {
      const { data } = await request("POST", "/v1/groups", { body: { name: name.value.trim(), description: desc.value.trim(), color: color.input.value } });
      toast(`Added the group ${data.name}.`);
      name.value = "";
      desc.value = "";
      forgetGroups();
      await load();
      name.focus();
    } catch (e) {
      showFieldErrors(e, { name: nameField, description: descField }, message);
    } finally {
      createBtn.disabled = false;
    }
  });

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, "Groups"), count)),
    h("p", { class: "muted" }, "Sort customers into groups such as regulars, new customers or VIPs, to find them later and write to them together."),
    message, createForm,
    h("div", { class: "table-wrap" }, h("table", { class: "table", id: "group-table" },
      h("caption", { class: "sr-only" }, "Groups"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Group"), h("th", { scope: "col" }, "Description"),
        h("th", { scope: "col", class: "num" }, "Customers"), h("th", { scope: "col", class: "col-actions" }, h("span", { class: "sr-only" }, "Actions")))),
      tbody)));

  function showRow(g) {
    const edit = h("button", { type: "button", class: "btn btn-small group-edit", "aria-label": `Edit the group ${g.name}` }, "Edit");
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet group-delete", "aria-label": `Delete the group ${g.name}` }, "Delete");
    const tr = h("tr", { dataset: { id: g.id } },
      h("td", {}, h("span", { class: "group-name" }, h("span", { class: "swatch swatch-big", style: { backgroundColor: safeColor(g.color) }, "aria-hidden": "true" }),
        h("span", { class: "name" }, g.name))),
      h("td", { class: "muted" }, g.description || ""),
      h("td", { class: "num" }, h("a", { href: `#/customers?group=${encodeURIComponent(g.name)}`, "aria-label": `${plural(g.customerCount, "customer", "customers")} in ${g.name}` }, String(g.customerCount))),
      h("td", { class: "col-actions" }, edit, del));
    edit.addEventListener("click", () => tr.replaceWith(editRow(g)));
    del.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: `Delete the group ${g.name}?`,
        message: g.customerCount
          ? `Its ${plural(g.customerCount, "customer stays", "customers stay")} in the book, just no longer in this group.`
          : "No customer is in this group.",
      });
      if (!ok) return;
      try {
        await request("DELETE", `/v1/groups/${seg(g.id)}`);
        toast(`Deleted the group ${g.name}.`);
        forgetGroups();
        await load();
      } catch (e) {
        replace(message, banner("error", e.message));
      }
    });
    return tr;
  }

  function editRow(g) {
    const prefix = newId("eg");
    const n = h("input", { type: "text", id: `${prefix}-name`, class: "group-rename", autocomplete: "off", maxlength: 200 });
    n.value = g.name;
    const nf = field({ label: "Name", input: n });
    const d = h("input", { type: "text", id: `${prefix}-description`, autocomplete: "off" });
    d.value = g.description || "";
    const df = field({ label: "Description", input: d });
    const picker = colorPicker(g.color, prefix);
    const err = h("div", {});
    const saveBtn = h("button", { type: "submit", class: "btn btn-primary btn-small group-save" }, "Save");
    const cancelBtn = h("button", { type: "button", class: "btn btn-small" }, "Cancel");
    const form = h("form", { class: "group-edit-form", novalidate: true, "aria-label": `Edit the group ${g.name}` },
      h("div", { class: "grid grid-3" }, nf.row, df.row,
        h("div", { class: "field" }, h("label", { for: picker.input.id }, "Colour"), picker.row)),
      err, h("div", { class: "form-actions-inline" }, saveBtn, cancelBtn));
    const tr = h("tr", { class: "editing", dataset: { id: g.id } }, h("td", { colspan: "4" }, form));
    cancelBtn.addEventListener("click", () => {
      tr.replaceWith(showRow(g));
    });
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") cancelBtn.click();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(nf, df);
      const patch = {};
      if (n.value.trim() !== g.name) patch.name = n.value.trim();
      if (d.value.trim() !== (g.description || "")) patch.description = d.value.trim();
      if (picker.input.value.toLowerCase() !== (g.color || "").toLowerCase()) patch.color = picker.input.value;
      if (!Object.keys(patch).length) {
        tr.replaceWith(showRow(g));
        return;
      }
      saveBtn.disabled = true;
      try {
        const { data } = await request("PATCH", `/v1/groups/${seg(g.id)}`, { body: patch });
        toast(patch.name ? `Renamed ${g.name} to ${data.name}.` : `Saved ${data.name}.`);
        forgetGroups();
        await load();
      } catch (e) {
        if (e instanceof ApiError) showFieldErrors(e, { name: nf, description: df }, err);
        else replace(err, banner("error", e.message));
      } finally {
        saveBtn.disabled = false;
      }
    });
    setTimeout(() => n.focus(), 0);
    return tr;
  }

  async function load() {
    let groups;
    try {
      groups = await loadGroups(true);
    } catch (e) {
      replace(message, banner("error", e.message));
      return;
    }
    if (!ctx.live()) return;
    count.textContent = plural(groups.length, "group", "groups");
    replace(tbody, groups.length ? groups.map(showRow)
      : h("tr", {}, h("td", { colspan: "4", class: "empty" }, "No groups yet: add the first one above.")));
  }
  await load();
}
