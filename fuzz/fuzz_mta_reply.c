/* Fuzzes the SMTP reply parser and the EHLO keyword parser: the input is
 * cut into lines at LF (a CR before it dropped, as conn_read_line does),
 * each bounded by MTA_REPLY_LINE_MAX, and fed in order.  Every complete
 * reply must have a code in 200..599, a NUL-terminated status and text
 * within their arrays, and text of printable ASCII only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/limits.h"
#include "mta/mta_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct mta_reply *r)
{
	size_t n = strnlen(r->text, sizeof(r->text));

	if (r->code < 200 || r->code > 599 || n >= sizeof(r->text) ||
	    strnlen(r->status, sizeof(r->status)) >= sizeof(r->status))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->text[i] < 0x20 || (unsigned char)r->text[i] >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mta_reply_parser p;
	struct mta_ehlo e = { 0 };
	struct mta_reply r;
	const char *error;
	char *line = malloc(MTA_REPLY_LINE_MAX + 1);
	size_t start = 0;

	mta_reply_parser_init(&p);
	while (start < size) {
		const uint8_t *lf = memchr(data + start, '\n', size - start);
		size_t end = lf != NULL ? (size_t)(lf - data) : size, len = end - start;
		bool first = p.lines == 0;
		int n;

		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		if (len <= MTA_REPLY_LINE_MAX - 2) {
			memcpy(line, data + start, len);
			line[len] = '\0';
			n = mta_reply_feed(&p, line, len, &r, &error);
			if (n == -1 && error == NULL)
				abort();
			if (n >= 0 && !first && p.line_text != NULL)
				mta_ehlo_line(&e, p.line_text);
			if (n == 1)
				check(&r);
		}
		start = end + 1;
	}
	free(line);
	return 0;
}
