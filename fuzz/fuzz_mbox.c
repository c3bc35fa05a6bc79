/* Fuzzes the mbox splitter (src/mime/mbox_read.c) and the status fields
 * of an mbox header (src/cli/cli_mbox_header.c): any input splits into
 * messages without reading past it, every LF given out follows a CR, the
 * output is at most twice the input, and each message's header parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cli_mbox.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mbox_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run(int fd, size_t size, enum mbox_quoting q, struct arena *a)
{
	struct mbox_reader *r;
	struct buf head = BUF_INIT, kept = BUF_INIT;
	const char *error, *out;
	uint64_t total = 0;
	int64_t date;

	lseek(fd, 0, SEEK_SET);
	r = mbox_reader_new(fd, q);
	while (mbox_reader_next(r, &date, &error) == 1) {
		ssize_t n;
		bool cr = false;

		buf_reset(&head);
		while ((n = mbox_reader_read(r, &out, &error)) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				if (out[i] == '\n' && !cr)
					abort();
				cr = out[i] == '\r';
			}
			if (head.len < MBOX_HEADER_MAX)
				buf_append(&head, out, (size_t)n);
			total += (uint64_t)n;
		}
		if (n < 0 || total > 2 * (uint64_t)size + 4)
			abort();
		if (head.len > 0) {
			struct mbox_meta m;
			char *end = memmem(head.data, head.len, "\r\n\r\n", 4);

			buf_reset(&kept);
			cli_mbox_header(head.data, end != NULL ? (size_t)(end - head.data) + 4 : head.len, &m, &kept, a);
			if (kept.len > head.len || m.n_labels > MBOX_LABELS_MAX)
				abort();
		}
		arena_reset(a);
	}
	if (mbox_reader_offset(r) > size)
		abort();
	mbox_reader_free(&r);
	buf_free(&head);
	buf_free(&kept);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(16384, false);
	int fd = memfd_create("fuzz_mbox", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	run(fd, size, MBOX_QUOTING_RD, a);
	run(fd, size, MBOX_QUOTING_O, a);
	close(fd);
	arena_free(&a);
	return 0;
}
