/* The changes between two versions of a customer, and their record. */
#include "customers_changes.h"
#include "customers_events.h"
#include "customers_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdlib.h>

static void s_on_change(void *ud, const char *path, const char *old_json, const char *new_json)
{
    struct customers_changes *ch = ud;
    Crm__FieldChange *fc = (Crm__FieldChange *)cm_pb_new(&crm__field_change__descriptor);
    cm_pb_set_str(&fc->field, path);
    cm_pb_set_str(&fc->old_value, old_json);
    cm_pb_set_str(&fc->new_value, new_json);
    ch->items = cm_realloc(ch->items, (ch->n + 1) * sizeof *ch->items);
    ch->items[ch->n++] = fc;
    json_array_append_new(ch->json, json_pack("{s:s, s:s, s:s}", "field", path, "oldValue",
                                              old_json, "newValue", new_json));
}

void customers_changes_compute(struct customers_changes *ch, const Crm__Customer *a,
                               const Crm__Customer *b)
{
    static const char *const skip[] = {"id", "createdAt", "updatedAt", "etag", NULL};
    ch->items = NULL;
    ch->n = 0;
    ch->json = json_array();
    cm_pb_diff(&crm__customer__descriptor, a ? &a->base : NULL, b ? &b->base : NULL, skip,
               s_on_change, ch);
}

void customers_changes_release(struct customers_changes *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        protobuf_c_message_free_unpacked(&ch->items[i]->base, NULL);
    free(ch->items);
    json_decref(ch->json);
    ch->items = NULL;
    ch->n = 0;
    ch->json = NULL;
}

bool customers_changes_record(struct cm_call *call, const char *customer_id, const char *action,
                              const char *const *types, const Crm__Customer *customer,
                              const struct customers_changes *ch)
{
    char *text = json_dumps(ch->json, JSON_COMPACT);
    cm_err_t err =
        customers_store_audit(call->db, call->hdr->tenant_id, customer_id, action, call->hdr, text);
    free(text);
    for (size_t i = 0; !err && types[i]; i++)
        err = customers_events_add(call->db, call->hdr, types[i], customer, ch->items, ch->n);
    if (err) {
        cm_call_db_fail(call, err, "could not record the change");
        return false;
    }
    return true;
}
