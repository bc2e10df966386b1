/* cm_db against a real PostgreSQL: statements queued with cm_db_defer go with
 * the next statement or COMMIT in one round trip, their errors fail the
 * transaction and nothing of it stays, and the tenant setting survives a
 * commit but not a rollback; a queued check (cm_db_defer_check) answering no
 * row fails its transaction; statements sent at once (cm_db_exec_all) answer
 * each, or name the one that failed. Needs CRM_TEST_DATABASE_URL (a database where
 * it may make temporary tables): tests/integration/test_db.py runs it against
 * the suite's own PostgreSQL; without it the binary only says so. */
#include "cm_db.h"
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cm_db_t *s_db;

static long s_count(const char *sql)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(s_db, sql, 0, NULL, &err);
    CHECK(res != NULL);
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

static void s_insert(int id, const char *v)
{
    char ids[16];
    snprintf(ids, sizeof ids, "%d", id);
    const char *p[] = {ids, v};
    cm_db_defer(s_db, "INSERT INTO pipe (id, v) VALUES ($1::int, $2)", 2, p, NULL, NULL);
}

static void test_queued_statements_commit_together(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(1, "one");
    s_insert(2, "two");
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(!cm_db_in_txn(s_db));
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id IN (1, 2)") == 2);
}

static void test_a_query_sees_what_was_queued_before_it(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(3, "three");
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 3") == 1);
    cm_db_rollback(s_db);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 3") == 0);
}

static void test_a_failed_queued_statement_fails_the_next_one(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(4, "four");
    s_insert(5, NULL); // v is NOT NULL
    s_insert(6, "six");
    cm_err_t err;
    PGresult *res = cm_db_exec(s_db, "SELECT 1", 0, NULL, &err);
    CHECK(res == NULL);
    CHECK(err == CM_ERR_INVALID);
    CHECK_STR(cm_db_sqlstate(s_db), "23502");
    CHECK(strstr(cm_db_error(s_db), "null value") != NULL);
    cm_db_rollback(s_db);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id IN (4, 5, 6)") == 0);
}

static void test_a_failed_queued_statement_fails_the_commit(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(7, "seven");
    s_insert(1, "again"); // the key exists
    CHECK(cm_db_commit(s_db) == CM_ERR_CONFLICT);
    CHECK(!cm_db_in_txn(s_db));
    /* Rolled back whole, and the connection serves the next transaction. */
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 7") == 0);
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(7, "seven");
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 7") == 1);
}

static void test_a_long_queue_goes_in_parts(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    for (int i = 100; i < 200; i++)
        s_insert(i, "many");
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE v = 'many'") == 100);
    /* An error in an early part still fails the commit, and nothing stays. */
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(100, "dup");
    for (int i = 300; i < 400; i++)
        s_insert(i, "lost");
    CHECK(cm_db_commit(s_db) == CM_ERR_CONFLICT);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE v = 'lost'") == 0);
}

static void s_check_row(int id)
{
    char ids[16];
    snprintf(ids, sizeof ids, "%d", id);
    const char *p[] = {ids};
    cm_db_defer_check(s_db, "SELECT 1 FROM pipe WHERE id = $1::int", 1, p, "row gone");
}

static void test_a_check_that_holds_changes_nothing(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_check_row(1);
    s_insert(40, "checked");
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 40") == 1);
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 40") == 1);
}

/* A check answering no row fails the statement it went with as a
 * serialization failure, and nothing of the transaction commits, though the
 * server ran what came after it. */
static void test_a_failed_check_fails_its_statement_and_the_commit(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_check_row(999);
    s_insert(41, "unchecked");
    cm_err_t err;
    PGresult *res = cm_db_exec(s_db, "SELECT 1", 0, NULL, &err);
    CHECK(res == NULL && err == CM_ERR_UNAVAILABLE);
    CHECK_STR(cm_db_sqlstate(s_db), "40001");
    CHECK_STR(cm_db_error(s_db), "row gone");
    /* A handler that went on regardless: later statements and COMMIT fail. */
    res = cm_db_exec(s_db, "SELECT 1", 0, NULL, &err);
    CHECK(res == NULL && err == CM_ERR_UNAVAILABLE);
    CHECK(cm_db_commit(s_db) == CM_ERR_UNAVAILABLE);
    CHECK(!cm_db_in_txn(s_db));
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 41") == 0);
}

/* Queued with nothing after it, the check still answers before COMMIT. */
static void test_a_failed_check_queued_last_fails_the_commit(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(42, "before");
    s_check_row(999);
    CHECK(cm_db_commit(s_db) == CM_ERR_UNAVAILABLE);
    CHECK_STR(cm_db_sqlstate(s_db), "40001");
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 42") == 0);
    /* The connection serves the next transaction. */
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_check_row(1);
    s_insert(42, "after");
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 42 AND v = 'after'") == 1);
}

static void s_check_tenant(const char *want)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(s_db, "SELECT current_setting('app.tenant', true)", 0, NULL, &err);
    CHECK(res != NULL);
    CHECK_STR(PQgetvalue(res, 0, 0), want);
    PQclear(res);
}

static void s_stmt(struct cm_db_stmt *st, const char *sql, const char *const *p, int n)
{
    *st = (struct cm_db_stmt){.sql = sql, .nparams = n, .params = p};
}

static void test_statements_sent_at_once_answer_each(void)
{
    static const char ins[] = "INSERT INTO pipe (id, v) VALUES ($1::int, $2) RETURNING id * 10";
    const char *a[] = {"20", "twenty"}, *b[] = {"21", "twenty-one"};
    struct cm_db_stmt st[3];
    s_stmt(&st[0], ins, a, 2);
    s_stmt(&st[1], ins, b, 2);
    /* A later statement sees what an earlier one of the same round trip wrote. */
    s_stmt(&st[2], "SELECT count(*) FROM pipe WHERE id IN (20, 21)", NULL, 0);
    CHECK(cm_db_begin(s_db, "tenant-d") == CM_OK);
    s_insert(22, "queued"); // what is queued goes first
    int failed = 7;
    CHECK(cm_db_exec_all(s_db, st, 3, &failed) == CM_OK);
    CHECK(failed == -1);
    CHECK_STR(PQgetvalue(st[0].res, 0, 0), "200");
    CHECK_STR(PQgetvalue(st[1].res, 0, 0), "210");
    CHECK_STR(PQgetvalue(st[2].res, 0, 0), "2");
    for (int i = 0; i < 3; i++)
        PQclear(st[i].res);
    s_check_tenant("tenant-d");
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id IN (20, 21, 22)") == 3);
    /* None at all: only what is queued goes. */
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(23, "alone");
    CHECK(cm_db_exec_all(s_db, NULL, 0, &failed) == CM_OK);
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 23") == 1);
}

static void test_a_failed_statement_sent_at_once_names_itself_and_loses_the_rest(void)
{
    static const char ins[] = "INSERT INTO pipe (id, v) VALUES ($1::int, $2) RETURNING id";
    const char *a[] = {"30", "thirty"}, *dup[] = {"20", "again"}, *c[] = {"31", "thirty-one"};
    struct cm_db_stmt st[3];
    s_stmt(&st[0], ins, a, 2);
    s_stmt(&st[1], ins, dup, 2); // the key exists
    s_stmt(&st[2], ins, c, 2);
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    int failed;
    CHECK(cm_db_exec_all(s_db, st, 3, &failed) == CM_ERR_CONFLICT);
    CHECK(failed == 1);
    CHECK_STR(cm_db_sqlstate(s_db), "23505");
    CHECK(!st[0].res && !st[1].res && !st[2].res);
    CHECK(cm_db_commit(s_db) != CM_OK);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id IN (30, 31)") == 0);
    /* A queued statement that fails is nobody's among them: -1. */
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(20, "queued again");
    CHECK(cm_db_exec_all(s_db, st, 1, &failed) == CM_ERR_CONFLICT);
    CHECK(failed == -1 && !st[0].res);
    cm_db_rollback(s_db);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 30") == 0);
}

static void test_the_tenant_outlives_a_commit_not_a_rollback(void)
{
    CHECK(cm_db_begin(s_db, "tenant-a") == CM_OK);
    s_check_tenant("tenant-a");
    cm_db_rollback(s_db); // undoes the setting: the next transaction sets it again
    CHECK(cm_db_begin(s_db, "tenant-a") == CM_OK);
    s_check_tenant("tenant-a");
    CHECK(cm_db_commit(s_db) == CM_OK);
    CHECK(cm_db_begin(s_db, "tenant-a") == CM_OK);
    s_check_tenant("tenant-a");
    cm_db_rollback(s_db); // set before this transaction: it stays
    CHECK(cm_db_use_tenant(s_db, "tenant-a") == CM_OK);
    s_check_tenant("tenant-a");
    CHECK(cm_db_begin(s_db, "tenant-b") == CM_OK);
    CHECK(cm_db_commit(s_db) == CM_OK);
    s_check_tenant("tenant-b");
}

static void test_a_rollback_before_anything_was_sent(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(8, "never");
    cm_db_rollback(s_db);
    CHECK(PQtransactionStatus(cm_db_conn(s_db)) == PQTRANS_IDLE);
    CHECK(s_count("SELECT count(*) FROM pipe WHERE id = 8") == 0);
}

/* Last: the connection goes, and with it the temporary table. */
static void test_a_lost_connection_fails_the_rest_of_its_transaction(void)
{
    CHECK(cm_db_begin(s_db, NULL) == CM_OK);
    s_insert(9, "nine");
    cm_err_t err;
    PGresult *res =
        cm_db_exec(s_db, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL, &err);
    CHECK(res == NULL && err == CM_ERR_UNAVAILABLE);
    /* Not run on a new connection outside the transaction: it failed. */
    res = cm_db_exec(s_db, "SELECT 1", 0, NULL, &err);
    CHECK(res == NULL && err == CM_ERR_UNAVAILABLE);
    CHECK(cm_db_commit(s_db) == CM_ERR_UNAVAILABLE);
    /* The next transaction reconnects. */
    CHECK(cm_db_begin(s_db, "tenant-c") == CM_OK);
    s_check_tenant("tenant-c");
    CHECK(cm_db_commit(s_db) == CM_OK);
}

int main(void)
{
    const char *url = getenv("CRM_TEST_DATABASE_URL");
    if (!url || !*url) {
        printf("test_db: needs CRM_TEST_DATABASE_URL (tests/integration/test_db.py sets it)\n");
        return 0;
    }
    s_db = cm_db_new(url, NULL);
    CHECK(cm_db_connect(s_db) == CM_OK);
    CHECK(cm_db_run(s_db, "CREATE TEMP TABLE pipe (id int PRIMARY KEY, v text NOT NULL)", 0,
                    NULL) == CM_OK);
    RUN(test_queued_statements_commit_together);
    RUN(test_a_query_sees_what_was_queued_before_it);
    RUN(test_a_failed_queued_statement_fails_the_next_one);
    RUN(test_a_failed_queued_statement_fails_the_commit);
    RUN(test_a_long_queue_goes_in_parts);
    RUN(test_a_check_that_holds_changes_nothing);
    RUN(test_a_failed_check_fails_its_statement_and_the_commit);
    RUN(test_a_failed_check_queued_last_fails_the_commit);
    RUN(test_statements_sent_at_once_answer_each);
    RUN(test_a_failed_statement_sent_at_once_names_itself_and_loses_the_rest);
    RUN(test_the_tenant_outlives_a_commit_not_a_rollback);
    RUN(test_a_rollback_before_anything_was_sent);
    RUN(test_a_lost_connection_fails_the_rest_of_its_transaction);
    cm_db_destroy(&s_db);
    return 0;
}
