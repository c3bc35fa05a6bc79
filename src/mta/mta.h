/* The SMTP client for outbound delivery (RFC 5321 as a client; ESMTP
 * PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8
 * RFC 6531, CHUNKING RFC 3030, DSN RFC 3461, STARTTLS RFC 3207, AUTH
 * RFC 4954).  One struct mta_session is one connection to one peer, on
 * one event loop; it sends any number of messages, one at a time.
 *
 * The caller (the queue runner) picks the peer (MX, address, TLS policy)
 * and decides what the replies mean for the queue; this module only
 * speaks SMTP and reports every reply.  Every callback runs on the loop,
 * never before the call that caused it returns. */
#ifndef TERN_MTA_H
#define TERN_MTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct evloop;
struct dns_tlsa_list;
struct mta_session;

/* One message to send on a session.  The struct and everything it points
 * to must stay valid until msg_done has returned for it. */
struct mta_msg {
	const char *id;                  /* queue id, for log lines */
	int fd;                          /* the message: CRLF lines; read with pread from 0; not closed here */
	uint64_t size;                   /* bytes of the file to send */
	const char *prefix;              /* bytes sent before the file (a DKIM-Signature header, CRLF-terminated); may be NULL */
	size_t prefix_len;
	const char *mail_from;           /* address without <>; "" = null sender */
	const char *const *rcpts;        /* addresses without <> */
	size_t n_rcpts;                  /* 1..SMTP_RCPT_MAX */
	bool body_8bit;                  /* send BODY=8BITMIME */
	bool smtputf8;                   /* needs SMTPUTF8 (non-ASCII addresses or headers) */
	const char *mail_params;         /* extra MAIL parameters ("RET=HDRS ENVID=x") or NULL: sent only if the peer offers DSN */
	const char *const *rcpt_params;  /* per recipient ("NOTIFY=... ORCPT=...") or NULL (array or entries): only with DSN */
};

/* One reply of the peer, or one made up locally.  code 0: there was no
 * reply (connection refused or lost, timeout, TLS failure): text says why
 * and status is a 4.x.x guess. */
#define MTA_REPLY_TEXT_MAX 512
struct mta_reply {
	int code;                        /* 200..599, or 0 */
	char status[16];                 /* enhanced status code "5.1.1" (RFC 3463), "" if the peer gave none */
	char text[MTA_REPLY_TEXT_MAX];   /* the text after code and status; lines of a multi-line reply joined by ' ', cut to fit */
};

enum mta_tls {
	MTA_TLS_NONE,                    /* never STARTTLS */
	MTA_TLS_OPPORTUNISTIC,           /* STARTTLS when offered, certificate not checked (RFC 7435) */
	MTA_TLS_REQUIRED,                /* STARTTLS and a certificate valid for tls_name (ca_file or the system store) */
	MTA_TLS_DANE,                    /* STARTTLS and a certificate matching tlsa (RFC 7672) */
	MTA_TLS_ENCRYPT,                 /* STARTTLS required, certificate not checked (RFC 7672 2.2: secure TLSA records, none usable) */
};

struct mta_params {
	const char *helo_name;           /* our name in EHLO/HELO */
	enum mta_tls tls;
	const char *tls_name;            /* SNI, and the name REQUIRED verifies (the MX host name); may be NULL for NONE/OPPORTUNISTIC */
	const char *ca_file;             /* REQUIRED: PEM file of trusted CAs; NULL: the system store */
	const struct dns_tlsa_list *tlsa;/* DANE: the secure TLSA records of the MX (copied at connect) */
	const char *tls_domain;          /* DANE-TA(2): a second name the certificate may carry besides
	                                    tls_name, the next-hop (recipient) domain (RFC 7672 3.2.2); may be NULL */
	const char *auth_user;           /* smarthost AUTH PLAIN (LOGIN when PLAIN is not offered); only over TLS; NULL: no AUTH */
	const char *auth_pass;
	/* Seconds to wait for each reply; 0: RFC 5321 4.5.3.2 (greeting 300,
	 * MAIL 300, RCPT 300, DATA 120, each data block 180, end of data 600),
	 * and 30 for connect and the TLS handshake (Postfix
	 * smtp_connect_timeout).  Non-zero: this for every wait (tests). */
	unsigned timeout_sec;
};

struct mta_callbacks {
	/* The session can take a message: after greeting/EHLO/STARTTLS/AUTH,
	 * and again after each msg_done.  Call mta_session_send() or
	 * mta_session_quit() here or later. */
	void (*ready)(void *arg, struct mta_session *s);
	/* A message is finished: per_rcpt[i] is the outcome of m->rcpts[i]:
	 * the RCPT reply if RCPT was refused; else the reply to the end of
	 * data (DATA's final reply, or the last BDAT's); MAIL's reply (or DATA's
	 * first reply) for all when that failed; a local reply for checks done
	 * here (SIZE 552 5.3.4, SMTPUTF8 550 5.6.7); code 0 when the connection
	 * died.  Valid during the call only.  If the connection died, closed
	 * follows. */
	void (*msg_done)(void *arg, struct mta_session *s, const struct mta_msg *m, const struct mta_reply *per_rcpt);
	/* The session ended: after mta_session_quit (why NULL), or a failure
	 * (connect, greeting, EHLO, TLS, AUTH, timeout, lost connection): why
	 * says what.  tls_failed: the TLS step failed; with OPPORTUNISTIC the
	 * caller may retry in plain text (Postfix does); with REQUIRED/DANE it
	 * is a temporary failure, never a downgrade.  The session is freed
	 * after this returns. */
	void (*closed)(void *arg, struct mta_session *s, const struct mta_reply *why, bool tls_failed);
};

/* Starts connecting to addr (port included).  Returns the session, or
 * NULL only if no socket could be made (errno).  Every later failure,
 * connection refused included, arrives through cb->closed.  p's strings
 * and cb must stay valid for the session's life. */
struct mta_session *mta_session_connect(struct evloop *loop, const struct sockaddr *addr, socklen_t addrlen,
                                        const struct mta_params *p, const struct mta_callbacks *cb, void *arg);
/* Sends one message.  Only in or after ready, one at a time. */
void mta_session_send(struct mta_session *s, const struct mta_msg *m);
/* Sends QUIT and closes (closed follows with why NULL).  Only in or after
 * ready; any other time it drops the connection (closed with why set). */
void mta_session_quit(struct mta_session *s);

/* Frees the TLS contexts the calling thread's sessions made (they are
 * kept per thread and policy).  Call when the thread's loop has ended. */
void mta_tls_thread_end(void);

/* What the peer offered and how it went, for logs and the runner. */
bool mta_session_tls(const struct mta_session *s);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or NULL. */
const char *mta_session_tls_description(const struct mta_session *s);
/* "192.0.2.1:25". */
const char *mta_session_peer(const struct mta_session *s);
/* "none", "opportunistic", "required", "dane", "encrypt": for log lines. */
const char *mta_tls_policy_name(enum mta_tls tls);
/* An SSL for a client connection to host (a name or an IP address) from
 * this thread's cached contexts: with verify, the chain (ca_file, or the
 * system store when NULL) and host are checked as for MTA_TLS_REQUIRED;
 * without, any certificate is taken.  The proxy's hop to a back end uses
 * it (src/proxy).  NULL with *error_out on failure; the caller frees it
 * (or hands it to conn_starttls_client). */
struct ssl_st *mta_tls_client_ssl(const char *host, const char *ca_file, bool verify, const char **error_out);
/* The peer's last EHLO listed this keyword ("SMTPUTF8", "8BITMIME",
 * "SIZE", "DSN", "PIPELINING", "CHUNKING", "STARTTLS", "AUTH"). */
bool mta_session_has(const struct mta_session *s, const char *ext);
/* The peer's SIZE limit; 0 if none was given. */
uint64_t mta_session_size_limit(const struct mta_session *s);

#endif
