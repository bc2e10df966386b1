// The customer list: sortable columns, filters (group, tag, company, account,
// account status), pages through nextPageToken with a stack of the tokens
// seen (Previous goes back), selection with bulk delete, per-row edit and
// delete. Filters and order live in the URL (#/customers?tag=vip), so a
// filtered list can be bookmarked and "back" from a card returns to it.

import { ApiError, get, request, seg } from "../api.js";
import { banner, chip, confirmDialog, h, replace, select, setTitle, toast } from "../dom.js";
import { displayName, day, plural } from "../format.js";
import { groupColors, loadGroups } from "../session.js";

const FILTERS = ["group", "tag", "isCompany", "hasAccount", "accountStatus"];
const PAGE_SIZES = ["10", "25", "50", "100"];
const DEFAULT_PAGE_SIZE = "25";

// Paging survives a visit to a card: same query, same page.
const memory = { query: "", tokens: [""], page: 0 };

function readQuery(q) {
  const s = {
    orderBy: q.get("orderBy") || "lastName",
    pageSize: PAGE_SIZES.includes(q.get("pageSize")) ? q.get("pageSize") : DEFAULT_PAGE_SIZE,
  };
  for (const f of FILTERS) s[f] = q.get(f) || "";
  return s;
}

function queryString(s) {
  const q = new URLSearchParams();
  if (s.orderBy !== "lastName") q.set("orderBy", s.orderBy);
  if (s.pageSize !== DEFAULT_PAGE_SIZE) q.set("pageSize", s.pageSize);
  for (const f of FILTERS) if (s[f]) q.set(f, s[f]);
  return q.toString();
}

export async function renderList(view, ctx) {
  setTitle("Customers");
  const s = readQuery(ctx.query);
  const selected = new Set();
  let rows = []; // customers on the page shown

  const heading = h("h1", {}, "Customers");
  const total = h("p", { id: "total", class: "total", "aria-live": "polite" });
  const addBtn = h("a", { class: "btn btn-primary", href: "#/customers/new", id: "add-customer" }, "Add customer");

  // ---- filters
  const groupSel = select([["", "All groups"]], s.group, { id: "filter-group" });
  const tagSel = select([["", "All tags"]], s.tag, { id: "filter-tag" });
  const companySel = select([["", "All"], ["true", "Companies"], ["false", "People"]],
    s.isCompany, { id: "filter-company" });
  const accountSel = select([["", "All"], ["true", "With account"], ["false", "Without account"]],
    s.hasAccount, { id: "filter-account" });
  const statusSel = select([["", "Any"], ["INVITED", "Invited"], ["ACTIVE", "Active"], ["DISABLED", "Disabled"]],
    s.accountStatus, { id: "filter-status" });
  const sizeSel = select(PAGE_SIZES.map((n) => [n, `${n} per page`]), s.pageSize, { id: "page-size" });
  const clearBtn = h("button", { type: "button", class: "btn btn-link", id: "clear-filters" }, "Clear filters");
  const filterField = (label, el) => h("div", { class: "filter" }, h("label", { for: el.id }, label), el);
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter customers", onsubmit: (e) => e.preventDefault() },
    filterField("Group", groupSel), filterField("Tag", tagSel), filterField("Type", companySel),
    filterField("Account", accountSel), filterField("Account status", statusSel), filterField("Show", sizeSel),
    h("div", { class: "filter filter-end" }, clearBtn));

  // ---- table
  const selectAll = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select every customer on this page" });
  const sortButton = (key, text) => {
    const active = s.orderBy.split(" ")[0] === key;
    const desc = active && s.orderBy.endsWith(" desc");
    const btn = h("button", { type: "button", class: `sort${active ? " sort-active" : ""}`, dataset: { sort: key } }, text,
      h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (desc ? " ▼" : " ▲") : ""));
    btn.setAttribute("aria-label", `Sort by ${text.toLowerCase()}${active ? (desc ? ", now descending" : ", now ascending") : ""}`);
    btn.addEventListener("click", () => {
      s.orderBy = active && !desc ? `${key} desc` : key;
      applyQuery();
    });
    return btn;
  };
  const ariaSort = (keys) => {
    const k = s.orderBy.split(" ")[0];
    if (!keys.includes(k)) return null;
    return s.orderBy.endsWith(" desc") ? "descending" : "ascending";
  };
  const thCustomer = h("th", { scope: "col", class: "col-customer" }, h("span", { class: "th-label" }, "Customer"),
    h("span", { class: "sorts" }, sortButton("lastName", "Last name"), sortButton("firstName", "First name"),
      sortButton("email", "E-mail")));
  const thAdded = h("th", { scope: "col", class: "col-added" }, sortButton("createdAt", "Added"));
  for (const [th, keys] of [[thCustomer, ["lastName", "firstName", "email"]], [thAdded, ["createdAt"]]]) {
    const v = ariaSort(keys);
    if (v) th.setAttribute("aria-sort", v);
  }
  const tbody = h("tbody");
  const table = h("table", { class: "table", id: "customer-table" },
    h("caption", { class: "sr-only" }, "Customers; sort with the buttons in the column headers"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "col-check" }, selectAll), thCustomer,
      h("th", { scope: "col" }, "Company"), h("th", { scope: "col" }, "Tags"), h("th", { scope: "col", class: "col-phone" }, "Phone"),
      thAdded, h("th", { scope: "col", class: "col-actions" }, h("span", { class: "sr-only" }, "Actions")))),
    tbody);

  // ---- bulk bar and pager
  const bulkDelete = h("button", { type: "button", class: "btn btn-danger", id: "bulk-delete", disabled: true }, "Delete selected");
  const selCount = h("span", { class: "muted", id: "selected-count", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "btn", id: "prev-page" }, "← Previous");
  const next = h("button", { type: "button", class: "btn", id: "next-page" }, "Next →");
  const pageInfo = h("span", { class: "page-info", id: "page-info", "aria-live": "polite" });
  const message = h("div", { class: "list-message" });

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, heading, total), h("div", { class: "view-actions" }, addBtn)),
    filters, message,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "list-foot" }, h("div", { class: "bulk" }, bulkDelete, selCount),
      h("nav", { class: "pager", "aria-label": "Pages" }, prev, pageInfo, next)));

  // Filter choices (the list loads meanwhile).
  const colorsP = groupColors();
  loadGroups().then((groups) => {
    for (const g of groups) groupSel.append(h("option", { value: g.name }, `${g.name} (${g.customerCount})`));
    groupSel.value = s.group;
  }).catch(() => {});
  get("/v1/tags").then(({ data }) => {
    const tags = (data.tags || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    for (const t of tags) tagSel.append(h("option", { value: t.name }, `${t.name} (${t.customerCount})`));
    if (s.tag && !tags.some((t) => t.name === s.tag)) tagSel.append(h("option", { value: s.tag }, s.tag));
    tagSel.value = s.tag;
  }).catch(() => {});

  const qs = queryString(s);
  if (memory.query !== qs) Object.assign(memory, { query: qs, tokens: [""], page: 0 });

  function applyQuery() {
    const text = queryString(s);
    ctx.navigate(text ? `/customers?${text}` : "/customers", { replace: true });
  }
  for (const [el, key] of [[groupSel, "group"], [tagSel, "tag"], [companySel, "isCompany"],
    [accountSel, "hasAccount"], [statusSel, "accountStatus"], [sizeSel, "pageSize"]]) {
    el.addEventListener("change", () => {
      s[key] = el.value;
      applyQuery();
    });
  }
  clearBtn.addEventListener("click", () => {
    for (const f of FILTERS) s[f] = "";
    applyQuery();
  });

  function updateSelection() {
    bulkDelete.disabled = selected.size === 0;
    bulkDelete.textContent = selected.size ? `Delete ${selected.size} selected` : "Delete selected";
    selCount.textContent = selected.size ? plural(selected.size, "customer selected", "customers selected") : "";
    selectAll.checked = rows.length > 0 && rows.every((c) => selected.has(c.id));
    selectAll.indeterminate = selected.size > 0 && !selectAll.checked;
  }

  selectAll.addEventListener("change", () => {
    for (const c of rows) {
      if (selectAll.checked) selected.add(c.id);
      else selected.delete(c.id);
    }
    for (const box of tbody.querySelectorAll("input.row-select")) box.checked = selectAll.checked;
    updateSelection();
  });

  async function deleteOne(c) {
    const ok = await confirmDialog({
      title: "Delete this customer?",
      message: `${displayName(c)} and their photo will be deleted. The history keeps that they were deleted, and by whom.`,
    });
    if (!ok) return;
    try {
      await request("DELETE", `/v1/customers/${seg(c.id)}`, { headers: c.etag ? { "If-Match": `"${c.etag}"` } : {} });
      toast(`Deleted ${displayName(c)}.`);
      selected.delete(c.id);
      await load();
    } catch (e) {
      replace(message, banner("error", e.status === 412
        ? "Someone changed this customer a moment ago; look at the change before deleting."
        : e.message));
      if (e.status === 412) await load();
    }
  }

  bulkDelete.addEventListener("click", async () => {
    const ids = [...selected];
    if (!ids.length) return;
    const ok = await confirmDialog({
      title: `Delete ${plural(ids.length, "customer", "customers")}?`,
      message: "The selected customers and their photos will be deleted. This cannot be undone.",
      confirmLabel: `Delete ${ids.length}`,
    });
    if (!ok) return;
    bulkDelete.disabled = true;
    try {
      const { data } = await request("POST", "/v1/customers:batchDelete", { body: { ids } });
      const gone = (data.deletedIds || []).length;
      const missing = (data.notFoundIds || []).length;
      toast(`Deleted ${plural(gone, "customer", "customers")}${missing ? `; ${missing} had already gone` : ""}.`);
      selected.clear();
      await load();
    } catch (e) {
      replace(message, banner("error", e.message));
      updateSelection();
    }
  });

  prev.addEventListener("click", () => {
    if (memory.page === 0) return;
    memory.page -= 1;
    selected.clear();
    load();
  });
  next.addEventListener("click", () => {
    const token = memory.tokens[memory.page + 1];
    if (!token) return;
    memory.page += 1;
    selected.clear();
    load();
  });

  function row(c, colors) {
    const box = h("input", { type: "checkbox", class: "row-select", "aria-label": `Select ${displayName(c)}`, checked: selected.has(c.id) });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(c.id);
      else selected.delete(c.id);
      updateSelection();
    });
    const groups = (c.groups || []).map((g) => chip(g, { color: colors.get(g.toLowerCase()), kind: "group" }));
    const tags = (c.tags || []).map((t) => chip(t, { kind: "tag" }));
    const company = c.isCompany && c.company ? [h("div", {}, c.company.name || "Company"),
      c.company.vatNumber ? h("div", { class: "muted small" }, c.company.vatNumber) : null] : [];
    const name = displayName(c);
    return h("tr", { dataset: { id: c.id } },
      h("td", { class: "col-check" }, box),
      h("td", { class: "col-customer" },
        h("a", { class: "customer-link", href: `#/customers/${encodeURIComponent(c.id)}` }, name),
        c.email ? h("div", { class: "muted small email" }, c.email) : null,
        groups.length ? h("div", { class: "chips" }, groups) : null),
      h("td", { class: "col-company" }, company),
      h("td", { class: "col-tags" }, tags.length ? h("div", { class: "chips" }, tags) : null),
      h("td", { class: "col-phone" }, c.phone || ""),
      h("td", { class: "col-added" }, day((c.createdAt || "").slice(0, 10))),
      h("td", { class: "col-actions" },
        h("a", { class: "btn btn-small", href: `#/customers/${encodeURIComponent(c.id)}/edit`, "aria-label": `Edit ${name}` }, "Edit"),
        h("button", { type: "button", class: "btn btn-small btn-danger-quiet row-delete", "aria-label": `Delete ${name}`, onclick: () => deleteOne(c) }, "Delete")));
  }

  async function load() {
    table.setAttribute("aria-busy", "true");
    replace(message);
    prev.disabled = true;
    next.disabled = true;
    const query = {
      pageSize: s.pageSize,
      orderBy: s.orderBy,
      pageToken: memory.tokens[memory.page],
    };
    for (const f of FILTERS) query[f] = s[f];
    let data;
    try {
      data = (await get("/v1/customers", query)).data;
    } catch (e) {
      if (!ctx.live()) return;
      table.removeAttribute("aria-busy");
      if (e instanceof ApiError && e.details.some((d) => d.field === "pageToken")) {
        Object.assign(memory, { tokens: [""], page: 0 });
        return load();
      }
      replace(message, banner("error", e.message, h("button", { type: "button", class: "btn", onclick: () => load() }, "Try again")));
      return;
    }
    if (!ctx.live()) return;
    const colors = await colorsP;
    rows = data.customers || [];
    if (!rows.length && memory.page > 0) {
      // The last page emptied (deletes): show the one before.
      memory.page -= 1;
      return load();
    }
    memory.tokens[memory.page + 1] = data.nextPageToken || "";
    memory.tokens.length = memory.page + 2;
    const count = data.totalSize || 0;
    total.textContent = plural(count, "customer", "customers");
    for (const id of [...selected]) if (!rows.some((c) => c.id === id)) selected.delete(id);
    if (!rows.length) {
      const filtered = FILTERS.some((f) => s[f]);
      replace(tbody, h("tr", {}, h("td", { colspan: "7", class: "empty" },
        filtered ? "No customer matches these filters." : "No customers yet.",
        " ", filtered ? h("button", { type: "button", class: "btn btn-link", onclick: () => clearBtn.click() }, "Clear filters")
          : h("a", { href: "#/customers/new" }, "Add the first customer"))));
    } else {
      replace(tbody, rows.map((c) => row(c, colors)));
    }
    const size = Number(s.pageSize);
    const first = memory.page * size + (rows.length ? 1 : 0);
    const last = memory.page * size + rows.length;
    pageInfo.textContent = rows.length ? `Page ${memory.page + 1}: ${first}–${last} of ${count}` : `Page ${memory.page + 1}`;
    prev.disabled = memory.page === 0;
    next.disabled = !data.nextPageToken;
    table.removeAttribute("aria-busy");
    updateSelection();
  }

  await load();
}
