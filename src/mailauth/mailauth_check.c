/* SPF, DKIM and DMARC on one received message, and the
 * Authentication-Results field that records them (RFC 8601). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "mailauth/dkim_private.h"
#include "mailauth/mailauth.h"
#include "mailauth/mailauth_private.h"

static void
lower_copy(char *out, size_t outsize, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outsize; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static void
check_spf(const struct mailauth_msg *m, struct mailauth_result *out)
{
	const char *at = strrchr(m->mail_from, '@');
	struct spf_dns dns;

	/* RFC 7208 2.4: the null sender is checked by its HELO name */
	lower_copy(out->spf_domain, sizeof(out->spf_domain), at != NULL ? at + 1 : m->helo);
	mailauth_spf_dns(&dns);
	out->spf = spf_check_host(&dns, m->peer_ip, out->spf_domain, m->mail_from, m->helo, &out->spf_reason);
}

/* The RFC5322.From domain, or NULL when DMARC cannot use it: no From,
 * several From fields (RFC 7489 6.6.1), several addresses in it. */
static const char *
from_domain(const struct dkim_msg *msg, char *out, size_t outsize)
{
	const struct dkim_field *from = NULL;
	bool quoted = false;
	size_t i, n_at = 0;

	for (i = 0; i < msg->n; i++) {
		if (dkim_field_is(&msg->field[i], "from")) {
			if (from != NULL)
				return NULL;
			from = &msg->field[i];
		}
	}
	if (from == NULL)
		return NULL;
	for (i = from->name_len; i < from->len; i++) {
		char c = from->raw[i];

		if (c == '"')
			quoted = !quoted;
		else if (c == ',' && !quoted)
			return NULL;   /* a list of authors */
		else if (c == '@' && !quoted)
			n_at++;
	}
	if (n_at == 0 || dkim_msg_from_domain(msg, out, outsize) == -1)
		return NULL;
	return out;
}

static void
check_dmarc(const struct dkim_msg *msg, struct mailauth_result *out)
{
	struct dmarc_input in = { 0 };
	const char *dkim_d[DKIM_SIGS_MAX];
	char from[DOMAIN_MAX + 1];

	in.from_domain = from_domain(msg, from, sizeof(from));
	in.spf_domain = out->spf == SPF_PASS ? out->spf_domain : NULL;
	for (size_t i = 0; i < out->n_dkim; i++) {
		if (out->dkim[i].result == DKIM_PASS)
			dkim_d[in.n_dkim++] = out->dkim[i].d;
	}
	in.dkim_domains = dkim_d;
	in.pct_roll = arc4random_uniform(100);
	dmarc_evaluate(&in, mailauth_dmarc_lookup, NULL, &out->dmarc);
}

/* The authserv-id of an Authentication-Results field's value: the first
 * token after CFWS (RFC 8601 2.2). */
static bool
claims_us(const struct dkim_field *f, const char *authserv_id)
{
	const char *p = f->raw + f->name_len + 1, *end = f->raw + f->len, *start;
	size_t n = strlen(authserv_id);
	int depth = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '(' || depth > 0)) {
		depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		p++;
	}
	if (p < end && *p == '"')
		p++;
	start = p;
	while (p < end && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '"' && *p != '(')
		p++;
	return (size_t)(p - start) == n && strncasecmp(start, authserv_id, n) == 0;
}

/* Drops A-R fields that claim our authserv-id: they came from outside and
 * would read as our own verdict (RFC 8601 5).  Appends the header section
 * from offset start on without them to b; returns how many went. */
static unsigned
strip_forged(const struct dkim_msg *msg, const char *authserv_id, size_t start, struct buf *b)
{
	unsigned forged = 0;
	size_t from = start;

	for (size_t i = 0; i < msg->n; i++) {
		const struct dkim_field *f = &msg->field[i];
		size_t off = (size_t)(f->raw - msg->hdr), fend = off + f->len + 2;

		if (off < start || !dkim_field_is(f, "authentication-results") || !claims_us(f, authserv_id))
			continue;
		if (fend > msg->hdr_len)
			fend = msg->hdr_len;
		buf_append(b, msg->hdr + from, off - from);
		from = fend;
		forged++;
	}
	buf_append(b, msg->hdr + from, msg->hdr_len - from);
	return forged;
}

int
mailauth_check(const struct mailauth_msg *m, struct mailauth_result *out, const char **error_out)
{
	struct dkim_msg *msg = NULL;
	struct buf head = BUF_INIT, rest = BUF_INIT;
	size_t top = 0;
	char *ar;

	memset(out, 0, sizeof(*out));
	if (dkim_msg_read(m->fd, m->size, &msg, error_out) == -1)
		return -1;
	check_spf(m, out);
	if (dkim_verify(m->fd, m->size, time(NULL), mailauth_dkim_lookup, NULL, out->dkim, DKIM_SIGS_MAX,
	                &out->n_dkim, error_out) == -1) {
		dkim_msg_free(&msg);
		return -1;
	}
	check_dmarc(msg, out);
	/* Return-Path, added at final delivery, stays the first field
	 * (RFC 5321 4.4); our A-R goes right under it, above Received */
	if (msg->n > 0 && dkim_field_is(&msg->field[0], "return-path"))
		top = msg->field[0].len + 2;
	out->forged = strip_forged(msg, m->authserv_id, top, &rest);
	ar = mailauth_header(m, out);
	buf_append(&head, msg->hdr, top);
	buf_puts(&head, ar);
	free(ar);
	out->skip = top;
	if (out->forged > 0) {
		/* the header section goes again, without the forged fields;
		 * the file is copied from the empty line on */
		buf_append(&head, rest.data, rest.len);
		out->skip = msg->hdr_len;
	}
	out->head = head.data;
	out->head_len = head.len;
	buf_free(&rest);
	dkim_msg_free(&msg);
	return 0;
}

void
mailauth_result_free(struct mailauth_result *r)
{
	free(r->head);
	r->head = NULL;
}

/* An address or name for a property value: printable ASCII without the
 * characters A-R's syntax gives meaning to; anything else becomes '?'. */
static void
put_safe(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool ok = (c > 0x20 && c < 0x7f && strchr(";()\"\\", c) == NULL) || c >= 0x80;

		buf_append(b, ok ? s : "?", 1);
	}
}

char *
mailauth_header(const struct mailauth_msg *m, const struct mailauth_result *r)
{
	struct buf b = BUF_INIT;
	char v[512];

	buf_printf(&b, "Authentication-Results: %s;\r\n\tspf=%s", m->authserv_id, spf_result_name(r->spf));
	if (r->spf != SPF_PASS && r->spf_reason != NULL)
		buf_printf(&b, " (%s)", r->spf_reason);
	if (m->mail_from[0] != '\0') {
		buf_puts(&b, " smtp.mailfrom=");
		put_safe(&b, m->mail_from);
	} else {
		buf_puts(&b, " smtp.helo=");
		put_safe(&b, m->helo);
	}
	if (r->n_dkim == 0)
		buf_puts(&b, ";\r\n\tdkim=none");
	for (size_t i = 0; i < r->n_dkim; i++) {
		dkim_verdict_format(&r->dkim[i], v, sizeof(v));
		buf_printf(&b, ";\r\n\t%s", v);
	}
	buf_printf(&b, ";\r\n\tdmarc=%s", dmarc_result_name(r->dmarc.result));
	if (r->dmarc.result == DMARC_RESULT_PASS || r->dmarc.result == DMARC_RESULT_FAIL) {
		buf_printf(&b, " (p=%s", dmarc_policy_name(r->dmarc.policy));
		if (r->dmarc.result == DMARC_RESULT_FAIL && r->dmarc.disposition != r->dmarc.policy)
			buf_printf(&b, " dis=%s", dmarc_policy_name(r->dmarc.disposition));
		buf_puts(&b, ")");
	}
	if (r->dmarc.from_domain[0] != '\0') {
		buf_puts(&b, " header.from=");
		put_safe(&b, r->dmarc.from_domain);
	}
	buf_puts(&b, "\r\n");
	return b.data;
}
