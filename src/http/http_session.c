/* HTTP sessions on a connection (lib/conn.h): requests parsed by
 * http_parse.h, answered in order (keep-alive and pipelining), each
 * response with a Content-Length.
 *
 * Flow: conn calls http_input() when bytes are buffered.  The loop looks
 * for a whole request head, then for its body, answers it, consumes it
 * and goes on with the next buffered request.  A malformed request gets
 * its status with "Connection: close" and the connection closes: its
 * framing cannot be trusted any more (RFC 9112 2.2).  A client that sends
 * without reading the responses is paused above NET_OUTPUT_HIGH.
 *
 * What is served (http_docs.h):
 *   /.well-known/autoconfig/mail/config-v1.1.xml, /mail/config-v1.1.xml
 *   /autodiscover/autodiscover.xml (POST, and GET for probes)
 *   /autodiscover/autodiscover.json (?Email=...&Protocol=AutodiscoverV1,
 *     or /autodiscover/autodiscover.json/v1.0/ADDRESS?Protocol=...)
 *   /apple.mobileconfig?emailaddress=... (Apple configuration profile)
 *   /metrics (Prometheus; [http] metrics_allow and metrics_token)
 *   /healthz
 *   /settings... (https only: http_settings.h; run on a worker, the
 *     session paused until the reply is sent)
 * Plain HTTP serves autoconfig (Thunderbird's fallback), /healthz and,
 * with [http] metrics_http, /metrics, and redirects everything else to
 * https when https listens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http.h"
#include "http/http_docs.h"
#include "http/http_parse.h"
#include "http/http_settings.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "server/listener.h"

struct http_session {
	struct conn *c;
	const struct tern_config *cfg;
	enum service service;
	struct http_scan scan;          /* looking for the current request's head */
	size_t head_len;                /* 0 until the head is complete */
	bool continue_sent;             /* 100 Continue for this request */
	bool output_paused;
	bool http10;                    /* the current request is HTTP/1.0 */
	unsigned requests;
	/* the settings page's request running on a worker, then its reply
	 * waiting out a failed sign-in's delay (input paused meanwhile) */
	struct http_settings_job *job;
	bool job_head;                  /* the request was HEAD */
	bool job_close;                 /* close after its reply */
	struct http_reply pending;
	bool pending_set;
};

static void
reply_text(struct http_reply *r, int status, const char *text)
{
	r->status = status;
	r->type = "text/plain; charset=utf-8";
	buf_reset(&r->body);
	buf_printf(&r->body, "%s\n", text);
}

/* Writes r; head: no body, its length still given (RFC 9110 9.3.2). */
static void
send_reply(struct http_session *s, struct http_reply *r, bool head)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	conn_printf(s->c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: Tern\r\nContent-Length: %zu\r\n", r->status,
	            http_reason(r->status), date, r->body.len);
	if (r->type != NULL)
		conn_printf(s->c, "Content-Type: %s\r\n", r->type);
	if (r->page)
		conn_puts(s->c, HTTP_PAGE_HEADERS);
	else if (r->status == 200)
		conn_puts(s->c, "Cache-Control: no-store\r\n");
	conn_puts(s->c, r->extra);
	/* An HTTP/1.0 client keeps the connection only when the reply says
	 * so (RFC 7230 A.1.2, RFC 2068 19.7.1): ab -k, older proxies. */
	conn_puts(s->c, r->close ? "Connection: close\r\n\r\n" : s->http10 ? "Connection: keep-alive\r\n\r\n" : "\r\n");
	if (!head && r->body.len > 0)
		conn_write(s->c, r->body.data, r->body.len);
}

/* A request that cannot be parsed: its status, then close. */
static void
fail(struct http_session *s, int status, const char *why)
{
	struct http_reply r = { .close = true };

	log_info("http %s bad request peer=%s status=%d reason=\"%s\"", conn_id(s->c), conn_peer_addr(s->c), status,
	         why);
	reply_text(&r, status, http_reason(status));
	send_reply(s, &r, false);
	buf_free(&r.body);
	conn_close(s->c);
}

static bool
method_is(const struct http_request *req, const char *m)
{
	return strcmp(req->method, m) == 0;
}

/* Methods RFC 9110 defines that no resource here allows: 405; others 501. */
static void
bad_method(const struct http_request *req, struct http_reply *r, const char *allow)
{
	static const char *const known[] = { "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "POST" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (method_is(req, known[i])) {
			reply_text(r, 405, "Method Not Allowed");
			snprintf(r->extra, sizeof(r->extra), "Allow: %s\r\n", allow);
			return;
		}
	}
	reply_text(r, 501, "Not Implemented");
}

static bool
is_get(const struct http_request *req)
{
	return method_is(req, "GET") || method_is(req, "HEAD");
}

static void
autodiscover_json(struct http_session *s, const struct http_request *req, const char *path_address,
                  struct http_reply *r)
{
	char protocol[64], base[DOMAIN_MAX + 32];

	r->type = "application/json; charset=utf-8";
	if (http_query_get(req->query, "Protocol", protocol, sizeof(protocol)) == 0 &&
	    strcasecmp(protocol, "AutodiscoverV1") == 0 && http_https_base(s->cfg, base, sizeof(base))) {
		r->status = 200;
		buf_puts(&r->body, "{\"Protocol\":\"AutodiscoverV1\",\"Url\":\"");
		http_json_escape(&r->body, base);
		buf_puts(&r->body, "/autodiscover/autodiscover.xml\"}\n");
		return;
	}
	/* what Exchange answers for a protocol it does not serve */
	r->status = 404;
	buf_puts(&r->body, "{\"ErrorCode\":\"InvalidProtocol\",\"ErrorMessage\":\"The given protocol value is "
	                   "invalid. Supported values are 'AutodiscoverV1'.\"}\n");
}

/* GET /metrics: the peer must be in metrics_allow or show the token. */
static void
metrics(struct http_session *s, const struct http_request *req, struct http_reply *r)
{
	int status;

	if (!is_get(req)) {
		bad_method(req, r, "GET, HEAD");
		return;
	}
	status = http_metrics_access(s->cfg, conn_peer_addr(s->c), http_header_get(req, "Authorization"));
	if (status != 200) {
		log_info("http %s metrics refused peer=%s status=%d", conn_id(s->c), conn_peer_addr(s->c), status);
		reply_text(r, status, http_reason(status));
		if (status == 401)
			snprintf(r->extra, sizeof(r->extra), "WWW-Authenticate: Bearer realm=\"tern metrics\"\r\n");
		return;
	}
	r->status = 200;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
	http_metrics(&r->body);
}

static void
mobileconfig(struct http_session *s, const struct http_request *req, struct http_reply *r)
{
	char address[ADDRESS_MAX + 1];

	if (!is_get(req)) {
		bad_method(req, r, "GET, HEAD");
		return;
	}
	if (http_query_get(req->query, "emailaddress", address, sizeof(address)) != 0 || !http_address_ok(address)) {
		reply_text(r, 400, "emailaddress=ADDRESS is required");
		return;
	}
	if (http_mobileconfig(s->cfg, address, &r->body) == -1) {
		reply_text(r, 404, "No IMAP or submission port to configure");
		return;
	}
	r->status = 200;
	r->type = "application/x-apple-aspen-config";
	snprintf(r->extra, sizeof(r->extra), "Content-Disposition: attachment; filename=\"mail.mobileconfig\"\r\n");
}

static bool
is_autoconfig(const char *path)
{
	return strcmp(path, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0 ||
	       strcmp(path, "/mail/config-v1.1.xml") == 0;
}

#define JSON_PATH "/autodiscover/autodiscover.json"

static void
route(struct http_session *s, const struct http_request *req, const char *body, size_t body_len,
      struct http_reply *r)
{
	const char *path = req->path;
	char address[ADDRESS_MAX + 1], base[DOMAIN_MAX + 32];

	if (strcmp(path, "/healthz") == 0) {
		if (is_get(req))
			reply_text(r, 200, "ok");
		else
			bad_method(req, r, "GET, HEAD");
		return;
	}
	if (is_autoconfig(path)) {
		if (!is_get(req)) {
			bad_method(req, r, "GET, HEAD");
			return;
		}
		r->status = 200;
		r->type = "application/xml; charset=utf-8";
		http_autoconfig(s->cfg, http_query_get(req->query, "emailaddress", address, sizeof(address)) == 0
		                ? address : NULL, &r->body);
		return;
	}
	if (strcmp(path, "/metrics") == 0 && (s->service == SERVICE_HTTPS || s->cfg->http.metrics_http)) {
		metrics(s, req, r);
		return;
	}
	if (s->service == SERVICE_HTTP && http_https_base(s->cfg, base, sizeof(base))) {
		r->status = 301;
		snprintf(r->extra, sizeof(r->extra), "Location: %s%s%s%s\r\n", base, path, req->query[0] ? "?" : "",
		         req->query);
		reply_text(r, 301, "Moved Permanently");
		return;
	}
	if (strcmp(path, "/settings/style.css") == 0) {
		if (is_get(req))
			http_settings_style(r);
		else
			bad_method(req, r, "GET, HEAD");
		return;
	}
	if (strcmp(path, "/apple.mobileconfig") == 0) {
		mobileconfig(s, req, r);
		return;
	}
	if (strcasecmp(path, "/autodiscover/autodiscover.xml") == 0) {
		r->type = "application/xml; charset=utf-8";
		r->status = 200;
		if (method_is(req, "POST")) {
			if (http_autodiscover_request(body, body_len, address, sizeof(address)) == 0)
				http_autodiscover(s->cfg, address, &r->body);
			else
				http_autodiscover_error(&r->body);
		} else if (is_get(req)) {
			bool given = http_query_get(req->query, "Email", address, sizeof(address)) == 0 &&
			             http_address_ok(address);

			http_autodiscover(s->cfg, given ? address : NULL, &r->body);
		} else {
			bad_method(req, r, "GET, HEAD, POST");
		}
		return;
	}
	if (strncasecmp(path, JSON_PATH, strlen(JSON_PATH)) == 0 &&
	    (path[strlen(JSON_PATH)] == '\0' || path[strlen(JSON_PATH)] == '/')) {
		if (is_get(req))
			autodiscover_json(s, req, path + strlen(JSON_PATH), r);
		else
			bad_method(req, r, "GET, HEAD");
		return;
	}
	reply_text(r, 404, "Not Found");
}

/* Sends the reply of the settings page's request and ends it. */
static void
settings_send(struct http_session *s, struct http_reply *r)
{
	log_debug("http %s settings status=%d", conn_id(s->c), r->status);
	r->close = r->close || s->job_close;
	send_reply(s, r, s->job_head);
	if (r->body.data != NULL)
		str_wipe(r->body.data, r->body.len);   /* may show a new app password */
	buf_free(&r->body);
	if (r->close)
		conn_close(s->c);
}

static void
settings_delayed(void *arg)
{
	struct http_session *s = arg;

	s->pending_set = false;
	settings_send(s, &s->pending);
	conn_resume(s->c);
}

static void
settings_done(void *arg)
{
	struct http_session *s = arg;
	unsigned delay_ms;

	http_settings_job_reply(s->job, &s->pending, &delay_ms);
	http_settings_job_free(&s->job);
	if (conn_closing(s->c)) {
		if (s->pending.body.data != NULL)
			str_wipe(s->pending.body.data, s->pending.body.len);
		buf_free(&s->pending.body);
		return;
	}
	if (delay_ms == 0) {
		settings_send(s, &s->pending);
		return;
	}
	/* a failed sign-in: the reply, and the next request, wait */
	s->pending_set = true;
	conn_pause(s->c);
	conn_after(s->c, delay_ms, settings_delayed, s);
}

static void
settings_work(void *arg)
{
	struct http_session *s = arg;

	/* the job alone is touched here; the session waits for settings_done */
	http_settings_work(s->job);
}

/* Hands a settings page request to a worker: false, as next_request. */
static bool
settings_start(struct http_session *s, const struct http_request *req, const char *body)
{
	if (!is_get(req) && !method_is(req, "POST")) {
		struct http_reply r = { .page = true, .close = !req->keep_alive };

		bad_method(req, &r, "GET, HEAD, POST");
		send_reply(s, &r, false);
		buf_free(&r.body);
		return !r.close;
	}
	s->job = http_settings_job_new(s->cfg, req, body, (size_t)req->content_length, conn_peer_addr(s->c));
	s->job_head = method_is(req, "HEAD");
	s->job_close = !req->keep_alive || s->requests >= HTTP_REQUESTS_MAX;
	conn_defer(s->c, settings_work, settings_done, s);
	return false;
}

/* Takes the next buffered request and answers it.  false: wait for more
 * input (or the connection is closing). */
static bool
next_request(struct http_session *s)
{
	struct buf *in = conn_input(s->c);
	struct http_request *req;
	struct http_reply r = { 0 };
	size_t head_len;
	int status;
	const char *error;

	if (s->head_len == 0) {
		int rc = http_head_end(in->data, in->len, &s->scan, &head_len, &status);

		if (rc == 0)
			return false;
		if (rc < 0) {
			fail(s, status, status == 414 ? "request line too long" : "request head too long");
			return false;
		}
		s->head_len = head_len;
	}
	req = xmalloc(sizeof(*req));
	if (http_parse_head(in->data, s->head_len, req, &status, &error) == -1) {
		fail(s, status, error);
		goto done;
	}
	s->http10 = req->version == 10;
	if (in->len - s->head_len < req->content_length) {
		/* RFC 9110 10.1.1: the client waits for this before the body */
		if (req->expect_continue && req->version == 11 && !s->continue_sent) {
			conn_puts(s->c, "HTTP/1.1 100 Continue\r\n\r\n");
			s->continue_sent = true;
		}
		goto done;
	}
	s->requests++;
	metrics_command(METRICS_CMD_HTTP);
	if (s->service == SERVICE_HTTPS && http_settings_path(req->path) &&
	    strcmp(req->path, "/settings/style.css") != 0) {
		bool more = settings_start(s, req, in->data + s->head_len);

		conn_consume(s->c, s->head_len + (size_t)req->content_length);
		conn_progress(s->c);
		memset(&s->scan, 0, sizeof(s->scan));
		s->head_len = 0;
		s->continue_sent = false;
		if (!more && s->job == NULL)
			conn_close(s->c);
		free(req);
		return more;
	}
	route(s, req, in->data + s->head_len, (size_t)req->content_length, &r);
	r.close = !req->keep_alive || s->requests >= HTTP_REQUESTS_MAX;
	log_debug("http %s %s %s status=%d", conn_id(s->c), req->method, req->path, r.status);
	send_reply(s, &r, method_is(req, "HEAD"));
	buf_free(&r.body);
	conn_consume(s->c, s->head_len + (size_t)req->content_length);
	conn_progress(s->c);
	memset(&s->scan, 0, sizeof(s->scan));
	s->head_len = 0;
	s->continue_sent = false;
	if (r.close) {
		conn_close(s->c);
		goto done;
	}
	free(req);
	return true;
done:
	free(req);
	return false;
}

static void
http_input(void *arg)
{
	struct http_session *s = arg;

	while (!s->output_paused && !conn_closing(s->c)) {
		if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH) {
			s->output_paused = true;
			conn_pause(s->c);
			return;
		}
		if (!next_request(s))
			return;
	}
}

static void
http_drained(void *arg)
{
	struct http_session *s = arg;

	if (s->output_paused) {
		s->output_paused = false;
		conn_resume(s->c);
	}
}

/* Idle: a keep-alive connection closes without a word; one in the middle
 * of a request gets 408 (RFC 9110 15.5.9). */
static void
http_timeout(void *arg)
{
	struct http_session *s = arg;

	if (conn_input(s->c)->len > 0)
		fail(s, 408, "timeout");
	else
		conn_close(s->c);
}

static void *
http_open(struct conn *c, void *listener_arg)
{
	const struct listener_ctx *l = listener_arg;
	struct http_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->cfg = l->cfg;
	s->service = l->service;
	conn_set_timeout(c, HTTP_TIMEOUT_SEC);
	log_debug("http %s connect peer=%s service=%s tls=%s", conn_id(c), conn_peer_addr(c),
	          config_service_name(s->service), conn_tls_active(c) ? "yes" : "no");
	return s;
}

static void
http_close(void *arg)
{
	struct http_session *s = arg;

	log_debug("http %s disconnect peer=%s requests=%u", conn_id(s->c), conn_peer_addr(s->c), s->requests);
	http_settings_job_free(&s->job);
	if (s->pending_set) {
		str_wipe(s->pending.body.data, s->pending.body.len);
		buf_free(&s->pending.body);
	}
	free(s);
}

/* Refused at accept (server.c); only on plain HTTP: the https listener
 * closes without a handshake. */
static size_t
http_refusal(const void *listener_arg, const char *why, char *out, size_t size)
{
	int n = snprintf(out, size,
	                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n%s\n",
	                 strlen(why) + 1, why);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

const struct conn_handler http_conn_handler = {
	.name = "http",
	.open = http_open,
	.input = http_input,
	.drained = http_drained,
	.timeout = http_timeout,
	.close = http_close,
	.refusal = http_refusal,
};
