/* METADATA (RFC 5464): GETMETADATA and SETMETADATA for the server's and
 * the mailboxes' entries, stored by store_metadata.h.  Tern's mailboxes
 * are single-user, so /private and /shared are both the user's own; both
 * are kept (NOPRIVATE is never needed).
 *
 * imap_metadata_parse.c holds the pure readers (entry names, GETMETADATA
 * options), which fuzz/fuzz_imap_metadata.c drives; imap_metadata.c runs
 * the commands on a worker thread with the imap_cmd.h signature. */
#ifndef TERN_IMAP_METADATA_H
#define TERN_IMAP_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"

struct arena;
struct buf;

/* SETMETADATA's answer to a value over STORE_METADATA_VALUE_MAX. */
#define IMAP_METADATA_MAXSIZE_CODE "METADATA MAXSIZE 16384"

/* Entry names in one command (our bound: as many as a mailbox holds). */
#define IMAP_METADATA_NAMES_MAX 128

/* An entry name (RFC 5464 3.2 and section 5 ABNF): "/private" or
 * "/shared", then "/"-separated parts; valid UTF-8, no control
 * characters, "*" or "%", no empty part, no trailing "/", at most
 * STORE_METADATA_NAME_MAX bytes.  for_set: a bare "/private" or
 * "/shared" is not an entry one can set.  Returns the name lowercased
 * (names are case-insensitive) in a, or NULL with a static text (BAD). */
char *imap_metadata_entry(const char *s, size_t len, bool for_set, struct arena *a, const char **error_out);

/* GETMETADATA's options (RFC 5464 4.2): (MAXSIZE n) (DEPTH 0|1|infinity),
 * in any order, each at most once.  *maxsize_out UINT32_MAX when absent;
 * *depth_out 0, 1 or -1 (infinity).  Returns 0, or -1 with a static text
 * (BAD). */
int imap_metadata_options(const struct imap_arg *list, uint32_t *maxsize_out, int *depth_out,
                          const char **error_out);

/* Appends an entry name as an astring: an atom when it can be one (as
 * RFC 5464's examples write them), else quoted or a literal. */
void imap_metadata_entry_write(struct buf *out, const char *name);

/* The commands (imap_job.c runs them). */
void imap_getmetadata_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                          struct imap_result *res);
void imap_setmetadata_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                          struct imap_result *res);

#endif
