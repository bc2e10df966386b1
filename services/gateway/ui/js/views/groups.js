// Groups: the list with customer counts and colours; create, rename,
// recolour, describe and delete. A group's customers are one click away
// (the customer list filtered by it).

import { ApiError, get, request, seg } from "../api.js";
import { banner, confirmDialog, field, h, newId, replace, safeColor, setTitle, toast } from "../dom.js";
import { count as countOf } from "../format.js";
import { forgetGroups, loadGroups } from "../session.js";
import { t, tn } from "../i18n.js";
import { rulesPanel } from "../prices.js";

const PALETTE = ["#1e88e5", "#43a047", "#f4511e", "#8e24aa", "#fdd835", "#00897b", "#d81b60", "#6d4c41", "#546e7a"];

/** A colour picker: preset swatches (buttons) and the browser's own picker. */
function colorPicker(value, idPrefix) {
  const input = h("input", { type: "color", id: `${idPrefix}-color`, class: "color-input" });
  input.value = safeColor(value || PALETTE[0]);
  const swatches = PALETTE.map((c) => h("button", {
    type: "button",
    class: "swatch-btn",
    style: { backgroundColor: c },
    "aria-label": t("grp.colour", { color: c }),
    onclick: () => {
      input.value = c;
      input.dispatchEvent(new Event("input"));
    },
  }));
  return { input, row: h("div", { class: "color-picker" }, input, h("div", { class: "swatches" }, swatches)) };
}

export async function renderGroups(view, ctx) {
  setTitle(t("nav.groups"));
  const message = h("div", {});
  const tbody = h("tbody");
  const count = h("p", { class: "total", id: "group-count" });

  // ---- create
  const name = h("input", { type: "text", id: "new-group-name", autocomplete: "off", maxlength: 200 });
  const nameField = field({ label: t("grp.name"), input: name, required: true, hint: t("grp.nameHint") });
  const desc = h("input", { type: "text", id: "new-group-description", autocomplete: "off" });
  const descField = field({ label: t("grp.description"), input: desc });
  const color = colorPicker(PALETTE[Math.floor(Math.random() * PALETTE.length)], "new-group");
  const colorField = h("div", { class: "field" }, h("label", { for: color.input.id }, t("grp.colourLabel")), color.row);
  const createBtn = h("button", { type: "submit", class: "btn btn-primary", id: "create-group" }, t("grp.add"));
  const createForm = h("form", { class: "card group-create", novalidate: true, "aria-labelledby": "new-group-title" },
    h("h2", { id: "new-group-title" }, t("grp.new")),
    h("div", { class: "grid grid-3" }, nameField.row, descField.row, colorField),
    h("div", { class: "form-actions-inline" }, createBtn));

  const showFieldErrors = (e, map, fallback) => {
    let shown = false;
    for (const d of e.details || []) {
      const f = map[d.field];
      if (!f) continue;
      f.error.textContent = d.reason === "DUPLICATE" ? t("grp.duplicate") : d.description;
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
      nameField.error.textContent = t("grp.needName");
      nameField.error.hidden = false;
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return;
    }
    createBtn.disabled = true;
    try {
      const { data } = await request("POST", "/v1/groups", { body: { name: name.value.trim(), description: desc.value.trim(), color: color.input.value } });
      toast(t("grp.added", { name: data.name }));
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

  // Tags have no screen of their own: their price rules live here, one tag at a time.
  const tagInput = h("input", { type: "text", id: "tag-rules-tag", list: "tag-rules-tags", autocomplete: "off", maxlength: 50 });
  const tagList = h("datalist", { id: "tag-rules-tags" });
  const tagField = field({ label: t("price.tag"), input: tagInput, hint: t("price.tagHint") });
  const tagShow = h("button", { type: "submit", class: "btn", id: "tag-rules-show" }, t("price.showTag"));
  const tagSlot = h("div", { id: "tag-rules" });
  const tagForm = h("form", { class: "card tag-rules", novalidate: true, "aria-labelledby": "tag-rules-title" },
    h("h2", { id: "tag-rules-title" }, t("price.tagTitle")), tagField.row, tagList,
    h("div", { class: "form-actions-inline" }, tagShow), tagSlot);
  tagForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tag = tagInput.value.trim();
    if (!tag) return;
    const panel = rulesPanel({ tag }, "tag-rules-list");
    replace(tagSlot, h("h3", {}, t("price.tagRules", { tag })), panel.nodes);
    panel.load();
  });
  get("/v1/tags").then(({ data }) => replace(tagList, (data.tags || []).map((x) => h("option", { value: x.name })))).catch(() => {});

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, t("nav.groups")), count)),
    h("p", { class: "muted" }, t("grp.lead")),
    message, createForm,
    h("div", { class: "table-wrap" }, h("table", { class: "table", id: "group-table" },
      h("caption", { class: "sr-only" }, t("nav.groups")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("list.group")), h("th", { scope: "col" }, t("grp.description")),
        h("th", { scope: "col", class: "num" }, t("nav.customers")),
        h("th", { scope: "col", class: "col-actions" }, h("span", { class: "sr-only" }, t("common.actions"))))),
      tbody)),
    tagForm);

  function showRow(g) {
    const edit = h("button", { type: "button", class: "btn btn-small group-edit", "aria-label": t("grp.editOne", { name: g.name }) }, t("common.edit"));
    const del = h("button", { type: "button", class: "btn btn-small btn-danger-quiet group-delete", "aria-label": t("grp.deleteOne", { name: g.name }) }, t("common.delete"));
    const disc = h("button", { type: "button", class: "btn btn-small group-discounts", "aria-expanded": "false",
      "aria-label": t("price.groupRules", { name: g.name }) }, t("price.title"));
    const tr = h("tr", { dataset: { id: g.id } },
      h("td", {}, h("span", { class: "group-name" }, h("span", { class: "swatch swatch-big", style: { backgroundColor: safeColor(g.color) }, "aria-hidden": "true" }),
        h("span", { class: "name" }, g.name))),
      h("td", { class: "muted" }, g.description || ""),
      h("td", { class: "num" }, h("a", { href: `#/customers?group=${encodeURIComponent(g.name)}`, "aria-label": tn("grp.customersIn", g.customerCount, { name: g.name }) },
        countOf(g.customerCount))),
      h("td", { class: "col-actions" }, disc, edit, del));
    edit.addEventListener("click", () => tr.replaceWith(editRow(g)));
    // The group's price rules, in a row under it.
    let panelRow = null;
    disc.addEventListener("click", () => {
      if (panelRow) {
        panelRow.remove();
        panelRow = null;
        disc.setAttribute("aria-expanded", "false");
        return;
      }
      const panel = rulesPanel({ groupId: g.id }, `group-rules-${g.id}`);
      panelRow = h("tr", { class: "group-rules-row" }, h("td", { colspan: "4" },
        h("h3", {}, t("price.groupRules", { name: g.name })), panel.nodes));
      tr.after(panelRow);
      disc.setAttribute("aria-expanded", "true");
      panel.load();
    });
    del.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: t("grp.deleteTitle", { name: g.name }),
        message: g.customerCount ? tn("grp.deleteStay", g.customerCount) : t("grp.deleteEmpty"),
      });
      if (!ok) return;
      try {
        await request("DELETE", `/v1/groups/${seg(g.id)}`);
        toast(t("grp.deleted", { name: g.name }));
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
    const nf = field({ label: t("grp.name"), input: n });
    const d = h("input", { type: "text", id: `${prefix}-description`, autocomplete: "off" });
    d.value = g.description || "";
    const df = field({ label: t("grp.description"), input: d });
    const picker = colorPicker(g.color, prefix);
    const err = h("div", {});
    const saveBtn = h("button", { type: "submit", class: "btn btn-primary btn-small group-save" }, t("common.save"));
    const cancelBtn = h("button", { type: "button", class: "btn btn-small" }, t("common.cancel"));
    const form = h("form", { class: "group-edit-form", novalidate: true, "aria-label": t("grp.editOne", { name: g.name }) },
      h("div", { class: "grid grid-3" }, nf.row, df.row,
        h("div", { class: "field" }, h("label", { for: picker.input.id }, t("grp.colourLabel")), picker.row)),
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
        toast(patch.name ? t("grp.renamed", { old: g.name, name: data.name }) : t("grp.saved", { name: data.name }));
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
    count.textContent = tn("grp.count", groups.length);
    replace(tbody, groups.length ? groups.map(showRow)
      : h("tr", {}, h("td", { colspan: "4", class: "empty" }, t("grp.empty"))));
  }
  await load();
}
