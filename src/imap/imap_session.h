/* An IMAP session: private to src/imap.  imap_session.c holds the
 * connection callbacks, the command loop and the dispatch table;
 * imap_cmd_auth.c the not-authenticated state (CAPABILITY, STARTTLS,
 * LOGIN, AUTHENTICATE) and ENABLE/ID; imap_cmd_select.c SELECT, EXAMINE,
 * CLOSE, UNSELECT; imap_sync.c the untagged updates that tell the client
 * what others changed; imap_idle.c IDLE; imap_cmd_msg.c STORE, COPY, MOVE,
 * EXPUNGE; imap_cmd_fetch.c FETCH; imap_append.c APPEND; imap_job.c runs
 * the worker-thread commands of imap_cmd.h.
 *
 * Flow.  One command runs at a time.  Bytes go to the command parser
 * (imap_parse.h); a complete command is dispatched; a command that needs
 * the store starts a job (conn_defer, which pauses input) and answers when
 * it is done.  Input stays paused while a job runs, while output above
 * NET_OUTPUT_HIGH waits for the client, and while a FETCH streams: so
 * pipelined commands wait in the connection's bounded input buffer. */
#ifndef TERN_IMAP_SESSION_H
#define TERN_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "imap/imap_cmd.h"
#include "imap/imap_notify.h"
#include "imap/imap_parse.h"
#include "imap/imap_search_update.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/limits.h"
#include "lib/name_count.h"
#include "store/store.h"

/* RFC 9051 5.4: the autologout timer of an authenticated session is at
 * least 30 minutes; one more minute keeps a client that re-IDLEs every 29
 * (the RFC's advice) and is a little late. */
#define IMAP_TIMEOUT_SEC          (31 * 60)
/* Before login: as POP3 (AUTH_PREAUTH_TIMEOUT_SEC). */
#define IMAP_PREAUTH_TIMEOUT_SEC  AUTH_PREAUTH_TIMEOUT_SEC
/* Client mistakes (BAD replies) before we hang up, as POP3 and nginx. */
#define IMAP_MAX_ERRORS           20
/* A literal in a command other than APPEND (a LOGIN password, a SEARCH
 * string): RFC 9051 sets no bound; a password or search term fits. */
#define IMAP_LITERAL_SMALL_MAX    (64 * 1024)
/* APPEND literals above this size are written to the spool as they
 * arrive instead of being held in memory. */
#define IMAP_APPEND_STREAM_MIN    (16 * 1024)
/* Messages in one MULTIAPPEND (our bound; RFC 3502 sets none). */
#define IMAP_MULTIAPPEND_MAX      1000
/* AUTHENTICATE continuation lines: a 16 KiB OAuth token in base64. */
#define IMAP_AUTH_LINE_MAX        SMTP_AUTH_LINE_MAX
/* Messages in one selected view (as POP3's snapshot bound). */
#define IMAP_VIEW_MAX             POP3_MAX_MESSAGES
/* How long a failed login's reply waits: auth_result.delay_ms, or this. */
#define IMAP_FAIL_DELAY_MS        AUTH_FAIL_DELAY_MS

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* The SASL exchange of a pending AUTHENTICATE. */
enum imap_sasl {
	IMAP_SASL_NONE,
	IMAP_SASL_PLAIN,               /* "+ " sent, waiting for the response */
	IMAP_SASL_OAUTHBEARER,
	IMAP_SASL_XOAUTH2,
	IMAP_SASL_ERROR_SENT,          /* a token was refused: waiting for the client's dummy */
};

struct imap_bus_sub;
struct imap_notify;
struct imap_fetch_job;
struct imap_append_state;

struct imap_session {
	struct conn *c;
	const struct tern_config *cfg;
	enum imap_state state;
	struct arena *arena;           /* command arena (parser arguments) */
	struct imap_parser *parser;
	struct imap_command cmd;       /* the command being run (in the arena) */
	/* Its tag, copied whole (replies come after the arena moved on): a
	 * tag is any number of ASTRING-CHARs (RFC 9051 9), bounded only by
	 * the command line (IMAP_PARSE_LINE_MAX).  Empty between commands;
	 * imap_tag() gives "*" then. */
	struct buf tag;
	unsigned errors;
	unsigned preauth_cmds;

	bool busy;                     /* a command is running: read nothing */
	bool output_paused;            /* paused until the client reads */
	bool idling;                   /* IDLE: waiting for DONE */
	bool compressed;               /* COMPRESS=DEFLATE active */
	bool no_expunge;               /* the command is FETCH, STORE or SEARCH (not UID) */
	struct buf tagged;             /* the tagged reply waiting for a sync */
	enum imap_sasl sasl;
	char sasl_mech[16];
	const char *end_reason;

	/* What the client enabled (RFC 5161). */
	bool imap4rev2, condstore, qresync, utf8;
	bool utf8_accept;              /* ENABLE UTF8=ACCEPT (RFC 6855) */
	bool condstore_at_start;       /* condstore when the running command began */

	/* Authenticated. */
	char *user;                    /* canonical address, malloc'd */
	struct name_count_slot *userip_slot; /* [limits] max_imap_connections_per_user_ip */
	uint64_t quota_bytes;
	uint64_t quota_messages;

	/* Selected. */
	struct imap_view view;
	struct imap_bus_sub *sub;      /* change bus subscription of the view */
	bool changes_unknown;          /* ... without a MODSEQ (create/delete/rename) */
	uint64_t bus_modseq;           /* the highest MODSEQ the bus told of */
	bool sync_running;             /* a sync job is in flight */
	uint32_t *pending_expunged;    /* UIDs expunged elsewhere, not told yet (ascending) */
	size_t n_pending_expunged;
	uint32_t *saved;               /* SEARCHRES "$" (UIDs, ascending) */
	size_t saved_count;
	struct imap_search_contexts contexts; /* SEARCH RETURN (UPDATE), RFC 5267 */

	struct imap_notify *notify;    /* NOTIFY SET in force (imap_notify.c), or NULL */
	struct imap_fetch_job *fetch;  /* a FETCH streaming its responses */
	struct imap_append_state *append;

	/* The proxy role (imap_proxy.c): the hop to the user's back end
	 * while it is made, then the relay (proxied: every byte goes
	 * through src/proxy, nothing is parsed here any more). */
	struct proxy *proxy;
	bool proxied;
	/* On a back end: the client's address as a trusted proxy passed it
	 * on (ID "x-originating-ip"/"-port"), for logs and penalties; "" if
	 * none. */
	char orig_addr[64];
	unsigned orig_port;
};

/* The client's address for logs: the one a trusted proxy passed on, or
 * the connection's peer. */
const char *imap_client_addr(const struct imap_session *s);

/* imap_proxy.c: the login of a user whose mailbox is on a back end
 * (target: a struct proxy_target) goes on there; the running LOGIN or
 * AUTHENTICATE gets its answer when the hop is made or has failed. */
struct proxy_target;
void imap_proxy_start(struct imap_session *s, const char *user, const struct proxy_target *target);
/* The session's connection handlers while relaying. */
void imap_proxy_input(struct imap_session *s);
void imap_proxy_drained(struct imap_session *s);

/* The running command's tag, or "*" when there is none (a reply to a
 * line whose tag could not be read).  Valid until the command ends. */
const char *imap_tag(const struct imap_session *s);

/* Replies.  imap_tagged writes "<tag> OK|NO|BAD [code] text" at once;
 * imap_bad also counts a client mistake and closes past IMAP_MAX_ERRORS.
 * Both leave the command running: commands end with imap_complete. */
void imap_tagged(struct imap_session *s, enum imap_status st, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void imap_bad(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the running command with its tagged reply (code may be NULL or "").
 * Before the reply, expunges held back are told when allowed, and a
 * mailbox changed by others is synced (a job) first, so the updates come
 * before the tagged line as RFC 9051 7 expects.  Then the next command is
 * read. */
void imap_complete(struct imap_session *s, enum imap_status st, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* imap_complete for a worker command's result ("" text: "<NAME> completed"). */
void imap_complete_result(struct imap_session *s, const struct imap_result *res);
/* Ends the running command whose tagged reply is already written
 * (LOGOUT, STARTTLS). */
void imap_complete_written(struct imap_session *s);
/* The end of a job: unless the connection is closing, writes the
 * untagged responses in out and ends the command with res. */
void imap_job_reply(struct imap_session *s, const struct buf *out, const struct imap_result *res);
/* A BAD that ends the command (counts a mistake). */
void imap_complete_bad(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks the session busy (input paused) and back. */
void imap_busy(struct imap_session *s);
void imap_unbusy(struct imap_session *s);

/* Starts a worker job for the running command; input stays paused until
 * done has run (conn_defer). */
void imap_job(struct imap_session *s, evloop_work_fn *work, evloop_done_fn *done, void *arg);

void imap_close(struct imap_session *s, const char *reason);
bool imap_plaintext_ok(const struct imap_session *s);
/* The CAPABILITY list for the session's state, without "* CAPABILITY". */
void imap_capabilities(struct imap_session *s, struct buf *out);
/* Fills a worker context from the session (arena, user, view, flags). */
void imap_ctx_init(struct imap_session *s, struct imap_ctx *ctx, struct arena *arena);
/* Opens the user's store on this worker thread (store_cache); NULL with
 * res filled ([UNAVAILABLE]) on failure.  Release with imap_store_release. */
struct store *imap_store_get(const struct imap_session *s, struct imap_result *res);
void imap_store_release(struct store **st, bool failed);

/* Command handlers.  args are the arguments after the name (and after
 * "UID <name>" for UID commands, with uid true). */
typedef void imap_cmd_fn(struct imap_session *s, const struct imap_arg *args, bool uid);
imap_cmd_fn imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_starttls, imap_cmd_login,
	imap_cmd_authenticate, imap_cmd_enable, imap_cmd_id, imap_cmd_namespace, imap_cmd_select,
	imap_cmd_examine, imap_cmd_close, imap_cmd_unselect, imap_cmd_check, imap_cmd_idle,
	imap_cmd_expunge, imap_cmd_store, imap_cmd_copy, imap_cmd_move, imap_cmd_fetch, imap_cmd_append,
	imap_cmd_compress, imap_cmd_worker, imap_cmd_notify, imap_cmd_cancelupdate, imap_cmd_replace;

/* A line while AUTHENTICATE waits for the client (imap_cmd_auth.c). */
void imap_auth_continue(struct imap_session *s, const char *line, size_t len);
/* A line while IDLE (imap_idle.c): "DONE" ends it. */
void imap_idle_line(struct imap_session *s, const char *line, size_t len);

/* Untagged updates (imap_sync.c).
 * imap_sync_work runs on a worker thread at the end of a job of the
 * selected state (the session is paused, so the job owns the view): it
 * reads what changed since the view's HIGHESTMODSEQ and appends EXISTS,
 * FETCH (FLAGS) and, when expunges_ok, EXPUNGE / VANISHED to out,
 * updating the view.  UIDs in skip (n_skip, ascending) get no FETCH: the
 * command already sent theirs.  Returns 0 or -1 (nothing changed). */
int imap_sync_work(struct imap_session *s, struct store *st, bool expunges_ok, const uint32_t *skip,
                   size_t n_skip, struct buf *out);
/* On the loop, not busy: runs imap_sync_work as a job, writes what it
 * found, then calls after(s, failed) unless the connection is closing. */
void imap_sync_start(struct imap_session *s, bool expunges_ok, void (*after)(struct imap_session *s, bool failed));
/* On the loop: sends EXPUNGE / VANISHED for expunges held back. */
void imap_sync_flush_expunges(struct imap_session *s, struct buf *out);
/* Drops the view and its bus subscription (CLOSE, UNSELECT, SELECT). */
void imap_view_clear(struct imap_session *s);
/* Removes uid from the view; returns its former sequence number or 0. */
uint32_t imap_view_remove(struct imap_view *v, uint32_t uid);
/* Appends uid (greater than every UID in the view). */
void imap_view_add(struct imap_view *v, uint32_t uid);
/* Resolves a sequence set (or UID set when uid) against the view into
 * ascending UIDs (malloc'd, NULL when none).  "$" takes the saved result.
 * Returns 0, or -1 with a static error text for BAD. */
int imap_view_resolve(struct imap_session *s, const struct imap_arg *arg, bool uid, uint32_t **uids_out,
                      size_t *n_out, const char **error_out);
/* Appends a UID set "1:3,7" for ascending uids. */
void imap_uidset_write(struct buf *out, const uint32_t *uids, size_t n);

/* The change bus (imap_bus.c): the store's change hook posts to the loops
 * of the sessions that selected that user's mailbox, and only those. */
void imap_bus_init(void);
/* Logged-in sessions per user and client address (imap_cmd_auth.c). */
extern struct name_count imap_userip_count;
/* mailbox NULL: every mailbox of the user, for NOTIFY (see imap_bus_change). */
struct imap_bus_sub *imap_bus_subscribe(struct imap_session *s, const char *user, const char *mailbox);
void imap_bus_unsubscribe(struct imap_bus_sub **sub);
/* On the session's loop: its mailbox changed (HIGHESTMODSEQ now modseq,
 * 0 when unknown). */
void imap_changed(struct imap_session *s, uint64_t modseq);

/* On the session's loop (imap_notify.c): changes for its NOTIFY; takes
 * q (n entries, malloc'd); overflow: some were lost. */
void imap_notify_changes(struct imap_session *s, struct imap_bus_change *q, size_t n, bool overflow);

/* NOTIFY (imap_notify.c).  imap_notify_kick: on the loop, whenever the
 * session may have become free to speak (between commands, during IDLE):
 * sends the notifications waiting, if any.  imap_notify_selected_events:
 * NOTIFY asks for the selected mailbox's changes while no command runs.
 * imap_notify_free: NOTIFY off (NOTIFY NONE, logout). */
void imap_notify_kick(struct imap_session *s);
/* In imap_sync_work, on the worker (the session paused): new messages
 * came into the view at uids[from..]; appends the FETCH of NOTIFY's
 * MessageNew fetch-att for them, if asked (RFC 5465 5.2). */
void imap_notify_new_messages(struct imap_session *s, struct store *st, size_t from, struct buf *out);
bool imap_notify_selected_events(const struct imap_session *s);
void imap_notify_free(struct imap_session *s);

/* On the loop, not busy: the bus told of changes the view has not seen
 * (our own changes are seen already when the job synced after them). */
bool imap_sync_needed(const struct imap_session *s);

/* FETCH and APPEND state (imap_cmd_fetch.c, imap_append.c). */
void imap_fetch_free(struct imap_session *s);
void imap_fetch_continue(struct imap_session *s);
void imap_append_free(struct imap_session *s);
/* Bytes of a streamed APPEND literal (or of any literal too big to keep,
 * which are dropped and the command refused). */
void imap_append_literal_bytes(struct imap_session *s, const char *data, size_t len);
/* Whether cmd (as parsed so far) carries messages: APPEND, REPLACE and
 * UID REPLACE, whose literals may stream and go up to max_message_size. */
bool imap_append_like(const struct imap_command *cmd);
/* The message literals among an APPEND command's arguments (after the
 * mailbox): parsed so far, or all of them at dispatch. */
size_t imap_append_messages(const struct imap_arg *args);
/* The command's streamed literal was dropped (not an APPEND). */
bool imap_append_dropped(struct imap_session *s);
/* A streamed literal starts (the parser's LITERAL_STREAM state began). */
void imap_append_literal_begin(struct imap_session *s);

/* Flags in STORE and APPEND (imap_flag_parse.c): a flag list or single
 * flag atoms.  Keywords go space-separated into the arena.  Returns 0 or
 * -1 with a static text (BAD). */
int imap_flags_parse(const struct imap_arg *arg, bool list_only, struct arena *a, uint32_t *flags_out,
                     const char **keywords_out, const char **error_out);
/* "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 date-time) to unix time; -1 if
 * invalid. */
int imap_datetime_parse(const char *s, size_t len, int64_t *out);

#endif
