/* Reading the trial mailbox back (notify_trial.h). */
#include "notify_trial.h"
#include "cm_log.h"
#include "cm_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>

bool notify_trial_message_id(const char *raw, char *id, size_t idsz)
{
    const char *p = raw;
    while (*p && !(p[0] == '\n' || (p[0] == '\r' && p[1] == '\n'))) {
        if (!strncasecmp(p, "Message-ID:", 11)) {
            const char *lt = strchr(p, '<'), *eol = strpbrk(p, "\r\n");
            const char *gt = lt ? strchr(lt, '>') : NULL;
            if (!lt || !gt || (eol && gt > eol) || (size_t)(gt - lt - 1) >= idsz)
                return false;
            snprintf(id, idsz, "%.*s", (int)(gt - lt - 1), lt + 1);
            return true;
        }
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

/* Reads at most NOTIFY_TRIAL_RAW_MAX bytes of path. NULL on failure. */
static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = cm_malloc(NOTIFY_TRIAL_RAW_MAX + 1);
    size_t n = fread(buf, 1, NOTIFY_TRIAL_RAW_MAX, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

struct s_list {
    struct notify_trial_entry *items;
    size_t n, cap;
};

static struct notify_trial_entry *s_push(struct s_list *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = cm_realloc(l->items, l->cap * sizeof *l->items);
    }
    struct notify_trial_entry *e = &l->items[l->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void s_maildir(const char *dir, struct s_list *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat sb;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path ||
            stat(path, &sb) || !S_ISREG(sb.st_mode))
            continue;
        /* Read later, once the newest are known: here only the path. */
        struct notify_trial_entry *e = s_push(l);
        e->received_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        e->raw = cm_strdup(path);
    }
    closedir(d);
}

static void s_sms(const char *path, struct s_list *l)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *doc = json_loadb(line, (size_t)n, 0, &jerr);
        const char *ref = doc ? json_string_value(json_object_get(doc, "reference")) : NULL;
        const char *at = doc ? json_string_value(json_object_get(doc, "receivedAt")) : NULL;
        if (ref && strlen(ref) < 300) {
            struct notify_trial_entry *e = s_push(l);
            e->sms = true;
            snprintf(e->key, sizeof e->key, "%s", ref);
            struct tm tm = {0};
            // NOLINTNEXTLINE(cert-err34-c): the trial mailbox's own timestamp; the count is checked
            if (at && sscanf(at, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                             &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
                tm.tm_year -= 1900;
                tm.tm_mon -= 1;
                e->received_ms = (int64_t)timegm(&tm) * 1000;
            }
            e->raw = cm_strndup(line, (size_t)n < NOTIFY_TRIAL_RAW_MAX ? (size_t)n
                                                                       : NOTIFY_TRIAL_RAW_MAX);
        }
        json_decref(doc);
    }
    free(line);
    fclose(f);
}

static int s_newest_first(const void *a, const void *b)
{
    const struct notify_trial_entry *x = a, *y = b;
    return x->received_ms < y->received_ms ? 1 : x->received_ms > y->received_ms ? -1 : 0;
}

size_t notify_trial_read(const char *dir, struct notify_trial_entry **out)
{
    struct s_list l = {0};
    char path[4096];
    const char *subs[] = {"mail/new", "mail/cur"};
    for (size_t i = 0; i < 2; i++)
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, subs[i]) < sizeof path)
            s_maildir(path, &l);
    if ((size_t)snprintf(path, sizeof path, "%s/sms.jsonl", dir) < sizeof path)
        s_sms(path, &l);
    if (l.n)
        qsort(l.items, l.n, sizeof *l.items, s_newest_first);
    while (l.n > NOTIFY_TRIAL_SCAN)
        free(l.items[--l.n].raw);
    for (size_t i = 0; i < l.n; i++) {
        struct notify_trial_entry *e = &l.items[i];
        if (e->sms)
            continue;
        char *raw = s_slurp(e->raw); /* e->raw held the path */
        free(e->raw);
        e->raw = raw ? raw : cm_strdup("");
        if (!notify_trial_message_id(e->raw, e->key, sizeof e->key))
            e->key[0] = '\0';
    }
    *out = l.items;
    return l.n;
}

void notify_trial_free(struct notify_trial_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i].raw);
    free(entries);
}
