/* Decoding a message straight from JSON text, without building a jansson
 * tree, with the same results as cm_pbjson_decode(json_loadb(...)). See
 * cm_pbjson.h. */
#include "cm_pbjson_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Decoding straight from the text ---------------------------------------
 * cm_pbjson_decode_text gives what cm_pbjson_decode(json_loadb(text, len, 0))
 * gives, without the tree: one pass over the text builds the message. The
 * values go through cm_pbjson_decode_scalar_ and the members through
 * cm_pbjson_decode_member_ as in the tree decoder, so the two can differ only
 * in reading JSON, which this file does as jansson does: the same grammar,
 * UTF-8 checked everywhere, \u0000 refused, integers beyond 64 bits and reals
 * beyond a double refused, values nested at most JSON_MAX_NEST deep, nothing
 * but whitespace after the value.
 *
 * Two things jansson does cannot be seen in one pass. Any bad JSON fails the
 * whole text, even after the first wrong field; and a key given twice keeps
 * its first place among the members but takes its last value (json_loads
 * without JSON_REJECT_DUPLICATES), so a later value can undo an error. So
 * when the single pass fails for any reason, the text is checked whole (bad
 * JSON reads as jansson's NULL: "expected an object"), and then decoded again
 * reading each object's members first and keeping one per key. Texts that
 * decode, the every-day case, are read once. */

// jansson's JSON_PARSER_MAX_DEPTH: a value nested deeper fails to parse.
#define JSON_MAX_NEST 2048

struct s_tx {
    const char *p, *end; // what is left of the text; borrowed (caller)
    bool slow;           // members read first and one kept per key (see above)
    int nest;            // containers open around p
    unsigned char in_obj[JSON_MAX_NEST / 8 + 1]; // per open container: an object?
    struct cm_pbjson_ctx *ctx;                   // borrowed (caller)
    char *buf; // owned: the last string or number read, unescaped, NUL-terminated
};

static void s_ws(struct s_tx *tx)
{
    while (tx->p < tx->end && (*tx->p == ' ' || *tx->p == '\t' || *tx->p == '\n' || *tx->p == '\r'))
        tx->p++;
}

/* Four hex digits at p (before end) as a number, or -1. */
static long s_hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t s_put_utf8(char *o, uint32_t v)
{
    if (v < 0x80) {
        o[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        o[0] = (char)(0xC0 | (v >> 6));
        o[1] = (char)(0x80 | (v & 0x3F));
        return 2;
    }
    if (v < 0x10000) {
        o[0] = (char)(0xE0 | (v >> 12));
        o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[2] = (char)(0x80 | (v & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (v >> 18));
    o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
    o[3] = (char)(0x80 | (v & 0x3F));
    return 4;
}

/* A \u escape at p (just after the backslash and 'u'), a surrogate pair
 * taken whole, written as UTF-8 at *o. Returns the bytes read, or 0 for what
 * jansson refuses: bad hex, a lone or reversed surrogate, \u0000. */
static size_t s_unicode_escape(const char *p, const char *end, char **o)
{
    long v = s_hex4(p, end);
    size_t used = 4;
    if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF))
        return 0;
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (end - p < 6 || p[4] != '\\' || p[5] != 'u')
            return 0;
        long lo = s_hex4(p + 6, end);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        v = ((v - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
        used = 10;
    }
    *o += s_put_utf8(*o, (uint32_t)v);
    return used;
}

/* The string at p (on its opening quote) into tx->buf. False on bad JSON. */
static bool s_read_string(struct s_tx *tx, struct cm_pbjson_tok *t)
{
    const char *p = tx->p + 1, *end = tx->end;
    char *o = tx->buf;
    for (;;) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' &&
               *p != '\\')
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p == end)
            return false;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            // A run of bytes above ASCII is whole characters or bad UTF-8,
            // which jansson refuses wherever it is.
            const char *high = p;
            while (p < end && (unsigned char)*p >= 0x80)
                p++;
            if (!cm_utf8_valid(high, (size_t)(p - high), NULL))
                return false;
            memcpy(o, high, (size_t)(p - high));
            o += p - high;
            continue;
        }
        if (end - p < 2)
            return false;
        char e = p[1];
        p += 2;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        if (k) {
            *o++ = to[k - from];
        } else if (e == 'u') {
            size_t used = s_unicode_escape(p, end, &o);
            if (!used)
                return false;
            p += used;
        } else {
            return false;
        }
    }
    *o = '\0';
    t->kind = K_STR;
    t->s = tx->buf;
    t->len = (size_t)(o - tx->buf);
    tx->p = p + 1;
    return true;
}

/* jansson drops a NUL byte that ends a number or a word: it puts the byte
 * back into its read-ahead buffer, where a NUL means "empty", and reads on. */
static void s_jansson_nul(struct s_tx *tx)
{
    if (tx->p < tx->end && *tx->p == '\0')
        tx->p++;
}

static bool s_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number as jansson reads one: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * an integer when it has neither fraction nor exponent. */
static bool s_read_number(struct s_tx *tx, struct cm_pbjson_tok *t)
{
    const char *p = tx->p, *end = tx->end;
    bool real = false;
    if (*p == '-')
        p++;
    if (!s_digit(p, end))
        return false;
    if (*p == '0') {
        p++;
        if (s_digit(p, end))
            return false;
    } else {
        while (s_digit(p, end))
            p++;
    }
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (!s_digit(p, end))
            return false;
        while (s_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!s_digit(p, end))
            return false;
        while (s_digit(p, end))
            p++;
    }
    size_t n = (size_t)(p - tx->p);
    memcpy(tx->buf, tx->p, n);
    tx->buf[n] = '\0';
    tx->p = p;
    s_jansson_nul(tx);
    errno = 0;
    if (!real) {
        long long v = strtoll(tx->buf, NULL, 10);
        if (errno == ERANGE)
            return false;
        t->kind = K_INT;
        t->i = v;
        t->d = (double)v;
        return true;
    }
    double d = strtod(tx->buf, NULL);
    if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
        return false;
    t->kind = K_REAL;
    t->d = d;
    return true;
}

static bool s_read_word(struct s_tx *tx, const char *word, enum cm_pbjson_kind kind,
                        struct cm_pbjson_tok *t)
{
    size_t n = strlen(word);
    if ((size_t)(tx->end - tx->p) < n || memcmp(tx->p, word, n) != 0)
        return false;
    tx->p += n;
    s_jansson_nul(tx);
    t->kind = kind;
    return true;
}

/* Reads the next value's token. An object or array is entered: its opening
 * bracket read, tx->nest one more. False on bad JSON. */
static bool s_next(struct s_tx *tx, struct cm_pbjson_tok *t)
{
    s_ws(tx);
    if (tx->p == tx->end || tx->nest + 1 > JSON_MAX_NEST)
        return false;
    switch (*tx->p) {
    case '{':
    case '[': {
        bool obj = *tx->p == '{';
        unsigned char bit = (unsigned char)(1u << (tx->nest % 8));
        if (obj)
            tx->in_obj[tx->nest / 8] |= bit;
        else
            tx->in_obj[tx->nest / 8] &= (unsigned char)~bit;
        tx->nest++;
        tx->p++;
        t->kind = obj ? K_OBJ : K_ARR;
        return true;
    }
    case '"':
        return s_read_string(tx, t);
    case 't':
        return s_read_word(tx, "true", K_TRUE, t);
    case 'f':
        return s_read_word(tx, "false", K_FALSE, t);
    case 'n':
        return s_read_word(tx, "null", K_NULL, t);
    default:
        return s_read_number(tx, t);
    }
}

/* Steps into the next member or element of the container around p, just
 * entered (first) or whose last value was just read: 1 when one follows (the
 * comma read), 0 at the closing bracket close (read, the container left), -1
 * on bad JSON. */
static int s_next_in(struct s_tx *tx, bool first, char close)
{
    s_ws(tx);
    if (tx->p == tx->end)
        return -1;
    if (*tx->p == close) {
        tx->p++;
        tx->nest--;
        return 0;
    }
    if (!first) {
        if (*tx->p != ',')
            return -1;
        tx->p++;
    }
    return 1;
}

/* The next member of an object: 1 with its key in *key (tx->buf) and p after
 * the ':', otherwise as s_next_in. */
static int s_next_key(struct s_tx *tx, bool first, struct cm_pbjson_tok *key)
{
    int more = s_next_in(tx, first, '}');
    if (more <= 0)
        return more;
    s_ws(tx);
    if (tx->p == tx->end || *tx->p != '"' || !s_read_string(tx, key))
        return -1;
    s_ws(tx);
    if (tx->p == tx->end || *tx->p != ':')
        return -1;
    tx->p++;
    return 1;
}

/* Reads one whole value (its first token already in t), checking it as
 * jansson's parser would. False on bad JSON. */
static bool s_skip(struct s_tx *tx, const struct cm_pbjson_tok *t)
{
    int base = tx->nest - (t->kind == K_OBJ || t->kind == K_ARR);
    bool opened = t->kind == K_OBJ || t->kind == K_ARR;
    while (tx->nest > base) {
        bool obj = (tx->in_obj[(tx->nest - 1) / 8] >> ((tx->nest - 1) % 8)) & 1;
        struct cm_pbjson_tok k;
        int more = obj ? s_next_key(tx, opened, &k) : s_next_in(tx, opened, ']');
        if (more < 0)
            return false;
        opened = false;
        if (more == 0)
            continue;
        struct cm_pbjson_tok v;
        if (!s_next(tx, &v))
            return false;
        opened = v.kind == K_OBJ || v.kind == K_ARR;
    }
    return true;
}

/* The whole text is JSON that json_loadb(text, len, 0) takes: an object or an
 * array, then only whitespace. */
static bool s_tx_valid(struct s_tx *tx)
{
    struct cm_pbjson_tok t;
    s_ws(tx);
    if (tx->p == tx->end || (*tx->p != '{' && *tx->p != '['))
        return false;
    if (!s_next(tx, &t) || !s_skip(tx, &t))
        return false;
    s_ws(tx);
    return tx->p == tx->end;
}

static ProtobufCMessage *s_tx_message(struct s_tx *tx, const ProtobufCMessageDescriptor *desc,
                                      const struct cm_pbjson_tok *t, int depth);

/* The tree decoder's s_decode_sub (cm_pbjson_decode.c) on the text: an object, or for a wrapper
 * type the bare value. */
static ProtobufCMessage *s_tx_sub(struct s_tx *tx, const ProtobufCMessageDescriptor *desc,
                                  const struct cm_pbjson_tok *t, int depth)
{
    if (t->kind == K_OBJ || !cm_pbjson_is_wrapper(desc))
        return s_tx_message(tx, desc, t, depth);
    ProtobufCMessage *msg = cm_pb_new(desc);
    const ProtobufCFieldDescriptor *vf = &desc->fields[0];
    if (cm_pbjson_decode_scalar_(vf, cm_pbjson_at_(msg, vf->offset), t, false, tx->ctx)) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

/* The tree decoder's s_decode_value on the text: the value whose first token is t. */
static int s_tx_value(struct s_tx *tx, const ProtobufCFieldDescriptor *f, void *slot,
                      const struct cm_pbjson_tok *t, bool elem, int depth)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return cm_pbjson_decode_scalar_(f, slot, t, elem, tx->ctx);
    ProtobufCMessage *sub = s_tx_sub(tx, f->descriptor, t, depth + 1);
    if (!sub)
        return -1;
    *(ProtobufCMessage **)slot = sub;
    return 0;
}

/* A repeated field's array, grown as elements come; msg owns it throughout
 * and counts only decoded elements, so freeing msg frees what was built. */
static int s_tx_repeated(struct s_tx *tx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                         const struct cm_pbjson_tok *t, int depth)
{
    if (t->kind != K_ARR) {
        cm_pbjson_decode_ctx_fail_(tx->ctx, "expected an array");
        return -1;
    }
    size_t size = cm_pbjson_type_size_(f->type), cap = 0;
    size_t *count = cm_pbjson_count_(msg, f);
    char **elems = cm_pbjson_at_(msg, f->offset);
    for (size_t i = 0;; i++) {
        int more = s_next_in(tx, i == 0, ']');
        if (more <= 0)
            return more;
        struct cm_pbjson_tok e;
        if (!s_next(tx, &e))
            return -1;
        if (i == cap) {
            cap = cap ? 2 * cap : 4;
            *elems = cm_realloc(*elems, cap * size);
        }
        memset(*elems + i * size, 0, size);
        size_t mark = cm_pbjson_decode_ctx_push_index_(tx->ctx, i);
        int rc = s_tx_value(tx, f, *elems + i * size, &e, true, depth);
        cm_pbjson_decode_ctx_pop_(tx->ctx, mark);
        if (rc)
            return -1;
        (*count)++;
    }
}

/* One member: key names the field (checked against seen), the value follows at p. */
static int s_tx_member(struct s_tx *tx, ProtobufCMessage *msg, unsigned char *seen, const char *key,
                       int depth)
{
    size_t mark;
    const ProtobufCFieldDescriptor *f =
        cm_pbjson_decode_member_(msg->descriptor, key, seen, tx->ctx, &mark);
    if (!f)
        return -1;
    struct cm_pbjson_tok t;
    int rc = -1;
    if (!s_next(tx, &t))
        goto out;
    if (t.kind == K_NULL) {
        rc = 0;
    } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        rc = s_tx_repeated(tx, msg, f, &t, depth);
    } else if (!cm_pbjson_decode_oneof_taken_(msg, f, tx->ctx) &&
               !s_tx_value(tx, f, cm_pbjson_at_(msg, f->offset), &t, false, depth)) {
        cm_pbjson_decode_mark_set_(msg, f);
        rc = 0;
    }
out:
    cm_pbjson_decode_ctx_pop_(tx->ctx, mark);
    return rc;
}

/* A member as the slow pass sees it: its key and where its value starts. */
struct s_slot {
    char *key;         // owned
    const char *value; // borrowed (the text); NULL once merged into an earlier key
    size_t at;         // place among the members
};

static int s_slot_cmp(const void *a, const void *b)
{
    const struct s_slot *x = *(const struct s_slot *const *)a,
                        *y = *(const struct s_slot *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* The slow pass over an object (already checked to be good JSON): the members
 * listed first, a repeated key's last value moved to its first place, then
 * decoded in that order, as jansson's tree would hand them over. */
static int s_tx_members_slow(struct s_tx *tx, ProtobufCMessage *msg, unsigned char *seen, int depth)
{
    struct s_slot *m = NULL, **order = NULL;
    size_t n = 0, cap = 0;
    int inner = tx->nest, rc = -1;
    for (;;) {
        struct cm_pbjson_tok key, v;
        int more = s_next_key(tx, n == 0, &key);
        if (more < 0)
            goto out;
        if (more == 0)
            break;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            m = cm_realloc(m, cap * sizeof *m);
        }
        m[n] = (struct s_slot){cm_strdup(key.s), tx->p, n};
        n++;
        if (!s_next(tx, &v) || !s_skip(tx, &v))
            goto out;
    }
    const char *after = tx->p;
    order = cm_malloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = &m[i];
    qsort(order, n, sizeof *order, s_slot_cmp);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(order[j]->key, order[i]->key) == 0; j++)
            continue;
        // Equal keys sort by place: order[i] is the first, order[j - 1] the last value.
        order[i]->value = order[j - 1]->value;
        for (size_t k = i + 1; k < j; k++)
            order[k]->value = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!m[i].value)
            continue;
        tx->p = m[i].value;
        tx->nest = inner;
        if (s_tx_member(tx, msg, seen, m[i].key, depth))
            goto out;
    }
    tx->p = after;
    tx->nest = inner - 1;
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(m[i].key);
    free(m);
    free(order);
    return rc;
}

static ProtobufCMessage *s_tx_message(struct s_tx *tx, const ProtobufCMessageDescriptor *desc,
                                      const struct cm_pbjson_tok *t, int depth)
{
    if (depth > CM_PBJSON_MAX_DEPTH) {
        cm_pbjson_decode_ctx_fail_(tx->ctx, "nested too deeply");
        return NULL;
    }
    if (t->kind != K_OBJ) {
        cm_pbjson_decode_ctx_fail_(tx->ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = cm_pb_new(desc);
    struct cm_pbjson_seen seen;
    unsigned char *flags = cm_pbjson_decode_seen_init_(&seen, desc);
    int rc = 0;
    if (tx->slow) {
        rc = s_tx_members_slow(tx, msg, flags, depth);
    } else {
        struct cm_pbjson_tok key;
        for (bool first = true;; first = false) {
            int more = s_next_key(tx, first, &key);
            if (more <= 0) {
                rc = more;
                break;
            }
            rc = s_tx_member(tx, msg, flags, key.s, depth);
            if (rc)
                break;
        }
    }
    return cm_pbjson_decode_message_end_(msg, &seen, rc);
}

/* One pass of the text: a message, then only whitespace. */
static ProtobufCMessage *s_tx_top(struct s_tx *tx, const ProtobufCMessageDescriptor *desc)
{
    struct cm_pbjson_tok t;
    if (!s_next(tx, &t)) {
        cm_pbjson_decode_ctx_fail_(tx->ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = s_tx_message(tx, desc, &t, 1);
    if (!msg)
        return NULL;
    s_ws(tx);
    if (tx->p != tx->end) {
        protobuf_c_message_free_unpacked(msg, NULL);
        cm_pbjson_decode_ctx_fail_(tx->ctx, "expected an object");
        return NULL;
    }
    return msg;
}

ProtobufCMessage *cm_pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *text,
                                        size_t len, const char *prefix, struct cm_pbjson_error *err)
{
    struct cm_pbjson_ctx ctx;
    cm_pbjson_decode_ctx_init_(&ctx, err, prefix);
    if (!text)
        text = "";
    struct s_tx tx = {.p = text, .end = text + len, .ctx = &ctx};
    tx.buf = cm_malloc(len + 1);
    ProtobufCMessage *msg = s_tx_top(&tx, desc);
    if (!msg) {
        cm_pbjson_decode_ctx_init_(&ctx, err, prefix);
        tx.p = text;
        tx.nest = 0;
        if (s_tx_valid(&tx)) {
            tx.p = text;
            tx.nest = 0;
            tx.slow = true;
            msg = s_tx_top(&tx, desc);
        } else {
            cm_pbjson_decode_ctx_fail_(&ctx, "expected an object");
        }
    }
    free(tx.buf);
    return msg;
}
