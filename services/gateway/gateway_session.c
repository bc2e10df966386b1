/* Staff sessions at the gateway (gateway_session.h). */
#include "gateway_session.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *gateway_session_cookie(const char *cookie_header, char *out, size_t size)
{
    static const char name[] = GATEWAY_SESSION_COOKIE;
    const size_t nlen = sizeof name - 1;
    const char *p = cookie_header;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = len - nlen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen == 0 || vlen >= size)
                return NULL;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        p += len;
    }
    return NULL;
}

bool gateway_session_origin_ok(const char *origin, const char *host)
{
    if (!origin)
        return true;
    if (!host || !*host)
        return false;
    const char *sep = strstr(origin, "://");
    if (!sep)
        return false;
    const char *o = sep + 3;
    size_t olen = strcspn(o, "/");
    return olen == strlen(host) && !strncasecmp(o, host, olen);
}

bool gateway_session_safe_method(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "OPTIONS");
}

char *gateway_session_set_cookie(const char *token, long max_age_s, bool secure)
{
    if (!token)
        return cm_strfmt("%s=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax%s", GATEWAY_SESSION_COOKIE,
                         secure ? "; Secure" : "");
    return cm_strfmt("%s=%s; Max-Age=%ld; Path=/; HttpOnly; SameSite=Lax%s", GATEWAY_SESSION_COOKIE,
                     token, max_age_s, secure ? "; Secure" : "");
}

/* Seconds from now to an RFC 3339 UTC time ("2026-12-06T10:00:00.000000Z"); 0 when unreadable. */
static long s_until(const char *rfc3339)
{
    struct tm tm = {0};
    // NOLINTNEXTLINE(cert-err34-c): field widths bound every number; the count is checked
    if (!rfc3339 || sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                           &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t at = timegm(&tm);
    long left = (long)(at - time(NULL));
    return left > 0 ? left : 0;
}

void gateway_session_after(const struct gateway_route *route, const uint8_t *body, size_t body_len,
                           bool secure, gateway_auth_t *auth, struct gateway_response *resp)
{
    /* Signing out of a session that has ended already clears the cookie too. */
    if ((route->flags & GATEWAY_SESSION_CLEAR) && resp->code == 401) {
        char *cookie = gateway_session_set_cookie(NULL, 0, secure);
        gateway_response_header(resp, "Set-Cookie", cookie);
        free(cookie);
    }
    if (resp->code >= 300)
        return;
    if (route->flags & GATEWAY_SESSION_SET) {
        Crm__StaffSession *s = crm__staff_session__unpack(NULL, body_len, body);
        if (s && s->token && *s->token) {
            char *cookie =
                gateway_session_set_cookie(s->token, s_until(s->absolute_expires_at), secure);
            gateway_response_header(resp, "Set-Cookie", cookie);
            free(cookie);
        }
        if (s)
            crm__staff_session__free_unpacked(s, NULL);
    }
    if (route->flags & GATEWAY_SESSION_CLEAR) {
        char *cookie = gateway_session_set_cookie(NULL, 0, secure);
        gateway_response_header(resp, "Set-Cookie", cookie);
        free(cookie);
    }
    if ((route->flags & GATEWAY_SESSION_EVICT) && (route->flags & GATEWAY_SESSION_SET)) {
        /* A new session after the member's others ended (a password reset). */
        Crm__StaffSession *s = crm__staff_session__unpack(NULL, body_len, body);
        if (s && s->staff && s->staff->tenant_id && s->staff->id)
            gateway_auth_forget(auth, s->staff->tenant_id, s->staff->id);
        if (s)
            crm__staff_session__free_unpacked(s, NULL);
    } else if (route->flags & GATEWAY_SESSION_EVICT) {
        Crm__Staff *st = crm__staff__unpack(NULL, body_len, body);
        if (st && st->tenant_id && st->id)
            gateway_auth_forget(auth, st->tenant_id, st->id);
        if (st)
            crm__staff__free_unpacked(st, NULL);
    }
}
