// What a search matched in a result, marked for the eye (<mark>), by the
// search service's rules (docs/search.md): each word of the query matches the
// start of a word of a name or the company, or of the e-mail's local part,
// case and accents aside; a run of digits matches anywhere in the phone number's digits,
// whatever the spacing. Letters are compared by the browser's Unicode
// collation (Intl.Collator at base strength: "lukasz" is "Łukasz", "muller"
// is "Müller", "ив" is "Ив"). Marking is only for the eye: a match the
// collation sees differently from the service is simply not marked.

import { h } from "./dom.js";

const collator = new Intl.Collator(undefined, { usage: "search", sensitivity: "base", ignorePunctuation: true });
const WORD_CHAR = /[\p{L}\p{N}]/u;
const APOSTROPHE = /['’]/;
const APOSTROPHE_ALL = /['’]/g;
const TRAILING = /[^\p{L}\p{N}\p{M}]/u;
const NUMERIC = /^[+\-()./0-9]*[0-9][+\-()./0-9]*$/;

/** The query's letter words, and its digits (a run of numeric words is one number). */
export function parseQuery(q) {
  const words = [];
  let digits = "";
  let run = "";
  for (const w of String(q || "").split(/\s+/).filter(Boolean)) {
    if (NUMERIC.test(w)) {
      run += w.replace(/[^0-9]/g, "");
      words.push(w.replace(/[^0-9]/g, "")); // digits also start e-mails ("600kowal@")
      continue;
    }
    if (run.length > digits.length) digits = run;
    run = "";
    const plain = w.replace(APOSTROPHE_ALL, "");
    // "jan.kow" is tried whole (an e-mail) and as its parts.
    const parts = plain.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    if (parts.length) words.push(plain, ...parts.filter((p) => p !== plain));
  }
  if (run.length > digits.length) digits = run;
  // A leading 00 or 0 (international or trunk prefix) goes when 3 digits remain (as search does).
  const bare = digits.startsWith("00") ? digits.slice(2) : digits.startsWith("0") ? digits.slice(1) : digits;
  if (bare.length >= 3) digits = bare;
  return { words, digits: digits.length >= 3 ? digits : "" };
}

/** The length in text, from i, of a prefix equal to word under the collation (0: none). */
function prefixAt(text, i, word) {
  let best = 0;
  // Expansions ("ß" is "ss") and decomposed marks make the lengths differ a little.
  const end = Math.min(text.length, i + word.length * 2 + 2);
  for (let j = i + 1; j <= end; j++) {
    if (/\s/.test(text[j - 1])) break; // a query word never spans two words
    const c = collator.compare(text.slice(i, j), word);
    if (c === 0) best = j - i;
    else if (best) break;
  }
  // Not the spaces and punctuation after it, which the collation ignores.
  while (best > 0 && TRAILING.test(text[i + best - 1])) best--;
  return best;
}

/** True when a word starts at text[i] (an apostrophe inside a word joins: "O'Brien" is one word). */
function wordStart(text, i) {
  if (!WORD_CHAR.test(text[i])) return false;
  if (i === 0 || WORD_CHAR.test(text[i - 1])) return i === 0;
  return !(APOSTROPHE.test(text[i - 1]) && i >= 2 && WORD_CHAR.test(text[i - 2]));
}

/** [start, end) ranges of text that start a word (before `limit`) and match a query word. */
function wordRanges(text, words, limit = text.length) {
  const out = [];
  for (let i = 0; i < text.length; ) {
    let len = 0;
    if (i < limit && wordStart(text, i)) for (const w of words) len = Math.max(len, prefixAt(text, i, w));
    if (len) {
      out.push([i, i + len]);
      i += len;
    } else i++;
  }
  return out;
}

/** The [start, end) range of a phone number holding the digits, or none. */
function digitRanges(text, digits) {
  if (!digits) return [];
  const pos = [];
  let all = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] >= "0" && text[i] <= "9") {
      pos.push(i);
      all += text[i];
    }
  }
  const at = all.indexOf(digits);
  return at < 0 ? [] : [[pos[at], pos[at + digits.length - 1] + 1]];
}

function render(text, ranges) {
  if (!ranges.length) return text;
  const out = [];
  let last = 0;
  for (const [a, b] of ranges) {
    if (a > last) out.push(text.slice(last, a));
    out.push(h("mark", {}, text.slice(a, b)));
    last = b;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** text with the starts of its words that the query matched in <mark>. */
export function markWords(text, query) {
  const s = String(text || "");
  return query.words.length ? render(s, wordRanges(s, query.words)) : s;
}

/** An e-mail address with the starts of its local part's words that the query matched in
 * <mark> (the domain alone matches nothing). */
export function markEmail(text, query) {
  const s = String(text || "");
  const at = s.lastIndexOf("@");
  return query.words.length ? render(s, wordRanges(s, query.words, at < 0 ? s.length : at)) : s;
}

/** A phone number with the query's digits in <mark>. */
export function markDigits(text, query) {
  const s = String(text || "");
  return render(s, digitRanges(s, query.digits));
}
