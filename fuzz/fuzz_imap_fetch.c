/* Fuzzes FETCH: item parsing (imap_fetch_parse) and the rendering of
 * sections, partials and BINARY on a message held in memory, without a
 * store, and the streaming of the result (imap_fetch_out_flatten).
 * Input: one byte of switches (UID FETCH, CONDSTORE, QRESYNC, \Seen set by
 * the fetch, a small inline size), the fetch items and modifiers up to the
 * first LF, then the message.  Checks: the header size agrees with the
 * MIME parser, a failed render leaves the output alone, every response is
 * well formed (balanced parentheses, literals of the announced size), and
 * it is the same whether literals are copied into the text or streamed as
 * segments (which runs every transform twice, whole and in pieces). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_fetch_private.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks a response: quoted strings, literals ("{n}" or "~{n}" CRLF and n
 * octets) and parentheses; aborts unless it is "* 1 FETCH (...)\r\n". */
static void
check_response(const char *s, size_t len)
{
	size_t i = 0;
	int depth = 0;

	if (len < 14 || memcmp(s, "* 1 FETCH (", 11) != 0 || memcmp(s + len - 3, ")\r\n", 3) != 0)
		abort();
	len -= 2;
	for (i = 10; i < len; i++) {
		char c = s[i];

		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth < 0)
				abort();
			if (depth == 0 && i != len - 1)
				abort();
		} else if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= len)
				abort();
		} else if (c == '{') {
			size_t n = 0;

			for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				n = n * 10 + (size_t)(s[i] - '0');
			if (i + 3 > len || s[i] != '}' || s[i + 1] != '\r' || s[i + 2] != '\n')
				abort();
			i += 2;
			if (n > len - i - 1)
				abort();
			i += n;
		} else if (c == '\r' || c == '\n') {
			abort();
		}
	}
	if (depth != 0)
		abort();
}

/* The command "f FETCH 1 <items>" through the real parser; literals are
 * accepted as a client would send them. */
static int
parse_command(struct arena *a, const char *items, size_t len, struct imap_command *cmd)
{
	struct imap_parse_limits lim = { 0, 4096, 0, false };
	struct imap_parser *p = imap_parser_new(a, &lim);
	struct buf line = BUF_INIT;
	size_t pos = 0;
	int r = 0;

	buf_puts(&line, "f FETCH 1 ");
	buf_append(&line, items, len);
	buf_puts(&line, "\r\n");
	while (pos < line.len) {
		struct imap_parse_error err;
		size_t used = 0;

		if (imap_parser_state(p) == IMAP_PARSER_WANT_CONTINUATION) {
			imap_parser_continue(p);
			continue;
		}
		r = imap_parser_feed(p, line.data + pos, line.len - pos, &used, cmd, &err);
		pos += used;
		if (r != 0 || used == 0)
			break;
	}
	imap_parser_free(&p);
	buf_free(&line);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena;
	struct imap_command cmd;
	struct imap_ctx ctx;
	struct imap_view view;
	struct imap_result res;
	struct imap_fetch_spec *spec;
	struct imap_fetch_msg m;
	struct buf out = BUF_INIT;
	const uint8_t *nl;
	char *msg;
	size_t msg_len, hs;
	bool add_flags;
	int rc;

	if (size < 1)
		return 0;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL)
		return 0;
	arena = arena_new(16384, false);
	memset(&ctx, 0, sizeof(ctx));
	memset(&view, 0, sizeof(view));
	view.mailbox = (char *)"INBOX";
	ctx.arena = arena;
	ctx.view = &view;
	ctx.uid = data[0] & 1;
	ctx.condstore = data[0] & 2;
	ctx.qresync = data[0] & 4;
	add_flags = data[0] & 8;
	if (parse_command(arena, (const char *)data + 1, (size_t)(nl - data) - 1, &cmd) != 1 ||
	    cmd.args == NULL || cmd.args->next == NULL)
		goto done;
	spec = imap_fetch_parse(&ctx, cmd.args->next, cmd.args->next->next, &res);
	if (spec == NULL) {
		if (res.status != IMAP_BAD)
			abort();
		goto done;
	}

	/* an exact-size copy so reads past the end are caught */
	msg_len = size - (size_t)(nl + 1 - data);
	msg = malloc(msg_len + 1);
	memcpy(msg, nl + 1, msg_len);
	hs = imap_header_size(msg, msg_len);
	if (hs != mime_parse(msg, msg_len, arena)->header_size)
		abort();

	memset(&m, 0, sizeof(m));
	m.uid = 1;
	m.size = msg_len;
	m.keywords = "$x y";
	m.data = msg;
	m.len = msg_len;
	if (!spec->need_file) {
		/* as imap_fetch_render does: just the header bytes */
		m.header = msg;
		m.header_len = hs;
		if (!spec->need_cache)
			m.data = NULL;
	}
	m.fd = -1;
	for (int pass = 0; pass < 2; pass++) {
		struct imap_fetch_out o;

		imap_fetch_out_init(&o);
		/* all literals inline, or only small ones / none */
		o.inline_max = pass == 0 ? SIZE_MAX : (data[0] & 16) ? 3 : 0;
		buf_puts(&o.text, "x");
		rc = imap_fetch_render_msg(&ctx, spec, 1, &m, add_flags, &o, &res);
		if (rc == -1) {
			if (o.text.len != 1 || o.nsegs != 0 || res.status != IMAP_NO ||
			    strcmp(res.code, "UNKNOWN-CTE") != 0)
				abort();
		} else {
			struct buf flat = BUF_INIT;

			if (imap_fetch_out_flatten(&o, &flat) != 0)
				abort();
			check_response(flat.data + 1, flat.len - 1);
			if (pass == 0)
				buf_append(&out, flat.data, flat.len);
			else if (flat.len != out.len || memcmp(flat.data, out.data, out.len) != 0)
				abort();
			buf_free(&flat);
		}
		imap_fetch_out_free(&o);
		if (rc == -1)
			break;
	}
	free(msg);
done:
	buf_free(&out);
	arena_free(&arena);
	return 0;
}
