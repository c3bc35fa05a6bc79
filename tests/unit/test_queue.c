/* Queue tests: real files in a mkdtemp() directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue.h"
#include "queue/queue_private.h"
#include "store/store.h"
#include "test.h"

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
tmpdir(void)
{
	char tmpl[] = "/tmp/tern-queue-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d != NULL ? strdup(d) : NULL;
}

static int
spool_with(const char *data_dir, const char *data, struct store_spool *sp)
{
	enum store_error err;
	const char *error;

	if (store_spool_create(data_dir, sp, &error) == -1)
		return -1;
	if (store_spool_write(sp, data, strlen(data), &err) == -1 || store_spool_commit(sp, &err) == -1) {
		store_spool_discard(sp);
		return -1;
	}
	return 0;
}

static int
enqueue_text(const char *dd, const char *text, const char *from, const char *const *rcpts, size_t n,
             char id[QUEUE_ID_MAX + 1])
{
	struct store_spool sp;
	enum store_error err;
	const char *error;
	int r;

	if (spool_with(dd, text, &sp) == -1)
		return -1;
	r = queue_enqueue(dd, &sp, from, rcpts, n, NULL, NULL, id, &err, &error);
	store_spool_discard(&sp);
	return r;
}

static size_t
count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

#define SEEN_MAX 8
struct seen {
	size_t n;
	char ids[SEEN_MAX][QUEUE_ID_MAX + 1];
	char from[SEEN_MAX][400];
	char rcpts[SEEN_MAX][800];
	uint64_t size[SEEN_MAX];
	int64_t queued[SEEN_MAX];
	size_t n_rcpts[SEEN_MAX];
};

static void
collect(const struct queue_entry *e, void *arg)
{
	struct seen *s = arg;
	size_t len = 0;

	if (s->n == SEEN_MAX)
		return;
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", e->id);
	snprintf(s->from[s->n], sizeof(s->from[0]), "%s", e->mail_from);
	s->rcpts[s->n][0] = '\0';
	for (size_t i = 0; i < e->n_rcpts && len < sizeof(s->rcpts[0]); i++)
		len += (size_t)snprintf(s->rcpts[s->n] + len, sizeof(s->rcpts[0]) - len, "%s%s", i ? "," : "",
		                        e->rcpts[i]);
	s->size[s->n] = e->size;
	s->queued[s->n] = e->queued_at;
	s->n_rcpts[s->n] = e->n_rcpts;
	s->n++;
}

static void
test_enqueue_list(void)
{
	const char *r1[] = { "x@remote.example", "y@remote.example" };
	const char *r2[] = { "z@other.example" };
	char *dd = tmpdir();
	char id1[QUEUE_ID_MAX + 1], id2[QUEUE_ID_MAX + 1], id3[QUEUE_ID_MAX + 1];
	char path[PATH_MAX];
	struct seen s = { 0 };
	const char *error;
	struct stat sb;

	test_begin("queue: enqueue then list, oldest first, fields intact");
	test_assert(enqueue_text(dd, "Subject: 1\r\n\r\na\r\n", "me@example.com", r1, 2, id1) == 0);
	test_assert(enqueue_text(dd, "Subject: 2\r\n\r\nbb\r\n", "", r2, 1, id2) == 0);
	test_assert(enqueue_text(dd, "Subject: 3\r\n\r\nccc\r\n", "me@example.com", r2, 1, id3) == 0);
	test_assert(strcmp(id1, id2) < 0 && strcmp(id2, id3) < 0);
	test_assert(queue_id_valid(id1, strlen(id1)));
	test_assert(queue_list(dd, collect, &s, &error) == 0);
	test_assert_inteq(s.n, 3);
	test_assert_streq(s.ids[0], id1);
	test_assert_streq(s.ids[1], id2);
	test_assert_streq(s.ids[2], id3);
	test_assert_streq(s.from[0], "me@example.com");
	test_assert_streq(s.from[1], "");
	test_assert_streq(s.rcpts[0], "x@remote.example,y@remote.example");
	test_assert_streq(s.rcpts[1], "z@other.example");
	test_assert_inteq(s.size[0], 17);
	test_assert_inteq(s.size[2], 19);
	test_assert(s.queued[0] > 1700000000 && s.queued[0] <= s.queued[2]);

	/* The message file is the spool file's inode (now its only link), and
	 * both files are private. */
	snprintf(path, sizeof(path), "%s/queue/%s.eml", dd, id1);
	test_assert(stat(path, &sb) == 0);
	test_assert_inteq(sb.st_nlink, 1);
	test_assert_inteq(sb.st_mode & 0777, 0600);
	test_assert_inteq(sb.st_size, 17);
	snprintf(path, sizeof(path), "%s/queue/%s.env", dd, id1);
	test_assert(stat(path, &sb) == 0);
	test_assert_inteq(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/queue", dd);
	test_assert(stat(path, &sb) == 0);
	test_assert_inteq(sb.st_mode & 0777, 0700);
	test_assert_inteq(count_dir(path), 6);
	rm_rf(dd);
	free(dd);
	test_end();

	test_begin("queue: an empty or missing queue lists nothing");
	dd = tmpdir();
	memset(&s, 0, sizeof(s));
	test_assert(queue_list(dd, collect, &s, &error) == 0);
	test_assert_inteq(s.n, 0);
	rm_rf(dd);
	free(dd);
	test_end();
}

static int
write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[PATH_MAX];
	int fd;
	ssize_t w;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1)
		return -1;
	w = write(fd, data, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static void
test_incomplete_entries(void)
{
	const char *r[] = { "x@remote.example" };
	const char good_env[] = "from a@b\nrcpt c@d\nqueued 1700000000\nsize 3\n";
	char *dd = tmpdir();
	char qdir[PATH_MAX], id[QUEUE_ID_MAX + 1];
	struct seen s = { 0 };
	const char *error;
	char *big;

	test_begin("queue: list ignores incomplete and damaged entries");
	test_assert(enqueue_text(dd, "Subject: ok\r\n\r\nx\r\n", "me@example.com", r, 1, id) == 0);
	snprintf(qdir, sizeof(qdir), "%s/queue", dd);
	/* An .eml whose enqueue died before its .env. */
	test_assert(write_file(qdir, "000000000001.000000000.00000001.eml", "abc", 3) == 0);
	/* A .env.tmp that never got renamed (with its .eml). */
	test_assert(write_file(qdir, "000000000002.000000000.00000002.eml", "abc", 3) == 0);
	test_assert(write_file(qdir, "000000000002.000000000.00000002.env.tmp", good_env,
	                       sizeof(good_env) - 1) == 0);
	/* An envelope without its message. */
	test_assert(write_file(qdir, "000000000003.000000000.00000003.env", good_env, sizeof(good_env) - 1) ==
	            0);
	/* Malformed envelopes, each with a message. */
	{
		static const char *const bad[] = {
			"from a@b\nqueued 1\nsize 3\n",                  /* no rcpt */
			"from a@b\nrcpt c@d\nqueued 1\nsize 3",          /* no final LF */
			"rcpt c@d\nqueued 1\nsize 3\n",                  /* no from */
			"from a@b\nrcpt c@d\nqueued x\nsize 3\n",        /* bad number */
			"from a@b\nrcpt c@d\nqueued 1\nsize 99999999999999999999999\n",
			"from a@b\nfrom e@f\nrcpt c@d\nqueued 1\nsize 3\n",
			"from a@b\nrcpt \nqueued 1\nsize 3\n",
			"",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char name[64];

			snprintf(name, sizeof(name), "0000000001%02zu.000000000.0000000a.eml", i);
			test_assert(write_file(qdir, name, "abc", 3) == 0);
			snprintf(name, sizeof(name), "0000000001%02zu.000000000.0000000a.env", i);
			test_assert(write_file(qdir, name, bad[i], strlen(bad[i])) == 0);
		}
	}
	/* An envelope past the size bound. */
	big = malloc(QUEUE_ENV_MAX + 100);
	memset(big, '\n', QUEUE_ENV_MAX + 100);
	memcpy(big, good_env, sizeof(good_env) - 1);
	test_assert(write_file(qdir, "000000000004.000000000.00000004.eml", "abc", 3) == 0);
	test_assert(write_file(qdir, "000000000004.000000000.00000004.env", big, QUEUE_ENV_MAX + 100) == 0);
	free(big);
	/* Names that are not queue ids at all. */
	test_assert(write_file(qdir, ".hidden.env", good_env, sizeof(good_env) - 1) == 0);
	test_assert(write_file(qdir, "README.env", good_env, sizeof(good_env) - 1) == 0);
	/* A well-formed hand-made entry, older than the real one, with an
	 * unknown line a later version might write. */
	test_assert(write_file(qdir, "000000000005.000000000.00000005.eml", "abc", 3) == 0);
	{
		static const char env5[] = "from a@b\nrcpt c@d\nattempts 3\nqueued 5\nsize 3\n";

		test_assert(write_file(qdir, "000000000005.000000000.00000005.env", env5, sizeof(env5) - 1) == 0);
	}

	test_assert(queue_list(dd, collect, &s, &error) == 0);
	test_assert_inteq(s.n, 2);
	test_assert_streq(s.ids[0], "000000000005.000000000.00000005");
	test_assert_inteq(s.queued[0], 5);
	test_assert_streq(s.rcpts[0], "c@d");
	test_assert_streq(s.ids[1], id);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_enqueue_refuses(void)
{
	const char *nl[] = { "x@remote.example\nrcpt evil@example" };
	const char *empty[] = { "" };
	const char *ok[] = { "x@remote.example" };
	char *dd = tmpdir();
	char id[QUEUE_ID_MAX + 1], qdir[PATH_MAX];
	struct store_spool sp, none = { .fd = -1 };
	enum store_error err;
	const char *error;
	const char **many;

	test_begin("queue: bad envelopes are refused and leave nothing behind");
	snprintf(qdir, sizeof(qdir), "%s/queue", dd);
	test_assert(spool_with(dd, "x\r\n", &sp) == 0);
	test_assert(queue_enqueue(dd, &sp, "a@b", nl, 1, NULL, NULL, id, &err, &error) == -1);
	test_assert(queue_enqueue(dd, &sp, "a@b\r", ok, 1, NULL, NULL, id, &err, &error) == -1);
	test_assert(queue_enqueue(dd, &sp, "a@b", empty, 1, NULL, NULL, id, &err, &error) == -1);
	test_assert(queue_enqueue(dd, &sp, "a@b", ok, 0, NULL, NULL, id, &err, &error) == -1);
	test_assert(queue_enqueue(dd, &none, "a@b", ok, 1, NULL, NULL, id, &err, &error) == -1);
	many = malloc(sizeof(*many) * (QUEUE_RCPT_MAX + 1));
	for (size_t i = 0; i <= QUEUE_RCPT_MAX; i++)
		many[i] = "x@remote.example";
	test_assert(queue_enqueue(dd, &sp, "a@b", many, QUEUE_RCPT_MAX + 1, NULL, NULL, id, &err, &error) == -1);
	test_assert_inteq(count_dir(qdir), 0);
	/* The most recipients allowed fit, and read back. */
	{
		struct seen s = { 0 };

		test_assert(queue_enqueue(dd, &sp, "a@b", many, QUEUE_RCPT_MAX, NULL, NULL, id, &err, &error) == 0);
		test_assert(queue_list(dd, collect, &s, &error) == 0);
		test_assert_inteq(s.n, 1);
		test_assert_inteq(s.n_rcpts[0], QUEUE_RCPT_MAX);
	}
	free(many);
	store_spool_discard(&sp);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_env_parse(void)
{
	static const char text[] = "from \nrcpt a@b\nrcpt c@d\nqueued 12\nsize 34\n";
	char buf[sizeof(text)];
	struct queue_env env;
	const char *error;

	test_begin("queue: envelope parser, also split at every length");
	memcpy(buf, text, sizeof(text));
	test_assert(queue_env_parse(buf, sizeof(text) - 1, &env, &error) == 0);
	test_assert_streq(env.mail_from, "");
	test_assert_inteq(env.n_rcpts, 2);
	if (env.n_rcpts == 2) {
		test_assert_streq(env.rcpts[0], "a@b");
		test_assert_streq(env.rcpts[1], "c@d");
	}
	test_assert_inteq(env.queued_at, 12);
	test_assert_inteq(env.size, 34);
	queue_env_free(&env);
	/* Every truncation is either refused or (ending at a line) complete. */
	for (size_t len = 0; len < sizeof(text) - 1; len++) {
		memcpy(buf, text, sizeof(text));
		if (queue_env_parse(buf, len, &env, &error) == 0) {
			test_assert(false);
			queue_env_free(&env);
		}
	}
	memcpy(buf, text, sizeof(text));
	buf[3] = '\0';
	test_assert(queue_env_parse(buf, sizeof(text) - 1, &env, &error) == -1);
	test_end();
}

struct dsn_seen {
	int calls;
	enum queue_ret ret;
	char envid[64], orcpt1[64];
	unsigned notify0, notify1;
	unsigned char state1;
	char reply1[64];
	unsigned attempts;
};

static void
collect_dsn(const struct queue_entry *e, void *arg)
{
	struct dsn_seen *s = arg;

	s->calls++;
	s->ret = e->ret;
	snprintf(s->envid, sizeof(s->envid), "%s", e->envid != NULL ? e->envid : "");
	snprintf(s->orcpt1, sizeof(s->orcpt1), "%s", e->rcpt_orcpt[1] != NULL ? e->rcpt_orcpt[1] : "");
	s->notify0 = e->rcpt_notify[0];
	s->notify1 = e->rcpt_notify[1];
	s->state1 = e->rcpt_state[1];
	snprintf(s->reply1, sizeof(s->reply1), "%s", e->rcpt_reply[1] != NULL ? e->rcpt_reply[1] : "");
	s->attempts = e->attempts;
}

static void
test_dsn_and_progress(void)
{
	char *dd = tmpdir();
	const char *rcpts[] = { "a@example.net", "b@example.net" };
	unsigned notify[] = { 0, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE };
	const char *orcpt[] = { NULL, "rfc822;b+2Bx@example.org" };
	struct queue_dsn_req dsn = { .ret = QUEUE_RET_HDRS, .envid = "env-1", .notify = notify, .orcpt = orcpt };
	char id[QUEUE_ID_MAX + 1], path[PATH_MAX];
	struct store_spool sp;
	struct dsn_seen seen = { 0 };
	enum store_error err;
	const char *error;
	int fd;

	test_begin("queue: DSN requests and the delivery agent's notes survive a read back; a torn note is ignored");
	test_assert(spool_with(dd, "Subject: x\r\n\r\nx\r\n", &sp) == 0);
	test_assert(queue_enqueue(dd, &sp, "me@example.org", rcpts, 2, &dsn, "ABCDEF0123456789", id, &err, &error) == 0);
	store_spool_discard(&sp);
	test_assert_streq(id, "ABCDEF0123456789");
	test_assert(queue_note_rcpt(dd, id, 1, QUEUE_RCPT_DONE, false, 1800000000, "250 2.0.0 ok", &error) == 0);
	test_assert(queue_note_attempt(dd, id, 1800000000, 1800000300, &error) == 0);
	/* a crash in the middle of an append: half a line at the end */
	snprintf(path, sizeof(path), "%s/queue/%s.env", dd, id);
	fd = open(path, O_WRONLY | O_APPEND);
	test_assert(fd >= 0 && write(fd, "failed 0 18", 11) == 11);
	close(fd);
	test_assert(queue_get(dd, id, collect_dsn, &seen, &error) == 1);
	test_assert_inteq(seen.calls, 1);
	test_assert_inteq(seen.ret, QUEUE_RET_HDRS);
	test_assert_streq(seen.envid, "env-1");
	test_assert_inteq(seen.notify0, 0);
	test_assert_inteq(seen.notify1, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE);
	test_assert_streq(seen.orcpt1, "rfc822;b+2Bx@example.org");
	test_assert_inteq(seen.state1, QUEUE_RCPT_DONE);
	test_assert_streq(seen.reply1, "250 2.0.0 ok");
	test_assert_inteq(seen.attempts, 1);
	/* removal takes everything; a second one is harmless */
	test_assert(queue_remove(dd, id, &error) == 0);
	test_assert(queue_remove(dd, id, &error) == 0);
	test_assert(queue_get(dd, id, collect_dsn, &seen, &error) == 0);
	rm_rf(dd);
	free(dd);
	test_end();
}

int
main(void)
{
	test_enqueue_list();
	test_incomplete_entries();
	test_enqueue_refuses();
	test_env_parse();
	test_dsn_and_progress();
	return test_done();
}
