// The Tasks page (#/tasks): tasks across customers, by due date, overdue
// ones marked; filters mine/everyone's, open/done/all, overdue only (kept in
// the URL: #/tasks?who=all&status=done&overdue=1); tick done, edit, delete,
// a link to each task's customer; and "Subscribe in your calendar": a secret
// iCalendar address (POST /v1/taskFeeds) to copy into a calendar app.

import { get, request, seg } from "../api.js";
import { banner, confirmDialog, copyText, h, replace, select, setTitle, toast } from "../dom.js";
import { when } from "../format.js";
import { taskForm, taskItem } from "../taskkit.js";
import { t, tn } from "../i18n.js";

const PAGE_SIZE = 50;

function readQuery(q) {
  return {
    who: q.get("who") === "all" ? "all" : "me",
    status: ["done", "all"].includes(q.get("status")) ? q.get("status") : "open",
    overdue: q.get("overdue") === "1",
  };
}

function queryString(s) {
  const q = new URLSearchParams();
  if (s.who !== "me") q.set("who", s.who);
  if (s.status !== "open") q.set("status", s.status);
  if (s.overdue) q.set("overdue", "1");
  return q.toString();
}

export async function renderTasks(view, ctx) {
  setTitle(t("nav.tasks"));
  const s = readQuery(ctx.query);
  const heading = h("h1", {}, t(s.who === "me" ? "task.mine" : "nav.tasks"));
  const total = h("p", { class: "total", id: "tasks-total", "aria-live": "polite" });
  const newBtn = h("button", { type: "button", class: "btn btn-primary", id: "task-new" }, t("task.new"));

  const whoSel = select([["me", t("task.whoMine")], ["all", t("task.whoAll")]], s.who, { id: "tasks-who" });
  const statusSel = select([["open", t("task.stOpen")], ["done", t("task.stDone")], ["all", t("task.stAll")]], s.status, { id: "tasks-status" });
  const overdueBox = h("input", { type: "checkbox", id: "tasks-overdue", checked: s.overdue, disabled: s.status === "done" });
  const filterField = (label, el) => h("div", { class: "filter" }, h("label", { for: el.id }, label), el);
  const filters = h("form", { class: "filters", "aria-label": t("task.filterLabel"), onsubmit: (e) => e.preventDefault() },
    filterField(t("task.whose"), whoSel), filterField(t("task.status"), statusSel),
    h("div", { class: "filter filter-end" }, h("label", { class: "check-row inline", for: "tasks-overdue" }, overdueBox, " ", t("task.overdueOnly"))));
  const apply = () => {
    const text = queryString(s);
    ctx.navigate(text ? `/tasks?${text}` : "/tasks", { replace: true });
  };
  whoSel.addEventListener("change", () => {
    s.who = whoSel.value;
    apply();
  });
  statusSel.addEventListener("change", () => {
    s.status = statusSel.value;
    if (s.status === "done") s.overdue = false;
    apply();
  });
  overdueBox.addEventListener("change", () => {
    s.overdue = overdueBox.checked;
    apply();
  });

  const list = h("ul", { class: "tasks tasks-page", id: "task-list", "aria-labelledby": "tasks-list-title" });
  const message = h("div");
  const more = h("button", { type: "button", class: "btn", id: "tasks-more", hidden: true }, t("common.loadMore"));
  const formSlot = h("div");
  newBtn.addEventListener("click", () => {
    newBtn.disabled = true;
    const close = () => {
      replace(formSlot);
      newBtn.disabled = false;
      newBtn.focus();
    };
    replace(formSlot, h("section", { class: "card", "aria-label": t("task.new") }, h("h2", {}, t("task.new")),
      taskForm({ onSaved: () => { close(); load(); }, onCancel: close })));
  });

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, heading, total), h("div", { class: "view-actions" }, newBtn)),
    filters, formSlot, message,
    h("section", { class: "card", "aria-labelledby": "tasks-list-title" },
      h("h2", { id: "tasks-list-title", class: "sr-only" }, t("task.byDue")), list, more),
    calendarSection());

  let pages = 1;
  let seq = 0;
  // Every page up to the last one shown, so ticking one off keeps the place.
  async function load(extra = false) {
    if (extra) pages += 1;
    seq += 1;
    const mine = seq;
    more.disabled = true;
    const tasks = [];
    let token = ""; // each load its own: two that overlap must not read each other's pages
    try {
      for (let i = 0; i < pages; i++) {
        const { data } = await get("/v1/tasks", {
          pageSize: PAGE_SIZE,
          pageToken: token,
          assignee: s.who === "me" ? "me" : "",
          done: s.status === "open" ? "false" : s.status === "done" ? "true" : "",
          overdue: s.overdue ? "true" : "",
        });
        tasks.push(...(data.tasks || []));
        token = data.nextPageToken || "";
        if (!token) break;
      }
    } catch (e) {
      if (mine !== seq || !ctx.live()) return;
      replace(message, banner("error", t("task.loadFailed", { message: e.message }),
        h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      more.disabled = false;
      return;
    }
    if (mine !== seq || !ctx.live()) return;
    replace(message);
    const focusedId = list.contains(document.activeElement) ? document.activeElement.closest("li[data-id]")?.dataset.id : "";
    replace(list, tasks.map((task) => taskItem(task, { showCustomer: true, onChange: () => load() })));
    if (!tasks.length) {
      list.append(h("li", { class: "muted empty-task" },
        t(s.overdue ? "task.noneOverdue" : s.status === "done" ? "task.noneDone" : "task.noneOpen")));
    }
    const overdue = tasks.filter((task) => task.overdue).length;
    total.textContent = tn("task.count", tasks.length) + (token ? t("task.soFar") : "")
      + (overdue && !s.overdue ? t("task.overdueCount", { n: overdue }) : "");
    more.hidden = !token;
    more.disabled = false;
    if (focusedId) {
      const again = list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] .task-done`);
      if (again) again.focus();
    }
  }
  more.addEventListener("click", () => load(true));
  await load();
}

/** "Subscribe in your calendar": create, show and copy a feed address; list and stop feeds. */
function calendarSection() {
  const kind = select([["event", t("task.asEvents")], ["todo", t("task.asTodos")]], "event", { id: "feed-component" });
  const create = h("button", { type: "button", class: "btn btn-primary", id: "feed-create" }, t("task.feedCreate"));
  const result = h("div", { id: "feed-result" });
  const feeds = h("ul", { class: "feeds", id: "feeds" });
  const section = h("section", { class: "card calendar-card", "aria-labelledby": "calendar-title", id: "calendar" },
    h("h2", { id: "calendar-title" }, t("task.calTitle")),
    h("p", {}, t("task.calLead")),
    h("p", { class: "muted small" }, t("task.calWarn"), h("code", {}, "/v1/tasks.ics"), t("task.calWarnEnd")),
    h("div", { class: "feed-create-row" }, h("label", { for: "feed-component", class: "sr-only" }, t("task.showTasks")), kind, create),
    result,
    h("h3", {}, t("task.calList")),
    feeds);

  async function loadFeeds() {
    let data;
    try {
      data = (await get("/v1/taskFeeds")).data || {};
    } catch (e) {
      replace(feeds, h("li", {}, banner("error", t("task.feedsFailed", { message: e.message }))));
      return;
    }
    const items = data.feeds || [];
    replace(feeds, items.map((f) => {
      const stop = h("button", { type: "button", class: "btn btn-small btn-danger-quiet feed-delete" }, t("task.stop"));
      stop.setAttribute("aria-label", t("task.stopOne", { when: when(f.createdAt) }));
      stop.addEventListener("click", async () => {
        const ok = await confirmDialog({ title: t("task.stopTitle"), message: t("task.stopMessage"), confirmLabel: t("task.stop") });
        if (!ok) return;
        try {
          await request("DELETE", `/v1/taskFeeds/${seg(f.id)}`);
          toast(t("task.stopped"));
          loadFeeds();
        } catch (e) {
          toast(e.message, "error");
        }
      });
      return h("li", { dataset: { id: f.id } },
        h("span", {}, t("task.made", { when: when(f.createdAt) }), " · ", t(f.component === "todo" ? "task.todos" : "task.events")),
        " ", stop);
    }));
    if (!items.length) feeds.append(h("li", { class: "muted" }, t("task.noneYet")));
  }

  create.addEventListener("click", async () => {
    create.disabled = true;
    try {
      const { data } = await request("POST", "/v1/taskFeeds", { body: { component: kind.value, baseUrl: location.origin } });
      const url = new URL(data.path || `/v1/feeds/tasks.ics?token=${encodeURIComponent(data.token)}`, location.origin).href;
      const input = h("input", { type: "text", id: "feed-url", readonly: true, class: "mono", value: url, "aria-describedby": "feed-url-hint" });
      const copy = h("button", { type: "button", class: "btn", id: "feed-copy" }, t("task.copy"));
      copy.addEventListener("click", () => copyText(input));
      input.addEventListener("focus", () => input.select());
      const webcal = url.replace(/^https?:/, "webcal:");
      replace(result, h("div", { class: "banner banner-ok", role: "status" },
        h("p", {}, h("label", { for: "feed-url" }, t("task.yourAddress"))),
        h("div", { class: "copy-row" }, input, copy),
        h("p", { class: "small", id: "feed-url-hint" }, t("task.shownOnce"),
          h("a", { href: webcal }, t("task.openInApp")), ".")));
      input.focus();
      loadFeeds();
    } catch (e) {
      replace(result, banner("error", t("task.feedFailed", { message: e.message })));
    } finally {
      create.disabled = false;
    }
  });
  loadFeeds();
  return section;
}
