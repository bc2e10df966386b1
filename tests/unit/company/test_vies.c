/* Unit tests for company_vies: what an answer of VIES means. */
#include "company_vies.h"
#include "../unit.h"

#include <stdio.h>
#include <string.h>

static void test_valid_answer_with_address(void)
{
    struct company_vies_result r;
    company_vies_parse(200,
                       "{\"countryCode\":\"DE\",\"vatNumber\":\"123456789\",\"requestDate\":"
                       "\"2026-12-06T10:00:00.000Z\",\"valid\":true,\"requestIdentifier\":"
                       "\"WAPIAAAA\",\"name\":\"Größmann GmbH\",\"address\":\"Schloßstraße 7\\n"
                       "10115 Berlin\"}",
                       "DE", "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_ANSWER && r.lookup);
    CHECK(r.lookup->valid);
    CHECK_STR(r.lookup->vat_number, "DE123456789");
    CHECK_STR(r.lookup->name, "Größmann GmbH");
    CHECK(r.lookup->n_address_lines == 2);
    CHECK_STR(r.lookup->street, "Schloßstraße 7");
    CHECK_STR(r.lookup->postal_code, "10115");
    CHECK_STR(r.lookup->city, "Berlin");
    CHECK_STR(r.lookup->request_date, "2026-12-06T10:00:00.000Z");
    CHECK_STR(r.lookup->consultation_number, "WAPIAAAA");
    company_vies_result_release(&r);
}

static void test_invalid_and_withheld(void)
{
    struct company_vies_result r;
    company_vies_parse(200, "{\"valid\":false,\"name\":\"---\",\"address\":\"---\"}", "ES",
                       "B12345678", &r);
    CHECK(r.outcome == COMPANY_VIES_ANSWER && !r.lookup->valid);
    CHECK(r.lookup->name_withheld && r.lookup->address_withheld);
    CHECK_STR(r.lookup->name, "");
    CHECK(r.lookup->n_address_lines == 0);
    company_vies_result_release(&r);
    /* One line, no postal code: nothing split. */
    company_vies_parse(200, "{\"valid\":true,\"name\":\"X\",\"address\":\"  Somewhere  \"}", "IE",
                       "1234567A", &r);
    CHECK(r.lookup->n_address_lines == 1);
    CHECK_STR(r.lookup->address_lines[0], "Somewhere");
    CHECK_STR(r.lookup->street, "");
    CHECK_STR(r.lookup->postal_code, "");
    company_vies_result_release(&r);
}

static void test_errors_are_never_invalid(void)
{
    struct company_vies_result r;
    /* Inside a 200, as VIES sometimes sends it. */
    company_vies_parse(200,
                       "{\"actionSucceed\":false,\"errorWrappers\":[{\"error\":"
                       "\"MS_MAX_CONCURRENT_REQ\"}]}",
                       "DE", "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_ERROR && !r.lookup);
    CHECK_STR(r.code, "MS_MAX_CONCURRENT_REQ");
    CHECK(r.retry_after_s == 10);
    company_vies_parse(
        500, "{\"actionSucceed\":false,\"errorWrappers\":[{\"error\":\"MS_UNAVAILABLE\"}]}", "DE",
        "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_ERROR);
    CHECK_STR(r.code, "MS_UNAVAILABLE");
    CHECK(r.retry_after_s == 60);
    company_vies_parse(
        400, "{\"actionSucceed\":false,\"errorWrappers\":[{\"error\":\"INVALID_INPUT\"}]}", "DE",
        "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_INPUT);
    /* No JSON, an HTTP error without a body, a 200 without "valid": errors. */
    company_vies_parse(502, "<html>bad gateway</html>", "DE", "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_ERROR);
    CHECK_STR(r.code, "HTTP_502");
    company_vies_parse(200, "{\"name\":\"X\"}", "DE", "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_ERROR);
    company_vies_parse(200, "", "DE", "123456789", &r);
    CHECK(r.outcome == COMPANY_VIES_ERROR);
    /* A code is kept to letters, digits and underscores. */
    company_vies_parse(500, "{\"errorWrappers\":[{\"error\":\"A\\nB\\\"C\"}]}", "DE", "1", &r);
    CHECK_STR(r.code, "A_B_C");
}

static void test_retry_delay_doubles_up_to_the_cap(void)
{
    CHECK(company_vies_retry_delay(1, 30, 3600) == 30);
    CHECK(company_vies_retry_delay(2, 30, 3600) == 60);
    CHECK(company_vies_retry_delay(4, 30, 3600) == 240);
    CHECK(company_vies_retry_delay(7, 30, 3600) == 1920);
    CHECK(company_vies_retry_delay(8, 30, 3600) == 3600);
    CHECK(company_vies_retry_delay(1000, 30, 3600) == 3600);
    CHECK(company_vies_retry_delay(1, 1, 2) == 1);
    CHECK(company_vies_retry_delay(3, 1, 2) == 2);
}

static void test_which_errors_stop_the_retries(void)
{
    CHECK(company_vies_gives_up("INVALID_REQUESTER_INFO"));
    CHECK(company_vies_gives_up("VAT_BLOCKED"));
    CHECK(!company_vies_gives_up("MS_UNAVAILABLE"));
    CHECK(!company_vies_gives_up("SERVICE_UNAVAILABLE"));
    CHECK(!company_vies_gives_up("TIMEOUT"));
    CHECK(!company_vies_gives_up("IP_BLOCKED"));
    CHECK(!company_vies_gives_up("HTTP_502"));
}

static void test_request_body_with_and_without_requester(void)
{
    char *b = company_vies_request_body("DE", "123456789", "");
    CHECK_STR(b, "{\"countryCode\":\"DE\",\"vatNumber\":\"123456789\"}");
    free(b);
    b = company_vies_request_body("DE", "123456789", "PL5260250274");
    CHECK_STR(b, "{\"countryCode\":\"DE\",\"vatNumber\":\"123456789\","
                 "\"requesterMemberStateCode\":\"PL\",\"requesterNumber\":\"5260250274\"}");
    free(b);
}

int main(void)
{
    RUN(test_retry_delay_doubles_up_to_the_cap);
    RUN(test_which_errors_stop_the_retries);
    RUN(test_request_body_with_and_without_requester);
    RUN(test_valid_answer_with_address);
    RUN(test_invalid_and_withheld);
    RUN(test_errors_are_never_invalid);
    return 0;
}
