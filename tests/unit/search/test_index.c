/* The index: matching, ranking, phone digits, filters, paging, versions and
 * tombstones, events, limits. */
#include "search_fold.h"
#include "search_index.h"
#include "search_sync.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#define T1 "00000000-0000-4000-8000-000000000001"
#define T2 "00000000-0000-4000-8000-000000000002"

/* A customer with id number n (ids sort by n), at version 1. */
static Crm__Customer *s_cust(int n, const char *first, const char *last)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    char id[40], created[40];
    snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", n);
    snprintf(created, sizeof created, "2024-01-01T00:00:%02d.000000Z", n % 60);
    cm_pb_set_str(&c->id, id);
    cm_pb_set_str(&c->first_name, first);
    cm_pb_set_str(&c->last_name, last);
    cm_pb_set_str(&c->etag, "1");
    cm_pb_set_str(&c->created_at, created);
    return c;
}

static void s_put(search_index_t *idx, const char *tenant, Crm__Customer *c)
{
    CHECK(search_index_put(idx, tenant, c) == 1);
    crm__customer__free_unpacked(c, NULL);
}

struct res {
    Crm__SearchCustomersResponse *r;
    cm_err_t err;
    struct search_problem problem;
};

static struct res s_find(search_index_t *idx, const char *tenant, const char *q, const char *order,
                         int page, const char *token)
{
    Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.q = (char *)q;
    req.order_by = (char *)(order ? order : "");
    req.page_size = page;
    req.page_token = (char *)(token ? token : "");
    struct res out = {0};
    out.r = (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
    out.err = search_index_search(idx, tenant, &req, out.r, &out.problem);
    return out;
}

/* The last-name digits of the ids found, as "1,2,3". */
static char *s_ids(const Crm__SearchCustomersResponse *r)
{
    static char buf[1024];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_customers; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%ld", i ? "," : "",
                              strtol(r->customers[i]->id + 24, NULL, 10));
    return buf;
}

static void s_expect(search_index_t *idx, const char *q, const char *want)
{
    struct res x = s_find(idx, T1, q, NULL, 100, NULL);
    CHECK(x.err == CM_OK);
    if (strcmp(s_ids(x.r), want) != 0) {
        fprintf(stderr, "q=\"%s\": got %s, want %s\n", q, s_ids(x.r), want);
        abort();
    }
    crm__search_customers_response__free_unpacked(x.r, NULL);
}

static search_index_t *s_sample(void)
{
    search_index_t *idx = search_index_new();
    s_put(idx, T1, s_cust(1, "Jan", "Kowalski"));
    s_put(idx, T1, s_cust(2, "Łukasz", "Müller"));
    s_put(idx, T1, s_cust(3, "Øyvind", "Ødegård"));
    s_put(idx, T1, s_cust(4, "Иван", "Петров"));
    s_put(idx, T1, s_cust(5, "Άννα", "Straße"));
    s_put(idx, T1, s_cust(6, "Barbara", "Nowak"));
    s_put(idx, T1, s_cust(7, "Adam", "Brown"));
    s_put(idx, T1, s_cust(8, "Kowal", "Jan"));
    Crm__Customer *c = s_cust(9, "", "");
    c->is_company = true;
    c->company = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
    cm_pb_set_str(&c->company->name, "Bistro Janina");
    cm_pb_set_str(&c->email, "biuro.glowne_x+crm@bistro.example");
    cm_pb_set_str(&c->phone, "+48600123456");
    s_put(idx, T1, c);
    /* Another tenant's customer is never seen. */
    s_put(idx, T2, s_cust(10, "Jan", "Kowalski"));
    return idx;
}

static void test_matching_scripts(void)
{
    search_index_t *idx = s_sample();
    s_expect(idx, "muller", "2");
    s_expect(idx, "MÜLL", "2");
    s_expect(idx, "lukasz", "2");
    s_expect(idx, "odegard", "3");
    s_expect(idx, "oyv", "3");
    s_expect(idx, "ив", "4");
    s_expect(idx, "ИВАН петров", "4");
    s_expect(idx, "αννα", "5");
    s_expect(idx, "Άννα", "5");
    s_expect(idx, "strasse", "5");
    s_expect(idx, "STRAß", "5");
    s_expect(idx, "zzz", "");
    search_index_destroy(&idx);
}

static void test_ranking(void)
{
    search_index_t *idx = s_sample();
    /* An exact name first (either way round), then last name, first name, company. */
    s_expect(idx, "jan kowalski", "1");
    s_expect(idx, "kowal jan", "8,1"); /* exact "first last" reversed comes first */
    s_expect(idx, "jan", "8,1,9");     /* exact last "Jan", then first name, then company */
    s_expect(idx, "b", "7,6,9");       /* last name Brown, first name Barbara, company */
    s_expect(idx, "bistro", "9");      /* company word */
    s_expect(idx, "janina", "9");
    s_expect(idx, "n", "6"); /* Nowak */
    search_index_destroy(&idx);
}

static void test_email_and_phone(void)
{
    search_index_t *idx = s_sample();
    s_expect(idx, "biuro.glowne_x+crm@bistro.example", "9");
    s_expect(idx, "biuro.gl", "9");
    s_expect(idx, "glowne", "9"); /* after a dot of the local part */
    s_expect(idx, "x+crm", "9");  /* after an underscore */
    s_expect(idx, "crm@bis", "9");
    s_expect(idx, "bistro.example", ""); /* the domain alone is not a word start */
    s_expect(idx, "600 123", "9");
    s_expect(idx, "+48600123", "9");
    s_expect(idx, "0048 600", "9");
    s_expect(idx, "0600123456", "9"); /* a national trunk 0 */
    s_expect(idx, "123 456", "9");
    s_expect(idx, "3456", "9");
    s_expect(idx, "60", ""); /* under 3 digits: no phone matching */
    /* A prefix is dropped only when 3 digits remain: "0012" and "012" are digits as typed. */
    s_expect(idx, "0012", "9");
    s_expect(idx, "012", "9");
    s_expect(idx, "0013", "");
    s_expect(idx, "999", "");
    s_expect(idx, "bistro 600", "9");
    s_expect(idx, "jan 600", "9");
    search_index_destroy(&idx);
}

static void test_orders_and_paging(void)
{
    search_index_t *idx = search_index_new();
    const char *firsts[] = {"Ewa", "Adam", "Cezary", "Beata", "Dorota", "Adam", "Ewa"};
    for (int i = 0; i < 7; i++)
        s_put(idx, T1, s_cust(i + 1, firsts[i], "Zielinski"));
    s_put(idx, T1, s_cust(8, "Zofia", "Anders"));
    s_expect(idx, "z", "2,6,4,3,5,1,7,8"); /* last name Zielinski by first name, then Zofia */
    struct res x = s_find(idx, T1, "z", "firstName desc", 100, NULL);
    CHECK_STR(s_ids(x.r), "8,7,1,5,3,4,6,2");
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "z", "createdAt desc", 100, NULL);
    CHECK_STR(s_ids(x.r), "8,7,6,5,4,3,2,1");
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "z", "lastName", 100, NULL);
    CHECK_STR(s_ids(x.r), "8,2,6,4,3,5,1,7");
    crm__search_customers_response__free_unpacked(x.r, NULL);

    /* Pages of 3 continue the exact order, and a change between pages
     * neither repeats nor skips what stays. */
    char all[256] = "";
    char *token = NULL;
    for (int page = 0; page < 4; page++) {
        x = s_find(idx, T1, "z", NULL, 3, token);
        CHECK(x.err == CM_OK);
        CHECK(x.r->total_size == 8 && !x.r->total_size_is_lower_bound);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? "," : "",
                 s_ids(x.r));
        free(token);
        token = x.r->next_page_token[0] ? cm_strdup(x.r->next_page_token) : NULL;
        crm__search_customers_response__free_unpacked(x.r, NULL);
        if (!token)
            break;
    }
    CHECK_STR(all, "2,6,4,3,5,1,7,8");
    /* A token belongs to its query. */
    x = s_find(idx, T1, "z", NULL, 3, NULL);
    char *tok = cm_strdup(x.r->next_page_token);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "zi", NULL, 3, tok);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.field, "pageToken"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "z", "firstName", 3, tok);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.field, "pageToken"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "z", NULL, 3, "r.a.1.zz");
    CHECK(x.err == CM_ERR_INVALID);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    free(tok);
    search_index_destroy(&idx);
}

static void test_filters(void)
{
    search_index_t *idx = search_index_new();
    for (int i = 1; i <= 6; i++) {
        Crm__Customer *c = s_cust(i, "Filip", "Filter");
        c->is_company = i % 2 == 0;
        if (i <= 2) {
            c->n_groups = 1;
            c->groups = cm_calloc(1, sizeof *c->groups);
            c->groups[0] = cm_strdup("Stali Klienci");
        }
        if (i >= 5) {
            c->n_tags = 1;
            c->tags = cm_calloc(1, sizeof *c->tags);
            c->tags[0] = cm_strdup("vip");
        }
        if (i == 3) {
            c->account = (Crm__Account *)cm_pb_new(&crm__account__descriptor);
            c->account->status = CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE;
        }
        s_put(idx, T1, c);
    }
    Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.q = (char *)"fil";
    Crm__BoolValue yes = CRM__BOOL_VALUE__INIT, no = CRM__BOOL_VALUE__INIT;
    yes.value = true;
    struct search_problem p;
    struct {
        const char *group, *tag;
        Crm__BoolValue *company, *account;
        int status;
        const char *want;
    } cases[] = {
        {"stali klienci", "", NULL, NULL, 0, "1,2"}, /* groups match case-insensitively */
        {"", "vip", NULL, NULL, 0, "5,6"},
        {"", "VIP", NULL, NULL, 0, ""}, /* tags exactly */
        {"", "", &yes, NULL, 0, "2,4,6"},
        {"", "", &no, NULL, 0, "1,3,5"},
        {"", "", NULL, &yes, 0, "3"},
        {"", "", NULL, &no, 0, "1,2,4,5,6"},
        {"", "", NULL, NULL, 2, "3"},
        {"Stali Klienci", "vip", NULL, NULL, 0, ""},
        {"", "vip", &yes, NULL, 0, "6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        req.group = (char *)cases[i].group;
        req.tag = (char *)cases[i].tag;
        req.is_company = cases[i].company;
        req.has_account = cases[i].account;
        req.account_status = (Crm__AccountStatus)cases[i].status;
        Crm__SearchCustomersResponse *r =
            (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
        CHECK(search_index_search(idx, T1, &req, r, &p) == CM_OK);
        if (strcmp(s_ids(r), cases[i].want) != 0) {
            fprintf(stderr, "case %zu: got %s want %s\n", i, s_ids(r), cases[i].want);
            abort();
        }
        CHECK(r->no_match == !cases[i].want[0]);
        crm__search_customers_response__free_unpacked(r, NULL);
    }
    search_index_destroy(&idx);
}

static void test_versions_and_tombstones(void)
{
    search_index_t *idx = search_index_new();
    Crm__Customer *c = s_cust(1, "Anna", "Stara");
    cm_pb_set_str(&c->etag, "3");
    CHECK(search_index_put(idx, T1, c) == 1);
    CHECK(search_index_version(idx, T1, c->id) == 3);
    /* An older or the same version changes nothing. */
    cm_pb_set_str(&c->last_name, "Nowa");
    cm_pb_set_str(&c->etag, "2");
    CHECK(search_index_put(idx, T1, c) == 0);
    cm_pb_set_str(&c->etag, "3");
    CHECK(search_index_put(idx, T1, c) == 0);
    s_expect(idx, "stara", "1");
    s_expect(idx, "nowa", "");
    /* A newer one replaces every token. */
    cm_pb_set_str(&c->etag, "4");
    CHECK(search_index_put(idx, T1, c) == 1);
    s_expect(idx, "stara", "");
    s_expect(idx, "nowa", "1");
    /* Deleted: gone, and a late update does not bring it back. */
    CHECK(search_index_delete(idx, T1, c->id) == 1);
    CHECK(search_index_version(idx, T1, c->id) == -1);
    cm_pb_set_str(&c->etag, "5");
    CHECK(search_index_put(idx, T1, c) == 0);
    s_expect(idx, "nowa", "");
    /* A delete of an id never seen leaves a tombstone too. */
    Crm__Customer *d = s_cust(2, "Ghost", "Ghost");
    CHECK(search_index_delete(idx, T1, d->id) == 0);
    CHECK(search_index_put(idx, T1, d) == 0);
    s_expect(idx, "ghost", "");
    /* Bad ids and etags are refused. */
    cm_pb_set_str(&d->id, "not-a-uuid");
    CHECK(search_index_put(idx, T1, d) == -1);
    cm_pb_set_str(&d->id, "00000000-0000-4000-8000-000000000003");
    cm_pb_set_str(&d->etag, "x");
    CHECK(search_index_put(idx, T1, d) == -1);
    CHECK(search_index_count(idx) == 0);
    crm__customer__free_unpacked(c, NULL);
    crm__customer__free_unpacked(d, NULL);
    search_index_destroy(&idx);
}

/* Events apply through search_sync_apply exactly like the stream does. */
static void s_event(search_index_t *idx, const char *type, const Crm__Customer *c)
{
    Crm__CustomerEvent ce = CRM__CUSTOMER_EVENT__INIT;
    ce.customer = (Crm__Customer *)c;
    uint8_t buf[4096];
    size_t n = crm__customer_event__pack(&ce, buf);
    Crm__Event ev = CRM__EVENT__INIT;
    ev.type = (char *)type;
    ev.tenant_id = (char *)T1;
    ev.payload.data = buf;
    ev.payload.len = n;
    CHECK(search_sync_apply(idx, &ev) == 0);
}

static void test_events(void)
{
    search_index_t *idx = search_index_new();
    Crm__Customer *c = s_cust(1, "Eva", "Event");
    s_event(idx, "customer.created", c);
    s_expect(idx, "event", "1");
    cm_pb_set_str(&c->last_name, "Renamed");
    cm_pb_set_str(&c->etag, "2");
    s_event(idx, "customer.updated", c);
    s_expect(idx, "event", "");
    s_expect(idx, "renamed", "1");
    /* A replayed older event is ignored. */
    cm_pb_set_str(&c->last_name, "Event");
    cm_pb_set_str(&c->etag, "1");
    s_event(idx, "customer.created", c);
    s_expect(idx, "renamed", "1");
    s_event(idx, "customer.deleted", c);
    s_expect(idx, "renamed", "");
    s_event(idx, "group.renamed", c); /* other types: nothing */
    crm__customer__free_unpacked(c, NULL);
    search_index_destroy(&idx);
}

/* customer.merged: the duplicate leaves, the kept customer is indexed as it
 * is after the merge (crm.CustomerMergedEvent). */
static void test_merged_event(void)
{
    search_index_t *idx = search_index_new();
    Crm__Customer *keep = s_cust(1, "Mia", "Hansen");
    Crm__Customer *dup = s_cust(2, "Mia", "Hansen");
    s_event(idx, "customer.created", keep);
    s_event(idx, "customer.created", dup);
    s_expect(idx, "hansen", "1,2");
    cm_pb_set_str(&keep->phone, "+4791234567");
    cm_pb_set_str(&keep->etag, "2");
    Crm__CustomerMergedEvent me = CRM__CUSTOMER_MERGED_EVENT__INIT;
    me.customer = keep;
    me.merged_id = dup->id;
    me.merged_etag = dup->etag;
    uint8_t buf[4096];
    Crm__Event ev = CRM__EVENT__INIT;
    ev.type = (char *)"customer.merged";
    ev.tenant_id = (char *)T1;
    ev.payload.data = buf;
    ev.payload.len = crm__customer_merged_event__pack(&me, buf);
    CHECK(search_sync_apply(idx, &ev) == 0);
    s_expect(idx, "hansen", "1");
    s_expect(idx, "91234567", "1");
    /* Applied again (a replay): the same. */
    CHECK(search_sync_apply(idx, &ev) == 0);
    s_expect(idx, "hansen", "1");
    crm__customer__free_unpacked(keep, NULL);
    crm__customer__free_unpacked(dup, NULL);
    search_index_destroy(&idx);
}

static void test_limits_and_suggestion(void)
{
    search_index_t *idx = s_sample();
    char q[1024];
    memset(q, 'a', 200);
    q[200] = '\0';
    struct res x = s_find(idx, T1, q, NULL, 0, NULL);
    CHECK(x.err == CM_OK);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    q[200] = 'a';
    q[201] = '\0';
    x = s_find(idx, T1, q, NULL, 0, NULL);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.field, "q") &&
          !strcmp(x.problem.reason, "TOO_LONG"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "a b c d e f g h i j", NULL, 0, NULL);
    CHECK(x.err == CM_OK);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "a b c d e f g h i j k", NULL, 0, NULL);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.reason, "TOO_MANY"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, " - ", NULL, 0, NULL);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.reason, "REQUIRED"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "a", NULL, 101, NULL);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.field, "pageSize"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "a", "phone", 0, NULL);
    CHECK(x.err == CM_ERR_INVALID && !strcmp(x.problem.field, "orderBy"));
    crm__search_customers_response__free_unpacked(x.r, NULL);

    /* The empty result: the query split into names, the user's casing kept. */
    x = s_find(idx, T1, "Zenon Van Dyke", NULL, 0, NULL);
    CHECK(x.err == CM_OK && x.r->no_match && x.r->n_customers == 0 && x.r->suggestion);
    CHECK_STR(x.r->suggestion->first_name, "Zenon");
    CHECK_STR(x.r->suggestion->last_name, "Van Dyke");
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "Zenonowicz", NULL, 0, NULL);
    CHECK_STR(x.r->suggestion->first_name, "");
    CHECK_STR(x.r->suggestion->last_name, "Zenonowicz");
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "zz@nowhere.example 777 888", NULL, 0, NULL);
    CHECK_STR(x.r->suggestion->email, "zz@nowhere.example");
    CHECK_STR(x.r->suggestion->phone, "777 888");
    crm__search_customers_response__free_unpacked(x.r, NULL);
    x = s_find(idx, T1, "jan", NULL, 0, NULL);
    CHECK(!x.r->no_match && x.r->suggestion == NULL);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    search_index_destroy(&idx);
}

static void test_total_cap(void)
{
    search_index_t *idx = search_index_new();
    for (int i = 1; i <= SEARCH_TOTAL_CAP + 5; i++)
        s_put(idx, T1, s_cust(i, "Many", "Manyson"));
    struct res x = s_find(idx, T1, "man", NULL, 0, NULL);
    CHECK(x.r->total_size == SEARCH_TOTAL_CAP && x.r->total_size_is_lower_bound);
    CHECK(x.r->n_customers == SEARCH_PAGE_DEFAULT);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    size_t bytes = search_index_stats(idx, NULL, NULL);
    CHECK(bytes > (size_t)SEARCH_TOTAL_CAP * 50 && bytes < (size_t)SEARCH_TOTAL_CAP * 2000);
    search_index_destroy(&idx);
}

/* ---- the fast paths give what the general path gives ---- */

static unsigned s_rand_state = 12345;
static unsigned s_rand(unsigned n)
{
    s_rand_state = s_rand_state * 1103515245u + 12345u;
    return (s_rand_state >> 8) % n;
}

static const char *s_pick(const char *const *a, size_t n)
{
    return a[s_rand((unsigned)n)];
}

/* Names that share prefixes, long common starts (sort keys tie beyond 8
 * bytes), several words, scripts, and an empty one. */
static const char *const s_firsts[] = {"Jan",       "Jana",     "Janina", "Anna",  "Kowal",
                                       "Łukasz",    "Lukas",    "Иван",   "Ива",   "Åsa",
                                       "Ana María", "Kowalski", "",       "Nowak", "B"};
static const char *const s_lasts[] = {
    "Kowalski", "Kowalskiewicz", "Kowalskiego",     "Kowal",  "Nowak",   "Nowakowska",
    "Jan",      "Anna",          "García Núñez",    "Петров", "Ødegård", "O'Brien",
    "",         "Bauer-Kowal",   "Kowalskiewiczowa"};
static const char *const s_companies[] = {"Jan Bistro", "Kowal & Syn", "Nowak", "Anna", "Bauer"};
static const char *const s_domains[] = {"example.com", "kowal.pl", "jan.de"};

/* When set, most first names are "Karol": a query's count then passes the
 * cap in a later tier than the one that fills the page. */
static bool s_skew;

static Crm__Customer *s_rand_cust(int n)
{
    const char *first = s_pick(s_firsts, sizeof s_firsts / sizeof *s_firsts);
    if (s_skew && s_rand(10))
        first = "Karol";
    Crm__Customer *c = s_cust(n, first, s_pick(s_lasts, sizeof s_lasts / sizeof *s_lasts));
    char created[40], email[120], phone[32];
    snprintf(created, sizeof created, "2024-01-%02uT00:00:00.000000Z", 1 + s_rand(3));
    cm_pb_set_str(&c->created_at, created);
    if (s_rand(4) == 0) {
        c->is_company = s_rand(2);
        c->company = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
        cm_pb_set_str(&c->company->name,
                      s_pick(s_companies, sizeof s_companies / sizeof *s_companies));
    }
    if (s_rand(3)) {
        static const char *const locals[] = {"jan.kowalski", "anna_nowak",   "kowal+crm",
                                             "biuro",        "j-nowak",      "annak",
                                             "x.jan",        "kowalczykowa", "600kowal"};
        snprintf(email, sizeof email, "%s%u@%s", s_pick(locals, 9), s_rand(10),
                 s_pick(s_domains, 3));
        cm_pb_set_str(&c->email, email);
    }
    /* Skewed, every customer has a +48 600 number: "48600" then matches
     * more than the count cap, and a page past it is chosen by label. */
    if (s_skew || s_rand(2)) {
        static const char *const prefixes[] = {"+48600", "+48512", "+4930", "+420777", "600"};
        snprintf(phone, sizeof phone, "%s%06u", s_skew ? "+48600" : s_pick(prefixes, 5),
                 s_rand(1000000));
        cm_pb_set_str(&c->phone, phone);
    }
    if (s_rand(3) == 0) {
        c->n_groups = 1;
        c->groups = cm_calloc(1, sizeof *c->groups);
        c->groups[0] = cm_strdup(s_rand(2) ? "Stali" : "Nowi");
    }
    if (s_rand(3) == 0) {
        c->n_tags = 1;
        c->tags = cm_calloc(1, sizeof *c->tags);
        c->tags[0] = cm_strdup("vip");
    }
    if (s_rand(4) == 0) {
        c->account = (Crm__Account *)cm_pb_new(&crm__account__descriptor);
        c->account->status = (Crm__AccountStatus)(1 + s_rand(2));
    }
    return c;
}

/* Every page of q (through the tokens) and its totals are the same from a
 * fast and a general index. Returns the pages seen. */
static int s_same_pages(search_index_t *fast, search_index_t *general, const char *q,
                        const char *order, int page, const char *group, const char *tag,
                        Crm__BoolValue *company, int status)
{
    Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.q = (char *)q;
    req.order_by = (char *)order;
    req.page_size = page;
    req.group = (char *)group;
    req.tag = (char *)tag;
    req.is_company = company;
    req.account_status = (Crm__AccountStatus)status;
    char token[1024] = "";
    int pages = 0;
    for (;;) {
        req.page_token = token;
        Crm__SearchCustomersResponse *r[2];
        struct search_problem p;
        search_index_t *idx[2] = {fast, general};
        for (int i = 0; i < 2; i++) {
            r[i] = (Crm__SearchCustomersResponse *)cm_pb_new(
                &crm__search_customers_response__descriptor);
            CHECK(search_index_search(idx[i], T1, &req, r[i], &p) == CM_OK);
        }
        char got[1024];
        snprintf(got, sizeof got, "%s", s_ids(r[0]));
        if (strcmp(got, s_ids(r[1])) != 0 || r[0]->total_size != r[1]->total_size ||
            r[0]->total_size_is_lower_bound != r[1]->total_size_is_lower_bound ||
            r[0]->no_match != r[1]->no_match ||
            strcmp(r[0]->next_page_token, r[1]->next_page_token) != 0) {
            fprintf(stderr,
                    "q=\"%s\" order=\"%s\" page=%d group=\"%s\" tag=\"%s\" page %d:\n"
                    "  fast    %s total %d%s\n  general %s total %d%s\n",
                    q, order, page, group, tag, pages, got, r[0]->total_size,
                    r[0]->total_size_is_lower_bound ? "+" : "", s_ids(r[1]), r[1]->total_size,
                    r[1]->total_size_is_lower_bound ? "+" : "");
            abort();
        }
        pages++;
        snprintf(token, sizeof token, "%s", r[0]->next_page_token);
        for (int i = 0; i < 2; i++)
            crm__search_customers_response__free_unpacked(r[i], NULL);
        if (!token[0] || pages >= 40)
            return pages;
    }
}

static const char *const s_queries[] = {"k",
                                        "ko",
                                        "kow",
                                        "kowal",
                                        "kowalski",
                                        "kowalskiewicz",
                                        "jan",
                                        "j",
                                        "ja",
                                        "janina",
                                        "anna",
                                        "a",
                                        "b",
                                        "bauer",
                                        "n",
                                        "nowak",
                                        "ив",
                                        "иван",
                                        "петров",
                                        "o",
                                        "obrien",
                                        "o'brien",
                                        "x",
                                        "biuro",
                                        "lukasz",
                                        "łuk",
                                        "garcia",
                                        "nunez",
                                        "ana maria",
                                        "jan k",
                                        "kowal jan",
                                        "jan kowalski",
                                        "anna nowak",
                                        "k n",
                                        "bauer-kowal",
                                        "600",
                                        "48600",
                                        "kowal 600",
                                        "z",
                                        "jan.kowalski",
                                        "kowal+crm",
                                        "ana",
                                        "kowalskiego",
                                        "B",
                                        "karol",
                                        "ka",
                                        "kowalczyk",
                                        "kowalczykowa",
                                        "kowalczykowa3",
                                        "kowalc",
                                        "kowalczykowy",
                                        "jan j",
                                        "an a",
                                        "ka k",
                                        "n k j",
                                        "ko ja",
                                        "a b",
                                        "ж ив",
                                        "kowal k 600",
                                        "kowal k",
                                        "kowalski kow",
                                        "jana j",
                                        "anna a",
                                        "karol k",
                                        "karol ka",
                                        "k k",
                                        "ko ko ko",
                                        "jan kowalski jan",
                                        "nowak n",
                                        "иван и",
                                        "łukasz ł",
                                        "lukas l",
                                        "a a",
                                        "b bauer",
                                        "kowalczykowy k",
                                        "lukas kowalczykowy",
                                        "anna kowalczykowy",
                                        "jan kowalczykowa",
                                        "lukas karol",
                                        "janina karol",
                                        "anna karol k",
                                        "6001",
                                        "600 12",
                                        "0048 600 1",
                                        "+48 600 0",
                                        "1234",
                                        "00 11",
                                        "jan 600"};

/* When 1, the fast index ranks several words tier by tier whenever their
 * candidates allow it, however costly; when 2, it gives up on that at
 * once, mostly in the middle of the page. */
static int s_walk_tiers;

/* bulk: the fast index is loaded in bulk (as a snapshot is) from half-way
 * on, the other not. */
static void s_compare_random(int n_docs, int n_queries, bool bulk)
{
    search_index_t *fast = search_index_new(), *general = search_index_new();
    search_index_set_fast(general, false);
    if (s_walk_tiers)
        search_index_set_walk(fast, 0, s_walk_tiers == 1 ? SIZE_MAX / 2 : 1);
    /* Bitmaps for prefixes of 16 customers on: the book is small. */
    search_index_set_bitmap_min(fast, 16);
    for (int i = 1; i <= n_docs; i++) {
        /* The load starts half-way: what the index held is numbered again. */
        if (bulk && i == n_docs / 2)
            search_index_bulk(fast, true);
        Crm__Customer *c = s_rand_cust(i);
        CHECK(search_index_put(fast, T1, c) == 1);
        CHECK(search_index_put(general, T1, c) == 1);
        crm__customer__free_unpacked(c, NULL);
        /* Some customers change (new names, new postings) or go. */
        if (i > 10 && s_rand(10) == 0) {
            int victim = 1 + (int)s_rand((unsigned)i - 1);
            char id[40];
            snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", victim);
            if (s_rand(2)) {
                search_index_delete(fast, T1, id);
                search_index_delete(general, T1, id);
            } else {
                Crm__Customer *u = s_rand_cust(victim);
                cm_pb_set_str(&u->etag, "2");
                search_index_put(fast, T1, u);
                search_index_put(general, T1, u);
                crm__customer__free_unpacked(u, NULL);
            }
        }
    }
    if (bulk) {
        search_index_bulk(fast, false);
        /* After the load it takes single changes like any index. */
        Crm__Customer *u = s_rand_cust(n_docs + 1);
        CHECK(search_index_put(fast, T1, u) == 1);
        CHECK(search_index_put(general, T1, u) == 1);
        crm__customer__free_unpacked(u, NULL);
    }
    Crm__BoolValue yes = CRM__BOOL_VALUE__INIT;
    yes.value = true;
    static const char *const orders[] = {
        "", "", "", "relevance desc", "lastName", "firstName desc", "email", "updatedAt desc"};
    size_t nq = sizeof s_queries / sizeof *s_queries;
    for (int i = 0; i < n_queries; i++) {
        const char *q = s_queries[(size_t)i < nq ? (size_t)i : s_rand((unsigned)nq)];
        int f = (size_t)i < nq ? 0 : (int)s_rand(8); /* each query unfiltered first */
        s_same_pages(fast, general, q, (size_t)i < nq ? "" : s_pick(orders, 8),
                     1 + (int)s_rand(n_docs > 1000 ? 100 : 7), f == 1 ? "stali" : "",
                     f == 2 ? "vip" : "", f == 3 ? &yes : NULL, f == 4 ? 1 : 0);
    }
    search_index_destroy(&fast);
    search_index_destroy(&general);
}

static void test_fast_paths_agree(void)
{
    /* Small: every page through the tokens, with filters and orders. */
    s_compare_random(400, 300, false);
    /* Several words ranked tier by tier, however few their candidates and
     * however costly; then giving up on that part-way. */
    for (s_walk_tiers = 1; s_walk_tiers <= 2; s_walk_tiers++)
        s_compare_random(400, 300, false);
    s_walk_tiers = 0;
    /* Past the count cap: the early stop must count exactly to it. */
    s_skew = true;
    for (s_walk_tiers = 0; s_walk_tiers <= 2; s_walk_tiers++)
        s_compare_random(SEARCH_TOTAL_CAP + 2500, 100, false);
    s_walk_tiers = 0;
    s_skew = false;
}

/* The total of a short word is read from a table of prefix counts: it
 * agrees with counting while customers come, change and go, across scripts
 * (a 3-letter Cyrillic prefix is 6 bytes, the longest the table keeps), and
 * a customer with more distinct prefixes than one is allowed turns the table
 * off for its tenant instead of making it wrong. */
static void test_prefix_counts(void)
{
    search_index_t *fast = search_index_new(), *general = search_index_new();
    search_index_set_fast(general, false);
    static const char *const names[][2] = {
        {"Иван", "Иванов"},  {"Ивана", "Петрова"}, {"Anna", "Abbott"},
        {"Ann", "Kowalski"}, {"Jan", "Kowal"},     {"Łukasz", "Łoś"},
        {"Lukas", "Lustig"}, {"Zoë", "Ødegård"},   {"Anna Maria", "van der Berg"}};
    static const char *const qs[] = {"и",  "ив",  "ива", "иван", "a",   "an",  "ann", "ab",
                                     "k",  "ko",  "kow", "l",    "lu",  "luk", "ø",   "o",
                                     "od", "ber", "van", "zo",   "zzz", "by",  "bzz"};
    int id = 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++, id++) {
        for (int k = 0; k < 2; k++)
            s_put(k ? general : fast, T1, s_cust(id, names[i][0], names[i][1]));
        for (size_t j = 0; j < sizeof qs / sizeof *qs; j++)
            s_same_pages(fast, general, qs[j], "", 3, "", "", NULL, 0);
    }
    /* Renamed, then gone. */
    for (int k = 0; k < 2; k++) {
        Crm__Customer *c = s_cust(3, "Bea", "Nowak");
        cm_pb_set_str(&c->etag, "2");
        s_put(k ? general : fast, T1, c);
        search_index_delete(k ? general : fast, T1, "00000000-0000-4000-8000-000000000001");
    }
    for (size_t j = 0; j < sizeof qs / sizeof *qs; j++)
        s_same_pages(fast, general, qs[j], "", 3, "", "", NULL, 0);
    /* A made-up customer with over a hundred distinct short prefixes. */
    char many[2048] = "";
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 26; b++) {
            char w[8] = {(char)('a' + a), (char)('a' + b), (char)('a' + b), ' ', 0};
            strcat(many, w);
        }
    for (int k = 0; k < 2; k++)
        s_put(k ? general : fast, T1, s_cust(id, many, "Many"));
    for (size_t j = 0; j < sizeof qs / sizeof *qs; j++)
        s_same_pages(fast, general, qs[j], "", 3, "", "", NULL, 0);
    for (int k = 0; k < 2; k++)
        search_index_delete(k ? general : fast, T1, "00000000-0000-4000-8000-000000000010");
    for (size_t j = 0; j < sizeof qs / sizeof *qs; j++)
        s_same_pages(fast, general, qs[j], "", 3, "", "", NULL, 0);
    search_index_destroy(&fast);
    search_index_destroy(&general);
}

/* How a customer sorts in an order: its key then its id, as one string. */
typedef void (*s_sort_key_fn)(const Crm__Customer *c, char *out, size_t size);

/* Walks every page of q in order (pages of `page`), checking that each
 * customer's sort key comes strictly after the one before (before, with
 * desc), and that the pages hold totalSize customers. Returns that count. */
static int s_walk(search_index_t *idx, const char *q, const char *order, bool desc, int page,
                  s_sort_key_fn key)
{
    char full[64], token[1024] = "", prev[1200] = "";
    snprintf(full, sizeof full, "%s%s", order, desc ? " desc" : "");
    int seen = 0;
    for (;;) {
        struct res x = s_find(idx, T1, q, full, page, token);
        CHECK(x.err == CM_OK);
        for (size_t i = 0; i < x.r->n_customers; i++) {
            char cur[1200];
            key(x.r->customers[i], cur, sizeof cur);
            if (prev[0] && (desc ? strcmp(prev, cur) <= 0 : strcmp(prev, cur) >= 0)) {
                fprintf(stderr, "q=%s order=%s: \"%s\" then \"%s\"\n", q, full, prev, cur);
                abort();
            }
            snprintf(prev, sizeof prev, "%s", cur);
            seen++;
        }
        snprintf(token, sizeof token, "%s", x.r->next_page_token);
        int total = x.r->total_size;
        crm__search_customers_response__free_unpacked(x.r, NULL);
        if (!token[0]) {
            CHECK(seen == total);
            return seen;
        }
    }
}

/* The name order against its definition: (folded last name, or the
 * company's name for a company without one; folded first name; id), while
 * customers come, are renamed and go (labels given again and again). */
static void s_sort_name(const Crm__Customer *c, char *out, size_t size)
{
    char last[512], first[512];
    const char *l = c->last_name;
    if (!l[0] && c->is_company && c->company)
        l = c->company->name;
    search_fold_words(l, last, sizeof last);
    search_fold_words(c->first_name, first, sizeof first);
    snprintf(out, size, "%s%c%s%c%s", last, 1, first, 1, c->id);
}

static void test_name_order(void)
{
    search_index_t *idx = search_index_new();
    for (int i = 1; i <= 4000; i++) {
        Crm__Customer *c = s_rand_cust(i);
        CHECK(search_index_put(idx, T1, c) == 1);
        if (s_rand(5) == 0) { /* a change that keeps the names keeps the place */
            cm_pb_set_str(&c->etag, "2");
            cm_pb_set_str(&c->email, "changed@example.com");
            CHECK(search_index_put(idx, T1, c) == 1);
        }
        crm__customer__free_unpacked(c, NULL);
        if (i > 10 && s_rand(4) == 0) {
            int victim = 1 + (int)s_rand((unsigned)i - 1);
            char id[40], etag[16];
            snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", victim);
            if (s_rand(3) == 0) {
                search_index_delete(idx, T1, id);
            } else {
                Crm__Customer *u = s_rand_cust(victim);
                snprintf(etag, sizeof etag, "%d", 2 + i);
                cm_pb_set_str(&u->etag, etag);
                search_index_put(idx, T1, u);
                crm__customer__free_unpacked(u, NULL);
            }
        }
    }
    static const char *const qs[] = {"k", "a", "jan", "n", "o"};
    for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++)
        for (int desc = 0; desc < 2; desc++)
            s_walk(idx, qs[qi], "lastName", desc, 9, s_sort_name);
    search_index_destroy(&idx);
}

static int s_count(search_index_t *idx, const char *q)
{
    struct res x = s_find(idx, T1, q, NULL, 0, NULL);
    CHECK(x.err == CM_OK);
    int n = x.r->total_size;
    crm__search_customers_response__free_unpacked(x.r, NULL);
    return n;
}

/* The name order is kept in blocks: a loaded index starts with blocks
 * three-quarters full; many customers arriving at one place split blocks
 * there and use up the room between labels (labels given again); blocks
 * emptied by deletes go, down to none, and the order starts again. */
static void test_name_order_blocks(void)
{
    search_index_t *idx = search_index_new();
    search_index_bulk(idx, true);
    for (int i = 1; i <= 2000; i++) {
        char last[32];
        snprintf(last, sizeof last, "Kowal%02d", i % 50);
        s_put(idx, T1, s_cust(i, "Anna", last));
    }
    search_index_bulk(idx, false);
    /* Each new one sorts first among the Nowaks (ids fall): one place. */
    for (int i = 3500; i > 2000; i--)
        s_put(idx, T1, s_cust(i, "Jan", "Nowak"));
    for (int desc = 0; desc < 2; desc++) {
        CHECK(s_walk(idx, "nowak", "lastName", desc, 97, s_sort_name) == 1500);
        CHECK(s_walk(idx, "k", "lastName", desc, 61, s_sort_name) == 2000);
        CHECK(s_walk(idx, "a", "lastName", desc, 100, s_sort_name) == 2000);
    }
    char id[40];
    for (int i = 1; i <= 2000; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        CHECK(search_index_delete(idx, T1, id) == 1);
    }
    CHECK(s_count(idx, "k") == 0 && s_count(idx, "anna") == 0);
    CHECK(s_walk(idx, "jan", "lastName", true, 33, s_sort_name) == 1500);
    for (int i = 2001; i <= 3500; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        CHECK(search_index_delete(idx, T1, id) == 1);
    }
    CHECK(s_count(idx, "n") == 0);
    s_put(idx, T1, s_cust(4000, "Ola", "Zet"));
    s_put(idx, T1, s_cust(4001, "Ala", "Zet"));
    CHECK(s_walk(idx, "zet", "lastName", false, 1, s_sort_name) == 2);
    search_index_destroy(&idx);
}

static void s_key_email(const Crm__Customer *c, char *out, size_t size)
{
    char *f = search_fold(c->email);
    snprintf(out, size, "%s%c%s", f, 1, c->id);
    free(f);
}

static void s_key_created(const Crm__Customer *c, char *out, size_t size)
{
    snprintf(out, size, "%s%c%s", c->created_at, 1, c->id);
}

static void s_key_updated(const Crm__Customer *c, char *out, size_t size)
{
    snprintf(out, size, "%s%c%s", c->updated_at, 1, c->id);
}

/* The list's other orders against their definitions: e-mail (folded),
 * creation and change time, then id; both directions, page by page. */
static void test_other_orders(void)
{
    search_index_t *idx = search_index_new();
    for (int i = 1; i <= 1500; i++) {
        Crm__Customer *c = s_rand_cust(i);
        char upd[40];
        snprintf(upd, sizeof upd, "2025-0%u-1%uT0%u:00:00.%06uZ", 1 + s_rand(9), s_rand(10),
                 s_rand(10), s_rand(3));
        cm_pb_set_str(&c->updated_at, upd);
        CHECK(search_index_put(idx, T1, c) == 1);
        crm__customer__free_unpacked(c, NULL);
    }
    static const char *const qs[] = {"k", "a", "jan", "600"};
    static const char *const orders[] = {"email", "createdAt", "updatedAt"};
    static const s_sort_key_fn keys[] = {s_key_email, s_key_created, s_key_updated};
    for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++)
        for (size_t oi = 0; oi < 3; oi++)
            for (int desc = 0; desc < 2; desc++)
                CHECK(s_walk(idx, qs[qi], orders[oi], desc, 7, keys[oi]) > 0);
    /* A token of one order is refused by another. */
    struct res x = s_find(idx, T1, "k", "email", 5, NULL);
    CHECK(x.r->next_page_token[0]);
    struct res y = s_find(idx, T1, "k", "updatedAt", 5, x.r->next_page_token);
    CHECK(y.err == CM_ERR_INVALID && !strcmp(y.problem.field, "pageToken"));
    crm__search_customers_response__free_unpacked(x.r, NULL);
    crm__search_customers_response__free_unpacked(y.r, NULL);
    search_index_destroy(&idx);
}

/* A word longer than the cut e-mail tokens finds its address, and only it. */
static void test_long_email_words(void)
{
    search_index_t *idx = search_index_new();
    Crm__Customer *c = s_cust(1, "Ewa", "Zielińska");
    cm_pb_set_str(&c->email, "zzyzxwvutsr@example.com");
    s_put(idx, T1, c);
    c = s_cust(2, "Ola", "Zając");
    cm_pb_set_str(&c->email, "zzyzxwvaaaa@example.com");
    s_put(idx, T1, c);
    c = s_cust(3, "Zzyzxwvutsr", "Nowak"); /* the same word, as a name */
    s_put(idx, T1, c);
    s_expect(idx, "zzyzxw", "3,2,1"); /* the name first, then by name: Zając, Zielińska */
    s_expect(idx, "zzyzxwvut", "3,1");
    s_expect(idx, "zzyzxwvutsr", "3,1");
    s_expect(idx, "zzyzxwvutsq", "");
    s_expect(idx, "zzyzxwvaaaa", "2");
    s_expect(idx, "zzyzxwvutsr@example.com", "1");
    s_expect(idx, "zzyzxwvutsr ewa", "1");
    s_expect(idx, "ola zzyzxwvaa", "2");
    struct res x = s_find(idx, T1, "zzyzxwvut", NULL, 20, NULL);
    CHECK(x.r->total_size == 2 && !x.r->total_size_is_lower_bound);
    crm__search_customers_response__free_unpacked(x.r, NULL);
    search_index_destroy(&idx);
}

/* The service's packed reply is the same message as the struct answer. */
static void test_packed_agrees(void)
{
    search_index_t *idx = search_index_new();
    for (int i = 1; i <= 600; i++) {
        Crm__Customer *c = s_rand_cust(i);
        CHECK(search_index_put(idx, T1, c) == 1);
        crm__customer__free_unpacked(c, NULL);
    }
    size_t nq = sizeof s_queries / sizeof *s_queries;
    for (size_t i = 0; i < nq; i++) {
        Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
        req.q = (char *)s_queries[i];
        req.page_size = 1 + (int)(i % 30);
        struct search_problem p;
        Crm__SearchCustomersResponse *a =
            (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
        Crm__SearchCustomersResponse *b =
            (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
        CHECK(search_index_search(idx, T1, &req, a, &p) == CM_OK);
        cm_buf_t body;
        cm_buf_init(&body, 0);
        CHECK(search_index_search_packed(idx, T1, &req, b, &body, &p) == CM_OK);
        CHECK(b->n_customers == 0);
        size_t rest = protobuf_c_message_get_packed_size(&b->base);
        uint8_t *tail = cm_malloc(rest + 1);
        protobuf_c_message_pack(&b->base, tail);
        CHECK(cm_buf_append(&body, tail, rest) == 0);
        Crm__SearchCustomersResponse *c =
            crm__search_customers_response__unpack(NULL, body.len, (const uint8_t *)body.data);
        CHECK(c != NULL);
        CHECK(c->n_customers == a->n_customers);
        size_t la = protobuf_c_message_get_packed_size(&a->base);
        size_t lc = protobuf_c_message_get_packed_size(&c->base);
        uint8_t *pa = cm_malloc(la + 1), *pc = cm_malloc(lc + 1);
        protobuf_c_message_pack(&a->base, pa);
        protobuf_c_message_pack(&c->base, pc);
        CHECK(la == lc && !memcmp(pa, pc, la));
        free(pa);
        free(pc);
        free(tail);
        cm_buf_release(&body);
        crm__search_customers_response__free_unpacked(a, NULL);
        crm__search_customers_response__free_unpacked(b, NULL);
        crm__search_customers_response__free_unpacked(c, NULL);
    }
    search_index_destroy(&idx);
}

/* An index loaded in bulk (a snapshot) answers exactly as one built a
 * customer at a time, changes and deletions during the load included. */
static void test_bulk_load_agrees(void)
{
    s_compare_random(3000, 200, true);
}

/* What "did you mean" offers for q, as "q1=n1|q2=n2" ("" for nothing). */
static void s_meant(search_index_t *idx, const char *tenant, const char *q, const char *want)
{
    struct res x = s_find(idx, tenant, q, NULL, 0, NULL);
    CHECK(x.err == CM_OK && x.r->no_match && x.r->suggestion);
    char got[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < x.r->suggestion->n_did_you_mean; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s=%d", i ? "|" : "",
                              x.r->suggestion->did_you_mean[i]->q,
                              (int)x.r->suggestion->did_you_mean[i]->total_size);
    if (strcmp(got, want)) {
        fprintf(stderr, "q=\"%s\": did you mean \"%s\", want \"%s\"\n", q, got, want);
        abort();
    }
    crm__search_customers_response__free_unpacked(x.r, NULL);
}

static void test_did_you_mean(void)
{
    search_index_t *idx = s_sample();
    s_put(idx, T1, s_cust(11, "Anna", "Kowalska"));
    s_put(idx, T1, s_cust(12, "Ewa", "Kowalska"));
    /* Both one slip away; the one more customers have first. */
    /* An address that starts like the slip does not hide it (e-mail tokens
     * are cut to 6 bytes: "kowalsq@" is looked up as "kowals"). */
    Crm__Customer *m = s_cust(13, "Ola", "Zielińska");
    cm_pb_set_str(&m->email, "kowalsq@example.com");
    s_put(idx, T1, m);
    s_meant(idx, T1, "kowalsky", "Kowalska=2|Kowalski=1");
    s_meant(idx, T1, "Jan Kowalsky", "Jan Kowalski=1"); /* only Jan Kowalski has the pair */
    s_meant(idx, T1, "kowalskaa", "Kowalska=2");
    /* Accents aside, as the search; offered as the customers write it. */
    s_meant(idx, T1, "Lukaaz", "Łukasz=1");
    s_meant(idx, T1, "mueller", "Müller=1");
    s_meant(idx, T1, "Петрв", "Петров=1");
    s_meant(idx, T1, "owalski", "Kowalski=1"); /* the first letter missing: every token read */
    s_meant(idx, T1, "bistor", "Bistro=1");    /* company names too */
    /* A correction that is only the start of names stays as the search folds it. */
    s_meant(idx, T1, "kowalsy", "kowalsk=3");
    /* Nothing one slip away; words of fewer than four letters are left as typed;
     * words that start names are not "corrected" when only the pair finds nobody. */
    s_meant(idx, T1, "zenonowicz", "");
    s_meant(idx, T1, "jna kowalski", "");
    s_meant(idx, T1, "barbara kowalski", "");
    /* Numbers are not corrected. */
    s_meant(idx, T1, "600 999 999", "");
    /* The correction must find customers with the same filters. */
    Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.q = (char *)"kowalsky";
    req.order_by = (char *)"";
    req.page_token = (char *)"";
    Crm__BoolValue yes = CRM__BOOL_VALUE__INIT;
    yes.value = true;
    req.is_company = &yes;
    struct search_problem pr;
    Crm__SearchCustomersResponse *r =
        (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
    CHECK(search_index_search(idx, T1, &req, r, &pr) == CM_OK && r->no_match);
    CHECK(r->suggestion->n_did_you_mean == 0);
    crm__search_customers_response__free_unpacked(r, NULL);
    /* Another tenant's names are never offered. */
    s_meant(idx, T2, "nowakk", "");
    s_meant(idx, T2, "kowalsky", "Kowalski=1");
    search_index_destroy(&idx);
}

int main(void)
{
    RUN(test_did_you_mean);
    RUN(test_matching_scripts);
    RUN(test_ranking);
    RUN(test_email_and_phone);
    RUN(test_orders_and_paging);
    RUN(test_filters);
    RUN(test_versions_and_tombstones);
    RUN(test_events);
    RUN(test_merged_event);
    RUN(test_limits_and_suggestion);
    RUN(test_total_cap);
    RUN(test_fast_paths_agree);
    RUN(test_prefix_counts);
    RUN(test_bulk_load_agrees);
    RUN(test_name_order);
    RUN(test_name_order_blocks);
    RUN(test_long_email_words);
    RUN(test_packed_agrees);
    RUN(test_other_orders);
    search_fold_shutdown();
    return 0;
}
