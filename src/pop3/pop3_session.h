/* A POP3 session: private to src/pop3.  pop3.c holds the connection
 * callbacks and the command loop, pop3_cmd_auth.c the AUTHORIZATION
 * state (USER, PASS, AUTH, STLS, CAPA), pop3_cmd_mail.c the TRANSACTION
 * and UPDATE states, pop3_retr.c the multi-line replies that stream. */
#ifndef TERN_POP3_SESSION_H
#define TERN_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "lib/limits.h"
#include "lib/conn.h"
#include "lib/name_count.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_stuff.h"
#include "store/store.h"

/* How long a session may sit idle before it logs in.  RFC 1939 asks for at
 * least 10 minutes only once authenticated; before that Dovecot's and
 * nginx's login processes use far less, and so do we. */
#define POP3_PREAUTH_TIMEOUT_SEC AUTH_PREAUTH_TIMEOUT_SEC
/* Bytes read from a message file at once while streaming RETR/TOP. */
#define POP3_RETR_CHUNK (64 * 1024)
/* Output produced in one turn of the event loop by a streaming reply
 * before it yields to other connections (DESIGN.md promise 3). */
#define POP3_STREAM_TURN_MAX (1024 * 1024)

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,          /* QUIT in TRANSACTION: expunging, then close */
};

enum pop3_stream_kind {
	POP3_STREAM_MSG,            /* RETR or TOP */
	POP3_STREAM_LIST,
	POP3_STREAM_UIDL,
};

/* A multi-line reply that is produced while the output drains. */
struct pop3_stream {
	enum pop3_stream_kind kind;
	size_t next;                /* LIST/UIDL: next message index */
	int fd;                     /* RETR/TOP: the message file */
	struct pop3_stuffer stuffer;
	char *chunk;                /* POP3_RETR_CHUNK bytes */
	struct buf out;
	uint64_t sent;              /* bytes produced (for the log) */
};

struct pop3_login_job;
struct pop3_lock;

/* AUTH mechanisms (RFC 5034): PLAIN, and OAuth 2.0 bearer tokens when
 * [oauth] is set. */
enum { POP3_SASL_PLAIN, POP3_SASL_OAUTHBEARER, POP3_SASL_XOAUTH2 };

struct pop3_session {
	struct conn *c;
	const struct tern_config *cfg;
	enum service service;
	enum pop3_state state;
	unsigned errors;            /* client mistakes; POP3_MAX_ERRORS closes */
	unsigned preauth_cmds;      /* commands in the AUTHORIZATION state */
	/* Something owns the session and no command may be read: a login or
	 * expunge job, a delayed failure reply, or a streaming reply.  Input
	 * is paused meanwhile (conn_defer, or our own conn_pause). */
	bool busy;
	bool output_paused;         /* paused because output reached NET_OUTPUT_HIGH */
	bool stream_timer;          /* a conn_after to continue the stream is pending */
	bool sasl_plain;            /* "+ " was sent: the next line answers AUTH */
	unsigned char sasl_mech;    /* which AUTH: POP3_SASL_* */
	bool sasl_error_sent;       /* a refused token's error challenge went out */
	unsigned fail_delay_ms;     /* how long the pending failure reply waits */
	char *user;                 /* USER's argument until PASS (malloc'd), or NULL */
	const char *end_reason;     /* for the disconnect log line */

	/* TRANSACTION: the snapshot taken at login (RFC 1939 section 5:
	 * later deliveries are seen by the next session). */
	char *mailbox_user;         /* canonical address (malloc'd) */
	struct name_count_slot *userip_slot; /* [limits] max_pop3_connections_per_user_ip */
	struct pop3_lock *lock;     /* the in-use claim (pop3_lock.h); a newer login may take it over */
	struct store *st;
	struct store_mailbox_info info;
	struct store_msg *msgs;     /* malloc'd by store_list */
	size_t n_msgs;
	uint8_t *deleted;           /* bitmap of DELE'd messages, n_msgs bits */
	size_t n_deleted;
	uint64_t total_size, deleted_size;

	/* The proxy role (pop3_proxy.c): the hop to the user's back end,
	 * then the relay (proxied: every byte goes through src/proxy).  On a
	 * back end: the client's address a trusted proxy passed on with
	 * XCLIENT ("" if none). */
	struct proxy *proxy;
	bool proxied;
	char orig_addr[64];
	unsigned orig_port;

	struct pop3_stream *stream;
	unsigned retr_count, top_count;
	uint64_t retr_bytes;
	size_t expunged;
};

/* Whether message index i (0-based) is marked by DELE. */
static inline bool
pop3_msg_deleted(const struct pop3_session *s, size_t i)
{
	return (s->deleted[i / 8] & (1u << (i % 8))) != 0;
}

/* Replies.  pop3_ok/pop3_err write one line ("+OK text"/"-ERR text" and
 * CRLF).  pop3_client_error also counts a client mistake and closes the
 * session past POP3_MAX_ERRORS. */
/* Logged-in sessions per user and client address (pop3_cmd_auth.c). */
extern struct name_count pop3_userip_count;

void pop3_ok(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_err(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_client_error(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks the session busy (no command is read) and pauses input; undone by
 * pop3_unbusy, which resumes input.  Jobs started with conn_defer set
 * s->busy themselves (conn_defer holds the pause). */
void pop3_busy(struct pop3_session *s);
/* pop3_proxy.c: the login goes on at the user's back end (target: a
 * struct proxy_target); "+OK" or "-ERR [SYS/TEMP]" when the hop is made
 * or has failed.  Then the connection's events go to the relay. */
struct proxy_target;
void pop3_proxy_start(struct pop3_session *s, const char *user, const struct proxy_target *target);
void pop3_proxy_input(struct pop3_session *s);
void pop3_proxy_drained(struct pop3_session *s);
/* XCLIENT ADDR=... PORT=... (pop3_proxy.c): believed from a trusted proxy
 * only, before login. */
void pop3_cmd_xclient(struct pop3_session *s, const struct pop3_command *cmd);
/* The client's address for logs: XCLIENT's, or the connection's peer. */
const char *pop3_client_addr(const struct pop3_session *s);
void pop3_unbusy(struct pop3_session *s);

/* Closes the connection after the queued output, noting why. */
void pop3_close(struct pop3_session *s, const char *reason);

/* Whether a password may be sent now (TLS active, or allow_plaintext). */
bool pop3_plaintext_ok(const struct pop3_session *s);

/* Command handlers (pop3_cmd_auth.c, pop3_cmd_mail.c).  args as parsed. */
void pop3_cmd_user(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_auth(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_capa(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_stls(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_stat(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_list(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_uidl(struct pop3_session *s, const struct pop3_command *cmd);
/* m's UIDL: the one an import kept (store_imap_import), else Tern's own
 * (pop3_uidl_format, written into buf of POP3_UIDL_SIZE bytes). */
const char *pop3_msg_uidl(const struct pop3_session *s, const struct store_msg *m, char *buf);
void pop3_cmd_retr(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_top(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_dele(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_rset(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_noop(struct pop3_session *s, const struct pop3_command *cmd);
void pop3_cmd_quit(struct pop3_session *s, const struct pop3_command *cmd);

/* pop3_lock's kick: on the session's loop, a newer login of the same user
 * has taken the mailbox over; the session ends and deletes nothing. */
void pop3_superseded(void *arg);

/* The line that answers a pending AUTH PLAIN ("+ " was sent): base64 or
 * "*" to cancel.  len excludes the line end. */
void pop3_auth_continue(struct pop3_session *s, const char *line, size_t len);

/* Streaming replies (pop3_retr.c).  pop3_stream_start takes ownership of
 * st (malloc'd) and produces what it can now; if the output fills up the
 * session stays busy until the stream ends in pop3_stream_continue (called
 * from the drained callback and from a timer). */
void pop3_stream_start(struct pop3_session *s, struct pop3_stream *st);
void pop3_stream_continue(struct pop3_session *s);
/* Frees a stream without finishing it (the connection is closing). */
void pop3_stream_free(struct pop3_stream **st);

#endif
