/* The message itself: the prefix (a DKIM-Signature) and then the file,
 * read in MTA_READ_CHUNK pieces with pread and queued only while less
 * than NET_OUTPUT_HIGH waits to go out (conn calls drained to continue),
 * so a large message never sits in memory.  After DATA each line that
 * begins with '.' gets another (RFC 5321 4.5.2) and ".\r\n" ends it;
 * with BDAT (RFC 3030) the bytes go as they are, MTA_BDAT_CHUNK at a
 * time, each chunk answered before the next. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/limits.h"
#include "lib/xalloc.h"
#include "mta/mta_private.h"

/* Up to want bytes of prefix+file at s->off.  Returns the count, or -1
 * (*error_out) when the file cannot be read or ends early. */
static ssize_t
read_source(struct mta_session *s, size_t want, const char **error_out)
{
	const struct mta_msg *m = s->m;
	ssize_t n;

	if (s->off < m->prefix_len) {
		size_t k = m->prefix_len - s->off < want ? (size_t)(m->prefix_len - s->off) : want;

		memcpy(s->rbuf, m->prefix + s->off, k);
		return (ssize_t)k;
	}
	do
		n = pread(m->fd, s->rbuf, want, (off_t)(s->off - m->prefix_len));
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		*error_out = n == 0 ? "the file is shorter than its size" : strerror(errno);
		return -1;
	}
	return n;
}

static void
read_failed(struct mta_session *s, const char *error)
{
	struct mta_reply why;

	/* No end of data goes out: the peer drops the partial message. */
	mta_reply_set(&why, 0, "4.3.0", "cannot read message %s: %s", s->m->id ? s->m->id : "-", error);
	mta_fail(s, &why, false);
}

static void
wait_final(struct mta_session *s)
{
	s->state = MTA_DOT;
	mta_wait(s, MTA_TIMEOUT_DOT);
}

/* DATA: one piece, dot-stuffed.  Returns false when the body is done
 * or failed. */
static bool
data_step(struct mta_session *s)
{
	const char *error;
	ssize_t n;
	size_t start = 0;

	if (s->off == s->total) {
		/* A message not ending in CRLF still ends on a line of its own. */
		if (!s->bol)
			conn_write(s->conn, "\r\n", 2);
		conn_write(s->conn, ".\r\n", 3);
		wait_final(s);
		return false;
	}
	n = read_source(s, s->total - s->off < MTA_READ_CHUNK ? (size_t)(s->total - s->off) : MTA_READ_CHUNK,
	                &error);
	if (n == -1) {
		read_failed(s, error);
		return false;
	}
	for (size_t i = 0; i < (size_t)n; i++) {
		if (s->bol && s->rbuf[i] == '.') {
			conn_write(s->conn, s->rbuf + start, i - start);
			conn_write(s->conn, ".", 1);
			start = i;
		}
		s->bol = s->rbuf[i] == '\n';
	}
	conn_write(s->conn, s->rbuf + start, (size_t)n - start);
	s->off += (uint64_t)n;
	return true;
}

static void
begin_chunk(struct mta_session *s)
{
	uint64_t n = s->total - s->off < MTA_BDAT_CHUNK ? s->total - s->off : MTA_BDAT_CHUNK;

	s->chunk_left = n;
	s->chunk_last = s->off + n == s->total;
	mta_cmd(s, "BDAT %" PRIu64 "%s", n, s->chunk_last ? " LAST" : "");
	if (n == 0)
		wait_final(s);
}

/* BDAT: one piece of the current chunk, raw. */
static bool
bdat_step(struct mta_session *s)
{
	const char *error;
	ssize_t n;

	n = read_source(s, s->chunk_left < MTA_READ_CHUNK ? (size_t)s->chunk_left : MTA_READ_CHUNK, &error);
	if (n == -1) {
		read_failed(s, error);
		return false;
	}
	conn_write(s->conn, s->rbuf, (size_t)n);
	s->off += (uint64_t)n;
	s->chunk_left -= (uint64_t)n;
	if (s->chunk_left == 0) {
		wait_final(s);
		return false;
	}
	return true;
}

void
mta_body_pump(struct mta_session *s)
{
	while (s->state == MTA_BODY && !conn_closing(s->conn) && conn_output_pending(s->conn) < NET_OUTPUT_HIGH) {
		if (!(s->bdat ? bdat_step(s) : data_step(s)))
			break;
	}
	/* Bytes handed on are progress: the block timeout (RFC 5321
	 * 4.5.3.2.5) counts from here; conn drops a peer that reads nothing. */
	if (s->state == MTA_BODY)
		conn_progress(s->conn);
}

void
mta_body_start(struct mta_session *s, bool bdat)
{
	if (s->rbuf == NULL)
		s->rbuf = xmalloc(MTA_READ_CHUNK);
	s->bdat = bdat;
	s->off = 0;
	s->bol = true;
	s->state = MTA_BODY;
	mta_wait(s, MTA_TIMEOUT_BLOCK);
	if (bdat)
		begin_chunk(s);
	mta_body_pump(s);
}

void
mta_body_next_chunk(struct mta_session *s)
{
	s->state = MTA_BODY;
	mta_wait(s, MTA_TIMEOUT_BLOCK);
	begin_chunk(s);
	mta_body_pump(s);
}
