/* Unit tests for exchange_pages: the request for a page of an export's
 * selection (list or search), the page taken from the answer, the CSV rows
 * and a workbook built from pages, and the file name. */
#include "exchange_layout.h"
#include "exchange_pages.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_page_request_list_or_search(void)
{
    Crm__ExportCustomersRequest req = CRM__EXPORT_CUSTOMERS_REQUEST__INIT;
    Crm__BoolValue yes = CRM__BOOL_VALUE__INIT;
    yes.value = 1;
    req.tag = "vip";
    req.is_company = &yes;
    struct exchange_page_req pr;
    exchange_page_request(&req, "tok", 1000, &pr);
    CHECK_STR(pr.service, "customers");
    CHECK_STR(pr.method, "customers.ListCustomers");
    CHECK(pr.msg == &pr.list.base && pr.resp_desc == &crm__list_customers_response__descriptor);
    CHECK(pr.list.page_size == 1000 && !strcmp(pr.list.page_token, "tok"));
    CHECK(!strcmp(pr.list.tag, "vip") && pr.list.is_company == &yes);
    /* With q: search, at most its page size. */
    req.q = "anna";
    exchange_page_request(&req, "", 1000, &pr);
    CHECK_STR(pr.method, "search.SearchCustomers");
    CHECK(pr.msg == &pr.search.base && pr.search.page_size == EXCHANGE_SEARCH_PAGE);
    CHECK(!strcmp(pr.search.q, "anna") && !strcmp(pr.search.tag, "vip"));
    exchange_page_request(&req, "", 7, &pr);
    CHECK(pr.search.page_size == 7);
}

static ProtobufCMessage *s_list(int n, const char *next, int total)
{
    Crm__ListCustomersResponse *r =
        (Crm__ListCustomersResponse *)cm_pb_new(&crm__list_customers_response__descriptor);
    r->customers = cm_calloc((size_t)n + 1, sizeof *r->customers);
    for (int i = 0; i < n; i++) {
        Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
        char name[16];
        snprintf(name, sizeof name, "N%d", i);
        cm_pb_set_str(&c->first_name, name);
        cm_pb_set_str(&c->last_name, "=x");
        r->customers[r->n_customers++] = c;
    }
    cm_pb_set_str(&r->next_page_token, next);
    r->total_size = total;
    return &r->base;
}

static void test_page_take_and_csv_rows(void)
{
    struct exchange_page pg;
    exchange_page_take(false, s_list(2, "more", 5), &pg);
    CHECK(pg.n == 2 && !strcmp(pg.next, "more") && pg.total == 5);
    cm_buf_t out, cell;
    cm_buf_init(&out, 0);
    cm_buf_init(&cell, 0);
    exchange_csv_header(&out, ';', EXCHANGE_HEADERS_API);
    CHECK(!memcmp(out.data, "\xEF\xBB\xBF\"id\";\"firstName\";", 19));
    cm_buf_t de;
    cm_buf_init(&de, 0);
    exchange_csv_header(&de, ',', EXCHANGE_HEADERS_DE);
    const char *want = "\xEF\xBB\xBF\"Kunden-ID\",\"Vorname\",\"Nachname\",\"E-Mail\",";
    CHECK(de.len > strlen(want) && !memcmp(de.data, want, strlen(want)));
    cm_buf_release(&de);
    CHECK(out.len > 2 && !memcmp(out.data + out.len - 2, "\r\n", 2));
    size_t head = out.len;
    exchange_csv_customer(&out, &cell, pg.customers[1], NULL, ';');
    /* id empty, the name, the formula-like last name guarded. */
    CHECK(!strncmp(out.data + head, "\"\";\"N1\";\"'=x\";", 14));
    size_t seps = 0;
    for (size_t i = head; i < out.len; i++)
        seps += out.data[i] == ';';
    CHECK(seps == exchange_n_columns - 1);
    exchange_page_release(&pg);
    CHECK(pg.resp == NULL && pg.n == 0);
    cm_buf_release(&out);
    cm_buf_release(&cell);
}

/* Pages of a fake selection: 3 pages of 2, then a failure when asked. */
struct s_pages {
    int served;
    int fail_at;
    long progress;
};

static int s_read(void *ctx, const char *token, struct exchange_page *pg)
{
    struct s_pages *p = ctx;
    CHECK(strtol(token, NULL, 10) == p->served);
    if (p->served == p->fail_at)
        return -1;
    p->served++;
    char next[16];
    snprintf(next, sizeof next, "%d", p->served);
    exchange_page_take(false, s_list(2, p->served < 3 ? next : "", 6), pg);
    return 0;
}

static void s_progress(void *ctx, long rows)
{
    ((struct s_pages *)ctx)->progress = rows;
}

static void test_workbook_built_from_pages(void)
{
    char dir[] = "/tmp/test_pages_XXXXXX";
    CHECK(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/book.xlsx", dir);
    struct s_pages p = {0, -1, 0};
    struct exchange_zone utc;
    exchange_zone_init_utc(&utc);
    cm_err_t err;
    char why[200] = "";
    CHECK(exchange_workbook_build(path, dir, EXCHANGE_HEADERS_API, &utc, s_read, s_progress, &p,
                                  &err, why, sizeof why) == 6);
    CHECK(err == CM_OK && p.served == 3 && p.progress == 6);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    char magic[2];
    CHECK(fread(magic, 1, 2, f) == 2 && !memcmp(magic, "PK", 2));
    fclose(f);
    /* A page that cannot be read: -1, and the reader said why (err OK). */
    struct s_pages q = {0, 1, 0};
    CHECK(exchange_workbook_build(path, dir, EXCHANGE_HEADERS_BG, &utc, s_read, NULL, &q, &err, why,
                                  sizeof why) == -1);
    CHECK(err == CM_OK && q.served == 1);
    exchange_zone_release(&utc);
    unlink(path);
    rmdir(dir);
}

static void test_filename(void)
{
    char name[64];
    exchange_filename(name, sizeof name, "20261206-124700", "csv");
    CHECK_STR(name, "customers-20261206-124700.csv");
}

int main(void)
{
    RUN(test_page_request_list_or_search);
    RUN(test_page_take_and_csv_rows);
    RUN(test_workbook_built_from_pages);
    RUN(test_filename);
    return 0;
}
