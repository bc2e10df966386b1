/* The exchange service's method table and periodic work. */
#include "exchange_handlers.h"
#include "exchange_export_store.h"
#include "exchange_store.h"
#include "cm_log.h"
#include "cm_util.h"
#include "exchange.pb-c.h"

/* How often expired files are purged. */
#define S_PURGE_EVERY_MS (10 * 60 * 1000)

const struct cm_method exchange_methods[] = {
    /* Reads customers over the bus a page at a time, and writes a built
     * workbook one statement at a time: no transaction is held meanwhile. */
    {"exchange.ExportCustomers", &crm__export_customers_request__descriptor,
     &crm__export_chunk__descriptor, exchange_export_customers, CM_METHOD_NO_TXN,
     .scope = CM_SCOPE_EXCHANGE},
    /* The import: one statement each (a part, a job, a read). */
    {"exchange.PutUploadPart", &crm__put_upload_part_request__descriptor,
     &crm__put_upload_part_response__descriptor, exchange_put_upload_part, CM_METHOD_NO_TXN,
     .scope = CM_SCOPE_EXCHANGE},
    {"exchange.CreateImport", &crm__create_import_request__descriptor, &crm__import__descriptor,
     exchange_create_import, CM_METHOD_NO_TXN, .scope = CM_SCOPE_EXCHANGE},
    {"exchange.GetImport", &crm__get_import_request__descriptor, &crm__import__descriptor,
     exchange_get_import, CM_METHOD_NO_TXN, .scope = CM_SCOPE_EXCHANGE},
    {"exchange.ExportFailedRows", &crm__export_failed_rows_request__descriptor,
     &crm__export_chunk__descriptor, exchange_export_failed_rows, CM_METHOD_NO_TXN,
     .scope = CM_SCOPE_EXCHANGE},
    /* Export jobs: CreateExport reads a first customer from customers (or
     * search) before its one insert; the file goes a part per call. */
    {"exchange.CreateExport", &crm__create_export_request__descriptor, &crm__export__descriptor,
     exchange_create_export, CM_METHOD_NO_TXN, .scope = CM_SCOPE_EXCHANGE},
    {"exchange.GetExport", &crm__get_export_request__descriptor, &crm__export__descriptor,
     exchange_get_export, CM_METHOD_NO_TXN, .scope = CM_SCOPE_EXCHANGE},
    {"exchange.GetExportFile", &crm__get_export_file_request__descriptor,
     &crm__export_chunk__descriptor, exchange_get_export_file, CM_METHOD_NO_TXN,
     .scope = CM_SCOPE_EXCHANGE},
    {"exchange.RevertImport", &crm__revert_import_request__descriptor, &crm__import__descriptor,
     exchange_revert_import, CM_METHOD_NO_TXN, .scope = CM_SCOPE_EXCHANGE},
    /* The layout's columns: no database. */
    {"exchange.ListColumns", &crm__list_columns_request__descriptor,
     &crm__list_columns_response__descriptor, exchange_list_columns, CM_METHOD_NO_TXN,
     .scope = CM_SCOPE_EXCHANGE},
};
const size_t exchange_n_methods = sizeof exchange_methods / sizeof *exchange_methods;

void exchange_tick(cm_svc_t *svc, void *user)
{
    static int64_t next_ms;
    int64_t now = cm_mono_ms();
    if (now < next_ms)
        return;
    next_ms = now + S_PURGE_EVERY_MS;
    cm_db_t *db = cm_svc_db(svc);
    if (!db || cm_db_use_tenant(db, NULL))
        return;
    const struct exchange_state *st = user;
    long n = exchange_store_purge(db);
    if (n < 0)
        cm_log_warn("could not purge expired files: %s", cm_db_error(db));
    else if (n > 0)
        cm_log_info("purged expired files count=%ld", n);
    n = exchange_xstore_purge(db);
    if (n < 0)
        cm_log_warn("could not purge expired exports: %s", cm_db_error(db));
    else if (n > 0)
        cm_log_info("purged the files of expired exports count=%ld", n);
    n = exchange_store_purge_import_rows(db, st->revert_days);
    if (n < 0)
        cm_log_warn("could not purge what old imports did: %s", cm_db_error(db));
    else if (n > 0)
        cm_log_info("purged rows of imports past their revert time count=%ld", n);
}

void exchange_start_all(cm_svc_t *svc, void *user)
{
    exchange_start(svc, user);
    exchange_jobs_start(svc, user);
}

void exchange_stop_all(cm_svc_t *svc, void *user)
{
    exchange_jobs_stop(user);
    exchange_stop(svc, user);
}
