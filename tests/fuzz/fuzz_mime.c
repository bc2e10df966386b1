/* Fuzzes the reader of replies (notify_mime_parse): any bytes either parse
 * or are refused with a reason, and what parses keeps its promises: every
 * text is valid UTF-8 without NUL bytes, within its limit, the subject on one
 * line, at most the documented number of References, recipients and
 * attachments. The HTML-to-text and quote stripping run on the raw bytes
 * too: they end in valid UTF-8 when given valid UTF-8, and stripping only
 * ever cuts the end off. */
#include "fuzz.h"
#include "notify_mime_parse.h"
#include "cm_util.h"

static void s_text_ok(const char *s)
{
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(cm_utf8_valid(s, strlen(s), NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct notify_mail m;
    char why[200] = "";
    cm_err_t err = notify_mime_parse((const char *)data, size, &m, why, sizeof why);
    if (err) {
        FUZZ_CHECK(err == CM_ERR_INVALID || err == CM_ERR_UNAVAILABLE);
        FUZZ_CHECK(why[0] != '\0');
        FUZZ_CHECK(m.text == NULL && m.subject == NULL && m.refs == NULL);
    } else {
        s_text_ok(m.text);
        s_text_ok(m.subject);
        s_text_ok(m.from_name);
        s_text_ok(m.message_id);
        FUZZ_CHECK(strlen(m.text) <= NOTIFY_MIME_PARSE_MAX_TEXT);
        FUZZ_CHECK(!strpbrk(m.subject, "\r\n"));
        FUZZ_CHECK(m.n_refs <= NOTIFY_MIME_PARSE_MAX_REFS + 1);
        FUZZ_CHECK(m.n_attachments <= NOTIFY_MIME_PARSE_MAX_PARTS);
        for (size_t i = 0; i < m.n_refs; i++)
            FUZZ_CHECK(strlen(m.refs[i]) <= NOTIFY_MIME_PARSE_MAX_ID);
        for (size_t i = 0; i < m.n_to; i++)
            s_text_ok(m.to[i]);
        s_text_ok(m.from_addr);
        s_text_ok(m.in_reply_to);
        for (size_t i = 0; i < m.n_attachments; i++)
            s_text_ok(m.attachments[i]);
        notify_mime_parse_free(&m);
    }
    if (cm_utf8_valid((const char *)data, size, NULL) && !memchr(data, '\0', size)) {
        char *t = notify_mime_parse_html_text((const char *)data, size);
        s_text_ok(t);
        char *before = fuzz_strndup((const uint8_t *)t, strlen(t));
        notify_mime_parse_strip_quotes(t);
        s_text_ok(t);
        FUZZ_CHECK(!strncmp(before, t, strlen(t)));
        free(before);
        free(t);
    }
    return 0;
}
