/* Unit tests for gateway_download: the media type a customer's file is sent
 * with (never one a browser runs) and its Content-Disposition (RFC 6266). */
#include "gateway_download.h"
#include "../unit.h"

#include <stdlib.h>
#include <string.h>

static void test_types(void)
{
    CHECK_STR(gateway_download_type("application/pdf"), "application/pdf");
    CHECK_STR(gateway_download_type("image/png"), "image/png");
    CHECK_STR(gateway_download_type("text/plain; charset=utf-8"), "text/plain; charset=utf-8");
    const char *active[] = {"text/html",
                            "TEXT/HTML",
                            "text/html; charset=utf-8",
                            "image/svg+xml",
                            "application/xhtml+xml",
                            "application/atom+xml",
                            "text/xml",
                            "application/xml",
                            "text/javascript",
                            "application/javascript",
                            "multipart/x-mixed-replace; boundary=x",
                            "",
                            "nonsense",
                            "text/plain\r\nSet-Cookie: a=b",
                            "t\xc3\xa9xt/plain"};
    for (size_t i = 0; i < sizeof active / sizeof *active; i++)
        CHECK_STR(gateway_download_type(active[i]), "application/octet-stream");
    CHECK_STR(gateway_download_type(NULL), "application/octet-stream");
}

static void test_disposition(void)
{
    char *cd = gateway_content_disposition("report.pdf");
    CHECK_STR(cd, "attachment; filename=\"report.pdf\"");
    free(cd);
    cd = gateway_content_disposition("");
    CHECK_STR(cd, "attachment; filename=\"download\"");
    free(cd);
    /* Quotes, backslashes, percent and semicolons never reach the quoted form. */
    cd = gateway_content_disposition("a\"b\\c%d;e.txt");
    CHECK_STR(cd, "attachment; filename=\"a_b_c_d_e.txt\"; "
                  "filename*=UTF-8''a%22b%5Cc%25d%3Be.txt");
    free(cd);
    cd = gateway_content_disposition("Договор 1.pdf");
    CHECK_STR(cd, "attachment; filename=\"______________ 1.pdf\"; "
                  "filename*=UTF-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80%201.pdf");
    free(cd);
    /* A newline cannot split the header. */
    cd = gateway_content_disposition("a\r\nX: y");
    CHECK(!strchr(cd, '\r') && !strchr(cd, '\n'));
    free(cd);
}

int main(void)
{
    RUN(test_types);
    RUN(test_disposition);
    return 0;
}
