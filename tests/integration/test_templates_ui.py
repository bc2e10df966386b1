"""The Templates screen (#/templates) in headless Chromium at 390 px, in German
and in English: every kind in every language listed, a tenant's own text
edited, previewed with sample values, saved and reset to the ready text; a
bad field named next to it."""
import crm
from crm import api, wait_until


def _overflow(b):
    return b.js("return document.documentElement.scrollWidth - "
                "document.documentElement.clientWidth;")


def _entry(kind, lang):
    return "#tpl-list li[data-kind='%s'][data-language='%s']" % (kind, lang)


def test_ui_templates_screen_edits_previews_saves_and_resets_in_german():
    from test_ui import _browser, _no_js_errors, _open, _sign_in
    api("DELETE", "/v1/templates/welcome/de")
    with _browser("templates-de") as b:
        _sign_in(b)
        b.js("localStorage.setItem('crm.lang', 'de');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/templates")
            b.wait_text("h1", "Nachrichtenvorlagen")
            assert b.find("nav a[data-nav=templates]").text == "Vorlagen"
            b.wait(_entry("welcome", "bg"))
            assert len(b.find_all("#tpl-list li.tpl-entry")) == 20
            assert "Fertiger Text" in b.find(_entry("welcome", "de")).text
            assert _overflow(b) <= 0, _overflow(b)
            b.find(_entry("welcome", "de") + " .tpl-edit").click()
            b.wait_text("#tpl-editing", "Willkommen · Deutsch")
            assert b.js("return document.getElementById('tpl-subject').value;").startswith(
                "Willkommen bei")
            b.find("#tpl-subject").fill("Hallo {{firstName}}, schön dass Sie da sind")
            b.find("#tpl-preview").click()
            b.wait_text("#tpl-preview-out .tpl-preview-subject", "Hallo Anna, schön dass Sie da sind")
            assert "Vorschau mit Beispielwerten" in b.find("#tpl-preview-out").text
            assert _overflow(b) <= 0, _overflow(b)
            b.find("#tpl-save").click()
            b.wait(_entry("welcome", "de") + "[data-custom='1']")
            st, _, t = api("GET", "/v1/templates/welcome/de")
            assert st == 200 and t["custom"] is True, t
            assert t["subject"] == "Hallo {{firstName}}, schön dass Sie da sind", t
            assert "Eigene" in b.find(_entry("welcome", "de")).text
            b.wait("#tpl-reset").click()
            b.wait(_entry("welcome", "de") + "[data-custom='0']")
            st, _, t = api("GET", "/v1/templates/welcome/de")
            assert st == 200 and not t.get("custom") and t["subject"].startswith("Willkommen"), t
            _no_js_errors(b)
        finally:
            b.js("localStorage.removeItem('crm.lang');")
            api("DELETE", "/v1/templates/welcome/de")


def test_ui_templates_screen_in_english_names_a_bad_field():
    from test_ui import _browser, _no_js_errors, _open, _sign_in
    with _browser("templates-en") as b:
        _sign_in(b)
        b.js("localStorage.setItem('crm.lang', 'en');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/templates")
            b.wait_text("h1", "Message templates")
            b.wait(_entry("password_link", "en") + " .tpl-edit").click()
            b.wait_text("#tpl-editing", "Set-password link · English")
            b.find("#tpl-text").fill("Hello {{nickname}}: {{link}}")
            b.find("#tpl-save").click()
            b.wait("#tpl-text[aria-invalid=true]")
            err = b.find("#tpl-text-error").text
            assert "nickname" in err or "{{" in err, err
            st, _, t = api("GET", "/v1/templates/password_link/en")
            assert st == 200 and not t.get("custom"), t  # nothing saved
            # A draft previews without being saved.
            b.find("#tpl-text").fill("Hello {{firstName}}, your link: {{link}}")
            b.find("#tpl-preview").click()
            wait_until(lambda: "Hello Anna, your link: http" in b.find("#tpl-preview-out").text,
                       what="the preview")
            assert not api("GET", "/v1/templates/password_link/en")[2].get("custom")
            assert _overflow(b) <= 0, _overflow(b)
            _no_js_errors(b)
        finally:
            b.js("localStorage.removeItem('crm.lang');")


test_ui_templates_screen_edits_previews_saves_and_resets_in_german.timeout = 120
test_ui_templates_screen_in_english_names_a_bad_field.timeout = 120
