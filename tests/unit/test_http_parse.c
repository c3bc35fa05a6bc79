/* The HTTP request parser (src/http/http_parse.h): request lines, header
 * fields, the limits with their status codes, bodies and framing,
 * pipelined requests, byte-by-byte arrival, query parameters; and the
 * documents' escaping (http_docs.h). */
#include <stdlib.h>
#include <string.h>

#include "http/http_docs.h"
#include "http/http_parse.h"
#include "test.h"

static struct http_request req;

/* Parses text as a whole buffer: the http_parse_request result, status
 * set on -1, *used on 1. */
static int
parse(const char *text, size_t len, int *status, size_t *used)
{
	const char *error = NULL;
	int r;

	*status = 0;
	r = http_parse_request(text, len, &req, used, status, &error);
	if (r == -1 && error == NULL)
		printf("# no error text for status %d\n", *status);
	return r;
}

static int
status_of(const char *text)
{
	int status;
	size_t used;

	if (parse(text, strlen(text), &status, &used) != -1)
		return 0;
	return status;
}

static void
test_simple(void)
{
	static const char text[] = "GET /mail/config-v1.1.xml?emailaddress=a%40b.test HTTP/1.1\r\n"
	                           "Host: autoconfig.b.test\r\nUser-Agent:  curl/7.88  \r\n\r\n";
	int status;
	size_t used;

	test_begin("http parse simple GET");
	test_assert_inteq(parse(text, strlen(text), &status, &used), 1);
	test_assert_inteq(used, strlen(text));
	test_assert_streq(req.method, "GET");
	test_assert_streq(req.path, "/mail/config-v1.1.xml");
	test_assert_streq(req.query, "emailaddress=a%40b.test");
	test_assert_inteq(req.version, 11);
	test_assert(req.keep_alive);
	test_assert_streq(req.host, "autoconfig.b.test");
	test_assert_streq(http_header_get(&req, "user-agent"), "curl/7.88");
	test_assert(http_header_get(&req, "Accept") == NULL);
	test_assert_inteq(req.content_length, 0);
	test_end();
}

static void
test_versions_and_connection(void)
{
	int status;
	size_t used;
	static const char t10[] = "GET / HTTP/1.0\r\n\r\n";
	static const char t10ka[] = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
	static const char tclose[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n";
	static const char tlf[] = "\r\n\nGET / HTTP/1.1\nHost: x\n\n";
	static const char tabs[] = "GET http://x.test/healthz?a=1 HTTP/1.1\r\nHost: x.test\r\n\r\n";

	test_begin("http parse versions, Connection, bare LF, absolute-form");
	test_assert_inteq(parse(t10, strlen(t10), &status, &used), 1);
	test_assert_inteq(req.version, 10);
	test_assert(!req.keep_alive);
	test_assert(req.host == NULL);
	test_assert_inteq(parse(t10ka, strlen(t10ka), &status, &used), 1);
	test_assert(req.keep_alive);
	test_assert_inteq(parse(tclose, strlen(tclose), &status, &used), 1);
	test_assert(!req.keep_alive);
	test_assert_inteq(parse(tlf, strlen(tlf), &status, &used), 1);
	test_assert_inteq(used, strlen(tlf));
	test_assert_streq(req.path, "/");
	test_assert_inteq(parse(tabs, strlen(tabs), &status, &used), 1);
	test_assert_streq(req.path, "/healthz");
	test_assert_streq(req.query, "a=1");
	test_assert_inteq(status_of("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
	test_assert_inteq(status_of("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / http/1.1\r\nHost: x\r\n\r\n"), 400);
	test_end();
}

static void
test_errors(void)
{
	test_begin("http parse malformed requests");
	test_assert_inteq(status_of("GET / HTTP/1.1\r\n\r\n"), 400);                     /* no Host */
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	test_assert_inteq(status_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	test_assert_inteq(status_of("GETGETGETGETGETGETGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 501);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
	test_assert_inteq(status_of("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
	test_assert_inteq(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
	test_assert_inteq(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
	test_assert_inteq(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	                            "Content-Length: 3\r\n\r\nabc"), 400);
	test_assert_inteq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n"), 413);
	test_assert_inteq(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
	                  413);
	{
		static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
		int status;
		size_t used;

		test_assert_inteq(parse(nul, sizeof(nul) - 1, &status, &used), -1);
		test_assert_inteq(status, 400);
	}
	test_end();
}

static void
test_limits(void)
{
	struct buf b = BUF_INIT;
	int status;
	size_t used;

	test_begin("http parse limits: 414, 431, 100 fields, 32 KiB head");
	/* a request line of HTTP_LINE_MAX */
	buf_puts(&b, "GET /");
	for (size_t i = 0; i < HTTP_LINE_MAX; i++)
		buf_puts(&b, "a");
	buf_puts(&b, " HTTP/1.1\r\nHost: a\r\n\r\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), -1);
	test_assert_inteq(status, 414);
	/* a header line too long */
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	for (size_t i = 0; i < HTTP_LINE_MAX; i++)
		buf_puts(&b, "b");
	buf_puts(&b, "\r\n\r\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), -1);
	test_assert_inteq(status, 431);
	/* just under: fine */
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	for (size_t i = 0; i < HTTP_LINE_MAX - 6; i++)
		buf_puts(&b, "b");
	buf_puts(&b, "\r\n\r\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), 1);
	/* HTTP_HEADERS_MAX fields pass, one more does not */
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < HTTP_HEADERS_MAX; i++)
		buf_printf(&b, "X-%d: %d\r\n", i, i);
	buf_puts(&b, "\r\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), 1);
	test_assert_inteq(req.nheaders, HTTP_HEADERS_MAX);
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		buf_printf(&b, "X-%d: %d\r\n", i, i);
	buf_puts(&b, "\r\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), -1);
	test_assert_inteq(status, 431);
	/* the head over HTTP_HEAD_MAX in lines that are each fine */
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	while (b.len <= HTTP_HEAD_MAX)
		buf_puts(&b, "X: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), -1);
	test_assert_inteq(status, 431);
	/* no end in sight, and no more bytes to come yet: still an error */
	buf_reset(&b);
	for (size_t i = 0; i < HTTP_HEAD_MAX; i++)
		buf_puts(&b, "\n");
	test_assert_inteq(parse(b.data, b.len, &status, &used), -1);
	buf_free(&b);
	test_end();
}

static void
test_body_and_pipelining(void)
{
	static const char two[] = "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	                          "Expect: 100-continue\r\n\r\nhelloGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t first = strlen(two) - strlen("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
	int status;
	size_t used;

	test_begin("http parse body and pipelined requests");
	test_assert_inteq(parse(two, strlen(two), &status, &used), 1);
	test_assert_inteq(used, first);
	test_assert_inteq(req.content_length, 5);
	test_assert(req.expect_continue);
	test_assert(memcmp(two + req.head_len, "hello", 5) == 0);
	test_assert_inteq(parse(two + used, strlen(two) - used, &status, &used), 1);
	test_assert_streq(req.path, "/healthz");
	/* the body not all here yet */
	test_assert_inteq(parse(two, first - 1, &status, &used), 0);
	test_end();
}

/* Bytes arriving one at a time: http_head_end resumes where it stopped
 * and finds the same end as with the whole buffer. */
static void
test_trickle(void)
{
	static const char text[] = "\r\nGET /a HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nrest";
	struct http_scan sc = { 0 };
	size_t head_len = 0, found_at = 0;
	int status, r = 0;

	test_begin("http parse byte by byte");
	for (size_t n = 1; n <= strlen(text) && r == 0; n++) {
		r = http_head_end(text, n, &sc, &head_len, &status);
		found_at = n;
	}
	test_assert_inteq(r, 1);
	test_assert_inteq(head_len, strlen(text) - 4);
	test_assert_inteq(found_at, head_len);
	test_end();
}

static void
test_query(void)
{
	char out[64];

	test_begin("http query parameters");
	test_assert_inteq(http_query_get("a=1&emailaddress=bob%40x.test&b=", "EmailAddress", out, sizeof(out)), 0);
	test_assert_streq(out, "bob@x.test");
	test_assert_inteq(http_query_get("Email=a+b%2bc", "email", out, sizeof(out)), 0);
	test_assert_streq(out, "a b+c");
	test_assert_inteq(http_query_get("b=", "b", out, sizeof(out)), 0);
	test_assert_streq(out, "");
	test_assert_inteq(http_query_get("ab=1", "b", out, sizeof(out)), -1);
	test_assert_inteq(http_query_get("", "b", out, sizeof(out)), -1);
	test_assert_inteq(http_query_get("b=%0a", "b", out, sizeof(out)), -1);
	test_assert_inteq(http_query_get("b=%00", "b", out, sizeof(out)), -1);
	test_assert_inteq(http_query_get("b=12345678", "b", out, 4), -1);
	test_end();
}

/* Cookie header fields (RFC 6265 4.2.1, 5.4): "a=b; c=d", names
 * case-sensitive, DQUOTEs around a value dropped, several fields. */
static void
test_cookie(void)
{
	const char *in = "GET / HTTP/1.1\r\nHost: x\r\nCookie: theme=dark; __Host-tern=abc123;x=\"q\"\r\n"
	                 "Cookie: late=1\r\n\r\n";
	char out[16];
	int status;
	size_t used;

	test_begin("http cookies");
	test_assert_inteq(parse(in, strlen(in), &status, &used), 1);
	test_assert_inteq(http_cookie_get(&req, "__Host-tern", out, sizeof(out)), 0);
	test_assert_streq(out, "abc123");
	test_assert_inteq(http_cookie_get(&req, "theme", out, sizeof(out)), 0);
	test_assert_streq(out, "dark");
	test_assert_inteq(http_cookie_get(&req, "x", out, sizeof(out)), 0);
	test_assert_streq(out, "q");
	test_assert_inteq(http_cookie_get(&req, "late", out, sizeof(out)), 0);
	test_assert_streq(out, "1");
	test_assert_inteq(http_cookie_get(&req, "__host-tern", out, sizeof(out)), -1);
	test_assert_inteq(http_cookie_get(&req, "Host-tern", out, sizeof(out)), -1);
	test_assert_inteq(http_cookie_get(&req, "__Host-tern", out, 4), -1);
	test_end();
}

static void
test_docs(void)
{
	struct buf b = BUF_INIT;
	char addr[ADDRESS_MAX + 1];
	static const char request[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\n"
		"  <Request>\n    <EMailAddress> o&apos;neil@x.test </EMailAddress>\n"
		"    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
		"</AcceptableResponseSchema>\n  </Request>\n</Autodiscover>\n";
	static const char mobile[] =
		"<Autodiscover><Request><EMailAddress>a@x.test</EMailAddress><AcceptableResponseSchema>"
		"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
		"</AcceptableResponseSchema></Request></Autodiscover>";

	test_begin("http documents: escaping, Autodiscover request");
	http_xml_escape(&b, "a<b>&\"c'");
	test_assert_streq(b.data, "a&lt;b&gt;&amp;&quot;c&apos;");
	buf_reset(&b);
	http_json_escape(&b, "a\"\\\n");
	test_assert_streq(b.data, "a\\\"\\\\\\u000a");
	test_assert_inteq(http_autodiscover_request(request, strlen(request), addr, sizeof(addr)), 0);
	test_assert_streq(addr, "o'neil@x.test");
	test_assert_inteq(http_autodiscover_request(mobile, strlen(mobile), addr, sizeof(addr)), -1);
	test_assert_inteq(http_autodiscover_request("<EMailAddress>no at</EMailAddress>", 34, addr, sizeof(addr)), -1);
	test_assert_inteq(http_autodiscover_request("<EMailAddress>a&#64;b</EMailAddress>", 36, addr, sizeof(addr)), -1);
	test_assert_inteq(http_autodiscover_request("", 0, addr, sizeof(addr)), -1);
	test_assert(http_address_ok("a@b"));
	test_assert(!http_address_ok("a@b@c"));
	test_assert(!http_address_ok("@b"));
	test_assert(!http_address_ok("a b@c"));
	buf_free(&b);
	test_end();
}

/* The documents from a configuration filled in by hand: only services
 * that listen, STARTTLS ones only with a certificate, external_hostname,
 * OAuth2 when an issuer is set, no passwords with basic = off, and the
 * client's domain escaped. */
static void
test_doc_contents(void)
{
	static struct tern_config cfg;
	struct buf b = BUF_INIT;

	test_begin("http documents follow the configuration");
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.hostname, "mx1.example.test");
	strcpy(cfg.external_hostname, "mail.example.test");
	cfg.imap_enabled = cfg.pop3_enabled = cfg.submission_enabled = true;
	for (int s = 0; s < SERVICE_COUNT; s++) {
		cfg.listen[s].enabled = true;
		strcpy(cfg.listen[s].host, "0.0.0.0");
		snprintf(cfg.listen[s].port, sizeof(cfg.listen[s].port), "%d", 1000 + s);
		cfg.listen[s].implicit_tls = s == SERVICE_IMAPS || s == SERVICE_POP3S || s == SERVICE_SUBMISSIONS ||
		                             s == SERVICE_HTTPS;
	}
	cfg.pop3_enabled = false;
	/* no certificate: no STARTTLS ports */
	http_autoconfig(&cfg, "x@We<ird.test", &b);
	test_assert(strstr(b.data, "<emailProvider id=\"we&lt;ird.test\">") != NULL);
	test_assert(strstr(b.data, "<hostname>mail.example.test</hostname>") != NULL);
	test_assert(strstr(b.data, "<port>1001</port>") != NULL);      /* imaps */
	test_assert(strstr(b.data, "<port>1000</port>") == NULL);      /* imap: STARTTLS, no cert */
	test_assert(strstr(b.data, "pop3") == NULL);
	test_assert(strstr(b.data, "<port>1006</port>") != NULL);      /* submissions */
	test_assert(strstr(b.data, "OAuth2") == NULL);
	test_assert(strstr(b.data, "password-cleartext") != NULL);
	buf_reset(&b);
	strcpy(cfg.tls_cert, "/cert.pem");
	strcpy(cfg.oauth.issuer, "https://idp.example.test");
	cfg.basic = BASIC_OFF;
	http_autoconfig(&cfg, NULL, &b);
	test_assert(strstr(b.data, "<emailProvider id=\"example.test\">") != NULL);
	test_assert(strstr(b.data, "<port>1000</port>") != NULL);
	test_assert(strstr(b.data, "<socketType>STARTTLS</socketType>") != NULL);
	test_assert(strstr(b.data, "<authentication>OAuth2</authentication>") != NULL);
	test_assert(strstr(b.data, "password-cleartext") == NULL);
	buf_reset(&b);
	http_autodiscover(&cfg, "a&b@example.test", &b);
	test_assert(strstr(b.data, "<LoginName>a&amp;b@example.test</LoginName>") != NULL);
	test_assert(strstr(b.data, "<Server>mail.example.test</Server>") != NULL);
	test_assert(strstr(b.data, "POP3") == NULL);
	buf_free(&b);
	test_end();
}

int
main(void)
{
	test_simple();
	test_versions_and_connection();
	test_errors();
	test_limits();
	test_body_and_pipelining();
	test_trickle();
	test_query();
	test_cookie();
	test_docs();
	test_doc_contents();
	return test_done();
}
