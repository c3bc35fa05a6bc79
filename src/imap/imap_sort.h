/* SORT and UID SORT (RFC 5256 3) with SORT=DISPLAY (RFC 5957) and ESORT
 * (RFC 5267 3), THREAD and UID THREAD (RFC 5256 3, 4: ORDEREDSUBJECT and
 * REFERENCES).  Both run on a worker thread with the signature of
 * imap_cmd.h (args start after "SORT" / "THREAD").  The search criteria
 * after the charset are SEARCH's (imap_search.h: same parser, same
 * evaluation, same BADCHARSET and LIMIT answers); the sort keys come from
 * the store's cache (store_sort.h), never from re-reading messages.
 *
 * Strings are compared with i;ascii-casemap (RFC 5256 3: the default
 * collation; RFC 5957 3 names the same for DISPLAYFROM/DISPLAYTO when no
 * other is chosen); ties, and every key equal, fall back to the sequence
 * number (RFC 5256 3: "the order ... is by message sequence number"). */
#ifndef TERN_IMAP_SORT_H
#define TERN_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"
#include "imap/imap_search_private.h"  /* SORT and THREAD run SEARCH's program */

struct arena;
struct store_sort_list;
struct store_sort_msg;

/* Our bound on sort criteria in one SORT (RFC 5256 sets none; there are
 * eight keys, each worth giving once). */
#define IMAP_SORT_CRITERIA_MAX 16

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,  /* RFC 5957 */
	IMAP_SORT_DISPLAYTO,
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

struct imap_sort_program {
	struct imap_sort_criterion crit[IMAP_SORT_CRITERIA_MAX];
	size_t n_crit;
	struct imap_search_program search; /* search.esearch/ret/partial_*: ESORT's RETURN */
	bool update;                       /* RETURN (UPDATE): declined with NOUPDATE */
};

/* RFC 6855 erratum 4029: after ENABLE UTF8=ACCEPT, SORT's and THREAD's
 * charset other than UTF-8 is BAD. */
bool imap_sort_charset_refused(const struct imap_ctx *ctx, const struct imap_arg *charset);

/* Parses SORT's arguments: [RETURN (MIN MAX COUNT ALL PARTIAL x:y UPDATE
 * CONTEXT)] (sort-criteria)
 * charset search-key... into *prog (in a).  Returns 0, or -1 with res
 * filled (BAD for syntax; as imap_search_parse for the criteria). */
int imap_sort_parse(const struct imap_arg *args, struct arena *a, struct imap_sort_program *prog,
                    struct imap_result *res);

enum imap_thread_algorithm { IMAP_THREAD_ORDEREDSUBJECT, IMAP_THREAD_REFERENCES };

/* Parses THREAD's arguments: algorithm charset search-key...  Returns as
 * imap_sort_parse. */
int imap_thread_parse(const struct imap_arg *args, struct arena *a, enum imap_thread_algorithm *algo_out,
                      struct imap_search_program *prog, struct imap_result *res);

/* A message that matched, with its keys. */
struct imap_sort_item {
	const struct store_sort_msg *msg;
	uint32_t seq;                  /* in the view */
	uint64_t modseq;
};

/* Evaluates prog against the selected mailbox and reads the sort keys of
 * the messages that matched (the string keys in want, STORE_SORT_*):
 * *items_out (malloc'd, sequence order) point into *list (free with
 * store_sort_list_free).  Returns 0, or -1 with res filled. */
int imap_sort_matches(struct imap_ctx *ctx, struct imap_search_program *prog, unsigned want,
                      struct store_sort_list *list, struct imap_sort_item **items_out, size_t *n_out,
                      struct imap_result *res);

/* The sent date of RFC 5256 2.2: the Date header in UTC, else the
 * internal date. */
int64_t imap_sort_sent_date(const struct store_sort_msg *m);

/* Sorts items by crit (n_crit of them), then by sequence number. */
void imap_sort_items(struct imap_sort_item *items, size_t n, const struct imap_sort_criterion *crit,
                     size_t n_crit);

/* Threads items (n of them, sequence order; reordered) with algo and
 * appends "* THREAD ..." to out, with UIDs when uid.  Scratch in a.  Time
 * about n log n plus, for REFERENCES, the references and the depth of the
 * threads; no recursion. */
void imap_thread_write(struct imap_sort_item *items, size_t n, enum imap_thread_algorithm algo, bool uid,
                       struct arena *a, struct buf *out);

/* The commands, as imap_cmd.h describes: "* SORT ..." / "* ESEARCH ..."
 * and "* THREAD ...", or res filled with BAD (syntax, no mailbox
 * selected), NO [BADCHARSET ...], NO [LIMIT] or NO on a store error. */
void imap_sort_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_thread_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                     struct imap_result *res);

#endif
