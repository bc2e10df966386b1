/* crmctl call and crmctl events: the bus from the command line. */
#include "crmctl.h"
#include "history.pb-c.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_svc.h"
#include "cm_util.h"
#include "company.pb-c.h"
#include "customers.pb-c.h"
#include "wallet.pb-c.h"
#include "forms.pb-c.h"
#include "subscriptions.pb-c.h"
#include "access.pb-c.h"
#include "wallet.pb-c.h"
#include "notify.pb-c.h"
#include "visits.pb-c.h"
#include "prices.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static const char *s_env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* The services whose methods crmctl knows, by their proto service descriptors. */
static const struct {
    const char *name;
    const ProtobufCServiceDescriptor *desc;
} s_services[] = {
    {"customers", &crm__customers__descriptor},
    {"customers", &crm__wallet_service__descriptor},
    {"customers", &crm__subscription_service__descriptor},
    {"customers", &crm__access_service__descriptor},  /* access control (access.proto) */
    {"customers", &crm__customer_prices__descriptor}, /* price rules (prices.proto) */
    {"company", &crm__company_service__descriptor},
    {"notes", &crm__forms__descriptor}, /* the card and surveys (forms.proto) */
    {"notify", &crm__notify__descriptor},
    {"notes", &crm__history__descriptor}, /* the intake, timeline and summary (history.proto) */
    {"notes", &crm__visits__descriptor},  /* visits and purchases (visits.proto) */
};

static const ProtobufCMethodDescriptor *s_find_method(const char *service, const char *method)
{
    const char *rpc = strchr(method, '.') ? strchr(method, '.') + 1 : method;
    for (size_t i = 0; i < sizeof s_services / sizeof *s_services; i++) {
        if (strcmp(s_services[i].name, service) != 0)
            continue;
        const ProtobufCServiceDescriptor *d = s_services[i].desc;
        for (unsigned m = 0; m < d->n_methods; m++)
            if (!strcmp(d->methods[m].name, rpc))
                return &d->methods[m];
    }
    return NULL;
}

static void s_print_reply(const Crm__ReplyHeader *rh, const ProtobufCMessage *resp)
{
    json_t *out = json_object();
    char status[48];
    cm_pbjson_enum_name(&crm__status__descriptor, rh->status, status, sizeof status);
    json_object_set_new(out, "status", json_string(status));
    if (rh->message[0])
        json_object_set_new(out, "message", json_string(rh->message));
    if (rh->n_details) {
        json_t *d = json_array();
        for (size_t i = 0; i < rh->n_details; i++)
            json_array_append_new(d,
                                  cm_pbjson_encode(&rh->details[i]->base, CM_PBJSON_OMIT_DEFAULTS));
        json_object_set_new(out, "details", d);
    }
    if (resp)
        json_object_set_new(out, "body", cm_pbjson_encode(resp, 0));
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(out);
}

int crmctl_call(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: crmctl call SERVICE METHOD [JSON] [--key KEY | --tenant ID]\n");
        return 2;
    }
    const char *service = argv[1], *method_arg = argv[2];
    const char *body = argc >= 4 && argv[3][0] != '-' ? argv[3] : "{}";
    const char *key = crmctl_opt(argc, argv, "--key");
    const char *tenant = crmctl_opt(argc, argv, "--tenant");
    const char *idem = crmctl_opt(argc, argv, "--idempotency-key");
    long timeout = 10000;
    const char *t = crmctl_opt(argc, argv, "--timeout-ms");
    if (t && cm_parse_long(t, 1, 600000, &timeout)) {
        fprintf(stderr, "crmctl: --timeout-ms must be 1..600000\n");
        return 2;
    }
    const ProtobufCMethodDescriptor *md = s_find_method(service, method_arg);
    if (!md) {
        fprintf(stderr, "crmctl: unknown method %s of service %s\n", method_arg, service);
        return 2;
    }
    json_error_t jerr;
    json_t *json = json_loads(body, 0, &jerr);
    if (!json) {
        fprintf(stderr, "crmctl: malformed JSON at line %d column %d: %s\n", jerr.line, jerr.column,
                jerr.text);
        return 2;
    }
    struct cm_pbjson_error perr;
    ProtobufCMessage *req = cm_pbjson_decode(md->input, json, NULL, &perr);
    json_decref(json);
    if (!req) {
        fprintf(stderr, "crmctl: %s: %s\n", perr.field, perr.description);
        return 2;
    }
    int rc = 1;
    void *zctx = zmq_ctx_new();
    cm_mdp_client_t *client =
        cm_mdp_client_new(zctx, s_env("CRM_BUS_ENDPOINT", "tcp://127.0.0.1:5555"));
    Crm__Principal principal = CRM__PRINCIPAL__INIT;
    principal.id = "crmctl";
    principal.name = "crmctl";
    principal.role = CRM__ROLE__ROLE_ADMIN;
    /* The operator's tool, which holds the database itself: internal methods too. */
    principal.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    Crm__RequestHeader hdr = CRM__REQUEST_HEADER__INIT;
    hdr.principal = &principal;
    hdr.channel = "cli";
    hdr.tenant_id = (char *)(tenant ? tenant : "");
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    Crm__AuthenticateResponse *auth = NULL;
    char method[128];
    if (key) {
        Crm__AuthenticateRequest areq = CRM__AUTHENTICATE_REQUEST__INIT;
        areq.api_key = (char *)key;
        hdr.method = "customers.Authenticate";
        cm_err_t err = cm_svc_call(client, "customers", &hdr, &areq.base,
                                   &crm__authenticate_response__descriptor, (int)timeout, &rh,
                                   (ProtobufCMessage **)&auth);
        if (err || rh->status != CRM__STATUS__STATUS_OK) {
            fprintf(stderr, "crmctl: authentication failed: %s\n",
                    err ? cm_err_name(err) : rh->message);
            goto out;
        }
        crm__reply_header__free_unpacked(rh, NULL);
        rh = NULL;
        hdr.tenant_id = auth->tenant_id;
        hdr.principal = auth->principal;
        hdr.request_id = (char *)protobuf_c_empty_string;
        hdr.deadline_unix_ms = 0;
    }
    snprintf(method, sizeof method, "%s.%s", service, md->name);
    hdr.method = method;
    hdr.idempotency_key = (char *)(idem ? idem : "");
    cm_err_t err = cm_svc_call(client, service, &hdr, req, md->output, (int)timeout, &rh, &resp);
    if (err) {
        fprintf(stderr, "crmctl: no reply: %s\n", cm_err_name(err));
        goto out;
    }
    s_print_reply(rh, resp);
    rc = rh->status == CRM__STATUS__STATUS_OK ? 0 : 1;
out:
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (auth)
        crm__authenticate_response__free_unpacked(auth, NULL);
    protobuf_c_message_free_unpacked(req, NULL);
    cm_mdp_client_destroy(&client);
    zmq_ctx_term(zctx);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* events                                                                   */

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

struct s_follow {
    FILE *out;              // borrowed
    const char *state_path; // borrowed, may be NULL
    long count;             // stop after this many (0: never)
    long delivered;
};

static json_t *s_event_json(const Crm__Event *ev)
{
    json_t *j = cm_pbjson_encode(&ev->base, CM_PBJSON_OMIT_DEFAULTS);
    json_object_del(j, "payload");
    json_object_set_new(j, "seq", json_integer((json_int_t)ev->seq));
    if (!strncmp(ev->type, "customer.", 9)) {
        Crm__CustomerEvent *ce =
            crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (ce) {
            json_t *p = cm_pbjson_encode(&ce->base, CM_PBJSON_OMIT_DEFAULTS);
            json_object_update(j, p);
            json_decref(p);
            crm__customer_event__free_unpacked(ce, NULL);
        }
    }
    if (!strncmp(ev->type, "voucher.", 8)) {
        Crm__VoucherEvent *ve = crm__voucher_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (ve && ve->voucher)
            json_object_set_new(j, "voucher",
                                cm_pbjson_encode(&ve->voucher->base, CM_PBJSON_OMIT_DEFAULTS));
        if (ve)
            crm__voucher_event__free_unpacked(ve, NULL);
    }
    if (!strcmp(ev->type, "settings.updated")) {
        Crm__SettingsEvent *se =
            crm__settings_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (se) {
            json_object_set_new(j, "settings", cm_pbjson_encode(&se->base, 0));
            crm__settings_event__free_unpacked(se, NULL);
        }
    }
    if (!strncmp(ev->type, "purchase.", 9)) {
        Crm__PurchaseEvent *pe =
            crm__purchase_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (pe) {
            json_object_set_new(j, "purchase",
                                cm_pbjson_encode(&pe->base, CM_PBJSON_OMIT_DEFAULTS));
            crm__purchase_event__free_unpacked(pe, NULL);
        }
    }
    return j;
}

static void s_save_state(const char *path, uint64_t seq)
{
    char *tmp = cm_strfmt("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%" PRIu64 "\n", seq);
        fclose(f);
        if (rename(tmp, path))
            cm_log_warn("could not save state to %s: %s", path, strerror(errno));
    }
    free(tmp);
}

static int s_on_event(void *ud, const Crm__Event *ev)
{
    struct s_follow *f = ud;
    json_t *j = s_event_json(ev);
    char *line = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    fprintf(f->out, "%s\n", line);
    fflush(f->out);
    free(line);
    if (f->state_path)
        s_save_state(f->state_path, ev->seq);
    f->delivered++;
    return 0;
}

/* The seq of the last complete line of an --out file, so that a restarted
 * follower neither repeats nor skips an event. */
static uint64_t s_resume_from_out(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t seq = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a torn last line: the follower died while writing it */
        json_t *j = json_loads(line, 0, NULL);
        json_t *s = json_object_get(j, "seq");
        if (json_is_integer(s))
            seq = (uint64_t)json_integer_value(s);
        json_decref(j);
    }
    free(line);
    fclose(f);
    return seq;
}

int crmctl_events(int argc, char **argv)
{
    const char *stream = crmctl_opt(argc, argv, "--stream");
    const char *out_path = crmctl_opt(argc, argv, "--out");
    const char *state = crmctl_opt(argc, argv, "--state");
    const char *from = crmctl_opt(argc, argv, "--from");
    const char *count = crmctl_opt(argc, argv, "--count");
    const char *idle = crmctl_opt(argc, argv, "--idle-exit-ms");
    const char *reader = crmctl_opt(argc, argv, "--reader");
    struct s_follow f = {.out = stdout, .state_path = state};
    long idle_ms = 0, from_seq = 0;
    if ((count && cm_parse_long(count, 1, 1L << 40, &f.count)) ||
        (idle && cm_parse_long(idle, 1, 86400000, &idle_ms)) ||
        (from && cm_parse_long(from, 0, INT64_MAX, &from_seq))) {
        fprintf(stderr, "crmctl: --count, --idle-exit-ms and --from take positive numbers\n");
        return 2;
    }
    if (reader && !cm_events_reader_ok(reader, strlen(reader))) {
        fprintf(stderr,
                "crmctl: --reader: 1 to %d of a-z, 0-9, '.', '_', '-', starting with a "
                "letter or digit\n",
                CM_EVENTS_READER_MAX);
        return 2;
    }
    uint64_t after = (uint64_t)from_seq;
    if (out_path) {
        /* Truncate a torn last line before appending. */
        after = s_resume_from_out(out_path);
        FILE *r = fopen(out_path, "r+");
        if (r) {
            char *line = NULL;
            size_t cap = 0;
            long good = 0;
            ssize_t n;
            while ((n = getline(&line, &cap, r)) > 0 && line[n - 1] == '\n')
                good = ftell(r);
            free(line);
            if (ftruncate(fileno(r), good))
                cm_log_warn("could not truncate %s", out_path);
            fclose(r);
        }
        f.out = fopen(out_path, "a");
        if (!f.out) {
            fprintf(stderr, "crmctl: cannot open %s: %s\n", out_path, strerror(errno));
            return 1;
        }
    } else if (state) {
        FILE *s = fopen(state, "r");
        if (s) {
            unsigned long long v = 0;
            // NOLINTNEXTLINE(cert-err34-c): crmctl's own state file; the count is checked
            if (fscanf(s, "%llu", &v) == 1)
                after = v;
            fclose(s);
        }
    }
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    void *zctx = zmq_ctx_new();
    cm_events_sub_t *sub =
        cm_events_sub_new(zctx, s_env("CRM_EVENTS_OUT_ENDPOINT", "tcp://127.0.0.1:5557"),
                          s_env("CRM_BUS_ENDPOINT", "tcp://127.0.0.1:5555"),
                          stream ? stream : "customers", after, s_on_event, &f);
    int rc = 0;
    if (!sub) {
        fprintf(stderr, "crmctl: could not subscribe\n");
        rc = 1;
        goto out;
    }
    if (reader)
        cm_events_sub_set_reader(sub, reader, 10000);
    int64_t last_activity = cm_mono_ms();
    while (!s_stop && !(f.count && f.delivered >= f.count)) {
        int got = cm_events_sub_poll(sub, 200);
        if (got < 0 && errno != EINTR) {
            rc = 1;
            break;
        }
        if (cm_events_sub_gone(sub)) {
            fprintf(stderr, "crmctl: the %s stream cannot be followed: %s\n",
                    stream ? stream : "customers", cm_events_sub_gone(sub));
            rc = 1;
            break;
        }
        if (got > 0)
            last_activity = cm_mono_ms();
        else if (idle_ms && cm_mono_ms() - last_activity > idle_ms)
            break;
    }
out:
    cm_events_sub_destroy(&sub);
    zmq_ctx_term(zctx);
    if (out_path && f.out)
        fclose(f.out);
    return rc;
}
