"""The web UI passes the linters a web developer would run on it: ESLint on
services/gateway/ui/js (recommended rules plus those that catch bugs in
hand-written browser code), html-validate (recommended preset) on its pages
and on the page the UI builds at run time, and Stylelint
(stylelint-config-standard) on app.css. Each test fails listing every
finding. The linters are pinned in tests/lint/package.json and configured in
tests/lint/ (eslint.config.mjs, htmlvalidate.config.mjs, stylelint.config.mjs);
compose/install-deps.sh installs them (npm ci). docs/operations.md says how to
run them by hand.
"""

import glob
import json
import os
import subprocess
import tempfile

import crm
from crm import api, unique, unique_email
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import _sign_in

LINT_DIR = os.path.join(crm.ROOT, "tests", "lint")
BIN = os.path.join(LINT_DIR, "node_modules", ".bin")
ESLINT_CONFIG = os.path.join(LINT_DIR, "eslint.config.mjs")
HTML_CONFIG = os.path.join(LINT_DIR, "htmlvalidate.config.mjs")
CSS_CONFIG = os.path.join(LINT_DIR, "stylelint.config.mjs")
UI = os.path.join("services", "gateway", "ui")  # from the repository root


def _tool(name):
    path = os.path.join(BIN, name)
    assert os.access(path, os.X_OK), (
        "%s is not installed: run compose/install-deps.sh (npm ci in tests/lint)" % path)
    return path


def _run(args, cwd):
    """Runs a linter whose JSON report is on stdout; returns the report."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd,
                       env=dict(os.environ, NO_COLOR="1", FORCE_COLOR="0"))
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("%s gave no report (exit %d):\n%s\n%s"
                             % (os.path.basename(args[0]), r.returncode, r.stdout[-4000:], r.stderr[-4000:]))


def _eslint(root, paths):
    """ESLint's findings as "file:line:col rule: message" (files from root)."""
    report = _run([_tool("eslint"), "--config", ESLINT_CONFIG, "--format", "json",
                   "--no-warn-ignored", *paths], root)
    linted = [f["filePath"] for f in report]
    return linted, ["%s:%d:%d %s: %s" % (os.path.relpath(f["filePath"], root), m.get("line", 0),
                                          m.get("column", 0), m.get("ruleId") or "parse", m["message"])
                    for f in report for m in f["messages"]]


def _html_validate(root, paths, rules=()):
    """html-validate's findings, like _eslint's; rules ("name:0") are added
    to the config's."""
    args = [_tool("html-validate"), "--config", HTML_CONFIG, "--formatter", "json"]
    args += ["--rule=%s" % r for r in rules]
    report = _run(args + list(paths), root)
    return ["%s:%d:%d %s: %s%s" % (os.path.relpath(f["filePath"], root), m.get("line", 0), m.get("column", 0), m["ruleId"],
                                   m["message"], " [%s]" % m["selector"] if m.get("selector") else "")
            for f in report for m in f["messages"]]


def _stylelint(root, paths):
    """Stylelint's findings, like _eslint's (its report is on stderr when it
    finds something, on stdout when not: read from a file instead)."""
    with tempfile.TemporaryDirectory(prefix="crm-stylelint-") as tmp:
        out = os.path.join(tmp, "report.json")
        r = subprocess.run([_tool("stylelint"), "--config", CSS_CONFIG, "--formatter", "json",
                            "--output-file", out, *paths],
                           capture_output=True, text=True, timeout=120, cwd=root,
                           env=dict(os.environ, NO_COLOR="1", FORCE_COLOR="0"))
        try:
            with open(out, encoding="utf-8") as fh:
                report = json.load(fh)
        except (OSError, ValueError):
            raise AssertionError("stylelint gave no report (exit %d):\n%s\n%s"
                                 % (r.returncode, r.stdout[-4000:], r.stderr[-4000:]))
    return ["%s:%d:%d %s" % (os.path.relpath(f["source"], root), w.get("line", 0), w.get("column", 0),
                             w["text"])
            for f in report for w in f["warnings"] + f.get("parseErrors", [])]


def _clean(tool, findings):
    assert not findings, "%s: %d findings\n%s" % (tool, len(findings), "\n".join(findings))


def test_ui_javascript_passes_eslint():
    linted, findings = _eslint(crm.ROOT, [UI])
    # Every module of the UI is linted (the config's files pattern matches).
    sources = glob.glob(os.path.join(crm.ROOT, UI, "js", "**", "*.js"), recursive=True)
    assert sorted(linted) == sorted(sources), set(sources) ^ set(linted)
    _clean("eslint", findings)


def test_ui_pages_pass_html_validate():
    pages = sorted(glob.glob(os.path.join(UI, "*.html"), root_dir=crm.ROOT))
    assert len(pages) >= 4, pages
    _clean("html-validate", _html_validate(crm.ROOT, pages))


def test_ui_stylesheet_passes_stylelint():
    _clean("stylelint", _stylelint(crm.ROOT, [os.path.join(UI, "app.css")]))


BAD_JS = """import { h } from "./dom.js";
export function total(rows) {
  let sum = 0;
  for (const r of rows) if (r.count == "1") sum += r.count;
  return sum + missing;
}
"""
BAD_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>x</title></head>
<body><p><div id="a" id="b">x</div></p></body>
</html>
"""
BAD_CSS = """.a { colr: red; }
.a { color: blue; }
"""


def test_linters_find_planted_mistakes():
    """A copy of the UI's layout with one mistake of each kind: each linter
    names it, so a clean run above means the linters looked."""
    with tempfile.TemporaryDirectory(prefix="crm-weblint-") as tmp:
        ui = os.path.join(tmp, UI)
        os.makedirs(os.path.join(ui, "js"))
        for name, text in (("js/bad.js", BAD_JS), ("bad.html", BAD_HTML), ("app.css", BAD_CSS)):
            with open(os.path.join(ui, name), "w", encoding="utf-8") as fh:
                fh.write(text)
        _, js = _eslint(tmp, [UI])
        html = _html_validate(tmp, [os.path.join(UI, "bad.html")])
        css = _stylelint(tmp, [os.path.join(UI, "app.css")])
    for rule in ("no-unused-vars", "eqeqeq", "no-undef"):
        assert any(" %s: " % rule in f for f in js), (rule, js)
    for rule in ("no-dup-attr", "close-order"):
        assert any(" %s: " % rule in f for f in html), (rule, html)
    for rule in ("property-no-unknown", "no-duplicate-selectors"):
        assert any("(%s)" % rule in f for f in css), (rule, css)


def _built_page(b):
    """The page as the UI built it (its DOM, serialised)."""
    return "<!DOCTYPE html>\n" + b.js("return document.documentElement.outerHTML;")


# The other screens an administrator reaches from the menu, each read once its
# heading is drawn and nothing in it says it is still loading.
SCREENS = ("/customers/new", "/customers/%s/edit", "/tasks", "/groups", "/campaigns", "/templates",
           "/replies", "/settings", "/settings/forms", "/automations", "/vouchers", "/exchange", "/staff",
           "/keys", "/security")
DRAWN = """
const main = document.getElementById('main');
return location.hash === arguments[0] && Boolean(main.querySelector('.view h1'))
  && !main.querySelector('[aria-busy="true"]');"""


def test_ui_built_pages_pass_html_validate():
    """What the UI builds at run time is valid HTML too: the customer list,
    the card of a customer with a tag, a note and a company, and every other
    screen of the menu, in headless Chromium (the DOM is read once each
    screen has drawn)."""
    st, _, c = api("POST", "/v1/customers", {
        "firstName": "Åsa", "lastName": unique("Lint"), "email": unique_email("lint"), "tags": ["vip"],
        "isCompany": True, "company": {"name": "Lint AS", "address": "Storgata 1\n0155 Oslo"}})
    assert st == 201, c
    st, _, n = api("POST", "/v1/customers/%s/notes" % c["id"], {"body": "Prefers <b>mornings</b>"})
    assert st == 201, n
    pages = []
    with _browser("weblint-built") as b:
        _sign_in(b, "en")
        b.wait("#customer-table tbody tr[data-id]")
        b.wait_until(lambda: not b.js("return document.getElementById('customer-table')"
                                      ".hasAttribute('aria-busy');"), what="the list drawn")
        pages.append(("customers", _built_page(b)))
        _open(b, "/customers/" + c["id"])
        b.wait(".card-head")
        b.wait_text("#notes", "mornings")
        b.wait("#timeline .tl-entry")
        pages.append(("customers/" + c["id"], _built_page(b)))
        for route in SCREENS:
            route = route % c["id"] if "%s" in route else route
            _open(b, route)
            b.wait_until(lambda: b.js(DRAWN, "#" + route), what=route + " drawn")
            pages.append((route, _built_page(b)))
        _no_js_errors(b)
    with tempfile.TemporaryDirectory(prefix="crm-weblint-built-") as tmp:
        paths = []
        for name, html in pages:
            paths.append((name.strip("/").replace("/", "-").replace(c["id"], "ID") or "list") + ".html")
            with open(os.path.join(tmp, paths[-1]), "w", encoding="utf-8") as fh:
                fh.write(html)
        # The browser serialises every boolean attribute as hidden="" (so
        # hidden and hidden="" cannot be told apart here): that rule is for
        # the pages as written only.
        findings = _html_validate(tmp, paths, rules=["attribute-boolean-style:0"])
    _clean("html-validate", findings)


test_ui_built_pages_pass_html_validate.timeout = 300
