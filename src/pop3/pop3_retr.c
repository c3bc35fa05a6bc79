/* Multi-line replies that may be large: RETR and TOP (a message file run
 * through the stuffer, pop3_stuff.h) and LIST/UIDL without an argument
 * (one line per message, up to POP3_MAX_MESSAGES).  They are produced
 * only while the connection's queued output is below NET_OUTPUT_HIGH and
 * continue from the drained callback, so a 20 MB message costs a 64 KiB
 * read buffer and a bounded output queue, never its own size.  After
 * POP3_STREAM_TURN_MAX bytes in one go the stream yields to the event loop
 * (a zero-delay timer) so that a fast client does not starve the others.
 *
 * Reads of the message file happen on the loop thread, in chunks: a local
 * file read of 64 KiB is short and bounded. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "pop3/pop3_session.h"

enum produce_result {
	PRODUCE_DONE,               /* the whole reply is queued */
	PRODUCE_WAIT,               /* output is full: continue when it drains */
	PRODUCE_YIELD,              /* this turn's budget is spent: continue soon */
	PRODUCE_ERROR,              /* the file could not be read: close */
};

void
pop3_stream_free(struct pop3_stream **stp)
{
	struct pop3_stream *st = *stp;

	if (st == NULL)
		return;
	if (st->fd >= 0)
		close(st->fd);
	free(st->chunk);
	buf_free(&st->out);
	free(st);
	*stp = NULL;
}

static void
flush_out(struct pop3_session *s, struct pop3_stream *st)
{
	if (st->out.len == 0)
		return;
	conn_write(s->c, st->out.data, st->out.len);
	st->sent += st->out.len;
	buf_reset(&st->out);
}

static enum produce_result
produce_msg(struct pop3_session *s, struct pop3_stream *st)
{
	ssize_t n;

	if (pop3_stuffer_done(&st->stuffer)) {
		pop3_stuffer_finish(&st->stuffer, &st->out);
		flush_out(s, st);
		return PRODUCE_DONE;
	}
	n = read(st->fd, st->chunk, POP3_RETR_CHUNK);
	if (n < 0) {
		if (errno == EINTR)
			return PRODUCE_YIELD;
		log_warn("pop3 %s reading a message of %s", conn_id(s->c), s->mailbox_user);
		return PRODUCE_ERROR;
	}
	if (n == 0) {
		pop3_stuffer_finish(&st->stuffer, &st->out);
		flush_out(s, st);
		return PRODUCE_DONE;
	}
	pop3_stuffer_feed(&st->stuffer, st->chunk, (size_t)n, &st->out);
	if (pop3_stuffer_done(&st->stuffer))
		pop3_stuffer_finish(&st->stuffer, &st->out);
	flush_out(s, st);
	return pop3_stuffer_done(&st->stuffer) ? PRODUCE_DONE : PRODUCE_YIELD;
}

static enum produce_result
produce_listing(struct pop3_session *s, struct pop3_stream *st)
{
	char uidl[POP3_UIDL_SIZE];

	/* A batch of lines, then back to the output check. */
	for (size_t k = 0; k < 1024 && st->next < s->n_msgs; k++, st->next++) {
		const struct store_msg *m = &s->msgs[st->next];

		if (pop3_msg_deleted(s, st->next))
			continue;
		if (st->kind == POP3_STREAM_LIST) {
			buf_printf(&st->out, "%zu %" PRIu64 "\r\n", st->next + 1, m->size);
		} else {
			buf_printf(&st->out, "%zu %s\r\n", st->next + 1, pop3_msg_uidl(s, m, uidl));
		}
	}
	if (st->next == s->n_msgs) {
		buf_append(&st->out, ".\r\n", 3);
		flush_out(s, st);
		return PRODUCE_DONE;
	}
	flush_out(s, st);
	return PRODUCE_YIELD;
}

/* Produces output until the reply is complete, the output is full, or the
 * turn's budget is spent. */
static enum produce_result
produce(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;
	uint64_t start = st->sent;

	while (conn_output_pending(s->c) < NET_OUTPUT_HIGH) {
		enum produce_result r;

		if (st->sent - start >= POP3_STREAM_TURN_MAX)
			return PRODUCE_YIELD;
		r = st->kind == POP3_STREAM_MSG ? produce_msg(s, st) : produce_listing(s, st);
		if (r != PRODUCE_YIELD)
			return r;
	}
	return PRODUCE_WAIT;
}

static void
stream_timer(void *arg)
{
	struct pop3_session *s = arg;

	s->stream_timer = false;
	if (s->stream != NULL)
		pop3_stream_continue(s);
}

/* Runs the stream once; returns true if it has ended (freed). */
static bool
stream_step(struct pop3_session *s)
{
	switch (produce(s)) {
	case PRODUCE_DONE:
		if (s->stream->kind == POP3_STREAM_MSG)
			s->retr_bytes += s->stream->sent;
		pop3_stream_free(&s->stream);
		return true;
	case PRODUCE_ERROR:
		/* The status line is out: an error now would read as message
		 * data.  Closing is the only honest end (Dovecot does too). */
		pop3_stream_free(&s->stream);
		pop3_close(s, "read-error");
		return true;
	case PRODUCE_YIELD:
		if (!s->stream_timer) {
			s->stream_timer = true;
			conn_after(s->c, 0, stream_timer, s);
		}
		return false;
	case PRODUCE_WAIT:
		return false;       /* until drained; conn's send timeout ends a reader that stopped */
	}
	return false;
}

void
pop3_stream_start(struct pop3_session *s, struct pop3_stream *st)
{
	if (s->stream != NULL)
		panic("pop3 %s: a stream is already running", conn_id(s->c));
	s->stream = st;
	if (!stream_step(s)) {
		/* Later commands wait until this reply is complete. */
		pop3_busy(s);
	}
}

void
pop3_stream_continue(struct pop3_session *s)
{
	if (s->stream == NULL || conn_closing(s->c))
		return;
	if (stream_step(s) && !conn_closing(s->c))
		pop3_unbusy(s);
}
