// The customer card: everything about one customer on one page: the summary
// strip (bookings, orders, money spent, upcoming appointments), private notes,
// the customer's tasks, the timeline of everything that happened, and the
// history of changes (GET /v1/customers/{id}/audit): who changed what, when,
// through which channel, with the old and new values.

import { ApiError, get, request, seg } from "../api.js";
import { banner, chip, confirmDialog, h, replace, scrollTable, setTitle, toast } from "../dom.js";
import {
  ACCOUNT_STATUSES, ADDRESS_KINDS, CONSENTS, GENDERS, SOURCES, addressLine, changeValue, day,
  displayName, fieldName, fullName, label, roleName, when,
} from "../format.js";
import { avatar, releasePhotos } from "../photo.js";
import { groupColors, noteWrite } from "../session.js";
import { summarySection, timelineSection } from "../history.js";
import { messagesSection } from "../messages.js";
import { conversationsSection } from "../conversations.js";
import { notesSection } from "../notes.js";
import { filesSection } from "../files.js";
import { cardFormSection, surveysSection } from "../formkit.js";
import { taskForm, taskItem } from "../taskkit.js";
import { t } from "../i18n.js";
import { vatCheckView } from "../vatcheck.js";
import { subsSection } from "../subs.js";
import { accessSection } from "../access.js";
import { walletSection } from "../wallet.js";
import { mergeSection } from "../merge.js";
import { discountChange, discountsSection } from "../prices.js";
import { purchasesSection, visitsSection } from "../visits.js";

const ACTIONS = {
  created: "enum.action.created",
  updated: "enum.action.updated",
  deleted: "enum.action.deleted",
  photo_changed: "enum.action.photo_changed",
  merged: "enum.action.merged",
};

// A customer's own price rule added, changed or removed (prices.js words it).
const DISCOUNT_ACTIONS = {
  discount_added: "customer.discount_added",
  discount_changed: "customer.discount_changed",
  discount_removed: "customer.discount_removed",
};

const CHANNELS = {
  api: "enum.channel.api",
  ui: "enum.channel.ui",
  import: "enum.channel.import",
  booking: "enum.channel.booking",
  store: "enum.channel.store",
  company: "enum.channel.company",
};

export async function renderCard(view, ctx) {
  const id = ctx.parts[1];
  releasePhotos();
  setTitle(t("card.title"));
  replace(view, h("h1", {}, t("card.title")), h("p", { class: "muted" }, t("common.loading")));
  let c;
  try {
    c = (await get(`/v1/customers/${seg(id)}`)).data;
  } catch (e) {
    const merged = e instanceof ApiError && e.status === 404 && e.details.find((d) => d.reason === "MERGED");
    if (merged && merged.resourceId) {
      // A merged record's id: the customer lives on under the kept one's.
      setTitle(t("card.notFound"));
      replace(view, h("h1", {}, t("card.notFound")),
        h("p", { id: "card-merged" }, t("card.mergedInto"), " ",
          h("a", { href: `#/customers/${encodeURIComponent(merged.resourceId)}`, id: "card-merged-link" }, t("card.openKept"))));
      return;
    }
    if (e instanceof ApiError && e.status === 404) {
      setTitle(t("card.notFound"));
      replace(view, h("h1", {}, t("card.notFound")),
        h("p", {}, t("card.notFoundText"), h("a", { href: "#/customers" }, t("card.backToList"))));
      return;
    }
    throw e;
  }
  if (!ctx.live()) return;
  const colors = await groupColors();
  setTitle(fullName(c));

  const dl = (rows) => {
    const items = rows.filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length));
    if (!items.length) return h("p", { class: "muted" }, t("card.nothing"));
    return h("dl", { class: "facts" }, items.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  };

  const editBtn = h("a", { class: "btn btn-primary", href: `#/customers/${encodeURIComponent(c.id)}/edit`, id: "edit-customer" }, t("common.edit"));
  const deleteBtn = h("button", { type: "button", class: "btn btn-danger-quiet", id: "delete-customer" }, t("common.delete"));
  deleteBtn.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: t("common.deleteCustomerTitle"),
      message: t("common.deleteCustomerMessage", { name: displayName(c) }),
    });
    if (!ok) return;
    try {
      await request("DELETE", `/v1/customers/${seg(c.id)}`, { headers: { "If-Match": `"${c.etag}"` } });
      noteWrite(c.id, "deleted");
      toast(t("common.deletedCustomer", { name: displayName(c) }));
      ctx.navigate("/customers");
    } catch (e) {
      view.prepend(banner("error", e.status === 412
        ? t("card.changedMeanwhile")
        : e.message));
    }
  });

  const groups = (c.groups || []).map((g) => chip(g, { color: colors.get(g.toLowerCase()), kind: "group" }));
  const tags = (c.tags || []).map((tag) => chip(tag, { kind: "tag" }));
  const access = accessSection(c.id);
  const merge = mergeSection(c, { onMerged: () => renderCard(view, ctx) });
  const head = h("header", { class: "card card-head" },
    avatar(c, "large"),
    h("div", { class: "card-head-main" },
      h("h1", { id: "customer-name" }, fullName(c)),
      c.company && c.company.name ? h("p", { class: "company-line" }, c.company.name) : null,
      h("p", { class: "muted" }, [c.email, c.phone].filter(Boolean).join(" · ") || t("card.noContact")),
      groups.length || tags.length ? h("div", { class: "chips", id: "customer-chips" }, groups, tags) : null),
    h("div", { class: "card-head-actions" }, access.button, merge.button, editBtn, deleteBtn));

  const contact = cardSection("card.contact", dl([
    [t("enum.field.email"), c.email ? h("a", { href: `mailto:${c.email}` }, c.email) : ""],
    [t("enum.field.phone"), c.phone ? h("a", { href: `tel:${c.phone}` }, c.phone) : ""],
    [t("enum.field.gender"), c.gender && c.gender !== "UNSPECIFIED" ? label(GENDERS, c.gender) : ""],
    [t("enum.field.birthDate"), day(c.birthDate)],
  ]));

  const note = cardSection("enum.field.description",
    h("p", { class: "staff-only" }, t("common.staffOnly")),
    c.description ? h("p", { class: "note", id: "customer-description" }, c.description) : h("p", { class: "muted" }, t("card.noNotes")));

  // A company's data; for a person, the company they work for if it is known.
  const company = c.isCompany || (c.company && c.company.name) ? cardSection("enum.field.company", dl([
    [t("card.name"), c.company && c.company.name],
    [t("enum.field.company.vatNumber"), c.isCompany && c.company && c.company.vatNumber],
    [t("card.address"), c.isCompany && c.company && c.company.address ? h("span", { class: "pre" }, c.company.address) : ""],
  ]), c.isCompany && c.company && c.company.vatNumber
    ? h("div", { class: "vat-card" }, h("h3", {}, t("vatcheck.title")), vatCheckView(c, () => timeline.load()))
    : null) : null;

  const addresses = cardSection("enum.field.addresses", (c.addresses || []).length
    ? h("ul", { class: "address-list" }, c.addresses.map((a) => h("li", {},
      h("strong", {}, label(ADDRESS_KINDS, a.kind)), h("br"), addressLine(a))))
    : h("p", { class: "muted" }, t("card.noAddress")));

  const prefs = c.preferences || {};
  const consentRows = CONSENTS.map(([key, text]) => {
    const x = prefs[key];
    return h("tr", {}, h("th", { scope: "row" }, t(text)),
      h("td", {}, x ? (x.granted ? h("span", { class: "yes" }, t("card.agreed")) : h("span", { class: "no" }, t("card.notAgreed")))
        : h("span", { class: "muted" }, t("card.notAsked"))),
      h("td", {}, x && x.changedAt ? when(x.changedAt) : "—"),
      h("td", {}, (x && x.source) || "—"));
  });
  const account = cardSection("card.accountPrefs",
    dl([
      [t("enum.field.account"), label(ACCOUNT_STATUSES, (c.account && c.account.status) || "NONE")],
      [t("enum.field.salesAgent"), c.salesAgent],
      [t("enum.field.language"), prefs.language],
      [t("card.cameFrom"), label(SOURCES, c.source)],
    ]),
    scrollTable(t("card.consents"), h("table", { class: "table consents", id: "consents" },
      h("caption", {}, t("card.consents")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("form.channel")), h("th", { scope: "col" }, t("card.consent")),
        h("th", { scope: "col" }, t("card.when")), h("th", { scope: "col" }, t("form.source")))),
      h("tbody", {}, consentRows))));

  const record = cardSection("card.record", dl([
    [t("list.added"), when(c.createdAt)],
    [t("form.lastChanged"), when(c.updatedAt)],
    [t("enum.field.externalIds"), (c.externalIds || []).map((x) => `${x.system}: ${x.id}`).join(", ")],
    [t("card.id"), h("code", {}, c.id)],
  ]));

  const history = h("section", { class: "card history", "aria-labelledby": "history-title", id: "history" },
    h("h2", { id: "history-title" }, t("card.history")));
  const entries = h("ol", { class: "audit", id: "audit" });
  const more = h("button", { type: "button", class: "btn", id: "audit-more", hidden: true }, t("card.olderChanges"));
  history.append(h("p", { class: "muted" }, t("card.historyLead")), entries, more);

  const summary = summarySection(c.id);
  const timeline = timelineSection(c.id);
  const notes = notesSection(c.id, { onChange: () => timeline.load() });
  const files = filesSection(c, { onChange: () => timeline.load() });
  const tasks = tasksSection(c.id, () => timeline.load());
  const cardForm = cardFormSection(c.id, { onChange: () => timeline.load() });
  const surveys = surveysSection(c.id);
  const messages = messagesSection(c, { onChange: () => timeline.load() });
  const wallet = walletSection(c.id, { onChange: () => timeline.load() });
  const subs = subsSection(c.id, {
    onChange: () => {
      timeline.load();
      wallet.load();
    },
  });
  const discounts = discountsSection(c, { onChange: () => timeline.load() });
  const visits = visitsSection(c.id, { onChange: () => timeline.load() });
  const purchases = purchasesSection(c.id, {
    onChange: () => {
      timeline.load();
      summary.load();
      wallet.load();
    },
  });
  const conversations = conversationsSection(c, {
    onChange: () => {
      timeline.load();
      messages.load();
    },
  });

  replace(view,
    h("nav", { class: "crumbs", "aria-label": t("common.breadcrumb") }, h("a", { href: "#/customers" }, t("nav.customers")), " / ", displayName(c)),
    head,
    merge.section,
    access.section,
    summary.section,
    h("div", { class: "card-grid" },
      h("div", { class: "card-col" }, notes.section, cardForm.section, files.section, contact, company, addresses, note),
      h("div", { class: "card-col" }, visits.section, purchases.section, wallet.section, subs.section, tasks.section, surveys.section, discounts.section, conversations.section, messages.section, account, record)),
    timeline.section,
    history);
  // The panels load side by side; each shows its own error if its service is away.
  summary.load();
  wallet.load();
  subs.load();
  notes.load();
  files.load();
  cardForm.load();
  surveys.load();
  tasks.load();
  messages.load();
  conversations.load();
  discounts.load();
  visits.load();
  purchases.load();
  timeline.load();

  let token = "";
  async function loadAudit() {
    more.disabled = true;
    let data;
    try {
      data = (await get(`/v1/customers/${seg(c.id)}/audit`, { pageSize: 20, pageToken: token })).data;
    } catch (e) {
      history.append(banner("error", t("card.historyFailed", { message: e.message })));
      return;
    }
    if (!ctx.live()) return;
    for (const entry of data.entries || []) entries.append(auditEntry(entry));
    if (!entries.children.length) entries.append(h("li", { class: "muted" }, t("card.noChanges")));
    token = data.nextPageToken || "";
    more.hidden = !token;
    more.disabled = false;
  }
  more.addEventListener("click", loadAudit);
  await loadAudit();
}

/** The customer's tasks: open ones by due date, then the done ones; add, tick, edit, delete. */
function tasksSection(customerId, onChange) {
  const list = h("ul", { class: "tasks", id: "customer-tasks", "aria-label": t("nav.tasks") });
  const status = h("div");
  const addBtn = h("button", { type: "button", class: "btn", id: "task-add" }, t("card.addTask"));
  const formSlot = h("div", { class: "task-form-slot" });
  const showDone = h("input", { type: "checkbox", id: "tasks-show-done" });
  const section = h("section", { class: "card tasks-card", "aria-labelledby": "tasks-title", id: "tasks-section" },
    h("div", { class: "section-head" }, h("h2", { id: "tasks-title" }, t("nav.tasks")),
      h("label", { class: "check-row inline small", for: "tasks-show-done" }, showDone, " ", t("card.showDone"))),
    status, list, formSlot, addBtn);

  const changed = async () => {
    await load();
    onChange();
  };
  addBtn.addEventListener("click", () => {
    addBtn.hidden = true;
    const close = () => {
      replace(formSlot);
      addBtn.hidden = false;
      addBtn.focus();
    };
    replace(formSlot, taskForm({
      customerId,
      onSaved: async () => {
        close();
        await changed();
      },
      onCancel: close,
    }));
  });
  showDone.addEventListener("change", () => load());

  async function load() {
    let data;
    try {
      data = (await get(`/v1/customers/${seg(customerId)}/tasks`, { pageSize: 100, done: showDone.checked ? "" : "false" })).data;
    } catch (e) {
      replace(status, banner("error", t("task.loadFailed", { message: e.message }),
        h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      return;
    }
    replace(status);
    const tasks = (data.tasks || []).slice().sort((a, b) => Number(a.done) - Number(b.done));
    replace(list, tasks.map((task) => taskItem(task, { onChange: changed })));
    if (!tasks.length) list.append(h("li", { class: "muted empty-task" }, t(showDone.checked ? "task.none" : "task.noneOpen")));
  }
  return { section, load };
}

function cardSection(key, ...children) {
  const id = `sec-${key.split(".").pop().toLowerCase()}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, t(key)), children);
}

function auditEntry(e) {
  const p = e.principal || {};
  const who = p.name || p.id || t("card.someone");
  const role = roleName(p.role);
  if (DISCOUNT_ACTIONS[e.action]) {
    return h("li", { class: "audit-entry", dataset: { action: e.action } },
      h("div", { class: "audit-head" }, h("strong", {}, discountChange(DISCOUNT_ACTIONS[e.action], (e.changes || [])[0] || {})),
        h("span", {}, " ", t(role ? "card.byRole" : "card.by", { who, role })),
        h("time", { datetime: e.time, class: "muted" }, ` · ${when(e.time)}`)));
  }
  const changes = (e.changes || []).map((ch) => h("tr", {},
    h("th", { scope: "row" }, fieldName(ch.field)),
    h("td", { class: "old" }, changeValue(ch.field, ch.oldValue)),
    h("td", { class: "arrow", "aria-hidden": "true" }, "→"),
    h("td", { class: "new" }, changeValue(ch.field, ch.newValue))));
  return h("li", { class: "audit-entry", dataset: { action: e.action } },
    h("div", { class: "audit-head" },
      h("strong", {}, ACTIONS[e.action] ? t(ACTIONS[e.action]) : (e.action === "vat_checked" ? t("vatcheck.audit") : e.action)),
      h("span", {}, " ", t(role ? "card.byRole" : "card.by", { who, role })),
      h("span", { class: "muted" }, " ", t("card.via", { channel: CHANNELS[e.channel] ? t(CHANNELS[e.channel]) : e.channel || "API" })),
      h("time", { datetime: e.time, class: "muted" }, ` · ${when(e.time)}`)),
    changes.length ? h("table", { class: "changes" },
      h("thead", { class: "sr-only" }, h("tr", {}, h("th", { scope: "col" }, t("card.field")), h("th", { scope: "col" }, t("card.before")),
        h("th", { scope: "col" }, t("card.arrow")), h("th", { scope: "col" }, t("card.after")))),
      h("tbody", {}, changes)) : null);
}
