/* A growable byte buffer.  Memory is taken from the heap; running out of
 * memory is fatal (panic), so appends cannot fail. */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;      /* always NUL-terminated when cap > 0 */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Makes room for n more bytes; returns a pointer to the free space. */
char *buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
/* Appends v in decimal: for the hot paths where printf's parsing of the
 * format shows in profiles (a FETCH of 20,000 messages' FLAGS). */
void buf_put_u64(struct buf *b, uint64_t v);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);

#endif
