/* Tests of SEARCH (src/imap/imap_search*.c) against a real store in a
 * mkdtemp() directory: messages delivered with store_deliver, flags and
 * keywords set through the store, commands parsed by imap_parser_feed,
 * and the exact responses written by hand from RFC 9051 6.4.4 / 7.3.4,
 * RFC 3501 7.2.5, RFC 4731, RFC 5182 and RFC 7162 3.1.5.
 *
 * The mailbox: seven deliveries, UID 5 expunged before the view is taken
 * and UID 6 expunged after it, so the view is UIDs 1 2 3 4 6 7 (sequence
 * numbers 1..6) and sequence number 5 (UID 6) never matches.
 *
 *   seq uid  flags              internal date (UTC)   Date header
 *   1   1    \Seen              02-Jan-2024 12:00     01 Jan 2024 10:00 +0000
 *   2   2    \Seen \Flagged     16-Feb-2024 08:00     15 Feb 2024 23:30 -0500
 *            $Forwarded Work
 *   3   3    \Deleted           01-Mar-2024 00:00     (none)
 *   4   4    \Answered \Draft   01-Mar-2024 23:59:59  01 Mar 2024 23:59:59 +0000
 *   5   6    (expunged after the view was taken)
 *   6   7    (none)             02-Mar-2024 09:00     02 Mar 2024 08:00 +0100
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_cmd.h"
#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "store/store.h"
#include "store/store_imap.h"
#include "test.h"

#define USER "alice@example.com"

static const char msg1[] =
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.org\r\n"
	"Subject: Hello world\r\n"
	"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
	"Message-ID: <1@example.com>\r\n"
	"\r\n"
	"The quick brown fox jumps over the lazy dog.\r\n";

static const char msg2[] =
	"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.de>\r\n"
	"To: alice@example.com\r\n"
	"Cc: Carol <carol@example.com>\r\n"
	"Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"
	"Date: Thu, 15 Feb 2024 23:30:00 -0500\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"VmllbGUgR3LDvMOfZSBhdXMgQmVybGluDQo=\r\n";

static const char msg3_head[] =
	"From: bob@example.org\r\n"
	"To: alice@example.com\r\n"
	"Bcc: dave@example.net\r\n"
	"Subject: a long\r\n"
	" subject line\r\n"
	"X-Custom: yes\r\n"
	"\r\n";

static const char msg4[] =
	"From: Eve <eve@example.com>\r\n"
	"To: alice@example.com\r\n"
	"Subject: \xc3\x9c" "BER alles\r\n"
	"Date: Fri, 01 Mar 2024 23:59:59 +0000\r\n"
	"\r\n"
	"Short body, hello.\r\n";

static const char msg5[] =
	"From: alice@example.com\r\n"
	"Subject: Hello gone before\r\n"
	"\r\n"
	"quick\r\n";

static const char msg6[] =
	"From: alice@example.com\r\n"
	"Subject: Hello gone after\r\n"
	"\r\n"
	"quick\r\n";

static const char msg7[] =
	"From: alice@example.com\r\n"
	"To: alice@example.com\r\n"
	"Subject: Re: Hello world\r\n"
	"Date: Sat, 02 Mar 2024 08:00:00 +0100\r\n"
	"\r\n"
	"Quick reply.\r\n";

static char *data_dir;
static struct store *st;
static struct arena *arena;
static struct imap_view view;
static uint32_t *saved;
static size_t saved_count;
static bool condstore_used;
static bool no_saved;           /* run without SEARCHRES storage (ctx->saved NULL) */
static uint64_t modseq_of[8];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int64_t
utc(int y, int mon, int d, int h, int min, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = min;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

static int
deliver(const char *text, size_t len, int64_t internal_date)
{
	const char *users[] = { USER };
	struct store_spool sp;
	enum store_error err;
	const char *error;
	int r;

	if (store_spool_create(data_dir, &sp, &error) == -1)
		return -1;
	if (store_spool_write(&sp, text, len, &err) == -1 || store_spool_commit(&sp, &err) == -1) {
		store_spool_discard(&sp);
		return -1;
	}
	r = store_deliver(data_dir, &sp, users, 1, internal_date, &err, &error);
	if (r == -1)
		printf("# deliver: %s\n", error);
	store_spool_discard(&sp);
	return r;
}

static int
set_flags(uint32_t uid, uint32_t flags, const char *keywords)
{
	struct store_flags_change ch = { STORE_FLAGS_ADD, flags, keywords, 0 };
	struct store_imap_msg *changed = NULL;
	uint32_t *failed = NULL;
	size_t n_changed = 0, n_failed = 0;
	const char *error;
	int r;

	r = store_imap_flags(st, "INBOX", &uid, 1, &ch, &changed, &n_changed, &failed, &n_failed, &error);
	if (r != STORE_OK)
		printf("# flags: %s\n", error);
	store_imap_msgs_free(changed, n_changed);
	free(failed);
	return r == STORE_OK ? 0 : -1;
}

static bool
setup(void)
{
	char tmpl[] = "/tmp/tern-search-XXXXXX";
	struct buf big = BUF_INIT;
	struct store_msg *msgs = NULL;
	size_t n = 0, i;
	uint32_t uid;
	const char *error;
	bool ok = false;

	if (mkdtemp(tmpl) == NULL)
		return false;
	data_dir = strdup(tmpl);
	if (store_open(data_dir, USER, &st, &error) == -1) {
		printf("# store_open: %s\n", error);
		return false;
	}
	buf_puts(&big, msg3_head);
	for (i = 0; i < 30; i++)
		buf_puts(&big, "Lorem ipsum dolor sit amet, consectetur adipisci.\r\n");  /* 51 octets */
	if (deliver(msg1, strlen(msg1), utc(2024, 1, 2, 12, 0, 0)) == -1 ||
	    deliver(msg2, strlen(msg2), utc(2024, 2, 16, 8, 0, 0)) == -1 ||
	    deliver(big.data, big.len, utc(2024, 3, 1, 0, 0, 0)) == -1 ||
	    deliver(msg4, strlen(msg4), utc(2024, 3, 1, 23, 59, 59)) == -1 ||
	    deliver(msg5, strlen(msg5), utc(2024, 3, 2, 0, 0, 0)) == -1 ||
	    deliver(msg6, strlen(msg6), utc(2024, 3, 2, 1, 0, 0)) == -1 ||
	    deliver(msg7, strlen(msg7), utc(2024, 3, 2, 9, 0, 0)) == -1)
		goto out;
	uid = 5;
	if (store_expunge(st, "INBOX", &uid, 1, &error) == -1)
		goto out;
	if (set_flags(1, STORE_FLAG_SEEN, "") == -1 || set_flags(3, STORE_FLAG_DELETED, "") == -1 ||
	    set_flags(4, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT, "") == -1 ||
	    set_flags(2, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, "$Forwarded Work") == -1)
		goto out;
	if (store_list(st, "INBOX", NULL, &msgs, &n, &error) == -1)
		goto out;
	view.mailbox = strdup("INBOX");
	view.uids = calloc(n + 1, sizeof(*view.uids));
	for (i = 0; i < n; i++) {
		view.uids[view.count++] = msgs[i].uid;
		if (msgs[i].uid < 8)
			modseq_of[msgs[i].uid] = msgs[i].modseq;
	}
	view.cap = n;
	uid = 6;
	if (store_expunge(st, "INBOX", &uid, 1, &error) == -1)
		goto out;
	arena = arena_new(4096, false);
	ok = view.count == 6 && view.uids[4] == 6 && view.uids[5] == 7;
out:
	free(msgs);
	buf_free(&big);
	return ok;
}

static void
teardown(void)
{
	store_close(&st);
	nftw(data_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(data_dir);
	free(view.mailbox);
	free(view.uids);
	free(saved);
	arena_free(&arena);
}

struct outcome {
	struct buf out;
	struct imap_result res;
	bool parsed;
};

/* Runs the command in (len octets, "a1 SEARCH ...\r\n" or "a1 UID
 * SEARCH ...\r\n") as a session in state rev2 with view v would. */
static void
search_bytes(const char *data, size_t len, bool rev2, const struct imap_view *v, struct outcome *o)
{
	struct imap_parse_limits lim = { 0, 1 << 20, 0, false };
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_error err;
	struct imap_ctx ctx;
	const struct imap_arg *args;
	size_t used = 0;

	buf_init(&o->out);
	memset(&o->res, 0, sizeof(o->res));
	arena_reset(arena);
	p = imap_parser_new(arena, &lim);
	o->parsed = imap_parser_feed(p, data, len, &used, &cmd, &err) == 1 && used == len;
	imap_parser_free(&p);
	if (!o->parsed)
		return;
	memset(&ctx, 0, sizeof(ctx));
	ctx.st = st;
	ctx.arena = arena;
	ctx.user = USER;
	ctx.view = v;
	ctx.imap4rev2 = rev2;
	ctx.tag = cmd.tag;
	if (!no_saved) {
		ctx.saved = &saved;
		ctx.saved_count = &saved_count;
	}
	args = cmd.args;
	if (strcasecmp(cmd.name, "UID") == 0) {
		ctx.uid = true;
		args = args->next;
	}
	imap_search_run(&ctx, args, &o->out, &o->res);
	condstore_used = ctx.condstore_used;
}

/* Runs "a1 <line>" (line is "SEARCH ..." or "UID SEARCH ..."). */
static void
search_full(const char *line, bool rev2, const struct imap_view *v, struct outcome *o)
{
	struct buf in = BUF_INIT;

	buf_printf(&in, "a1 %s\r\n", line);
	search_bytes(in.data, in.len, rev2, v, o);
	buf_free(&in);
}

/* Expects OK and exactly the untagged output expect. */
static void
check(const char *line, bool rev2, const char *expect)
{
	struct outcome o;

	search_full(line, rev2, &view, &o);
	test_assert(o.parsed);
	if (o.res.status != IMAP_OK)
		printf("# %s: %d [%s] %s\n", line, (int)o.res.status, o.res.code, o.res.text);
	test_assert_inteq(o.res.status, IMAP_OK);
	test_assert_streq(o.out.data != NULL ? o.out.data : "", expect);
	buf_free(&o.out);
}

#define OK(line, expect) check(line, false, expect)

static void
check_fail(const char *line, enum imap_status status, const char *code)
{
	struct outcome o;

	search_full(line, false, &view, &o);
	test_assert(o.parsed);
	test_assert_inteq(o.res.status, status);
	test_assert_streq(o.res.code, code);
	test_assert(o.res.text[0] != '\0');
	test_assert(o.out.len == 0);
	buf_free(&o.out);
}

static void
test_flags_sizes_dates(void)
{
	test_begin("imap_search: ALL, flags, keywords, sizes, dates");
	OK("SEARCH ALL", "* SEARCH 1 2 3 4 6\r\n");
	OK("UID SEARCH ALL", "* SEARCH 1 2 3 4 7\r\n");
	OK("SEARCH SEEN", "* SEARCH 1 2\r\n");
	OK("SEARCH UNSEEN", "* SEARCH 3 4 6\r\n");
	OK("SEARCH FLAGGED", "* SEARCH 2\r\n");
	OK("SEARCH UNFLAGGED", "* SEARCH 1 3 4 6\r\n");
	OK("SEARCH DELETED", "* SEARCH 3\r\n");
	OK("SEARCH undeleted", "* SEARCH 1 2 4 6\r\n");
	OK("SEARCH ANSWERED", "* SEARCH 4\r\n");
	OK("SEARCH UNANSWERED", "* SEARCH 1 2 3 6\r\n");
	OK("SEARCH DRAFT", "* SEARCH 4\r\n");
	OK("SEARCH UNDRAFT", "* SEARCH 1 2 3 6\r\n");
	OK("SEARCH KEYWORD Work", "* SEARCH 2\r\n");
	OK("SEARCH KEYWORD work", "* SEARCH 2\r\n");
	OK("SEARCH KEYWORD $Forwarded", "* SEARCH 2\r\n");
	OK("SEARCH UNKEYWORD $Forwarded", "* SEARCH 1 3 4 6\r\n");
	OK("SEARCH KEYWORD Wor", "* SEARCH\r\n");
	OK("SEARCH NEW", "* SEARCH\r\n");
	OK("SEARCH RECENT", "* SEARCH\r\n");
	OK("SEARCH OLD", "* SEARCH 1 2 3 4 6\r\n");
	OK("SEARCH LARGER 1000", "* SEARCH 3\r\n");
	OK("SEARCH SMALLER 1000", "* SEARCH 1 2 4 6\r\n");
	OK("SEARCH LARGER 99999999999", "* SEARCH\r\n");
	OK("SEARCH BEFORE 16-Feb-2024", "* SEARCH 1\r\n");
	OK("SEARCH ON 16-feb-2024", "* SEARCH 2\r\n");
	OK("SEARCH ON 01-MAR-2024", "* SEARCH 3 4\r\n");
	OK("SEARCH ON 1-Mar-2024", "* SEARCH 3 4\r\n");
	OK("SEARCH SINCE 1-Mar-2024", "* SEARCH 3 4 6\r\n");
	OK("SEARCH BEFORE \"1-Mar-2024\"", "* SEARCH 1 2\r\n");
	OK("SEARCH SINCE 2-Mar-2024", "* SEARCH 6\r\n");
	OK("SEARCH SINCE 29-Feb-2024 BEFORE 2-Mar-2024", "* SEARCH 3 4\r\n");
	test_end();

	test_begin("imap_search: SENTBEFORE, SENTON, SENTSINCE (the Date header's date as written)");
	OK("SEARCH SENTON 1-Jan-2024", "* SEARCH 1\r\n");
	/* RFC 3501 6.4.4 "disregarding time and timezone": 15 Feb 2024
	 * 23:30 -0500 is on 15-Feb, though it is 16 Feb 04:30 in UTC */
	OK("SEARCH SENTON 15-Feb-2024", "* SEARCH 2\r\n");
	OK("SEARCH SENTON 16-Feb-2024", "* SEARCH\r\n");
	OK("SEARCH SENTBEFORE 16-Feb-2024", "* SEARCH 1 2\r\n");
	OK("SEARCH SENTBEFORE 15-Feb-2024", "* SEARCH 1\r\n");
	OK("SEARCH SENTSINCE 16-Feb-2024", "* SEARCH 3 4 6\r\n");
	/* message 3 has no Date: its internal date (01-Mar) stands in */
	OK("SEARCH SENTSINCE 1-Mar-2024", "* SEARCH 3 4 6\r\n");
	OK("SEARCH SENTON 1-Mar-2024", "* SEARCH 3 4\r\n");
	/* 02 Mar 2024 08:00 +0100 is 07:00 UTC */
	OK("SEARCH SENTON 2-Mar-2024", "* SEARCH 6\r\n");
	test_end();
}

static void
test_headers(void)
{
	test_begin("imap_search: FROM TO CC BCC SUBJECT HEADER (decoded, any case)");
	OK("SEARCH FROM alice", "* SEARCH 1 6\r\n");
	OK("SEARCH FROM \"J\xc3\xb6rg\"", "* SEARCH 2\r\n");
	OK("SEARCH CHARSET UTF-8 FROM \"J\xc3\x96RG\"", "* SEARCH 2\r\n");
	OK("SEARCH CHARSET utf-8 FROM {5+}\r\nj\xc3\xb6rg", "* SEARCH 2\r\n");
	OK("SEARCH FROM joerg@EXAMPLE.de", "* SEARCH 2\r\n");
	OK("SEARCH TO alice", "* SEARCH 2 3 4 6\r\n");
	OK("SEARCH TO BOB@EXAMPLE.ORG", "* SEARCH 1\r\n");
	OK("SEARCH CC carol", "* SEARCH 2\r\n");
	OK("SEARCH BCC dave", "* SEARCH 3\r\n");
	OK("SEARCH SUBJECT \"long subject\"", "* SEARCH 3\r\n");
	OK("SEARCH SUBJECT \"gr\xc3\xbc\xc3\x9f\"", "* SEARCH 2\r\n");
	OK("SEARCH SUBJECT \"\xc3\xbc" "ber\"", "* SEARCH 4\r\n");
	OK("SEARCH SUBJECT hello", "* SEARCH 1 6\r\n");
	OK("UID SEARCH SUBJECT hello", "* SEARCH 1 7\r\n");
	OK("SEARCH SUBJECT fox", "* SEARCH\r\n");
	OK("SEARCH HEADER X-Custom \"\"", "* SEARCH 3\r\n");
	OK("SEARCH HEADER x-custom YES", "* SEARCH 3\r\n");
	OK("SEARCH HEADER X-Missing \"\"", "* SEARCH\r\n");
	OK("SEARCH HEADER Message-ID \"<1@\"", "* SEARCH 1\r\n");
	OK("SEARCH HEADER Subject \"\"", "* SEARCH 1 2 3 4 6\r\n");
	OK("SEARCH CC \"\"", "* SEARCH 2\r\n");
	test_end();
}

static void
test_fts(void)
{
	test_begin("imap_search: BODY and TEXT through the full-text index");
	OK("SEARCH BODY \"quick brown\"", "* SEARCH 1\r\n");
	OK("SEARCH BODY QUICK", "* SEARCH 1 6\r\n");
	OK("SEARCH BODY \"gr\xc3\xbc\xc3\x9f" "e aus\"", "* SEARCH 2\r\n");
	OK("SEARCH TEXT joerg", "* SEARCH 2\r\n");
	OK("SEARCH BODY joerg", "* SEARCH\r\n");
	OK("SEARCH TEXT \"\"", "* SEARCH 1 2 3 4 6\r\n");
	OK("SEARCH BODY quick SEEN", "* SEARCH 1\r\n");
	OK("SEARCH OR BODY fox TEXT carol", "* SEARCH 1 2\r\n");
	test_end();
}

static void
test_logic_and_sets(void)
{
	test_begin("imap_search: OR, NOT, groups, implicit AND");
	OK("SEARCH OR SEEN DELETED", "* SEARCH 1 2 3\r\n");
	OK("SEARCH NOT SEEN", "* SEARCH 3 4 6\r\n");
	OK("SEARCH NOT (SEEN FLAGGED)", "* SEARCH 1 3 4 6\r\n");
	OK("SEARCH (SEEN) (FLAGGED)", "* SEARCH 2\r\n");
	OK("SEARCH OR (FROM alice SEEN) DRAFT", "* SEARCH 1 4\r\n");
	OK("SEARCH NOT NOT SEEN", "* SEARCH 1 2\r\n");
	OK("SEARCH OR OR SEEN DRAFT DELETED", "* SEARCH 1 2 3 4\r\n");
	OK("SEARCH ((SEEN (FLAGGED)))", "* SEARCH 2\r\n");
	test_end();

	test_begin("imap_search: sequence sets and UID sets");
	OK("SEARCH 2:4", "* SEARCH 2 3 4\r\n");
	OK("SEARCH 4:2", "* SEARCH 2 3 4\r\n");
	OK("SEARCH *", "* SEARCH 6\r\n");
	OK("SEARCH 5:*", "* SEARCH 6\r\n");
	OK("SEARCH 5", "* SEARCH\r\n");
	OK("SEARCH 1,3 SEEN", "* SEARCH 1\r\n");
	OK("SEARCH 100", "* SEARCH\r\n");
	OK("UID SEARCH 5:6", "* SEARCH 7\r\n");
	OK("SEARCH UID 4:*", "* SEARCH 4 6\r\n");
	OK("UID SEARCH UID 4:*", "* SEARCH 4 7\r\n");
	OK("UID SEARCH UID 100:*", "* SEARCH 7\r\n");
	OK("UID SEARCH UID 5", "* SEARCH\r\n");
	OK("UID SEARCH UID 2,4,1:1", "* SEARCH 1 2 4\r\n");
	OK("SEARCH NOT UID 1:3", "* SEARCH 4 6\r\n");
	OK("SEARCH OR 1 UID 7", "* SEARCH 1 6\r\n");
	test_end();
}

static void
test_esearch(void)
{
	test_begin("imap_search: ESEARCH return options (RFC 4731)");
	OK("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN",
	   "* ESEARCH (TAG \"a1\") MIN 3 MAX 6 COUNT 3 ALL 3:4,6\r\n");
	OK("UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN",
	   "* ESEARCH (TAG \"a1\") UID MIN 3 MAX 7 COUNT 3 ALL 3:4,7\r\n");
	OK("SEARCH RETURN () SEEN", "* ESEARCH (TAG \"a1\") ALL 1:2\r\n");
	OK("SEARCH RETURN (count) KEYWORD nope", "* ESEARCH (TAG \"a1\") COUNT 0\r\n");
	OK("SEARCH RETURN (MIN MAX) KEYWORD nope", "* ESEARCH (TAG \"a1\")\r\n");
	OK("SEARCH RETURN (ALL) KEYWORD nope", "* ESEARCH (TAG \"a1\")\r\n");
	OK("UID SEARCH RETURN (ALL) SMALLER 1000", "* ESEARCH (TAG \"a1\") UID ALL 1:2,4,7\r\n");
	OK("SEARCH RETURN (ALL) SMALLER 1000", "* ESEARCH (TAG \"a1\") ALL 1:2,4,6\r\n");
	OK("UID SEARCH RETURN (ALL) ALL", "* ESEARCH (TAG \"a1\") UID ALL 1:4,7\r\n");
	OK("SEARCH RETURN (MAX) SEEN", "* ESEARCH (TAG \"a1\") MAX 2\r\n");
	test_end();

	test_begin("imap_search: ESEARCH UID sets hold exactly the matching UIDs");
	{
		/* A view without UID 6 (told expunged): sequence numbers 4
		 * and 5 are UIDs 4 and 7, neighbours in the view but not as
		 * UIDs.  RFC 9051 9: "4:7" would also claim UIDs 5 and 6. */
		uint32_t uids[] = { 1, 2, 3, 4, 7 };
		struct imap_view v = view;
		struct outcome o;

		v.uids = uids;
		v.count = 5;
		search_full("UID SEARCH RETURN (ALL) ALL", false, &v, &o);
		test_assert_inteq(o.res.status, IMAP_OK);
		test_assert_streq(o.out.data, "* ESEARCH (TAG \"a1\") UID ALL 1:4,7\r\n");
		buf_free(&o.out);
		search_full("UID SEARCH RETURN (ALL) NOT 1:3", false, &v, &o);
		test_assert_streq(o.out.data, "* ESEARCH (TAG \"a1\") UID ALL 4,7\r\n");
		buf_free(&o.out);
		/* sequence numbers stay runs of sequence numbers */
		search_full("SEARCH RETURN (ALL) NOT 1:3", false, &v, &o);
		test_assert_streq(o.out.data, "* ESEARCH (TAG \"a1\") ALL 4:5\r\n");
		buf_free(&o.out);
		search_full("UID SEARCH NOT 1:3", true, &v, &o);
		test_assert_streq(o.out.data, "* ESEARCH (TAG \"a1\") UID ALL 4,7\r\n");
		buf_free(&o.out);
	}
	test_end();

	test_begin("imap_search: IMAP4rev2 always answers ESEARCH");
	check("SEARCH SEEN", true, "* ESEARCH (TAG \"a1\") ALL 1:2\r\n");
	check("UID SEARCH UNSEEN", true, "* ESEARCH (TAG \"a1\") UID ALL 3:4,7\r\n");
	check("SEARCH KEYWORD nope", true, "* ESEARCH (TAG \"a1\")\r\n");
	test_end();
}

static void
test_modseq(void)
{
	char line[128], expect[256];
	uint64_t max = 0;
	int i;

	for (i = 1; i < 8; i++)
		if (i != 5 && i != 6 && modseq_of[i] > max)
			max = modseq_of[i];
	test_begin("imap_search: MODSEQ key and (MODSEQ n) result (RFC 7162 3.1.5)");
	/* UID 2 had its flags changed last */
	test_assert(modseq_of[2] == max && max > 0);
	condstore_used = false;
	snprintf(expect, sizeof(expect), "* SEARCH 1 2 3 4 6 (MODSEQ %" PRIu64 ")\r\n", max);
	OK("SEARCH MODSEQ 0", expect);
	test_assert(condstore_used);
	snprintf(line, sizeof(line), "SEARCH MODSEQ %" PRIu64, modseq_of[2]);
	snprintf(expect, sizeof(expect), "* SEARCH 2 (MODSEQ %" PRIu64 ")\r\n", modseq_of[2]);
	OK(line, expect);
	snprintf(line, sizeof(line), "UID SEARCH MODSEQ \"/flags/\\\\Seen\" all %" PRIu64, modseq_of[2]);
	OK(line, expect);
	snprintf(line, sizeof(line), "SEARCH MODSEQ %" PRIu64, max + 1);
	OK(line, "* SEARCH\r\n");
	snprintf(expect, sizeof(expect), "* ESEARCH (TAG \"a1\") ALL 1:4,6 MODSEQ %" PRIu64 "\r\n", max);
	check("SEARCH MODSEQ 1", true, expect);
	/* MIN alone: the MODSEQ of the message returned (RFC 4731 3.2) */
	snprintf(expect, sizeof(expect), "* ESEARCH (TAG \"a1\") MIN 1 MODSEQ %" PRIu64 "\r\n", modseq_of[1]);
	OK("SEARCH RETURN (MIN) MODSEQ 1", expect);
	snprintf(expect, sizeof(expect), "* ESEARCH (TAG \"a1\") COUNT 5 MODSEQ %" PRIu64 "\r\n", max);
	OK("SEARCH RETURN (COUNT) MODSEQ 1", expect);
	condstore_used = false;
	OK("SEARCH SEEN", "* SEARCH 1 2\r\n");
	test_assert(!condstore_used);
	test_end();
}

static void
test_save(void)
{
	struct outcome o;

	test_begin("imap_search: SAVE and \"$\" (RFC 5182)");
	free(saved);
	saved = NULL;
	saved_count = 0;
	OK("SEARCH $", "* SEARCH\r\n");
	OK("SEARCH RETURN (SAVE) SEEN", "");
	test_assert(saved_count == 2 && saved[0] == 1 && saved[1] == 2);
	OK("SEARCH $", "* SEARCH 1 2\r\n");
	OK("UID SEARCH UID $", "* SEARCH 1 2\r\n");
	OK("SEARCH NOT $", "* SEARCH 3 4 6\r\n");
	OK("UID SEARCH RETURN (SAVE MAX) UNSEEN", "* ESEARCH (TAG \"a1\") UID MAX 7\r\n");
	test_assert(saved_count == 1 && saved[0] == 7);
	OK("SEARCH $", "* SEARCH 6\r\n");
	/* "$" in a SEARCH SAVE is the previous result */
	OK("SEARCH RETURN (SAVE COUNT) OR $ SEEN", "* ESEARCH (TAG \"a1\") COUNT 3\r\n");
	test_assert(saved_count == 3 && saved[0] == 1 && saved[1] == 2 && saved[2] == 7);
	OK("SEARCH RETURN (SAVE MIN MAX) ALL", "* ESEARCH (TAG \"a1\") MIN 1 MAX 6\r\n");
	test_assert(saved_count == 2 && saved[0] == 1 && saved[1] == 7);
	check("SEARCH RETURN (SAVE) SEEN", true, "");
	test_assert(saved_count == 2 && saved[0] == 1 && saved[1] == 2);
	/* a failed SEARCH SAVE empties "$" */
	check_fail("SEARCH RETURN (SAVE) CHARSET KOI8-R ALL", IMAP_NO, "BADCHARSET (UTF-8 US-ASCII)");
	test_assert(saved_count == 0 && saved == NULL);
	OK("SEARCH $", "* SEARCH\r\n");
	OK("SEARCH RETURN (SAVE) DRAFT", "");
	check_fail("SEARCH RETURN (SAVE) BOGUS", IMAP_BAD, "");
	test_assert(saved_count == 0);
	/* a failed SEARCH without SAVE leaves it alone */
	OK("SEARCH RETURN (SAVE) DRAFT", "");
	check_fail("SEARCH BOGUS", IMAP_BAD, "");
	test_assert(saved_count == 1 && saved[0] == 4);
	/* no SEARCHRES storage at all (ctx->saved NULL): nothing breaks */
	no_saved = true;
	search_full("SEARCH RETURN (SAVE) SEEN", false, &view, &o);
	test_assert_inteq(o.res.status, IMAP_OK);
	test_assert(o.out.len == 0);
	buf_free(&o.out);
	search_full("SEARCH $", false, &view, &o);
	test_assert_streq(o.out.data, "* SEARCH\r\n");
	buf_free(&o.out);
	no_saved = false;
	test_assert(saved_count == 1 && saved[0] == 4);
	test_end();
}

static void
test_errors(void)
{
	struct buf line = BUF_INIT;
	struct outcome o;
	int i;

	test_begin("imap_search: syntax errors are BAD, charsets NO [BADCHARSET]");
	check_fail("SEARCH", IMAP_BAD, "");
	check_fail("SEARCH FOO", IMAP_BAD, "");
	check_fail("SEARCH \"ALL\"", IMAP_BAD, "");
	check_fail("SEARCH BEFORE 30-Feb-2024", IMAP_BAD, "");
	check_fail("SEARCH BEFORE 29-Feb-2023", IMAP_BAD, "");
	check_fail("SEARCH BEFORE 1-Jan-24", IMAP_BAD, "");
	check_fail("SEARCH BEFORE 1-Foo-2024", IMAP_BAD, "");
	check_fail("SEARCH BEFORE 001-Jan-2024", IMAP_BAD, "");
	check_fail("SEARCH BEFORE", IMAP_BAD, "");
	check_fail("SEARCH RETURN (FOO) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (ALL)", IMAP_BAD, "");
	/* RFC 9394 4 / RFC 5267 4.4: PARTIAL takes one range of nz-numbers
	 * of one sign, no "*"; one PARTIAL or one ALL */
	check_fail("SEARCH RETURN (PARTIAL) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL 0:1) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL 1:*) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL -1:2) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL 1:2:3) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL 1:4294967296) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL 1:2 ALL) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (PARTIAL 1:2 PARTIAL 1:2) ALL", IMAP_BAD, "");
	check_fail("SEARCH RETURN (UPDATE UPDATE) ALL", IMAP_BAD, "");
	check_fail("SEARCH OLDER 0", IMAP_BAD, "");
	check_fail("SEARCH YOUNGER", IMAP_BAD, "");
	check_fail("SEARCH SAVEDON 32-Jan-2020", IMAP_BAD, "");
	/* the matches are 1:4,6 (message 5 is gone from the store) */
	check("SEARCH RETURN (PARTIAL 4:2) ALL", false, "* ESEARCH (TAG \"a1\") PARTIAL (2:4 2:4)\r\n");
	check("SEARCH RETURN (PARTIAL -1:-2) ALL", false, "* ESEARCH (TAG \"a1\") PARTIAL (-1:-2 4,6)\r\n");
	check("SEARCH RETURN (PARTIAL 6:4294967295) ALL", false, "* ESEARCH (TAG \"a1\") PARTIAL (6:4294967295 NIL)\r\n");
	check("SEARCH RETURN (PARTIAL -4294967295:-6) ALL", false,
	      "* ESEARCH (TAG \"a1\") PARTIAL (-6:-4294967295 NIL)\r\n");
	check("SEARCH RETURN (CONTEXT) ALL", false, "* ESEARCH (TAG \"a1\") ALL 1:4,6\r\n");
	check_fail("SEARCH OR ALL", IMAP_BAD, "");
	check_fail("SEARCH ()", IMAP_BAD, "");
	check_fail("SEARCH NOT", IMAP_BAD, "");
	check_fail("SEARCH LARGER x", IMAP_BAD, "");
	check_fail("SEARCH LARGER -1", IMAP_BAD, "");
	check_fail("SEARCH UID x", IMAP_BAD, "");
	check_fail("SEARCH 0", IMAP_BAD, "");
	check_fail("SEARCH 1:", IMAP_BAD, "");
	check_fail("SEARCH CHARSET", IMAP_BAD, "");
	check_fail("SEARCH CHARSET UTF-8", IMAP_BAD, "");
	check_fail("SEARCH KEYWORD", IMAP_BAD, "");
	check_fail("SEARCH KEYWORD \"Work\"", IMAP_BAD, "");
	check_fail("SEARCH HEADER Subject", IMAP_BAD, "");
	check_fail("SEARCH SUBJECT (x)", IMAP_BAD, "");
	{
		static const char nul[] = "a1 SEARCH SUBJECT {3+}\r\na\0b\r\n";

		search_bytes(nul, sizeof(nul) - 1, false, &view, &o);
		test_assert(o.parsed);
		test_assert_inteq(o.res.status, IMAP_BAD);
		buf_free(&o.out);
	}
	check_fail("SEARCH SUBJECT ~{1+}\r\na", IMAP_BAD, "");
	check_fail("SEARCH BODY[TEXT] x", IMAP_BAD, "");
	check_fail("SEARCH MODSEQ", IMAP_BAD, "");
	check_fail("SEARCH MODSEQ \"/flags/\\\\Seen\" bogus 1", IMAP_BAD, "");
	check_fail("SEARCH MODSEQ \"/other\" all 1", IMAP_BAD, "");
	check_fail("SEARCH MODSEQ \"/flags/\\\\Seen\" all", IMAP_BAD, "");
	check_fail("SEARCH CHARSET ISO-8859-1 ALL", IMAP_NO, "BADCHARSET (UTF-8 US-ASCII)");
	OK("SEARCH CHARSET us-ascii SEEN", "* SEARCH 1 2\r\n");
	check("SEARCH CHARSET UTF-8 SEEN", true, "* ESEARCH (TAG \"a1\") ALL 1:2\r\n");
	search_full("SEARCH ALL", false, NULL, &o);
	test_assert_inteq(o.res.status, IMAP_BAD);
	buf_free(&o.out);
	test_end();

	test_begin("imap_search: IMAP_SEARCH_KEYS_MAX gives NO [LIMIT]");
	buf_puts(&line, "SEARCH");
	for (i = 0; i < IMAP_SEARCH_KEYS_MAX; i++)
		buf_puts(&line, " ALL");
	OK(line.data, "* SEARCH 1 2 3 4 6\r\n");
	buf_puts(&line, " ALL");
	check_fail(line.data, IMAP_NO, "LIMIT");
	buf_reset(&line);
	buf_puts(&line, "SEARCH");
	for (i = 0; i < IMAP_SEARCH_KEYS_MAX - 1; i++)
		buf_puts(&line, " NOT");
	buf_puts(&line, " SEEN");
	OK(line.data, "* SEARCH 3 4 6\r\n");  /* 999 NOTs */
	buf_reset(&line);
	buf_puts(&line, "SEARCH");
	for (i = 0; i < IMAP_SEARCH_KEYS_MAX / 2; i++)
		buf_puts(&line, " OR SEEN");
	buf_puts(&line, " DRAFT");
	check_fail(line.data, IMAP_NO, "LIMIT");  /* 1001 keys */
	buf_free(&line);
	test_end();
}

/* FROM/TO/CC/BCC search the addresses as the ENVELOPE has them (RFC 3501
 * 6.4.4), besides the field's text. */
static bool
addr_match(const char *hdr, const char *field, const char *needle)
{
	struct arena *a = arena_new(4096, false);
	struct imap_search_header *h = imap_search_header_split(hdr, strlen(hdr), a);
	size_t nlen;
	const char *n = imap_search_fold(needle, strlen(needle), a, &nlen);
	bool r = imap_search_address_match(h, field, strlen(field), n, nlen, a);

	arena_free(&a);
	return r;
}

static void
test_address_match(void)
{
	test_begin("imap_search: addresses as the ENVELOPE has them");
	/* comments inside the addr-spec are not part of the address */
	test_assert(addr_match("From: <user-from (comment)@ (comment) domain.org>\r\n\r\n", "From",
	                       "user-from@domain.org"));
	test_assert(addr_match("From: <user-from (comment)@ (comment) domain.org>\r\n\r\n", "from", "ser-fro"));
	test_assert(!addr_match("From: <user-from (comment)@ (comment) domain.org>\r\n\r\n", "From", "comment"));
	/* quoted local part and display name, folded, encoded */
	test_assert(addr_match("To: \"a b\"@example.com\r\n\r\n", "To", "a b@example.com"));
	test_assert(addr_match("Cc: \"Smith,\r\n John\" <js@example.com>\r\n\r\n", "Cc", "smith, john <js@"));
	test_assert(addr_match("From: =?UTF-8?Q?J=C3=B6rg?= <j@example.de>\r\n\r\n", "From", "J\xc3\xb6rg <J@"));
	/* groups, several fields, another field's name */
	test_assert(addr_match("To: g: a@x.org, b@y.org;\r\n\r\n", "To", "b@y.org"));
	test_assert(addr_match("To: a@x.org\r\nTo: c@z.org\r\n\r\n", "To", "c@z.org"));
	test_assert(!addr_match("Cc: a@x.org\r\n\r\n", "To", "a@x.org"));
	test_end();
}

/* The view, not the store, says which messages the client knows. */
static void
test_view(void)
{
	static const char msg8[] =
		"From: alice@example.com\r\n"
		"Subject: Hello newcomer\r\n"
		"\r\n"
		"zebra\r\n";
	struct imap_view empty, gone;
	uint32_t one = 1;
	struct outcome o;

	test_begin("imap_search: a delivery not yet in the view never matches");
	test_assert(deliver(msg8, strlen(msg8), utc(2024, 3, 3, 0, 0, 0)) == 0);
	OK("SEARCH ALL", "* SEARCH 1 2 3 4 6\r\n");
	OK("UID SEARCH UID 8", "* SEARCH\r\n");
	OK("UID SEARCH UID *", "* SEARCH 7\r\n");
	OK("SEARCH SUBJECT newcomer", "* SEARCH\r\n");
	OK("SEARCH BODY zebra", "* SEARCH\r\n");
	test_end();

	test_begin("imap_search: empty view, deleted mailbox");
	memset(&empty, 0, sizeof(empty));
	empty.mailbox = "INBOX";
	search_full("SEARCH ALL", false, &empty, &o);
	test_assert_inteq(o.res.status, IMAP_OK);
	test_assert_streq(o.out.data, "* SEARCH\r\n");
	buf_free(&o.out);
	search_full("UID SEARCH RETURN (MIN MAX COUNT ALL) UID *", false, &empty, &o);
	test_assert_inteq(o.res.status, IMAP_OK);
	test_assert_streq(o.out.data, "* ESEARCH (TAG \"a1\") UID COUNT 0\r\n");
	buf_free(&o.out);
	memset(&gone, 0, sizeof(gone));
	gone.mailbox = "Gone";
	gone.uids = &one;
	gone.count = 1;
	search_full("SEARCH ALL", false, &gone, &o);
	test_assert_inteq(o.res.status, IMAP_NO);
	test_assert_streq(o.res.code, "NONEXISTENT");
	test_assert(o.out.len == 0);
	buf_free(&o.out);
	test_end();
}

/* Cheap keys decide before a header is read: with message 4's file
 * replaced by a symlink (the store refuses to open it), a header search
 * fails only when message 4 gets that far. */
static void
test_cheap_first(void)
{
	struct store_msg *msgs = NULL;
	char path[4096 + 128], dir[4096];
	size_t n = 0, i;
	const char *error;

	test_begin("imap_search: flags, sets and sizes decide before headers are read");
	test_assert(store_list(st, "INBOX", NULL, &msgs, &n, &error) == 0);
	test_assert(store_user_dir(data_dir, USER, dir, sizeof(dir)) == 0);
	for (i = 0; i < n; i++) {
		if (msgs[i].uid != 4)
			continue;
		snprintf(path, sizeof(path), "%s/msg/%s", dir, msgs[i].file);
		test_assert(unlink(path) == 0);
		test_assert(symlink("/dev/null", path) == 0);
	}
	free(msgs);
	check_fail("SEARCH SUBJECT hello", IMAP_NO, "UNAVAILABLE");
	OK("SEARCH SEEN SUBJECT hello", "* SEARCH 1\r\n");
	OK("SEARCH SUBJECT hello SEEN", "* SEARCH 1\r\n");
	OK("SEARCH OR DRAFT SUBJECT hello", "* SEARCH 1 4 6\r\n");
	OK("SEARCH NOT DRAFT SUBJECT hello", "* SEARCH 1 6\r\n");
	OK("SEARCH 1:3 SUBJECT hello", "* SEARCH 1\r\n");
	OK("SEARCH SUBJECT world SMALLER 100", "* SEARCH\r\n");
	test_end();
}

int
main(void)
{
	test_begin("imap_search: setup");
	test_assert(setup());
	test_end();
	if (test_done() != 0)
		return 1;
	test_flags_sizes_dates();
	test_headers();
	test_address_match();
	test_fts();
	test_logic_and_sets();
	test_esearch();
	test_modseq();
	test_save();
	test_errors();
	test_view();
	test_cheap_first();
	teardown();
	return test_done();
}
