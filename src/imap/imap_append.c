/* APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), APPENDUID (RFC
 * 4315), the APPENDLIMIT / TOOBIG rules (RFC 7889), CATENATE (RFC
 * 4469: a message made of TEXT literals and URL parts, each URL naming a
 * message or part of the user's own mailboxes, read as FETCH
 * BODY.PEEK[section]<partial> would: imap_url_fetch.c), and REPLACE / UID
 * REPLACE (RFC 8508), an APPEND of one message that then expunges the
 * message it replaces in the selected mailbox.
 *
 * A literal above IMAP_APPEND_STREAM_MIN goes to a spool file as it
 * arrives (the parser's LITERAL_STREAM state), so a 50 MB message costs
 * no memory; smaller ones arrive in the command arena and are written to
 * spool files by the job.  The job fsyncs every spool file, then
 * store_imap_append links them all into the mailbox in one transaction:
 * the tagged OK means every message is on disk (DESIGN.md promise 1). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_session.h"
#include "imap/imap_url.h"
#include "imap/imap_url_fetch.h"
#include "imap/imap_urlauth.h"
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

/* One part of a CATENATE message: a TEXT literal (as an item's literal
 * below) or a URL. */
struct append_part {
	const char *data;              /* buffered TEXT */
	size_t len;
	struct store_spool *spool;     /* streamed TEXT, else NULL */
	const char *url;               /* URL: as written (for BADURL), NULL for TEXT */
	struct imap_url parsed;
};

/* One message of the command. */
struct append_item {
	uint32_t flags;
	const char *keywords;
	int64_t internal_date;
	const char *data;              /* buffered literal, or NULL when streamed */
	size_t len;
	struct store_spool *spool;     /* where it is (streamed) or will be */
	struct append_part *parts;     /* CATENATE (in the command arena), else NULL */
	size_t nparts;
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
set_res(struct imap_result *res, enum imap_status st, const char *code, const char *text)
{
	res->status = st;
	snprintf(res->code, sizeof(res->code), "%s", code);
	snprintf(res->text, sizeof(res->text), "%s", text);
}

/* Copies a streamed TEXT literal's spool file (open for writing only)
 * into to. */
static int
spool_copy(struct store_spool *from, struct store_spool *to, enum store_error *err)
{
	char chunk[65536];
	uint64_t off = 0;
	int fd = open(from->path, O_RDONLY | O_CLOEXEC);

	*err = STORE_ERR_TEMP;
	if (fd == -1)
		return -1;
	while (off < from->size) {
		size_t want = from->size - off < sizeof(chunk) ? (size_t)(from->size - off) : sizeof(chunk);
		ssize_t r = pread(fd, chunk, want, (off_t)off);

		if (r <= 0 || store_spool_write(to, chunk, (size_t)r, err) == -1) {
			close(fd);
			return -1;
		}
		off += (uint64_t)r;
	}
	close(fd);
	return 0;
}

/* Builds a CATENATE message into it->spool (RFC 4469 5): its parts in
 * order.  Returns 0, or -1 with j->res filled (BADURL, TOOBIG, ...). */
static int
catenate_build(struct append_job *j, struct store *st, struct append_item *it, struct arena *a)
{
	struct imap_session *s = j->s;
	enum store_error err = STORE_OK;
	const char *error = NULL;
	uint64_t total = 0;

	if (store_spool_create(s->cfg->data_dir, it->spool, &error) == -1) {
		set_res(&j->res, IMAP_NO, "UNAVAILABLE", "APPEND failed, try again later");
		return -1;
	}
	for (size_t k = 0; k < it->nparts; k++) {
		struct append_part *p = &it->parts[k];
		struct imap_url_data d;
		int rc;

		if (p->url == NULL) {
			total += p->spool != NULL ? p->spool->size : p->len;
			if (total > s->cfg->max_message_size)
				goto toobig;
			rc = p->spool != NULL ? spool_copy(p->spool, it->spool, &err)
			                      : store_spool_write(it->spool, p->data, p->len, &err);
			if (rc == -1)
				goto io;
			continue;
		}
		memset(&d, 0, sizeof(d));
		d.fd = -1;
		/* a plain URL of the user's own mailbox, or a URLAUTH one that
		 * lets this user read it (RFC 4469 5) */
		if (p->parsed.access == IMAP_URL_ACCESS_NONE)
			rc = imap_url_owner_is(&p->parsed, s->user) ? imap_url_data_open(st, &p->parsed, a, &d) : 1;
		else
			rc = imap_url_owner_is(&p->parsed, s->user) &&
			             imap_urlauth_check(st, p->url, &p->parsed, s->user, false)
			             ? imap_url_data_open(st, &p->parsed, a, &d)
			             : 1;
		if (rc == 1) {
			j->res.status = IMAP_NO;
			snprintf(j->res.code, sizeof(j->res.code), "BADURL %.200s", p->url);
			snprintf(j->res.text, sizeof(j->res.text), "The URL names no message this user can read");
			imap_url_data_close(&d);
			return -1;
		}
		if (rc == -1) {
			imap_url_data_close(&d);
			set_res(&j->res, IMAP_NO, "UNAVAILABLE", "APPEND failed, try again later");
			return -1;
		}
		total += d.len;
		rc = total > s->cfg->max_message_size ? 1 : store_spool_write(it->spool, d.data, d.len, &err);
		imap_url_data_close(&d);
		if (rc == 1)
			goto toobig;
		if (rc == -1)
			goto io;
	}
	if (total == 0) {
		set_res(&j->res, IMAP_NO, "", "Empty messages cannot be appended");
		return -1;
	}
	return 0;
toobig:
	/* RFC 4469 5: the result is over the limit (APPENDLIMIT, RFC 7889) */
	set_res(&j->res, IMAP_NO, "TOOBIG", "The message would be too big");
	return -1;
io:
	if (err == STORE_ERR_NOSPACE)
		set_res(&j->res, IMAP_NO, "LIMIT", "The server is out of disk space");
	else
		set_res(&j->res, IMAP_NO, "UNAVAILABLE", "APPEND failed, try again later");
	return -1;
}

/* CATENATE messages are built first, with the store open: a missing
 * mailbox is TRYCREATE whatever the URLs say (RFC 4469 5 and imaptest). */
static int
catenate_all(struct append_job *j, struct store *st)
{
	struct store_mailbox_status status;
	struct arena *a;
	const char *error = NULL;
	int rc;

	rc = store_mailbox_status(st, j->mailbox, &status, &error);
	if (rc == STORE_IMAP_NONEXISTENT) {
		set_res(&j->res, IMAP_NO, "TRYCREATE", "No such mailbox");
		return -1;
	}
	if (rc != STORE_OK) {
		set_res(&j->res, IMAP_NO, "UNAVAILABLE", "APPEND failed, try again later");
		return -1;
	}
	a = arena_new(4096, false);
	rc = 0;
	for (size_t i = 0; i < j->n && rc == 0; i++)
		if (j->items[i].parts != NULL)
			rc = catenate_build(j, st, &j->items[i], a);
	arena_free(&a);
	return rc;
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
	bool catenate = false;

	for (size_t i = 0; i < j->n; i++)
		catenate |= j->items[i].parts != NULL;
	if (catenate) {
		if ((st = imap_store_get(s, &j->res)) == NULL) {
			free(sa);
			return;
		}
		if (catenate_all(j, st) == -1) {
			imap_store_release(&st, false);
			free(sa);
			return;
		}
	}
	for (size_t i = 0; i < j->n && r == STORE_OK; i++) {
		struct append_item *it = &j->items[i];

		if (it->data != NULL && it->parts == NULL) {
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
	if (r == STORE_OK && st == NULL && (st = imap_store_get(s, &j->res)) == NULL) {
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
		if (j->items[i].data != NULL || j->items[i].parts != NULL)
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

/* "(" cat-part *(SP cat-part) ")" with cat-part = "TEXT" SP literal /
 * "URL" SP astring (RFC 4469 6).  A URL's syntax is checked here; what
 * it names, by the job.  Returns 0 or -1 with a static *error_out. */
static int
catenate_parse(struct imap_session *s, const struct imap_arg *list, struct append_item *it,
               size_t *next_spool, const char **error_out)
{
	struct imap_append_state *a = s->append;
	const struct imap_arg *x = list->list;
	size_t k = 0;

	if (list->count == 0) {
		*error_out = "CATENATE needs at least one part";
		return -1;
	}
	it->parts = arena_alloc(s->arena, list->count * sizeof(*it->parts));
	memset(it->parts, 0, list->count * sizeof(*it->parts));
	while (x != NULL) {
		struct append_part *p = &it->parts[k];
		const struct imap_arg *v = x->next;

		if (v == NULL) {
			*error_out = "CATENATE part without its value";
			return -1;
		}
		if (imap_arg_atom_is(x, "TEXT") && v->type == IMAP_ARG_LITERAL) {
			p->data = v->str;
			p->len = v->len;
		} else if (imap_arg_atom_is(x, "TEXT") && v->type == IMAP_ARG_LITERAL_STREAM) {
			if (a == NULL || *next_spool >= a->n) {
				*error_out = "Internal error: literal without spool";
				return -1;
			}
			p->spool = &a->spools[(*next_spool)++];
		} else if (imap_arg_atom_is(x, "URL")) {
			const char *url, *error;
			size_t len;

			if (!imap_arg_astring(v, &url, &len)) {
				*error_out = "CATENATE URL needs a string";
				return -1;
			}
			p->url = arena_strndup(s->arena, url, len);
			/* an invalid URL is still a URL part: BADURL in the job */
			if (imap_url_parse(url, len, s->arena, &p->parsed, &error) == -1)
				memset(&p->parsed, 0, sizeof(p->parsed));
		} else {
			*error_out = "CATENATE parts are TEXT literal or URL string";
			return -1;
		}
		k++;
		x = v->next;
	}
	it->nparts = k;
	return 0;
}

/* RFC 6855 4: append-data =/ "UTF8" SP "(" literal8 ")" */
static bool
is_utf8_data(const struct imap_arg *x)
{
	const struct imap_arg *l = x != NULL ? x->next : NULL;

	return imap_arg_atom_is(x, "UTF8") && l != NULL && l->type == IMAP_ARG_LIST && l->count == 1 &&
	       (l->list->type == IMAP_ARG_LITERAL || l->list->type == IMAP_ARG_LITERAL_STREAM);
}

size_t
imap_append_messages(const struct imap_arg *args)
{
	size_t n = 0;

	/* The first argument is the mailbox, which may be a literal too. */
	for (const struct imap_arg *x = args != NULL ? args->next : NULL; x != NULL; x = x->next)
		if (x->type == IMAP_ARG_LITERAL || x->type == IMAP_ARG_LITERAL_STREAM ||
		    (imap_arg_atom_is(x, "CATENATE") && x->next != NULL && x->next->type == IMAP_ARG_LIST) ||
		    is_utf8_data(x))
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
		const struct imap_arg *after;
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
		if (imap_arg_atom_is(x, "CATENATE") && x->next != NULL && x->next->type == IMAP_ARG_LIST) {
			x = x->next;
			if (catenate_parse(s, x, it, &next_spool, &error) == -1)
				goto bad;
			it->spool = &j->own[i];
			x = x->next;
			continue;
		}
		after = NULL;
		if (is_utf8_data(x)) {
			if (!s->utf8_accept) {
				error = "UTF8 message data needs ENABLE UTF8=ACCEPT (RFC 6855 4)";
				goto bad;
			}
			after = x->next->next;  /* the argument after "UTF8 (...)" */
			x = x->next->list;      /* the literal8 inside */
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
		x = after != NULL ? after : x->next;
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
