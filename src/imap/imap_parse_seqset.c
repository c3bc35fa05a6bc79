/* Sequence sets and the argument helpers of imap_parse.h. */
#include "imap/imap_parse.h"

#include <string.h>
#include <strings.h>

#include "lib/arena.h"

bool
imap_arg_number(const struct imap_arg *arg, uint64_t *num_out)
{
	uint64_t n = 0;
	size_t i;

	if (arg == NULL || arg->type != IMAP_ARG_ATOM || arg->len == 0 || arg->len > 19)
		return false;
	for (i = 0; i < arg->len; i++) {
		if (arg->str[i] < '0' || arg->str[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(arg->str[i] - '0');
	}
	if (n > (uint64_t)INT64_MAX)  /* RFC 9051 number64 */
		return false;
	*num_out = n;
	return true;
}

bool
imap_arg_astring(const struct imap_arg *arg, const char **str_out, size_t *len_out)
{
	if (arg == NULL)
		return false;
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		*str_out = arg->str;
		*len_out = arg->len;
		return true;
	default:
		return false;
	}
}

bool
imap_arg_nstring(const struct imap_arg *arg, const char **str_out, size_t *len_out)
{
	if (arg == NULL)
		return false;
	if (arg->type == IMAP_ARG_NIL) {
		*str_out = NULL;
		*len_out = 0;
		return true;
	}
	if (arg->type != IMAP_ARG_QUOTED && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_out = arg->str;
	*len_out = arg->len;
	return true;
}

bool
imap_arg_atom_is(const struct imap_arg *arg, const char *word)
{
	return arg != NULL && (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	       strlen(word) == arg->len && strncasecmp(arg->str, word, arg->len) == 0;
}

/* seq-number = nz-number / "*" */
static int
seq_number(const char *s, size_t len, size_t *pos, uint32_t *out)
{
	uint64_t n = 0;
	size_t start = *pos;

	if (*pos < len && s[*pos] == '*') {
		(*pos)++;
		*out = IMAP_SEQ_STAR;
		return 0;
	}
	if (*pos >= len || s[*pos] < '1' || s[*pos] > '9')
		return -1;
	while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
		n = n * 10 + (uint64_t)(s[*pos] - '0');
		if (n > UINT32_MAX || *pos - start >= 10)
			return -1;
		(*pos)++;
	}
	*out = (uint32_t)n;
	return 0;
}

int
imap_seqset_parse(const char *str, size_t len, struct arena *a, struct imap_seqset *set_out,
                  const char **error_out)
{
	size_t pos = 0, n = 1, i;

	memset(set_out, 0, sizeof(*set_out));
	if (len == 1 && str[0] == '$') {
		set_out->saved = true;
		return 0;
	}
	if (len == 0) {
		*error_out = "Empty sequence set";
		return -1;
	}
	for (i = 0; i < len; i++)
		if (str[i] == ',')
			n++;
	if (n > IMAP_SEQSET_RANGES_MAX) {
		*error_out = "Sequence set has too many ranges";
		return -1;
	}
	set_out->ranges = arena_alloc(a, n * sizeof(*set_out->ranges));
	for (;;) {
		struct imap_seq_range *r = &set_out->ranges[set_out->count];
		uint32_t lo, hi;

		if (seq_number(str, len, &pos, &lo) == -1)
			goto bad;
		hi = lo;
		if (pos < len && str[pos] == ':') {
			pos++;
			if (seq_number(str, len, &pos, &hi) == -1)
				goto bad;
		}
		/* RFC 9051 9: "2:4" and "4:2" are the same set */
		r->lo = lo < hi ? lo : hi;
		r->hi = lo < hi ? hi : lo;
		set_out->count++;
		if (pos == len)
			return 0;
		if (str[pos] != ',')
			goto bad;
		pos++;
	}
bad:
	*error_out = "Invalid sequence set";
	return -1;
}
