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
    "vat.error": "The number could not be checked: {message}",
    "vat.name": "the name",
    "vat.address": "the address",
    "vat.and": " and ",
    "vat.unavailableRetry": "VIES cannot check the number right now ({code}). Nothing was changed. Once you save, the check is retried automatically until VIES answers, and the name and address are then filled in where they are empty.",
    "vatcheck.title": "VAT status",
    "vatcheck.UNVERIFIED": "Not verified",
    "vatcheck.PENDING": "Pending: VIES could not answer ({code}); checked again automatically",
    "vatcheck.VALID": "Valid",
    "vatcheck.INVALID": "Not valid",
    "vatcheck.UNAVAILABLE": "Could not be verified ({code})",
    "vatcheck.checkedAt": "Checked",
    "vatcheck.consultation": "Consultation number",
    "vatcheck.viesName": "Name at VIES",
    "vatcheck.viesAddress": "Address at VIES",
    "vatcheck.withheld": "withheld by the member state",
    "vatcheck.verify": "Verify again",
    "vatcheck.verifyFirst": "Verify with VIES",
    "vatcheck.verifying": "Asking VIES…",
    "vatcheck.failed": "The check could not be made: {message}",
    "timeline.vatChecked": "VAT number {vat} checked with VIES: {status}",
    "timeline.consultation": "Consultation number {number}",
    "settings.vatNumber": "Our VAT number",
    "settings.vatHint": "Your business's EU VAT number, with its country prefix. It is sent to VIES with every check, so that each check gets a consultation number as evidence.",
    "vatcheck.audit": "VAT number checked with VIES",
  },
  de: {
    "vat.download": "Daten abrufen",
    "vat.downloading": "VIES wird gefragt…",
    "vat.needNumber": "Bitte zuerst die USt-IdNr. mit Länderkennzeichen eingeben.",
    "vat.filled": "VIES: gültig. Eingetragen: {what}.",
    "vat.validNothing": "VIES: gültig. Name und Anschrift sind schon ausgefüllt; nichts wurde geändert.",
    "vat.invalid": "Laut VIES ist {vat} keine gültige USt-IdNr. Nichts wurde geändert.",
    "vat.withheld": "VIES: gültig, aber {country} gibt Name und Anschrift der Firma nicht bekannt.",
    "vat.error": "Die Nummer konnte nicht geprüft werden: {message}",
    "vat.name": "den Namen",
    "vat.address": "die Anschrift",
    "vat.and": " und ",
    "vat.unavailableRetry": "VIES kann die Nummer gerade nicht prüfen ({code}). Nichts wurde geändert. Nach dem Speichern wird die Prüfung automatisch wiederholt, bis VIES antwortet; Name und Anschrift werden dann eingetragen, wo sie leer sind.",
    "vatcheck.title": "Status der USt-IdNr.",
    "vatcheck.UNVERIFIED": "Nicht geprüft",
    "vatcheck.PENDING": "Ausstehend: VIES konnte nicht antworten ({code}); wird automatisch erneut geprüft",
    "vatcheck.VALID": "Gültig",
    "vatcheck.INVALID": "Ungültig",
    "vatcheck.UNAVAILABLE": "Konnte nicht geprüft werden ({code})",
    "vatcheck.checkedAt": "Geprüft",
    "vatcheck.consultation": "Konsultationsnummer",
    "vatcheck.viesName": "Name laut VIES",
    "vatcheck.viesAddress": "Anschrift laut VIES",
    "vatcheck.withheld": "vom Mitgliedstaat nicht bekannt gegeben",
    "vatcheck.verify": "Erneut prüfen",
    "vatcheck.verifyFirst": "Bei VIES prüfen",
    "vatcheck.verifying": "VIES wird gefragt…",
    "vatcheck.failed": "Die Prüfung war nicht möglich: {message}",
    "timeline.vatChecked": "USt-IdNr. {vat} bei VIES geprüft: {status}",
    "timeline.consultation": "Konsultationsnummer {number}",
    "settings.vatNumber": "Eigene USt-IdNr.",
    "settings.vatHint": "Die EU-USt-IdNr. Ihres Unternehmens mit Länderkennzeichen. Sie wird bei jeder Prüfung an VIES gesendet, damit jede Prüfung eine Konsultationsnummer als Nachweis erhält.",
    "vatcheck.audit": "USt-IdNr. bei VIES geprüft",
  },
  pl: {
    "vat.download": "Pobierz dane",
    "vat.downloading": "Pytam VIES…",
    "vat.needNumber": "Najpierw wpisz numer VAT z prefiksem kraju.",
    "vat.filled": "VIES: numer ważny. Uzupełniono: {what}.",
    "vat.validNothing": "VIES: numer ważny. Nazwa i adres są już wpisane; niczego nie zmieniono.",
    "vat.invalid": "Według VIES {vat} nie jest ważnym numerem VAT. Niczego nie zmieniono.",
    "vat.withheld": "VIES: numer ważny, ale {country} nie ujawnia nazwy ani adresu firmy.",
    "vat.error": "Nie udało się sprawdzić numeru: {message}",
    "vat.name": "nazwę",
    "vat.address": "adres",
    "vat.and": " i ",
    "vat.unavailableRetry": "VIES nie może teraz sprawdzić numeru ({code}). Niczego nie zmieniono. Po zapisaniu sprawdzenie będzie ponawiane automatycznie, aż VIES odpowie; wtedy puste pola nazwy i adresu zostaną uzupełnione.",
    "vatcheck.title": "Status numeru VAT",
    "vatcheck.UNVERIFIED": "Niesprawdzony",
    "vatcheck.PENDING": "Oczekuje: VIES nie odpowiedział ({code}); sprawdzenie zostanie ponowione automatycznie",
    "vatcheck.VALID": "Ważny",
    "vatcheck.INVALID": "Nieważny",
    "vatcheck.UNAVAILABLE": "Nie udało się sprawdzić ({code})",
    "vatcheck.checkedAt": "Sprawdzono",
    "vatcheck.consultation": "Numer konsultacji",
    "vatcheck.viesName": "Nazwa w VIES",
    "vatcheck.viesAddress": "Adres w VIES",
    "vatcheck.withheld": "nieujawnione przez państwo członkowskie",
    "vatcheck.verify": "Sprawdź ponownie",
    "vatcheck.verifyFirst": "Sprawdź w VIES",
    "vatcheck.verifying": "Pytam VIES…",
    "vatcheck.failed": "Nie udało się sprawdzić: {message}",
    "timeline.vatChecked": "Numer VAT {vat} sprawdzony w VIES: {status}",
    "timeline.consultation": "Numer konsultacji {number}",
    "settings.vatNumber": "Nasz numer VAT",
    "settings.vatHint": "Unijny numer VAT Twojej firmy z prefiksem kraju. Jest wysyłany do VIES przy każdym sprawdzeniu, aby każde sprawdzenie otrzymało numer konsultacji jako dowód.",
    "vatcheck.audit": "Numer VAT sprawdzony w VIES",
  },
  nb: {
    "vat.download": "Hent data",
    "vat.downloading": "Spør VIES…",
    "vat.needNumber": "Skriv først MVA-nummeret med landskode.",
    "vat.filled": "VIES: gyldig. Fylt inn: {what}.",
    "vat.validNothing": "VIES: gyldig. Navn og adresse er allerede fylt inn; ingenting ble endret.",
    "vat.invalid": "Ifølge VIES er {vat} ikke et gyldig MVA-nummer. Ingenting ble endret.",
    "vat.withheld": "VIES: gyldig, men {country} oppgir ikke firmaets navn og adresse.",
    "vat.error": "Nummeret kunne ikke sjekkes: {message}",
    "vat.name": "navnet",
    "vat.address": "adressen",
    "vat.and": " og ",
    "vat.unavailableRetry": "VIES kan ikke sjekke nummeret akkurat nå ({code}). Ingenting ble endret. Når du lagrer, sjekkes nummeret automatisk på nytt til VIES svarer; da fylles navn og adresse inn der de er tomme.",
    "vatcheck.title": "MVA-status",
    "vatcheck.UNVERIFIED": "Ikke sjekket",
    "vatcheck.PENDING": "Venter: VIES kunne ikke svare ({code}); sjekkes automatisk på nytt",
    "vatcheck.VALID": "Gyldig",
    "vatcheck.INVALID": "Ugyldig",
    "vatcheck.UNAVAILABLE": "Kunne ikke sjekkes ({code})",
    "vatcheck.checkedAt": "Sjekket",
    "vatcheck.consultation": "Konsultasjonsnummer",
    "vatcheck.viesName": "Navn i VIES",
    "vatcheck.viesAddress": "Adresse i VIES",
    "vatcheck.withheld": "holdt tilbake av medlemsstaten",
    "vatcheck.verify": "Sjekk på nytt",
    "vatcheck.verifyFirst": "Sjekk i VIES",
    "vatcheck.verifying": "Spør VIES…",
    "vatcheck.failed": "Nummeret kunne ikke sjekkes: {message}",
    "timeline.vatChecked": "MVA-nummer {vat} sjekket i VIES: {status}",
    "timeline.consultation": "Konsultasjonsnummer {number}",
    "settings.vatNumber": "Vårt MVA-nummer",
    "settings.vatHint": "Bedriftens EU-MVA-nummer med landskode. Det sendes til VIES ved hver sjekk, slik at hver sjekk får et konsultasjonsnummer som bevis.",
    "vatcheck.audit": "MVA-nummer sjekket i VIES",
  },
  bg: {
    "vat.download": "Изтегли данните",
    "vat.downloading": "Запитване към VIES…",
    "vat.needNumber": "Първо въведете ДДС номера с кода на държавата.",
    "vat.filled": "VIES: валиден. Попълнени: {what}.",
    "vat.validNothing": "VIES: валиден. Името и адресът вече са попълнени; нищо не е променено.",
    "vat.invalid": "Според VIES {vat} не е валиден ДДС номер. Нищо не е променено.",
    "vat.withheld": "VIES: валиден, но {country} не разкрива името и адреса на фирмата.",
    "vat.error": "Номерът не можа да бъде проверен: {message}",
    "vat.name": "името",
    "vat.address": "адреса",
    "vat.and": " и ",
    "vat.unavailableRetry": "VIES не може да провери номера в момента ({code}). Нищо не е променено. След запазване проверката ще се повтаря автоматично, докато VIES отговори; тогава празните име и адрес ще бъдат попълнени.",
    "vatcheck.title": "Статус на ДДС номера",
    "vatcheck.UNVERIFIED": "Непроверен",
    "vatcheck.PENDING": "Изчаква: VIES не можа да отговори ({code}); проверката ще бъде повторена автоматично",
    "vatcheck.VALID": "Валиден",
    "vatcheck.INVALID": "Невалиден",
    "vatcheck.UNAVAILABLE": "Не можа да бъде проверен ({code})",
    "vatcheck.checkedAt": "Проверен",
    "vatcheck.consultation": "Номер на консултацията",
    "vatcheck.viesName": "Име във VIES",
    "vatcheck.viesAddress": "Адрес във VIES",
    "vatcheck.withheld": "не се разкрива от държавата членка",
    "vatcheck.verify": "Провери отново",
    "vatcheck.verifyFirst": "Провери във VIES",
    "vatcheck.verifying": "Запитване към VIES…",
    "vatcheck.failed": "Номерът не можа да бъде проверен: {message}",
    "timeline.vatChecked": "ДДС номер {vat} проверен във VIES: {status}",
    "timeline.consultation": "Номер на консултацията {number}",
    "settings.vatNumber": "Нашият ДДС номер",
    "settings.vatHint": "ДДС номерът на вашата фирма в ЕС с кода на държавата. Изпраща се към VIES при всяка проверка, за да получи всяка проверка номер на консултацията като доказателство.",
    "vatcheck.audit": "ДДС номерът е проверен във VIES",
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
