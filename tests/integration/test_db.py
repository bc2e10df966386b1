"""libshared's cm_db against the suite's own PostgreSQL: the C test binary
(tests/unit/test_db.c) checks that queued statements go with the next one or
with COMMIT, that their errors fail the transaction and leave nothing, and
that the tenant setting survives a commit but not a rollback, that a queued
check answering no row fails its transaction (nothing of it commits), and that
statements sent at once answer each or name the one that failed."""
import os
import subprocess

import crm


def test_cm_db_pipelines_queued_statements_against_postgresql():
    binary = os.path.join(os.path.dirname(crm.BIN), "tests", "test_db")
    assert os.access(binary, os.X_OK), binary + " is not built (make units)"
    env = dict(crm.ENV, CRM_TEST_DATABASE_URL=crm.DATABASE_URL)
    run = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    passed = [line for line in run.stdout.splitlines() if line.endswith(": OK")]
    assert len(passed) == 13, run.stdout + run.stderr
