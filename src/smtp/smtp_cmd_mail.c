/* MAIL and RCPT (RFC 5321 4.1.1.2-3, RFC 1870, 6152, 6531, 4954 5).
 *
 * Recipients and senders are looked up in the directory directly on the
 * loop thread (directory_for_thread): these are indexed SQLite reads of a
 * small, hot database (WAL, so never blocked by a writer) and take
 * microseconds; sending them to a worker would cost more than the read.
 * Password checks, which take tens of milliseconds, do go to workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/directory.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "smtp/smtp_session.h"

/* The reply for a parser error; enh_path is the enhanced code for a bad
 * address (5.1.7 sender, 5.1.3 recipient). */
static int
parse_error_reply(struct smtp_session *s, enum smtp_parse_error e, const char *error, const char *enh_path)
{
	switch (e) {
	case SMTP_PARSE_BAD_PATH:
	case SMTP_PARSE_PATH_TOO_LONG:
		return smtp_error(s, 501, enh_path, "%s", error);
	case SMTP_PARSE_UNKNOWN_PARAM:
		return smtp_error(s, 555, "5.5.4", "%s", error);
	case SMTP_PARSE_NON_ASCII:
		return smtp_error(s, 553, "5.6.7", "%s", error);
	default:
		return smtp_error(s, 501, "5.5.4", "%s", error);
	}
}

/* MAIL FROM:<reverse-path> [SP mail-parameters] */
int
smtp_cmd_mail(struct smtp_session *s, const char *args)
{
	struct smtp_mail_args m;
	struct smtp_tx *tx;
	const char *error = "Syntax error";
	enum smtp_parse_error e;

	if (s->tx != NULL)
		return smtp_error(s, 503, "5.5.1", "Nested MAIL command");
	if (smtp_is_submission(s)) {
		if (smtp_must_starttls(s))
			return smtp_error(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		if (s->auth_user == NULL)
			return smtp_error(s, 530, "5.7.0", "Authentication required");
	}
	e = smtp_parse_mail(args, &m, &error);
	if (e != SMTP_PARSE_OK)
		return parse_error_reply(s, e, error, "5.1.7");
	if (m.path.postmaster)
		return smtp_error(s, 501, "5.1.7", "Domain missing in sender address");
	if (m.any_param && !s->esmtp)
		return smtp_error(s, 555, "5.5.4", "Parameters need EHLO");
	if (m.size_given && m.size > s->cfg->max_message_size)
		return smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed limit");

	if (smtp_is_submission(s) && !m.path.null_path) {
		struct directory *d = directory_for_thread(s->cfg->data_dir);
		int r = d == NULL ? -1 : directory_sender_allowed(d, s->auth_user, m.path.addr, &error);

		if (r < 0) {
			log_warnx("smtp %s sender lookup failed: %s", conn_id(s->c), d == NULL ? "no directory" : error);
			return smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		}
		if (r == 0) {
			char u[64], f[64];

			log_info("smtp %s sender rejected user=%s from=%s", conn_id(s->c),
			         smtp_log_safe(s->auth_user, u, sizeof(u)), smtp_log_safe(m.path.addr, f, sizeof(f)));
			return smtp_error(s, 553, "5.7.1", "Sender address rejected: not owned by user");
		}
	}

	tx = smtp_tx_new(s);
	tx->mail_from = arena_strdup(tx->arena, m.path.addr);
	tx->size = m.size_given ? m.size : 0;
	tx->smtputf8 = m.smtputf8;
	tx->body_8bit = m.body == SMTP_BODY_8BITMIME;
	tx->ret = m.ret;
	tx->envid = m.envid[0] != '\0' ? arena_strdup(tx->arena, m.envid) : NULL;
	return smtp_reply(s, 250, "2.1.0", "Ok");
}

static void
first_domain(const char *domain, void *arg)
{
	char *out = arg;

	if (out[0] == '\0')
		snprintf(out, DOMAIN_MAX + 1, "%s", domain);
}

/* "<Postmaster>" without a domain (RFC 5321 4.1.1.3) goes to the
 * postmaster of our host name's domain: postmaster@<hostname>, then of
 * each parent domain (mail.example.com -> example.com), and failing
 * those, of the first local domain in name order.  The first that
 * resolves to a local mailbox wins; addr_out receives it. */
static int
resolve_postmaster(struct smtp_session *s, struct directory *d, struct rcpt_resolution *res,
                   char addr_out[ADDRESS_MAX + 1], const char **error_out)
{
	char first[DOMAIN_MAX + 1] = "";
	const char *dom = s->cfg->hostname;

	while (dom != NULL && strchr(dom, '.') != NULL) {
		snprintf(addr_out, ADDRESS_MAX + 1, "postmaster@%s", dom);
		if (directory_resolve_rcpt(d, addr_out, res, error_out) == -1)
			return -1;
		if (res->kind == RCPT_LOCAL)
			return 0;
		dom = strchr(dom, '.') + 1;
	}
	if (directory_domain_list(d, first_domain, first, error_out) == -1)
		return -1;
	res->kind = RCPT_UNKNOWN_USER;
	if (first[0] == '\0')
		return 0;
	snprintf(addr_out, ADDRESS_MAX + 1, "postmaster@%s", first);
	if (directory_resolve_rcpt(d, addr_out, res, error_out) == -1)
		return -1;
	if (res->kind != RCPT_LOCAL)
		res->kind = RCPT_UNKNOWN_USER;   /* never relayed */
	return 0;
}

/* RCPT TO:<forward-path> [SP rcpt-parameters] */
int
smtp_cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_rcpt_args r;
	struct rcpt_resolution *res;
	struct directory *d;
	char pm[ADDRESS_MAX + 1], srs[ADDRESS_MAX + 1];
	const char *error = "Syntax error", *addr, *shown;
	bool srs_reversed = false;
	enum smtp_parse_error e;
	unsigned i;
	int ret;

	if (tx == NULL)
		return smtp_error(s, 503, "5.5.1", "Need MAIL command");
	if (tx->bdat)
		return smtp_error(s, 503, "5.5.1", "RCPT not allowed after BDAT");
	e = smtp_parse_rcpt(args, tx->smtputf8, &r, &error);
	if (e != SMTP_PARSE_OK)
		return parse_error_reply(s, e, error, "5.1.3");
	if (tx->n_rcpt >= s->cfg->max_recipients)
		return smtp_reply(s, 452, "4.5.3", "Too many recipients");

	d = directory_for_thread(s->cfg->data_dir);
	if (d == NULL)
		return smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
	/* a bounce to an address SRS made: sent on to the original sender */
	if (!r.path.postmaster && (ret = smtp_srs_rcpt(s, r.path.addr, srs)) != 0) {
		if (ret == -1)
			return 0;
		srs_reversed = true;
	}
	res = xmalloc(sizeof(*res));
	addr = srs_reversed ? srs : r.path.addr;
	if (r.path.postmaster) {
		ret = resolve_postmaster(s, d, res, pm, &error);
		addr = "postmaster";
	} else {
		ret = directory_resolve_rcpt(d, addr, res, &error);
	}
	/* replies name the address as the client gave it */
	shown = srs_reversed ? r.path.addr : addr;
	if (ret == -1) {
		log_warnx("smtp %s recipient lookup failed: %s", conn_id(s->c), error);
		free(res);
		return smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
	}

	switch (res->kind) {
	case RCPT_UNKNOWN_USER:
		if (res->rejected) {
			/* tern user set --reject-mail on (RFC 3463 5.2.1) */
			free(res);
			return smtp_error(s, 550, "5.2.1", "<%s>: Recipient address rejected: Mailbox disabled", shown);
		}
		free(res);
		return smtp_error(s, 550, "5.1.1", "<%s>: Recipient address rejected: User unknown", shown);
	case RCPT_REMOTE:
		if (!smtp_is_submission(s) && !srs_reversed) {
			free(res);
			return smtp_error(s, 554, "5.7.1", "<%s>: Relay access denied", shown);
		}
		/* submission: the user is authenticated (MAIL required it);
		 * a reversed SRS address: one we made (the hash said so) */
		smtp_tx_add_remote(tx, addr, r.notify, r.orcpt[0] != '\0' ? r.orcpt : NULL);
		break;
	case RCPT_LOCAL:
		/* Mailbox full: refused only when every local target is (an
		 * alias still reaches its members who have room). */
		for (i = 0; i < res->n_local; i++)
			if (!smtp_rcpt_over_quota(s, d, res->local[i], tx->size))
				break;
		if (res->n_local > 0 && i == res->n_local) {
			free(res);
			return smtp_reply(s, 452, "4.2.2", "<%s>: Mailbox full, try again later", shown);
		}
		for (i = 0; i < res->n_local; i++)
			smtp_strvec_add(tx, &tx->local, res->local[i]);
		/* alias targets elsewhere: forwarded through the queue, on
		 * port 25 too (the alias is ours, so this is not relaying) */
		for (i = 0; i < res->n_remote; i++) {
			/* RFC 3461 5.2.1: an expanded alias keeps the address
			 * the sender used as its original recipient */
			char orcpt[SMTP_ORCPT_MAX + 1];

			if (r.orcpt[0] != '\0')
				snprintf(orcpt, sizeof(orcpt), "%s", r.orcpt);
			else
				smtp_xtext_encode("rfc822;", addr, orcpt, sizeof(orcpt));
			smtp_tx_add_remote(tx, res->remote[i], r.notify, orcpt);
		}
		if ((r.notify & SMTP_NOTIFY_SUCCESS) && res->n_local > 0)
			smtp_strvec_add(tx, &tx->success, addr);
		break;
	}
	free(res);
	if (tx->n_rcpt++ == 0)
		tx->first_rcpt = arena_strdup(tx->arena, r.path.postmaster ? pm : r.path.addr);
	return smtp_reply(s, 250, "2.1.5", "Ok");
}
