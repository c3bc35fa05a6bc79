/* URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524): GENURLAUTH, URLFETCH
 * and RESETKEY, on a worker thread with the signature of imap_cmd.h.
 *
 * The "INTERNAL" mechanism (RFC 4467 7): each mailbox has a secret access
 * key of STORE_URLAUTH_KEY_LEN random octets (OpenSSL's RAND_bytes), made
 * on the first GENURLAUTH for it and kept in the user's store
 * (store_urlauth_key); a URL's token is HMAC-SHA256 of its rump under that
 * key, in lower-case hex.  Checking compares the decoded token in constant
 * time (CRYPTO_memcmp).  RESETKEY forgets keys, so every URL made with
 * them stops working.
 *
 * Who may fetch (the access identifier, RFC 4467 3): "user+name" the user
 * name, "authuser" any logged-in user, "submit+name" only the submission
 * server acting for name (BURL; never an IMAP session), "anonymous"
 * nobody: Tern has no anonymous access, so GENURLAUTH refuses to make one.
 * URLFETCH of another user's URL ("authuser", or "user+" this user)
 * opens that user's store for the key and the message; CATENATE and BURL
 * take URLs of the user's own mailboxes only. */
#ifndef TERN_IMAP_URLAUTH_H
#define TERN_IMAP_URLAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"

struct imap_url;

/* Octets one URLFETCH holds for its answer: past it the command ends
 * NO [LIMIT] (the data is sent from memory, not streamed). */
#define IMAP_URLFETCH_MAX_BYTES(append_limit) ((append_limit) < (64u << 20) ? (64u << 20) : (append_limit))

void imap_genurlauth_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_urlfetch_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_resetkey_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);

/* Whether the URLAUTH-authorized URL u (with a verifier; parsed from
 * text) lets user read what it names, with the mailbox keys of st, which
 * must be the store of the URL's owner (the caller's business): the
 * mechanism is INTERNAL, the token matches, it has not expired and the
 * access identifier admits user (submit: whether submission is true).
 * For URLFETCH, CATENATE and BURL. */
bool imap_urlauth_check(struct store *st, const char *text, const struct imap_url *u, const char *user,
                        bool submission);

#endif
