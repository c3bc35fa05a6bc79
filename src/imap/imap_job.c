/* Commands that run whole on a worker thread with the imap_cmd.h
 * signature: the mailbox commands (imap_mailbox.h), SEARCH
 * (imap_search.h) and GENURLAUTH, URLFETCH, RESETKEY (imap_urlauth.h).
 * The job opens the user's store, runs the function, syncs the selected
 * mailbox in the same job, and the loop sends it all. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_metadata.h"
#include "imap/imap_search.h"
#include "imap/imap_session.h"
#include "imap/imap_sort.h"
#include "imap/imap_urlauth.h"
#include "lib/arena.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

typedef void imap_run_fn(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                         struct imap_result *res);

static const struct {
	const char *name;
	imap_run_fn *fn;
} runners[] = {
	{ "GETMETADATA", imap_getmetadata_run },
	{ "SETMETADATA", imap_setmetadata_run },
	{ "LIST", imap_list_run },
	{ "LSUB", imap_lsub_run },
	{ "STATUS", imap_status_run },
	{ "CREATE", imap_create_run },
	{ "DELETE", imap_delete_run },
	{ "RENAME", imap_rename_run },
	{ "SUBSCRIBE", imap_subscribe_run },
	{ "UNSUBSCRIBE", imap_unsubscribe_run },
	{ "GETQUOTA", imap_getquota_run },
	{ "GETQUOTAROOT", imap_getquotaroot_run },
	{ "MYRIGHTS", imap_myrights_run },
	{ "GETACL", imap_getacl_run },
	{ "LISTRIGHTS", imap_listrights_run },
	{ "SETACL", imap_setacl_run },
	{ "DELETEACL", imap_deleteacl_run },
	{ "SEARCH", imap_search_run },
	{ "GENURLAUTH", imap_genurlauth_run },
	{ "URLFETCH", imap_urlfetch_run },
	{ "RESETKEY", imap_resetkey_run },
	{ "SORT", imap_sort_run },
	{ "THREAD", imap_thread_run },
};

struct worker_job {
	struct imap_session *s;
	imap_run_fn *fn;
	const struct imap_arg *args;
	bool uid;
	bool selected;
	bool expunges_ok;
	bool condstore_used;
	struct imap_result res;
	struct buf out;
};

static void
worker_work(void *arg)
{
	struct worker_job *j = arg;
	struct imap_session *s = j->s;
	struct arena *a = arena_new(16384, false);
	struct imap_ctx ctx;

	imap_ctx_init(s, &ctx, a);
	ctx.uid = j->uid;
	ctx.st = imap_store_get(s, &j->res);
	if (ctx.st != NULL) {
		const char *error = NULL;

		/* One snapshot for the whole command (SEARCH reads per message);
		 * a write (CREATE, ...) ends it by itself. */
		(void)store_read_begin(ctx.st, &error);
		j->res.status = IMAP_OK;
		j->fn(&ctx, j->args, &j->out, &j->res);
		j->condstore_used = ctx.condstore_used;
		if (j->selected && j->res.status != IMAP_BAD)
			(void)imap_sync_work(s, ctx.st, j->expunges_ok, NULL, 0, &j->out);
		store_read_end(ctx.st);
		imap_store_release(&ctx.st, false);
	}
	arena_free(&a);
}

static void
worker_done(void *arg)
{
	struct worker_job *j = arg;
	struct imap_session *s = j->s;

	if (j->condstore_used)
		s->condstore = true;
	imap_job_reply(s, &j->out, &j->res);
	buf_free(&j->out);
	free(j);
}

void
imap_cmd_worker(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct worker_job *j;
	imap_run_fn *fn = NULL;

	for (size_t i = 0; i < sizeof(runners) / sizeof(runners[0]); i++)
		if (strcasecmp(runners[i].name, s->cmd.name) == 0)
			fn = runners[i].fn;
	if (fn == NULL) {
		imap_complete_bad(s, "Unknown command");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->fn = fn;
	j->args = args;
	j->uid = uid;
	j->selected = s->state == IMAP_STATE_SELECTED;
	j->expunges_ok = !s->no_expunge;
	imap_job(s, worker_work, worker_done, j);
}
