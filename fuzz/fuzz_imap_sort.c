/* Fuzzes the SORT and THREAD argument parsers (src/imap/imap_sort.c) on
 * argument trees built by the real command parser from "a SORT <input>"
 * and "a THREAD <input>", and the base-subject extraction and address
 * keys (src/mime/mime_subject.c) on the same bytes.  Checks: every
 * answer is OK, BAD, or NO with one of SEARCH's two codes; an accepted
 * SORT has 1..IMAP_SORT_CRITERIA_MAX criteria and RETURN options without
 * SAVE; a base subject is never longer than its decoded input allows and
 * has no leading or trailing space.  Then both THREAD algorithms on
 * messages made from the input's lines ("message-id|references|subject|"
 * and a date octet): every message appears exactly once in the answer and
 * the parentheses balance, whatever loops and duplicates the references
 * make. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "imap/imap_sort.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_subject.h"
#include "store/store_sort.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Messages one input makes for the THREAD check. */
#define THREAD_MSGS_MAX 256

static void
check_refusal(const struct imap_result *res)
{
	if (res->text[0] == '\0' || res->status == IMAP_OK ||
	    (res->status == IMAP_NO && strcmp(res->code, "LIMIT") != 0 &&
	     strcmp(res->code, "BADCHARSET (UTF-8 US-ASCII)") != 0) ||
	    (res->status == IMAP_BAD && res->code[0] != '\0'))
		abort();
}

static void
parse_command(const char *verb, const uint8_t *data, size_t size, struct arena *a)
{
	struct imap_parse_limits lim = { 0, 4096, 0, false };
	struct imap_parser *p = imap_parser_new(a, &lim);
	struct imap_sort_program prog;
	struct imap_search_program sprog;
	enum imap_thread_algorithm algo;
	struct imap_parse_error err;
	struct imap_command cmd;
	struct imap_result res;
	struct buf in = BUF_INIT;
	size_t used = 0;

	buf_puts(&in, verb);
	buf_append(&in, data, size);
	buf_puts(&in, "\r\n");
	if (imap_parser_feed(p, in.data, in.len, &used, &cmd, &err) == 1) {
		memset(&res, 0, sizeof(res));
		if (verb[2] == 'S') {
			if (imap_sort_parse(cmd.args, a, &prog, &res) == 0) {
				if (prog.n_crit == 0 || prog.n_crit > IMAP_SORT_CRITERIA_MAX || prog.search.root == NULL)
					abort();
				if ((prog.search.ret & IMAP_SEARCH_RET_SAVE) != 0 ||
				    (!prog.search.esearch && prog.search.ret != IMAP_SEARCH_RET_ALL) || prog.search.ret == 0)
					abort();
			} else {
				check_refusal(&res);
			}
		} else {
			if (imap_thread_parse(cmd.args, a, &algo, &sprog, &res) == 0) {
				if (sprog.root == NULL || sprog.keys > IMAP_SEARCH_KEYS_MAX ||
				    (algo != IMAP_THREAD_ORDEREDSUBJECT && algo != IMAP_THREAD_REFERENCES))
					abort();
			} else {
				check_refusal(&res);
			}
		}
	}
	imap_parser_free(&p);
	buf_free(&in);
}

static void
subject_keys(const uint8_t *data, size_t size, struct arena *a)
{
	char *s = arena_alloc(a, size + 1), *decoded, *base;
	struct mime_address *list;
	size_t blen;
	bool reply;

	memcpy(s, data, size);
	s[size] = '\0';  /* header values never hold NUL (mime_header_unfold drops it) */
	decoded = mime_decode_words(s, a);
	base = mime_base_subject(s, a, &reply);
	blen = strlen(base);
	if (blen > strlen(decoded) || (blen > 0 && (base[0] == ' ' || base[blen - 1] == ' ')))
		abort();
	if (mime_casemap_cmp(base, base) != 0)
		abort();
	list = mime_address_parse(s, a);
	(void)mime_sort_mailbox(list);
	if (mime_sort_display(list, a) == NULL)
		abort();
}

/* Splits s at sep into at most max fields (the rest stays in the last). */
static size_t
split(char *s, char sep, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = s;
	while (n < max && (s = strchr(s, sep)) != NULL) {
		*s++ = '\0';
		f[n++] = s;
	}
	return n;
}

static void
check_threads(const char *out, size_t len, size_t n)
{
	unsigned char seen[THREAD_MSGS_MAX + 1] = { 0 };
	size_t i = 9;
	long depth = 0;

	if (len < 11 || strncmp(out, "* THREAD ", 9) != 0 || strcmp(out + len - 2, "\r\n") != 0)
		abort();
	while (i < len - 2) {
		if (out[i] == '(') {
			depth++;
			i++;
		} else if (out[i] == ')') {
			if (--depth < 0)
				abort();
			i++;
		} else if (out[i] == ' ') {
			i++;
		} else if (out[i] >= '1' && out[i] <= '9') {
			size_t v = 0;

			while (out[i] >= '0' && out[i] <= '9')
				v = v * 10 + (size_t)(out[i++] - '0');
			if (v == 0 || v > n || seen[v]++)
				abort();
		} else {
			abort();
		}
	}
	if (depth != 0)
		abort();
	for (i = 1; i <= n; i++)
		if (!seen[i])
			abort();
}

static void
threads(const uint8_t *data, size_t size, struct arena *a)
{
	char *s = arena_alloc(a, size + 1), *lines[THREAD_MSGS_MAX], *f[4];
	struct store_sort_msg *msgs;
	struct imap_sort_item *items;
	size_t n, i;

	memcpy(s, data, size);
	s[size] = '\0';
	n = split(s, '\n', lines, THREAD_MSGS_MAX);
	msgs = arena_alloc(a, n * sizeof(*msgs));
	items = arena_alloc(a, n * sizeof(*items));
	for (i = 0; i < n; i++) {
		size_t k = split(lines[i], '|', f, 4);

		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].uid = (uint32_t)(i + 1);
		msgs[i].k.message_id = f[0];
		msgs[i].k.references = k > 1 ? f[1] : "";
		msgs[i].k.subject = mime_base_subject(k > 2 ? f[2] : NULL, a, &msgs[i].k.reply);
		msgs[i].k.sent_date = k > 3 ? (unsigned char)f[3][0] : 0;
		msgs[i].internal_date = (int64_t)(i % 3);
		msgs[i].k.from = msgs[i].k.to = msgs[i].k.cc = msgs[i].k.display_from = msgs[i].k.display_to = "";
	}
	for (int algo = 0; algo < 2; algo++) {
		struct buf out = BUF_INIT;

		for (i = 0; i < n; i++) {
			items[i].msg = &msgs[i];
			items[i].seq = (uint32_t)(i + 1);
			items[i].modseq = 1;
		}
		imap_thread_write(items, n, algo == 0 ? IMAP_THREAD_REFERENCES : IMAP_THREAD_ORDEREDSUBJECT, false, a,
		                  &out);
		buf_append(&out, "", 1);
		check_threads(out.data, out.len - 1, n);
		buf_free(&out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096, false);

	if (size > 65536)
		size = 65536;
	parse_command("a SORT ", data, size, a);
	arena_reset(a);
	parse_command("a THREAD ", data, size, a);
	arena_reset(a);
	subject_keys(data, size, a);
	arena_reset(a);
	threads(data, size, a);
	arena_free(&a);
	return 0;
}
