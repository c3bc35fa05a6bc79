/* Shared by the files of src/queue: bounds and the envelope file format.
 *
 * An entry is data_dir/queue/<id>.eml (a hard link of the spool file) and
 * data_dir/queue/<id>.env, whose presence marks the entry complete:
 *     from <reverse-path, empty for the null sender>\n
 *     rcpt <forward-path>\n          (one line per recipient, at least one)
 *     queued <unix time>\n
 *     size <octets of the .eml>\n
 *     ret full|hdrs\n                 (DSN requests, RFC 3461; each optional)
 *     envid <xtext>\n
 *     notify <rcpt index> <bits>\n
 *     orcpt <rcpt index> <type;xtext>\n
 * Unknown lines are skipped, so later versions can add some without
 * breaking older readers.  The delivery agent appends its progress
 * (queue_state.c), each line written whole with one write(2):
 *     done <rcpt index> <unix time> <reply>      delivered (2xx)
 *     failed <rcpt index> <unix time> <reply>    given up; the sender was told
 *     deferred <rcpt index> <unix time> <reply>  the last temporary failure
 *     attempt <unix time> <next try, unix time>  an attempt ended
 *     warned <unix time>                         the delay warning was sent
 * A later line about a recipient overrides an earlier one; a torn last
 * line (a crash in the middle of an append) is ignored.  <id> is
 * "<unix time, 12 digits>.<nanoseconds, 9 digits>.<8 random hex>", so ids
 * sort in arrival order.  Whoever removes an entry (the delivery agent,
 * later) removes <id>.env first and <id>.eml second: the reverse of
 * creation, so a crash never leaves an envelope without its message. */
#ifndef TERN_QUEUE_PRIVATE_H
#define TERN_QUEUE_PRIVATE_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "queue/queue.h"

/* Largest envelope file read back.  1 MiB holds QUEUE_RCPT_MAX recipients
 * of the longest legal address (ADDRESS_MAX, 320 octets). */
#define QUEUE_ENV_MAX (1024 * 1024)
/* Most recipients in one entry: SMTP_RCPT_MAX (100) per transaction, each
 * expanded by aliases to at most DIRECTORY_ALIAS_TARGETS_MAX (64) would be
 * 6400; past 3000 the SMTP side must split the message into several
 * entries (3000 * (5 + 320 + 1) octets stays under QUEUE_ENV_MAX). */
#define QUEUE_RCPT_MAX 3000
/* Most entries queue_list looks at in one call; past this it lists the
 * first ones it finds (still oldest first among them) and logs it. */
#define QUEUE_LIST_MAX 1000000

/* A parsed envelope; strings point into the buffer given to the parser.
 * queue_env_free() releases the arrays. */
struct queue_env {
	const char *mail_from;
	const char **rcpts;      /* n_rcpts long */
	size_t n_rcpts;
	int64_t queued_at;
	uint64_t size;
	/* progress appended by the delivery agent */
	unsigned char *rcpt_state;     /* enum queue_rcpt_state, per recipient */
	const char **rcpt_reply;       /* the last reply about it, or NULL */
	unsigned attempts;
	int64_t last_attempt;          /* 0: never tried */
	int64_t next_attempt;          /* 0: now */
	int64_t warned_at;             /* 0: no delay warning sent */
	enum queue_ret ret;
	const char *envid;             /* or NULL */
	unsigned *rcpt_notify;         /* per recipient, 0: not given */
	const char **rcpt_orcpt;       /* per recipient, or NULL */
};
void queue_env_free(struct queue_env *env);

/* Parses an envelope file's contents in place (buf is modified: line ends
 * become NULs).  len <= QUEUE_ENV_MAX.  Returns 0, or -1 with a static
 * *error_out for malformed input. */
int queue_env_parse(char *buf, size_t len, struct queue_env *env_out, const char **error_out);

/* True if id looks like one queue_enqueue makes ([0-9a-f.], <= QUEUE_ID_MAX). */
int queue_id_valid(const char *id, size_t len);

/* Opens data_dir/queue: 1 with *d_out (closedir it), 0 when there is no
 * queue directory yet, -1 with a reason in *error_out. */
int queue_dir_open(const char *data_dir, DIR **d_out, const char **error_out);

#endif
