/* The labels of the export's columns in the UI's languages, one row per
 * layout column in the layout's order. Where the UI names the same field
 * (the customer card, the wallet), the label is the UI's word for it
 * (i18n.js "enum.field.*", "wallet.*"). No label is another column's name
 * or label in any language, so the import reads each back to one column. */
#include "exchange_headers.h"
#include "exchange_layout.h"

#include <assert.h>
#include <string.h>

static const char *const s_names[EXCHANGE_N_HEADERS] = {"api", "en", "de", "pl", "nb", "bg"};

int exchange_headers_parse(const char *name, enum exchange_headers *out)
{
    if (!name[0]) {
        *out = EXCHANGE_HEADERS_API;
        return 0;
    }
    for (int h = 0; h < EXCHANGE_N_HEADERS; h++) {
        if (!strcmp(name, s_names[h])) {
            *out = (enum exchange_headers)h;
            return 0;
        }
    }
    return -1;
}

const char *exchange_headers_name(enum exchange_headers h)
{
    assert(h >= 0 && h < EXCHANGE_N_HEADERS);
    return s_names[h];
}

/* en, de, pl, nb, bg; the column's API name first, held against
 * exchange_columns by exchange_header. */
static const struct {
    const char *column;
    const char *label[EXCHANGE_N_HEADERS - 1];
} s_labels[] = {
    {"id", {"Customer ID", "Kunden-ID", "ID klienta", "Kunde-ID", "ID на клиента"}},
    {"firstName", {"First name", "Vorname", "Imię", "Fornavn", "Име"}},
    {"lastName", {"Last name", "Nachname", "Nazwisko", "Etternavn", "Фамилия"}},
    {"email", {"E-mail", "E-Mail", "E-mail", "E-post", "Имейл"}},
    {"phone", {"Phone", "Telefon", "Telefon", "Telefon", "Телефон"}},
    {"gender", {"Gender", "Geschlecht", "Płeć", "Kjønn", "Пол"}},
    {"birthDate",
     {"Date of birth", "Geburtsdatum", "Data urodzenia", "Fødselsdato", "Дата на раждане"}},
    {"language", {"Language", "Sprache", "Język", "Språk", "Език"}},
    /* Not the card's "Firma"/"Фирма" (Polish, Bulgarian): a column so named
     * in another tool holds the company's name. */
    {"isCompany",
     {"Is a company", "Ist eine Firma", "Czy firma", "Er et firma", "Юридическо лице"}},
    {"companyName", {"Company name", "Firmenname", "Nazwa firmy", "Firmanavn", "Име на фирмата"}},
    {"companyVatNumber", {"VAT number", "USt-IdNr.", "Numer VAT", "MVA-nummer", "ДДС номер"}},
    {"companyAddress",
     {"Company address", "Firmenadresse", "Adres firmy", "Firmaadresse", "Адрес на фирмата"}},
    {"groups", {"Groups", "Gruppen", "Grupy", "Grupper", "Групи"}},
    {"tags", {"Tags", "Schlagwörter", "Tagi", "Etiketter", "Етикети"}},
    {"billingLine1",
     {"Billing address line 1", "Rechnungsadresse Zeile 1", "Adres do faktury (wiersz 1)",
      "Fakturaadresse linje 1", "Адрес за фактура (ред 1)"}},
    {"billingLine2",
     {"Billing address line 2", "Rechnungsadresse Zeile 2", "Adres do faktury (wiersz 2)",
      "Fakturaadresse linje 2", "Адрес за фактура (ред 2)"}},
    {"billingPostalCode",
     {"Billing postcode", "Rechnungsadresse PLZ", "Adres do faktury (kod pocztowy)",
      "Fakturaadresse postnummer", "Адрес за фактура (пощенски код)"}},
    {"billingCity",
     {"Billing city", "Rechnungsadresse Ort", "Adres do faktury (miejscowość)",
      "Fakturaadresse poststed", "Адрес за фактура (населено място)"}},
    {"billingRegion",
     {"Billing region", "Rechnungsadresse Region", "Adres do faktury (region)",
      "Fakturaadresse region", "Адрес за фактура (област)"}},
    {"billingCountry",
     {"Billing country", "Rechnungsadresse Land", "Adres do faktury (kraj)", "Fakturaadresse land",
      "Адрес за фактура (държава)"}},
    {"shippingLine1",
     {"Shipping address line 1", "Lieferadresse Zeile 1", "Adres dostawy (wiersz 1)",
      "Leveringsadresse linje 1", "Адрес за доставка (ред 1)"}},
    {"shippingLine2",
     {"Shipping address line 2", "Lieferadresse Zeile 2", "Adres dostawy (wiersz 2)",
      "Leveringsadresse linje 2", "Адрес за доставка (ред 2)"}},
    {"shippingPostalCode",
     {"Shipping postcode", "Lieferadresse PLZ", "Adres dostawy (kod pocztowy)",
      "Leveringsadresse postnummer", "Адрес за доставка (пощенски код)"}},
    {"shippingCity",
     {"Shipping city", "Lieferadresse Ort", "Adres dostawy (miejscowość)",
      "Leveringsadresse poststed", "Адрес за доставка (населено място)"}},
    {"shippingRegion",
     {"Shipping region", "Lieferadresse Region", "Adres dostawy (region)",
      "Leveringsadresse region", "Адрес за доставка (област)"}},
    {"shippingCountry",
     {"Shipping country", "Lieferadresse Land", "Adres dostawy (kraj)", "Leveringsadresse land",
      "Адрес за доставка (държава)"}},
    {"otherAddresses",
     {"Other addresses", "Weitere Adressen", "Inne adresy", "Andre adresser", "Други адреси"}},
    {"externalIds",
     {"External ids", "Externe IDs", "Identyfikatory zewnętrzne", "Eksterne ID-er",
      "Външни идентификатори"}},
    {"emailConsent",
     {"E-mail consent", "Einwilligung E-Mail", "Zgoda na e-mail", "Samtykke til e-post",
      "Съгласие за имейл"}},
    {"emailConsentChangedAt",
     {"E-mail consent changed at", "Einwilligung E-Mail geändert am",
      "Zgoda na e-mail (data zmiany)", "Samtykke til e-post (endret)",
      "Съгласие за имейл (дата на промяна)"}},
    {"emailConsentSource",
     {"E-mail consent source", "Einwilligung E-Mail (Quelle)", "Zgoda na e-mail (źródło)",
      "Samtykke til e-post (kilde)", "Съгласие за имейл (източник)"}},
    {"smsConsent",
     {"SMS consent", "Einwilligung SMS", "Zgoda na SMS", "Samtykke til SMS", "Съгласие за SMS"}},
    {"smsConsentChangedAt",
     {"SMS consent changed at", "Einwilligung SMS geändert am", "Zgoda na SMS (data zmiany)",
      "Samtykke til SMS (endret)", "Съгласие за SMS (дата на промяна)"}},
    {"smsConsentSource",
     {"SMS consent source", "Einwilligung SMS (Quelle)", "Zgoda na SMS (źródło)",
      "Samtykke til SMS (kilde)", "Съгласие за SMS (източник)"}},
    {"pushConsent",
     {"Push consent", "Einwilligung Push", "Zgoda na push", "Samtykke til push",
      "Съгласие за push"}},
    {"pushConsentChangedAt",
     {"Push consent changed at", "Einwilligung Push geändert am", "Zgoda na push (data zmiany)",
      "Samtykke til push (endret)", "Съгласие за push (дата на промяна)"}},
    {"pushConsentSource",
     {"Push consent source", "Einwilligung Push (Quelle)", "Zgoda na push (źródło)",
      "Samtykke til push (kilde)", "Съгласие за push (източник)"}},
    {"marketingConsent",
     {"Marketing consent", "Einwilligung Werbung", "Zgoda marketingowa",
      "Samtykke til markedsføring", "Съгласие за маркетинг"}},
    {"marketingConsentChangedAt",
     {"Marketing consent changed at", "Einwilligung Werbung geändert am",
      "Zgoda marketingowa (data zmiany)", "Samtykke til markedsføring (endret)",
      "Съгласие за маркетинг (дата на промяна)"}},
    {"marketingConsentSource",
     {"Marketing consent source", "Einwilligung Werbung (Quelle)", "Zgoda marketingowa (źródło)",
      "Samtykke til markedsføring (kilde)", "Съгласие за маркетинг (източник)"}},
    {"salesAgent",
     {"Sales agent", "Betreuer/in", "Opiekun klienta", "Kundeansvarlig", "Отговорен служител"}},
    {"accountStatus",
     {"Account status", "Kontostatus", "Status konta", "Kontostatus", "Статус на профила"}},
    {"source", {"Source", "Herkunft", "Źródło", "Kilde", "Източник"}},
    {"hasPhoto", {"Has a photo", "Hat ein Foto", "Ma zdjęcie", "Har bilde", "Има снимка"}},
    {"description",
     {"Private description", "Interne Beschreibung", "Opis wewnętrzny", "Intern beskrivelse",
      "Вътрешно описание"}},
    {"createdAt", {"Created at", "Angelegt am", "Data utworzenia", "Opprettet", "Създаден на"}},
    {"updatedAt", {"Updated at", "Geändert am", "Data zmiany", "Endret", "Променен на"}},
    {"balance", {"Balance", "Guthaben", "Saldo", "Saldo", "Баланс"}},
    {"balanceCurrency",
     {"Balance currency", "Währung des Guthabens", "Waluta salda", "Valuta for saldo",
      "Валута на баланса"}},
    {"points", {"Points", "Punkte", "Punkty", "Poeng", "Точки"}},
};

const char *exchange_header(size_t i, enum exchange_headers h)
{
    assert(i < exchange_n_columns);
    assert(h >= 0 && h < EXCHANGE_N_HEADERS);
    if (h == EXCHANGE_HEADERS_API || i >= sizeof s_labels / sizeof *s_labels)
        return exchange_columns[i].name;
    /* The table follows the layout's order (test_headers.c asks for every column). */
    assert(!strcmp(s_labels[i].column, exchange_columns[i].name));
    return s_labels[i].label[h - 1];
}
