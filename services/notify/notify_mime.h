/* An e-mail as a mail client parses it (RFC 5322, MIME RFC 2045-2047): the
 * header fields with UTF-8 subject and display names as RFC 2047 encoded
 * words, folded under 78 characters; a text/plain part, and with HTML a
 * multipart/alternative of text and HTML; bodies in quoted-printable with
 * lines of at most 76 characters; CRLF line ends throughout. Pure: no I/O. */
#ifndef NOTIFY_MIME_H
#define NOTIFY_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_buf.h"
#include "cm_err.h"

/* Longest header line written (RFC 5322 2.1.1: SHOULD be at most 78). */
#define NOTIFY_MIME_LINE 78
/* Longest field the caller adds (extra): RFC 5322 2.1.1's hard limit. */
#define NOTIFY_MIME_FIELD_MAX 998
/* Longest quoted-printable line, its soft-break '=' included (RFC 2045 6.7). */
#define NOTIFY_MIME_QP_LINE 76

struct notify_mime {
    const char *from_name;  // UTF-8, "" for none
    const char *from_addr;  // addr-spec, ASCII
    const char *to_name;    // UTF-8, "" for none
    const char *to_addr;    // addr-spec, ASCII
    const char *reply_to;   // addr-spec or NULL/""
    const char *subject;    // UTF-8, one line
    const char *text;       // UTF-8, any line ends
    const char *html;       // UTF-8 or NULL/"": text only
    const char *message_id; // without the angle brackets: "id@domain"
    int64_t date_ms;        // the Date: field, Unix ms (UTC)
    /* A reply: the Message-ID it answers and the thread's, oldest first,
     * each without angle brackets and of notify_mime_addr_ok's form
     * (RFC 5322 3.6.4); NULL/"" and NULL for none. */
    const char *in_reply_to;
    const char *const *references; // NULL-terminated
    /* More header fields, each a whole "Name: value" of printable ASCII of
     * at most NOTIFY_MIME_FIELD_MAX characters (List-Unsubscribe, ...),
     * folded at its spaces, never encoded; NULL-terminated, NULL for none. */
    const char *const *extra;
    /* Makes the multipart boundary (hex or other token characters); the
     * boundary holds "=_", which quoted-printable never leaves in a body. */
    const char *boundary_seed;
};

/* Whether s is an address the builder takes: 3 to 254 printable ASCII
 * characters with one '@' not at either end, and no space, '<', '>', '(',
 * ')', ',', ';', ':', '"' or '\\'. */
bool notify_mime_addr_ok(const char *s);

/* Appends the whole message to out. Returns CM_OK, CM_ERR_INVALID when an
 * address or a Message-ID (its own, in_reply_to, references) fails
 * notify_mime_addr_ok, the subject or a name holds a line break or is not
 * UTF-8, or an extra field is not as described above, or
 * CM_ERR_UNAVAILABLE when out's cap is reached. */
cm_err_t notify_mime_build(const struct notify_mime *m, cm_buf_t *out) CM_MUSTCHECK;

/* Appends "Name: value" and CRLF: value as is when it is printable ASCII
 * whose words each fit on a line (folded at spaces, at most
 * NOTIFY_MIME_LINE), else as RFC 2047 "B" encoded words of whole UTF-8
 * characters, one per line. Returns 0, or -1 past the cap. */
int notify_mime_header(cm_buf_t *out, const char *name, const char *value) CM_MUSTCHECK;

/* Appends text as quoted-printable: every line break (CRLF, LF or CR)
 * becomes CRLF, lines are broken softly at NOTIFY_MIME_QP_LINE, and '=',
 * bytes outside printable ASCII and spaces before a line end are encoded.
 * Returns 0, or -1 past the cap. */
int notify_mime_qp(cm_buf_t *out, const char *text) CM_MUSTCHECK;

/* The Date: value for ms ("Sun, 06 Dec 2026 09:42:40 +0000"), into buf (at
 * least 32 bytes). Returns buf. */
char *notify_mime_date(int64_t ms, char *buf, size_t size);

#endif
