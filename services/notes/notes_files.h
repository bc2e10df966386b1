/* A customer's files (documents, photos, signed terms) and the business's
 * terms and conditions (notes_files.c); main.c adds the method table to the
 * service's. */
#ifndef NOTES_FILES_H
#define NOTES_FILES_H

#include <stddef.h>
#include "cm_svc.h"

extern const struct cm_method notes_files_methods[];
extern const size_t notes_files_n_methods;

/* The settings of files: bytes per file (file_max_bytes) and files per
 * customer (files_per_customer). */
struct notes_files_limits {
    long max_bytes;
    long per_customer;
};

/* Sets the limits; call once before cm_svc_run (handlers only read them). */
void notes_files_configure(const struct notes_files_limits *limits);

#endif
