// ESLint for the gateway's web UI (services/gateway/ui/js: ES modules that
// the browser loads as they are, no build step, no framework). Run by
// tests/integration/test_weblint.py; by hand from the repository root:
//   tests/lint/node_modules/.bin/eslint --config tests/lint/eslint.config.mjs services/gateway/ui
import js from "@eslint/js";
import globals from "globals";

export default [
    {
        files: ["services/gateway/ui/**/*.js"],
        languageOptions: {
            ecmaVersion: 2022,
            sourceType: "module",
            globals: { ...globals.browser },
        },
        linterOptions: { reportUnusedDisableDirectives: "error" },
        rules: {
            ...js.configs.recommended.rules,
            // Names the browser does not have, and bindings nothing reads.
            "no-undef": "error",
            // "const { id, createdAt, ...rest } = r" is how the views drop
            // fields before sending a record back: the named ones are unused
            // on purpose.
            "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none", ignoreRestSiblings: true }],
            // == and != coerce: "1" == 1, null == undefined.
            eqeqeq: ["error", "always"],
            "no-implicit-globals": "error",
            "no-shadow": "error",
            "prefer-const": "error",
            "no-unsafe-finally": "error",
            "no-promise-executor-return": "error",
            // Off: it cannot see the guards these views use around an await
            // (a request sequence number, "if (mine !== seq) return", an
            // AbortController, ctx.live(), a button disabled while the request
            // runs). Its 48 findings here were each read: the races among
            // them are fixed (session.js kept a load begun before sign-out;
            // messages.js and campaigns.js could leave two refresh timers;
            // vouchers.js, replies.js and notes.js showed whichever of two
            // overlapping loads answered last), the rest are guarded so.
            "require-atomic-updates": "off",
            "no-self-compare": "error",
            "no-unmodified-loop-condition": "error",
            "no-constant-binary-expression": "error",
            "array-callback-return": "error",
            "default-case-last": "error",
            "no-template-curly-in-string": "error",
            // Variables: a read before its let/const line in the same scope
            // throws, so those count. A read from inside a closure that runs
            // later (an event handler reading a button made further down,
            // "variables: false") is how the views are written and is left
            // alone; functions are hoisted.
            "no-use-before-define": ["error", { functions: false, classes: true, variables: false }],
        },
    },
];
