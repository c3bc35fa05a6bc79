/* Fuzzes the SMTP command-line parser: the input is one command line (as
 * conn_read_line would hand it over, at most SMTP_CMD_LINE_MAX bytes); it
 * is split into verb and arguments, and the arguments go through every
 * argument parser.  Checks the outputs' invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_path(const struct smtp_path *p)
{
	size_t len = strnlen(p->addr, sizeof(p->addr));

	if (len > SMTP_ADDR_MAX)
		abort();
	if (p->null_path || p->postmaster) {
		if (len != 0)
			abort();
		return;
	}
	if (p->local_len == 0 || p->local_len > LOCALPART_MAX || p->addr[p->local_len] != '@')
		abort();
	if (p->utf8 && !smtp_utf8_valid((const unsigned char *)p->addr, len))
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p->addr[i];

		if (c < 32 || c == 127 || (c >= 0x80 && !p->utf8))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[SMTP_CMD_LINE_MAX + 1];
	struct smtp_command cmd;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	const char *error, *mech, *initial;
	size_t mech_len;
	uint64_t n;
	bool last;

	if (size > SMTP_CMD_LINE_MAX)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (smtp_parse_command(line, size, &cmd) != SMTP_PARSE_OK)
		return 0;
	if (cmd.args_len != strlen(cmd.args) || cmd.name_len > size)
		abort();

	error = NULL;
	if (smtp_parse_mail(cmd.args, &m, &error) == SMTP_PARSE_OK) {
		check_path(&m.path);
		if (m.path.utf8 && !m.smtputf8)
			abort();
	} else if (error == NULL) {
		abort();
	}
	error = NULL;
	if (smtp_parse_rcpt(cmd.args, cmd.verb == SMTP_VERB_RCPT, &r, &error) == SMTP_PARSE_OK) {
		check_path(&r.path);
		if (r.path.null_path)
			abort();
	} else if (error == NULL) {
		abort();
	}
	(void)smtp_parse_bdat(cmd.args, &n, &last);
	(void)smtp_parse_helo(cmd.args);
	if (smtp_parse_auth(cmd.args, &mech, &mech_len, &initial) == SMTP_PARSE_OK) {
		if (mech_len == 0 || mech_len > 20 || (initial != NULL && strchr(initial, ' ') != NULL))
			abort();
	}
	return 0;
}
