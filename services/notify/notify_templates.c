/* Templates over the bus (notify_templates.h): the tenant's own over the
 * built-in defaults, checked when saved, previewed as they would go out. */
#include "notify_templates.h"
#include "notify_store.h"
#include "notify_compose.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTINGS_TIMEOUT_MS 2000
#define RENDER_MAX (512 * 1024)
/* The hours a set-password link is valid, shown by {{validHours}}. */
#define LINK_HOURS 72

/* The kind and language of a request; false, the call failed, when unknown. */
static bool s_kind_lang(struct cm_call *call, const char *kind, const char *lang,
                        bool lang_optional, int *k)
{
    *k = notify_kind_of(kind);
    if (*k < 0)
        cm_call_violation(call, "kind", kind[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "kind: password_link, activation or welcome");
    if (!(lang_optional && !lang[0]) && !notify_language_ok(lang))
        cm_call_violation(call, "language", lang[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "language: en, de, pl, nb or bg");
    return !cm_call_failed(call);
}

static Crm__Template *s_default(enum notify_kind kind, const char *lang)
{
    const struct notify_template *d = notify_template_default(kind, lang);
    Crm__Template *t = (Crm__Template *)cm_pb_new(&crm__template__descriptor);
    cm_pb_set_str(&t->kind, notify_kind_name(kind));
    cm_pb_set_str(&t->language, lang);
    cm_pb_set_str(&t->subject, d->subject);
    cm_pb_set_str(&t->text, d->text);
    cm_pb_set_str(&t->html, d->html);
    return t;
}

Crm__Template *notify_templates_resolve(struct cm_call *call, enum notify_kind kind,
                                        const char *lang)
{
    Crm__Template *t = NULL;
    cm_err_t err = notify_store_template_get(call->db, notify_kind_name(kind), lang, &t);
    if (err == CM_ERR_NOT_FOUND)
        return s_default(kind, lang);
    if (err) {
        cm_call_db_fail(call, err, "could not read the template");
        return NULL;
    }
    return t;
}

void notify_templates_business_name(struct cm_call *call, const char *tenant, char *buf,
                                    size_t size)
{
    char country[3];
    notify_templates_business(call, tenant, buf, size, country);
}

void notify_templates_business(struct cm_call *call, const char *tenant, char *buf, size_t size,
                               char country[3])
{
    buf[0] = '\0';
    country[0] = '\0';
    ProtobufCMessage *resp =
        cm_call_settings(call, tenant, &notify_compose_service, SETTINGS_TIMEOUT_MS);
    if (resp) {
        const Crm__Settings *s = (const Crm__Settings *)resp;
        snprintf(buf, size, "%s", s->name);
        if (strlen(s->default_country) == 2)
            memcpy(country, s->default_country, 3);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
}

Crm__RenderedMessage *notify_templates_render(struct cm_call *call, const Crm__Template *t,
                                              const struct notify_vars *v)
{
    cm_buf_t subject, text, html;
    cm_buf_init(&subject, RENDER_MAX);
    cm_buf_init(&text, RENDER_MAX);
    cm_buf_init(&html, RENDER_MAX);
    bool from_text = !t->html[0];
    Crm__RenderedMessage *r = NULL;
    if (notify_template_render(t->subject, v, false, false, &subject) ||
        notify_template_render(t->text, v, false, false, &text) ||
        notify_template_render(from_text ? t->text : t->html, v, true, from_text, &html)) {
        cm_call_fail(call, CM_ERR_INVALID, "the %s template (%s) does not render", t->kind,
                     t->language);
        goto out;
    }
    /* A value cannot break the subject onto two lines. */
    for (char *c = subject.data; c && *c; c++)
        if (*c == '\r' || *c == '\n')
            *c = ' ';
    r = (Crm__RenderedMessage *)cm_pb_new(&crm__rendered_message__descriptor);
    cm_pb_set_str(&r->kind, t->kind);
    cm_pb_set_str(&r->language, t->language);
    cm_pb_set_str(&r->subject, subject.data ? subject.data : "");
    cm_pb_set_str(&r->text, text.data ? text.data : "");
    cm_pb_set_str(&r->html, html.data ? html.data : "");
out:
    cm_buf_release(&subject);
    cm_buf_release(&text);
    cm_buf_release(&html);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Methods                                                                 */

void notify_templates_list(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListTemplatesResponse *own =
        (Crm__ListTemplatesResponse *)cm_pb_new(&crm__list_templates_response__descriptor);
    cm_err_t err = notify_store_template_list(call->db, own);
    if (err) {
        crm__list_templates_response__free_unpacked(own, NULL);
        cm_call_db_fail(call, err, "could not list the templates");
        return;
    }
    Crm__ListTemplatesResponse *r =
        (Crm__ListTemplatesResponse *)cm_pb_new(&crm__list_templates_response__descriptor);
    r->templates = cm_calloc(NOTIFY_KINDS * NOTIFY_LANGUAGES, sizeof *r->templates);
    for (int k = 0; k < NOTIFY_KINDS; k++)
        for (int l = 0; l < NOTIFY_LANGUAGES; l++) {
            Crm__Template *t = NULL;
            for (size_t i = 0; i < own->n_templates && !t; i++)
                if (own->templates[i] && /* NULL: taken for an earlier slot */
                    !strcmp(own->templates[i]->kind, notify_kind_name((enum notify_kind)k)) &&
                    !strcmp(own->templates[i]->language, notify_languages[l])) {
                    t = own->templates[i];
                    own->templates[i] = NULL;
                }
            r->templates[r->n_templates++] =
                t ? t : s_default((enum notify_kind)k, notify_languages[l]);
        }
    for (size_t i = 0; i < own->n_templates; i++)
        if (own->templates[i])
            crm__template__free_unpacked(own->templates[i], NULL);
    own->n_templates = 0;
    crm__list_templates_response__free_unpacked(own, NULL);
    *resp = &r->base;
}

void notify_templates_get(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetTemplateRequest *req = (const Crm__GetTemplateRequest *)msg;
    int k;
    if (!s_kind_lang(call, req->kind, req->language, false, &k))
        return;
    Crm__Template *t = notify_templates_resolve(call, (enum notify_kind)k, req->language);
    if (t)
        *resp = &t->base;
}

/* A template's fields as saved: lengths, one-line subject, known variables. */
static bool s_check_template(struct cm_call *call, const Crm__Template *t)
{
    char why[200];
    size_t subject_len = cm_utf8_length(t->subject);
    if (!t->subject[0])
        cm_call_violation(call, "template.subject", "REQUIRED", "template.subject is required");
    else if (strpbrk(t->subject, "\r\n"))
        cm_call_violation(call, "template.subject", "INVALID_FORMAT", "template.subject: one line");
    else if (subject_len > NOTIFY_TEMPLATE_SUBJECT_MAX)
        cm_call_violation(call, "template.subject", "TOO_LONG",
                          "template.subject: at most %d characters, not %zu",
                          NOTIFY_TEMPLATE_SUBJECT_MAX, subject_len);
    else if (notify_template_check(t->subject, why, sizeof why))
        cm_call_violation(call, "template.subject", "INVALID_FORMAT", "template.subject: %s", why);
    if (!t->text[0])
        cm_call_violation(call, "template.text", "REQUIRED", "template.text is required");
    else if (strlen(t->text) > NOTIFY_TEMPLATE_TEXT_MAX)
        cm_call_violation(call, "template.text", "TOO_LONG", "template.text: at most %d bytes",
                          NOTIFY_TEMPLATE_TEXT_MAX);
    else if (notify_template_check(t->text, why, sizeof why))
        cm_call_violation(call, "template.text", "INVALID_FORMAT", "template.text: %s", why);
    if (strlen(t->html) > NOTIFY_TEMPLATE_HTML_MAX)
        cm_call_violation(call, "template.html", "TOO_LONG", "template.html: at most %d bytes",
                          NOTIFY_TEMPLATE_HTML_MAX);
    else if (notify_template_check(t->html, why, sizeof why))
        cm_call_violation(call, "template.html", "INVALID_FORMAT", "template.html: %s", why);
    return !cm_call_failed(call);
}

void notify_templates_update(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__UpdateTemplateRequest *req = (const Crm__UpdateTemplateRequest *)msg;
    int k;
    bool ok = s_kind_lang(call, req->kind, req->language, false, &k);
    if (!req->template_) {
        cm_call_violation(call, "template", "REQUIRED", "template is required");
        return;
    }
    if (!s_check_template(call, req->template_) || !ok)
        return;
    cm_err_t err = notify_store_template_put(call->db, call->hdr->tenant_id, req->kind,
                                             req->language, req->template_);
    if (err) {
        cm_call_db_fail(call, err, "could not save the template");
        return;
    }
    Crm__Template *t = notify_templates_resolve(call, (enum notify_kind)k, req->language);
    if (t)
        *resp = &t->base;
}

void notify_templates_reset(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__ResetTemplateRequest *req = (const Crm__ResetTemplateRequest *)msg;
    int k;
    bool deleted = false;
    if (!s_kind_lang(call, req->kind, req->language, false, &k))
        return;
    cm_err_t err = notify_store_template_delete(call->db, req->kind, req->language, &deleted);
    if (err) {
        cm_call_db_fail(call, err, "could not delete the template");
        return;
    }
    *resp = &s_default((enum notify_kind)k, req->language)->base;
}

void notify_templates_preview(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__PreviewTemplateRequest *req = (const Crm__PreviewTemplateRequest *)msg;
    int k;
    if (req->customer_id[0] && !cm_uuid_valid(req->customer_id))
        cm_call_violation(call, "customerId", "INVALID_FORMAT", "customerId: a customer's id");
    if (!s_kind_lang(call, req->kind, req->language, true, &k))
        return;
    if (req->template_ && !s_check_template(call, req->template_))
        return;
    Crm__Customer *c =
        req->customer_id[0] ? notify_compose_customer(call, req->customer_id, NULL) : NULL;
    if (cm_call_failed(call))
        return;
    const char *lang = req->language[0]      ? req->language
                       : c && c->preferences ? notify_language_of(c->preferences->language)
                                             : "en";
    char business[256];
    notify_templates_business_name(call, NULL, business, sizeof business);
    struct notify_vars v = {
        .first_name = c ? c->first_name : "Anna",
        .last_name = c ? c->last_name : "Nowak",
        .email = c ? c->email : "anna.nowak@example.com",
        .business_name = business,
        .link = "https://crm.example/set-password#token=PREVIEW",
        .valid_hours = LINK_HOURS,
    };
    Crm__Template *saved = NULL;
    const Crm__Template *t = req->template_;
    if (!t)
        t = saved = notify_templates_resolve(call, (enum notify_kind)k, lang);
    if (t) {
        Crm__Template copy = *t;
        copy.kind = (char *)notify_kind_name((enum notify_kind)k);
        copy.language = (char *)lang;
        Crm__RenderedMessage *r = notify_templates_render(call, &copy, &v);
        if (r)
            *resp = &r->base;
    }
    if (saved)
        crm__template__free_unpacked(saved, NULL);
    if (c)
        crm__customer__free_unpacked(c, NULL);
}
