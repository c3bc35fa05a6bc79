/* The POP3 in-use registry (RFC 1939 section 8, RFC 2449 [IN-USE]): one
 * POP3 session per mailbox at a time in this process.  Process-wide and
 * thread-safe: the event loops run on several threads.  Memory is one
 * small node per locked user. */
#ifndef TERN_POP3_LOCK_H
#define TERN_POP3_LOCK_H

#include <stdbool.h>

/* Takes the lock for user (a canonical address, compared exactly).
 * Returns true if it was free and is now held by the caller, false if
 * another session holds it. */
bool pop3_lock_acquire(const char *user);

/* Gives back a lock taken by pop3_lock_acquire.  Releasing a user that is
 * not locked is a bug (panic). */
void pop3_lock_release(const char *user);

/* The number of users locked now (for tests). */
unsigned pop3_lock_count(void);

#endif
