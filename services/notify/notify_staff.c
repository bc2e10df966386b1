/* The staff invitation and password reset e-mails (notify_staff.h). Not a tenant's template: it
 * speaks for the suite, not for the business to its customers. */
#include "notify_staff.h"
#include "notify_compose.h"
#include "notify_handlers.h"
#include "notify_sender.h"
#include "notify_templates.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#define TOKEN_MAX 63
#define NAME_MAX_BYTES 800

/* In the order of notify_languages. */
static const struct notify_template s_invite[NOTIFY_LANGUAGES] = {
    {"You are invited to {{businessName}}",
     "Hello {{firstName}},\n\nyou are invited to join {{businessName}} in the customer book. "
     "Open this link, choose your password and sign in:\n{{link}}\n\nThe link works once and "
     "expires in {{validHours}} hours. If you did not expect it, you can ignore this message.",
     ""},
    {"Einladung zu {{businessName}}",
     "Hallo {{firstName}},\n\nSie sind eingeladen, bei {{businessName}} im Kundenbuch "
     "mitzuarbeiten. Öffnen Sie diesen Link, wählen Sie Ihr Passwort und melden Sie sich "
     "an:\n{{link}}\n\nDer Link gilt einmal und läuft in {{validHours}} Stunden ab. Wenn Sie "
     "ihn nicht erwartet haben, können Sie diese Nachricht ignorieren.",
     ""},
    {"Zaproszenie do {{businessName}}",
     "Dzień dobry {{firstName}},\n\nzapraszamy do pracy w książce klientów {{businessName}}. "
     "Otwórz ten link, wybierz hasło i zaloguj się:\n{{link}}\n\nLink działa jeden raz i "
     "wygasa za {{validHours}} godzin. Jeśli się go nie spodziewałeś, zignoruj tę wiadomość.",
     ""},
    {"Invitasjon til {{businessName}}",
     "Hei {{firstName}},\n\ndu er invitert til å bli med i kundeboken til {{businessName}}. "
     "Åpne denne lenken, velg passord og logg inn:\n{{link}}\n\nLenken virker én gang og "
     "utløper om {{validHours}} timer. Hvis du ikke ventet den, kan du se bort fra denne "
     "meldingen.",
     ""},
    {"Покана за {{businessName}}",
     "Здравейте, {{firstName}},\n\nпоканени сте да се присъедините към клиентския регистър на "
     "{{businessName}}. Отворете тази връзка, изберете парола и влезте:\n{{link}}\n\nВръзката "
     "важи еднократно и изтича след {{validHours}} часа. Ако не сте я очаквали, не обръщайте "
     "внимание на това съобщение.",
     ""},
};

/* In the order of notify_languages. */
static const struct notify_template s_reset[NOTIFY_LANGUAGES] = {
    {"Choose a new password for {{businessName}}",
     "Hello {{firstName}},\n\nsomeone asked to reset your password for the customer book of "
     "{{businessName}}. Open this link and choose a new password:\n{{link}}\n\nThe link works "
     "once and for {{validHours}} h; every device you are signed in on will be "
     "signed out. If you did not ask for it, ignore this message: your password stays as it "
     "is.",
     ""},
    {"Neues Passwort für {{businessName}}",
     "Hallo {{firstName}},\n\njemand hat verlangt, Ihr Passwort für das Kundenbuch von "
     "{{businessName}} zurückzusetzen. Öffnen Sie diesen Link und wählen Sie ein neues "
     "Passwort:\n{{link}}\n\nDer Link gilt einmal und {{validHours}} Std.; auf allen "
     "Geräten werden Sie abgemeldet. Wenn Sie das nicht verlangt haben, ignorieren "
     "Sie diese Nachricht: Ihr Passwort bleibt, wie es ist.",
     ""},
    {"Nowe hasło do {{businessName}}",
     "Dzień dobry {{firstName}},\n\nktoś poprosił o zresetowanie Twojego hasła do książki "
     "klientów {{businessName}}. Otwórz ten link i wybierz nowe hasło:\n{{link}}\n\nLink "
     "działa jeden raz przez {{validHours}} godz.; zostaniesz wylogowany na wszystkich "
     "urządzeniach. Jeśli to nie Ty, zignoruj tę wiadomość: hasło się nie zmieni.",
     ""},
    {"Nytt passord for {{businessName}}",
     "Hei {{firstName}},\n\nnoen har bedt om å tilbakestille passordet ditt til kundeboken "
     "til {{businessName}}. Åpne denne lenken og velg et nytt passord:\n{{link}}\n\nLenken "
     "virker én gang i {{validHours}} t.; du blir logget ut på alle enheter. "
     "Hvis det ikke var deg, kan du se bort fra denne meldingen: passordet forblir som det er.",
     ""},
    {"Нова парола за {{businessName}}",
     "Здравейте, {{firstName}},\n\nнякой поиска да се смени паролата ви за клиентския "
     "регистър на {{businessName}}. Отворете тази връзка и изберете нова парола:\n{{link}}"
     "\n\nВръзката важи еднократно за {{validHours}} ч.; ще излезете от всички "
     "устройства. Ако не сте поискали това, не обръщайте внимание на съобщението: паролата ви "
     "остава същата.",
     ""},
};

static const struct notify_template *s_text(const struct notify_template *set, const char *lang)
{
    for (int i = 0; i < NOTIFY_LANGUAGES; i++)
        if (lang && !strcmp(lang, notify_languages[i]))
            return &set[i];
    return &set[0];
}

const struct notify_template *notify_staff_invite_text(const char *lang)
{
    return s_text(s_invite, lang);
}

const struct notify_template *notify_staff_reset_text(const char *lang)
{
    return s_text(s_reset, lang);
}

/* Queues m to a staff member, who is not a customer: the message names
 * none. The stored message, or NULL with the call failed. */
static Crm__Message *s_queue_to_member(struct cm_call *call, struct notify_state *st,
                                       const char *name, const char *email,
                                       struct notify_new_message *m)
{
    Crm__Customer member = CRM__CUSTOMER__INIT;
    member.first_name = (char *)name;
    member.email = (char *)email;
    struct notify_address a;
    if (!notify_compose_address(call, st, &member, false, &a, m))
        return NULL;
    m->customer_id = NULL;
    return notify_compose_queue(call, st, m->tenant_id, m, NULL);
}

void notify_staff_invite(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__SendStaffInviteRequest *req = (const Crm__SendStaffInviteRequest *)msg;
    struct notify_state *st = call->user;
    const char *tenant = call->hdr->tenant_id;
    if (!req->email[0] || strlen(req->email) > 254 || !strchr(req->email, '@'))
        cm_call_violation(call, "email", req->email[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "email: the member's e-mail address");
    if (!req->token[0] || strlen(req->token) > TOKEN_MAX)
        cm_call_violation(call, "token", "INVALID_FORMAT", "token: 1 to %d characters", TOKEN_MAX);
    if (strlen(req->name) > NAME_MAX_BYTES)
        cm_call_violation(call, "name", "TOO_LONG", "name: at most %d bytes", NAME_MAX_BYTES);
    if (req->valid_hours < 1 || req->valid_hours > 24 * 365)
        cm_call_violation(call, "validHours", "OUT_OF_RANGE", "validHours: 1 to 8760");
    bool reset = req->kind == CRM__STAFF_MAIL_KIND__STAFF_MAIL_KIND_PASSWORD_RESET;
    if (!reset && req->kind != CRM__STAFF_MAIL_KIND__STAFF_MAIL_KIND_INVITE)
        cm_call_violation(call, "kind", "INVALID_VALUE",
                          "kind: STAFF_MAIL_KIND_INVITE or STAFF_MAIL_KIND_PASSWORD_RESET");
    if (cm_call_failed(call))
        return;
    const Crm__Principal *who = call->hdr->principal;
    if (!who || who->role != CRM__ROLE__ROLE_SERVICE) {
        cm_call_fail(call, CM_ERR_PERMISSION,
                     "only the customers service sends invitations and reset links");
        return;
    }
    if (!st->email) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "e-mail is not configured: set CRM_SMTP_URL (docs/notify.md)");
        return;
    }
    const char *lang = notify_language_of(req->language);
    const struct notify_template *d =
        reset ? notify_staff_reset_text(lang) : notify_staff_invite_text(lang);
    const char *kind = reset ? NOTIFY_STAFF_RESET_KIND : NOTIFY_STAFF_INVITE_KIND;
    char business[256];
    notify_templates_business_name(call, tenant, business, sizeof business);
    Crm__Template t = CRM__TEMPLATE__INIT;
    t.kind = (char *)kind;
    t.language = (char *)lang;
    t.subject = (char *)d->subject;
    t.text = (char *)d->text;
    t.html = (char *)d->html;
    /* The link goes in when the message is sent (notify_sender.c). */
    struct notify_vars v = {.first_name = req->name,
                            .last_name = "",
                            .email = req->email,
                            .business_name = business,
                            .link = "{{link}}",
                            .valid_hours = req->valid_hours};
    Crm__RenderedMessage *r = notify_templates_render(call, &t, &v);
    if (!r)
        return;
    struct notify_link link;
    notify_compose_seal(st, req->token, &link);
    struct notify_new_message m = {
        .tenant_id = tenant,
        .kind = kind,
        .subject = r->subject,
        .text = r->text,
        .html = r->html,
        .principal = call->hdr->principal ? call->hdr->principal : &notify_compose_service,
        .channel_name = call->hdr->channel[0] ? call->hdr->channel : "api",
        .request_id = call->hdr->request_id,
        .sealed_link = link.sealed,
        .sealed_len = link.sealed_len,
    };
    Crm__Message *out = s_queue_to_member(call, st, req->name, req->email, &m);
    sodium_memzero(&link, sizeof link);
    crm__rendered_message__free_unpacked(r, NULL);
    if (out)
        *resp = &out->base;
}

void notify_staff_notice(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__SendStaffNoticeRequest *req = (const Crm__SendStaffNoticeRequest *)msg;
    struct notify_state *st = call->user;
    const char *tenant = call->hdr->tenant_id;
    if (!req->email[0] || strlen(req->email) > 254 || !strchr(req->email, '@'))
        cm_call_violation(call, "email", req->email[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "email: the member's e-mail address");
    if (strlen(req->name) > NAME_MAX_BYTES)
        cm_call_violation(call, "name", "TOO_LONG", "name: at most %d bytes", NAME_MAX_BYTES);
    if (!notify_check_content(call, CRM__CHANNEL__CHANNEL_EMAIL, req->subject, req->text, ""))
        return;
    if (!st->email) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "e-mail is not configured: set CRM_SMTP_URL (docs/notify.md)");
        return;
    }
    struct notify_new_message m = {
        .tenant_id = tenant,
        .kind = NOTIFY_STAFF_NOTICE_KIND,
        .subject = req->subject,
        .text = req->text,
        .html = "",
        .request_key = call->hdr->idempotency_key,
        .principal = call->hdr->principal ? call->hdr->principal : &notify_compose_service,
        .channel_name = call->hdr->channel[0] ? call->hdr->channel : "api",
        .request_id = call->hdr->request_id,
    };
    Crm__Message *out = s_queue_to_member(call, st, req->name, req->email, &m);
    if (out)
        *resp = &out->base;
}
