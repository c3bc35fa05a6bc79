/* The message cache: what IMAP needs from a message's header without
 * reading its file again.  Delivery and APPEND parse each message once
 * (mime_parse) and store, in msg_cache, the ENVELOPE, the extended
 * BODYSTRUCTURE and the plain BODY exactly as FETCH sends them, the
 * header's size (FETCH BODY[HEADER] reads just that many bytes) and the
 * Date header as unix time (SEARCH SENT*).
 *
 * Messages stored before the cache existed (schema 1) are parsed the first
 * time someone asks, together with up to CACHE_FILL_AHEAD following ones
 * (FETCH 1:* asks for them next), in one transaction.  That transaction
 * commits with synchronous=NORMAL: the cache can always be rebuilt from
 * the file, so losing the last fills to a power cut costs a re-parse, and
 * a migrated 100,000-message mailbox is not 100,000 WAL fsyncs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "mime/mime.h"
#include "store/store_private.h"

/* Messages without a cache row parsed by one store_msg_cached miss. */
#define CACHE_FILL_AHEAD 32
/* ... looked for among this many following UIDs. */
#define CACHE_FILL_WINDOW 256
/* Arena chunk for one parse (a typical tree fits in one). */
#define CACHE_ARENA_CHUNK 16384

/* --- RFC 5322 3.3 date-time, with the obsolete forms of 4.3 --- */

static const char *
skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (int depth = 0; *p != '\0';) {
			if (*p == '\\' && p[1] != '\0') {
				p += 2;
				continue;
			}
			if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
			if (depth == 0)
				break;
		}
	}
}

/* Reads 1 to max digits; -1 when there are none. */
static long
read_num(const char **pp, int max, int *ndigits)
{
	const char *p = *pp;
	long v = 0;
	int n = 0;

	while (n < max && *p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || (*p >= '0' && *p <= '9'))
		return -1;
	*pp = p;
	if (ndigits != NULL)
		*ndigits = n;
	return v;
}

/* Month from its name (three letters or the whole name). */
static int
read_month(const char **pp)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *p = *pp;
	char m[3];
	int i;

	for (i = 0; i < 3; i++) {
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')))
			return 0;
		m[i] = (char)(p[i] | 0x20);
	}
	p += 3;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	for (i = 0; i < 12; i++) {
		if (memcmp(names + 3 * i, m, 3) == 0) {
			*pp = p;
			return i + 1;
		}
	}
	return 0;
}

/* Zone offset in seconds east of UTC.  Unknown or military zones are
 * -0000 (RFC 5322 4.3: "SHOULD be considered equivalent to -0000"). */
static long
read_zone(const char *p)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	size_t n = 0;

	p = skip_cfws(p);
	if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9') {
		const char *q = p + 1;
		int nd;
		long v = read_num(&q, 4, &nd);

		if (v < 0 || nd != 4 || v % 100 >= 60)
			return 0;
		v = (v / 100) * 3600 + (v % 100) * 60;
		return *p == '-' ? -v : v;
	}
	while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z'))
		n++;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == n && strncasecmp(p, zones[i].name, n) == 0)
			return zones[i].hours * 3600L;
	}
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t
store_date_parse(const char *s)
{
	int32_t zone;

	return store_date_parse_zone(s, &zone);
}

int64_t
store_date_parse_zone(const char *s, int32_t *zone_out)
{
	const char *p;
	long day, mon, year, hour, min, sec = 0, zone;
	int nd;

	*zone_out = 0;
	if (s == NULL)
		return 0;
	p = skip_cfws(s);
	/* day-of-week, with or without its comma */
	if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			p++;
		p = skip_cfws(p);
		if (*p == ',')
			p = skip_cfws(p + 1);
	}
	if ((day = read_num(&p, 2, NULL)) < 1 || day > 31)
		return 0;
	p = skip_cfws(p);
	if (*p == '-')          /* "2-Jan-2006", seen from old mailers */
		p++;
	if ((mon = read_month(&p)) == 0)
		return 0;
	p = skip_cfws(p);
	if (*p == '-')
		p++;
	if ((year = read_num(&p, 4, &nd)) < 0)
		return 0;
	if (nd == 2)            /* RFC 5322 4.3 */
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	p = skip_cfws(p);
	if ((hour = read_num(&p, 2, NULL)) < 0 || hour > 23)
		return 0;
	p = skip_cfws(p);
	if (*p++ != ':')
		return 0;
	p = skip_cfws(p);
	if ((min = read_num(&p, 2, NULL)) < 0 || min > 59)
		return 0;
	p = skip_cfws(p);
	if (*p == ':') {
		p = skip_cfws(p + 1);
		if ((sec = read_num(&p, 2, NULL)) < 0 || sec > 60)
			return 0;
	}
	zone = read_zone(p);
	*zone_out = (int32_t)zone;
	return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - zone;
}

/* --- parsing a message file --- */

void
store_parsed_free(struct store_parsed *p)
{
	if (p->map != NULL && p->len > 0)
		munmap((void *)p->map, p->len);
	free(p->strings);
	free(p->sort_strings);
	memset(p, 0, sizeof(*p));
}

int
store_parse_file(struct store *st, const char *path, const char *file, struct store_parsed *p)
{
	struct arena *arena;
	struct mime_part *root;
	struct buf b = BUF_INIT;
	size_t env_len, bs_len;
	struct stat sb;
	int fd;

	memset(p, 0, sizeof(*p));
	if (path != NULL)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	else
		fd = openat(st->msg_dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		int e = errno;

		store_errorf(st, "open %s: %s", path != NULL ? path : file, strerror(e));
		errno = e;      /* ENOENT tells store_msg_cached of a racing expunge */
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		store_errorf(st, "fstat %s: %s", path != NULL ? path : file, strerror(errno));
		close(fd);
		return -1;
	}
	p->len = (size_t)sb.st_size;
	p->map = "";
	if (p->len > 0) {
		void *m = mmap(NULL, p->len, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m == MAP_FAILED) {
			store_errorf(st, "mmap %s: %s", path != NULL ? path : file, strerror(errno));
			close(fd);
			p->len = 0;
			p->map = NULL;
			return -1;
		}
		p->map = m;
	}
	close(fd);

	arena = arena_new(CACHE_ARENA_CHUNK, false);
	root = mime_parse(p->map, p->len, arena);
	if (root->envelope != NULL)
		mime_envelope_write(&b, root->envelope);
	else
		buf_puts(&b, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	env_len = b.len;
	buf_append(&b, "", 1);
	mime_bodystructure_write(&b, root, true);
	bs_len = b.len - env_len - 1;
	buf_append(&b, "", 1);
	mime_bodystructure_write(&b, root, false);
	buf_append(&b, "", 1);
	p->header_size = root->header_size;
	p->sent_date = root->envelope != NULL ? store_date_parse_zone(root->envelope->date, &p->sent_zone) : 0;
	store_sort_keys_make(root->envelope, p->sent_date, &p->sort, &p->sort_strings);
	arena_free(&arena);

	p->strings = b.data;     /* the buffer's storage is ours now */
	p->envelope = p->strings;
	p->bodystructure = p->strings + env_len + 1;
	p->body = p->bodystructure + bs_len + 1;
	return 0;
}

int
store_cache_put(struct store *st, int64_t mailbox_id, uint32_t uid, const struct store_parsed *p)
{
	sqlite3_stmt *s = store_stmt(st, STMT_CACHE_PUT);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)p->header_size);
	sqlite3_bind_int64(s, 4, p->sent_date);
	sqlite3_bind_text(s, 5, p->envelope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, p->bodystructure, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, p->body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, p->sent_zone);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "cache: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return p->sort_strings != NULL ? store_sort_put(st, mailbox_id, uid, &p->sort) : 0;
}

/* --- store_msg_cached --- */

/* Copies the strings into st->cached and points out at them. */
static void
cached_out(struct store *st, const char *env, const char *bs, const char *body, uint64_t header_size,
           int64_t sent_date, int32_t sent_zone, struct store_msg_cached *out)
{
	size_t env_len = strlen(env), bs_len = strlen(bs);

	buf_reset(&st->cached);
	buf_append(&st->cached, env, env_len + 1);
	buf_append(&st->cached, bs, bs_len + 1);
	buf_append(&st->cached, body, strlen(body) + 1);
	out->envelope = st->cached.data;
	out->bodystructure = st->cached.data + env_len + 1;
	out->body = out->bodystructure + bs_len + 1;
	out->header_size = header_size;
	out->sent_date = sent_date;
	out->sent_zone = sent_zone;
}

struct fill_item {
	uint32_t uid;
	char file[STORE_FILE_NAME_MAX + 1];
	struct store_parsed p;
};

/* Up to CACHE_FILL_AHEAD messages from uid on without a cache row (or
 * with one from before schema 4, which lacks the Date header's zone). */
static size_t
fill_candidates(struct store *st, int64_t mailbox_id, uint32_t uid, struct fill_item *items)
{
	static const char sql[] =
		"SELECT uid, file FROM messages WHERE mailbox_id = ?1 AND uid > ?2 AND uid < ?3"
		" AND NOT EXISTS (SELECT 1 FROM msg_cache WHERE id = ((?1 << 32) | uid) AND sent_zone IS NOT NULL)"
		" ORDER BY uid LIMIT ?4";
	sqlite3_stmt *s;
	size_t n = 1;

	/* Not one of the cached statements: it runs once per miss. */
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return 1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)uid + CACHE_FILL_WINDOW);
	sqlite3_bind_int(s, 4, CACHE_FILL_AHEAD - 1);
	while (n < CACHE_FILL_AHEAD && sqlite3_step(s) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(s, 1);
		size_t flen = (size_t)sqlite3_column_bytes(s, 1);

		if (f == NULL || !store_file_name_ok(f, flen))
			continue;
		items[n].uid = (uint32_t)sqlite3_column_int64(s, 0);
		memcpy(items[n].file, f, flen + 1);
		n++;
	}
	sqlite3_finalize(s);
	return n;
}

/* Parses message uid (file) and the uncached ones after it, writes their
 * cache rows (best effort) and answers for uid. */
static int
fill(struct store *st, int64_t mailbox_id, uint32_t uid, const char *file, struct store_msg_cached *out,
     const char **error_out)
{
	struct fill_item *items = calloc(CACHE_FILL_AHEAD, sizeof(*items));
	size_t n, i;
	int ret = STORE_OK;

	if (items == NULL) {
		*error_out = store_errorf(st, "out of memory");
		return STORE_ERR_TEMP;
	}
	items[0].uid = uid;
	str_lcpy(items[0].file, file, sizeof(items[0].file));
	n = fill_candidates(st, mailbox_id, uid, items);
	if (store_parse_file(st, NULL, items[0].file, &items[0].p) == -1) {
		/* Expunged under us, most likely. */
		ret = errno == ENOENT ? STORE_IMAP_NONEXISTENT : STORE_ERR_TEMP;
		*error_out = st->errbuf;
		goto done;
	}
	for (i = 1; i < n; i++) {
		if (store_parse_file(st, NULL, items[i].file, &items[i].p) == -1)
			items[i].p.strings = NULL;
	}
	/* The cache is derived data: a fill that cannot be written is not
	 * an error for the caller. */
	store_exec(st, "PRAGMA synchronous=NORMAL");
	if (store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK) {
		bool ok = true;

		for (i = 0; i < n && ok; i++) {
			if (items[i].p.strings != NULL)
				ok = store_cache_put(st, mailbox_id, items[i].uid, &items[i].p) == 0;
		}
		if (!ok || store_exec(st, "COMMIT") != SQLITE_OK)
			store_rollback(st);
	}
	store_exec(st, "PRAGMA synchronous=FULL");
	cached_out(st, items[0].p.envelope, items[0].p.bodystructure, items[0].p.body, items[0].p.header_size,
	           items[0].p.sent_date, items[0].p.sent_zone, out);
done:
	for (i = 0; i < n; i++)
		store_parsed_free(&items[i].p);
	free(items);
	return ret;
}

int
store_msg_cached(struct store *st, const char *mailbox, uint32_t uid, struct store_msg_cached *out,
                 const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));

	memset(out, 0, sizeof(*out));
	for (int attempt = 0; attempt < 2; attempt++) {
		char file[STORE_FILE_NAME_MAX + 1];
		bool fresh = false;
		sqlite3_stmt *s;
		int rc;

		if (st->mbcache_id == 0 || strcmp(st->mbcache_name, name) != 0) {
			struct store_mailbox_row mb;
			int r = store_mailbox_get(st, name, &mb);

			if (r == -1) {
				*error_out = st->errbuf;
				return STORE_ERR_TEMP;
			}
			if (r == 0) {
				*error_out = store_errorf(st, "no mailbox %s", name);
				return STORE_IMAP_NONEXISTENT;
			}
			if (str_lcpy(st->mbcache_name, name, sizeof(st->mbcache_name)) >= sizeof(st->mbcache_name))
				st->mbcache_name[0] = '\0';
			st->mbcache_id = mb.id;
			fresh = true;
		}
		if ((s = store_stmt(st, STMT_CACHE_GET)) == NULL) {
			*error_out = st->errbuf;
			return STORE_ERR_TEMP;
		}
		sqlite3_bind_int64(s, 1, st->mbcache_id);
		sqlite3_bind_int64(s, 2, uid);
		sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && sqlite3_column_int(s, 1)) {
			cached_out(st, (const char *)sqlite3_column_text(s, 4), (const char *)sqlite3_column_text(s, 5),
			           (const char *)sqlite3_column_text(s, 6), (uint64_t)sqlite3_column_int64(s, 2),
			           sqlite3_column_int64(s, 3), (int32_t)sqlite3_column_int64(s, 7), out);
			sqlite3_reset(s);
			return STORE_OK;
		}
		if (rc == SQLITE_ROW) {
			const char *f = (const char *)sqlite3_column_text(s, 0);
			size_t flen = (size_t)sqlite3_column_bytes(s, 0);
			bool ok = f != NULL && store_file_name_ok(f, flen);

			if (ok)
				memcpy(file, f, flen + 1);
			sqlite3_reset(s);
			if (!ok) {
				*error_out = store_errorf(st, "%s/index.db: bad file name for UID %u", st->dir, uid);
				return STORE_ERR_TEMP;
			}
			return fill(st, st->mbcache_id, uid, file, out, error_out);
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			*error_out = store_errorf(st, "cache: %s", sqlite3_errmsg(st->db));
			return STORE_ERR_TEMP;
		}
		/* No row: no such message, or the id we remembered is no
		 * longer this name's.  Look the name up again once. */
		st->mbcache_id = 0;
		if (fresh)
			break;
	}
	*error_out = store_errorf(st, "no message %u in %s", uid, name);
	return STORE_IMAP_NONEXISTENT;
}
