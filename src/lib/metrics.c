/* Prometheus figures: see metrics.h.  Relaxed atomics are enough: each
 * figure stands alone, and a scrape may see one a moment older than
 * another. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/metrics.h"

#define M_ADD(v) atomic_fetch_add_explicit(&(v), 1, memory_order_relaxed)
#define M_GET(v) atomic_load_explicit(&(v), memory_order_relaxed)

static atomic_uint_fast64_t conns_open[METRICS_SERVICES_MAX];
static atomic_uint_fast64_t conns_total[METRICS_SERVICES_MAX];
static atomic_uint_fast64_t logins[METRICS_PROTO_COUNT][2];          /* [proto][ok] */
static atomic_uint_fast64_t commands[METRICS_CMD_COUNT];
static atomic_uint_fast64_t smtp_messages[2][2];                     /* [submission][accepted] */
static atomic_uint_fast64_t deliveries[METRICS_DELIVERY_COUNT];
static atomic_uint_fast64_t queue_entries;
static atomic_int_fast64_t queue_oldest;
static atomic_uint_fast64_t tls_handshakes[2];                       /* [ok] */
static atomic_uint_fast64_t penalty_blocks;

/* Store commit latency: upper bounds in microseconds (the last bucket is
 * +Inf); counts per bucket, not cumulative (summed when rendered). */
static const uint64_t commit_bounds_us[] = { 1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	                                      1000000, 2500000, 5000000 };
#define COMMIT_BUCKETS (sizeof(commit_bounds_us) / sizeof(commit_bounds_us[0]))
static atomic_uint_fast64_t commit_buckets[COMMIT_BUCKETS + 1];
static atomic_uint_fast64_t commit_sum_us;

void
metrics_conn_open(unsigned service)
{
	if (service < METRICS_SERVICES_MAX) {
		M_ADD(conns_open[service]);
		M_ADD(conns_total[service]);
	}
}

void
metrics_conn_close(unsigned service)
{
	if (service < METRICS_SERVICES_MAX)
		atomic_fetch_sub_explicit(&conns_open[service], 1, memory_order_relaxed);
}

void
metrics_login(enum metrics_proto proto, bool ok)
{
	if ((unsigned)proto < METRICS_PROTO_COUNT)
		M_ADD(logins[proto][ok]);
}

void
metrics_command(enum metrics_cmd proto)
{
	if ((unsigned)proto < METRICS_CMD_COUNT)
		M_ADD(commands[proto]);
}

void
metrics_smtp_message(bool submission, bool accepted)
{
	M_ADD(smtp_messages[submission][accepted]);
}

void
metrics_delivery(enum metrics_delivery result)
{
	if ((unsigned)result < METRICS_DELIVERY_COUNT)
		M_ADD(deliveries[result]);
}

void
metrics_queue_set(uint64_t entries, int64_t oldest_queued_at)
{
	atomic_store_explicit(&queue_entries, entries, memory_order_relaxed);
	atomic_store_explicit(&queue_oldest, oldest_queued_at, memory_order_relaxed);
}

void
metrics_tls_handshake(bool ok)
{
	M_ADD(tls_handshakes[ok]);
}

void
metrics_penalty_block(void)
{
	M_ADD(penalty_blocks);
}

void
metrics_store_commit(uint64_t usec)
{
	size_t i = 0;

	while (i < COMMIT_BUCKETS && usec > commit_bounds_us[i])
		i++;
	M_ADD(commit_buckets[i]);
	atomic_fetch_add_explicit(&commit_sum_us, usec, memory_order_relaxed);
}

static void
head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Resident set size from /proc/self/statm (its second field, in pages);
 * 0 if it cannot be read. */
static uint64_t
resident_bytes(void)
{
	unsigned long long size, resident = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

static void
render_commit(struct buf *out)
{
	uint64_t cum = 0, sum = M_GET(commit_sum_us);

	head(out, "tern_store_commit_seconds", "histogram", "Time of the COMMIT that stores a delivered message.");
	for (size_t i = 0; i < COMMIT_BUCKETS; i++) {
		cum += M_GET(commit_buckets[i]);
		buf_printf(out, "tern_store_commit_seconds_bucket{le=\"%g\"} %llu\n", (double)commit_bounds_us[i] / 1e6,
		           (unsigned long long)cum);
	}
	cum += M_GET(commit_buckets[COMMIT_BUCKETS]);
	buf_printf(out, "tern_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	buf_printf(out, "tern_store_commit_seconds_sum %llu.%06llu\n", (unsigned long long)(sum / 1000000),
	           (unsigned long long)(sum % 1000000));
	buf_printf(out, "tern_store_commit_seconds_count %llu\n", (unsigned long long)cum);
}

void
metrics_render(struct buf *out, const char *const *service_names, unsigned nservices, int64_t now)
{
	static const char *const protos[METRICS_PROTO_COUNT] = { "imap", "pop3", "submission", "settings" };
	static const char *const delivery[METRICS_DELIVERY_COUNT] = { "sent", "deferred", "bounced" };
	static const char *const cmd_protos[METRICS_CMD_COUNT] = { "imap", "pop3", "smtp", "http" };
	int64_t oldest = M_GET(queue_oldest);
	unsigned i;

	if (nservices > METRICS_SERVICES_MAX)
		nservices = METRICS_SERVICES_MAX;
	head(out, "tern_connections", "gauge", "Connections open now, by the service of their listener.");
	for (i = 0; i < nservices; i++)
		buf_printf(out, "tern_connections{service=\"%s\"} %llu\n", service_names[i],
		           (unsigned long long)M_GET(conns_open[i]));
	head(out, "tern_connections_total", "counter", "Connections accepted, by the service of their listener.");
	for (i = 0; i < nservices; i++)
		buf_printf(out, "tern_connections_total{service=\"%s\"} %llu\n", service_names[i],
		           (unsigned long long)M_GET(conns_total[i]));
	head(out, "tern_logins_total", "counter", "Login attempts by protocol and result.");
	for (i = 0; i < METRICS_PROTO_COUNT; i++) {
		buf_printf(out, "tern_logins_total{service=\"%s\",result=\"ok\"} %llu\n", protos[i],
		           (unsigned long long)M_GET(logins[i][1]));
		buf_printf(out, "tern_logins_total{service=\"%s\",result=\"fail\"} %llu\n", protos[i],
		           (unsigned long long)M_GET(logins[i][0]));
	}
	head(out, "tern_commands_total", "counter", "Client commands run (HTTP: requests), by protocol.");
	for (i = 0; i < METRICS_CMD_COUNT; i++)
		buf_printf(out, "tern_commands_total{protocol=\"%s\"} %llu\n", cmd_protos[i],
		           (unsigned long long)M_GET(commands[i]));
	head(out, "tern_smtp_messages_total", "counter", "SMTP messages received, by port and result.");
	for (i = 0; i < 2; i++) {
		const char *svc = i ? "submission" : "smtp";

		buf_printf(out, "tern_smtp_messages_total{service=\"%s\",result=\"accepted\"} %llu\n", svc,
		           (unsigned long long)M_GET(smtp_messages[i][1]));
		buf_printf(out, "tern_smtp_messages_total{service=\"%s\",result=\"rejected\"} %llu\n", svc,
		           (unsigned long long)M_GET(smtp_messages[i][0]));
	}
	head(out, "tern_queue_messages", "gauge", "Messages in the outbound queue.");
	buf_printf(out, "tern_queue_messages %llu\n", (unsigned long long)M_GET(queue_entries));
	head(out, "tern_queue_oldest_age_seconds", "gauge", "Age of the oldest message in the queue (0 when empty).");
	buf_printf(out, "tern_queue_oldest_age_seconds %lld\n",
	           (long long)(oldest > 0 && now > oldest ? now - oldest : 0));
	head(out, "tern_delivery_total", "counter", "Outbound delivery attempts per recipient, by result.");
	for (i = 0; i < METRICS_DELIVERY_COUNT; i++)
		buf_printf(out, "tern_delivery_total{result=\"%s\"} %llu\n", delivery[i],
		           (unsigned long long)M_GET(deliveries[i]));
	head(out, "tern_tls_handshakes_total", "counter", "Server-side TLS handshakes by result.");
	buf_printf(out, "tern_tls_handshakes_total{result=\"ok\"} %llu\n", (unsigned long long)M_GET(tls_handshakes[1]));
	buf_printf(out, "tern_tls_handshakes_total{result=\"fail\"} %llu\n", (unsigned long long)M_GET(tls_handshakes[0]));
	head(out, "tern_penalty_blocks_total", "counter", "Sources blocked by the brute-force defence.");
	buf_printf(out, "tern_penalty_blocks_total %llu\n", (unsigned long long)M_GET(penalty_blocks));
	render_commit(out);
	head(out, "tern_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
	buf_printf(out, "tern_process_resident_memory_bytes %llu\n", (unsigned long long)resident_bytes());
}
