/* The mbox splitter (src/mime/mbox_read.c): From_ line dates in the forms
 * writers use (Dovecot's test-mbox-from.c has the same kinds of input),
 * lines longer than the read buffer, and a From_ line that is not one. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli_mbox.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mbox_read.h"
#include "test.h"

static int
memfd_of(const char *data, size_t len)
{
	int fd = memfd_create("test_mbox", 0);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Every message of data, each appended to out[] (at most 4). */
static size_t
split(const char *data, size_t len, enum mbox_quoting q, struct buf *out, int64_t *dates)
{
	struct mbox_reader *r;
	const char *error, *p;
	int fd = memfd_of(data, len);
	size_t n = 0;
	int64_t date;

	r = mbox_reader_new(fd, q);
	while (n < 4 && mbox_reader_next(r, &date, &error) == 1) {
		ssize_t k;

		dates[n] = date;
		while ((k = mbox_reader_read(r, &p, &error)) > 0)
			buf_append(&out[n], p, (size_t)k);
		n++;
	}
	mbox_reader_free(&r);
	close(fd);
	return n;
}

static void
test_dates(void)
{
	static const struct {
		const char *in;
		int64_t want;
	} cases[] = {
		{ "user@domain Thu Nov 29 23:33:09 1973 +0200", 123456789 },
		{ "- Thu Nov 29 21:33:09 1973", 123456789 },
		{ "1784371287376545831@xxx Thu Nov 29 21:33:09 +0000 1973", 123456789 },
		{ "\"user name\"@domain  Thu Nov 29 21:33:09 UTC 1973", 123456789 },
		{ "user Thu, 29 Nov 1973 21:33:09 +0000", 123456789 },
		{ "user Thu Nov 29 21:33 1973", 123456780 },
		{ "MAILER-DAEMON Thu Nov 29 21:33:09 1973 remote from uucp", 123456789 },
	};
	int64_t d;

	test_begin("mbox_from_date: the forms writers use");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = -1;
		test_assert(mbox_from_date(cases[i].in, strlen(cases[i].in), &d) == 0);
		test_assert_inteq(d, cases[i].want);
	}
	test_assert(mbox_from_date("here on, quoted once", 20, &d) == -1);
	test_assert(mbox_from_date("x Thu Nov 32 21:33:09 1973", 26, &d) == -1);
	test_assert(mbox_from_date("x Thu Nov 29 25:33:09 1973", 26, &d) == -1);
	test_assert(mbox_from_date("x Thu Nov 29 21:33:09", 21, &d) == -1);
	test_end();
}

static void
test_long_lines(void)
{
	size_t big = 3 * MBOX_READ_BUF + 17;
	struct buf in = BUF_INIT, out[4] = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT }, want = BUF_INIT;
	int64_t dates[4];
	char *line = malloc(big);

	test_begin("mbox_reader: a line longer than the buffer, then a From_ line");
	memset(line, 'x', big);
	memcpy(line, "From ", 5);  /* looks like a From_ line but has no date */
	buf_puts(&in, "From a Mon Jan  1 00:00:00 2024\nSubject: a\n\n");
	buf_append(&in, line, big);
	buf_puts(&in, "\n>From quoted\n\nFrom b Tue Jan  2 00:00:00 2024\n\nb\n");
	test_assert_inteq(split(in.data, in.len, MBOX_QUOTING_RD, out, dates), 2);
	buf_puts(&want, "Subject: a\r\n\r\n");
	buf_append(&want, line, big);
	buf_puts(&want, "\r\nFrom quoted\r\n");
	test_assert(out[0].len == want.len && memcmp(out[0].data, want.data, want.len) == 0);
	test_assert(out[1].len == 5 && memcmp(out[1].data, "\r\nb\r\n", 5) == 0);
	test_assert_inteq(dates[1], 1704153600);
	test_end();
	for (int i = 0; i < 4; i++)
		buf_free(&out[i]);
	buf_free(&in);
	buf_free(&want);
	free(line);
}

static void
test_blank_lines(void)
{
	static const char in[] = "\nFrom a Mon Jan  1 00:00:00 2024\r\nS: 1\r\n\r\nbody\r\n\r\n\r\n"
	                         "From b Mon Jan  1 00:00:00 2024\nS: 2\n\nlast";
	struct buf out[4] = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
	int64_t dates[4];

	test_begin("mbox_reader: CRLF files, only the last empty line goes with the separator");
	test_assert_inteq(split(in, sizeof(in) - 1, MBOX_QUOTING_O, out, dates), 2);
	test_assert(out[0].len == 16 && memcmp(out[0].data, "S: 1\r\n\r\nbody\r\n\r\n", 16) == 0);
	test_assert(out[1].len == 12 && memcmp(out[1].data, "S: 2\r\n\r\nlast", 12) == 0);
	test_end();
	for (int i = 0; i < 4; i++)
		buf_free(&out[i]);
}

static void
test_not_mbox(void)
{
	struct mbox_reader *r;
	const char *error = NULL;
	int fd = memfd_of("Received: x\n\nbody\n", 18);
	int64_t d;

	test_begin("mbox_reader: a file that does not start with From_");
	r = mbox_reader_new(fd, MBOX_QUOTING_RD);
	test_assert(mbox_reader_next(r, &d, &error) == -1);
	test_assert(error != NULL && strstr(error, "not an mbox") != NULL);
	mbox_reader_free(&r);
	close(fd);
	test_end();
}

static void
test_header(void)
{
	static const char h[] =
		"Status: RO\r\n"
		"X-Status: AT\r\n"
		"X-Mozilla-Status: 0004\r\n"
		"X-Keywords: $Work, bad\"word Later\r\n"
		"X-Gmail-Labels: Opened,\"A, B\",\r\n"
		" =?UTF-8?Q?Re=C3=A7us?=,Unread,Category Social\r\n"
		"Message-ID: <1@x>\r\n"
		"Subject: s\r\n"
		"\r\n";
	struct arena *a = arena_new(4096, false);
	struct buf kept = BUF_INIT;
	struct mbox_meta m;

	test_begin("cli_mbox_header: status fields, keywords, Gmail labels");
	cli_mbox_header(h, sizeof(h) - 1, &m, &kept, a);
	/* R then Unread: Unread wins; A T from X-Status; 0x4 flagged */
	test_assert_inteq(m.flags, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT | STORE_FLAG_FLAGGED);
	test_assert_streq(m.keywords, "$Work Later");
	test_assert(m.gmail);
	test_assert_inteq(m.n_labels, 5);
	if (m.n_labels == 5) {
		test_assert_streq(m.labels[1], "A, B");
		test_assert_streq(m.labels[2], "Re\xc3\xa7us");
	}
	test_assert_streq(m.message_id, "<1@x>");
	test_assert(kept.len == 33 && memcmp(kept.data, "Message-ID: <1@x>\r\nSubject: s\r\n\r\n", 33) == 0);
	test_end();
	buf_free(&kept);
	arena_free(&a);
}

int
main(void)
{
	test_header();
	test_dates();
	test_long_lines();
	test_blank_lines();
	test_not_mbox();
	return test_done();
}
