/* The staff invitation's and password reset's texts: one per language of
 * the UI, each a valid template that carries the link and its life; the page
 * each kind of message links to. */
#include "notify_staff.h"
#include "notify_sender.h"
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

static void test_every_language_has_a_reset_text_unlike_the_invitation(void)
{
    for (int i = 0; i < NOTIFY_LANGUAGES; i++) {
        const char *lang = notify_languages[i];
        const struct notify_template *t = notify_staff_reset_text(lang);
        char why[200];
        CHECK(notify_template_check(t->subject, why, sizeof why) == 0);
        CHECK(notify_template_check(t->text, why, sizeof why) == 0);
        CHECK(strstr(t->text, "{{link}}") && strstr(t->text, "{{validHours}}"));
        CHECK(strstr(t->subject, "{{businessName}}"));
        CHECK(strcmp(t->text, notify_staff_invite_text(lang)->text) != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(t->text, notify_staff_reset_text(notify_languages[j])->text) != 0);
    }
    CHECK(notify_staff_reset_text("xx") == notify_staff_reset_text("en"));
}

static void test_each_kind_links_to_its_page(void)
{
    CHECK(!strcmp(notify_sender_link_path(NOTIFY_STAFF_INVITE_KIND), "/ui/#/invite/"));
    CHECK(!strcmp(notify_sender_link_path(NOTIFY_STAFF_RESET_KIND), "/ui/#/reset/"));
    CHECK(!strcmp(notify_sender_link_path("activation"), NOTIFY_LINK_PATH));
    CHECK(notify_sender_staff_kind(NOTIFY_STAFF_INVITE_KIND));
    CHECK(notify_sender_staff_kind(NOTIFY_STAFF_RESET_KIND));
    CHECK(!notify_sender_staff_kind("newsletter"));
}

int main(void)
{
    RUN(test_every_language_has_a_valid_text_with_the_link);
    RUN(test_it_renders);
    RUN(test_every_language_has_a_reset_text_unlike_the_invitation);
    RUN(test_each_kind_links_to_its_page);
    return 0;
}
