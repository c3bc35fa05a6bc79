/* tern export maildir|mbox USER PATH: a user's mail for another server or
 * a mail program, the inverse of tern import.
 *
 * maildir: Dovecot's Maildir++ (https://doc.dovecot.org/admin_manual/
 * mailbox_formats/maildir/), so that Dovecot pointed at PATH serves what
 * Tern served:
 *   PATH/{cur,new,tmp}        INBOX; PATH/.A.B/ the folder A/B (levels in
 *                             modified UTF-7, '.' between them), with an
 *                             empty maildirfolder file
 *   FOLDER/dovecot-uidlist    "3 V<uidvalidity> N<uidnext>", then
 *                             "<uid> P<pop3 uidl> :<base name>"
 *   FOLDER/dovecot-keywords   "<index> <keyword>", index 0 = letter a
 *   cur/<base>:2,<flags>      base "<date>.T<uid>V<uidvalidity>.tern,S=<size>,W=<size>";
 *                             flags DFRST and keyword letters in ASCII
 *                             order; mtime = the internal date
 *   PATH/subscriptions        "V\t2\n\n", then names, TAB between levels
 * Files keep Tern's bytes (CRLF line ends): Dovecot serves them as they
 * are, so BODY[] stays byte for byte, and S= and W= are both the size.
 * Each message's POP3 UIDL (Tern's, or the one an import kept) goes in
 * the uidlist as P<uidl>, which Dovecot's POP3 serves before its
 * pop3_uidl_format: POP3 clients download nothing again.
 *
 * mbox: one mboxrd file per folder, PATH/A/B.mbox for A/B (the layout
 * tern import mbox reads back), each message after a From_ line with its
 * internal date (asctime, UTC) and followed by an empty line; LF line
 * ends; ^>*From  lines get one more '>'; the flags and keywords as
 * Status, X-Status and X-Keywords at the end of the header, as mutt and
 * Dovecot write them. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "directory/directory.h"
#include "imap/imap_cmd.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "pop3/pop3_parse.h"
#include "store/store.h"
#include "store/store_imap.h"

static const char export_usage[] =
	"usage: tern export maildir USER PATH\n"
	"       tern export mbox USER PATH\n"
	"\n"
	"Writes USER's mail into PATH (a new or empty directory).\n"
	"\n"
	"maildir: Dovecot's Maildir++ layout: each folder's UIDVALIDITY, UIDs\n"
	"and POP3 UIDLs in dovecot-uidlist, keywords in dovecot-keywords, flags\n"
	"in the file names, internal dates as the files' mtimes, subscriptions.\n"
	"Point Dovecot's mail_location = maildir:... at it and clients carry on\n"
	"without downloading anything again.  A folder whose name holds a \".\"\n"
	"cannot be a Maildir++ folder: it is reported and left out.\n"
	"\n"
	"mbox: one mboxrd file per folder, PATH/Name.mbox (subfolders in\n"
	"PATH/Name/), From_ lines with the internal date, flags and keywords in\n"
	"Status, X-Status and X-Keywords (tern import mbox reads them back).\n"
	"\n"
	"The server may run meanwhile: each folder is read as it is then.\n";

struct export_totals {
	size_t folders, messages, failed;
	uint64_t bytes;
};

/* PATH must be new or empty: nothing is overwritten. */
static int
target_ready(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		cli_error("%s: %s", path, errno == EEXIST ? "not a directory" : strerror(errno));
		return -1;
	}
	if (rmdir(path) != 0 || mkdir(path, 0700) != 0) {
		cli_error("%s: not empty (export writes into a new or empty directory)", path);
		return -1;
	}
	return 0;
}

static int
mkdir_p(char *path)
{
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Opens a message file of the store. */
static int
open_msg(struct store *st, const struct store_imap_msg *m)
{
	struct store_msg sm = { .uid = m->uid, .size = m->size, .internal_date = m->internal_date };
	const char *error;
	int fd;

	memcpy(sm.file, m->file, sizeof(sm.file));
	if ((fd = store_msg_open(st, &sm, &error)) < 0)
		cli_error("message %u: %s", m->uid, errno == ENOENT ? "expunged meanwhile" : error);
	return fd;
}

/* --- maildir --- */

/* Keywords of one folder, by letter. */
struct kwmap {
	char *kw[26];
	size_t n;
	bool overflow;
};

/* The letter of keyword w (len bytes), adding it; 0 past 26. */
static char
kw_letter(struct kwmap *k, const char *w, size_t len)
{
	for (size_t i = 0; i < k->n; i++) {
		if (strlen(k->kw[i]) == len && strncasecmp(k->kw[i], w, len) == 0)
			return (char)('a' + i);
	}
	if (k->n == 26) {
		k->overflow = true;
		return 0;
	}
	k->kw[k->n] = xstrndup(w, len);
	return (char)('a' + k->n++);
}

static int
cmp_char(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

/* ":2," and the flag letters of m, ASCII order. */
static void
info_of(const struct store_imap_msg *m, struct kwmap *k, char *out, size_t outsize)
{
	char letters[64];
	size_t n = 0;

	if (m->flags & STORE_FLAG_DRAFT)
		letters[n++] = 'D';
	if (m->flags & STORE_FLAG_FLAGGED)
		letters[n++] = 'F';
	if (m->flags & STORE_FLAG_ANSWERED)
		letters[n++] = 'R';
	if (m->flags & STORE_FLAG_SEEN)
		letters[n++] = 'S';
	if (m->flags & STORE_FLAG_DELETED)
		letters[n++] = 'T';
	for (const char *p = m->keywords; p != NULL && *p != '\0' && n < sizeof(letters) - 1;) {
		size_t len = strcspn(p, " ");
		char c = len > 0 ? kw_letter(k, p, len) : 0;

		if (c != 0 && memchr(letters, c, n) == NULL)
			letters[n++] = c;
		p += len;
		p += strspn(p, " ");
	}
	qsort(letters, n, 1, cmp_char);
	snprintf(out, outsize, ":2,%.*s", (int)n, letters);
}

/* Copies the message file to path, mtime = its internal date. */
static int
copy_file(struct store *st, const struct store_imap_msg *m, const char *path)
{
	char b[65536];
	struct timeval tv[2];
	ssize_t n;
	int in, out, ret = -1;

	if ((in = open_msg(st, m)) < 0)
		return -1;
	if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		cli_error("%s: %s", path, strerror(errno));
		close(in);
		return -1;
	}
	while ((n = read(in, b, sizeof(b))) > 0) {
		if (write(out, b, (size_t)n) != n) {
			cli_error("%s: %s", path, strerror(errno));
			goto done;
		}
	}
	if (n < 0) {
		cli_error("message %u: %s", m->uid, strerror(errno));
		goto done;
	}
	tv[0].tv_sec = tv[1].tv_sec = (time_t)m->internal_date;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	if (futimes(out, tv) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		goto done;
	}
	ret = 0;
done:
	if (close(out) != 0 && ret == 0) {
		cli_error("%s: %s", path, strerror(errno));
		ret = -1;
	}
	close(in);
	if (ret != 0)
		unlink(path);
	return ret;
}

/* Writes dir/name.  0 or -1 (printed). */
static int
write_text(const char *dir, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		cli_error("%s: path too long", dir);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

/* Exports one folder into dir.  0 or -1 (printed). */
static int
maildir_folder(struct store *st, const char *mailbox, const char *dir, bool sub, struct export_totals *t)
{
	struct store_mailbox_info info;
	struct store_imap_msg *msgs = NULL;
	struct store_msg *plain = NULL;
	struct buf uidlist = BUF_INIT, kwfile = BUF_INIT;
	struct kwmap k = { .n = 0 };
	size_t n = 0, n_plain = 0, j = 0, done = 0;
	const char *error;
	char path[PATH_MAX];
	int ret = -1;

	if (store_imap_list(st, mailbox, &info, &msgs, &n, &error) != STORE_OK ||
	    store_list(st, mailbox, &info, &plain, &n_plain, &error) != 0) {
		cli_error("%s: %s", mailbox, error);
		goto done;
	}
	for (const char *s = "cur\0new\0tmp\0"; *s != '\0'; s += 4) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, s) >= sizeof(path) || mkdir_p(path) != 0) {
			cli_error("%s: %s", path, strerror(errno));
			goto done;
		}
	}
	if (sub) {
		if (write_text(dir, "maildirfolder", "", 0) != 0)
			goto done;
	}
	buf_printf(&uidlist, "3 V%" PRIu32 " N%" PRIu32 "\n", info.uidvalidity, info.uidnext);
	for (size_t i = 0; i < n; i++) {
		const struct store_imap_msg *m = &msgs[i];
		char base[128], inf[80], uidl[STORE_UIDL_MAX + 1];

		/* the POP3 UIDL: the one an import kept, else Tern's own */
		while (j < n_plain && plain[j].uid < m->uid)
			j++;
		if (j < n_plain && plain[j].uid == m->uid && plain[j].pop3_uidl[0] != '\0')
			snprintf(uidl, sizeof(uidl), "%s", plain[j].pop3_uidl);
		else
			pop3_uidl_format(info.uidvalidity, m->uid, uidl);
		snprintf(base, sizeof(base), "%" PRId64 ".T%" PRIu32 "V%" PRIu32 ".tern,S=%" PRIu64 ",W=%" PRIu64,
		         m->internal_date, m->uid, info.uidvalidity, m->size, m->size);
		info_of(m, &k, inf, sizeof(inf));
		if ((size_t)snprintf(path, sizeof(path), "%s/cur/%s%s", dir, base, inf) >= sizeof(path)) {
			cli_error("%s: path too long", dir);
			goto done;
		}
		if (copy_file(st, m, path) != 0) {
			t->failed++;
			continue;
		}
		buf_printf(&uidlist, "%" PRIu32 " P%s :%s\n", m->uid, uidl, base);
		done++;
		t->bytes += m->size;
	}
	for (size_t i = 0; i < k.n; i++)
		buf_printf(&kwfile, "%zu %s\n", i, k.kw[i]);
	if (write_text(dir, "dovecot-uidlist", uidlist.data, uidlist.len) != 0)
		goto done;
	if (k.n > 0 && write_text(dir, "dovecot-keywords", kwfile.data, kwfile.len) != 0)
		goto done;
	if (k.overflow)
		cli_error("%s: more than 26 keywords: Maildir++ file names hold 26, the others are left out", mailbox);
	printf("%s: %zu messages (UIDVALIDITY %" PRIu32 ")\n", mailbox, done, info.uidvalidity);
	t->messages += done;
	t->folders++;
	ret = 0;
done:
	for (size_t i = 0; i < k.n; i++)
		free(k.kw[i]);
	store_imap_msgs_free(msgs, n);
	free(plain);
	buf_free(&uidlist);
	buf_free(&kwfile);
	return ret;
}

/* The Maildir++ directory of a folder: ".A.B" in modified UTF-7; NULL
 * (printed) for a name with a '.' in it. */
static char *
maildir_name(const char *name)
{
	struct buf b = BUF_INIT;
	char *out;

	if (strchr(name, '.') != NULL) {
		cli_error("%s: a \".\" in a name cannot be a Maildir++ folder (Dovecot's separator): left out", name);
		return NULL;
	}
	buf_puts(&b, ".");
	imap_mailbox_encode(&b, name);
	for (char *p = b.data + 1; *p != '\0'; p++) {
		if (*p == STORE_MAILBOX_DELIM)
			*p = '.';
	}
	out = xstrdup(b.data);
	buf_free(&b);
	return out;
}

static int
export_maildir(struct store *st, const char *root, struct export_totals *t)
{
	struct store_mailbox_entry *e = NULL;
	struct buf subs = BUF_INIT;
	const char *error;
	char path[PATH_MAX];
	size_t n = 0;
	int ret = 0;

	if (store_mailboxes(st, &e, &n, &error) != 0) {
		cli_error("%s", error);
		return -1;
	}
	buf_puts(&subs, "V\t2\n\n");
	for (size_t i = 0; i < n; i++) {
		bool inbox = strcasecmp(e[i].name, "INBOX") == 0;
		char *disk = NULL;

		if (!inbox && (disk = maildir_name(e[i].name)) == NULL) {
			t->failed++;
			ret = -1;
			continue;
		}
		if (e[i].subscribed) {
			struct buf enc = BUF_INIT;

			imap_mailbox_encode(&enc, e[i].name);
			for (char *p = enc.data; *p != '\0'; p++) {
				if (*p == STORE_MAILBOX_DELIM)
					*p = '\t';
			}
			buf_printf(&subs, "%s\n", enc.data);
			buf_free(&enc);
		}
		if (e[i].exists) {
			if ((size_t)snprintf(path, sizeof(path), "%s%s%s", root, inbox ? "" : "/", inbox ? "" : disk) >=
			        sizeof(path) ||
			    maildir_folder(st, e[i].name, path, !inbox, t) != 0) {
				t->failed++;
				ret = -1;
			}
		}
		free(disk);
	}
	if (write_text(root, "subscriptions", subs.data, subs.len) != 0)
		ret = -1;
	buf_free(&subs);
	store_mailbox_entries_free(e, n);
	return ret;
}

/* --- mbox --- */

/* Writes the status fields of m (before the header's empty line). */
static void
status_fields(FILE *out, const struct store_imap_msg *m)
{
	fprintf(out, "Status: %sO\n", m->flags & STORE_FLAG_SEEN ? "R" : "");
	if (m->flags & (STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT | STORE_FLAG_DELETED))
		fprintf(out, "X-Status: %s%s%s%s\n", m->flags & STORE_FLAG_ANSWERED ? "A" : "",
		        m->flags & STORE_FLAG_FLAGGED ? "F" : "", m->flags & STORE_FLAG_DRAFT ? "T" : "",
		        m->flags & STORE_FLAG_DELETED ? "D" : "");
	if (m->keywords != NULL && m->keywords[0] != '\0')
		fprintf(out, "X-Keywords: %s\n", m->keywords);
}

/* One message: From_ line, header with the status fields, body, LF line
 * ends, ^>*From  quoted (mboxrd), an empty line after it. */
static int
mbox_message(struct store *st, const struct store_imap_msg *m, FILE *out)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t when = (time_t)m->internal_date;
	bool header = true, nl = true;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct tm tm;
	FILE *in;
	int fd;

	if ((fd = open_msg(st, m)) < 0)
		return -1;
	if ((in = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	gmtime_r(&when, &tm);
	fprintf(out, "From MAILER-DAEMON %s %s %2d %02d:%02d:%02d %d\n", wd[tm.tm_wday], mon[tm.tm_mon], tm.tm_mday,
	        tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	/* a line at a time: bounded by the message's own size (max_message_size) */
	while ((len = getline(&line, &cap, in)) > 0) {
		size_t q = 0;

		if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n') {
			line[len - 2] = '\n';
			len--;
		}
		if (header && len == 1 && line[0] == '\n') {
			status_fields(out, m);
			header = false;
		}
		while (q < (size_t)len && line[q] == '>')
			q++;
		if ((size_t)len - q >= 5 && memcmp(line + q, "From ", 5) == 0)
			fputc('>', out);
		fwrite(line, 1, (size_t)len, out);
		nl = line[len - 1] == '\n';
	}
	if (!nl)
		fputc('\n', out);
	if (header) {
		/* no body: the fields, then the empty line a header ends with */
		status_fields(out, m);
		fputc('\n', out);
	}
	fputc('\n', out);
	free(line);
	fclose(in);
	return ferror(out) ? -1 : 0;
}

static int
export_mbox(struct store *st, const char *root, struct export_totals *t)
{
	struct store_mailbox_entry *e = NULL;
	const char *error;
	size_t n = 0;
	int ret = 0;

	if (store_mailboxes(st, &e, &n, &error) != 0) {
		cli_error("%s", error);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_mailbox_info info;
		struct store_imap_msg *msgs = NULL;
		char path[PATH_MAX], *slash;
		size_t nm = 0, done = 0;
		FILE *out;
		bool bad = false;

		if (!e[i].exists)
			continue;
		/* levels become directories: none may be "." or ".." */
		for (const char *p = e[i].name; *p != '\0'; p += strcspn(p, "/"), p += *p == '/') {
			size_t l = strcspn(p, "/");

			bad = bad || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.');
		}
		if (bad || (size_t)snprintf(path, sizeof(path), "%s/%s.mbox", root, e[i].name) >= sizeof(path)) {
			cli_error("%s: not a name for a file: left out", e[i].name);
			t->failed++;
			ret = -1;
			continue;
		}
		slash = strrchr(path, '/');
		*slash = '\0';
		if (mkdir_p(path) != 0) {
			cli_error("%s: %s", path, strerror(errno));
			ret = -1;
			continue;
		}
		*slash = '/';
		if (store_imap_list(st, e[i].name, &info, &msgs, &nm, &error) != STORE_OK) {
			cli_error("%s: %s", e[i].name, error);
			ret = -1;
			continue;
		}
		if ((out = fopen(path, "wx")) == NULL) {
			cli_error("%s: %s", path, strerror(errno));
			store_imap_msgs_free(msgs, nm);
			ret = -1;
			continue;
		}
		for (size_t k = 0; k < nm; k++) {
			if (mbox_message(st, &msgs[k], out) != 0) {
				t->failed++;
				continue;
			}
			done++;
			t->bytes += msgs[k].size;
		}
		if (fclose(out) != 0) {
			cli_error("%s: %s", path, strerror(errno));
			ret = -1;
		}
		store_imap_msgs_free(msgs, nm);
		printf("%s: %zu messages\n", e[i].name, done);
		t->messages += done;
		t->folders++;
	}
	store_mailbox_entries_free(e, n);
	return ret;
}

static int
export_run(struct cli_ctx *ctx, int argc, char **argv, bool maildir)
{
	const char *pos[2], *error;
	struct directory *dir = NULL;
	struct store *st = NULL;
	struct export_totals t = { 0 };
	struct dir_user u;
	int r, ret = CLI_EXIT_ERROR;

	if ((r = cli_parse(ctx, argc, argv, NULL, pos, 2, 2, NULL, export_usage)) != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	if ((r = directory_user_get(dir, pos[0], &u, &error)) != 1) {
		cli_error("%s: %s", pos[0], r == 0 ? "no such user" : error);
		goto done;
	}
	if (store_open(cli_config_loaded()->data_dir, u.address, &st, &error) != 0) {
		cli_error("%s", error);
		goto done;
	}
	/* store_open may have made the user's folder: the server's it is */
	if (cli_own_user_store(cli_config_loaded(), u.address) != 0 || target_ready(pos[1]) != 0)
		goto done;
	umask(077);
	r = maildir ? export_maildir(st, pos[1], &t) : export_mbox(st, pos[1], &t);
	printf("total: %zu folders, %zu messages, %" PRIu64 " bytes", t.folders, t.messages, t.bytes);
	if (t.failed > 0)
		printf(", %zu failed", t.failed);
	putchar('\n');
	ret = r == 0 && t.failed == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
done:
	store_close(&st);
	directory_close(&dir);
	return ret;
}

static int
export_maildir_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	return export_run(ctx, argc, argv, true);
}

static int
export_mbox_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	return export_run(ctx, argc, argv, false);
}

int
cli_export(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "maildir", export_maildir_cmd },
		{ "mbox", export_mbox_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, export_usage);
}
