/* The SORT/THREAD key cache (store_sort.c): filled at delivery, filled
 * lazily for messages without a row, carried by MOVE and COPY, gone with
 * EXPUNGE; keys made within their bounds.  Real SQLite files and message
 * files in a mkdtemp() directory. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "mime/mime.h"
#include "store/store.h"
#include "store/store_imap.h"
#include "store/store_private.h"
#include "store/store_sort.h"
#include "test.h"

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
deliver(const char *dd, const char *user, const char *text)
{
	struct store_spool sp;
	enum store_error err;
	const char *error;
	int r = -1;

	if (store_spool_create(dd, &sp, &error) == -1)
		return -1;
	if (store_spool_write(&sp, text, strlen(text), &err) == 0 && store_spool_commit(&sp, &err) == 0)
		r = store_deliver(dd, &sp, &user, 1, 1700000000, &err, &error);
	store_spool_discard(&sp);
	return r;
}

/* Runs sql on user's index; returns the first column of its first row
 * (0 for none, -1 on error). */
static int64_t
sql_int(const char *dd, const char *user, const char *sql)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	store_user_dir(dd, user, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/index.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(s);

		v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : rc == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

static const char msg1[] =
	"From: \"Ann Example\" <ann@example.org>, bob@example.org\r\n"
	"To: team: carol@example.org, dan@example.org;\r\n"
	"Cc: =?iso-8859-1?q?J=F6rg?= <jorg@example.org>\r\n"
	"Subject: Re: [list] Fwd: Lunch (fwd)\r\n"
	"Date: Fri, 22 Feb 2008 02:00:00 +0200\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"References: <r1@x> junk <r2@x>\r\n"
	"In-Reply-To: <ignored@x>\r\n"
	"\r\n"
	"body\r\n";
static const char msg2[] =
	"From: erin@example.org\r\n"
	"In-Reply-To: <m1@example.org> (comment) <m0@example.org>\r\n"
	"\r\n"
	"body\r\n";

static void
check_msg1(const struct store_sort_msg *m)
{
	test_assert_streq(m->k.subject, "LUNCH");  /* kept folded (i;ascii-casemap) */
	test_assert(m->k.reply);
	test_assert_streq(m->k.from, "ANN");
	test_assert_streq(m->k.display_from, "ANN EXAMPLE");
	test_assert_streq(m->k.to, "TEAM");            /* the group's name */
	test_assert_streq(m->k.display_to, "TEAM");
	test_assert_streq(m->k.cc, "JORG");
	test_assert_streq(m->k.message_id, "m1@example.org");  /* not folded */
	test_assert_streq(m->k.references, "r1@x r2@x");  /* In-Reply-To only without References */
	test_assert_inteq(m->k.sent_date, 1203638400);    /* 2008-02-22 00:00 UTC */
	test_assert_inteq(m->size, strlen(msg1));
	test_assert_inteq(m->internal_date, 1700000000);
}

static void
check_msg2(const struct store_sort_msg *m)
{
	test_assert_streq(m->k.subject, "");
	test_assert(!m->k.reply);
	test_assert_streq(m->k.from, "ERIN");
	test_assert_streq(m->k.display_from, "ERIN@EXAMPLE.ORG");
	test_assert_streq(m->k.to, "");
	test_assert_streq(m->k.message_id, "");
	test_assert_streq(m->k.references, "m1@example.org");
	test_assert_inteq(m->k.sent_date, 0);
}

static void
test_cache(void)
{
	char tmpl[] = "/tmp/tern-store-sort-XXXXXX", *dd = mkdtemp(tmpl);
	const char *user = "u@example.org", *error;
	uint32_t uids[] = { 1, 2, 3 }, *su = NULL, *du = NULL;
	struct store_sort_list l;
	struct store *st = NULL;
	size_t n;
	bool missing;
	uint32_t uidv;

	test_begin("store_sort: keys cached at delivery");
	test_assert(dd != NULL);
	test_assert(deliver(dd, user, msg1) == 0);
	test_assert(deliver(dd, user, msg2) == 0);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort"), 2);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_sort_get(st, "inbox", uids, 3, STORE_SORT_ALL, &l, &error), STORE_OK);
	test_assert_inteq(l.n, 2);  /* UID 3 does not exist */
	if (l.n == 2) {
		check_msg1(&l.msgs[0]);
		check_msg2(&l.msgs[1]);
	}
	store_sort_list_free(&l);
	test_end();

	test_begin("store_sort: rows missing (older index) are filled on demand");
	test_assert_inteq(sql_int(dd, user, "DELETE FROM msg_sort"), 0);
	test_assert_inteq(store_sort_get(st, "INBOX", uids + 1, 1, STORE_SORT_ALL, &l, &error), STORE_OK);
	test_assert_inteq(l.n, 1);
	if (l.n == 1)
		check_msg2(&l.msgs[0]);
	store_sort_list_free(&l);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort"), 1);
	test_assert_inteq(store_sort_get(st, "INBOX", uids, 2, STORE_SORT_ALL, &l, &error), STORE_OK);
	test_assert_inteq(l.n, 2);
	if (l.n == 2) {
		check_msg1(&l.msgs[0]);
		check_msg2(&l.msgs[1]);
	}
	store_sort_list_free(&l);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort"), 2);
	test_assert_inteq(store_sort_get(st, "Nope", uids, 2, STORE_SORT_ALL, &l, &error), STORE_IMAP_NONEXISTENT);
	test_end();

	test_begin("store_sort: COPY copies the row, MOVE carries it, EXPUNGE drops it");
	test_assert_inteq(store_mailbox_create(st, "Dst", NULL, &error), STORE_OK);
	test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", uids, 1, false, 0, 0, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_OK);
	free(su);
	free(du);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort"), 3);
	test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", uids, 1, true, 0, 0, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_OK);
	free(su);
	free(du);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort"), 3);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort s WHERE NOT EXISTS (SELECT 1 FROM"
	                                    " messages m WHERE s.id = ((m.mailbox_id << 32) | m.uid))"), 0);
	test_assert_inteq(store_sort_get(st, "Dst", uids, 2, STORE_SORT_ALL, &l, &error), STORE_OK);
	test_assert_inteq(l.n, 2);
	if (l.n == 2) {
		check_msg1(&l.msgs[0]);
		check_msg1(&l.msgs[1]);
	}
	store_sort_list_free(&l);
	/* for SORT: no Message-ID or References */
	test_assert_inteq(store_sort_get(st, "Dst", uids, 1, STORE_SORT_SUBJECT, &l, &error), STORE_OK);
	test_assert_inteq(l.n, 1);
	if (l.n == 1) {
		test_assert_streq(l.msgs[0].k.subject, "LUNCH");
		test_assert_streq(l.msgs[0].k.message_id, "");
		test_assert_streq(l.msgs[0].k.references, "");
		test_assert_streq(l.msgs[0].k.from, "");
		test_assert_inteq(l.msgs[0].k.sent_date, 1203638400);
	}
	store_sort_list_free(&l);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort WHERE message_id = ''"), 1);
	test_assert_inteq(store_imap_expunge(st, "INBOX", NULL, 0, NULL, NULL, &error), STORE_OK);
	{
		struct store_flags_change f = { STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0 };
		struct store_imap_msg *ch = NULL;
		uint32_t *failed = NULL;
		size_t nch = 0, nf = 0;

		test_assert_inteq(store_imap_flags(st, "INBOX", uids + 1, 1, &f, &ch, &nch, &failed, &nf, &error),
		                  STORE_OK);
		store_imap_msgs_free(ch, nch);
		free(failed);
	}
	test_assert_inteq(store_imap_expunge(st, "INBOX", NULL, 0, NULL, NULL, &error), STORE_OK);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_sort"), 2);
	test_end();

	store_close(&st);
	if (dd != NULL)
		nftw(dd, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_bounds(void)
{
	struct buf refs = BUF_INIT, subj = BUF_INIT;
	struct mime_envelope env;
	struct store_sort_keys k;
	char *strings;
	int i;

	test_begin("store_sort_keys_make: keys cut to their bounds, References keeps its last ids");
	for (i = 0; i < 1000; i++)
		buf_printf(&refs, "<id%d@example.org> ", i);
	buf_append(&refs, "", 1);
	for (i = 0; i < 200; i++)
		buf_puts(&subj, "\xc3\xa9");
	buf_append(&subj, "", 1);
	memset(&env, 0, sizeof(env));
	env.references = refs.data;
	env.subject = subj.data;
	store_sort_keys_make(&env, 5, &k, &strings);
	test_assert(strlen(k.references) <= STORE_SORT_REFS_MAX);
	test_assert(strncmp(k.references, "id", 2) == 0);
	test_assert(strstr(k.references, "id999@example.org") != NULL);
	test_assert(strstr(k.references, "id0@example.org") == NULL);
	test_assert_inteq(strlen(k.subject), STORE_SORT_KEY_MAX);  /* 128 two-octet characters */
	test_assert_inteq(k.sent_date, 5);
	test_assert_streq(k.from, "");
	free(strings);
	store_sort_keys_make(NULL, 0, &k, &strings);
	test_assert_streq(k.subject, "");
	test_assert_streq(k.references, "");
	free(strings);
	buf_free(&refs);
	buf_free(&subj);
	test_end();
}

int
main(void)
{
	test_cache();
	test_bounds();
	return test_done();
}
