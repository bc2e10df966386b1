/* Pure checks for a customer's files: names, media types, signature PNGs. */
#include "notes_files_check.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zlib.h>

/* ---------------------------------------------------------------------- */
/* Names                                                                   */

static bool s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char *notes_files_name(const char *given, struct notes_problem *p)
{
    memset(p, 0, sizeof *p);
    const char *base = given ? given : "";
    for (const char *s = base; *s; s++)
        if (*s == '/' || *s == '\\')
            base = s + 1;
    while (s_space(*base))
        base++;
    size_t n = strlen(base);
    while (n && s_space(base[n - 1]))
        n--;
    char *trimmed = cm_strndup(base, n);
    char *out = NULL;
    if (!strcmp(trimmed, ".") || !strcmp(trimmed, "..")) {
        p->reason = "INVALID";
        snprintf(p->description, sizeof p->description, "the file name must name a file");
        goto out;
    }
    out =
        notes_validate_text(trimmed, NOTES_FILE_NAME_MAX, NOTES_TEXT_REQUIRED, "the file name", p);
out:
    free(trimmed);
    return out;
}

/* ---------------------------------------------------------------------- */
/* Media types                                                             */

/* RFC 9110 tchar. */
static bool s_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t s_token(const char *s)
{
    size_t n = 0;
    while (s_tchar(s[n]))
        n++;
    return n;
}

int notes_files_media_type(const char *given, char *out, size_t size)
{
    if (!given || !*given) {
        snprintf(out, size, "application/octet-stream");
        return 0;
    }
    size_t len = strlen(given);
    if (len > NOTES_FILE_TYPE_MAX || len >= size)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)given[i] < 0x20 || (unsigned char)given[i] >= 0x7f)
            return -1;
    size_t t = s_token(given);
    if (!t || given[t] != '/')
        return -1;
    size_t st = s_token(given + t + 1);
    if (!st)
        return -1;
    size_t end = t + 1 + st;
    /* Parameters: any number of ";" OWS token "=" (token or quoted string). */
    const char *q = given + end;
    while (*q) {
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != ';')
            return -1;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        size_t name = s_token(q);
        if (!name || q[name] != '=')
            return -1;
        q += name + 1;
        if (*q == '"') {
            q++;
            while (*q && *q != '"') {
                if (*q == '\\' && q[1])
                    q++;
                q++;
            }
            if (*q != '"')
                return -1;
            q++;
        } else {
            size_t v = s_token(q);
            if (!v)
                return -1;
            q += v;
        }
        while (*q == ' ' || *q == '\t')
            q++;
    }
    memcpy(out, given, len + 1);
    for (size_t i = 0; i < end; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Signature PNGs                                                          */

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bits per pixel of a PNG colour type and depth, or 0 for a pair PNG does not have. */
static unsigned s_bits_per_pixel(unsigned color, unsigned depth)
{
    switch (color) {
    case 0: // grey
        return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16 ? depth : 0;
    case 3: // palette
        return depth == 1 || depth == 2 || depth == 4 || depth == 8 ? depth : 0;
    case 2: // RGB
        return depth == 8 || depth == 16 ? 3 * depth : 0;
    case 4: // grey and alpha
        return depth == 8 || depth == 16 ? 2 * depth : 0;
    case 6: // RGBA
        return depth == 8 || depth == 16 ? 4 * depth : 0;
    default:
        return 0;
    }
}

/* Inflates the image data in pieces, counting bytes against the rows the
 * header promises and noting whether any byte but a row's filter byte is not
 * zero (all-zero filtered rows can only come from an all-zero image, and an
 * image with a pixel not zero always has some filtered byte not zero). */
struct s_inflate {
    z_stream z;
    uint64_t expected; // height * (1 + row bytes)
    uint64_t row;      // 1 + row bytes
    uint64_t seen;
    bool drawn;
    bool over;
};

static int s_inflate_feed(struct s_inflate *in, const uint8_t *data, size_t len)
{
    uint8_t buf[16384];
    in->z.next_in = (Bytef *)data;
    in->z.avail_in = (uInt)len;
    int rc = Z_OK;
    do {
        in->z.next_out = buf;
        in->z.avail_out = sizeof buf;
        rc = inflate(&in->z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return -1;
        size_t got = sizeof buf - in->z.avail_out;
        for (size_t i = 0; i < got && !in->over; i++) {
            if (in->seen + i >= in->expected) {
                in->over = true;
                break;
            }
            if (buf[i] && (in->seen + i) % in->row != 0)
                in->drawn = true;
        }
        in->seen += got;
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_BUF_ERROR && !got)
            break;
    } while (in->z.avail_in || in->z.avail_out == 0);
    return in->over ? -1 : (rc == Z_STREAM_END ? 1 : 0);
}

enum notes_png_result notes_files_png_check(const uint8_t *data, size_t len, uint32_t *width,
                                            uint32_t *height)
{
    static const uint8_t magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    *width = *height = 0;
    if (len > NOTES_SIGNATURE_MAX)
        return NOTES_PNG_TOO_LARGE;
    if (len < sizeof magic + 25 || memcmp(data, magic, sizeof magic))
        return NOTES_PNG_NOT_PNG;
    enum notes_png_result result = NOTES_PNG_NOT_PNG;
    struct s_inflate in = {0};
    bool inflating = false, ended = false, seen_iend = false, first = true;
    size_t at = sizeof magic;
    while (at < len) {
        if (len - at < 12)
            goto out;
        uint32_t n = s_be32(data + at);
        const uint8_t *type = data + at + 4;
        if (n > len - at - 12)
            goto out;
        const uint8_t *body = data + at + 8;
        uint32_t crc = (uint32_t)crc32(0, type, n + 4);
        if (crc != s_be32(body + n))
            goto out;
        if (first != !memcmp(type, "IHDR", 4))
            goto out;
        if (first) {
            if (n != 13)
                goto out;
            *width = s_be32(body);
            *height = s_be32(body + 4);
            if (*width < NOTES_SIGNATURE_SIDE_MIN || *width > NOTES_SIGNATURE_SIDE_MAX ||
                *height < NOTES_SIGNATURE_SIDE_MIN || *height > NOTES_SIGNATURE_SIDE_MAX) {
                result = NOTES_PNG_DIMENSIONS;
                goto out;
            }
            unsigned bpp = s_bits_per_pixel(body[9], body[8]);
            /* compression 0, filter 0, interlace 0 (a canvas never interlaces). */
            if (!bpp || body[10] || body[11] || body[12]) {
                result = NOTES_PNG_FORMAT;
                goto out;
            }
            in.row = 1 + ((uint64_t)*width * bpp + 7) / 8;
            in.expected = in.row * *height;
            if (inflateInit(&in.z) != Z_OK)
                abort(); /* out of memory */
            inflating = true;
            first = false;
        } else if (!memcmp(type, "IDAT", 4)) {
            if (ended) {
                result = NOTES_PNG_DATA;
                goto out;
            }
            int rc = s_inflate_feed(&in, body, n);
            if (rc < 0) {
                result = NOTES_PNG_DATA;
                goto out;
            }
            ended = rc == 1;
        } else if (!memcmp(type, "IEND", 4)) {
            seen_iend = true;
            at += 12 + n;
            break;
        }
        at += 12 + n;
    }
    if (!seen_iend || at != len)
        goto out;
    if (!ended || in.seen != in.expected) {
        result = NOTES_PNG_DATA;
        goto out;
    }
    result = in.drawn ? NOTES_PNG_OK : NOTES_PNG_EMPTY;
out:
    if (inflating)
        inflateEnd(&in.z);
    return result;
}

const char *notes_files_png_problem(enum notes_png_result r)
{
    switch (r) {
    case NOTES_PNG_OK:
        return "";
    case NOTES_PNG_TOO_LARGE:
        return "the signature is over 512 KiB";
    case NOTES_PNG_NOT_PNG:
        return "the signature is not a PNG image";
    case NOTES_PNG_DIMENSIONS:
        return "the signature must be 16 to 4096 pixels wide and high";
    case NOTES_PNG_FORMAT:
        return "the signature's PNG format is not supported (interlaced or unknown colour type)";
    case NOTES_PNG_DATA:
        return "the signature's image data is damaged";
    case NOTES_PNG_EMPTY:
        return "the signature is empty: nothing was drawn";
    }
    return "the signature is not valid";
}

void notes_files_sha256(const uint8_t *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}
