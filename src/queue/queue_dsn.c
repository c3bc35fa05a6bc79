/* Building and sending delivery status notifications (RFC 3464, 3462):
 * multipart/report with a human part, message/delivery-status, and the
 * original header as text/rfc822-headers.  Sent from MAILER-DAEMON with
 * the null sender, so that a DSN about a DSN is never made. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "directory/directory.h"
#include "lib/buf.h"
#include "queue/queue_dsn.h"
#include "store/store.h"
#include "store/store_private.h"

const char *
queue_dsn_status(const char *reply, char *out, size_t size)
{
	const char *p = reply != NULL ? reply : "";
	int cls, sub, det, n = 0;

	/* "550 5.1.1 text" or "550-5.1.1": the status follows the code */
	if (strlen(p) >= 4 && (p[3] == ' ' || p[3] == '-'))
		p += 4;
	if (sscanf(p, "%1d.%3d.%3d%n", &cls, &sub, &det, &n) == 3 && n > 0 && (cls == 2 || cls == 4 || cls == 5) &&
	    (p[n] == '\0' || p[n] == ' ')) {
		snprintf(out, size, "%d.%d.%d", cls, sub, det);
		return out;
	}
	snprintf(out, size, "%c.0.0", reply != NULL && reply[0] == '5' ? '5' : '4');
	return out;
}

static void
rfc5322_date(int64_t when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* The original header, up to the blank line, CRLF lines, bounded. */
static void
put_orig_header(struct buf *b, int fd)
{
	char chunk[8192];
	size_t total = 0;
	off_t off = 0;
	bool at_bol = true;

	while (fd >= 0 && total < QUEUE_DSN_HEADERS_MAX) {
		ssize_t r = pread(fd, chunk, sizeof(chunk), off);

		if (r <= 0)
			break;
		off += r;
		for (ssize_t i = 0; i < r && total < QUEUE_DSN_HEADERS_MAX; i++, total++) {
			char c = chunk[i];

			if (at_bol && (c == '\r' || c == '\n'))
				return;   /* the blank line ends the header */
			buf_append(b, &c, 1);
			at_bol = c == '\n';
		}
	}
	if (!at_bol)
		buf_append(b, "\r\n", 2);
}

/* xtext (RFC 3461 4) decoded: "+2B" is '+'; anything odd is kept. */
static void
put_xtext(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned v;

		if (s[0] == '+' && sscanf(s + 1, "%2x", &v) == 1 && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2]) && v >= 0x21 && v <= 0x7e) {
			char c = (char)v;

			buf_append(b, &c, 1);
			s += 2;
		} else if ((unsigned char)*s >= 0x21 && (unsigned char)*s <= 0x7e) {
			buf_append(b, s, 1);
		}
	}
}

static const char *const action_names[] = { "failed", "delayed", "delivered", "relayed" };

static void
put_text_part(struct buf *b, const struct queue_dsn *dsn, const char *until)
{
	buf_printf(b, "This is the mail system at host %s.\r\n\r\n", dsn->hostname);
	switch (dsn->action) {
	case QUEUE_DSN_DELAYED:
		buf_printf(b, "Your message could not be delivered yet to the recipients below.\r\n"
		              "It will be tried again until %s; you need not send it again.\r\n\r\n", until);
		break;
	case QUEUE_DSN_DELIVERED:
		buf_printf(b, "Your message was delivered to the mailboxes of the recipients below,\r\n"
		              "as you asked.\r\n\r\n");
		break;
	case QUEUE_DSN_RELAYED:
		buf_printf(b, "Your message was handed on to the recipients' mail servers below. They\r\n"
		              "do not send delivery notices, so this is the last one you will get.\r\n\r\n");
		break;
	case QUEUE_DSN_FAILED:
		buf_printf(b, "I'm sorry to have to inform you that your message could not\r\n"
		              "be delivered to one or more recipients. The reasons are below.\r\n\r\n");
		break;
	}
	for (size_t i = 0; i < dsn->n_rcpts; i++)
		buf_printf(b, "<%s>: %s%s%s%s\r\n", dsn->rcpts[i].rcpt, dsn->rcpts[i].remote_mta != NULL ? "host " : "",
		           dsn->rcpts[i].remote_mta != NULL ? dsn->rcpts[i].remote_mta : "",
		           dsn->rcpts[i].remote_mta != NULL ? " said: " : "", dsn->rcpts[i].reply);
	buf_printf(b, "\r\n");
}

static void
put_status_part(struct buf *b, const struct queue_dsn *dsn, const char *arrival, const char *until)
{
	char status[16];

	buf_printf(b, "Reporting-MTA: dns; %s\r\n", dsn->hostname);
	buf_printf(b, "X-Tern-Queue-ID: %s\r\n", dsn->orig_id);
	if (dsn->envid != NULL) {
		buf_printf(b, "Original-Envelope-Id: ");
		put_xtext(b, dsn->envid);
		buf_printf(b, "\r\n");
	}
	buf_printf(b, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < dsn->n_rcpts; i++) {
		const struct queue_dsn_rcpt *r = &dsn->rcpts[i];

		buf_printf(b, "\r\n");
		if (r->orcpt != NULL) {
			const char *semi = strchr(r->orcpt, ';');

			if (semi != NULL) {
				buf_printf(b, "Original-Recipient: %.*s;", (int)(semi - r->orcpt), r->orcpt);
				put_xtext(b, semi + 1);
				buf_printf(b, "\r\n");
			}
		}
		buf_printf(b, "Final-Recipient: rfc822; %s\r\n", r->rcpt);
		buf_printf(b, "Action: %s\r\n", action_names[dsn->action]);
		buf_printf(b, "Status: %s\r\n", dsn->action >= QUEUE_DSN_DELIVERED
		                                    ? "2.0.0" : queue_dsn_status(r->reply, status, sizeof(status)));
		if (r->remote_mta != NULL) {
			buf_printf(b, "Remote-MTA: dns; %s\r\n", r->remote_mta);
			buf_printf(b, "Diagnostic-Code: smtp; %s\r\n", r->reply);
		} else if (dsn->action != QUEUE_DSN_DELIVERED) {
			buf_printf(b, "Diagnostic-Code: X-Tern; %s\r\n", r->reply);
		}
		if (dsn->action == QUEUE_DSN_DELAYED)
			buf_printf(b, "Will-Retry-Until: %s\r\n", until);
	}
}

/* Everything before the returned message (or its header). */
static void
build(struct buf *b, const struct queue_dsn *dsn, const char *boundary, int64_t now)
{
	static const char *const subjects[] = {
		"Undelivered Mail Returned to Sender", "Delayed Mail (still being retried)",
		"Successful Mail Delivery Report", "Successful Mail Delivery Report",
	};
	char date[64], arrival[64], until[64];

	rfc5322_date(now, date, sizeof(date));
	rfc5322_date(dsn->arrival, arrival, sizeof(arrival));
	rfc5322_date(dsn->retry_until, until, sizeof(until));
	buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", dsn->hostname);
	buf_printf(b, "To: <%s>\r\n", dsn->orig_sender);
	buf_printf(b, "Subject: %s\r\n", subjects[dsn->action]);
	buf_printf(b, "Date: %s\r\n", date);
	buf_printf(b, "Message-ID: <%s.%lld.%s@%s>\r\n", dsn->orig_id, (long long)now, action_names[dsn->action],
	           dsn->hostname);
	buf_printf(b, "Auto-Submitted: auto-replied\r\n");
	buf_printf(b, "MIME-Version: 1.0\r\n");
	buf_printf(b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	buf_printf(b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
	buf_printf(b, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	put_text_part(b, dsn, until);
	buf_printf(b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
	put_status_part(b, dsn, arrival, until);
	if (dsn->full && dsn->orig_fd >= 0) {
		buf_printf(b, "\r\n--%s\r\nContent-Type: message/rfc822\r\n\r\n", boundary);
	} else {
		buf_printf(b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
		put_orig_header(b, dsn->orig_fd);
	}
}

/* RET=FULL: the original message, copied from its file into the spool
 * in pieces (never whole in memory), with a line end at its end. */
static int
put_orig_message(struct store_spool *sp, const struct queue_dsn *dsn, enum store_error *err)
{
	char chunk[65536];
	off_t off = 0;
	char last = '\n';

	while ((uint64_t)off < dsn->orig_size) {
		ssize_t r = pread(dsn->orig_fd, chunk, sizeof(chunk), off);

		if (r <= 0)
			break;
		if (store_spool_write(sp, chunk, (size_t)r, err) == -1)
			return -1;
		last = chunk[r - 1];
		off += r;
	}
	return last == '\n' ? 0 : store_spool_write(sp, "\r\n", 2, err);
}

/* The DSN's recipient: a local mailbox (through aliases) or the queue. */
static int
hand_on(const char *data_dir, struct store_spool *sp, const char *to, int64_t now, const char **error_out)
{
	struct directory *d = directory_for_thread(data_dir);
	struct rcpt_resolution *res;
	enum store_error err;
	char qid[QUEUE_ID_MAX + 1];
	const char *local[DIRECTORY_ALIAS_TARGETS_MAX], *remote[DIRECTORY_ALIAS_TARGETS_MAX];
	size_t nl = 0, nr = 0;
	int r = -1;

	if (d == NULL) {
		*error_out = "directory unavailable";
		return -1;
	}
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		*error_out = "out of memory";
		return -1;
	}
	if (directory_resolve_rcpt(d, to, res, error_out) == -1)
		goto out;
	switch (res->kind) {
	case RCPT_LOCAL:
		for (unsigned i = 0; i < res->n_local; i++)
			local[nl++] = res->local[i];
		for (unsigned i = 0; i < res->n_remote; i++)
			remote[nr++] = res->remote[i];
		break;
	case RCPT_REMOTE:
		remote[nr++] = to;
		break;
	case RCPT_UNKNOWN_USER:
		/* a local sender that no longer exists: nobody to tell */
		*error_out = "sender is no longer a local address";
		r = 0;
		goto out;
	}
	if (nl > 0 && store_deliver(data_dir, sp, local, nl, now, &err, error_out) == -1)
		goto out;
	if (nr > 0 && queue_enqueue(data_dir, sp, "", remote, nr, NULL, NULL, qid, &err, error_out) == -1)
		goto out;
	r = 0;
out:
	free(res);
	return r;
}

int
queue_dsn_send(const char *data_dir, const struct queue_dsn *dsn, const char **error_out)
{
	struct store_spool sp = { .fd = -1 };
	enum store_error err;
	char boundary[40], rnd[17];
	struct buf b;
	int64_t now = (int64_t)time(NULL);
	int r = -1;

	if (dsn->orig_sender == NULL || dsn->orig_sender[0] == '\0') {
		*error_out = "no DSN for the null sender";
		return -1;
	}
	store_random_hex(rnd, sizeof(rnd), 8);
	snprintf(boundary, sizeof(boundary), "tern-dsn-%s", rnd);
	buf_init(&b);
	build(&b, dsn, boundary, now);
	if (store_spool_create(data_dir, &sp, error_out) == -1)
		goto out;
	if (store_spool_write(&sp, b.data, b.len, &err) == -1 ||
	    (dsn->full && dsn->orig_fd >= 0 && put_orig_message(&sp, dsn, &err) == -1)) {
		*error_out = store_tls_errorf("writing the DSN: %s", strerror(errno));
		goto out;
	}
	buf_reset(&b);
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	if (store_spool_write(&sp, b.data, b.len, &err) == -1 || store_spool_commit(&sp, &err) == -1) {
		*error_out = store_tls_errorf("writing the DSN: %s", strerror(errno));
		goto out;
	}
	r = hand_on(data_dir, &sp, dsn->orig_sender, now, error_out);
out:
	store_spool_discard(&sp);
	buf_free(&b);
	return r;
}
