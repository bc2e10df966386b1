// "Is this customer already in the book?" while a new customer is typed: the
// name, the e-mail and the phone are each looked up with the search API
// (GET /v1/customers:search, a few results each) as staff type, and the
// customers found are listed with what they share, each linking to its card.
// A customer added twice splits their history; this is the moment to notice.

import { get, isAbort } from "./api.js";
import { h, replace } from "./dom.js";
import { displayName } from "./format.js";
import { t } from "./i18n.js";
import { markDigits, markEmail, markWords, parseQuery } from "./mark.js";

const DELAY_MS = 300; // typing pauses shorter than this make one round of lookups
const PER_LOOKUP = 3; // customers asked for per lookup
const SHOWN = 5; // customers listed at most

/** The lookups worth making for what is typed: [{why (a catalogue key), q}]. */
export function lookups({ firstName, lastName, email, phone }) {
  const out = [];
  const first = (firstName || "").trim();
  const last = (lastName || "").trim();
  // A name: the last name (2 letters or more), with the first name when there is one.
  if (last.length >= 2) out.push({ why: "form.dupWhy.name", q: [first, last].filter(Boolean).join(" ") });
  const mail = (email || "").trim();
  if (/^[^@\s]+@[^@\s]+$/.test(mail)) out.push({ why: "form.dupWhy.email", q: mail });
  const digits = (phone || "").replace(/[^0-9]/g, "");
  if (digits.length >= 6) out.push({ why: "form.dupWhy.phone", q: digits });
  return out.map((l) => ({ ...l, q: l.q.slice(0, 200) }));
}

/**
 * Watches the inputs ({firstName, lastName, email, phone}: input elements) and
 * keeps `box` filled with the customers who may be the one being added.
 * Returns a function that stops watching.
 */
export function watchDuplicates(inputs, box) {
  let timer = null;
  let inflight = null;
  let seq = 0;

  async function check() {
    const typed = {};
    for (const [k, el] of Object.entries(inputs)) typed[k] = el.value;
    const todo = lookups(typed);
    seq += 1;
    const mine = seq;
    if (inflight) inflight.abort();
    if (!todo.length) {
      box.hidden = true;
      replace(box);
      return;
    }
    const abort = new AbortController();
    inflight = abort;
    let answers;
    try {
      answers = await Promise.all(todo.map((l) =>
        get("/v1/customers:search", { q: l.q, pageSize: PER_LOOKUP }, { signal: abort.signal })
          .then((r) => ({ ...l, customers: r.data.customers || [] }))
          .catch((e) => {
            if (isAbort(e)) throw e;
            return { ...l, customers: [] }; // a lookup that fails only shows nothing
          })));
    } catch (e) {
      if (isAbort(e)) return;
      throw e;
    }
    if (mine !== seq) return;
    inflight = null;
    // Each customer once, with every reason found.
    const found = new Map();
    for (const a of answers) {
      for (const c of a.customers) {
        const f = found.get(c.id) || { c, why: [] };
        if (!f.why.includes(a.why)) f.why.push(a.why);
        found.set(c.id, f);
      }
    }
    const list = [...found.values()].sort((x, y) => y.why.length - x.why.length).slice(0, SHOWN);
    if (!list.length) {
      box.hidden = true;
      replace(box);
      return;
    }
    const all = parseQuery(todo.map((l) => l.q).join(" "));
    box.hidden = false;
    replace(box,
      h("p", { class: "duplicates-title" }, list.length === 1
        ? t("form.dupOne") : t("form.dupMany")),
      h("ul", { class: "duplicates-list" }, list.map(({ c, why }) =>
        h("li", { class: "duplicate", dataset: { id: c.id } },
          h("a", { href: `#/customers/${encodeURIComponent(c.id)}`, class: "duplicate-link" }, markWords(displayName(c), all)),
          c.email ? [" · ", h("span", { class: "muted" }, markEmail(c.email, all))] : null,
          c.phone ? [" · ", h("span", { class: "muted" }, markDigits(c.phone, all))] : null,
          " ", h("span", { class: "chip duplicate-why" }, t("form.dupMatching", { why: why.map((w) => t(w)).join(", ") }))))));
  }

  const onInput = () => {
    clearTimeout(timer);
    timer = setTimeout(() => check().catch(() => {}), DELAY_MS);
  };
  for (const el of Object.values(inputs)) el.addEventListener("input", onInput);
  if (Object.values(inputs).some((el) => el.value)) onInput(); // prefilled from an empty search
  return () => {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    for (const el of Object.values(inputs)) el.removeEventListener("input", onInput);
  };
}
