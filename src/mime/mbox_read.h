/* Splitting an mbox file into messages, streaming: the file is read in
 * MBOX_READ_BUF pieces and never held whole (a Gmail Takeout export is
 * many gigabytes).
 *
 * The variants (RFC 4155 section 2 and its appendix, qmail's mbox(5) for
 * the mboxrd quoting; the names are the usual ones, as in mutt and
 * Dovecot):
 *   - every message starts with a "From " line (the From_ line: sender and
 *     an asctime date) at the start of the file or of a line; the empty
 *     line written before it belongs to no message;
 *   - mboxo (Thunderbird, older mutt, readpst): body lines starting with
 *     "From " were written as ">From ", and nothing else was quoted: one
 *     '>' comes off ">From " only;
 *   - mboxrd (Gmail Takeout, mutt, Dovecot's exports): lines matching
 *     ^>*From  got one more '>': one '>' comes off any ^>+From ;
 *   - mboxcl2 (Solaris, some Exchange-era tools): nothing quoted, the
 *     body is exactly Content-Length bytes.
 * A Content-Length field is trusted when the bytes after that many body
 * bytes are the end of the file or a From_ line (mutt and Dovecot check
 * the same); the body is then taken whole, without unquoting.  Otherwise
 * the next line that starts with "From " and carries a date
 * (mbox_from_date) ends the message.
 *
 * Messages come out with CRLF line ends (LF alone becomes CRLF), as the
 * store and IMAP have them. */
#ifndef TERN_MBOX_READ_H
#define TERN_MBOX_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes read from the file at a time; also the longest line start that
 * is looked at for a From_ line or its quoting. */
#define MBOX_READ_BUF 65536

enum mbox_quoting {
	MBOX_QUOTING_RD,           /* strip one '>' from ^>+From  (default) */
	MBOX_QUOTING_O,            /* strip one '>' from ^>From  only */
};

struct mbox_reader;

/* A reader of the open file fd (not closed by the reader; pread is used
 * for the Content-Length check, so a pipe simply never trusts one).
 * Never NULL (aborts when out of memory). */
struct mbox_reader *mbox_reader_new(int fd, enum mbox_quoting quoting);
void mbox_reader_free(struct mbox_reader **r);

/* Moves to the next message, skipping what is left of the current one.
 * Returns 1 with *date_out the From_ line's date (unix time; 0 when the
 * first line of the file starts with "From " but its date does not
 * parse), 0 at the end of the file, or -1 (*error_out static): a read
 * error, or a file whose first line is not a From_ line. */
int mbox_reader_next(struct mbox_reader *r, int64_t *date_out, const char **error_out);

/* The current message's next bytes: *data_out points into the reader,
 * valid until the next call.  Returns their number, 0 at the end of the
 * message, or -1 on a read error (*error_out static). */
ssize_t mbox_reader_read(struct mbox_reader *r, const char **data_out, const char **error_out);

/* Bytes of the file consumed so far (for a progress line). */
uint64_t mbox_reader_offset(const struct mbox_reader *r);

/* The date of a From_ line's text after "From " (len bytes, no line end):
 * "sender Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]" (asctime, as
 * Thunderbird, mutt and Gmail write it, e.g. "- Mon Jan  1 00:00:00 2024"
 * or "123@xxx Sat Nov 14 07:25:23 +0000 2020") or "sender Www, dd Mmm
 * yyyy hh:mm[:ss] zone".  No zone means UTC.  0 with *date_out, or -1
 * when there is no such date (then the line is no From_ line). */
int mbox_from_date(const char *s, size_t len, int64_t *date_out);

#endif
