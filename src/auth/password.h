/* Password hashes in crypt(3) form, through libxcrypt.  New hashes are
 * yescrypt ($y$); existing $6$ (SHA512-CRYPT), $2y$/$2b$ (bcrypt), $y$ and
 * $7$ hashes are verified, so users can be imported from Dovecot. */
#ifndef TERN_PASSWORD_H
#define TERN_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* The longest password that can be hashed or verified: libxcrypt refuses
 * a phrase of CRYPT_MAX_PASSPHRASE_SIZE (512) bytes or more.  Shorter than
 * AUTH_PASS_MAX, so a longer password given over SASL simply fails. */
#define PASSWORD_LEN_MAX 511

/* Hashes password (at most PASSWORD_LEN_MAX bytes) with yescrypt and a
 * fresh salt into out (size outsize).  Returns 0 or -1. */
int password_hash(const char *password, char *out, size_t outsize);
/* true if password matches hash (constant-time compare of the results). */
bool password_verify(const char *password, const char *hash);
/* Spends about as long as a real verification: used when the user does
 * not exist, so that timing does not tell (no user enumeration). */
void password_verify_dummy(const char *password);
/* true if hash is in a form password_verify accepts. */
bool password_hash_supported(const char *hash);
/* Generates a random password of len characters (letters and digits) and
 * a NUL: out holds len + 1 bytes.  Returns 0 or -1. */
int password_generate(char *out, size_t len);

#endif
