/* Fuzzes transfer decoding, charset conversion, RFC 2047 words and the
 * searchable-text extraction: nothing crashes or reads past the input,
 * converted text is valid UTF-8, and the extracted text keeps its
 * promises (valid UTF-8, no NUL or CR, within the cap).
 *
 * Input: byte 0 picks the encoding and charset, the rest is the data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const encodings[] = {
	NULL, "7bit", "BASE64", "quoted-printable", "Binary", "x-unknown", " base64 ", "8BIT",
};
static const char *const charsets[] = {
	NULL, "UTF-8", "ISO-8859-1", "windows-1252", "us-ascii", "KOI8-R", "Shift_JIS",
	"ISO-2022-JP", "UTF-16", "UTF-16LE", "UTF-32", "GB18030", "EUC-KR", "UTF-7",
	"x-bogus", "../etc", "BIG5", "ISO-8859-8",
};

static bool
utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], need, lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		else
			return false;
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= n || p[i + k] < lo || p[i + k] > hi)
				return false;
			lo = 0x80;
			hi = 0xBF;
		}
		i += need + 1;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *arena;
	struct buf out = BUF_INIT, h = BUF_INIT, b = BUF_INIT;
	const char *enc, *cs;
	char *in, *str, *w;
	size_t n, max;
	enum mime_decode_result r;

	if (size == 0)
		return 0;
	enc = encodings[data[0] % (sizeof(encodings) / sizeof(encodings[0]))];
	cs = charsets[(data[0] >> 3) % (sizeof(charsets) / sizeof(charsets[0]))];
	n = size - 1;
	/* exact-size copies so reads past the end are caught */
	in = malloc(n > 0 ? n : 1);
	memcpy(in, data + 1, n);

	r = mime_decode_transfer(enc, in, n, &out);
	if (r == MIME_DECODE_OK && enc != NULL && strcmp(enc, "BASE64") == 0 && out.len > n)
		abort();
	buf_reset(&out);
	mime_charset_to_utf8(cs, in, n, &out);
	if (!utf8_ok(out.data, out.len))
		abort();

	arena = arena_new(4096, false);
	str = malloc(n + 1);
	memcpy(str, in, n);
	str[n] = '\0';
	w = mime_decode_words(str, arena);
	if (w == NULL)
		abort();

	buf_reset(&out);
	mime_text_html(in, n, &out);

	max = (size_t)data[0] * 64;
	mime_text_extract(in, n, mime_parse(in, n, arena), max, &h, &b);
	if (h.len + b.len > max || !utf8_ok(h.data, h.len) || !utf8_ok(b.data, b.len) ||
	    memchr(h.data, '\0', h.len) != NULL || memchr(b.data, '\0', b.len) != NULL ||
	    memchr(h.data, '\r', h.len) != NULL || memchr(b.data, '\r', b.len) != NULL)
		abort();

	/* the preview: valid UTF-8, no control characters, at most
	 * data[0] characters (4 octets each at most) */
	buf_reset(&out);
	mime_text_preview(in, n, mime_parse(in, n, arena), data[0], &out);
	if (out.len > 4 * (size_t)data[0] || !utf8_ok(out.data, out.len))
		abort();
	for (size_t i = 0; i < out.len; i++)
		if ((unsigned char)out.data[i] < 0x20 || out.data[i] == 0x7F)
			abort();

	arena_free(&arena);
	buf_free(&out);
	buf_free(&h);
	buf_free(&b);
	free(str);
	free(in);
	return 0;
}
