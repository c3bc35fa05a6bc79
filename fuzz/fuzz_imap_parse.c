/* Fuzzes the IMAP command parser.  The first two bytes choose the limits
 * (literal_max, stream_min, LITERAL-), whether synchronising literals are
 * refused, and a chunk size; the rest is client input.  It is run fed all
 * at once and in chunks: both transcripts of what the parser reported
 * (commands dumped as trees, errors, continuations, streamed bytes) must
 * be identical, every tree must respect the documented bounds, and every
 * atom goes through the sequence-set and number helpers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
dump_args(struct buf *out, const struct imap_arg *a, struct arena *ar, int depth, size_t *nargs)
{
	struct imap_seqset set;
	const char *error, *s;
	size_t len, n;
	uint64_t num;

	if (depth > IMAP_PARSE_DEPTH_MAX)
		abort();
	for (; a != NULL; a = a->next) {
		if (++*nargs > IMAP_PARSE_ARGS_MAX)
			abort();
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			if (a->len == 0 || strlen(a->str) != a->len)
				abort();
			if (imap_seqset_parse(a->str, a->len, ar, &set, &error) == 0) {
				if (!set.saved && (set.count == 0 || set.count > IMAP_SEQSET_RANGES_MAX))
					abort();
				for (n = 0; n < set.count; n++)
					if (set.ranges[n].lo > set.ranges[n].hi ||
					    (set.ranges[n].hi == IMAP_SEQ_STAR && set.ranges[n].lo != IMAP_SEQ_STAR))
						abort();
			} else if (error == NULL) {
				abort();
			}
			if (imap_arg_number(a, &num) && num > (uint64_t)INT64_MAX)
				abort();
			buf_printf(out, "A%zu:", a->len);
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_QUOTED:
		case IMAP_ARG_LITERAL:
			if (!imap_arg_astring(a, &s, &len) || s[len] != '\0')
				abort();
			if (a->type == IMAP_ARG_QUOTED && strlen(s) != len)
				abort();
			buf_printf(out, "%c%d%zu:", a->type == IMAP_ARG_QUOTED ? 'Q' : 'L', a->literal8, len);
			buf_append(out, s, len);
			break;
		case IMAP_ARG_LITERAL_STREAM:
			buf_printf(out, "S%llu", (unsigned long long)a->lit_size);
			break;
		case IMAP_ARG_LIST:
			buf_printf(out, "(%zu ", a->count);
			dump_args(out, a->list, ar, depth + 1, nargs);
			buf_puts(out, ")");
			break;
		case IMAP_ARG_FETCH_ATT:
			buf_printf(out, "F%s[", a->str);
			dump_args(out, a->section, ar, depth + 1, nargs);
			buf_printf(out, "]%d<%u.%u>", a->has_partial, a->partial_start, a->partial_len);
			if (a->has_partial && a->partial_len == 0)
				abort();
			break;
		default:
			abort();
		}
		buf_puts(out, " ");
	}
}

static void
run(const struct imap_parse_limits *lim, bool refuse, const char *in, size_t len, size_t chunk, struct buf *out)
{
	struct arena *a = arena_new(4096, false);
	struct imap_parser *p = imap_parser_new(a, lim);
	size_t pos = 0;

	while (pos < len) {
		size_t avail = len - pos < chunk ? len - pos : chunk, used = 0, nargs = 0;
		struct imap_command cmd;
		struct imap_parse_error err;
		uint64_t n;
		int r;

		switch (imap_parser_state(p)) {
		case IMAP_PARSER_WANT_CONTINUATION:
			imap_parser_command(p, &cmd, &n);
			if (cmd.tag == NULL || cmd.name == NULL || n > lim->literal_max)
				abort();
			buf_printf(out, "C%llu|", (unsigned long long)n);
			if (refuse) {
				imap_parser_refuse(p);
				arena_reset(a);
			} else {
				imap_parser_continue(p);
			}
			continue;
		case IMAP_PARSER_LITERAL_STREAM:
			used = imap_parser_literal_take(p, avail);
			if (used == 0 || used > avail)
				abort();
			buf_append(out, in + pos, used);
			pos += used;
			continue;
		case IMAP_PARSER_READING:
			break;
		}
		r = imap_parser_feed(p, in + pos, avail, &used, &cmd, &err);
		if (used > avail)
			abort();
		pos += used;
		if (r == 1) {
			if (cmd.tag == NULL || cmd.name == NULL || *cmd.tag == '\0' || *cmd.name == '\0')
				abort();
			buf_printf(out, "1 %s %s %zu ", cmd.tag, cmd.name, cmd.count);
			dump_args(out, cmd.args, a, 0, &nargs);
			buf_puts(out, "|");
			arena_reset(a);
		} else if (r == -1) {
			if (err.text == NULL)
				abort();
			buf_printf(out, "-1 %s %s %s %d|", err.tag ? err.tag : "*", err.code ? err.code : "-",
			           err.text, err.skipping);
			arena_reset(a);
		} else if (r != 0 || (used == 0 && imap_parser_state(p) == IMAP_PARSER_READING)) {
			abort();
		}
	}
	buf_printf(out, "END%d", (int)imap_parser_state(p));
	imap_parser_free(&p);
	arena_free(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parse_limits lim = { 0, 0, 0, false };
	struct buf whole = BUF_INIT, parts = BUF_INIT;
	bool refuse;
	size_t chunk;

	if (size < 2)
		return 0;
	lim.literal_max = (uint64_t)(data[0] & 0x0f) * 64;        /* 0..960 */
	lim.stream_min = (uint64_t)((data[0] >> 4) & 0x07) * 16;  /* 0: never */
	lim.literal_minus = (data[0] & 0x80) != 0;
	refuse = (data[1] & 0x80) != 0;
	chunk = (size_t)(data[1] & 0x7f) % 17 + 1;
	if ((data[1] & 0x40) != 0)
		lim.line_max = 64;
	run(&lim, refuse, (const char *)data + 2, size - 2, size, &whole);
	run(&lim, refuse, (const char *)data + 2, size - 2, chunk, &parts);
	if (whole.len != parts.len || memcmp(whole.data, parts.data, whole.len) != 0)
		abort();
	buf_free(&whole);
	buf_free(&parts);
	return 0;
}
