#include "cm_arena.h"
#include "cm_util.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCK_MIN (32 * 1024)
#define ALIGN alignof(max_align_t)

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ONE_PER_ALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ONE_PER_ALLOC 1
#endif
#endif

struct cm_arena_block {
    struct cm_arena_block *next; // owned
    size_t size;                 // bytes in data
    alignas(max_align_t) unsigned char data[];
};

static void *s_pb_alloc(void *data, size_t n)
{
    return cm_arena_alloc(data, n);
}

static void s_pb_free(void *data, void *p)
{
    (void)data;
    (void)p; // the arena gives everything back at once
}

void cm_arena_init(cm_arena_t *self)
{
    self->pb = (ProtobufCAllocator){s_pb_alloc, s_pb_free, self};
    self->blocks = NULL;
    self->used = 0;
}

static struct cm_arena_block *s_block(size_t size)
{
    struct cm_arena_block *b = cm_malloc(sizeof *b + size);
    b->size = size;
    b->next = NULL;
    return b;
}

void *cm_arena_alloc(cm_arena_t *self, size_t n)
{
    size_t need = (n + ALIGN - 1) / ALIGN * ALIGN;
    if (need < n)
        abort(); // overflow: no request asks for this much
#ifdef ARENA_ONE_PER_ALLOC
    struct cm_arena_block *b = s_block(n ? n : 1);
    b->next = self->blocks;
    self->blocks = b;
    self->used = b->size;
    return b->data;
#else
    struct cm_arena_block *b = self->blocks;
    if (!b || b->size - self->used < need) {
        b = s_block(need > BLOCK_MIN ? need : BLOCK_MIN);
        b->next = self->blocks;
        self->blocks = b;
        self->used = 0;
    }
    void *p = b->data + self->used;
    self->used += need;
    return p;
#endif
}

ProtobufCAllocator *cm_arena_pb(cm_arena_t *self)
{
    return &self->pb;
}

void cm_arena_reset(cm_arena_t *self)
{
    /* Keep the oldest block (the first, usually the only one). */
    struct cm_arena_block *keep = NULL;
    for (struct cm_arena_block *b = self->blocks, *next; b; b = next) {
        next = b->next;
        if (!next) {
            keep = b;
#ifdef ARENA_ONE_PER_ALLOC
            free(b);
            keep = NULL;
#endif
        } else {
            free(b);
        }
    }
    self->blocks = keep;
    self->used = 0;
}

void cm_arena_release(cm_arena_t *self)
{
    for (struct cm_arena_block *b = self->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    self->blocks = NULL;
    self->used = 0;
}
