/* A customer's files and the terms signed on a tablet: one function per
 * request, and the method table (notes_files.h). The customer a file is
 * written to is checked with customers.GetCustomer before the transaction
 * opens (each write's prepare step); every write leaves a timeline row. */
#include "notes_files.h"
#include "notes_files_check.h"
#include "notes_files_store.h"
#include "notes_handlers.h"
#include "notes_history_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "files.pb-c.h"
#include "notes.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* Set once by main before the service starts; only read afterwards. */
static struct notes_files_limits s_limits = {
    .max_bytes = NOTES_FILE_MAX_DEFAULT,
    .per_customer = NOTES_FILES_PER_CUSTOMER_DEFAULT,
};

void notes_files_configure(const struct notes_files_limits *limits)
{
    s_limits = *limits;
}

/* ---------------------------------------------------------------------- */
/* Shared steps                                                            */

static Crm__StaffMember *s_caller(const struct cm_call *call)
{
    Crm__StaffMember *s = (Crm__StaffMember *)cm_pb_new(&crm__staff_member__descriptor);
    const Crm__Principal *p = call->hdr->principal;
    cm_pb_set_str(&s->id, p ? p->id : "");
    cm_pb_set_str(&s->name, p ? p->name : "");
    return s;
}

/* The prepare step of a write to a customer's files: the customer must exist
 * in the caller's tenant (asked before any transaction opens). */
static void s_need_customer(struct cm_call *call, const char *customer_id)
{
    char *name = notes_customer(call, customer_id);
    free(name);
}

/* A file id from the path, or a 404 naming it. */
static bool s_file_id(struct cm_call *call, const char *customer_id, const char *id)
{
    if (cm_uuid_valid(customer_id) && cm_uuid_valid(id))
        return true;
    cm_call_fail(call, CM_ERR_NOT_FOUND, "no file %s", id);
    return false;
}

/* The timeline row of a change to the customer's files: what happened, who
 * did it, and the file (name, size, kind, terms version; no bytes). */
static bool s_timeline(struct cm_call *call, const char *type, const Crm__CustomerFile *f)
{
    Crm__CustomerFile shown = CRM__CUSTOMER_FILE__INIT;
    shown.id = f->id;
    shown.filename = f->filename;
    shown.content_type = f->content_type;
    shown.size = f->size;
    shown.kind = f->kind;
    shown.terms_version = f->terms_version;
    json_t *details =
        json_pack("{s:o}", "file", cm_pbjson_encode(&shown.base, CM_PBJSON_OMIT_DEFAULTS));
    char *text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    const Crm__Principal *p = call->hdr->principal;
    struct notes_timeline_row row = {
        .customer_id = f->customer_id,
        .at_ms = cm_now_ms(),
        .kind = "FILE",
        .type = type,
        .source = call->hdr->channel,
        .actor = p ? p->name : "",
        .event_id = "",
        .details = text,
    };
    cm_err_t err = notes_history_store_timeline_add(call->db, TENANT(call), &row);
    free(text);
    if (err) {
        cm_call_db_fail(call, err, "could not add the timeline entry");
        return false;
    }
    return true;
}

/* Takes the customer's files lock and checks there is room for one more. */
static bool s_room(struct cm_call *call, const char *customer_id)
{
    long count = 0;
    cm_err_t err = notes_files_store_lock_count(call->db, TENANT(call), customer_id, &count);
    if (err) {
        cm_call_db_fail(call, err, "could not count the customer's files");
        return false;
    }
    if (count >= s_limits.per_customer) {
        cm_call_violation(call, "customerId", "TOO_MANY_FILES",
                          "the customer has %ld files, the most allowed; delete one first", count);
        return false;
    }
    return true;
}

/* Stores f with its bytes and its timeline row; *resp the stored file. */
static void s_store(struct cm_call *call, Crm__CustomerFile *f, const uint8_t *data, size_t len,
                    const char *timeline_type, ProtobufCMessage **resp)
{
    if (!s_room(call, f->customer_id))
        return;
    Crm__CustomerFile *stored = NULL;
    cm_err_t err = notes_files_store_insert(call->db, TENANT(call), f, data, len, &stored);
    if (err) {
        cm_call_db_fail(call, err, "could not store the file");
        return;
    }
    if (!s_timeline(call, timeline_type, stored)) {
        crm__customer_file__free_unpacked(stored, NULL);
        return;
    }
    cm_log_info("stored file %s (%" PRId64 " bytes) on customer %s", stored->id, stored->size,
                stored->customer_id);
    *resp = &stored->base;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

/* The checks of an upload that need no database: 413 over the size limit,
 * 400 for an empty file, a bad name or media type. */
static void s_upload_prepare(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__UploadFileRequest *req = (const Crm__UploadFileRequest *)msg;
    if (req->data.len > (size_t)s_limits.max_bytes) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "the file exceeds %ld bytes", s_limits.max_bytes);
        cm_call_violation(call, "data", "TOO_LARGE", "the file is %zu bytes, over the limit of %ld",
                          req->data.len, s_limits.max_bytes);
        return;
    }
    if (!req->data.len)
        cm_call_violation(call, "data", "REQUIRED", "the file is empty");
    struct notes_problem p;
    char *name = notes_files_name(req->filename, &p);
    if (!name)
        cm_call_violation(call, "filename", p.reason, "%s", p.description);
    free(name);
    char type[NOTES_FILE_TYPE_MAX + 1];
    if (notes_files_media_type(req->content_type, type, sizeof type))
        cm_call_violation(call, "contentType", "INVALID_FORMAT",
                          "the Content-Type must be a media type such as application/pdf");
    if (!cm_call_failed(call))
        s_need_customer(call, req->customer_id);
}

static void s_upload(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__UploadFileRequest *req = (const Crm__UploadFileRequest *)msg;
    struct notes_problem p;
    char type[NOTES_FILE_TYPE_MAX + 1];
    char *name = notes_files_name(req->filename, &p);
    if (!name || notes_files_media_type(req->content_type, type, sizeof type)) {
        free(name);
        cm_call_fail(call, CM_ERR_INTERNAL, "the upload changed between its checks");
        return;
    }
    char id[NOTES_ID_SIZE], sha[65];
    cm_uuid(id);
    notes_files_sha256(req->data.data, req->data.len, sha);
    Crm__CustomerFile f = CRM__CUSTOMER_FILE__INIT;
    f.id = id;
    f.customer_id = req->customer_id;
    f.filename = name;
    f.content_type = type;
    f.sha256 = sha;
    f.kind = CRM__FILE_KIND__FILE_KIND_FILE;
    f.created_by = s_caller(call);
    s_store(call, &f, req->data.data, req->data.len, "file.added", resp);
    crm__staff_member__free_unpacked(f.created_by, NULL);
    free(name);
}

static void s_list(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListFilesRequest *req = (const Crm__ListFilesRequest *)msg;
    if (!cm_uuid_valid(req->customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->customer_id);
        return;
    }
    Crm__ListFilesResponse *out =
        (Crm__ListFilesResponse *)cm_pb_new(&crm__list_files_response__descriptor);
    const char *kind = req->kind == CRM__FILE_KIND__FILE_KIND_FILE        ? "FILE"
                       : req->kind == CRM__FILE_KIND__FILE_KIND_SIGNATURE ? "SIGNATURE"
                                                                          : NULL;
    cm_err_t err = notes_files_store_list(call->db, TENANT(call), req->customer_id, kind, out);
    if (err) {
        crm__list_files_response__free_unpacked(out, NULL);
        cm_call_db_fail(call, err, "could not list files");
        return;
    }
    /* A customer with no files may not exist (or be another tenant's): ask. */
    if (!out->n_files) {
        char *name = notes_customer(call, req->customer_id);
        if (!name) {
            crm__list_files_response__free_unpacked(out, NULL);
            return;
        }
        free(name);
    }
    *resp = &out->base;
}

static void s_get(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetFileRequest *req = (const Crm__GetFileRequest *)msg;
    if (!s_file_id(call, req->customer_id, req->id))
        return;
    Crm__CustomerFile *f = NULL;
    cm_err_t err = notes_files_store_get(call->db, TENANT(call), req->customer_id, req->id, &f);
    if (err)
        cm_call_db_fail(call, err, "could not read file");
    else if (!f)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no file %s", req->id);
    else
        *resp = &f->base;
}

static void s_get_content(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetFileRequest *req = (const Crm__GetFileRequest *)msg;
    if (!s_file_id(call, req->customer_id, req->id))
        return;
    Crm__FileContent *c = NULL;
    cm_err_t err = notes_files_store_content(call->db, TENANT(call), req->customer_id, req->id, &c);
    if (err)
        cm_call_db_fail(call, err, "could not read file");
    else if (!c)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no file %s", req->id);
    else
        *resp = &c->base;
}

static void s_rename(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__RenameFileRequest *req = (const Crm__RenameFileRequest *)msg;
    struct notes_problem p;
    char *name = notes_files_name(req->filename, &p);
    if (!name) {
        cm_call_violation(call, "filename", p.reason, "%s", p.description);
        return;
    }
    if (s_file_id(call, req->customer_id, req->id)) {
        Crm__CustomerFile *f = NULL;
        cm_err_t err =
            notes_files_store_rename(call->db, TENANT(call), req->customer_id, req->id, name, &f);
        if (err)
            cm_call_db_fail(call, err, "could not rename file");
        else if (!f)
            cm_call_fail(call, CM_ERR_NOT_FOUND, "no file %s", req->id);
        else
            *resp = &f->base;
    }
    free(name);
}

static void s_delete(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__DeleteFileRequest *req = (const Crm__DeleteFileRequest *)msg;
    if (!s_file_id(call, req->customer_id, req->id))
        return;
    Crm__CustomerFile *f = NULL;
    cm_err_t err = notes_files_store_delete(call->db, TENANT(call), req->customer_id, req->id, &f);
    if (err) {
        cm_call_db_fail(call, err, "could not delete file");
        return;
    }
    if (!f) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no file %s", req->id);
        return;
    }
    if (s_timeline(call, "file.deleted", f)) {
        cm_log_info("deleted file %s of customer %s", f->id, f->customer_id);
        *resp = cm_pb_new(&crm__empty__descriptor);
    }
    crm__customer_file__free_unpacked(f, NULL);
}

/* ---------------------------------------------------------------------- */
/* Terms                                                                   */

static void s_get_terms(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    Crm__Terms *t = NULL;
    cm_err_t err = notes_files_store_terms_get(call->db, TENANT(call), &t);
    if (err)
        cm_call_db_fail(call, err, "could not read the terms");
    else
        *resp = &t->base;
}

static void s_update_terms(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__UpdateTermsRequest *req = (const Crm__UpdateTermsRequest *)msg;
    struct notes_problem p;
    char *text = notes_validate_text(req->terms ? req->terms->text : "", NOTES_TERMS_MAX,
                                     NOTES_TEXT_MULTILINE | NOTES_TEXT_REQUIRED, "the terms", &p);
    if (!text) {
        cm_call_violation(call, "terms.text", p.reason, "%s", p.description);
        return;
    }
    char sha[65];
    notes_files_sha256((const uint8_t *)text, strlen(text), sha);
    const Crm__Principal *who = call->hdr->principal;
    Crm__Terms *t = NULL;
    cm_err_t err = notes_files_store_terms_put(call->db, TENANT(call), text, sha,
                                               who ? who->id : "", who ? who->name : "", &t);
    free(text);
    if (err) {
        cm_call_db_fail(call, err, "could not store the terms");
        return;
    }
    cm_log_info("terms are at version %" PRId32, t->version);
    *resp = &t->base;
}

/* The checks of a signature that need no database: the PNG (413 over its
 * size limit, 400 for anything else wrong with it, an empty pad included),
 * the version shown. */
static void s_sign_prepare(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__SignTermsRequest *req = (const Crm__SignTermsRequest *)msg;
    if (req->version <= 0)
        cm_call_violation(call, "version", "REQUIRED",
                          "the version of the terms shown to the customer is required");
    uint32_t w, h;
    enum notes_png_result r =
        req->signature.len ? notes_files_png_check(req->signature.data, req->signature.len, &w, &h)
                           : NOTES_PNG_EMPTY;
    if (r == NOTES_PNG_TOO_LARGE)
        cm_call_fail(call, CM_ERR_TOO_LARGE, "the signature exceeds %d bytes", NOTES_SIGNATURE_MAX);
    if (r != NOTES_PNG_OK)
        cm_call_violation(call, "signature",
                          r == NOTES_PNG_EMPTY       ? "REQUIRED"
                          : r == NOTES_PNG_TOO_LARGE ? "TOO_LARGE"
                                                     : "INVALID_FORMAT",
                          "%s", notes_files_png_problem(r));
    if (!cm_call_failed(call))
        s_need_customer(call, req->customer_id);
}

static void s_sign(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__SignTermsRequest *req = (const Crm__SignTermsRequest *)msg;
    Crm__Terms *terms = NULL;
    cm_err_t err = notes_files_store_terms_get(call->db, TENANT(call), &terms);
    if (err) {
        cm_call_db_fail(call, err, "could not read the terms");
        return;
    }
    if (!terms->version) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "no terms are set; set them in the settings");
    } else if (terms->version != req->version) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the terms are now at version %" PRId32 "; show them to the customer again",
                     terms->version);
        cm_call_violation(call, "version", "STALE", "the terms are at version %" PRId32,
                          terms->version);
    } else {
        char id[NOTES_ID_SIZE], sha[65];
        cm_uuid(id);
        notes_files_sha256(req->signature.data, req->signature.len, sha);
        char *name = cm_strfmt("terms-v%" PRId32 "-signature.png", terms->version);
        Crm__CustomerFile f = CRM__CUSTOMER_FILE__INIT;
        f.id = id;
        f.customer_id = req->customer_id;
        f.filename = name;
        f.content_type = "image/png";
        f.sha256 = sha;
        f.kind = CRM__FILE_KIND__FILE_KIND_SIGNATURE;
        f.terms_version = terms->version;
        f.terms_sha256 = terms->sha256;
        f.created_by = s_caller(call);
        s_store(call, &f, req->signature.data, req->signature.len, "terms.signed", resp);
        crm__staff_member__free_unpacked(f.created_by, NULL);
        free(name);
    }
    crm__terms__free_unpacked(terms, NULL);
}

/* ---------------------------------------------------------------------- */
/* The method table                                                        */

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)
#define MP(name, req, resp, prep, fn, flags, scope)                                                \
    CM_METHOD_PREPARED("notes", name, req, resp, prep, fn, flags, scope)

const struct cm_method notes_files_methods[] = {
    MP("UploadFile", upload_file_request, customer_file, s_upload_prepare, s_upload,
       CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("ListFiles", list_files_request, list_files_response, s_list, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("GetFile", get_file_request, customer_file, s_get, CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("GetFileContent", get_file_request, file_content, s_get_content, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("RenameFile", rename_file_request, customer_file, s_rename, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("DeleteFile", delete_file_request, empty, s_delete, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("GetTerms", get_terms_request, terms, s_get_terms, CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("UpdateTerms", update_terms_request, terms, s_update_terms, CM_METHOD_WRITE, SETTINGS),
    MP("SignTerms", sign_terms_request, customer_file, s_sign_prepare, s_sign, CM_METHOD_WRITE,
       CUSTOMERS_WRITE),
};
const size_t notes_files_n_methods = sizeof notes_files_methods / sizeof notes_files_methods[0];
