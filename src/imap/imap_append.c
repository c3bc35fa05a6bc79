/* APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), APPENDUID (RFC
 * 4315) and the APPENDLIMIT / TOOBIG rules (RFC 7889), and REPLACE / UID
 * REPLACE (RFC 8508), an APPEND of one message that then expunges the
 * message it replaces in the selected mailbox.
 *
 * A literal above IMAP_APPEND_STREAM_MIN goes to a spool file as it
 * arrives (the parser's LITERAL_STREAM state), so a 50 MB message costs
 * no memory; smaller ones arrive in the command arena and are written to
 * spool files by the job.  The job fsyncs every spool file, then
 * store_imap_append links them all into the mailbox in one transaction:
 * the tagged OK means every message is on disk (DESIGN.md promise 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

struct imap_append_state {
	struct store_spool *spools;    /* streamed literals, in order */
	size_t n, cap;
	bool streaming;                /* the last spool is being written */
	bool dropping;                 /* a streamed literal of another command: dropped */
	bool failed;                   /* a spool write failed */
	enum store_error err;
};

void
imap_append_free(struct imap_session *s)
{
	struct imap_append_state *a = s->append;

	if (a == NULL)
		return;
	s->append = NULL;
	for (size_t i = 0; i < a->n; i++)
		store_spool_discard(&a->spools[i]);
	free(a->spools);
	free(a);
}

void
imap_append_literal_begin(struct imap_session *s)
{
	struct imap_command so_far;
	struct imap_append_state *a;
	const char *error = NULL;

	/* [limits] data_deadline and min_data_rate, as for SMTP DATA; a
	 * literal that is only dropped is timed all the same. */
	struct conn_transfer_limits lim = {
		.deadline_sec = s->cfg->data_deadline,
		.min_rate = s->cfg->min_data_rate,
	};

	conn_transfer_begin(s->c, &lim);
	if (s->append == NULL)
		s->append = xcalloc(1, sizeof(*s->append));
	a = s->append;
	imap_parser_command(s->parser, &so_far, NULL);
	if (!imap_append_like(&so_far) || s->state == IMAP_STATE_NOT_AUTH) {
		a->dropping = true;
		return;
	}
	if (a->failed || a->n >= IMAP_MULTIAPPEND_MAX) {
		a->failed = true;
		return;
	}
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 4 : a->cap * 2;
		a->spools = xrealloc(a->spools, a->cap * sizeof(*a->spools));
	}
	memset(&a->spools[a->n], 0, sizeof(a->spools[0]));
	a->spools[a->n].fd = -1;
	if (store_spool_create(s->cfg->data_dir, &a->spools[a->n], &error) == -1) {
		log_warnx("imap %s cannot create a spool file: %s", conn_id(s->c), error != NULL ? error : "?");
		a->failed = true;
		a->err = STORE_ERR_TEMP;
		return;
	}
	a->n++;
	a->streaming = true;
}

void
imap_append_literal_bytes(struct imap_session *s, const char *data, size_t len)
{
	struct imap_append_state *a = s->append;

	if (a == NULL || a->dropping || a->failed || !a->streaming || len == 0)
		return;
	if (store_spool_write(&a->spools[a->n - 1], data, len, &a->err) == -1)
		a->failed = true;
}

/* One message of the command. */
struct append_item {
	uint32_t flags;
	const char *keywords;
	int64_t internal_date;
	const char *data;              /* buffered literal, or NULL when streamed */
	size_t len;
	struct store_spool *spool;     /* where it is (streamed) or will be */
};

struct append_job {
	struct imap_session *s;
	char *mailbox;
	uint32_t replace_uid;          /* REPLACE: the message of the selected mailbox it replaces */
	struct append_item *items;
	size_t n;
	struct store_spool *own;       /* spools the job creates for buffered literals */
	struct imap_result res;
	struct buf out;
};

/* RFC 8508 3.3: the new message's APPENDUID goes in an untagged OK (the
 * tagged one is REPLACE's), then the replaced message is expunged; its
 * EXPUNGE (and the new message's EXISTS, when it came to the selected
 * mailbox) follow from the sync.  The APPEND is committed first: should
 * the expunge fail, the client has both messages, never neither. */
static void
replace_expunge(struct append_job *j, struct store *st, uint32_t uidvalidity, uint32_t new_uid)
{
	struct store_flags_change ch = { STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0 };
	struct store_imap_msg *changed = NULL;
	uint32_t *failed = NULL;
	size_t n_changed = 0, n_failed = 0;
	const char *mailbox = j->s->view.mailbox, *error = NULL;
	int r;

	buf_printf(&j->out, "* OK [APPENDUID %u %u] Replacement Message ID\r\n", uidvalidity, new_uid);
	r = store_imap_flags(st, mailbox, &j->replace_uid, 1, &ch, &changed, &n_changed, &failed, &n_failed, &error);
	store_imap_msgs_free(changed, n_changed);
	free(failed);
	if (r == STORE_OK)
		r = store_imap_expunge(st, mailbox, &j->replace_uid, 1, NULL, NULL, &error);
	if (r != STORE_OK) {
		log_warnx("imap %s REPLACE: the replaced message stays: %s", conn_id(j->s->c),
		          error != NULL ? error : "?");
		j->res.status = IMAP_NO;
		snprintf(j->res.code, sizeof(j->res.code), "UNAVAILABLE");
		snprintf(j->res.text, sizeof(j->res.text), "Appended, but the old message could not be removed");
		return;
	}
	snprintf(j->res.code, sizeof(j->res.code), "%s", "");
	snprintf(j->res.text, sizeof(j->res.text), "REPLACE completed");
}

static void
append_work(void *arg)
{
	struct append_job *j = arg;
	struct imap_session *s = j->s;
	struct store_append *sa = xcalloc(j->n, sizeof(*sa));
	struct store *st = NULL;
	enum store_error err = STORE_OK;
	uint32_t uidvalidity = 0;
	const char *error = NULL;
	int r = STORE_OK;

	for (size_t i = 0; i < j->n && r == STORE_OK; i++) {
		struct append_item *it = &j->items[i];

		if (it->data != NULL) {
			if (store_spool_create(s->cfg->data_dir, it->spool, &error) == -1) {
				r = STORE_ERR_TEMP;
				break;
			}
			if (store_spool_write(it->spool, it->data, it->len, &err) == -1) {
				r = err;
				break;
			}
		}
		if (store_spool_commit(it->spool, &err) == -1) {
			r = err;
			break;
		}
		sa[i].spool = it->spool;
		sa[i].flags = it->flags;
		sa[i].keywords = it->keywords;
		sa[i].internal_date = it->internal_date;
	}
	if (r == STORE_OK && (st = imap_store_get(s, &j->res)) == NULL) {
		free(sa);
		return;
	}
	if (r == STORE_OK)
		r = store_imap_append(st, j->mailbox, sa, j->n, s->quota_bytes, s->quota_messages, &uidvalidity, &error);
	if (r != STORE_OK) {
		j->res.status = IMAP_NO;
		switch (r) {
		case STORE_IMAP_NONEXISTENT:
			snprintf(j->res.code, sizeof(j->res.code), "TRYCREATE");
			snprintf(j->res.text, sizeof(j->res.text), "No such mailbox");
			break;
		case STORE_ERR_QUOTA:
			snprintf(j->res.code, sizeof(j->res.code), "OVERQUOTA");
			snprintf(j->res.text, sizeof(j->res.text), "Quota exceeded");
			break;
		case STORE_ERR_NOSPACE:
			snprintf(j->res.code, sizeof(j->res.code), "LIMIT");
			snprintf(j->res.text, sizeof(j->res.text), "The server is out of disk space");
			break;
		default:
			snprintf(j->res.code, sizeof(j->res.code), "UNAVAILABLE");
			snprintf(j->res.text, sizeof(j->res.text), "APPEND failed, try again later");
			break;
		}
		if (st != NULL)
			imap_store_release(&st, r == STORE_ERR_TEMP);
		free(sa);
		return;
	}
	{
		struct buf code = BUF_INIT;
		uint32_t *uids = xmalloc(j->n * sizeof(*uids));

		for (size_t i = 0; i < j->n; i++)
			uids[i] = sa[i].uid_out;
		buf_printf(&code, "APPENDUID %u ", uidvalidity);
		imap_uidset_write(&code, uids, j->n);
		j->res.status = IMAP_OK;
		if (code.len < sizeof(j->res.code))
			snprintf(j->res.code, sizeof(j->res.code), "%s", code.data);
		snprintf(j->res.text, sizeof(j->res.text), "APPEND completed");
		buf_free(&code);
		free(uids);
	}
	if (j->replace_uid != 0)
		replace_expunge(j, st, uidvalidity, sa[0].uid_out);
	if (s->state == IMAP_STATE_SELECTED)
		(void)imap_sync_work(s, st, true, NULL, 0, &j->out);
	imap_store_release(&st, false);
	free(sa);
}

static void
append_done(void *arg)
{
	struct append_job *j = arg;
	struct imap_session *s = j->s;

	for (size_t i = 0; i < j->n; i++)
		if (j->items[i].data != NULL)
			store_spool_discard(j->items[i].spool);
	if (!conn_closing(s->c)) {
		if (j->out.len > 0)
			conn_write(s->c, j->out.data, j->out.len);
		imap_append_free(s);     /* the streamed spools: linked or not, unlink ours */
		imap_complete_result(s, &j->res);
	}
	buf_free(&j->out);
	free(j->own);
	free(j->items);
	free(j->mailbox);
	free(j);
}

size_t
imap_append_messages(const struct imap_arg *args)
{
	size_t n = 0;

	/* The first argument is the mailbox, which may be a literal too. */
	for (const struct imap_arg *x = args != NULL ? args->next : NULL; x != NULL; x = x->next)
		if (x->type == IMAP_ARG_LITERAL || x->type == IMAP_ARG_LITERAL_STREAM)
			n++;
	return n;
}

bool
imap_append_dropped(struct imap_session *s)
{
	return s->append != NULL && s->append->dropping;
}

bool
imap_append_like(const struct imap_command *cmd)
{
	if (cmd->name == NULL)
		return false;
	if (strcasecmp(cmd->name, "APPEND") == 0 || strcasecmp(cmd->name, "REPLACE") == 0)
		return true;
	return strcasecmp(cmd->name, "UID") == 0 && imap_arg_atom_is(cmd->args, "REPLACE");
}

static void append_start(struct imap_session *s, const struct imap_arg *args, uint32_t replace_uid);

void
imap_cmd_append(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	append_start(s, args, 0);
}

/* REPLACE / UID REPLACE: message SP mailbox [SP flag-list] [SP date-time]
 * SP literal (RFC 8508 6). */
void
imap_cmd_replace(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	uint64_t num = 0;
	uint32_t target = 0;

	if (!imap_arg_number(args, &num) || num == 0 || num > UINT32_MAX) {
		imap_complete_bad(s, uid ? "REPLACE needs a UID" : "REPLACE needs a message sequence number");
		return;
	}
	if (!uid) {
		if (num > s->view.count) {
			imap_complete_bad(s, "Invalid message sequence number");
			return;
		}
		target = s->view.uids[num - 1];
	} else if (imap_view_seq(&s->view, (uint32_t)num) != 0) {
		target = (uint32_t)num;
	}
	if (s->view.read_only) {
		imap_complete(s, IMAP_NO, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
		return;
	}
	if (target == 0) {
		imap_complete(s, IMAP_NO, NULL, "No such message to replace");
		return;
	}
	if (imap_append_messages(args->next) != 1) {
		imap_complete_bad(s, "REPLACE takes one message");
		return;
	}
	append_start(s, args->next, target);
}

static void
append_start(struct imap_session *s, const struct imap_arg *args, uint32_t replace_uid)
{
	struct imap_append_state *a = s->append;
	struct imap_ctx ctx;
	struct imap_result res = { 0 };
	struct append_job *j;
	const struct imap_arg *x;
	size_t n, next_spool = 0;
	char *mailbox;

	/* Past IMAP_MULTIAPPEND_MAX messages the answer is NO [LIMIT] (RFC
	 * 5530: the command is valid, one of our bounds refuses it), whatever
	 * the literals' form: a synchronising one was refused before it was
	 * sent (decide_literal), non-synchronising ones were read and dropped
	 * (streamed) or held in the arena (buffered, within
	 * max_message_size in total) and are dropped now. */
	n = imap_append_messages(args);
	if (a != NULL && a->failed) {
		if (a->err == STORE_ERR_NOSPACE)
			imap_complete(s, IMAP_NO, "LIMIT", "The server is out of disk space");
		else if (n > IMAP_MULTIAPPEND_MAX)
			imap_complete(s, IMAP_NO, "LIMIT", "Too many messages in one APPEND (at most %d)",
			              IMAP_MULTIAPPEND_MAX);
		else
			imap_complete(s, IMAP_NO, "UNAVAILABLE", "APPEND failed, try again later");
		return;
	}
	imap_ctx_init(s, &ctx, s->arena);
	if (args == NULL || args->next == NULL) {
		imap_complete_bad(s, "APPEND needs a mailbox and a message");
		return;
	}
	if ((mailbox = imap_mailbox_arg(&ctx, args, &res)) == NULL) {
		imap_complete_result(s, &res);  /* BAD, or NO [CANNOT] */
		return;
	}
	if (n == 0) {
		imap_complete_bad(s, "APPEND needs a message literal");
		return;
	}
	if (n > IMAP_MULTIAPPEND_MAX) {
		imap_complete(s, IMAP_NO, "LIMIT", "Too many messages in one APPEND (at most %d)",
		              IMAP_MULTIAPPEND_MAX);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->items = xcalloc(n, sizeof(*j->items));
	j->own = xcalloc(n, sizeof(*j->own));
	for (size_t i = 0; i < n; i++)
		j->own[i].fd = -1;
	x = args->next;
	for (size_t i = 0; i < n; i++) {
		struct append_item *it = &j->items[i];
		const char *error = NULL;

		it->internal_date = (int64_t)time(NULL);
		it->keywords = "";
		if (x != NULL && x->type == IMAP_ARG_LIST) {
			if (imap_flags_parse(x, true, s->arena, &it->flags, &it->keywords, &error) == -1)
				goto bad;
			x = x->next;
		}
		if (x != NULL && x->type == IMAP_ARG_QUOTED) {
			if (imap_datetime_parse(x->str, x->len, &it->internal_date) == -1) {
				error = "Invalid date-time";
				goto bad;
			}
			x = x->next;
		}
		if (x == NULL || (x->type != IMAP_ARG_LITERAL && x->type != IMAP_ARG_LITERAL_STREAM)) {
			error = "APPEND expects [flags] [date-time] and a message literal";
			goto bad;
		}
		if ((x->type == IMAP_ARG_LITERAL ? x->len : x->lit_size) == 0) {
			free(j->items);
			free(j->own);
			free(j);
			imap_complete(s, IMAP_NO, NULL, "Empty messages cannot be appended");
			return;
		}
		if (x->type == IMAP_ARG_LITERAL) {
			it->data = x->str;
			it->len = x->len;
			it->spool = &j->own[i];
		} else {
			if (a == NULL || next_spool >= a->n) {
				error = "Internal error: literal without spool";
				goto bad;
			}
			it->spool = &a->spools[next_spool++];
		}
		x = x->next;
		continue;
bad:
		free(j->items);
		free(j->own);
		free(j);
		imap_complete_bad(s, "%s", error);
		return;
	}
	j->n = n;
	j->mailbox = xstrdup(mailbox);
	j->replace_uid = replace_uid;
	imap_job(s, append_work, append_done, j);
}
