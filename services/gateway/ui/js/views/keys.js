// API keys (#/keys, administrators): the keys integrations use (name,
// scopes, made when and by whom, last used, revoked) from GET /v1/apiKeys;
// make one (POST /v1/apiKeys: a name and the scopes it may use, each with a
// line of help; the secret is shown here once, to copy), revoke one (DELETE
// /v1/apiKeys/{id}, after a confirmation).

import { request, seg } from "../api.js";
import { banner, confirmDialog, copyOnce, field, h, replace, setTitle, toast } from "../dom.js";
import { clearErrors, fieldProblem, showErrors } from "../forms.js";
import { when } from "../format.js";
import { t, tn } from "../i18n.js";

// The scopes a key may be given (a key has the service role: never private
// notes, settings or staff; docs/api.md "Roles and scopes").
export const KEY_SCOPES = ["customers:read", "customers:write", "notes:read", "notes:write", "messages:send",
  "company:read", "events:publish", "events:read", "exchange", "access:check"];

// "customers:read" -> "keys.scope.customers_read" (catalogue keys have no colons).
const scopeKey = (s) => `keys.scope.${s.replace(/[^a-z]/g, "_")}`;
const scopeHelp = (s) => `keys.help.${s.replace(/[^a-z]/g, "_")}`;
export const NAME_MAX = 100;

export async function renderKeys(view, ctx) {
  setTitle(t("keys.title"));
  const count = h("p", { class: "total", id: "keys-count" });
  const message = h("div", { id: "keys-message" });
  const made = h("div", { id: "key-result" });
  const list = h("tbody");

  const name = h("input", { type: "text", id: "key-name", autocomplete: "off", maxlength: NAME_MAX });
  const nameField = field({ label: t("keys.name"), input: name, required: true, hint: t("keys.nameHint") });
  const boxes = KEY_SCOPES.map((s) => {
    const id = `key-scope-${s.replace(/[^a-z]/g, "-")}`;
    const box = h("input", { type: "checkbox", id, value: s, class: "key-scope", "aria-describedby": `${id}-help` });
    return { scope: s, box, row: h("div", { class: "scope-row" },
      h("label", { class: "check-row", for: id }, box, " ", h("span", {}, t(scopeKey(s))), " ", h("code", { class: "small" }, s)),
      h("p", { class: "hint", id: `${id}-help` }, t(scopeHelp(s)))) };
  });
  const scopesError = h("p", { class: "field-error", id: "key-scopes-error", hidden: true });
  const fields = { name: nameField, scopes: { input: boxes[0].box, error: scopesError } };
  const summary = h("div", { class: "form-summary" });
  const create = h("button", { type: "submit", class: "btn btn-primary", id: "key-create" }, t("keys.create"));
  const form = h("form", { class: "card key-create", id: "key-form", novalidate: true, "aria-labelledby": "key-form-title" },
    h("h2", { id: "key-form-title" }, t("keys.new")),
    summary, nameField.row,
    h("fieldset", { class: "scopes" }, h("legend", {}, t("keys.scopes")), boxes.map((b) => b.row), scopesError),
    h("div", { class: "form-actions-inline" }, create));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(made);
    clearErrors(fields, summary);
    const scopes = boxes.filter((b) => b.box.checked).map((b) => b.scope);
    if (!name.value.trim()) return fieldProblem(nameField, t("keys.needName"));
    if (!scopes.length) return fieldProblem(fields.scopes, t("keys.needScope"));
    create.disabled = true;
    try {
      const { data } = await request("POST", "/v1/apiKeys", { body: { name: name.value.trim(), scopes } });
      replace(made, copyOnce({ id: "key-secret", label: t("keys.secretFor", { name: (data.apiKey && data.apiKey.name) || name.value.trim() }),
        value: data.secret || "", note: t("keys.secretOnce") }));
      made.querySelector("input").focus();
      name.value = "";
      for (const b of boxes) b.box.checked = false;
      await load();
    } catch (e) {
      showErrors(e, fields, summary);
    } finally {
      create.disabled = false;
    }
  });

  replace(view,
    h("div", { class: "view-head" }, h("div", {}, h("h1", {}, t("keys.title")), count)),
    h("p", { class: "muted" }, t("keys.lead")),
    form, made, message,
    h("div", { class: "table-wrap" }, h("table", { class: "table stack-table", id: "keys-table" },
      h("caption", { class: "sr-only" }, t("keys.title")),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("keys.name")), h("th", { scope: "col" }, t("keys.scopes")),
        h("th", { scope: "col" }, t("keys.created")), h("th", { scope: "col" }, t("keys.lastUsed")),
        h("th", { scope: "col", class: "col-actions" }, h("span", { class: "sr-only" }, t("common.actions"))))),
      list)));

  function row(k) {
    const revoked = Boolean(k.revokedAt);
    const revoke = h("button", { type: "button", class: "btn btn-small btn-danger-quiet key-revoke", hidden: revoked,
      "aria-label": t("keys.revokeOne", { name: k.name }) }, t("keys.revoke"));
    revoke.addEventListener("click", async () => {
      const ok = await confirmDialog({ title: t("keys.revokeTitle", { name: k.name }), message: t("keys.revokeMessage"), confirmLabel: t("keys.revoke") });
      if (!ok) return;
      replace(message);
      try {
        await request("DELETE", `/v1/apiKeys/${seg(k.id)}`);
        toast(t("keys.revoked", { name: k.name }));
        await load();
      } catch (e) {
        replace(message, banner("error", e.message));
      }
    });
    const scopes = (k.scopes || []).length
      ? h("ul", { class: "scope-list" }, k.scopes.map((s) => h("li", {}, KEY_SCOPES.includes(s) ? t(scopeKey(s)) : s)))
      : h("span", { class: "muted" }, t("keys.roleOnly", { role: t(`team.role.${k.role || "SERVICE"}`) }));
    const creator = k.createdBy && (k.createdBy.name || k.createdBy.id || k.createdBy);
    return h("tr", { dataset: { id: k.id }, class: revoked ? "key-is-revoked" : "" },
      h("td", { "data-label": t("keys.name") }, h("span", { class: "key-name" }, k.name || k.id),
        revoked ? [h("br"), h("span", { class: "status-badge status-disabled" }, t("keys.revokedAt", { when: when(k.revokedAt) }))] : null),
      h("td", { "data-label": t("keys.scopes") }, scopes),
      h("td", { "data-label": t("keys.created") }, when(k.createdAt), creator ? [h("br"), h("span", { class: "muted small" }, t("keys.by", { name: String(creator) }))] : null),
      h("td", { "data-label": t("keys.lastUsed") }, k.lastUsedAt ? when(k.lastUsedAt) : h("span", { class: "muted" }, t("keys.neverUsed"))),
      h("td", { class: "col-actions" }, revoke));
  }

  async function load() {
    let keys;
    try {
      keys = ((await request("GET", "/v1/apiKeys")).data || {}).apiKeys || [];
    } catch (e) {
      replace(message, banner("error", e.message, h("button", { type: "button", class: "btn", onclick: () => load() }, t("common.tryAgain"))));
      return;
    }
    if (!ctx.live()) return;
    count.textContent = tn("keys.count", keys.filter((k) => !k.revokedAt).length);
    replace(list, keys.length ? keys.map(row) : h("tr", {}, h("td", { colspan: "5", class: "empty" }, t("keys.none"))));
  }
  await load();
}
