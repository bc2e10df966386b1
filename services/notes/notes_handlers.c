/* Notes, tasks and the task calendar: one function per request, and the
 * method table. The customer a note or task belongs to is checked with
 * customers.GetCustomer over the bus, as the caller (tenant and principal). */
#include "notes_handlers.h"
#include "notes_ical.h"
#include "notes_store.h"
#include "notes_validate.h"
#include "notes_zone.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "notes.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* How long a write waits for customers.GetCustomer: well inside the
 * broker's liveness, since the worker sends no heartbeat meanwhile. */
#define CUSTOMER_TIMEOUT_MS 2000
/* A calendar shows at most this many tasks, and done ones for this many days. */
#define CALENDAR_LIMIT 2000
#define CALENDAR_DONE_DAYS 14
/* A feed token: 32 random bytes, base64url without padding. */
#define FEED_TOKEN_BYTES 32
#define FEED_TOKEN_LEN 43

/* ---------------------------------------------------------------------- */
/* Shared checks                                                           */

static const char *s_caller_id(const struct cm_call *call)
{
    return call->hdr->principal ? call->hdr->principal->id : "";
}

static const char *s_caller_name(const struct cm_call *call)
{
    return call->hdr->principal ? call->hdr->principal->name : "";
}

static bool s_is_admin(const struct cm_call *call)
{
    const Crm__Principal *p = call->hdr->principal;
    return p && (p->role == CRM__ROLE__ROLE_ADMIN || p->role == CRM__ROLE__ROLE_OWNER);
}

/* The name a calendar and a task list show for a customer. */
static char *s_customer_name(const Crm__Customer *c)
{
    if (c->is_company && c->company && c->company->name[0])
        return cm_strdup(c->company->name);
    if (c->first_name[0] && c->last_name[0])
        return cm_strfmt("%s %s", c->first_name, c->last_name);
    if (c->first_name[0] || c->last_name[0])
        return cm_strdup(c->first_name[0] ? c->first_name : c->last_name);
    if (c->company && c->company->name[0])
        return cm_strdup(c->company->name);
    return cm_strdup(c->email);
}

/* notes_handlers.h: the customer's display name, or NULL with the call failed. */
char *notes_customer(struct cm_call *call, const char *customer_id)
{
    if (!cm_uuid_valid(customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", customer_id);
        return NULL;
    }
    Crm__GetCustomerRequest req = CRM__GET_CUSTOMER_REQUEST__INIT;
    req.id = (char *)customer_id;
    Crm__ReplyHeader *reply = NULL;
    ProtobufCMessage *resp = NULL;
    char *name = NULL;
    /* As notes itself: writing a note needs notes:write, not customers:read. */
    static const Crm__Principal self = {
        PROTOBUF_C_MESSAGE_INIT(&crm__principal__descriptor), .id = "notes", .name = "notes",
        .role = CRM__ROLE__ROLE_SERVICE, .kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE};
    cm_err_t err = cm_call_service_as(
        call, call->hdr->tenant_id, &self, "customers", "customers.GetCustomer", &req.base,
        &crm__customer__descriptor, CUSTOMER_TIMEOUT_MS, &reply, &resp);
    if (err) {
        cm_log_warn("customers.GetCustomer for %s: %s", customer_id, cm_err_name(err));
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not check customer %s; try again",
                     customer_id);
    } else if (reply->status == CRM__STATUS__STATUS_NOT_FOUND && reply->n_details &&
               !strcmp(reply->details[0]->reason, "MERGED")) {
        /* A merged record's id: say where its history is now, as customers does. */
        cm_call_moved(call, "id", "MERGED", reply->details[0]->resource_id, "%s", reply->message);
    } else if (reply->status == CRM__STATUS__STATUS_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", customer_id);
    } else if (reply->status == CRM__STATUS__STATUS_PERMISSION_DENIED) {
        cm_call_fail(call, CM_ERR_PERMISSION, "%s", reply->message);
    } else if (reply->status != CRM__STATUS__STATUS_OK || !resp) {
        cm_log_warn("customers.GetCustomer for %s: status %d", customer_id, (int)reply->status);
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not check customer %s; try again",
                     customer_id);
    } else {
        name = s_customer_name((const Crm__Customer *)resp);
    }
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return name;
}

/* Checks a text field; returns the normalised text or NULL with a violation. */
static char *s_text(struct cm_call *call, const char *field, const char *what, const char *value,
                    size_t max, unsigned flags)
{
    struct notes_problem p;
    char *out = notes_validate_text(value, max, flags, what, &p);
    if (!out)
        cm_call_violation(call, field, p.reason, "%s", p.description);
    return out;
}

static bool s_etag_matches(struct cm_call *call, const char *what, const char *id, const char *etag,
                           const char *now)
{
    if (etag[0] && strcmp(etag, now) != 0) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "%s %s changed since it was read (etag %s, now %s)",
                     what, id, etag, now);
        return false;
    }
    return true;
}

static bool s_page_size(struct cm_call *call, int32_t size, int *limit)
{
    if (size < 0 || size > NOTES_PAGE_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d (0 means %d)",
                          NOTES_PAGE_MAX, NOTES_PAGE_DEFAULT);
        return false;
    }
    *limit = size ? size : NOTES_PAGE_DEFAULT;
    return true;
}

static bool s_page_token(struct cm_call *call, const char *tok, struct notes_page *after,
                         char id[NOTES_ID_SIZE])
{
    memset(after, 0, sizeof *after);
    if (!tok[0])
        return true;
    if (notes_token_parse(tok, &after->flag, &after->key, id)) {
        cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                          "pageToken is not one this list gave out; start again without it");
        return false;
    }
    after->set = true;
    after->id = id;
    return true;
}

static char *s_token_text(const struct notes_page *next)
{
    char buf[96];
    return cm_strdup(notes_token_make(next->flag, next->key, next->id, buf, sizeof buf));
}

/* The update mask of a request: the given paths, or with none every field
 * the message sets (for bus callers that send no mask). Returns a malloc'd
 * array of malloc'd paths. */
static char **s_mask(const ProtobufCMessage *msg, char **given, size_t n_given, size_t *n)
{
    char **paths = NULL;
    *n = 0;
    if (n_given) {
        paths = cm_calloc(n_given, sizeof *paths);
        for (size_t i = 0; i < n_given; i++)
            paths[(*n)++] = cm_strdup(given[i]);
        return paths;
    }
    if (!msg)
        return NULL;
    json_t *set = cm_pbjson_encode(msg, CM_PBJSON_OMIT_DEFAULTS);
    const char *key;
    json_t *value;
    json_object_foreach(set, key, value)
    {
        paths = cm_realloc(paths, (*n + 1) * sizeof *paths);
        paths[(*n)++] = cm_strdup(key);
    }
    json_decref(set);
    return paths;
}

static void s_free_mask(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* True when path is name or below it ("assignee.id" is under "assignee"). */
static bool s_path_is(const char *path, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(path, name, n) && (path[n] == '\0' || path[n] == '.');
}

static bool s_output_only(const char *path, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (s_path_is(path, names[i]))
            return true;
    return false;
}

/* ---------------------------------------------------------------------- */
/* Notes                                                                   */

static Crm__Note *s_load_note(struct cm_call *call, const char *customer_id, const char *id,
                              bool for_update)
{
    Crm__Note *n = NULL;
    if (cm_uuid_valid(customer_id) && cm_uuid_valid(id)) {
        cm_err_t err =
            notes_store_note_get(call->db, TENANT(call), customer_id, id, for_update, &n);
        if (err) {
            cm_call_db_fail(call, err, "could not read note");
            return NULL;
        }
    }
    if (!n)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no note %s on customer %s", id, customer_id);
    return n;
}

/* Only its author and administrators change or delete a note. */
static bool s_may_change_note(struct cm_call *call, const Crm__Note *n)
{
    if (s_is_admin(call) || (n->author && !strcmp(n->author->id, s_caller_id(call))))
        return true;
    cm_call_fail(call, CM_ERR_PERMISSION,
                 "only the note's author or an administrator may change or delete it");
    return false;
}

/* A note's body is private (staff's notes): a principal without
 * private:read sees the note without it. Returns n. */
static Crm__Note *s_shown(const struct cm_call *call, Crm__Note *n)
{
    if (n && !cm_perm_private(call->hdr->principal))
        cm_pb_set_str(&n->body, "");
    return n;
}

static void s_create_note(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__CreateNoteRequest *req = (const Crm__CreateNoteRequest *)msg;
    char *body = NULL, *name = NULL;
    const Crm__Note *in = req->note;
    body = s_text(call, "note.body", "the note", in ? in->body : "", NOTES_BODY_MAX,
                  NOTES_TEXT_MULTILINE | NOTES_TEXT_REQUIRED);
    if (!body)
        goto out;
    name = notes_customer(call, req->customer_id);
    if (!name)
        goto out;
    char id[NOTES_ID_SIZE];
    cm_uuid(id);
    cm_err_t err =
        notes_store_note_insert(call->db, TENANT(call), id, req->customer_id, body,
                                in && in->pinned, s_caller_id(call), s_caller_name(call));
    if (err) {
        cm_call_db_fail(call, err, "could not insert note");
        goto out;
    }
    Crm__Note *n = s_load_note(call, req->customer_id, id, false);
    if (!n)
        goto out;
    cm_log_info("created note %s on customer %s", id, req->customer_id);
    cm_log_debug("note %s: %s", id, body);
    *resp = &s_shown(call, n)->base;
out:
    free(body);
    free(name);
}

static void s_get_note(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetNoteRequest *req = (const Crm__GetNoteRequest *)msg;
    Crm__Note *n = s_load_note(call, req->customer_id, req->id, false);
    if (n)
        *resp = &s_shown(call, n)->base;
}

static const char *const s_note_output_only[] = {"id",        "customerId", "author", "editedBy",
                                                 "createdAt", "updatedAt",  "etag",   NULL};

static void s_update_note(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__UpdateNoteRequest *req = (const Crm__UpdateNoteRequest *)msg;
    Crm__Note *old = NULL;
    char *body = NULL;
    size_t n_paths = 0;
    char **paths =
        s_mask(req->note ? &req->note->base : NULL, req->update_mask, req->n_update_mask, &n_paths);
    old = s_load_note(call, req->customer_id, req->id, true);
    if (!old || !s_etag_matches(call, "note", old->id, req->etag, old->etag) ||
        !s_may_change_note(call, old))
        goto out;
    const Crm__Note empty = CRM__NOTE__INIT;
    const Crm__Note *in = req->note ? req->note : &empty;
    bool pinned = old->pinned, set_body = false;
    for (size_t i = 0; i < n_paths; i++) {
        if (s_path_is(paths[i], "body"))
            set_body = true;
        else if (s_path_is(paths[i], "pinned"))
            pinned = in->pinned;
        else if (!s_output_only(paths[i], s_note_output_only))
            cm_call_violation(call, paths[i], "UNKNOWN_FIELD",
                              "%s is not a field of a note that can be changed (body, pinned)",
                              paths[i]);
    }
    if (cm_call_failed(call))
        goto out;
    /* Who may not read the body may not change it either: it stays. */
    set_body = set_body && cm_perm_private(call->hdr->principal);
    if (set_body) {
        body = s_text(call, "note.body", "the note", in->body, NOTES_BODY_MAX,
                      NOTES_TEXT_MULTILINE | NOTES_TEXT_REQUIRED);
        if (!body)
            goto out;
    }
    bool edited = body && strcmp(body, old->body) != 0;
    if (!edited && pinned == old->pinned) {
        *resp = &s_shown(call, old)->base; // nothing changed: no new version
        old = NULL;
        goto out;
    }
    cm_err_t err =
        notes_store_note_update(call->db, TENANT(call), old->id, edited ? body : old->body, pinned,
                                edited, s_caller_id(call), s_caller_name(call));
    if (err) {
        cm_call_db_fail(call, err, "could not update note");
        goto out;
    }
    Crm__Note *n = s_load_note(call, req->customer_id, req->id, false);
    if (n)
        *resp = &s_shown(call, n)->base;
out:
    s_free_mask(paths, n_paths);
    free(body);
    if (old)
        crm__note__free_unpacked(old, NULL);
}

static void s_delete_note(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__DeleteNoteRequest *req = (const Crm__DeleteNoteRequest *)msg;
    Crm__Note *old = s_load_note(call, req->customer_id, req->id, true);
    if (!old)
        return;
    if (s_etag_matches(call, "note", old->id, req->etag, old->etag) &&
        s_may_change_note(call, old)) {
        cm_err_t err = notes_store_note_delete(call->db, TENANT(call), old->id);
        if (err) {
            cm_call_db_fail(call, err, "could not delete note");
        } else {
            cm_log_info("deleted note %s", old->id);
            *resp = cm_pb_new(&crm__empty__descriptor);
        }
    }
    crm__note__free_unpacked(old, NULL);
}

static void s_list_notes(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListNotesRequest *req = (const Crm__ListNotesRequest *)msg;
    int limit;
    struct notes_page after, next = {0};
    char after_id[NOTES_ID_SIZE];
    if (!s_page_size(call, req->page_size, &limit) ||
        !s_page_token(call, req->page_token, &after, after_id))
        return;
    char *name = notes_customer(call, req->customer_id);
    if (!name)
        return;
    free(name);
    Crm__ListNotesResponse *r =
        (Crm__ListNotesResponse *)cm_pb_new(&crm__list_notes_response__descriptor);
    cm_err_t err =
        notes_store_note_list(call->db, TENANT(call), req->customer_id, &after, limit, r, &next);
    if (err) {
        cm_call_db_fail(call, err, "could not list notes");
        crm__list_notes_response__free_unpacked(r, NULL);
        return;
    }
    if (next.set) {
        char *tok = s_token_text(&next);
        cm_pb_set_str(&r->next_page_token, tok);
        free(tok);
        free((char *)next.id);
    }
    for (size_t i = 0; i < r->n_notes; i++)
        s_shown(call, r->notes[i]);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Tasks                                                                   */

/* A task being written: the stored one with the request's fields applied. */
struct s_draft {
    char *customer_id;   // owned
    char *customer_name; // owned
    char *title;         // owned
    char *description;   // owned
    struct notes_due due;
    bool has_due;
    char *assignee_id;   // owned
    char *assignee_name; // owned
    bool done;
};

static void s_draft_release(struct s_draft *d)
{
    free(d->customer_id);
    free(d->customer_name);
    free(d->title);
    free(d->description);
    free(d->assignee_id);
    free(d->assignee_name);
    memset(d, 0, sizeof *d);
}

static void s_set(char **field, const char *value)
{
    free(*field);
    *field = cm_strdup(value);
}

static void s_draft_from_task(struct s_draft *d, const Crm__Task *t)
{
    s_set(&d->customer_id, t->customer_id);
    s_set(&d->customer_name, t->customer_name);
    s_set(&d->title, t->title);
    s_set(&d->description, t->description);
    d->has_due = t->due_at[0] && notes_due_parse(t->due_at, &d->due) == NOTES_DUE_OK;
    s_set(&d->assignee_id, t->assignee ? t->assignee->id : "");
    s_set(&d->assignee_name, t->assignee ? t->assignee->name : "");
    d->done = t->done;
}

/* Parses a due value into *due for field; false with a violation. */
static bool s_due(struct cm_call *call, const char *field, const char *value, struct notes_due *due)
{
    switch (notes_due_parse(value, due)) {
    case NOTES_DUE_OK:
        return true;
    case NOTES_DUE_RANGE:
        cm_call_violation(call, field, "OUT_OF_RANGE", "%s must be between %d-01-01 and %d-12-31",
                          field, NOTES_DUE_MIN_YEAR, NOTES_DUE_MAX_YEAR);
        return false;
    case NOTES_DUE_FORMAT:
        break;
    }
    cm_call_violation(call, field, "INVALID_FORMAT",
                      "%s must be an RFC 3339 date-time with its offset, like "
                      "2026-11-27T10:00:00+01:00, or a date like 2026-11-27",
                      field);
    return false;
}

/* The assignee of a task: the caller when none or "me" is given. */
static void s_apply_assignee(struct cm_call *call, struct s_draft *d, const Crm__StaffMember *a)
{
    const char *id = a ? a->id : "";
    if (!id[0] || !strcmp(id, "me") || !strcmp(id, s_caller_id(call))) {
        s_set(&d->assignee_id, s_caller_id(call));
        s_set(&d->assignee_name, s_caller_name(call));
        return;
    }
    if (!notes_staff_id_valid(id)) {
        cm_call_violation(call, "task.assignee.id", "INVALID_FORMAT",
                          "task.assignee.id must be 1..%d printable ASCII characters without "
                          "spaces",
                          NOTES_STAFF_ID_MAX);
        return;
    }
    char *name =
        s_text(call, "task.assignee.name", "the assignee's name", a->name, NOTES_STAFF_NAME_MAX, 0);
    if (!name)
        return;
    s_set(&d->assignee_id, id);
    free(d->assignee_name);
    d->assignee_name = name[0] ? name : cm_strdup(id);
    if (!name[0])
        free(name);
}

/* Applies one field of in to the draft, checking it. */
static void s_apply(struct cm_call *call, struct s_draft *d, const Crm__Task *in, const char *path)
{
    char *v = NULL;
    if (s_path_is(path, "title")) {
        v = s_text(call, "task.title", "the title", in->title, NOTES_TITLE_MAX,
                   NOTES_TEXT_REQUIRED);
        if (v) {
            free(d->title);
            d->title = v;
        }
    } else if (s_path_is(path, "description")) {
        v = s_text(call, "task.description", "the description", in->description,
                   NOTES_DESCRIPTION_MAX, NOTES_TEXT_MULTILINE);
        if (v) {
            free(d->description);
            d->description = v;
        }
    } else if (s_path_is(path, "dueAt")) {
        d->has_due = false;
        if (in->due_at[0])
            d->has_due = s_due(call, "task.dueAt", in->due_at, &d->due);
    } else if (s_path_is(path, "assignee")) {
        s_apply_assignee(call, d, in->assignee);
    } else if (s_path_is(path, "done")) {
        d->done = in->done;
    } else if (s_path_is(path, "customerId")) {
        s_set(&d->customer_id, in->customer_id);
    } else {
        static const char *const output_only[] = {"id",        "customerName", "doneAt",
                                                  "overdue",   "createdBy",    "createdAt",
                                                  "updatedAt", "etag",         NULL};
        if (!s_output_only(path, output_only))
            cm_call_violation(call, path, "UNKNOWN_FIELD",
                              "%s is not a field of a task that can be set (title, description, "
                              "dueAt, assignee, done, customerId)",
                              path);
    }
}

/* Resolves the draft's customer (when changed): its name, or a 404. */
static bool s_draft_customer(struct cm_call *call, struct s_draft *d)
{
    if (!d->customer_id[0]) {
        s_set(&d->customer_name, "");
        return true;
    }
    char *name = notes_customer(call, d->customer_id);
    if (!name)
        return false;
    free(d->customer_name);
    d->customer_name = name;
    return true;
}

static struct notes_task_row s_row(const struct s_draft *d, const char *id)
{
    struct notes_task_row r = {
        .id = id,
        .customer_id = d->customer_id,
        .customer_name = d->customer_name,
        .title = d->title,
        .description = d->description,
        .has_due = d->has_due,
        .due_all_day = d->due.all_day,
        .due_ms = d->due.ms,
        .assignee_id = d->assignee_id,
        .assignee_name = d->assignee_name,
        .done = d->done,
    };
    return r;
}

/* A write's prepare step: learns the business's time zone (for the task's
 * overdue flag) before the transaction, so s_load_task finds it kept. */
static void s_learn_zone(struct cm_call *call, const ProtobufCMessage *req)
{
    (void)req;
    char zone[NOTES_ZONE_SIZE];
    notes_zone_of_call(call, zone);
}

static Crm__Task *s_load_task(struct cm_call *call, const char *id, bool for_update)
{
    Crm__Task *t = NULL;
    if (cm_uuid_valid(id)) {
        char zone[NOTES_ZONE_SIZE];
        notes_zone_of_call(call, zone);
        cm_err_t err = notes_store_task_get(call->db, TENANT(call), id, for_update, zone, &t);
        if (err) {
            cm_call_db_fail(call, err, "could not read task");
            return NULL;
        }
    }
    if (!t)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no task %s", id);
    return t;
}

static void s_create_task(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__CreateTaskRequest *req = (const Crm__CreateTaskRequest *)msg;
    const Crm__Task empty = CRM__TASK__INIT;
    const Crm__Task *in = req->task ? req->task : &empty;
    struct s_draft d = {0};
    s_draft_from_task(&d, &empty);
    static const char *const fields[] = {"title", "description", "dueAt", "assignee", "done"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        s_apply(call, &d, in, fields[i]);
    /* The customer comes from the path, or from the body for POST /v1/tasks. */
    if (req->customer_id[0] && in->customer_id[0] && strcmp(req->customer_id, in->customer_id)) {
        cm_call_violation(call, "task.customerId", "INVALID",
                          "task.customerId differs from the customer in the path");
    }
    if (cm_call_failed(call))
        goto out;
    s_set(&d.customer_id, req->customer_id[0] ? req->customer_id : in->customer_id);
    if (!s_draft_customer(call, &d))
        goto out;
    char id[NOTES_ID_SIZE];
    cm_uuid(id);
    struct notes_task_row row = s_row(&d, id);
    row.created_by_id = s_caller_id(call);
    row.created_by_name = s_caller_name(call);
    cm_err_t err = notes_store_task_insert(call->db, TENANT(call), &row);
    if (err) {
        cm_call_db_fail(call, err, "could not insert task");
        goto out;
    }
    Crm__Task *t = s_load_task(call, id, false);
    if (t) {
        cm_log_info("created task %s", id);
        *resp = &t->base;
    }
out:
    s_draft_release(&d);
}

static void s_get_task(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetTaskRequest *req = (const Crm__GetTaskRequest *)msg;
    Crm__Task *t = s_load_task(call, req->id, false);
    if (t)
        *resp = &t->base;
}

static void s_update_task(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__UpdateTaskRequest *req = (const Crm__UpdateTaskRequest *)msg;
    const Crm__Task empty = CRM__TASK__INIT;
    const Crm__Task *in = req->task ? req->task : &empty;
    struct s_draft d = {0};
    Crm__Task *old = NULL;
    size_t n_paths = 0;
    char **paths =
        s_mask(req->task ? &req->task->base : NULL, req->update_mask, req->n_update_mask, &n_paths);
    old = s_load_task(call, req->id, true);
    if (!old || !s_etag_matches(call, "task", old->id, req->etag, old->etag))
        goto out;
    s_draft_from_task(&d, old);
    bool assignee_done = false, customer_changed = false;
    for (size_t i = 0; i < n_paths; i++) {
        /* "assignee.id" and "assignee.name" are one change. */
        if (s_path_is(paths[i], "assignee")) {
            if (assignee_done)
                continue;
            assignee_done = true;
        }
        if (s_path_is(paths[i], "customerId"))
            customer_changed = true;
        s_apply(call, &d, in, paths[i]);
    }
    if (cm_call_failed(call))
        goto out;
    if (customer_changed && strcmp(d.customer_id, old->customer_id) != 0 &&
        !s_draft_customer(call, &d))
        goto out;
    struct notes_task_row row = s_row(&d, old->id);
    cm_err_t err = notes_store_task_update(call->db, TENANT(call), &row);
    if (err) {
        cm_call_db_fail(call, err, "could not update task");
        goto out;
    }
    Crm__Task *t = s_load_task(call, old->id, false);
    if (t)
        *resp = &t->base;
out:
    s_free_mask(paths, n_paths);
    s_draft_release(&d);
    if (old)
        crm__task__free_unpacked(old, NULL);
}

static void s_delete_task(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__DeleteTaskRequest *req = (const Crm__DeleteTaskRequest *)msg;
    Crm__Task *old = s_load_task(call, req->id, true);
    if (!old)
        return;
    if (s_etag_matches(call, "task", old->id, req->etag, old->etag)) {
        cm_err_t err = notes_store_task_delete(call->db, TENANT(call), old->id);
        if (err) {
            cm_call_db_fail(call, err, "could not delete task");
        } else {
            cm_log_info("deleted task %s", old->id);
            *resp = cm_pb_new(&crm__empty__descriptor);
        }
    }
    crm__task__free_unpacked(old, NULL);
}

static void s_list_tasks(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListTasksRequest *req = (const Crm__ListTasksRequest *)msg;
    struct notes_task_filter f = {.done = -1};
    struct notes_page after, next = {0};
    char after_id[NOTES_ID_SIZE];
    int limit;
    if (!s_page_size(call, req->page_size, &limit) ||
        !s_page_token(call, req->page_token, &after, after_id))
        return;
    if (req->assignee[0] && strcmp(req->assignee, "me") && !notes_staff_id_valid(req->assignee))
        cm_call_violation(call, "assignee", "INVALID_FORMAT",
                          "assignee must be a staff member's id or \"me\"");
    struct notes_due due;
    if (req->due_before[0] && s_due(call, "dueBefore", req->due_before, &due)) {
        f.has_before = true;
        f.before_ms = due.ms;
    }
    if (req->due_after[0] && s_due(call, "dueAfter", req->due_after, &due)) {
        f.has_after = true;
        f.after_ms = due.ms;
    }
    if (cm_call_failed(call))
        return;
    if (req->customer_id[0]) {
        char *name = notes_customer(call, req->customer_id);
        if (!name)
            return;
        free(name);
        f.customer_id = req->customer_id;
    }
    if (req->assignee[0])
        f.assignee_id = strcmp(req->assignee, "me") ? req->assignee : s_caller_id(call);
    if (req->done)
        f.done = req->done->value;
    f.overdue = req->overdue;
    Crm__ListTasksResponse *r =
        (Crm__ListTasksResponse *)cm_pb_new(&crm__list_tasks_response__descriptor);
    char zone[NOTES_ZONE_SIZE];
    notes_zone_of_call(call, zone);
    cm_err_t err = notes_store_task_list(call->db, TENANT(call), &f, &after, limit, zone, r, &next);
    if (err) {
        cm_call_db_fail(call, err, "could not list tasks");
        crm__list_tasks_response__free_unpacked(r, NULL);
        return;
    }
    if (next.set) {
        char *tok = s_token_text(&next);
        cm_pb_set_str(&r->next_page_token, tok);
        free(tok);
        free((char *)next.id);
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* The calendar                                                            */

static bool s_component(struct cm_call *call, const char *field, const char *value,
                        enum notes_ical_component *out)
{
    if (!value[0] || !strcmp(value, "event")) {
        *out = NOTES_ICAL_EVENT;
        return true;
    }
    if (!strcmp(value, "todo")) {
        *out = NOTES_ICAL_TODO;
        return true;
    }
    cm_call_violation(call, field, "INVALID", "%s must be \"event\" or \"todo\"", field);
    return false;
}

static bool s_base_url(struct cm_call *call, const char *field, const char *value)
{
    if (notes_base_url_valid(value))
        return true;
    cm_call_violation(call, field, "INVALID_FORMAT",
                      "%s must be an http or https address without a trailing slash, query or "
                      "fragment, at most %d bytes, like https://crm.example.com",
                      field, NOTES_BASE_URL_MAX);
    return false;
}

static int64_t s_ms(const char *rfc3339)
{
    struct notes_due d = {0};
    if (!rfc3339[0] || notes_due_parse(rfc3339, &d) != NOTES_DUE_OK)
        return 0;
    return d.ms;
}

/* Renders the assignee's calendar into the response. */
static void s_calendar(struct cm_call *call, const char *tenant, const char *assignee_id,
                       const char *assignee_name, enum notes_ical_component component,
                       const char *base_url, ProtobufCMessage **resp)
{
    Crm__ListTasksResponse *list =
        (Crm__ListTasksResponse *)cm_pb_new(&crm__list_tasks_response__descriptor);
    /* A calendar shows no overdue flag: UTC spares the feed (which serves
     * no tenant of its own) a call to customers. */
    cm_err_t err = notes_store_task_calendar(call->db, tenant, assignee_id, CALENDAR_DONE_DAYS,
                                             CALENDAR_LIMIT, "UTC", list);
    if (err) {
        cm_call_db_fail(call, err, "could not list tasks");
        crm__list_tasks_response__free_unpacked(list, NULL);
        return;
    }
    struct notes_ical_task *items = cm_calloc(list->n_tasks + 1, sizeof *items);
    for (size_t i = 0; i < list->n_tasks; i++) {
        const Crm__Task *t = list->tasks[i];
        struct notes_ical_task *it = &items[i];
        struct notes_due due = {0};
        it->id = t->id;
        it->title = t->title;
        it->description = t->description;
        it->customer_id = t->customer_id;
        it->customer_name = t->customer_name;
        it->has_due = t->due_at[0] && notes_due_parse(t->due_at, &due) == NOTES_DUE_OK;
        it->all_day = due.all_day;
        it->due_ms = due.ms;
        it->done = t->done;
        it->done_ms = s_ms(t->done_at);
        it->created_ms = s_ms(t->created_at);
        it->updated_ms = s_ms(t->updated_at);
        long version = 1;
        if (cm_parse_long(t->etag, 1, 1L << 30, &version))
            version = 1;
        it->version = (int)version;
    }
    char *name = cm_strfmt("Tasks: %s", assignee_name[0] ? assignee_name : assignee_id);
    struct notes_ical_opts opts = {.name = name, .base_url = base_url, .component = component};
    size_t len = 0;
    char *text = notes_ical_render(items, list->n_tasks, &opts, &len);
    free(name);
    free(items);
    crm__list_tasks_response__free_unpacked(list, NULL);
    if (!text) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "the calendar is larger than %u bytes",
                     NOTES_ICAL_MAX_BYTES);
        return;
    }
    Crm__TaskCalendar *cal = (Crm__TaskCalendar *)cm_pb_new(&crm__task_calendar__descriptor);
    cm_pb_set_str(&cal->content_type, "text/calendar; charset=utf-8");
    cal->data.data = (uint8_t *)text;
    cal->data.len = len;
    *resp = &cal->base;
}

static void s_get_task_calendar(struct cm_call *call, const ProtobufCMessage *msg,
                                ProtobufCMessage **resp)
{
    const Crm__TaskCalendarRequest *req = (const Crm__TaskCalendarRequest *)msg;
    enum notes_ical_component component;
    if (req->token[0]) {
        cm_call_violation(call, "token", "INVALID",
                          "a feed token belongs to /v1/feeds/tasks.ics, not with an API key");
        return;
    }
    if (req->assignee[0] && strcmp(req->assignee, "me") && !notes_staff_id_valid(req->assignee))
        cm_call_violation(call, "assignee", "INVALID_FORMAT",
                          "assignee must be a staff member's id or \"me\"");
    if (!s_component(call, "component", req->component, &component) ||
        !s_base_url(call, "baseUrl", req->base_url) || cm_call_failed(call))
        return;
    bool me = !req->assignee[0] || !strcmp(req->assignee, "me") ||
              !strcmp(req->assignee, s_caller_id(call));
    const char *id = me ? s_caller_id(call) : req->assignee;
    s_calendar(call, TENANT(call), id, me ? s_caller_name(call) : id, component, req->base_url,
               resp);
}

/* The secret-address feed: no API key, the token finds the tenant and assignee. */
static void s_get_task_feed_calendar(struct cm_call *call, const ProtobufCMessage *msg,
                                     ProtobufCMessage **resp)
{
    const Crm__TaskCalendarRequest *req = (const Crm__TaskCalendarRequest *)msg;
    if (strlen(req->token) != FEED_TOKEN_LEN ||
        strspn(req->token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            FEED_TOKEN_LEN) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no task feed has this token");
        return;
    }
    uint8_t hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)req->token, FEED_TOKEN_LEN, NULL,
                       0);
    Crm__TaskFeed *feed = NULL;
    char tenant[NOTES_ID_SIZE];
    cm_err_t err = notes_store_feed_by_token(call->db, hash, &feed, tenant);
    if (err) {
        cm_call_db_fail(call, err, "could not read task feed");
        return;
    }
    if (!feed) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no task feed has this token");
        return;
    }
    enum notes_ical_component component =
        strcmp(feed->component, "todo") ? NOTES_ICAL_EVENT : NOTES_ICAL_TODO;
    cm_log_info("task feed %s", feed->id);
    s_calendar(call, tenant, feed->assignee->id, feed->assignee->name, component, feed->base_url,
               resp);
    crm__task_feed__free_unpacked(feed, NULL);
}

static void s_create_task_feed(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const Crm__CreateTaskFeedRequest *req = (const Crm__CreateTaskFeedRequest *)msg;
    const Crm__TaskFeed empty = CRM__TASK_FEED__INIT;
    const Crm__TaskFeed *in = req->feed ? req->feed : &empty;
    enum notes_ical_component component;
    if (!s_component(call, "feed.component", in->component, &component) ||
        !s_base_url(call, "feed.baseUrl", in->base_url))
        return;
    struct s_draft d = {0};
    s_apply_assignee(call, &d, in->assignee);
    if (cm_call_failed(call)) {
        s_draft_release(&d);
        return;
    }
    Crm__TaskFeed *f = (Crm__TaskFeed *)cm_pb_new(&crm__task_feed__descriptor);
    char id[NOTES_ID_SIZE];
    cm_uuid(id);
    cm_pb_set_str(&f->id, id);
    f->assignee = (Crm__StaffMember *)cm_pb_new(&crm__staff_member__descriptor);
    cm_pb_set_str(&f->assignee->id, d.assignee_id);
    cm_pb_set_str(&f->assignee->name, d.assignee_name);
    cm_pb_set_str(&f->component, component == NOTES_ICAL_TODO ? "todo" : "event");
    cm_pb_set_str(&f->base_url, in->base_url);
    f->created_by = (Crm__StaffMember *)cm_pb_new(&crm__staff_member__descriptor);
    cm_pb_set_str(&f->created_by->id, s_caller_id(call));
    cm_pb_set_str(&f->created_by->name, s_caller_name(call));
    s_draft_release(&d);

    unsigned char raw[FEED_TOKEN_BYTES];
    char token[FEED_TOKEN_LEN + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, sizeof token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    uint8_t hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)token, FEED_TOKEN_LEN, NULL, 0);
    cm_err_t err = notes_store_feed_insert(call->db, TENANT(call), f, hash);
    if (err) {
        cm_call_db_fail(call, err, "could not store task feed");
        crm__task_feed__free_unpacked(f, NULL);
        sodium_memzero(token, sizeof token);
        return;
    }
    Crm__TaskFeed *stored = NULL;
    err = notes_store_feed_get(call->db, TENANT(call), id, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not read task feed");
        crm__task_feed__free_unpacked(f, NULL);
        sodium_memzero(token, sizeof token);
        return;
    }
    crm__task_feed__free_unpacked(f, NULL);
    cm_pb_set_str(&stored->token, token);
    char *path = cm_strfmt("/v1/feeds/tasks.ics?token=%s", token);
    cm_pb_set_str(&stored->path, path);
    free(path);
    sodium_memzero(token, sizeof token);
    cm_log_info("created task feed %s", id);
    *resp = &stored->base;
}

static void s_list_task_feeds(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListTaskFeedsResponse *r =
        (Crm__ListTaskFeedsResponse *)cm_pb_new(&crm__list_task_feeds_response__descriptor);
    /* Administrators see every feed of the tenant; others their own. */
    cm_err_t err = notes_store_feed_list(call->db, TENANT(call),
                                         s_is_admin(call) ? NULL : s_caller_id(call), r);
    if (err) {
        cm_call_db_fail(call, err, "could not list task feeds");
        crm__list_task_feeds_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

static void s_delete_task_feed(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const Crm__DeleteTaskFeedRequest *req = (const Crm__DeleteTaskFeedRequest *)msg;
    Crm__TaskFeed *f = NULL;
    if (cm_uuid_valid(req->id)) {
        cm_err_t err = notes_store_feed_get(call->db, TENANT(call), req->id, &f);
        if (err) {
            cm_call_db_fail(call, err, "could not read task feed");
            return;
        }
    }
    if (!f) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no task feed %s", req->id);
        return;
    }
    const char *me = s_caller_id(call);
    if (!s_is_admin(call) && strcmp(f->assignee->id, me) && strcmp(f->created_by->id, me)) {
        cm_call_fail(call, CM_ERR_PERMISSION,
                     "only the feed's owner or an administrator may delete it");
    } else {
        cm_err_t err = notes_store_feed_delete(call->db, TENANT(call), f->id);
        if (err) {
            cm_call_db_fail(call, err, "could not delete task feed");
        } else {
            cm_log_info("deleted task feed %s", f->id);
            *resp = cm_pb_new(&crm__empty__descriptor);
        }
    }
    crm__task_feed__free_unpacked(f, NULL);
}

/* ---------------------------------------------------------------------- */

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)
/* A task write: learns the business's time zone first (s_learn_zone). */
#define MT(name, req, fn)                                                                          \
    CM_METHOD_PREPARED("notes", name, req, task, s_learn_zone, fn, CM_METHOD_WRITE, NOTES_WRITE)

const struct cm_method notes_methods[] = {
    M("CreateNote", create_note_request, note, s_create_note, CM_METHOD_WRITE, NOTES_WRITE),
    M("GetNote", get_note_request, note, s_get_note, CM_METHOD_NO_TXN, NOTES_READ),
    M("UpdateNote", update_note_request, note, s_update_note, CM_METHOD_WRITE, NOTES_WRITE),
    M("DeleteNote", delete_note_request, empty, s_delete_note, CM_METHOD_WRITE, NOTES_WRITE),
    M("ListNotes", list_notes_request, list_notes_response, s_list_notes, CM_METHOD_NO_TXN,
      NOTES_READ),
    MT("CreateTask", create_task_request, s_create_task),
    M("GetTask", get_task_request, task, s_get_task, CM_METHOD_NO_TXN, NOTES_READ),
    MT("UpdateTask", update_task_request, s_update_task),
    M("DeleteTask", delete_task_request, empty, s_delete_task, CM_METHOD_WRITE, NOTES_WRITE),
    M("ListTasks", list_tasks_request, list_tasks_response, s_list_tasks, CM_METHOD_NO_TXN,
      NOTES_READ),
    /* The same two under the customer's path (one OpenAPI operation each). */
    MT("CreateCustomerTask", create_task_request, s_create_task),
    M("ListCustomerTasks", list_tasks_request, list_tasks_response, s_list_tasks, CM_METHOD_NO_TXN,
      NOTES_READ),
    M("GetTaskCalendar", task_calendar_request, task_calendar, s_get_task_calendar,
      CM_METHOD_NO_TXN, NOTES_READ),
    M("GetTaskFeedCalendar", task_calendar_request, task_calendar, s_get_task_feed_calendar,
      CM_METHOD_NO_TENANT, PUBLIC),
    /* Not CM_METHOD_WRITE on purpose: the reply carries the feed's secret,
     * which must not be kept in the idempotency table. A retried create
     * makes a second, unused feed. */
    M("CreateTaskFeed", create_task_feed_request, task_feed, s_create_task_feed, 0, NOTES_WRITE),
    M("ListTaskFeeds", list_task_feeds_request, list_task_feeds_response, s_list_task_feeds,
      CM_METHOD_NO_TXN, NOTES_READ),
    M("DeleteTaskFeed", delete_task_feed_request, empty, s_delete_task_feed, CM_METHOD_WRITE,
      NOTES_WRITE),
};
const size_t notes_n_methods = sizeof notes_methods / sizeof *notes_methods;
