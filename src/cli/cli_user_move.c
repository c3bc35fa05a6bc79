/* tern user export ADDRESS FILE and tern user import FILE [ADDRESS]: one
 * user's whole account in one file, to move it by hand to another Tern.
 *
 * FILE is a ustar archive (cli_tar.h) holding, in this order:
 *   user.json        the directory row: password hash, role, quota,
 *                    switches, and (unless --no-app-passwords) the app
 *                    passwords' names, hashes and protocols
 *   mail/index.db    the user's index, a consistent copy taken while the
 *                    server runs (backup_user: SQLite's online backup)
 *   mail/msg/NAME    every message file that index names
 * A plain tar file, so `tar tvf` shows it and any tar can unpack it.
 * Import unpacks into a hidden folder beside the live one, then renames it
 * into place and adds the user: a user or a mail folder that exists
 * already is refused, nothing is merged. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_backup.h"
#include "cli/cli_tar.h"
#include "directory/directory.h"
#include "lib/str.h"
#include "store/store.h"

/* user.json's size, at most (a few app passwords and hashes). */
#define USER_JSON_MAX (64 * 1024)
#define USER_FORMAT "tern-user 1"

static const char export_usage[] =
	"usage: tern user export ADDRESS FILE [--no-app-passwords]\n"
	"\n"
	"Writes one user's whole account into FILE, a new tar archive: the\n"
	"directory entry (password hash, role, quota, switches, app passwords\n"
	"unless --no-app-passwords) as user.json, the mail index (a consistent\n"
	"copy, taken while the server runs) and every message file.  Move FILE\n"
	"to another Tern and run \"tern user import FILE\" there.  FILE holds the\n"
	"password hashes: it is written with mode 0600.\n";

static const char import_usage[] =
	"usage: tern user import FILE [ADDRESS] [--no-app-passwords]\n"
	"\n"
	"Adds the user \"tern user export\" wrote into FILE, with its mail, as\n"
	"ADDRESS when given (the domain must be local).  A user or a mail\n"
	"folder that exists already is refused.  The server may run.\n";

static void
add_apppw(const struct dir_app_password *p, void *arg)
{
	json_t *a = arg, *o = json_pack("{s:s, s:s, s:i}", "name", p->name, "hash", p->hash, "protocols",
	                                (json_int_t)p->protocols);

	if (o != NULL)
		json_array_append_new(a, o);
}

static char *
user_json(struct directory *dir, const struct dir_user *u, bool apppw)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:I}", "format", USER_FORMAT,
	                      "address", u->address, "password_hash", u->password_hash, "role",
	                      u->role == ROLE_ADMIN ? "admin" : "user", "imap", u->imap, "pop3", u->pop3,
	                      "submission", u->submission, "disabled", u->disabled, "reject_mail", u->reject_mail,
	                      "quota_bytes", (json_int_t)u->quota_bytes);
	const char *error;
	char *s;

	if (o == NULL)
		return NULL;
	if (apppw) {
		json_t *a = json_array();

		if (directory_app_password_list(dir, u->address, add_apppw, a, &error) != 0) {
			cli_error("%s", error);
			json_decref(a);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "app_passwords", a);
	}
	s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* Appends the file at path to the archive as name.  0 or -1 (printed). */
static int
tar_add_path(FILE *out, const char *path, const char *name)
{
	unsigned char h[TAR_BLOCK], zero[TAR_BLOCK] = { 0 }, b[65536];
	struct tar_entry e = { 0 };
	struct stat sb;
	uint64_t left;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.size = (uint64_t)sb.st_size;
	e.mode = sb.st_mode & 07777;
	e.mtime = (int64_t)sb.st_mtime;
	if (tar_header_make(&e, h) != 0 || fwrite(h, 1, TAR_BLOCK, out) != TAR_BLOCK) {
		cli_error("%s: cannot be archived (name or size)", path);
		close(fd);
		return -1;
	}
	for (left = e.size; left > 0;) {
		ssize_t n = read(fd, b, left < sizeof(b) ? (size_t)left : sizeof(b));

		if (n <= 0 || fwrite(b, 1, (size_t)n, out) != (size_t)n) {
			cli_error("%s: %s", path, n < 0 ? strerror(errno) : "changed while read");
			close(fd);
			return -1;
		}
		left -= (uint64_t)n;
	}
	close(fd);
	if (e.size % TAR_BLOCK != 0 && fwrite(zero, 1, TAR_BLOCK - e.size % TAR_BLOCK, out) != TAR_BLOCK - e.size % TAR_BLOCK)
		return -1;
	return 0;
}

int
cli_user_export(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2], *error;
	bool no_apppw = false;
	const struct cli_opt opts[] = {
		{ "--no-app-passwords", NULL, &no_apppw },
		{ NULL, NULL, NULL },
	};
	struct backup_run b = { 0 };
	struct directory *dir = NULL;
	struct dir_user u;
	char live[PATH_MAX], tmp[PATH_MAX], p[PATH_MAX], *json = NULL;
	unsigned char zero[2 * TAR_BLOCK] = { 0 };
	bool has_mail, made_tmp = false;
	struct dirent *de;
	FILE *out = NULL;
	DIR *d = NULL;
	int r, fd, ret = CLI_EXIT_ERROR;
	uint64_t files = 0;

	if ((r = cli_parse(ctx, argc, argv, opts, pos, 2, 2, NULL, export_usage)) != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	if ((r = directory_user_get(dir, pos[0], &u, &error)) != 1) {
		cli_error("%s: %s", pos[0], r == 0 ? "no such user" : error);
		goto done;
	}
	if ((json = user_json(dir, &u, !no_apppw)) == NULL)
		goto done;
	if (store_user_dir(cli_config_loaded()->data_dir, u.address, live, sizeof(live)) != 0 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", pos[1], (long)getpid()) >= sizeof(tmp)) {
		cli_error("path too long");
		goto done;
	}
	if (backup_join(p, sizeof(p), live, "index.db") != 0)
		goto done;
	has_mail = access(p, F_OK) == 0;
	if ((fd = open(pos[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    (out = fdopen(fd, "w")) == NULL) {
		cli_error("%s: %s", pos[1], strerror(errno));
		goto done;
	}
	if (tar_write_file(out, "user.json", json, strlen(json), 0600, (int64_t)time(NULL)) != 0)
		goto write_fail;
	if (has_mail) {
		/* a consistent copy first (links, or copies on another file
		 * system), then into the archive */
		made_tmp = true;
		if (backup_user(&b, live, tmp) != 0)
			goto fail;
		if (backup_join(p, sizeof(p), tmp, "index.db") != 0 || tar_add_path(out, p, "mail/index.db") != 0 ||
		    backup_join(p, sizeof(p), tmp, "msg") != 0)
			goto fail;
		if ((d = opendir(p)) == NULL) {
			cli_error("%s: %s", p, strerror(errno));
			goto fail;
		}
		while ((de = readdir(d)) != NULL) {
			char f[PATH_MAX], name[TAR_NAME_MAX + 1];

			if (de->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(f, sizeof(f), "%s/msg/%s", tmp, de->d_name) >= sizeof(f) ||
			    (size_t)snprintf(name, sizeof(name), "mail/msg/%s", de->d_name) >= sizeof(name) ||
			    tar_add_path(out, f, name) != 0)
				goto fail;
			files++;
		}
	}
	if (fwrite(zero, 1, sizeof(zero), out) != sizeof(zero) || fflush(out) != 0 || fsync(fileno(out)) != 0)
		goto write_fail;
	if (fclose(out) != 0) {
		out = NULL;
		goto write_fail;
	}
	out = NULL;
	printf("%s: user %s, %" PRIu64 " messages, %" PRIu64 " message files%s\n", pos[1], u.address, b.messages, files,
	       no_apppw ? ", no app passwords" : "");
	ret = CLI_EXIT_OK;
	goto done;
write_fail:
	cli_error("%s: %s", pos[1], strerror(errno));
fail:
	if (out != NULL)
		fclose(out);
	out = NULL;
	unlink(pos[1]);
done:
	if (d != NULL)
		closedir(d);
	if (made_tmp)
		cli_remove_tree(tmp);
	if (json != NULL) {
		str_wipe(json, strlen(json));
		free(json);
	}
	str_wipe(&u, sizeof(u));
	directory_close(&dir);
	return ret;
}

/* --- import --- */

static bool
json_bool(json_t *o, const char *key, bool dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* Fills u from user.json; address is the one to use (NULL: the file's). */
static int
parse_user(const char *text, const char *address, struct dir_user *u, json_t **root_out)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr), *v;
	const char *s;

	memset(u, 0, sizeof(*u));
	if (o == NULL || !json_is_object(o)) {
		cli_error("user.json: %s", o == NULL ? jerr.text : "not an object");
		json_decref(o);
		return -1;
	}
	if ((s = json_string_value(json_object_get(o, "format"))) == NULL || strcmp(s, USER_FORMAT) != 0) {
		cli_error("user.json: not a \"%s\" file (written by a newer Tern?)", USER_FORMAT);
		goto fail;
	}
	if (address == NULL && (address = json_string_value(json_object_get(o, "address"))) == NULL) {
		cli_error("user.json: no address");
		goto fail;
	}
	s = json_string_value(json_object_get(o, "password_hash"));
	if (strlen(address) > ADDRESS_MAX || s == NULL || strlen(s) > PASSWORD_HASH_MAX) {
		cli_error("user.json: a bad address or password hash");
		goto fail;
	}
	snprintf(u->address, sizeof(u->address), "%s", address);
	snprintf(u->password_hash, sizeof(u->password_hash), "%s", s);
	s = json_string_value(json_object_get(o, "role"));
	u->role = s != NULL && strcmp(s, "admin") == 0 ? ROLE_ADMIN : ROLE_USER;
	u->imap = json_bool(o, "imap", true);
	u->pop3 = json_bool(o, "pop3", true);
	u->submission = json_bool(o, "submission", true);
	u->disabled = json_bool(o, "disabled", false);
	u->reject_mail = json_bool(o, "reject_mail", false);
	v = json_object_get(o, "quota_bytes");
	u->quota_bytes = json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
	*root_out = o;
	return 0;
fail:
	json_decref(o);
	return -1;
}

/* Reads exactly len bytes.  0 or -1. */
static int
read_full(FILE *f, void *buf, size_t len)
{
	return fread(buf, 1, len, f) == len ? 0 : -1;
}

/* Copies an entry's data (size bytes and the padding) to path, or skips
 * it (path NULL).  0 or -1 (printed). */
static int
extract(FILE *in, const struct tar_entry *e, const char *path)
{
	unsigned char b[65536];
	uint64_t left = e->size, pad = (TAR_BLOCK - e->size % TAR_BLOCK) % TAR_BLOCK;
	int fd = -1;

	if (path != NULL && (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	while (left + pad > 0) {
		size_t n = left + pad < sizeof(b) ? (size_t)(left + pad) : sizeof(b);
		size_t data = left < n ? (size_t)left : n;

		if (read_full(in, b, n) != 0) {
			cli_error("the archive ends inside %s", e->name);
			goto fail;
		}
		if (fd >= 0 && data > 0 && write(fd, b, data) != (ssize_t)data) {
			cli_error("%s: %s", path, strerror(errno));
			goto fail;
		}
		left -= data;
		pad -= n - data;
	}
	if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0)) {
		fd = -1;
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int
add_user(struct directory *dir, const struct dir_user *u, json_t *root, bool apppw)
{
	const char *error;
	json_t *a, *p;
	size_t i;

	if (directory_user_add(dir, u->address, u->password_hash, u->role, &error) != 0 ||
	    directory_user_update(dir, u, &error) != 0) {
		cli_error("%s: %s", u->address, error);
		return -1;
	}
	a = json_object_get(root, "app_passwords");
	if (!apppw || !json_is_array(a))
		return 0;
	json_array_foreach(a, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *hash = json_string_value(json_object_get(p, "hash"));
		json_int_t proto = json_integer_value(json_object_get(p, "protocols"));

		if (name == NULL || hash == NULL ||
		    directory_app_password_add(dir, u->address, name, hash, (unsigned)proto & DIR_PROTO_ALL, &error) != 0)
			cli_error("%s: app password %s not added: %s", u->address, name != NULL ? name : "?",
			          name == NULL || hash == NULL ? "incomplete" : error);
	}
	return 0;
}

int
cli_user_move_import(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL }, *error;
	bool no_apppw = false;
	const struct cli_opt opts[] = {
		{ "--no-app-passwords", NULL, &no_apppw },
		{ NULL, NULL, NULL },
	};
	const struct tern_config *cfg;
	struct directory *dir = NULL;
	struct dir_user u, existing;
	struct tar_entry e;
	unsigned char h[TAR_BLOCK];
	char live[PATH_MAX], tmp[PATH_MAX], p[PATH_MAX], h_dir[PATH_MAX], *json = NULL;
	json_t *root = NULL;
	bool made_tmp = false, has_index = false, moved = false;
	uint64_t files = 0;
	size_t npos = 0;
	FILE *in = NULL;
	int r, ret = CLI_EXIT_ERROR;

	memset(&u, 0, sizeof(u));
	if ((r = cli_parse(ctx, argc, argv, opts, pos, 1, 2, &npos, import_usage)) != CLI_CONTINUE)
		return r;
	if ((in = fopen(pos[0], "re")) == NULL) {
		cli_error("%s: %s", pos[0], strerror(errno));
		return CLI_EXIT_ERROR;
	}
	if (cli_open_directory(ctx, &dir) != 0)
		goto done;
	cfg = cli_config_loaded();
	/* user.json comes first */
	if (read_full(in, h, TAR_BLOCK) != 0 || tar_header_parse(h, &e, &error) != 1 || e.dir ||
	    strcmp(e.name, "user.json") != 0 || e.size > USER_JSON_MAX) {
		cli_error("%s: not an archive of tern user export (no user.json first)", pos[0]);
		goto done;
	}
	json = calloc(1, (size_t)e.size + TAR_BLOCK + 1);
	if (json == NULL || read_full(in, json, (size_t)((e.size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK)) != 0) {
		cli_error("%s: the archive ends inside user.json", pos[0]);
		goto done;
	}
	json[e.size] = '\0';
	if (parse_user(json, npos > 1 ? pos[1] : NULL, &u, &root) != 0)
		goto done;
	if ((r = directory_user_get(dir, u.address, &existing, &error)) != 0) {
		cli_error("%s: %s", u.address, r == 1 ? "exists already: nothing imported" : error);
		goto done;
	}
	if (store_user_dir(cfg->data_dir, u.address, live, sizeof(live)) != 0) {
		cli_error("%s: not a valid address", u.address);
		goto done;
	}
	if (access(live, F_OK) == 0) {
		cli_error("%s: a mail folder exists at %s already (a user deleted with --keep-mail?): "
		          "move it away first", u.address, live);
		goto done;
	}
	snprintf(p, sizeof(p), "%s", live);
	*strrchr(p, '/') = '\0';
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.user-import.%ld", p, (long)getpid()) >= sizeof(tmp)) {
		cli_error("path too long");
		goto done;
	}
	/* mail/ and mail/DOMAIN (cli_own_user_store gives them to the server) */
	if (backup_join(h_dir, sizeof(h_dir), cfg->data_dir, "mail") != 0 || backup_mkdir(h_dir, 0700) != 0 ||
	    backup_mkdir(p, 0700) != 0)
		goto done;
	made_tmp = true;
	if (backup_join(p, sizeof(p), tmp, "msg") != 0 || backup_mkdir(tmp, 0700) != 0 || backup_mkdir(p, 0700) != 0)
		goto done;
	for (;;) {
		const char *name;

		if (read_full(in, h, TAR_BLOCK) != 0) {
			cli_error("%s: the archive ends without its end blocks", pos[0]);
			goto done;
		}
		if ((r = tar_header_parse(h, &e, &error)) == 0)
			break;
		if (r < 0) {
			cli_error("%s: %s", pos[0], error);
			goto done;
		}
		name = NULL;
		if (!e.dir && strcmp(e.name, "mail/index.db") == 0) {
			if (backup_join(p, sizeof(p), tmp, "index.db") != 0)
				goto done;
			name = p;
			has_index = true;
		} else if (!e.dir && strncmp(e.name, "mail/msg/", 9) == 0 && strchr(e.name + 9, '/') == NULL) {
			if ((size_t)snprintf(p, sizeof(p), "%s/msg/%s", tmp, e.name + 9) >= sizeof(p)) {
				cli_error("%s: path too long", e.name);
				goto done;
			}
			name = p;
			files++;
		} else if (!e.dir) {
			printf("%s: %s: not part of a user's account: passed over\n", pos[0], e.name);
		}
		if (extract(in, &e, name) != 0)
			goto done;
	}
	if (!has_index && files > 0) {
		cli_error("%s: message files without mail/index.db", pos[0]);
		goto done;
	}
	if (has_index) {
		if (rename(tmp, live) != 0) {
			cli_error("rename %s to %s: %s", tmp, live, strerror(errno));
			goto done;
		}
		moved = true;
		made_tmp = false;
	}
	if (add_user(dir, &u, root, !no_apppw) != 0) {
		if (moved && rename(live, tmp) == 0)
			made_tmp = true;
		goto done;
	}
	if (has_index && cli_own_user_store(cfg, u.address) != 0)
		goto done;
	printf("user %s imported: %" PRIu64 " message files%s\n", u.address, files,
	       no_apppw ? ", no app passwords" : "");
	ret = CLI_EXIT_OK;
done:
	if (made_tmp)
		cli_remove_tree(tmp);
	if (json != NULL) {
		str_wipe(json, strlen(json));
		free(json);
	}
	json_decref(root);
	str_wipe(&u, sizeof(u));
	directory_close(&dir);
	if (in != NULL)
		fclose(in);
	return ret;
}
