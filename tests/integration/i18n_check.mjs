// The message catalogue's own check (test_i18n.py runs it with node):
//   node i18n_check.mjs UI_DIR
// UI_DIR is services/gateway/ui. It loads UI_DIR/js/i18n.js and finds
//  - every key the UI names (t("key"), tn("key", ...), a "prefix.key" string
//    in a table of keys, data-i18n and data-i18n-label in the HTML) that the
//    English table lacks (a tn key needs key.other);
//  - every English key another language lacks, and every key a language has
//    that English lacks (a plural form .few/.many/.two/.zero of a key whose
//    .other English has is that language's own);
//  - a message whose {placeholders} differ from the English one's;
//  - an empty message.
// It prints one line per problem and "catalogue: N keys used, N keys, 5
// languages, OK" or "... N problems" last; the exit status is 1 on problems.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const ui = process.argv[2];
if (!ui) {
  console.error("usage: node i18n_check.mjs UI_DIR");
  process.exit(2);
}

const source = readFileSync(join(ui, "js", "i18n.js"), "utf8");
const mod = await import(`data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`);
const cat = mod.CATALOGUE;
const en = cat.en;
const problems = [];

// ---- the keys the UI names
const PREFIXES = Object.keys(en).map((k) => k.split(".")[0]).filter((p, i, all) => all.indexOf(p) === i);
const keyLiteral = new RegExp(`["'\`]((?:${PREFIXES.join("|")})\\.[A-Za-z0-9_.]*[A-Za-z0-9_])["'\`]`, "g");
const counted = /\btn\(\s*["'`]([^"'`$]+)["'`]/g;

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else if (/\.(js|html)$/.test(name)) out.push(path);
  }
  return out;
}

const used = new Map(); // key -> first file naming it
const plural = new Set();
for (const path of files(ui)) {
  if (path.endsWith(join("js", "i18n.js"))) continue;
  // Comments and the API's own names in case labels ("task.created") name no key.
  const text = readFileSync(path, "utf8")
    .replace(/^\s*(\/\/|\/?\*).*$/gm, "")
    .replace(/\bcase\s+"[^"]*":/g, "");
  for (const m of text.matchAll(counted)) plural.add(m[1]);
  for (const m of text.matchAll(keyLiteral)) if (!used.has(m[1])) used.set(m[1], path);
  for (const m of text.matchAll(/data-i18n(?:-label)?="([^"]+)"/g)) if (!used.has(m[1])) used.set(m[1], path);
}
for (const key of plural) used.delete(key);
for (const [key, path] of used) {
  if (!(key in en)) problems.push(`${path}: "${key}" is not in the English table`);
}
for (const key of plural) {
  if (!(`${key}.other` in en)) problems.push(`tn("${key}") has no "${key}.other" in the English table`);
}

// ---- the languages against English
const PLURAL_FORMS = /\.(zero|two|few|many)$/;
const holes = (text) => [...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(",");
for (const [lang, table] of Object.entries(cat)) {
  for (const key of Object.keys(en)) {
    if (!(key in table)) problems.push(`${lang}: "${key}" is missing`);
  }
  for (const [key, text] of Object.entries(table)) {
    let base = key;
    if (!(key in en)) {
      const other = key.replace(PLURAL_FORMS, ".other");
      if (other === key || !(other in en)) {
        problems.push(`${lang}: "${key}" is not in the English table`);
        continue;
      }
      base = other;
    }
    if (typeof text !== "string" || !text.trim()) problems.push(`${lang}: "${key}" is empty`);
    else if (holes(text) !== holes(en[base]) && !(PLURAL_FORMS.test(key) || key.endsWith(".one") || key.endsWith(".other"))) {
      problems.push(`${lang}: "${key}" has {${holes(text)}}, English has {${holes(en[base])}}`);
    }
  }
}

for (const p of problems) console.log(p);
const summary = `catalogue: ${used.size + plural.size} keys used, ${Object.keys(en).length} keys, ${Object.keys(cat).length} languages`;
console.log(problems.length ? `${summary}, ${problems.length} problems` : `${summary}, OK`);
process.exit(problems.length ? 1 : 0);
