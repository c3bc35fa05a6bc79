/* Expunged message files outlive the read snapshots that still see them.
 *
 * An expunge deletes the rows, COMMITs, then unlinks the files.  A read
 * batch (store_read_begin) of another connection is a SQLite snapshot:
 * if it began before that COMMIT it still sees the rows, and a FETCH in
 * it found the row but not the file ("NO [SERVERBUG] Cannot open the
 * message file" for a message the session had every right to read: it
 * had not been told of the expunge yet, RFC 9051 7.5.1).  So while a
 * batch of the same user that began before the COMMIT is open, the
 * unlink waits; the last such batch to end does it.  Batches last one
 * FETCH or SEARCH step (milliseconds), so the space comes back at once
 * in practice (promise 3: a full disk still lets users delete).
 *
 * A crash while an unlink waits leaves an orphan file, exactly as a crash
 * between COMMIT and unlink always could; store_orphans.c removes those,
 * and leaves alone the files waiting here (store_unlink_pending). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/reserve.h"
#include "lib/xalloc.h"
#include "store/store_private.h"

/* An open read batch. */
struct reader {
	char *dir;                     /* the user's folder (st->dir) */
	uint64_t seq;
	struct reader *next;
};

/* A file whose unlink waits for the batches older than seq. */
struct pending {
	char *dir;
	char *path;                    /* dir "/msg/" name */
	const char *name;              /* into path */
	uint64_t seq;
	struct pending *next;
};

static pthread_mutex_t unlink_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reader *readers;
static struct pending *pendings;
static uint64_t unlink_clock;

/* Whether a batch of dir that began before seq is still open. */
static bool
older_reader(const char *dir, uint64_t seq)
{
	for (const struct reader *r = readers; r != NULL; r = r->next)
		if (r->seq < seq && strcmp(r->dir, dir) == 0)
			return true;
	return false;
}

uint64_t
store_unlink_reader_enter(const char *dir)
{
	struct reader *r = xcalloc(1, sizeof(*r));
	uint64_t seq;

	r->dir = xstrdup(dir);
	pthread_mutex_lock(&unlink_lock);
	r->seq = seq = ++unlink_clock;
	r->next = readers;
	readers = r;
	pthread_mutex_unlock(&unlink_lock);
	return seq;
}

void
store_unlink_reader_leave(const char *dir, uint64_t seq)
{
	struct reader **rp, *gone = NULL;
	struct pending **pp, *ready = NULL;

	pthread_mutex_lock(&unlink_lock);
	for (rp = &readers; *rp != NULL; rp = &(*rp)->next) {
		if ((*rp)->seq == seq) {
			gone = *rp;
			*rp = gone->next;
			break;
		}
	}
	for (pp = &pendings; *pp != NULL;) {
		struct pending *p = *pp;

		if (strcmp(p->dir, dir) == 0 && !older_reader(dir, p->seq)) {
			*pp = p->next;
			p->next = ready;
			ready = p;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&unlink_lock);
	if (gone != NULL) {
		free(gone->dir);
		free(gone);
	}
	if (ready != NULL)
		reserve_note_freed();
	while (ready != NULL) {
		struct pending *p = ready;

		ready = p->next;
		unlink(p->path);
		free(p->dir);
		free(p->path);
		free(p);
	}
}

bool
store_unlink_pending(const struct store *st, const char *name)
{
	bool found = false;

	pthread_mutex_lock(&unlink_lock);
	for (const struct pending *p = pendings; p != NULL && !found; p = p->next)
		found = strcmp(p->name, name) == 0 && strcmp(p->dir, st->dir) == 0;
	pthread_mutex_unlock(&unlink_lock);
	return found;
}

void
store_files_unlink(struct store *st, struct store_files *f)
{
	pthread_mutex_lock(&unlink_lock);
	if (f->n > 0 && older_reader(st->dir, ++unlink_clock)) {
		for (size_t i = 0; i < f->n; i++) {
			struct pending *p = xcalloc(1, sizeof(*p));
			size_t len = strlen(st->dir) + strlen(f->names[i]) + sizeof("/msg/");

			p->dir = xstrdup(st->dir);
			p->path = xmalloc(len);
			snprintf(p->path, len, "%s/msg/%s", st->dir, f->names[i]);
			p->name = p->path + strlen(st->dir) + strlen("/msg/");
			p->seq = unlink_clock;
			p->next = pendings;
			pendings = p;
		}
		f->n = 0;
	}
	pthread_mutex_unlock(&unlink_lock);
	/* Files go only after the rows are committed: a crash in between
	 * leaves orphan files, never a row without its file. */
	for (size_t i = 0; i < f->n; i++)
		unlinkat(st->msg_dirfd, f->names[i], 0);
	if (f->n > 0)
		reserve_note_freed();  /* lib/reserve.h: space came back */
	store_files_free(f);
}
