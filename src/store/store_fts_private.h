/* Shared by store_fts.c (the index: schema, writes, upkeep) and
 * store_fts_search.c (queries).  Not an interface: see store_fts.h. */
#ifndef TERN_STORE_FTS_PRIVATE_H
#define TERN_STORE_FTS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "store/store_private.h"

/* Appended to every indexed text: two characters after the last one, so
 * that every character of the text starts a trigram and a needle of one
 * or two characters is exactly "some trigram starts with it"
 * (store_fts_search.c).  U+0001, the padding fold_text uses too. */
#define FTS_PAD "\x01\x01"
#define FTS_PAD_CHAR '\x01'

/* A growing list of UIDs (free v with free()). */
struct fts_uids {
	uint32_t *v;
	size_t n, cap;
};
void fts_uids_add(struct fts_uids *u, uint32_t uid);

/* Prepares sql (FTS statements are not cached: DROP and RENAME of the
 * index table during compaction would re-prepare them anyway).  NULL on
 * error (st->errbuf). */
sqlite3_stmt *fts_prep(struct store *st, const char *sql);
/* Finalizes s, whose last step returned rc: 0 if that was SQLITE_DONE,
 * else -1 with the reason in st->errbuf. */
int fts_finish(struct store *st, sqlite3_stmt *s, int rc, const char *what);

/* The header and body text of the message file named file in msg/ (as
 * mime_text_extract gives them), appended to header and body.  A file
 * that cannot be read has no text.  Returns true if it was read. */
bool fts_file_text(struct store *st, const char *file, struct buf *header, struct buf *body);

/* Indexes what is missing in mailbox_id before a search, when the disk
 * reserve allows writing (lib/reserve.h); failures are not reported: the
 * search reads the files of messages still without text.  Returns 0. */
int fts_heal_for_search(struct store *st, int64_t mailbox_id);

#endif
