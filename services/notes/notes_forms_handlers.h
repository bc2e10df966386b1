/* The forms' methods (notes_forms_handlers.c): the business's forms, the
 * customer card, surveys and their results. main.c adds them to the notes
 * service's table. */
#ifndef NOTES_FORMS_HANDLERS_H
#define NOTES_FORMS_HANDLERS_H

#include <stddef.h>
#include "cm_svc.h"

extern const struct cm_method notes_forms_methods[];
extern const size_t notes_forms_n_methods;

#endif
