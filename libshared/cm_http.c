/* Outbound HTTP through libcurl's easy interface. */
#include "cm_http.h"
#include "cm_util.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cm_http_init(void)
{
    pthread_once(&s_once, s_global_init);
}

struct s_sink {
    struct cm_http_response *r;
    size_t max;
    bool over;
};

static size_t s_write(char *data, size_t size, size_t n, void *ud)
{
    struct s_sink *k = ud;
    size_t len = size * n;
    if (k->r->len + len > k->max) {
        k->over = true;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    k->r->body = cm_realloc(k->r->body, k->r->len + len + 1);
    memcpy(k->r->body + k->r->len, data, len);
    k->r->len += len;
    k->r->body[k->r->len] = '\0';
    return len;
}

cm_err_t cm_http_request(const char *method, const char *url, const char *body, size_t body_len,
                         const struct cm_http_opts *opts, struct cm_http_response *r)
{
    assert(method && url && opts && r);
    memset(r, 0, sizeof *r);
    r->body = cm_calloc(1, 1);
    cm_http_init();
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->error, sizeof r->error, "could not make a curl handle");
        return CM_ERR_UNAVAILABLE;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct s_sink sink = {r, opts->max_body ? opts->max_body : 1u << 20, false};
    struct curl_slist *hdrs = NULL;
    char ctype[160];
    snprintf(ctype, sizeof ctype, "Content-Type: %s",
             opts->content_type ? opts->content_type : "application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, ctype);
    for (const char *const *h = opts->headers; h && *h; h++)
        hdrs = curl_slist_append(hdrs, *h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opts->timeout_ms > 0 ? opts->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, CM_HTTP_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        return CM_OK;
    snprintf(r->error, sizeof r->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (sink.over) {
        snprintf(r->error, sizeof r->error, "answer longer than %zu bytes", sink.max);
        return CM_ERR_UPSTREAM;
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return CM_ERR_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return CM_ERR_UNAVAILABLE;
    default:
        return CM_ERR_UPSTREAM;
    }
}

void cm_http_response_release(struct cm_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
