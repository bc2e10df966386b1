#!/usr/bin/python3
"""Runs the integration tests against a running stack.

tests/integration/run.sh starts the stack and calls this with the stack's
coordinates in the environment (see crm.py). Every function named test_* in
tests/integration/test_*.py runs once, in file order and then in source order,
each bounded by CRM_TEST_TIMEOUT seconds (default 120), or longer when the
function says it needs more (test_x.timeout = 300). Arguments select
tests: a test runs when its "module::function" contains one of them.
CRM_TEST_EXCLUDE (space-separated) leaves out the tests whose name contains
one of its words; each is listed as "SKIP name" and not counted.

Prints "PASS name" or "FAIL name: reason" with the traceback, then
"N passed, N failed"; exits 1 when a test failed or none was selected.
"""

import importlib
import inspect
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import crm  # noqa: E402  (after the path is set)


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout("timed out after %d s" % _bound[0])


TIMEOUT = int(os.environ.get("CRM_TEST_TIMEOUT", "120"))
_bound = [TIMEOUT]  # the bound of the test that runs now


def discover(selectors):
    """Returns [(name, callable or exception)] in run order."""
    found = []
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        modname = fname[:-3]
        try:
            mod = importlib.import_module(modname)
        except BaseException as e:  # a syntax error must not stop the others
            if isinstance(e, KeyboardInterrupt):
                raise
            name = modname + "::(import)"
            if not selectors or any(s in name for s in selectors):
                found.append((name, e))
            continue
        funcs = [
            f
            for n, f in inspect.getmembers(mod, inspect.isfunction)
            if n.startswith("test_") and f.__module__ == mod.__name__
        ]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            name = "%s::%s" % (modname, f.__name__)
            if not selectors or any(s in name for s in selectors):
                found.append((name, f))
    return found


def bound_for(f):
    """The bound for one test: CRM_TEST_TIMEOUT, or the function's own
    timeout attribute when that is longer (tests that start whole stacks)."""
    own = getattr(f, "timeout", 0)
    return max(TIMEOUT, int(own)) if isinstance(own, (int, float)) else TIMEOUT


def heal(after):
    """Puts the stack back together when a test left a service down. A copy
    that supervisord is restarting by itself gets a few seconds first."""
    try:
        crm.wait_until(crm.stack_healthy, 5, 0.2)
        return
    except AssertionError:
        pass
    print("note: after %s the stack is not healthy; starting everything again" % after)
    crm.ctl(["start", "all"])
    try:
        crm.wait_until(crm.stack_healthy, 60, 0.5)
    except AssertionError as e:
        print("note: the stack did not recover: %s" % e)


def main(argv):
    selectors = argv[1:]
    tests = discover(selectors)
    excluded = os.environ.get("CRM_TEST_EXCLUDE", "").split()
    if excluded:
        kept = []
        for name, f in tests:
            if any(x in name for x in excluded):
                print("SKIP %s (CRM_TEST_EXCLUDE)" % name)
            else:
                kept.append((name, f))
        tests = kept
    if not tests:
        print("no test matches %s" % " ".join(selectors))
        print("0 passed, 1 failed")
        _write_results(0, 1)
        return 1

    signal.signal(signal.SIGALRM, _on_alarm)
    passed = failed = 0
    failures = []
    try:
        for name, f in tests:
            t0 = time.monotonic()
            if isinstance(f, BaseException):
                failed += 1
                failures.append(name)
                print("FAIL %s: cannot import: %s" % (name, f))
                traceback.print_exception(type(f), f, f.__traceback__, file=sys.stdout)
                continue
            _bound[0] = bound_for(f)
            signal.alarm(_bound[0])
            try:
                f()
                ok, err = True, None
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # SystemExit from a test is a failure too
                ok, err = False, e
            finally:
                signal.alarm(0)
            dt = time.monotonic() - t0
            if ok:
                passed += 1
                print("PASS %s (%.1f s)" % (name, dt))
            else:
                failed += 1
                failures.append(name)
                reason = str(err) or type(err).__name__
                print("FAIL %s: %s (%.1f s)" % (name, reason.splitlines()[0], dt))
                traceback.print_exception(type(err), err, err.__traceback__, file=sys.stdout)
            # A test that left a service down must not fail the ones after it.
            heal(name)
            sys.stdout.flush()
    except KeyboardInterrupt:
        signal.alarm(0)
        print("interrupted")
        failed += 1
        _write_results(passed, failed)
        print("%d passed, %d failed" % (passed, failed))
        return 130

    if failures:
        print("failed: " + " ".join(failures))
    _write_results(passed, failed)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def _write_results(passed, failed):
    path = os.environ.get("CRM_TEST_RESULTS")
    if path:
        with open(path, "w") as fh:
            fh.write("%d %d\n" % (passed, failed))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
