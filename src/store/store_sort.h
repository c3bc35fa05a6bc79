/* The sort keys of SORT and THREAD (RFC 5256, RFC 5957), cached per
 * message in the index (table msg_sort, store_index.c): computed from the
 * header when a message is delivered, appended or first parsed for the
 * message cache (store_imap_cache.c), and for messages stored before
 * msg_sort the first time a SORT or THREAD asks for them.  A SORT over
 * 100,000 messages then reads one small row per message and parses none.
 *
 * As store_imap.h: call from worker jobs, one thread at a time per st. */
#ifndef TERN_STORE_SORT_H
#define TERN_STORE_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct mime_envelope;
struct store;

/* Our bounds on one cached key (octets, cut at a UTF-8 character): sort
 * order past 256 octets of a subject or name is not worth the space; the
 * References list keeps its last STORE_SORT_REFS_MAX octets (the nearest
 * ancestors, which is what a truncated References field keeps too, RFC
 * 5256 4 step 1.A). */
#define STORE_SORT_KEY_MAX 256
#define STORE_SORT_REFS_MAX 4096

/* One message's keys.  Strings are never NULL ("" for none).  The sort
 * strings (subject to display_to) are kept in i;ascii-casemap's canonical
 * form, a-z as A-Z (mime_casemap_fold): they are compared, never shown,
 * and strcmp on them is RFC 5256's comparison. */
struct store_sort_keys {
	int64_t sent_date;             /* the Date header as unix time (UTC), 0: none usable */
	bool reply;                    /* the subject had a reply/forward marker (RFC 5256 2.1) */
	const char *subject;           /* base subject (mime_base_subject) */
	const char *from, *to, *cc;    /* mime_sort_mailbox of the field */
	const char *display_from, *display_to; /* mime_sort_display */
	const char *message_id;        /* the Message-ID's msg-id without "<>" */
	const char *references;        /* msg-ids of References (else the first of
	                                * In-Reply-To), without "<>", space-separated, oldest first */
};

/* Computes the keys of a message from its envelope (NULL: none) and the
 * parsed Date (sent_date).  *strings_out is malloc'd and holds every
 * string of *k (free it when done with k). */
void store_sort_keys_make(const struct mime_envelope *env, int64_t sent_date, struct store_sort_keys *k,
                          char **strings_out);

/* One message as SORT and THREAD see it. */
struct store_sort_msg {
	uint32_t uid;
	uint64_t size;                 /* RFC822.SIZE */
	int64_t internal_date;
	struct store_sort_keys k;
};
struct store_sort_list {
	struct store_sort_msg *msgs;   /* malloc'd, UID order */
	size_t n;
	struct arena *arena;           /* holds the strings */
};

/* The string keys store_sort_get copies out; the others are left "". */
enum {
	STORE_SORT_SUBJECT = 1 << 0,
	STORE_SORT_FROM = 1 << 1,
	STORE_SORT_TO = 1 << 2,
	STORE_SORT_CC = 1 << 3,
	STORE_SORT_DISPLAY_FROM = 1 << 4,
	STORE_SORT_DISPLAY_TO = 1 << 5,
	STORE_SORT_IDS = 1 << 6,       /* message_id and references */
	STORE_SORT_ALL = (1 << 7) - 1,
};

/* The keys of the messages of mailbox whose UID is in uids (ascending, n
 * of them) that still exist, in UID order, with the string keys in want
 * (STORE_SORT_*: a SORT by date needs none, and the References list is
 * most of a row); missing cache rows are filled (parsing those messages)
 * and written back.  Memory: the keys asked for, at most ~1.5 KB a
 * message plus STORE_SORT_REFS_MAX with STORE_SORT_IDS.  Free with
 * store_sort_list_free.  Returns STORE_OK, STORE_IMAP_NONEXISTENT or
 * STORE_ERR_TEMP. */
int store_sort_get(struct store *st, const char *mailbox, const uint32_t *uids, size_t n, unsigned want,
                   struct store_sort_list *out, const char **error_out);
void store_sort_list_free(struct store_sort_list *l);

#endif
