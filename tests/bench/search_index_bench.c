/* The search index in process, without the bus: builds an index of N
 * customers from name lists (as tests/bench/search.sh writes them), times
 * the bulk build, then each query file's queries (one per line, cycled)
 * and prints the CPU time per query (mean, p50, p99: thread CPU time, so
 * other programs on a shared machine do not count), and the resident memory. For working on the
 * index; tests/bench/search.sh measures the whole path against PostgreSQL.
 *
 * Then it times changes one at a time, as the service applies them from the
 * event stream: BENCH_CHANGES (default 20000) creates, renames and deletes.
 *
 * Usage: search_index_bench FIRST.txt LAST.txt N QUERIES.txt...
 *        (N customers; each query file is measured for BENCH_SECONDS, default 2)
 * BENCH_WALK_FACTOR sets the tier walk's budget per candidate (0: no walk),
 * for comparing the two ways of ranking several words (docs/search.md). */
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

struct s_names {
    char **first;
    size_t n_first;
    char **last;
    size_t n_last;
};

/* Puts customer i (as the bulk load makes it) at version; rename > 0 gives
 * it another last name. */
static int s_put(search_index_t *idx, const struct s_names *nm, long i, int version, int rename)
{
    static const char *domains[] = {"gmail.com", "wp.pl", "web.de", "seznam.cz", "abv.bg"};
    static const char *cc[] = {"+48", "+49", "+420", "+46", "+359", "+30", "+33", "+34"};
    uint32_t h = s_mix((uint32_t)i);
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    char id[48], email[256], phone[32], etag[16];
    snprintf(id, sizeof id, "%08x-0000-4000-8000-%012lx", s_mix((uint32_t)i * 7u + 1u),
             (unsigned long)i & 0xffffffffffful);
    const char *f = nm->first[h % nm->n_first];
    const char *l = nm->last[(s_mix(h) + (uint32_t)rename) % nm->n_last];
    snprintf(email, sizeof email, "%s.%s%ld@%s", f, l, i, domains[i % 5]);
    snprintf(phone, sizeof phone, "%s%u", cc[i % 8], 500000000u + s_mix(h + 77) % 400000000u);
    snprintf(etag, sizeof etag, "%d", version);
    cm_pb_set_str(&c->id, id);
    cm_pb_set_str(&c->etag, etag);
    cm_pb_set_str(&c->first_name, f);
    cm_pb_set_str(&c->last_name, l);
    cm_pb_set_str(&c->email, email);
    cm_pb_set_str(&c->phone, phone);
    cm_pb_set_str(&c->created_at, "2026-01-01T00:00:00.000000Z");
    int rc = search_index_put(idx, TENANT, c);
    crm__customer__free_unpacked(c, NULL);
    return rc == 1 ? 0 : -1;
}

/* Prints the CPU time per change of n (sorted in place). */
static void s_report_changes(const char *what, double *lat, long n)
{
    qsort(lat, (size_t)n, sizeof *lat, s_dbl_cmp);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += lat[i];
    printf("%-24s %7ld changes  mean %7.1f us  p50 %7.1f us  p99 %7.1f us  max %7.1f us\n", what, n,
           1e6 * sum / (double)n, 1e6 * lat[n / 2], 1e6 * lat[n * 99 / 100], 1e6 * lat[n - 1]);
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
    const char *secs = getenv("BENCH_SECONDS");
    double seconds = secs ? strtod(secs, NULL) : 2.0;
    const char *chg = getenv("BENCH_CHANGES");
    long changes = chg ? strtol(chg, NULL, 10) : 20000;
    struct s_names names = {first, n_first, last, n_last};
    long rss0 = s_rss_kib();
    search_index_t *idx = search_index_new();
    const char *walk = getenv("BENCH_WALK_FACTOR");
    if (walk)
        search_index_set_walk(idx, strtol(walk, NULL, 10) > 0 ? 64 : SIZE_MAX,
                              (size_t)strtol(walk, NULL, 10));
    double t0 = s_now();
    search_index_bulk(idx, true);
    for (long i = 1; i <= n; i++) {
        if (s_put(idx, &names, i, 1, 0)) {
            fprintf(stderr, "put %ld failed\n", i);
            return 1;
        }
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

    /* Changes one at a time, as the service applies them from the stream:
     * new customers, then renames (a new place in the name order), then
     * deletes. */
    if (changes > 0) {
        double *lat = cm_malloc((size_t)changes * sizeof *lat);
        for (long k = 0; k < changes; k++) {
            double c0 = s_cpu();
            if (s_put(idx, &names, n + 1 + k, 1, 0))
                return 1;
            lat[k] = s_cpu() - c0;
        }
        s_report_changes("create", lat, changes);
        for (long k = 0; k < changes; k++) {
            long i = 1 + (long)(s_mix((uint32_t)k + 99u) % (uint32_t)n);
            double c0 = s_cpu();
            int rc = s_put(idx, &names, i, 2 + (int)k, 1 + (int)k);
            lat[k] = s_cpu() - c0;
            (void)rc; /* a customer drawn twice is still a change */
        }
        s_report_changes("rename", lat, changes);
        for (long k = 0; k < changes; k++) {
            char id[48];
            snprintf(id, sizeof id, "%08x-0000-4000-8000-%012lx",
                     s_mix((uint32_t)(n + 1 + k) * 7u + 1u), (unsigned long)(n + 1 + k));
            double c0 = s_cpu();
            search_index_delete(idx, TENANT, id);
            lat[k] = s_cpu() - c0;
        }
        s_report_changes("delete", lat, changes);
        free(lat);
    }
    search_index_destroy(&idx);
    return 0;
}
