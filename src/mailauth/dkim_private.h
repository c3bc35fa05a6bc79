/* The pieces of DKIM shared by signing and verifying, and exposed for the
 * unit tests and fuzzers: tag lists, the two canonicalizations, reading a
 * message's header section, the parsed signature and key record. */
#ifndef TERN_MAILAUTH_DKIM_PRIVATE_H
#define TERN_MAILAUTH_DKIM_PRIVATE_H

#include <openssl/evp.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"

/* ---- Tag lists, RFC 6376 3.2 (dkim_tags.c) ---- */

struct dkim_tag {
	const char *name;        /* into the parsed text */
	size_t name_len;
	const char *value;       /* trimmed of surrounding FWS; may hold inner FWS */
	size_t value_len;
	size_t raw_start;        /* offsets of everything between '=' and ';' or the end */
	size_t raw_end;
};

struct dkim_tags {
	size_t n;
	struct dkim_tag tag[DKIM_TAGS_MAX];
};

/* Parses a tag-list strictly: tag names ALPHA *(ALPHA / DIGIT / "_"),
 * values of VALCHARs and inner FWS, no empty tag-spec (one trailing ";" is
 * allowed), no duplicate name, at most DKIM_TAGS_MAX tags.  FWS may fold
 * with CRLF.  Pointers in *out point into s.  0, or -1 with a static
 * message. */
int dkim_tags_parse(const char *s, size_t len, struct dkim_tags *out, const char **error_out);
/* The tag called name, or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_tags *t, const char *name);
/* Copies a value without any whitespace into out (outsize bytes, NUL
 * added).  -1 if it does not fit. */
int dkim_tag_value_nows(const struct dkim_tag *t, char *out, size_t outsize);
/* Base64 of a value that may hold FWS (b=, bh=, p=).  Returns the decoded
 * length or -1. */
long dkim_tag_base64(const struct dkim_tag *t, unsigned char *out, size_t outsize);

/* A DKIM-Signature's value, checked (dkim_sig.c). */
struct dkim_sig {
	enum dkim_alg alg;
	bool header_relaxed;
	bool body_relaxed;
	char d[DOMAIN_MAX + 1];
	char s[DKIM_SELECTOR_MAX + 1];
	char i_domain[DOMAIN_MAX + 1];       /* the domain of i=, or d= */
	size_t nh;
	char h[DKIM_H_MAX][DOMAIN_MAX + 1];  /* lower-cased field names */
	unsigned char bh[EVP_MAX_MD_SIZE];
	size_t bh_len;
	unsigned char b[DKIM_SIG_BYTES_MAX];
	size_t b_len;
	char b_prefix[9];
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
	size_t b_raw_start, b_raw_end;       /* the b= value in the parsed text, to blank it */
};

/* Parses and checks the value of a DKIM-Signature field (after the
 * colon, folding included).  On -1, *error_out says why (static) and
 * out->d/out->s/out->alg hold whatever was read before the error. */
int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *out, const char **error_out);

/* A key record, RFC 6376 3.6.1 and RFC 8463 (dkim_sig.c). */
struct dkim_key_record {
	enum dkim_key_type type;
	bool revoked;            /* p= empty */
	bool testing;            /* t=y */
	bool strict;             /* t=s: i= must be d= exactly */
	size_t p_len;
	unsigned char p[DKIM_KEY_RECORD_MAX];
};

int dkim_key_record_parse(const char *txt, size_t len, struct dkim_key_record *out, const char **error_out);

/* ---- Canonicalization, RFC 6376 3.4 (dkim_canon.c) ---- */

/* Appends the canonical form of one header field (raw bytes without the
 * final CRLF, folding included) to out, followed by CRLF if crlf. */
void dkim_canon_header(const char *field, size_t len, bool relaxed, bool crlf, struct buf *out);

/* The body canonicalizer: feed it the body in pieces of any size; it hands
 * the canonical bytes to a digest, at most limit of them (l=). */
struct dkim_body {
	bool relaxed;
	bool cr;                 /* the last byte fed was a CR, not yet placed */
	bool wsp;                /* a WSP run waits (relaxed) */
	bool any;                /* some line had content */
	uint64_t crlfs;          /* line ends not yet emitted (may be trailing) */
	uint64_t limit;          /* UINT64_MAX: no l= */
	uint64_t emitted;        /* canonical bytes produced (counted past limit too) */
	EVP_MD_CTX *md;
};

/* md is initialised by the caller and stays the caller's. */
void dkim_body_init(struct dkim_body *b, bool relaxed, uint64_t limit, EVP_MD_CTX *md);
void dkim_body_feed(struct dkim_body *b, const unsigned char *p, size_t len);
/* Ends the body (the trailing CRLF rules); the digest is then final. */
void dkim_body_end(struct dkim_body *b);

struct dkim_msg;
/* Appends the canonical form of the fields named in names (RFC 6376
 * 5.4.2: each name takes the bottom-most field not yet taken; a name with
 * none left adds nothing), each with its CRLF.  Resets the used marks. */
void dkim_canon_fields(struct dkim_msg *msg, const char (*names)[DOMAIN_MAX + 1], size_t n, bool relaxed,
                       struct buf *out);

/* ---- Signatures, over the SHA-256 of the header data (dkim_crypto.c) ---- */

/* rsa-sha256: RSASSA-PKCS1-v1_5 with SHA-256 over data; ed25519-sha256:
 * PureEdDSA over the SHA-256 of data (RFC 8463 3).  sig holds
 * DKIM_SIG_BYTES_MAX.  0 or -1. */
int dkim_crypto_sign(EVP_PKEY *key, const void *data, size_t len, unsigned char *sig, size_t *siglen_out);
/* 1 if sig is good, 0 if not, -1 if the key is unusable (an RSA key under
 * DKIM_RSA_BITS_MIN bits, RFC 8301 3.2). */
int dkim_crypto_verify(EVP_PKEY *key, const void *data, size_t len, const unsigned char *sig, size_t siglen);
/* The public key of a record (RSA: SubjectPublicKeyInfo or RSAPublicKey
 * DER; Ed25519: 32 raw bytes), or NULL. */
EVP_PKEY *dkim_crypto_pubkey(const struct dkim_key_record *rec);
/* SHA-256 of data into out (32 bytes). */
void dkim_sha256(const void *data, size_t len, unsigned char *out);

/* ---- The message file (dkim_msg.c) ---- */

struct dkim_field {
	const char *raw;         /* the field into hdr, without its final CRLF */
	size_t len;
	size_t name_len;         /* bytes before the colon, trailing WSP cut; 0: no colon */
	bool used;               /* taken by the h= being processed */
};

struct dkim_msg {
	char *hdr;               /* the header section, malloc'd */
	size_t hdr_len;
	uint64_t body_off;       /* where the body starts in the file */
	uint64_t size;
	size_t n;
	struct dkim_field field[]; /* n of them */
};

/* Reads the header section of the message in fd (size bytes): up to the
 * first empty line, at most DKIM_HEADER_MAX bytes, DKIM_FIELDS_MAX fields
 * (more are ignored).  0 with a malloc'd *msg_out (free with
 * dkim_msg_free), or -1 with a static message. */
int dkim_msg_read(int fd, uint64_t size, struct dkim_msg **msg_out, const char **error_out);
void dkim_msg_free(struct dkim_msg **msg);
/* true if the field's name is name (case-insensitive). */
bool dkim_field_is(const struct dkim_field *f, const char *name);
/* Clears every field's used mark. */
void dkim_msg_unuse(struct dkim_msg *msg);
/* The bottom-most unused field called name, marked used; NULL if none
 * (RFC 6376 5.4.2). */
struct dkim_field *dkim_msg_take(struct dkim_msg *msg, const char *name);
/* Streams the body (from msg->body_off) through n canonicalizers at
 * once.  0, or -1 with a static message. */
int dkim_msg_hash_body(int fd, const struct dkim_msg *msg, struct dkim_body *bodies, size_t n, const char **error_out);
/* The domain of the first address in the From: field, lower-cased, into
 * out.  -1 if there is no From: or no domain in it. */
int dkim_msg_from_domain(const struct dkim_msg *msg, char *out, size_t outsize);
/* The domain part of an address ("a@b.example" or "<a@b.example>"),
 * lower-cased.  -1 if none. */
int dkim_addr_domain(const char *addr, size_t len, char *out, size_t outsize);

#endif
