// Sign-in: a staff member signs in with e-mail and password (POST
// /v1/session; the server sets the HttpOnly session cookie and answers the
// member and the CSRF token). A wrong e-mail or password gets one message for
// both; a lock-out (429) says when to try again (Retry-After). When the
// e-mail is staff in several businesses the server asks which one, and a
// "Business to sign in to" field appears; "Forgot your password?" leads to
// #/forgot (views/reset.js). Below, smaller, integrators sign in with an API
// key: it is checked against the API (GET /v1/settings) and kept in
// sessionStorage, so it is gone when the tab closes.

import { ApiError, request, setKey } from "../api.js";
import { field, h, replace, setTitle } from "../dom.js";
import { clearErrors, fieldProblem } from "../forms.js";
import { clearSession, loadKeyScopes, setMe, setSettings } from "../session.js";
import { locale, t } from "../i18n.js";

/** Where to go after signing in: the route asked for, else the list. */
export function nextRoute(ctx) {
  const next = ctx.query.get("next");
  return next && next.startsWith("/") && !next.startsWith("/signin") && !next.startsWith("/invite") && !next.startsWith("/forgot") && !next.startsWith("/reset") ? next : "/customers";
}

/** "Try again in 3 minutes (at 14:05)." for a lock-out of seconds. */
export function lockedMessage(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 60));
  const at = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", second: s < 120 ? "2-digit" : undefined })
    .format(new Date(Date.now() + s * 1000));
  return s < 120 ? t("sign.lockedSeconds", { n: s, at }) : t("sign.lockedMinutes", { n: Math.ceil(s / 60), at });
}

function passwordForm(ctx) {
  const email = h("input", { type: "email", name: "email", id: "signin-email", autocomplete: "username", spellcheck: "false", required: true });
  const password = h("input", { type: "password", name: "password", id: "signin-password", autocomplete: "current-password", required: true });
  const tenant = h("input", { type: "text", name: "tenant", id: "signin-tenant", autocomplete: "organization" });
  const fields = {
    email: field({ label: t("sign.email"), input: email, required: true }),
    password: field({ label: t("sign.password"), input: password, required: true }),
    tenant: field({ label: t("sign.tenant"), input: tenant, hint: t("sign.tenantHint") }),
  };
  fields.tenant.row.hidden = true;
  // "Forgot your password?" carries what was typed to the next form.
  const forgot = h("a", { href: "#/forgot", id: "signin-forgot" }, t("sign.forgot"));
  forgot.addEventListener("click", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (email.value.trim()) q.set("email", email.value.trim());
    if (tenant.value.trim()) q.set("tenant", tenant.value.trim());
    ctx.navigate(q.toString() ? `/forgot?${q}` : "/forgot");
  });
  const status = h("div", { class: "signin-status", id: "signin-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "signin-submit" }, t("sign.submit"));
  const form = h("form", { class: "card signin-password", id: "signin-form", novalidate: true },
    h("h1", {}, t("sign.title")), h("p", { class: "muted" }, t("sign.leadPassword")),
    fields.email.row, fields.password.row, fields.tenant.row, status, submit,
    h("p", { class: "small" }, forgot));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, status);
    if (!email.value.trim()) return fieldProblem(fields.email, t("sign.enterEmail"));
    if (!password.value) return fieldProblem(fields.password, t("sign.enterPassword"));
    submit.disabled = true;
    replace(status, h("p", { class: "muted" }, t("sign.signingIn")));
    try {
      const body = { email: email.value.trim(), password: password.value };
      if (!fields.tenant.row.hidden && tenant.value.trim()) body.tenant = tenant.value.trim();
      const { data } = await request("POST", "/v1/session", { body, quiet: true, key: "" });
      clearSession();
      setMe(data);
      ctx.navigate(nextRoute(ctx));
    } catch (e) {
      replace(status);
      password.value = "";
      if (e instanceof ApiError && e.status === 429) {
        // Retry-After, or the error's detail {field: "retryAfter"} when a proxy drops the header.
        const detail = e.details.find((d) => d.field === "retryAfter");
        if (!e.retryAfter && detail) e.retryAfter = Number(detail.description) || 0;
        replace(status, h("div", { class: "banner banner-error", role: "alert", id: "signin-locked" },
          h("p", {}, t("sign.locked")), h("p", {}, lockedMessage(e.retryAfter))));
        email.focus();
      } else if (e instanceof ApiError && e.status === 401) {
        replace(status, h("div", { class: "banner banner-error", role: "alert", id: "signin-wrong" }, h("p", {}, t("sign.wrong"))));
        password.focus();
      } else if (e instanceof ApiError && e.status === 403) {
        replace(status, h("div", { class: "banner banner-error", role: "alert", id: "signin-disabled" }, h("p", {}, t("sign.disabled"))));
        email.focus();
      } else if (e instanceof ApiError && e.details.some((d) => d.field === "tenant")) {
        fields.tenant.row.hidden = false;
        fieldProblem(fields.tenant, t("sign.whichTenant"));
      } else {
        replace(status, h("div", { class: "banner banner-error", role: "alert" }, h("p", {}, e.message)));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return { form, focus: () => email.focus() };
}

function keyForm(ctx) {
  const input = h("input", {
    type: "password",
    name: "apiKey",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    class: "input-key",
  });
  const f = field({
    label: t("sign.key"),
    input,
    hint: t("sign.keyHint"),
  });
  const status = h("div", { class: "signin-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn btn-block" }, t("sign.submitKey"));
  const form = h("form", { class: "card signin-card signin-key", novalidate: true, "aria-labelledby": "signin-key-title" },
    h("h2", { id: "signin-key-title" }, t("sign.keyTitle")),
    h("p", { class: "muted small" }, t("sign.keyLead")), f.row, status, submit);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    f.error.hidden = true;
    input.removeAttribute("aria-invalid");
    if (!key) {
      f.error.textContent = t("sign.enterKey");
      f.error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    submit.disabled = true;
    replace(status, h("p", { class: "muted" }, t("sign.checking")));
    try {
      const { data } = await request("GET", "/v1/settings", { key });
      setKey(key);
      clearSession();
      await loadKeyScopes();
      setSettings(data);
      ctx.navigate(nextRoute(ctx));
    } catch (e) {
      replace(status);
      f.error.textContent = e instanceof ApiError ? `${e.message} (${e.status})` : e.message;
      f.error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function renderSignIn(view, ctx) {
  setTitle(t("sign.title"));
  view.classList.add("view-signin");
  const main = passwordForm(ctx);
  replace(view, h("div", { class: "signin-wrap" }, main.form, keyForm(ctx)));
  main.focus();
}
