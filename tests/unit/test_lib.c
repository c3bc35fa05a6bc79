/* Unit tests for src/lib: buffers, arenas, strings, base64, config syntax. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/conf.h"
#include "lib/str.h"
#include "test.h"

static void
test_buf(void)
{
	struct buf b = BUF_INIT;

	test_begin("buf: append, printf, consume");
	buf_puts(&b, "hello");
	buf_printf(&b, " %d %s", 42, "world");
	test_assert_streq(b.data, "hello 42 world");
	buf_consume(&b, 6);
	test_assert_streq(b.data, "42 world");
	buf_consume(&b, 100);
	test_assert_inteq(b.len, 0);
	for (int i = 0; i < 10000; i++)
		buf_append(&b, "x", 1);
	test_assert_inteq(b.len, 10000);
	buf_free(&b);
	test_assert(b.data == NULL);
	test_end();

	test_begin("buf: put_u64 writes decimal");
	buf_put_u64(&b, 0);
	buf_puts(&b, " ");
	buf_put_u64(&b, 7);
	buf_puts(&b, " ");
	buf_put_u64(&b, 4294967295u);
	buf_puts(&b, " ");
	buf_put_u64(&b, UINT64_MAX);
	test_assert_streq(b.data, "0 7 4294967295 18446744073709551615");
	buf_free(&b);
	test_end();
}

static void
test_arena(void)
{
	struct arena *a = arena_new(256, true);
	char *big;

	test_begin("arena: small and big allocations, reset, free");
	for (int i = 0; i < 100; i++) {
		char *s = arena_printf(a, "item %d", i);

		test_assert(strncmp(s, "item ", 5) == 0);
	}
	big = arena_alloc(a, 10000);
	memset(big, 'x', 10000);
	test_assert_streq(arena_strndup(a, "abcdef", 3), "abc");
	arena_reset(a);
	test_assert_streq(arena_strdup(a, "after reset"), "after reset");
	arena_free(&a);
	test_assert(a == NULL);
	arena_free(&a);
	test_end();
}

static void
test_str(void)
{
	uint64_t v;
	char s[32];

	test_begin("str: sizes, integers, trim, lower, lcpy");
	test_assert(str_parse_size("50M", &v) == 0 && v == 50ULL * 1024 * 1024);
	test_assert(str_parse_size("1k", &v) == 0 && v == 1024);
	test_assert(str_parse_size("7", &v) == 0 && v == 7);
	test_assert(str_parse_size("", &v) == -1);
	test_assert(str_parse_size("M", &v) == -1);
	test_assert(str_parse_size("12X", &v) == -1);
	test_assert(str_parse_size("99999999999999999999G", &v) == -1);
	test_assert(str_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	test_assert(str_parse_u64("18446744073709551616", &v) == -1);
	test_assert(str_parse_u64("-1", &v) == -1);
	strcpy(s, "  Mixed Case \t");
	test_assert_streq(str_lower(str_trim(s)), "mixed case");
	test_assert_inteq(str_lcpy(s, "0123456789", 5), 10);
	test_assert_streq(s, "0123");
	test_assert(str_ct_equal("abc", "abc", 3));
	test_assert(!str_ct_equal("abc", "abd", 3));
	test_end();
}

static void
test_base64(void)
{
	static const struct { const char *plain, *enc; } vectors[] = {
		/* RFC 4648 section 10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char out[64];
	char enc[64];

	test_begin("base64: RFC 4648 vectors both ways");
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t n = strlen(vectors[i].plain);
		long d = base64_decode(vectors[i].enc, strlen(vectors[i].enc), out, sizeof(out));

		test_assert_inteq(base64_encode((const unsigned char *)vectors[i].plain, n, enc), strlen(vectors[i].enc));
		test_assert_streq(enc, vectors[i].enc);
		test_assert_inteq(d, n);
		test_assert(memcmp(out, vectors[i].plain, n) == 0);
	}
	test_end();

	test_begin("base64: malformed input is refused");
	test_assert(base64_decode("Zg=", 3, out, sizeof(out)) == -1);
	test_assert(base64_decode("Z===", 4, out, sizeof(out)) == -1);
	test_assert(base64_decode("Zg==Zg==", 8, out, sizeof(out)) == -1);
	test_assert(base64_decode("Zm 9", 4, out, sizeof(out)) == -1);
	test_assert(base64_decode("Zm9v", 4, out, 2) == -1);
	test_end();
}

static void
test_conf(void)
{
	const char *text =
		"# comment\n"
		"[server]\n"
		"hostname = mail.example.test   # trailing comment\n"
		"  data_dir=/var/lib/tern\n"
		"\n"
		"[auth]\n"
		"allow_plaintext = never        # never | loopback | always\n"
		"quoted = \"a # b\"\n"
		"[server]\n"
		"hostname = second\n";
	struct conf *c = NULL;
	char *error = NULL;

	test_begin("conf: sections, keys, comments, last value wins");
	test_assert(conf_parse("t.conf", text, strlen(text), &c, &error) == 0);
	test_assert(c != NULL && c->count == 5);
	test_assert_streq(conf_find(c, "server", "hostname")->value, "second");
	test_assert_inteq(conf_find(c, "server", "hostname")->line, 10);
	test_assert_streq(conf_find(c, "server", "data_dir")->value, "/var/lib/tern");
	test_assert_streq(conf_find(c, "auth", "allow_plaintext")->value, "never");
	test_assert_streq(conf_find(c, "auth", "quoted")->value, "a # b");
	test_assert(conf_find(c, "auth", "missing") == NULL);
	conf_free(&c);
	test_end();

	static const struct { const char *text, *error; } bad[] = {
		{ "key = value\n", "x.conf:1: key outside of a [section]" },
		{ "[s]\n\n[broken\n", "x.conf:3: missing ']' in section header" },
		{ "[s]\njust words\n", "x.conf:2: expected 'key = value'" },
		{ "[s]\nbad key = 1\n", "x.conf:2: invalid key name" },
		{ "[s] junk\n", "x.conf:1: text after section header" },
	};
	test_begin("conf: errors name file and line");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		test_assert(conf_parse("x.conf", bad[i].text, strlen(bad[i].text), &c, &error) == -1);
		test_assert_streq(error, bad[i].error);
		free(error);
	}
	test_end();

	test_begin("conf: NUL byte and overlong line are errors");
	test_assert(conf_parse("x.conf", "[s]\nk = a\0b\n", 11, &c, &error) == -1);
	test_assert_streq(error, "x.conf:2: NUL byte in line");
	free(error);
	{
		size_t n = 8000;
		char *big = malloc(n);

		memset(big, 'a', n);
		memcpy(big, "[s]\nk = ", 8);
		test_assert(conf_parse("x.conf", big, n, &c, &error) == -1);
		test_assert_streq(error, "x.conf:2: line too long");
		free(error);
		free(big);
	}
	test_end();
}

int
main(void)
{
	test_buf();
	test_arena();
	test_str();
	test_base64();
	test_conf();
	return test_done();
}
