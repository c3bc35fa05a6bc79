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

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '.'))
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

int
queue_env_parse(char *buf, size_t len, struct queue_env *env_out, const char **error_out)
{
	bool have_from = false, have_queued = false, have_size = false;
	char *p = buf, *end = buf + len;
	uint64_t v;

	memset(env_out, 0, sizeof(*env_out));
	if (len > QUEUE_ENV_MAX) {
		*error_out = "envelope too large";
		return -1;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		*error_out = "envelope incomplete";
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		*error_out = "NUL in envelope";
		return -1;
	}
	env_out->rcpts = malloc(sizeof(*env_out->rcpts) * QUEUE_RCPT_MAX);
	if (env_out->rcpts == NULL) {
		*error_out = "out of memory";
		return -1;
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
		}
		/* Any other line: a later version's field; skip it. */
	}
	if (!have_from || !have_queued || !have_size || env_out->n_rcpts == 0)
		goto bad;
	return 0;
bad:
	*error_out = "malformed envelope";
fail:
	free(env_out->rcpts);
	env_out->rcpts = NULL;
	env_out->n_rcpts = 0;
	return -1;
}
