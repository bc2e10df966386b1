/* The exchange service's methods and its state (docs/exchange.md). */
#ifndef EXCHANGE_HANDLERS_H
#define EXCHANGE_HANDLERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "cm_svc.h"

/* An uploaded part holds at most this much (the gateway sends parts this big). */
#define EXCHANGE_UPLOAD_PART_MAX (1024 * 1024)

struct exchange_worker;
struct exchange_jobs;

struct exchange_state {
    const char *tmpdir;       // borrowed (config): where workbooks are built
    long file_hours;          // how long a built file is kept
    int64_t upload_max;       // bytes an imported file may have
    long workers;             // import threads of this copy
    long revert_days;         // days after its end that an import can be reverted
    const char *database_url; // borrowed (config), for the import threads' connections
    const char *db_role;      // borrowed (config)
    const char *bus_endpoint; // borrowed (config)
    /* The import threads (exchange_worker.c). */
    pthread_mutex_t mu;
    pthread_cond_t wake;             // an import was created, or stop
    bool stopping;                   // under mu
    struct exchange_worker *threads; // owned: workers of them
    /* The export threads (exchange_jobs_run.c). */
    long export_threads;        // of this copy
    long export_rate;           // customers a second an export job reads at most (0: no cap)
    struct exchange_jobs *jobs; // owned
};

extern const struct cm_method exchange_methods[];
extern const size_t exchange_n_methods;

/* Starts and stops the import threads (exchange_worker.c). */
void exchange_start(cm_svc_t *svc, void *user);
void exchange_stop(cm_svc_t *svc, void *user);
/* Wakes an idle import thread: an import (or a revert) waits. */
void exchange_worker_wake(struct exchange_state *st);
/* True once the import threads are asked to stop. */
bool exchange_worker_stopping(struct exchange_state *st);

/* A job whose copy has not reported for this long is taken by another. */
#define EXCHANGE_STALE_S 30

/* Takes a waiting revert (exchange_revert.c), if any, and runs it on the
 * thread's connection and bus client as far as it goes. Returns whether
 * one was found; *err: a failure that leaves it to be taken up again. */
struct cm_mdp_client;
bool exchange_revert_next(struct exchange_state *st, cm_db_t *db, struct cm_mdp_client *client,
                          const char *owner, cm_err_t *err);

/* Starts and stops the import and the export threads (cm_svc's hooks). */
void exchange_start_all(cm_svc_t *svc, void *user);
void exchange_stop_all(cm_svc_t *svc, void *user);

/* The export threads (exchange_jobs_run.c); wake: a job waits. */
void exchange_jobs_start(cm_svc_t *svc, struct exchange_state *st);
void exchange_jobs_stop(struct exchange_state *st);
void exchange_jobs_wake(struct exchange_state *st);

/* Deletes built files past their time, now and then. */
void exchange_tick(cm_svc_t *svc, void *user);

/* exchange.ExportCustomers (exchange_export.c). */
void exchange_export_customers(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp);
/* The import's methods (exchange_import.c). */
void exchange_put_upload_part(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp);
void exchange_create_import(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp);
void exchange_get_import(struct cm_call *call, const ProtobufCMessage *msg,
                         ProtobufCMessage **resp);
void exchange_export_failed_rows(struct cm_call *call, const ProtobufCMessage *msg,
                                 ProtobufCMessage **resp);
/* True when s is a UUID in its text form. */
bool exchange_is_uuid(const char *s);
/* exchange.ListColumns: the layout's column names, in order (exchange_import.c). */
void exchange_list_columns(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp);
/* exchange.RevertImport (exchange_revert.c). */
void exchange_revert_import(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp);

/* Export jobs (exchange_jobs.c). */
void exchange_create_export(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp);
void exchange_get_export(struct cm_call *call, const ProtobufCMessage *msg,
                         ProtobufCMessage **resp);
void exchange_get_export_file(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp);
/* The export request a job's request stands for; e borrows c's fields. */
struct Crm__CreateExportRequest;
struct Crm__ExportCustomersRequest;
void exchange_jobs_request(const struct Crm__CreateExportRequest *c,
                           struct Crm__ExportCustomersRequest *e);

#endif
