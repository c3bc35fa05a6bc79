/* The recipient's quota at RCPT (RFC 3463 X.2.2 "mailbox full"): a user
 * whose mailbox already holds its quota (or would, with the size MAIL
 * announced) is refused with a temporary 452 4.2.2, so the sender keeps
 * the message and retries once the user has made room.  Checked here
 * rather than after DATA: one SMTP reply covers every recipient of DATA,
 * and a refusal there would bounce the others too. */
#include <stdbool.h>

#include "directory/directory.h"
#include "smtp/smtp_session.h"
#include "store/store_imap.h"
#include "store/store_private.h"

bool
smtp_rcpt_over_quota(struct smtp_session *s, struct directory *d, const char *user, uint64_t size)
{
	struct dir_user u;
	struct store *st = NULL;
	enum store_error err;
	const char *error = NULL;
	uint64_t bytes = 0, messages = 0;
	bool over;

	if (directory_user_get(d, user, &u, &error) != 1 || u.quota_bytes == 0)
		return false;
	/* A user's index is small to open and stays in this thread's cache. */
	if (store_cache_open(s->cfg->data_dir, user, &st, &err, &error) == -1)
		return false;
	over = store_usage(st, &bytes, &messages, &error) == 0 && bytes + size > u.quota_bytes;
	store_cache_release(&st, false);
	return over;
}
