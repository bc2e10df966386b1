/* Every SQL statement of the Orders bot. */
#include "notes_orders_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "visits.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

const struct cm_outbox notes_outbox = {
    .stream = NOTES_STREAM, .table = "notes.outbox", .readers = "notes.stream_readers"};

/* An erased customer's event of the notes stream without its free text
 * (cm_outbox_scrub_fn), as the tables keep it (notes_history_store.h,
 * notes_visits_store.h): an order note's text (filled with the customer's
 * name) and a return's or cancellation's reason go; that an order was held or
 * given a priority stays. NULL: nothing to change. */
static uint8_t *s_scrub(const Crm__Event *ev, size_t *len)
{
    const ProtobufCMessageDescriptor *d =
        !strcmp(ev->type, "order.instruction") ? &crm__order_instruction__descriptor
        : !strncmp(ev->type, "purchase.", 9)   ? &crm__purchase_event__descriptor
                                               : NULL;
    ProtobufCMessage *m =
        d ? protobuf_c_message_unpack(d, NULL, ev->payload.len, ev->payload.data) : NULL;
    if (!m)
        return NULL;
    uint8_t *buf = NULL;
    char **text = d == &crm__purchase_event__descriptor ? &((Crm__PurchaseEvent *)m)->reason
                  : !strcmp(((Crm__OrderInstruction *)m)->kind, "NOTE")
                      ? &((Crm__OrderInstruction *)m)->value
                      : NULL;
    if (text && (*text)[0]) {
        cm_pb_set_str(text, "");
        *len = protobuf_c_message_get_packed_size(m);
        buf = cm_malloc(*len ? *len : 1);
        protobuf_c_message_pack(m, buf);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return buf;
}

cm_err_t notes_orders_store_erase_events(cm_db_t *db, const char *tenant, const char *customer_id)
{
    return cm_outbox_erase(db, &notes_outbox, tenant, customer_id, s_scrub, NULL);
}

/* clang-format off */
/* An order of notes.orders o: its source, id, the event (EVENT, an
 * expression), total, currency, and whether no other order of the customer
 * was seen before it. */
#define ORDER_COLUMNS(EVENT)                                                                       \
    "o.source, o.order_id, " EVENT ", o.total_minor, o.currency, "                                 \
    "NOT EXISTS (SELECT 1 FROM notes.orders p WHERE p.tenant_id = o.tenant_id "                    \
    "AND p.customer_id = o.customer_id AND (p.first_seen_at, p.source, p.order_id) < "              \
    "(o.first_seen_at, o.source, o.order_id))"
/* clang-format on */

/* Runs a statement answering ORDER_COLUMNS and fills o from its row. */
static cm_err_t s_order(cm_db_t *db, const char *sql, const char *tenant, const char *id,
                        struct notes_rule_order *o)
{
    const char *p[] = {tenant, id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db, sql, 2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    memset(o, 0, sizeof *o);
    snprintf(o->source, sizeof o->source, "%s", PQgetvalue(res, 0, 0));
    snprintf(o->id, sizeof o->id, "%s", PQgetvalue(res, 0, 1));
    snprintf(o->event_id, sizeof o->event_id, "%s", PQgetvalue(res, 0, 2));
    o->total_minor = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    snprintf(o->currency, sizeof o->currency, "%s", PQgetvalue(res, 0, 4));
    o->first = PQgetvalue(res, 0, 5)[0] == 't';
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_orders_store_of_run(cm_db_t *db, const char *tenant, const char *timeline_id,
                                   struct notes_rule_order *o)
{
    return s_order(db,
                   "SELECT " ORDER_COLUMNS(
                       "t.event_id") " FROM notes.timeline t "
                                     "JOIN notes.orders o ON o.tenant_id = t.tenant_id AND "
                                     "o.source = t.source "
                                     "AND o.order_id = t.details -> 'order' ->> 'id' "
                                     "WHERE t.tenant_id = $1 AND t.id = $2 AND t.kind = 'ORDER'",
                   tenant, timeline_id, o);
}

cm_err_t notes_orders_store_latest(cm_db_t *db, const char *tenant, const char *customer_id,
                                   struct notes_rule_order *o)
{
    return s_order(
        db,
        "SELECT " ORDER_COLUMNS(
            "''") " FROM notes.orders o "
                  "WHERE o.tenant_id = $1 AND o.customer_id = $2 "
                  "ORDER BY o.first_seen_at DESC, o.source DESC, o.order_id DESC LIMIT 1",
        tenant, customer_id, o);
}

/* The instruction, the timeline row that shows it on the customer's story
 * (at the order's source, with the order's event id) and, only when the
 * instruction is new, nothing else: the event is added after it. */
/* clang-format off */
static const char INSTRUCT[] =
    "WITH ins AS (INSERT INTO notes.order_instructions (tenant_id, id, customer_id, order_source, "
    "order_id, kind, value, rule_id, rule_name, timeline_id, action_index, event_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
    "ON CONFLICT (tenant_id, rule_id, timeline_id, action_index) DO NOTHING "
    "RETURNING created_at), "
    "line AS (INSERT INTO notes.timeline (tenant_id, customer_id, occurred_at, kind, type, source, "
    "actor, event_id, details) SELECT $1, $3, ins.created_at, 'ORDER_INSTRUCTION', "
    "'order.instruction', $4, $13, $12, jsonb_build_object('orderInstruction', $14::jsonb || "
    "jsonb_build_object('createdAt', " TS("ins.created_at") ")) FROM ins) "
    "SELECT " TS("created_at") " FROM ins";
/* clang-format on */

cm_err_t notes_orders_store_instruct(cm_db_t *db, const char *tenant, const char *timeline_id,
                                     int action_index, Crm__OrderInstruction *ins,
                                     const Crm__Principal *principal, const char *request_id,
                                     bool *written)
{
    char id[40], index[16];
    cm_uuid(id);
    snprintf(index, sizeof index, "%d", action_index);
    cm_pb_set_str(&ins->id, id);
    *written = false;
    char *json = cm_pbjson_encode_text(&ins->base, CM_PBJSON_OMIT_DEFAULTS, NULL, NULL);
    const char *p[] = {tenant,
                       id,
                       ins->customer_id,
                       ins->order_source,
                       ins->order_id,
                       ins->kind,
                       ins->value,
                       ins->rule_id,
                       ins->rule_name,
                       timeline_id,
                       index,
                       ins->event_id,
                       principal->name,
                       json};
    PGresult *res = NULL;
    cm_err_t err = cm_db_begin(db, tenant);
    if (!err)
        res = cm_db_exec(db, INSTRUCT, 14, p, &err);
    free(json);
    if (!res)
        goto out;
    if (PQntuples(res) == 1) {
        cm_pb_set_str(&ins->created_at, PQgetvalue(res, 0, 0));
        size_t len = crm__order_instruction__get_packed_size(ins);
        uint8_t *buf = cm_malloc(len + 1);
        crm__order_instruction__pack(ins, buf);
        Crm__Event ev = CRM__EVENT__INIT;
        ev.type = "order.instruction";
        ev.tenant_id = (char *)tenant;
        ev.principal = (Crm__Principal *)principal;
        ev.channel = "rule";
        ev.request_id = (char *)request_id;
        ev.payload.data = buf;
        ev.payload.len = len;
        err = cm_outbox_add(db, &notes_outbox, &ev, ins->customer_id);
        free(buf);
        *written = !err;
    }
    if (!err)
        err = cm_db_commit(db);
out:
    if (res)
        PQclear(res);
    if (err) {
        cm_db_rollback(db);
        *written = false;
    }
    return err;
}

cm_err_t notes_orders_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                 const char *source, const char *order_id,
                                 Crm__ListOrderInstructionsResponse *resp)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", NOTES_ORDER_INSTRUCTIONS_MAX);
    const char *p[] = {tenant, customer_id, source, order_id, lim};
    cm_err_t err = CM_OK;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT id, customer_id, order_source, order_id, kind, value, "
                   "rule_id, rule_name, event_id, " TS(
                       "created_at") " "
                                     "FROM notes.order_instructions WHERE tenant_id = $1 "
                                     "AND customer_id = $2 AND order_source = $3 AND order_id = $4 "
                                     "ORDER BY created_at, id LIMIT $5",
                   5, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    resp->instructions = cm_calloc((size_t)n + 1, sizeof *resp->instructions);
    for (int i = 0; i < n; i++) {
        Crm__OrderInstruction *x =
            (Crm__OrderInstruction *)cm_pb_new(&crm__order_instruction__descriptor);
        char **fields[] = {&x->id,       &x->customer_id, &x->order_source, &x->order_id,
                           &x->kind,     &x->value,       &x->rule_id,      &x->rule_name,
                           &x->event_id, &x->created_at};
        for (int f = 0; f < 10; f++)
            cm_pb_set_str(fields[f], PQgetvalue(res, i, f));
        resp->instructions[resp->n_instructions++] = x;
    }
    PQclear(res);
    return CM_OK;
}
