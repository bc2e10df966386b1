/* SMS measure and the provider request (notify_sms.h). */
#include "notify_sms.h"
#include "cm_http.h"
#include "cm_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* The GSM 7-bit default alphabet, as Unicode code points in table order. */
static const uint32_t GSM_BASIC[128] = {
    '@',   0xA3, '$',  0xA5,  0xE8, 0xE9,  0xF9,  0xEC,  0xF2,  0xC7,  '\n',  0xD8,  0xF8,
    '\r',  0xC5, 0xE5, 0x394, '_',  0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398,
    0x39E, 0x1B, 0xC6, 0xE6,  0xDF, 0xC9,  ' ',   '!',   '"',   '#',   0xA4,  '%',   '&',
    '\'',  '(',  ')',  '*',   '+',  ',',   '-',   '.',   '/',   '0',   '1',   '2',   '3',
    '4',   '5',  '6',  '7',   '8',  '9',   ':',   ';',   '<',   '=',   '>',   '?',   0xA1,
    'A',   'B',  'C',  'D',   'E',  'F',   'G',   'H',   'I',   'J',   'K',   'L',   'M',
    'N',   'O',  'P',  'Q',   'R',  'S',   'T',   'U',   'V',   'W',   'X',   'Y',   'Z',
    0xC4,  0xD6, 0xD1, 0xDC,  0xA7, 0xBF,  'a',   'b',   'c',   'd',   'e',   'f',   'g',
    'h',   'i',  'j',  'k',   'l',  'm',   'n',   'o',   'p',   'q',   'r',   's',   't',
    'u',   'v',  'w',  'x',   'y',  'z',   0xE4,  0xF6,  0xF1,  0xFC,  0xE0,
};
/* The extension table: each is sent as ESC and a character (2 septets). */
static const uint32_t GSM_EXT[] = {0x0C, '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC};

/* Septets for cp in GSM 7-bit: 1, 2 (extension), or 0 when it has none. */
static int s_septets(uint32_t cp)
{
    if (cp == 0x1B)
        return 0; /* the escape itself is not text */
    for (size_t i = 0; i < 128; i++)
        if (GSM_BASIC[i] == cp)
            return 1;
    for (size_t i = 0; i < sizeof GSM_EXT / sizeof *GSM_EXT; i++)
        if (GSM_EXT[i] == cp)
            return 2;
    return 0;
}

/* Decodes the next code point of valid UTF-8 at *p, advancing it. */
static uint32_t s_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t cp;
    int n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if (s[0] < 0xE0) {
        cp = s[0] & 0x1F;
        n = 2;
    } else if (s[0] < 0xF0) {
        cp = s[0] & 0x0F;
        n = 3;
    } else {
        cp = s[0] & 0x07;
        n = 4;
    }
    for (int i = 1; i < n; i++)
        cp = cp << 6 | (s[i] & 0x3F);
    *p = s + n;
    return cp;
}

int notify_sms_measure(const char *text, struct notify_sms_measure *m)
{
    memset(m, 0, sizeof *m);
    if (!cm_utf8_valid(text, strlen(text), NULL))
        return -1;
    m->encoding = NOTIFY_SMS_GSM7;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        uint32_t cp = s_next(&p);
        m->characters++;
        if (!s_septets(cp))
            m->encoding = NOTIFY_SMS_UCS2;
    }
    bool gsm = m->encoding == NOTIFY_SMS_GSM7;
    /* Total units, then fill parts of the concatenated size if one is not enough. */
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        uint32_t cp = s_next(&p);
        m->units += gsm ? (size_t)s_septets(cp) : (cp > 0xFFFF ? 2 : 1);
    }
    int single = gsm ? NOTIFY_SMS_GSM_SINGLE : NOTIFY_SMS_UCS2_SINGLE;
    if (m->units == 0)
        return 0;
    if (m->units <= (size_t)single) {
        m->parts = 1;
        m->per_part = single;
        m->remaining = single - (int)m->units;
        return 0;
    }
    int part = gsm ? NOTIFY_SMS_GSM_PART : NOTIFY_SMS_UCS2_PART;
    int used = 0, parts = 1;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        uint32_t cp = s_next(&p);
        int w = gsm ? s_septets(cp) : (cp > 0xFFFF ? 2 : 1);
        if (used + w > part) {
            parts++;
            used = 0;
        }
        used += w;
    }
    m->parts = parts;
    m->per_part = part;
    m->remaining = part - used;
    return 0;
}

bool notify_sms_from_ok(const char *s)
{
    size_t n = strlen(s);
    if (s[0] == '+') {
        if (n < 2 || n > 16)
            return false;
        for (size_t i = 1; i < n; i++)
            if (!cm_ascii_digit((unsigned char)s[i]))
                return false;
        return true;
    }
    if (n < 1 || n > 11)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!cm_ascii_digit(c) && !cm_ascii_upper(c) && !cm_ascii_lower(c) && c != ' ')
            return false;
    }
    return true;
}

enum notify_outcome notify_sms_classify(long status)
{
    if (status >= 200 && status <= 299)
        return NOTIFY_SENT;
    if (status == 0 || status == 408 || status == 429 || status >= 500)
        return NOTIFY_RETRY;
    return NOTIFY_REFUSED;
}

void notify_sms_send(const struct notify_sms_cfg *cfg, const char *reference, const char *from,
                     const char *to, const char *text, struct notify_result *r)
{
    struct notify_sms_measure m;
    if (notify_sms_measure(text, &m)) {
        r->outcome = NOTIFY_REFUSED;
        snprintf(r->reason, sizeof r->reason, "the text is not UTF-8");
        return;
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "reference", reference, "to", to,
                            "from", from && from[0] ? from : cfg->from, "text", text, "encoding",
                            m.encoding == NOTIFY_SMS_GSM7 ? "GSM7" : "UCS2", "parts", m.parts);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char auth[600], key[120];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->token);
    snprintf(key, sizeof key, "Idempotency-Key: %s", reference);
    const char *headers[] = {auth, key, NULL};
    struct cm_http_opts opts = {
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .timeout_ms = cfg->timeout_ms,
        .max_body = 64 * 1024,
        .headers = headers,
    };
    struct cm_http_response resp;
    cm_err_t err = cm_http_request("POST", cfg->url, body, strlen(body), &opts, &resp);
    free(body);
    if (err) {
        r->outcome = NOTIFY_RETRY;
        snprintf(r->reason, sizeof r->reason, "%s", resp.error);
    } else {
        r->outcome = notify_sms_classify(resp.status);
        /* The provider's words, on one line and short. */
        char said[160];
        snprintf(said, sizeof said, "%s", resp.body ? resp.body : "");
        for (char *c = said; *c; c++)
            if (*c == '\r' || *c == '\n')
                *c = ' ';
        snprintf(r->reason, sizeof r->reason, "HTTP %ld%s%s", resp.status, said[0] ? ": " : "",
                 said);
    }
    cm_http_response_release(&resp);
}
