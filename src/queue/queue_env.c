/* The envelope file format (see queue_private.h): parsing what
 * queue_enqueue wrote, defensively, since it comes back from disk. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_private.h"

int
queue_id_valid(const char *id, size_t len)
{
	if (len == 0 || len > QUEUE_ID_MAX || id[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.'))
			return 0;
	}
	return 1;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static bool
addr_ok(const char *a)
{
	return strlen(a) <= ADDRESS_MAX;
}

void
queue_env_free(struct queue_env *env)
{
	free(env->rcpts);
	free(env->rcpt_state);
	free(env->rcpt_reply);
	free(env->rcpt_notify);
	free(env->rcpt_orcpt);
	env->rcpt_notify = NULL;
	env->rcpt_orcpt = NULL;
	env->rcpts = NULL;
	env->rcpt_state = NULL;
	env->rcpt_reply = NULL;
	env->n_rcpts = 0;
}

/* "<number> " at *p: the number, *p past the space (or at the end). */
static int
take_u64(char **p, uint64_t *out)
{
	char *sp = strchr(*p, ' ');

	if (sp != NULL)
		*sp = '\0';
	if (parse_u64(*p, out) == -1)
		return -1;
	*p = sp != NULL ? sp + 1 : *p + strlen(*p);
	return 0;
}

/* "done|failed|deferred <index> <time> <reply>" */
static int
parse_rcpt_note(char *rest, enum queue_rcpt_state st, bool deferred, struct queue_env *env)
{
	uint64_t idx, when;

	if (take_u64(&rest, &idx) == -1 || take_u64(&rest, &when) == -1 || idx >= env->n_rcpts ||
	    when > INT64_MAX)
		return -1;
	if (!deferred)
		env->rcpt_state[idx] = (unsigned char)st;
	env->rcpt_reply[idx] = rest[0] != '\0' ? rest : NULL;
	return 0;
}

static int
parse_attempt(char *rest, struct queue_env *env)
{
	uint64_t when, next;

	if (take_u64(&rest, &when) == -1 || take_u64(&rest, &next) == -1 || when > INT64_MAX ||
	    next > INT64_MAX)
		return -1;
	env->attempts++;
	env->last_attempt = (int64_t)when;
	env->next_attempt = (int64_t)next;
	return 0;
}

int
queue_env_parse(char *buf, size_t len, struct queue_env *env_out, const char **error_out)
{
	bool have_from = false, have_queued = false, have_size = false;
	char *p = buf, *end;
	uint64_t v;

	memset(env_out, 0, sizeof(*env_out));
	if (len > QUEUE_ENV_MAX) {
		*error_out = "envelope too large";
		return -1;
	}
	/* A torn last line is an append the process did not finish. */
	while (len > 0 && buf[len - 1] != '\n')
		len--;
	if (len == 0) {
		*error_out = "envelope incomplete";
		return -1;
	}
	end = buf + len;
	if (memchr(buf, '\0', len) != NULL) {
		*error_out = "NUL in envelope";
		return -1;
	}
	env_out->rcpts = malloc(sizeof(*env_out->rcpts) * QUEUE_RCPT_MAX);
	env_out->rcpt_reply = calloc(QUEUE_RCPT_MAX, sizeof(*env_out->rcpt_reply));
	env_out->rcpt_state = calloc(QUEUE_RCPT_MAX, 1);
	env_out->rcpt_notify = calloc(QUEUE_RCPT_MAX, sizeof(*env_out->rcpt_notify));
	env_out->rcpt_orcpt = calloc(QUEUE_RCPT_MAX, sizeof(*env_out->rcpt_orcpt));
	if (env_out->rcpts == NULL || env_out->rcpt_reply == NULL || env_out->rcpt_state == NULL ||
	    env_out->rcpt_notify == NULL || env_out->rcpt_orcpt == NULL) {
		*error_out = "out of memory";
		goto fail;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = p;

		*nl = '\0';
		p = nl + 1;
		if (strncmp(line, "from ", 5) == 0 || strcmp(line, "from") == 0) {
			const char *a = line[4] == '\0' ? "" : line + 5;

			if (have_from || !addr_ok(a))
				goto bad;
			env_out->mail_from = a;
			have_from = true;
		} else if (strncmp(line, "rcpt ", 5) == 0) {
			if (env_out->n_rcpts == QUEUE_RCPT_MAX) {
				*error_out = "too many recipients in envelope";
				goto fail;
			}
			if (line[5] == '\0' || !addr_ok(line + 5))
				goto bad;
			env_out->rcpts[env_out->n_rcpts++] = line + 5;
		} else if (strncmp(line, "queued ", 7) == 0) {
			if (have_queued || parse_u64(line + 7, &v) == -1 || v > INT64_MAX)
				goto bad;
			env_out->queued_at = (int64_t)v;
			have_queued = true;
		} else if (strncmp(line, "size ", 5) == 0) {
			if (have_size || parse_u64(line + 5, &v) == -1)
				goto bad;
			env_out->size = v;
			have_size = true;
		} else if (strncmp(line, "done ", 5) == 0) {
			if (parse_rcpt_note(line + 5, QUEUE_RCPT_DONE, false, env_out) == -1)
				goto bad;
		} else if (strncmp(line, "failed ", 7) == 0) {
			if (parse_rcpt_note(line + 7, QUEUE_RCPT_FAILED, false, env_out) == -1)
				goto bad;
		} else if (strncmp(line, "deferred ", 9) == 0) {
			if (parse_rcpt_note(line + 9, QUEUE_RCPT_PENDING, true, env_out) == -1)
				goto bad;
		} else if (strncmp(line, "attempt ", 8) == 0) {
			if (parse_attempt(line + 8, env_out) == -1)
				goto bad;
		} else if (strcmp(line, "ret full") == 0) {
			env_out->ret = QUEUE_RET_FULL;
		} else if (strcmp(line, "ret hdrs") == 0) {
			env_out->ret = QUEUE_RET_HDRS;
		} else if (strncmp(line, "envid ", 6) == 0) {
			env_out->envid = line + 6;
		} else if (strncmp(line, "notify ", 7) == 0 || strncmp(line, "orcpt ", 6) == 0) {
			bool notify = line[0] == 'n';
			char *rest = line + (notify ? 7 : 6);
			uint64_t idx, bits;

			if (take_u64(&rest, &idx) == -1 || idx >= env_out->n_rcpts)
				goto bad;
			if (notify) {
				if (parse_u64(rest, &bits) == -1 || bits > 15)
					goto bad;
				env_out->rcpt_notify[idx] = (unsigned)bits;
			} else {
				env_out->rcpt_orcpt[idx] = rest;
			}
		} else if (strncmp(line, "warned ", 7) == 0) {
			if (parse_u64(line + 7, &v) == -1 || v > INT64_MAX)
				goto bad;
			env_out->warned_at = (int64_t)v;
		}
		/* Any other line: a later version's field; skip it. */
	}
	if (!have_from || !have_queued || !have_size || env_out->n_rcpts == 0)
		goto bad;
	return 0;
bad:
	*error_out = "malformed envelope";
fail:
	queue_env_free(env_out);
	return -1;
}
