/* Tern's typed configuration on top of the generic ini parser (lib/conf.h):
 * one table row per key, each with its default and its check.  Every error
 * names the file and line of the entry that caused it. */
#include "auth/penalty.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/tls1.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* Bounds on values (ours, not a standard's): a thread per core up to 64,
 * messages up to 2 GiB (no real mail is larger; the store counts sizes in
 * 64 bits anyway), recipients and connections well past any real need. */
#define CONFIG_THREADS_MAX        64
#define CONFIG_WORKERS_MAX        64
#define CONFIG_MESSAGE_SIZE_MIN   1024ULL
#define CONFIG_MESSAGE_SIZE_MAX   (2ULL * 1024 * 1024 * 1024)
#define CONFIG_RECIPIENTS_MAX     100000
#define CONFIG_CONNECTIONS_MAX    10000000

#define CONFIG_DEFAULT_DATA_DIR   "/var/lib/tern"
#define CONFIG_DEFAULT_MSG_SIZE   (50ULL * 1024 * 1024)
/* The disk reserve (lib/reserve.h): enough WAL for an expunge of a few
 * thousand messages at once; at most a gigabyte. */
#define CONFIG_DEFAULT_DISK_RESERVE (32ULL * 1024 * 1024)
#define CONFIG_DISK_RESERVE_MAX   (1024ULL * 1024 * 1024)
#define CONFIG_DEFAULT_CONNS      10000
/* One NAT address can be a whole office: 100 people with a desktop client
 * (about 5 IMAP connections with IDLE), a phone (1 or 2) and submission
 * bursts is some 800 connections.  Still a tenth of the total, so one
 * address cannot take the server; pre-login abuse has its own limits. */
#define CONFIG_DEFAULT_CONNS_PER_IP 1000
/* Dovecot's mail_max_userip_connections: a client that leaks sessions is
 * stopped at 10, a normal one (5 IMAP connections) never meets it. */
#define CONFIG_DEFAULT_USERIP_IMAP 10
#define CONFIG_DEFAULT_USERIP_POP3 10
#define CONFIG_DEFAULT_UNAUTH     5000
#define CONFIG_DEFAULT_CMDS_PREAUTH 20
#define CONFIG_DEFAULT_METRICS_ALLOW "127.0.0.1/8, ::1"
#define CONFIG_DEFAULT_AUTH_TIMEOUT 60   /* AUTH_PREAUTH_TIMEOUT_SEC: Dovecot's login processes allow a minute */
#define CONFIG_DEFAULT_BYTES_PREAUTH (64 * 1024)
#define CONFIG_BYTES_PREAUTH_MAX  (1024ULL * 1024 * 1024)
#define CONFIG_DEFAULT_DATA_DEADLINE 300   /* SMTP_TIMEOUT_SEC; Postfix's smtpd_timeout */
#define CONFIG_DEFAULT_MIN_DATA_RATE 500   /* bytes/s: Postfix's smtpd_min_data_rate */
#define CONFIG_DATA_DEADLINE_MAX  86400
#define CONFIG_MIN_DATA_RATE_MAX  (1024U * 1024 * 1024)
#define CONFIG_DEFAULT_WORKERS    16   /* mostly asleep in fsync: enough of them lets group commit batch */
#define CONFIG_DEFAULT_ORPHAN_SCAN (24 * 3600) /* crash leftovers go at start; this catches the rest */
#define CONFIG_DEFAULT_ORPHAN_AGE 3600        /* spares a folder being copied in from outside */
#define CONFIG_ORPHAN_SEC_MAX     (30 * 24 * 3600)

static const char *const service_names[SERVICE_COUNT] = {
	[SERVICE_IMAP] = "imap",
	[SERVICE_IMAPS] = "imaps",
	[SERVICE_POP3] = "pop3",
	[SERVICE_POP3S] = "pop3s",
	[SERVICE_SMTP] = "smtp",
	[SERVICE_SUBMISSION] = "submission",
	[SERVICE_SUBMISSIONS] = "submissions",
	[SERVICE_HTTP] = "http",
	[SERVICE_HTTPS] = "https",
};

static const char *const plaintext_names[] = {
	[PLAINTEXT_NEVER] = "never",
	[PLAINTEXT_LOOPBACK] = "loopback",
	[PLAINTEXT_ALWAYS] = "always",
};

static const char *const basic_names[] = {
	[BASIC_ON] = "on",
	[BASIC_OFF] = "off",
	[BASIC_APP_PASSWORDS_ONLY] = "app-passwords-only",
};

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

const char *
config_service_name(enum service s)
{
	if ((unsigned)s >= SERVICE_COUNT)
		return "?";
	return service_names[s];
}

static bool
service_implicit_tls(enum service s)
{
	return s == SERVICE_IMAPS || s == SERVICE_POP3S || s == SERVICE_SUBMISSIONS || s == SERVICE_HTTPS;
}

/* Formats "path:line: message" into a malloc'd string. */
static char *
config_error(const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static char *
config_error(const char *path, unsigned line, const char *fmt, ...)
{
	char msg[512], *out;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(NULL, 0, "%s:%u: %s", path, line, msg);
	out = xmalloc((size_t)n + 1);
	snprintf(out, (size_t)n + 1, "%s:%u: %s", path, line, msg);
	return out;
}

static void
config_defaults(struct tern_config *cfg, const char *path)
{
	long ncpu;
	int s;

	memset(cfg, 0, sizeof(*cfg));
	str_lcpy(cfg->path, path, sizeof(cfg->path));

	if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) != 0 || cfg->hostname[0] == '\0')
		str_lcpy(cfg->hostname, "localhost", sizeof(cfg->hostname));
	cfg->hostname[sizeof(cfg->hostname) - 1] = '\0';
	str_lcpy(cfg->data_dir, CONFIG_DEFAULT_DATA_DIR, sizeof(cfg->data_dir));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > CONFIG_THREADS_MAX)
		ncpu = CONFIG_THREADS_MAX;
	cfg->threads = (unsigned)ncpu;
	cfg->workers = CONFIG_DEFAULT_WORKERS;
	cfg->log_level = LOG_INFO;

	cfg->tls_min_version = TLS1_2_VERSION;
	for (s = 0; s < SERVICE_COUNT; s++)
		cfg->listen[s].implicit_tls = service_implicit_tls(s);

	str_lcpy(cfg->oauth.user_claim, "email", sizeof(cfg->oauth.user_claim));
	cfg->oauth.jwks_refresh = 3600;
	cfg->oauth.clock_skew = 60;

	{
		struct penalty_config pc;

		penalty_config_default(&pc);
		cfg->bruteforce.delay_after = pc.delay_after;
		cfg->bruteforce.delay_max = pc.delay_max_ms / 1000;
		cfg->bruteforce.block_after = pc.block_after;
		cfg->bruteforce.block_subnet_after = pc.block_subnet_after;
		cfg->bruteforce.spray_accounts = pc.spray_accounts;
		cfg->bruteforce.spray_subnet_accounts = pc.spray_subnet_accounts;
		cfg->bruteforce.account_slow_after = pc.account_slow_after;
		cfg->bruteforce.account_slow_total = pc.account_slow_total;
		cfg->bruteforce.window = pc.window_sec;
		cfg->bruteforce.block_time = pc.block_sec;
		cfg->bruteforce.good_time = pc.good_sec;
		cfg->bruteforce.max_tracked = pc.max_tracked;
	}

	cfg->imap_enabled = true;
	str_lcpy(cfg->http.metrics_allow, CONFIG_DEFAULT_METRICS_ALLOW, sizeof(cfg->http.metrics_allow));
	cfg->pop3_enabled = true;
	cfg->submission_enabled = true;
	cfg->inbound.checks = true;
	cfg->inbound.dmarc_enforce = true;

	cfg->allow_plaintext = PLAINTEXT_NEVER;

	cfg->max_message_size = CONFIG_DEFAULT_MSG_SIZE;
	cfg->disk_reserve = CONFIG_DEFAULT_DISK_RESERVE;
	cfg->max_recipients = SMTP_RCPT_MAX;
	cfg->max_connections = CONFIG_DEFAULT_CONNS;
	cfg->max_connections_per_ip = CONFIG_DEFAULT_CONNS_PER_IP;
	cfg->max_imap_connections_per_user_ip = CONFIG_DEFAULT_USERIP_IMAP;
	cfg->max_pop3_connections_per_user_ip = CONFIG_DEFAULT_USERIP_POP3;
	/* half of max_connections unless set: config_check_whole */
	cfg->max_connections_smtp = CONFIG_DEFAULT_CONNS / 2;
	cfg->data_deadline = CONFIG_DEFAULT_DATA_DEADLINE;
	cfg->min_data_rate = CONFIG_DEFAULT_MIN_DATA_RATE;
	cfg->max_unauthenticated = CONFIG_DEFAULT_UNAUTH;
	cfg->max_commands_before_auth = CONFIG_DEFAULT_CMDS_PREAUTH;
	cfg->auth_timeout = CONFIG_DEFAULT_AUTH_TIMEOUT;
	cfg->max_bytes_before_auth = CONFIG_DEFAULT_BYTES_PREAUTH;

	cfg->orphan_scan_interval = CONFIG_DEFAULT_ORPHAN_SCAN;
	cfg->orphan_min_age = CONFIG_DEFAULT_ORPHAN_AGE;
	cfg->delivery.mx_port = 25;
	cfg->proxy.imap_port = 143;
	cfg->proxy.pop3_port = 110;
	cfg->proxy.submission_port = 587;
	cfg->delivery.mta_sts_port = 443;
	cfg->delivery.tls = DELIVERY_TLS_OPPORTUNISTIC;
	cfg->delivery.connections_per_domain = 10;
	cfg->delivery.connections_total = 100;
	cfg->delivery.max_age = 5 * 86400;
	cfg->delivery.delay_warning = 4 * 3600;
	cfg->delivery.retry_delay = 300;
	cfg->delivery.retry_max = 4 * 3600;
	cfg->delivery.srs = true;
}

/* One key's handler: parses value into cfg, or returns -1 with a message
 * (without file:line) in msg. */
struct config_key {
	const char *section;
	const char *key;
	int (*set)(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize);
};

/* Paths and names: no control characters and no '"' (the file syntax
 * could not write such a value back, and no real path needs one). */
static int
set_string(char *dst, size_t dstsize, const char *key, const char *value, char *msg, size_t msgsize)
{
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"') {
			snprintf(msg, msgsize, "%s contains a control character or '\"'", key);
			return -1;
		}
	}
	if (str_lcpy(dst, value, dstsize) >= dstsize) {
		snprintf(msg, msgsize, "%s is too long (at most %zu bytes)", key, dstsize - 1);
		return -1;
	}
	return 0;
}

static int
set_unsigned(unsigned *dst, const char *key, const char *value, uint64_t min, uint64_t max, char *msg,
             size_t msgsize)
{
	uint64_t v;

	if (str_parse_u64(value, &v) != 0) {
		snprintf(msg, msgsize, "%s must be a number, not \"%s\"", key, value);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(msg, msgsize, "%s must be between %llu and %llu", key, (unsigned long long)min,
		         (unsigned long long)max);
		return -1;
	}
	*dst = (unsigned)v;
	return 0;
}

/* RFC 1123 host name: LDH labels of 1..63 characters separated by dots. */
static bool
valid_hostname(const char *s)
{
	size_t label = 0, total = 0;
	const char *p;

	if (*s == '\0')
		return false;
	for (p = s; *p != '\0'; p++, total++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-'))
			return false;
		if (*p == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || p[-1] == '-')
		return false;
	return total <= DOMAIN_MAX;
}

static int
set_hostname(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (!valid_hostname(value)) {
		snprintf(msg, msgsize, "hostname \"%s\" is not a valid host name", value);
		return -1;
	}
	return set_string(cfg->hostname, sizeof(cfg->hostname), key, value, msg, msgsize);
}

static int
set_data_dir(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (value[0] == '\0') {
		snprintf(msg, msgsize, "data_dir must not be empty");
		return -1;
	}
	return set_string(cfg->data_dir, sizeof(cfg->data_dir), key, value, msg, msgsize);
}

static int
set_threads(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->threads, key, value, 1, CONFIG_THREADS_MAX, msg, msgsize);
}

static int
set_workers(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->workers, key, value, 1, CONFIG_WORKERS_MAX, msg, msgsize);
}

static int
set_log_level(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	enum log_level level;

	if (log_level_parse(value, &level) != 0) {
		snprintf(msg, msgsize, "log_level must be error, warn, info or debug, not \"%s\"", value);
		return -1;
	}
	cfg->log_level = level;
	return 0;
}

static int
set_path(char *dst, size_t dstsize, const char *key, const char *value, char *msg, size_t msgsize)
{
	struct stat st;

	if (value[0] == '\0') {
		dst[0] = '\0';
		return 0;
	}
	if (set_string(dst, dstsize, key, value, msg, msgsize) != 0)
		return -1;
	if (stat(value, &st) != 0) {
		snprintf(msg, msgsize, "%s %s: %s", key, value, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, msgsize, "%s %s: not a regular file", key, value);
		return -1;
	}
	return 0;
}

static int
set_tls_cert(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->tls_cert, sizeof(cfg->tls_cert), key, value, msg, msgsize);
}

static int
set_tls_key(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->tls_key, sizeof(cfg->tls_key), key, value, msg, msgsize);
}

static int
set_tls_min_version(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "1.2") == 0)
		cfg->tls_min_version = TLS1_2_VERSION;
	else if (strcmp(value, "1.3") == 0)
		cfg->tls_min_version = TLS1_3_VERSION;
	else {
		snprintf(msg, msgsize, "min_version must be 1.2 or 1.3, not \"%s\"", value);
		return -1;
	}
	return 0;
}

/* "host:port" or "[v6addr]:port"; the port is a number 1..65535. */
static int
parse_listen(struct listen_config *l, const char *key, const char *value, char *msg, size_t msgsize)
{
	const char *colon, *host, *port;
	size_t hostlen;
	uint64_t portnum;
	char host6[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;

	l->enabled = false;
	l->host[0] = '\0';
	l->port[0] = '\0';
	if (value[0] == '\0')
		return 0;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(msg, msgsize, "%s: expected \"[address]:port\", not \"%s\"", key, value);
			return -1;
		}
		host = value + 1;
		hostlen = (size_t)(close - host);
		port = close + 2;
		if (hostlen == 0 || hostlen >= sizeof(host6)) {
			snprintf(msg, msgsize, "%s: bad IPv6 address in \"%s\"", key, value);
			return -1;
		}
		memcpy(host6, host, hostlen);
		host6[hostlen] = '\0';
		if (inet_pton(AF_INET6, host6, &a6) != 1) {
			snprintf(msg, msgsize, "%s: bad IPv6 address \"%s\"", key, host6);
			return -1;
		}
	} else {
		colon = strrchr(value, ':');
		if (colon == NULL) {
			snprintf(msg, msgsize, "%s: expected \"host:port\", not \"%s\"", key, value);
			return -1;
		}
		host = value;
		hostlen = (size_t)(colon - value);
		port = colon + 1;
		if (memchr(host, ':', hostlen) != NULL) {
			snprintf(msg, msgsize, "%s: write an IPv6 address in brackets: \"[addr]:port\"", key);
			return -1;
		}
		if (hostlen == 0) {
			snprintf(msg, msgsize, "%s: missing host in \"%s\" (use 0.0.0.0 or [::] for all)", key,
			         value);
			return -1;
		}
		if (hostlen >= sizeof(l->host)) {
			snprintf(msg, msgsize, "%s: host name too long", key);
			return -1;
		}
		{
			char name[sizeof(l->host)];

			memcpy(name, host, hostlen);
			name[hostlen] = '\0';
			if (!valid_hostname(name)) {
				snprintf(msg, msgsize, "%s: bad host \"%s\"", key, name);
				return -1;
			}
		}
	}
	if (str_parse_u64(port, &portnum) != 0 || portnum < 1 || portnum > 65535) {
		snprintf(msg, msgsize, "%s: bad port \"%s\" (expected 1..65535)", key, port);
		return -1;
	}
	memcpy(l->host, host, hostlen);
	l->host[hostlen] = '\0';
	snprintf(l->port, sizeof(l->port), "%u", (unsigned)portnum);
	l->enabled = true;
	return 0;
}

static int
set_external_hostname(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (value[0] != '\0' && !valid_hostname(value)) {
		snprintf(msg, msgsize, "external_hostname \"%s\" is not a valid host name", value);
		return -1;
	}
	return set_string(cfg->external_hostname, sizeof(cfg->external_hostname), key, value, msg, msgsize);
}

const char *
config_client_hostname(const struct tern_config *cfg)
{
	return cfg->external_hostname[0] != '\0' ? cfg->external_hostname : cfg->hostname;
}

bool
config_service_listening(const struct tern_config *cfg, enum service s)
{
	return (unsigned)s < SERVICE_COUNT && cfg->listen[s].enabled && config_service_enabled(cfg, s);
}

static int
set_listen(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	int s;

	for (s = 0; s < SERVICE_COUNT; s++) {
		if (strcmp(key, service_names[s]) == 0)
			return parse_listen(&cfg->listen[s], key, value, msg, msgsize);
	}
	panic("config: listen key %s not in service table", key);
}

static int
set_bool(bool *dst, const char *key, const char *value, char *msg, size_t msgsize)
{
	static const char *const yes[] = { "yes", "on", "true" }, *const no[] = { "no", "off", "false" };

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
			*dst = strcmp(value, yes[i]) == 0;
			return 0;
		}
	}
	snprintf(msg, msgsize, "%s must be yes or no, not \"%s\"", key, value);
	return -1;
}

static int
set_imap_enabled(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->imap_enabled, key, value, msg, msgsize);
}

static int
set_pop3_enabled(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->pop3_enabled, key, value, msg, msgsize);
}

static int
set_inbound_checks(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->inbound.checks, key, value, msg, msgsize);
}

static int
set_inbound_dmarc_enforce(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->inbound.dmarc_enforce, key, value, msg, msgsize);
}

static int
set_submission_enabled(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->submission_enabled, key, value, msg, msgsize);
}

bool
config_service_enabled(const struct tern_config *cfg, enum service s)
{
	switch (s) {
	case SERVICE_IMAP:
	case SERVICE_IMAPS:
		return cfg->imap_enabled;
	case SERVICE_POP3:
	case SERVICE_POP3S:
		return cfg->pop3_enabled;
	case SERVICE_SUBMISSION:
	case SERVICE_SUBMISSIONS:
		return cfg->submission_enabled;
	default:
		return true;
	}
}

static int
set_allow_plaintext(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	size_t i;

	for (i = 0; i < sizeof(plaintext_names) / sizeof(plaintext_names[0]); i++) {
		if (strcmp(value, plaintext_names[i]) == 0) {
			cfg->allow_plaintext = (enum allow_plaintext)i;
			return 0;
		}
	}
	snprintf(msg, msgsize, "allow_plaintext must be never, loopback or always, not \"%s\"", value);
	return -1;
}

static int
set_basic(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	for (size_t i = 0; i < sizeof(basic_names) / sizeof(basic_names[0]); i++) {
		if (strcmp(value, basic_names[i]) == 0) {
			cfg->basic = (enum auth_basic)i;
			return 0;
		}
	}
	snprintf(msg, msgsize, "basic must be on, off or app-passwords-only, not \"%s\"", value);
	return -1;
}

#define OAUTH_STRING_SETTER(field) \
	static int set_oauth_##field(struct tern_config *cfg, const char *key, const char *value, char *msg, \
	                             size_t msgsize) \
	{ \
		return set_string(cfg->oauth.field, sizeof(cfg->oauth.field), key, value, msg, msgsize); \
	}
OAUTH_STRING_SETTER(issuer)
OAUTH_STRING_SETTER(audience)
OAUTH_STRING_SETTER(scope)
OAUTH_STRING_SETTER(introspection_client_id)
OAUTH_STRING_SETTER(introspection_client_secret)

static int
set_https_url(char *dst, size_t dstsize, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (value[0] != '\0' && strncmp(value, "https://", 8) != 0) {
		snprintf(msg, msgsize, "%s must be an https:// URL", key);
		return -1;
	}
	return set_string(dst, dstsize, key, value, msg, msgsize);
}

static int
set_oauth_jwks_url(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_https_url(cfg->oauth.jwks_url, sizeof(cfg->oauth.jwks_url), key, value, msg, msgsize);
}

static int
set_oauth_introspection_url(struct tern_config *cfg, const char *key, const char *value, char *msg,
                            size_t msgsize)
{
	return set_https_url(cfg->oauth.introspection_url, sizeof(cfg->oauth.introspection_url), key, value, msg,
	                     msgsize);
}

static int
set_oauth_jwks_file(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->oauth.jwks_file, sizeof(cfg->oauth.jwks_file), key, value, msg, msgsize);
}

static int
set_oauth_ca_file(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->oauth.ca_file, sizeof(cfg->oauth.ca_file), key, value, msg, msgsize);
}

static int
set_oauth_user_claim(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "email") != 0 && strcmp(value, "preferred_username") != 0 && strcmp(value, "sub") != 0) {
		snprintf(msg, msgsize, "user_claim must be email, preferred_username or sub, not \"%s\"", value);
		return -1;
	}
	return set_string(cfg->oauth.user_claim, sizeof(cfg->oauth.user_claim), key, value, msg, msgsize);
}

static int
set_oauth_jwks_refresh(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->oauth.jwks_refresh, key, value, 60, 7 * 86400, msg, msgsize);
}

static int
set_oauth_clock_skew(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->oauth.clock_skew, key, value, 0, 3600, msg, msgsize);
}

#define BRUTEFORCE_SETTER(field, min, max) \
	static int set_bf_##field(struct tern_config *cfg, const char *key, const char *value, char *msg, \
	                          size_t msgsize) \
	{ \
		return set_unsigned(&cfg->bruteforce.field, key, value, min, max, msg, msgsize); \
	}
BRUTEFORCE_SETTER(delay_after, 0, 100000)
BRUTEFORCE_SETTER(delay_max, 0, 300)
BRUTEFORCE_SETTER(block_after, 0, 100000)
BRUTEFORCE_SETTER(block_subnet_after, 0, 1000000)
BRUTEFORCE_SETTER(spray_accounts, 0, 100000)
BRUTEFORCE_SETTER(spray_subnet_accounts, 0, 100000)
BRUTEFORCE_SETTER(account_slow_after, 0, 100000)
BRUTEFORCE_SETTER(account_slow_total, 0, 1000000)
BRUTEFORCE_SETTER(window, 60, 30 * 86400)
BRUTEFORCE_SETTER(block_time, 1, 30 * 86400)
BRUTEFORCE_SETTER(good_time, 0, 365 * 86400)
BRUTEFORCE_SETTER(max_tracked, 64, 100000000)

/* A list of addresses and networks ("192.0.2.0/24, ::1") into dst. */
static int
set_networks(char *dst, size_t dstsize, const char *key, const char *value, char *msg, size_t msgsize)
{
	char copy[1024], *tok, *save = NULL;

	if (set_string(dst, dstsize, key, value, msg, msgsize) != 0)
		return -1;
	str_lcpy(copy, value, sizeof(copy));
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned char addr[16];
		unsigned prefix;

		if (penalty_parse_cidr(tok, addr, &prefix) != 0) {
			snprintf(msg, msgsize, "%s: \"%s\" is not an address or network", key, tok);
			return -1;
		}
	}
	return 0;
}

static int
set_bf_allow(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_networks(cfg->bruteforce.allow, sizeof(cfg->bruteforce.allow), key, value, msg, msgsize);
}

static int
set_metrics_allow(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_networks(cfg->http.metrics_allow, sizeof(cfg->http.metrics_allow), key, value, msg, msgsize);
}

static int
set_metrics_token(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(msg, msgsize, "%s: only printable ASCII without spaces", key);
			return -1;
		}
	}
	return set_string(cfg->http.metrics_token, sizeof(cfg->http.metrics_token), key, value, msg, msgsize);
}

static int
set_metrics_http(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->http.metrics_http, key, value, msg, msgsize);
}

static int
set_tls_ciphers(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_string(cfg->tls_ciphers, sizeof(cfg->tls_ciphers), key, value, msg, msgsize);
}

static int
set_tls_ciphersuites(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_string(cfg->tls_ciphersuites, sizeof(cfg->tls_ciphersuites), key, value, msg, msgsize);
}

/* "cert:key, cert:key": each pair must name readable files. */
static int
set_tls_sni(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	char copy[sizeof(cfg->tls_sni)], *tok, *save = NULL;
	size_t n = 0;

	if (set_string(cfg->tls_sni, sizeof(cfg->tls_sni), key, value, msg, msgsize) != 0)
		return -1;
	str_lcpy(copy, value, sizeof(copy));
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		char *colon = strchr(tok, ':');
		char path[PATH_MAX];

		if (colon == NULL || colon == tok || colon[1] == '\0') {
			snprintf(msg, msgsize, "sni: expected \"cert.pem:key.pem\", not \"%s\"", tok);
			return -1;
		}
		*colon = '\0';
		if (set_path(path, sizeof(path), key, tok, msg, msgsize) != 0 ||
		    set_path(path, sizeof(path), key, colon + 1, msg, msgsize) != 0)
			return -1;
		if (++n > 32) {
			snprintf(msg, msgsize, "sni: at most 32 certificates");
			return -1;
		}
	}
	return 0;
}

static int
set_user(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	for (const char *p = value; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-' || *p == '.')) {
			snprintf(msg, msgsize, "user \"%s\" is not a valid user name", value);
			return -1;
		}
	}
	return set_string(cfg->user, sizeof(cfg->user), key, value, msg, msgsize);
}

static int
set_max_message_size(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	uint64_t v;

	if (str_parse_size(value, &v) != 0) {
		snprintf(msg, msgsize, "max_message_size must be a size like 50M, not \"%s\"", value);
		return -1;
	}
	if (v < CONFIG_MESSAGE_SIZE_MIN || v > CONFIG_MESSAGE_SIZE_MAX) {
		snprintf(msg, msgsize, "max_message_size must be between 1K and 2G");
		return -1;
	}
	cfg->max_message_size = v;
	return 0;
}

static int
set_disk_reserve(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	uint64_t v;

	if (str_parse_size(value, &v) != 0 || v > CONFIG_DISK_RESERVE_MAX) {
		snprintf(msg, msgsize, "disk_reserve must be a size like 32M, at most 1G (0: none), not \"%s\"", value);
		return -1;
	}
	cfg->disk_reserve = v;
	return 0;
}

static int
set_max_recipients(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_recipients, key, value, 1, CONFIG_RECIPIENTS_MAX, msg, msgsize);
}

static int
set_max_connections(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_connections, key, value, 1, CONFIG_CONNECTIONS_MAX, msg, msgsize);
}

static int
set_max_connections_per_ip(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_connections_per_ip, key, value, 0, CONFIG_CONNECTIONS_MAX, msg, msgsize);
}

static int
set_max_imap_userip(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_imap_connections_per_user_ip, key, value, 0, CONFIG_CONNECTIONS_MAX, msg,
	                    msgsize);
}

static int
set_max_pop3_userip(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_pop3_connections_per_user_ip, key, value, 0, CONFIG_CONNECTIONS_MAX, msg,
	                    msgsize);
}

static int
set_max_connections_smtp(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_connections_smtp, key, value, 0, CONFIG_CONNECTIONS_MAX, msg, msgsize);
}

static int
set_data_deadline(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->data_deadline, key, value, 0, CONFIG_DATA_DEADLINE_MAX, msg, msgsize);
}

static int
set_min_data_rate(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->min_data_rate, key, value, 0, CONFIG_MIN_DATA_RATE_MAX, msg, msgsize);
}

static int
set_max_unauthenticated(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->max_unauthenticated, key, value, 0, CONFIG_CONNECTIONS_MAX, msg, msgsize);
}

static int
set_max_commands_before_auth(struct tern_config *cfg, const char *key, const char *value, char *msg,
                             size_t msgsize)
{
	return set_unsigned(&cfg->max_commands_before_auth, key, value, 0, 1000000, msg, msgsize);
}

static int
set_auth_timeout(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->auth_timeout, key, value, 0, 86400, msg, msgsize);
}

static int
set_max_bytes_before_auth(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	uint64_t v;

	if (str_parse_size(value, &v) != 0) {
		snprintf(msg, msgsize, "max_bytes_before_auth must be a size like 64K, not \"%s\"", value);
		return -1;
	}
	if (v > CONFIG_BYTES_PREAUTH_MAX) {
		snprintf(msg, msgsize, "max_bytes_before_auth must be at most 1G");
		return -1;
	}
	cfg->max_bytes_before_auth = v;
	return 0;
}

static int
set_orphan_scan_interval(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->orphan_scan_interval, key, value, 0, CONFIG_ORPHAN_SEC_MAX, msg, msgsize);
}

static int
set_orphan_min_age(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->orphan_min_age, key, value, 0, CONFIG_ORPHAN_SEC_MAX, msg, msgsize);
}

/* Seconds, or a number with s, m, h or d. */
static int
set_duration(unsigned *dst, const char *key, const char *value, uint64_t max, char *msg, size_t msgsize)
{
	char num[32];
	size_t len = strlen(value);
	uint64_t v, mult = 1;

	if (len > 0 && len < sizeof(num) && strchr("smhd", value[len - 1]) != NULL) {
		mult = value[len - 1] == 's' ? 1 : value[len - 1] == 'm' ? 60 : value[len - 1] == 'h' ? 3600 : 86400;
		memcpy(num, value, len - 1);
		num[len - 1] = '\0';
		value = num;
	}
	if (str_parse_u64(value, &v) != 0 || v > max / mult) {
		snprintf(msg, msgsize, "%s must be a duration of at most %llu s (like 300, 5m, 4h, 5d)", key,
		         (unsigned long long)max);
		return -1;
	}
	*dst = (unsigned)(v * mult);
	return 0;
}

#define CONFIG_DELIVERY_SEC_MAX (365u * 86400u)

/* "host:port", "[v6]:port": the smarthost; port required. */
static int
set_delivery_relay(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	const char *colon = strrchr(value, ':');

	if (value[0] != '\0' && (colon == NULL || colon == value || colon[1] == '\0')) {
		snprintf(msg, msgsize, "%s must be host:port", key);
		return -1;
	}
	return set_string(cfg->delivery.relay, sizeof(cfg->delivery.relay), key, value, msg, msgsize);
}

static int
set_delivery_resolver(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_string(cfg->delivery.resolver, sizeof(cfg->delivery.resolver), key, value, msg, msgsize);
}

static int
set_delivery_trust_anchor(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "none") == 0)
		return set_string(cfg->delivery.dnssec_trust_anchor, sizeof(cfg->delivery.dnssec_trust_anchor), key,
		                  value, msg, msgsize);
	return set_path(cfg->delivery.dnssec_trust_anchor, sizeof(cfg->delivery.dnssec_trust_anchor), key, value,
	                msg, msgsize);
}

static int
set_delivery_ca_file(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->delivery.ca_file, sizeof(cfg->delivery.ca_file), key, value, msg, msgsize);
}

static int
set_delivery_mta_sts_port(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->delivery.mta_sts_port, key, value, 1, 65535, msg, msgsize);
}

static int
set_delivery_mx_port(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->delivery.mx_port, key, value, 1, 65535, msg, msgsize);
}

static int
set_delivery_relay_user(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_string(cfg->delivery.relay_user, sizeof(cfg->delivery.relay_user), key, value, msg, msgsize);
}

static int
set_delivery_relay_password(struct tern_config *cfg, const char *key, const char *value, char *msg,
                            size_t msgsize)
{
	return set_string(cfg->delivery.relay_password, sizeof(cfg->delivery.relay_password), key, value, msg,
	                  msgsize);
}

static int
set_delivery_tls(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "opportunistic") == 0)
		cfg->delivery.tls = DELIVERY_TLS_OPPORTUNISTIC;
	else if (strcmp(value, "dane") == 0)
		cfg->delivery.tls = DELIVERY_TLS_DANE;
	else if (strcmp(value, "required") == 0)
		cfg->delivery.tls = DELIVERY_TLS_REQUIRED;
	else {
		snprintf(msg, msgsize, "%s must be opportunistic, dane or required", key);
		return -1;
	}
	return 0;
}

static int
set_delivery_srs(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_bool(&cfg->delivery.srs, key, value, msg, msgsize);
}

static int
set_delivery_srs_domain(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (value[0] != '\0' && !valid_hostname(value)) {
		snprintf(msg, msgsize, "%s must be a domain name", key);
		return -1;
	}
	return set_string(cfg->delivery.srs_domain, sizeof(cfg->delivery.srs_domain), key, value, msg, msgsize);
}

const char *
config_srs_domain(const struct tern_config *cfg)
{
	const char *dot;

	if (cfg->delivery.srs_domain[0] != '\0')
		return cfg->delivery.srs_domain;
	dot = strchr(cfg->hostname, '.');
	/* mail.example.com -> example.com; example.com stays itself */
	if (dot != NULL && strchr(dot + 1, '.') != NULL)
		return dot + 1;
	return cfg->hostname;
}

static int
set_delivery_helo_name(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (value[0] != '\0' && !valid_hostname(value)) {
		snprintf(msg, msgsize, "%s must be a host name", key);
		return -1;
	}
	return set_string(cfg->delivery.helo_name, sizeof(cfg->delivery.helo_name), key, value, msg, msgsize);
}

static int
set_delivery_per_domain(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->delivery.connections_per_domain, key, value, 1, 1000, msg, msgsize);
}

static int
set_delivery_total(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->delivery.connections_total, key, value, 1, 10000, msg, msgsize);
}

static int
set_delivery_max_age(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_duration(&cfg->delivery.max_age, key, value, CONFIG_DELIVERY_SEC_MAX, msg, msgsize);
}

static int
set_delivery_delay_warning(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_duration(&cfg->delivery.delay_warning, key, value, CONFIG_DELIVERY_SEC_MAX, msg, msgsize);
}

static int
set_delivery_retry_delay(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (set_duration(&cfg->delivery.retry_delay, key, value, CONFIG_DELIVERY_SEC_MAX, msg, msgsize) == -1)
		return -1;
	if (cfg->delivery.retry_delay == 0) {
		snprintf(msg, msgsize, "%s must be at least 1 s", key);
		return -1;
	}
	return 0;
}

static int
set_delivery_retry_max(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_duration(&cfg->delivery.retry_max, key, value, CONFIG_DELIVERY_SEC_MAX, msg, msgsize);
}

static int
set_directory_backend(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "sqlite") == 0 || strcmp(value, "postgresql") == 0) {
		cfg->directory.postgresql = strcmp(value, "postgresql") == 0;
		return 0;
	}
	snprintf(msg, msgsize, "backend must be sqlite or postgresql, not \"%s\"", value);
	return -1;
}

/* A libpq URI (https://www.postgresql.org/docs/current/libpq-connect.html,
 * 34.1.1.2); its other parts are libpq's to judge when it connects. */
static int
set_directory_dsn(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (value[0] != '\0' && strncmp(value, "postgresql://", 13) != 0 && strncmp(value, "postgres://", 11) != 0) {
		snprintf(msg, msgsize, "dsn must be a URI starting with postgresql://");
		return -1;
	}
	return set_string(cfg->directory.dsn, sizeof(cfg->directory.dsn), key, value, msg, msgsize);
}

static int
set_role(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "standalone") == 0)
		cfg->role = SERVER_ROLE_STANDALONE;
	else if (strcmp(value, "proxy") == 0)
		cfg->role = SERVER_ROLE_PROXY;
	else if (strcmp(value, "backend") == 0)
		cfg->role = SERVER_ROLE_BACKEND;
	else {
		snprintf(msg, msgsize, "%s must be standalone, proxy or backend", key);
		return -1;
	}
	return 0;
}

static int
set_proxy_imap_port(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->proxy.imap_port, key, value, 1, 65535, msg, msgsize);
}

static int
set_proxy_pop3_port(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->proxy.pop3_port, key, value, 1, 65535, msg, msgsize);
}

static int
set_proxy_submission_port(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_unsigned(&cfg->proxy.submission_port, key, value, 1, 65535, msg, msgsize);
}

static int
set_proxy_tls(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	if (strcmp(value, "none") == 0)
		cfg->proxy.tls = PROXY_TLS_NONE;
	else if (strcmp(value, "starttls") == 0)
		cfg->proxy.tls = PROXY_TLS_STARTTLS;
	else if (strcmp(value, "implicit") == 0)
		cfg->proxy.tls = PROXY_TLS_IMPLICIT;
	else {
		snprintf(msg, msgsize, "%s must be none, starttls or implicit", key);
		return -1;
	}
	return 0;
}

static int
set_proxy_ca_file(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->proxy.ca_file, sizeof(cfg->proxy.ca_file), key, value, msg, msgsize);
}

static int
set_proxy_secret_file(struct tern_config *cfg, const char *key, const char *value, char *msg, size_t msgsize)
{
	return set_path(cfg->proxy.secret_file, sizeof(cfg->proxy.secret_file), key, value, msg, msgsize);
}

static int
set_backend_trusted_proxies(struct tern_config *cfg, const char *key, const char *value, char *msg,
                            size_t msgsize)
{
	return set_networks(cfg->backend.trusted_proxies, sizeof(cfg->backend.trusted_proxies), key, value, msg,
	                    msgsize);
}

static const struct config_key config_keys[] = {
	{ "server", "hostname", set_hostname },
	{ "server", "external_hostname", set_external_hostname },
	{ "server", "data_dir", set_data_dir },
	{ "server", "threads", set_threads },
	{ "server", "workers", set_workers },
	{ "server", "log_level", set_log_level },
	{ "server", "user", set_user },
	{ "server", "disk_reserve", set_disk_reserve },
	{ "server", "role", set_role },
	{ "proxy", "imap_port", set_proxy_imap_port },
	{ "proxy", "pop3_port", set_proxy_pop3_port },
	{ "proxy", "submission_port", set_proxy_submission_port },
	{ "proxy", "tls", set_proxy_tls },
	{ "proxy", "ca_file", set_proxy_ca_file },
	{ "proxy", "secret_file", set_proxy_secret_file },
	{ "backend", "trusted_proxies", set_backend_trusted_proxies },
	{ "directory", "backend", set_directory_backend },
	{ "directory", "dsn", set_directory_dsn },
	{ "tls", "cert", set_tls_cert },
	{ "tls", "key", set_tls_key },
	{ "tls", "min_version", set_tls_min_version },
	{ "tls", "ciphers", set_tls_ciphers },
	{ "tls", "ciphersuites", set_tls_ciphersuites },
	{ "tls", "sni", set_tls_sni },
	{ "listen", "imap", set_listen },
	{ "listen", "imaps", set_listen },
	{ "listen", "pop3", set_listen },
	{ "listen", "pop3s", set_listen },
	{ "listen", "smtp", set_listen },
	{ "listen", "submission", set_listen },
	{ "listen", "submissions", set_listen },
	{ "listen", "http", set_listen },
	{ "listen", "https", set_listen },
	{ "imap", "enabled", set_imap_enabled },
	{ "pop3", "enabled", set_pop3_enabled },
	{ "submission", "enabled", set_submission_enabled },
	{ "auth", "allow_plaintext", set_allow_plaintext },
	{ "auth", "basic", set_basic },
	{ "bruteforce", "delay_after", set_bf_delay_after },
	{ "bruteforce", "delay_max", set_bf_delay_max },
	{ "bruteforce", "block_after", set_bf_block_after },
	{ "bruteforce", "block_subnet_after", set_bf_block_subnet_after },
	{ "bruteforce", "spray_accounts", set_bf_spray_accounts },
	{ "bruteforce", "spray_subnet_accounts", set_bf_spray_subnet_accounts },
	{ "bruteforce", "account_slow_after", set_bf_account_slow_after },
	{ "bruteforce", "account_slow_total", set_bf_account_slow_total },
	{ "bruteforce", "window", set_bf_window },
	{ "bruteforce", "block_time", set_bf_block_time },
	{ "bruteforce", "good_time", set_bf_good_time },
	{ "bruteforce", "max_tracked", set_bf_max_tracked },
	{ "bruteforce", "allow", set_bf_allow },
	{ "http", "metrics_token", set_metrics_token },
	{ "http", "metrics_allow", set_metrics_allow },
	{ "http", "metrics_http", set_metrics_http },
	{ "oauth", "issuer", set_oauth_issuer },
	{ "oauth", "audience", set_oauth_audience },
	{ "oauth", "user_claim", set_oauth_user_claim },
	{ "oauth", "scope", set_oauth_scope },
	{ "oauth", "jwks_file", set_oauth_jwks_file },
	{ "oauth", "jwks_url", set_oauth_jwks_url },
	{ "oauth", "ca_file", set_oauth_ca_file },
	{ "oauth", "jwks_refresh", set_oauth_jwks_refresh },
	{ "oauth", "clock_skew", set_oauth_clock_skew },
	{ "oauth", "introspection_url", set_oauth_introspection_url },
	{ "oauth", "introspection_client_id", set_oauth_introspection_client_id },
	{ "oauth", "introspection_client_secret", set_oauth_introspection_client_secret },
	{ "limits", "max_message_size", set_max_message_size },
	{ "limits", "max_recipients", set_max_recipients },
	{ "limits", "max_connections", set_max_connections },
	{ "limits", "max_connections_per_ip", set_max_connections_per_ip },
	{ "limits", "max_imap_connections_per_user_ip", set_max_imap_userip },
	{ "limits", "max_pop3_connections_per_user_ip", set_max_pop3_userip },
	{ "limits", "max_connections_smtp", set_max_connections_smtp },
	{ "limits", "data_deadline", set_data_deadline },
	{ "limits", "min_data_rate", set_min_data_rate },
	{ "limits", "max_unauthenticated", set_max_unauthenticated },
	{ "limits", "max_commands_before_auth", set_max_commands_before_auth },
	{ "limits", "auth_timeout", set_auth_timeout },
	{ "limits", "max_bytes_before_auth", set_max_bytes_before_auth },
	{ "store", "orphan_scan_interval", set_orphan_scan_interval },
	{ "store", "orphan_min_age", set_orphan_min_age },
	{ "delivery", "resolver", set_delivery_resolver },
	{ "delivery", "dnssec_trust_anchor", set_delivery_trust_anchor },
	{ "delivery", "mx_port", set_delivery_mx_port },
	{ "delivery", "mta_sts_port", set_delivery_mta_sts_port },
	{ "delivery", "relay", set_delivery_relay },
	{ "delivery", "relay_user", set_delivery_relay_user },
	{ "delivery", "relay_password", set_delivery_relay_password },
	{ "delivery", "tls", set_delivery_tls },
	{ "delivery", "ca_file", set_delivery_ca_file },
	{ "delivery", "helo_name", set_delivery_helo_name },
	{ "delivery", "connections_per_domain", set_delivery_per_domain },
	{ "delivery", "connections_total", set_delivery_total },
	{ "delivery", "max_age", set_delivery_max_age },
	{ "delivery", "delay_warning", set_delivery_delay_warning },
	{ "delivery", "retry_delay", set_delivery_retry_delay },
	{ "delivery", "retry_max", set_delivery_retry_max },
	{ "delivery", "srs", set_delivery_srs },
	{ "delivery", "srs_domain", set_delivery_srs_domain },
	{ "inbound", "checks", set_inbound_checks },
	{ "inbound", "dmarc_enforce", set_inbound_dmarc_enforce },
};
#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static bool
known_section(const char *section)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, section) == 0)
			return true;
	}
	return false;
}

/* Checks that span several keys, once every entry is in. */
static int
config_check_whole(const struct conf *conf, struct tern_config *cfg, const unsigned *key_lines,
                   char **error_out)
{
	const char *path = conf->path != NULL ? conf->path : cfg->path;
	unsigned cert_line = 0, key_line = 0;
	size_t i;
	int s;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, "tls") != 0)
			continue;
		if (strcmp(config_keys[i].key, "cert") == 0)
			cert_line = key_lines[i];
		else if (strcmp(config_keys[i].key, "key") == 0)
			key_line = key_lines[i];
	}
	if (cfg->tls_cert[0] != '\0' && cfg->tls_key[0] == '\0') {
		*error_out = config_error(path, cert_line, "[tls] cert is set but key is not");
		return -1;
	}
	if (cfg->tls_key[0] != '\0' && cfg->tls_cert[0] == '\0') {
		*error_out = config_error(path, key_line, "[tls] key is set but cert is not");
		return -1;
	}
	for (s = 0; s < SERVICE_COUNT; s++) {
		unsigned line = 0;

		if (!cfg->listen[s].enabled || !cfg->listen[s].implicit_tls || cfg->tls_cert[0] != '\0')
			continue;
		for (i = 0; i < CONFIG_NKEYS; i++) {
			if (strcmp(config_keys[i].section, "listen") == 0 &&
			    strcmp(config_keys[i].key, service_names[s]) == 0)
				line = key_lines[i];
		}
		*error_out = config_error(path, line, "%s is a TLS listener but [tls] has no cert and key",
		                          service_names[s]);
		return -1;
	}
	if (cfg->role != SERVER_ROLE_STANDALONE) {
		unsigned line = 0;

		for (i = 0; i < CONFIG_NKEYS; i++) {
			if (strcmp(config_keys[i].section, "server") == 0 && strcmp(config_keys[i].key, "role") == 0)
				line = key_lines[i];
		}
		if (cfg->proxy.secret_file[0] == '\0') {
			*error_out = config_error(path, line, "[server] role = %s needs [proxy] secret_file",
			                          cfg->role == SERVER_ROLE_PROXY ? "proxy" : "backend");
			return -1;
		}
		if (cfg->role == SERVER_ROLE_BACKEND && cfg->backend.trusted_proxies[0] == '\0') {
			*error_out = config_error(path, line, "[server] role = backend needs [backend] trusted_proxies");
			return -1;
		}
	}
	if (cfg->directory.postgresql && cfg->directory.dsn[0] == '\0') {
		unsigned line = 0;

		for (i = 0; i < CONFIG_NKEYS; i++) {
			if (strcmp(config_keys[i].section, "directory") == 0 && strcmp(config_keys[i].key, "backend") == 0)
				line = key_lines[i];
		}
		*error_out = config_error(path, line, "[directory] backend = postgresql needs a dsn");
		return -1;
	}
	/* Port 25's budget defaults to half of the total (rounded up, so that
	 * it is never 0, which would mean "none"). */
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, "limits") == 0 &&
		    strcmp(config_keys[i].key, "max_connections_smtp") == 0 && key_lines[i] == 0)
			cfg->max_connections_smtp = cfg->max_connections / 2 + cfg->max_connections % 2;
	}
	if (cfg->oauth.issuer[0] != '\0') {
		unsigned line = 0;

		for (i = 0; i < CONFIG_NKEYS; i++) {
			if (strcmp(config_keys[i].section, "oauth") == 0 && strcmp(config_keys[i].key, "issuer") == 0)
				line = key_lines[i];
		}
		if (cfg->oauth.audience[0] == '\0') {
			*error_out = config_error(path, line, "[oauth] issuer is set but audience is not");
			return -1;
		}
		if (cfg->oauth.jwks_file[0] == '\0' && cfg->oauth.jwks_url[0] == '\0' &&
		    cfg->oauth.introspection_url[0] == '\0') {
			*error_out = config_error(path, line,
			                          "[oauth] needs jwks_file, jwks_url or introspection_url to check tokens");
			return -1;
		}
	}
	return 0;
}

static int
config_apply(const struct conf *conf, const char *path, struct tern_config *cfg, char **error_out)
{
	unsigned key_lines[CONFIG_NKEYS] = { 0 };
	char msg[512];
	size_t e, i;

	if (conf->path != NULL)
		path = conf->path;
	/* A misspelt section is an error even when it is empty ([limts]). */
	for (e = 0; e < conf->nsections; e++) {
		if (!known_section(conf->sections[e].section)) {
			*error_out = config_error(path, conf->sections[e].line, "unknown section [%s]",
			                          conf->sections[e].section);
			return -1;
		}
	}
	for (e = 0; e < conf->count; e++) {
		const struct conf_entry *ent = &conf->entries[e];
		const char *section = ent->section != NULL ? ent->section : "";

		if (!known_section(section)) {
			if (section[0] == '\0')
				*error_out = config_error(path, ent->line, "key \"%s\" outside of any [section]",
				                          ent->key);
			else
				*error_out = config_error(path, ent->line, "unknown section [%s]", section);
			return -1;
		}
		for (i = 0; i < CONFIG_NKEYS; i++) {
			if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].key, ent->key) == 0)
				break;
		}
		if (i == CONFIG_NKEYS) {
			*error_out = config_error(path, ent->line, "unknown key \"%s\" in [%s]", ent->key, section);
			return -1;
		}
		if (key_lines[i] != 0) {
			*error_out = config_error(path, ent->line, "%s already set on line %u", ent->key,
			                          key_lines[i]);
			return -1;
		}
		key_lines[i] = ent->line;
		msg[0] = '\0';
		if (config_keys[i].set(cfg, ent->key, ent->value != NULL ? ent->value : "", msg, sizeof(msg)) != 0) {
			*error_out = config_error(path, ent->line, "%s", msg);
			return -1;
		}
	}
	return config_check_whole(conf, cfg, key_lines, error_out);
}

int
config_parse_text(const char *path, const char *text, size_t len, struct tern_config *cfg_out, char **error_out)
{
	struct conf *conf = NULL;
	int ret;

	*error_out = NULL;
	config_defaults(cfg_out, path);
	if (conf_parse(path, text, len, &conf, error_out) != 0)
		return -1;
	ret = config_apply(conf, path, cfg_out, error_out);
	conf_free(&conf);
	return ret;
}

int
config_load(const char *path, struct tern_config *cfg_out, char **error_out)
{
	struct conf *conf = NULL;
	int ret;

	*error_out = NULL;
	config_defaults(cfg_out, path);
	if (conf_load(path, &conf, error_out) != 0)
		return -1;
	ret = config_apply(conf, path, cfg_out, error_out);
	conf_free(&conf);
	return ret;
}

/* The largest exact K/M/G unit, so that 52428800 prints as 50M. */
static void
print_size(FILE *out, const char *key, uint64_t v)
{
	static const char units[] = "KMG";
	int u = -1;

	while (u < 2 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		fprintf(out, "%s = %llu\n", key, (unsigned long long)v);
	else
		fprintf(out, "%s = %llu%c\n", key, (unsigned long long)v, units[u]);
}

/* A value the parser would change (a '#' that could start a comment,
 * spaces at either end, a leading quote) is written in double quotes. */
static void
print_value(FILE *out, const char *key, const char *value)
{
	size_t len = strlen(value);

	if (len > 0 && (strchr(value, '#') != NULL || value[0] == ' ' || value[0] == '\t' || value[0] == '"' ||
	                value[len - 1] == ' ' || value[len - 1] == '\t'))
		fprintf(out, "%s = \"%s\"\n", key, value);
	else if (len > 0)
		fprintf(out, "%s = %s\n", key, value);
	else
		fprintf(out, "%s =\n", key);
}

/* Appends len bytes of src to out (size bytes, *n used), truncating. */
static void
append_bounded(char *out, size_t size, size_t *n, const char *src, size_t len)
{
	if (len > size - 1 - *n)
		len = size - 1 - *n;
	memcpy(out + *n, src, len);
	*n += len;
	out[*n] = '\0';
}

/* The dsn with its password, if it holds one (user:PASSWORD@ or
 * password=PASSWORD), shown as ********. */
static void
print_dsn(FILE *out, const char *dsn)
{
	char shown[2 * sizeof(((struct tern_config *)0)->directory.dsn)];
	const char *p = dsn, *auth = strstr(dsn, "://"), *at, *colon, *slash, *end;
	size_t n = 0;

	shown[0] = '\0';
	if (auth != NULL) {
		auth += 3;
		at = strchr(auth, '@');
		colon = strchr(auth, ':');
		slash = strchr(auth, '/');
		append_bounded(shown, sizeof(shown), &n, dsn, (size_t)(auth - dsn));
		p = auth;
		if (at != NULL && colon != NULL && colon < at && (slash == NULL || slash > at)) {
			append_bounded(shown, sizeof(shown), &n, auth, (size_t)(colon + 1 - auth));
			append_bounded(shown, sizeof(shown), &n, "********", 8);
			p = at;
		}
	}
	while (*p != '\0') {
		if ((*p == '?' || *p == '&') && strncmp(p + 1, "password=", 9) == 0) {
			append_bounded(shown, sizeof(shown), &n, p, 10);
			append_bounded(shown, sizeof(shown), &n, "********", 8);
			end = strchr(p + 10, '&');
			p = end != NULL ? end : p + strlen(p);
			continue;
		}
		append_bounded(shown, sizeof(shown), &n, p, 1);
		p++;
	}
	print_value(out, "dsn", shown);
}

void
config_print(const struct tern_config *cfg, FILE *out)
{
	int s;
	int level = cfg->log_level;

	if (level < LOG_ERROR || level > LOG_DEBUG)
		level = LOG_INFO;
	fprintf(out, "# effective configuration");
	if (cfg->path[0] != '\0')
		fprintf(out, " of %s", cfg->path);
	fprintf(out, "\n\n[server]\n");
	fprintf(out, "hostname = %s\n", cfg->hostname);
	print_value(out, "external_hostname", cfg->external_hostname);
	print_value(out, "data_dir", cfg->data_dir);
	fprintf(out, "threads = %u\n", cfg->threads);
	fprintf(out, "workers = %u\n", cfg->workers);
	fprintf(out, "log_level = %s\n", level_names[level]);
	print_value(out, "user", cfg->user);
	print_size(out, "disk_reserve", cfg->disk_reserve);

	fprintf(out, "role = %s\n", cfg->role == SERVER_ROLE_PROXY     ? "proxy"
	                            : cfg->role == SERVER_ROLE_BACKEND ? "backend"
	                                                               : "standalone");

	fprintf(out, "\n[proxy]\n");
	fprintf(out, "imap_port = %u\n", cfg->proxy.imap_port);
	fprintf(out, "pop3_port = %u\n", cfg->proxy.pop3_port);
	fprintf(out, "submission_port = %u\n", cfg->proxy.submission_port);
	fprintf(out, "tls = %s\n", cfg->proxy.tls == PROXY_TLS_STARTTLS   ? "starttls"
	                           : cfg->proxy.tls == PROXY_TLS_IMPLICIT ? "implicit"
	                                                                  : "none");
	print_value(out, "ca_file", cfg->proxy.ca_file);
	print_value(out, "secret_file", cfg->proxy.secret_file);

	fprintf(out, "\n[backend]\n");
	print_value(out, "trusted_proxies", cfg->backend.trusted_proxies);

	fprintf(out, "\n[directory]\n");
	fprintf(out, "backend = %s\n", cfg->directory.postgresql ? "postgresql" : "sqlite");
	print_dsn(out, cfg->directory.dsn);

	fprintf(out, "\n[tls]\n");
	print_value(out, "cert", cfg->tls_cert);
	print_value(out, "key", cfg->tls_key);
	fprintf(out, "min_version = %s\n", cfg->tls_min_version == TLS1_3_VERSION ? "1.3" : "1.2");
	print_value(out, "ciphers", cfg->tls_ciphers);
	print_value(out, "ciphersuites", cfg->tls_ciphersuites);
	print_value(out, "sni", cfg->tls_sni);

	fprintf(out, "\n[listen]\n");
	for (s = 0; s < SERVICE_COUNT; s++) {
		const struct listen_config *l = &cfg->listen[s];

		if (!l->enabled)
			fprintf(out, "%s =\n", service_names[s]);
		else if (strchr(l->host, ':') != NULL)
			fprintf(out, "%s = [%s]:%s\n", service_names[s], l->host, l->port);
		else
			fprintf(out, "%s = %s:%s\n", service_names[s], l->host, l->port);
	}

	fprintf(out, "\n[imap]\nenabled = %s\n", cfg->imap_enabled ? "yes" : "no");
	fprintf(out, "\n[pop3]\nenabled = %s\n", cfg->pop3_enabled ? "yes" : "no");
	fprintf(out, "\n[submission]\nenabled = %s\n", cfg->submission_enabled ? "yes" : "no");

	fprintf(out, "\n[auth]\n");
	fprintf(out, "allow_plaintext = %s\n",
	        (unsigned)cfg->allow_plaintext <= PLAINTEXT_ALWAYS ? plaintext_names[cfg->allow_plaintext]
	                                                            : "never");
	fprintf(out, "basic = %s\n", (unsigned)cfg->basic <= BASIC_APP_PASSWORDS_ONLY ? basic_names[cfg->basic] : "on");

	fprintf(out, "\n[bruteforce]\n");
	fprintf(out, "delay_after = %u\n", cfg->bruteforce.delay_after);
	fprintf(out, "delay_max = %u\n", cfg->bruteforce.delay_max);
	fprintf(out, "block_after = %u\n", cfg->bruteforce.block_after);
	fprintf(out, "block_subnet_after = %u\n", cfg->bruteforce.block_subnet_after);
	fprintf(out, "spray_accounts = %u\n", cfg->bruteforce.spray_accounts);
	fprintf(out, "spray_subnet_accounts = %u\n", cfg->bruteforce.spray_subnet_accounts);
	fprintf(out, "account_slow_after = %u\n", cfg->bruteforce.account_slow_after);
	fprintf(out, "account_slow_total = %u\n", cfg->bruteforce.account_slow_total);
	fprintf(out, "window = %u\n", cfg->bruteforce.window);
	fprintf(out, "block_time = %u\n", cfg->bruteforce.block_time);
	fprintf(out, "good_time = %u\n", cfg->bruteforce.good_time);
	fprintf(out, "max_tracked = %u\n", cfg->bruteforce.max_tracked);
	print_value(out, "allow", cfg->bruteforce.allow);

	fprintf(out, "\n[http]\n");
	print_value(out, "metrics_token", cfg->http.metrics_token);
	print_value(out, "metrics_allow", cfg->http.metrics_allow);
	fprintf(out, "metrics_http = %s\n", cfg->http.metrics_http ? "yes" : "no");

	fprintf(out, "\n[oauth]\n");
	print_value(out, "issuer", cfg->oauth.issuer);
	print_value(out, "audience", cfg->oauth.audience);
	fprintf(out, "user_claim = %s\n", cfg->oauth.user_claim);
	print_value(out, "scope", cfg->oauth.scope);
	print_value(out, "jwks_file", cfg->oauth.jwks_file);
	print_value(out, "jwks_url", cfg->oauth.jwks_url);
	print_value(out, "ca_file", cfg->oauth.ca_file);
	fprintf(out, "jwks_refresh = %u\n", cfg->oauth.jwks_refresh);
	fprintf(out, "clock_skew = %u\n", cfg->oauth.clock_skew);
	print_value(out, "introspection_url", cfg->oauth.introspection_url);
	print_value(out, "introspection_client_id", cfg->oauth.introspection_client_id);
	print_value(out, "introspection_client_secret", cfg->oauth.introspection_client_secret);

	fprintf(out, "\n[limits]\n");
	print_size(out, "max_message_size", cfg->max_message_size);
	fprintf(out, "max_recipients = %u\n", cfg->max_recipients);
	fprintf(out, "max_connections = %u\n", cfg->max_connections);
	fprintf(out, "max_connections_per_ip = %u\n", cfg->max_connections_per_ip);
	fprintf(out, "max_imap_connections_per_user_ip = %u\n", cfg->max_imap_connections_per_user_ip);
	fprintf(out, "max_pop3_connections_per_user_ip = %u\n", cfg->max_pop3_connections_per_user_ip);
	fprintf(out, "max_connections_smtp = %u\n", cfg->max_connections_smtp);
	fprintf(out, "data_deadline = %u\n", cfg->data_deadline);
	fprintf(out, "min_data_rate = %u\n", cfg->min_data_rate);
	fprintf(out, "max_unauthenticated = %u\n", cfg->max_unauthenticated);
	fprintf(out, "max_commands_before_auth = %u\n", cfg->max_commands_before_auth);
	fprintf(out, "auth_timeout = %u\n", cfg->auth_timeout);
	print_size(out, "max_bytes_before_auth", cfg->max_bytes_before_auth);

	fprintf(out, "\n[store]\n");
	fprintf(out, "orphan_scan_interval = %u\n", cfg->orphan_scan_interval);
	fprintf(out, "orphan_min_age = %u\n", cfg->orphan_min_age);

	fprintf(out, "\n[delivery]\n");
	print_value(out, "resolver", cfg->delivery.resolver);
	print_value(out, "dnssec_trust_anchor", cfg->delivery.dnssec_trust_anchor);
	fprintf(out, "mx_port = %u\n", cfg->delivery.mx_port);
	fprintf(out, "mta_sts_port = %u\n", cfg->delivery.mta_sts_port);
	print_value(out, "relay", cfg->delivery.relay);
	print_value(out, "relay_user", cfg->delivery.relay_user);
	fprintf(out, "relay_password = %s\n", cfg->delivery.relay_password[0] != '\0' ? "(set)" : "");
	fprintf(out, "tls = %s\n", cfg->delivery.tls == DELIVERY_TLS_DANE       ? "dane"
	                           : cfg->delivery.tls == DELIVERY_TLS_REQUIRED ? "required"
	                                                                        : "opportunistic");
	print_value(out, "ca_file", cfg->delivery.ca_file);
	print_value(out, "helo_name", cfg->delivery.helo_name);
	fprintf(out, "connections_per_domain = %u\n", cfg->delivery.connections_per_domain);
	fprintf(out, "connections_total = %u\n", cfg->delivery.connections_total);
	fprintf(out, "max_age = %u\n", cfg->delivery.max_age);
	fprintf(out, "delay_warning = %u\n", cfg->delivery.delay_warning);
	fprintf(out, "retry_delay = %u\n", cfg->delivery.retry_delay);
	fprintf(out, "retry_max = %u\n", cfg->delivery.retry_max);
	fprintf(out, "srs = %s\n", cfg->delivery.srs ? "yes" : "no");
	print_value(out, "srs_domain", cfg->delivery.srs_domain);   /* "" as helo_name: derived */

	fprintf(out, "\n[inbound]\n");
	fprintf(out, "checks = %s\n", cfg->inbound.checks ? "yes" : "no");
	fprintf(out, "dmarc_enforce = %s\n", cfg->inbound.dmarc_enforce ? "yes" : "no");
}
