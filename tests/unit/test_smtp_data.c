/* The DATA/BDAT body state machine: every input is fed all at once, one
 * byte at a time, and split in two at every point; the results must be
 * the same. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "smtp/smtp_data.h"
#include "test.h"

struct result {
	struct buf out;
	enum smtp_body_status status;
	size_t consumed;        /* DATA: bytes up to the end marker; 0 = not seen */
	unsigned received;
	bool ended;
};

struct sink_state {
	struct buf *out;
	size_t fail_after;      /* fail once this many bytes were taken (0 = never) */
	unsigned calls_after_fail;
	bool failed;
};

static int
sink(void *arg, const char *data, size_t len)
{
	struct sink_state *st = arg;

	if (st->failed) {
		st->calls_after_fail++;
		return -1;
	}
	if (st->fail_after != 0 && st->out->len + len > st->fail_after) {
		st->failed = true;
		return -1;
	}
	buf_append(st->out, data, len);
	return 0;
}

/* Feeds in pieces: step 0 = all at once, step 1 = byte by byte, else
 * split at byte "split". */
static void
run(enum smtp_body_mode mode, uint64_t max, const char *in, size_t len, int how, size_t split,
    struct result *r)
{
	struct smtp_body b;
	struct sink_state st = { 0 };
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out);
	buf_puts(&r->out, "");
	st.out = &r->out;
	smtp_body_init(&b, mode, max, sink, &st);
	while (off < len) {
		size_t n = how == 0 ? len - off : how == 1 ? 1 : (off < split ? split - off : len - off);
		size_t used = 0;
		int ret = smtp_body_feed(&b, in + off, n, &used);

		off += used;
		if (ret == 1) {
			r->ended = true;
			r->consumed = off;
			break;
		}
		if (used != n) {
			r->consumed = (size_t)-1;   /* must not happen */
			break;
		}
	}
	if (mode == SMTP_BODY_BDAT)
		smtp_body_finish(&b);
	r->status = b.status;
	r->received = b.received;
}

static bool
same(const struct result *a, const struct result *b)
{
	/* what reached the sink of a refused message does not matter (runs
	 * are cut where the feeds end) */
	if (a->status != SMTP_BODY_OK || b->status != SMTP_BODY_OK)
		return a->status == b->status && a->consumed == b->consumed && a->ended == b->ended;
	return a->consumed == b->consumed && a->ended == b->ended && a->received == b->received &&
	       a->out.len == b->out.len && memcmp(a->out.data, b->out.data, a->out.len) == 0;
}

/* Runs in every way and checks they agree; the all-at-once result is
 * left in *r. */
static bool
run_all(enum smtp_body_mode mode, uint64_t max, const char *in, size_t len, struct result *r)
{
	struct result o;
	bool ok = true;
	size_t i;

	run(mode, max, in, len, 0, 0, r);
	run(mode, max, in, len, 1, 0, &o);
	if (!same(r, &o))
		ok = false;
	buf_free(&o.out);
	for (i = 1; i < len && ok; i++) {
		run(mode, max, in, len, 2, i, &o);
		if (!same(r, &o)) {
			printf("# differs when split at %zu\n", i);
			ok = false;
		}
		buf_free(&o.out);
	}
	return ok;
}

#define ALL ((size_t)-1)   /* the end marker is the input's last byte */

static void
check_data(const char *name, const char *in, const char *want_out, enum smtp_body_status want_st,
           size_t want_consumed)
{
	struct result r;

	if (want_consumed == ALL)
		want_consumed = strlen(in);
	test_begin(name);
	test_assert(run_all(SMTP_BODY_DATA, 1000000, in, strlen(in), &r));
	test_assert_inteq(r.status, want_st);
	test_assert_inteq(r.consumed, want_consumed);
	test_assert(r.ended == (want_consumed != 0));
	if (want_out != NULL) {
		test_assert_inteq(r.out.len, strlen(want_out));
		test_assert(r.out.len == strlen(want_out) && memcmp(r.out.data, want_out, r.out.len) == 0);
	}
	buf_free(&r.out);
	test_end();
}

static void
check_bdat(const char *name, const char *in, size_t len, const char *want_out, enum smtp_body_status want_st)
{
	struct result r;

	test_begin(name);
	test_assert(run_all(SMTP_BODY_BDAT, 1000000, in, len, &r));
	test_assert_inteq(r.status, want_st);
	test_assert(!r.ended);
	if (want_out != NULL) {
		test_assert_inteq(r.out.len, strlen(want_out));
		test_assert(r.out.len == strlen(want_out) && memcmp(r.out.data, want_out, r.out.len) == 0);
	}
	buf_free(&r.out);
	test_end();
}

static void
test_data_basic(void)
{
	const char *m = "Subject: hi\r\n\r\nbody\r\n.\r\n";

	check_data("data: simple message", m, "Subject: hi\r\n\r\nbody\r\n", SMTP_BODY_OK, ALL);
	check_data("data: pipelined command after the end", "a\r\n.\r\nQUIT\r\n", "a\r\n", SMTP_BODY_OK, 6);
	check_data("data: empty message", ".\r\n", "", SMTP_BODY_OK, 3);
	check_data("data: dot-unstuffing", "..a\r\n...\r\n.b\r\nx.y\r\n.\r\n", ".a\r\n..\r\nb\r\nx.y\r\n",
	           SMTP_BODY_OK, ALL);
	check_data("data: a dot line that is not the end", "..\r\n.\r\n", ".\r\n", SMTP_BODY_OK, ALL);
	check_data("data: no end yet", "abc\r\n.", "abc\r\n", SMTP_BODY_OK, 0);
	check_data("data: no end yet after dot CR", "abc\r\n.\r", "abc\r\n", SMTP_BODY_OK, 0);
	check_data("data: dot in the middle of a line", "a.\r\n.\r\n", "a.\r\n", SMTP_BODY_OK, ALL);
}

static void
test_data_smuggling(void)
{
	/* none of these end the data: only CR LF . CR LF does */
	/* A bare LF is a line end stored as CR LF, but what follows it is
	 * content: never the end, never unstuffed. */
	check_data("data: LF.LF does not end", "a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", SMTP_BODY_OK, ALL);
	check_data("data: CRLF.LF does not end", "a\r\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", SMTP_BODY_OK, ALL);
	check_data("data: LF.CRLF does not end", "a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", SMTP_BODY_OK, ALL);
	check_data("data: LF..x keeps both dots", "a\n..x\r\n.\r\n", "a\r\n..x\r\n", SMTP_BODY_OK, ALL);
	check_data("data: CR.CRLF does not end", "a\r.\r\nb\r\n.\r\n", NULL, SMTP_BODY_BARE_CR, ALL);
	check_data("data: CRLF.CR does not end", "a\r\n.\rb\r\n.\r\n", NULL, SMTP_BODY_BARE_CR, ALL);
	check_data("data: bare LF only, never ends", "a\n.\n", "a\r\n.\r\n", SMTP_BODY_OK, 0);
	check_data("data: bare CR", "a\rb\r\n.\r\n", NULL, SMTP_BODY_BARE_CR, ALL);
	check_data("data: CR CR LF", "a\r\r\n.\r\n", NULL, SMTP_BODY_BARE_CR, ALL);
	check_data("data: bare LF first", "\n.\r\n.\r\n", "\r\n.\r\n", SMTP_BODY_OK, ALL);
	{
		static const char in[] = "a\0b\r\n.\r\n";
		struct result r;

		test_begin("data: NUL byte");
		test_assert(run_all(SMTP_BODY_DATA, 1000, in, sizeof(in) - 1, &r));
		test_assert_inteq(r.status, SMTP_BODY_NUL);
		test_assert_inteq(r.consumed, sizeof(in) - 1);
		buf_free(&r.out);
		test_end();
	}
}

static void
test_data_limits(void)
{
	struct result r;
	char *big;
	size_t n;

	test_begin("data: size limit");
	test_assert(run_all(SMTP_BODY_DATA, 10, "0123456789ABCDEF\r\n.\r\n", 21, &r));
	test_assert_inteq(r.status, SMTP_BODY_TOO_BIG);
	test_assert_inteq(r.consumed, 21);
	test_assert(r.out.len <= 10);
	buf_free(&r.out);
	/* exactly at the limit: "01234567\r\n" is 10 bytes */
	test_assert(run_all(SMTP_BODY_DATA, 10, "01234567\r\n.\r\n", 13, &r));
	test_assert_inteq(r.status, SMTP_BODY_OK);
	test_assert_inteq(r.out.len, 10);
	buf_free(&r.out);
	/* the limit is crossed before the bare CR: reported whatever the
	 * pieces (found by fuzz_smtp_data) */
	test_assert(run_all(SMTP_BODY_DATA, 5, "abcdefgh\rx\r\n.\r\n", 15, &r));
	test_assert_inteq(r.status, SMTP_BODY_TOO_BIG);
	buf_free(&r.out);
	test_assert(run_all(SMTP_BODY_DATA, 5, "ab\rcdefgh\r\n.\r\n", 15, &r));
	test_assert_inteq(r.status, SMTP_BODY_BARE_CR);
	buf_free(&r.out);
	test_end();

	test_begin("data: line length limit");
	n = SMTP_TEXT_LINE_MAX + 16;
	big = malloc(n);
	memset(big, 'x', n);
	/* a line of SMTP_TEXT_LINE_MAX bytes with its CRLF is fine */
	memcpy(big + SMTP_TEXT_LINE_MAX - 2, "\r\n.\r\n", 5);
	run(SMTP_BODY_DATA, (uint64_t)n * 2, big, SMTP_TEXT_LINE_MAX + 3, 0, 0, &r);
	test_assert_inteq(r.status, SMTP_BODY_OK);
	test_assert_inteq(r.consumed, SMTP_TEXT_LINE_MAX + 3);
	buf_free(&r.out);
	/* one byte more is not */
	memset(big, 'x', n);
	memcpy(big + SMTP_TEXT_LINE_MAX - 1, "\r\n.\r\n", 5);
	run(SMTP_BODY_DATA, (uint64_t)n * 2, big, SMTP_TEXT_LINE_MAX + 4, 0, 0, &r);
	test_assert_inteq(r.status, SMTP_BODY_LINE_TOO_LONG);
	test_assert_inteq(r.consumed, SMTP_TEXT_LINE_MAX + 4);
	buf_free(&r.out);
	free(big);
	test_end();
}

static void
test_received_count(void)
{
	struct buf in = BUF_INIT;
	struct result r;
	int i;

	test_begin("data: Received header fields are counted");
	for (i = 0; i < SMTP_RECEIVED_HOPS_MAX; i++)
		buf_puts(&in, i % 2 ? "Received: from x\r\n" : "RECEIVED:from y\r\n");
	buf_puts(&in, "X-Received: not one\r\n\tReceived: continuation\r\n\r\nReceived: in the body\r\n.\r\n");
	test_assert(run_all(SMTP_BODY_DATA, 1000000, in.data, in.len, &r));
	test_assert_inteq(r.status, SMTP_BODY_OK);
	test_assert_inteq(r.received, SMTP_RECEIVED_HOPS_MAX);
	buf_free(&r.out);
	buf_reset(&in);
	for (i = 0; i < SMTP_RECEIVED_HOPS_MAX + 1; i++)
		buf_puts(&in, "Received: from x\r\n");
	buf_puts(&in, "\r\nbody\r\n.\r\n");
	run(SMTP_BODY_DATA, 1000000, in.data, in.len, 1, 0, &r);
	test_assert_inteq(r.status, SMTP_BODY_LOOP);
	test_assert_inteq(r.consumed, in.len);
	buf_free(&r.out);
	/* a stuffed ".Received:" is a Received: line once unstuffed */
	buf_reset(&in);
	buf_puts(&in, ".Received: x\r\n\r\n.\r\n");
	test_assert(run_all(SMTP_BODY_DATA, 1000, in.data, in.len, &r));
	test_assert_inteq(r.received, 1);
	buf_free(&r.out);
	buf_free(&in);
	test_end();
}

static void
test_sink_failure(void)
{
	struct smtp_body b;
	struct buf out = BUF_INIT;
	struct sink_state st = { 0 };
	const char *in = "aaaaaaaaaa\r\nbbbbbbbbbb\r\n.\r\n";
	size_t used = 0, off = 0;
	int ret = 0;

	test_begin("data: a failing sink stops the output, not the reading");
	st.out = &out;
	st.fail_after = 5;
	smtp_body_init(&b, SMTP_BODY_DATA, 1000, sink, &st);
	while (off < strlen(in) && ret == 0) {
		ret = smtp_body_feed(&b, in + off, 1, &used);
		off += used;
	}
	test_assert_inteq(ret, 1);
	test_assert_inteq(off, strlen(in));
	test_assert_inteq(b.status, SMTP_BODY_SINK_FAILED);
	test_assert_inteq(st.calls_after_fail, 0);
	/* after the end, nothing more is taken */
	test_assert_inteq(smtp_body_feed(&b, "x", 1, &used), 1);
	test_assert_inteq(used, 0);
	buf_free(&out);
	test_end();
}

static void
test_bdat(void)
{
	static const char nul[] = "a\0b";

	check_bdat("bdat: CRLF kept", "a\r\nb\r\n", 6, "a\r\nb\r\n", SMTP_BODY_OK);
	check_bdat("bdat: bare LF becomes CRLF", "a\nb\n", 4, "a\r\nb\r\n", SMTP_BODY_OK);
	check_bdat("bdat: bare CR becomes CRLF", "a\rb\r", 4, "a\r\nb\r\n", SMTP_BODY_OK);
	check_bdat("bdat: CR CR LF", "a\r\r\nb", 5, "a\r\n\r\nb\r\n", SMTP_BODY_OK);
	check_bdat("bdat: last line without line end gets CRLF", "a\r\nb", 4, "a\r\nb\r\n", SMTP_BODY_OK);
	check_bdat("bdat: dots are data", "\r\n.\r\n..\r\n", 9, "\r\n.\r\n..\r\n", SMTP_BODY_OK);
	check_bdat("bdat: empty", "", 0, "", SMTP_BODY_OK);
	check_bdat("bdat: NUL refused", nul, 3, NULL, SMTP_BODY_NUL);

	{
		struct result r;

		test_begin("bdat: size counts converted line ends");
		/* 5 bytes in, 6 out after LF -> CRLF: over a limit of 5 */
		test_assert(run_all(SMTP_BODY_BDAT, 5, "abcd\n", 5, &r));
		test_assert_inteq(r.status, SMTP_BODY_TOO_BIG);
		buf_free(&r.out);
		test_assert(run_all(SMTP_BODY_BDAT, 6, "abcd\n", 5, &r));
		test_assert_inteq(r.status, SMTP_BODY_OK);
		buf_free(&r.out);
		test_end();
	}
	{
		/* chunks: the state carries across feeds (CR at a chunk end) */
		struct smtp_body b;
		struct buf out = BUF_INIT;
		struct sink_state st = { 0 };
		size_t used;

		test_begin("bdat: CR LF split across chunks");
		st.out = &out;
		smtp_body_init(&b, SMTP_BODY_BDAT, 1000, sink, &st);
		smtp_body_feed(&b, "Received: x\r", 12, &used);
		smtp_body_feed(&b, "\n\r\nbody", 7, &used);
		smtp_body_finish(&b);
		test_assert_inteq(b.status, SMTP_BODY_OK);
		test_assert_inteq(b.received, 1);
		test_assert(out.len == 21 && memcmp(out.data, "Received: x\r\n\r\nbody\r\n", 21) == 0);
		buf_free(&out);
		test_end();
	}
}

static void
test_status_text(void)
{
	test_begin("data: status texts");
	test_assert_streq(smtp_body_status_text(SMTP_BODY_OK), "ok");
	test_assert_streq(smtp_body_status_text(SMTP_BODY_LOOP), "too many Received headers");
	test_end();
}

int
main(void)
{
	test_data_basic();
	test_data_smuggling();
	test_data_limits();
	test_received_count();
	test_sink_failure();
	test_bdat();
	test_status_text();
	return test_done();
}
