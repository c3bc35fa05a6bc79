/* Splitting an mbox file into messages (see mbox_read.h for the variants). */
#include "mime/mbox_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"

struct mbox_reader {
	int fd;
	enum mbox_quoting quoting;
	size_t start, end;             /* unread bytes: in[start..end) */
	uint64_t base;                 /* file offset of in[0] */
	bool eof;
	bool started;                  /* the first From_ line was read */
	bool in_msg;                   /* between mbox_reader_next and the message's end */
	bool header;                   /* still in the message's header */
	bool midline;                  /* inside a line whose start was handled */
	bool blank;                    /* an empty line held back: it may precede a From_ line */
	bool counting;                 /* inside a body of a trusted Content-Length */
	uint64_t left;                 /* its bytes left */
	bool has_length;
	uint64_t length;               /* the header's Content-Length */
	bool cr;                       /* the last byte given out was CR */
	size_t olen;
	char in[MBOX_READ_BUF];
	char out[3 * MBOX_READ_BUF + 16];
};

struct mbox_reader *
mbox_reader_new(int fd, enum mbox_quoting quoting)
{
	struct mbox_reader *r = xcalloc(1, sizeof(*r));

	r->fd = fd;
	r->quoting = quoting;
	return r;
}

void
mbox_reader_free(struct mbox_reader **r)
{
	free(*r);
	*r = NULL;
}

uint64_t
mbox_reader_offset(const struct mbox_reader *r)
{
	return r->base + r->start;
}

/* Moves the unread bytes to the front and reads more.  0 or -1. */
static int
fill(struct mbox_reader *r)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->in, r->in + r->start, r->end - r->start);
		r->base += r->start;
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == sizeof(r->in) || r->eof)
		return 0;
	do
		n = read(r->fd, r->in + r->end, sizeof(r->in) - r->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = true;
	r->end += (size_t)n;
	return 0;
}

/* Makes in[start..] hold a whole line, or a full buffer, or the rest of
 * the file.  Returns the line's length (up to and with its LF, or what
 * there is), *whole_out whether it ends in LF or at the end of the file;
 * -1 on a read error. */
static ssize_t
line_get(struct mbox_reader *r, bool *whole_out)
{
	for (;;) {
		const char *nl = memchr(r->in + r->start, '\n', r->end - r->start);

		if (nl != NULL) {
			*whole_out = true;
			return nl + 1 - (r->in + r->start);
		}
		if (r->eof || r->end - r->start == sizeof(r->in)) {
			*whole_out = r->eof;
			return (ssize_t)(r->end - r->start);
		}
		if (fill(r) != 0)
			return -1;
	}
}

/* The length of a line's text without its LF or CRLF. */
static size_t
text_len(const char *p, size_t len)
{
	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

static bool
is_from_line(const char *p, size_t len, bool whole, int64_t *date_out)
{
	int64_t date;

	if (!whole || len < 5 || memcmp(p, "From ", 5) != 0)
		return false;
	if (mbox_from_date(p + 5, text_len(p, len) - 5, &date) != 0)
		return false;
	if (date_out != NULL)
		*date_out = date;
	return true;
}

/* Appends bytes to out, LF alone becoming CRLF. */
static void
emit(struct mbox_reader *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !r->cr)
			r->out[r->olen++] = '\r';
		r->out[r->olen++] = p[i];
		r->cr = p[i] == '\r';
	}
}

/* "Content-Length: <digits>" (any case, spaces allowed). */
static bool
content_length(const char *p, size_t len, uint64_t *out)
{
	static const char name[] = "Content-Length:";
	size_t i = sizeof(name) - 1, digits = 0;
	uint64_t v = 0;

	len = text_len(p, len);
	if (len < i || strncasecmp(p, name, i) != 0)
		return false;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (; i < len && p[i] >= '0' && p[i] <= '9' && digits < 18; i++, digits++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (digits == 0 || i != len)
		return false;
	*out = v;
	return true;
}

/* A Content-Length is trusted when that many bytes on, the file ends or
 * a From_ line starts (after an optional empty line). */
static bool
length_fits(struct mbox_reader *r, uint64_t body_off, uint64_t len)
{
	char b[8];
	ssize_t n = pread(r->fd, b, sizeof(b), (off_t)(body_off + len));

	if (n < 0 || body_off + len < body_off)
		return false;
	if (n == 0)
		return true;
	if ((n == 1 && b[0] == '\n') || (n == 2 && b[0] == '\r' && b[1] == '\n'))
		return true;
	for (ssize_t skip = 0; skip <= 2; skip++) {
		if (n - skip >= 5 && memcmp(b + skip, "From ", 5) == 0 &&
		    (skip == 0 || (skip == 1 && b[0] == '\n') || (skip == 2 && b[0] == '\r' && b[1] == '\n')))
			return true;
	}
	return false;
}

/* One '>' off ">From " (mboxo) or any ">>..>From " (mboxrd): how many
 * bytes to skip at the line start. */
static size_t
unquote(const struct mbox_reader *r, const char *p, size_t len)
{
	size_t q = 0;

	while (q < len && p[q] == '>')
		q++;
	if (q == 0 || len - q < 5 || memcmp(p + q, "From ", 5) != 0)
		return 0;
	return r->quoting == MBOX_QUOTING_RD || q == 1 ? 1 : 0;
}

/* Handles one line start (or the rest of a long line).  Returns 1 when
 * the message ended here, 0 to go on, -1 on a read error. */
static int
step(struct mbox_reader *r)
{
	const char *p;
	ssize_t len;
	size_t n;
	bool whole;

	if ((len = line_get(r, &whole)) < 0)
		return -1;
	p = r->in + r->start;
	if (len == 0)
		return 1;                      /* end of the file */
	if (r->counting) {
		n = (uint64_t)len < r->left ? (size_t)len : (size_t)r->left;
		emit(r, p, n);
		r->start += n;
		r->left -= n;
		if (r->left == 0) {
			r->counting = false;
			r->midline = false;
		} else {
			r->midline = p[n - 1] != '\n';
		}
		return 0;
	}
	if (r->midline) {
		emit(r, p, (size_t)len);
		r->start += (size_t)len;
		r->midline = p[len - 1] != '\n';
		return 0;
	}
	if (is_from_line(p, (size_t)len, whole, NULL))
		return 1;
	if (r->header) {
		if (text_len(p, (size_t)len) == 0) {
			uint64_t body_off = r->base + r->start + (size_t)len;

			r->header = false;
			emit(r, p, (size_t)len);
			r->start += (size_t)len;
			if (r->has_length && length_fits(r, body_off, r->length)) {
				r->counting = r->length > 0;
				r->left = r->length;
			}
			return 0;
		}
		if (content_length(p, (size_t)len, &r->length))
			r->has_length = true;
	} else if (whole && text_len(p, (size_t)len) == 0) {
		if (r->blank)
			emit(r, "\r\n", 2);
		r->blank = true;
		r->start += (size_t)len;
		return 0;
	}
	if (r->blank) {
		emit(r, "\r\n", 2);
		r->blank = false;
	}
	n = unquote(r, p, (size_t)len);
	emit(r, p + n, (size_t)len - n);
	r->start += (size_t)len;
	r->midline = p[len - 1] != '\n';
	return 0;
}

ssize_t
mbox_reader_read(struct mbox_reader *r, const char **data_out, const char **error_out)
{
	r->olen = 0;
	while (r->in_msg && r->olen < MBOX_READ_BUF) {
		int s = step(r);

		if (s < 0) {
			*error_out = "read error";
			return -1;
		}
		if (s == 1)
			r->in_msg = false; /* a held-back empty line belongs to the separator */
	}
	*data_out = r->out;
	return (ssize_t)r->olen;
}

/* Consumes the current line, however long.  0 or -1. */
static int
skip_line(struct mbox_reader *r)
{
	for (;;) {
		bool whole;
		ssize_t len = line_get(r, &whole);

		if (len < 0)
			return -1;
		r->start += (size_t)len;
		if (len == 0 || r->in[r->start - 1] == '\n')
			return 0;
	}
}

int
mbox_reader_next(struct mbox_reader *r, int64_t *date_out, const char **error_out)
{
	const char *data;
	ssize_t len;
	bool whole;

	*error_out = "read error";
	while (r->in_msg) {
		if ((len = mbox_reader_read(r, &data, error_out)) < 0)
			return -1;
	}
	for (;;) {
		if ((len = line_get(r, &whole)) < 0)
			return -1;
		if (len == 0)
			return 0;
		/* empty lines before the first message */
		if (r->started || text_len(r->in + r->start, (size_t)len) != 0)
			break;
		r->start += (size_t)len;
	}
	*date_out = 0;
	if (!is_from_line(r->in + r->start, (size_t)len, whole, date_out)) {
		if (r->started || len < 5 || memcmp(r->in + r->start, "From ", 5) != 0) {
			*error_out = "not an mbox file: the first line is not a \"From \" line";
			return -1;
		}
	}
	if (skip_line(r) != 0)
		return -1;
	r->started = true;
	r->in_msg = true;
	r->header = true;
	r->midline = r->blank = r->counting = r->has_length = r->cr = false;
	r->left = r->length = 0;
	return 1;
}

/* --- the From_ line's date --- */

static const char weekdays[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

struct cursor {
	const char *p, *end;
};

static void
spaces(struct cursor *c)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
}

/* Up to max digits (at least one); -1 when none. */
static int
number(struct cursor *c, int max)
{
	int v = 0, k = 0;

	while (c->p < c->end && k < max && *c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (*c->p++ - '0');
		k++;
	}
	return k == 0 ? -1 : v;
}

static int
month(struct cursor *c)
{
	if (c->end - c->p < 3)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(c->p, months[i], 3) == 0) {
			c->p += 3;
			return i;
		}
	}
	return -1;
}

/* hh:mm[:ss] into tm.  0 or -1. */
static int
clock_time(struct cursor *c, struct tm *tm)
{
	if ((tm->tm_hour = number(c, 2)) < 0 || tm->tm_hour > 23 || c->p >= c->end || *c->p++ != ':' ||
	    (tm->tm_min = number(c, 2)) < 0 || tm->tm_min > 59)
		return -1;
	tm->tm_sec = 0;
	if (c->p < c->end && *c->p == ':') {
		c->p++;
		if ((tm->tm_sec = number(c, 2)) < 0 || tm->tm_sec > 60)
			return -1;
	}
	return 0;
}

/* "+hhmm" / "-hhmm" as seconds east; true when one was there. */
static bool
zone(struct cursor *c, long *east)
{
	const char *p = c->p;
	int v;

	if (c->end - p < 5 || (p[0] != '+' && p[0] != '-'))
		return false;
	for (int i = 1; i < 5; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	v = (p[1] - '0') * 10 + (p[2] - '0');
	*east = (long)(v * 3600 + ((p[3] - '0') * 10 + (p[4] - '0')) * 60) * (p[0] == '-' ? -1 : 1);
	c->p += 5;
	return true;
}

/* A zone name (UTC, GMT, CET, ...): skipped; the numeric zone, when
 * there is one too, decides. */
static bool
zone_name(struct cursor *c)
{
	const char *p = c->p;

	while (p < c->end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		p++;
	if (p == c->p || p - c->p > 5 || (p < c->end && *p != ' '))
		return false;
	c->p = p;
	return true;
}

/* The date at a weekday (c->p on its first letter).  0 or -1. */
static int
date_at(struct cursor *c, int64_t *date_out)
{
	struct tm tm = { 0 };
	long east = 0;
	int year = -1;
	time_t t;

	c->p += 3;
	if (c->p < c->end && *c->p == ',') {
		/* RFC 822 style: Www, dd Mmm yyyy hh:mm[:ss] zone */
		c->p++;
		spaces(c);
		if ((tm.tm_mday = number(c, 2)) < 1)
			return -1;
		spaces(c);
		if ((tm.tm_mon = month(c)) < 0)
			return -1;
		spaces(c);
		if ((year = number(c, 4)) < 0)
			return -1;
		spaces(c);
		if (clock_time(c, &tm) != 0)
			return -1;
		spaces(c);
		if (!zone(c, &east))
			zone_name(c);
	} else {
		/* asctime: Www Mmm dd hh:mm[:ss] then year and zone in either order */
		spaces(c);
		if ((tm.tm_mon = month(c)) < 0)
			return -1;
		spaces(c);
		if ((tm.tm_mday = number(c, 2)) < 1)
			return -1;
		spaces(c);
		if (clock_time(c, &tm) != 0)
			return -1;
		for (int k = 0; k < 3; k++) {
			const char *before;

			spaces(c);
			before = c->p;
			if (c->end - c->p >= 4 && year < 0 && (year = number(c, 4)) >= 0) {
				if (c->p - before != 4)
					return -1;
				continue;
			}
			c->p = before;
			if (zone(c, &east) || zone_name(c))
				continue;
			break;                     /* "remote from host" and the like */
		}
	}
	if (year < 1900 || tm.tm_mday > 31)
		return -1;
	tm.tm_year = year - 1900;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*date_out = (int64_t)t - east;
	return 0;
}

int
mbox_from_date(const char *s, size_t len, int64_t *date_out)
{
	/* The sender may hold spaces (a quoted local part): find the first
	 * "Www Mmm" or "Www," that parses. */
	for (size_t i = 0; i + 3 <= len; i++) {
		struct cursor c = { s + i, s + len };
		int64_t d;

		if (i > 0 && s[i - 1] != ' ')
			continue;
		for (int w = 0; w < 7; w++) {
			if (strncmp(s + i, weekdays[w], 3) == 0 && i + 3 < len && (s[i + 3] == ' ' || s[i + 3] == ',') &&
			    date_at(&c, &d) == 0) {
				*date_out = d;
				return 0;
			}
		}
	}
	return -1;
}
