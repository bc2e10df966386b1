// The customer list: a search box that searches as staff type
// (GET /v1/customers:search, debounced, stale answers dropped), sortable
// columns, filters (group, tag, company, account, account status) that apply
// to the search too, pages through nextPageToken with a stack of the tokens
// seen (Previous goes back), selection with bulk delete, per-row edit and
// delete. The query, filters and order live in the URL
// (#/customers?q=jan&tag=vip), so a search can be bookmarked and "back" from a
// card returns to it. What the search matched is marked in each row (mark.js).
// A search that finds nobody offers the queries one typing slip away that do
// ("Did you mean"), then adding the customer. An empty search offers to add the customer, with the
// names the search service split from the query filled in.

import { ApiError, get, isAbort, request, seg } from "../api.js";
import { banner, chip, confirmDialog, h, replace, select, setTitle, toast } from "../dom.js";
import { exportMenu } from "../download.js";
import { ACCOUNT_STATUSES, count, displayName, day, label } from "../format.js";
import { markDigits, markEmail, markWords, parseQuery } from "../mark.js";
import { groupColors, loadGroups, noteWrite, recentWrites } from "../session.js";
import { inSentence, t, tn } from "../i18n.js";

const FILTERS = ["group", "tag", "isCompany", "hasAccount", "accountStatus"];
const PAGE_SIZES = ["10", "25", "50", "100"];
const DEFAULT_PAGE_SIZE = "25";
const SEARCH_DELAY_MS = 150; // typing pauses shorter than this make one request
const SEARCH_MAX = 200; // the search API's limit on q
// The orders the search API knows besides relevance ("").
const SEARCH_ORDERS = ["lastName", "firstName", "createdAt"];

// Paging survives a visit to a card: same query, same page.
const memory = { query: "", tokens: [""], page: 0 };

/** The list's default order: relevance ("") while searching, else last name. */
const defaultOrder = (s) => (s.q ? "" : "lastName");

function readQuery(q) {
  const s = {
    q: (q.get("q") || "").slice(0, SEARCH_MAX),
    pageSize: PAGE_SIZES.includes(q.get("pageSize")) ? q.get("pageSize") : DEFAULT_PAGE_SIZE,
  };
  s.orderBy = q.get("orderBy") ?? defaultOrder(s);
  if (s.q && s.orderBy && !SEARCH_ORDERS.includes(s.orderBy.split(" ")[0])) s.orderBy = "";
  for (const f of FILTERS) s[f] = q.get(f) || "";
  return s;
}

function queryString(s) {
  const q = new URLSearchParams();
  if (s.q) q.set("q", s.q);
  if (s.orderBy !== defaultOrder(s)) q.set("orderBy", s.orderBy);
  if (s.pageSize !== DEFAULT_PAGE_SIZE) q.set("pageSize", s.pageSize);
  for (const f of FILTERS) if (s[f]) q.set(f, s[f]);
  return q.toString();
}

/**
 * A name typed all in lower case, as names are written: "jan" -> "Jan",
 * "nowak-kowalska" -> "Nowak-Kowalska", "o'brien" -> "O'Brien". A name typed
 * with any capital is left as typed ("McDonald", "van der Berg").
 */
export function nameCase(text) {
  if (!text || text !== text.toLocaleLowerCase()) return text || "";
  return text.replace(/(^|[\s'’-])(\p{L})/gu, (_, sep, ch) => sep + ch.toLocaleUpperCase());
}

/** The suggestion with its names written as names. */
function tidy(sug) {
  return { ...sug, firstName: nameCase(sug.firstName), lastName: nameCase(sug.lastName) };
}

/** The button's text for adding the customer a search did not find. */
function suggestionLabel(sug) {
  const name = [sug.firstName, sug.lastName].filter((x) => x && x.trim()).join(" ");
  const shown = name || sug.email || sug.phone;
  return shown ? t("list.addNamed", { name: shown }) : t("list.addAny");
}

/** The add form's route with the suggestion's fields filled in. */
function suggestionRoute(sug) {
  const q = new URLSearchParams();
  for (const k of ["firstName", "lastName", "email", "phone"]) if (sug[k]) q.set(k, sug[k]);
  const text = q.toString();
  return text ? `/customers/new?${text}` : "/customers/new";
}

export async function renderList(view, ctx) {
  setTitle(t("nav.customers"));
  const s = readQuery(ctx.query);
  const selected = new Set();
  let rows = []; // customers on the page shown

  const heading = h("h1", {}, t("nav.customers"));
  const total = h("p", { id: "total", class: "total", "aria-live": "polite" });
  const addBtn = h("a", { class: "btn btn-primary", href: "#/customers/new", id: "add-customer" }, t("list.add"));

  // ---- the search box
  const searchInput = h("input", {
    type: "search", id: "search", name: "q", autocomplete: "off", spellcheck: "false", maxlength: SEARCH_MAX,
    placeholder: t("list.search"), "aria-describedby": "search-hint",
    "aria-controls": "customer-table", enterkeyhint: "go",
  });
  searchInput.value = s.q;
  const searchBar = h("form", { class: "searchbar", role: "search", "aria-label": t("list.searchLabel") },
    h("label", { for: "search", class: "sr-only" }, t("list.search")),
    h("span", { class: "search-icon", "aria-hidden": "true" }, "⌕"),
    searchInput,
    h("p", { class: "hint", id: "search-hint" }, t("list.searchHint")));

  // ---- filters
  const groupSel = select([["", t("list.allGroups")]], s.group, { id: "filter-group" });
  const tagSel = select([["", t("list.allTags")]], s.tag, { id: "filter-tag" });
  const companySel = select([["", t("list.all")], ["true", t("list.companies")], ["false", t("list.people")]],
    s.isCompany, { id: "filter-company" });
  const accountSel = select([["", t("list.all")], ["true", t("list.withAccount")], ["false", t("list.withoutAccount")]],
    s.hasAccount, { id: "filter-account" });
  const statusSel = select([["", t("list.any")], ...["INVITED", "ACTIVE", "DISABLED"].map((v) => [v, label(ACCOUNT_STATUSES, v)])],
    s.accountStatus, { id: "filter-status" });
  const sizeSel = select(PAGE_SIZES.map((n) => [n, t("list.perPage", { n })]), s.pageSize, { id: "page-size" });
  const clearBtn = h("button", { type: "button", class: "btn btn-link", id: "clear-filters" }, t("list.clearFilters"));
  const filterField = (text, el) => h("div", { class: "filter" }, h("label", { for: el.id }, text), el);
  const filters = h("form", { class: "filters", role: "search", "aria-label": t("list.filterLabel"), onsubmit: (e) => e.preventDefault() },
    filterField(t("list.group"), groupSel), filterField(t("list.tag"), tagSel), filterField(t("list.type"), companySel),
    filterField(t("enum.field.account"), accountSel), filterField(t("enum.field.account.status"), statusSel),
    filterField(t("list.show"), sizeSel),
    h("div", { class: "filter filter-end" }, clearBtn));

  // ---- table
  const selectAll = h("input", { type: "checkbox", id: "select-all", "aria-label": t("list.selectAll") });
  const sortButton = (key, text) => {
    const active = s.orderBy.split(" ")[0] === key;
    const desc = active && s.orderBy.endsWith(" desc");
    const btn = h("button", { type: "button", class: `sort${active ? " sort-active" : ""}`, dataset: { sort: key } }, text,
      h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (desc ? " ▼" : " ▲") : ""));
    btn.setAttribute("aria-label", t(active ? (desc ? "list.sortByDesc" : "list.sortByAsc") : "list.sortBy", { what: inSentence(text) }));
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
  // While searching: a "Best match" order, and no e-mail order (search has none).
  // Both share one place in the head, the one a mode has no use for hidden
  // (not removed), so the head keeps its size when typing turns browsing into
  // searching and the rows never move under a finger as the answer arrives.
  const sortSlot = (shown, unused) => {
    unused.classList.add("sort-unused");
    unused.disabled = true;
    unused.setAttribute("aria-hidden", "true");
    return h("span", { class: "sort-slot" }, shown, unused);
  };
  const relevanceButton = () => {
    const active = s.orderBy === "";
    const btn = h("button", { type: "button", class: `sort${active ? " sort-active" : ""}`, dataset: { sort: "relevance" } },
      t("list.bestMatch"));
    btn.setAttribute("aria-label", t(active ? "list.sortBestActive" : "list.sortBest"));
    btn.addEventListener("click", () => {
      s.orderBy = "";
      applyQuery();
    });
    return btn;
  };
  const thead = h("thead");
  function renderHead() {
    const thCustomer = h("th", { scope: "col", class: "col-customer" }, h("span", { class: "th-label" }, t("list.customer")),
      h("span", { class: "sorts" }, sortButton("lastName", t("enum.field.lastName")),
        sortButton("firstName", t("enum.field.firstName")),
        s.q ? sortSlot(relevanceButton(), sortButton("email", t("enum.field.email")))
          : sortSlot(sortButton("email", t("enum.field.email")), relevanceButton())));
    const thAdded = h("th", { scope: "col", class: "col-added" }, sortButton("createdAt", t("list.added")));
    for (const [th, keys] of [[thCustomer, ["lastName", "firstName", "email"]], [thAdded, ["createdAt"]]]) {
      const v = s.orderBy ? ariaSort(keys) : null;
      if (v) th.setAttribute("aria-sort", v);
    }
    replace(thead, h("tr", {},
      h("th", { scope: "col", class: "col-check" }, selectAll), thCustomer,
      h("th", { scope: "col", class: "col-company" }, t("enum.field.company")), h("th", { scope: "col", class: "col-tags" }, t("enum.field.tags")),
      h("th", { scope: "col", class: "col-phone" }, t("enum.field.phone")),
      thAdded, h("th", { scope: "col", class: "col-actions" }, h("span", { class: "sr-only" }, t("common.actions")))));
  }
  renderHead();
  const tbody = h("tbody");
  const table = h("table", { class: "table", id: "customer-table" },
    h("caption", { class: "sr-only" }, t("list.caption")),
    thead, tbody);

  // ---- bulk bar and pager
  const bulkDelete = h("button", { type: "button", class: "btn btn-danger", id: "bulk-delete", disabled: true }, t("list.deleteSelected"));
  const selCount = h("span", { class: "muted", id: "selected-count", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "btn", id: "prev-page" }, t("list.prev"));
  const next = h("button", { type: "button", class: "btn", id: "next-page" }, t("list.next"));
  const pageInfo = h("span", { class: "page-info", id: "page-info", "aria-live": "polite" });
  const message = h("div", { class: "list-message" });

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, heading, total), h("div", { class: "view-actions" }, exportMenu(() => s, message), addBtn)),
    searchBar, filters, message,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "list-foot" }, h("div", { class: "bulk" }, bulkDelete, selCount),
      h("nav", { class: "pager", "aria-label": t("list.pages") }, prev, pageInfo, next)));

  // Filter choices (the list loads meanwhile).
  const colorsP = groupColors();
  loadGroups().then((groups) => {
    for (const g of groups) groupSel.append(h("option", { value: g.name }, `${g.name} (${g.customerCount})`));
    groupSel.value = s.group;
  }).catch(() => {});
  get("/v1/tags").then(({ data }) => {
    const tags = (data.tags || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    for (const tag of tags) tagSel.append(h("option", { value: tag.name }, `${tag.name} (${tag.customerCount})`));
    if (s.tag && !tags.some((tag) => tag.name === s.tag)) tagSel.append(h("option", { value: s.tag }, s.tag));
    tagSel.value = s.tag;
  }).catch(() => {});

  const qs = queryString(s);
  if (memory.query !== qs) Object.assign(memory, { query: qs, tokens: [""], page: 0 });

  function applyQuery() {
    const text = queryString(s);
    ctx.navigate(text ? `/customers?${text}` : "/customers", { replace: true });
  }

  // ---- searching as one types: the rows change in place, the box keeps the
  // focus, the URL follows (replaced, so "back" leaves the list at once).
  let timer = 0;
  let openFirst = false; // Enter was pressed before the answer came
  function runSearch() {
    clearTimeout(timer);
    timer = 0;
    const q = searchInput.value.trim().slice(0, SEARCH_MAX);
    if (q === s.q) {
      if (!loading) table.removeAttribute("aria-busy");
      return false;
    }
    const wasSearch = Boolean(s.q);
    if (!wasSearch && q && s.orderBy === "lastName") s.orderBy = "";
    if (wasSearch && !q && !s.orderBy) s.orderBy = "lastName";
    s.q = q;
    if (Boolean(q) !== wasSearch) renderHead();
    const text = queryString(s);
    history.replaceState(null, "", text ? `#/customers?${text}` : "#/customers");
    Object.assign(memory, { query: text, tokens: [""], page: 0 });
    selected.clear();
    load();
    return true;
  }
  searchInput.addEventListener("input", () => {
    clearTimeout(timer);
    // Busy from the first key: the rows are about to change (or, when the query
    // comes back to what is shown, to stay).
    table.setAttribute("aria-busy", "true");
    timer = setTimeout(runSearch, SEARCH_DELAY_MS);
  });
  searchBar.addEventListener("submit", (ev) => {
    ev.preventDefault();
    // Enter: the first result, once the answer for what is typed is in.
    if (runSearch() || loading) openFirst = true;
    else openFirstRow();
  });
  searchInput.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") {
      const first = tbody.querySelector(".customer-link");
      if (first) {
        ev.preventDefault();
        first.focus();
      }
    } else if (ev.key === "Escape" && searchInput.value) {
      ev.preventDefault();
      searchInput.value = "";
      runSearch();
    }
  });
  // Up and down between the names of the rows; up from the first goes back to the box.
  tbody.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    if (!ev.target.classList || !ev.target.classList.contains("customer-link")) return;
    const links = [...tbody.querySelectorAll(".customer-link")];
    const i = links.indexOf(ev.target);
    ev.preventDefault();
    if (ev.key === "ArrowDown" && i + 1 < links.length) links[i + 1].focus();
    else if (ev.key === "ArrowUp") (i > 0 ? links[i - 1] : searchInput).focus();
  });
  function openFirstRow() {
    openFirst = false;
    const first = rows[0];
    if (first) ctx.navigate(`/customers/${encodeURIComponent(first.id)}`);
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
    bulkDelete.textContent = selected.size ? t("list.deleteN", { n: count(selected.size) }) : t("list.deleteSelected");
    selCount.textContent = selected.size ? tn("list.selected", selected.size) : "";
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
      title: t("common.deleteCustomerTitle"),
      message: t("common.deleteCustomerMessage", { name: displayName(c) }),
    });
    if (!ok) return;
    try {
      await request("DELETE", `/v1/customers/${seg(c.id)}`, { headers: c.etag ? { "If-Match": `"${c.etag}"` } : {} });
      noteWrite(c.id, "deleted");
      toast(t("common.deletedCustomer", { name: displayName(c) }));
      selected.delete(c.id);
      await load();
    } catch (e) {
      replace(message, banner("error", e.status === 412
        ? t("list.changedMeanwhile")
        : e.message));
      if (e.status === 412) await load();
    }
  }

  bulkDelete.addEventListener("click", async () => {
    const ids = [...selected];
    if (!ids.length) return;
    const ok = await confirmDialog({
      title: tn("list.bulkTitle", ids.length),
      message: t("list.bulkMessage"),
      confirmLabel: t("list.bulkConfirm", { n: count(ids.length) }),
    });
    if (!ok) return;
    bulkDelete.disabled = true;
    try {
      const { data } = await request("POST", "/v1/customers:batchDelete", { body: { ids } });
      for (const gid of data.deletedIds || []) noteWrite(gid, "deleted");
      const gone = (data.deletedIds || []).length;
      const missing = (data.notFoundIds || []).length;
      toast(missing ? tn("list.bulkDoneMissing", gone, { missing: count(missing) }) : tn("list.bulkDone", gone));
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

  // marks: the parsed query while searching (what matched is marked), else null.
  function row(c, colors, marks) {
    const mark = (text, fn = markWords) => (marks ? fn(text, marks) : text);
    const box = h("input", { type: "checkbox", class: "row-select", "aria-label": t("list.selectOne", { name: displayName(c) }), checked: selected.has(c.id) });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(c.id);
      else selected.delete(c.id);
      updateSelection();
    });
    const groups = (c.groups || []).map((g) => chip(g, { color: colors.get(g.toLowerCase()), kind: "group" }));
    const tags = (c.tags || []).map((tag) => chip(tag, { kind: "tag" }));
    // A company, or the company a person works for.
    const company = c.company && (c.isCompany || c.company.name)
      ? [h("div", {}, c.company.name ? mark(c.company.name) : t("enum.field.company")),
        c.isCompany && c.company.vatNumber ? h("div", { class: "muted small" }, c.company.vatNumber) : null] : [];
    const name = displayName(c);
    return h("tr", { dataset: { id: c.id } },
      h("td", { class: "col-check" }, box),
      h("td", { class: "col-customer" },
        h("a", { class: "customer-link", href: `#/customers/${encodeURIComponent(c.id)}` }, mark(name)),
        c.email ? h("div", { class: "muted small email" }, mark(c.email, markEmail)) : null,
        groups.length ? h("div", { class: "chips" }, groups) : null),
      h("td", { class: "col-company" }, company),
      h("td", { class: "col-tags" }, tags.length ? h("div", { class: "chips" }, tags) : null),
      h("td", { class: "col-phone" }, mark(c.phone || "", markDigits)),
      h("td", { class: "col-added" }, day((c.createdAt || "").slice(0, 10))),
      h("td", { class: "col-actions" },
        h("a", { class: "btn btn-small", href: `#/customers/${encodeURIComponent(c.id)}/edit`, "aria-label": t("list.editOne", { name }) }, t("common.edit")),
        h("button", { type: "button", class: "btn btn-small btn-danger-quiet row-delete", "aria-label": t("list.deleteOne", { name }), onclick: () => deleteOne(c) }, t("common.delete"))));
  }

  // Only the newest request's answer is drawn: a newer one aborts the older,
  // and an answer that still arrives late is dropped, so the rows never go
  // back to an earlier query.
  let seq = 0;
  let inflight = null;
  let loading = false;
  // Left: a search still waiting for its pause would rewrite the next view's address.
  ctx.onLeave(() => {
    clearTimeout(timer);
    if (inflight) inflight.abort();
  });
  async function load() {
    seq += 1;
    const mine = seq;
    if (inflight) inflight.abort();
    const abort = new AbortController();
    inflight = abort;
    loading = true;
    table.setAttribute("aria-busy", "true");
    replace(message);
    prev.disabled = true;
    next.disabled = true;
    const searching = Boolean(s.q);
    const query = {
      pageSize: s.pageSize,
      orderBy: s.orderBy,
      pageToken: memory.tokens[memory.page],
    };
    for (const f of FILTERS) query[f] = s[f];
    if (searching) {
      query.q = s.q;
      query.consistentWith = recentWrites();
    }
    let data;
    try {
      data = (await get(searching ? "/v1/customers:search" : "/v1/customers", query, { signal: abort.signal })).data;
    } catch (e) {
      if (isAbort(e) || mine !== seq || !ctx.live()) return;
      loading = false;
      openFirst = false;
      table.removeAttribute("aria-busy");
      if (e instanceof ApiError && e.details.some((d) => d.field === "pageToken")) {
        Object.assign(memory, { tokens: [""], page: 0 });
        return load();
      }
      const text = searching && e instanceof ApiError && (e.status === 404 || e.status === 503)
        ? t("list.searchDown", { message: e.message })
        : e.message;
      replace(message, banner("error", text, h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      return;
    }
    const colors = await colorsP;
    if (mine !== seq || !ctx.live()) return;
    loading = false;
    inflight = null;
    rows = data.customers || [];
    if (!rows.length && memory.page > 0) {
      // The last page emptied (deletes): show the one before.
      memory.page -= 1;
      return load();
    }
    memory.tokens[memory.page + 1] = data.nextPageToken || "";
    memory.tokens.length = memory.page + 2;
    const n = Number(data.totalSize || 0);
    const lower = Boolean(data.totalSizeIsLowerBound);
    const amount = lower ? t("list.moreThan", { n: count(n) }) : count(n);
    if (searching) {
      total.textContent = !rows.length ? t("list.noMatch")
        : lower ? t("list.moreThanMatch", { n: count(n) }) : tn("list.matches", n);
    } else {
      total.textContent = tn("list.total", n);
    }
    for (const id of [...selected]) if (!rows.some((c) => c.id === id)) selected.delete(id);
    const filtered = FILTERS.some((f) => s[f]);
    if (!rows.length && searching) {
      const sug = tidy(data.suggestion || {});
      const clear = filtered ? h("button", { type: "button", class: "btn btn-link", onclick: () => clearBtn.click() }, t("list.clearFilters")) : null;
      // One slip away from names that exist: offered before adding a duplicate.
      const meant = (data.suggestion && data.suggestion.didYouMean) || [];
      replace(tbody, h("tr", {}, h("td", { colspan: "7", class: "empty" },
        h("p", { class: "no-match" }, t(filtered ? "list.noMatchQFiltered" : "list.noMatchQ", { q: s.q })),
        meant.length ? h("p", { class: "did-you-mean" }, t("list.didYouMean"),
          meant.map((m, i) => [i ? (i === meant.length - 1 ? t("list.or") : ", ") : "",
            h("a", { class: "did-you-mean-link", href: `#/customers?${queryString({ ...s, q: m.q })}` }, m.q),
            ` (${tn("list.total", Number(m.totalSize || 0))})`]), t("list.didYouMeanEnd")) : null,
        h("p", { class: "no-match-actions" },
          h("a", { class: "btn btn-primary", id: "add-suggested", href: `#${suggestionRoute(sug)}` }, suggestionLabel(sug)),
          clear ? [" ", clear] : null))));
    } else if (!rows.length) {
      replace(tbody, h("tr", {}, h("td", { colspan: "7", class: "empty" },
        filtered ? t("list.noMatchFilters") : t("list.empty"),
        " ", filtered ? h("button", { type: "button", class: "btn btn-link", onclick: () => clearBtn.click() }, t("list.clearFilters"))
          : h("a", { href: "#/customers/new" }, t("list.addFirst")))));
    } else {
      const marks = searching ? parseQuery(s.q) : null;
      replace(tbody, rows.map((c) => row(c, colors, marks)));
    }
    const size = Number(s.pageSize);
    const first = memory.page * size + (rows.length ? 1 : 0);
    const last = memory.page * size + rows.length;
    pageInfo.textContent = rows.length
      ? t("list.pageRange", { page: count(memory.page + 1), first: count(first), last: count(last), total: amount })
      : t("list.page", { page: count(memory.page + 1) });
    prev.disabled = memory.page === 0;
    next.disabled = !data.nextPageToken;
    table.removeAttribute("aria-busy");
    updateSelection();
    if (openFirst) openFirstRow();
  }

  // Staff come here to find someone: the box has the focus.
  searchInput.focus({ preventScroll: true });
  if (s.q) searchInput.setSelectionRange(s.q.length, s.q.length);
  await load();
}
