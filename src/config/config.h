/* Tern's typed configuration: every key, its default, its check.
 * docs/CONFIG.md documents the same keys; keep the two in step. */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum service {
	SERVICE_IMAP,          /* 143, STARTTLS */
	SERVICE_IMAPS,         /* 993, implicit TLS */
	SERVICE_POP3,          /* 110, STLS */
	SERVICE_POP3S,         /* 995, implicit TLS */
	SERVICE_SMTP,          /* 25, mail from other servers */
	SERVICE_SUBMISSION,    /* 587, STARTTLS, AUTH required */
	SERVICE_SUBMISSIONS,   /* 465, implicit TLS, AUTH required */
	SERVICE_HTTP,          /* autoconfig over plain HTTP; off unless configured */
	SERVICE_HTTPS,         /* autoconfig, Autodiscover; implicit TLS; off unless configured */
	SERVICE_COUNT
};

enum allow_plaintext {
	PLAINTEXT_NEVER,       /* no password before TLS */
	PLAINTEXT_LOOPBACK,    /* allowed from 127.0.0.0/8 and ::1 */
	PLAINTEXT_ALWAYS,
};

/* [auth] basic: may passwords be used at all? */
enum auth_basic {
	BASIC_ON,                 /* account passwords and app passwords */
	BASIC_OFF,                /* no passwords: OAuth 2.0 only */
	BASIC_APP_PASSWORDS_ONLY, /* app passwords, never the account password */
};

struct listen_config {
	bool enabled;
	char host[256];        /* numeric address or name; "" never when enabled */
	char port[16];
	bool implicit_tls;     /* imaps, pop3s, submissions */
};

struct tern_config {
	char path[PATH_MAX];

	/* [server] */
	char hostname[256];             /* default: gethostname() */
	char external_hostname[256];    /* the name clients use ("" = hostname): autoconfig, Autodiscover */
	char data_dir[PATH_MAX];        /* default: /var/lib/tern */
	unsigned threads;               /* event loops; default: number of cores */
	unsigned workers;               /* threads for blocking work; default 4 */
	int log_level;                  /* enum log_level; default info */
	char user[64];                  /* started as root: drop to this user after binding; "" = stay */
	uint64_t disk_reserve;          /* bytes kept free for deletes on a full disk; default 32M, 0 = off */
	/* standalone (default): serves every user itself; proxy: logs users
	 * in and relays them to their back end (src/proxy); backend: also
	 * accepts logins that trusted proxies make for their users */
	enum server_role { SERVER_ROLE_STANDALONE, SERVER_ROLE_PROXY, SERVER_ROLE_BACKEND } role;

	/* [proxy]: the hop from a proxy to a back end (issue 11) */
	struct {
		unsigned imap_port;            /* default 143 */
		unsigned pop3_port;            /* default 110 */
		unsigned submission_port;      /* default 587 */
		enum proxy_tls { PROXY_TLS_NONE, PROXY_TLS_STARTTLS, PROXY_TLS_IMPLICIT } tls; /* default none */
		char ca_file[PATH_MAX];        /* verifies the back end's certificate; "" = the system's */
		char secret_file[PATH_MAX];    /* the secret proxies and back ends share (proxy, backend) */
	} proxy;

	/* [backend] */
	struct {
		char trusted_proxies[1024];    /* CIDRs/addresses whose proxied logins are accepted */
	} backend;

	/* [directory]: where domains, users, aliases, app passwords and the
	 * brute-force state live (src/directory/directory.h) */
	struct {
		bool postgresql;               /* backend = postgresql; default sqlite (in data_dir) */
		char dsn[1024];                /* postgresql://...: a libpq connection URI */
	} directory;

	/* [tls] */
	char tls_cert[PATH_MAX];        /* "" = no TLS (then STARTTLS is not offered) */
	char tls_key[PATH_MAX];
	int tls_min_version;            /* TLS1_2_VERSION or TLS1_3_VERSION */
	char tls_ciphers[512];          /* TLS 1.2 list; "" = Tern's default */
	char tls_ciphersuites[512];     /* TLS 1.3 suites; "" = OpenSSL's default */
	char tls_sni[4096];             /* "cert:key, cert:key": extra certificates by SNI name */

	/* [listen] */
	struct listen_config listen[SERVICE_COUNT];

	/* [imap] [pop3] [submission] enabled: the Exchange admin's server
	 * switches; a disabled service does not listen at all. */
	bool imap_enabled;
	bool pop3_enabled;
	bool submission_enabled;

	/* [auth] */
	enum allow_plaintext allow_plaintext;
	enum auth_basic basic;

	/* [oauth]: OAuth 2.0 bearer tokens (OAUTHBEARER, XOAUTH2); on when
	 * issuer is set.  See src/auth/oauth.h for what each one checks. */
	struct {
		char issuer[512];
		char audience[512];
		char user_claim[64];           /* email | preferred_username | sub */
		char scope[256];
		char jwks_file[PATH_MAX];
		char jwks_url[1024];
		char ca_file[PATH_MAX];
		unsigned jwks_refresh;         /* seconds */
		unsigned clock_skew;           /* seconds */
		char introspection_url[1024];
		char introspection_client_id[256];
		char introspection_client_secret[256];
	} oauth;

	/* [bruteforce]: defence against password guessing and spraying
	 * (src/auth/penalty.h says what each threshold does; 0 turns a rule
	 * off).  Times in seconds. */
	struct {
		unsigned delay_after;
		unsigned delay_max;
		unsigned block_after;
		unsigned block_subnet_after;
		unsigned spray_accounts;
		unsigned spray_subnet_accounts;
		unsigned account_slow_after;
		unsigned account_slow_total;
		unsigned window;
		unsigned block_time;
		unsigned good_time;
		unsigned max_tracked;
		char allow[1024];
	} bruteforce;

	/* [http]: who may read GET /metrics (src/http/http_metrics.c).  A
	 * peer in metrics_allow needs nothing; any other needs the bearer
	 * token, when one is set.  Plain http serves metrics only with
	 * metrics_http. */
	struct {
		char metrics_token[256];        /* "" = no token: only metrics_allow */
		char metrics_allow[1024];       /* CIDRs/addresses; default loopback */
		bool metrics_http;              /* default no */
	} http;

	/* [limits] */
	uint64_t max_message_size;      /* default 50M */
	unsigned max_recipients;        /* default SMTP_RCPT_MAX */
	unsigned max_connections;       /* total, default 10000 */
	/* Port 25's own share of max_connections, so that MTAs (or hosts that
	 * pose as one: port 25 never authenticates) cannot take every slot
	 * from IMAP, POP3 and submission users; default half of it, 0: none. */
	unsigned max_connections_smtp;
	/* A transfer (SMTP DATA/BDAT, IMAP APPEND literal) starts with
	 * data_deadline seconds of credit; each byte adds 1/min_data_rate s,
	 * up to data_deadline (lib/conn.h, conn_transfer_begin).  Defaults 300
	 * and 500 (Postfix's smtpd_timeout and smtpd_min_data_rate); 0: none. */
	unsigned data_deadline;
	unsigned min_data_rate;         /* bytes per second */
	/* Connection hygiene; 0 turns a limit off.  Pre-authentication limits
	 * apply to submission and POP3 only (port 25 never authenticates). */
	unsigned max_connections_per_ip;   /* per IPv4 address / IPv6 /64, every service; default 1000 */
	/* Logged-in sessions of one user from one client address (Dovecot's
	 * mail_max_userip_connections), per protocol; default 10, 0: none. */
	unsigned max_imap_connections_per_user_ip;
	unsigned max_pop3_connections_per_user_ip;
	unsigned max_unauthenticated;      /* not yet logged in, in total; default 5000 */
	unsigned max_commands_before_auth; /* default 20 */
	unsigned auth_timeout;             /* seconds from connect to login; default 60 */
	uint64_t max_bytes_before_auth;    /* received before login; default 64K */

	/* [store]: the orphan scan (store_maint.h, src/server/maint.c).  Runs
	 * at start-up, then every orphan_scan_interval seconds (0: only at
	 * start-up), taking files no index row names once they are
	 * orphan_min_age seconds old. */
	unsigned orphan_scan_interval;     /* default 86400 */
	unsigned orphan_min_age;           /* default 3600 */

	/* [delivery]: the outbound queue's delivery agent (src/queue/queue_runner.h).
	 * Times in seconds (the file also takes 5m, 4h, 5d). */
	struct {
		char resolver[300];            /* "IP" or "IP:PORT"; "" = the system's */
		char dnssec_trust_anchor[PATH_MAX]; /* file; "none": no DNSSEC; "" = Debian's root key */
		unsigned mx_port;              /* default 25 */
		unsigned mta_sts_port;         /* HTTPS port of mta-sts.<domain>; default 443 (tests change it) */
		char relay[300];               /* "host:port" smarthost; "" = deliver by MX */
		char relay_user[256];
		char relay_password[256];
		enum delivery_tls { DELIVERY_TLS_OPPORTUNISTIC, DELIVERY_TLS_DANE, DELIVERY_TLS_REQUIRED } tls;
		char ca_file[PATH_MAX];        /* for tls = required; "" = the system's store */
		char helo_name[256];           /* "" = [server] hostname */
		unsigned connections_per_domain;   /* default 10 */
		unsigned connections_total;        /* default 100 */
		unsigned max_age;              /* default 5 days */
		unsigned delay_warning;        /* default 4 hours; 0: never */
		unsigned retry_delay;          /* first retry after; default 300 */
		unsigned retry_max;            /* the delay doubles up to this; default 4 hours */
		/* SRS (src/srs/srs.h): port-25 mail forwarded to an alias target
		 * elsewhere leaves with an SRS0 sender at srs_domain */
		bool srs;                      /* default yes */
		char srs_domain[256];          /* "" = [server] hostname's domain (config_srs_domain) */
	} delivery;

	/* [inbound]: SPF, DKIM and DMARC checks of mail arriving on port 25
	 * (src/mailauth/mailauth.h); submission is never checked. */
	struct {
		bool checks;                   /* run them and add Authentication-Results; default yes */
		bool dmarc_enforce;            /* DMARC fail + p=reject -> 550; default yes */
	} inbound;
};

/* Service names as used in [listen]: "imap", "imaps", ... */
const char *config_service_name(enum service s);
/* true if the service's switch ([imap]/[pop3]/[submission] enabled) is on;
 * the inbound smtp service has no switch. */
bool config_service_enabled(const struct tern_config *cfg, enum service s);

/* The host name clients are told to connect to: [server]
 * external_hostname, or hostname when that is empty. */
const char *config_client_hostname(const struct tern_config *cfg);
/* true when service s has a [listen] address and its switch is on:
 * it really listens (tern serve) and clients may be told about it. */
bool config_service_listening(const struct tern_config *cfg, enum service s);

/* Loads and checks path.  Returns 0, or -1 with a malloc'd
 * "file:line: message" in *error_out (caller frees). */
int config_load(const char *path, struct tern_config *cfg_out, char **error_out);
/* Same, from text (for tests and fuzzers). */
int config_parse_text(const char *path, const char *text, size_t len, struct tern_config *cfg_out, char **error_out);
/* The domain of SRS addresses: [delivery] srs_domain, or when that is
 * empty the [server] hostname without its first label (mail.example.com
 * -> example.com; a name with one dot or none is used whole).  Points
 * into cfg. */
const char *config_srs_domain(const struct tern_config *cfg);
/* The server's TLS contexts from [tls] (default certificate, cipher lists,
 * SNI certificates), as tls_server_new() (lib/tls.h) returns them. */
struct tls_server;
struct tls_server *config_tls_server_new(const struct tern_config *cfg, char **error_out);
/* Prints the effective configuration in the config file syntax. */
void config_print(const struct tern_config *cfg, FILE *out);

#endif
