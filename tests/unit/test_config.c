/* Tests for src/config/config.c: defaults, every key, every error with its
 * line number, the comment form, sizes, IPv6 listeners, print -> parse. */
#include <openssl/tls1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "test.h"

static char tmpdir[64];
static char cert_path[128], key_path[128];
static struct tern_config cfg;   /* large: keep it off the stack */

static int
parse(const char *text, char **error)
{
	return config_parse_text("t.conf", text, strlen(text), &cfg, error);
}

/* Expects text to fail with exactly "t.conf:LINE: ..." containing what. */
static void
expect_error(const char *text, unsigned line, const char *what)
{
	char *error = NULL;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
	test_assert_inteq(parse(text, &error), -1);
	test_assert(error != NULL);
	if (error != NULL) {
		if (strncmp(error, prefix, strlen(prefix)) != 0 || strstr(error, what) == NULL)
			printf("# got \"%s\", expected \"%s...%s\"\n", error, prefix, what);
		test_assert(strncmp(error, prefix, strlen(prefix)) == 0);
		test_assert(strstr(error, what) != NULL);
	}
	free(error);
}

static void
test_defaults(void)
{
	char *error = NULL;

	test_begin("config: empty file gives the defaults");
	test_assert_inteq(parse("", &error), 0);
	test_assert(error == NULL);
	test_assert(cfg.hostname[0] != '\0');
	test_assert_streq(cfg.data_dir, "/var/lib/tern");
	test_assert(cfg.threads >= 1 && cfg.threads <= 64);
	test_assert_inteq(cfg.threads, sysconf(_SC_NPROCESSORS_ONLN) > 64 ? 64 : sysconf(_SC_NPROCESSORS_ONLN));
	test_assert_inteq(cfg.workers, 16);
	test_assert_inteq(cfg.log_level, LOG_INFO);
	test_assert_streq(cfg.tls_cert, "");
	test_assert_streq(cfg.tls_key, "");
	test_assert_inteq(cfg.tls_min_version, TLS1_2_VERSION);
	for (int s = 0; s < SERVICE_COUNT; s++)
		test_assert(!cfg.listen[s].enabled);
	test_assert(cfg.listen[SERVICE_IMAPS].implicit_tls);
	test_assert(cfg.listen[SERVICE_POP3S].implicit_tls);
	test_assert(cfg.listen[SERVICE_SUBMISSIONS].implicit_tls);
	test_assert(!cfg.listen[SERVICE_IMAP].implicit_tls);
	test_assert(!cfg.listen[SERVICE_SUBMISSION].implicit_tls);
	test_assert_inteq(cfg.allow_plaintext, PLAINTEXT_NEVER);
	test_assert_inteq(cfg.max_message_size, 50ULL * 1024 * 1024);
	test_assert_inteq(cfg.max_recipients, SMTP_RCPT_MAX);
	test_assert_inteq(cfg.max_connections, 10000);
	test_assert_inteq(cfg.max_connections_per_ip, 1000);
	test_assert_inteq(cfg.max_imap_connections_per_user_ip, 10);
	test_assert_inteq(cfg.max_pop3_connections_per_user_ip, 10);
	test_assert_inteq(cfg.max_unauthenticated, 5000);
	test_assert_inteq(cfg.max_commands_before_auth, 20);
	test_assert_inteq(cfg.auth_timeout, 60);
	test_assert_inteq(cfg.max_bytes_before_auth, 64 * 1024);
	test_assert_inteq(cfg.max_connections_smtp, 5000);
	test_assert_inteq(cfg.data_deadline, 300);
	test_assert_inteq(cfg.min_data_rate, 500);
	test_assert_inteq(cfg.orphan_scan_interval, 86400);
	test_assert_inteq(cfg.orphan_min_age, 3600);
	test_assert_streq(cfg.path, "t.conf");
	test_end();
}

static void
test_good_file(void)
{
	char text[2048];
	char *error = NULL;

	snprintf(text, sizeof(text),
	         "# a full configuration\n"
	         "[server]\n"
	         "hostname = mail.example.org\n"
	         "data_dir = /srv/tern\n"
	         "threads = 3\n"
	         "workers = 8\n"
	         "log_level = debug\n"
	         "\n"
	         "[tls]\n"
	         "cert = %s\n"
	         "key = %s\n"
	         "min_version = 1.3\n"
	         "[listen]\n"
	         "imap = 127.0.0.1:1143\n"
	         "imaps = 0.0.0.0:993\n"
	         "pop3 = localhost:110\n"
	         "pop3s = [::]:995\n"
	         "smtp = [::1]:2525\n"
	         "submission = 127.0.0.1:587\n"
	         "submissions =\n"
	         "[auth]\n"
	         "allow_plaintext = loopback\n"
	         "[limits]\n"
	         "max_message_size = 10M\n"
	         "max_recipients = 500\n"
	         "max_connections = 20\n",
	         cert_path, key_path);
	test_begin("config: every key set");
	test_assert_inteq(parse(text, &error), 0);
	if (error != NULL)
		printf("# %s\n", error);
	test_assert_streq(cfg.hostname, "mail.example.org");
	test_assert_streq(cfg.data_dir, "/srv/tern");
	test_assert_inteq(cfg.threads, 3);
	test_assert_inteq(cfg.workers, 8);
	test_assert_inteq(cfg.log_level, LOG_DEBUG);
	test_assert_streq(cfg.tls_cert, cert_path);
	test_assert_streq(cfg.tls_key, key_path);
	test_assert_inteq(cfg.tls_min_version, TLS1_3_VERSION);
	test_assert(cfg.listen[SERVICE_IMAP].enabled);
	test_assert_streq(cfg.listen[SERVICE_IMAP].host, "127.0.0.1");
	test_assert_streq(cfg.listen[SERVICE_IMAP].port, "1143");
	test_assert(!cfg.listen[SERVICE_IMAP].implicit_tls);
	test_assert(cfg.listen[SERVICE_IMAPS].enabled);
	test_assert(cfg.listen[SERVICE_IMAPS].implicit_tls);
	test_assert_streq(cfg.listen[SERVICE_POP3].host, "localhost");
	test_assert_streq(cfg.listen[SERVICE_POP3S].host, "::");
	test_assert_streq(cfg.listen[SERVICE_POP3S].port, "995");
	test_assert_streq(cfg.listen[SERVICE_SMTP].host, "::1");
	test_assert_streq(cfg.listen[SERVICE_SMTP].port, "2525");
	test_assert(cfg.listen[SERVICE_SUBMISSION].enabled);
	test_assert(!cfg.listen[SERVICE_SUBMISSIONS].enabled);
	test_assert_inteq(cfg.allow_plaintext, PLAINTEXT_LOOPBACK);
	test_assert_inteq(cfg.max_message_size, 10ULL * 1024 * 1024);
	test_assert_inteq(cfg.max_recipients, 500);
	test_assert_inteq(cfg.max_connections, 20);
	free(error);
	test_end();
}

static void
test_comment_form(void)
{
	char *error = NULL;

	test_begin("config: value followed by spaces and a comment");
	test_assert_inteq(parse("[auth]\n"
	                        "allow_plaintext = never        # comment\n"
	                        "[server]\n"
	                        "workers = 7\t# tab then comment\n"
	                        "log_level = warn # x\n"
	                        "[listen]\n"
	                        "imap = 127.0.0.1:143   # plain IMAP\n"
	                        "pop3 =    # off\n",
	                        &error),
	                  0);
	if (error != NULL)
		printf("# %s\n", error);
	test_assert_inteq(cfg.allow_plaintext, PLAINTEXT_NEVER);
	test_assert_inteq(cfg.workers, 7);
	test_assert_inteq(cfg.log_level, LOG_WARN);
	test_assert_streq(cfg.listen[SERVICE_IMAP].port, "143");
	test_assert(!cfg.listen[SERVICE_POP3].enabled);
	free(error);
	error = NULL;
	test_assert_inteq(parse("[auth]\nallow_plaintext = always # yes\n", &error), 0);
	test_assert_inteq(cfg.allow_plaintext, PLAINTEXT_ALWAYS);
	free(error);
	test_end();
}

static void
test_sizes(void)
{
	char *error = NULL;

	test_begin("config: size suffixes");
	test_assert_inteq(parse("[limits]\nmax_message_size = 1K\n", &error), 0);
	test_assert_inteq(cfg.max_message_size, 1024);
	test_assert_inteq(parse("[limits]\nmax_message_size = 2048\n", &error), 0);
	test_assert_inteq(cfg.max_message_size, 2048);
	test_assert_inteq(parse("[limits]\nmax_message_size = 25m\n", &error), 0);
	test_assert_inteq(cfg.max_message_size, 25ULL << 20);
	test_assert_inteq(parse("[limits]\nmax_message_size = 1G\n", &error), 0);
	test_assert_inteq(cfg.max_message_size, 1ULL << 30);
	test_assert(error == NULL);
	expect_error("[limits]\nmax_message_size = 1023\n", 2, "between 1K");
	expect_error("[limits]\n\nmax_message_size = 3G\n", 3, "between 1K");
	expect_error("[limits]\nmax_message_size = 10X\n", 2, "size");
	expect_error("[limits]\nmax_message_size = M\n", 2, "size");
	expect_error("[limits]\nmax_message_size = -5M\n", 2, "size");
	expect_error("[limits]\nmax_message_size = 99999999999999999999G\n", 2, "size");
	test_end();

	test_begin("config: connection hygiene limits, 0 turns them off");
	test_assert_inteq(parse("[limits]\nmax_connections_per_ip = 0\nmax_unauthenticated = 7\n"
	                        "max_commands_before_auth = 3\nauth_timeout = 2\nmax_bytes_before_auth = 1K\n",
	                        &error), 0);
	test_assert_inteq(cfg.max_connections_per_ip, 0);
	test_assert_inteq(cfg.max_unauthenticated, 7);
	test_assert_inteq(cfg.max_commands_before_auth, 3);
	test_assert_inteq(cfg.auth_timeout, 2);
	test_assert_inteq(cfg.max_bytes_before_auth, 1024);
	test_assert_inteq(parse("[limits]\nmax_bytes_before_auth = 0\n", &error), 0);
	test_assert_inteq(cfg.max_bytes_before_auth, 0);
	expect_error("[limits]\nauth_timeout = 86401\n", 2, "between 0 and 86400");
	expect_error("[limits]\nmax_bytes_before_auth = 2G\n", 2, "at most 1G");
	expect_error("[limits]\nmax_connections_per_ip = many\n", 2, "number");
	test_end();

	test_begin("config: port 25's budget is half of max_connections unless set");
	test_assert_inteq(parse("[limits]\nmax_connections = 20\n", &error), 0);
	test_assert_inteq(cfg.max_connections_smtp, 10);
	test_assert_inteq(parse("[limits]\nmax_connections = 7\n", &error), 0);
	test_assert_inteq(cfg.max_connections_smtp, 4);
	test_assert_inteq(parse("[limits]\nmax_connections = 1\n", &error), 0);
	test_assert_inteq(cfg.max_connections_smtp, 1);
	/* set before or after max_connections, it is taken as it is */
	test_assert_inteq(parse("[limits]\nmax_connections_smtp = 3\nmax_connections = 20\n", &error), 0);
	test_assert_inteq(cfg.max_connections_smtp, 3);
	test_assert_inteq(parse("[limits]\nmax_connections = 20\nmax_connections_smtp = 0\n", &error), 0);
	test_assert_inteq(cfg.max_connections_smtp, 0);
	expect_error("[limits]\nmax_connections_smtp = -1\n", 2, "number");
	expect_error("[limits]\nmax_connections_smtp = 10000001\n", 2, "between 0 and 10000000");
	test_end();

	test_begin("config: data deadline and minimum data rate");
	test_assert_inteq(parse("[limits]\ndata_deadline = 3\nmin_data_rate = 100\n", &error), 0);
	test_assert_inteq(cfg.data_deadline, 3);
	test_assert_inteq(cfg.min_data_rate, 100);
	test_assert_inteq(parse("[limits]\ndata_deadline = 0\nmin_data_rate = 0\n", &error), 0);
	test_assert_inteq(cfg.data_deadline, 0);
	test_assert_inteq(cfg.min_data_rate, 0);
	expect_error("[limits]\ndata_deadline = 86401\n", 2, "between 0 and 86400");
	expect_error("[limits]\nmin_data_rate = 1073741825\n", 2, "between 0 and 1073741824");
	expect_error("[limits]\nmin_data_rate = 5K\n", 2, "number");
	test_end();

	test_begin("config: [store] orphan scan period and age, 0 allowed");
	test_assert_inteq(parse("[store]\norphan_scan_interval = 0\norphan_min_age = 0\n", &error), 0);
	test_assert_inteq(cfg.orphan_scan_interval, 0);
	test_assert_inteq(cfg.orphan_min_age, 0);
	test_assert_inteq(parse("[store]\norphan_scan_interval = 600\norphan_min_age = 7200\n", &error), 0);
	test_assert_inteq(cfg.orphan_scan_interval, 600);
	test_assert_inteq(cfg.orphan_min_age, 7200);
	expect_error("[store]\norphan_scan_interval = 2592001\n", 2, "between 0 and 2592000");
	expect_error("[store]\norphan_min_age = soon\n", 2, "number");
	expect_error("[store]\norphan_scan = 1\n", 2, "orphan_scan");
	test_end();
}

static void
test_listen(void)
{
	char *error = NULL;

	test_begin("config: listen addresses, IPv6 in brackets");
	test_assert_inteq(parse("[listen]\nimap = [2001:db8::1]:143\n", &error), 0);
	test_assert(cfg.listen[SERVICE_IMAP].enabled);
	test_assert_streq(cfg.listen[SERVICE_IMAP].host, "2001:db8::1");
	test_assert_streq(cfg.listen[SERVICE_IMAP].port, "143");
	test_assert_inteq(parse("[listen]\nsmtp = [::ffff:127.0.0.1]:25\n", &error), 0);
	test_assert_streq(cfg.listen[SERVICE_SMTP].host, "::ffff:127.0.0.1");
	/* http and https: off unless configured; clients are told
	 * external_hostname when it is set */
	test_assert_inteq(parse("[server]\nhostname = mx.example.test\n", &error), 0);
	test_assert(!cfg.listen[SERVICE_HTTP].enabled && !cfg.listen[SERVICE_HTTPS].enabled);
	test_assert(cfg.listen[SERVICE_HTTPS].implicit_tls && !cfg.listen[SERVICE_HTTP].implicit_tls);
	test_assert_streq(config_client_hostname(&cfg), "mx.example.test");
	test_assert_inteq(parse("[server]\nhostname = mx.example.test\nexternal_hostname = mail.example.test\n"
	                        "[listen]\nhttp = 0.0.0.0:8080\n", &error), 0);
	test_assert_streq(config_client_hostname(&cfg), "mail.example.test");
	test_assert(config_service_listening(&cfg, SERVICE_HTTP));
	test_assert(!config_service_listening(&cfg, SERVICE_HTTPS));
	test_assert_streq(cfg.listen[SERVICE_HTTP].port, "8080");
	test_assert(error == NULL);
	expect_error("[listen]\nimap = ::1:143\n", 2, "brackets");
	expect_error("[listen]\nimap = [::1]143\n", 2, "[address]:port");
	expect_error("[listen]\nimap = [::1\n", 2, "[address]:port");
	expect_error("[listen]\nimap = []:143\n", 2, "IPv6");
	expect_error("[listen]\nimap = [not-v6]:143\n", 2, "IPv6");
	expect_error("[listen]\nimap = 127.0.0.1\n", 2, "host:port");
	expect_error("[listen]\nimap = :143\n", 2, "missing host");
	expect_error("[listen]\nimap = 127.0.0.1:0\n", 2, "bad port");
	expect_error("[listen]\nimap = 127.0.0.1:65536\n", 2, "bad port");
	expect_error("[listen]\nimap = 127.0.0.1:\n", 2, "bad port");
	expect_error("[listen]\nimap = 127.0.0.1:imap\n", 2, "bad port");
	expect_error("[listen]\nimap = bad_host!:143\n", 2, "bad host");
	expect_error("[listen]\n\n\nimaps = 127.0.0.1:993\n", 4, "TLS listener");
	expect_error("[listen]\npop3s = 127.0.0.1:995\n", 2, "TLS listener");
	expect_error("[listen]\nsubmissions = 127.0.0.1:465\n", 2, "TLS listener");
	test_end();
}

static void
test_directory(void)
{
	char *error = NULL, *printed = NULL;
	size_t len = 0;
	FILE *f;

	test_begin("config: [directory] backend and dsn");
	test_assert_inteq(parse("[server]\nhostname = x\n", &error), 0);
	test_assert(!cfg.directory.postgresql);
	test_assert_streq(cfg.directory.dsn, "");
	test_assert_inteq(parse("[directory]\nbackend = postgresql\n"
	                        "dsn = postgresql://tern:s3cret@db.example:5433/tern?sslmode=require\n",
	                        &error), 0);
	test_assert(cfg.directory.postgresql);
	test_assert_streq(cfg.directory.dsn, "postgresql://tern:s3cret@db.example:5433/tern?sslmode=require");
	/* tern config check never shows the password. */
	f = open_memstream(&printed, &len);
	config_print(&cfg, f);
	fclose(f);
	test_assert(strstr(printed, "\n[directory]\nbackend = postgresql\n"
	                            "dsn = postgresql://tern:********@db.example:5433/tern?sslmode=require\n") != NULL);
	test_assert(strstr(printed, "s3cret") == NULL);
	free(printed);
	test_assert_inteq(parse("[directory]\nbackend = sqlite\ndsn = postgres://db/t?password=pw&x=1\n", &error), 0);
	test_assert(!cfg.directory.postgresql);
	f = open_memstream(&printed, &len);
	config_print(&cfg, f);
	fclose(f);
	test_assert(strstr(printed, "dsn = postgres://db/t?password=********&x=1\n") != NULL);
	free(printed);
	expect_error("[directory]\nbackend = mysql\n", 2, "sqlite or postgresql");
	expect_error("[directory]\n\nbackend = postgresql\n", 3, "needs a dsn");
	expect_error("[directory]\ndsn = host=db dbname=tern\n", 2, "postgresql://");
	test_end();
}

/* [server] role, [proxy], [backend] (issue 11).  Paths must exist: the
 * test certificate stands in for the secret and the CA file. */
static void
test_roles(void)
{
	char *error = NULL, *printed = NULL;
	char text[1024];
	size_t len = 0;
	FILE *f;

	test_begin("config: role, [proxy], [backend]");
	test_assert_inteq(parse("[server]\nhostname = x\n", &error), 0);
	test_assert_inteq(cfg.role, SERVER_ROLE_STANDALONE);
	test_assert_inteq(cfg.proxy.imap_port, 143);
	test_assert_inteq(cfg.proxy.pop3_port, 110);
	test_assert_inteq(cfg.proxy.submission_port, 587);
	test_assert_inteq(cfg.proxy.tls, PROXY_TLS_NONE);
	snprintf(text, sizeof(text), "[server]\nrole = proxy\n[proxy]\nsecret_file = %s\nimap_port = 993\n"
	         "tls = implicit\nca_file = %s\n", key_path, cert_path);
	test_assert_inteq(parse(text, &error), 0);
	test_assert_inteq(cfg.role, SERVER_ROLE_PROXY);
	test_assert_inteq(cfg.proxy.imap_port, 993);
	test_assert_inteq(cfg.proxy.tls, PROXY_TLS_IMPLICIT);
	test_assert_streq(cfg.proxy.ca_file, cert_path);
	f = open_memstream(&printed, &len);
	config_print(&cfg, f);
	fclose(f);
	test_assert(strstr(printed, "role = proxy\n") != NULL);
	test_assert(strstr(printed, "\n[proxy]\nimap_port = 993\npop3_port = 110\nsubmission_port = 587\n"
	                            "tls = implicit\n") != NULL);
	free(printed);
	snprintf(text, sizeof(text), "[server]\nrole = backend\n[proxy]\nsecret_file = %s\ntls = starttls\n"
	         "[backend]\ntrusted_proxies = 10.0.0.0/24, 2001:db8::7\n", key_path);
	test_assert_inteq(parse(text, &error), 0);
	test_assert_inteq(cfg.role, SERVER_ROLE_BACKEND);
	test_assert_inteq(cfg.proxy.tls, PROXY_TLS_STARTTLS);
	test_assert_streq(cfg.backend.trusted_proxies, "10.0.0.0/24, 2001:db8::7");
	expect_error("[server]\nrole = front\n", 2, "standalone, proxy or backend");
	expect_error("[server]\n\nrole = proxy\n", 3, "needs [proxy] secret_file");
	snprintf(text, sizeof(text), "[server]\nrole = backend\n[proxy]\nsecret_file = %s\n", key_path);
	expect_error(text, 2, "needs [backend] trusted_proxies");
	expect_error("[backend]\ntrusted_proxies = 10.0.0.0/33\n", 2, "not an address or network");
	expect_error("[proxy]\ntls = yes\n", 2, "none, starttls or implicit");
	expect_error("[proxy]\npop3_port = 0\n", 2, "between 1 and 65535");
	test_end();
}

static void
test_errors(void)
{
	char text[1024];

	test_begin("config: errors name file and line");
	expect_error("[server]\nhostname = x\n[bogus]\nfoo = 1\n", 3, "unknown section [bogus]");
	expect_error("[server]\n# c\nnope = 1\n", 3, "unknown key \"nope\" in [server]");
	expect_error("[listen]\ngopher = 127.0.0.1:70\n", 2, "unknown key");
	expect_error("[listen]\nhttp = 127.0.0.1:80\nhttps = 127.0.0.1:443\n", 3, "https is a TLS listener");
	expect_error("[server]\nexternal_hostname = a..b\n", 2, "external_hostname");
	expect_error("[server]\nthreads = 0\n", 2, "between 1 and 64");
	expect_error("[server]\nthreads = 65\n", 2, "between 1 and 64");
	expect_error("[server]\nthreads = two\n", 2, "must be a number");
	expect_error("[server]\nworkers = 0\n", 2, "between 1 and 64");
	expect_error("[server]\nworkers = 100\n", 2, "between 1 and 64");
	expect_error("[server]\nlog_level = verbose\n", 2, "log_level");
	expect_error("[server]\nhostname = -bad.example\n", 2, "hostname");
	expect_error("[server]\nhostname = a..b\n", 2, "hostname");
	expect_error("[server]\nhostname =\n", 2, "hostname");
	expect_error("[server]\ndata_dir =\n", 2, "data_dir");
	expect_error("[server]\nworkers = 2\nworkers = 3\n", 3, "already set on line 2");
	expect_error("[server]\ndata_dir = \"/a # b\"/c\n", 2, "control character or '\"'");
	expect_error("[server]\ndata_dir = /a\x01b\n", 2, "control character");
	expect_error("[tls]\nmin_version = 1.1\n", 2, "min_version");
	expect_error("[tls]\nmin_version = 1.0\n", 2, "min_version");
	expect_error("[tls]\ncert = /nonexistent/cert.pem\n", 2, "/nonexistent/cert.pem");
	expect_error("[tls]\nkey = /nonexistent/key.pem\n", 2, "/nonexistent/key.pem");
	expect_error("[tls]\ncert = /tmp\n", 2, "not a regular file");
	snprintf(text, sizeof(text), "[tls]\n\ncert = %s\n", cert_path);
	expect_error(text, 3, "key is not");
	snprintf(text, sizeof(text), "[tls]\nkey = %s\n", key_path);
	expect_error(text, 2, "cert is not");
	expect_error("[auth]\nallow_plaintext = sometimes\n", 2, "never, loopback or always");
	expect_error("[auth]\nallow_plaintext = Never\n", 2, "allow_plaintext");
	expect_error("[limits]\nmax_recipients = 0\n", 2, "max_recipients");
	expect_error("[limits]\nmax_connections = 0\n", 2, "max_connections");
	expect_error("[limits]\nmax_connections = 1e6\n", 2, "must be a number");
	/* Syntax errors come from the generic parser, with the same form. */
	expect_error("[server\n", 1, "");
	expect_error("[server]\njust words\n", 2, "");
	expect_error("workers = 2\n", 1, "");
	test_end();
}

static void
test_tls_ok(void)
{
	char text[1024];
	char *error = NULL;

	snprintf(text, sizeof(text), "[tls]\ncert = %s\nkey = %s\n[listen]\nimaps = 127.0.0.1:993\n", cert_path,
	         key_path);
	test_begin("config: TLS listener with cert and key");
	test_assert_inteq(parse(text, &error), 0);
	test_assert(cfg.listen[SERVICE_IMAPS].enabled);
	test_assert(cfg.listen[SERVICE_IMAPS].implicit_tls);
	free(error);
	test_end();
}

static void
test_print_roundtrip(void)
{
	static struct tern_config first;
	char text[2048], path[128];
	char *error = NULL, *printed = NULL;
	size_t printed_len = 0;
	FILE *f;

	/* data_dir's " # hash" is a comment unless quoted; test with quotes. */
	snprintf(text, sizeof(text),
	         "[server]\nhostname = h.example\ndata_dir = \"/data/with # hash\"\nthreads = 2\nlog_level = error\n"
	         "[tls]\ncert = %s\nkey = %s\n"
	         "[listen]\nimaps = [::1]:993\nsmtp = 127.0.0.1:25\n"
	         "[auth]\nallow_plaintext = loopback\n"
	         "[limits]\nmax_message_size = 1536K\nmax_recipients = 7\nmax_connections = 99\n"
	         "data_deadline = 30\nmin_data_rate = 250\n"
	         "[store]\norphan_scan_interval = 60\n"
	         "[inbound]\ndmarc_enforce = no\n",
	         cert_path, key_path);
	test_begin("config: print output parses back to the same config");
	test_assert_inteq(config_parse_text("t.conf", text, strlen(text), &first, &error), 0);
	test_assert_streq(first.data_dir, "/data/with # hash");
	f = open_memstream(&printed, &printed_len);
	config_print(&first, f);
	fclose(f);
	test_assert(strstr(printed, "max_message_size = 1536K\n") != NULL);
	test_assert(strstr(printed, "imaps = [::1]:993\n") != NULL);
	test_assert(strstr(printed, "pop3 =\n") != NULL);
	test_assert(strstr(printed, "workers = 16\n") != NULL);
	test_assert(strstr(printed, "allow_plaintext = loopback\n") != NULL);
	test_assert(strstr(printed, "max_connections_smtp = 50\n") != NULL);
	test_assert(strstr(printed, "data_deadline = 30\n") != NULL);
	test_assert(strstr(printed, "min_data_rate = 250\n") != NULL);
	test_assert(strstr(printed, "[store]\norphan_scan_interval = 60\norphan_min_age = 3600\n") != NULL);
	test_assert(strstr(printed, "[inbound]\nchecks = yes\ndmarc_enforce = no\n") != NULL);
	test_assert(first.inbound.checks && !first.inbound.dmarc_enforce);
	snprintf(path, sizeof(path), "%s/printed.conf", tmpdir);
	f = fopen(path, "w");
	fputs(printed, f);
	fclose(f);
	test_assert_inteq(config_load(path, &cfg, &error), 0);
	if (error != NULL)
		printf("# %s\n", error);
	test_assert_streq(cfg.path, path);
	memcpy(cfg.path, first.path, sizeof(cfg.path));
	test_assert(memcmp(&cfg, &first, sizeof(cfg)) == 0);
	free(printed);
	free(error);

	/* The defaults print and load back too. */
	error = NULL;
	printed = NULL;
	test_assert_inteq(parse("", &error), 0);
	memcpy(&first, &cfg, sizeof(first));
	f = open_memstream(&printed, &printed_len);
	config_print(&first, f);
	fclose(f);
	test_assert_inteq(config_parse_text("t.conf", printed, printed_len, &cfg, &error), 0);
	test_assert(memcmp(&cfg, &first, sizeof(cfg)) == 0);
	free(printed);
	free(error);
	test_end();
}

static void
test_load_file(void)
{
	char path[128];
	char *error = NULL;
	FILE *f;

	test_begin("config: config_load reads a file; a missing file is an error");
	snprintf(path, sizeof(path), "%s/tern.conf", tmpdir);
	f = fopen(path, "w");
	fputs("[server]\nworkers = 5\n[bad]\nx = 1\n", f);
	fclose(f);
	test_assert_inteq(config_load(path, &cfg, &error), -1);
	test_assert(error != NULL && strstr(error, ":3: unknown section") != NULL);
	test_assert(error != NULL && strncmp(error, path, strlen(path)) == 0);
	free(error);
	error = NULL;
	f = fopen(path, "w");
	fputs("[server]\nworkers = 5\n", f);
	fclose(f);
	test_assert_inteq(config_load(path, &cfg, &error), 0);
	test_assert_inteq(cfg.workers, 5);
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	test_assert_inteq(config_load(path, &cfg, &error), -1);
	test_assert(error != NULL && strstr(error, "missing.conf") != NULL);
	free(error);
	test_end();
}

static void
test_service_names(void)
{
	test_begin("config: service names");
	test_assert_streq(config_service_name(SERVICE_IMAP), "imap");
	test_assert_streq(config_service_name(SERVICE_SUBMISSIONS), "submissions");
	test_assert_streq(config_service_name(SERVICE_HTTP), "http");
	test_assert_streq(config_service_name(SERVICE_HTTPS), "https");
	test_assert_streq(config_service_name(SERVICE_COUNT), "?");
	test_end();
}

static void
test_srs(void)
{
	char *error = NULL;

	test_begin("config: [delivery] srs and srs_domain");
	test_assert_inteq(parse("[server]\nhostname = mail.example.com\n", &error), 0);
	test_assert(cfg.delivery.srs);
	test_assert_streq(config_srs_domain(&cfg), "example.com");
	test_assert_inteq(parse("[server]\nhostname = example.com\n", &error), 0);
	test_assert_streq(config_srs_domain(&cfg), "example.com");
	test_assert_inteq(parse("[server]\nhostname = mail.example.com\n[delivery]\nsrs = no\n"
	                        "srs_domain = srs.example.net\n", &error), 0);
	test_assert(!cfg.delivery.srs);
	test_assert_streq(config_srs_domain(&cfg), "srs.example.net");
	free(error);
	expect_error("[delivery]\nsrs_domain = not a domain\n", 2, "domain name");
	expect_error("[delivery]\nsrs = maybe\n", 2, "srs");
	test_end();
}

int
main(void)
{
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tern-test-config-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	f = fopen(cert_path, "w");
	fputs("not really a certificate\n", f);
	fclose(f);
	f = fopen(key_path, "w");
	fputs("not really a key\n", f);
	fclose(f);

	test_defaults();
	test_good_file();
	test_comment_form();
	test_sizes();
	test_listen();
	test_errors();
	test_directory();
	test_roles();
	test_tls_ok();
	test_print_roundtrip();
	test_load_file();
	test_service_names();
	test_srs();

	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			return 1;
	}
	return test_done();
}
