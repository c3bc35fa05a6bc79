/* Small string helpers that the C library lacks. */
#ifndef TERN_STR_H
#define TERN_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies src into dst (size dstsize), always NUL-terminating.  Returns
 * strlen(src); truncation happened if that is >= dstsize. */
size_t str_lcpy(char *dst, const char *src, size_t dstsize);
/* Case-insensitive ASCII prefix test. */
bool str_has_prefix_ci(const char *s, const char *prefix);
/* Trims ASCII whitespace at both ends in place; returns s. */
char *str_trim(char *s);
/* ASCII lower-casing in place; returns s. */
char *str_lower(char *s);
/* The value of hexadecimal digit c (either case), or -1. */
int str_hexval(int c);
/* Parses a size with optional K/M/G suffix (powers of 1024): "50M". */
int str_parse_size(const char *s, uint64_t *out);
/* Parses a decimal unsigned integer that must fill the whole string. */
int str_parse_u64(const char *s, uint64_t *out);
/* Constant-time comparison of n bytes. */
bool str_ct_equal(const void *a, const void *b, size_t n);
/* Overwrites memory in a way the compiler may not remove. */
void str_wipe(void *p, size_t n);

/* Base64 (RFC 4648, standard alphabet, with padding).
 * base64_decode: returns decoded length, or -1 on malformed input or if
 * out (outsize bytes) is too small.  Whitespace is not accepted. */
long base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize);
/* Returns the encoded length (without NUL); out must hold
 * BASE64_ENCODED_LEN(inlen) + 1 bytes. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
size_t base64_encode(const unsigned char *in, size_t inlen, char *out);

#endif
