/* tern backup DEST [--user ADDRESS]: an online, consistent copy of
 * data_dir while the server runs.
 *
 * Every SQLite file goes through the online backup API (one snapshot each).
 * A user's folder must also be consistent with itself: every message row
 * of the copied index.db must have its file in the copied msg/.  The store
 * links a message file before it commits the row naming it, and unlinks a
 * file only after the COMMIT that deleted its row (store_deliver.c,
 * store_unlink.c).  So, per user:
 *   1. in a read snapshot, link (or copy) every file the index names:
 *      the bulk of the work, with no lock held that the server notices;
 *   2. BEGIN IMMEDIATE on the index (the server's writers of this one user
 *      wait, up to its 10 s busy timeout), copy the index (a snapshot
 *      that cannot change now), link the files it names that pass 1 had
 *      not (messages that arrived meanwhile): none can be unlinked now,
 *      because no expunge can commit while we hold the write lock; then
 *      ROLLBACK;
 *   3. remove from the copy the files of pass 1 that the snapshot of 2
 *      no longer names (expunged in between): they would only be orphans.
 * Linking in the snapshot of step 2 alone (without the lock) would lose a
 * file an expunge unlinks between the snapshot and its link; linking
 * before the snapshot alone would miss what arrives between the two. */
#include "cli/cli_backup.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"

static const char backup_usage[] =
	"usage: tern backup DEST [--user ADDRESS]\n"
	"\n"
	"Copies data_dir into DEST, a new or empty directory, while the server runs:\n"
	"every SQLite database (directory.db, penalty.db, each user's index.db)\n"
	"through SQLite's online backup, each user's message files hard-linked\n"
	"(copied when DEST is on another file system) so that every message the\n"
	"copied index names has its file, the outbound queue, dkim/ keys, srs.key\n"
	"and mta-sts/.  Modes are kept.  --user copies one user's folder only.\n"
	"Restore with tern restore.  A directory on PostgreSQL ([directory]\n"
	"backend = postgresql) is not copied, nor is the penalty state kept there:\n"
	"back that database up with pg_dump (tern says so when it finishes).\n";

static int
dest_prepare(const char *dest)
{
	struct dirent *de;
	DIR *d;

	if (mkdir(dest, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		cli_error("mkdir %s: %s", dest, strerror(errno));
		return -1;
	}
	d = opendir(dest);
	if (d == NULL) {
		cli_error("%s: %s", dest, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			closedir(d);
			cli_error("%s is not empty", dest);
			return -1;
		}
	}
	closedir(d);
	return backup_mkdir(dest, 0700);
}

struct names {
	char **v;
	size_t n, cap;
};

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = ns->cap = 0;
}

static int
names_add(struct names *ns, const char *s)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 256;
		char **v = realloc(ns->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		ns->v = v;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(s)) == NULL)
		return -1;
	ns->n++;
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
exec_sql(sqlite3 *db, const char *sql, const char *path)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		cli_error("%s: %s: %s", path, sql, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Links every file the index names from src_msg to dst_msg, in the
 * transaction the caller opened.  final: a missing source file is an
 * error (it cannot happen under the write lock) and the names are kept in
 * *ns; otherwise files that are gone are skipped. */
static int
link_pass(struct backup_run *b, sqlite3 *db, const char *src_msg, const char *dst_msg, struct names *ns,
          bool final)
{
	char s[PATH_MAX], d[PATH_MAX];
	sqlite3_stmt *q = NULL;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(db, "SELECT file FROM messages", -1, &q, NULL) != SQLITE_OK) {
		cli_error("%s: %s", src_msg, sqlite3_errmsg(db));
		return -1;
	}
	while (ret == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(q, 0);

		if (file == NULL || file[0] == '\0' || file[0] == '.' || strchr(file, '/') != NULL) {
			cli_error("%s: bad file name in the index", src_msg);
			ret = -1;
			break;
		}
		if (final && names_add(ns, file) == -1) {
			cli_error("out of memory");
			ret = -1;
			break;
		}
		if (backup_join(s, sizeof(s), src_msg, file) == -1 || backup_join(d, sizeof(d), dst_msg, file) == -1) {
			ret = -1;
			break;
		}
		if (backup_link_or_copy(b, s, d) == -1 && errno != EEXIST && (final || errno != ENOENT)) {
			cli_error("%s to %s: %s", s, d, strerror(errno));
			ret = -1;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		cli_error("%s: %s", src_msg, sqlite3_errmsg(db));
		ret = -1;
	}
	sqlite3_finalize(q);
	return ret;
}

/* Step 3: files of pass 1 the final snapshot does not name; and the
 * bytes and count of those it does. */
static int
prune_extras(struct backup_run *b, const char *dst_msg, struct names *ns)
{
	char d[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir;

	if (ns->n > 0)   /* an empty mailbox: no array at all */
		qsort(ns->v, ns->n, sizeof(*ns->v), cmp_name);
	dir = opendir(dst_msg);
	if (dir == NULL) {
		cli_error("%s: %s", dst_msg, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (backup_join(d, sizeof(d), dst_msg, name) == -1) {
			closedir(dir);
			return -1;
		}
		if (ns->n == 0 || bsearch(&name, ns->v, ns->n, sizeof(*ns->v), cmp_name) == NULL) {
			if (unlink(d) == 0)
				b->extra_removed++;
		} else if (stat(d, &sb) == 0) {
			b->bytes += (uint64_t)sb.st_size;
		}
	}
	closedir(dir);
	return 0;
}

int
backup_user(struct backup_run *b, const char *src_dir, const char *dst_dir)
{
	char src_db[PATH_MAX], dst_db[PATH_MAX], src_msg[PATH_MAX], dst_msg[PATH_MAX];
	struct names ns = { 0 };
	struct stat sb;
	sqlite3 *db = NULL, *lock = NULL;
	bool in_tx = false;

	if (backup_join(src_db, sizeof(src_db), src_dir, "index.db") == -1 ||
	    backup_join(dst_db, sizeof(dst_db), dst_dir, "index.db") == -1 ||
	    backup_join(src_msg, sizeof(src_msg), src_dir, "msg") == -1 ||
	    backup_join(dst_msg, sizeof(dst_msg), dst_dir, "msg") == -1)
		return -1;
	if (stat(src_db, &sb) == -1) {
		cli_error("%s: %s", src_db, strerror(errno));
		return -1;
	}
	if (backup_mkdir(dst_dir, 0700) == -1 || backup_mkdir(dst_msg, 0700) == -1)
		return -1;
	if (backup_db_open(src_db, SQLITE_OPEN_READWRITE, &db) == -1)
		return -1;
	/* 1: the bulk, in a read snapshot. */
	if (exec_sql(db, "BEGIN", src_db) == -1)
		goto fail;
	in_tx = true;
	if (link_pass(b, db, src_msg, dst_msg, NULL, false) == -1)
		goto fail;
	exec_sql(db, "COMMIT", src_db);
	in_tx = false;
	/* 2: the snapshot, under the write lock.  The lock is held by a
	 * second connection: SQLite's backup refuses a source connection that
	 * is in a write transaction itself.  Nothing commits while it is
	 * held, so every read of db below sees one and the same state. */
	if (backup_db_open(src_db, SQLITE_OPEN_READWRITE, &lock) == -1 ||
	    exec_sql(lock, "BEGIN IMMEDIATE", src_db) == -1)
		goto fail;
	if (backup_db_copy_from(db, dst_db, sb.st_mode & 07777) == -1 ||
	    link_pass(b, db, src_msg, dst_msg, &ns, true) == -1)
		goto fail;
	sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(lock);
	lock = NULL;
	sqlite3_close(db);
	db = NULL;
	/* 3 */
	if (prune_extras(b, dst_msg, &ns) == -1)
		goto fail;
	b->messages += ns.n;
	b->users++;
	b->databases++;
	names_free(&ns);
	return 0;
fail:
	if (in_tx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	if (lock != NULL)
		sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(lock);
	sqlite3_close(db);
	names_free(&ns);
	return -1;
}

static bool
is_user_folder(const char *dir)
{
	char p[PATH_MAX];
	struct stat sb;

	return (size_t)snprintf(p, sizeof(p), "%s/index.db", dir) < sizeof(p) && stat(p, &sb) == 0 &&
	       S_ISREG(sb.st_mode);
}

/* Every data_dir/mail/<domain>/<local> with an index.db.  Names that
 * start with '.' are never users (store_path_escape escapes a leading
 * dot): restore's scratch and replaced folders. */
static int
backup_mail(struct backup_run *b, const char *src, const char *dst)
{
	char sdom[PATH_MAX], ddom[PATH_MAX], su[PATH_MAX], du[PATH_MAX];
	struct dirent *de, *ue;
	DIR *doms, *users;
	int ret = 0;

	doms = opendir(src);
	if (doms == NULL)
		return errno == ENOENT ? 0 : (cli_error("%s: %s", src, strerror(errno)), -1);
	if (backup_mkdir(dst, 0700) == -1) {
		closedir(doms);
		return -1;
	}
	while (ret == 0 && (de = readdir(doms)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (backup_join(sdom, sizeof(sdom), src, de->d_name) == -1 ||
		    backup_join(ddom, sizeof(ddom), dst, de->d_name) == -1) {
			ret = -1;
			break;
		}
		users = opendir(sdom);
		if (users == NULL)
			continue;       /* not a directory */
		while (ret == 0 && (ue = readdir(users)) != NULL) {
			if (ue->d_name[0] == '.')
				continue;
			if (backup_join(su, sizeof(su), sdom, ue->d_name) == -1 ||
			    backup_join(du, sizeof(du), ddom, ue->d_name) == -1) {
				ret = -1;
				break;
			}
			if (!is_user_folder(su))
				continue;
			if (backup_mkdir(ddom, 0700) == -1 || backup_user(b, su, du) == -1)
				ret = -1;
		}
		closedir(users);
	}
	closedir(doms);
	return ret;
}

/* The top-level SQLite files: directory.db, penalty.db, any other *.db. */
static int
backup_top_dbs(struct backup_run *b, const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int ret = 0;

	dir = opendir(src);
	if (dir == NULL) {
		cli_error("%s: %s", src, strerror(errno));
		return -1;
	}
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 4 || strcmp(de->d_name + len - 3, ".db") != 0)
			continue;
		if (backup_join(s, sizeof(s), src, de->d_name) == -1 || backup_join(d, sizeof(d), dst, de->d_name) == -1)
			ret = -1;
		else if (lstat(s, &sb) == 0 && S_ISREG(sb.st_mode))
			ret = backup_db_copy(b, s, d);
	}
	closedir(dir);
	return ret;
}

/* queue/, dkim/, mta-sts/ and srs.key. */
static int
backup_other(struct backup_run *b, const char *src, const char *dst)
{
	static const char *const trees[] = { "queue", "dkim", "mta-sts" };
	char s[PATH_MAX], d[PATH_MAX];

	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		if (backup_join(s, sizeof(s), src, trees[i]) == -1 || backup_join(d, sizeof(d), dst, trees[i]) == -1 ||
		    backup_copy_tree(b, s, d) == -1)
			return -1;
	}
	if (backup_join(s, sizeof(s), src, "srs.key") == -1 || backup_join(d, sizeof(d), dst, "srs.key") == -1)
		return -1;
	if (access(s, F_OK) == 0 && backup_copy_file(b, s, d) == -1)
		return -1;
	return 0;
}

void
backup_print_counts(const char *what, const struct backup_run *b)
{
	printf("%s: users=%llu messages=%llu bytes=%llu files=%s (linked=%llu copied=%llu) databases=%llu "
	       "other_files=%llu",
	       what, (unsigned long long)b->users, (unsigned long long)b->messages, (unsigned long long)b->bytes,
	       b->copied == 0 ? "hard-linked" : b->linked == 0 ? "copied" : "hard-linked, then copied",
	       (unsigned long long)b->linked, (unsigned long long)b->copied, (unsigned long long)b->databases,
	       (unsigned long long)b->other_files);
	if (b->extra_removed > 0)
		printf(" expunged_meanwhile=%llu", (unsigned long long)b->extra_removed);
	putchar('\n');
}

int
cli_backup(struct cli_ctx *ctx, int argc, char **argv)
{
	struct tern_config cfg;
	struct backup_run b = { 0 };
	const char *pos[1], *user = NULL;
	const struct cli_opt opts[] = { { "--user", &user, NULL }, { NULL, NULL, NULL } };
	char src[PATH_MAX], dst[PATH_MAX], mail[PATH_MAX];
	int r;

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, backup_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	umask(077);
	if (dest_prepare(pos[0]) == -1)
		return CLI_EXIT_ERROR;
	if (user != NULL) {
		size_t dlen = strlen(cfg.data_dir);

		if (store_user_dir(cfg.data_dir, user, src, sizeof(src)) != 0) {
			cli_error("%s: not a valid address", user);
			return CLI_EXIT_ERROR;
		}
		if (!is_user_folder(src)) {
			cli_error("%s has no mail folder (%s)", user, src);
			return CLI_EXIT_ERROR;
		}
		/* dst: the same path below DEST: DEST/mail/<domain>/<local> */
		if ((size_t)snprintf(dst, sizeof(dst), "%s%s", pos[0], src + dlen) >= sizeof(dst)) {
			cli_error("path too long");
			return CLI_EXIT_ERROR;
		}
		if (backup_join(mail, sizeof(mail), pos[0], "mail") == -1 || backup_mkdir(mail, 0700) == -1)
			return CLI_EXIT_ERROR;
		*strrchr(dst, '/') = '\0';
		if (backup_mkdir(dst, 0700) == -1)
			return CLI_EXIT_ERROR;
		dst[strlen(dst)] = '/';
		if (backup_user(&b, src, dst) == -1)
			return CLI_EXIT_ERROR;
	} else {
		if (backup_join(src, sizeof(src), cfg.data_dir, "mail") == -1 ||
		    backup_join(dst, sizeof(dst), pos[0], "mail") == -1)
			return CLI_EXIT_ERROR;
		if (backup_top_dbs(&b, cfg.data_dir, pos[0]) == -1 || backup_mail(&b, src, dst) == -1 ||
		    backup_other(&b, cfg.data_dir, pos[0]) == -1)
			return CLI_EXIT_ERROR;
	}
	backup_print_counts("backup", &b);
	if (cfg.directory.postgresql)
		printf("directory: on PostgreSQL, not in this backup: back it up with pg_dump "
		       "(docs/OPERATIONS.md, Backups)\n");
	return CLI_EXIT_OK;
}
