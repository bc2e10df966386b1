/* The search index in process, without the bus: builds an index of N
 * customers from name lists (as tests/bench/search.sh writes them), times
 * the bulk build, then each query file's queries (one per line, cycled)
 * and prints the CPU time per query (mean, p50, p99: thread CPU time, so
 * other programs on a shared machine do not count), and the resident memory. For working on the
 * index; tests/bench/search.sh measures the whole path against PostgreSQL.
 *
 * Usage: search_index_bench FIRST.txt LAST.txt N QUERIES.txt...
 *        (N customers; each query file is measured for BENCH_SECONDS, default 2) */
#include "search_index.h"
#include "cm_buf.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TENANT "00000000-0000-4000-8000-000000000001"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char **s_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char **out = NULL, line[1024];
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        out = cm_realloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = cm_strdup(line);
    }
    fclose(f);
    if (!*n) {
        fprintf(stderr, "%s: empty\n", path);
        exit(2);
    }
    return out;
}

static uint32_t s_mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static long s_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* CPU time of this thread: the machine is shared, and a query preempted
 * half-way should not count the other program's time. */
static double s_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s FIRST.txt LAST.txt N [QUERIES.txt...]\n", argv[0]);
        return 2;
    }
    size_t n_first, n_last;
    char **first = s_lines(argv[1], &n_first), **last = s_lines(argv[2], &n_last);
    long n = strtol(argv[3], NULL, 10);
    static const char *domains[] = {"gmail.com", "wp.pl", "web.de", "seznam.cz", "abv.bg"};
    static const char *cc[] = {"+48", "+49", "+420", "+46", "+359", "+30", "+33", "+34"};
    const char *secs = getenv("BENCH_SECONDS");
    double seconds = secs ? strtod(secs, NULL) : 2.0;
    long rss0 = s_rss_kib();
    search_index_t *idx = search_index_new();
    double t0 = s_now();
    search_index_bulk(idx, true);
    for (long i = 1; i <= n; i++) {
        uint32_t h = s_mix((uint32_t)i);
        Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
        char id[48], email[256], phone[32];
        snprintf(id, sizeof id, "%08x-0000-4000-8000-%012lx", s_mix((uint32_t)i * 7u + 1u),
                 (unsigned long)i & 0xffffffffffful);
        const char *f = first[h % n_first], *l = last[s_mix(h) % n_last];
        snprintf(email, sizeof email, "%s.%s%ld@%s", f, l, i, domains[i % 5]);
        snprintf(phone, sizeof phone, "%s%u", cc[i % 8], 500000000u + s_mix(h + 77) % 400000000u);
        cm_pb_set_str(&c->id, id);
        cm_pb_set_str(&c->etag, "1");
        cm_pb_set_str(&c->first_name, f);
        cm_pb_set_str(&c->last_name, l);
        cm_pb_set_str(&c->email, email);
        cm_pb_set_str(&c->phone, phone);
        cm_pb_set_str(&c->created_at, "2026-01-01T00:00:00.000000Z");
        if (search_index_put(idx, TENANT, c) != 1) {
            fprintf(stderr, "put %ld failed\n", i);
            return 1;
        }
        crm__customer__free_unpacked(c, NULL);
    }
    search_index_bulk(idx, false);
    double built = s_now() - t0;
    printf("built %ld customers in %.2f s; RSS +%ld MiB; index reports %zu MiB\n", n, built,
           (s_rss_kib() - rss0) / 1024, search_index_stats(idx, NULL, NULL) >> 20);

    for (int a = 4; a < argc; a++) {
        size_t nq;
        char **qs = s_lines(argv[a], &nq);
        size_t cap = 1 << 20, got = 0;
        double *lat = cm_malloc(cap * sizeof *lat);
        double *each = cm_calloc(nq, sizeof *each); /* time per query text */
        double start = s_now();
        size_t matched = 0;
        while (s_now() - start < seconds && got < cap) {
            Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
            req.q = qs[got % nq];
            req.page_size = 20;
            Crm__SearchCustomersResponse *r = (Crm__SearchCustomersResponse *)cm_pb_new(
                &crm__search_customers_response__descriptor);
            struct search_problem p;
            double q0 = s_cpu();
            /* As the service answers: the page's customers packed by the
             * index, the rest of the response packed after them. */
            cm_buf_t body;
            cm_buf_init(&body, 0);
            cm_buf_reserve(&body, 20 * 400);
            if (search_index_search_packed(idx, TENANT, &req, r, &body, &p) != CM_OK) {
                fprintf(stderr, "q=%s: %s\n", req.q, p.text);
                return 1;
            }
            size_t len = protobuf_c_message_get_packed_size(&r->base);
            uint8_t *buf = cm_malloc(len ? len : 1);
            protobuf_c_message_pack(&r->base, buf);
            if (cm_buf_append(&body, buf, len) != 0)
                abort();
            free(buf);
            double took = s_cpu() - q0;
            each[got % nq] += took;
            lat[got++] = took;
            matched += body.len > len;
            cm_buf_release(&body);
            crm__search_customers_response__free_unpacked(r, NULL);
        }
        qsort(lat, got, sizeof *lat, s_dbl_cmp);
        double sum = 0;
        for (size_t i = 0; i < got; i++)
            sum += lat[i];
        printf("%-24s %7zu queries  mean %7.1f us  p50 %7.1f us  p99 %7.1f us  max %7.1f us  "
               "(%zu with results)\n",
               argv[a], got, 1e6 * sum / (double)got, 1e6 * lat[got / 2], 1e6 * lat[got * 99 / 100],
               1e6 * lat[got - 1], matched);
        /* The three dearest queries on average: where to look next. */
        for (size_t i = 0; i < nq; i++) {
            size_t runs = got / nq + (i < got % nq);
            each[i] = runs ? each[i] / (double)runs : 0.0;
        }
        printf("%-24s dearest:", "");
        for (int k = 0; k < 3 && k < (int)nq; k++) {
            size_t worst = 0;
            for (size_t i = 1; i < nq; i++)
                if (each[i] > each[worst])
                    worst = i;
            printf(" \"%s\" %.1f us", qs[worst], 1e6 * each[worst]);
            each[worst] = -1;
        }
        printf("\n");
        free(each);
        free(lat);
        for (size_t i = 0; i < nq; i++)
            free(qs[i]);
        free(qs);
    }
    search_index_destroy(&idx);
    return 0;
}
