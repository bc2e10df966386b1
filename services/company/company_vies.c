/* VIES over REST: the call and the reading of its answers. */
#include "company_vies.h"
#include "cm_http.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

void company_vies_result_release(struct company_vies_result *r)
{
    if (r && r->lookup) {
        crm__vat_lookup__free_unpacked(r->lookup, NULL);
        r->lookup = NULL;
    }
}

int company_vies_retry_after(const char *code)
{
    static const struct {
        const char *code;
        int seconds;
    } table[] = {
        {"MS_UNAVAILABLE", 60},
        {"SERVICE_UNAVAILABLE", 60},
        {"TIMEOUT", 30},
        {"MS_MAX_CONCURRENT_REQ", 10},
        {"MS_MAX_CONCURRENT_REQ_TIME", 10},
        {"GLOBAL_MAX_CONCURRENT_REQ", 10},
        {"GLOBAL_MAX_CONCURRENT_REQ_TIME", 10},
        {"VAT_BLOCKED", 3600},
        {"IP_BLOCKED", 3600},
        {"INVALID_REQUESTER_INFO", 3600},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(table[i].code, code))
            return table[i].seconds;
    return 60;
}

static void s_error(struct company_vies_result *out, const char *code)
{
    out->outcome = COMPANY_VIES_ERROR;
    snprintf(out->code, sizeof out->code, "%s", code);
    for (char *p = out->code; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    out->retry_after_s = company_vies_retry_after(out->code);
}

static const char *s_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void company_vies_split_address(Crm__VatLookup *l)
{
    for (size_t i = 0; i < l->n_address_lines; i++)
        free(l->address_lines[i]);
    free(l->address_lines);
    l->address_lines = NULL;
    l->n_address_lines = 0;
    if (!l->address[0])
        return;
    size_t cap = 0;
    for (const char *p = l->address; *p;) {
        size_t n = strcspn(p, "\n");
        size_t a = 0, b = n;
        while (a < b && isspace((unsigned char)p[a]))
            a++;
        while (b > a && isspace((unsigned char)p[b - 1]))
            b--;
        if (b > a) {
            if (l->n_address_lines == cap) {
                cap = cap ? cap * 2 : 4;
                l->address_lines = cm_realloc(l->address_lines, cap * sizeof *l->address_lines);
            }
            l->address_lines[l->n_address_lines++] = cm_strndup(p + a, b - a);
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    if (!l->n_address_lines)
        return;
    const char *last = l->address_lines[l->n_address_lines - 1];
    /* A postal code: the first word of the last line when it holds a digit. */
    size_t w = strcspn(last, " ");
    bool digit = false;
    for (size_t i = 0; i < w; i++)
        digit = digit || isdigit((unsigned char)last[i]);
    if (digit && last[w] == ' ' && l->n_address_lines >= 2) {
        char *pc = cm_strndup(last, w);
        cm_pb_set_str(&l->postal_code, pc);
        free(pc);
        const char *city = last + w;
        while (*city == ' ')
            city++;
        cm_pb_set_str(&l->city, city);
    }
    if (l->n_address_lines >= 2)
        cm_pb_set_str(&l->street, l->address_lines[0]);
}

void company_vies_parse(long http_status, const char *body, const char *cc, const char *number,
                        struct company_vies_result *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = json_loads(body ? body : "", 0, &jerr);
    json_t *wrappers = json_is_object(doc) ? json_object_get(doc, "errorWrappers") : NULL;
    json_t *succeeded = json_is_object(doc) ? json_object_get(doc, "actionSucceed") : NULL;
    /* An error, whether sent as an HTTP error or inside a 200. */
    if (json_is_array(wrappers) && json_array_size(wrappers) > 0) {
        const char *code = s_str(json_array_get(wrappers, 0), "error");
        if (!strcmp(code, "INVALID_INPUT")) {
            out->outcome = COMPANY_VIES_INPUT;
            snprintf(out->code, sizeof out->code, "INVALID_INPUT");
        } else {
            s_error(out, code[0] ? code : "SERVICE_UNAVAILABLE");
        }
        goto done;
    }
    if (http_status != 200 || !json_is_object(doc) || json_is_false(succeeded) ||
        !json_is_boolean(json_object_get(doc, "valid"))) {
        char code[32];
        if (http_status != 200)
            snprintf(code, sizeof code, "HTTP_%ld", http_status);
        else
            snprintf(code, sizeof code, "SERVICE_UNAVAILABLE");
        s_error(out, code);
        goto done;
    }
    Crm__VatLookup *l = (Crm__VatLookup *)cm_pb_new(&crm__vat_lookup__descriptor);
    char vat[32];
    snprintf(vat, sizeof vat, "%s%s", cc, number);
    cm_pb_set_str(&l->vat_number, vat);
    cm_pb_set_str(&l->country_code, cc);
    cm_pb_set_str(&l->number, number);
    l->valid = json_is_true(json_object_get(doc, "valid"));
    const char *name = s_str(doc, "name"), *address = s_str(doc, "address");
    l->name_withheld = !strcmp(name, "---");
    l->address_withheld = !strcmp(address, "---");
    cm_pb_set_str(&l->name, l->name_withheld ? "" : name);
    cm_pb_set_str(&l->address, l->address_withheld ? "" : address);
    cm_pb_set_str(&l->request_date, s_str(doc, "requestDate"));
    cm_pb_set_str(&l->consultation_number, s_str(doc, "requestIdentifier"));
    company_vies_split_address(l);
    out->outcome = COMPANY_VIES_ANSWER;
    out->lookup = l;
done:
    json_decref(doc);
}

long company_vies_retry_delay(int attempts, long min_s, long max_s)
{
    long d = min_s > 0 ? min_s : 1;
    for (int i = 1; i < attempts && d < max_s; i++)
        d *= 2;
    return d < max_s ? d : max_s;
}

bool company_vies_gives_up(const char *code)
{
    return !strcmp(code, "INVALID_REQUESTER_INFO") || !strcmp(code, "VAT_BLOCKED");
}

char *company_vies_request_body(const char *cc, const char *number, const char *requester)
{
    json_t *req = json_pack("{s:s, s:s}", "countryCode", cc, "vatNumber", number);
    if (requester && strlen(requester) > 2) {
        char rcc[3] = {requester[0], requester[1], '\0'};
        json_object_set_new(req, "requesterMemberStateCode", json_string(rcc));
        json_object_set_new(req, "requesterNumber", json_string(requester + 2));
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return body;
}

void company_vies_check(const char *url, long connect_timeout_ms, long timeout_ms, const char *cc,
                        const char *number, const char *requester, struct company_vies_result *out,
                        char **raw_out, double *elapsed_s)
{
    char *target = cm_strfmt("%s/check-vat-number", url);
    char *body = company_vies_request_body(cc, number, requester);
    struct cm_http_opts o = {
        .connect_timeout_ms = connect_timeout_ms, .timeout_ms = timeout_ms, .max_body = 256 * 1024};
    struct cm_http_response r;
    int64_t t0 = cm_mono_ms();
    cm_err_t err = cm_http_request("POST", target, body, strlen(body), &o, &r);
    if (elapsed_s)
        *elapsed_s = (double)(cm_mono_ms() - t0) / 1000.0;
    if (err) {
        cm_log_warn("VIES %s: %s", target, r.error);
        memset(out, 0, sizeof *out);
        s_error(out, err == CM_ERR_TIMEOUT ? "TIMEOUT" : "SERVICE_UNAVAILABLE");
    } else {
        company_vies_parse(r.status, r.body, cc, number, out);
    }
    if (raw_out)
        *raw_out = cm_strdup(err ? "" : r.body);
    cm_http_response_release(&r);
    free(body);
    free(target);
}

int company_vies_status(const char *url, long timeout_ms, char available[][3], size_t *n,
                        size_t max)
{
    *n = 0;
    char *target = cm_strfmt("%s/check-status", url);
    struct cm_http_opts o = {.timeout_ms = timeout_ms, .max_body = 64 * 1024};
    struct cm_http_response r;
    cm_err_t err = cm_http_request("GET", target, NULL, 0, &o, &r);
    int rc = -1;
    json_t *doc = NULL;
    if (!err && r.status == 200) {
        json_error_t jerr;
        doc = json_loads(r.body, 0, &jerr);
        json_t *countries = json_object_get(doc, "countries");
        if (json_is_array(countries)) {
            size_t i;
            json_t *c;
            json_array_foreach(countries, i, c)
            {
                const char *cc = s_str(c, "countryCode");
                if (strlen(cc) == 2 && !strcmp(s_str(c, "availability"), "Available") && *n < max) {
                    memcpy(available[*n], cc, 3);
                    (*n)++;
                }
            }
            rc = 0;
        }
    }
    json_decref(doc);
    cm_http_response_release(&r);
    free(target);
    return rc;
}
