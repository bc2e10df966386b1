/* Reading an imported file's rows. */
#include "exchange_rows.h"
#include "exchange_headers.h"
#include "exchange_layout.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <iconv.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <strings.h>

/* ---------------------------------------------------------------------- */
/* Encoding and delimiter                                                  */

const char *exchange_encoding_name(enum exchange_encoding e)
{
    switch (e) {
    case EXCHANGE_CP1250:
        return "windows-1250";
    case EXCHANGE_CP1252:
        return "windows-1252";
    case EXCHANGE_UTF8:
        break;
    }
    return "utf-8";
}

int exchange_encoding_parse(const char *name, enum exchange_encoding *out)
{
    if (!strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8"))
        *out = EXCHANGE_UTF8;
    else if (!strcasecmp(name, "windows-1250") || !strcasecmp(name, "cp1250"))
        *out = EXCHANGE_CP1250;
    else if (!strcasecmp(name, "windows-1252") || !strcasecmp(name, "cp1252"))
        *out = EXCHANGE_CP1252;
    else
        return -1;
    return 0;
}

/* Valid UTF-8, allowing a sequence cut by the end of the sample. */
static bool s_utf8_prefix(const unsigned char *s, size_t n)
{
    size_t bad;
    if (cm_utf8_valid((const char *)s, n, &bad))
        return true;
    return n - bad < 4 && (s[bad] & 0xC0) == 0xC0 && cm_utf8_valid((const char *)s, bad, NULL);
}

enum exchange_encoding exchange_detect_encoding(const unsigned char *sample, size_t n)
{
    if (s_utf8_prefix(sample, n))
        return EXCHANGE_UTF8;
    /* Letters of Polish, Czech and Slovak in 1250 that are signs, or letters
     * rare in the west, in 1252: Ś Ť Ź Ž ś ť ź ž (0x8C-0x9F), Ł Ą Ş Ż ł ą ş ż,
     * Ć Č Ę Ě Ď Ň Ř Ů ć č ę ě ď ň ř ů. */
    static const unsigned char cp1250[] = {0x8A, 0x8C, 0x8D, 0x8E, 0x8F, 0x9A, 0x9C, 0x9D, 0x9E,
                                           0x9F, 0xA3, 0xA5, 0xAA, 0xAF, 0xB3, 0xB9, 0xBA, 0xBF,
                                           0xC6, 0xC8, 0xCA, 0xCC, 0xCF, 0xD2, 0xD8, 0xD9, 0xE6,
                                           0xE8, 0xEA, 0xEC, 0xEF, 0xF2, 0xF8, 0xF9};
    for (size_t i = 0; i < n; i++)
        if (sample[i] >= 0x80 && memchr(cp1250, sample[i], sizeof cp1250))
            return EXCHANGE_CP1250;
    return EXCHANGE_CP1252;
}

void exchange_to_utf8(enum exchange_encoding e, const unsigned char *src, size_t n, cm_buf_t *out)
{
    if (e == EXCHANGE_UTF8) {
        if (cm_buf_append(out, src, n))
            abort(); /* out is uncapped */
        return;
    }
    /* A single-byte code page: each byte one character, at most 3 bytes of
     * UTF-8; bytes the code page leaves undefined become U+FFFD. */
    iconv_t cd = iconv_open("UTF-8", e == EXCHANGE_CP1250 ? "WINDOWS-1250" : "WINDOWS-1252");
    if (cd == (iconv_t)-1)
        abort(); /* glibc always has both */
    cm_buf_reserve(out, 3 * n + 1);
    char *in = (char *)src;
    size_t left = n;
    while (left) {
        char *o = out->data + out->len;
        size_t room = out->cap - out->len - 1, before = room;
        if (iconv(cd, &in, &left, &o, &room) == (size_t)-1 && left) {
            out->len += before - room;
            /* An undefined byte: U+FFFD, and on. */
            cm_buf_reserve(out, 3 * left + 4);
            if (cm_buf_append(out, "\xEF\xBF\xBD", 3))
                abort();
            in++;
            left--;
            continue;
        }
        out->len += before - room;
    }
    out->data[out->len] = '\0';
    iconv_close(cd);
}

char exchange_detect_delimiter(const char *sample, size_t n)
{
    size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        char c = sample[i];
        if (c == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (c == '\n' || c == '\r')
            break;
        else if (c == ',')
            comma++;
        else if (c == ';')
            semi++;
        else if (c == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

/* ---------------------------------------------------------------------- */
/* Headers                                                                 */

/* A header as compared: case-folded (any script), without spaces, '_', '-',
 * '.', ',' and parentheses ("E-Mail" and "e_mail" are "email", "USt-IdNr."
 * "ustidnr", "Adres dostawy (kraj)" "adresdostawykraj"). */
#define S_FOLD_MAX 160 /* bytes of a folded header; a longer one matches no column */
static void s_fold(const char *s, char *out, size_t size)
{
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, 0, &folded,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    const char *from = n >= 0 ? (const char *)folded : s;
    size_t o = 0;
    for (; *from && o + 1 < size; from++) {
        if (strchr(" _-\t.,()", *from))
            continue;
        out[o++] = n >= 0 ? *from : cm_ascii_tolower(*from);
    }
    /* Longer than any column's name: matches none (and no character is cut). */
    out[*from ? 0 : o] = '\0';
    free(folded);
}

/* What the businesses' own spreadsheets call the columns, in the languages of
 * the UI (folded as s_fold folds): German, Polish, Norwegian, Bulgarian, and
 * English words other than the layout's and the export's labels
 * (exchange_headers.c), which are known already. */
static const struct {
    const char *header;
    const char *column;
} s_aliases[] = {
    {"vorname", "firstName"},
    {"imię", "firstName"},
    {"imie", "firstName"},
    {"fornavn", "firstName"},
    {"име", "firstName"},
    {"givenname", "firstName"},
    {"nachname", "lastName"},
    {"familienname", "lastName"},
    {"nazwisko", "lastName"},
    {"etternavn", "lastName"},
    {"фамилия", "lastName"},
    {"surname", "lastName"},
    {"familyname", "lastName"},
    {"emailadresse", "email"},
    {"adresemail", "email"},
    {"epost", "email"},
    {"epostadresse", "email"},
    {"имейл", "email"},
    {"имейладрес", "email"},
    {"emailaddress", "email"},
    {"mail", "email"},
    {"telefon", "phone"},
    {"telefonnummer", "phone"},
    {"handy", "phone"},
    {"mobil", "phone"},
    {"mobiltelefon", "phone"},
    {"numertelefonu", "phone"},
    {"телефон", "phone"},
    {"tel", "phone"},
    {"phonenumber", "phone"},
    {"mobile", "phone"},
    {"mobilephone", "phone"},
    {"mobilenumber", "phone"},
    {"handynummer", "phone"},
    {"mobilnummer", "phone"},
    {"telefonkomórkowy", "phone"},
    {"номернателефон", "phone"},
    {"geburtsdatum", "birthDate"},
    {"dataurodzenia", "birthDate"},
    {"fødselsdato", "birthDate"},
    {"датанараждане", "birthDate"},
    {"dateofbirth", "birthDate"},
    {"birthday", "birthDate"},
    {"geschlecht", "gender"},
    {"płeć", "gender"},
    {"kjønn", "gender"},
    {"пол", "gender"},
    {"sprache", "language"},
    {"język", "language"},
    {"språk", "language"},
    {"език", "language"},
    {"firma", "companyName"},
    {"firmenname", "companyName"},
    {"nazwafirmy", "companyName"},
    {"firmanavn", "companyName"},
    {"фирма", "companyName"},
    {"company", "companyName"},
    {"ustidnr", "companyVatNumber"},
    {"umsatzsteuerid", "companyVatNumber"},
    {"nip", "companyVatNumber"},
    {"mvanummer", "companyVatNumber"},
    {"ддсномер", "companyVatNumber"},
    {"vatnumber", "companyVatNumber"},
    {"vatid", "companyVatNumber"},
    {"notiz", "description"},
    {"bemerkung", "description"},
    {"notatka", "description"},
    {"uwagi", "description"},
    {"notat", "description"},
    {"бележка", "description"},
    {"notes", "description"},
};

/* The layout column whose API name or label in any language folds to want
 * (folded), or -1. */
static int s_column_of_label(const char *want)
{
    char have[S_FOLD_MAX];
    for (int h = 0; h < EXCHANGE_N_HEADERS; h++) {
        for (size_t i = 0; i < exchange_n_columns; i++) {
            s_fold(exchange_header(i, (enum exchange_headers)h), have, sizeof have);
            if (!strcmp(want, have))
                return (int)i;
        }
    }
    return -1;
}

int exchange_column_of_header(const char *header)
{
    char want[S_FOLD_MAX];
    s_fold(header, want, sizeof want);
    if (!want[0])
        return -1;
    int col = s_column_of_label(want);
    if (col >= 0)
        return col;
    for (size_t a = 0; a < sizeof s_aliases / sizeof *s_aliases; a++) {
        if (strcmp(want, s_aliases[a].header))
            continue;
        for (size_t i = 0; i < exchange_n_columns; i++)
            if (!strcmp(exchange_columns[i].name, s_aliases[a].column))
                return (int)i;
    }
    return -1;
}

/* Columns the service keeps: an import never writes them. The balances too:
 * money and points move only through the wallet's ledger (docs/exchange.md). */
static const char *const s_ignored[] = {"id",        "source",    "hasPhoto", "accountStatus",
                                        "createdAt", "updatedAt", "balance",  "balanceCurrency",
                                        "points",    NULL};

enum exchange_use exchange_column_use(size_t i)
{
    if (i >= exchange_n_columns)
        return EXCHANGE_USE_NONE;
    for (const char *const *p = s_ignored; *p; p++)
        if (!strcmp(exchange_columns[i].name, *p))
            return EXCHANGE_USE_IGNORED;
    return EXCHANGE_USE_WRITE;
}

/* ---------------------------------------------------------------------- */
/* A row                                                                   */

static int s_bad(struct exchange_row *row, int col, const char *reason, const char *fmt, ...)
    CM_PRINTF(4, 5);
static int s_bad(struct exchange_row *row, int col, const char *reason, const char *fmt, ...)
{
    row->bad_column = col;
    snprintf(row->reason, sizeof row->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->message, sizeof row->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int s_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "y", "ja", "tak", "x", NULL};
    static const char *const no[] = {"false", "0", "no", "n", "nein", "nie", NULL};
    for (const char *const *p = yes; *p; p++)
        if (!strcasecmp(v, *p)) {
            *out = true;
            return 0;
        }
    for (const char *const *p = no; *p; p++)
        if (!strcasecmp(v, *p)) {
            *out = false;
            return 0;
        }
    return -1;
}

/* Splits a list cell on unescaped ';' into trimmed, unescaped items. */
static char **s_list(const char *v, size_t *n)
{
    char **items = NULL;
    *n = 0;
    cm_buf_t item;
    cm_buf_init(&item, 0);
    for (const char *p = v;; p++) {
        if (*p == '\\' && (p[1] == ';' || p[1] == '\\')) {
            p++;
            if (cm_buf_append(&item, p, 1))
                abort();
            continue;
        }
        if (*p && *p != ';') {
            if (cm_buf_append(&item, p, 1))
                abort();
            continue;
        }
        const char *s = item.data ? item.data : "";
        size_t len = item.len;
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len) {
            items = cm_realloc(items, (*n + 1) * sizeof *items);
            items[(*n)++] = cm_strndup(s, len);
        }
        cm_buf_reset(&item);
        if (!*p)
            break;
    }
    cm_buf_release(&item);
    return items;
}

static Crm__Address *s_addr(Crm__Address **a, Crm__AddressKind kind)
{
    if (!*a) {
        *a = (Crm__Address *)cm_pb_new(&crm__address__descriptor);
        (*a)->kind = kind;
    }
    return *a;
}

static Crm__Consent *s_consent(Crm__Customer *c, const char *kind)
{
    if (!c->preferences)
        c->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
    Crm__Consent **slot = !strcmp(kind, "email")  ? &c->preferences->email
                          : !strcmp(kind, "sms")  ? &c->preferences->sms
                          : !strcmp(kind, "push") ? &c->preferences->push
                                                  : &c->preferences->marketing;
    if (!*slot)
        *slot = (Crm__Consent *)cm_pb_new(&crm__consent__descriptor);
    return *slot;
}

static Crm__Company *s_company(Crm__Customer *c)
{
    if (!c->company)
        c->company = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
    return c->company;
}

/* The parts of a row that are gathered before they go into the customer. */
struct s_acc {
    Crm__Address *billing, *shipping; // owned until placed
    Crm__Address **others;            // owned until placed
    size_t n_others;
};

/* "billingLine1" -> the member of an address. */
static char **s_addr_field(Crm__Address *a, const char *rest)
{
    if (!strcmp(rest, "Line1"))
        return &a->line1;
    if (!strcmp(rest, "Line2"))
        return &a->line2;
    if (!strcmp(rest, "PostalCode"))
        return &a->postal_code;
    if (!strcmp(rest, "City"))
        return &a->city;
    if (!strcmp(rest, "Region"))
        return &a->region;
    if (!strcmp(rest, "Country"))
        return &a->country;
    return NULL;
}

static int s_other_addresses(const char *v, struct s_acc *acc, struct exchange_row *row, int col)
{
    json_error_t jerr;
    json_t *doc = json_loads(v, 0, &jerr);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return s_bad(row, col, "INVALID_FORMAT", "%s is not a JSON array of addresses",
                     exchange_columns[col].name);
    }
    size_t i;
    json_t *el;
    json_array_foreach(doc, i, el)
    {
        struct cm_pbjson_error perr;
        Crm__Address *a =
            (Crm__Address *)cm_pbjson_decode(&crm__address__descriptor, el, NULL, &perr);
        if (!a) {
            json_decref(doc);
            return s_bad(row, col, "INVALID_FORMAT", "%s holds an address that is not valid",
                         exchange_columns[col].name);
        }
        acc->others = cm_realloc(acc->others, (acc->n_others + 1) * sizeof *acc->others);
        acc->others[acc->n_others++] = a;
    }
    json_decref(doc);
    return 0;
}

/* Sets the value v (not empty) of layout column col on c. */
static int s_set(Crm__Customer *c, int col, const char *v, struct s_acc *acc,
                 struct exchange_row *row)
{
    const char *name = exchange_columns[col].name;
#define STR(n, member)                                                                             \
    if (!strcmp(name, n)) {                                                                        \
        cm_pb_set_str(&(member), v);                                                               \
        return 0;                                                                                  \
    }
    STR("firstName", c->first_name)
    STR("lastName", c->last_name)
    STR("email", c->email)
    STR("phone", c->phone)
    STR("birthDate", c->birth_date)
    STR("salesAgent", c->sales_agent)
    STR("description", c->description)
    STR("companyName", s_company(c)->name)
    STR("companyVatNumber", s_company(c)->vat_number)
    STR("companyAddress", s_company(c)->address)
#undef STR
    if (!strcmp(name, "language")) {
        if (!c->preferences)
            c->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
        cm_pb_set_str(&c->preferences->language, v);
        return 0;
    }
    if (!strcmp(name, "gender")) {
        static const struct {
            const char *name;
            Crm__Gender g;
        } g[] = {{"FEMALE", CRM__GENDER__GENDER_FEMALE},
                 {"MALE", CRM__GENDER__GENDER_MALE},
                 {"OTHER", CRM__GENDER__GENDER_OTHER},
                 {"UNSPECIFIED", CRM__GENDER__GENDER_UNSPECIFIED}};
        for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
            if (!strcasecmp(v, g[i].name)) {
                c->gender = g[i].g;
                return 0;
            }
        return s_bad(row, col, "INVALID_VALUE", "%s must be FEMALE, MALE or OTHER", name);
    }
    if (!strcmp(name, "isCompany")) {
        bool b;
        if (s_bool(v, &b))
            return s_bad(row, col, "INVALID_VALUE", "%s must be true or false", name);
        c->is_company = b;
        return 0;
    }
    if (!strcmp(name, "groups") || !strcmp(name, "tags")) {
        /* A file may have the column twice: the last one counts. */
        char ***items = name[0] == 'g' ? &c->groups : &c->tags;
        size_t *n = name[0] == 'g' ? &c->n_groups : &c->n_tags;
        for (size_t i = 0; i < *n; i++)
            free((*items)[i]);
        free(*items);
        *items = s_list(v, n);
        return 0;
    }
    if (!strcmp(name, "externalIds")) {
        size_t n;
        char **items = s_list(v, &n);
        int rc = 0;
        for (size_t i = 0; i < c->n_external_ids; i++)
            crm__external_id__free_unpacked(c->external_ids[i], NULL);
        free(c->external_ids);
        c->n_external_ids = 0;
        c->external_ids = cm_calloc(n ? n : 1, sizeof *c->external_ids);
        for (size_t i = 0; i < n; i++) {
            char *colon = strchr(items[i], ':');
            if (!colon || colon == items[i] || !colon[1]) {
                if (!rc)
                    rc = s_bad(row, col, "INVALID_FORMAT", "%s must be system:id; system:id", name);
            } else {
                Crm__ExternalId *e = (Crm__ExternalId *)cm_pb_new(&crm__external_id__descriptor);
                *colon = '\0';
                cm_pb_set_str(&e->system, items[i]);
                cm_pb_set_str(&e->id, colon + 1);
                c->external_ids[c->n_external_ids++] = e;
            }
            free(items[i]);
        }
        free(items);
        return rc;
    }
    if (!strncmp(name, "billing", 7) || !strncmp(name, "shipping", 8)) {
        bool billing = name[0] == 'b';
        Crm__Address *a = billing
                              ? s_addr(&acc->billing, CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING)
                              : s_addr(&acc->shipping, CRM__ADDRESS_KIND__ADDRESS_KIND_SHIPPING);
        char **f = s_addr_field(a, name + (billing ? 7 : 8));
        if (f)
            cm_pb_set_str(f, v);
        return 0;
    }
    if (!strcmp(name, "otherAddresses"))
        return s_other_addresses(v, acc, row, col);
    static const char *const kinds[] = {"email", "sms", "push", "marketing"};
    for (size_t k = 0; k < 4; k++) {
        size_t kl = strlen(kinds[k]);
        if (strncmp(name, kinds[k], kl) || strncmp(name + kl, "Consent", 7))
            continue;
        const char *rest = name + kl + 7;
        Crm__Consent *cs = s_consent(c, kinds[k]);
        if (!rest[0]) {
            bool b;
            if (s_bool(v, &b))
                return s_bad(row, col, "INVALID_VALUE", "%s must be true or false", name);
            cs->granted = b;
        } else if (!strcmp(rest, "ChangedAt")) {
            cm_pb_set_str(&cs->changed_at, v);
        } else {
            cm_pb_set_str(&cs->source, v);
        }
        return 0;
    }
    return 0; /* a column the import does not write */
}

/* The update mask path of layout column col. */
static const char *s_path(int col)
{
    const char *name = exchange_columns[col].name;
    static const struct {
        const char *column, *path;
    } paths[] = {
        {"language", "preferences.language"},
        {"companyName", "company.name"},
        {"companyVatNumber", "company.vatNumber"},
        {"companyAddress", "company.address"},
        {"otherAddresses", "addresses"},
        {"emailConsent", "preferences.email"},
        {"smsConsent", "preferences.sms"},
        {"pushConsent", "preferences.push"},
        {"marketingConsent", "preferences.marketing"},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (!strncmp(name, paths[i].column, strlen(paths[i].column)))
            return paths[i].path;
    if (!strncmp(name, "billing", 7) || !strncmp(name, "shipping", 8))
        return "addresses";
    return name; /* the JSON name is the path */
}

/* Strips the apostrophe the export puts before what looks like a formula. */
static const char *s_unguard(const char *v)
{
    if (v[0] == '\'' && v[1] && strchr("=+-@\t\r", v[1]))
        return v + 1;
    return v;
}

static void s_place_addresses(Crm__Customer *c, struct s_acc *acc)
{
    size_t n = (acc->billing ? 1 : 0) + (acc->shipping ? 1 : 0) + acc->n_others;
    if (!n)
        return;
    c->addresses = cm_calloc(n, sizeof *c->addresses);
    if (acc->billing)
        c->addresses[c->n_addresses++] = acc->billing;
    if (acc->shipping)
        c->addresses[c->n_addresses++] = acc->shipping;
    for (size_t i = 0; i < acc->n_others; i++)
        c->addresses[c->n_addresses++] = acc->others[i];
    free(acc->others);
    memset(acc, 0, sizeof *acc);
}

int exchange_row_read(char *const *fields, size_t n, const int *cols, struct exchange_row *row)
{
    memset(row, 0, sizeof *row);
    row->bad_column = -1;
    row->customer = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    struct s_acc acc = {0};
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        int col = cols[k];
        if (col < 0 || exchange_column_use((size_t)col) != EXCHANGE_USE_WRITE)
            continue;
        const char *path = s_path(col);
        bool seen = false;
        for (size_t m = 0; m < row->n_mask; m++)
            seen = seen || !strcmp(row->mask[m], path);
        if (!seen && row->n_mask < sizeof row->mask / sizeof row->mask[0])
            row->mask[row->n_mask++] = (char *)path;
        const char *v = s_unguard(fields[k]);
        if (v[0])
            rc = s_set(row->customer, col, v, &acc, row);
    }
    s_place_addresses(row->customer, &acc);
    return rc;
}

void exchange_row_release(struct exchange_row *row)
{
    if (row->customer)
        crm__customer__free_unpacked(row->customer, NULL);
    memset(row, 0, sizeof *row);
}

int exchange_field_of_path(const char *path, const int *cols, size_t n)
{
    /* The path without indices: "addresses.country". */
    char p[128];
    size_t o = 0;
    for (const char *s = path; *s && o + 1 < sizeof p; s++) {
        if (*s == '[') {
            while (*s && *s != ']')
                s++;
            if (!*s)
                break;
            continue;
        }
        p[o++] = *s;
    }
    p[o] = '\0';
    char want[128] = "";
    const char *dot = strchr(p, '.');
    if (o > 8 && !strncmp(p, "company.", 8)) {
        snprintf(want, sizeof want, "company%c%s", cm_ascii_toupper(p[8]), p + 9);
    } else if (!strcmp(p, "preferences.language")) {
        snprintf(want, sizeof want, "language");
    } else if (!strncmp(p, "preferences.", 12)) {
        const char *kind = p + 12, *rest = strchr(kind, '.');
        if (rest && rest[1])
            snprintf(want, sizeof want, "%.*sConsent%c%s", (int)(rest - kind), kind,
                     cm_ascii_toupper(rest[1]), rest + 2);
        else if (rest)
            snprintf(want, sizeof want, "%.*sConsent", (int)(rest - kind), kind);
        else
            snprintf(want, sizeof want, "%sConsent", kind);
    } else if (!strncmp(p, "addresses", 9)) {
        /* The first address column the file has, of the member named if any. */
        int any = -1;
        for (size_t k = 0; k < n; k++) {
            if (cols[k] < 0)
                continue;
            const char *name = exchange_columns[cols[k]].name;
            if (strncmp(name, "billing", 7) && strncmp(name, "shipping", 8) &&
                strcmp(name, "otherAddresses"))
                continue;
            if (any < 0)
                any = (int)k;
            if (dot && !strcasecmp(name + (name[0] == 'b' ? 7 : 8), dot + 1))
                return (int)k;
        }
        return any;
    } else {
        snprintf(want, sizeof want, "%.*s", dot ? (int)(dot - p) : (int)strlen(p), p);
    }
    for (size_t k = 0; k < n; k++)
        if (cols[k] >= 0 && !strcmp(exchange_columns[cols[k]].name, want))
            return (int)k;
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Duplicates within a file                                                */

size_t exchange_identity_keys(const Crm__Customer *c, const char *email_key, const char *phone_e164,
                              const char *target, char keys[][EXCHANGE_KEY_SIZE])
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_external_ids && n < EXCHANGE_KEYS_MAX - 4; i++)
        snprintf(keys[n++], EXCHANGE_KEY_SIZE, "x:%s:%s", c->external_ids[i]->system,
                 c->external_ids[i]->id);
    if (email_key[0]) {
        snprintf(keys[n++], EXCHANGE_KEY_SIZE, "e:%s", email_key);
    } else if (c->email[0]) {
        char *p = keys[n++];
        snprintf(p, EXCHANGE_KEY_SIZE, "e:%s", c->email);
        for (; *p; p++)
            *p = cm_ascii_tolower(*p);
    }
    if (phone_e164[0]) {
        snprintf(keys[n++], EXCHANGE_KEY_SIZE, "p:%s", phone_e164);
    } else if (c->phone[0]) {
        char *p = keys[n++];
        size_t o = 0;
        p[o++] = 'p';
        p[o++] = ':';
        for (const char *s = c->phone; *s && o + 1 < EXCHANGE_KEY_SIZE; s++)
            if (cm_ascii_digit((unsigned char)*s) || (*s == '+' && o == 2))
                p[o++] = *s;
        p[o] = '\0';
    }
    if (target[0])
        snprintf(keys[n++], EXCHANGE_KEY_SIZE, "c:%s", target);
    return n;
}

void exchange_row_key(char *const *fields, size_t n, char key[EXCHANGE_KEY_SIZE])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 16);
    for (size_t k = 0; k < n; k++)
        crypto_generichash_update(&h, (const unsigned char *)fields[k], strlen(fields[k]) + 1);
    unsigned char d[16];
    crypto_generichash_final(&h, d, sizeof d);
    memcpy(key, "r:", 2);
    sodium_bin2hex(key + 2, EXCHANGE_KEY_SIZE - 2, d, sizeof d);
}
