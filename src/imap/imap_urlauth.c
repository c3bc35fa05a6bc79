/* GENURLAUTH, URLFETCH, RESETKEY (RFC 4467, RFC 5524); see imap_urlauth.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "imap/imap.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_parse.h"
#include "imap/imap_url.h"
#include "imap/imap_url_fetch.h"
#include "imap/imap_urlauth.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "store/store_imap.h"

#define TOKEN_LEN 32               /* octets of HMAC-SHA256 */

static void
set_result(struct imap_result *res, enum imap_status st, const char *code, const char *text)
{
	res->status = st;
	snprintf(res->code, sizeof(res->code), "%s", code);
	snprintf(res->text, sizeof(res->text), "%s", text);
}

static int
token_of(const uint8_t *key, const char *rump, size_t len, uint8_t *md)
{
	unsigned int mdlen = 0;

	if (HMAC(EVP_sha256(), key, STORE_URLAUTH_KEY_LEN, (const unsigned char *)rump, len, md, &mdlen) == NULL ||
	    mdlen != TOKEN_LEN)
		return -1;
	return 0;
}

bool
imap_urlauth_check(struct store *st, const char *text, const struct imap_url *u, const char *user,
                   bool submission)
{
	uint8_t key[STORE_URLAUTH_KEY_LEN], want[TOKEN_LEN], got[TOKEN_LEN];
	const char *error = NULL;
	bool ok;

	if (!u->absolute || u->uid == 0 || u->mechanism == NULL || strcasecmp(u->mechanism, "INTERNAL") != 0 ||
	    strlen(u->token) != 2 * TOKEN_LEN)
		return false;
	switch (u->access) {
	case IMAP_URL_ACCESS_USER:
		if (!imap_url_access_user_is(u, user))
			return false;
		break;
	case IMAP_URL_ACCESS_AUTHUSER:
		break;
	case IMAP_URL_ACCESS_SUBMIT:
		if (!submission || !imap_url_access_user_is(u, user))
			return false;
		break;
	default:
		return false;
	}
	if (u->has_expire && (int64_t)time(NULL) >= u->expire)
		return false;
	if (store_urlauth_key(st, u->mailbox, NULL, key, &error) != STORE_OK)
		return false;
	for (size_t i = 0; i < TOKEN_LEN; i++)
		got[i] = (uint8_t)(str_hexval(u->token[2 * i]) << 4 | str_hexval(u->token[2 * i + 1]));
	ok = token_of(key, text, u->rump_len, want) == 0 && CRYPTO_memcmp(want, got, TOKEN_LEN) == 0;
	OPENSSL_cleanse(key, sizeof(key));
	return ok;
}

/* GENURLAUTH 1*(SP url-rump SP mechanism)   RFC 4467 6.1 */
void
imap_genurlauth_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	struct buf line = BUF_INIT;
	const struct imap_arg *x;

	if (args == NULL) {
		set_result(res, IMAP_BAD, "", "GENURLAUTH needs a URL and a mechanism");
		return;
	}
	buf_puts(&line, "* GENURLAUTH");
	for (x = args; x != NULL; x = x->next->next) {
		uint8_t key[STORE_URLAUTH_KEY_LEN], fresh[STORE_URLAUTH_KEY_LEN], md[TOKEN_LEN];
		struct imap_url u;
		const char *text, *error = NULL;
		size_t len;
		int rc;

		if (x->next == NULL || !imap_arg_astring(x, &text, &len) || x->next->type != IMAP_ARG_ATOM) {
			set_result(res, IMAP_BAD, "", "GENURLAUTH expects pairs of URL and mechanism");
			goto done;
		}
		if (!imap_arg_atom_is(x->next, "INTERNAL")) {
			set_result(res, IMAP_NO, "", "Only the INTERNAL mechanism is supported");
			goto done;
		}
		if (imap_url_parse(text, len, ctx->arena, &u, &error) == -1) {
			set_result(res, IMAP_NO, "", error);
			goto done;
		}
		if (!u.absolute || u.uid == 0 || u.access == IMAP_URL_ACCESS_NONE || u.mechanism != NULL) {
			set_result(res, IMAP_NO, "",
			           "GENURLAUTH needs an absolute message URL ending in ;URLAUTH=access");
			goto done;
		}
		if (u.access == IMAP_URL_ACCESS_ANONYMOUS) {
			set_result(res, IMAP_NO, "", "Anonymous access is not offered");
			goto done;
		}
		if (!imap_url_owner_is(&u, ctx->user)) {
			set_result(res, IMAP_NO, "", "The URL names another user's mailbox");
			goto done;
		}
		if (RAND_bytes(fresh, sizeof(fresh)) != 1) {
			set_result(res, IMAP_NO, "SERVERBUG", "No random numbers");
			goto done;
		}
		rc = store_urlauth_key(ctx->st, u.mailbox, fresh, key, &error);
		OPENSSL_cleanse(fresh, sizeof(fresh));
		if (rc == STORE_IMAP_NONEXISTENT) {
			set_result(res, IMAP_NO, "NONEXISTENT", "No such mailbox");
			goto done;
		}
		if (rc != STORE_OK || token_of(key, text, len, md) == -1) {
			OPENSSL_cleanse(key, sizeof(key));
			set_result(res, IMAP_NO, "UNAVAILABLE", "Cannot make the URL now");
			goto done;
		}
		OPENSSL_cleanse(key, sizeof(key));
		/* the URL as given, then ":internal:" and the token (RFC 4467 6.1) */
		{
			struct buf url = BUF_INIT;

			buf_append(&url, text, len);
			buf_puts(&url, ":internal:");
			for (size_t i = 0; i < TOKEN_LEN; i++)
				buf_printf(&url, "%02x", md[i]);
			buf_puts(&line, " ");
			imap_write_nstring(&line, url.data, url.len);
			buf_free(&url);
		}
	}
	buf_puts(&line, "\r\n");
	buf_append(out, line.data, line.len);
	set_result(res, IMAP_OK, "", "GENURLAUTH completed");
done:
	buf_free(&line);
}

/* RESETKEY [mailbox *(SP mechanism)]   RFC 4467 6.3 */
void
imap_resetkey_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *error = NULL, *mailbox = NULL;
	int rc;

	if (args != NULL) {
		if ((mailbox = imap_mailbox_arg(ctx, args, res)) == NULL)
			return;
		for (const struct imap_arg *m = args->next; m != NULL; m = m->next) {
			if (!imap_arg_atom_is(m, "INTERNAL")) {
				set_result(res, IMAP_NO, "", "Only the INTERNAL mechanism is supported");
				return;
			}
		}
	}
	rc = store_urlauth_reset(ctx->st, mailbox, &error);
	if (rc == STORE_IMAP_NONEXISTENT)
		set_result(res, IMAP_NO, "NONEXISTENT", "No such mailbox");
	else if (rc != STORE_OK)
		set_result(res, IMAP_NO, "UNAVAILABLE", "Cannot reset the keys now");
	else
		set_result(res, IMAP_OK, "", "RESETKEY completed");
}

/* The fetch modifiers of one URL (RFC 5524 3). */
struct urlfetch_want {
	bool extended;
	bool body, binary, structure;
};

static int
want_parse(const struct imap_arg *x, const char **text, size_t *len, struct urlfetch_want *w)
{
	memset(w, 0, sizeof(*w));
	if (x->type != IMAP_ARG_LIST)
		return imap_arg_astring(x, text, len) ? 0 : -1;
	w->extended = true;
	if (x->list == NULL || !imap_arg_astring(x->list, text, len))
		return -1;
	for (const struct imap_arg *m = x->list->next; m != NULL; m = m->next) {
		if (imap_arg_atom_is(m, "BODY"))
			w->body = true;
		else if (imap_arg_atom_is(m, "BINARY"))
			w->binary = true;
		else if (imap_arg_atom_is(m, "BODYPARTSTRUCTURE"))
			w->structure = true;
		else
			return -1;
	}
	if (w->body && w->binary)
		return -1;
	if (!w->binary && !w->structure)
		w->body = true;
	return 0;
}

static void
literal_write(struct buf *out, const char *data, size_t len, bool binary)
{
	bool nul = binary && memchr(data, '\0', len) != NULL;

	buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	buf_append(out, data, len);
}

/* The store of a URL's owner who is another user of this server: the
 * URL's user, with "@host" when it has no domain of its own (as
 * imap_url_owner_is reads it), lower-cased.  Only a store that exists is
 * opened (one is never made here).  NULL when there is none. */
static struct store *
owner_store(const char *data_dir, const struct imap_url *u, struct arena *a)
{
	char dir[PATH_MAX];
	struct store *st = NULL;
	struct stat sb;
	const char *error = NULL;
	char *owner;
	size_t n;

	if (data_dir == NULL || u->user == NULL || u->host == NULL)
		return NULL;
	n = strlen(u->user) + strlen(u->host) + 2;
	owner = arena_alloc(a, n);
	if (strchr(u->user, '@') != NULL)
		snprintf(owner, n, "%s", u->user);
	else
		snprintf(owner, n, "%s@%s", u->user, u->host);
	for (char *p = owner; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (store_user_dir(data_dir, owner, dir, sizeof(dir) - 10) == -1)
		return NULL;
	strcat(dir, "/index.db");
	if (stat(dir, &sb) == -1 || store_open(data_dir, owner, &st, &error) == -1)
		return NULL;
	return st;
}

/* One URL's "* URLFETCH url data" line.  Returns its data octets. */
static size_t
urlfetch_one(struct imap_ctx *ctx, const char *text, size_t len, const struct urlfetch_want *w, struct buf *out)
{
	struct imap_url u;
	struct imap_url_data d;
	struct buf bin = BUF_INIT;
	struct store *st = NULL, *other = NULL;
	const char *error = NULL;
	size_t sent = 0;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	buf_puts(out, "* URLFETCH ");
	imap_write_nstring(out, text, len);
	if (imap_url_parse(text, len, ctx->arena, &u, &error) == 0) {
		/* the user's own mailbox, or another user's for a URL whose
		 * access may admit this user (never submit+ here) */
		if (imap_url_owner_is(&u, ctx->user))
			st = ctx->st;
		else if (u.access == IMAP_URL_ACCESS_AUTHUSER || u.access == IMAP_URL_ACCESS_USER)
			st = other = owner_store(ctx->data_dir, &u, ctx->arena);
		if (st != NULL && imap_urlauth_check(st, text, &u, ctx->user, false))
			rc = imap_url_data_open(st, &u, ctx->arena, &d);
	}
	if (rc == 0 && w->binary && imap_url_data_binary(&d, ctx->arena, &bin) == -1)
		rc = 1;
	if (rc != 0) {
		buf_puts(out, " NIL\r\n");
	} else if (!w->extended) {
		buf_puts(out, " ");
		literal_write(out, d.data, d.len, false);
		buf_puts(out, "\r\n");
		sent = d.len;
	} else {
		const char *sep = "";

		buf_puts(out, " (");
		if (w->structure) {
			buf_puts(out, "BODYPARTSTRUCTURE ");
			imap_url_data_structure(&d, w->binary, ctx->arena, out);
			sep = " ";
		}
		if (w->binary) {
			buf_printf(out, "%sBINARY ", sep);
			literal_write(out, bin.data != NULL ? bin.data : "", bin.len, true);
			sent = bin.len;
		} else if (w->body) {
			buf_printf(out, "%sBODY ", sep);
			literal_write(out, d.data, d.len, false);
			sent = d.len;
		}
		buf_puts(out, ")\r\n");
	}
	buf_free(&bin);
	imap_url_data_close(&d);
	if (other != NULL)
		store_close(&other);
	return sent;
}

/* URLFETCH 1*(SP (url / "(" url *(SP modifier) ")"))   RFC 4467 6.2, RFC 5524 3 */
void
imap_urlfetch_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	uint64_t total = 0, max = IMAP_URLFETCH_MAX_BYTES(ctx->append_limit);
	const struct imap_arg *x;

	if (args == NULL) {
		set_result(res, IMAP_BAD, "", "URLFETCH needs a URL");
		return;
	}
	for (x = args; x != NULL; x = x->next) {
		struct urlfetch_want w;
		const char *text;
		size_t len;

		if (want_parse(x, &text, &len, &w) == -1) {
			set_result(res, IMAP_BAD, "", "URLFETCH expects URLs, or (URL [BODY|BINARY] [BODYPARTSTRUCTURE])");
			return;
		}
	}
	for (x = args; x != NULL; x = x->next) {
		struct urlfetch_want w;
		const char *text;
		size_t len;

		(void)want_parse(x, &text, &len, &w);
		if (total > max) {
			set_result(res, IMAP_NO, "LIMIT", "Too much data for one URLFETCH");
			return;
		}
		total += urlfetch_one(ctx, text, len, &w, out);
	}
	set_result(res, IMAP_OK, "", "URLFETCH completed");
}

int
imap_burl_fetch(const char *data_dir, const char *user, const char *url, size_t len,
                int (*sink)(void *arg, const char *data, size_t len), void *arg, const char **error_out)
{
	struct arena *a = arena_new(4096, false);
	struct store *st = NULL;
	struct imap_url u;
	struct imap_url_data d;
	const char *error = NULL;
	bool ok;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	if (imap_url_parse(url, len, a, &u, &error) == -1) {
		*error_out = error;
		goto out;
	}
	if (!u.absolute || u.uid == 0) {
		*error_out = "BURL needs an absolute IMAP URL of a message";
		goto out;
	}
	if (store_open(data_dir, user, &st, &error) == -1) {
		*error_out = "the mailbox store is unavailable";
		rc = -1;
		goto out;
	}
	ok = imap_url_owner_is(&u, user) &&
	     (u.access == IMAP_URL_ACCESS_NONE || imap_urlauth_check(st, url, &u, user, true));
	if (!ok) {
		*error_out = "the URL does not grant access to this user";
		goto out;
	}
	rc = imap_url_data_open(st, &u, a, &d);
	if (rc == 1)
		*error_out = "the URL names no message";
	else if (rc == -1)
		*error_out = "the mailbox store is unavailable";
	else
		(void)sink(arg, d.data, d.len);  /* the sink's owner looks at its own state */
out:
	imap_url_data_close(&d);
	if (st != NULL)
		store_close(&st);
	arena_free(&a);
	return rc;
}
