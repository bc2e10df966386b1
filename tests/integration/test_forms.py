"""Forms (services/notes/notes_forms*.c) through the gateway: the business
defines forms in settings, fills the customer card (every change kept) and
surveys (any number of times), and reads a survey's results. Each test works
in a tenant of its own: a business has one card form.
"""

import json
import uuid

import crm
from crm import api, q, unique, wait_until


def _tenant():
    """A fresh tenant and its administrator key."""
    tenant = crm.crmctl(["tenant", "create", unique("Forms"), "--country", "BG"]).strip()
    return tenant, _key(tenant, "admin")


def _key(tenant, role, *scopes):
    args = ["key", "create", "--tenant", tenant, "--role", role, "--name", unique(role)]
    if scopes:
        args += ["--scopes", ",".join(scopes)]
    return crm.crmctl(args).strip()


def _customer(key, **fields):
    body = {"firstName": "Мария", "lastName": unique("Иванова")}
    body.update(fields)
    st, _, js = api("POST", "/v1/customers", body, key=key)
    assert st == 201, js
    return js["id"]


def _violation(js, field):
    """The (reason, description) of the violation naming field, or None."""
    for d in js.get("error", {}).get("details", []):
        for v in d.get("fieldViolations", [d]):
            if v.get("field") == field:
                return v.get("reason"), v.get("description", "")
    return None


CARD = {
    "title": "Картон",
    "purpose": "CARD",
    "questions": [
        {"text": "Тип кожа", "type": "ONE_CHOICE", "required": True,
         "choices": ["суха", "мазна", "нормална", "смесена"]},
        {"text": "Алергии", "type": "LONG_TEXT"},
        {"text": "Предпочитани продукти", "type": "MANY_CHOICES",
         "choices": ["серум", "крем", "маска"]},
        {"text": "Възраст", "type": "NUMBER", "min": 16, "max": 120},
        {"text": "Бременност", "type": "YES_NO"},
        {"text": "Последна процедура", "type": "DATE"},
    ],
}

SURVEY = {
    "title": "Satisfaction",
    "purpose": "SURVEY",
    "questions": [
        {"text": "How was your visit?", "type": "ONE_CHOICE", "required": True,
         "choices": ["great", "fine", "poor"]},
        {"text": "Would you come again?", "type": "YES_NO"},
        {"text": "Score", "type": "NUMBER", "min": 0, "max": 10},
        {"text": "What did you like?", "type": "MANY_CHOICES",
         "choices": ["staff", "price", "place"]},
        {"text": "Anything else?", "type": "SHORT_TEXT"},
    ],
}


def _form(key, body):
    st, hdrs, js = api("POST", "/v1/forms", body, key=key)
    assert st == 201, js
    assert hdrs["location"] == "/v1/forms/" + js["id"], hdrs
    return js


def _ids(form):
    return {qu["text"]: qu["id"] for qu in form["questions"]}


def _timeline(key, cid):
    st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, kind="FORM"), key=key)
    assert st == 200, js
    return js.get("entries", [])


def test_card_is_filled_edited_and_every_version_kept():
    """The card form is defined once; a customer's card is filled, edited, and
    every version stays in its history; the timeline names the questions that
    changed."""
    _, key = _tenant()
    form = _form(key, CARD)
    assert form["version"] == 1 and form["etag"] == "1", form
    ids = _ids(form)
    assert all(ids.values()) and len(set(ids.values())) == 6, ids
    # A second card form is refused, naming the first.
    st, _, js = api("POST", "/v1/forms", CARD, key=key)
    assert st == 409, js
    assert form["id"] in json.dumps(js), js
    cid = _customer(key)

    st, _, card = api("GET", "/v1/customers/%s/card" % cid, key=key)
    assert st == 200, card
    assert card["form"]["id"] == form["id"] and card.get("filling") is None, card
    assert card["etag"] == "new", card

    answers = [{"questionId": ids["Тип кожа"], "value": "суха"},
               {"questionId": ids["Алергии"], "value": "латекс\nполен"},
               {"questionId": ids["Предпочитани продукти"], "values": ["маска", "серум"]},
               {"questionId": ids["Възраст"], "value": "34.50"}]
    st, _, card = api("PUT", "/v1/customers/%s/card" % cid, {"answers": answers}, key=key,
                      headers={"If-Match": '"new"'})
    assert st == 200, card
    got = {a["questionText"]: a for a in card["filling"]["answers"]}
    assert got["Тип кожа"]["value"] == "суха", got
    # Choices keep the form's order; numbers are written plainly.
    assert got["Предпочитани продукти"]["values"] == ["серум", "маска"], got
    assert got["Възраст"]["value"] == "34.5" and got["Възраст"]["type"] == "NUMBER", got
    assert card["filling"]["formVersion"] == 1 and card["filling"]["purpose"] == "CARD", card
    first = card["etag"]

    # A stale etag is refused; the current one is taken.
    answers[0]["value"] = "мазна"
    answers[1]["value"] = "латекс"
    st, _, js = api("PUT", "/v1/customers/%s/card" % cid, {"answers": answers}, key=key,
                    headers={"If-Match": '"new"'})
    assert st == 412, js
    st, _, card = api("PUT", "/v1/customers/%s/card" % cid, {"answers": answers}, key=key,
                      headers={"If-Match": '"%s"' % first})
    assert st == 200, card
    assert card["etag"] != first, card
    # The same answers again make no new version.
    st, _, same = api("PUT", "/v1/customers/%s/card" % cid, {"answers": answers}, key=key)
    assert st == 200 and same["etag"] == card["etag"], same

    st, _, hist = api("GET", "/v1/customers/%s/card/history" % cid, key=key)
    assert st == 200, hist
    versions = hist["fillings"]
    assert len(versions) == 2, versions
    assert versions[0]["id"] == card["etag"] and versions[1]["id"] == first, versions
    old = {a["questionText"]: a["value"] for a in versions[1]["answers"]}
    assert old["Тип кожа"] == "суха" and old["Алергии"] == "латекс\nполен", old
    # Pages of one.
    st, _, page = api("GET", q("/v1/customers/%s/card/history" % cid, pageSize=1), key=key)
    assert st == 200 and len(page["fillings"]) == 1 and page["nextPageToken"], page
    st, _, page2 = api("GET", q("/v1/customers/%s/card/history" % cid, pageSize=1,
                                pageToken=page["nextPageToken"]), key=key)
    assert st == 200 and page2["fillings"][0]["id"] == first, page2
    assert not page2.get("nextPageToken"), page2

    entries = _timeline(key, cid)
    updated = [e for e in entries if e["type"] == "card.updated"]
    assert len(updated) == 2, entries
    assert updated[0]["kind"] == "FORM", updated
    assert updated[0]["form"]["questions"] == ["Тип кожа", "Алергии"], updated
    assert updated[0]["form"]["title"] == "Картон", updated


def test_answers_are_checked_against_the_form():
    """Every wrong answer is a 400 naming the question and what is wrong, and
    nothing is written."""
    _, key = _tenant()
    form = _form(key, CARD)
    ids = _ids(form)
    cid = _customer(key)
    skin, age = ids["Тип кожа"], ids["Възраст"]

    def put(answers):
        return api("PUT", "/v1/customers/%s/card" % cid, {"answers": answers}, key=key)

    cases = [
        ([], "answers." + skin, "REQUIRED", "Тип кожа"),
        ([{"questionId": skin, "value": "  "}], "answers." + skin, "REQUIRED", "Тип кожа"),
        ([{"questionId": skin, "value": "зелена"}], "answers." + skin, "NOT_A_CHOICE", "зелена"),
        ([{"questionId": skin, "value": "суха"}, {"questionId": age, "value": "abc"}],
         "answers." + age, "INVALID", "Възраст"),
        ([{"questionId": skin, "value": "суха"}, {"questionId": age, "value": "1e3"}],
         "answers." + age, "INVALID", "not a number"),
        ([{"questionId": skin, "value": "суха"}, {"questionId": age, "value": "121"}],
         "answers." + age, "OUT_OF_RANGE", "from 16 to 120"),
        ([{"questionId": skin, "value": "суха"},
          {"questionId": ids["Бременност"], "value": "maybe"}],
         "answers." + ids["Бременност"], "INVALID", "Бременност"),
        ([{"questionId": skin, "value": "суха"},
          {"questionId": ids["Последна процедура"], "value": "2026-02-30"}],
         "answers." + ids["Последна процедура"], "INVALID_FORMAT", "YYYY-MM-DD"),
        ([{"questionId": skin, "value": "суха"},
          {"questionId": ids["Предпочитани продукти"], "values": ["крем", "крем"]}],
         "answers." + ids["Предпочитани продукти"], "DUPLICATE", "крем"),
        ([{"questionId": skin, "value": "суха"}, {"questionId": "nosuch", "value": "x"}],
         "answers[1].questionId", "NOT_FOUND", "nosuch"),
        ([{"questionId": skin, "value": "суха"}, {"questionId": skin, "value": "мазна"}],
         "answers[1].questionId", "DUPLICATE", "Тип кожа"),
        ([{"questionId": skin, "value": "суха"},
          {"questionId": ids["Алергии"], "value": "я" * 5001}],
         "answers." + ids["Алергии"], "TOO_LONG", "at most 5000"),
    ]
    for answers, field, reason, words in cases:
        st, _, js = put(answers)
        assert st == 400, (answers, js)
        v = _violation(js, field)
        assert v and v[0] == reason, (field, reason, js)
        assert words in v[1], (words, v)
    # At the limit it is taken.
    st, _, js = put([{"questionId": skin, "value": "суха"},
                     {"questionId": ids["Алергии"], "value": "я" * 5000},
                     {"questionId": age, "value": "120"}])
    assert st == 200, js
    st, _, hist = api("GET", "/v1/customers/%s/card/history" % cid, key=key)
    assert len(hist["fillings"]) == 1, hist


def test_form_limits_are_explicit():
    """Questions per form, choices per question, text lengths, and forms per
    business each have a limit that is answered naming the field."""
    _, key = _tenant()

    def survey(**kw):
        body = {"title": "S", "purpose": "SURVEY",
                "questions": [{"text": "Q", "type": "SHORT_TEXT"}]}
        body.update(kw)
        return api("POST", "/v1/forms", body, key=key)

    st, _, js = survey(questions=[{"text": "Q%d" % i, "type": "YES_NO"} for i in range(101)])
    assert st == 400 and _violation(js, "form.questions")[0] == "TOO_MANY", js
    st, _, js = survey(questions=[{"text": "Q%d" % i, "type": "YES_NO"} for i in range(100)])
    assert st == 201, js
    st, _, js = survey(questions=[{"text": "Q", "type": "ONE_CHOICE",
                                   "choices": ["c%d" % i for i in range(31)]}])
    assert st == 400 and _violation(js, "form.questions[0].choices")[0] == "TOO_MANY", js
    st, _, js = survey(questions=[{"text": "Q", "type": "ONE_CHOICE", "choices": []}])
    assert st == 400 and _violation(js, "form.questions[0].choices")[0] == "REQUIRED", js
    st, _, js = survey(questions=[{"text": "Q", "type": "ONE_CHOICE",
                                   "choices": ["a", "b" * 201]}])
    assert st == 400 and _violation(js, "form.questions[0].choices[1]")[0] == "TOO_LONG", js
    st, _, js = survey(questions=[{"text": "ж" * 501, "type": "DATE"}])
    assert st == 400 and _violation(js, "form.questions[0].text")[0] == "TOO_LONG", js
    st, _, js = survey(title="т" * 201)
    assert st == 400 and _violation(js, "form.title")[0] == "TOO_LONG", js
    st, _, js = survey(questions=[{"text": "Q"}])
    assert st == 400 and _violation(js, "form.questions[0].type")[0] == "REQUIRED", js
    st, _, js = survey(questions=[{"text": "N", "type": "NUMBER", "min": 5, "max": 1}])
    assert st == 400 and _violation(js, "form.questions[0].max")[0] == "OUT_OF_RANGE", js
    st, _, js = survey(purpose="UNSPECIFIED")
    assert st == 400 and _violation(js, "form.purpose")[0] == "REQUIRED", js
    for i in range(49):
        st, _, js = survey(title="S%d" % i)
        assert st == 201, (i, js)
    st, _, js = survey(title="one too many")
    assert st == 429, js
    assert "50 forms" in json.dumps(js), js
    st, _, listed = api("GET", "/v1/forms", key=key)
    assert st == 200 and len(listed["forms"]) == 50, len(listed["forms"])
    # Deleting one makes room.
    st, _, _ = api("DELETE", "/v1/forms/" + listed["forms"][0]["id"], key=key)
    assert st == 204
    assert survey(title="room again")[0] == 201


def test_editing_a_form_keeps_old_answers():
    """A form's edit is a new version; fillings keep the version they answered
    and the text of their questions, removed ones included; results count the
    current questions."""
    _, key = _tenant()
    form = _form(key, SURVEY)
    ids = _ids(form)
    cid = _customer(key)
    st, _, first = api("POST", "/v1/customers/%s/surveys" % cid,
                       {"formId": form["id"], "answers": [
                           {"questionId": ids["How was your visit?"], "value": "great"},
                           {"questionId": ids["Anything else?"], "value": "lovely tea"}]},
                       key=key)
    assert st == 201, first
    # Remove "Anything else?", rename one, add one.
    questions = [qu for qu in form["questions"] if qu["text"] != "Anything else?"]
    questions[0] = dict(questions[0], text="How was it?")
    questions.append({"text": "Your birthday", "type": "DATE"})
    st, _, js = api("PATCH", "/v1/forms/" + form["id"], {"questions": questions}, key=key,
                    headers={"If-Match": '"2"'})
    assert st == 412, js
    st, _, v2 = api("PATCH", "/v1/forms/" + form["id"], {"questions": questions}, key=key,
                    headers={"If-Match": '"1"'})
    assert st == 200, v2
    assert v2["version"] == 2 and len(v2["questions"]) == 5, v2
    assert v2["questions"][0]["id"] == ids["How was your visit?"], v2
    # The same again: no new version.
    st, _, same = api("PATCH", "/v1/forms/" + form["id"], {"questions": v2["questions"]}, key=key)
    assert st == 200 and same["version"] == 2, same
    # The purpose stays; the form read and sent back whole changes nothing.
    st, _, js = api("PATCH", "/v1/forms/" + form["id"], {"purpose": "CARD"}, key=key)
    assert st == 400 and _violation(js, "form.purpose")[0] == "IMMUTABLE", js
    st, _, same = api("PATCH", "/v1/forms/" + form["id"], v2, key=key)
    assert st == 200 and same["version"] == 2, same
    st, _, js = api("PATCH", "/v1/forms/" + form["id"], {"colour": "red"}, key=key)
    assert st == 400, js

    st, _, old = api("GET", "/v1/customers/%s/surveys/%s" % (cid, first["id"]), key=key)
    assert st == 200, old
    assert old["formVersion"] == 1 and old["formTitle"] == "Satisfaction", old
    texts = {a["questionText"]: a["value"] for a in old["answers"]}
    assert texts == {"How was your visit?": "great", "Anything else?": "lovely tea"}, texts
    st, _, v1 = api("GET", q("/v1/forms/" + form["id"], version=1), key=key)
    assert st == 200 and len(v1["questions"]) == 5 and v1["version"] == 1, v1
    # The removed question cannot be answered any more.
    st, _, js = api("POST", "/v1/customers/%s/surveys" % cid,
                    {"formId": form["id"], "answers": [
                        {"questionId": ids["How was your visit?"], "value": "fine"},
                        {"questionId": ids["Anything else?"], "value": "x"}]}, key=key)
    assert st == 400 and _violation(js, "answers[1].questionId")[0] == "NOT_FOUND", js
    st, _, res = api("GET", "/v1/forms/%s/results" % form["id"], key=key)
    assert st == 200, res
    assert [r["text"] for r in res["questions"]][0] == "How was it?", res
    assert res["questions"][0]["answered"] == 1, res


def test_surveys_filled_twice_and_results():
    """A survey is filled any number of times per customer; results count
    choices, yes and no, numbers' min, average and max, and list the texts."""
    _, key = _tenant()
    form = _form(key, SURVEY)
    ids = _ids(form)
    a, b = _customer(key), _customer(key)
    fills = [
        (a, "great", "yes", "10", ["staff", "place"], "the tea", True),
        (a, "fine", "no", "6", ["price"], "", False),
        (b, "great", "yes", "8.5", ["staff"], "music", False),
    ]
    made = []
    for cid, how, again, score, liked, text, by_customer in fills:
        answers = [{"questionId": ids["How was your visit?"], "value": how},
                   {"questionId": ids["Would you come again?"], "value": again},
                   {"questionId": ids["Score"], "value": score},
                   {"questionId": ids["What did you like?"], "values": liked},
                   {"questionId": ids["Anything else?"], "value": text}]
        st, hdrs, js = api("POST", "/v1/customers/%s/surveys" % cid,
                           {"formId": form["id"], "answers": answers, "byCustomer": by_customer},
                           key=key)
        assert st == 201, js
        assert hdrs["location"] == "/v1/customers/%s/surveys/%s" % (cid, js["id"]), hdrs
        assert js["byCustomer"] == by_customer and js["filledAt"], js
        assert js["filledBy"]["name"], js
        made.append(js)
    st, _, mine = api("GET", "/v1/customers/%s/surveys" % a, key=key)
    assert st == 200, mine
    assert [f["id"] for f in mine["fillings"]] == [made[1]["id"], made[0]["id"]], mine
    st, _, only = api("GET", q("/v1/customers/%s/surveys" % b, formId=form["id"]), key=key)
    assert [f["id"] for f in only["fillings"]] == [made[2]["id"]], only

    st, _, res = api("GET", "/v1/forms/%s/results" % form["id"], key=key)
    assert st == 200, res
    assert res["fillings"] == 3 and res["form"]["id"] == form["id"], res
    r = {x["text"]: x for x in res["questions"]}
    how = {c["choice"]: c["count"] for c in r["How was your visit?"]["choices"]}
    assert how == {"great": 2, "fine": 1, "poor": 0}, how
    assert r["Would you come again?"]["yes"] == 2 and r["Would you come again?"]["no"] == 1, r
    score = r["Score"]
    assert (score["min"], score["max"]) == (6, 10) and abs(score["avg"] - 8.1666) < 0.001, score
    liked = {c["choice"]: c["count"] for c in r["What did you like?"]["choices"]}
    assert liked == {"staff": 2, "price": 1, "place": 1}, liked
    assert r["Anything else?"]["texts"] == ["music", "the tea"], r
    assert r["Anything else?"]["answered"] == 2, r

    entries = _timeline(key, a)
    filled = [e for e in entries if e["type"] == "survey.filled"]
    assert len(filled) == 2 and filled[0]["form"]["title"] == "Satisfaction", entries
    assert filled[1]["form"]["byCustomer"] is True, filled
    # The card cannot be filled as a survey, nor have results.
    card = _form(key, CARD)
    st, _, js = api("POST", "/v1/customers/%s/surveys" % a, {"formId": card["id"]}, key=key)
    assert st == 400 and _violation(js, "formId")[0] == "NOT_A_SURVEY", js
    assert api("GET", "/v1/forms/%s/results" % card["id"], key=key)[0] == 412


def test_another_tenant_sees_nothing():
    """Forms, cards and fillings are the tenant's own."""
    _, key = _tenant()
    form = _form(key, SURVEY)
    ids = _ids(form)
    cid = _customer(key)
    st, _, fill = api("POST", "/v1/customers/%s/surveys" % cid,
                      {"formId": form["id"], "answers": [
                          {"questionId": ids["How was your visit?"], "value": "poor"}]}, key=key)
    assert st == 201, fill
    _, other = _tenant()
    st, _, js = api("GET", "/v1/forms", key=other)
    assert st == 200 and not js.get("forms"), js
    for path in ("/v1/forms/" + form["id"], "/v1/forms/%s/results" % form["id"],
                 "/v1/customers/%s/card" % cid, "/v1/customers/%s/surveys" % cid,
                 "/v1/customers/%s/surveys/%s" % (cid, fill["id"])):
        st, _, js = api("GET", path, key=other)
        assert st == 404, (path, st, js)
    st, _, js = api("POST", "/v1/customers/%s/surveys" % _customer(other),
                    {"formId": form["id"]}, key=other)
    assert st == 404, js
    assert api("PATCH", "/v1/forms/" + form["id"], {"title": "x"}, key=other)[0] == 404
    assert api("DELETE", "/v1/forms/" + form["id"], key=other)[0] == 404


def test_scopes():
    """Reading the card needs customers:read and private:read, writing it
    customers:write and private:read (it holds health data, like a note's
    body); surveys need customers:read; forms are settings (administrators)."""
    tenant, admin = _tenant()
    form = _form(admin, CARD)
    skin = _ids(form)["Тип кожа"]
    cid = _customer(admin)
    staff = _key(tenant, "staff")
    readonly = _key(tenant, "readonly")
    reader = _key(tenant, "staff", "customers:read", "private:read")
    body = {"answers": [{"questionId": skin, "value": "суха"}]}
    # Staff fill the card but may not change the forms.
    st, _, card = api("PUT", "/v1/customers/%s/card" % cid, body, key=staff)
    assert st == 200, card
    st, _, js = api("POST", "/v1/forms", SURVEY, key=staff)
    assert st == 403 and "settings" in json.dumps(js), js
    assert api("PATCH", "/v1/forms/" + form["id"], {"title": "x"}, key=staff)[0] == 403
    assert api("DELETE", "/v1/forms/" + form["id"], key=staff)[0] == 403
    assert api("GET", "/v1/forms", key=staff)[0] == 200
    for k in (readonly, reader):
        assert api("GET", "/v1/customers/%s/card" % cid, key=k)[0] == 200
        assert api("GET", "/v1/customers/%s/card/history" % cid, key=k)[0] == 200
        assert api("PUT", "/v1/customers/%s/card" % cid, body, key=k)[0] == 403
    assert api("GET", "/v1/customers/%s/card" % cid, key=None)[0] == 401
    # Without private:read (a key with scopes, as the store's or the booking
    # system's; a staff key narrowed to customers:read): no card, read or
    # written, not even a version by its id; surveys as before.
    survey = _form(admin, SURVEY)
    st, _, filled = api("POST", "/v1/customers/%s/surveys" % cid, {
        "formId": survey["id"], "answers": [{"questionId": survey["questions"][0]["id"],
                                             "value": "great"}]}, key=admin)
    assert st == 201, filled
    shop = _key(tenant, "service", "customers:read", "customers:write")
    narrow = _key(tenant, "staff", "customers:read")
    for k in (shop, narrow):
        st, _, js = api("GET", "/v1/customers/%s/card" % cid, key=k)
        assert st == 403 and "private:read" in js["error"]["message"], js
        assert api("GET", "/v1/customers/%s/card/history" % cid, key=k)[0] == 403
        st, _, js = api("GET", "/v1/customers/%s/surveys/%s" % (cid, card["etag"]), key=k)
        assert st == 404, js
        assert api("GET", "/v1/customers/%s/surveys" % cid, key=k)[0] == 200
        assert api("GET", "/v1/forms/%s/results" % survey["id"], key=k)[0] == 200
    st, _, js = api("PUT", "/v1/customers/%s/card" % cid, body, key=shop)
    assert st == 403 and "private:read" in js["error"]["message"], js
    st, _, one = api("GET", "/v1/customers/%s/surveys/%s" % (cid, filled["id"]), key=shop)
    assert st == 200 and one["purpose"] == "SURVEY", one
    # Over the bus the method itself refuses it, whatever the gateway lets through.
    out = json.loads(crm.crmctl_run(["call", "notes", "GetCard", json.dumps({"customerId": cid}),
                                     "--key", shop]).stdout)
    assert out["status"] == "PERMISSION_DENIED", out
    # Staff keep the card: their role has private:read.
    st, _, got = api("GET", "/v1/customers/%s/card/history" % cid, key=staff)
    assert st == 200 and got["fillings"], got
    st, _, one = api("GET", "/v1/customers/%s/surveys/%s" % (cid, card["etag"]), key=staff)
    assert st == 200 and one["purpose"] == "CARD", one


def test_deleting_a_customer_erases_card_and_surveys():
    """A deleted customer's card and fillings are erased; the forms stay."""
    _, key = _tenant()
    card = _form(key, CARD)
    survey = _form(key, SURVEY)
    cid = _customer(key)
    st, _, js = api("PUT", "/v1/customers/%s/card" % cid, {"answers": [
        {"questionId": _ids(card)["Тип кожа"], "value": "мазна"},
        {"questionId": _ids(card)["Алергии"], "value": "penicillin"}]}, key=key)
    assert st == 200, js
    st, _, js = api("POST", "/v1/customers/%s/surveys" % cid, {"formId": survey["id"], "answers": [
        {"questionId": _ids(survey)["How was your visit?"], "value": "fine"}]}, key=key)
    assert st == 201, js
    assert api("DELETE", "/v1/customers/" + cid, key=key)[0] == 204

    def erased():
        rows = crm.psql_rows("SELECT count(*) FROM notes.form_fillings WHERE customer_id = '%s'"
                             % cid)
        return rows == [("0",)]

    wait_until(erased, 20, what="the card and surveys erased")
    assert api("GET", "/v1/customers/%s/card" % cid, key=key)[0] == 404
    st, _, res = api("GET", "/v1/forms/%s/results" % survey["id"], key=key)
    assert st == 200 and res["fillings"] == 0, res
    assert api("GET", "/v1/forms/" + card["id"], key=key)[0] == 200


def test_unknown_ids_are_404():
    _, key = _tenant()
    nobody = str(uuid.uuid4())
    for path in ("/v1/forms/" + nobody, "/v1/forms/%s/results" % nobody,
                 "/v1/customers/%s/card" % nobody):
        st, _, js = api("GET", path, key=key)
        assert st == 404 and nobody in json.dumps(js), (path, js)
    # No card form yet: the card says so and cannot be written.
    cid = _customer(key)
    st, _, card = api("GET", "/v1/customers/%s/card" % cid, key=key)
    assert st == 200 and card.get("form") is None, card
    st, _, js = api("PUT", "/v1/customers/%s/card" % cid, {"answers": []}, key=key)
    assert st == 412 and "Settings" in json.dumps(js), js


def _fits(b):
    """The page holds at its width: nothing sticks out to the right."""
    overflow, wide = b.overflow()
    assert overflow <= 1, (overflow, wide)


def _add_question(b, i, text, qtype, choices=None, lo=None, hi=None, required=False):
    b.find("#question-add").click()
    b.wait("#q-%d-text" % i).send_keys(text)
    b.find("#q-%d-type" % i).select(qtype)
    if choices:
        b.wait("#q-%d-choices" % i).send_keys("\n".join(choices))
    if lo is not None:
        b.wait("#q-%d-min" % i).send_keys(lo)
        b.find("#q-%d-max" % i).send_keys(hi)
    if required:
        b.find("#q-%d-required" % i).click()


def test_ui_build_fill_and_read_at_390px_in_two_languages():
    """In Settings a card and a survey are built; on a customer's card the card
    is filled (a missing answer is named at its question), a survey is filled
    on the tablet without the staff's navigation, and its results read; in
    Bulgarian too, everything at 390 px. The UI signs in to the default
    tenant: its forms are deleted before and after (other tests' screens)."""
    _delete_default_forms()
    try:
        _ui_build_fill_and_read()
    finally:
        _delete_default_forms()


def _delete_default_forms():
    st, _, js = api("GET", "/v1/forms")
    assert st == 200, js
    for f in js.get("forms", []):
        assert api("DELETE", "/v1/forms/" + f["id"])[0] == 204


def _ui_build_fill_and_read():
    from test_ui import SHOTS, _browser, _no_js_errors, _open, _sign_in
    import os

    st, _, c = api("POST", "/v1/customers", {"firstName": "Ана", "lastName": unique("Петрова")})
    assert st == 201, c
    cid = c["id"]
    with _browser("forms") as b:
        _sign_in(b)
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        _open(b, "/settings")
        b.wait("#settings-forms").click()
        b.wait("#form-new-card").click()
        assert b.wait("#form-title").prop("value") == "Card"
        _add_question(b, 0, "Allergies", "LONG_TEXT")
        _add_question(b, 1, "Skin type", "ONE_CHOICE", choices=["dry", "oily"], required=True)
        b.find("#q-1-up").click()  # Skin type first
        assert b.wait("#q-0-text").prop("value") == "Skin type"
        _fits(b)
        b.find("#form-save").click()
        b.wait_text("#form-list", "Card")
        b.wait("#form-new-survey").click()
        b.wait("#form-title").send_keys("Satisfaction")
        _add_question(b, 0, "Score", "NUMBER", lo="0", hi="10", required=True)
        _add_question(b, 1, "Come again?", "YES_NO")
        b.find("#form-save").click()
        b.wait_text("#form-list", "Satisfaction")
        b.full_screenshot(os.path.join(SHOTS, "forms-settings-narrow.png"))
        st, _, forms = api("GET", "/v1/forms")
        by = {f["title"]: f for f in forms["forms"]}
        assert [q["text"] for q in by["Card"]["questions"]] == ["Skin type", "Allergies"], by
        assert by["Satisfaction"]["questions"][0]["max"] == 10, by

        # The card: a required answer missing is named at its question.
        _open(b, "/customers/" + cid)
        b.wait("#card-form-edit").click()
        b.wait("#card-form textarea").send_keys("latex")
        b.find("#card-form-save").click()
        b.wait_text("#card-form", "needs an answer")
        b.find("#card-form input[type=radio][value=dry]").click()
        b.find("#card-form-save").click()
        b.wait_text("#card-form", "latex")
        assert "dry" in b.find("#card-form").text
        _fits(b)
        b.wait_text("#timeline", "Card updated (Skin type, Allergies)", timeout=20)

        # A survey on the tablet: no navigation; a number out of range is named.
        b.wait("#survey-pick").select(by["Satisfaction"]["id"])
        b.find("#survey-tablet").click()
        b.wait("#survey-send")
        assert not b.find(".topbar").displayed()
        b.find(".survey-form input[inputmode=decimal]").send_keys("11")
        b.find("#survey-send").click()
        b.wait_text(".survey-form", "from 0 to 10")
        b.find(".survey-form input[inputmode=decimal]").fill("9")
        b.find(".survey-form input[type=radio][value=yes]").click()
        _fits(b)
        b.find("#survey-send").click()
        b.wait("#survey-thanks")
        b.find("#survey-hand-back").click()
        b.wait_text("#surveys-list", "Satisfaction")
        assert b.find(".topbar").displayed()
        assert "the customer" in b.find("#surveys-list").text
        b.full_screenshot(os.path.join(SHOTS, "forms-card-narrow.png"))

        # Results, then the same in Bulgarian.
        _open(b, "/forms/%s/results" % by["Satisfaction"]["id"])
        b.wait_text("#results-count", "Fillings counted: 1")
        assert b.find("#result-0 .result-avg").text == "9"
        assert b.find("#result-1 .result-yes").text == "1"
        _fits(b)
        b.js("localStorage.setItem('crm.lang', 'bg');")
        try:
            _open(b, "/customers")
            _open(b, "/forms/%s/results" % by["Satisfaction"]["id"])
            b.wait_text("h1", "Резултати: Satisfaction")
            assert "Преброени попълвания: 1" in b.find("#results-count").text
            _fits(b)
            _open(b, "/customers/" + cid)
            b.wait_text("#card-form-title", "Картон")
            b.wait_text("#surveys-title", "Анкети")
            assert "Да" in b.wait("#surveys-list").text or "Satisfaction" in b.find("#surveys-list").text
            b.wait_text("#timeline", "Картонът е променен (Skin type, Allergies)", timeout=20)
            _fits(b)
            _open(b, "/settings/forms")
            b.wait_text("#form-list", "Satisfaction")
            assert b.find("#form-new-survey").text == "Нова анкета"
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "forms-settings-bg-narrow.png"))
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)
