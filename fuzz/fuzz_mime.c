/* Fuzzes the MIME parser: any input parses, renders ENVELOPE, BODY and
 * BODYSTRUCTURE, and every part's offsets stay inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_part(const struct mime_part *p, size_t size, int depth)
{
	const struct mime_part *c;

	if (depth > 2 * MIME_DEPTH_MAX + 2)
		abort();
	if (p->header_offset + p->header_size != p->body_offset ||
	    p->body_offset + p->body_size > size || p->body_lines > p->body_size + 1)
		abort();
	for (c = p->children; c != NULL; c = c->next) {
		if (c->header_offset < p->body_offset ||
		    c->body_offset + c->body_size > p->body_offset + p->body_size)
			abort();
		check_part(c, size, depth + 1);
	}
	if (p->message != NULL) {
		if (p->message->envelope == NULL)
			abort();
		check_part(p->message, size, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena = arena_new(16384, false);
	struct buf out = BUF_INIT;
	struct mime_part *root;
	/* an exact-size copy so reads past the end are caught */
	char *msg = malloc(size + 1);

	memcpy(msg, data, size);
	root = mime_parse(msg, size, arena);
	check_part(root, size, 0);
	{
		/* section lookup walks the tree without leaving it */
		unsigned nums[4] = { 1, 2, 1, 1 };
		if (size > 0)
			nums[1] = data[0] % 4 + 1u;
		for (size_t n = 1; n <= 4; n++)
			(void)mime_part_find(root, nums, n);
	}
	mime_envelope_write(&out, root->envelope);
	mime_bodystructure_write(&out, root, true);
	mime_bodystructure_write(&out, root, false);
	if (out.len == 0 || out.data[out.len - 1] != ')')
		abort();
	buf_free(&out);
	free(msg);
	arena_free(&arena);
	return 0;
}
