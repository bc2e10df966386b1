/* Templates and their defaults (notify_template.h). */
#include "notify_template.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>

const char *const notify_languages[NOTIFY_LANGUAGES] = {"en", "de", "pl", "nb", "bg"};

static const char *const s_kinds[NOTIFY_KINDS] = {"password_link", "activation", "welcome",
                                                  "registration"};

/* [kind][language], in the order of notify_languages. */
static const struct notify_template s_defaults[NOTIFY_KINDS][NOTIFY_LANGUAGES] = {
    [NOTIFY_KIND_PASSWORD_LINK] =
        {
            {"Set your password for {{businessName}}",
             "Hello {{firstName}},\n\nto set the password for your account at {{businessName}}, "
             "open this link:\n{{link}}\n\nThe link works once and expires in {{validHours}} "
             "hours. If you did not ask for it, you can ignore this message.\n\n{{businessName}}",
             ""},
            {"Legen Sie Ihr Passwort für {{businessName}} fest",
             "Hallo {{firstName}},\n\num das Passwort für Ihr Konto bei {{businessName}} "
             "festzulegen, öffnen Sie diesen Link:\n{{link}}\n\nDer Link gilt einmal und läuft in "
             "{{validHours}} Stunden ab. Wenn Sie ihn nicht angefordert haben, können Sie diese "
             "Nachricht ignorieren.\n\n{{businessName}}",
             ""},
            {"Ustaw hasło do konta w {{businessName}}",
             "Dzień dobry {{firstName}},\n\naby ustawić hasło do konta w {{businessName}}, otwórz "
             "ten link:\n{{link}}\n\nLink działa jeden raz i wygasa za {{validHours}} godzin. "
             "Jeśli nie prosiłeś o niego, zignoruj tę wiadomość.\n\n{{businessName}}",
             ""},
            {"Velg passord for {{businessName}}",
             "Hei {{firstName}},\n\nfor å velge passord til kontoen din hos {{businessName}}, åpne "
             "denne lenken:\n{{link}}\n\nLenken virker én gang og utløper om {{validHours}} timer. "
             "Hvis du ikke ba om den, kan du se bort fra denne meldingen.\n\n{{businessName}}",
             ""},
            {"Задайте парола за {{businessName}}",
             "Здравейте, {{firstName}},\n\nза да зададете парола за профила си в {{businessName}}, "
             "отворете тази връзка:\n{{link}}\n\nВръзката важи еднократно и изтича след "
             "{{validHours}} часа. Ако не сте я поискали, не обръщайте внимание на това "
             "съобщение.\n\n{{businessName}}",
             ""},
        },
    [NOTIFY_KIND_ACTIVATION] =
        {
            {"Activate your account at {{businessName}}",
             "Hello {{firstName}},\n\nyour account at {{businessName}} is ready. Activate it and "
             "choose your password here:\n{{link}}\n\nThe link expires in {{validHours}} hours.",
             ""},
            {"Aktivieren Sie Ihr Konto bei {{businessName}}",
             "Hallo {{firstName}},\n\nIhr Konto bei {{businessName}} ist bereit. Aktivieren Sie "
             "es und wählen Sie Ihr Passwort hier:\n{{link}}\n\nDer Link läuft in {{validHours}} "
             "Stunden ab.",
             ""},
            {"Aktywuj konto w {{businessName}}",
             "Dzień dobry {{firstName}},\n\nTwoje konto w {{businessName}} jest gotowe. Aktywuj je "
             "i wybierz hasło tutaj:\n{{link}}\n\nLink wygasa za {{validHours}} godzin.",
             ""},
            {"Aktiver kontoen din hos {{businessName}}",
             "Hei {{firstName}},\n\nkontoen din hos {{businessName}} er klar. Aktiver den og velg "
             "passord her:\n{{link}}\n\nLenken utløper om {{validHours}} timer.",
             ""},
            {"Активирайте профила си в {{businessName}}",
             "Здравейте, {{firstName}},\n\nпрофилът ви в {{businessName}} е готов. Активирайте го "
             "и изберете парола тук:\n{{link}}\n\nВръзката изтича след {{validHours}} часа.",
             ""},
        },
    [NOTIFY_KIND_WELCOME] =
        {
            {"Welcome to {{businessName}}",
             "Hello {{firstName}},\n\nwelcome to {{businessName}}, and thank you for your first "
             "visit. You can set a password for your account here:\n{{link}}\n\nSee you soon,\n"
             "{{businessName}}",
             ""},
            {"Willkommen bei {{businessName}}",
             "Hallo {{firstName}},\n\nwillkommen bei {{businessName}}, und danke für Ihren ersten "
             "Besuch. Ein Passwort für Ihr Konto können Sie hier festlegen:\n{{link}}\n\nBis "
             "bald,\n{{businessName}}",
             ""},
            {"Witamy w {{businessName}}",
             "Dzień dobry {{firstName}},\n\nwitamy w {{businessName}} i dziękujemy za pierwszą "
             "wizytę. Hasło do konta możesz ustawić tutaj:\n{{link}}\n\nDo zobaczenia,\n"
             "{{businessName}}",
             ""},
            {"Velkommen til {{businessName}}",
             "Hei {{firstName}},\n\nvelkommen til {{businessName}}, og takk for ditt første "
             "besøk. Du kan velge passord til kontoen din her:\n{{link}}\n\nVi ses,\n"
             "{{businessName}}",
             ""},
            {"Добре дошли в {{businessName}}",
             "Здравейте, {{firstName}},\n\nдобре дошли в {{businessName}} и благодарим ви за "
             "първото посещение. Можете да зададете парола за профила си тук:\n{{link}}\n\nДо "
             "скоро,\n{{businessName}}",
             ""},
        },
    [NOTIFY_KIND_REGISTRATION] =
        {
            {"Confirm your registration at {{businessName}}",
             "Hello {{firstName}},\n\nthank you for registering at {{businessName}}. To confirm "
             "it, open this link and choose a password for your account:\n{{link}}\n\nThe link "
             "works once and expires in {{validHours}} hours. If you did not register, you can "
             "ignore this message: nothing is kept.\n\n{{businessName}}",
             ""},
            {"Bestätigen Sie Ihre Registrierung bei {{businessName}}",
             "Hallo {{firstName}},\n\ndanke für Ihre Registrierung bei {{businessName}}. Um sie "
             "zu bestätigen, öffnen Sie diesen Link und wählen Sie ein Passwort für Ihr "
             "Konto:\n{{link}}\n\nDer Link gilt einmal und läuft in {{validHours}} Stunden ab. "
             "Wenn Sie sich nicht registriert haben, können Sie diese Nachricht ignorieren: es "
             "wird nichts gespeichert.\n\n{{businessName}}",
             ""},
            {"Potwierdź rejestrację w {{businessName}}",
             "Dzień dobry {{firstName}},\n\ndziękujemy za rejestrację w {{businessName}}. Aby ją "
             "potwierdzić, otwórz ten link i wybierz hasło do konta:\n{{link}}\n\nLink działa "
             "jeden raz i wygasa za {{validHours}} godzin. Jeśli to nie Ty się rejestrowałeś, "
             "zignoruj tę wiadomość: nic nie zostanie zapisane.\n\n{{businessName}}",
             ""},
            {"Bekreft registreringen hos {{businessName}}",
             "Hei {{firstName}},\n\ntakk for at du registrerte deg hos {{businessName}}. For å "
             "bekrefte, åpne denne lenken og velg passord til kontoen din:\n{{link}}\n\nLenken "
             "virker én gang og utløper om {{validHours}} timer. Hvis det ikke var deg, kan du se "
             "bort fra denne meldingen: ingenting blir lagret.\n\n{{businessName}}",
             ""},
            {"Потвърдете регистрацията си в {{businessName}}",
             "Здравейте, {{firstName}},\n\nблагодарим ви за регистрацията в {{businessName}}. За "
             "да я потвърдите, отворете тази връзка и изберете парола за профила си:\n{{link}}"
             "\n\nВръзката важи еднократно и изтича след {{validHours}} часа. Ако не сте се "
             "регистрирали, не обръщайте внимание на това съобщение: нищо не се запазва."
             "\n\n{{businessName}}",
             ""},
        },
};

int notify_kind_of(const char *name)
{
    for (int i = 0; i < NOTIFY_KINDS; i++)
        if (!strcmp(name, s_kinds[i]))
            return i;
    return -1;
}

const char *notify_kind_name(enum notify_kind kind)
{
    return kind < NOTIFY_KINDS ? s_kinds[kind] : NULL;
}

bool notify_language_ok(const char *lang)
{
    for (int i = 0; i < NOTIFY_LANGUAGES; i++)
        if (!strcmp(lang, notify_languages[i]))
            return true;
    return false;
}

const char *notify_language_of(const char *tag)
{
    char primary[9];
    size_t n = 0;
    while (tag && tag[n] && tag[n] != '-' && tag[n] != '_' && n < sizeof primary - 1) {
        primary[n] = cm_ascii_tolower(tag[n]);
        n++;
    }
    primary[n] = '\0';
    if (!strcmp(primary, "no") || !strcmp(primary, "nn"))
        return "nb";
    for (int i = 0; i < NOTIFY_LANGUAGES; i++)
        if (!strcmp(primary, notify_languages[i]))
            return notify_languages[i];
    return "en";
}

/* The countries whose businesses write to their customers in one of our
 * languages other than English. */
static const struct {
    char country[3];
    const char *lang;
} s_country_languages[] = {
    {"DE", "de"}, {"AT", "de"}, {"CH", "de"}, {"LI", "de"},
    {"PL", "pl"}, {"NO", "nb"}, {"BG", "bg"},
};

const char *notify_language_for(const char *tag, const char *country)
{
    if (tag && tag[0])
        return notify_language_of(tag);
    for (size_t i = 0; country && i < sizeof s_country_languages / sizeof s_country_languages[0];
         i++) {
        const char *c = s_country_languages[i].country;
        if (cm_ascii_toupper(country[0]) == c[0] && country[0] &&
            cm_ascii_toupper(country[1]) == c[1] && !country[2])
            return s_country_languages[i].lang;
    }
    return "en";
}

const struct notify_template *notify_template_default(enum notify_kind kind, const char *lang)
{
    for (int i = 0; i < NOTIFY_LANGUAGES; i++)
        if (!strcmp(lang, notify_languages[i]))
            return &s_defaults[kind][i];
    return &s_defaults[kind][0];
}

/* ---------------------------------------------------------------------- */
/* Rendering                                                               */

enum s_var { V_FIRST, V_LAST, V_FULL, V_BUSINESS, V_EMAIL, V_LINK, V_HOURS, V_COUNT };
static const char *const s_var_names[V_COUNT] = {
    "firstName", "lastName", "fullName", "businessName", "email", "link", "validHours"};

/* The variable named by s[0..n), or -1. */
static int s_var_of(const char *s, size_t n)
{
    for (int i = 0; i < V_COUNT; i++)
        if (strlen(s_var_names[i]) == n && !strncmp(s, s_var_names[i], n))
            return i;
    return -1;
}

int notify_template_check(const char *tpl, char *why, size_t whysz)
{
    for (const char *p = tpl; (p = strstr(p, "{{"));) {
        const char *end = strstr(p + 2, "}}");
        if (!end) {
            snprintf(why, whysz, "a {{ is not closed with }}");
            return -1;
        }
        if (s_var_of(p + 2, (size_t)(end - p - 2)) < 0) {
            snprintf(why, whysz,
                     "unknown variable {{%.*s}}: firstName, lastName, fullName, businessName, "
                     "email, link or validHours",
                     (int)(end - p - 2 > 40 ? 40 : end - p - 2), p + 2);
            return -1;
        }
        p = end + 2;
    }
    return 0;
}

static int s_escaped(cm_buf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        }
        if (e ? cm_buf_append(out, e, strlen(e)) : cm_buf_append(out, s + i, 1))
            return -1;
    }
    return 0;
}

/* Literal template text: as is, or escaped with paragraphs and breaks. */
static int s_literal(cm_buf_t *out, const char *s, size_t n, bool html, bool from_text)
{
    if (!html || !from_text)
        return cm_buf_append(out, s, n);
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (s[i] == '\n' && i + 1 < n && s[i + 1] == '\n') {
            rc = cm_buf_append(out, "</p>\n<p>", 8);
            i++;
        } else if (s[i] == '\n') {
            rc = cm_buf_append(out, "<br>\n", 5);
        } else {
            rc = s_escaped(out, s + i, 1);
        }
        if (rc)
            return -1;
    }
    return 0;
}

static int s_value(cm_buf_t *out, int var, const struct notify_vars *v, bool html, bool from_text)
{
    char buf[600];
    const char *val = "";
    switch (var) {
    case V_FIRST:
        val = v->first_name;
        break;
    case V_LAST:
        val = v->last_name;
        break;
    case V_FULL:
        snprintf(buf, sizeof buf, "%s%s%s", v->first_name ? v->first_name : "",
                 v->first_name && v->first_name[0] && v->last_name && v->last_name[0] ? " " : "",
                 v->last_name ? v->last_name : "");
        val = buf;
        break;
    case V_BUSINESS:
        val = v->business_name;
        break;
    case V_EMAIL:
        val = v->email;
        break;
    case V_LINK:
        val = v->link;
        break;
    case V_HOURS:
        snprintf(buf, sizeof buf, "%d", v->valid_hours);
        val = buf;
        break;
    }
    if (!val)
        val = "";
    if (!html)
        return cm_buf_append(out, val, strlen(val));
    if (var == V_LINK && from_text)
        return cm_buf_append(out, "<a href=\"", 9) || s_escaped(out, val, strlen(val)) ||
               cm_buf_append(out, "\">", 2) || s_escaped(out, val, strlen(val)) ||
               cm_buf_append(out, "</a>", 4);
    return s_escaped(out, val, strlen(val));
}

int notify_template_render(const char *tpl, const struct notify_vars *v, bool html, bool from_text,
                           cm_buf_t *out)
{
    char why[200];
    if (notify_template_check(tpl, why, sizeof why))
        return -1;
    if (html && from_text && cm_buf_append(out, "<p>", 3))
        return -1;
    const char *p = tpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        size_t n = open ? (size_t)(open - p) : strlen(p);
        if (s_literal(out, p, n, html, from_text))
            return -1;
        if (!open)
            break;
        const char *end = strstr(open + 2, "}}");
        if (s_value(out, s_var_of(open + 2, (size_t)(end - open - 2)), v, html, from_text))
            return -1;
        p = end + 2;
    }
    if (html && from_text && cm_buf_append(out, "</p>\n", 5))
        return -1;
    return 0;
}
