"""The web UI passes axe-core (what Lighthouse and the axe browser extension
run) at WCAG 2.1 A and AA and axe's best practices, on every screen staff
reach and on the public pages a customer opens from a message, at 390 px and
at 1366 px, in English, German and Bulgarian (the translations change the
lengths and <html lang>).

axe-core is pinned in tests/lint/package.json and installed there by
compose/install-deps.sh (npm ci); the test injects its axe.min.js into each
page. A failure lists every violation: the page, the rule, its impact and the
elements' selectors. The keyboard: the card's merge panel and the delete
dialog take the focus when they open and give it back when they close, and
the wallet's redeem form gives it back when a code is redeemed."""

import os

import crm
from crm import api, unique, unique_email
from test_files import _upload
from test_purchase_credit import _failed_credit
from test_registration import _mail, _token
from test_registration import _tenant as _registering_tenant
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import DESKTOP, PHONE, _sign_in, _tenant, _width, _word
from test_wallet import _issue, _loyalty

AXE = os.path.join(crm.ROOT, "tests", "lint", "node_modules", "axe-core", "axe.min.js")
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings' order,
# unique landmarks...), which the axe browser extension runs too.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# Rules switched off, each with why axe is wrong about this UI. (None.)
DISABLED = {}

RUN = """
const [tags, off, done] = arguments;
const rules = {};
off.forEach((id) => { rules[id] = { enabled: false }; });
axe.run(document, { runOnly: { type: 'tag', values: tags }, rules, resultTypes: ['violations'] })
  .then((r) => done(r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ') + ' -- '
      + (n.failureSummary || '').replace(/\\s+/g, ' ').replace(/^Fix (any|all) of the following: /, '').slice(0, 240)),
  }))), (e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));"""


def _axe_source():
    assert os.path.isfile(AXE), (
        "%s is not installed: run compose/install-deps.sh (npm ci in tests/lint)" % AXE)
    with open(AXE, encoding="utf-8") as fh:
        return fh.read()


class Audit:
    """Runs axe on the page in the browser at both widths and remembers what
    it found, per page; check() fails listing it all."""

    def __init__(self, b, lang):
        self.b = b
        self.lang = lang
        self.source = _axe_source()
        self.found = []
        self.pages = 0

    def _run(self, page):
        if not self.b.js("return typeof window.axe === 'object';"):
            self.b.js(self.source + "\n;window.axe = axe;")
        # No animation or transition half done while colours are measured.
        self.b.js("document.getAnimations().forEach((a) => a.finish());")
        got = self.b.cmd("POST", "/execute/async", {"script": RUN, "args": [TAGS, sorted(DISABLED)]})
        self.pages += 1
        for v in got:
            self.found.append("%s [%s] %s (%s): %s\n      %s" % (
                page, self.lang, v["id"], v["impact"], v["help"], "\n      ".join(v["nodes"][:8])))

    def page(self, name, widths=(DESKTOP, PHONE)):
        """Axe on the page as it stands, at each width (the phone's last)."""
        for w in widths:
            _width(self.b, w)
            self._run("%s @%d" % (name, w))

    def check(self):
        assert self.pages, "axe ran on no page"
        assert not self.found, "axe-core found %d violation(s) (WCAG 2.1 AA, best practices):\n  %s" % (
            len(self.found), "\n  ".join(self.found))


def _customer_with_everything(tenant, key):
    """A customer whose card has notes, tasks, files, messages, a booking
    (visit), purchases, a wallet with entries and a failed credit."""
    cid, _, _, _ = _failed_credit(tenant, key)
    _loyalty(key, True)
    st, _, js = api("POST", "/v1/customers/%s/wallet:adjust" % cid,
                    {"kind": "WALLET_KIND_MONEY", "amount": "1000", "reason": "Paid in advance"}, key=key)
    assert st == 200, js
    st, _, c = api("GET", "/v1/customers/" + cid, key=key)
    assert st == 200, c
    st, _, js = api("PATCH", "/v1/customers/" + cid, {"email": unique_email("everything"), "phone": "+4915112345678",
                                                      "description": "Prefers mornings."}, key=key)
    assert st == 200, js
    st, _, c = api("GET", "/v1/customers/" + cid, key=key)
    for body in ("Allergic to latex.", "Likes Eva."):
        st, _, js = api("POST", "/v1/customers/%s/notes" % cid, {"body": body}, key=key)
        assert st in (200, 201), js
    for title in ("Call about the colour", "Send the voucher"):
        st, _, js = api("POST", "/v1/customers/%s/tasks" % cid, {"title": title}, key=key)
        assert st in (200, 201), js
    st, _, js = _upload(cid, b"first line\n", "notes.txt", "text/plain", key=key)
    assert st in (200, 201), js
    person = {"externalId": unique("c"), "email": c["email"], "firstName": c["firstName"], "lastName": c["lastName"]}
    for ev in (
        {"source": "mailer", "eventId": unique("m"), "type": "message.sent", "occurredAt": "2026-11-02T09:00:00Z",
         "customer": person, "message": {"id": unique("msg"), "channel": "email", "subject": "Newsletter"}},
        {"source": "booking", "eventId": unique("bk"), "type": "booking.created", "occurredAt": "2026-11-03T09:00:00Z",
         "customer": person, "booking": {"id": unique("b"), "service": "Haircut", "staff": "Eva",
                                         "startsAt": "2026-11-04T10:00:00Z", "endsAt": "2026-11-04T11:00:00Z"}},
    ):
        st, _, js = api("POST", "/v1/events", ev, key=key)
        assert st == 202, js
    return cid, c


def _settle(b):
    """The view drawn and no request outstanding (nothing half shown)."""
    b.wait("#main .view, #main > *")
    b.wait_until(lambda: not b.js("return document.querySelector('[aria-busy=\"true\"]') !== null;"),
                 what="nothing busy")


def _screens(lang):
    tenant, key = _tenant("PL")
    with _browser("a11y-" + lang) as b:
        audit = Audit(b, lang)
        b.get(crm.URL + "/")
        b.wait("input[name=apiKey]")
        b.js("const s = document.getElementById('lang-select'); s.value = arguments[0];"
             "s.dispatchEvent(new Event('change'));", lang)
        b.wait_until(lambda: b.js("return document.documentElement.lang;") == lang, what="<html lang> " + lang)
        audit.page("sign-in")
        # The other pages reached signed out: forgotten password, an invitation, a reset link.
        for route in ("/forgot", "/invite/" + "A" * 43, "/reset/" + "A" * 43):
            _open(b, route)
            b.wait_until(lambda: b.js("return location.hash;") == "#" + route, what=route)
            _settle(b)
            b.wait("#main h1")
            audit.page(route)
        _sign_in(b, lang, key)
        audit.page("sign-in done: list of a new business (empty)")

        # The list with customers, searching, and a search finding nobody.
        last = _word("Axe")
        for first in ("Anna", "Berit", "Cora"):
            st, _, js = api("POST", "/v1/customers", {"firstName": first, "lastName": last,
                                                      "email": unique_email(first.lower())}, key=key)
            assert st == 201, js
        cid, c = _customer_with_everything(tenant, key)
        b.js("location.reload();")
        b.wait("#customer-table tbody tr[data-id]")
        _settle(b)
        audit.page("customer list")
        crm.wait_until(lambda: len(api("GET", crm.q("/v1/customers:search", q=last), key=key)[2]
                                   .get("customers", [])) == 3, timeout=20, what="search knows them")
        b.find("#search").send_keys(last)
        b.wait_until(lambda: len(b.find_all("#customer-table tbody tr[data-id]")) == 3, what="3 found")
        _settle(b)
        audit.page("customer list searching")
        b.find("#search").fill(_word("Nobody"))
        b.wait_until(lambda: not b.find_all("#customer-table tbody tr[data-id]"), what="none found")
        _settle(b)
        audit.page("customer list, nothing found")

        # The card with everything on it, its merge panel and delete dialog.
        _open(b, "/customers/" + cid)
        b.wait("#customer-name")
        b.wait("#notes .note-item")
        b.wait('.purchase-credit[data-state="FAILED"]')
        _settle(b)
        audit.page("customer card")
        # The card's panels, each opened as staff open it.
        for opener, shown, name in (
            ("#wallet-money-open", "#wallet-money-open[aria-expanded=true]", "wallet money history"),
            ("#wallet-points-open", "#wallet-points-open[aria-expanded=true]", "wallet points history"),
            ("#wallet-redeem-open", "#wallet-redeem-open[aria-expanded=true]", "wallet redeem form"),
            ("#subs-sell-open", "#subs-sell-open[aria-expanded=true]", "subscription sale form"),
            ("#access-open", "#access-section:not([hidden])", "access panel"),
            ("#task-add", ".task-form-slot form", "new task form"),
        ):
            b.find(opener).click()
            b.wait(shown)
            _settle(b)
            audit.page("customer card, " + name)
        # Closed, the access panel and the redeem form give the focus back to their buttons.
        b.find("#access-close").click()
        b.wait_until(lambda: b.active().attr("id") == "access-open", what="the focus back on the access button")
        b.find("#voucher-code").send_keys(_issue(key, 500)["code"])
        b.find("#voucher-redeem").click()
        b.wait_until(lambda: b.active().attr("id") == "wallet-redeem-open", what="the focus back on Redeem")
        b.find("#merge-open").click()
        b.wait_until(lambda: b.active().attr("id") == "merge-search", what="the focus in the merge panel")
        b.find("#merge-search").send_keys(last)
        b.find("#merge-find").click()
        b.wait(".merge-pick").click()
        b.wait("#merge-table")
        audit.page("merge preview")
        b.find("#merge-close").click()
        b.wait_until(lambda: b.active().attr("id") == "merge-open", what="the focus back on the merge button")
        b.find("#delete-customer").click()
        b.wait(".dialog .confirm-no")
        assert b.js("return document.activeElement.closest('dialog') !== null;"), "the focus is not in the dialog"
        audit.page("delete dialog")
        b.find(".dialog .confirm-no").click()
        b.wait_gone(".dialog")
        b.wait_until(lambda: b.active().attr("id") == "delete-customer", what="the focus back on Delete")

        # The page the customer signs the terms on, on a tablet.
        st, _, js = api("PUT", "/v1/terms", {"text": "The salon keeps your data for your visits."}, key=key)
        assert st == 200, js
        _open(b, "/sign/" + cid)
        b.wait("#terms-accept")
        audit.page("signing the terms")

        # The edit form with errors shown, and the new-customer form's duplicates panel.
        _open(b, "/customers/%s/edit" % cid)
        b.wait("#f-email").fill("not-an-address")
        b.find("#save").click()
        b.wait("#f-email-error")
        audit.page("edit form with errors")
        _open(b, "/customers/new")
        b.wait("#f-firstName").send_keys("Anna")
        b.find("#f-lastName").send_keys(last)
        b.wait(".duplicates a, .duplicates li")
        audit.page("new customer with duplicates")

        # The screens where staff add things, with something added.
        _open(b, "/groups")
        group = _word("Group")
        b.wait("#new-group-name").send_keys(group)
        b.find("#create-group").click()
        b.wait_text("#group-table tbody", group)
        _settle(b)
        b.wait_until(lambda: b.find("#group-table tbody tr .group-discounts").click(), what="discounts opened")
        b.wait(".group-discounts[aria-expanded=true]")
        _settle(b)
        audit.page("/groups with a group's discounts open")
        _open(b, "/keys")
        b.wait("#key-name").send_keys(_word("Key"))
        b.find("#key-create").click()
        b.wait("#key-scopes-error")
        audit.page("/keys with a form error")
        b.find(".key-scope").click()
        b.find("#key-create").click()
        b.wait("#key-secret")
        audit.page("/keys with a new key's secret shown")
        _open(b, "/staff")
        b.wait("#invite-new-email").send_keys(unique_email("staff"))
        b.find("#invite-new-name").send_keys("Eva")
        b.find("#invite-send").click()
        b.wait("#invite-result > *")
        audit.page("/staff with an invitation sent")
        _open(b, "/templates")
        b.wait(".tpl-edit").click()
        b.wait("#tpl-editor:not([hidden])")
        _settle(b)
        audit.page("/templates editing one")
        _open(b, "/tasks")
        b.wait("#task-new").click()
        b.wait("#main form")
        audit.page("/tasks with the new task form")

        # Every other screen.
        for route, ready in (
            ("/tasks", "#main h1"), ("/groups", "#main h1"), ("/campaigns", "#main h1"),
            ("/templates", "#main h1"), ("/replies", "#main h1"), ("/vouchers", "#main h1"),
            ("/settings", "#main h1"), ("/automations", "#main h1"), ("/settings/forms", "#main h1"),
            ("/exchange", "#main h1"), ("/staff", "#main h1"), ("/keys", "#main h1"),
            ("/security", "#main h1"),
        ):
            _open(b, route)
            b.wait(ready)
            _settle(b)
            audit.page(route)
        _no_js_errors(b)
        audit.check()


def test_ui_a11y_every_screen_in_english():
    _screens("en")


def test_ui_a11y_every_screen_in_german():
    _screens("de")


def test_ui_a11y_every_screen_in_bulgarian():
    _screens("bg")


def _password_token(tenant, key, lang):
    """A set-password link's token for a new customer who speaks lang."""
    addr = unique_email("pw-" + lang)
    st, _, c = api("POST", "/v1/customers", {"firstName": "Mila", "lastName": unique("Link"), "email": addr,
                                             "preferences": {"language": lang}}, key=key)
    assert st == 201, c
    st, _, js = api("POST", "/v1/customers/%s:sendPasswordLink" % c["id"], {}, key=key)
    assert st in (200, 202), js
    return _token(_mail(addr))


def _public(lang):
    tenant, key = _registering_tenant("BG")
    token = _password_token(tenant, key, lang)
    with _browser("a11y-public-" + lang) as b:
        audit = Audit(b, lang)
        # Setting a password: the form, then its error (the two differ).
        b.get(crm.URL + "/ui/password.html?token=" + token)
        b.wait("#pw-password").send_keys("Fjord og fjell 2026")
        assert b.js("return document.documentElement.lang;") == lang
        audit.page("password.html")
        b.find("#pw-repeat").send_keys("Fjord og fjell 2027")
        b.find("#pw-save").click()
        b.wait_until(lambda: b.find("#pw-error").text, what="the mismatch said")
        audit.page("password.html, passwords differ")
        # Registering: the language chosen on the page, then the form sent empty.
        b.get(crm.URL + "/ui/register.html?business=" + tenant)
        b.wait("#reg-language").select(lang)
        b.wait_until(lambda: b.js("return document.documentElement.lang;") == lang, what="<html lang> " + lang)
        b.wait("#reg-firstName")
        audit.page("register.html")
        b.find("#reg-submit").click()
        b.wait_until(lambda: b.find("#reg-firstName-error").text, what="the errors shown")
        audit.page("register.html with errors")
        # Unsubscribing: the question, then a link that names nobody.
        b.get(crm.URL + "/ui/unsubscribe.html?token=%s&lang=%s" % ("A" * 60, lang))
        b.wait("#unsub-confirm")
        assert b.js("return document.documentElement.lang;") == lang
        audit.page("unsubscribe.html")
        b.find("#unsub-confirm").click()
        b.wait_gone("#unsub-confirm[disabled]")
        audit.page("unsubscribe.html, link refused")
        audit.check()


def test_ui_a11y_public_pages_in_english():
    _public("en")


def test_ui_a11y_public_pages_in_german():
    _public("de")


def test_ui_a11y_public_pages_in_bulgarian():
    _public("bg")
