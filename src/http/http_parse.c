/* HTTP/1.1 request heads (RFC 9112 2-6, RFC 9110 5): see http_parse.h. */
#include <string.h>
#include <strings.h>

#include "http/http_parse.h"
#include "lib/str.h"

/* RFC 9110 5.6.2: tchar */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int
http_head_end(const char *data, size_t len, struct http_scan *sc, size_t *head_len_out, int *status_out)
{
	for (size_t i = sc->pos; i < len; i++) {
		size_t line_len;

		if (i >= HTTP_HEAD_MAX) {
			*status_out = sc->request_line ? 431 : 414;
			return -1;
		}
		if (data[i] != '\n') {
			if (i - sc->line_start >= HTTP_LINE_MAX) {
				*status_out = sc->request_line ? 431 : 414;
				return -1;
			}
			continue;
		}
		line_len = i - sc->line_start;
		if (line_len > 0 && data[i - 1] == '\r')
			line_len--;
		sc->line_start = i + 1;
		if (line_len > 0) {
			sc->request_line = true;
			continue;
		}
		if (!sc->request_line)
			continue;       /* an empty line before the request line */
		*head_len_out = i + 1;
		sc->pos = i + 1;
		return 1;
	}
	sc->pos = len;
	if (len >= HTTP_HEAD_MAX) {
		*status_out = sc->request_line ? 431 : 414;
		return -1;
	}
	return 0;
}

/* Cuts the next line at *p (ending at LF, a CR before it dropped); NULL
 * at the end of the head. */
static char *
next_line(char **p, char *end)
{
	char *line = *p, *lf;

	if (line >= end)
		return NULL;
	lf = memchr(line, '\n', (size_t)(end - line));
	if (lf == NULL)
		lf = end;
	*p = lf + 1;
	if (lf > line && lf[-1] == '\r')
		lf--;
	*lf = '\0';
	return line;
}

#define FAIL(status, text) do { *status_out = (status); *error_out = (text); return -1; } while (0)

static int
parse_request_line(struct http_request *req, char *line, int *status_out, const char **error_out)
{
	char *sp1, *sp2, *v;
	size_t mlen;

	sp1 = strchr(line, ' ');
	if (sp1 == NULL)
		FAIL(400, "malformed request line");
	mlen = (size_t)(sp1 - line);
	if (mlen == 0)
		FAIL(400, "no method");
	for (size_t i = 0; i < mlen; i++) {
		if (!is_tchar((unsigned char)line[i]))
			FAIL(400, "bad character in method");
	}
	if (mlen > HTTP_METHOD_MAX)
		FAIL(501, "unknown method");
	*sp1 = '\0';
	req->method = line;
	req->target = sp1 + 1;
	sp2 = strchr(req->target, ' ');
	if (sp2 == NULL || sp2 == req->target)
		FAIL(400, "malformed request line");
	*sp2 = '\0';
	for (const char *t = req->target; *t != '\0'; t++) {
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			FAIL(400, "bad character in request target");
	}
	v = sp2 + 1;
	if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
	    v[7] > '9' || v[8] != '\0')
		FAIL(400, "malformed HTTP version");
	if (v[5] != '1')
		FAIL(505, "HTTP version not supported");
	req->version = v[7] == '0' ? 10 : 11;
	req->keep_alive = req->version == 11;

	/* RFC 9112 3.2: origin-form, absolute-form (proxies' form, which
	 * servers must accept), asterisk-form */
	if (req->target[0] == '/') {
		req->path = req->target;
	} else if (strncasecmp(req->target, "http://", 7) == 0 || strncasecmp(req->target, "https://", 8) == 0) {
		const char *auth = strstr(req->target, "//") + 2;
		const char *slash = strchr(auth, '/');

		req->path = slash != NULL ? slash : "/";
	} else if (strcmp(req->target, "*") == 0) {
		req->path = req->target;
	} else {
		FAIL(400, "bad request target");
	}
	return 0;
}

/* Content-Length (RFC 9112 6.3): digits only; copies must agree. */
static int
parse_content_length(const char *value, uint64_t *out)
{
	uint64_t n = 0;

	if (*value == '\0')
		return -1;
	for (const char *p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (n > HTTP_BODY_MAX)
			continue;       /* too large anyway; keep checking the syntax */
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = n;
	return 0;
}

/* A comma-separated list has token tok (case-insensitive). */
static bool
list_has(const char *list, const char *tok)
{
	size_t tlen = strlen(tok);

	for (const char *p = list; *p != '\0';) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ", \t");
		if (n == tlen && strncasecmp(p, tok, n) == 0)
			return true;
		p += n;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return false;
}

int
http_parse_head(const char *data, size_t head_len, struct http_request *req, int *status_out,
                const char **error_out)
{
	char *p, *end, *line;
	unsigned hosts = 0, lengths = 0;
	bool te = false;

	if (head_len > HTTP_HEAD_MAX)
		FAIL(431, "request header section too large");
	memcpy(req->buf, data, head_len);
	req->buf[head_len] = '\0';
	p = req->buf;
	end = req->buf + head_len;
	req->nheaders = 0;
	req->host = NULL;
	req->content_length = 0;
	req->expect_continue = false;
	req->head_len = head_len;
	req->query = "";
	if (memchr(req->buf, '\0', head_len) != NULL)
		FAIL(400, "NUL in request");
	do {
		line = next_line(&p, end);
	} while (line != NULL && *line == '\0');
	if (line == NULL)
		FAIL(400, "no request line");
	if (strchr(line, '\r') != NULL)
		FAIL(400, "bare CR in request line");
	if (parse_request_line(req, line, status_out, error_out) == -1)
		return -1;
	while ((line = next_line(&p, end)) != NULL && *line != '\0') {
		struct http_header *h;
		char *colon, *v, *vend;

		if (*line == ' ' || *line == '\t')
			FAIL(400, "obsolete line folding");
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			FAIL(400, "malformed header field");
		for (char *c = line; c < colon; c++) {
			if (!is_tchar((unsigned char)*c))
				FAIL(400, "bad character in header field name");
		}
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		vend = v + strlen(v);
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		*vend = '\0';
		for (const char *c = v; *c != '\0'; c++) {
			unsigned char u = (unsigned char)*c;

			if ((u < 0x20 && u != '\t') || u == 0x7f)
				FAIL(400, "bad character in header field value");
		}
		if (req->nheaders == HTTP_HEADERS_MAX)
			FAIL(431, "too many header fields");
		h = &req->headers[req->nheaders++];
		h->name = line;
		h->value = v;
		if (strcasecmp(line, "Host") == 0) {
			hosts++;
			req->host = v;
		} else if (strcasecmp(line, "Content-Length") == 0) {
			uint64_t n;

			if (parse_content_length(v, &n) == -1)
				FAIL(400, "bad Content-Length");
			if (lengths++ > 0 && n != req->content_length)
				FAIL(400, "conflicting Content-Length");
			req->content_length = n;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			te = true;
		} else if (strcasecmp(line, "Connection") == 0) {
			if (list_has(v, "close"))
				req->keep_alive = false;
			else if (list_has(v, "keep-alive"))
				req->keep_alive = true;
		} else if (strcasecmp(line, "Expect") == 0) {
			req->expect_continue = strcasecmp(v, "100-continue") == 0;
		}
	}
	/* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one ever */
	if (hosts > 1 || (hosts == 0 && req->version == 11))
		FAIL(400, "Host header missing or repeated");
	/* RFC 9112 6.1: both framings at once is a smuggling attempt */
	if (te && lengths > 0)
		FAIL(400, "both Transfer-Encoding and Content-Length");
	if (te) {
		if (list_has(http_header_get(req, "Transfer-Encoding"), "chunked"))
			FAIL(411, "chunked request bodies are not accepted: send Content-Length");
		FAIL(501, "transfer coding not implemented");
	}
	if (req->content_length > HTTP_BODY_MAX)
		FAIL(413, "request body too large");
	{
		char *q = strchr(req->path, '?');

		if (q != NULL) {
			/* path points into buf (or is the static "/") */
			*q = '\0';
			req->query = q + 1;
		}
	}
	return 0;
}

int
http_parse_request(const char *data, size_t len, struct http_request *req, size_t *used_out,
                   int *status_out, const char **error_out)
{
	struct http_scan sc = { 0 };
	size_t head_len;
	int r = http_head_end(data, len, &sc, &head_len, status_out);

	if (r <= 0) {
		if (r < 0)
			*error_out = "request head too long";
		return r;
	}
	if (http_parse_head(data, head_len, req, status_out, error_out) == -1)
		return -1;
	if (len - head_len < req->content_length)
		return 0;
	*used_out = head_len + (size_t)req->content_length;
	return 1;
}

const char *
http_header_get(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

int
http_query_get(const char *query, const char *name, char *out, size_t outsize)
{
	size_t nlen = strlen(name);

	for (const char *p = query; *p != '\0';) {
		size_t plen = strcspn(p, "&");

		if (plen > nlen && p[nlen] == '=' && strncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1, *vend = p + plen;
			size_t o = 0;

			while (v < vend) {
				int c = (unsigned char)*v;

				if (c == '+') {
					c = ' ';
					v++;
				} else if (c == '%' && vend - v >= 3 && str_hexval(v[1]) >= 0 && str_hexval(v[2]) >= 0) {
					c = str_hexval(v[1]) * 16 + str_hexval(v[2]);
					v += 3;
				} else {
					v++;
				}
				if (c < 0x20 || c == 0x7f || o + 1 >= outsize)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 0;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return -1;
}

int
http_cookie_get(const struct http_request *req, const char *name, char *out, size_t outsize)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, "Cookie") != 0)
			continue;
		/* cookie-string = cookie-pair *( ";" SP cookie-pair ), RFC 6265 4.2.1;
		 * blanks around the separator are forgiven */
		for (const char *p = req->headers[i].value; *p != '\0';) {
			size_t plen = strcspn(p, ";");

			if (plen > nlen && p[nlen] == '=' && strncmp(p, name, nlen) == 0) {
				const char *v = p + nlen + 1;
				size_t vlen = plen - nlen - 1;

				while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
					vlen--;
				if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
					v++;
					vlen -= 2;
				}
				if (vlen + 1 > outsize)
					return -1;
				memcpy(out, v, vlen);
				out[vlen] = '\0';
				return 0;
			}
			p += plen;
			while (*p == ';' || *p == ' ' || *p == '\t')
				p++;
		}
	}
	return -1;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
