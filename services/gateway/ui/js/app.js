// The shell: sign-in guard, navigation, the signed-in member's menu, and a
// hash router (#/customers, #/customers/new, #/customers/{id},
// #/customers/{id}/edit, #/tasks, #/groups, #/campaigns, #/templates,
// #/replies, #/settings, #/settings/forms, #/forms/{id}/results, #/automations,
// #/customers/{id}/survey/{formId}, #/vouchers, #/exchange, #/staff, #/keys, #/security, #/signin,
// #/invite/{token}, #/forgot, #/reset/{token}, and #/sign/{id}: the terms a
// customer signs on a tablet, full screen), so the gateway serves one page. Who is signed in comes
// from GET /v1/session (the cookie is HttpOnly) or, for an integrator, from
// the API key in sessionStorage.

import { clearKey, getKey, request, setUnauthenticatedHandler } from "./api.js";
import { confirmDialog, h, replace, setTitle, toast } from "./dom.js";
import { can, clearSession, currentMember, loadKeyScopes, loadMe, loadSettings } from "./session.js";
import { zoneNote } from "./format.js";
import { renderSignIn } from "./views/signin.js";
import { renderInvite } from "./views/invite.js";
import { renderForgot, renderReset } from "./views/reset.js";
import { renderStaff } from "./views/staff.js";
import { renderKeys } from "./views/keys.js";
import { renderSecurity } from "./views/security.js";
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
import { renderVouchers } from "./views/vouchers.js";
import { renderSignTerms } from "./terms.js";
import { renderAutomations } from "./views/automations.js";
import { renderForms, renderResults, renderSurveyFill } from "./views/forms.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
const langSelect = document.getElementById("lang-select");
const userMenu = document.getElementById("user-menu");
const everywhere = document.getElementById("sign-out-everywhere");

// Writes whose buttons app.css hides from a role without them (body.cannot-<scope>).
const WRITES = ["customers:write", "notes:write", "settings", "messages:send"];

/** The frame (index.html) in the chosen language: texts marked data-i18n,
 * labels marked data-i18n-label, and <html lang>. */
function translateShell() {
  document.documentElement.lang = language();
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  langSelect.value = language();
  // What the role cannot do is not offered: menu entries carry the scope they need.
  for (const a of nav.querySelectorAll("a[data-scope]")) a.hidden = !can(a.dataset.scope);
  for (const scope of WRITES) document.body.classList.toggle(`cannot-${scope.replace(":", "-")}`, !can(scope));
  const zone = document.getElementById("tenant-zone");
  if (zone) zone.textContent = zoneNote();
  const me = currentMember();
  userMenu.hidden = !me;
  if (me) {
    document.getElementById("user-name").textContent = me.name || me.email;
    document.getElementById("user-email").textContent = me.email || "";
    document.getElementById("user-role").textContent = t(`team.role.${me.role}`);
  }
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
  { match: (p) => p[0] === "invite" && p.length === 2, view: renderInvite, public: true },
  { match: (p) => p[0] === "forgot" && p.length === 1, view: renderForgot, public: true },
  { match: (p) => p[0] === "reset" && p.length === 2, view: renderReset, public: true },
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
  { match: (p) => p[0] === "vouchers" && p.length === 1, view: renderVouchers, nav: "vouchers" },
  { match: (p) => p[0] === "automations" && p.length === 1, view: renderAutomations, nav: "settings", scope: "settings" },
  { match: (p) => p[0] === "settings" && p[1] === "forms" && p.length === 2, view: renderForms, nav: "settings" },
  { match: (p) => p[0] === "forms" && p[2] === "results" && p.length === 3, view: renderResults, nav: "settings" },
  { match: (p) => p[0] === "customers" && p[2] === "survey" && p.length === 4, view: renderSurveyFill, nav: "customers" },
  { match: (p) => p[0] === "exchange" && p.length === 1, view: renderExchange, nav: "exchange" },
  { match: (p) => p[0] === "staff" && p.length === 1, view: renderStaff, nav: "staff", scope: "staff" },
  { match: (p) => p[0] === "keys" && p.length === 1, view: renderKeys, nav: "keys", scope: "staff" },
  { match: (p) => p[0] === "security" && p.length === 1, view: renderSecurity, nav: "security", scope: "staff" },
  // The page a customer signs the terms on, on a tablet: no staff navigation.
  { match: (p) => p[0] === "sign" && p.length === 2, view: renderSignTerms, kiosk: true },
];

// The first question, once: is there a session? (An API key needs none, but
// what it may do is asked for, so that the screens offer only that.)
let known = null;
function whoIsSignedIn() {
  if (!known) known = getKey() ? loadKeyScopes().catch(() => null) : loadMe().catch(() => null);
  return known;
}

let generation = 0;
const leaving = []; // what stops the view on screen when it is left

async function route_() {
  const { parts, query } = parse();
  const route = routes.find((r) => r.match(parts));
  await whoIsSignedIn();
  const signedIn = Boolean(getKey() || currentMember());
  document.body.classList.toggle("signed-in", signedIn);
  document.body.classList.toggle("kiosk", Boolean(route && route.kiosk));
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
  // Times are shown on the business's clock: its zone is known before a view draws.
  if (signedIn && !route.public) await loadSettings().catch(() => null);
  // The frame follows the language, which may have changed.
  translateShell();
  userMenu.open = false;
  if (route.scope && !can(route.scope)) {
    setTitle(t("nav.notAllowedTitle"));
    replace(main, h("section", { class: "view" }, h("h1", { tabindex: "-1" }, t("nav.notAllowedTitle")),
      h("p", {}, t("nav.notAllowed")), h("p", {}, h("a", { href: "#/customers" }, t("nav.toList")))));
    return;
  }
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

/** Forgets who was signed in, here and in the router's memory. */
function forget() {
  clearKey();
  clearSession();
  known = Promise.resolve(null);
}

signOut.addEventListener("click", async () => {
  signOut.disabled = true;
  try {
    // The session ends on the server too; a key has nothing to end.
    if (currentMember()) await request("DELETE", "/v1/session", { quiet: true, key: "" });
  } catch (e) {
    // Already ended (401) or unreachable: this tab forgets it all the same.
  } finally {
    signOut.disabled = false;
  }
  forget();
  toast(t("nav.signedOut"));
  navigate("/signin");
});

// The member's menu closes with Escape (focus back on its button) wherever the focus is (a
// screen that finishes loading may have taken it), and with a click elsewhere.
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && userMenu.open) {
    userMenu.open = false;
    document.getElementById("user-menu-button").focus();
  }
});
document.addEventListener("click", (ev) => {
  if (userMenu.open && !userMenu.contains(ev.target)) userMenu.open = false;
});

everywhere.addEventListener("click", async () => {
  userMenu.open = false;
  const ok = await confirmDialog({ title: t("nav.signOutEverywhere"), message: t("nav.everywhereMessage"),
    confirmLabel: t("nav.signOutEverywhere") });
  if (!ok) return;
  try {
    await request("POST", "/v1/session:signOutEverywhere", { quiet: true, key: "" });
  } catch (e) {
    if (e.status !== 401) {
      toast(e.message, "error");
      return;
    }
  }
  forget();
  toast(t("nav.signedOutEverywhere"));
  navigate("/signin");
});

setUnauthenticatedHandler(() => {
  const wasMember = Boolean(currentMember());
  forget();
  toast(t(wasMember ? "nav.sessionEnded" : "nav.keyRevoked"), "error");
  const back = location.hash.slice(1);
  navigate(back && !back.startsWith("/signin") ? `/signin?next=${encodeURIComponent(back)}` : "/signin");
});

// The skip link must not become a route.
document.querySelector(".skip-link").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", route_);
route_();
