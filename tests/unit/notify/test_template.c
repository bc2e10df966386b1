/* Templates: kinds and languages, the defaults, the variable check and the
 * rendering as text and as HTML. */
#include "notify_template.h"
#include "cm_util.h"
#include "../unit.h"

static const struct notify_vars V = {
    .first_name = "Zoë",
    .last_name = "O'Brien <&>",
    .business_name = "Salon Łucja",
    .email = "zoe@example.com",
    .link = "https://crm.example/set-password#token=a&b",
    .valid_hours = 72,
};

static void test_kinds_and_languages(void)
{
    CHECK(notify_kind_of("password_link") == NOTIFY_KIND_PASSWORD_LINK);
    CHECK(notify_kind_of("welcome") == NOTIFY_KIND_WELCOME);
    CHECK(notify_kind_of("Welcome") == -1 && notify_kind_of("") == -1);
    CHECK_STR(notify_kind_name(NOTIFY_KIND_ACTIVATION), "activation");
    CHECK_STR(notify_language_of("de-AT"), "de");
    CHECK_STR(notify_language_of("PL"), "pl");
    CHECK_STR(notify_language_of("no"), "nb");
    CHECK_STR(notify_language_of("nn-NO"), "nb");
    CHECK_STR(notify_language_of("bg"), "bg");
    CHECK_STR(notify_language_of("fr"), "en");
    CHECK_STR(notify_language_of(""), "en");
    CHECK_STR(notify_language_of(NULL), "en");
    CHECK(notify_language_ok("nb") && !notify_language_ok("no") && !notify_language_ok("EN"));
    /* The customer's own language wins; without one, the business's country's. */
    CHECK_STR(notify_language_for("pl", "BG"), "pl");
    CHECK_STR(notify_language_for("fr", "BG"), "en");
    CHECK_STR(notify_language_for("", "BG"), "bg");
    CHECK_STR(notify_language_for(NULL, "at"), "de");
    CHECK_STR(notify_language_for(NULL, "CH"), "de");
    CHECK_STR(notify_language_for(NULL, "NO"), "nb");
    CHECK_STR(notify_language_for(NULL, "PL"), "pl");
    CHECK_STR(notify_language_for(NULL, "FR"), "en");
    CHECK_STR(notify_language_for(NULL, "BGR"), "en");
    CHECK_STR(notify_language_for(NULL, "B"), "en");
    CHECK_STR(notify_language_for(NULL, ""), "en");
    CHECK_STR(notify_language_for(NULL, NULL), "en");
}

/* Every default exists in every language, uses only known variables, carries
 * the link, and differs from the English one (it is translated). */
static void test_defaults(void)
{
    char why[200];
    for (int k = 0; k < NOTIFY_KINDS; k++) {
        const struct notify_template *en = notify_template_default(k, "en");
        for (int l = 0; l < NOTIFY_LANGUAGES; l++) {
            const struct notify_template *t = notify_template_default(k, notify_languages[l]);
            CHECK(t->subject[0] && t->text[0]);
            CHECK(notify_template_check(t->subject, why, sizeof why) == 0);
            CHECK(notify_template_check(t->text, why, sizeof why) == 0);
            CHECK(strstr(t->text, "{{link}}") && strstr(t->text, "{{firstName}}"));
            CHECK(cm_utf8_valid(t->text, strlen(t->text), NULL));
            if (l)
                CHECK(strcmp(t->subject, en->subject) && strcmp(t->text, en->text));
        }
    }
    /* An unknown language falls back to English. */
    CHECK(notify_template_default(NOTIFY_KIND_WELCOME, "xx") ==
          notify_template_default(NOTIFY_KIND_WELCOME, "en"));
}

static void test_check(void)
{
    char why[200];
    CHECK(notify_template_check("Hi {{firstName}} {{validHours}}", why, sizeof why) == 0);
    CHECK(notify_template_check("no variables at all", why, sizeof why) == 0);
    CHECK(notify_template_check("Hi {{first_name}}", why, sizeof why) == -1);
    CHECK(strstr(why, "unknown variable {{first_name}}"));
    CHECK(notify_template_check("Hi {{firstName", why, sizeof why) == -1);
    CHECK(strstr(why, "not closed"));
}

static void test_render_text(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    CHECK(notify_template_render("{{fullName}} at {{businessName}}: {{link}} ({{validHours}} h)",
                                 &V, false, false, &b) == 0);
    CHECK_STR(b.data, "Zoë O'Brien <&> at Salon Łucja: https://crm.example/set-password#token=a&b "
                      "(72 h)");
    cm_buf_reset(&b);
    CHECK(notify_template_render("{{nope}}", &V, false, false, &b) == -1);
    cm_buf_release(&b);
}

static void test_render_html(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    /* Made from a text: escaped, paragraphs, breaks, the link as a link. */
    CHECK(notify_template_render("Hi {{lastName}} & co,\n\nopen:\n{{link}}", &V, true, true, &b) ==
          0);
    CHECK_STR(b.data, "<p>Hi O&#39;Brien &lt;&amp;&gt; &amp; co,</p>\n<p>open:<br>\n"
                      "<a href=\"https://crm.example/set-password#token=a&amp;b\">"
                      "https://crm.example/set-password#token=a&amp;b</a></p>\n");
    cm_buf_reset(&b);
    /* A tenant's own HTML: the markup stays, the values are escaped. */
    CHECK(notify_template_render("<b>{{lastName}}</b>", &V, true, false, &b) == 0);
    CHECK_STR(b.data, "<b>O&#39;Brien &lt;&amp;&gt;</b>");
    cm_buf_release(&b);
    /* Past the cap: refused. */
    cm_buf_init(&b, 10);
    CHECK(notify_template_render("{{link}}", &V, false, false, &b) == -1);
    cm_buf_release(&b);
}

int main(void)
{
    RUN(test_kinds_and_languages);
    RUN(test_defaults);
    RUN(test_check);
    RUN(test_render_text);
    RUN(test_render_html);
    return 0;
}
