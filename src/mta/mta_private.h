/* Inside src/mta: the session struct shared by the connection side
 * (mta_session.c), the transaction (mta_tx.c), the message body
 * (mta_body.c) and the TLS setup (mta_tls.c). */
#ifndef TERN_MTA_PRIVATE_H
#define TERN_MTA_PRIVATE_H

#include <netinet/in.h>

#include "dns/dns.h"
#include "mta/mta.h"
#include "mta/mta_reply.h"

struct conn;
typedef struct ssl_st SSL;

enum mta_state {
	MTA_CONNECTING,
	MTA_GREETING,
	MTA_EHLO,
	MTA_HELO,
	MTA_STARTTLS,
	MTA_TLS,           /* handshake running */
	MTA_AUTH,
	MTA_READY,         /* between messages: ready was called */
	MTA_TX_START,      /* mta_session_send called, its turn not yet run */
	MTA_TX,            /* RSET/MAIL/RCPT/DATA sent, replies awaited */
	MTA_BODY,          /* the message is being queued (DATA or BDAT) */
	MTA_DOT,           /* the end of data (or a BDAT chunk) sent, reply awaited */
	MTA_QUIT,
};

struct mta_session {
	struct evloop *loop;
	struct conn *conn;
	struct mta_params p;
	struct dns_tlsa_list tlsa;
	const struct mta_callbacks *cb;
	void *arg;
	enum mta_state state;
	struct mta_reply_parser rp;
	struct mta_ehlo ehlo;
	char peer[INET6_ADDRSTRLEN + 8];
	bool tls;
	bool tls_failed;
	bool have_why;             /* why the session ends, set by the first failure */
	struct mta_reply why;
	unsigned auth_step;

	/* The message being sent (mta_tx.c). */
	const struct mta_msg *m;
	struct mta_reply *res;     /* per recipient */
	unsigned char *rstate;     /* per recipient: RCPT_* */
	size_t n_accepted;
	bool need_rset;            /* a transaction is open on the peer */
	bool mail_failed;
	bool data_ignored;         /* DATA said 354 with no recipient: an empty message ends it */
	/* Commands of the transaction, numbered 0 RSET, 1 MAIL, 2.. RCPT,
	 * then DATA; sent: [first, next); answered: [first, acked). */
	size_t cmd_first, cmd_next, cmd_acked, cmd_end;

	/* The body (mta_body.c). */
	bool bdat;
	uint64_t total;            /* prefix + file */
	uint64_t off;              /* bytes of it queued */
	bool bol;                  /* DATA: the next byte begins a line */
	uint64_t chunk_left;       /* BDAT: bytes of this chunk still to queue */
	bool chunk_last;
	char *rbuf;
};

#define RCPT_PENDING 0
#define RCPT_OK 1
#define RCPT_REFUSED 2

/* mta_session.c */
void mta_cmd(struct mta_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mta_wait(struct mta_session *s, unsigned rfc_sec);
/* Ends the session: why is kept (the first one wins) and the connection
 * closes; close reports it. */
void mta_fail(struct mta_session *s, const struct mta_reply *why, bool tls_failed);
void mta_become_ready(struct mta_session *s);

/* mta_tx.c */
void mta_tx_start(struct mta_session *s);
void mta_tx_reply(struct mta_session *s, const struct mta_reply *r);
/* The message ends: msg_done, then ready unless the session ends. */
void mta_tx_finish(struct mta_session *s);
/* The connection went: every recipient without a final answer gets why. */
void mta_tx_abort(struct mta_session *s, const struct mta_reply *why);

/* mta_body.c */
void mta_body_start(struct mta_session *s, bool bdat);
/* Queues more of the body while the output is below NET_OUTPUT_HIGH. */
void mta_body_pump(struct mta_session *s);
/* A BDAT chunk's reply was 2xx and it was not the last. */
void mta_body_next_chunk(struct mta_session *s);

/* mta_tls.c: the SSL for STARTTLS under s->p's policy, or NULL with
 * *error_out (static text). */
SSL *mta_tls_new_ssl(const struct mta_session *s, const char **error_out);
/* After a failed handshake: what the certificate check said, or NULL. */
const char *mta_tls_verify_error(SSL *ssl);
/* After a DANE handshake: the TLSA record that matched, "3 1 1 depth=0"
 * (usage selector mtype, and the chain depth it matched at), into buf;
 * 0, or -1 when none did (not DANE). */
int mta_tls_dane_match(SSL *ssl, char *buf, size_t size);

#endif
