// The message catalogue: every string of the screens written with it, in the
// languages of the businesses that use the suite (English, German, Polish,
// Norwegian, Bulgarian). t(key, vars) picks the user's language: the one set
// with setLanguage (kept in localStorage "crm.lang"), else the browser's first
// one we have, else English. {name} in a message is replaced by vars.name.

const MESSAGES = {
  en: {
    "pw.title": "Set your password",
    "pw.lead": "Choose a password for your account. You will sign in with your e-mail address and this password.",
    "pw.password": "New password",
    "pw.repeat": "The same password again",
    "pw.hint": "At least 10 characters. Not a common password, and not your e-mail address.",
    "pw.save": "Set password",
    "pw.saving": "Saving…",
    "pw.mismatch": "The two passwords are not the same.",
    "pw.TOO_SHORT": "The password is too short: at least 10 characters.",
    "pw.TOO_LONG": "The password is too long: at most 128 characters.",
    "pw.COMMON": "This password is too easy to guess. Choose another one.",
    "pw.INVALID_FORMAT": "The password contains characters that cannot be used.",
    "pw.done": "Your password is set. You can sign in now.",
    "pw.expired": "This link has expired.",
    "pw.used": "This link has already been used.",
    "pw.unknown": "This link is not valid. Ask for a new one where you got it.",
    "pw.renew": "Send me a new link",
    "pw.renewed": "If we have an e-mail address for this account, a new link is on its way. It is valid for 72 hours.",
    "pw.error": "Something went wrong: {message}. Please try again.",
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
    "pw.title": "Passwort festlegen",
    "pw.lead": "Wählen Sie ein Passwort für Ihr Konto. Sie melden sich mit Ihrer E-Mail-Adresse und diesem Passwort an.",
    "pw.password": "Neues Passwort",
    "pw.repeat": "Dasselbe Passwort noch einmal",
    "pw.hint": "Mindestens 10 Zeichen. Kein gängiges Passwort und nicht Ihre E-Mail-Adresse.",
    "pw.save": "Passwort festlegen",
    "pw.saving": "Wird gespeichert…",
    "pw.mismatch": "Die beiden Passwörter stimmen nicht überein.",
    "pw.TOO_SHORT": "Das Passwort ist zu kurz: mindestens 10 Zeichen.",
    "pw.TOO_LONG": "Das Passwort ist zu lang: höchstens 128 Zeichen.",
    "pw.COMMON": "Dieses Passwort ist zu leicht zu erraten. Bitte wählen Sie ein anderes.",
    "pw.INVALID_FORMAT": "Das Passwort enthält Zeichen, die nicht verwendet werden können.",
    "pw.done": "Ihr Passwort ist festgelegt. Sie können sich jetzt anmelden.",
    "pw.expired": "Dieser Link ist abgelaufen.",
    "pw.used": "Dieser Link wurde bereits verwendet.",
    "pw.unknown": "Dieser Link ist ungültig. Fordern Sie dort, wo Sie ihn erhalten haben, einen neuen an.",
    "pw.renew": "Neuen Link senden",
    "pw.renewed": "Wenn wir eine E-Mail-Adresse für dieses Konto haben, ist ein neuer Link unterwegs. Er gilt 72 Stunden.",
    "pw.error": "Etwas ist schiefgegangen: {message}. Bitte versuchen Sie es erneut.",
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
    "pw.title": "Ustaw hasło",
    "pw.lead": "Wybierz hasło do swojego konta. Będziesz logować się adresem e-mail i tym hasłem.",
    "pw.password": "Nowe hasło",
    "pw.repeat": "To samo hasło jeszcze raz",
    "pw.hint": "Co najmniej 10 znaków. Nie popularne hasło i nie Twój adres e-mail.",
    "pw.save": "Ustaw hasło",
    "pw.saving": "Zapisywanie…",
    "pw.mismatch": "Hasła nie są takie same.",
    "pw.TOO_SHORT": "Hasło jest za krótkie: co najmniej 10 znaków.",
    "pw.TOO_LONG": "Hasło jest za długie: najwyżej 128 znaków.",
    "pw.COMMON": "To hasło łatwo odgadnąć. Wybierz inne.",
    "pw.INVALID_FORMAT": "Hasło zawiera znaki, których nie można użyć.",
    "pw.done": "Hasło jest ustawione. Możesz się teraz zalogować.",
    "pw.expired": "Ten link wygasł.",
    "pw.used": "Ten link został już użyty.",
    "pw.unknown": "Ten link jest nieprawidłowy. Poproś o nowy tam, skąd go masz.",
    "pw.renew": "Wyślij mi nowy link",
    "pw.renewed": "Jeśli mamy adres e-mail do tego konta, nowy link jest już w drodze. Jest ważny 72 godziny.",
    "pw.error": "Coś poszło nie tak: {message}. Spróbuj ponownie.",
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
    "pw.title": "Velg passord",
    "pw.lead": "Velg et passord for kontoen din. Du logger inn med e-postadressen din og dette passordet.",
    "pw.password": "Nytt passord",
    "pw.repeat": "Det samme passordet igjen",
    "pw.hint": "Minst 10 tegn. Ikke et vanlig passord, og ikke e-postadressen din.",
    "pw.save": "Lagre passord",
    "pw.saving": "Lagrer…",
    "pw.mismatch": "De to passordene er ikke like.",
    "pw.TOO_SHORT": "Passordet er for kort: minst 10 tegn.",
    "pw.TOO_LONG": "Passordet er for langt: høyst 128 tegn.",
    "pw.COMMON": "Dette passordet er for lett å gjette. Velg et annet.",
    "pw.INVALID_FORMAT": "Passordet inneholder tegn som ikke kan brukes.",
    "pw.done": "Passordet er lagret. Du kan logge inn nå.",
    "pw.expired": "Denne lenken har utløpt.",
    "pw.used": "Denne lenken er allerede brukt.",
    "pw.unknown": "Denne lenken er ikke gyldig. Be om en ny der du fikk den.",
    "pw.renew": "Send meg en ny lenke",
    "pw.renewed": "Hvis vi har en e-postadresse for denne kontoen, er en ny lenke på vei. Den gjelder i 72 timer.",
    "pw.error": "Noe gikk galt: {message}. Prøv igjen.",
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
    "pw.title": "Задайте парола",
    "pw.lead": "Изберете парола за профила си. Ще влизате с имейл адреса си и тази парола.",
    "pw.password": "Нова парола",
    "pw.repeat": "Същата парола отново",
    "pw.hint": "Поне 10 знака. Не често срещана парола и не имейл адресът ви.",
    "pw.save": "Задай парола",
    "pw.saving": "Запазване…",
    "pw.mismatch": "Двете пароли не съвпадат.",
    "pw.TOO_SHORT": "Паролата е твърде кратка: поне 10 знака.",
    "pw.TOO_LONG": "Паролата е твърде дълга: най-много 128 знака.",
    "pw.COMMON": "Тази парола се отгатва твърде лесно. Изберете друга.",
    "pw.INVALID_FORMAT": "Паролата съдържа знаци, които не могат да се използват.",
    "pw.done": "Паролата ви е зададена. Вече можете да влезете.",
    "pw.expired": "Тази връзка е изтекла.",
    "pw.used": "Тази връзка вече е използвана.",
    "pw.unknown": "Тази връзка не е валидна. Поискайте нова там, откъдето сте я получили.",
    "pw.renew": "Изпратете ми нова връзка",
    "pw.renewed": "Ако имаме имейл адрес за този профил, нова връзка е на път. Тя е валидна 72 часа.",
    "pw.error": "Нещо се обърка: {message}. Опитайте отново.",
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

let forced = "";

/** Makes the page speak lang (one of LANGUAGES) whatever the browser says: a
 * page opened from a customer's link speaks the customer's language. */
export function useLanguage(lang) {
  forced = MESSAGES[lang] ? lang : "";
}

function pick() {
  if (forced) return forced;
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
