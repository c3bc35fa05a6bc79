/* Fuzzes the POP3 command parser and the RETR/TOP stuffer.
 *
 * Commands: the input is cut into lines at LF (a CR before it dropped, as
 * conn_read_line does), each bounded by POP3_CMD_LINE_MAX; every line goes
 * through pop3_parse_command and the argument check of its verb, and the
 * results must stay inside the line and within their documented bounds.
 *
 * Stuffer: the whole input is treated as a message and fed in chunks whose
 * sizes come from the input itself, in RETR mode and in TOP mode; the
 * output must equal a one-chunk run and be a well-formed multi-line body
 * (CRLF everywhere, no lone "." line before the terminator). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/limits.h"
#include "pop3/pop3_parse.h"
#include "pop3/pop3_stuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *line, size_t len)
{
	struct pop3_command cmd;
	const char *error = NULL, *ir;
	char mech[POP3_SASL_MECH_MAX + 1], safe[64];
	size_t irlen;
	uint32_t num;
	uint64_t lines;
	bool given;

	if (pop3_parse_command(line, len, &cmd, &error) == -1) {
		if (error == NULL)
			abort();
		return;
	}
	if (cmd.verb <= POP3_VERB_UNKNOWN || cmd.verb >= POP3_VERB_COUNT)
		abort();
	if (cmd.args_len > 0 && (cmd.args < line || cmd.args + cmd.args_len > line + len))
		abort();
	if (cmd.args[cmd.args_len] != '\0')
		abort();
	switch (cmd.verb) {
	case POP3_VERB_LIST:
	case POP3_VERB_UIDL:
		if (pop3_args_msgnum_opt(&cmd, &given, &num, &error) == 0 && given && num == 0)
			abort();
		break;
	case POP3_VERB_RETR:
	case POP3_VERB_DELE:
		if (pop3_args_msgnum(&cmd, &num, &error) == 0 && num == 0)
			abort();
		break;
	case POP3_VERB_TOP:
		if (pop3_args_top(&cmd, &num, &lines, &error) == 0 && num == 0)
			abort();
		break;
	case POP3_VERB_AUTH:
		if (pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0) {
			if (strlen(mech) > POP3_SASL_MECH_MAX)
				abort();
			if (ir != NULL && irlen > 0 && (ir < line || ir + irlen > line + len))
				abort();
		}
		break;
	default:
		(void)pop3_args_none(&cmd, &error);
		break;
	}
	pop3_log_safe(line, len, safe, sizeof(safe));
	for (size_t i = 0; safe[i] != '\0'; i++) {
		if ((unsigned char)safe[i] < 0x20 || (unsigned char)safe[i] >= 0x7f || safe[i] == '"')
			abort();
	}
}

static void
fuzz_commands(const char *in, size_t size)
{
	char line[POP3_CMD_LINE_MAX + 1];
	size_t len = 0;
	bool skipping = false;

	for (size_t i = 0; i < size; i++) {
		if (in[i] != '\n') {
			if (skipping)
				continue;
			if (len + 2 >= POP3_CMD_LINE_MAX) {  /* CRLF included */
				skipping = true;
				len = 0;
				continue;
			}
			line[len++] = in[i];
			continue;
		}
		if (!skipping) {
			if (len > 0 && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			check_line(line, len);
		}
		skipping = false;
		len = 0;
	}
}

static void
well_formed(const struct buf *out)
{
	const char *o = out->data;
	size_t len = out->len;

	if (len < 3 || memcmp(o + len - 3, ".\r\n", 3) != 0)
		abort();
	if (len > 3 && memcmp(o + len - 5, "\r\n", 2) != 0)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (o[i] == '\n' && (i == 0 || o[i - 1] != '\r'))
			abort();
		if (i + 3 < len && (i == 0 || o[i - 1] == '\n') && memcmp(o + i, ".\r\n", 3) == 0)
			abort();
	}
}

static void
fuzz_stuffer(const uint8_t *data, size_t size, bool top)
{
	struct pop3_stuffer a, b;
	struct buf whole = BUF_INIT, pieces = BUF_INIT;
	uint64_t lines = size > 0 ? data[0] % 8 : 0;
	size_t off = 0, k = 0;

	if (top) {
		pop3_stuffer_init_top(&a, lines);
		pop3_stuffer_init_top(&b, lines);
	} else {
		pop3_stuffer_init(&a);
		pop3_stuffer_init(&b);
	}
	if (pop3_stuffer_feed(&a, (const char *)data, size, &whole) > size)
		abort();
	pop3_stuffer_finish(&a, &whole);
	while (off < size && !pop3_stuffer_done(&b)) {
		size_t n = 1 + data[k++ % size] % 13;

		if (n > size - off)
			n = size - off;
		if (pop3_stuffer_feed(&b, (const char *)data + off, n, &pieces) > n)
			abort();
		off += n;
	}
	pop3_stuffer_finish(&b, &pieces);
	if (whole.len != pieces.len || memcmp(whole.data, pieces.data, whole.len) != 0)
		abort();
	if (whole.len > 2 * size + 5)
		abort();
	well_formed(&whole);
	buf_free(&whole);
	buf_free(&pieces);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	fuzz_commands((const char *)data, size);
	fuzz_stuffer(data, size, false);
	fuzz_stuffer(data, size, true);
	return 0;
}
