/* The SMTP client (notify_smtp.h). */
#include "notify_smtp.h"
#include "cm_http.h"
#include "cm_log.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

struct notify_smtp {
    const struct notify_smtp_cfg *cfg; // borrowed (config)
    const atomic_bool *stop;           // borrowed (the sender pool), may be NULL
    atomic_int fd;                     // the connection's socket, -1 when none
    CURL *curl;                        // owned; kept for its connection
    char url[600];
};

notify_smtp_t *notify_smtp_new(const struct notify_smtp_cfg *cfg, const atomic_bool *stop)
{
    cm_http_init(); /* curl's global set-up, once */
    notify_smtp_t *self = cm_calloc(1, sizeof *self);
    self->cfg = cfg;
    self->stop = stop;
    atomic_init(&self->fd, -1);
    /* The path of an smtp:// URL is the EHLO name. */
    const char *rest = strstr(cfg->url, "://");
    const char *slash = rest ? strchr(rest + 3, '/') : NULL;
    int hostlen = slash ? (int)(slash - cfg->url) : (int)strlen(cfg->url);
    snprintf(self->url, sizeof self->url, "%.*s/%s", hostlen, cfg->url,
             cfg->helo && cfg->helo[0] ? cfg->helo : "localhost");
    return self;
}

void notify_smtp_destroy(notify_smtp_t **self_p)
{
    notify_smtp_t *self = *self_p;
    if (!self)
        return;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    free(self);
    *self_p = NULL;
}

enum notify_outcome notify_smtp_classify(int curl_code, long smtp_code)
{
    if (curl_code == CURLE_OK)
        return NOTIFY_SENT;
    if (smtp_code >= 500 && smtp_code <= 599)
        return NOTIFY_REFUSED;
    /* 4xx, no answer, a broken connection, a timeout, TLS or login trouble:
     * the message may go through later (a login that stays wrong uses up
     * the attempts and fails then, with the server's words). */
    return NOTIFY_RETRY;
}

/* libcurl opens and closes the connection's socket here, so that
 * notify_smtp_interrupt can find it: a transfer waiting for the server's
 * answer after DATA calls no progress callback. */
static curl_socket_t s_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    notify_smtp_t *self = ud;
    int fd = socket(addr->family, addr->socktype, addr->protocol);
    if (fd >= 0)
        atomic_store(&self->fd, fd);
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int s_close_socket(void *ud, curl_socket_t fd)
{
    notify_smtp_t *self = ud;
    int expected = fd;
    atomic_compare_exchange_strong(&self->fd, &expected, -1);
    return close(fd);
}

void notify_smtp_interrupt(notify_smtp_t *self)
{
    int fd = atomic_load(&self->fd);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

/* libcurl's progress callback: non-zero aborts the transfer. */
static int s_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const atomic_bool *stop = ud;
    return stop && atomic_load(stop) ? 1 : 0;
}

struct s_reader {
    const char *data;
    size_t len, off;
};

static size_t s_read(char *buf, size_t size, size_t n, void *ud)
{
    struct s_reader *r = ud;
    size_t room = size * n, left = r->len - r->off;
    size_t k = left < room ? left : room;
    memcpy(buf, r->data + r->off, k);
    r->off += k;
    return k;
}

void notify_smtp_send(notify_smtp_t *self, const char *from, const char *to, const char *data,
                      size_t len, struct notify_result *r)
{
    const struct notify_smtp_cfg *cfg = self->cfg;
    if (!self->curl)
        self->curl = curl_easy_init();
    else
        curl_easy_reset(self->curl); /* keeps the connection */
    CURL *c = self->curl;
    char errbuf[CURL_ERROR_SIZE] = "";
    char mail_from[300];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    char rcpt[300];
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    struct s_reader rd = {data, len, 0};

    curl_easy_setopt(c, CURLOPT_URL, self->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* An idle connection older than this is not reused: servers drop them. */
    curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->ca_file && cfg->ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     cfg->starttls == NOTIFY_STARTTLS_REQUIRED ? CURLUSESSL_ALL
                     : cfg->starttls == NOTIFY_STARTTLS_OFF    ? CURLUSESSL_NONE
                                                               : CURLUSESSL_TRY);
    if (cfg->user && cfg->user[0]) {
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, s_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, self);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, s_close_socket);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, self);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)self->stop);

    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpts);
    r->outcome = notify_smtp_classify((int)rc, code);
    if (rc == CURLE_OK)
        snprintf(r->reason, sizeof r->reason, "%ld accepted", code ? code : 250L);
    else if (code)
        snprintf(r->reason, sizeof r->reason, "SMTP %ld: %.200s", code,
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else
        snprintf(r->reason, sizeof r->reason, "%.200s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (rc != CURLE_OK) {
        /* A failed session is not reused: the next message starts afresh. */
        curl_easy_cleanup(self->curl);
        self->curl = NULL;
    }
}
