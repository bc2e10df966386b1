/* The MIME builder, the SMTP outcome rules and the retry backoff of the
 * notify service: what a mail client needs to parse a message. */
#include "notify_mime.h"
#include "notify_sender.h"
#include "notify_smtp.h"
#include "cm_util.h"
#include "../unit.h"

#include <curl/curl.h>

/* Decodes standard base64 (no line breaks) into out; returns the length. */
static size_t s_unbase64(const char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n && in[i] != '='; i++) {
        const char *p = strchr(alphabet, in[i]);
        CHECK(p);
        v = v << 6 | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(v >> bits & 0xFF);
        }
    }
    out[o] = '\0';
    return o;
}

/* Decodes the RFC 2047 words of a header value ("=?UTF-8?B?...?=" separated
 * by folding) back into text. */
static void s_decode_words(const char *value, char *out)
{
    out[0] = '\0';
    const char *p = value;
    while ((p = strstr(p, "=?UTF-8?B?"))) {
        p += 10;
        const char *end = strstr(p, "?=");
        CHECK(end);
        s_unbase64(p, (size_t)(end - p), out + strlen(out));
        p = end + 2;
    }
}

/* Appends s to buf (size bytes). */
static void s_cat(char *buf, size_t size, const char *s, size_t n)
{
    size_t len = strlen(buf);
    CHECK(len + n < size);
    memcpy(buf + len, s, n);
    buf[len + n] = '\0';
}

/* Every line of s ends in CRLF and is at most max characters long. */
static void s_check_lines(const char *s, size_t max)
{
    const char *line = s;
    for (const char *p = s; *p; p++) {
        if (*p == '\n')
            CHECK(p > s && p[-1] == '\r');
        if (*p == '\r') {
            CHECK(p[1] == '\n');
            CHECK((size_t)(p - line) <= max);
            line = p + 2;
        }
    }
    CHECK(line == s + strlen(s)); /* ends with CRLF */
}

static void test_header_ascii_and_folding(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    CHECK(notify_mime_header(&b, "Subject", "Your booking on Monday") == 0);
    CHECK_STR(b.data, "Subject: Your booking on Monday\r\n");
    cm_buf_reset(&b);
    char longer[300] = "";
    for (int i = 0; i < 20; i++)
        s_cat(longer, sizeof longer, "word12345 ", 10);
    s_cat(longer, sizeof longer, "end", 3);
    CHECK(notify_mime_header(&b, "Subject", longer) == 0);
    s_check_lines(b.data, NOTIFY_MIME_LINE);
    CHECK(strstr(b.data, "\r\n word12345")); /* folded before a space */
    /* Unfolding gives the value back. */
    char unfolded[400] = "";
    for (const char *p = b.data + 9; *p; p++)
        if (*p != '\r' && *p != '\n')
            s_cat(unfolded, sizeof unfolded, p, 1);
    CHECK_STR(unfolded, longer);
    /* "=?" in plain text would read as an encoded word: it is encoded. */
    cm_buf_reset(&b);
    CHECK(notify_mime_header(&b, "Subject", "a =?x?= b") == 0);
    CHECK(!strncmp(b.data, "Subject: =?UTF-8?B?", 19));
    cm_buf_release(&b);
}

static void test_header_utf8_encoded_words(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    /* Long, with 2-, 3- and 4-byte characters: words end on whole characters. */
    const char *subject =
        "Zażółć gęślą jaźń — Добрый день, 予約 ✂ 🙂 Grüße aus Köln, "
        "Ihr Termin am Montag um 10:00";
    CHECK(notify_mime_header(&b, "Subject", subject) == 0);
    s_check_lines(b.data, NOTIFY_MIME_LINE);
    char decoded[512];
    s_decode_words(b.data, decoded);
    CHECK_STR(decoded, subject);
    /* Each word decodes to valid UTF-8 on its own (RFC 2047 6.3). */
    const char *p = b.data;
    while ((p = strstr(p, "=?UTF-8?B?"))) {
        char word[128];
        const char *end = strstr(p + 10, "?=");
        size_t n = s_unbase64(p + 10, (size_t)(end - p - 10), word);
        CHECK(cm_utf8_valid(word, n, NULL));
        CHECK(end + 2 - p <= 75); /* an encoded word is at most 75 characters */
        p = end + 2;
    }
    cm_buf_release(&b);
}

static void test_header_long_words(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    /* A word no line can hold: the value goes as encoded words instead, so
     * that every line stays within 78 (RFC 5322 2.1.1). */
    char word[120] = "Booking-";
    for (int i = 0; i < 9; i++)
        s_cat(word, sizeof word, "0123456789", 10);
    char subject[160] = "Re: ";
    s_cat(subject, sizeof subject, word, strlen(word));
    CHECK(notify_mime_header(&b, "Subject", subject) == 0);
    s_check_lines(b.data, NOTIFY_MIME_LINE);
    CHECK(!strncmp(b.data, "Subject: =?UTF-8?B?", 19));
    char decoded[256];
    s_decode_words(b.data, decoded);
    CHECK_STR(decoded, subject);
    /* A word that fits a line of its own is folded, not encoded: even the
     * first one, after the colon. */
    cm_buf_reset(&b);
    char wide[80] = "";
    for (int i = 0; i < 7; i++)
        s_cat(wide, sizeof wide, "abcdefghij", 10);
    CHECK(notify_mime_header(&b, "X-A-Rather-Long-Field-Name", wide) == 0);
    s_check_lines(b.data, NOTIFY_MIME_LINE);
    CHECK(!strncmp(b.data, "X-A-Rather-Long-Field-Name:\r\n abcdefghij", 40));
    cm_buf_release(&b);
}

static void test_qp(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    CHECK(notify_mime_qp(&b, "Grüße a=b") == 0);
    CHECK_STR(b.data, "Gr=C3=BC=C3=9Fe a=3Db");
    cm_buf_reset(&b);
    /* Line ends become CRLF; a space before one is encoded; so is a leading dot. */
    CHECK(notify_mime_qp(&b, "one \ntwo\r\nthree\r.four\t") == 0);
    CHECK_STR(b.data, "one=20\r\ntwo\r\nthree\r\n=2Efour=09");
    cm_buf_reset(&b);
    /* Long lines are broken softly under 76, never inside an =XX. */
    char longer[400] = "";
    for (int i = 0; i < 50; i++)
        s_cat(longer, sizeof longer, "ab\xc3\xa9 ", 5);
    CHECK(notify_mime_qp(&b, longer) == 0);
    CHECK(cm_buf_append(&b, "\r\n", 2) == 0);
    s_check_lines(b.data, NOTIFY_MIME_QP_LINE);
    for (const char *p = b.data; (p = strstr(p, "=\r\n")); p += 3)
        CHECK(p == b.data || p[-1] != '=');
    cm_buf_release(&b);
}

static void test_addresses(void)
{
    CHECK(notify_mime_addr_ok("anna@example.com"));
    CHECK(notify_mime_addr_ok("a.b+tag@sub.example.pl"));
    CHECK(!notify_mime_addr_ok("no-at-sign"));
    CHECK(!notify_mime_addr_ok("@example.com"));
    CHECK(!notify_mime_addr_ok("anna@"));
    CHECK(!notify_mime_addr_ok("a@b@c"));
    CHECK(!notify_mime_addr_ok("anna smith@example.com"));
    CHECK(!notify_mime_addr_ok("anna@example.com>\r\nBcc: x@y"));
    CHECK(!notify_mime_addr_ok("jürgen@example.de")); /* SMTPUTF8 is not spoken */
}

static void test_date(void)
{
    char buf[40];
    CHECK_STR(notify_mime_date(0, buf, sizeof buf), "Thu, 01 Jan 1970 00:00:00 +0000");
    CHECK_STR(notify_mime_date(1796550664000LL, buf, sizeof buf),
              "Sun, 06 Dec 2026 09:51:04 +0000");
}

static struct notify_mime s_mime(void)
{
    struct notify_mime m = {
        .from_name = "Salon Łucja",
        .from_addr = "salon@example.com",
        .to_name = "Jürgen \"Jo\" Groß",
        .to_addr = "juergen@example.de",
        .subject = "Ihr Termin",
        .text = "Hallo Jürgen,\nbis Montag.",
        .html = "<p>Hallo <b>Jürgen</b></p>",
        .message_id = "0a1b@example.com",
        .date_ms = 0,
        .boundary_seed = "0123456789abcdef0123456789abcdef",
    };
    return m;
}

static void test_build_alternative(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    struct notify_mime m = s_mime();
    const char *extra[] = {"List-Unsubscribe: <https://example.com/u/1>", NULL};
    m.extra = extra;
    m.reply_to = "reply+1@example.com";
    CHECK(notify_mime_build(&m, &b) == CM_OK);
    s_check_lines(b.data, NOTIFY_MIME_LINE);
    CHECK(strstr(b.data, "From: =?UTF-8?B?"));
    CHECK(strstr(b.data, "\r\n <salon@example.com>\r\n"));
    CHECK(strstr(b.data, "Reply-To: <reply+1@example.com>\r\n"));
    CHECK(strstr(b.data, "Subject: Ihr Termin\r\n"));
    CHECK(strstr(b.data, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
    CHECK(strstr(b.data, "Message-ID: <0a1b@example.com>\r\nMIME-Version: 1.0\r\n"));
    CHECK(strstr(b.data, "List-Unsubscribe: <https://example.com/u/1>\r\n"));
    CHECK(strstr(b.data, "Content-Type: multipart/alternative;\r\n "
                         "boundary=\"=_crm_0123456789abcdef0123456789abcdef\""));
    const char *text = strstr(
        b.data,
        "--=_crm_0123456789abcdef0123456789abcdef\r\nContent-Type: text/plain; charset=UTF-8");
    const char *html = strstr(
        b.data,
        "--=_crm_0123456789abcdef0123456789abcdef\r\nContent-Type: text/html; charset=UTF-8");
    CHECK(text && html && text < html);
    CHECK(strstr(
        text, "Hallo J=C3=BCrgen,\r\nbis Montag.\r\n--=_crm_0123456789abcdef0123456789abcdef\r\n"));
    CHECK(strstr(b.data, "\r\n--=_crm_0123456789abcdef0123456789abcdef--\r\n"));
    /* The headers end before the first blank line; the boundary never shows in a body. */
    const char *blank = strstr(b.data, "\r\n\r\n");
    CHECK(blank && blank < text);
    cm_buf_release(&b);
}

static void test_build_thread_and_long_fields(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    struct notify_mime m = s_mime();
    const char *refs[] = {"first@example.com", "answer.1@mail.example.de", NULL};
    m.in_reply_to = "answer.1@mail.example.de";
    m.references = refs;
    /* A URL longer than a line stays whole, after the colon: a fold before
     * it would leave it as long. */
    char field[300] = "List-Unsubscribe: <https://crm.example.com/v1/unsubscribe/";
    for (int i = 0; i < 6; i++)
        s_cat(field, sizeof field, "AbCdEfGhIj", 10);
    s_cat(field, sizeof field, ">", 1);
    const char *extra[] = {field, "Auto-Submitted: auto-generated", NULL};
    m.extra = extra;
    CHECK(notify_mime_build(&m, &b) == CM_OK);
    CHECK(strstr(b.data, "In-Reply-To: <answer.1@mail.example.de>\r\n"));
    CHECK(strstr(b.data, "References: <first@example.com>\r\n <answer.1@mail.example.de>\r\n"));
    CHECK(strstr(b.data, "\r\nList-Unsubscribe: <https://crm.example.com/v1/unsubscribe/AbCd"));
    CHECK(strstr(b.data, "Auto-Submitted: auto-generated\r\n"));
    /* Every header line within 78 but the URL's, which stays within 998. */
    const char *end = strstr(b.data, "\r\n\r\n");
    for (const char *line = b.data; line < end;) {
        const char *eol = strstr(line, "\r\n");
        CHECK((size_t)(eol - line) <= NOTIFY_MIME_LINE ||
              !strncmp(line, "List-Unsubscribe: <https://", 27));
        CHECK((size_t)(eol - line) <= NOTIFY_MIME_FIELD_MAX);
        line = eol + 2;
    }
    /* A Message-ID that is not one, and a field past 998: refused. */
    struct notify_mime bad = s_mime();
    bad.in_reply_to = "two words@example.com";
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    const char *bad_refs[] = {"ok@example.com", "<bracketed@example.com>", NULL};
    bad = s_mime();
    bad.references = bad_refs;
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    char *huge = cm_calloc(1, NOTIFY_MIME_FIELD_MAX + 2);
    memset(huge, 'x', NOTIFY_MIME_FIELD_MAX + 1);
    memcpy(huge, "X-Huge: ", 8);
    const char *too_long[] = {huge, NULL};
    bad = s_mime();
    bad.extra = too_long;
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    free(huge);
    cm_buf_release(&b);
}

static void test_build_text_only_and_refusals(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    struct notify_mime m = s_mime();
    m.html = "";
    m.to_name = "";
    CHECK(notify_mime_build(&m, &b) == CM_OK);
    CHECK(strstr(b.data, "To: <juergen@example.de>\r\n"));
    CHECK(!strstr(b.data, "multipart"));
    CHECK(strstr(b.data, "Content-Type: text/plain; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n\r\nHallo"));
    /* Header injection and broken input are refused, nothing written. */
    struct notify_mime bad = s_mime();
    bad.subject = "hi\r\nBcc: victim@example.com";
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    bad = s_mime();
    bad.to_name = "A\nB";
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    bad = s_mime();
    bad.text = "\xff\xfe";
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    bad = s_mime();
    bad.to_addr = "x";
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    const char *evil[] = {"X-Bad: caf\xc3\xa9", NULL};
    bad = s_mime();
    bad.extra = evil;
    CHECK(notify_mime_build(&bad, &b) == CM_ERR_INVALID);
    cm_buf_release(&b);
    /* Past the buffer's cap: refused, not cut. */
    cm_buf_init(&b, 100);
    m = s_mime();
    CHECK(notify_mime_build(&m, &b) == CM_ERR_UNAVAILABLE);
    cm_buf_release(&b);
}

static void test_outcomes_and_backoff(void)
{
    CHECK(notify_smtp_classify(CURLE_OK, 250) == NOTIFY_SENT);
    CHECK(notify_smtp_classify(CURLE_WEIRD_SERVER_REPLY, 451) == NOTIFY_RETRY);
    CHECK(notify_smtp_classify(CURLE_SEND_ERROR, 550) == NOTIFY_REFUSED);
    CHECK(notify_smtp_classify(CURLE_WEIRD_SERVER_REPLY, 554) == NOTIFY_REFUSED);
    CHECK(notify_smtp_classify(CURLE_COULDNT_CONNECT, 0) == NOTIFY_RETRY);
    CHECK(notify_smtp_classify(CURLE_OPERATION_TIMEDOUT, 0) == NOTIFY_RETRY);
    CHECK(notify_smtp_classify(CURLE_USE_SSL_FAILED, 0) == NOTIFY_RETRY);
    CHECK(notify_sender_backoff(1, 30000, 3600000) == 30000);
    CHECK(notify_sender_backoff(2, 30000, 3600000) == 60000);
    CHECK(notify_sender_backoff(5, 30000, 3600000) == 480000);
    CHECK(notify_sender_backoff(30, 30000, 3600000) == 3600000);
    CHECK(notify_sender_backoff(1000, 300, 2000) == 2000);
}

int main(void)
{
    RUN(test_header_ascii_and_folding);
    RUN(test_header_utf8_encoded_words);
    RUN(test_header_long_words);
    RUN(test_qp);
    RUN(test_addresses);
    RUN(test_date);
    RUN(test_build_alternative);
    RUN(test_build_thread_and_long_fields);
    RUN(test_build_text_only_and_refusals);
    RUN(test_outcomes_and_backoff);
    return 0;
}
