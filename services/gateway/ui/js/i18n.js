// The message catalogue: every string of the screens written with it, in the
// languages of the businesses that use the suite (English, German, Polish,
// Norwegian, Bulgarian). t(key, vars) picks the user's language: the one set
// with setLanguage (kept in localStorage "crm.lang"), else the browser's first
// one we have, else English. {name} in a message is replaced by vars.name.

const MESSAGES = {
  en: {
    "vat.download": "Download data",
    "vat.downloading": "Asking VIES…",
    "vat.needNumber": "Type the VAT number first, with its country prefix.",
    "vat.filled": "VIES: valid. Filled in: {what}.",
    "vat.validNothing": "VIES: valid. Name and address are already filled in; nothing was changed.",
    "vat.invalid": "VIES says {vat} is not a valid VAT number. Nothing was changed.",
    "vat.withheld": "VIES: valid, but {country} does not disclose the company's name and address.",
    "vat.unavailable": "VIES cannot check the number right now ({code}). Nothing was changed; try again in {seconds} s.",
    "vat.error": "The number could not be checked: {message}",
    "vat.name": "the name",
    "vat.address": "the address",
    "vat.and": " and ",
  },
  de: {
    "vat.download": "Daten abrufen",
    "vat.downloading": "VIES wird gefragt…",
    "vat.needNumber": "Bitte zuerst die USt-IdNr. mit Länderkennzeichen eingeben.",
    "vat.filled": "VIES: gültig. Eingetragen: {what}.",
    "vat.validNothing": "VIES: gültig. Name und Anschrift sind schon ausgefüllt; nichts wurde geändert.",
    "vat.invalid": "Laut VIES ist {vat} keine gültige USt-IdNr. Nichts wurde geändert.",
    "vat.withheld": "VIES: gültig, aber {country} gibt Name und Anschrift der Firma nicht bekannt.",
    "vat.unavailable": "VIES kann die Nummer gerade nicht prüfen ({code}). Nichts wurde geändert; bitte in {seconds} s erneut versuchen.",
    "vat.error": "Die Nummer konnte nicht geprüft werden: {message}",
    "vat.name": "den Namen",
    "vat.address": "die Anschrift",
    "vat.and": " und ",
  },
  pl: {
    "vat.download": "Pobierz dane",
    "vat.downloading": "Pytam VIES…",
    "vat.needNumber": "Najpierw wpisz numer VAT z prefiksem kraju.",
    "vat.filled": "VIES: numer ważny. Uzupełniono: {what}.",
    "vat.validNothing": "VIES: numer ważny. Nazwa i adres są już wpisane; niczego nie zmieniono.",
    "vat.invalid": "Według VIES {vat} nie jest ważnym numerem VAT. Niczego nie zmieniono.",
    "vat.withheld": "VIES: numer ważny, ale {country} nie ujawnia nazwy ani adresu firmy.",
    "vat.unavailable": "VIES nie może teraz sprawdzić numeru ({code}). Niczego nie zmieniono; spróbuj ponownie za {seconds} s.",
    "vat.error": "Nie udało się sprawdzić numeru: {message}",
    "vat.name": "nazwę",
    "vat.address": "adres",
    "vat.and": " i ",
  },
  nb: {
    "vat.download": "Hent data",
    "vat.downloading": "Spør VIES…",
    "vat.needNumber": "Skriv først MVA-nummeret med landskode.",
    "vat.filled": "VIES: gyldig. Fylt inn: {what}.",
    "vat.validNothing": "VIES: gyldig. Navn og adresse er allerede fylt inn; ingenting ble endret.",
    "vat.invalid": "Ifølge VIES er {vat} ikke et gyldig MVA-nummer. Ingenting ble endret.",
    "vat.withheld": "VIES: gyldig, men {country} oppgir ikke firmaets navn og adresse.",
    "vat.unavailable": "VIES kan ikke sjekke nummeret akkurat nå ({code}). Ingenting ble endret; prøv igjen om {seconds} s.",
    "vat.error": "Nummeret kunne ikke sjekkes: {message}",
    "vat.name": "navnet",
    "vat.address": "adressen",
    "vat.and": " og ",
  },
  bg: {
    "vat.download": "Изтегли данните",
    "vat.downloading": "Запитване към VIES…",
    "vat.needNumber": "Първо въведете ДДС номера с кода на държавата.",
    "vat.filled": "VIES: валиден. Попълнени: {what}.",
    "vat.validNothing": "VIES: валиден. Името и адресът вече са попълнени; нищо не е променено.",
    "vat.invalid": "Според VIES {vat} не е валиден ДДС номер. Нищо не е променено.",
    "vat.withheld": "VIES: валиден, но {country} не разкрива името и адреса на фирмата.",
    "vat.unavailable": "VIES не може да провери номера в момента ({code}). Нищо не е променено; опитайте отново след {seconds} с.",
    "vat.error": "Номерът не можа да бъде проверен: {message}",
    "vat.name": "името",
    "vat.address": "адреса",
    "vat.and": " и ",
  },
};

/** The languages of the catalogue. */
export const LANGUAGES = Object.keys(MESSAGES);

function pick() {
  let stored = "";
  try {
    stored = localStorage.getItem("crm.lang") || "";
  } catch (e) {
    stored = "";
  }
  const wanted = [stored, ...(navigator.languages || [navigator.language || ""])];
  for (const w of wanted) {
    const base = String(w).toLowerCase().split("-")[0];
    const lang = base === "no" || base === "nn" ? "nb" : base;
    if (MESSAGES[lang]) return lang;
  }
  return "en";
}

/** The language the messages are in. */
export function language() {
  return pick();
}

/** Sets the user's language ("" for the browser's). */
export function setLanguage(lang) {
  try {
    if (lang) localStorage.setItem("crm.lang", lang);
    else localStorage.removeItem("crm.lang");
  } catch (e) {
    // private mode: the browser's language stays
  }
}

/** The message key in the user's language, with {name} filled from vars. */
export function t(key, vars = {}) {
  const lang = pick();
  const text = (MESSAGES[lang] && MESSAGES[lang][key]) ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}
