/* Unsubscribe tokens (notify_unsubscribe.h). */
#include "notify_unsubscribe.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#define UUID_BYTES 16
#define MAC_BYTES 12 // 96 bits: a forger gets one guess per request
#define PAYLOAD_BYTES (UUID_BYTES + UUID_BYTES + 1)
#define TOKEN_BYTES (PAYLOAD_BYTES + MAC_BYTES)

/* A UUID's 16 bytes; false when s is not 36 characters of hex and dashes. */
static bool s_uuid_bin(const char *s, uint8_t *out)
{
    size_t n = 0;
    const char *end = NULL;
    return strlen(s) == 36 && sodium_hex2bin(out, UUID_BYTES, s, 36, "-", &n, &end) == 0 &&
           n == UUID_BYTES && *end == '\0';
}

static void s_uuid_str(const uint8_t *b, char *out)
{
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, b, UUID_BYTES);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* The MAC of payload under a key of its own, derived from the link key so
 * that the two uses never share one. */
static void s_mac(const uint8_t key[32], const uint8_t *payload, uint8_t *mac)
{
    static const char purpose[] = "crm notify unsubscribe link v1";
    uint8_t sub[crypto_auth_hmacsha256_KEYBYTES];
    uint8_t full[crypto_auth_hmacsha256_BYTES];
    crypto_generichash(sub, sizeof sub, (const uint8_t *)purpose, sizeof purpose - 1, key, 32);
    crypto_auth_hmacsha256(full, payload, PAYLOAD_BYTES, sub);
    memcpy(mac, full, MAC_BYTES);
    sodium_memzero(sub, sizeof sub);
}

bool notify_unsubscribe_token(const uint8_t key[32], const char *tenant, const char *customer,
                              bool sms, char *out, size_t size)
{
    uint8_t t[TOKEN_BYTES];
    if (size < NOTIFY_UNSUBSCRIBE_TOKEN || !s_uuid_bin(tenant, t) ||
        !s_uuid_bin(customer, t + UUID_BYTES))
        return false;
    t[2 * UUID_BYTES] = sms ? 'S' : 'E';
    s_mac(key, t, t + PAYLOAD_BYTES);
    sodium_bin2base64(out, size, t, sizeof t, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return true;
}

bool notify_unsubscribe_parse(const uint8_t key[32], const char *token, char *tenant,
                              char *customer, bool *sms)
{
    uint8_t t[TOKEN_BYTES], mac[MAC_BYTES];
    size_t n = 0;
    const char *end = NULL;
    if (strlen(token) >= NOTIFY_UNSUBSCRIBE_TOKEN ||
        sodium_base642bin(t, sizeof t, token, strlen(token), NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != TOKEN_BYTES || *end != '\0')
        return false;
    s_mac(key, t, mac);
    if (sodium_memcmp(mac, t + PAYLOAD_BYTES, MAC_BYTES) != 0)
        return false;
    if (t[2 * UUID_BYTES] != 'S' && t[2 * UUID_BYTES] != 'E')
        return false;
    s_uuid_str(t, tenant);
    s_uuid_str(t + UUID_BYTES, customer);
    *sms = t[2 * UUID_BYTES] == 'S';
    return true;
}

const char *notify_unsubscribe_label(const char *lang)
{
    static const char *const labels[][2] = {
        {"de", "Abmelden"},
        {"pl", "Wypisz się"},
        {"nb", "Meld deg av"},
        {"bg", "Отписване"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++)
        if (lang && !strcmp(lang, labels[i][0]))
            return labels[i][1];
    return "Unsubscribe";
}
