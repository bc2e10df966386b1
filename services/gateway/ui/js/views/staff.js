// The team (#/staff, administrators): the business's staff members (name,
// e-mail, role, status, last sign-in) from GET /v1/staff; invite one
// (POST /v1/staff:invite: e-mail, name, role; when no mail server is set the
// answer carries the link, shown here once to pass on); change a member's
// role, disable or enable a member (PATCH /v1/staff/{id}, disabling asks
// first). Only an owner makes owners; the server refuses the rest and its
// message is shown.

import { ApiError, request, seg } from "../api.js";
import { banner, confirmDialog, copyOnce, field, h, replace, select, setTitle, toast } from "../dom.js";
import { clearErrors, fieldProblem, showErrors } from "../forms.js";
import { when } from "../format.js";
import { currentMember, loadStaff } from "../session.js";
import { t, tn } from "../i18n.js";

export const ROLES = ["READONLY", "STAFF", "ADMIN", "OWNER"];

/** The roles the signed-in member may hand out: only an owner makes owners. */
function grantable() {
  const me = currentMember();
  return ROLES.filter((r) => r !== "OWNER" || !me || me.role === "OWNER");
}

const roleOptions = (roles) => roles.map((r) => [r, t(`team.role.${r}`)]);

export async function renderStaff(view, ctx) {
  setTitle(t("team.title"));
  const count = h("p", { class: "total", id: "staff-count" });
  const message = h("div", { id: "staff-message" });
  const tbody = h("tbody");
  const invited = h("div", { id: "invite-result" });

  // ---- invite
  const email = h("input", { type: "email", id: "invite-new-email", autocomplete: "off", spellcheck: "false", maxlength: 254 });
  const name = h("input", { type: "text", id: "invite-new-name", autocomplete: "off", maxlength: 200 });
  const role = select(roleOptions(grantable()), "STAFF", { id: "invite-new-role" });
  const fields = {
    email: field({ label: t("sign.email"), input: email, required: true }),
    name: field({ label: t("inv.name"), input: name, required: true }),
    role: field({ label: t("team.role"), input: role, hint: t("team.roleHint") }),
  };
  const summary = h("div", { class: "form-summary" });
  const inviteBtn = h("button", { type: "submit", class: "btn btn-primary", id: "invite-send" }, t("team.invite"));
  const form = h("form", { class: "card staff-invite", id: "staff-invite", novalidate: true, "aria-labelledby": "staff-invite-title" },
    h("h2", { id: "staff-invite-title" }, t("team.inviteTitle")),
    h("p", { class: "muted small" }, t("team.inviteLead")),
    summary,
    h("div", { class: "grid grid-3" }, fields.email.row, fields.name.row, fields.role.row),
    h("div", { class: "form-actions-inline" }, inviteBtn));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(invited);
    clearErrors(fields, summary);
    if (!email.value.trim()) return fieldProblem(fields.email, t("team.needEmail"));
    if (!name.value.trim()) return fieldProblem(fields.name, t("inv.enterName"));
    inviteBtn.disabled = true;
    try {
      const { data } = await request("POST", "/v1/staff:invite", { body: { email: email.value.trim(), name: name.value.trim(), role: role.value } });
      const who = (data.staff && data.staff.email) || email.value.trim();
      if (data.inviteUrl) {
        replace(invited, copyOnce({ id: "invite-url", label: t("team.linkFor", { email: who }), value: data.inviteUrl, note: t("team.linkOnce") }));
        invited.querySelector("input").focus();
      } else {
        replace(invited, banner("ok", t("team.sent", { email: who })));
      }
      email.value = "";
      name.value = "";
      await load();
    } catch (e) {
      showErrors(e, fields, summary);
    } finally {
      inviteBtn.disabled = false;
    }
  });

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, t("team.title")), count)),
    h("p", { class: "muted" }, t("team.lead")),
    form, invited, message,
    h("div", { class: "table-wrap" }, h("table", { class: "table stack-table", id: "staff-table" },
      h("caption", { class: "sr-only" }, t("team.title")),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("team.member")), h("th", { scope: "col" }, t("team.role")),
        h("th", { scope: "col" }, t("team.status")), h("th", { scope: "col" }, t("team.lastSignIn")),
        h("th", { scope: "col", class: "col-actions" }, h("span", { class: "sr-only" }, t("common.actions"))))),
      tbody)));

  /** PATCH one member; true when it worked (a refusal is shown in the banner). */
  async function patch(m, body, done) {
    replace(message);
    try {
      await request("PATCH", `/v1/staff/${seg(m.id)}`, { body });
      toast(done);
      await load();
      return true;
    } catch (e) {
      replace(message, banner("error", e instanceof ApiError && e.status === 403 ? t("team.refused", { message: e.message }) : e.message));
      return false;
    }
  }

  function row(m) {
    const me = currentMember();
    const self = me && me.id === m.id;
    const who = m.name || m.email;
    const roles = grantable().includes(m.role) ? grantable() : [m.role, ...grantable()];
    const roleSel = select(roleOptions(roles), m.role, { class: "staff-role", "aria-label": t("team.roleOf", { name: who }) });
    roleSel.addEventListener("change", async () => {
      const roleName = t(`team.role.${roleSel.value}`);
      const sure = await confirmDialog({ title: t("team.roleTitle", { name: who, role: roleName }), message: t("team.roleMessage"),
        confirmLabel: t("team.roleConfirm"), danger: false });
      roleSel.disabled = true;
      const ok = sure && await patch(m, { role: roleSel.value }, t("team.roleChanged", { name: who, role: roleName }));
      if (!ok) {
        roleSel.value = m.role;
        roleSel.disabled = false;
      }
    });
    const disabled = m.status === "DISABLED";
    const toggle = h("button", { type: "button", class: `btn btn-small ${disabled ? "" : "btn-danger-quiet"} staff-toggle`,
      "aria-label": t(disabled ? "team.enableOne" : "team.disableOne", { name: who }), hidden: self },
    t(disabled ? "team.enable" : "team.disable"));
    toggle.addEventListener("click", async () => {
      const ok = await confirmDialog(disabled
        ? { title: t("team.enableTitle", { name: who }), message: t("team.enableMessage"), confirmLabel: t("team.enable"), danger: false }
        : { title: t("team.disableTitle", { name: who }), message: t("team.disableMessage"), confirmLabel: t("team.disable") });
      if (!ok) return;
      await patch(m, { status: disabled ? "ACTIVE" : "DISABLED" }, t(disabled ? "team.enabled" : "team.disabled", { name: who }));
    });
    return h("tr", { dataset: { id: m.id, status: m.status || "", role: m.role || "" } },
      h("td", { "data-label": t("team.member") }, h("span", { class: "staff-name" }, who), self ? h("span", { class: "muted small" }, ` (${t("team.you")})`) : null,
        h("br"), h("span", { class: "muted small staff-email" }, m.email || "")),
      h("td", { "data-label": t("team.role") }, self ? t(`team.role.${m.role}`) : roleSel),
      h("td", { "data-label": t("team.status") }, h("span", { class: `status-badge status-${(m.status || "").toLowerCase()}` }, t(`team.status.${m.status || "ACTIVE"}`))),
      h("td", { "data-label": t("team.lastSignIn") }, m.lastSignInAt ? when(m.lastSignInAt) : h("span", { class: "muted" }, t("team.never"))),
      h("td", { class: "col-actions" }, toggle));
  }

  async function load() {
    let staff;
    try {
      staff = await loadStaff(true);
    } catch (e) {
      replace(message, banner("error", e.message, h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      return;
    }
    if (!ctx.live()) return;
    count.textContent = tn("team.count", staff.length);
    replace(tbody, staff.map(row));
  }
  await load();
  email.focus();
}
