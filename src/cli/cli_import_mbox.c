/* tern import mbox USER FILE|DIR [--folder NAME] [--format mboxrd|mboxo]:
 * mbox files as Google Takeout, Thunderbird, mutt and readpst (Outlook,
 * Exchange) write them, into a user's store.
 *
 * A FILE is one folder (its name without ".mbox"; "Inbox", "Sent Items"
 * and the like become Tern's special-use folders), unless its messages
 * carry Gmail's X-Gmail-Labels: then each message goes to the folder of
 * each of its labels.  A DIR is a tree of mbox files, one folder each,
 * as Thunderbird keeps them: "Foo" is a folder and "Foo.sbd/Bar" its
 * subfolder Foo/Bar; its .msf index files and anything else that does
 * not start with a From_ line are passed over.
 *
 * Streaming: the file is split by mbox_read.c and each message written
 * to a spool file as it is read; a message over max_message_size is
 * skipped (counted).  Messages go in through store_imap_append, a batch
 * per transaction, so the user's sessions see them as they come.
 *
 * A second run adds nothing: a message is already there when its folder
 * holds a message of the same size, the same internal date (the From_
 * line's) and the same Message-ID (none counts as the same), each message
 * there standing for one message of the file.  The folder's own messages
 * are the record, so an interrupted import resumes where it stopped and
 * nothing kept beside the mail can go stale; a message the user deleted
 * since comes back on another run. */
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
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/mbox_read.h"
#include "store/store.h"
#include "store/store_imap.h"

static const char mbox_usage[] =
	"usage: tern import mbox USER FILE|DIR [--folder NAME] [--format mboxrd|mboxo]\n"
	"\n"
	"Imports mbox files (Google Takeout, Thunderbird, mutt, readpst for\n"
	"Outlook and Exchange) into USER's mailboxes.  A FILE becomes the folder\n"
	"of its name (without \".mbox\"; Inbox, Sent Items, Deleted Items, Junk\n"
	"E-mail and the like become Tern's INBOX, Sent, Trash and Junk), or\n"
	"NAME with --folder.  A DIR holds one mbox file per folder, subfolders\n"
	"in Thunderbird's \"Name.sbd\" directories; a file named \"mbox\" holds\n"
	"the messages of the directory it is in (readpst -r, Apple Mail).  With\n"
	"--folder the tree goes under NAME.\n"
	"\n"
	"The internal date is the From_ line's.  Status, X-Status, X-Keywords\n"
	"and X-Mozilla-Status/-Keys become flags and keywords and are taken\n"
	"out of the stored message.  A message with Gmail's X-Gmail-Labels is\n"
	"put in the folder of each label (Inbox, Sent, Drafts, Trash, Spam:\n"
	"INBOX, Sent, Drafts, Trash, Junk; Starred: \\Flagged; Unread: no\n"
	"\\Seen), in NAME or Archive when no label is a folder.\n"
	"\n"
	"--format mboxo: unquote \">From \" only (Thunderbird, readpst), not\n"
	"\">>From \" as mboxrd does (the default; a valid Content-Length is\n"
	"always used, as mboxcl2 files need).\n"
	"\n"
	"Running it again adds nothing: a message is there already when its\n"
	"folder holds one of the same size, date and Message-ID.  An interrupted\n"
	"import resumes.  Messages over max_message_size are skipped and counted;\n"
	"the quota is checked.  The server may run meanwhile.\n";

/* Messages per transaction (and spool files open at once). */
#define MBOX_BATCH 64

/* A message already in a folder, for the already-there check. */
struct present {
	uint64_t size;
	int64_t date;
	char file[64];
	uint32_t uid;
	bool used;                     /* stands for a message of this run already */
	bool mid_read;
	char *mid;                     /* malloc'd Message-ID, or NULL */
};

/* A folder messages go to. */
struct dest {
	char *name;                    /* malloc'd */
	bool ready, failed;
	struct present *p;
	size_t n_p;
	size_t added, skipped;
};

/* A message waiting in the batch. */
struct pending {
	struct store_spool sp;
	uint32_t flags;
	char *keywords;                /* malloc'd */
	int64_t date;
	size_t *dests;                 /* malloc'd indices into run.dests */
	size_t n_dests;
};

struct run {
	struct store *st;
	const char *data_dir;
	uint64_t quota, max_size;
	enum mbox_quoting quoting;
	struct dest *dests;
	size_t n_dests, cap_dests;
	struct pending batch[MBOX_BATCH];
	size_t nb;
	struct arena *a;               /* per message */
	/* counts */
	size_t messages, too_large, failed, uw;
	/* progress */
	bool tty;
	time_t last;
	bool printed;
};

static int
cmp_present(const void *a, const void *b)
{
	const struct present *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The index of the folder named name, added when new. */
static size_t
dest_index(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->n_dests; i++) {
		if (strcmp(r->dests[i].name, name) == 0)
			return i;
	}
	if (r->n_dests == r->cap_dests) {
		r->cap_dests = r->cap_dests == 0 ? 16 : r->cap_dests * 2;
		r->dests = xrealloc(r->dests, r->cap_dests * sizeof(*r->dests));
	}
	memset(&r->dests[r->n_dests], 0, sizeof(*r->dests));
	r->dests[r->n_dests].name = xstrdup(name);
	return r->n_dests++;
}

/* Creates the folder if needed and lists what it holds.  0 or -1 (the
 * folder failed: printed). */
static int
dest_ready(struct run *r, struct dest *d)
{
	struct store_mailbox_info info;
	struct store_msg *msgs = NULL;
	const char *error;
	size_t n = 0;
	int c;

	if (d->ready)
		return 0;
	if (d->failed)
		return -1;
	c = store_mailbox_create(r->st, d->name, NULL, &error);
	if ((c != STORE_OK && c != STORE_IMAP_EXISTS) || store_list(r->st, d->name, &info, &msgs, &n, &error) != 0) {
		cli_error("%s: %s", d->name, error);
		d->failed = true;
		return -1;
	}
	d->p = n > 0 ? xcalloc(n, sizeof(*d->p)) : NULL;
	for (size_t i = 0; i < n; i++) {
		d->p[i].size = msgs[i].size;
		d->p[i].date = msgs[i].internal_date;
		d->p[i].uid = msgs[i].uid;
		memcpy(d->p[i].file, msgs[i].file, sizeof(d->p[i].file));
	}
	d->n_p = n;
	free(msgs);
	if (n > 0)
		qsort(d->p, n, sizeof(*d->p), cmp_present);
	d->ready = true;
	return 0;
}

/* The Message-ID of a message already in the folder (read once). */
static const char *
present_mid(struct run *r, struct present *p)
{
	struct store_msg sm = { .uid = p->uid, .size = p->size, .internal_date = p->date };
	char head[16384];
	const char *error, *end;
	struct mbox_meta m;
	ssize_t n;
	int fd;

	if (p->mid_read)
		return p->mid;
	p->mid_read = true;
	memcpy(sm.file, p->file, sizeof(sm.file));
	if ((fd = store_msg_open(r->st, &sm, &error)) < 0)
		return NULL;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	head[n] = '\0';
	end = strstr(head, "\r\n\r\n");
	cli_mbox_header(head, end != NULL ? (size_t)(end - head) + 2 : (size_t)n, &m, NULL, r->a);
	if (m.message_id != NULL)
		p->mid = xstrdup(m.message_id);
	return p->mid;
}

/* Whether d holds this message already (then one of its messages is
 * taken to stand for it). */
static bool
already_there(struct run *r, struct dest *d, uint64_t size, int64_t date, const char *mid)
{
	size_t lo = 0, hi = d->n_p;

	while (lo < hi) {
		size_t mid_i = (lo + hi) / 2;
		const struct present *p = &d->p[mid_i];

		if (p->size < size || (p->size == size && p->date < date))
			lo = mid_i + 1;
		else
			hi = mid_i;
	}
	for (size_t i = lo; i < d->n_p && d->p[i].size == size && d->p[i].date == date; i++) {
		const char *pm;

		if (d->p[i].used)
			continue;
		pm = present_mid(r, &d->p[i]);
		if ((pm == NULL && mid == NULL) || (pm != NULL && mid != NULL && strcmp(pm, mid) == 0)) {
			d->p[i].used = true;
			return true;
		}
	}
	return false;
}

static void
pending_clear(struct pending *p)
{
	store_spool_discard(&p->sp);
	free(p->keywords);
	free(p->dests);
	memset(p, 0, sizeof(*p));
	p->sp.fd = -1;
}

/* Appends the batch to its folders.  0, or -1 when the import must stop
 * (quota, disk: printed). */
static int
flush(struct run *r)
{
	struct store_append app[MBOX_BATCH];
	int ret = 0;

	for (size_t di = 0; di < r->n_dests && ret == 0; di++) {
		struct dest *d = &r->dests[di];
		const char *error;
		size_t k = 0;
		int s;

		for (size_t i = 0; i < r->nb; i++) {
			for (size_t j = 0; j < r->batch[i].n_dests; j++) {
				if (r->batch[i].dests[j] != di)
					continue;
				app[k++] = (struct store_append){
					.spool = &r->batch[i].sp,
					.flags = r->batch[i].flags,
					.keywords = r->batch[i].keywords != NULL ? r->batch[i].keywords : "",
					.internal_date = r->batch[i].date,
				};
			}
		}
		if (k == 0)
			continue;
		s = store_imap_append(r->st, d->name, app, k, r->quota, 0, NULL, &error);
		if (s == STORE_OK) {
			d->added += k;
		} else if (s == STORE_ERR_QUOTA || s == STORE_ERR_NOSPACE) {
			cli_error("%s: refused: %s; nothing more imported%s", d->name, error,
			          s == STORE_ERR_QUOTA ? " (raise the quota with \"tern user set USER --quota SIZE\" "
			                                 "and run the import again)" : "");
			ret = -1;
		} else {
			cli_error("%s: %s", d->name, error);
			r->failed += k;
		}
	}
	for (size_t i = 0; i < r->nb; i++)
		pending_clear(&r->batch[i]);
	r->nb = 0;
	return ret;
}

static void
progress(struct run *r, const char *file, uint64_t done, uint64_t total)
{
	time_t now;

	if (!r->tty || (now = time(NULL)) == r->last)
		return;
	r->last = now;
	r->printed = true;
	fprintf(stderr, "\r%s: %zu messages, %" PRIu64 "%%   ", file, r->messages,
	        total > 0 ? done * 100 / total : 100);
	fflush(stderr);
}

/* Reads the message's header into b (up to MBOX_HEADER_MAX, or the whole
 * message if shorter).  Returns the header's length (with its empty
 * line; the whole message when it has no body), 0 when it has no end
 * within the limit, -1 on a read error. */
static ssize_t
read_header(struct mbox_reader *mr, struct buf *b, bool *ended_out)
{
	const char *data, *error;
	ssize_t n;

	*ended_out = false;
	while (b->len < MBOX_HEADER_MAX) {
		char *end;

		if (b->len >= 2 && memcmp(b->data, "\r\n", 2) == 0)
			return 2;
		if (b->len > 0 && (end = memmem(b->data, b->len, "\r\n\r\n", 4)) != NULL)
			return end + 4 - b->data;
		if ((n = mbox_reader_read(mr, &data, &error)) < 0)
			return -1;
		if (n == 0) {
			/* a message that is all header */
			*ended_out = true;
			return (ssize_t)b->len;
		}
		buf_append(b, data, (size_t)n);
	}
	/* no end of the header within the limit: stored as it is */
	return 0;
}

static int
spool_write(struct run *r, struct pending *p, const void *data, size_t n, bool *big)
{
	enum store_error err;

	if (*big)
		return 0;
	if (r->max_size > 0 && p->sp.size + n > r->max_size) {
		*big = true;
		return 0;
	}
	if (store_spool_write(&p->sp, data, n, &err) != 0) {
		cli_error("writing the spool: %s", err == STORE_ERR_NOSPACE ? "disk full" : strerror(errno));
		return -1;
	}
	return 0;
}

/* Takes the current message into the batch.  0, 1 (skipped: too large
 * or the UW pseudo message), -1 (stop). */
static int
take_message(struct run *r, struct mbox_reader *mr, int64_t date, const char *folder, const char *fallback)
{
	struct pending *p = &r->batch[r->nb];
	struct buf b = BUF_INIT, kept = BUF_INIT;
	struct mbox_meta m;
	const char *error, *data;
	enum store_error err;
	bool ended, big = false;
	ssize_t hlen, n;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	p->sp.fd = -1;
	arena_reset(r->a);
	if ((hlen = read_header(mr, &b, &ended)) < 0) {
		cli_error("read error");
		goto done;
	}
	if (hlen > 0)
		cli_mbox_header(b.data, (size_t)hlen, &m, &kept, r->a);
	else
		memset(&m, 0, sizeof(m));
	if (m.uw_internal) {
		r->uw++;
		ret = 1;
		goto done;
	}
	if (store_spool_create(r->data_dir, &p->sp, &error) != 0) {
		cli_error("%s", error);
		goto done;
	}
	if ((kept.len > 0 && spool_write(r, p, kept.data, kept.len, &big) != 0) ||
	    (b.len > (size_t)hlen && spool_write(r, p, b.data + hlen, b.len - (size_t)hlen, &big) != 0))
		goto done;
	while (!ended && (n = mbox_reader_read(mr, &data, &error)) != 0) {
		if (n < 0) {
			cli_error("%s", error);
			goto done;
		}
		if (spool_write(r, p, data, (size_t)n, &big) != 0)
			goto done;
	}
	r->messages++;
	if (big) {
		r->too_large++;
		ret = 1;
		goto done;
	}
	if (store_spool_commit(&p->sp, &err) != 0) {
		cli_error("fsync of the spool failed");
		goto done;
	}
	p->flags = m.flags;
	p->date = date;
	p->keywords = m.keywords[0] != '\0' ? xstrdup(m.keywords) : NULL;
	p->dests = xcalloc(m.n_labels + 1, sizeof(*p->dests));
	if (m.gmail) {
		for (size_t i = 0; i < m.n_labels; i++) {
			const char *to;
			uint32_t flags;

			cli_mbox_label(m.labels[i], &to, &flags);
			if (to != NULL) {
				size_t di = dest_index(r, to);
				bool dup = false;

				for (size_t k = 0; k < p->n_dests; k++)
					dup = dup || p->dests[k] == di;
				if (!dup)
					p->dests[p->n_dests++] = di;
			}
		}
		if (p->n_dests == 0)
			p->dests[p->n_dests++] = dest_index(r, fallback);
	} else {
		p->dests[p->n_dests++] = dest_index(r, folder);
	}
	/* each folder that holds it already drops out */
	for (size_t k = 0; k < p->n_dests;) {
		struct dest *d = &r->dests[p->dests[k]];

		if (dest_ready(r, d) != 0) {
			r->failed++;
		} else if (already_there(r, d, p->sp.size, date, m.message_id)) {
			d->skipped++;
		} else {
			k++;
			continue;
		}
		p->dests[k] = p->dests[--p->n_dests];
	}
	if (p->n_dests == 0) {
		ret = 1;
		goto done;
	}
	r->nb++;
	ret = r->nb == MBOX_BATCH ? flush(r) : 0;
	buf_free(&b);
	buf_free(&kept);
	return ret;
done:
	pending_clear(p);
	buf_free(&b);
	buf_free(&kept);
	return ret;
}

/* Imports one mbox file into folder (or by Gmail labels).  0, 1 (this
 * file failed), -1 (stop). */
static int
import_file(struct run *r, const char *path, const char *folder, const char *fallback)
{
	struct mbox_reader *mr;
	const char *error;
	struct stat sb;
	int64_t date;
	size_t before = r->messages;
	int fd, s, ret = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	mr = mbox_reader_new(fd, r->quoting);
	while ((s = mbox_reader_next(mr, &date, &error)) == 1) {
		if (date == 0)
			date = (int64_t)sb.st_mtime;
		if ((s = take_message(r, mr, date, folder, fallback)) < 0) {
			ret = -1;
			break;
		}
		progress(r, path, mbox_reader_offset(mr), (uint64_t)sb.st_size);
	}
	if (s < 0 && ret == 0) {
		cli_error("%s: %s", path, error);
		ret = 1;
	}
	if (ret != -1 && flush(r) != 0)
		ret = -1;
	/* an empty file is an empty folder (Thunderbird keeps them) */
	if (ret == 0 && r->messages == before) {
		size_t di = dest_index(r, folder);

		if (dest_ready(r, &r->dests[di]) != 0)
			ret = 1;
	}
	mbox_reader_free(&mr);
	close(fd);
	return ret;
}

/* An mbox file: empty, or its first line starts with "From ". */
static bool
looks_like_mbox(const char *path)
{
	char b[5];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, b, sizeof(b));
	close(fd);
	return n == 0 || (n == 5 && memcmp(b, "From ", 5) == 0);
}

/* A file found in a tree, and its folder. */
struct found {
	char *path, *folder;           /* malloc'd */
};

struct found_list {
	struct found *f;
	size_t n, cap;
};

static int
cmp_found(const void *a, const void *b)
{
	return strcmp(((const struct found *)a)->folder, ((const struct found *)b)->folder);
}

static void
found_add(struct found_list *l, const char *path, const char *folder)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 32 : l->cap * 2;
		l->f = xrealloc(l->f, l->cap * sizeof(*l->f));
	}
	l->f[l->n].path = xstrdup(path);
	l->f[l->n].folder = xstrdup(folder);
	l->n++;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* Walks dir: each mbox file is a folder (prefix + its name), "X.sbd"
 * (Thunderbird), "X.mbox" (Apple Mail) and other directories hold the
 * subfolders of X, and a file named "mbox" in a directory holds the
 * messages of that directory's own folder (readpst -r, Apple Mail).
 * depth bounds the recursion (STORE_MAILBOX_DEPTH_MAX). */
static void
walk(const char *dir, const char *prefix, int depth, struct found_list *l)
{
	struct dirent *de;
	DIR *d;

	if (depth > STORE_MAILBOX_DEPTH_MAX || (d = opendir(dir)) == NULL) {
		cli_error("%s: %s", dir, depth > STORE_MAILBOX_DEPTH_MAX ? "too deep" : strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX], name[PATH_MAX], sub[PATH_MAX];
		size_t len = strlen(de->d_name);
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    stat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (ends_with(de->d_name, ".sbd"))
				len -= 4;
			else if (ends_with(de->d_name, ".mbox"))
				len -= 5;
			if ((size_t)snprintf(sub, sizeof(sub), "%s%.*s/", prefix, (int)len, de->d_name) < sizeof(sub))
				walk(path, sub, depth + 1, l);
			continue;
		}
		if (!S_ISREG(sb.st_mode) || ends_with(de->d_name, ".msf"))
			continue;
		if (!looks_like_mbox(path)) {
			printf("%s: not an mbox file: passed over\n", path);
			continue;
		}
		if (prefix[0] != '\0' && strcmp(de->d_name, "mbox") == 0) {
			/* the messages of the directory's own folder */
			snprintf(name, sizeof(name), "%.*s", (int)strlen(prefix) - 1, prefix);
		} else {
			if (ends_with(de->d_name, ".mbox"))
				len -= 5;
			if ((size_t)snprintf(name, sizeof(name), "%s%.*s", prefix, (int)len, de->d_name) >= sizeof(name))
				continue;
		}
		found_add(l, path, name);
	}
	closedir(d);
}

/* The folder of a file: its base name without ".mbox"; for a file named
 * "mbox" in a directory, the directory's (readpst -r, Apple Mail). */
static char *
file_folder(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base != NULL ? base + 1 : path;
	if (strcmp(base, "mbox") == 0 && base > path + 1) {
		const char *end = base - 1, *start = end;

		while (start > path && start[-1] != '/')
			start--;
		if (end > start) {
			char *dirname = xstrndup(start, (size_t)(end - start)), *folder = file_folder(dirname);

			free(dirname);
			return folder;
		}
	}
	len = strlen(base);
	if (ends_with(base, ".mbox"))
		len -= 5;
	return xstrndup(base, len);
}

static void
report(struct run *r, bool stopped)
{
	size_t added = 0, skipped = 0;

	if (r->printed)
		fputs("\n", stderr);
	for (size_t i = 0; i < r->n_dests; i++) {
		struct dest *d = &r->dests[i];

		if (d->ready)
			printf("%s: %zu added, %zu already there\n", d->name, d->added, d->skipped);
		added += d->added;
		skipped += d->skipped;
	}
	printf("total: %zu messages read, %zu added, %zu already there", r->messages, added, skipped);
	if (r->too_large > 0)
		printf(", %zu over max_message_size skipped", r->too_large);
	if (r->failed > 0)
		printf(", %zu failed", r->failed);
	if (stopped)
		printf(" (stopped early)");
	putchar('\n');
}

int
cli_import_mbox(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2], *folder = NULL, *format = NULL, *error;
	const struct cli_opt opts[] = {
		{ "--folder", &folder, NULL },
		{ "--format", &format, NULL },
		{ NULL, NULL, NULL },
	};
	struct found_list l = { 0 };
	struct directory *dir = NULL;
	struct run r = { 0 };
	struct dir_user u;
	struct stat sb;
	size_t files_failed = 0;
	int s = 0, ret = CLI_EXIT_ERROR;

	if ((s = cli_parse(ctx, argc, argv, opts, pos, 2, 2, NULL, mbox_usage)) != CLI_CONTINUE)
		return s;
	r.quoting = MBOX_QUOTING_RD;
	if (format != NULL && strcmp(format, "mboxo") == 0)
		r.quoting = MBOX_QUOTING_O;
	else if (format != NULL && strcmp(format, "mboxrd") != 0)
		return cli_usage_error(mbox_usage, "--format: mboxrd or mboxo, not \"%s\"", format);
	if (stat(pos[1], &sb) != 0 || (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))) {
		cli_error("%s: %s", pos[1], errno != 0 ? strerror(errno) : "not a file or directory");
		return CLI_EXIT_ERROR;
	}
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	if ((s = directory_user_get(dir, pos[0], &u, &error)) != 1) {
		cli_error("%s: %s", pos[0], s == 0 ? "no such user" : error);
		goto done;
	}
	if (store_open(cli_config_loaded()->data_dir, u.address, &r.st, &error) != 0 ||
	    store_ensure_default_mailboxes(r.st, &error) != 0) {
		cli_error("%s", error);
		goto done;
	}
	r.data_dir = cli_config_loaded()->data_dir;
	r.quota = u.quota_bytes;
	r.max_size = cli_config_loaded()->max_message_size;
	r.a = arena_new(16384, false);
	r.tty = isatty(STDERR_FILENO) == 1;
	for (size_t i = 0; i < MBOX_BATCH; i++)
		r.batch[i].sp.fd = -1;
	if (S_ISDIR(sb.st_mode)) {
		char **top, **mapped;
		size_t n_top = 0;

		walk(pos[1], "", 0, &l);
		if (l.n > 0)
			qsort(l.f, l.n, sizeof(*l.f), cmp_found);
		top = xcalloc(l.n + 1, sizeof(*top));
		for (size_t i = 0; i < l.n; i++) {
			if (strchr(l.f[i].folder, '/') == NULL)
				top[n_top++] = l.f[i].folder;
		}
		/* Tern's names for the top level ("Archives" and its subfolders
		 * become "Archive/...") unless it all goes under --folder */
		mapped = xcalloc(l.n + 1, sizeof(*mapped));
		for (size_t i = 0; i < l.n; i++) {
			char *f = l.f[i].folder, *slash = strchr(f, '/'), *full;

			if (folder != NULL) {
				full = xasprintf("%s/%s", folder, f);
			} else {
				char *head = xstrndup(f, slash != NULL ? (size_t)(slash - f) : strlen(f));

				full = xasprintf("%s%s", cli_import_special(head, top, n_top), slash != NULL ? slash : "");
				free(head);
			}
			mapped[i] = full;
		}
		for (size_t i = 0; i < l.n; i++) {
			free(l.f[i].folder);
			l.f[i].folder = mapped[i];
		}
		free(mapped);
		free(top);
	} else {
		char *name = file_folder(pos[1]);

		found_add(&l, pos[1], folder != NULL ? folder : cli_import_special(name, NULL, 0));
		free(name);
	}
	for (size_t i = 0; i < l.n; i++) {
		s = import_file(&r, l.f[i].path, l.f[i].folder, folder != NULL ? folder : "Archive");
		if (s == 1)
			files_failed++;
		if (s == -1)
			break;
	}
	report(&r, s == -1);
	if (cli_own_user_store(cli_config_loaded(), u.address) != 0)
		s = -1;
	if (files_failed > 0)
		printf("%zu files failed\n", files_failed);
	ret = s == -1 || files_failed > 0 || r.failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
done:
	for (size_t i = 0; i < l.n; i++) {
		free(l.f[i].path);
		free(l.f[i].folder);
	}
	free(l.f);
	for (size_t i = 0; i < r.n_dests; i++) {
		for (size_t k = 0; k < r.dests[i].n_p; k++)
			free(r.dests[i].p[k].mid);
		free(r.dests[i].p);
		free(r.dests[i].name);
	}
	free(r.dests);
	arena_free(&r.a);
	store_close(&r.st);
	directory_close(&dir);
	return ret;
}

