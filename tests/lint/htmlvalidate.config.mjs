// html-validate for the gateway's web UI: its pages (services/gateway/ui/*.html)
// and the page the UI builds at run time (tests/integration/test_weblint.py
// reads it from headless Chromium). By hand from the repository root:
//   tests/lint/node_modules/.bin/html-validate --config tests/lint/htmlvalidate.config.mjs services/gateway/ui/*.html
// The recommended preset, with these changes, each with why:
export default {
    extends: ["html-validate:recommended"],
    rules: {
        // ARIA lets a list be named ("Notes", "Tasks", "Files" on the card)
        // so that a screen reader tells the card's lists apart; the rule
        // allows that when asked to (html-validate's "standard" preset does).
        "aria-label-misuse": ["error", { allowAnyNamable: true }],
        // A checkbox's label wraps it and also names it with for=: the
        // wrapping makes the whole row clickable, and for= is what speech
        // input and some screen readers follow. Redundant, not wrong.
        "no-redundant-for": "off",
        // The customer list's search and filter forms act as you type or
        // choose (Enter is handled too): there is nothing for a submit
        // button to do, and nothing leaves the page.
        "wcag/h32": "off",
        // Styles belong in app.css; what the data decides is set inline: a
        // group's colour on its swatch, an answer's share as its bar's width.
        "no-inline-style": ["error", { allowedProperties: ["display", "background-color", "width"] }],
        // A set of checkboxes of one name (a customer's groups) sends a list.
        "form-dup-name": ["error", { shared: ["radio", "button", "reset", "submit", "checkbox"] }],
    },
};
