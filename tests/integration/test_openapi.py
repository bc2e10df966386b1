"""The OpenAPI document the gateway serves: Redocly's linter finds nothing in
it, and the error answers it lists are the ones the gateway gives.

The linter is @redocly/cli, pinned in tests/lint/package.json and installed
there by compose/install-deps.sh (npm ci); tests/lint/redocly.yaml holds the
rules: the recommended set.
"""
import json
import os
import re
import subprocess
import tempfile

import crm
from crm import api

LINT_DIR = os.path.join(crm.ROOT, "tests", "lint")
REDOCLY = os.path.join(LINT_DIR, "node_modules", ".bin", "redocly")
METHODS = ("get", "put", "post", "patch", "delete")
# An id of the right shape that names nothing, and one that cannot be an id.
SOME_ID = "00000000-0000-4000-8000-000000000000"
BAD_ID = "no%20such"


def _served():
    st, _, doc = api("GET", "/v1/openapi.json", key=None)
    assert st == 200 and isinstance(doc, dict), (st, doc)
    return doc


def _operations(doc):
    for path, item in sorted(doc["paths"].items()):
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def test_openapi_passes_redocly_lint():
    assert os.access(REDOCLY, os.X_OK), (
        "%s is not installed: run compose/install-deps.sh (npm ci in tests/lint)" % REDOCLY)
    doc = _served()
    with tempfile.TemporaryDirectory(prefix="crm-openapi-") as tmp:
        path = os.path.join(tmp, "openapi.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False)
        # JSON on stdout; stderr has only notices (such as Node.js version ones).
        r = subprocess.run(
            [REDOCLY, "lint", "--config", os.path.join(LINT_DIR, "redocly.yaml"),
             "--format", "json", path],
            capture_output=True, text=True, timeout=90, cwd=tmp,
            env=dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
                     NO_COLOR="1"))
    try:
        report = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("redocly lint gave no report (exit %d):\n%s\n%s"
                             % (r.returncode, r.stdout[-4000:], r.stderr[-4000:]))
    problems = ["%s %s at %s: %s" % (p["severity"], p["ruleId"],
                                     p["location"][0]["pointer"] if p.get("location") else "?",
                                     p["message"])
                for p in report["problems"]]
    totals = report["totals"]
    # Warnings count too: a route added without a 4xx answer is only a warning.
    assert totals["errors"] == 0 and totals["warnings"] == 0 and not problems, (
        "redocly lint: %d errors, %d warnings\n%s"
        % (totals["errors"], totals["warnings"], "\n".join(problems)))
    assert r.returncode == 0, (r.returncode, r.stderr[-4000:])


def _url(path, value):
    return re.sub(r"\{[^}]+\}", value, path)


def test_openapi_error_answers_are_given():
    """Each operation lists 400; those that list 404 or 415 get them too."""
    doc = _served()
    checked = {"400": 0, "404": 0, "415": 0}
    for method, path, op in _operations(doc):
        listed = op["responses"]
        name = "%s %s" % (method.upper(), path)
        assert "400" in listed, name
        # Every request's Idempotency-Key is checked, before anything is done.
        st, _, js = api(method.upper(), _url(path, SOME_ID),
                        headers={"Idempotency-Key": "k" * 129})
        assert st == 400 and js["error"]["status"] == "INVALID_ARGUMENT", (name, st, js)
        checked["400"] += 1
        if "404" in listed and "{" not in path and op.get("security") != []:
            # A 404 for what the body or query names (a door's zone, a task
            # list's customer): this probe names nothing.
            pass
        elif "404" in listed:
            # An id that cannot be one; a route without one (the task feed)
            # is asked without its secret.
            st, _, js = api(method.upper(), _url(path, BAD_ID),
                            {} if "requestBody" in op else None)
            assert st == 404 and js["error"]["status"] == "NOT_FOUND", (name, st, js)
            checked["404"] += 1
        if "415" in listed:
            st, _, js = api(method.upper(), _url(path, SOME_ID), raw="{}",
                            headers={"Content-Type": "text/plain"})
            assert st == 415, (name, st, js)
            checked["415"] += 1
    # The document lists them where they apply: not nowhere.
    assert all(checked.values()), checked


def _undescribed(schemas):
    """Names of the schemas, and schema.property of the properties, in
    schemas without a non-empty description."""
    missing = []
    for name, schema in sorted(schemas.items()):
        if not (schema.get("description") or "").strip():
            missing.append(name)
        for prop, sub in sorted(schema.get("properties", {}).items()):
            if not (sub.get("description") or "").strip():
                missing.append("%s.%s" % (name, prop))
    return missing


def test_openapi_every_property_is_described():
    """A client can be written from the document alone: every schema and every
    property of every schema says what it holds; every operation has a summary
    and a description; every parameter says what it takes."""
    doc = _served()
    schemas = doc["components"]["schemas"]
    assert len(schemas) > 100, len(schemas)
    missing = _undescribed(schemas)
    assert not missing, "no description: %s" % ", ".join(missing)
    for method, path, op in _operations(doc):
        name = "%s %s" % (method.upper(), path)
        assert op.get("summary", "").strip(), name
        assert op.get("description", "").strip(), name
        for p in op.get("parameters", []):
            assert p.get("description", "").strip(), (name, p["name"])
    # The texts are the .proto comments: one of each kind.
    customer = schemas["crm.Customer"]
    assert "customer" in customer["description"].lower(), customer["description"]
    assert "E.164" in customer["properties"]["phone"]["description"], customer["properties"]["phone"]
    assert "Bus method: customers.GetCustomer" in doc["paths"]["/v1/customers/{id}"]["get"]["description"]


def test_openapi_lists_auth_and_limit_answers():
    """Routes that need a key list 401, 403 and 429; public ones do not,
    but a public route that signs a member in lists 401 (wrong credentials),
    and a public write 429 (its own limits: sign-in, self-registration)."""
    doc = _served()
    for method, path, op in _operations(doc):
        listed = op["responses"]
        public = op.get("security") == []
        signs_in = public and "crm.StaffSession" in json.dumps(listed.get("200", {}))
        assert ("401" in listed) == (not public or signs_in), (method, path)
        assert ("429" in listed) == (not public or method != "get"), (method, path)
    create = doc["paths"]["/v1/customers"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "429"} <= set(create), sorted(create)


def _refused(method, path, answer):
    """The AssertionError crm.conform() raises for answer, as text ("" when
    it raises none)."""
    try:
        crm.conform(method, path, answer)
    except AssertionError as e:
        return str(e)
    return ""


def test_openapi_every_answer_the_tests_see_is_checked():
    """crm.api() checks each answer against the document; these are the
    drifts it must catch, on a real answer changed the way a bug would."""
    st, hdr, c = api("POST", "/v1/customers", {"lastName": crm.unique("Conform")})
    assert st == 201, c
    path = "/v1/customers/" + c["id"]
    st, hdr, c = api("GET", path)
    assert st == 200 and _refused("GET", path, (st, hdr, c)) == "", c
    # A property the document does not name, and one it names left out.
    err = _refused("GET", path, (200, hdr, dict(c, nickname="Zo")))
    assert "GET /v1/customers/{id}" in err and "'nickname' was unexpected" in err, err
    err = _refused("GET", path, (200, hdr, {k: v for k, v in c.items() if k != "email"}))
    assert "at /: 'email' is a required property" in err, err
    # The JSON path of a wrong value deep inside.
    bad = dict(c, addresses=[{"kind": "NOWHERE"}])
    err = _refused("GET", path, (200, hdr, bad))
    assert "at /addresses/0/kind" in err, err
    # A status the operation does not list, and a listed error without the Error body.
    err = _refused("GET", path, (409, hdr, {"error": {"code": 409}}))
    assert "GET /v1/customers/{id} answered 409, which the document does not list" in err, err
    err = _refused("GET", path, (404, hdr, {"message": "gone"}))
    assert "the 404 answer of GET /v1/customers/{id}" in err, err
    err = _refused("GET", path, (404, hdr, {"error": {"code": 404, "status": "GONE",
                                                      "message": "x"}}))
    assert "at /error/status" in err, err
    # The documented Content-Type.
    plain = crm.Headers(dict(hdr, **{"content-type": "text/plain"}).items())
    err = _refused("GET", path, (200, plain, c))
    assert "Content-Type 'text/plain'" in err, err
    # Off the document: an unknown path and a method the path does not take
    # are still the documented Error, 405 with its Allow.
    st, hdr, js = api("GET", "/v1/noSuchThing")
    assert st == 404 and js["error"]["status"] == "NOT_FOUND", js
    err = _refused("GET", "/v1/noSuchThing", (404, hdr, {"error": "no"}))
    assert "GET /v1/noSuchThing (no such path)" in err, err
    st, hdr, js = api("PUT", path)
    assert st == 405, js
    no_allow = crm.Headers((k, v) for k, v in hdr.items() if k != "allow")
    err = _refused("PUT", path, (405, no_allow, js))
    assert "Allow" in err, err
