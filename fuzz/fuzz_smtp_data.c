/* Fuzzes the DATA/BDAT body state machine.  The first byte picks the mode
 * and the size limit, the second the piece size; the rest is the input.
 * Checks: the same result whether fed at once or in pieces, nothing taken
 * past the end marker, and an accepted message has only CRLF line ends
 * and no NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char buf[65536];
	size_t len;
};

static int
sink(void *arg, const char *data, size_t len)
{
	struct out *o = arg;

	if (o->len + len > sizeof(o->buf))
		abort();   /* the size limit below keeps it smaller */
	memcpy(o->buf + o->len, data, len);
	o->len += len;
	return 0;
}

static void
run(enum smtp_body_mode mode, uint64_t max, const char *in, size_t len, size_t piece, struct out *o,
    struct smtp_body *b, size_t *consumed_out, int *ended_out)
{
	size_t off = 0;

	o->len = 0;
	*ended_out = 0;
	smtp_body_init(b, mode, max, sink, o);
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece, used = 0;
		int r = smtp_body_feed(b, in + off, n, &used);

		if (used > n)
			abort();
		off += used;
		if (r == 1) {
			*ended_out = 1;
			break;
		}
		if (used != n)
			abort();
	}
	if (mode == SMTP_BODY_BDAT)
		smtp_body_finish(b);
	*consumed_out = off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct out o1, o2;
	struct smtp_body b1, b2;
	enum smtp_body_mode mode;
	uint64_t max;
	size_t piece, c1, c2, i;
	int e1, e2;

	if (size < 2)
		return 0;
	mode = (data[0] & 1) ? SMTP_BODY_BDAT : SMTP_BODY_DATA;
	max = (data[0] & 2) ? 64 : 32768;
	piece = data[1] == 0 ? 1 : data[1];
	data += 2;
	size -= 2;

	run(mode, max, (const char *)data, size, size == 0 ? 1 : size, &o1, &b1, &c1, &e1);
	run(mode, max, (const char *)data, size, piece, &o2, &b2, &c2, &e2);
	if (b1.status != b2.status || c1 != c2 || e1 != e2 || b1.size != b2.size)
		abort();
	if (mode == SMTP_BODY_BDAT && e1)
		abort();
	if (b1.status == SMTP_BODY_OK) {
		if (o1.len != o2.len || memcmp(o1.buf, o2.buf, o1.len) != 0 || o1.len > max)
			abort();
		for (i = 0; i < o1.len; i++) {
			char c = o1.buf[i];

			if (c == '\0')
				abort();
			if (c == '\r' && (i + 1 >= o1.len || o1.buf[i + 1] != '\n') && (mode == SMTP_BODY_BDAT || e1))
				abort();
			if (c == '\n' && (i == 0 || o1.buf[i - 1] != '\r'))
				abort();
		}
		/* a complete DATA message ends with CRLF (or is empty) */
		if (mode == SMTP_BODY_DATA && e1 && o1.len > 0 &&
		    (o1.len < 2 || o1.buf[o1.len - 2] != '\r' || o1.buf[o1.len - 1] != '\n'))
			abort();
	}
	return 0;
}
