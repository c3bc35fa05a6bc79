/* tern import maildir USER PATH: a Dovecot (or Courier) Maildir++ into a
 * user's store, keeping what lets clients carry on without downloading
 * everything again: each folder's UIDVALIDITY and every UID (from
 * dovecot-uidlist), the POP3 UIDL Dovecot showed (pop3_uidl_format =
 * %08Xu%08Xv, which Dovecot prints in lower-case hex, or the P<uidl> a
 * uidlist line carries), flags and keywords
 * (the ":2," info letters and dovecot-keywords), the internal date (the
 * file's mtime, as Dovecot has it), folder names and subscriptions.
 *
 * Layout (https://doc.dovecot.org/admin_manual/mailbox_formats/maildir/):
 *   PATH/{cur,new}            INBOX
 *   PATH/.A.B/{cur,new}       folder A/B (names in modified UTF-7)
 *   PATH/subscriptions        "V\t2\n\n" then names, levels split by TAB
 *                             (older files: one name a line, '.' or '/')
 *   FOLDER/dovecot-uidlist    "3 V<uidvalidity> N<uidnext> G<guid>", then
 *                             "<uid> [<ext>...] :<base name>"
 *   FOLDER/dovecot-keywords   "<index> <keyword>": letter a is index 0
 *
 * Messages go in through store_imap_import, a batch per transaction: an
 * interrupted import resumes where it stopped, and a second run adds
 * nothing (UIDs below the folder's UIDNEXT are skipped).  Files the
 * uidlist does not name yet (mail Dovecot never listed) get the UIDs
 * Dovecot would have given them next, in file name order. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_mbox.h"
#include "directory/directory.h"
#include "imap/imap_cmd.h"
#include "lib/arena.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "store/store.h"
#include "store/store_imap.h"

static const char import_usage[] =
	"usage: tern import maildir USER PATH [--uidl-format FORMAT]\n"
	"\n"
	"Imports a Dovecot (or Courier) Maildir++ into USER's mailboxes: INBOX\n"
	"from PATH/cur and PATH/new, folders from PATH/.Name (\".\" separates\n"
	"levels), subscriptions from PATH/subscriptions.  From Dovecot's\n"
	"dovecot-uidlist each folder keeps its UIDVALIDITY and every message its\n"
	"UID, so IMAP clients do not resynchronise, and its POP3 UIDL (the P\n"
	"value the uidlist holds, else what Dovecot's common pop3_uidl_format\n"
	"%08Xu%08Xv prints: UID and UIDVALIDITY in hex, lower case), so POP3\n"
	"clients that leave mail on the server download nothing again.  With\n"
	"another pop3_uidl_format, give it as --uidl-format (%u UID, %v\n"
	"UIDVALIDITY, %f file name, %g GUID; width and X as Dovecot has them,\n"
	"e.g. \"%v.%u\" or \"%f\").  Flags, keywords\n"
	"(dovecot-keywords) and internal dates (the files' mtimes) are kept.\n"
	"Sent, Drafts, Trash, Junk and Archive become Tern's special-use\n"
	"folders (\"Sent Messages\", \"Sent Items\", \"Deleted Messages\",\n"
	"\"Deleted Items\", \"Spam\" and \"Archives\" too, when the plain name\n"
	"is absent).\n"
	"\n"
	"Running it again adds nothing: a message whose UID the folder has\n"
	"given out already is skipped and counted.  A folder holding messages\n"
	"under another UIDVALIDITY is left alone (reported).  The user's quota\n"
	"is checked.  The server may run meanwhile; the user's sessions see the\n"
	"new messages.\n";

/* Messages per transaction (and spool files open at once). */
#define IMPORT_BATCH 64
/* Bytes of one message file read at a time. */
#define IMPORT_READ 65536

/* One message file of a folder. */
struct import_msg {
	char *path;                    /* malloc'd */
	char *base;                    /* malloc'd: the name up to ':' */
	uint32_t uid;
	uint32_t flags;
	char *keywords;                /* malloc'd, space-separated, or NULL */
	char *uidl;                    /* malloc'd: a P<uidl> from the uidlist, or NULL */
	int64_t mtime;
};

/* A uidlist line. */
struct uidlist_entry {
	char *base;                    /* malloc'd */
	char *uidl;                    /* malloc'd or NULL */
	uint32_t uid;
};

struct folder {
	uint32_t uidvalidity, uidnext;
	struct uidlist_entry *ent;
	size_t n_ent;
	char *keywords[26];            /* dovecot-keywords, by letter */
	struct import_msg *msgs;
	size_t n_msgs, cap_msgs;
};

struct totals {
	size_t added, skipped, unlisted, folders_failed;
};

static void
folder_free(struct folder *f)
{
	for (size_t i = 0; i < f->n_ent; i++) {
		free(f->ent[i].base);
		free(f->ent[i].uidl);
	}
	free(f->ent);
	for (size_t i = 0; i < 26; i++)
		free(f->keywords[i]);
	for (size_t i = 0; i < f->n_msgs; i++) {
		free(f->msgs[i].path);
		free(f->msgs[i].base);
		free(f->msgs[i].uidl);
		free(f->msgs[i].keywords);
	}
	free(f->msgs);
	memset(f, 0, sizeof(*f));
}

static int
cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct uidlist_entry *)a)->base, ((const struct uidlist_entry *)b)->base);
}

static int
cmp_msg_uid(const void *a, const void *b)
{
	const struct import_msg *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->base, y->base);
}

static int
cmp_msg_base(const void *a, const void *b)
{
	return strcmp(((const struct import_msg *)a)->base, ((const struct import_msg *)b)->base);
}

/* Reads dir/dovecot-uidlist (missing: a folder Dovecot never indexed, all
 * files unlisted).  0 or -1 (printed). */
static int
read_uidlist(const char *dir, struct folder *f)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0, cap_ent = 0;
	ssize_t len;
	FILE *fp;
	int ret = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/dovecot-uidlist", dir) >= sizeof(path)) {
		cli_error("%s: path too long", dir);
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if ((len = getline(&line, &cap, fp)) <= 0) {
		ret = 0;
		goto done;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '3' && line[1] == ' ') {
		for (char *tok = strtok(line + 2, " "); tok != NULL; tok = strtok(NULL, " ")) {
			if (tok[0] == 'V')
				f->uidvalidity = (uint32_t)strtoul(tok + 1, NULL, 10);
			else if (tok[0] == 'N')
				f->uidnext = (uint32_t)strtoul(tok + 1, NULL, 10);
		}
	} else if (line[0] == '1' && line[1] == ' ') {
		unsigned long v, nx;

		if (sscanf(line + 2, "%lu %lu", &v, &nx) == 2) {
			f->uidvalidity = (uint32_t)v;
			f->uidnext = (uint32_t)nx;
		}
	} else {
		cli_error("%s: unknown version line \"%.40s\"", path, line);
		goto done;
	}
	if (f->uidvalidity == 0) {
		cli_error("%s: no UIDVALIDITY in the first line", path);
		goto done;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		struct uidlist_entry *e;
		char *p, *end, *base;
		unsigned long uid;

		line[strcspn(line, "\r\n")] = '\0';
		errno = 0;
		uid = strtoul(line, &end, 10);
		if (end == line || uid == 0 || uid > UINT32_MAX || *end != ' ')
			continue;
		/* v3: extensions, then " :" and the base name; v1: the name */
		if ((p = strstr(end, " :")) != NULL) {
			base = p + 2;
			*p = '\0';
		} else {
			base = end + 1;
			*end = '\0';
		}
		if (f->n_ent == cap_ent) {
			size_t ncap = cap_ent == 0 ? 256 : cap_ent * 2;
			struct uidlist_entry *ne = reallocarray(f->ent, ncap, sizeof(*ne));

			if (ne == NULL) {
				cli_error("out of memory");
				goto done;
			}
			f->ent = ne;
			cap_ent = ncap;
		}
		e = &f->ent[f->n_ent];
		memset(e, 0, sizeof(*e));
		e->uid = (uint32_t)uid;
		if ((e->base = strdup(base)) == NULL) {
			cli_error("out of memory");
			goto done;
		}
		f->n_ent++;
		/* the extensions between the UID and the name */
		for (p = strtok(end, " "); p != NULL; p = strtok(NULL, " ")) {
			if (p[0] == 'P' && p[1] != '\0' && e->uidl == NULL && (e->uidl = strdup(p + 1)) == NULL) {
				cli_error("out of memory");
				goto done;
			}
		}
	}
	if (f->n_ent > 0)   /* qsort of no array at all is undefined */
		qsort(f->ent, f->n_ent, sizeof(*f->ent), cmp_ent);
	ret = 0;
done:
	free(line);
	fclose(fp);
	return ret;
}

/* Reads dir/dovecot-keywords ("<index> <name>", index 0..25 are letters
 * a..z).  0 or -1 (printed). */
static int
read_keywords(const char *dir, struct folder *f)
{
	char path[PATH_MAX], line[STORE_KEYWORD_LEN_MAX + 32];
	FILE *fp;

	if ((size_t)snprintf(path, sizeof(path), "%s/dovecot-keywords", dir) >= sizeof(path))
		return -1;
	if ((fp = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : (cli_error("%s: %s", path, strerror(errno)), -1);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *end, *name;
		unsigned long idx;

		line[strcspn(line, "\r\n")] = '\0';
		idx = strtoul(line, &end, 10);
		if (end == line || *end != ' ' || idx >= 26)
			continue;
		name = end + 1;
		if (name[0] == '\0' || strlen(name) > STORE_KEYWORD_LEN_MAX)
			continue;
		free(f->keywords[idx]);
		if ((f->keywords[idx] = strdup(name)) == NULL) {
			fclose(fp);
			cli_error("out of memory");
			return -1;
		}
	}
	fclose(fp);
	return 0;
}

/* Flags and keywords from a file name's ":2," info.  0 or -1 (memory). */
static int
parse_info(const struct folder *f, const char *name, struct import_msg *m)
{
	char kwbuf[STORE_KEYWORDS_MAX * (STORE_KEYWORD_LEN_MAX + 1) + 1];
	const char *info = strstr(name, ":2,");
	size_t kwlen = 0;

	m->flags = 0;
	kwbuf[0] = '\0';
	if (info == NULL)
		return 0;
	for (const char *p = info + 3; *p != '\0' && *p != ','; p++) {
		switch (*p) {
		case 'D': m->flags |= STORE_FLAG_DRAFT; break;
		case 'F': m->flags |= STORE_FLAG_FLAGGED; break;
		case 'R': m->flags |= STORE_FLAG_ANSWERED; break;
		case 'S': m->flags |= STORE_FLAG_SEEN; break;
		case 'T': m->flags |= STORE_FLAG_DELETED; break;
		default:
			if (*p >= 'a' && *p <= 'z' && f->keywords[*p - 'a'] != NULL) {
				const char *kw = f->keywords[*p - 'a'];
				size_t l = strlen(kw);

				if (kwlen + l + 2 > sizeof(kwbuf))
					break;
				if (kwlen > 0)
					kwbuf[kwlen++] = ' ';
				memcpy(kwbuf + kwlen, kw, l + 1);
				kwlen += l;
			}
			/* P (passed) has no IMAP flag; unknown letters are ignored */
			break;
		}
	}
	if (kwlen > 0 && (m->keywords = strdup(kwbuf)) == NULL)
		return -1;
	return 0;
}

/* Adds the files of dir/sub (cur or new) to f. */
static int
scan_files(const char *dir, const char *sub, struct folder *f)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sub) >= sizeof(path))
		return -1;
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : (cli_error("%s: %s", path, strerror(errno)), -1);
	while ((de = readdir(d)) != NULL) {
		struct import_msg *m;
		struct uidlist_entry key, *e;
		struct stat sb;
		char file[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >= sizeof(file))
			continue;
		if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (f->n_msgs == f->cap_msgs) {
			size_t ncap = f->cap_msgs == 0 ? 256 : f->cap_msgs * 2;
			struct import_msg *nm = reallocarray(f->msgs, ncap, sizeof(*nm));

			if (nm == NULL)
				goto oom;
			f->msgs = nm;
			f->cap_msgs = ncap;
		}
		m = &f->msgs[f->n_msgs];
		memset(m, 0, sizeof(*m));
		if ((m->path = strdup(file)) == NULL || (m->base = strndup(de->d_name, strcspn(de->d_name, ":"))) == NULL) {
			free(m->path);
			goto oom;
		}
		f->n_msgs++;
		m->mtime = (int64_t)sb.st_mtime;
		if (parse_info(f, de->d_name, m) != 0)
			goto oom;
		key.base = m->base;
		e = f->n_ent > 0 ? bsearch(&key, f->ent, f->n_ent, sizeof(*f->ent), cmp_ent) : NULL;
		if (e != NULL) {
			m->uid = e->uid;
			if (e->uidl != NULL && (m->uidl = strdup(e->uidl)) == NULL)
				goto oom;
		}
	}
	closedir(d);
	return 0;
oom:
	closedir(d);
	cli_error("out of memory");
	return -1;
}

/* Gives the files the uidlist does not name the UIDs Dovecot would give
 * them next, in name order; sorts f->msgs by UID.  Returns how many. */
static size_t
number_unlisted(struct folder *f)
{
	uint32_t next = f->uidnext;
	size_t k = 0;

	for (size_t i = 0; i < f->n_msgs; i++) {
		if (f->msgs[i].uid != 0 && f->msgs[i].uid >= next)
			next = f->msgs[i].uid + 1;
	}
	if (next == 0)
		next = 1;
	if (f->n_msgs > 0)
		qsort(f->msgs, f->n_msgs, sizeof(*f->msgs), cmp_msg_base);
	for (size_t i = 0; i < f->n_msgs; i++) {
		if (f->msgs[i].uid == 0) {
			f->msgs[i].uid = next++;
			k++;
		}
	}
	if (f->uidvalidity == 0)
		f->uidvalidity = (uint32_t)time(NULL);
	if (next > f->uidnext)
		f->uidnext = next;
	if (f->n_msgs > 0)
		qsort(f->msgs, f->n_msgs, sizeof(*f->msgs), cmp_msg_uid);
	return k;
}

/* Copies path into a committed spool file with CRLF line ends (Maildir
 * files have LF; Tern's message files and IMAP's octets have CRLF). */
static int
spool_message(const char *data_dir, const char *path, struct store_spool *sp)
{
	unsigned char in[IMPORT_READ], out[2 * IMPORT_READ];
	enum store_error err;
	const char *error;
	bool cr = false;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (store_spool_create(data_dir, sp, &error) != 0) {
		cli_error("%s", error);
		close(fd);
		return -1;
	}
	while ((r = read(fd, in, sizeof(in))) > 0) {
		size_t o = 0;

		for (ssize_t i = 0; i < r; i++) {
			if (in[i] == '\n' && !cr)
				out[o++] = '\r';
			out[o++] = in[i];
			cr = in[i] == '\r';
		}
		if (store_spool_write(sp, out, o, &err) != 0) {
			cli_error("writing the spool: %s", err == STORE_ERR_NOSPACE ? "disk full" : strerror(errno));
			goto fail;
		}
	}
	if (r < 0) {
		cli_error("%s: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	if (store_spool_commit(sp, &err) != 0) {
		cli_error("fsync of the spool failed");
		store_spool_discard(sp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	store_spool_discard(sp);
	return -1;
}

/* Folder name on disk (".A.B" without the dot, modified UTF-7) to Tern's
 * (UTF-8, '/' between levels), in the arena; NULL when invalid. */
static char *
folder_name(const char *disk, struct arena *a)
{
	char *n = arena_strdup(a, disk), *utf8;

	for (char *p = n; *p != '\0'; p++) {
		if (*p == '.')
			*p = STORE_MAILBOX_DELIM;
	}
	if ((utf8 = imap_mailbox_decode(n, strlen(n), false, a)) == NULL)
		return NULL;
	return utf8;
}

/* Dovecot's pop3_uidl_format, the variables a Maildir has
 * (https://doc.dovecot.org/settings/core/#core_setting-pop3_uidl_format):
 * %u or %{uid} the UID, %v or %{uidvalidity} the UIDVALIDITY, %f or
 * %{filename} the file's base name, %g or %{guid} the message GUID (for
 * a Maildir that is the base name too); a width ("08": zero-padded) and
 * the X modifier (hex, printed in lower case as Dovecot does) before the
 * variable; %% a percent sign.  %m (an MD5 of the header: mbox only) is
 * not supported.  Returns 0 with out filled, or -1 with *error_out
 * (static) for a format it cannot expand or a result POP3 cannot carry
 * (RFC 1939 7: 1 to 70 characters 0x21..0x7E). */
static int
uidl_expand(const char *fmt, uint32_t uid, uint32_t uidvalidity, const char *base, char *out, size_t outsize,
            const char **error_out)
{
	size_t o = 0;

	for (const char *p = fmt; *p != '\0'; p++) {
		char piece[PATH_MAX];
		int width = 0;
		bool zero = false, hex = false;
		const char *name = NULL;

		if (*p != '%') {
			snprintf(piece, sizeof(piece), "%c", *p);
			goto put;
		}
		p++;
		if (*p == '%') {
			snprintf(piece, sizeof(piece), "%%");
			goto put;
		}
		zero = *p == '0';
		while (*p >= '0' && *p <= '9' && width < 100)
			width = width * 10 + (*p++ - '0');
		while (*p == 'X') {
			hex = true;
			p++;
		}
		if (*p == '{') {
			const char *end = strchr(p, '}');

			if (end == NULL) {
				*error_out = "an unclosed %{ in the format";
				return -1;
			}
			if (strncmp(p, "{uid}", 5) == 0)
				name = "u";
			else if (strncmp(p, "{uidvalidity}", 13) == 0)
				name = "v";
			else if (strncmp(p, "{filename}", 10) == 0)
				name = "f";
			else if (strncmp(p, "{guid}", 6) == 0)
				name = "g";
			p = end;
		} else if (*p != '\0' && strchr("uvfg", *p) != NULL) {
			name = p;
		}
		if (name == NULL) {
			*error_out = "a variable other than %u, %v, %f, %g (and their %{...} names) in the format";
			return -1;
		}
		if (name[0] == 'u' || name[0] == 'v')
			snprintf(piece, sizeof(piece), hex ? (zero ? "%0*x" : "%*x") : (zero ? "%0*u" : "%*u"), width,
			         (unsigned)(name[0] == 'u' ? uid : uidvalidity));
		else
			snprintf(piece, sizeof(piece), "%*s", width, base);
	put:
		if (o + strlen(piece) >= outsize) {
			*error_out = "the UIDL is longer than POP3 allows (70 characters)";
			return -1;
		}
		memcpy(out + o, piece, strlen(piece) + 1);
		o += strlen(piece);
	}
	for (size_t i = 0; i < o; i++) {
		if ((unsigned char)out[i] < 0x21 || (unsigned char)out[i] > 0x7e) {
			*error_out = "the UIDL holds a character POP3 does not allow (a space?)";
			return -1;
		}
	}
	if (o == 0) {
		*error_out = "an empty UIDL";
		return -1;
	}
	return 0;
}

/* Imports one folder (dir on disk) into mailbox.  0; -1 when the import
 * must stop (quota, disk); 1 when this folder failed and others may go
 * on. */
static int
import_folder(struct store *st, const char *data_dir, const char *dir, const char *mailbox, uint64_t quota,
              const char *uidl_format, struct totals *t)
{
	struct store_import batch[IMPORT_BATCH];
	struct store_spool spools[IMPORT_BATCH];
	struct store_mailbox_status status;
	struct folder f = { 0 };
	size_t added = 0, skipped = 0, unlisted, nb = 0, i;
	bool tty = isatty(STDERR_FILENO) == 1, shown = false;
	time_t last = 0;
	const char *error;
	int r, ret = 1;

	if (read_uidlist(dir, &f) != 0 || read_keywords(dir, &f) != 0 || scan_files(dir, "cur", &f) != 0 ||
	    scan_files(dir, "new", &f) != 0)
		goto done;
	unlisted = number_unlisted(&f);
	r = store_mailbox_create(st, mailbox, NULL, &error);
	if (r != STORE_OK && r != STORE_IMAP_EXISTS) {
		cli_error("%s: cannot create it: %s", mailbox, error);
		goto done;
	}
	if (store_mailbox_status(st, mailbox, &status, &error) != STORE_OK) {
		cli_error("%s: %s", mailbox, error);
		goto done;
	}
	if (status.uidvalidity != f.uidvalidity && status.messages > 0) {
		cli_error("%s: skipped: it holds %" PRIu32 " messages under UIDVALIDITY %" PRIu32 ", Dovecot's is %" PRIu32
		          " (empty it, or import into another user, to keep Dovecot's UIDs)",
		          mailbox, status.messages, status.uidvalidity, f.uidvalidity);
		goto done;
	}
	for (i = 0; i <= f.n_msgs; i++) {
		struct import_msg *m = i < f.n_msgs ? &f.msgs[i] : NULL;

		/* a progress line on a terminal, once a second */
		if (tty && time(NULL) != last) {
			last = time(NULL);
			fprintf(stderr, "\r%s: %zu of %zu messages   ", mailbox, i, f.n_msgs);
			fflush(stderr);
			shown = true;
		}
		/* given out already under the same UIDVALIDITY: no copy needed */
		if (m != NULL && status.uidvalidity == f.uidvalidity && m->uid < status.uidnext) {
			skipped++;
			continue;
		}
		if (m != NULL) {
			char dflt[STORE_UIDL_MAX + 1];

			if (spool_message(data_dir, m->path, &spools[nb]) != 0) {
				ret = -1;
				goto flush_fail;
			}
			if (m->uidl == NULL) {
				if (uidl_expand(uidl_format, m->uid, f.uidvalidity, m->base, dflt, sizeof(dflt), &error) != 0) {
					cli_error("%s: UID %" PRIu32 ": --uidl-format: %s", mailbox, m->uid, error);
					nb++;
					ret = -1;
					goto flush_fail;
				}
				if ((m->uidl = strdup(dflt)) == NULL) {
					nb++;
					ret = -1;
					goto flush_fail;
				}
			}
			batch[nb] = (struct store_import){
				.spool = &spools[nb],
				.uid = m->uid,
				.flags = m->flags,
				.keywords = m->keywords != NULL ? m->keywords : "",
				.internal_date = m->mtime,
				.pop3_uidl = m->uidl,
			};
			nb++;
		}
		if (nb == 0 || (nb < IMPORT_BATCH && m != NULL))
			continue;
		/* UIDNEXT is raised to Dovecot's after the last batch (below):
		 * raised now, it would make the next batches look imported */
		r = store_imap_import(st, mailbox, f.uidvalidity, 0, batch, nb, quota, 0, &error);
		if (r != STORE_OK) {
			if (r == STORE_ERR_QUOTA)
				cli_error("%s: refused: %s; nothing more imported (raise the quota with "
				          "\"tern user set USER --quota SIZE\" and run the import again)", mailbox, error);
			else
				cli_error("%s: %s", mailbox, error);
			ret = r == STORE_IMAP_UIDVALIDITY ? 1 : -1;
			goto flush_fail;
		}
		for (size_t k = 0; k < nb; k++) {
			if (batch[k].skipped_out)
				skipped++;
			else
				added++;
			store_spool_discard(&spools[k]);
		}
		nb = 0;
	}
	if (shown)
		fputs("\n", stderr);
	/* Dovecot's UIDNEXT (its expunged UIDs stay given out), and its
	 * UIDVALIDITY for a folder with nothing to add */
	r = f.uidnext > 0 ? store_imap_import(st, mailbox, f.uidvalidity, f.uidnext, NULL, 0, quota, 0, &error)
	                  : STORE_OK;
	if (r != STORE_OK) {
		cli_error("%s: %s", mailbox, error);
		ret = r == STORE_IMAP_UIDVALIDITY ? 1 : -1;
		goto done;
	}
	printf("%s: %zu added, %zu already there (UIDVALIDITY %" PRIu32 ")", mailbox, added, skipped, f.uidvalidity);
	if (unlisted > 0)
		printf(", %zu not in dovecot-uidlist given UIDs from %" PRIu32, unlisted, f.uidnext - (uint32_t)unlisted);
	putchar('\n');
	t->added += added;
	t->skipped += skipped;
	t->unlisted += unlisted;
	ret = 0;
	goto done;
flush_fail:
	for (size_t k = 0; k < nb; k++)
		store_spool_discard(&spools[k]);
	if (shown)
		fputs("\n", stderr);
	printf("%s: %zu added, %zu already there before it stopped\n", mailbox, added, skipped);
	t->added += added;
	t->skipped += skipped;
done:
	folder_free(&f);
	return ret;
}

/* Subscriptions: "V\t2\n\n" then names with TAB between levels, or (old
 * files) one name a line with the namespace's separator. */
static void
import_subscriptions(struct store *st, const char *root, char **names, size_t n, struct arena *a)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0, count = 0;
	bool v2 = false, first = true;
	FILE *fp;

	if ((size_t)snprintf(path, sizeof(path), "%s/subscriptions", root) >= sizeof(path))
		return;
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (getline(&line, &cap, fp) > 0) {
		const char *error, *name;
		char *utf8;

		line[strcspn(line, "\r\n")] = '\0';
		if (first && strncmp(line, "V\t", 2) == 0) {
			v2 = true;
			first = false;
			continue;
		}
		first = false;
		if (line[0] == '\0')
			continue;
		for (char *p = line; *p != '\0'; p++) {
			if (*p == '\t' || (!v2 && *p == '.'))
				*p = STORE_MAILBOX_DELIM;
		}
		if ((utf8 = imap_mailbox_decode(line, strlen(line), false, a)) == NULL)
			continue;
		name = cli_import_special(utf8, names, n);
		if (store_mailbox_subscribe(st, name, true, &error) == 0)
			count++;
		else
			cli_error("subscribing %s: %s", name, error);
	}
	free(line);
	fclose(fp);
	printf("subscriptions: %zu kept\n", count);
}

static int
import_maildir(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2], *error, *uidl_format = "%08Xu%08Xv";
	const struct cli_opt opts[] = {
		{ "--uidl-format", &uidl_format, NULL },
		{ NULL, NULL, NULL },
	};
	char probe[STORE_UIDL_MAX + 1];
	struct directory *dir = NULL;
	struct store *st = NULL;
	struct arena *a = NULL;
	struct totals t = { 0 };
	struct dir_user u;
	char **names = NULL, **disk = NULL;
	size_t n = 0, cap = 0, failed = 0;
	struct dirent *de;
	struct stat sb;
	DIR *d = NULL;
	int r, ret = CLI_EXIT_ERROR;

	if ((r = cli_parse(ctx, argc, argv, opts, pos, 2, 2, NULL, import_usage)) != CLI_CONTINUE)
		return r;
	if (uidl_expand(uidl_format, 1, 1, "1.M1P1.host", probe, sizeof(probe), &error) != 0)
		return cli_usage_error(import_usage, "--uidl-format %s: %s", uidl_format, error);
	if (stat(pos[1], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		cli_error("%s: not a directory", pos[1]);
		return CLI_EXIT_ERROR;
	}
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
	if (store_ensure_default_mailboxes(st, &error) != 0) {
		cli_error("%s", error);
		goto done;
	}
	a = arena_new(4096, false);
	/* INBOX, then every .Name folder with a cur/ */
	if ((d = opendir(pos[1])) == NULL) {
		cli_error("%s: %s", pos[1], strerror(errno));
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[PATH_MAX], *name;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s/cur", pos[1], de->d_name) >= sizeof(sub) ||
		    stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		if ((name = folder_name(de->d_name + 1, a)) == NULL) {
			cli_error("%s/%s: not a valid folder name: skipped", pos[1], de->d_name);
			failed++;
			continue;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 32 : cap * 2;
			char **nn = reallocarray(names, ncap, sizeof(*nn)), **nd;

			if (nn == NULL)
				goto oom;
			names = nn;
			if ((nd = reallocarray(disk, ncap, sizeof(*nd))) == NULL)
				goto oom;
			disk = nd;
			cap = ncap;
		}
		names[n] = name;
		disk[n] = arena_printf(a, "%s/%s", pos[1], de->d_name);
		n++;
	}
	closedir(d);
	d = NULL;
	r = import_folder(st, cli_config_loaded()->data_dir, pos[1], "INBOX", u.quota_bytes, uidl_format, &t);
	if (r == 1)
		failed++;
	for (size_t i = 0; r != -1 && i < n; i++) {
		const char *to = cli_import_special(names[i], names, n);

		if (strcasecmp(to, "INBOX") == 0) {
			cli_error("%s: a folder named INBOX besides the INBOX: skipped", disk[i]);
			failed++;
			continue;
		}
		if ((r = import_folder(st, cli_config_loaded()->data_dir, disk[i], to, u.quota_bytes, uidl_format, &t)) ==
		    1)
			failed++;
	}
	if (r != -1)
		import_subscriptions(st, pos[1], names, n, a);
	printf("total: %zu added, %zu already there, %zu folders%s", t.added, t.skipped, n + 1,
	       r == -1 ? " (stopped early)" : "");
	if (failed > 0)
		printf(", %zu skipped", failed);
	putchar('\n');
	if (cli_own_user_store(cli_config_loaded(), u.address) != 0)
		r = -1;
	ret = r == -1 || failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	goto done;
oom:
	cli_error("out of memory");
done:
	if (d != NULL)
		closedir(d);
	free(names);
	free(disk);
	arena_free(&a);
	store_close(&st);
	directory_close(&dir);
	return ret;
}

int
cli_import(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char usage[] =
		"usage: tern import maildir USER PATH [--uidl-format FORMAT]\n"
		"       tern import mbox USER FILE|DIR [--folder NAME] [--format mboxrd|mboxo]\n"
		"\n"
		"Imports mail from another server's storage or a mail program's export\n"
		"(\"tern import maildir --help\", \"tern import mbox --help\" for the\n"
		"details).\n";
	static const struct cli_cmd cmds[] = {
		{ "maildir", import_maildir },
		{ "mbox", cli_import_mbox },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, usage);
}
