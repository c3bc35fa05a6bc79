/* What the proxy reads of a back end's login replies, and the back end's
 * XCLIENT arguments: pure functions on one line (fuzz/fuzz_proxy_parse.c). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/proxy.h"

/* Copies the capability list that starts at p (up to end, or to the
 * closing ']' when in_code) into caps: printable ASCII only. */
static void
copy_caps(const char *p, const char *end, bool in_code, char *caps, size_t caps_size)
{
	size_t n = 0;

	if (caps_size == 0)
		return;
	while (p < end && *p == ' ')
		p++;
	for (; p < end && n + 1 < caps_size; p++) {
		if (in_code && *p == ']')
			break;
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			break;
		caps[n++] = *p;
	}
	while (n > 0 && caps[n - 1] == ' ')
		n--;
	caps[n] = '\0';
}

static bool
prefix_ci(const char *line, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return len >= wl && strncasecmp(line, word, wl) == 0;
}

int
proxy_imap_greeting_ok(const char *line, size_t len)
{
	return prefix_ci(line, len, "* OK ") || (len == 4 && prefix_ci(line, len, "* OK"));
}

int
proxy_imap_reply(const char *line, size_t len, const char *tag, bool *ok_out, char *caps, size_t caps_size)
{
	size_t tl = strlen(tag);
	const char *end = line + len, *p;

	if (prefix_ci(line, len, "* CAPABILITY ")) {
		copy_caps(line + 13, end, false, caps, caps_size);
		return 2;
	}
	if (tl == 0 || len <= tl || memcmp(line, tag, tl) != 0 || line[tl] != ' ')
		return 0;
	p = line + tl + 1;
	*ok_out = prefix_ci(p, (size_t)(end - p), "OK") && (end - p == 2 || p[2] == ' ');
	if (*ok_out && end - p > 3) {
		p += 3;
		if (prefix_ci(p, (size_t)(end - p), "[CAPABILITY "))
			copy_caps(p + 12, end, true, caps, caps_size);
	}
	return 1;
}

int
proxy_pop3_ok(const char *line, size_t len)
{
	return len >= 3 && memcmp(line, "+OK", 3) == 0 && (len == 3 || line[3] == ' ');
}

void
proxy_imap_quote(const char *s, char *out, size_t size)
{
	size_t n = 0;

	if (size < 3) {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	out[n++] = '"';
	for (; *s != '\0' && n + 2 < size; s++)
		out[n++] = (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\' ? '?' : *s;
	out[n++] = '"';
	out[n] = '\0';
}

int
proxy_xclient_parse(const char *args, char *addr, size_t addr_size, unsigned *port_out)
{
	char copy[256], *tok, *save = NULL;
	bool have_addr = false, have_port = false;
	unsigned char bin[16];

	if (addr_size == 0 || strlen(args) >= sizeof(copy))
		return -1;
	addr[0] = '\0';
	*port_out = 0;
	memcpy(copy, args, strlen(args) + 1);
	for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), *v;

		if (eq == NULL)
			return -1;
		*eq = '\0';
		v = eq + 1;
		if (strcasecmp(tok, "ADDR") == 0 && !have_addr) {
			/* Postfix's XCLIENT writes IPv6 as "IPV6:2001:db8::1" */
			if (strncasecmp(v, "IPV6:", 5) == 0)
				v += 5;
			if ((inet_pton(AF_INET, v, bin) != 1 && inet_pton(AF_INET6, v, bin) != 1) ||
			    strlen(v) >= addr_size)
				return -1;
			memcpy(addr, v, strlen(v) + 1);
			have_addr = true;
		} else if (strcasecmp(tok, "PORT") == 0 && !have_port) {
			char *e;
			unsigned long n;

			if (*v < '0' || *v > '9')
				return -1;
			n = strtoul(v, &e, 10);
			if (*e != '\0' || n == 0 || n > 65535)
				return -1;
			*port_out = (unsigned)n;
			have_port = true;
		} else {
			return -1;
		}
	}
	return have_addr ? 0 : -1;
}
