// Accepting an invitation (#/invite/{token}, the link of the invitation
// e-mail, or the one an administrator passed on): the invitation is looked
// at first (POST /v1/invites:inspect: the e-mail and the business), then the
// new member gives a name and a password (10 to 256 characters, typed twice)
// and POST /v1/invites:accept signs them in.

import { ApiError, request } from "../api.js";
import { banner, field, h, replace, setTitle } from "../dom.js";
import { clearErrors, fieldProblem, showErrors } from "../forms.js";
import { charCount } from "../format.js";
import { clearSession, setMe } from "../session.js";
import { t } from "../i18n.js";

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;
export const NAME_MAX = 200;

/** What is wrong with a new password, or "" (the server checks again). */
export function passwordProblem(password, repeat) {
  const n = charCount(password);
  if (n < PASSWORD_MIN) return t("inv.tooShort", { min: PASSWORD_MIN });
  if (n > PASSWORD_MAX) return t("inv.tooLong", { max: PASSWORD_MAX });
  if (repeat !== undefined && password !== repeat) return t("inv.mismatch");
  return "";
}

export async function renderInvite(view, ctx) {
  setTitle(t("inv.title"));
  view.classList.add("view-signin");
  const token = ctx.parts[1];
  let invite;
  try {
    invite = (await request("POST", "/v1/invites:inspect", { body: { token }, quiet: true, key: "" })).data || {};
  } catch (e) {
    if (!(e instanceof ApiError) || e.status >= 500) throw e;
    replace(view, h("div", { class: "signin-wrap" }, h("div", { class: "card signin-password", id: "invite-invalid" },
      h("h1", {}, t("inv.title")), banner("error", t("inv.invalid")),
      h("p", {}, h("a", { href: "#/signin" }, t("inv.toSignIn"))))));
    return;
  }
  if (!ctx.live()) return;

  const email = h("input", { type: "email", id: "invite-email", autocomplete: "username", readonly: true, value: invite.email || "" });
  const name = h("input", { type: "text", id: "invite-name", autocomplete: "name", maxlength: NAME_MAX, value: invite.name || "" });
  const password = h("input", { type: "password", id: "invite-password", autocomplete: "new-password", maxlength: PASSWORD_MAX * 2 });
  const repeat = h("input", { type: "password", id: "invite-repeat", autocomplete: "new-password", maxlength: PASSWORD_MAX * 2 });
  const fields = {
    email: field({ label: t("sign.email"), input: email }),
    name: field({ label: t("inv.name"), input: name, required: true, hint: t("inv.nameHint") }),
    password: field({ label: t("inv.password"), input: password, required: true, hint: t("inv.passwordHint", { min: PASSWORD_MIN, max: PASSWORD_MAX }) }),
    repeat: field({ label: t("inv.repeat"), input: repeat, required: true }),
  };
  const summary = h("div", { class: "form-summary" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "invite-submit" }, t("inv.submit"));
  const form = h("form", { class: "card signin-password", id: "invite-form", novalidate: true },
    h("h1", {}, t("inv.title")),
    h("p", { class: "muted" }, invite.tenantName ? t("inv.lead", { business: invite.tenantName }) : t("inv.leadPlain")),
    fields.email.row, fields.name.row, fields.password.row, fields.repeat.row, summary, submit);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, summary);
    if (!name.value.trim()) return fieldProblem(fields.name, t("inv.enterName"));
    const weak = passwordProblem(password.value);
    if (weak) return fieldProblem(fields.password, weak);
    if (password.value !== repeat.value) return fieldProblem(fields.repeat, t("inv.mismatch"));
    submit.disabled = true;
    try {
      const { data } = await request("POST", "/v1/invites:accept", {
        body: { token, name: name.value.trim(), password: password.value }, quiet: true, key: "",
      });
      clearSession();
      setMe(data);
      ctx.navigate("/customers");
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 410)) {
        replace(summary, banner("error", t("inv.invalid")));
      } else {
        showErrors(e, fields, summary);
      }
    } finally {
      submit.disabled = false;
    }
  });
  replace(view, h("div", { class: "signin-wrap" }, form));
  name.focus();
}
