/* Unit tests for reading .xlsx workbooks: files written by libxlsxwriter
 * (shared and inline strings, dates, booleans, gaps), hand-made archives
 * with what other programs write (relationships elsewhere, inline rich
 * text, formulas' cached values, 1904 dates, ZIP64-free stored entries),
 * and hostile files (not a ZIP, an old .xls, no workbook, a DOCTYPE, a
 * missing shared string, an over-long cell, a column past XFD, a ZIP bomb, a
 * cut archive). */
#include "exchange_xlsx_read.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zlib.h>

static char s_dir[] = "/tmp/test_xlsx_read.XXXXXX";

static char *s_path(const char *name)
{
    return cm_strfmt("%s/%s", s_dir, name);
}

/* ---------------------------------------------------------------------- */
/* A tiny ZIP writer for hand-made workbooks                               */

struct s_part {
    const char *name;
    const char *data; // NULL: use big/big_len
    const unsigned char *big;
    size_t big_len;
    int method; // 0 stored, 8 deflated
};

static void s_le16(FILE *f, unsigned v)
{
    fputc((int)(v & 255), f);
    fputc((int)(v >> 8 & 255), f);
}

static void s_le32(FILE *f, uint32_t v)
{
    s_le16(f, v & 0xffff);
    s_le16(f, v >> 16);
}

/* Deflates (raw) len bytes; *out_len gets the size. */
static unsigned char *s_deflate(const unsigned char *data, size_t len, size_t *out_len)
{
    z_stream zs = {0};
    CHECK(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&zs, (uLong)len) + 64;
    unsigned char *out = cm_malloc(cap);
    zs.next_in = (unsigned char *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static char *s_zip(const char *name, const struct s_part *parts, size_t n)
{
    char *path = s_path(name);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    uint32_t *offs = cm_calloc(n, sizeof *offs), *crcs = cm_calloc(n, sizeof *crcs);
    size_t *csz = cm_calloc(n, sizeof *csz), *usz = cm_calloc(n, sizeof *usz);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *data =
            parts[i].data ? (const unsigned char *)parts[i].data : parts[i].big;
        size_t len = parts[i].data ? strlen(parts[i].data) : parts[i].big_len;
        size_t clen = len;
        unsigned char *comp = NULL;
        if (parts[i].method == 8)
            comp = s_deflate(data, len, &clen);
        offs[i] = (uint32_t)ftell(f);
        crcs[i] = (uint32_t)crc32(0, data, (uInt)len);
        csz[i] = clen;
        usz[i] = len;
        s_le32(f, 0x04034b50);
        s_le16(f, 20);
        s_le16(f, 0);
        s_le16(f, (unsigned)parts[i].method);
        s_le16(f, 0);
        s_le16(f, 0);
        s_le32(f, crcs[i]);
        s_le32(f, (uint32_t)clen);
        s_le32(f, (uint32_t)len);
        s_le16(f, (unsigned)strlen(parts[i].name));
        s_le16(f, 0);
        fputs(parts[i].name, f);
        fwrite(comp ? comp : data, 1, clen, f);
        free(comp);
    }
    uint32_t cd = (uint32_t)ftell(f);
    for (size_t i = 0; i < n; i++) {
        s_le32(f, 0x02014b50);
        s_le16(f, 20);
        s_le16(f, 20);
        s_le16(f, 0);
        s_le16(f, (unsigned)parts[i].method);
        s_le16(f, 0);
        s_le16(f, 0);
        s_le32(f, crcs[i]);
        s_le32(f, (uint32_t)csz[i]);
        s_le32(f, (uint32_t)usz[i]);
        s_le16(f, (unsigned)strlen(parts[i].name));
        s_le16(f, 0);
        s_le16(f, 0);
        s_le16(f, 0);
        s_le16(f, 0);
        s_le32(f, 0);
        s_le32(f, offs[i]);
        fputs(parts[i].name, f);
    }
    uint32_t cd_end = (uint32_t)ftell(f);
    s_le32(f, 0x06054b50);
    s_le16(f, 0);
    s_le16(f, 0);
    s_le16(f, (unsigned)n);
    s_le16(f, (unsigned)n);
    s_le32(f, cd_end - cd);
    s_le32(f, cd);
    s_le16(f, 0);
    CHECK(fclose(f) == 0);
    free(offs);
    free(crcs);
    free(csz);
    free(usz);
    return path;
}

#define NS "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
#define NS_R "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""
#define RELS_NS "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\""
#define TYPE "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

static const char s_root_rels[] =
    "<?xml version=\"1.0\"?><Relationships " RELS_NS "><Relationship Id=\"rId1\" Type=\"" TYPE
    "officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>";
static const char s_book[] = "<workbook " NS NS_R "><sheets><sheet name=\"A\" sheetId=\"1\" "
                             "r:id=\"rId1\"/></sheets></workbook>";
static const char s_book_rels[] =
    "<Relationships " RELS_NS "><Relationship Id=\"rId1\" Type=\"" TYPE
    "worksheet\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId2\" Type=\"" TYPE
    "sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>";

/* A workbook of the usual layout with the given sheet and shared strings. */
static char *s_simple(const char *name, const char *sheet, const char *strings, int method)
{
    struct s_part parts[] = {
        {"_rels/.rels", s_root_rels, NULL, 0, method},
        {"xl/workbook.xml", s_book, NULL, 0, method},
        {"xl/_rels/workbook.xml.rels", s_book_rels, NULL, 0, method},
        {"xl/worksheets/sheet1.xml", sheet, NULL, 0, method},
        {"xl/sharedStrings.xml", strings ? strings : "<sst " NS "/>", NULL, 0, method},
    };
    return s_zip(name, parts, 5);
}

/* Opens path and expects the rows given as "a|b|c" lines with their row
 * numbers. */
static void s_expect_rows(const char *path, const char *const *want, const long *want_rows,
                          size_t n_want)
{
    char why[512] = "";
    exchange_xlsx_reader_t *r = exchange_xlsx_reader_new(path, why, sizeof why);
    if (!r)
        fprintf(stderr, "open %s: %s\n", path, why);
    CHECK(r);
    for (size_t i = 0; i < n_want; i++) {
        const char *const *cells;
        size_t n;
        long row;
        int rc = exchange_xlsx_reader_next(r, &cells, &n, &row);
        if (rc != 1)
            fprintf(stderr, "row %zu: rc %d: %s\n", i, rc, exchange_xlsx_reader_error(r));
        CHECK(rc == 1);
        char *joined = cm_strdup("");
        for (size_t k = 0; k < n; k++) {
            char *next = cm_strfmt("%s%s%s", joined, k ? "|" : "", cells[k]);
            free(joined);
            joined = next;
        }
        CHECK_STR(joined, want[i]);
        CHECK(row == want_rows[i]);
        free(joined);
    }
    const char *const *cells;
    size_t n;
    long row;
    CHECK(exchange_xlsx_reader_next(r, &cells, &n, &row) == 0);
    CHECK(exchange_xlsx_reader_next(r, &cells, &n, &row) == 0);
    exchange_xlsx_reader_destroy(&r);
    exchange_xlsx_reader_destroy(&r);
}

/* Expects opening or reading path to fail with a reason containing want. */
static void s_expect_error(const char *path, const char *want)
{
    char why[1024] = "";
    exchange_xlsx_reader_t *r = exchange_xlsx_reader_new(path, why, sizeof why);
    if (r) {
        const char *const *cells;
        size_t n;
        long row;
        int rc;
        do
            rc = exchange_xlsx_reader_next(r, &cells, &n, &row);
        while (rc == 1);
        CHECK(rc == -1);
        snprintf(why, sizeof why, "%s", exchange_xlsx_reader_error(r));
        exchange_xlsx_reader_destroy(&r);
    }
    if (!strstr(why, want))
        fprintf(stderr, "%s: error \"%s\" does not say \"%s\"\n", path, why, want);
    CHECK(strstr(why, want));
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void s_write_libxlsxwriter(const char *path, bool constant_memory)
{
    lxw_workbook_options opt = {.constant_memory = constant_memory, .tmpdir = s_dir};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    CHECK(wb);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Customers");
    lxw_format *date = workbook_add_format(wb);
    format_set_num_format(date, "yyyy-mm-dd");
    lxw_format *when = workbook_add_format(wb);
    format_set_num_format(when, "yyyy-mm-dd hh:mm:ss");
    lxw_format *money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0.00 [$€-407];[Red]-#,##0.00 [$€-407]");
    worksheet_write_string(ws, 0, 0, "firstName", NULL);
    worksheet_write_string(ws, 0, 1, "lastName", NULL);
    worksheet_write_string(ws, 0, 3, "birthDate", NULL);
    worksheet_write_string(ws, 1, 0, "Zażółć", NULL);
    worksheet_write_string(ws, 1, 1, "Ђорђе \"Đole\" <&>", NULL);
    lxw_datetime birth = {1984, 2, 29, 0, 0, 0};
    worksheet_write_datetime(ws, 1, 3, &birth, date);
    lxw_datetime seen = {2026, 12, 6, 9, 41, 30};
    worksheet_write_datetime(ws, 1, 4, &seen, when);
    worksheet_write_boolean(ws, 1, 5, 1, NULL);
    worksheet_write_number(ws, 1, 6, 48601234567.0, NULL);
    worksheet_write_number(ws, 1, 7, 1234.5, money);
    /* A literal "_x0041_" is written "_x005F_x0041_", as Excel does (the
     * export does it: libxlsxwriter escapes control characters only). */
    worksheet_write_string(ws, 1, 8, "line\r\nnext _x005F_x0041_", NULL);
    /* Row 3 empty, row 4 with one cell far right. */
    worksheet_write_string(ws, 3, 27, "AB", NULL);
    CHECK(workbook_close(wb) == LXW_NO_ERROR);
}

static void test_libxlsxwriter_workbooks(void)
{
    static const char *const want[] = {
        "firstName|lastName||birthDate",
        ("Zażółć|Ђорђе \"Đole\" <&>||1984-02-29|2026-12-06T09:41:30Z|true|48601234567|1234.5|"
         "line\r\nnext _x0041_"),
        "|||||||||||||||||||||||||||AB",
    };
    static const long rows[] = {1, 2, 4};
    for (int cm = 0; cm < 2; cm++) {
        char *path = s_path(cm ? "constant.xlsx" : "shared.xlsx");
        s_write_libxlsxwriter(path, cm);
        s_expect_rows(path, want, rows, 3);
        free(path);
    }
}

static void test_other_writers(void)
{
    /* Relationships pointing elsewhere, an absolute sheet target, no shared
     * strings, inline rich text with a phonetic run, formulas' cached values,
     * error and ISO date cells, cells without references, 1904 dates with a
     * custom format, stored (not deflated) entries. */
    static const char rels[] = "<Relationships " RELS_NS "><Relationship Id=\"a\" Type=\"" TYPE
                               "officeDocument\" Target=\"book/main.xml\"/></Relationships>";
    static const char book[] = "<workbook " NS NS_R "><workbookPr date1904=\"1\"/><sheets>"
                               "<sheet name=\"S\" sheetId=\"7\" r:id=\"x9\"/>"
                               "<sheet name=\"T\" sheetId=\"8\" r:id=\"x8\"/></sheets></workbook>";
    static const char book_rels[] =
        "<Relationships " RELS_NS "><Relationship Id=\"x8\" Type=\"" TYPE
        "worksheet\" Target=\"other.xml\"/><Relationship Id=\"x9\" Type=\"" TYPE
        "worksheet\" Target=\"/sheets/first.xml\"/><Relationship Id=\"s\" Type=\"" TYPE
        "styles\" Target=\"look.xml\"/></Relationships>";
    static const char styles[] =
        "<styleSheet " NS "><numFmts count=\"1\"><numFmt numFmtId=\"164\" "
        "formatCode=\"dd.mm.yyyy\"/></numFmts><cellStyleXfs><xf numFmtId=\"164\"/></cellStyleXfs>"
        "<cellXfs><xf numFmtId=\"0\"/><xf numFmtId=\"164\"/><xf numFmtId=\"22\"/>"
        "<xf numFmtId=\"46\"/></cellXfs></styleSheet>";
    static const char sheet[] =
        "<worksheet " NS "><sheetData>"
        "<row><c t=\"inlineStr\"><is><r><t>Anna_x000A_</t></r><r><t xml:space=\"preserve\">Maria"
        "_x005F_x0041_</t></r><rPh><t>ANNA</t></rPh></is></c><c "
        "t=\"str\"><f>A1&amp;\"!\"</f><v>Anna!</v></c>"
        "<c t=\"e\"><v>#N/A</v></c><c t=\"d\"><v>2024-05-01</v></c></row>"
        "<row r=\"3\"><c s=\"1\"><v>0</v></c><c s=\"1\"><v>43000</v></c><c s=\"2\"><v>1.25</v></c>"
        "<c s=\"3\"><v>1.5</v></c><c s=\"0\" t=\"b\"><v>0</v></c></row>"
        "</sheetData></worksheet>";
    struct s_part parts[] = {
        {"_rels/.rels", rels, NULL, 0, 0},
        {"book/main.xml", book, NULL, 0, 0},
        {"book/_rels/main.xml.rels", book_rels, NULL, 0, 8},
        {"book/look.xml", styles, NULL, 0, 8},
        {"sheets/first.xml", sheet, NULL, 0, 0},
        {"book/other.xml", "<worksheet " NS "/>", NULL, 0, 0},
    };
    char *path = s_zip("other.xlsx", parts, 6);
    static const char *const want[] = {
        "Anna\nMaria_x0041_|Anna!|#N/A|2024-05-01",
        "1904-01-01|2021-09-23|1904-01-02T06:00:00Z|1.5|false",
    };
    static const long rows[] = {1, 3};
    s_expect_rows(path, want, rows, 2);
    free(path);
}

static void test_hostile_files(void)
{
    char *path = s_path("text.xlsx");
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("name,email\nAnna,anna@example.com\n", f);
    CHECK(fclose(f) == 0);
    s_expect_error(path, "not a ZIP archive");
    free(path);

    path = s_path("old.xls");
    f = fopen(path, "wb");
    CHECK(f);
    fwrite("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 1, 8, f);
    for (int i = 0; i < 600; i++)
        fputc(0, f);
    CHECK(fclose(f) == 0);
    s_expect_error(path, "old .xls file");
    free(path);

    struct s_part docx[] = {{"word/document.xml", "<document/>", NULL, 0, 8}};
    path = s_zip("letter.docx", docx, 1);
    s_expect_error(path, "has no workbook");
    free(path);

    path = s_simple("doctype.xlsx", "<worksheet " NS "/>",
                    "<!DOCTYPE sst [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
                    "<sst " NS "><si><t>&b;</t></si></sst>",
                    8);
    s_expect_error(path, "DOCTYPE");
    free(path);

    path = s_simple("missing.xlsx",
                    "<worksheet " NS "><sheetData><row r=\"2\"><c r=\"C2\" t=\"s\"><v>5</v></c>"
                    "</row></sheetData></worksheet>",
                    "<sst " NS "><si><t>only one</t></si></sst>", 8);
    s_expect_error(path, "row 2, column C: shared text \"5\" does not exist");
    free(path);

    size_t big = EXCHANGE_XLSX_READ_MAX_CELL + 10;
    char *sheet = cm_malloc(big + 200);
    int at = snprintf(sheet, 200,
                      "<worksheet " NS "><sheetData><row><c r=\"B1\" t=\"inlineStr\">"
                      "<is><t>");
    memset(sheet + at, 'x', big);
    snprintf(sheet + at + big, 200, "</t></is></c></row></sheetData></worksheet>");
    path = s_simple("long.xlsx", sheet, NULL, 8);
    s_expect_error(path, "row 1, column B: text longer than Excel's 32,767 characters");
    free(path);
    free(sheet);

    path = s_simple("wide.xlsx",
                    "<worksheet " NS "><sheetData><row><c r=\"XFE1\"><v>1</v></c></row>"
                    "</sheetData></worksheet>",
                    NULL, 8);
    s_expect_error(path, "\"XFE1\" is not a cell");
    free(path);

    path = s_simple("broken.xlsx", "<worksheet " NS "><sheetData><row><c><v>1</v></row>", NULL, 8);
    s_expect_error(path, "not well-formed XML");
    free(path);

    /* 300 MB of spaces inside a sheet: a few hundred KB compressed. */
    size_t bomb_len = 300u * 1024 * 1024;
    unsigned char *bomb = cm_malloc(bomb_len);
    memset(bomb, ' ', bomb_len);
    const char head[] = "<worksheet " NS "><sheetData>";
    memcpy(bomb, head, sizeof head - 1);
    struct s_part bombs[] = {
        {"_rels/.rels", s_root_rels, NULL, 0, 8},
        {"xl/workbook.xml", s_book, NULL, 0, 8},
        {"xl/_rels/workbook.xml.rels", s_book_rels, NULL, 0, 8},
        {"xl/worksheets/sheet1.xml", NULL, bomb, bomb_len, 8},
    };
    path = s_zip("bomb.xlsx", bombs, 4);
    free(bomb);
    s_expect_error(path, "refused as a ZIP bomb");

    /* The same archive cut short: its central directory is gone. */
    FILE *in = fopen(path, "rb");
    CHECK(in);
    char *cut_path = s_path("cut.xlsx");
    FILE *out = fopen(cut_path, "wb");
    CHECK(out);
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0 && total < 100000) {
        fwrite(buf, 1, n, out);
        total += n;
    }
    fclose(in);
    CHECK(fclose(out) == 0);
    s_expect_error(cut_path, "not a ZIP archive");
    free(cut_path);
    free(path);
}

static void test_format_kinds(void)
{
    CHECK(exchange_xlsx_read_format_kind("General") == 0);
    CHECK(exchange_xlsx_read_format_kind("0.00") == 0);
    CHECK(exchange_xlsx_read_format_kind("#,##0.00 [$€-407];[Red]-#,##0.00") == 0);
    CHECK(exchange_xlsx_read_format_kind("yyyy-mm-dd") == 1);
    CHECK(exchange_xlsx_read_format_kind("DD/MM/YYYY") == 1);
    CHECK(exchange_xlsx_read_format_kind("[$-407]d. mmmm yyyy") == 1);
    CHECK(exchange_xlsx_read_format_kind("d.m.yy h:mm") == 2);
    CHECK(exchange_xlsx_read_format_kind("[h]:mm:ss") == 0);
    CHECK(exchange_xlsx_read_format_kind("mm:ss") == 0);
    CHECK(exchange_xlsx_read_format_kind("0 \"days\"") == 0);
    CHECK(exchange_xlsx_read_format_kind("\\d0") == 0);
    CHECK(exchange_xlsx_read_format_kind("[Magenta]yyyy") == 1);
}

static void test_serial_dates(void)
{
    char out[32];
    CHECK(exchange_xlsx_read_serial_date(1, 0, 0, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "1900-01-01");
    CHECK(exchange_xlsx_read_serial_date(59, 0, 0, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "1900-02-28");
    CHECK(exchange_xlsx_read_serial_date(61, 0, 0, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "1900-03-01");
    CHECK(exchange_xlsx_read_serial_date(45000, 0, 0, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "2023-03-15");
    CHECK(exchange_xlsx_read_serial_date(45000.5, 0, 1, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "2023-03-15T12:00:00Z");
    CHECK(exchange_xlsx_read_serial_date(45000.5 + 0.123 / 86400, 0, 1, NULL, out, sizeof out) ==
          0);
    CHECK_STR(out, "2023-03-15T12:00:00.123Z");
    CHECK(exchange_xlsx_read_serial_date(45000.99999999, 0, 1, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "2023-03-15T23:59:59.999Z");
    CHECK(exchange_xlsx_read_serial_date(45000.9999999999, 0, 1, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "2023-03-16T00:00:00Z");
    CHECK(exchange_xlsx_read_serial_date(0, 1, 0, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "1904-01-01");
    CHECK(exchange_xlsx_read_serial_date(2958465, 0, 0, NULL, out, sizeof out) == 0);
    CHECK_STR(out, "9999-12-31");
    CHECK(exchange_xlsx_read_serial_date(0, 0, 0, NULL, out, sizeof out) == -1);
    CHECK(exchange_xlsx_read_serial_date(-3, 0, 0, NULL, out, sizeof out) == -1);
    CHECK(exchange_xlsx_read_serial_date(1e12, 0, 0, NULL, out, sizeof out) == -1);
}

int main(void)
{
    CHECK(mkdtemp(s_dir));
    RUN(test_format_kinds);
    RUN(test_serial_dates);
    RUN(test_libxlsxwriter_workbooks);
    RUN(test_other_writers);
    RUN(test_hostile_files);
    char *cmd = cm_strfmt("rm -rf -- '%s'", s_dir);
    // NOLINTNEXTLINE(cert-env33-c): our own mkdtemp directory, quoted
    CHECK(system(cmd) == 0);
    free(cmd);
    return 0;
}
