/* Folding and tokenising text for search: the same function folds what is
 * indexed and what is asked, so "muller" finds "Müller", "lukasz" finds
 * "Łukasz" and "ив" finds "Иван". Pure: no I/O. */
#ifndef SEARCH_FOLD_H
#define SEARCH_FOLD_H

#include <stdbool.h>
#include <stddef.h>

/* Folds UTF-8 text: compatibility decomposition, case folding and marks
 * stripped (utf8proc), then ICU's Latin-ASCII transliteration for Latin
 * letters that have no decomposition (Ł Ø Đ Æ Œ Þ ð ı ...). Other scripts
 * keep their letters (casefolded, unaccented). Invalid UTF-8 is folded byte
 * by byte as ASCII. Returns a malloc'd string the caller frees. */
char *search_fold(const char *text);

/* Folds text and writes its words (runs of letters and digits; apostrophes
 * join rather than split: "O'Brien" is "obrien") into out, separated by one
 * space, NUL-terminated. Returns the length written; output beyond size-1 is
 * cut at a word boundary. */
size_t search_fold_words(const char *text, char *out, size_t size);

/* Writes the digits of text (ASCII 0-9 only) into out; returns their count. */
size_t search_digits(const char *text, char *out, size_t size);

/* True when the UTF-8 word is made of digits and phone punctuation (+ - ( ) .
 * /) and holds at least one digit. */
bool search_is_numeric(const char *word);

/* Releases the transliterator (at exit, for leak checkers). */
void search_fold_shutdown(void);

#endif
