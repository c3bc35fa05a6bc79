/* COMPRESS DEFLATE (RFC 4978): the OK goes out uncompressed, then both
 * directions are raw DEFLATE (conn_compress_start).  Worth it for phones:
 * FETCH of headers compresses 3-5 times. */
#include "imap/imap_session.h"

void
imap_cmd_compress(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	if (args == NULL || args->next != NULL || !imap_arg_atom_is(args, "DEFLATE")) {
		imap_complete_bad(s, "COMPRESS supports DEFLATE only");
		return;
	}
	if (s->compressed) {
		imap_complete(s, IMAP_NO, "COMPRESSIONACTIVE", "Compression is already active");
		return;
	}
	imap_tagged(s, IMAP_OK, NULL, "DEFLATE active");
	if (conn_compress_start(s->c) == -1) {
		/* The client compresses from now on and we cannot follow. */
		imap_close(s, "compress-failed");
	}
	s->compressed = true;
	imap_complete_written(s);
}
