/* Signing keys on disk: DATA_DIR/dkim/DOMAIN/SELECTOR.pem, made by
 * `tern dkim generate`, loaded once by whoever signs. */
#include "mailauth/dkim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define KEYS_MAX 4096   /* files loaded: a sanity bound, far above any real setup */

static char *msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A malloc'd message for *error_out. */
static char *
msg(const char *fmt, ...)
{
	struct buf o = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&o, fmt, ap);
	va_end(ap);
	return o.data;
}

bool
dkim_name_valid(const char *name, size_t max)
{
	size_t n = strlen(name), label = 0, i;

	if (n == 0 || n > max || name[0] == '.' || name[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct dkim_key *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	if (c != 0)
		return c;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return -strcmp(x->selector, y->selector);
}

static int
load_one(const char *path, const char *domain, const char *file, struct dkim_keys *k, char **error_out)
{
	struct dkim_key *key;
	struct stat st;
	EVP_PKEY *pkey;
	FILE *f;
	size_t n = strlen(file);

	if (n <= 4 || strcmp(file + n - 4, ".pem") != 0)
		return 0;   /* not a key: left alone */
	if (n - 4 > DKIM_SELECTOR_MAX || k->n == KEYS_MAX)
		return 0;
	if ((f = fopen(path, "re")) == NULL || fstat(fileno(f), &st) != 0) {
		if (f != NULL)
			fclose(f);
		*error_out = msg("%s: %s", path, strerror(errno));
		return -1;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL || (EVP_PKEY_get_id(pkey) != EVP_PKEY_RSA && EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519)) {
		EVP_PKEY_free(pkey);
		*error_out = msg("%s: not an RSA or Ed25519 private key in PEM", path);
		return -1;
	}
	k->key = xrealloc(k->key, (k->n + 1) * sizeof(*k->key));
	key = &k->key[k->n++];
	memset(key, 0, sizeof(*key));
	str_lcpy(key->domain, domain, sizeof(key->domain));
	memcpy(key->selector, file, n - 4);
	key->selector[n - 4] = '\0';
	key->type = EVP_PKEY_get_id(pkey) == EVP_PKEY_RSA ? DKIM_KEY_RSA : DKIM_KEY_ED25519;
	key->created = st.st_mtime;
	key->pkey = pkey;
	return 0;
}

static int
load_domain(const char *dir, const char *domain, struct dkim_keys *k, char **error_out)
{
	char path[4096 + 256 + 2];   /* dir (from dkim_keys_load) / domain */
	struct dirent *e;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, domain);
	if ((d = opendir(path)) == NULL)
		return 0;   /* a stray file in dkim/ */
	while (r == 0 && (e = readdir(d)) != NULL) {
		char file[sizeof(path) + 256 + 2];

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		r = load_one(file, domain, e->d_name, k, error_out);
	}
	closedir(d);
	return r;
}

int
dkim_keys_load(const char *data_dir, struct dkim_keys **keys_out, char **error_out)
{
	struct dkim_keys *k = xcalloc(1, sizeof(*k));
	char dir[4096];
	struct dirent *e;
	DIR *d;

	*keys_out = NULL;
	snprintf(dir, sizeof(dir), "%s/dkim", data_dir);
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			*keys_out = k;
			return 0;
		}
		*error_out = msg("%s: %s", dir, strerror(errno));
		free(k);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (!dkim_name_valid(e->d_name, DOMAIN_MAX))
			continue;
		if (load_domain(dir, e->d_name, k, error_out) != 0) {
			closedir(d);
			dkim_keys_free(&k);
			return -1;
		}
	}
	closedir(d);
	if (k->n > 1)
		qsort(k->key, k->n, sizeof(*k->key), key_cmp);
	*keys_out = k;
	return 0;
}

void
dkim_keys_free(struct dkim_keys **keys)
{
	size_t i;

	if (*keys == NULL)
		return;
	for (i = 0; i < (*keys)->n; i++)
		EVP_PKEY_free((*keys)->key[i].pkey);
	free((*keys)->key);
	free(*keys);
	*keys = NULL;
}

const struct dkim_key *
dkim_keys_find(const struct dkim_keys *keys, const char *domain, const char *selector)
{
	size_t i;

	if (keys == NULL)
		return NULL;
	/* Sorted newest first within a domain: the first match is active. */
	for (i = 0; i < keys->n; i++) {
		const struct dkim_key *k = &keys->key[i];

		if (strcasecmp(k->domain, domain) == 0 && (selector == NULL || strcasecmp(k->selector, selector) == 0))
			return k;
	}
	return NULL;
}

static EVP_PKEY *
new_key(enum dkim_key_type type)
{
	if (type == DKIM_KEY_ED25519)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIM_RSA_BITS_DEFAULT);
}

int
dkim_key_generate(const char *data_dir, const char *domain, const char *selector, enum dkim_key_type type,
                  char **error_out)
{
	char path[4096];
	EVP_PKEY *pkey = NULL;
	FILE *f = NULL;
	int fd;

	if (!dkim_name_valid(domain, DOMAIN_MAX) || !dkim_name_valid(selector, DKIM_SELECTOR_MAX) ||
	    strchr(selector, '.') != NULL) {
		*error_out = msg("not a valid lower-case domain and selector: %s %s", domain, selector);
		return -1;
	}
	/* data_dir too, as cli_open_directory() does on a first run */
	snprintf(path, sizeof(path), "%s", data_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail_errno;
	snprintf(path, sizeof(path), "%s/dkim", data_dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail_errno;
	snprintf(path, sizeof(path), "%s/dkim/%s", data_dir, domain);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail_errno;
	snprintf(path, sizeof(path), "%s/dkim/%s/%s.pem", data_dir, domain, selector);
	if ((pkey = new_key(type)) == NULL) {
		*error_out = msg("cannot generate the key");
		return -1;
	}
	/* O_EXCL: a key already published in DNS is never overwritten. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto fail_errno;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto fail_errno;
	}
	if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 || fsync(fd) != 0) {
		fclose(f);
		unlink(path);
		EVP_PKEY_free(pkey);
		*error_out = msg("%s: cannot write the key", path);
		return -1;
	}
	fclose(f);
	EVP_PKEY_free(pkey);
	return 0;
fail_errno:
	*error_out = msg("%s: %s", path, strerror(errno));
	EVP_PKEY_free(pkey);
	return -1;
}

/* p=: RSA as SubjectPublicKeyInfo DER (what every signer publishes, RFC
 * 6376 erratum 3017); Ed25519 as the raw 32-byte key (RFC 8463 4.2). */
static char *
public_b64(const struct dkim_key *key)
{
	unsigned char raw[32], *der = NULL;
	size_t rawlen = sizeof(raw);
	char *out;
	int n;

	if (key->type == DKIM_KEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &rawlen) != 1)
			return NULL;
		out = xmalloc(BASE64_ENCODED_LEN(rawlen) + 1);
		base64_encode(raw, rawlen, out);
		return out;
	}
	if ((n = i2d_PUBKEY(key->pkey, &der)) <= 0)
		return NULL;
	out = xmalloc(BASE64_ENCODED_LEN((size_t)n) + 1);
	base64_encode(der, (size_t)n, out);
	OPENSSL_free(der);
	return out;
}

char *
dkim_key_dns_line(const struct dkim_key *key)
{
	struct buf o = BUF_INIT;
	char *p = public_b64(key);
	size_t len, off;

	if (p == NULL)
		return NULL;
	buf_printf(&o, "%s._domainkey.%s. IN TXT \"v=DKIM1; k=%s; \"", key->selector, key->domain,
	           key->type == DKIM_KEY_RSA ? "rsa" : "ed25519");
	/* RFC 1035 3.3.14: one character-string holds at most 255 bytes;
	 * "p=" and 253 of base64 fill the first one. */
	len = strlen(p);
	buf_puts(&o, " \"p=");
	off = len < 253 ? len : 253;
	buf_append(&o, p, off);
	buf_puts(&o, "\"");
	while (off < len) {
		size_t n = len - off < 255 ? len - off : 255;

		buf_puts(&o, " \"");
		buf_append(&o, p + off, n);
		buf_puts(&o, "\"");
		off += n;
	}
	free(p);
	return o.data;
}
