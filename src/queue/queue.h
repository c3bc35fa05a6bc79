/* The outbound queue: messages for remote recipients, kept durably in
 * data_dir/queue/ until a later delivery agent sends them.  Each entry is
 * a message file <id>.eml (a hard link of the spool file) and an envelope
 * file <id>.env, written to a temporary name, fsynced and renamed. */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "store/store.h"

#define QUEUE_ID_MAX 40

/* What the sender asked for in delivery status notifications (DSN,
 * RFC 3461), kept with the entry: the notify bits have the values of
 * SMTP_NOTIFY_* (smtp_parse.h). */
enum {
	QUEUE_NOTIFY_NEVER = 1,
	QUEUE_NOTIFY_SUCCESS = 2,
	QUEUE_NOTIFY_FAILURE = 4,
	QUEUE_NOTIFY_DELAY = 8,
};
enum queue_ret { QUEUE_RET_UNSPEC, QUEUE_RET_FULL, QUEUE_RET_HDRS };
struct queue_dsn_req {
	enum queue_ret ret;
	const char *envid;                 /* ENVID= xtext, or NULL */
	const unsigned *notify;            /* per recipient, 0: not given; NULL: none given */
	const char *const *orcpt;          /* per recipient "type;xtext" or NULL; NULL: none */
};

/* Queues the committed spool file for rcpts (n of them) with envelope
 * sender mail_from ("" for the null sender).  want_id is the id to use
 * (the SMTP transaction's, so that the client's "queued as" names the
 * entry every command and log line uses), or NULL for a new one.
 * Returns 0 once the entry is durable, with its id in id_out; -1
 * otherwise (nothing is left behind). */
int queue_enqueue(const char *data_dir, struct store_spool *sp, const char *mail_from,
                  const char *const *rcpts, size_t n, const struct queue_dsn_req *dsn, const char *want_id,
                  char id_out[QUEUE_ID_MAX + 1], enum store_error *err_out, const char **error_out);

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,      /* not yet delivered (maybe deferred) */
	QUEUE_RCPT_DONE,         /* the destination took it */
	QUEUE_RCPT_FAILED,       /* given up, the sender was told */
};

struct queue_entry {
	char id[QUEUE_ID_MAX + 1];
	const char *mail_from;
	const char *const *rcpts;
	size_t n_rcpts;
	uint64_t size;
	int64_t queued_at;
	const unsigned char *rcpt_state;   /* enum queue_rcpt_state per recipient */
	const char *const *rcpt_reply;     /* the last reply about each, or NULL */
	unsigned attempts;
	int64_t last_attempt, next_attempt, warned_at;
	bool held;                         /* tern queue hold */
	enum queue_ret ret;                /* DSN requests (RFC 3461) */
	const char *envid;
	const unsigned *rcpt_notify;
	const char *const *rcpt_orcpt;
};

/* Removes what an enqueue that did not finish left in data_dir/queue (an
 * <id>.env.tmp, an <id>.eml without <id>.env) if its ctime is before
 * changed_before (CLOCK_REALTIME): at start-up the start time (nothing
 * was in flight before it), while running STORE_STALE_SEC ago.  Complete
 * entries are never touched.  Returns the number removed, or -1 with
 * *error_out (per-thread text). */
struct timespec;
long queue_cleanup(const char *data_dir, const struct timespec *changed_before, const char **error_out);

/* Calls fn for each queued message, oldest first.  Returns 0 or -1. */
int queue_list(const char *data_dir, void (*fn)(const struct queue_entry *e, void *arg), void *arg,
               const char **error_out);

/* Progress of the delivery agent, appended to the envelope (format in
 * queue_private.h).  reply may be NULL; it is cut at a line end and at
 * QUEUE_REPLY_MAX.  Not fsynced: a crash of the process loses nothing
 * written; a power loss at worst repeats a delivery. */
#define QUEUE_REPLY_MAX 512
int queue_note_rcpt(const char *data_dir, const char *id, size_t rcpt, enum queue_rcpt_state st,
                    bool deferred, int64_t when, const char *reply, const char **error_out);
int queue_note_attempt(const char *data_dir, const char *id, int64_t when, int64_t next, const char **error_out);
int queue_note_warned(const char *data_dir, const char *id, int64_t when, const char **error_out);

/* Removes an entry: <id>.env first, then <id>.eml and <id>.hold.  Returns
 * 0 (also when it was gone already) or -1. */
int queue_remove(const char *data_dir, const char *id, const char **error_out);

/* Holding (tern queue hold/release): a marker file <id>.hold.  Returns 0
 * or -1; hold of an unknown id fails with "no such message". */
int queue_hold(const char *data_dir, const char *id, bool hold, const char **error_out);

/* Reads one entry.  Returns 1 and calls fn, 0 if there is no such entry,
 * -1 on error. */
int queue_get(const char *data_dir, const char *id, void (*fn)(const struct queue_entry *e, void *arg),
              void *arg, const char **error_out);

/* A request to the running server (tern queue flush/retry/delete): a file
 * data_dir/queue/ctl/<random> holding one line, "flush all", "flush id
 * ID", "flush domain DOMAIN", "bounce ID".  The server's delivery agent
 * acts on it and removes it.  Returns 0 or -1. */
int queue_request(const char *data_dir, const char *line, char *name_out, size_t name_size,
                  const char **error_out);

#endif
