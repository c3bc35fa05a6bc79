/* Shared by queue_runner.c (entries, schedule, control) and queue_dest.c
 * (destinations: DNS, SMTP sessions).  Everything here lives on the
 * delivery thread only: no locks. */
#ifndef TERN_QUEUE_RUNNER_PRIVATE_H
#define TERN_QUEUE_RUNNER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "dns/dns.h"
#include "mta/mta.h"
#include "queue/queue.h"

/* Addresses tried per destination, over all its MX hosts (Postfix's
 * smtp_mx_address_limit is 5 by default; a few more cost nothing). */
#define QDEST_ADDR_MAX 10
/* Recipients per SMTP transaction (RFC 5321 4.5.3.1.8: at least 100). */
#define QJOB_RCPT_MAX 100

struct qentry {
	struct qentry *hnext;            /* hash chain */
	struct qentry *next, *prev;      /* every entry */
	char id[QUEUE_ID_MAX + 1];
	char *mail_from;
	char **rcpts;
	unsigned char *state;            /* enum queue_rcpt_state */
	unsigned char *new_fail;         /* failed in this attempt, the sender not told yet */
	char **reply;                    /* the last reply per recipient (malloc'd), or NULL */
	char **remote;                   /* the host that gave it, or NULL */
	size_t n_rcpts;
	uint64_t size;
	int64_t queued_at, next_at, warned_at;
	unsigned attempts;
	size_t heap_i;                   /* SIZE_MAX: not scheduled */
	unsigned jobs;                   /* in flight */
	bool held;
	bool deleted;                    /* its files went while jobs were in flight */
	bool bounce;                     /* tern queue delete: fail every pending recipient */
	bool scanned, body_8bit, smtputf8;
	char *dkim;                      /* DKIM-Signature sent before the file, or NULL */
	/* DSN requests (RFC 3461): told to the next server when it offers
	 * DSN, else acted on here */
	enum queue_ret ret;
	char *envid;
	unsigned *notify;                /* per recipient, 0: not given */
	char **orcpt;                    /* per recipient, or NULL */
	char *mail_params;               /* "RET=.. ENVID=.." or NULL */
	unsigned char *new_relayed;      /* delivered to a server without DSN, SUCCESS asked: tell */
	bool signed_once;                /* dkim computed (maybe NULL: no key) */
};

struct qdest;

struct qjob {
	struct qjob *next;
	struct qentry *e;
	struct qdest *d;
	size_t n;
	size_t idx[QJOB_RCPT_MAX];
	const char *rcpts[QJOB_RCPT_MAX];
	char *rcpt_params[QJOB_RCPT_MAX];   /* "NOTIFY=.. ORCPT=.." or NULL */
	int fd;                          /* -1 until a session takes the job */
	struct mta_msg msg;
};

/* What DANE (RFC 7672, [delivery] tls = dane) says about one address,
 * from its MX host's TLSA records (queue_dane.c). */
enum qaddr_dane {
	QADDR_DANE_NONE,      /* not DANE: the configured policy */
	QADDR_DANE,           /* usable TLSA records: MTA_TLS_DANE with tlsa */
	QADDR_DANE_ENCRYPT,   /* secure TLSA records, none usable: TLS without authentication (2.2) */
	QADDR_DANE_FAILED,    /* the TLSA lookup failed in a secure MX set: not used at all (2.2.1) */
};

/* What MTA-STS (RFC 8461, queue_sts.c) says about one address, from its
 * MX host name and the destination's policy. */
enum qaddr_sts {
	QADDR_STS_NONE,       /* no policy applies (none, no policy, DANE): as configured */
	QADDR_STS_ENFORCE,    /* enforce, the host matches: MTA_TLS_REQUIRED for the host name */
	QADDR_STS_TESTING,    /* testing, the host matches: tried as REQUIRED first; a failure is
	                         logged and the address tried again as configured */
	QADDR_STS_MISMATCH,   /* enforce, the host is not in the policy's mx: not used (4.1) */
};

struct qaddr {
	struct sockaddr_storage sa;
	socklen_t len;
	char host[DNS_NAME_MAX + 1];
	enum qaddr_dane dane;
	struct dns_tlsa_list *tlsa;      /* QADDR_DANE: malloc'd, freed with the destination's addresses */
	enum dns_status tlsa_status;     /* QADDR_DANE_FAILED: how the lookup ended */
	enum qaddr_sts sts;
};

enum qdest_state { QDEST_IDLE, QDEST_RESOLVING, QDEST_READY };

struct qdest {
	struct qdest *next;
	char domain[DNS_NAME_MAX + 3];   /* lower case; "[relay]" for the smarthost */
	struct qjob *head, *tail;        /* waiting for a session */
	size_t n_waiting;
	unsigned sessions;               /* connecting or connected */
	enum qdest_state st;
	struct dns_mx_list *mx;          /* while resolving */
	size_t mx_i;
	bool mx_secure;                  /* the MX answer (no MX: its denial) was DNSSEC-validated */
	size_t host_first;               /* while its TLSA lookup runs: the MX host's first address */
	struct qaddr addr[QDEST_ADDR_MAX];
	size_t n_addr;
};

/* queue_runner.c, for queue_dest.c */
struct qrunner_settings {
	const struct tern_config *cfg;
	struct evloop *loop;
	struct dns *dns;
	unsigned sessions_total;
	bool stopping;
};
extern struct qrunner_settings qr;
/* Opens the job's message file for sending.  Returns 0 or -1 (logged). */
int qrunner_job_open(struct qjob *job);

/* queue_runner.c, for queue_control.c: the entries and their schedule */
struct queue_entry;
struct qentry *qrunner_entries(void);             /* the first; ->next for the others */
struct qentry *qrunner_entry_find(const char *id);
/* Loads (or loads again) the entry with that id from its envelope. */
void qrunner_entry_load(const char *id);
/* queue_list() callback: takes in one listed entry. */
void qrunner_entry_loaded(const struct queue_entry *qe, void *arg);
void qrunner_entry_free(struct qentry *e);
void qrunner_schedule(struct qentry *e, int64_t when);
void qrunner_unschedule(struct qentry *e);
/* Ends an attempt with no job in flight: DSNs, retry time, removal. */
void qrunner_attempt_end(struct qentry *e);
void qrunner_load_dkim_keys(void);
/* The domain part of an address (after the last '@'), or "". */
const char *qrunner_rcpt_domain(const char *rcpt);

/* queue_control.c: inotify on the queue and its ctl/ requests */
int qcontrol_start(const char *queue_dir, char **error_out);
/* Reads requests written before the loop ran. */
void qcontrol_read_pending(void);
void qcontrol_stop(void);
/* A job ended: per_rcpt[i] is about job->rcpts[i]; host answered (or NULL);
 * peer_dsn: it offered DSN (so it took over NOTIFY=SUCCESS).  Frees the job. */
void qrunner_job_done(struct qjob *job, const struct mta_reply *per_rcpt, const char *host, bool peer_dsn);

/* queue_dest.c */
struct qdest *qdest_get(const char *domain);
/* Queues a job for its destination and starts sessions as limits allow. */
void qdest_add_job(struct qdest *d, struct qjob *job);
/* Starts sessions for every destination with jobs waiting. */
void qdest_kick_all(void);
/* Forgets every destination's DNS answers (tern queue flush). */
void qdest_forget_all(void);
void qdest_free_all(void);

/* queue_dane.c: DANE for the MX hosts of a destination (RFC 7672). */
/* Whether the TLSA records of the host whose addresses res holds are to
 * be looked up: tls = dane, a secure MX answer and secure addresses. */
bool qdane_wanted(const struct qdest *d, const struct dns_addr_list *res);
/* Looks up TLSA at _<mx_port>._tcp.<host>; cb gets d. */
void qdane_lookup(struct qdest *d, const char *host, dns_tlsa_cb *cb);
/* Sets the DANE state of d->addr[first..n_addr) (one host's) from its
 * TLSA answer; logs it. */
void qdane_apply(struct qdest *d, const char *host, size_t first, const struct dns_tlsa_list *res);
/* Whether a session may be opened to a (not QADDR_DANE_FAILED). */
bool qdane_usable(const struct qaddr *a);
/* Sets p->tls (and p->tlsa, pointing into a) for a DANE address; other
 * addresses keep p as it is. */
void qdane_params(const struct qaddr *a, struct mta_params *p);
/* Frees the TLSA records of d's addresses and clears their DANE state. */
void qdane_forget(struct qdest *d);

/* queue_sts.c: MTA-STS (RFC 8461) for the MX hosts of a destination. */
/* Whether d's policy is to be looked up: a recipient domain (not the
 * relay, not an address literal) none of whose hosts DANE covers (RFC
 * 8461 2: DANE wins). */
bool qsts_wanted(const struct qdest *d);
/* Finds d's policy (the _mta-sts TXT record, the cache in memory and in
 * data_dir/mta-sts, a fetch on a worker thread), sets the MTA-STS state
 * of d's addresses, and then calls qdest_sts_done(d) on the loop (never
 * before returning; not at all once the runner is stopping). */
void qsts_lookup(struct qdest *d);
/* Whether a session may be opened to a (not QADDR_STS_MISMATCH). */
bool qsts_usable(const struct qaddr *a);
/* Sets p->tls for an enforced or tested address (MTA_TLS_REQUIRED;
 * tls_name is already the MX host name); other addresses keep p. */
void qsts_params(const struct qaddr *a, struct mta_params *p);
/* Fetches running on workers: queue_runner_stop waits for none to be
 * left before freeing the loop (their completion is posted to it). */
unsigned qsts_in_flight(void);
/* Frees the in-memory cache (the files stay). */
void qsts_free_all(void);

/* queue_dest.c, for queue_sts.c: d's addresses have their MTA-STS state. */
void qdest_sts_done(struct qdest *d);

#endif
