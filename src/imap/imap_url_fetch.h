/* The octets an IMAP URL names (RFC 5092 imessagepart), read from the
 * store on a worker thread: for CATENATE's URL parts (RFC 4469), URLFETCH
 * (RFC 4467, RFC 5524) and BURL (RFC 4468).  The section and partial are
 * those of FETCH BODY.PEEK[section]<partial> (imap_fetch_section.c does
 * the work), and nothing changes in the store (no \Seen: RFC 4467 3.4,
 * RFC 4469 5). */
#ifndef TERN_IMAP_URL_FETCH_H
#define TERN_IMAP_URL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_fetch_private.h"
#include "lib/buf.h"

struct arena;
struct store;
struct imap_url;

struct imap_url_data {
	const char *data;              /* the octets named (section and partial applied) */
	size_t len;
	/* internal */
	struct imap_fetch_msg msg;     /* the message file, mapped */
	void *map;
	size_t map_len;
	int fd;
	const char *sect_data;         /* the section before the partial */
	size_t sect_len;
	const struct mime_part *leaf;  /* the section is this leaf part's body */
	struct imap_section sect;
	const struct imap_url *url;
	struct buf filtered;           /* HEADER.FIELDS[.NOT] */
};

/* Reads what u (a message URL: u->uid set) names in the mailbox of st's
 * user.  Returns 0 with *d filled (close it with imap_url_data_close); 1
 * when the URL names nothing (no such mailbox, UIDVALIDITY changed, no
 * such message or part, an invalid section): the caller answers BADURL or
 * NIL; -1 when the store cannot be read now.  *d is closed-safe in every
 * case.  The message file is mapped, not copied. */
int imap_url_data_open(struct store *st, const struct imap_url *u, struct arena *a, struct imap_url_data *d);
void imap_url_data_close(struct imap_url_data *d);

/* RFC 5524 BINARY: the section transfer-decoded (its partial applied
 * after decoding), appended to out.  Returns 0; -1 when the part's
 * encoding cannot be decoded. */
int imap_url_data_binary(struct imap_url_data *d, struct arena *a, struct buf *out);
/* RFC 5524 BODYPARTSTRUCTURE: the extended body structure of the part
 * the section names (the message for none), appended to out; with binary,
 * of the part as imap_url_data_binary sends it (decoded sizes). */
void imap_url_data_structure(struct imap_url_data *d, bool binary, struct arena *a, struct buf *out);

#endif
