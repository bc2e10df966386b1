/* Reading replies: what mail clients send (text, HTML only, multipart with
 * attachments, other charsets, encoded words), the quoted history dropped,
 * and hostile messages refused with a reason. */
#include "notify_mime_parse.h"
#include "cm_buf.h"
#include "../unit.h"

static struct notify_mail s_ok(const char *raw)
{
    struct notify_mail m;
    char why[200] = "";
    cm_err_t err = notify_mime_parse(raw, strlen(raw), &m, why, sizeof why);
    if (err)
        fprintf(stderr, "refused: %s\n", why);
    CHECK(err == CM_OK);
    return m;
}

/* Refused, with a reason holding want. */
static void s_refused(const char *raw, size_t len, cm_err_t code, const char *want)
{
    struct notify_mail m;
    char why[200] = "";
    cm_err_t err = notify_mime_parse(raw, len, &m, why, sizeof why);
    if (err != code || !strstr(why, want))
        fprintf(stderr, "got %d \"%s\", expected \"%s\"\n", err, why, want);
    CHECK(err == code && strstr(why, want));
    CHECK(m.text == NULL && m.subject == NULL && m.n_refs == 0);
}

static void test_plain_reply(void)
{
    struct notify_mail m =
        s_ok("From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.DE>\r\n"
             "To: \"Salon Anna\" <reply+abc123@replies.example.com>, other@example.com\r\n"
             "Subject: Re: =?UTF-8?B?SWhyIFRlcm1pbiBhbSBNb250YWc=?=\r\n"
             "Message-ID: <CAF1234@mail.example.de>\r\n"
             "In-Reply-To: <5f3e@example.com>\r\n"
             "References: <older@example.com>\r\n <5f3e@example.com>\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n"
             "\r\n"
             "Ja, Montag passt. Gr=C3=BC=C3=9Fe\r\n"
             "J=C3=BCrgen\r\n"
             "\r\n"
             "Am 06.12.2026 um 10:00 schrieb Salon Anna <crm@example.com>:\r\n"
             "> Hallo J=C3=BCrgen,\r\n"
             ">\r\n"
             "> Ihr Termin am Montag\r\n");
    CHECK_STR(m.from_addr, "juergen@example.de");
    CHECK_STR(m.from_name, "Jürgen Müller");
    CHECK_STR(m.subject, "Re: Ihr Termin am Montag");
    CHECK_STR(m.message_id, "CAF1234@mail.example.de");
    CHECK_STR(m.in_reply_to, "5f3e@example.com");
    CHECK(m.n_refs == 2);
    CHECK_STR(m.refs[0], "older@example.com");
    CHECK_STR(m.refs[1], "5f3e@example.com");
    CHECK(m.n_to == 2);
    CHECK_STR(m.to[0], "reply+abc123@replies.example.com");
    CHECK_STR(m.to[1], "other@example.com");
    CHECK_STR(m.text, "Ja, Montag passt. Grüße\r\nJürgen");
    CHECK(!m.from_html && !m.truncated && m.n_attachments == 0);
    notify_mime_parse_free(&m);
    notify_mime_parse_free(&m); /* safe twice */
}

static void test_html_only_in_latin1(void)
{
    struct notify_mail m =
        s_ok("From: kunde@example.de\n"
             "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= =?ISO-8859-1?Q?_aus_K=F6ln?=\n"
             "Content-Type: text/html; charset=\"iso-8859-1\"\n"
             "Content-Transfer-Encoding: base64\n"
             "\n"
             /* <html><head><style>p{}</style></head><body><p>Sch&ouml;n &amp; gut:
              * K\xf6ln</p><div>Zeile&nbsp;2</div><blockquote>alt</blockquote></body></html> */
             "PGh0bWw+PGhlYWQ+PHN0eWxlPnB7fTwvc3R5bGU+PC9oZWFkPjxib2R5PjxwPlNjaCYjMjQ2O24g\n"
             "JmFtcDsgZ3V0OiBL9mxuPC9wPjxkaXY+WmVpbGUmbmJzcDsyPC9kaXY+PGJsb2NrcXVvdGU+YWx0\n"
             "PC9ibG9ja3F1b3RlPjwvYm9keT48L2h0bWw+\n");
    CHECK_STR(m.subject, "Grüße aus Köln");
    CHECK(m.from_html);
    CHECK_STR(m.text, "Schön & gut: Köln\n\nZeile\xc2\xa0"
                      "2");
    notify_mime_parse_free(&m);
}

static void test_multipart_with_attachment(void)
{
    struct notify_mail m =
        s_ok("From: Ola <ola@example.no>\r\n"
             "Subject: Svar\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
             "\r\n"
             "preamble\r\n"
             "--outer\r\n"
             "Content-Type: multipart/alternative; boundary=inner\r\n"
             "\r\n"
             "--inner\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n"
             "\r\n"
             "Takk, det passer fint.\r\n"
             "--inner\r\n"
             "Content-Type: text/html; charset=UTF-8\r\n"
             "\r\n"
             "<p>Takk, <b>det</b> passer fint.</p>\r\n"
             "--inner--\r\n"
             "--outer\r\n"
             "Content-Type: application/pdf; name=\"ignored.pdf\"\r\n"
             "Content-Disposition: attachment; filename*=utf-8''kvittering%20%C3%A5r.pdf\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "\r\n"
             "JVBERi0xLjQK\r\n"
             "--outer--\r\n"
             "epilogue\r\n");
    CHECK_STR(m.text, "Takk, det passer fint.");
    CHECK(!m.from_html);
    CHECK(m.n_attachments == 1);
    CHECK_STR(m.attachments[0], "kvittering år.pdf");
    notify_mime_parse_free(&m);
}

static void test_html_text(void)
{
    const char *html = "<div dir=\"ltr\">Thanks!<br>See you<!-- x --> &lt;soon&gt; &#x1F600;</div>"
                       "<div class=\"gmail_quote\"><div>On Mon, Anna wrote:<br></div>"
                       "<blockquote>Hello<br>there<blockquote>deeper</blockquote></blockquote>"
                       "</div><script>alert(1)</script>";
    char *t = notify_mime_parse_html_text(html, strlen(html));
    CHECK_STR(t, "Thanks!\nSee you <soon> \xf0\x9f\x98\x80\n\nOn Mon, Anna wrote:\n\n> Hello\n> "
                 "there\n> > deeper\n>\n");
    notify_mime_parse_strip_quotes(t);
    CHECK_STR(t, "Thanks!\nSee you <soon> \xf0\x9f\x98\x80");
    free(t);
}

static void test_outlook_html(void)
{
    const char *html = "<html><body><div>Passt, danke.</div><div id=\"appendonsend\"></div>"
                       "<hr><div id=\"divRplyFwdMsg\"><b>From:</b> Salon<br><b>Sent:</b> "
                       "Monday</div><div>Hallo Jürgen, passt Montag?</div></body></html>";
    char *t = notify_mime_parse_html_text(html, strlen(html));
    notify_mime_parse_strip_quotes(t);
    CHECK_STR(t, "Passt, danke.");
    free(t);
    /* Only as an id: the same word in text or another attribute stays. */
    const char *other = "<p title=\"divRplyFwdMsg\">a</p><p>divRplyFwdMsg b</p>";
    t = notify_mime_parse_html_text(other, strlen(other));
    CHECK_STR(t, "a\n\ndivRplyFwdMsg b\n");
    free(t);
}

static void test_strip_quotes(void)
{
    char a[] = "Yes.\n\nOn Mon, 7 Dec 2026, Salon <x@y> wrote:\n> hi\n>\n> more\n\n";
    notify_mime_parse_strip_quotes(a);
    CHECK_STR(a, "Yes.");
    /* An answer between quotes keeps them all. */
    char b[] = "> question 1\nanswer 1\n> question 2\nanswer 2\n";
    notify_mime_parse_strip_quotes(b);
    CHECK_STR(b, "> question 1\nanswer 1\n> question 2\nanswer 2");
    char c[] = "Dziękuję\r\n\r\n-----Oryginalna wiadomość-----\r\nOd: Salon\r\nTemat: x\r\n";
    notify_mime_parse_strip_quotes(c);
    CHECK_STR(c, "Dziękuję");
    char d[] = "Ok\n________________________________\nFrom: Salon\n";
    notify_mime_parse_strip_quotes(d);
    CHECK_STR(d, "Ok");
    /* A line ending in ':' that is not above the quote stays. */
    char e[] = "My list:\n- one\n\n> quoted\n";
    notify_mime_parse_strip_quotes(e);
    CHECK_STR(e, "My list:\n- one");
    char f[] = "> all quoted\n";
    notify_mime_parse_strip_quotes(f);
    CHECK_STR(f, "");
}

static void test_charsets(void)
{
    struct notify_mail m = s_ok("From: a@b.bg\nSubject: =?windows-1251?B?0fru4fnl7ejl?=\n"
                                "Content-Type: text/plain; charset=windows-1251\n"
                                "Content-Transfer-Encoding: 8bit\n\n"
                                "\xc1\xeb\xe0\xe3\xee\xe4\xe0\xf0\xff\n");
    CHECK_STR(m.subject, "Съобщение");
    CHECK_STR(m.text, "Благодаря");
    notify_mime_parse_free(&m);
    /* No Content-Type: text/plain in US-ASCII, UTF-8 taken (RFC 6532). */
    m = s_ok("From: a@b\nSubject: Zażółć\n\nGęślą jaźń\n");
    CHECK_STR(m.subject, "Zażółć");
    CHECK_STR(m.text, "Gęślą jaźń");
    notify_mime_parse_free(&m);
    /* An encoded word that does not decode is kept as written. */
    m = s_ok("From: a@b\nSubject: =?x-unknown?Q?abc?= and =?utf-8?Q?ok?=\n\nx\n");
    CHECK_STR(m.subject, "=?x-unknown?Q?abc?= and ok");
    notify_mime_parse_free(&m);
}

static void test_refused(void)
{
    const char *bad_charset = "From: a@b\nContent-Type: text/plain; charset=x-nope\n\nhi\n";
    s_refused(bad_charset, strlen(bad_charset), CM_ERR_INVALID, "unknown charset \"x-nope\"");
    const char *bad_utf8 = "From: a@b\nContent-Type: text/plain; charset=utf-8\n\n\xff\xfe\n";
    s_refused(bad_utf8, strlen(bad_utf8), CM_ERR_INVALID, "not valid utf-8");
    const char *bad_b64 = "From: a@b\nContent-Transfer-Encoding: base64\n\n!!!!\n";
    s_refused(bad_b64, strlen(bad_b64), CM_ERR_INVALID, "base64");
    const char *bad_cte = "From: a@b\nContent-Transfer-Encoding: x-uuencode\n\nx\n";
    s_refused(bad_cte, strlen(bad_cte), CM_ERR_INVALID, "Content-Transfer-Encoding");
    const char *bad_subject = "From: a@b\nSubject: \xc3\x28\n\nx\n";
    s_refused(bad_subject, strlen(bad_subject), CM_ERR_INVALID, "Subject: not UTF-8");
    const char *no_boundary = "From: a@b\nContent-Type: multipart/mixed\n\nx\n";
    s_refused(no_boundary, strlen(no_boundary), CM_ERR_INVALID, "without a boundary");
    const char nul[] = "From: a@b\n\nhi\0there\n";
    s_refused(nul, sizeof nul - 1, CM_ERR_INVALID, "not valid");
    s_refused("just text", 9, CM_ERR_INVALID, "not an e-mail");

    /* Too big as a whole, before anything is read. */
    static char big[NOTIFY_MIME_PARSE_MAX_BYTES + 2];
    memset(big, 'a', sizeof big);
    s_refused(big, sizeof big, CM_ERR_UNAVAILABLE, "larger than 1048576 bytes");

    cm_buf_t b;
    cm_buf_init(&b, 0);
    /* A header section past its limit. */
    CHECK(cm_buf_append(&b, "From: a@b\n", 10) == 0);
    CHECK(cm_buf_append(&b, "X-Pad: x\n", 9) == 0);
    for (int i = 0; i < 2000; i++)
        CHECK(cm_buf_printf(&b, " %060d\n", i) == 0);
    CHECK(cm_buf_append(&b, "\nx\n", 3) == 0);
    s_refused(b.data, b.len, CM_ERR_INVALID, "header section is larger than 65536");
    /* Too many fields. */
    cm_buf_reset(&b);
    for (int i = 0; i < NOTIFY_MIME_PARSE_MAX_FIELDS + 1; i++)
        CHECK(cm_buf_printf(&b, "X-%d: y\n", i) == 0);
    s_refused(b.data, b.len, CM_ERR_INVALID, "more than 300 fields");
    /* Nested deeper than the limit. */
    cm_buf_reset(&b);
    CHECK(cm_buf_append(&b, "From: a@b\n", 10) == 0);
    for (int i = 0; i < NOTIFY_MIME_PARSE_MAX_DEPTH + 2; i++)
        CHECK(cm_buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i) ==
              0);
    CHECK(cm_buf_append(&b, "\nx\n", 3) == 0);
    s_refused(b.data, b.len, CM_ERR_INVALID, "nested deeper than 8");
    /* Too many parts (a wide bomb). */
    cm_buf_reset(&b);
    CHECK(cm_buf_append(&b, "From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n", 54) == 0);
    for (int i = 0; i < NOTIFY_MIME_PARSE_MAX_PARTS + 1; i++)
        CHECK(cm_buf_append(&b, "--z\n\nx\n", 7) == 0);
    s_refused(b.data, b.len, CM_ERR_INVALID, "more than 100 body parts");
    cm_buf_release(&b);
}

static void test_limits_kept(void)
{
    /* A long text is cut at a character, and says so. */
    cm_buf_t b;
    cm_buf_init(&b, 0);
    CHECK(cm_buf_append(&b, "From: a@b\n\n", 11) == 0);
    for (int i = 0; i < NOTIFY_MIME_PARSE_MAX_TEXT / 2 + 10; i++)
        CHECK(cm_buf_append(&b, "é", 2) == 0);
    CHECK(cm_buf_append(&b, "x\n", 2) == 0);
    struct notify_mail m = s_ok(b.data);
    CHECK(m.truncated && strlen(m.text) <= NOTIFY_MIME_PARSE_MAX_TEXT);
    CHECK(strlen(m.text) % 2 == 0);
    notify_mime_parse_free(&m);
    /* Only the last References are kept. */
    cm_buf_reset(&b);
    CHECK(cm_buf_append(&b, "From: a@b\nReferences:", 21) == 0);
    for (int i = 0; i < 150; i++)
        CHECK(cm_buf_printf(&b, " <r%d@x>\n", i) == 0);
    CHECK(cm_buf_append(&b, "\nx\n", 3) == 0);
    m = s_ok(b.data);
    CHECK(m.n_refs == NOTIFY_MIME_PARSE_MAX_REFS);
    CHECK_STR(m.refs[m.n_refs - 1], "r149@x");
    CHECK_STR(m.refs[0], "r50@x");
    notify_mime_parse_free(&m);
    cm_buf_release(&b);
}

static void test_cut(void)
{
    char a[] = "abcdef";
    CHECK(!notify_mime_parse_cut(a, 6) && !strcmp(a, "abcdef"));
    CHECK(notify_mime_parse_cut(a, 4) && !strcmp(a, "abcd"));
    char b[] = "ab\xc3\xa9\xe2\x82\xac"; /* ab é € */
    CHECK(notify_mime_parse_cut(b, 3) && !strcmp(b, "ab"));
    char c[] = "ab\xc3\xa9\xe2\x82\xac";
    CHECK(notify_mime_parse_cut(c, 4) && !strcmp(c, "ab\xc3\xa9"));
    char d[] = "ab\xc3\xa9\xe2\x82\xac";
    CHECK(notify_mime_parse_cut(d, 6) && !strcmp(d, "ab\xc3\xa9"));
    char e[] = "\xf0\x9f\x98\x80";
    CHECK(notify_mime_parse_cut(e, 2) && !strcmp(e, ""));
}

int main(void)
{
    RUN(test_cut);
    RUN(test_plain_reply);
    RUN(test_html_only_in_latin1);
    RUN(test_multipart_with_attachment);
    RUN(test_html_text);
    RUN(test_outlook_html);
    RUN(test_strip_quotes);
    RUN(test_charsets);
    RUN(test_refused);
    RUN(test_limits_kept);
    return 0;
}
