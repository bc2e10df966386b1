// The shell: sign-in guard, navigation, and a hash router
// (#/customers, #/customers/new, #/customers/{id}, #/customers/{id}/edit,
// #/tasks, #/groups, #/campaigns, #/templates, #/replies, #/settings, #/exchange, #/signin), so the gateway serves
// one page.

import { clearKey, getKey, setUnauthenticatedHandler } from "./api.js";
import { h, replace, setTitle, toast } from "./dom.js";
import { clearSession } from "./session.js";
import { renderSignIn } from "./views/signin.js";
import { renderList } from "./views/list.js";
import { renderForm } from "./views/form.js";
import { renderCard } from "./views/card.js";
import { renderGroups } from "./views/groups.js";
import { renderCampaigns } from "./views/campaigns.js";
import { renderTemplates } from "./views/templates.js";
import { renderReplies } from "./views/replies.js";
import { LANGUAGES, LANGUAGE_NAMES, language, setLanguage, t } from "./i18n.js";
import { renderTasks } from "./views/tasks.js";
import { renderSettings } from "./views/settings.js";
import { renderExchange } from "./views/exchange.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
const langSelect = document.getElementById("lang-select");

/** The frame (index.html) in the chosen language: texts marked data-i18n,
 * labels marked data-i18n-label, and <html lang>. */
function translateShell() {
  document.documentElement.lang = language();
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  langSelect.value = language();
}

// The language chooser sits in the top bar, so every screen (sign-in too) has it.
for (const lang of LANGUAGES) langSelect.append(h("option", { value: lang, lang }, LANGUAGE_NAMES[lang]));
langSelect.addEventListener("change", () => {
  setLanguage(langSelect.value);
  translateShell();
  route_();
});

/** Goes to a hash route: navigate("/customers/abc"). */
export function navigate(route, { replace: swap = false } = {}) {
  const hash = `#${route}`;
  if (location.hash === hash) {
    route_();
  } else if (swap) {
    history.replaceState(null, "", hash);
    route_();
  } else {
    location.hash = hash;
  }
}

function parse() {
  const raw = location.hash.replace(/^#/, "") || "/customers";
  const [path, qs] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(qs || "") };
}

const routes = [
  { match: (p) => p[0] === "signin" && p.length === 1, view: renderSignIn, public: true },
  { match: (p) => p[0] === "customers" && p.length === 1, view: renderList, nav: "customers" },
  { match: (p) => p[0] === "customers" && p[1] === "new" && p.length === 2, view: renderForm, nav: "customers" },
  { match: (p) => p[0] === "customers" && p.length === 2, view: renderCard, nav: "customers" },
  { match: (p) => p[0] === "customers" && p[2] === "edit" && p.length === 3, view: renderForm, nav: "customers" },
  { match: (p) => p[0] === "tasks" && p.length === 1, view: renderTasks, nav: "tasks" },
  { match: (p) => p[0] === "groups" && p.length === 1, view: renderGroups, nav: "groups" },
  { match: (p) => p[0] === "campaigns" && p.length === 1, view: renderCampaigns, nav: "campaigns" },
  { match: (p) => p[0] === "templates" && p.length === 1, view: renderTemplates, nav: "templates" },
  { match: (p) => p[0] === "replies" && p.length === 1, view: renderReplies, nav: "replies" },
  { match: (p) => p[0] === "settings" && p.length === 1, view: renderSettings, nav: "settings" },
  { match: (p) => p[0] === "exchange" && p.length === 1, view: renderExchange, nav: "exchange" },
];

let generation = 0;
const leaving = []; // what stops the view on screen when it is left

async function route_() {
  const { parts, query } = parse();
  const route = routes.find((r) => r.match(parts));
  const signedIn = Boolean(getKey());
  document.body.classList.toggle("signed-in", signedIn);
  if (!route) {
    translateShell();
    setTitle(t("nav.notFoundTitle"));
    replace(main, h("section", { class: "view" }, h("h1", { tabindex: "-1" }, t("nav.notFound")),
      h("p", {}, h("a", { href: "#/customers" }, t("nav.toList")))));
    return;
  }
  if (!route.public && !signedIn) {
    navigate(`/signin?next=${encodeURIComponent(location.hash.slice(1) || "/customers")}`, { replace: true });
    return;
  }
  // The frame follows the language, which may have changed.
  translateShell();
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.nav === route.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  // A view drawn again (a filter changed) gives focus back to the same control.
  const focusedId = main.contains(document.activeElement) ? document.activeElement.id : "";
  // The view on screen is left: its timers and look-ups stop before the next one draws.
  for (const stop of leaving.splice(0)) {
    try {
      stop();
    } catch (e) {
      console.error(e);
    }
  }
  generation += 1;
  const mine = generation;
  const view = h("section", { class: "view" });
  replace(main, view);
  const ctx = {
    parts,
    query,
    navigate,
    // True while this view is still the one on screen (async work checks it).
    live: () => mine === generation,
    // fn runs when the view is left (timers, watchers, requests in flight).
    onLeave: (fn) => {
      if (mine === generation) leaving.push(fn);
      else fn();
    },
  };
  try {
    await route.view(view, ctx);
  } catch (e) {
    if (!ctx.live()) return;
    replace(view, h("h1", { tabindex: "-1" }, t("nav.failed")),
      h("div", { class: "banner banner-error", role: "alert" }, h("p", {}, e.message || String(e))),
      h("p", {}, h("button", { type: "button", class: "btn", onclick: () => route_() }, t("common.tryAgain"))));
  }
  if (!ctx.live()) return;
  const again = focusedId && document.getElementById(focusedId);
  if (again && view.contains(again)) {
    again.focus();
  } else if (!main.contains(document.activeElement)) {
    const heading = view.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

signOut.addEventListener("click", () => {
  clearKey();
  clearSession();
  toast(t("nav.signedOut"));
  navigate("/signin");
});

setUnauthenticatedHandler(() => {
  clearKey();
  clearSession();
  toast(t("nav.keyRevoked"), "error");
  navigate("/signin");
});

// The skip link must not become a route.
document.querySelector(".skip-link").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", route_);
route_();
