// Sign-in: the staff member pastes an API key. It is checked against the API
// (GET /v1/settings) and kept in sessionStorage, so it is gone when the tab
// closes; "Sign out" forgets it at once.

import { ApiError, request, setKey } from "../api.js";
import { field, h, replace, setTitle } from "../dom.js";
import { clearSession, setSettings } from "../session.js";
import { t } from "../i18n.js";

export async function renderSignIn(view, ctx) {
  setTitle(t("sign.title"));
  view.classList.add("view-signin");
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
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("sign.submit"));
  const form = h("form", { class: "card signin-card", novalidate: true }, h("h1", {}, t("sign.title")),
    h("p", { class: "muted" }, t("sign.lead")), f.row, status, submit);

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
      setSettings(data);
      const next = ctx.query.get("next");
      ctx.navigate(next && next.startsWith("/") && !next.startsWith("/signin") ? next : "/customers");
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
  replace(view, h("div", { class: "signin-wrap" }, form));
  input.focus();
}
