/* Fuzzes what a customer's file meets on its way in and out: byte 0 (mod 4)
 * picks what runs, the rest is the input:
 *
 * 0 a signature PNG: notes_files_png_check never reads out of bounds, says
 *   OK only for sides in range within the size limit, and answers the same
 *   twice (the inflate state is its own).
 * 1 a file name (valid UTF-8 only, as the edge lets through): the kept name
 *   has no '/' or '\', no white space at either end, at most 255 characters,
 *   no control characters, is not "." or "..", and is kept as it is again.
 * 2 a media type: what is kept is at most 127 printable ASCII bytes and is
 *   kept as it is again.
 * 3 a stored name and type, "name\0type": the Content-Disposition has no CR,
 *   LF or NUL, its quoted name no '"' or '\', and the type the gateway sends
 *   is the stored one or application/octet-stream, never HTML or SVG. */
#include "fuzz.h"
#include "gateway_download.h"
#include "notes_files_check.h"
#include "cm_util.h"

#include <stdbool.h>
#include <strings.h>

static void s_png(const uint8_t *data, size_t n)
{
    uint32_t w, h, w2, h2;
    enum notes_png_result r = notes_files_png_check(data, n, &w, &h);
    FUZZ_CHECK(notes_files_png_check(data, n, &w2, &h2) == r && w == w2 && h == h2);
    if (r == NOTES_PNG_OK) {
        FUZZ_CHECK(n <= NOTES_SIGNATURE_MAX);
        FUZZ_CHECK(w >= NOTES_SIGNATURE_SIDE_MIN && w <= NOTES_SIGNATURE_SIDE_MAX);
        FUZZ_CHECK(h >= NOTES_SIGNATURE_SIDE_MIN && h <= NOTES_SIGNATURE_SIDE_MAX);
    }
    FUZZ_CHECK(notes_files_png_problem(r) != NULL);
}

static bool s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void s_name(const uint8_t *data, size_t n)
{
    char *in = fuzz_strndup(data, n);
    if (strlen(in) != n || !cm_utf8_valid(in, n, NULL)) {
        free(in);
        return;
    }
    struct notes_problem p;
    char *out = notes_files_name(in, &p);
    if (!out) {
        FUZZ_CHECK(p.reason && p.description[0]);
    } else {
        size_t len = strlen(out);
        FUZZ_CHECK(len > 0 && !strchr(out, '/') && !strchr(out, '\\'));
        FUZZ_CHECK(!s_space(out[0]) && !s_space(out[len - 1]));
        FUZZ_CHECK(strcmp(out, ".") && strcmp(out, ".."));
        FUZZ_CHECK(cm_utf8_length(out) <= NOTES_FILE_NAME_MAX);
        for (size_t i = 0; i < len; i++)
            FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
        char *again = notes_files_name(out, &p);
        FUZZ_CHECK(again && !strcmp(again, out));
        free(again);
    }
    free(out);
    free(in);
}

static void s_type(const uint8_t *data, size_t n)
{
    char *in = fuzz_strndup(data, n);
    char out[NOTES_FILE_TYPE_MAX + 1], again[NOTES_FILE_TYPE_MAX + 1];
    if (notes_files_media_type(in, out, sizeof out) == 0) {
        size_t len = strlen(out);
        FUZZ_CHECK(len > 0 && len <= NOTES_FILE_TYPE_MAX);
        for (size_t i = 0; i < len; i++)
            FUZZ_CHECK((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] < 0x7f);
        FUZZ_CHECK(notes_files_media_type(out, again, sizeof again) == 0 && !strcmp(again, out));
    }
    free(in);
}

static void s_download(const uint8_t *data, size_t n)
{
    const uint8_t *nul = memchr(data, 0, n);
    size_t name_len = nul ? (size_t)(nul - data) : n;
    char *name = fuzz_strndup(data, name_len);
    char *type = nul ? fuzz_strndup(nul + 1, n - name_len - 1) : fuzz_strndup(data, 0);
    char *cd = gateway_content_disposition(name);
    FUZZ_CHECK(!strncmp(cd, "attachment; filename=\"", 22));
    FUZZ_CHECK(!strchr(cd, '\r') && !strchr(cd, '\n'));
    const char *quoted = cd + 22, *close = strchr(quoted, '"');
    FUZZ_CHECK(close != NULL);
    for (const char *q = quoted; q < close; q++)
        FUZZ_CHECK(*q != '\\' && (unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f);
    FUZZ_CHECK(!close[1] || !strncmp(close + 1, "; filename*=UTF-8''", 19));
    const char *sent = gateway_download_type(type);
    FUZZ_CHECK(sent == type || !strcmp(sent, "application/octet-stream"));
    if (sent == type) {
        size_t base = strcspn(sent, "; \t");
        FUZZ_CHECK(!(base == 9 && !strncasecmp(sent, "text/html", 9)) &&
                   !(base == 13 && !strncasecmp(sent, "image/svg+xml", 13)));
        FUZZ_CHECK(!strchr(sent, '\r') && !strchr(sent, '\n'));
    }
    free(cd);
    free(type);
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        s_png(data + 1, size - 1);
        break;
    case 1:
        s_name(data + 1, size - 1);
        break;
    case 2:
        s_type(data + 1, size - 1);
        break;
    default:
        s_download(data + 1, size - 1);
        break;
    }
    return 0;
}
