/* DKIM: canonicalization (RFC 6376 3.4.5's example), tag lists, and sign
 * then verify with rsa-sha256 and ed25519-sha256. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/str.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_private.h"
#include "test.h"

static const char ex_header[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
static const char ex_body[] = " C \r\nD \t E\r\n\r\n\r\n";

/* The base64 SHA-256 of the canonical body, fed whole or byte by byte
 * so that every split is tried. */
static char *
canon_body(const char *body, size_t len, bool relaxed, bool bytewise)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct dkim_body b;
	size_t i;

	/* Compared as hashes: the canonical text goes only into a digest. */
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	dkim_body_init(&b, relaxed, UINT64_MAX, md);
	if (bytewise) {
		for (i = 0; i < len; i++)
			dkim_body_feed(&b, (const unsigned char *)body + i, 1);
	} else {
		dkim_body_feed(&b, (const unsigned char *)body, len);
	}
	dkim_body_end(&b);
	{
		unsigned char h[32];
		unsigned int hl;
		char *r = malloc(64);

		EVP_DigestFinal_ex(md, h, &hl);
		base64_encode(h, hl, r);
		EVP_MD_CTX_free(md);
		return r;
	}
}

static char *
b64_sha256(const char *s)
{
	unsigned char h[32];
	char *r = malloc(64);

	dkim_sha256(s, strlen(s), h);
	base64_encode(h, 32, r);
	return r;
}

static void
expect_body(const char *body, bool relaxed, const char *canonical)
{
	char *want = b64_sha256(canonical);
	char *a = canon_body(body, strlen(body), relaxed, false);
	char *b = canon_body(body, strlen(body), relaxed, true);

	test_assert_streq(a, want);
	test_assert_streq(b, want);
	free(want);
	free(a);
	free(b);
}

static void
test_canon(void)
{
	struct buf o = BUF_INIT;

	test_begin("dkim canon: RFC 6376 3.4.5 relaxed header");
	dkim_canon_header("A: X", 4, true, true, &o);
	dkim_canon_header("B : Y\t\r\n\tZ  ", 12, true, true, &o);
	test_assert_streq(o.data, "a:X\r\nb:Y Z\r\n");
	test_end();

	test_begin("dkim canon: RFC 6376 3.4.5 simple header");
	buf_reset(&o);
	dkim_canon_header("A: X", 4, false, true, &o);
	dkim_canon_header("B : Y\t\r\n\tZ  ", 12, false, true, &o);
	test_assert_streq(o.data, ex_header);
	test_end();
	buf_free(&o);

	test_begin("dkim canon: RFC 6376 3.4.5 bodies, every split");
	expect_body(ex_body, true, " C\r\nD E\r\n");
	expect_body(ex_body, false, " C \r\nD \t E\r\n");
	test_end();

	test_begin("dkim canon: empty body and trailing lines");
	expect_body("", false, "\r\n");
	expect_body("", true, "");
	expect_body("\r\n\r\n", false, "\r\n");
	expect_body("\r\n \t\r\n", true, "");
	expect_body("x", false, "x\r\n");
	expect_body("x  ", true, "x\r\n");
	expect_body("a\r\n\r\nb\r\n\r\n", true, "a\r\n\r\nb\r\n");
	expect_body("a\rb\r\n", true, "a\rb\r\n");
	expect_body("a \r", true, "a \r\r\n");
	expect_body("\t a\tb  c \r\n", true, " a b c\r\n");
	test_end();
}

static void
test_tags(void)
{
	struct dkim_tags t;
	const char *err;
	const struct dkim_tag *g;

	test_begin("dkim tags: valid lists");
	test_assert(dkim_tags_parse("a=1", 3, &t, &err) == 0 && t.n == 1);
	test_assert(dkim_tags_parse("a=1;", 4, &t, &err) == 0 && t.n == 1);
	{
		const char *s = " a = 1 ; b=\r\n 2\r\n\t3 ;\r\n\t";

		test_assert(dkim_tags_parse(s, strlen(s), &t, &err) == 0 && t.n == 2);
		g = dkim_tags_get(&t, "b");
		test_assert(g != NULL && g->value_len == 5 && memcmp(g->value, "2\r\n\t3", 5) == 0);
	}
	test_assert(dkim_tags_parse("p=", 2, &t, &err) == 0 && t.tag[0].value_len == 0);
	test_assert(dkim_tags_parse("a_1=x", 5, &t, &err) == 0);
	test_end();

	test_begin("dkim tags: refused");
	test_assert(dkim_tags_parse("", 0, &t, &err) == -1);
	test_assert(dkim_tags_parse("a=1;;b=2", 8, &t, &err) == -1);
	test_assert(dkim_tags_parse("a=1;a=2", 7, &t, &err) == -1);
	test_assert(dkim_tags_parse("1a=1", 4, &t, &err) == -1);
	test_assert(dkim_tags_parse("a", 1, &t, &err) == -1);
	test_assert(dkim_tags_parse("a=\x01", 3, &t, &err) == -1);
	test_assert(dkim_tags_parse("a=1\r\nb=2", 8, &t, &err) == -1);   /* CRLF not followed by WSP */
	test_assert(dkim_tags_parse("a=1\r", 4, &t, &err) == -1);
	test_assert(dkim_tags_parse("a=1; ;", 6, &t, &err) == -1);
	test_end();

	test_begin("dkim tags: too many");
	{
		char big[1024] = "";
		int i;

		for (i = 0; i < DKIM_TAGS_MAX + 1; i++)
			snprintf(big + strlen(big), sizeof(big) - strlen(big), "t%d=x;", i);
		test_assert(dkim_tags_parse(big, strlen(big), &t, &err) == -1);
	}
	test_end();

	test_begin("dkim tags: key records");
	{
		struct dkim_key_record r;
		const char *k = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

		test_assert(dkim_key_record_parse(k, strlen(k), &r, &err) == 0 && r.type == DKIM_KEY_ED25519 &&
		            r.p_len == 32);
		test_assert(dkim_key_record_parse("p=", 2, &r, &err) == 0 && r.revoked);
		test_assert(dkim_key_record_parse("k=rsa; v=DKIM1; p=", 18, &r, &err) == -1);   /* v= not first */
		test_assert(dkim_key_record_parse("k=dsa; p=", 9, &r, &err) == -1);
		test_assert(dkim_key_record_parse("h=sha1; p=", 10, &r, &err) == -1);
		test_assert(dkim_key_record_parse("t=y:s; p=", 9, &r, &err) == 0 && r.testing && r.strict);
		test_assert(dkim_key_record_parse("k=rsa", 5, &r, &err) == -1);
	}
	test_end();

	test_begin("dkim tags: signature checks");
	{
		struct dkim_sig *s = malloc(sizeof(*s));
		const char *ok = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from:to; bh=AAAA; b=AAAA";
		const char *nofrom = "v=1; a=rsa-sha256; d=example.org; s=sel; h=to; bh=AAAA; b=AAAA";
		const char *badi = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; i=@example.com";
		const char *subi = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; i=x@a.example.org";
		const char *tx = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; t=10; x=5";

		test_assert(dkim_sig_parse(ok, strlen(ok), s, &err) == 0 && !s->header_relaxed && s->nh == 2);
		test_assert(dkim_sig_parse(nofrom, strlen(nofrom), s, &err) == -1);
		test_assert(dkim_sig_parse(badi, strlen(badi), s, &err) == -1);
		test_assert(dkim_sig_parse(subi, strlen(subi), s, &err) == 0);
		test_assert(dkim_sig_parse(tx, strlen(tx), s, &err) == -1);
		test_assert_streq(s->d, "example.org");
		free(s);
	}
	test_end();
}

/* ---- sign and verify ---- */

static char keydir[] = "/tmp/tern-test-dkim-XXXXXX";
static char record[DKIM_KEY_RECORD_MAX + 1];
static const char *expect_name;

/* The zone line's strings joined: what a resolver would hand over. */
static void
set_record(const struct dkim_key *k)
{
	char *line = dkim_key_dns_line(k), *p, *o = record;
	bool in = false;

	for (p = strstr(line, " TXT ") + 5; *p != '\0'; p++) {
		if (*p == '"')
			in = !in;
		else if (in)
			*o++ = *p;
	}
	*o = '\0';
	free(line);
}

static enum dkim_lookup
lookup(void *arg, const char *name, struct dkim_txt *out)
{
	if (expect_name != NULL && strcmp(name, expect_name) != 0)
		return DKIM_LOOKUP_NONE;
	str_lcpy(out->rec[0], record, sizeof(out->rec[0]));
	out->n = 1;
	return DKIM_LOOKUP_OK;
}

static int
msg_fd(const char *text)
{
	char path[] = "/tmp/tern-test-dkim-msg-XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	return fd;
}

/* Signs msg, puts before it what prefix says, verifies: returns the result
 * of the first signature. */
static enum dkim_result
sign_verify(const struct dkim_key *k, const char *msg, const char *prefix, const char *replace_from,
            const char *replace_to, const char **reason)
{
	char *hdr = NULL, *full;
	const char *err;
	struct dkim_verdict v[DKIM_SIGS_MAX];
	size_t n = 0;
	int fd = msg_fd(msg);
	struct buf b = BUF_INIT;

	if (dkim_sign(k, fd, strlen(msg), time(NULL), &hdr, &err) != 0) {
		printf("# sign: %s\n", err);
		close(fd);
		return DKIM_PERMERROR;
	}
	close(fd);
	buf_puts(&b, prefix);
	buf_puts(&b, hdr);
	buf_puts(&b, msg);
	full = b.data;
	if (replace_from != NULL) {
		char *at = strstr(full, replace_from);

		if (at != NULL && strlen(replace_to) == strlen(replace_from))
			memcpy(at, replace_to, strlen(replace_to));
	}
	fd = msg_fd(full);
	if (dkim_verify(fd, strlen(full), time(NULL), lookup, NULL, v, DKIM_SIGS_MAX, &n, &err) != 0 || n != 1) {
		printf("# verify: n=%zu\n", n);
		close(fd);
		free(hdr);
		buf_free(&b);
		return DKIM_PERMERROR;
	}
	close(fd);
	free(hdr);
	buf_free(&b);
	*reason = v[0].reason;
	return v[0].result;
}

static const char message[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: hello  \r\n\tworld\r\n"
	"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
	"Message-ID: <1@example.org>\r\n"
	"\r\n"
	"Hi Bob,\r\n\r\nsee you.\r\n\r\n";

static void
test_roundtrip(struct dkim_keys *keys, const char *selector, const char *name)
{
	const struct dkim_key *k = dkim_keys_find(keys, "example.org", selector);
	const char *reason = NULL;
	char title[128];

	snprintf(title, sizeof(title), "dkim %s: sign then verify passes", name);
	test_begin(title);
	test_assert(k != NULL);
	if (k == NULL) {
		test_end();
		return;
	}
	set_record(k);
	test_assert_inteq(sign_verify(k, message, "", NULL, NULL, &reason), DKIM_PASS);
	test_end();

	snprintf(title, sizeof(title), "dkim %s: modified body fails (body hash)", name);
	test_begin(title);
	test_assert_inteq(sign_verify(k, message, "", "see you", "SEE you", &reason), DKIM_FAIL);
	test_assert_streq(reason, "body hash did not verify");
	test_end();

	snprintf(title, sizeof(title), "dkim %s: modified signed header fails", name);
	test_begin(title);
	test_assert_inteq(sign_verify(k, message, "", "Subject: hello", "Subject: HELLO", &reason), DKIM_FAIL);
	test_assert_streq(reason, "signature did not verify");
	test_end();

	snprintf(title, sizeof(title), "dkim %s: an added From fails (oversigned)", name);
	test_begin(title);
	test_assert_inteq(sign_verify(k, message, "From: mallory@example.com\r\n", NULL, NULL, &reason), DKIM_FAIL);
	test_end();

	snprintf(title, sizeof(title), "dkim %s: an unsigned header added passes", name);
	test_begin(title);
	test_assert_inteq(sign_verify(k, message, "Received: from x\r\n", NULL, NULL, &reason), DKIM_PASS);
	test_end();

	snprintf(title, sizeof(title), "dkim %s: relaxed survives refolding and case", name);
	test_begin(title);
	test_assert_inteq(sign_verify(k, message, "", "To: bob@", "tO:bob@ ", &reason), DKIM_FAIL);
	test_assert_inteq(sign_verify(k, message, "", "To: bob@", "tO :bob@", &reason), DKIM_PASS);
	test_end();

	snprintf(title, sizeof(title), "dkim %s: empty body, header-only message", name);
	test_begin(title);
	test_assert_inteq(sign_verify(k, "From: a@example.org\r\n\r\n", "", NULL, NULL, &reason), DKIM_PASS);
	test_assert_inteq(sign_verify(k, "From: a@example.org\r\n", "", NULL, NULL, &reason), DKIM_PASS);
	test_end();
}

static void
test_verify_errors(struct dkim_keys *keys)
{
	const struct dkim_key *k = dkim_keys_find(keys, "example.org", "rsa");
	const char *reason = NULL;

	test_begin("dkim: wrong key type, revoked key, no key");
	set_record(dkim_keys_find(keys, "example.org", "ed"));
	test_assert_inteq(sign_verify(k, message, "", NULL, NULL, &reason), DKIM_PERMERROR);
	strcpy(record, "v=DKIM1; p=");
	test_assert_inteq(sign_verify(k, message, "", NULL, NULL, &reason), DKIM_PERMERROR);
	test_assert_streq(reason, "key revoked");
	expect_name = "nothing";
	set_record(k);
	test_assert_inteq(sign_verify(k, message, "", NULL, NULL, &reason), DKIM_PERMERROR);
	test_assert_streq(reason, "no key");
	expect_name = NULL;
	test_end();

	test_begin("dkim: unsigned message, rsa-sha1 refused, A-R format");
	{
		int fd = msg_fd(message);
		struct dkim_verdict v[2];
		size_t n = 9;
		const char *err;
		char line[256];
		const char *sha1 = "DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=s; h=from; bh=AAAA; b=AAAAAAAAAAAA\r\n"
		                   "From: a@example.org\r\n\r\n";

		test_assert(dkim_verify(fd, strlen(message), time(NULL), lookup, NULL, v, 2, &n, &err) == 0 && n == 0);
		close(fd);
		fd = msg_fd(sha1);
		test_assert(dkim_verify(fd, strlen(sha1), time(NULL), lookup, NULL, v, 2, &n, &err) == 0 && n == 1);
		close(fd);
		test_assert_inteq(v[0].result, DKIM_PERMERROR);
		dkim_verdict_format(&v[0], line, sizeof(line));
		test_assert_streq(line, "dkim=permerror reason=\"rsa-sha1 is not accepted (RFC 8301)\" header.d=example.org "
		                        "header.s=s header.b=AAAAAAAA");
	}
	test_end();
}

static void
test_sign_choice(struct dkim_keys *keys)
{
	const char *msg = "From: x@other.example\r\n\r\nbody\r\n";
	char *hdr = NULL;
	const char *err;
	int fd = msg_fd(msg);

	test_begin("dkim: the signing domain is From's, else the envelope's, else none");
	test_assert(dkim_sign_message(keys, fd, strlen(msg), "bounce@nowhere.example", time(NULL), &hdr, &err) == 0);
	test_assert(hdr == NULL);
	test_assert(dkim_sign_message(keys, fd, strlen(msg), "bounce@Example.ORG", time(NULL), &hdr, &err) == 0);
	test_assert(hdr != NULL && strstr(hdr, "d=example.org;") != NULL);
	free(hdr);
	close(fd);
	test_end();
}

int
main(void)
{
	struct dkim_keys *keys = NULL;
	char *error = NULL;
	char cmd[128];

	test_canon();
	test_tags();
	if (mkdtemp(keydir) == NULL)
		return 1;
	test_begin("dkim keys: generate and load");
	test_assert(dkim_key_generate(keydir, "example.org", "rsa", DKIM_KEY_RSA, &error) == 0);
	test_assert(dkim_key_generate(keydir, "example.org", "ed", DKIM_KEY_ED25519, &error) == 0);
	test_assert(dkim_key_generate(keydir, "example.org", "ed", DKIM_KEY_ED25519, &error) == -1);   /* no overwrite */
	free(error);
	error = NULL;
	test_assert(dkim_key_generate(keydir, "../etc", "x", DKIM_KEY_ED25519, &error) == -1);
	free(error);
	error = NULL;
	test_assert(dkim_keys_load(keydir, &keys, &error) == 0 && keys->n == 2);
	test_end();
	if (keys != NULL && keys->n == 2) {
		test_roundtrip(keys, "rsa", "rsa-sha256");
		test_roundtrip(keys, "ed", "ed25519-sha256");
		test_verify_errors(keys);
		test_sign_choice(keys);
	}
	dkim_keys_free(&keys);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", keydir);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
