// The page a newsletter's visible unsubscribe link opens
// (/ui/unsubscribe.html?token=…&lang=…): no staff key, only the link's token.
// It speaks the customer's language (the link says which) and withdraws the
// consent only when the person presses the button, with the same one-click
// request a mail client sends (RFC 8058), so a link checker that opens the
// page unsubscribes nobody. Every string from the message catalogue (i18n.js).
import { h, replace } from "./dom.js";
import { t, useLanguage } from "./i18n.js";
import { publicRequest } from "./public.js";

const main = document.getElementById("main");
const params = new URLSearchParams(location.search);
const token = params.get("token") || "";

function page(...children) {
  replace(main, h("div", { class: "card password-card" }, h("h1", { text: t("unsub.title") }), ...children));
}

function unsubscribe() {
  return publicRequest(`/v1/unsubscribe/${encodeURIComponent(token)}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "List-Unsubscribe=One-Click",
  });
}

function start() {
  const lang = params.get("lang") || "en";
  useLanguage(lang);
  document.documentElement.lang = lang;
  document.title = t("unsub.title");
  const status = h("p", { id: "unsub-status", class: "password-status", role: "status", text: t("unsub.lead") });
  const button = h("button", { type: "button", id: "unsub-confirm", class: "btn btn-primary btn-block", text: t("unsub.confirm") });
  button.addEventListener("click", async () => {
    button.disabled = true;
    const r = await unsubscribe();
    if (r.status === 200) {
      replace(status, t("unsub.done"));
      button.remove();
      return;
    }
    button.disabled = false;
    const detail = (r.body.error && r.body.error.details && r.body.error.details[0]) || {};
    // A token that is not even of the right form matches no route: 404.
    replace(status, detail.field === "token" || r.status === 404 ? t("unsub.invalid") : t("pw.error", { message: (r.body.error && r.body.error.message) || r.status }));
  });
  page(status, button);
}

start();
