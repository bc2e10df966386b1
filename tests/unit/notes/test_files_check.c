/* Unit tests for notes_files_check: the names files are kept under, the media
 * types they are declared as, and the signature PNGs a tablet sends (built
 * here with zlib, as a canvas would write them, and then broken). */
#include "notes_files_check.h"
#include "../unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void test_names(void)
{
    struct notes_problem p;
    char *s = notes_files_name("Договор – 2026.pdf", &p);
    CHECK_STR(s, "Договор – 2026.pdf");
    free(s);
    /* A browser's path, a Windows path, white space around. */
    s = notes_files_name("C:\\Users\\anna\\scan 1.jpg", &p);
    CHECK_STR(s, "scan 1.jpg");
    free(s);
    s = notes_files_name("../../etc/passwd", &p);
    CHECK_STR(s, "passwd");
    free(s);
    s = notes_files_name("  report.txt \t", &p);
    CHECK_STR(s, "report.txt");
    free(s);
    CHECK(!notes_files_name("", &p) && !strcmp(p.reason, "REQUIRED"));
    CHECK(!notes_files_name("dir/", &p) && !strcmp(p.reason, "REQUIRED"));
    CHECK(!notes_files_name("   ", &p) && !strcmp(p.reason, "REQUIRED"));
    CHECK(!notes_files_name(NULL, &p) && !strcmp(p.reason, "REQUIRED"));
    CHECK(!notes_files_name("..", &p) && !strcmp(p.reason, "INVALID"));
    CHECK(!notes_files_name("a/.", &p) && !strcmp(p.reason, "INVALID"));
    CHECK(!notes_files_name("a\x01.txt", &p) && !strcmp(p.reason, "INVALID"));
    CHECK(!notes_files_name("a\nb.txt", &p) && !strcmp(p.reason, "INVALID"));
    CHECK(!notes_files_name("a\xc2\x85"
                            "b",
                            &p) &&
          !strcmp(p.reason, "INVALID")); /* C1 NEL */
    /* 255 characters of two bytes each fit; 256 do not. */
    char name[2 * 256 + 1];
    for (int i = 0; i < 256; i++)
        memcpy(name + 2 * i, "\xc3\xa4", 2);
    name[2 * 256] = '\0';
    CHECK(!notes_files_name(name, &p) && !strcmp(p.reason, "TOO_LONG"));
    name[2 * 255] = '\0';
    s = notes_files_name(name, &p);
    CHECK(s && strlen(s) == 2 * 255);
    free(s);
}

static void test_media_types(void)
{
    char out[NOTES_FILE_TYPE_MAX + 1];
    CHECK(notes_files_media_type("", out, sizeof out) == 0);
    CHECK_STR(out, "application/octet-stream");
    CHECK(notes_files_media_type(NULL, out, sizeof out) == 0);
    CHECK_STR(out, "application/octet-stream");
    CHECK(notes_files_media_type("Application/PDF", out, sizeof out) == 0);
    CHECK_STR(out, "application/pdf");
    CHECK(notes_files_media_type("text/plain; charset=UTF-8", out, sizeof out) == 0);
    CHECK_STR(out, "text/plain; charset=UTF-8");
    CHECK(notes_files_media_type("text/plain;format=\"flowed; x\"", out, sizeof out) == 0);
    CHECK(notes_files_media_type("application/vnd.openxmlformats-officedocument.wordprocessingml."
                                 "document",
                                 out, sizeof out) == 0);
    const char *bad[] = {"pdf",         "text/",   "/plain",         "text/plain;",
                         "text/pl ain", "a/b; c",  "a/b; c=\"open",  "text/plain\r\nX: y",
                         "tëxt/plain",  "a/b c=d", "text/plain; =x", "a/b;c=d e"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(notes_files_media_type(bad[i], out, sizeof out) == -1);
    char longer[NOTES_FILE_TYPE_MAX + 2];
    memset(longer, 'a', sizeof longer - 1);
    longer[1] = '/';
    longer[sizeof longer - 1] = '\0';
    CHECK(notes_files_media_type(longer, out, sizeof out) == -1);
    longer[sizeof longer - 2] = '\0';
    CHECK(notes_files_media_type(longer, out, sizeof out) == 0);
}

/* ---- PNGs ---------------------------------------------------------------- */

struct png {
    uint8_t *data;
    size_t len;
};

static void s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void s_chunk(struct png *png, const char *type, const uint8_t *body, size_t n)
{
    png->data = realloc(png->data, png->len + 12 + n);
    uint8_t *p = png->data + png->len;
    s_put32(p, (uint32_t)n);
    memcpy(p + 4, type, 4);
    if (n)
        memcpy(p + 8, body, n);
    s_put32(p + 8 + n, (uint32_t)crc32(0, p + 4, (uInt)n + 4));
    png->len += 12 + n;
}

/* An RGBA PNG of w x h with a diagonal stroke (or none); rows filtered with
 * filter (0 none, 1 sub, 2 up). */
static struct png s_png(uint32_t w, uint32_t h, bool stroke, int filter, uint8_t color,
                        uint8_t interlace)
{
    struct png png = {malloc(8), 8};
    memcpy(png.data, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13];
    s_put32(ihdr, w);
    s_put32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = color;
    ihdr[10] = ihdr[11] = 0;
    ihdr[12] = interlace;
    s_chunk(&png, "IHDR", ihdr, 13);
    size_t row = 1 + 4 * (size_t)w, n = row * h;
    uint8_t *raw = calloc(1, n);
    for (uint32_t y = 0; y < h; y++) {
        raw[y * row] = (uint8_t)filter;
        if (stroke && y < w) /* filtered values: a non-zero residual at the diagonal */
            raw[y * row + 1 + 4 * y + 3] = 0xff;
    }
    uLongf clen = compressBound((uLong)n);
    uint8_t *z = malloc(clen);
    CHECK(compress(z, &clen, raw, (uLong)n) == Z_OK);
    /* Split over two IDAT chunks, as encoders do. */
    s_chunk(&png, "IDAT", z, clen / 2);
    s_chunk(&png, "IDAT", z + clen / 2, clen - clen / 2);
    s_chunk(&png, "IEND", NULL, 0);
    free(z);
    free(raw);
    return png;
}

static void test_png_good_and_empty(void)
{
    uint32_t w, h;
    struct png good = s_png(300, 120, true, 0, 6, 0);
    CHECK(notes_files_png_check(good.data, good.len, &w, &h) == NOTES_PNG_OK);
    CHECK(w == 300 && h == 120);
    free(good.data);
    for (int filter = 0; filter <= 2; filter++) {
        struct png empty = s_png(300, 120, false, filter, 6, 0);
        CHECK(notes_files_png_check(empty.data, empty.len, &w, &h) == NOTES_PNG_EMPTY);
        free(empty.data);
        struct png drawn = s_png(300, 120, true, filter, 6, 0);
        CHECK(notes_files_png_check(drawn.data, drawn.len, &w, &h) == NOTES_PNG_OK);
        free(drawn.data);
    }
}

static void test_png_refused(void)
{
    uint32_t w, h;
    struct png png = s_png(64, 32, true, 0, 6, 0);
    /* Not a PNG; cut short; a flipped byte (CRC); trailing bytes. */
    CHECK(notes_files_png_check((const uint8_t *)"GIF89a-and-more-bytes-to-be-long-enough", 40, &w,
                                &h) == NOTES_PNG_NOT_PNG);
    CHECK(notes_files_png_check(png.data, png.len - 1, &w, &h) == NOTES_PNG_NOT_PNG);
    CHECK(notes_files_png_check(png.data, 20, &w, &h) == NOTES_PNG_NOT_PNG);
    png.data[40] ^= 1;
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_NOT_PNG);
    png.data[40] ^= 1;
    uint8_t *more = malloc(png.len + 4);
    memcpy(more, png.data, png.len);
    memcpy(more + png.len, "junk", 4);
    CHECK(notes_files_png_check(more, png.len + 4, &w, &h) == NOTES_PNG_NOT_PNG);
    free(more);
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_OK);
    free(png.data);
    /* Dimensions. */
    png = s_png(15, 32, true, 0, 6, 0);
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_DIMENSIONS);
    free(png.data);
    png = s_png(4097, 16, true, 0, 6, 0);
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_DIMENSIONS);
    free(png.data);
    /* Interlaced; a colour type PNG does not have. */
    png = s_png(32, 32, true, 0, 6, 1);
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_FORMAT);
    free(png.data);
    png = s_png(32, 32, true, 0, 5, 0);
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_FORMAT);
    free(png.data);
    /* Image data that inflates to fewer or more rows than IHDR says: an RGB
     * header over RGBA rows is too much data. */
    png = s_png(32, 32, true, 0, 6, 0);
    png.data[8 + 8 + 9] = 2; /* colour type RGB, then fix the CRC */
    s_put32(png.data + 8 + 8 + 13, (uint32_t)crc32(0, png.data + 8 + 4, 17));
    CHECK(notes_files_png_check(png.data, png.len, &w, &h) == NOTES_PNG_DATA);
    free(png.data);
    /* Over the size limit, whatever it holds. */
    uint8_t *big = calloc(1, NOTES_SIGNATURE_MAX + 1);
    CHECK(notes_files_png_check(big, NOTES_SIGNATURE_MAX + 1, &w, &h) == NOTES_PNG_TOO_LARGE);
    free(big);
    CHECK(strlen(notes_files_png_problem(NOTES_PNG_EMPTY)) > 0);
}

static void test_sha256(void)
{
    char hex[65];
    notes_files_sha256((const uint8_t *)"abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    RUN(test_names);
    RUN(test_media_types);
    RUN(test_png_good_and_empty);
    RUN(test_png_refused);
    RUN(test_sha256);
    return 0;
}
