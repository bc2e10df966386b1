"""The web UI in the staff's language: every screen walked in German, in
Bulgarian (and in Polish and Norwegian) on a phone-sized window (390 px), with the language chosen in the
top bar's chooser. On each screen no visible text, placeholder, label or
title is an English string of the catalogue whose translation differs, the
page is no wider than the window, and <html lang> follows the choice. Also
the catalogue's own check (i18n_check.mjs): every key the UI names exists in
all five languages, and no language has keys English lacks.
"""

import json
import os
import shutil
import subprocess
import tempfile

import crm
from crm import api, unique, unique_email
from test_ui import SHOTS, _browser, _no_js_errors, _open, _sign_in

HERE = os.path.dirname(os.path.abspath(__file__))
UI = os.path.join(HERE, "..", "..", "services", "gateway", "ui")
WIDTH = 390

# Runs in the page: what on screen is still English. arguments[0] is the
# language. The catalogue is the page's own module (window.__cat, loaded once).
FIND_ENGLISH = r"""
const lang = arguments[0];
const cat = window.__cat;
const en = cat.en, tr = cat[lang];
const own = new Set(Object.values(tr).map((s) => s.trim()));
const exact = new Map();
const patterns = [];
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
// Values that are counts match digits only; any other value matches any text,
// so such a message is looked for only when it has two words of its own
// (else a customer's or group's own words could look like it).
const COUNTS = new Set(["n", "page", "first", "last", "missing", "max", "read", "sent", "queued", "failed", "attempts"]);
for (const [key, text] of Object.entries(en)) {
  const mine = tr[key];
  if (mine === undefined || mine.trim() === text.trim()) continue;
  if (/\{\w+\}/.test(text)) {
    const words = text.replace(/\{\w+\}/g, " ").match(/[A-Za-z]{2,}/g) || [];
    const loose = [...text.matchAll(/\{(\w+)\}/g)].some((m) => !COUNTS.has(m[1]));
    if (!words.length || (loose && words.length < 2)) continue;
    const parts = text.trim().split(/(\{\w+\})/).map((p) => {
      const m = /^\{(\w+)\}$/.exec(p);
      if (!m) return esc(p);
      return COUNTS.has(m[1]) ? "[\\d\\s.,\u00a0\u202f]+" : ".+?";
    });
    patterns.push([key, new RegExp("^" + parts.join("") + "$", "s")]);
  } else {
    exact.set(text.trim(), key);
  }
}
const found = [];
const check = (where, value) => {
  const s = (value || "").trim();
  if (!s || own.has(s)) return;
  if (exact.has(s)) {
    found.push(`${where}: "${s}" (${exact.get(s)})`);
    return;
  }
  for (const [key, re] of patterns) {
    if (re.test(s)) {
      found.push(`${where}: "${s}" (${key})`);
      return;
    }
  }
};
const shown = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!el || el.closest("script, style, noscript, option")) continue;
  if (shown(el)) check(`<${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}>`, n.nodeValue);
}
for (const el of document.body.querySelectorAll("*")) {
  const sel = el.tagName === "OPTION" ? el.closest("select") : el;
  if (!shown(sel)) continue;
  if (el.tagName === "OPTION") check("<option>", el.textContent);
  for (const a of ["placeholder", "aria-label", "title", "alt"]) {
    if (el.hasAttribute(a)) check(`[${a}] of <${el.tagName.toLowerCase()}>`, el.getAttribute(a));
  }
}
check("document.title", document.title.split(" · ")[0]);
check("document.title", document.title.split(" · ").slice(-1)[0]);
const wide = [];
if (document.documentElement.scrollWidth > innerWidth) {
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.right > innerWidth + 0.5 && shown(el)) wide.push(`${el.tagName.toLowerCase()}.${el.className}#${el.id} right=${Math.round(r.right)}`);
  }
}
return { english: found, scrollWidth: document.documentElement.scrollWidth, innerWidth,
         lang: document.documentElement.lang, wide: wide.slice(0, 8),
         chooser: shown(document.getElementById("lang-select")) };
"""


def _data(lang):
    """A customer with something in every part of the card: a note, a task,
    a booking on the timeline, a group, tags, an address, consents."""
    g = {"de": ("Stammkundschaft", "Haarschnitt", "Farbe nachfragen"),
         "pl": ("Stałe klientki", "Strzyżenie", "Zapytać o farbę"),
         "nb": ("Faste kunder", "Klipp", "Spør om fargen"),
         "bg": ("Редовни клиенти", "Подстригване", "Обадете се за боята")}[lang]
    st, _, group = api("POST", "/v1/groups", {"name": "%s %s" % (g[0], unique("g")), "color": "#43a047"})
    assert st in (200, 201), group
    last = unique({"de": "Öztürk", "pl": "Wójcik", "nb": "Sørensen", "bg": "Иванова"}[lang])
    first = {"de": "Jürgen", "pl": "Małgorzata", "nb": "Åse", "bg": "Мария"}[lang]
    email = unique_email("i18n")
    st, _, c = api("POST", "/v1/customers", {
        "firstName": first, "lastName": last, "email": email, "phone": "+48600%06d" % (abs(hash(last)) % 1000000),
        "gender": "FEMALE", "birthDate": "1990-04-12", "groups": [group["name"]], "tags": ["vip"],
        "isCompany": True, "company": {"name": "Studio %s" % last},
        "addresses": [{"kind": "BILLING", "line1": "Hauptstraße 1", "postalCode": "10115", "city": "Berlin", "country": "DE"}],
        "account": {"status": "INVITED"},
        "preferences": {"language": lang, "email": {"granted": True, "source": "web"}, "sms": {"granted": False}},
    })
    assert st == 201, c
    st, _, note = api("POST", "/v1/customers/%s/notes" % c["id"], {"body": "Kaffee ohne Zucker ☕", "pinned": True})
    assert st in (200, 201), note
    st, _, task = api("POST", "/v1/customers/%s/tasks" % c["id"], {"title": g[2], "dueAt": "2020-01-02T09:00:00Z"})
    assert st in (200, 201), task
    st, _, js = api("POST", "/v1/events", {
        "source": "booking", "eventId": unique("bk"), "type": "booking.created", "occurredAt": "2026-01-05T09:00:00Z",
        "customer": {"externalId": unique("x"), "firstName": first, "lastName": last, "email": email},
        "booking": {"id": unique("b"), "service": g[1], "staff": "Eva",
                    "startsAt": "2030-03-05T10:00:00Z", "endsAt": "2030-03-05T11:00:00Z"}})
    assert st == 202 and js["customerId"] == c["id"], (st, js)
    st, _, js = api("PATCH", "/v1/customers/" + c["id"], {"salesAgent": "Eva"})
    assert st == 200, js
    # Money on the account: a line of the timeline and of the balance's history.
    st, _, js = api("POST", "/v1/customers/%s/wallet:adjust" % c["id"],
                    {"kind": "MONEY", "amount": "1050", "reason": g[1]})
    assert st == 200, js
    # The card reads the timeline once: the entry is in before the card opens.
    crm.wait_until(lambda: api("GET", "/v1/customers/%s/timeline?kind=WALLET" % c["id"])[2]
                   .get("entries"), timeout=30, what="the wallet entry in the timeline")
    return c, group


def _check(b, lang, screen, problems):
    got = b.js(FIND_ENGLISH, lang)
    if got["english"]:
        problems.append("%s: English on screen: %s" % (screen, "; ".join(got["english"][:10])))
    if got["scrollWidth"] > WIDTH:
        problems.append("%s: %d px wide (window %d): %s" % (screen, got["scrollWidth"], got["innerWidth"],
                                                            ", ".join(got["wide"])))
    if got["lang"] != lang:
        problems.append("%s: <html lang=%r>" % (screen, got["lang"]))
    if not got["chooser"]:
        problems.append("%s: no language chooser" % screen)
    b.full_screenshot(os.path.join(SHOTS, "i18n-%s-%s.png" % (lang, screen)), width=WIDTH)


def _walk(lang):
    c, group = _data(lang)
    cid = c["id"]
    problems = []
    with _browser("i18n-" + lang) as b:
        b.cmd("POST", "/window/rect", {"width": WIDTH, "height": 844})
        # Signed out first: the chooser is on the sign-in page too.
        b.get(crm.URL + "/")
        b.wait("input[name=apiKey]")
        # The check itself: the English sign-in page is English to it.
        b.js("import('/ui/js/i18n.js').then((m) => { window.__cat = m.CATALOGUE; });")
        b.wait_until(lambda: b.js("return Boolean(window.__cat);"), what="the catalogue")
        english = b.js(FIND_ENGLISH, lang)["english"]
        assert any("(sign.keyHint)" in e for e in english), english
        b.js("const s = document.getElementById('lang-select'); s.value = arguments[0];"
             "s.dispatchEvent(new Event('change'));", lang)
        b.wait_until(lambda: b.js("return document.documentElement.lang;") == lang, what="<html lang> " + lang)
        b.wait("input[name=apiKey]")
        _check(b, lang, "signin", problems)
        b.find("input[name=apiKey]").send_keys(crm.API_KEY)
        b.find(".signin-card button[type=submit]").click()
        b.wait("#customer-table tbody tr[data-id]")
        b.find("#list-export summary").click()  # the Export menu open
        b.wait("#list-export .menu-items button")
        _check(b, lang, "list", problems)

        # A search that finds nobody: the empty state and its offer.
        _open(b, "/customers?q=" + unique("zzqx"))
        b.wait("#customer-table .no-match")
        _check(b, lang, "list-no-match", problems)

        # The new-customer form: the duplicate warning, then the API's field error.
        _open(b, "/customers/new")
        b.wait("#f-firstName")
        b.find("#f-lastName").send_keys(c["lastName"])
        b.wait("#possible-duplicates .duplicate")
        b.find("#add-address").click()
        b.find("#f-email").send_keys("kein-at-zeichen")
        b.find("#save").click()
        b.wait(".form-summary .banner-error")
        _check(b, lang, "form-new", problems)

        # The card: summary, notes, tasks, timeline, history; the task form; the delete dialog.
        _open(b, "/customers/" + cid)
        b.wait("#notes .note-item")
        b.wait("#customer-tasks .task")
        b.wait("#timeline .tl-entry[data-kind=BOOKING]", timeout=30)
        b.wait("#timeline .tl-entry[data-kind=WALLET]", timeout=30)
        b.wait("#audit .audit-entry")
        b.wait_until(lambda: b.find("#summary-strip [data-stat=bookings] .stat-value").text == "1", what="the summary")
        b.find("#task-add").click()
        b.wait(".task-form")
        b.find("#wallet-money-open").click()
        b.wait("#wallet-adjust")
        _check(b, lang, "card", problems)
        b.find("#delete-customer").click()
        b.wait("dialog .confirm-no")
        _check(b, lang, "card-delete-dialog", problems)
        b.find("dialog .confirm-no").click()
        b.wait_gone("dialog")

        _open(b, "/customers/%s/edit" % cid)
        b.wait("#f-company-name")
        _check(b, lang, "form-edit", problems)

        _open(b, "/tasks?who=all")
        b.wait("#task-list li[data-id]")
        b.find("#task-new").click()
        b.wait(".task-form")
        b.wait("#feeds li")
        _check(b, lang, "tasks", problems)

        _open(b, "/groups")
        b.wait("#group-table tr[data-id='%s']" % group["id"])
        b.find("#group-table tr[data-id='%s'] .group-edit" % group["id"]).click()
        b.wait(".group-edit-form")
        _check(b, lang, "groups", problems)

        _open(b, "/settings")
        b.wait("#settings-name")
        _check(b, lang, "settings", problems)

        _open(b, "/vouchers")
        b.wait("#voucher-amount")
        b.wait("#voucher-table tbody tr")
        _check(b, lang, "vouchers", problems)

        _open(b, "/exchange")
        b.wait("#import-file", visible=False)
        _check(b, lang, "exchange", problems)

        _open(b, "/campaigns")
        b.wait("#camp-name")
        _check(b, lang, "campaigns", problems)

        _open(b, "/templates")
        b.wait("#tpl-list .tpl-edit")
        b.find("#tpl-list .tpl-edit").click()
        b.wait("#tpl-editor")
        _check(b, lang, "templates", problems)

        _open(b, "/automations")
        b.wait("#auto-new").click()
        b.wait("#auto-add-condition").click()
        b.find("#auto-conditions .auto-cond-kind").select("MIN_SPENT")
        b.find("#auto-actions .auto-act-kind").select("SEND_EMAIL")
        b.wait("#auto-actions .auto-subject")
        _check(b, lang, "automations", problems)

        _open(b, "/replies")
        b.wait("#replies-all", visible=False)
        _check(b, lang, "replies", problems)

        _open(b, "/nowhere")
        b.wait("main h1")
        _check(b, lang, "not-found", problems)

        b.find("#sign-out").click()
        b.wait("input[name=apiKey]")
        assert b.js("return document.documentElement.lang;") == lang
        _no_js_errors(b)
    assert not problems, "\n".join(problems)


def test_ui_every_screen_in_german_at_390_px():
    _walk("de")


def test_ui_every_screen_in_bulgarian_at_390_px():
    _walk("bg")


def test_ui_every_screen_in_polish_and_norwegian_at_390_px():
    """The same walk in the other two languages: nothing in English, nothing
    wider than a phone."""
    _walk("pl")
    _walk("nb")


def _catalogue_check(ui):
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is needed for the catalogue check (apt-get install nodejs)"
    return subprocess.run([node, os.path.join(HERE, "i18n_check.mjs"), ui],
                          capture_output=True, text=True, timeout=60)


def test_catalogue_has_every_key_in_every_language():
    r = _catalogue_check(UI)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith("5 languages, OK"), r.stdout


def test_catalogue_check_finds_a_missing_and_an_extra_key():
    """The check fails when a language lacks a key, or has one English lacks,
    or the UI names a key nobody wrote (a copy of the UI, changed)."""
    with tempfile.TemporaryDirectory(prefix="crm-i18n-") as tmp:
        copy = os.path.join(tmp, "ui")
        shutil.copytree(UI, copy)
        path = os.path.join(copy, "js", "i18n.js")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        de_start = text.index("const GRP = {")
        de_start = text.index("  de: {", de_start)
        broken = text[:de_start] + text[de_start:].replace('    "grp.needName": "Eine Gruppe braucht einen Namen.",\n', "", 1)
        broken = broken.replace('    "set.save": "Lagre innstillingene",\n',
                                '    "set.save": "Lagre innstillingene",\n    "set.extra": "Ekstra",\n', 1)
        assert broken.count("grp.needName") == text.count("grp.needName") - 1 and "set.extra" in broken
        with open(path, "w", encoding="utf-8") as f:
            f.write(broken)
        with open(os.path.join(copy, "js", "views", "groups.js"), "a", encoding="utf-8") as f:
            f.write('\nexport const NEVER = () => t("grp.neverWritten");\n')
        r = _catalogue_check(copy)
    assert r.returncode == 1, r.stdout
    assert 'de: "grp.needName" is missing' in r.stdout, r.stdout
    assert 'nb: "set.extra" is not in the English table' in r.stdout, r.stdout
    assert '"grp.neverWritten" is not in the English table' in r.stdout, r.stdout


PLURALS = r"""
import { readFileSync } from "node:fs";
if (!globalThis.navigator) globalThis.navigator = { language: "en-GB", languages: ["en-GB"] };
const source = readFileSync(process.argv[2], "utf8");
const m = await import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
const out = {};
for (const [lang, n] of JSON.parse(process.argv[3])) {
  m.useLanguage(lang);
  out[`${lang} ${n}`] = m.tn("grp.count", n);
}
m.useLanguage("de");
out.filled = m.t("list.addNamed", { name: "Jan" });
out.unknown = m.t("no.such.key");
console.log(JSON.stringify(out));
"""


def test_counted_messages_follow_each_languages_plural_rules():
    """tn() picks the form the language's own rules ask for (Polish has three
    for whole numbers), writes the count in the language's digits, and t()
    fills values and answers an unknown key with the key."""
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is needed (apt-get install nodejs)"
    cases = [["pl", 1], ["pl", 3], ["pl", 5], ["pl", 12], ["pl", 22], ["pl", 25], ["pl", 1234],
             ["de", 1], ["de", 2], ["bg", 1], ["bg", 7], ["nb", 1], ["nb", 4], ["en", 1], ["en", 10000]]
    with tempfile.TemporaryDirectory(prefix="crm-i18n-") as tmp:
        script = os.path.join(tmp, "plurals.mjs")
        with open(script, "w", encoding="utf-8") as f:
            f.write(PLURALS)
        r = subprocess.run([node, script, os.path.join(UI, "js", "i18n.js"), json.dumps(cases)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    assert got == {
        "pl 1": "1 grupa", "pl 3": "3 grupy", "pl 5": "5 grup", "pl 12": "12 grup", "pl 22": "22 grupy",
        "pl 25": "25 grup", "pl 1234": "1234 grupy",
        "de 1": "1 Gruppe", "de 2": "2 Gruppen", "bg 1": "1 група", "bg 7": "7 групи",
        "nb 1": "1 gruppe", "nb 4": "4 grupper", "en 1": "1 group", "en 10000": "10,000 groups",
        "filled": "Jan anlegen", "unknown": "no.such.key",
    }, got
