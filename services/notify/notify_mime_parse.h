/* Reading an e-mail a customer sent back (RFC 5322, MIME RFC 2045-2047):
 * the header fields that join it to a conversation (Message-ID, In-Reply-To,
 * References, the recipients), the subject and sender with RFC 2047 words
 * decoded, and its text: the first text/plain part, else the first text/html
 * part turned into text, every charset converted to UTF-8 (iconv), and the
 * quoted history dropped where it is clearly marked. Attachments are named,
 * not kept. Every size, count and depth has a limit below; past one, or on a
 * malformed structure or encoding, parsing fails with a reason for a person.
 * Pure: no I/O. */
#ifndef NOTIFY_MIME_PARSE_H
#define NOTIFY_MIME_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_err.h"

/* The limits (docs/notify.md, "Replies"). */
#define NOTIFY_MIME_PARSE_MAX_BYTES (1024 * 1024) // the whole raw message
#define NOTIFY_MIME_PARSE_MAX_HEADER 65536        // one header section
#define NOTIFY_MIME_PARSE_MAX_FIELDS 300          // fields in one header section
#define NOTIFY_MIME_PARSE_MAX_DEPTH 8             // nested multiparts
#define NOTIFY_MIME_PARSE_MAX_PARTS 100           // body parts in all
#define NOTIFY_MIME_PARSE_MAX_REFS 100            // Message-IDs kept from References
#define NOTIFY_MIME_PARSE_MAX_TEXT 100000         // bytes of text kept (cut at a character)
#define NOTIFY_MIME_PARSE_MAX_ID 250              // bytes of one Message-ID

struct notify_mail {
    char *message_id;  // without <>; "" when it has none. Owned, like every field.
    char *in_reply_to; // the first Message-ID of In-Reply-To, without <>; ""
    char **refs;       // References, then In-Reply-To's, each without <>
    size_t n_refs;
    char **to; // addresses of To, Cc, Delivered-To and X-Original-To, lower case
    size_t n_to;
    char *from_addr;    // the From address; "" when it has none
    char *from_name;    // its display name, UTF-8; ""
    char *subject;      // UTF-8, one line
    char *text;         // UTF-8: the reply without the quoted history
    bool from_html;     // text was made from an HTML part (there was no text/plain)
    bool truncated;     // text was longer than NOTIFY_MIME_PARSE_MAX_TEXT and was cut
    char **attachments; // file names (or the part's type) of the parts not read as text
    size_t n_attachments;
};

/* Parses raw[0..len). Returns CM_OK with *out filled (free it with
 * notify_mime_parse_free), CM_ERR_UNAVAILABLE when len is over
 * NOTIFY_MIME_PARSE_MAX_BYTES, or CM_ERR_INVALID on anything malformed or
 * over a limit; why (size whysz) then says what, and *out is left empty. */
cm_err_t notify_mime_parse(const char *raw, size_t len, struct notify_mail *out, char *why,
                           size_t whysz) CM_MUSTCHECK;

/* Frees what notify_mime_parse filled; safe on an empty or freed one. */
void notify_mime_parse_free(struct notify_mail *m);

/* The text of an HTML document (UTF-8): tags dropped, block ends as line
 * breaks, <blockquote> lines marked "> ", script and style left out,
 * character references decoded. Dynamic, the caller frees it. */
char *notify_mime_parse_html_text(const char *html, size_t len);

/* text without its quoted history, in place: from a line
 * "-----Original Message-----" (or Outlook's underscore rule) on, or a
 * closing run of lines opened with '>' (blank lines between them allowed),
 * together with the attribution line ending in ':' just above it. A quote in
 * the middle of an answer stays. Trailing blank lines go too. */
void notify_mime_parse_strip_quotes(char *text);

/* Cuts UTF-8 s to at most max bytes, at a character boundary, in place;
 * true when it cut. */
bool notify_mime_parse_cut(char *s, size_t max);

#endif
