/* The template methods (notify.ListTemplates, GetTemplate, UpdateTemplate,
 * ResetTemplate, PreviewTemplate) and what sending from a template needs:
 * the template that applies and its rendering for a customer. */
#ifndef NOTIFY_TEMPLATES_H
#define NOTIFY_TEMPLATES_H

#include "cm_svc.h"
#include "customers.pb-c.h"
#include "notify.pb-c.h"
#include "notify_template.h"

void notify_templates_list(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp);
void notify_templates_get(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp);
void notify_templates_update(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp);
void notify_templates_reset(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp);
void notify_templates_preview(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp);

/* The template of kind in lang that applies to the call's tenant: its own,
 * else the default. NULL, the call failed, on a database error. Dynamic. */
Crm__Template *notify_templates_resolve(struct cm_call *call, enum notify_kind kind,
                                        const char *lang);

/* The tenant's display name (customers.GetSettings, as the caller, or as
 * notify in tenant when that is not NULL), into buf; "" when it has none or
 * customers does not answer. */
void notify_templates_business_name(struct cm_call *call, const char *tenant, char *buf,
                                    size_t size);

/* The same, and the business's default country (ISO 3166 alpha-2) into
 * country; "" when it has none or customers does not answer. */
void notify_templates_business(struct cm_call *call, const char *tenant, char *buf, size_t size,
                               char country[3]);

/* Renders t with v into a dynamic RenderedMessage. NULL, the call failed,
 * when it does not render (too long). */
Crm__RenderedMessage *notify_templates_render(struct cm_call *call, const Crm__Template *t,
                                              const struct notify_vars *v);

#endif
