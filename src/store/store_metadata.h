/* METADATA entries (RFC 5464) of a user's mailboxes and of the server (for
 * Tern: the user's own server entries), in the index (table metadata,
 * schema version 7).  Entries belong to their mailbox: a rename keeps
 * them, a delete drops them (RFC 5464 3.3).  Single-user mailboxes: the
 * /private and /shared trees are both the user's.
 *
 * Like store_imap.h: call from worker jobs; names are UTF-8 mailbox names
 * (mailbox NULL: the server's entries) and entry names as the IMAP layer
 * made them (lowercase, checked by imap_metadata_entry_check). */
#ifndef TERN_STORE_METADATA_H
#define TERN_STORE_METADATA_H

#include <stddef.h>

#include "store/store.h"

/* Our bounds (RFC 5464 sets none; it gives MAXSIZE and TOOMANY to say
 * so).  A value: IMAP_APPEND_STREAM_MIN, the largest literal a command
 * other than APPEND keeps (a larger one is dropped as it arrives, and the
 * session answers SETMETADATA's NO [METADATA MAXSIZE] for it).  Entries
 * per mailbox (and for the server): a GETMETADATA answer stays bounded by
 * their product (2 MiB).  A literal number: it is spelled into a code. */
#define STORE_METADATA_VALUE_MAX    16384
#define STORE_METADATA_ENTRIES_MAX  128
/* Bytes of an entry name (Dovecot: about 1000 too). */
#define STORE_METADATA_NAME_MAX     1024

struct store_metadata {
	char *name;                    /* "/private/comment" */
	char *value;                   /* NULL: remove (store_metadata_set) */
	size_t len;
};

/* The entries of mailbox (NULL: server) named in names, each with its
 * descendants to depth levels (0: the entry alone, 1: its children too,
 * -1: all), sorted by name, each once.  *out malloc'd (free with
 * store_metadata_free).  Returns STORE_OK, STORE_IMAP_NONEXISTENT or
 * STORE_ERR_TEMP. */
int store_metadata_get(struct store *st, const char *mailbox, const char *const *names, size_t n_names, int depth,
                       struct store_metadata **out, size_t *n_out, const char **error_out);
void store_metadata_free(struct store_metadata *m, size_t n);
/* Sets (value) or removes (value NULL) the n entries of mailbox (NULL:
 * server), all or none.  Returns STORE_OK, STORE_IMAP_NONEXISTENT,
 * STORE_IMAP_LIMIT (more than STORE_METADATA_ENTRIES_MAX would exist),
 * STORE_ERR_NOSPACE or STORE_ERR_TEMP. */
int store_metadata_set(struct store *st, const char *mailbox, const struct store_metadata *m, size_t n,
                       const char **error_out);

#endif
