/* JSON <-> protobuf-c, done generically from the message descriptors, after
 * the proto3 JSON mapping: lowerCamelCase names (proto names also accepted on
 * input), int64/uint64 as strings (numbers accepted), bytes as base64, enums by
 * name with the enum type's UPPER_SNAKE prefix dropped ("GENDER_FEMALE" in
 * enum Gender is "FEMALE"; the full name and the number are accepted too), and
 * a message whose only field is `value` (crm.BoolValue) written as that value.
 *
 * Messages this module builds are "dynamic": every part malloc'd, strings
 * either malloc'd or protobuf_c_empty_string. Free them, and messages from
 * protobuf_c_message_unpack(..., NULL, ...), with
 * protobuf_c_message_free_unpacked(msg, NULL).
 *
 * A oneof member is written only when it is the one selected (even at its
 * default); reading, a null member does not count as set. */
#ifndef CM_PBJSON_H
#define CM_PBJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include "cm_err.h"

/* Messages nested deeper than this are refused when decoding. */
#define CM_PBJSON_MAX_DEPTH 32

/* What went wrong while decoding, for a 400 naming the field. */
struct cm_pbjson_error {
    char field[256];       // lowerCamelCase path, e.g. "customer.addresses[1].country"
    char description[256]; // e.g. "unknown field", "expected a string", "out of range for int32"
};

enum {
    CM_PBJSON_OMIT_DEFAULTS = 1 << 0, // leave out fields at their default (proto3 style)
};

/* Encodes msg (not NULL) as a new JSON object (the caller owns the reference).
 * Emits every field unless CM_PBJSON_OMIT_DEFAULTS; an unset message field is
 * null. Strings that are not valid UTF-8 get U+FFFD for each bad byte. */
json_t *cm_pbjson_encode(const ProtobufCMessage *msg, unsigned flags);

/* The same as json_dumps(cm_pbjson_encode(msg, flags), JSON_COMPACT), byte
 * for byte, without the tree: a malloc'd NUL-terminated string (its length in
 * *len when len is not NULL). omit, when not NULL, is the proto name of a
 * top-level field left out. */
char *cm_pbjson_encode_text(const ProtobufCMessage *msg, unsigned flags, const char *omit,
                            size_t *len);

/* Encodes one field's value (repeated: the array) as JSON, a new reference; an
 * unselected oneof member is null. NULL if field is not one of msg's fields. */
json_t *cm_pbjson_encode_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field);

/* Decodes a JSON object into a new dynamic message of type desc. JSON null for a
 * field leaves it at its default. Returns NULL and fills err (may be NULL; field
 * path prefixed by `prefix` + "." when prefix is neither NULL nor empty) on an
 * unknown key, a field given twice (by both names), a wrong type, a number out of range, bad
 * base64, an unknown enum name, invalid UTF-8 or NUL in a string, two members of a oneof, or
 * nesting deeper than CM_PBJSON_MAX_DEPTH. Nothing leaks on failure. */
ProtobufCMessage *cm_pbjson_decode(const ProtobufCMessageDescriptor *desc, json_t *json,
                                   const char *prefix, struct cm_pbjson_error *err);

/* The same as cm_pbjson_decode(desc, json_loadb(text, len, 0, NULL), prefix,
 * err), result and error alike, without building the tree: one pass over the
 * text for a text that decodes. JSON that jansson refuses (bad syntax, invalid
 * UTF-8, \u0000, an integer beyond 64 bits, nesting past 2048) and a text
 * that is not an object fail as "expected an object" at the prefix, as a NULL
 * tree does there; a key given twice counts once, with its last value, in its
 * first place, as jansson keeps it. text need not be NUL-terminated. */
ProtobufCMessage *cm_pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *text,
                                        size_t len, const char *prefix,
                                        struct cm_pbjson_error *err);

/* Sets one top-level field of msg (scalar, enum, BoolValue-style wrapper, or a
 * repeated scalar or wrapper, which is appended to) from text, as found in a URL
 * path or query string: strings as they are, integers in decimal, bools as
 * true/false/1/0, enums by name or number, bytes as base64. json_name is
 * lowerCamelCase (the proto name works too). Returns 0, or -1 with err filled
 * (unknown field, bad value, a field that text cannot express, another member
 * of the same oneof already set); msg is unchanged on failure. */
int cm_pbjson_set_text(ProtobufCMessage *msg, const char *json_name, const char *text,
                       struct cm_pbjson_error *err) CM_MUSTCHECK;

/* Collects the update-mask paths of a JSON object for message type desc: each
 * key present, as lowerCamelCase; a key holding a non-empty object for a
 * (non-repeated) message field recurses ("company.vatNumber"); null, scalars,
 * arrays and {} are leaves. Keys desc does not know are kept as they are.
 * Returns a malloc'd array of malloc'd strings in the order of the object (free
 * with cm_pbjson_free_paths) and *n; NULL with *n = 0 for an empty object or a
 * non-object. */
char **cm_pbjson_mask_paths(const ProtobufCMessageDescriptor *desc, json_t *obj, size_t *n);
void cm_pbjson_free_paths(char **paths, size_t n);

/* Finds a field by lowerCamelCase or proto name; NULL if there is none. */
const ProtobufCFieldDescriptor *cm_pbjson_find_field(const ProtobufCMessageDescriptor *desc,
                                                     const char *name);

/* Writes the lowerCamelCase form of a proto field name into out (truncated to
 * size - 1 bytes): "postal_code" -> "postalCode", "line1" -> "line1". */
void cm_pbjson_camel(const char *proto_name, char *out, size_t size);

/* The JSON name of an enum value ("FEMALE" for GENDER_FEMALE of enum Gender; a
 * value name without the prefix as it is), written into out. Returns out, or
 * NULL when value is not a value of the enum. */
const char *cm_pbjson_enum_name(const ProtobufCEnumDescriptor *desc, int value, char *out,
                                size_t size);

/* True for a message type written as a bare value: exactly one field, a
 * non-repeated scalar named `value` (crm.BoolValue). */
bool cm_pbjson_is_wrapper(const ProtobufCMessageDescriptor *desc);

/* ---- Working with dynamic messages by field path ----------------------- */

/* A new dynamic message of type desc, initialised. */
ProtobufCMessage *cm_pb_new(const ProtobufCMessageDescriptor *desc);

/* A deep copy as a dynamic message (unknown fields included); NULL for NULL. */
ProtobufCMessage *cm_pb_clone(const ProtobufCMessage *msg);

/* Replaces a string field's value with a copy of s (NULL or "" -> empty). For
 * singular proto3 string fields outside a oneof (the old value is freed unless
 * it is protobuf_c_empty_string, which "" becomes). */
void cm_pb_set_str(char **field, const char *s);

/* For each dotted lowerCamelCase path, makes dst's field equal to src's
 * (message fields as a whole, creating parents on dst as needed; a path to a
 * message src lacks clears it on dst; a repeated field is replaced whole). All
 * paths are checked before dst is touched. Returns 0, or -1 with err naming the
 * first unknown path ("unknown field"). */
int cm_pb_apply_mask(ProtobufCMessage *dst, const ProtobufCMessage *src, char **paths, size_t n,
                     struct cm_pbjson_error *err) CM_MUSTCHECK;

/* Resets the field at a dotted path of msg to its default (message: unset).
 * Returns 0 (also when a parent on the path is unset), or -1 for an unknown path. */
int cm_pb_clear_path(ProtobufCMessage *msg, const char *path) CM_MUSTCHECK;

/* Calls fn for every leaf path whose value differs between a and b (either
 * may be NULL, meaning all defaults). Leaves are scalars, strings, enums, bytes,
 * wrappers and repeated fields (compared whole); message fields recurse, a side
 * lacking the message counting as all defaults. Paths are dotted lowerCamelCase,
 * in field-number order; old/new are compact JSON ("" when absent/default).
 * Paths listed in skip (NULL-terminated, may be NULL), and paths below them,
 * are ignored. */
typedef void (*cm_pb_diff_fn)(void *ud, const char *path, const char *old_json,
                              const char *new_json);
void cm_pb_diff(const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *a,
                const ProtobufCMessage *b, const char *const *skip, cm_pb_diff_fn fn, void *ud);

#endif
