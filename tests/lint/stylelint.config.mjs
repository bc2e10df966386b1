// Stylelint for the gateway's web UI stylesheet (services/gateway/ui/app.css),
// run by tests/integration/test_weblint.py; by hand from the repository root:
//   tests/lint/node_modules/.bin/stylelint --config tests/lint/stylelint.config.mjs services/gateway/ui/app.css
// The standard config, less only rules about how the file is laid out or
// which of two equal spellings it uses; each is named with why.
export default {
    extends: ["stylelint-config-standard"],
    rules: {
        // Layout: the sheet writes a short rule on one line
        // (".x { a: 1; b: 2; }") so that related rules read as a table.
        "declaration-block-single-line-max-declarations": null,
        // Layout: comments and rules sit tight under the heading comment
        // of their group; blank lines separate groups, not every rule.
        "comment-empty-line-before": null,
        "rule-empty-line-before": null,
        "at-rule-empty-line-before": null,
        "declaration-empty-line-before": null,
        // Spelling: rgba(0, 0, 0, 0.1) and rgb(0 0 0 / 10%) are the same
        // colour; keep the one comma spelling throughout instead of mixing.
        "color-function-notation": "legacy",
        "color-function-alias-notation": "with-alpha",
        "alpha-value-notation": "number",
        // Spelling: (max-width: 600px) is the same query as (width <= 600px)
        // and older Safari (before 16.4) only knows the first; keep it.
        "media-feature-range-notation": "prefix",
        // Does not fit a sheet grouped by component: it flags any later
        // selector of lower specificity that ends in the same element, such
        // as ".merge-table td" after "#import-errors td", which never match
        // the same cell. Every case it found here was of that kind.
        "no-descending-specificity": null,
    },
};
