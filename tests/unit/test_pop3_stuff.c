/* The RETR/TOP stuffer: CRLF normalisation, dot-stuffing, the final CRLF
 * and terminator, TOP's line counting, and the same output whatever the
 * chunk boundaries (every split offset, byte at a time, random splits),
 * checked against a plain line-by-line reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_stuff.h"
#include "test.h"

/* Feeds in as chunks of the given sizes (cycled), returns the output. */
static char *
run(const char *in, size_t len, bool top, uint64_t lines, const size_t *sizes, size_t nsizes, size_t *outlen,
    size_t *consumed_out)
{
	struct pop3_stuffer st;
	struct buf out = BUF_INIT;
	size_t off = 0, k = 0, consumed = 0;
	char *res;

	if (top)
		pop3_stuffer_init_top(&st, lines);
	else
		pop3_stuffer_init(&st);
	while (off < len && !pop3_stuffer_done(&st)) {
		size_t n = sizes[k++ % nsizes];
		size_t used;

		if (n > len - off)
			n = len - off;
		used = pop3_stuffer_feed(&st, in + off, n, &out);
		consumed += used;
		if (used < n && !pop3_stuffer_done(&st))
			consumed = (size_t)-1;     /* must not happen */
		off += n;
	}
	pop3_stuffer_finish(&st, &out);
	*outlen = out.len;
	if (consumed_out != NULL)
		*consumed_out = consumed;
	res = malloc(out.len + 1);
	memcpy(res, out.data, out.len);
	res[out.len] = '\0';
	buf_free(&out);
	return res;
}

static char *
run_whole(const char *in, size_t len, bool top, uint64_t lines, size_t *outlen)
{
	size_t whole = len > 0 ? len : 1;

	return run(in, len, top, lines, &whole, 1, outlen, NULL);
}

/* The reference: split at LF, drop one CR before each LF (and a CR that
 * ends the input), stuff lines that begin with '.', CRLF after each. */
static char *
reference(const char *in, size_t len, bool top, uint64_t lines, size_t *outlen)
{
	char *out = malloc(2 * len + 8);
	size_t o = 0, i = 0;
	bool in_body = false, stop = false;

	while (i < len && !stop) {
		size_t start = i, end;
		bool empty;

		while (i < len && in[i] != '\n')
			i++;
		end = i;
		if (i < len)
			i++;                   /* the LF */
		if (end > start && in[end - 1] == '\r')
			end--;
		empty = end == start;
		if (end > start && in[start] == '.')
			out[o++] = '.';
		memcpy(out + o, in + start, end - start);
		o += end - start;
		out[o++] = '\r';
		out[o++] = '\n';
		if (top) {
			if (!in_body) {
				if (empty) {
					in_body = true;
					if (lines == 0)
						stop = true;
				}
			} else if (--lines == 0) {
				stop = true;
			}
		}
	}
	memcpy(out + o, ".\r\n", 3);
	o += 3;
	out[o] = '\0';
	*outlen = o;
	return out;
}

static void
check_case(const char *in, const char *expect, bool top, uint64_t lines)
{
	size_t len = strlen(in), outlen, reflen;
	char *out = run_whole(in, len, top, lines, &outlen);
	char *ref = reference(in, len, top, lines, &reflen);

	test_assert_streq(out, expect);
	test_assert_streq(ref, expect);
	free(out);
	free(ref);
}

static void
test_basic(void)
{
	test_begin("pop3_stuff: CRLF message passes through");
	check_case("Subject: x\r\n\r\nhello\r\n", "Subject: x\r\n\r\nhello\r\n.\r\n", false, 0);
	test_end();

	test_begin("pop3_stuff: empty message");
	check_case("", ".\r\n", false, 0);
	test_end();

	test_begin("pop3_stuff: dot lines are stuffed");
	check_case(".\r\n", "..\r\n.\r\n", false, 0);
	check_case("..\r\n", "...\r\n.\r\n", false, 0);
	check_case("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n", false, 0);
	check_case(".hidden\r\n..x\r\n", "..hidden\r\n...x\r\n.\r\n", false, 0);
	check_case("a.\r\n a\r\n", "a.\r\n a\r\n.\r\n", false, 0);
	test_end();

	test_begin("pop3_stuff: bare LF becomes CRLF");
	check_case("a\nb\n", "a\r\nb\r\n.\r\n", false, 0);
	check_case("\n\n", "\r\n\r\n.\r\n", false, 0);
	check_case(".\n", "..\r\n.\r\n", false, 0);
	check_case("a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n.\r\n", false, 0);
	test_end();

	test_begin("pop3_stuff: missing final CRLF is added");
	check_case("abc", "abc\r\n.\r\n", false, 0);
	check_case(".", "..\r\n.\r\n", false, 0);
	check_case("a\r\nb", "a\r\nb\r\n.\r\n", false, 0);
	check_case("abc\r", "abc\r\n.\r\n", false, 0);
	test_end();

	test_begin("pop3_stuff: bare CR stays content");
	check_case("a\rb\r\n", "a\rb\r\n.\r\n", false, 0);
	check_case("\r.\r\n", "\r.\r\n.\r\n", false, 0);
	check_case("a\r\r\n", "a\r\r\n.\r\n", false, 0);
	check_case("\r\r\r\n", "\r\r\r\n.\r\n", false, 0);
	test_end();
}

static void
test_top(void)
{
	const char *msg = "From: a\r\nSubject: b\r\n\r\nl1\r\nl2\r\n.l3\r\n";

	test_begin("pop3_stuff: TOP n 0 sends the header and the blank line");
	check_case(msg, "From: a\r\nSubject: b\r\n\r\n.\r\n", true, 0);
	test_end();

	test_begin("pop3_stuff: TOP counts body lines");
	check_case(msg, "From: a\r\nSubject: b\r\n\r\nl1\r\n.\r\n", true, 1);
	check_case(msg, "From: a\r\nSubject: b\r\n\r\nl1\r\nl2\r\n.\r\n", true, 2);
	check_case(msg, "From: a\r\nSubject: b\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n", true, 3);
	check_case(msg, "From: a\r\nSubject: b\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n", true, 100);
	test_end();

	test_begin("pop3_stuff: TOP with LF line ends and a last line without one");
	check_case("A: 1\n\nb1\nb2", "A: 1\r\n\r\nb1\r\n.\r\n", true, 1);
	check_case("A: 1\n\nb1\nb2", "A: 1\r\n\r\nb1\r\nb2\r\n.\r\n", true, 2);
	check_case("A: 1\n\nb1\nb2", "A: 1\r\n\r\nb1\r\nb2\r\n.\r\n", true, 5);
	test_end();

	test_begin("pop3_stuff: TOP of a header-only message");
	check_case("A: 1\r\nB: 2\r\n", "A: 1\r\nB: 2\r\n.\r\n", true, 0);
	check_case("A: 1\r\nB: 2", "A: 1\r\nB: 2\r\n.\r\n", true, 3);
	test_end();

	test_begin("pop3_stuff: TOP: a bare-CR line does not end the header");
	check_case("A: 1\r\n\r\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\n\r\r\nB: 2\r\n\r\n.\r\n", true, 0);
	test_end();

	test_begin("pop3_stuff: TOP stops consuming at its limit");
	{
		size_t whole = strlen(msg), outlen, consumed;
		char *out = run(msg, strlen(msg), true, 1, &whole, 1, &outlen, &consumed);

		test_assert_inteq(consumed, strlen("From: a\r\nSubject: b\r\n\r\nl1\r\n"));
		free(out);
	}
	test_end();
}

static const char *const split_cases[] = {
	"", ".", "..", "\r", "\n", "\r\n", ".\r\n", "\r\n.\r\n", "a\r\n.\r\n.\r\n",
	"Subject: x\r\n\r\n.\r\n..\r\nbody\nmore\r\n.end", "\n.\n.\n", "\r\r\n.\r.\n",
	"H: 1\n\n.b1\r\n\r\nb2\rb3\nb4", "x\r", ".\r", "\r.", "a\r\n\r\n\r\n",
};

static void
test_splits(void)
{
	test_begin("pop3_stuff: same output split at every offset (RETR and TOP)");
	for (size_t c = 0; c < sizeof(split_cases) / sizeof(split_cases[0]); c++) {
		const char *in = split_cases[c];
		size_t len = strlen(in);

		for (int mode = 0; mode < 4; mode++) {
			bool top = mode > 0;
			uint64_t lines = (uint64_t)(mode - 1);
			size_t reflen, wlen;
			char *ref = reference(in, len, top, lines, &reflen);
			char *whole = run_whole(in, len, top, lines, &wlen);

			test_assert_streq(whole, ref);
			for (size_t cut = 0; cut <= len; cut++) {
				size_t sizes[2] = { cut, len - cut }, olen;
				char *out;

				if (cut == 0 || cut == len)
					continue;
				out = run(in, len, top, lines, sizes, 2, &olen, NULL);
				test_assert(olen == reflen && memcmp(out, ref, reflen) == 0);
				free(out);
			}
			{
				size_t one = 1, olen;
				char *out = run(in, len, top, lines, &one, 1, &olen, NULL);

				test_assert(olen == reflen && memcmp(out, ref, reflen) == 0);
				free(out);
			}
			free(ref);
			free(whole);
		}
	}
	test_end();
}

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* No "\r\n.\r\n" inside the body, every LF after a CR, and the reply ends
 * with the terminator. */
static bool
well_formed(const char *out, size_t len)
{
	if (len < 3 || memcmp(out + len - 3, ".\r\n", 3) != 0)
		return false;
	if (len > 3 && (len < 5 || memcmp(out + len - 5, "\r\n", 2) != 0))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			return false;
		/* A line that is a lone dot before the end. */
		if (i + 3 < len && (i == 0 || out[i - 1] == '\n') && memcmp(out + i, ".\r\n", 3) == 0)
			return false;
	}
	return true;
}

static void
test_random(void)
{
	static const char alphabet[] = "..\r\n\nab :";
	char in[300];

	test_begin("pop3_stuff: random input, random chunks, against the reference");
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rng() % sizeof(in), sizes[4], olen, reflen;
		bool top = rng() % 2 == 0;
		uint64_t lines = rng() % 4;
		char *out, *ref;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		for (int k = 0; k < 4; k++)
			sizes[k] = 1 + rng() % 17;
		out = run(in, len, top, lines, sizes, 4, &olen, NULL);
		ref = reference(in, len, top, lines, &reflen);
		test_assert(olen == reflen && memcmp(out, ref, reflen) == 0);
		test_assert(well_formed(out, olen));
		free(out);
		free(ref);
	}
	test_end();
}

static void
test_large(void)
{
	/* 20 MB through 64 KiB chunks: the output buffer stays at one
	 * chunk's worth because the caller drains it each time. */
	size_t chunk = 65536, total = 20 * 1024 * 1024, line = 78, fed = 0, outbytes = 0, maxcap = 0;
	struct pop3_stuffer st;
	struct buf out = BUF_INIT;
	char *in = malloc(chunk);

	test_begin("pop3_stuff: 20 MB in 64 KiB chunks, bounded buffer");
	for (size_t i = 0; i < chunk; i++)
		in[i] = (i % line == line - 2) ? '\r' : (i % line == line - 1) ? '\n' : (i % line == 0) ? '.' : 'x';
	pop3_stuffer_init(&st);
	while (fed < total) {
		test_assert(pop3_stuffer_feed(&st, in, chunk, &out) == chunk);
		fed += chunk;
		outbytes += out.len;
		if (out.cap > maxcap)
			maxcap = out.cap;
		buf_reset(&out);
	}
	pop3_stuffer_finish(&st, &out);
	outbytes += out.len;
	test_assert(maxcap <= 2 * chunk + 2 * chunk);
	/* one extra '.' per line, lines are whole in each chunk only on
	 * average: count exactly */
	test_assert(outbytes > total);
	buf_free(&out);
	free(in);
	test_end();
}

int
main(void)
{
	test_basic();
	test_top();
	test_splits();
	test_random();
	test_large();
	return test_done();
}
