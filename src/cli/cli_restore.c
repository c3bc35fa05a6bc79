/* tern restore SRC [--user ADDRESS] [--force]: puts a tern backup back.
 *
 * Whole: the server must be stopped.  Restore takes data_dir/tern.lock,
 * the lock a running server holds (lib/lockfile.h), so it cannot replace
 * files under it.  A data_dir with anything in it is refused unless
 * --force, which moves what is there into data_dir/pre-restore.<time>/
 * (nothing is deleted).
 *
 * One user (--user), with the server running: the user's folder is built
 * beside the live one under a name no user can have (a leading '.'; see
 * store_path_escape), then swapped with it in one renameat2(RENAME_EXCHANGE),
 * so a reader sees the old folder or the new one, never a mix.  Every
 * store handle the server opens or takes from its cache after the swap
 * is the restored folder's: store_cache.c reopens a handle whose msg/ is
 * not the one at its path any more; IMAP opens its store per command that
 * way.  What had the old index open at the swap (a POP3 session, a
 * delivery in that instant, an IMAP session's selected-mailbox state) goes
 * on with the old folder, which is kept as .replaced-<local>.<time> beside
 * it; a warning says so when its index is still open (the SQLite shm
 * lock).  Clients should reconnect. */
#include "cli/cli_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/lockfile.h"
#include "store/store.h"

static const char restore_usage[] =
	"usage: tern restore SRC [--force]\n"
	"       tern restore SRC --user ADDRESS\n"
	"\n"
	"Puts a backup made by tern backup into the configured data_dir.\n"
	"Without --user the server must be stopped, and data_dir must be empty or\n"
	"missing; --force moves what is there into data_dir/pre-restore.<time>/.\n"
	"With --user only that user's folder is replaced, also while the server\n"
	"runs; the folder it replaces is kept beside it as .replaced-<local>.<time>.\n"
	"Message files are hard-linked from SRC when on the same file system,\n"
	"else copied; databases are copied.  A directory on PostgreSQL is not in\n"
	"the backup: restore it with pg_restore.\n";

/* The message files of one backed-up user folder: all of msg/. */
static int
restore_msgs(struct backup_run *b, const char *src_msg, const char *dst_msg)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int ret = 0;

	if (backup_mkdir(dst_msg, 0700) == -1)
		return -1;
	dir = opendir(src_msg);
	if (dir == NULL)
		return errno == ENOENT ? 0 : (cli_error("%s: %s", src_msg, strerror(errno)), -1);
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (backup_join(s, sizeof(s), src_msg, de->d_name) == -1 ||
		    backup_join(d, sizeof(d), dst_msg, de->d_name) == -1) {
			ret = -1;
		} else if (backup_link_or_copy(b, s, d) == -1) {
			cli_error("%s to %s: %s", s, d, strerror(errno));
			ret = -1;
		} else if (stat(d, &sb) == 0) {
			b->bytes += (uint64_t)sb.st_size;
		}
	}
	closedir(dir);
	return ret;
}

static int
count_rows(const char *db_path, uint64_t *n_out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int ret = -1;

	if (backup_db_open(db_path, SQLITE_OPEN_READONLY, &db) == -1)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW) {
		*n_out = (uint64_t)sqlite3_column_int64(q, 0);
		ret = 0;
	} else {
		cli_error("%s: %s", db_path, sqlite3_errmsg(db));
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return ret;
}

/* One user's folder from src_dir into dst_dir (made here). */
static int
restore_user(struct backup_run *b, const char *src_dir, const char *dst_dir)
{
	char s[PATH_MAX], d[PATH_MAX];
	uint64_t n = 0;

	if (backup_mkdir(dst_dir, 0700) == -1 || backup_join(s, sizeof(s), src_dir, "index.db") == -1 ||
	    backup_join(d, sizeof(d), dst_dir, "index.db") == -1)
		return -1;
	if (count_rows(s, &n) == -1 || backup_db_copy(b, s, d) == -1)
		return -1;
	if (backup_join(s, sizeof(s), src_dir, "msg") == -1 || backup_join(d, sizeof(d), dst_dir, "msg") == -1 ||
	    restore_msgs(b, s, d) == -1)
		return -1;
	b->messages += n;
	b->users++;
	return 0;
}

static bool
has_index(const char *dir)
{
	char p[PATH_MAX];

	return (size_t)snprintf(p, sizeof(p), "%s/index.db", dir) < sizeof(p) && access(p, F_OK) == 0;
}

/* Every entry of the backup's top level: *.db through SQLite, mail/ user
 * by user, everything else (queue/, dkim/, mta-sts/, srs.key) copied. */
static int
restore_all(struct backup_run *b, const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX], su[PATH_MAX], du[PATH_MAX];
	struct dirent *de, *ue;
	struct stat sb;
	DIR *dir, *doms, *users;
	int ret = 0;

	dir = opendir(src);
	if (dir == NULL) {
		cli_error("%s: %s", src, strerror(errno));
		return -1;
	}
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (backup_join(s, sizeof(s), src, de->d_name) == -1 || backup_join(d, sizeof(d), dst, de->d_name) == -1) {
			ret = -1;
			break;
		}
		if (lstat(s, &sb) == -1)
			continue;
		if (S_ISREG(sb.st_mode) && len > 3 && strcmp(de->d_name + len - 3, ".db") == 0)
			ret = backup_db_copy(b, s, d);
		else if (S_ISREG(sb.st_mode))
			ret = backup_copy_file(b, s, d);
		else if (S_ISDIR(sb.st_mode) && strcmp(de->d_name, "mail") != 0)
			ret = backup_copy_tree(b, s, d);
		if (ret != 0 || !S_ISDIR(sb.st_mode) || strcmp(de->d_name, "mail") != 0)
			continue;
		if (backup_mkdir(d, 0700) == -1 || (doms = opendir(s)) == NULL) {
			ret = -1;
			break;
		}
		while (ret == 0 && (ue = readdir(doms)) != NULL) {
			char sdom[PATH_MAX], ddom[PATH_MAX];

			if (ue->d_name[0] == '.')
				continue;
			if (backup_join(sdom, sizeof(sdom), s, ue->d_name) == -1 ||
			    backup_join(ddom, sizeof(ddom), d, ue->d_name) == -1) {
				ret = -1;
				break;
			}
			if ((users = opendir(sdom)) == NULL)
				continue;
			if (backup_mkdir(ddom, 0700) == -1)
				ret = -1;
			for (struct dirent *u; ret == 0 && (u = readdir(users)) != NULL;) {
				if (u->d_name[0] == '.')
					continue;
				if (backup_join(su, sizeof(su), sdom, u->d_name) == -1 ||
				    backup_join(du, sizeof(du), ddom, u->d_name) == -1)
					ret = -1;
				else if (has_index(su))
					ret = restore_user(b, su, du);
			}
			closedir(users);
		}
		closedir(doms);
	}
	closedir(dir);
	return ret;
}

/* Moves every entry but tern.lock into data_dir/pre-restore.<time>/; with
 * force false, refuses if there is one.  *moved_out: where they went. */
static int
clear_data_dir(const char *data_dir, bool force, char *moved, size_t movedsize)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	moved[0] = '\0';
	dir = opendir(data_dir);
	if (dir == NULL) {
		cli_error("%s: %s", data_dir, strerror(errno));
		return -1;
	}
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, LOCKFILE_NAME) == 0 || strncmp(de->d_name, "pre-restore.", 12) == 0)
			continue;
		if (!force) {
			cli_error("%s is not empty (%s): restore into an empty data_dir, or --force to move "
			          "what is there aside",
			          data_dir, de->d_name);
			ret = -1;
			break;
		}
		if (moved[0] == '\0') {
			if ((size_t)snprintf(moved, movedsize, "%s/pre-restore.%lld", data_dir,
			                     (long long)time(NULL)) >= movedsize ||
			    backup_mkdir(moved, 0700) == -1) {
				ret = -1;
				break;
			}
		}
		if (backup_join(s, sizeof(s), data_dir, de->d_name) == -1 ||
		    backup_join(d, sizeof(d), moved, de->d_name) == -1 || rename(s, d) == -1) {
			cli_error("move %s aside: %s", s, strerror(errno));
			ret = -1;
		}
	}
	closedir(dir);
	return ret;
}

static int
restore_whole(const struct tern_config *cfg, const char *src, bool force)
{
	struct backup_run b = { 0 };
	char moved[PATH_MAX], p[PATH_MAX];
	const char *error = NULL;
	int fd = -1, r;

	if (backup_join(p, sizeof(p), src, "directory.db") == -1)
		return CLI_EXIT_ERROR;
	/* On PostgreSQL the directory is not in data_dir, nor in the backup. */
	if (!cfg->directory.postgresql && access(p, F_OK) != 0) {
		cli_error("%s has no directory.db: not a whole backup (a --user backup restores with --user)", src);
		return CLI_EXIT_ERROR;
	}
	if (backup_mkdir(cfg->data_dir, 0700) == -1)
		return CLI_EXIT_ERROR;
	r = lockfile_take(cfg->data_dir, &fd, &error);
	if (r == 1) {
		cli_error("the server is running on %s (it holds %s): stop it first, or restore one user with --user",
		          cfg->data_dir, LOCKFILE_NAME);
		return CLI_EXIT_ERROR;
	}
	if (r == -1) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	r = CLI_EXIT_ERROR;
	if (clear_data_dir(cfg->data_dir, force, moved, sizeof(moved)) == -1)
		goto out;
	if (moved[0] != '\0')
		printf("moved the previous contents of data_dir to %s\n", moved);
	if (restore_all(&b, src, cfg->data_dir) == -1)
		goto out;
	if (cli_own_tree(cfg, cfg->data_dir) == -1)
		goto out;
	backup_print_counts("restore", &b);
	r = CLI_EXIT_OK;
out:
	close(fd);
	return r;
}

/* True while some process has the SQLite database open: in WAL mode
 * every connection holds a read lock on the shm's DMS byte (offset 128)
 * for as long as it is open. */
static bool
db_in_use(const char *db_path)
{
	char shm[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1 };
	int fd;
	bool used;

	if ((size_t)snprintf(shm, sizeof(shm), "%s-shm", db_path) >= sizeof(shm))
		return false;
	fd = open(shm, O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return false;
	used = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return used;
}

static int
restore_one(const struct tern_config *cfg, const char *src, const char *user)
{
	struct backup_run b = { 0 };
	char from[PATH_MAX], live[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX], dom[PATH_MAX], p[PATH_MAX];
	const char *local;
	bool existed;

	if (store_user_dir(src, user, from, sizeof(from)) != 0 || store_user_dir(cfg->data_dir, user, live, sizeof(live)) != 0) {
		cli_error("%s: not a valid address", user);
		return CLI_EXIT_ERROR;
	}
	if (!has_index(from)) {
		cli_error("%s: no folder of %s in the backup", from, user);
		return CLI_EXIT_ERROR;
	}
	snprintf(dom, sizeof(dom), "%s", live);
	*strrchr(dom, '/') = '\0';
	local = live + strlen(dom) + 1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.restore-%s.%ld", dom, local, (long)getpid()) >= sizeof(tmp) ||
	    (size_t)snprintf(old, sizeof(old), "%s/.replaced-%s.%lld", dom, local, (long long)time(NULL)) >=
	        sizeof(old)) {
		cli_error("path too long");
		return CLI_EXIT_ERROR;
	}
	if (backup_join(p, sizeof(p), cfg->data_dir, "mail") == -1 || backup_mkdir(p, 0700) == -1 ||
	    cli_own_tree(cfg, p) == -1 || backup_mkdir(dom, 0700) == -1 || cli_own_path(cfg, dom) == -1)
		return CLI_EXIT_ERROR;
	if (restore_user(&b, from, tmp) == -1 || cli_own_tree(cfg, tmp) == -1)
		goto fail;
	existed = access(live, F_OK) == 0;
	if (existed) {
		/* One step: the live name goes from the old folder to the new. */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, live, RENAME_EXCHANGE) == -1) {
			cli_error("swap %s and %s: %s", tmp, live, strerror(errno));
			goto fail;
		}
		if (rename(tmp, old) == -1) {
			cli_error("rename %s to %s: %s", tmp, old, strerror(errno));
			return CLI_EXIT_ERROR;
		}
	} else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, live, RENAME_NOREPLACE) == -1) {
		cli_error("rename %s to %s: %s", tmp, live, strerror(errno));
		goto fail;
	}
	backup_print_counts("restore", &b);
	if (existed) {
		printf("the replaced folder is kept as %s: remove it when you no longer need it\n", old);
		if (backup_join(p, sizeof(p), old, "index.db") == 0 && db_in_use(p))
			fprintf(stderr, "tern: warning: the server still has the replaced index of %s open: "
			                "sessions opened before the restore (POP3, an IMAP selected mailbox) "
			                "see the old folder until they reconnect\n",
			        user);
	}
	return CLI_EXIT_OK;
fail:
	fprintf(stderr, "tern: %s left as it was; the partial copy is in %s\n", live, tmp);
	return CLI_EXIT_ERROR;
}

int
cli_restore(struct cli_ctx *ctx, int argc, char **argv)
{
	struct tern_config cfg;
	const char *pos[1], *user = NULL;
	bool force = false;
	const struct cli_opt opts[] = { { "--user", &user, NULL }, { "--force", NULL, &force }, { NULL, NULL, NULL } };
	struct stat sb;
	int r;

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, restore_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (user != NULL && force)
		return cli_usage_error(restore_usage, "--force is for a whole restore");
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	if (stat(pos[0], &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		cli_error("%s: not a backup directory", pos[0]);
		return CLI_EXIT_ERROR;
	}
	umask(077);
	return user != NULL ? restore_one(&cfg, pos[0], user) : restore_whole(&cfg, pos[0], force);
}
