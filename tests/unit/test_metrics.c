/* src/lib/metrics.c (the figures and their text) and the /metrics access
 * rules of src/http/http_metrics.c. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/http_docs.h"
#include "lib/metrics.h"
#include "test.h"

static const char *const names[] = { "imap", "smtp" };

static bool
has_line(const struct buf *b, const char *line)
{
	char *text = strndup(b->data, b->len);
	const char *p = text;
	size_t len = strlen(line);
	bool found = false;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, line, len) == 0 && p[len] == '\n') {
			found = true;
			break;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	free(text);
	return found;
}

static void
test_render(void)
{
	struct buf b = { 0 };

	test_begin("metrics: counters, gauges and labels");
	metrics_conn_open(0);
	metrics_conn_open(0);
	metrics_conn_close(0);
	metrics_conn_open(1);
	metrics_conn_open(METRICS_SERVICES_MAX);      /* ignored, not a crash */
	metrics_login(METRICS_PROTO_IMAP, true);
	metrics_login(METRICS_PROTO_SUBMISSION, false);
	metrics_login(METRICS_PROTO_SETTINGS, true);
	metrics_command(METRICS_CMD_POP3);
	metrics_command(METRICS_CMD_POP3);
	metrics_smtp_message(false, true);
	metrics_smtp_message(true, false);
	metrics_delivery(METRICS_DELIVERY_BOUNCED);
	metrics_queue_set(3, 1000);
	metrics_tls_handshake(false);
	metrics_penalty_block();
	metrics_render(&b, names, 2, 1060);
	test_assert(has_line(&b, "# TYPE tern_connections gauge"));
	test_assert(has_line(&b, "tern_connections{service=\"imap\"} 1"));
	test_assert(has_line(&b, "tern_connections_total{service=\"imap\"} 2"));
	test_assert(has_line(&b, "tern_connections{service=\"smtp\"} 1"));
	test_assert(has_line(&b, "# TYPE tern_logins_total counter"));
	test_assert(has_line(&b, "tern_logins_total{service=\"imap\",result=\"ok\"} 1"));
	test_assert(has_line(&b, "tern_logins_total{service=\"imap\",result=\"fail\"} 0"));
	test_assert(has_line(&b, "tern_logins_total{service=\"submission\",result=\"fail\"} 1"));
	test_assert(has_line(&b, "tern_logins_total{service=\"settings\",result=\"ok\"} 1"));
	test_assert(has_line(&b, "# TYPE tern_commands_total counter"));
	test_assert(has_line(&b, "tern_commands_total{protocol=\"pop3\"} 2"));
	test_assert(has_line(&b, "tern_commands_total{protocol=\"imap\"} 0"));
	test_assert(has_line(&b, "tern_smtp_messages_total{service=\"smtp\",result=\"accepted\"} 1"));
	test_assert(has_line(&b, "tern_smtp_messages_total{service=\"submission\",result=\"rejected\"} 1"));
	test_assert(has_line(&b, "tern_delivery_total{result=\"bounced\"} 1"));
	test_assert(has_line(&b, "tern_queue_messages 3"));
	test_assert(has_line(&b, "tern_queue_oldest_age_seconds 60"));
	test_assert(has_line(&b, "tern_tls_handshakes_total{result=\"fail\"} 1"));
	test_assert(has_line(&b, "tern_penalty_blocks_total 1"));
	test_end();
	buf_free(&b);

	test_begin("metrics: empty queue has age 0");
	metrics_queue_set(0, 0);
	metrics_render(&b, names, 2, 1060);
	test_assert(has_line(&b, "tern_queue_oldest_age_seconds 0"));
	test_end();
	buf_free(&b);
}

static void
test_histogram(void)
{
	struct buf b = { 0 };

	test_begin("metrics: histogram buckets are cumulative");
	metrics_store_commit(500);            /* <= 1 ms */
	metrics_store_commit(1000);           /* on the bound: le="0.001" */
	metrics_store_commit(30000);          /* 50 ms bucket */
	metrics_store_commit(60000000);       /* +Inf */
	metrics_render(&b, names, 2, 0);
	test_assert(has_line(&b, "# TYPE tern_store_commit_seconds histogram"));
	test_assert(has_line(&b, "tern_store_commit_seconds_bucket{le=\"0.001\"} 2"));
	test_assert(has_line(&b, "tern_store_commit_seconds_bucket{le=\"0.025\"} 2"));
	test_assert(has_line(&b, "tern_store_commit_seconds_bucket{le=\"0.05\"} 3"));
	test_assert(has_line(&b, "tern_store_commit_seconds_bucket{le=\"5\"} 3"));
	test_assert(has_line(&b, "tern_store_commit_seconds_bucket{le=\"+Inf\"} 4"));
	test_assert(has_line(&b, "tern_store_commit_seconds_count 4"));
	test_assert(has_line(&b, "tern_store_commit_seconds_sum 60.031500"));
	test_end();
	buf_free(&b);
}

static struct tern_config cfg;   /* large: keep it off the stack */

/* http_metrics_access under the configuration conf, or -1 if conf is
 * refused. */
static int
check_access(const char *conf, const char *peer, const char *authorization)
{
	char *error = NULL;

	if (config_parse_text("t.conf", conf, strlen(conf), &cfg, &error) != 0) {
		free(error);
		return -1;
	}
	return http_metrics_access(&cfg, peer, authorization);
}

static void
test_access(void)
{
	const char *dflt = "[server]\nhostname = mail.example.test\n";
	const char *token = "[server]\nhostname = m.example\n[http]\nmetrics_allow = 192.0.2.0/25, 2001:db8::/33\n"
	                    "metrics_token = abc\n";
	const char *none = "[server]\nhostname = m.example\n[http]\nmetrics_allow =\n";

	test_begin("metrics access: loopback by default, 403 elsewhere without a token");
	test_assert_inteq(check_access(dflt, "127.0.0.1", NULL), 200);
	test_assert_inteq(check_access(dflt, "127.200.3.4", NULL), 200);
	test_assert_inteq(check_access(dflt, "::1", NULL), 200);
	test_assert_inteq(check_access(dflt, "::ffff:127.0.0.1", NULL), 200);
	test_assert_inteq(check_access(dflt, "128.0.0.1", NULL), 403);
	test_assert_inteq(check_access(dflt, "::2", NULL), 403);
	test_assert_inteq(check_access(dflt, "192.0.2.1", "Bearer x"), 403);
	test_end();

	test_begin("metrics access: prefixes not on a byte boundary, and the token");
	test_assert_inteq(check_access(token, "192.0.2.127", NULL), 200);
	test_assert_inteq(check_access(token, "192.0.2.128", NULL), 401);
	test_assert_inteq(check_access(token, "2001:db8:7fff::1", NULL), 200);
	test_assert_inteq(check_access(token, "2001:db8:8000::1", NULL), 401);
	test_assert_inteq(check_access(token, "127.0.0.1", NULL), 401);
	test_assert_inteq(check_access(token, "127.0.0.1", "Bearer abc"), 200);
	test_assert_inteq(check_access(token, "127.0.0.1", "bearer abc"), 200);
	test_assert_inteq(check_access(token, "127.0.0.1", "Bearer abcd"), 401);
	test_assert_inteq(check_access(token, "127.0.0.1", "Bearer ab"), 401);
	test_assert_inteq(check_access(token, "127.0.0.1", "Basic abc"), 401);
	test_assert_inteq(check_access(token, "127.0.0.1", "Bearer"), 401);
	test_assert_inteq(check_access(token, "not an address", "Bearer abc"), 200);
	test_end();

	test_begin("metrics access: empty metrics_allow and no token: nobody");
	test_assert_inteq(check_access(none, "127.0.0.1", NULL), 403);
	test_end();

	test_begin("metrics access: bad configuration refused");
	test_assert_inteq(check_access("[http]\nmetrics_allow = 300.1.1.1\n", "127.0.0.1", NULL), -1);
	test_assert_inteq(check_access("[http]\nmetrics_token = a b\n", "127.0.0.1", NULL), -1);
	test_assert_inteq(check_access("[http]\nmetrics_http = maybe\n", "127.0.0.1", NULL), -1);
	test_end();
}

int
main(void)
{
	test_render();
	test_histogram();
	test_access();
	return test_done();
}
