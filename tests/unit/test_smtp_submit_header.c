/* The submission header filter (smtp_submit_header.c): every input is fed
 * at once, a byte at a time and split in two at every point, and must give
 * the same output. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp_submit_header.h"
#include "test.h"

#define DATE "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
#define MSGID "Message-ID: <x@h.example>\r\n"

static int
sink(void *arg, const char *data, size_t len)
{
	buf_append(arg, data, len);
	return 0;
}

/* Runs in pieces of size piece (0: split once at split). */
static void
run(struct smtp_submit_header *h, struct buf *out, const char *in, size_t len, size_t piece, size_t split)
{
	size_t off = 0;

	buf_reset(out);
	smtp_submit_header_init(h, DATE, MSGID, sink, out);
	if (piece == 0) {
		smtp_submit_header_sink(h, in, split);
		smtp_submit_header_sink(h, in + split, len - split);
	} else {
		while (off < len) {
			size_t n = len - off < piece ? len - off : piece;

			smtp_submit_header_sink(h, in + off, n);
			off += n;
		}
	}
	smtp_submit_header_finish(h);
}

static struct smtp_submit_header h1, h2;

/* Feeds in every way; checks each against the whole-input result and
 * that against want.  Leaves the whole-input state in h1. */
static void
check(const char *in, const char *want)
{
	struct buf o1 = BUF_INIT, o2 = BUF_INIT;
	size_t len = strlen(in), i;
	bool same = true;

	run(&h1, &o1, in, len, len == 0 ? 1 : len, 0);
	buf_append(&o1, "", 1);
	test_assert_streq(o1.data, want);
	for (i = 0; i <= len + 1; i++) {
		if (i <= len)
			run(&h2, &o2, in, len, 0, i);
		else
			run(&h2, &o2, in, len, 1, 0);
		buf_append(&o2, "", 1);
		if (strcmp(o1.data, o2.data) != 0 || h1.n_from != h2.n_from || h1.from_len != h2.from_len ||
		    memcmp(h1.from, h2.from, h1.from_len) != 0 || h1.has_date != h2.has_date ||
		    h1.has_msgid != h2.has_msgid) {
			printf("# differs when split at %zu: [%s]\n", i, o2.data);
			same = false;
		}
	}
	test_assert(same);
	buf_free(&o1);
	buf_free(&o2);
}

static void
test_insert(void)
{
	test_begin("submit_header: both added before the empty line");
	check("From: a@x\r\nSubject: s\r\n\r\nbody\r\nDate: not a header\r\n",
	      "From: a@x\r\nSubject: s\r\n" DATE MSGID "\r\nbody\r\nDate: not a header\r\n");
	test_assert(h1.added_date && h1.added_msgid);
	test_end();

	test_begin("submit_header: present ones kept, not added again");
	check("from: a@x\r\nDATE: whenever\r\nMessage-Id: <m@x>\r\n\r\nbody\r\n",
	      "from: a@x\r\nDATE: whenever\r\nMessage-Id: <m@x>\r\n\r\nbody\r\n");
	test_assert(!h1.added_date && !h1.added_msgid);
	check("Date : obsolete space\r\nFrom: a@x\r\n\r\n", "Date : obsolete space\r\nFrom: a@x\r\n" MSGID "\r\n");
	check("Message-ID:\r\n <folded@x>\r\n\r\n", "Message-ID:\r\n <folded@x>\r\n" DATE "\r\n");
	test_end();

	test_begin("submit_header: names that only look alike");
	check("X-Date: 1\r\nDates: 2\r\nMessage-IDs: 3\r\n Date: folded\r\n\r\n",
	      "X-Date: 1\r\nDates: 2\r\nMessage-IDs: 3\r\n Date: folded\r\n" DATE MSGID "\r\n");
	test_end();

	test_begin("submit_header: no body");
	check("From: a@x\r\n", "From: a@x\r\n" DATE MSGID);
	check("From: a@x\r\n\r\n", "From: a@x\r\n" DATE MSGID "\r\n");
	check("", DATE MSGID);
	test_end();

	test_begin("submit_header: bare LF ends the header too");
	check("From: a@x\n\nbody\n", "From: a@x\n" DATE MSGID "\nbody\n");
	test_end();

	test_begin("submit_header: a CR starting a line is content");
	check("From: a@x\r\n\rX\r\n\r\nb", "From: a@x\r\n\rX\r\n" DATE MSGID "\r\nb");
	test_end();
}

static void
test_from(void)
{
	test_begin("submit_header: From kept, unfolded");
	check("Subject: s\r\nFrom: \"Alice\"\r\n\t<alice@example.test>\r\nTo: b@x\r\n\r\nFrom: body\r\n",
	      "Subject: s\r\nFrom: \"Alice\"\r\n\t<alice@example.test>\r\nTo: b@x\r\n" DATE MSGID
	      "\r\nFrom: body\r\n");
	test_assert_inteq(h1.n_from, 1);
	test_assert_inteq(h1.from_len, strlen(" \"Alice\"\t<alice@example.test>"));
	test_assert(memcmp(h1.from, " \"Alice\"\t<alice@example.test>", h1.from_len) == 0);
	test_end();

	test_begin("submit_header: every From counted, the first kept");
	check("From: a@x\r\nFROM : b@x\r\n\r\n", "From: a@x\r\nFROM : b@x\r\n" DATE MSGID "\r\n");
	test_assert_inteq(h1.n_from, 2);
	test_assert(h1.from_len == 4 && memcmp(h1.from, " a@x", 4) == 0);
	check("Subject: x\r\n\r\nFrom: a@x\r\n", "Subject: x\r\n" DATE MSGID "\r\nFrom: a@x\r\n");
	test_assert_inteq(h1.n_from, 0);
	test_end();
}

static void
test_limits(void)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct smtp_submit_header h;
	size_t n;

	test_begin("submit_header: From longer than SMTP_FROM_FIELD_MAX");
	buf_puts(&in, "From: ");
	for (n = 0; n < SMTP_FROM_FIELD_MAX; n++)
		buf_append(&in, "a", 1);
	buf_puts(&in, "\r\n\r\n");
	run(&h, &out, in.data, in.len, 1000, 0);
	test_assert(h.from_overflow);
	test_assert(h.added_date);
	test_assert_inteq(out.len, in.len + strlen(DATE MSGID));
	test_end();

	test_begin("submit_header: a header past SMTP_SUBMIT_HEADER_MAX is left alone");
	buf_reset(&in);
	while (in.len < SMTP_SUBMIT_HEADER_MAX)
		buf_puts(&in, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	buf_puts(&in, "\r\nbody\r\n");
	run(&h, &out, in.data, in.len, 4096, 0);
	test_assert(h.header_overflow);
	test_assert(!h.added_date && !h.added_msgid);
	test_assert(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);
	/* the limit falling on a held CR */
	buf_reset(&in);
	while (in.len < SMTP_SUBMIT_HEADER_MAX - 1)
		buf_puts(&in, "X");
	in.len = SMTP_SUBMIT_HEADER_MAX - 3;
	buf_puts(&in, "\r\n\r\nbody\r\n");
	run(&h, &out, in.data, in.len, 1, 0);
	test_assert(h.header_overflow);
	test_assert(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);
	test_end();
	buf_free(&in);
	buf_free(&out);
}

int
main(void)
{
	test_insert();
	test_from();
	test_limits();
	return test_done();
}
