/* A bump allocator for messages that live as long as one request: every
 * allocation of an unpack comes out of a few large blocks, and the whole is
 * given back at once (no free per string and submessage). Under
 * AddressSanitizer each allocation is its own block, so overruns are still
 * caught. Not thread-safe: one arena per thread. */
#ifndef CM_ARENA_H
#define CM_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct cm_arena {
    ProtobufCAllocator pb;         // hands out this arena's memory; its free does nothing
    struct cm_arena_block *blocks; // owned: newest first
    size_t used;                   // bytes used in the newest block
} cm_arena_t;

/* An empty arena (no memory until the first allocation). */
void cm_arena_init(cm_arena_t *self);

/* n bytes aligned for any type; never NULL (cm_malloc's policy). */
void *cm_arena_alloc(cm_arena_t *self, size_t n);

/* The allocator to give protobuf-c's unpack; the message is then released
 * by cm_arena_reset, not by free_unpacked. */
ProtobufCAllocator *cm_arena_pb(cm_arena_t *self);

/* Gives back everything allocated, keeping one block for the next use. */
void cm_arena_reset(cm_arena_t *self);

/* Frees all memory; the arena can be initialised again. */
void cm_arena_release(cm_arena_t *self);

#endif
