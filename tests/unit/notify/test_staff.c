/* The staff invitation's texts: one per language of the UI, each a valid
 * template that carries the link and its life. */
#include "notify_staff.h"
#include "../unit.h"

static void test_every_language_has_a_valid_text_with_the_link(void)
{
    for (int i = 0; i < NOTIFY_LANGUAGES; i++) {
        const struct notify_template *t = notify_staff_invite_text(notify_languages[i]);
        char why[200];
        CHECK(notify_template_check(t->subject, why, sizeof why) == 0);
        CHECK(notify_template_check(t->text, why, sizeof why) == 0);
        CHECK(strstr(t->text, "{{link}}") && strstr(t->text, "{{validHours}}"));
        CHECK(strstr(t->subject, "{{businessName}}"));
        for (int j = 0; j < i; j++)
            CHECK(strcmp(t->text, notify_staff_invite_text(notify_languages[j])->text) != 0);
    }
    CHECK(notify_staff_invite_text("xx") == notify_staff_invite_text("en"));
    CHECK(notify_staff_invite_text(NULL) == notify_staff_invite_text("en"));
}

static void test_it_renders(void)
{
    const struct notify_template *t = notify_staff_invite_text("pl");
    struct notify_vars v = {.first_name = "Łucja",
                            .last_name = "",
                            .email = "l@example.test",
                            .business_name = "Salon Anna",
                            .link = "https://crm.example/ui/#/invite/abc",
                            .valid_hours = 72};
    cm_buf_t out;
    cm_buf_init(&out, 1 << 16);
    CHECK(notify_template_render(t->text, &v, false, false, &out) == 0);
    CHECK(strstr(out.data, "Dzień dobry Łucja"));
    CHECK(strstr(out.data, "https://crm.example/ui/#/invite/abc"));
    CHECK(strstr(out.data, "72 godzin"));
    cm_buf_release(&out);
}

int main(void)
{
    RUN(test_every_language_has_a_valid_text_with_the_link);
    RUN(test_it_renders);
    return 0;
}
