/* Fuzzes what the proxy reads of a back end (proxy_parse.c): each input
 * line as an IMAP greeting, a login reply (a capability list copied into
 * a small and a large buffer), a POP3 status, and as XCLIENT arguments on
 * the back end's side.  Results must stay inside their buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *line, size_t len)
{
	char caps[PROXY_LINE_MAX], small[5], addr[46], q[32], copy[300];
	unsigned port = 0;
	bool ok = false;
	int r;

	(void)proxy_imap_greeting_ok(line, len);
	(void)proxy_pop3_ok(line, len);
	caps[0] = '\0';
	r = proxy_imap_reply(line, len, "P2", &ok, caps, sizeof(caps));
	if (r < 0 || r > 2 || strlen(caps) >= sizeof(caps))
		abort();
	small[0] = '\0';
	r = proxy_imap_reply(line, len, "P2", &ok, small, sizeof(small));
	if (strlen(small) >= sizeof(small))
		abort();
	if (len < sizeof(copy)) {
		memcpy(copy, line, len);
		copy[len] = '\0';
		if (memchr(line, '\0', len) == NULL) {
			if (proxy_xclient_parse(copy, addr, sizeof(addr), &port) == 0 && (addr[0] == '\0' || port > 65535))
				abort();
			proxy_imap_quote(copy, q, sizeof(q));
			if (strlen(q) >= sizeof(q) || q[0] != '"')
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);

		if (len < PROXY_LINE_MAX) {
			char *line = malloc(len + 1);

			memcpy(line, p, len);
			line[len] = '\0';
			check_line(line, len > 0 && line[len - 1] == '\r' ? len - 1 : len);
			free(line);
		}
		p += len + 1;
	}
	return 0;
}
