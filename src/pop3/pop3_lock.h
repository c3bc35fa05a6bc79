/* The POP3 in-use registry (RFC 1939 section 8, RFC 2449 [IN-USE]): at
 * most one POP3 session per mailbox in this process may reach the UPDATE
 * state.  Process-wide and thread-safe: the event loops run on several
 * threads, and logins take their claim from worker jobs.  Memory is one
 * small node per locked user and one claim per logged-in session.
 *
 * A newer login takes a mailbox over from an older session.  A phone that
 * loses its network leaves its TCP connection open with no FIN or RST, and
 * that session would hold the mailbox for the whole POP3 timeout (10
 * minutes), every new login of the user getting [IN-USE].  The newer login
 * is almost always the live client (the same device, reconnected), so it
 * wins: the older session loses its claim at once, is told (kick) on its
 * own loop and ends, and its DELEs are discarded as if its connection had
 * dropped (RFC 1939 section 6: no UPDATE without QUIT).  Nothing is lost:
 * at worst a message is downloaded again, which a client that keeps UIDLs
 * recognises.  Exclusive access (RFC 1939 section 8) is kept where it
 * matters: a session enters UPDATE only while it still holds its claim
 * (pop3_lock_update), and no login takes over a session that is in UPDATE
 * (that login gets [IN-USE] for the few milliseconds the expunge takes),
 * so the QUIT of an older session never deletes messages that a newer
 * session listed.  Dropping the lock altogether (Dovecot's default,
 * pop3_lock_session = no) would let a stale session that comes back and
 * QUITs delete messages under the new session's listing. */
#ifndef TERN_POP3_LOCK_H
#define TERN_POP3_LOCK_H

#include <stdbool.h>

struct evloop;

/* One session's claim on one mailbox. */
struct pop3_lock;

/* Runs on the holder's event loop after a newer login has taken the
 * mailbox over (the claim no longer holds it). */
typedef void pop3_lock_kick_fn(void *arg);

/* Claims user's mailbox (a canonical address, compared exactly) for a
 * session whose event loop is loop.  If an older session holds it and is
 * not in UPDATE, that session's claim loses the mailbox at once
 * (pop3_lock_held false, pop3_lock_update refuses) and its kick(arg) is
 * posted to its loop (none when its loop or kick is NULL); *took_over_out
 * (may be NULL) is then true.  Returns the new claim (owned by the caller,
 * freed by pop3_lock_release), or NULL when the holder is in UPDATE: the
 * answer is [IN-USE].  Callable from any thread. */
struct pop3_lock *pop3_lock_acquire(const char *user, struct evloop *loop, pop3_lock_kick_fn *kick, void *arg,
                                    bool *took_over_out);

/* Whether the claim still holds its mailbox (no newer login took over). */
bool pop3_lock_held(const struct pop3_lock *l);

/* QUIT in TRANSACTION: enters UPDATE if the claim still holds its mailbox;
 * until pop3_lock_release no login can take it over.  Returns false when a
 * newer login has taken over: the session must then delete nothing. */
bool pop3_lock_update(struct pop3_lock *l);

/* Gives the mailbox back if the claim still holds it, and frees the claim
 * (*l becomes NULL; NULL is accepted).  From then on its kick is never
 * called: release on the claim's loop thread, or while the session cannot
 * be freed (a job is in flight). */
void pop3_lock_release(struct pop3_lock **l);

/* The number of users locked now (for tests). */
unsigned pop3_lock_count(void);

#endif
