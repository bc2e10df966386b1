/* Message templates: the kinds of message the suite sends on its own, their
 * ready defaults in the five languages of the UI, and the renderer of
 * {{variables}}. Pure: no I/O (tenant overrides live in notify.templates). */
#ifndef NOTIFY_TEMPLATE_H
#define NOTIFY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_buf.h"

enum notify_kind {
    NOTIFY_KIND_PASSWORD_LINK = 0, // a link to set the account's password
    NOTIFY_KIND_ACTIVATION,        // the account is ready: activate it (set a password)
    NOTIFY_KIND_WELCOME,           // after a first booking or order, with a set-password link
    NOTIFY_KIND_REGISTRATION,      // confirm a self-registration by choosing a password
    NOTIFY_KINDS
};

#define NOTIFY_LANGUAGES 5
/* The languages of the defaults, "en" first (the fallback). */
extern const char *const notify_languages[NOTIFY_LANGUAGES];

/* Longest subject (characters), text and HTML (bytes) of a template. */
#define NOTIFY_TEMPLATE_SUBJECT_MAX 200
#define NOTIFY_TEMPLATE_TEXT_MAX 20000
#define NOTIFY_TEMPLATE_HTML_MAX 50000

struct notify_template {
    const char *subject;
    const char *text;
    const char *html; // "" : made from the text (paragraphs, the link as a link)
};

/* "password_link", "activation", "welcome", "registration"; -1 / NULL when unknown. */
int notify_kind_of(const char *name);
const char *notify_kind_name(enum notify_kind kind);

/* One of notify_languages for a BCP 47 tag ("de-AT" -> "de", "no" and "nn"
 * -> "nb"), "en" for any other or none. Returns a static string. */
const char *notify_language_of(const char *tag);

/* The language to write to a customer in: their tag's (notify_language_of)
 * when they have one, else the language of the business's country (ISO 3166
 * alpha-2, any case: "BG" -> "bg", "AT" -> "de"), else "en". Either may be
 * NULL. Returns a static string. */
const char *notify_language_for(const char *tag, const char *country);
/* True when lang is one of notify_languages exactly. */
bool notify_language_ok(const char *lang);

/* The built-in template of kind in lang (one of notify_languages). */
const struct notify_template *notify_template_default(enum notify_kind kind, const char *lang);

/* The values a template may use: {{firstName}}, {{lastName}}, {{fullName}},
 * {{businessName}}, {{email}}, {{link}}, {{validHours}}. */
struct notify_vars {
    const char *first_name, *last_name, *business_name, *email, *link;
    int valid_hours;
};

/* Checks a template string: every {{...}} closed and naming a variable above.
 * Returns 0, or -1 with the problem in why ("unknown variable {{x}}"). */
int notify_template_check(const char *tpl, char *why, size_t whysz);

/* Appends tpl with the variables filled in. As HTML (html true), the values
 * are escaped; made from a text (from_text true, html true), the text is
 * escaped as well, a blank line starts a paragraph, a line break is <br>
 * and {{link}} becomes a link. Returns 0, or -1 past out's cap or for a
 * template notify_template_check refuses. */
int notify_template_render(const char *tpl, const struct notify_vars *v, bool html, bool from_text,
                           cm_buf_t *out);

#endif
