/* Fuzzes the SORT and THREAD argument parsers (src/imap/imap_sort.c) on
 * argument trees built by the real command parser from "a SORT <input>"
 * and "a THREAD <input>", and the base-subject extraction and address
 * keys (src/mime/mime_subject.c) on the same bytes.  Checks: every
 * answer is OK, BAD, or NO with one of SEARCH's two codes; an accepted
 * SORT has 1..IMAP_SORT_CRITERIA_MAX criteria and RETURN options without
 * SAVE; a base subject is never longer than its decoded input allows and
 * has no leading or trailing space. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	arena_free(&a);
	return 0;
}
