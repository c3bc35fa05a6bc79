/* Fuzzes the SEARCH program parser (src/imap/imap_search.c) on argument
 * trees built by the real command parser from "a SEARCH <input>\r\n",
 * and the header splitter and case folding of the header keys on the
 * same bytes.  Checks: every answer is OK, BAD, or NO with one of our two
 * codes; every accepted tree has the documented shape (OR two children,
 * NOT one, groups at least one, cheap children first) and respects
 * IMAP_SEARCH_KEYS_MAX; a PARTIAL range is 1 <= lo <= hi and never
 * comes with ALL (RFC 9394); parsing the same arguments again (what an
 * UPDATE context does, imap_search_update.c) succeeds with the same
 * program; folding never grows a string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/arena.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
check_key(const struct imap_search_key *k, int depth)
{
	const struct imap_search_key *c;
	size_t n = 1, children = 0;

	if (depth > IMAP_SEARCH_KEYS_MAX + 1)
		abort();
	for (c = k->child; c != NULL; c = c->next) {
		if (c->cost > k->cost || (c->next != NULL && c->next->cost < c->cost))
			abort();
		n += check_key(c, depth + 1);
		children++;
	}
	switch (k->op) {
	case ISK_AND:
		if (children == 0)
			abort();
		break;
	case ISK_OR:
		if (children != 2)
			abort();
		break;
	case ISK_NOT:
		if (children != 1)
			abort();
		break;
	case ISK_HEADER:
		if (k->str == NULL || k->needle == NULL || strlen(k->needle) != k->needle_len)
			abort();
		break;
	case ISK_BODY:
	case ISK_TEXT:
		if (k->needle == NULL || strlen(k->needle) != k->needle_len)
			abort();
		break;
	case ISK_KEYWORD:
		if (k->str == NULL || k->len == 0)
			abort();
		break;
	case ISK_SEQSET:
	case ISK_UIDSET:
		if (k->set.saved || k->set.count == 0)
			abort();
		break;
	case ISK_SAVED:
		if (!k->set.saved)
			abort();
		break;
	default:
		if (children != 0)
			abort();
		break;
	}
	return n;
}

static void
parse_program(const uint8_t *data, size_t size, struct arena *a)
{
	struct imap_parse_limits lim = { 0, 4096, 0, false };
	struct imap_parser *p = imap_parser_new(a, &lim);
	struct imap_search_program prog, again;
	struct imap_parse_error err;
	struct imap_command cmd;
	struct imap_result res;
	struct buf in = BUF_INIT;
	size_t used = 0;

	buf_puts(&in, "a SEARCH ");
	buf_append(&in, data, size);
	buf_puts(&in, "\r\n");
	if (imap_parser_feed(p, in.data, in.len, &used, &cmd, &err) == 1) {
		memset(&res, 0, sizeof(res));
		if (imap_search_parse(cmd.args, a, &prog, &res) == 0) {
			if (prog.root == NULL || prog.root->op != ISK_AND || prog.keys > IMAP_SEARCH_KEYS_MAX)
				abort();
			if (check_key(prog.root, 0) != prog.keys + 1)
				abort();
			if (prog.ret == 0 || (!prog.esearch && prog.ret != IMAP_SEARCH_RET_ALL))
				abort();
			if ((prog.ret & IMAP_SEARCH_RET_PARTIAL) &&
			    (prog.partial_lo == 0 || prog.partial_lo > prog.partial_hi ||
			     (prog.ret & IMAP_SEARCH_RET_ALL)))
				abort();
			if (imap_search_parse(cmd.args, a, &again, &res) != 0 || again.keys != prog.keys ||
			    again.ret != prog.ret || again.partial_lo != prog.partial_lo ||
			    again.partial_hi != prog.partial_hi || again.partial_from_end != prog.partial_from_end)
				abort();
		} else if (res.text[0] == '\0' ||
		           (res.status == IMAP_NO && strcmp(res.code, "LIMIT") != 0 &&
		            strcmp(res.code, "BADCHARSET (UTF-8 US-ASCII)") != 0) ||
		           (res.status == IMAP_BAD && res.code[0] != '\0') || res.status == IMAP_OK) {
			abort();
		}
	}
	imap_parser_free(&p);
	buf_free(&in);
}

static void
header_match(const uint8_t *data, size_t size, struct arena *a)
{
	struct imap_search_header *h;
	const char *names[] = { "From", "subject", "X-A", "" };
	size_t i, flen;
	char *folded;

	folded = imap_search_fold((const char *)data, size, a, &flen);
	if (flen > size || folded[flen] != '\0')
		abort();
	h = imap_search_header_split((const char *)data, size, a);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)imap_search_header_match(h, names[i], strlen(names[i]), "", 0, a);
		(void)imap_search_header_match(h, names[i], strlen(names[i]), "a", 1, a);
		(void)imap_search_header_match(h, names[i], strlen(names[i]), "\xc3\xa9t", 3, a);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096, false);

	if (size > 65536)
		size = 65536;
	parse_program(data, size, a);
	arena_reset(a);
	header_match(data, size, a);
	arena_free(&a);
	return 0;
}
