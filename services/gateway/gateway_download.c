/* A customer's file as an attachment: its media type and Content-Disposition. */
#include "gateway_download.h"
#include "cm_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Types a browser runs, or renders as a document that can hold script. */
static const char *const s_active[] = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "text/ecmascript",
    "application/ecmascript",
    "text/xsl",
    "application/x-shockwave-flash",
    "multipart/x-mixed-replace",
};

const char *gateway_download_type(const char *given)
{
    static const char *const octet = "application/octet-stream";
    if (!given || !*given || strlen(given) > 127)
        return octet;
    for (const char *p = given; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            return octet;
    size_t base = strcspn(given, "; \t");
    if (!memchr(given, '/', base))
        return octet;
    for (size_t i = 0; i < sizeof s_active / sizeof s_active[0]; i++)
        if (strlen(s_active[i]) == base && !strncasecmp(given, s_active[i], base))
            return octet;
    /* image/svg+xml and every other "+xml" document. */
    if (base >= 4 && !strncasecmp(given + base - 4, "+xml", 4))
        return octet;
    return given;
}

/* RFC 8187 attr-char: ALPHA / DIGIT / "!" "#" "$" "&" "+" "-" "." "^" "_" "`" "|" "~". */
static bool s_attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$&+-.^_`|~", c));
}

char *gateway_content_disposition(const char *name)
{
    if (!name || !*name)
        name = "download";
    size_t n = strlen(name);
    char *ascii = cm_malloc(n + 1);
    bool plain = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%' && c != ';';
        ascii[i] = ok ? (char)c : '_';
        plain = plain && ok;
    }
    ascii[n] = '\0';
    char *out;
    if (plain) {
        out = cm_strfmt("attachment; filename=\"%s\"", ascii);
    } else {
        char *enc = cm_malloc(3 * n + 1);
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)name[i];
            if (s_attr_char(c)) {
                enc[o++] = (char)c;
            } else {
                snprintf(enc + o, 4, "%%%02X", c);
                o += 3;
            }
        }
        enc[o] = '\0';
        out = cm_strfmt("attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
        free(enc);
    }
    free(ascii);
    return out;
}
