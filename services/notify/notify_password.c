/* Password rules (notify_password.h). */
#include "notify_password.h"
#include "cm_util.h"

#include <string.h>
#include <strings.h>
#include <sodium.h>

/* Common passwords of 10 characters or more (shorter ones fail the length
 * rule already), as leaked-password lists rank them; compared without case. */
static const char *const COMMON[] = {
    "1234567890",    "12345678910",  "123456789a",   "123456789q",   "1234567890a",  "1234567890q",
    "0987654321",    "1q2w3e4r5t",   "1q2w3e4r5t6y", "1qaz2wsx3edc", "qazwsxedcrfv", "qwertyuiop",
    "qwertyuiop123", "qwerty123456", "qwerty1234",   "asdfghjkl1",   "asdfghjkl123", "zxcvbnm123",
    "password12",    "password123",  "password1234", "passw0rd123",  "p@ssw0rd123",  "iloveyou12",
    "iloveyou123",   "welcome123",   "welcome1234",  "letmein123",   "football123",  "baseball123",
    "sunshine123",   "princess123",  "superman123",  "trustno1234",  "monkey12345",  "dragon12345",
    "starwars123",   "master12345",  "abc1234567",   "abcd123456",   "a1b2c3d4e5",   "changeme123",
    "administrator", "adminadmin",   "admin12345",   "qwerty12345",  "123qweasdzxc", "1qazxsw23edc",
    "zaq12wsxcde3",  "passwort123",  "hallo12345",   "haslo12345",   "hasło12345",   "zaq1@wsx",
    "qwertzuiop",    "passord123",   "parola12345",  "1234qwerasdf", "asdfasdfasdf", "0000000000",
};

/* True when every character is the previous one plus step (-1, 0 or 1):
 * "1234567890" counts ('0' after '9'), "abcdefghij", "9876543210". */
static bool s_run(const char *s)
{
    size_t n = strlen(s);
    for (int step = -1; step <= 1; step++) {
        bool run = true;
        for (size_t i = 1; i < n && run; i++) {
            int d = (unsigned char)s[i] - (unsigned char)s[i - 1];
            run = d == step || (step == 1 && s[i - 1] == '9' && s[i] == '0') ||
                  (step == -1 && s[i - 1] == '0' && s[i] == '9');
        }
        if (run)
            return true;
    }
    return false;
}

/* True when s is one pattern of 1 to 4 bytes repeated ("abcabcabcabc"). */
static bool s_repeated(const char *s)
{
    size_t n = strlen(s);
    for (size_t period = 1; period <= 4 && period < n; period++) {
        bool rep = true;
        for (size_t i = period; i < n && rep; i++)
            rep = s[i] == s[i - period];
        if (rep)
            return true;
    }
    return false;
}

const char *notify_password_problem(const char *password, const char *email)
{
    size_t bytes = strlen(password);
    if (!cm_utf8_valid(password, bytes, NULL))
        return "INVALID_FORMAT";
    for (const unsigned char *p = (const unsigned char *)password; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return "INVALID_FORMAT";
    size_t chars = cm_utf8_length(password);
    if (chars < NOTIFY_PASSWORD_MIN)
        return "TOO_SHORT";
    if (chars > NOTIFY_PASSWORD_MAX)
        return "TOO_LONG";
    for (size_t i = 0; i < sizeof COMMON / sizeof *COMMON; i++)
        if (!strcasecmp(password, COMMON[i]))
            return "COMMON";
    if (s_run(password) || s_repeated(password))
        return "COMMON";
    if (email && email[0]) {
        const char *at = strchr(email, '@');
        size_t local = at ? (size_t)(at - email) : strlen(email);
        if (!strcasecmp(password, email) ||
            (local == bytes && !strncasecmp(password, email, local)))
            return "COMMON";
    }
    return NULL;
}

bool notify_password_token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n != 43)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!cm_ascii_digit(c) && !cm_ascii_upper(c) && !cm_ascii_lower(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

void notify_password_token_hash(const char *token, char hex[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const uint8_t *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, 65, h, sizeof h);
}
