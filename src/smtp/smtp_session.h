/* The SMTP session: state shared by smtp_session.c and the smtp_cmd_*.c
 * files.  Private to src/smtp.
 *
 * Memory (STYLE.md): an idle session is this struct plus its HELO name
 * (and the authenticated user): about a hundred bytes.  A mail
 * transaction gets its own arena (struct smtp_tx), freed when it ends; an
 * AUTH exchange gets a zeroing arena, freed (wiped) when it ends.  The
 * message body is never held: it streams to a spool file through a small
 * write buffer. */
#ifndef TERN_SMTP_SESSION_H
#define TERN_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/conn.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"
#include "store/store.h"

/* The spool write buffer: message bytes are gathered here and written in
 * pieces of this size (fewer system calls than one per dot-stuffed line). */
#define SMTP_SPOOL_WBUF (32 * 1024)
/* Message ids: 16 hex digits from the system's random source. */
#define SMTP_ID_LEN 16

enum smtp_state {
	SMTP_ST_CMD,     /* reading command lines */
	SMTP_ST_AUTH,    /* reading an AUTH continuation line */
	SMTP_ST_DATA,    /* reading a DATA body */
	SMTP_ST_BDAT,    /* reading a BDAT chunk */
};

/* A list of strings in the transaction arena. */
struct smtp_strvec {
	const char **v;
	size_t n, cap;
};

/* DSN requests (RFC 3461) of one recipient headed for the queue. */
struct smtp_rcpt_dsn {
	unsigned notify;                /* SMTP_NOTIFY_* bits, 0: not given */
	const char *orcpt;              /* "type;xtext" or NULL */
};

/* One mail transaction: from MAIL to the end of DATA/BDAT LAST or RSET. */
struct smtp_tx {
	struct arena *arena;
	char id[SMTP_ID_LEN + 1];
	char *mail_from;                /* "" for the null sender */
	bool smtputf8;
	bool body_8bit;
	bool bdat;                      /* a BDAT chunk was taken: DATA refused */
	unsigned n_rcpt;                /* accepted RCPT commands */
	const char *first_rcpt;         /* for Received "for" (when n_rcpt == 1) */
	struct smtp_strvec local;       /* local users (deduplicated at delivery) */
	struct smtp_strvec remote;      /* addresses to queue, each once */
	struct smtp_rcpt_dsn *remote_dsn; /* what each asked for, parallel to remote.v */
	enum smtp_dsn_ret ret;          /* MAIL RET= */
	const char *envid;              /* MAIL ENVID=, or NULL */
	struct smtp_strvec success;     /* local recipients that asked NOTIFY=SUCCESS */

	/* the message being received (DATA or BDAT) */
	bool spool_open;
	struct store_spool spool;
	struct smtp_body body;
	char *wbuf;                     /* SMTP_SPOOL_WBUF bytes */
	size_t wlen;
	enum store_error spool_err;
	uint64_t bdat_total;            /* chunk bytes announced so far */
	uint64_t size;                  /* MAIL SIZE=, 0 when not given */
	struct smtp_submit_header *submit; /* submission: the header filter, else NULL */
};

struct smtp_auth;

struct smtp_session {
	struct conn *c;
	const struct tern_config *cfg;
	enum service service;
	enum smtp_state state;
	unsigned errors;                /* client mistakes, see smtp_error() */
	unsigned junk;                  /* NOOP, RSET, VRFY, HELP so far (SMTP_JUNK_COMMANDS_MAX) */
	unsigned preauth_cmds;          /* commands before AUTH succeeded (submission) */
	unsigned n_msgs;                /* messages accepted on this connection */
	bool greeted;                   /* HELO or EHLO was accepted */
	bool esmtp;                     /* ... and it was EHLO */
	bool busy;                      /* a deferred job or a delay runs: take no input */
	bool output_paused;             /* paused until output drains */
	bool rearm_timeout;             /* set the idle timeout again (after STARTTLS) */
	char *helo;                     /* heap; replaced by each HELO/EHLO */
	char *auth_user;                /* heap; NULL until AUTH succeeds */
	struct smtp_tx *tx;             /* NULL outside a transaction */
	struct smtp_auth *auth;         /* NULL outside an AUTH exchange */

	/* a BDAT chunk being read (state SMTP_ST_BDAT) */
	uint64_t bdat_left;
	uint64_t bdat_size;
	bool bdat_last;
	/* the chunk is being thrown away (a refused BDAT); once it has all
	 * been read, the reply below goes out (code 0: already replied) */
	bool bdat_discard;
	bool bdat_reject_counts;        /* ... and counts as a client error */
	/* The proxy role (smtp_proxy.c): the hop to the user's back end,
	 * then the relay (proxied: every byte goes through src/proxy).  On a
	 * back end: the client's address a trusted proxy passed on with
	 * XCLIENT ("" if none). */
	struct proxy *proxy;
	bool proxied;
	char orig_addr[64];
	unsigned orig_port;
	int bdat_reject_code;
	const char *bdat_reject_enh;    /* static */
	const char *bdat_reject_text;   /* static */
};

/* smtp_session.c */

/* Queues "code enh text\r\n".  Returns 0. */
int smtp_reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same, for a client mistake: counts it, and past SMTP_MAX_ERRORS
 * adds "421 4.7.0 <host> Too many errors" and closes.  Returns 0. */
int smtp_error(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* true if a password may be sent on this connection now: TLS is active,
 * or [auth] allow_plaintext permits it for this peer. */
bool smtp_auth_allowed_here(const struct smtp_session *s);
/* true on submission (587) with TLS configured but not started, when
 * plaintext passwords are not permitted: MAIL and AUTH get 530 5.7.0
 * "Must issue a STARTTLS command first". */
bool smtp_must_starttls(const struct smtp_session *s);
/* true on the submission ports. */
bool smtp_is_submission(const struct smtp_session *s);
/* True when user's mailbox holds its quota already, or would with size
 * more octets (smtp_quota.c); false when the user has no quota or the
 * check cannot be made (delivery then goes ahead). */
struct directory;
bool smtp_rcpt_over_quota(struct smtp_session *s, struct directory *d, const char *user, uint64_t size);
/* Starts a transaction (s->tx must be NULL). */
struct smtp_tx *smtp_tx_new(struct smtp_session *s);
/* Ends the transaction, discarding its spool file if any. */
void smtp_tx_free(struct smtp_session *s);
/* Adds a copy of str to v (in the transaction's arena). */
void smtp_strvec_add(struct smtp_tx *tx, struct smtp_strvec *v, const char *str);
/* Adds a recipient for the queue with its DSN requests, unless it is
 * there already (two RCPTs, or aliases, reaching one address: the first
 * one's requests stand). */
void smtp_tx_add_remote(struct smtp_tx *tx, const char *addr, unsigned notify, const char *orcpt);
/* Stops reading input until smtp_session_unbusy() (deferred work). */
void smtp_session_busy(struct smtp_session *s);
void smtp_session_unbusy(struct smtp_session *s);
/* Copies s into out (outsize bytes) with anything outside printable
 * ASCII replaced by '?', for log lines; returns out. */
const char *smtp_log_safe(const char *s, char *out, size_t outsize);

/* smtp_cmd_basic.c */
int smtp_cmd_helo(struct smtp_session *s, const char *args);
int smtp_cmd_ehlo(struct smtp_session *s, const char *args);
int smtp_cmd_rset(struct smtp_session *s, const char *args);
int smtp_cmd_noop(struct smtp_session *s, const char *args);
int smtp_cmd_quit(struct smtp_session *s, const char *args);
int smtp_cmd_vrfy(struct smtp_session *s, const char *args);
int smtp_cmd_expn(struct smtp_session *s, const char *args);
int smtp_cmd_help(struct smtp_session *s, const char *args);
int smtp_cmd_starttls(struct smtp_session *s, const char *args);

/* smtp_cmd_mail.c */
int smtp_cmd_mail(struct smtp_session *s, const char *args);
int smtp_cmd_rcpt(struct smtp_session *s, const char *args);

/* smtp_cmd_data.c */
int smtp_cmd_data(struct smtp_session *s, const char *args);
int smtp_cmd_bdat(struct smtp_session *s, const char *args);
/* BURL SP absolute-URI [SP "LAST"]   RFC 4468 3 */
int smtp_cmd_burl(struct smtp_session *s, const char *args);
/* Whether BURL is offered to s: submission, logged in, a reader set. */
bool smtp_burl_offered(const struct smtp_session *s);
/* Takes body bytes from the connection in SMTP_ST_DATA / SMTP_ST_BDAT.
 * Returns true if it made progress and the input loop should go on. */
bool smtp_data_input(struct smtp_session *s);
bool smtp_bdat_input(struct smtp_session *s);

/* smtp_srs.c */
/* RCPT of addr: if it is an SRS address at our SRS domain (and SRS is
 * on), reverses it.  Returns 0 when it is not one (look it up as usual),
 * 1 with the address to forward to in out, or -1 when it replied (550
 * 5.1.1 for a bad hash or an expired one, 451 without a key). */
int smtp_srs_rcpt(struct smtp_session *s, const char *addr, char out[ADDRESS_MAX + 1]);
/* At the end of a port-25 message with remote recipients (alias targets
 * elsewhere, reversed SRS addresses): the SRS sender for the queue entry,
 * in the transaction arena, or NULL to keep the envelope sender (SRS
 * off, the null sender, a sender in a local domain or at the SRS domain,
 * a result too long: logged). */
const char *smtp_srs_sender(struct smtp_session *s);

/* smtp_deliver.c */
/* The message is complete and valid: commits, delivers and queues it in
 * a worker job, replies, and ends the transaction. */
void smtp_deliver(struct smtp_session *s);

/* smtp_submit.c: RFC 6409 8, on the submission ports only */
struct smtp_submit_header;
/* At the start of a message: puts the header filter in front of the spool
 * sink (*sink, *arg are replaced) and keeps it in s->tx->submit. */
void smtp_submit_begin(struct smtp_session *s, smtp_body_sink_fn **sink, void **arg);
/* The message is in: a header section without a body gets its missing
 * fields.  Returns 0, or -1 if the spool write failed. */
int smtp_submit_finish(struct smtp_session *s);
/* Checks the From header against the login.  Returns 0 to deliver, or
 * -1 when it replied, logged and ended the transaction. */
int smtp_submit_check(struct smtp_session *s);

/* smtp_cmd_auth.c */
int smtp_cmd_auth(struct smtp_session *s, const char *args);

/* smtp_proxy.c: a submission login on a proxy goes on at the user's
 * back end (target: a struct proxy_target): 235 when the hop is made,
 * 454 4.7.0 when it failed.  Then the connection's events go to the
 * relay. */
struct proxy_target;
void smtp_proxy_start(struct smtp_session *s, const char *user, const struct proxy_target *target);
void smtp_proxy_input(struct smtp_session *s);
void smtp_proxy_drained(struct smtp_session *s);
/* XCLIENT ADDR=... PORT=... on a back end's submission port, from a
 * trusted proxy only (Postfix's reply: 220 and a new session). */
int smtp_cmd_xclient(struct smtp_session *s, const char *args);
/* The client's address for logs: XCLIENT's, or the connection's peer. */
const char *smtp_client_addr(const struct smtp_session *s);
/* Handles one AUTH continuation line (state SMTP_ST_AUTH). */
void smtp_auth_line(struct smtp_session *s, char *line, size_t len);
/* Reports an overlong AUTH line and ends the exchange. */
void smtp_auth_line_too_long(struct smtp_session *s);
/* Ends an AUTH exchange, wiping what it held. */
void smtp_auth_free(struct smtp_session *s);

#endif
