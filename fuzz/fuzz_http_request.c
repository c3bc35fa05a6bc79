/* Fuzzes the HTTP request parser (src/http/http_parse.h) as the session
 * drives it: the input is a stream of pipelined requests, fed to
 * http_head_end in growing pieces whose sizes come from the input (the
 * scan must find the same end as a one-piece scan), then parsed; every
 * string of a parsed request must lie inside its buffer, the limits must
 * hold, and an error must carry a status the session can send.  The
 * Autodiscover request reader, the query decoder and the cookie reader
 * get the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_docs.h"
#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_request req;

static void
inside(const char *p)
{
	if (p == NULL)
		return;
	/* or the parser's constants: path "/" of an absolute URI, no query "" */
	if ((p < req.buf || p > req.buf + sizeof(req.buf) - 1) && strcmp(p, "/") != 0 && *p != '\0')
		abort();
	if (strlen(p) > HTTP_HEAD_MAX)
		abort();
}

static void
check_status(int status)
{
	static const int ok[] = { 400, 411, 413, 414, 431, 501, 505 };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (status == ok[i])
			return;
	}
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t off = 0, k = 0;

	if (size > 3 * HTTP_HEAD_MAX)
		return 0;
	while (off < size) {
		struct http_scan whole = { 0 }, piece = { 0 };
		size_t head_a = 0, head_b = 0, n = 0;
		int status_a = 0, status_b = 0, ra, rb = 0;
		const char *error = NULL;
		char val[256];

		ra = http_head_end(in + off, size - off, &whole, &head_a, &status_a);
		while (n < size - off) {
			n += 1 + data[k++ % size] % 97;
			if (n > size - off)
				n = size - off;
			rb = http_head_end(in + off, n, &piece, &head_b, &status_b);
			if (rb != 0)
				break;
		}
		if (ra != rb || (ra == 1 && head_a != head_b) || (ra == -1 && status_a != status_b))
			abort();
		if (ra <= 0) {
			if (ra < 0)
				check_status(status_a);
			break;
		}
		if (head_a > HTTP_HEAD_MAX || head_a > size - off)
			abort();
		if (http_parse_head(in + off, head_a, &req, &status_a, &error) == -1) {
			check_status(status_a);
			if (error == NULL)
				abort();
			break;
		}
		inside(req.method);
		inside(req.target);
		inside(req.path);
		inside(req.query);
		inside(req.host);
		if (req.nheaders > HTTP_HEADERS_MAX || req.content_length > HTTP_BODY_MAX)
			abort();
		if (req.version != 10 && req.version != 11)
			abort();
		for (size_t i = 0; i < req.nheaders; i++) {
			inside(req.headers[i].name);
			inside(req.headers[i].value);
		}
		if (http_query_get(req.query, "emailaddress", val, sizeof(val)) == 0 && strlen(val) >= sizeof(val))
			abort();
		if (http_cookie_get(&req, "__Host-tern", val, sizeof(val)) == 0 && strlen(val) >= sizeof(val))
			abort();
		off += head_a;
		if (req.content_length > size - off)
			break;
		{
			char addr[ADDRESS_MAX + 1];

			if (http_autodiscover_request(in + off, (size_t)req.content_length, addr, sizeof(addr)) == 0 &&
			    !http_address_ok(addr))
				abort();
		}
		off += (size_t)req.content_length;
	}
	return 0;
}
