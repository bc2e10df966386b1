// "Forgot your password?" (#/forgot, linked from the sign-in form): the
// member gives the business and the e-mail address, and POST
// /v1/session:forgotPassword e-mails a link if the address is an active
// member's; the answer is the same either way, so the page says the link is
// on its way *if* the address belongs to a member. The link opens
// #/reset/{token}: a new password, typed twice (the invitation page's rules),
// and POST /v1/session:resetPassword sets it, signs out every other device and
// signs the member in.

import { ApiError, request } from "../api.js";
import { field, h, replace, setTitle } from "../dom.js";
import { clearErrors, fieldProblem, showErrors } from "../forms.js";
import { clearSession, setMe } from "../session.js";
import { language, t } from "../i18n.js";
import { PASSWORD_MAX, PASSWORD_MIN, passwordProblem } from "./invite.js";
import { lockedMessage } from "./signin.js";

const toSignIn = () => h("p", {}, h("a", { href: "#/signin", id: "reset-to-signin" }, t("inv.toSignIn")));

export async function renderForgot(view, ctx) {
  setTitle(t("rst.forgotTitle"));
  view.classList.add("view-signin");
  const tenant = h("input", { type: "text", id: "forgot-tenant", autocomplete: "organization", value: ctx.query.get("tenant") || "" });
  const email = h("input", { type: "email", id: "forgot-email", autocomplete: "username", spellcheck: "false", value: ctx.query.get("email") || "" });
  const fields = {
    tenant: field({ label: t("rst.business"), input: tenant, hint: t("rst.businessHint") }),
    email: field({ label: t("sign.email"), input: email, required: true }),
  };
  const summary = h("div", { class: "form-summary", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "forgot-submit" }, t("rst.send"));
  const form = h("form", { class: "card signin-password", id: "forgot-form", novalidate: true },
    h("h1", {}, t("rst.forgotTitle")), h("p", { class: "muted" }, t("rst.forgotLead")),
    fields.tenant.row, fields.email.row, summary, submit, toSignIn());

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, summary);
    if (!email.value.trim()) return fieldProblem(fields.email, t("sign.enterEmail"));
    submit.disabled = true;
    try {
      const body = { email: email.value.trim(), language: language() };
      if (tenant.value.trim()) body.tenant = tenant.value.trim();
      await request("POST", "/v1/session:forgotPassword", { body, quiet: true, key: "" });
      replace(view, h("div", { class: "signin-wrap" }, h("div", { class: "card signin-password", id: "forgot-sent" },
        h("h1", {}, t("rst.sentTitle")),
        h("p", {}, t("rst.sent", { email: body.email })),
        h("p", { class: "muted" }, t("rst.sentHint")), toSignIn())));
    } catch (e) {
      if (e instanceof ApiError && e.status === 429) {
        const detail = e.details.find((d) => d.field === "retryAfter");
        if (!e.retryAfter && detail) e.retryAfter = Number(detail.description) || 0;
        replace(summary, h("div", { class: "banner banner-error", role: "alert", id: "forgot-limited" },
          h("p", {}, t("rst.tooMany")), h("p", {}, lockedMessage(e.retryAfter)),
          h("p", {}, t("rst.tooManyHint"))));
      } else {
        showErrors(e, fields, summary);
      }
    } finally {
      submit.disabled = false;
    }
  });
  replace(view, h("div", { class: "signin-wrap" }, form));
  (email.value ? tenant : email).focus();
}

export async function renderReset(view, ctx) {
  setTitle(t("rst.title"));
  view.classList.add("view-signin");
  const token = ctx.parts[1];
  const password = h("input", { type: "password", id: "reset-password", autocomplete: "new-password", maxlength: PASSWORD_MAX * 2 });
  const repeat = h("input", { type: "password", id: "reset-repeat", autocomplete: "new-password", maxlength: PASSWORD_MAX * 2 });
  const fields = {
    password: field({ label: t("rst.password"), input: password, required: true, hint: t("inv.passwordHint", { min: PASSWORD_MIN, max: PASSWORD_MAX }) }),
    repeat: field({ label: t("inv.repeat"), input: repeat, required: true }),
  };
  const summary = h("div", { class: "form-summary" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "reset-submit" }, t("rst.submit"));
  const form = h("form", { class: "card signin-password", id: "reset-form", novalidate: true },
    h("h1", {}, t("rst.title")), h("p", { class: "muted" }, t("rst.lead")),
    fields.password.row, fields.repeat.row, summary, submit);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, summary);
    const weak = passwordProblem(password.value);
    if (weak) return fieldProblem(fields.password, weak);
    if (password.value !== repeat.value) return fieldProblem(fields.repeat, t("inv.mismatch"));
    submit.disabled = true;
    try {
      const { data } = await request("POST", "/v1/session:resetPassword", {
        body: { token, password: password.value }, quiet: true, key: "",
      });
      clearSession();
      setMe(data);
      ctx.navigate("/customers");
    } catch (e) {
      if (e instanceof ApiError && e.details.some((d) => d.field === "token")) {
        replace(summary, h("div", { class: "banner banner-error", role: "alert", id: "reset-invalid" },
          h("p", {}, t("rst.invalid")), h("p", {}, h("a", { href: "#/forgot" }, t("rst.again")))));
      } else {
        showErrors(e, fields, summary);
      }
    } finally {
      submit.disabled = false;
    }
  });
  replace(view, h("div", { class: "signin-wrap" }, form));
  password.focus();
}
