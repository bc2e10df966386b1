// The page a customer's set-password link opens (/ui/password.html?token=…):
// no staff key, only the link's token. It speaks the customer's language (the
// link says which), sets the password, or, for an expired or used link, asks
// for a new one by e-mail, with an answer that never says whether an address
// is known. Every string from the message catalogue (i18n.js).
import { h, replace } from "./dom.js";
import { t, useLanguage } from "./i18n.js";
import { publicJson } from "./public.js";

const main = document.getElementById("main");
const token = new URLSearchParams(location.search).get("token") || "";

function call(verb, body) {
  return publicJson("POST", `/v1/passwordLinks:${verb}`, body);
}

function page(...children) {
  replace(main, h("div", { class: "card password-card" }, h("h1", { text: t("pw.title") }), ...children));
}

function showState(state) {
  const key = state === "EXPIRED" ? "pw.expired" : state === "USED" ? "pw.used" : "pw.unknown";
  const status = h("p", { id: "pw-status", class: "password-status", role: "status", text: t(key) });
  if (state !== "EXPIRED" && state !== "USED") {
    page(status);
    return;
  }
  const button = h("button", { type: "button", id: "pw-renew", class: "btn btn-primary", text: t("pw.renew") });
  button.addEventListener("click", async () => {
    button.disabled = true;
    const r = await call("renew", { token });
    if (r.status === 200) {
      replace(status, t("pw.renewed"));
      button.remove();
    } else {
      button.disabled = false;
      replace(status, t("pw.error", { message: (r.body.error && r.body.error.message) || r.status }));
    }
  });
  page(status, button);
}

function showForm() {
  const pw = h("input", { type: "password", id: "pw-password", autocomplete: "new-password", required: true, maxlength: 512 });
  const again = h("input", { type: "password", id: "pw-repeat", autocomplete: "new-password", required: true, maxlength: 512 });
  const error = h("p", { id: "pw-error", class: "password-error", role: "alert" });
  const save = h("button", { type: "submit", id: "pw-save", class: "btn btn-primary btn-block", text: t("pw.save") });
  const form = h(
    "form",
    { class: "password-form", novalidate: true },
    h("label", { for: "pw-password", text: t("pw.password") }),
    pw,
    h("label", { for: "pw-repeat", text: t("pw.repeat") }),
    again,
    h("p", { class: "password-hint", text: t("pw.hint") }),
    error,
    save,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    replace(error);
    if (pw.value !== again.value) {
      replace(error, t("pw.mismatch"));
      return;
    }
    save.disabled = true;
    save.textContent = t("pw.saving");
    const r = await call("setPassword", { token, password: pw.value });
    save.disabled = false;
    save.textContent = t("pw.save");
    if (r.status === 200) {
      page(h("p", { id: "pw-status", class: "password-status", role: "status", text: t("pw.done") }));
      return;
    }
    const detail = (r.body.error && r.body.error.details && r.body.error.details[0]) || {};
    if (detail.field === "token") {
      showState(detail.reason);
      return;
    }
    if (detail.field === "password" && ["TOO_SHORT", "TOO_LONG", "COMMON", "INVALID_FORMAT"].includes(detail.reason)) {
      replace(error, t(`pw.${detail.reason}`));
      pw.focus();
      return;
    }
    replace(error, t("pw.error", { message: (r.body.error && r.body.error.message) || r.status }));
  });
  page(h("p", { text: t("pw.lead") }), form);
}

async function start() {
  const r = await call("inspect", { token });
  const info = r.status === 200 ? r.body : { state: "UNKNOWN", language: "en" };
  useLanguage(info.language || "en");
  document.documentElement.lang = info.language || "en";
  document.title = t("pw.title");
  if (info.state === "VALID") showForm();
  else showState(info.state);
}

start();
