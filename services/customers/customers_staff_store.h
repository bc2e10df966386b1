/* Every SQL statement of staff accounts, sessions, invitations, security
 * events and failed sign-ins (services/customers/sql/009_staff.sql). Token
 * hashes are passed as hex. Statements that name a tenant run in that
 * tenant's transaction (row-level security); the ones that find a session,
 * an invitation or an e-mail before the tenant is known go through the
 * schema's SECURITY DEFINER functions. */
#ifndef CUSTOMERS_STAFF_STORE_H
#define CUSTOMERS_STAFF_STORE_H

#include <stdbool.h>
#include <libpq-fe.h>
#include "cm_db.h"
#include "cm_err.h"
#include "customers.pb-c.h"
#include "customers_staff_limit.h"

/* The members e-mail key signs in as, over every tenant: a result with the
 * columns tenant_id, tenant_name, staff_id, name, role, status,
 * password_hash (NULL before acceptance), or NULL with *err. Caller PQclears. */
PGresult *customers_staff_store_by_email(cm_db_t *db, const char *email_key,
                                         cm_err_t *err) CM_MUSTCHECK;

/* Failed sign-ins in the last window_s seconds into *n. */
cm_err_t customers_staff_store_failures(cm_db_t *db, const char *email_key, const char *address,
                                        long window_s,
                                        struct customers_limit_counts *n) CM_MUSTCHECK;
cm_err_t customers_staff_store_failure_add(cm_db_t *db, const char *email_key,
                                           const char *address) CM_MUSTCHECK;
/* Forgets the failures of email_key from address (a good sign-in). */
cm_err_t customers_staff_store_failures_clear(cm_db_t *db, const char *email_key,
                                              const char *address) CM_MUSTCHECK;

/* Stores a session of staff_id (hash_hex: its token's hash) and sets the
 * member's last sign-in; fills idle and absolute expiry (RFC 3339) into out. */
cm_err_t customers_staff_store_session_add(cm_db_t *db, const char *tenant, const char *staff_id,
                                           const char *hash_hex, long idle_s, long absolute_s,
                                           const char *address,
                                           Crm__StaffSession *out) CM_MUSTCHECK;

/* The live session of hash_hex into out (staff and expiries; *found false
 * when there is none, it expired, or its member is not active). Moves its
 * idle expiry on at most once a minute. */
cm_err_t customers_staff_store_session(cm_db_t *db, const char *hash_hex, long idle_s, bool *found,
                                       Crm__StaffSession *out) CM_MUSTCHECK;

/* Ends one session, or every session of staff_id. */
cm_err_t customers_staff_store_session_end(cm_db_t *db, const char *tenant,
                                           const char *hash_hex) CM_MUSTCHECK;
cm_err_t customers_staff_store_sessions_end(cm_db_t *db, const char *tenant,
                                            const char *staff_id) CM_MUSTCHECK;

/* Every member of tenant, by name, into out. */
cm_err_t customers_staff_store_list(cm_db_t *db, const char *tenant,
                                    Crm__ListStaffResponse *out) CM_MUSTCHECK;

/* Member id of tenant (NULL *out when none; caller frees with
 * crm__staff__free_unpacked). With lock, the row is locked for the
 * transaction. */
cm_err_t customers_staff_store_get(cm_db_t *db, const char *tenant, const char *id, bool lock,
                                   Crm__Staff **out) CM_MUSTCHECK;

/* The member with email_key in tenant (NULL *out when none). */
cm_err_t customers_staff_store_find(cm_db_t *db, const char *tenant, const char *email_key,
                                    Crm__Staff **out) CM_MUSTCHECK;

/* Serialises changes to tenant's staff for the transaction (the last-owner
 * rule reads the other owners). */
cm_err_t customers_staff_store_lock(cm_db_t *db, const char *tenant) CM_MUSTCHECK;

/* Active owners of tenant other than except_id (may be NULL). */
cm_err_t customers_staff_store_other_owners(cm_db_t *db, const char *tenant, const char *except_id,
                                            long *n) CM_MUSTCHECK;

/* Adds member id; CM_ERR_CONFLICT when the e-mail is taken. password_hash
 * NULL makes an invited member, else an active one. */
cm_err_t customers_staff_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                      const char *email, const char *email_key, const char *name,
                                      int role, const char *password_hash) CM_MUSTCHECK;

/* Sets name, role and status of member id. */
cm_err_t customers_staff_store_update(cm_db_t *db, const char *tenant, const char *id,
                                      const char *name, int role, int status) CM_MUSTCHECK;

/* Whether member id has set a password (accepted an invitation). */
cm_err_t customers_staff_store_has_password(cm_db_t *db, const char *tenant, const char *id,
                                            bool *has) CM_MUSTCHECK;

/* Sets the password of member id and makes it active. */
cm_err_t customers_staff_store_activate(cm_db_t *db, const char *tenant, const char *id,
                                        const char *name, const char *password_hash) CM_MUSTCHECK;

/* Replaces staff_id's invitations by one for hash_hex, valid ttl_s seconds. */
cm_err_t customers_staff_store_invite_add(cm_db_t *db, const char *tenant, const char *staff_id,
                                          const char *hash_hex, long ttl_s) CM_MUSTCHECK;

/* The invitation of hash_hex: a result with tenant_id, tenant_name,
 * staff_id, email, name, live (not used, not expired: "t"/"f"), status; no
 * rows when unknown. Caller PQclears. */
PGresult *customers_staff_store_invite(cm_db_t *db, const char *hash_hex,
                                       cm_err_t *err) CM_MUSTCHECK;

/* Marks the invitation used; *used false when it was used or expired already. */
cm_err_t customers_staff_store_invite_use(cm_db_t *db, const char *tenant, const char *hash_hex,
                                          bool *used) CM_MUSTCHECK;

/* Password reset requests ("Forgot your password?") in the last window_s
 * seconds: of email_key from anywhere and from address over every e-mail,
 * each with the ms since its oldest in the window (0 when none). */
cm_err_t customers_staff_store_reset_requests(cm_db_t *db, const char *email_key,
                                              const char *address, long window_s,
                                              struct customers_quota_counts *account,
                                              struct customers_quota_counts *from) CM_MUSTCHECK;
/* Records an ask for a reset link (counted by customers_staff_store_reset_requests,
 * answered later by the tick: customers_staff_store_reset_claim): tenant is
 * the business named ("" for every one), language the e-mail's. */
cm_err_t customers_staff_store_reset_request_add(cm_db_t *db, const char *email_key,
                                                 const char *address, const char *tenant,
                                                 const char *language) CM_MUSTCHECK;
/* Claims up to limit asks not yet handled (oldest first; one copy each, the
 * others skip them) that were tried fewer than max_attempts times: a result
 * with the columns id, email_key, address, tenant, language, or NULL with
 * *err. Caller PQclears. A claimed ask is handled unless given back. */
PGresult *customers_staff_store_reset_claim(cm_db_t *db, int limit, int max_attempts,
                                            cm_err_t *err) CM_MUSTCHECK;
/* Gives a claimed ask back, to be tried again by a later tick. */
cm_err_t customers_staff_store_reset_unclaim(cm_db_t *db, const char *id) CM_MUSTCHECK;

/* Replaces staff_id's reset links by one for hash_hex, valid ttl_s seconds. */
cm_err_t customers_staff_store_reset_add(cm_db_t *db, const char *tenant, const char *staff_id,
                                         const char *hash_hex, long ttl_s) CM_MUSTCHECK;

/* The reset link of hash_hex: a result with the columns of
 * customers_staff_store_invite; no rows when unknown. Caller PQclears. */
PGresult *customers_staff_store_reset(cm_db_t *db, const char *hash_hex,
                                      cm_err_t *err) CM_MUSTCHECK;

/* Marks the reset link used; *used false when it was used, voided or expired. */
cm_err_t customers_staff_store_reset_use(cm_db_t *db, const char *tenant, const char *hash_hex,
                                         bool *used) CM_MUSTCHECK;

/* Sets the password of active member id; *set false when the member is not
 * active (disabled meanwhile). */
cm_err_t customers_staff_store_set_password(cm_db_t *db, const char *tenant, const char *id,
                                            const char *password_hash, bool *set) CM_MUSTCHECK;

/* Records a security event of tenant (kind: crm.SecurityEventKind), in the
 * tenant's open transaction. actor_id, actor_name, subject, address and
 * detail may be NULL (""). For every part of the customers service that
 * does something an admin should see (API keys made and revoked). */
cm_err_t customers_staff_store_event(cm_db_t *db, const char *tenant, int kind,
                                     const char *actor_id, const char *actor_name,
                                     const char *subject, const char *address,
                                     const char *detail) CM_MUSTCHECK;

/* Up to limit events of tenant older than before_id (0: the newest), newest
 * first, into out; *more when there are older ones. */
cm_err_t customers_staff_store_events(cm_db_t *db, const char *tenant, long long before_id,
                                      int limit, Crm__ListSecurityEventsResponse *out,
                                      bool *more) CM_MUSTCHECK;

/* Deletes expired sessions, old invitations and reset links, failed
 * sign-ins older than window_s and reset requests older than reset_window_s. */
cm_err_t customers_staff_store_expire(cm_db_t *db, long window_s, long reset_window_s) CM_MUSTCHECK;

#endif
