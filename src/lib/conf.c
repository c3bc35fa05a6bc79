/* The config file syntax: sections, key = value, comments.  Knows no keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static int
fail(char **error_out, const char *path, unsigned line, const char *msg)
{
	char *e;

	/* Line 0: the file as a whole (cannot be read, too large). */
	if ((line > 0 ? asprintf(&e, "%s:%u: %s", path, line, msg) : asprintf(&e, "%s: %s", path, msg)) < 0)
		e = xstrdup(msg);
	*error_out = e;
	return -1;
}

static bool
valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return false;
	}
	return true;
}

/* Removes a trailing "# comment" that follows whitespace; a value in
 * double quotes keeps its '#'. */
static void
strip_comment(char *value)
{
	char *p = value;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		char *close = strchr(p + 1, '"');

		if (close != NULL)
			p = close + 1;
	}
	for (; *p != '\0'; p++) {
		if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '"')) {
			*p = '\0';
			return;
		}
	}
}

static void
add_entry(struct conf *c, size_t *cap, const char *section, const char *key, const char *value, unsigned line)
{
	if (c->count == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		c->entries = xrealloc(c->entries, *cap * sizeof(*c->entries));
	}
	c->entries[c->count].section = xstrdup(section);
	c->entries[c->count].key = xstrdup(key);
	c->entries[c->count].value = xstrdup(value);
	c->entries[c->count].line = line;
	c->count++;
}

int
conf_parse(const char *path, const char *text, size_t len, struct conf **conf_out, char **error_out)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	char section[CONF_LINE_MAX] = "";
	char line[CONF_LINE_MAX + 1];
	size_t cap = 0, scap = 0, pos = 0;
	unsigned lineno = 0;

	c->path = xstrdup(path);
	if (len > CONF_FILE_MAX) {
		fail(error_out, path, 0, "file too large");
		goto fail;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		char *s, *eq;

		lineno++;
		if (n > CONF_LINE_MAX) {
			fail(error_out, path, lineno, "line too long");
			goto fail;
		}
		if (memchr(text + pos, '\0', n) != NULL) {
			fail(error_out, path, lineno, "NUL byte in line");
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL ? 1 : 0);

		s = str_trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end == NULL) {
				fail(error_out, path, lineno, "missing ']' in section header");
				goto fail;
			}
			*end = '\0';
			strip_comment(end + 1);
			if (*str_trim(end + 1) != '\0') {
				fail(error_out, path, lineno, "text after section header");
				goto fail;
			}
			str_trim(s + 1);
			if (!valid_name(s + 1)) {
				fail(error_out, path, lineno, "invalid section name");
				goto fail;
			}
			str_lcpy(section, s + 1, sizeof(section));
			if (c->nsections == scap) {
				scap = scap == 0 ? 8 : scap * 2;
				c->sections = xrealloc(c->sections, scap * sizeof(*c->sections));
			}
			c->sections[c->nsections++] = (struct conf_entry){ xstrdup(section), NULL, NULL, lineno };
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			fail(error_out, path, lineno, "expected 'key = value'");
			goto fail;
		}
		*eq = '\0';
		str_trim(s);
		if (!valid_name(s)) {
			fail(error_out, path, lineno, "invalid key name");
			goto fail;
		}
		if (section[0] == '\0') {
			fail(error_out, path, lineno, "key outside of a [section]");
			goto fail;
		}
		strip_comment(eq + 1);
		str_trim(eq + 1);
		/* "value" in double quotes keeps its '#' and spaces. */
		char *v = eq + 1;
		size_t vlen = strlen(v);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v[vlen - 1] = '\0';
			v++;
		}
		add_entry(c, &cap, section, s, v, lineno);
	}
	*conf_out = c;
	return 0;
fail:
	conf_free(&c);
	return -1;
}

int
conf_load(const char *path, struct conf **conf_out, char **error_out)
{
	struct stat st;
	char *text;
	ssize_t r;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return fail(error_out, path, 0, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(error_out, path, 0, "not a regular file");
	}
	if (st.st_size > CONF_FILE_MAX) {
		close(fd);
		return fail(error_out, path, 0, "file too large");
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, text + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	ret = conf_parse(path, text, got, conf_out, error_out);
	free(text);
	return ret;
}

void
conf_free(struct conf **cp)
{
	struct conf *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->count; i++) {
		free(c->entries[i].section);
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	for (size_t i = 0; i < c->nsections; i++)
		free(c->sections[i].section);
	free(c->sections);
	free(c->path);
	free(c);
	*cp = NULL;
}

const struct conf_entry *
conf_find(const struct conf *c, const char *section, const char *key)
{
	const struct conf_entry *found = NULL;

	for (size_t i = 0; i < c->count; i++) {
		if (strcmp(c->entries[i].section, section) == 0 && strcmp(c->entries[i].key, key) == 0)
			found = &c->entries[i];
	}
	return found;
}
