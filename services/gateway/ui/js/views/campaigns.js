// Campaigns: a newsletter to a group or a tag, on e-mail or SMS, with the
// number of customers in the audience shown before sending; the campaigns
// with their progress (refreshed while one runs) and a button to stop one.
// Every string from the message catalogue (i18n.js).

import { ApiError, get, request, seg } from "../api.js";
import { banner, field, h, replace, setTitle, toast } from "../dom.js";
import { t } from "../i18n.js";
import { loadGroups } from "../session.js";

const REFRESH_MS = 2000;

function option(value, label, selected) {
  const o = h("option", { value }, label);
  if (selected) o.selected = true;
  return o;
}

function campaignCard(c, onCancel) {
  const running = c.status === "EXPANDING" || c.status === "SENDING";
  const audience = c.group ? t("camp.toGroup", { name: c.group }) : t("camp.toTag", { name: c.tag });
  const stop = running
    ? h("button", { type: "button", class: "btn btn-small btn-danger-quiet campaign-cancel" }, t("camp.cancel"))
    : null;
  if (stop) stop.addEventListener("click", () => onCancel(c, stop));
  return h("li", { class: "card campaign", dataset: { id: c.id, status: c.status } },
    h("div", { class: "campaign-head" },
      h("h3", { class: "campaign-name" }, c.name),
      h("span", { class: `badge campaign-status status-${c.status.toLowerCase()}` }, t(`camp.status.${c.status}`))),
    h("p", { class: "muted" }, `${audience} · ${c.channel === "SMS" ? t("camp.sms") : t("camp.email")}`),
    h("p", { class: "campaign-progress" }, t("camp.progress", {
      sent: c.sent || 0, queued: c.queued || 0, total: c.total || 0, failed: c.failed || 0,
    })),
    h("p", { class: "muted campaign-skipped" }, t("camp.skipped", {
      consent: c.skippedNoConsent || 0, address: c.skippedNoAddress || 0, cancelled: c.cancelled || 0,
    })),
    stop);
}

export async function renderCampaigns(view, ctx) {
  setTitle(t("camp.title"));
  const message = h("div", {});
  const list = h("ul", { class: "campaign-list", id: "campaign-list" });

  const name = h("input", { type: "text", id: "camp-name", autocomplete: "off", maxlength: 200 });
  const nameField = field({ label: t("camp.name"), input: name, required: true });
  const kind = h("select", { id: "camp-kind" }, option("tag", t("camp.byTag"), true), option("group", t("camp.byGroup")));
  const kindField = field({ label: t("camp.audience"), input: kind });
  const tag = h("input", { type: "text", id: "camp-tag", autocomplete: "off", maxlength: 200 });
  const group = h("select", { id: "camp-group" });
  const who = h("div", { id: "camp-who" });
  const tagField = field({ label: t("camp.tag"), input: tag, required: true });
  const groupField = field({ label: t("camp.group"), input: group, required: true });
  // Keeps its line while the count is unknown: the fields and the campaigns
  // below do not move as staff type the tag.
  const count = h("p", { class: "muted keep-line", id: "camp-count", role: "status" });
  const channel = h("select", { id: "camp-channel" }, option("EMAIL", t("camp.email"), true), option("SMS", t("camp.sms")));
  const channelField = field({ label: t("camp.channel"), input: channel });
  const subject = h("input", { type: "text", id: "camp-subject", autocomplete: "off", maxlength: 200 });
  const subjectField = field({ label: t("camp.subject"), input: subject, required: true });
  const text = h("textarea", { id: "camp-text", rows: 6 });
  const textField = field({ label: t("camp.text"), input: text, required: true, hint: t("camp.textHint") });
  const send = h("button", { type: "submit", class: "btn btn-primary", id: "camp-send" }, t("camp.send"));
  const form = h("form", { class: "card campaign-create", novalidate: true, "aria-labelledby": "camp-new-title" },
    h("h2", { id: "camp-new-title" }, t("camp.new")),
    nameField.row, kindField.row, who, count, channelField.row, subjectField.row, textField.row,
    h("div", { class: "form-actions-inline" }, send));
  const fields = { name: nameField, tag: tagField, group: groupField, subject: subjectField, text: textField };

  let countSeq = 0;
  async function showCount() {
    const seq = ++countSeq;
    const by = kind.value;
    const value = by === "tag" ? tag.value.trim() : group.value;
    if (!value) {
      count.textContent = "";
      return;
    }
    try {
      const { data } = await get("/v1/customers", { [by]: value, pageSize: 1 });
      if (seq === countSeq && ctx.live()) count.textContent = t("camp.recipients", { n: data.totalSize || 0 });
    } catch (e) {
      if (seq === countSeq) count.textContent = "";
    }
  }
  function showWho() {
    replace(who, kind.value === "tag" ? tagField.row : groupField.row);
    subjectField.row.hidden = channel.value === "SMS";
    showCount();
  }
  kind.addEventListener("change", showWho);
  channel.addEventListener("change", showWho);
  group.addEventListener("change", showCount);
  let typing;
  tag.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(showCount, 300);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(message);
    for (const f of Object.values(fields)) {
      f.error.hidden = true;
      f.input.removeAttribute("aria-invalid");
    }
    const body = { name: name.value.trim(), channel: channel.value, text: text.value };
    body[kind.value] = kind.value === "tag" ? tag.value.trim() : group.value;
    if (channel.value === "EMAIL") body.subject = subject.value.trim();
    send.disabled = true;
    try {
      const { data } = await request("POST", "/v1/campaigns", { body });
      toast(t("camp.started", { name: data.name }));
      name.value = "";
      subject.value = "";
      text.value = "";
      await load();
    } catch (e) {
      let shown = false;
      for (const d of (e instanceof ApiError && e.details) || []) {
        const f = fields[d.field];
        if (!f) continue;
        f.error.textContent = d.description;
        f.error.hidden = false;
        f.input.setAttribute("aria-invalid", "true");
        if (!shown) f.input.focus();
        shown = true;
      }
      if (!shown) replace(message, banner("error", t("camp.error", { message: e.message })));
    } finally {
      send.disabled = false;
    }
  });

  async function cancel(c, button) {
    button.disabled = true;
    try {
      await request("POST", `/v1/campaigns/${seg(c.id)}:cancel`, { body: {} });
      toast(t("camp.cancelled", { name: c.name }));
    } catch (e) {
      replace(message, banner("error", t("camp.error", { message: e.message })));
    }
    await load();
  }

  let timer;
  async function load() {
    clearTimeout(timer);
    let campaigns;
    try {
      campaigns = (await get("/v1/campaigns", { pageSize: 50 })).data.campaigns || [];
    } catch (e) {
      replace(message, banner("error", t("camp.error", { message: e.message })));
      return;
    }
    if (!ctx.live()) return;
    replace(list, campaigns.length ? campaigns.map((c) => campaignCard(c, cancel))
      : h("li", { class: "empty" }, t("camp.none")));
    if (campaigns.some((c) => c.status === "EXPANDING" || c.status === "SENDING")) {
      clearTimeout(timer); // another load() may have set one while this one waited
      timer = setTimeout(load, REFRESH_MS);
    }
  }

  replace(view,
    h("div", { class: "view-head" }, h("h1", {}, t("camp.title"))),
    h("p", { class: "muted" }, t("camp.lead")),
    message, form,
    h("h2", {}, t("camp.list")),
    list);
  try {
    const groups = await loadGroups();
    replace(group, option("", t("camp.pickGroup"), true), groups.map((g) => option(g.name, g.name)));
  } catch (e) {
    replace(message, banner("error", t("camp.error", { message: e.message })));
  }
  showWho();
  await load();
}
