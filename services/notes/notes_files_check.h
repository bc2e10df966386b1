/* Pure checks for a customer's files: the name a file is kept under, the
 * media type it was declared as, and the PNG of a signature under the terms
 * (its structure, size, dimensions, and that something was drawn). No
 * database, no bus. */
#ifndef NOTES_FILES_CHECK_H
#define NOTES_FILES_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"
#include "notes_validate.h"

/* Limits. The bytes of one file are a setting (file_max_bytes, default
 * NOTES_FILE_MAX_DEFAULT) of at most NOTES_FILE_MAX_CAP, which is the body
 * limit of the gateway's upload route and well under the broker's frame
 * limit (64 MiB). */
#define NOTES_FILE_MAX_DEFAULT (10L * 1024 * 1024)
#define NOTES_FILE_MAX_CAP (32L * 1024 * 1024)
#define NOTES_FILES_PER_CUSTOMER_DEFAULT 200
#define NOTES_FILES_PER_CUSTOMER_CAP 10000
#define NOTES_FILE_NAME_MAX 255 // characters
#define NOTES_FILE_TYPE_MAX 127 // bytes of a media type
#define NOTES_TERMS_MAX 20000   // characters of the terms' text
#define NOTES_SIGNATURE_MAX (512 * 1024)
#define NOTES_SIGNATURE_SIDE_MIN 16
#define NOTES_SIGNATURE_SIDE_MAX 4096

/* The name a file is kept under, from the name a client gave (valid UTF-8):
 * only what follows the last '/' or '\' (a browser may send a path), with
 * white space trimmed at both ends. Refused (NULL, p filled, reason
 * "REQUIRED", "TOO_LONG" or "INVALID"): nothing left, "." or "..", a control
 * character (C0, DEL, C1), more than NOTES_FILE_NAME_MAX characters. Returns
 * a malloc'd string the caller frees. */
char *notes_files_name(const char *given, struct notes_problem *p);

/* The media type a file is kept with: "" becomes application/octet-stream;
 * otherwise "type/subtype" of RFC 9110 token characters, optionally with
 * parameters ("; charset=utf-8"), at most NOTES_FILE_TYPE_MAX bytes, printable
 * ASCII. Type and subtype are lower-cased. Writes it into out (size >=
 * NOTES_FILE_TYPE_MAX + 1) and returns 0, or -1 for anything else. */
int notes_files_media_type(const char *given, char *out, size_t size) CM_MUSTCHECK;

/* What is wrong with a signature PNG. */
enum notes_png_result {
    NOTES_PNG_OK = 0,
    NOTES_PNG_TOO_LARGE,  // more than NOTES_SIGNATURE_MAX bytes
    NOTES_PNG_NOT_PNG,    // no PNG signature, a chunk that does not read or a bad CRC
    NOTES_PNG_DIMENSIONS, // a side outside NOTES_SIGNATURE_SIDE_MIN..MAX
    NOTES_PNG_FORMAT,     // interlaced, or a colour type or depth PNG does not have
    NOTES_PNG_DATA,       // the image data does not inflate to the rows IHDR says
    NOTES_PNG_EMPTY,      // every pixel is zero: nothing was drawn on a clear pad
};

/* Checks a signature: a PNG whose chunks read (lengths, CRCs, IHDR first,
 * IEND last), of sane dimensions, not interlaced, whose image data inflates
 * to exactly the rows its header says and has a pixel that is not zero (a
 * cleared canvas is all transparent black). *width and *height are set when
 * the header was read. */
enum notes_png_result notes_files_png_check(const uint8_t *data, size_t len, uint32_t *width,
                                            uint32_t *height) CM_MUSTCHECK;

/* A short description of r ("the signature is not a PNG image"). Static. */
const char *notes_files_png_problem(enum notes_png_result r);

/* Hex SHA-256 of data into out (65 bytes). */
void notes_files_sha256(const uint8_t *data, size_t len, char out[65]);

#endif
