/* DKIM tag lists (RFC 6376 3.2), the syntax of both DKIM-Signature values
 * and key records.  Strict: what the grammar does not allow is refused, so
 * a signer's mistake is a permerror rather than a guess. */
#include "mailauth/dkim_private.h"

#include <string.h>

#include "lib/str.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* VALCHAR = %x21-3A / %x3C-7E: printable, not ';' */
static bool
is_valchar(char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* Skips FWS = [*WSP CRLF] 1*WSP, and plain WSP runs.  A CRLF must be
 * followed by WSP (else it would end the field); returns -1 then. */
static int
skip_fws(const char *s, size_t len, size_t *i)
{
	while (*i < len) {
		if (is_wsp(s[*i])) {
			(*i)++;
		} else if (s[*i] == '\r') {
			if (*i + 2 >= len || s[*i + 1] != '\n' || !is_wsp(s[*i + 2]))
				return -1;
			*i += 3;
		} else {
			break;
		}
	}
	return 0;
}

static int
parse_one(const char *s, size_t len, size_t *i, struct dkim_tag *t, const char **error_out)
{
	size_t last;

	if (skip_fws(s, len, i) != 0)
		goto bad_fws;
	if (*i >= len || !is_alpha(s[*i])) {
		*error_out = "tag list: a tag name must start with a letter";
		return -1;
	}
	t->name = s + *i;
	while (*i < len && (is_alpha(s[*i]) || (s[*i] >= '0' && s[*i] <= '9') || s[*i] == '_'))
		(*i)++;
	t->name_len = (size_t)(s + *i - t->name);
	if (skip_fws(s, len, i) != 0)
		goto bad_fws;
	if (*i >= len || s[*i] != '=') {
		*error_out = "tag list: '=' expected after a tag name";
		return -1;
	}
	(*i)++;
	t->raw_start = *i;
	if (skip_fws(s, len, i) != 0)
		goto bad_fws;
	t->value = s + *i;
	last = *i;
	/* tval *( 1*(WSP / FWS) tval ): FWS only between value characters */
	while (*i < len && s[*i] != ';') {
		if (is_valchar(s[*i])) {
			(*i)++;
			last = *i;
		} else if (is_wsp(s[*i]) || s[*i] == '\r') {
			if (skip_fws(s, len, i) != 0)
				goto bad_fws;
		} else {
			*error_out = "tag list: a value holds a character outside VALCHAR";
			return -1;
		}
	}
	t->value_len = last - (size_t)(t->value - s);
	t->raw_end = *i;
	return 0;
bad_fws:
	*error_out = "tag list: a line break that is not folding";
	return -1;
}

int
dkim_tags_parse(const char *s, size_t len, struct dkim_tags *out, const char **error_out)
{
	size_t i = 0, j;

	out->n = 0;
	for (;;) {
		struct dkim_tag *t;

		if (out->n == DKIM_TAGS_MAX) {
			*error_out = "tag list: too many tags";
			return -1;
		}
		t = &out->tag[out->n];
		if (parse_one(s, len, &i, t, error_out) != 0)
			return -1;
		for (j = 0; j < out->n; j++) {
			if (out->tag[j].name_len == t->name_len && memcmp(out->tag[j].name, t->name, t->name_len) == 0) {
				*error_out = "tag list: a tag occurs twice";
				return -1;
			}
		}
		out->n++;
		if (i >= len)
			return 0;
		i++;   /* ';' */
		/* One trailing ';', with FWS after it, ends the list. */
		j = i;
		if (skip_fws(s, len, &j) != 0) {
			*error_out = "tag list: a line break that is not folding";
			return -1;
		}
		if (j >= len)
			return 0;
	}
}

const struct dkim_tag *
dkim_tags_get(const struct dkim_tags *t, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < t->n; i++) {
		if (t->tag[i].name_len == n && memcmp(t->tag[i].name, name, n) == 0)
			return &t->tag[i];
	}
	return NULL;
}

int
dkim_tag_value_nows(const struct dkim_tag *t, char *out, size_t outsize)
{
	size_t i, o = 0;

	for (i = 0; i < t->value_len; i++) {
		char c = t->value[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (o + 1 >= outsize)
			return -1;
		out[o++] = c;
	}
	if (outsize == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

long
dkim_tag_base64(const struct dkim_tag *t, unsigned char *out, size_t outsize)
{
	char tmp[DKIM_KEY_RECORD_MAX + 1];

	if (dkim_tag_value_nows(t, tmp, sizeof(tmp)) != 0)
		return -1;
	return base64_decode(tmp, strlen(tmp), out, outsize);
}
