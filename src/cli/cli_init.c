/* tern init: a configuration and a data directory for one domain and its
 * administrator, from flags or by asking on a terminal; then the DNS
 * records to publish and what to do next.  Modelled on mox quickstart. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "auth/password.h"
#include "directory/directory.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "mailauth/dkim.h"

static const char init_usage[] =
	"usage: tern init [--config FILE] --domain DOMAIN [--hostname HOST] [--admin ADDRESS]\n"
	"                 [--password-stdin] [--data-dir DIR] [--user USER]\n"
	"                 [--tls-cert FILE --tls-key FILE | --self-signed]\n"
	"                 [--listen-address ADDR] [--listen-base-port N]\n"
	"\n"
	"Writes a configuration (FILE, default " CLI_DEFAULT_CONFIG ") and a data\n"
	"directory for DOMAIN with ADDRESS as its administrator, then prints the\n"
	"DNS records to publish and the next steps.  Refuses to overwrite an\n"
	"existing configuration.  On a terminal it asks for what the flags leave\n"
	"out; otherwise --domain is required.\n"
	"\n"
	"  --domain DOMAIN       the mail domain (example.org)\n"
	"  --hostname HOST       this server's name (default: mail.DOMAIN)\n"
	"  --admin ADDRESS       the administrator's mailbox (default: admin@DOMAIN),\n"
	"                        an ordinary user; postmaster@DOMAIN becomes its alias\n"
	"  --password-stdin      read the admin's password from standard input;\n"
	"                        otherwise one is asked for on a terminal, or\n"
	"                        generated and printed once\n"
	"  --data-dir DIR        the data directory (default: /var/lib/tern)\n"
	"  --user USER           [server] user the server becomes after binding\n"
	"                        (default: tern, when run as root and it exists)\n"
	"  --tls-cert FILE, --tls-key FILE\n"
	"                        the certificate chain and key (PEM)\n"
	"  --self-signed         make a self-signed certificate for HOST next to\n"
	"                        the configuration (the default without --tls-cert)\n"
	"  --listen-address ADDR the address to listen on (default: 0.0.0.0)\n"
	"  --listen-base-port N  listen on N+25, N+587, N+465, N+110, N+995, N+143,\n"
	"                        N+993 instead of the usual ports (tests, no root)\n";

struct init_opts {
	const char *domain, *hostname, *admin, *data_dir, *user, *cert, *key, *address, *base_port;
	bool password_stdin, self_signed;
};

/* Asks on the terminal; returns a static buffer or NULL at EOF. */
static const char *
ask(const char *question, const char *def, char *buf, size_t size)
{
	size_t n;

	if (def != NULL)
		fprintf(stderr, "%s [%s]: ", question, def);
	else
		fprintf(stderr, "%s: ", question);
	fflush(stderr);
	if (fgets(buf, (int)size, stdin) == NULL)
		return NULL;
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n == 0 && def != NULL)
		return def;
	return n == 0 ? NULL : buf;
}

/* A random 127-bit serial (RFC 5280 4.1.2.2: positive, at most 20 octets). */
static int
set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

	BN_free(bn);
	return ok ? 0 : -1;
}

/* A self-signed P-256 certificate for host, valid for two years. */
static int
make_self_signed(const char *host, const char *cert_path, const char *key_path)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	FILE *f = NULL;
	char san[DOMAIN_MAX + 8];
	int fd, ret = -1;

	pkey = EVP_EC_gen("P-256");
	x = X509_new();
	if (pkey == NULL || x == NULL)
		goto fail;
	X509_set_version(x, 2);
	if (set_serial(x) != 0)
		goto fail;
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 2L * 365 * 86400);
	X509_set_pubkey(x, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)host, -1,
	                           -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	snprintf(san, sizeof(san), "DNS:%s", host);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x, ext, -1) || !X509_sign(x, pkey, EVP_sha256()))
		goto fail;
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		cli_error("%s: %s", key_path, strerror(errno));
		if (fd != -1)
			close(fd);
		goto fail;
	}
	if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		f = NULL;
		cli_error("%s: cannot write the key", key_path);
		goto fail;
	}
	f = NULL;
	fd = open(cert_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		cli_error("%s: %s", cert_path, strerror(errno));
		if (fd != -1)
			close(fd);
		goto fail;
	}
	if (!PEM_write_X509(f, x) || fclose(f) != 0) {
		f = NULL;
		cli_error("%s: cannot write the certificate", cert_path);
		goto fail;
	}
	f = NULL;
	ret = 0;
fail:
	if (ret != 0 && f == NULL && pkey == NULL)
		cli_error("cannot make a self-signed certificate");
	if (f != NULL)
		fclose(f);
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

/* The configuration tern init writes: short, every other key at its
 * default (tern.conf(5), the commented sample tern.conf.sample). */
static int
write_config(const char *path, const struct init_opts *o, const char *cert, const char *key)
{
	static const struct { const char *key; unsigned port; } ports[] = {
		{ "smtp", 25 }, { "submission", 587 }, { "submissions", 465 }, { "pop3", 110 },
		{ "pop3s", 995 }, { "imap", 143 }, { "imaps", 993 },
	};
	unsigned base = o->base_port != NULL ? (unsigned)atoi(o->base_port) : 0;
	bool v6 = strchr(o->address, ':') != NULL;
	FILE *f;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1) {
		cli_error("%s: %s", path, errno == EEXIST ? "exists already; not overwriting it (tern config check "
		                                             "checks it; remove it to start again)"
		                                           : strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	fprintf(f, "# Tern configuration written by tern init for %s.\n"
	           "# Every key: tern.conf(5), docs/CONFIG.md, or the commented sample\n"
	           "# tern.conf.sample installed next to this file.\n\n", o->domain);
	fprintf(f, "[server]\nhostname = %s\ndata_dir = %s\n", o->hostname, o->data_dir);
	if (o->user != NULL && o->user[0] != '\0')
		fprintf(f, "user = %s\n", o->user);
	fprintf(f, "log_level = info\n\n[tls]\ncert = %s\nkey = %s\n\n[listen]\n", cert, key);
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		fprintf(f, v6 ? "%s = [%s]:%u\n" : "%s = %s:%u\n", ports[i].key, o->address, base + ports[i].port);
	fprintf(f, "\n[auth]\nallow_plaintext = never\n");
	if (fclose(f) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* mkdir -p, mode 0700 for what it makes. */
static int
make_dirs(const char *dir)
{
	char path[PATH_MAX];

	if (str_lcpy(path, dir, sizeof(path)) >= sizeof(path))
		return -1;
	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			cli_error("cannot create %s: %s", path, strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/* Fills in what the flags left out: asks on a terminal, else defaults. */
static int
complete_opts(struct init_opts *o, char bufs[][DOMAIN_MAX + LOCALPART_MAX + 2], bool tty)
{
	static char host_def[DOMAIN_MAX + 8], admin_def[ADDRESS_MAX + 1];

	if (o->domain == NULL) {
		if (!tty || (o->domain = ask("Mail domain (example.org)", NULL, bufs[0], sizeof(bufs[0]))) == NULL)
			return cli_usage_error(init_usage, "--domain is required");
	}
	snprintf(host_def, sizeof(host_def), "mail.%s", o->domain);
	snprintf(admin_def, sizeof(admin_def), "admin@%s", o->domain);
	if (o->hostname == NULL)
		o->hostname = tty ? ask("Host name of this server", host_def, bufs[1], sizeof(bufs[1])) : host_def;
	if (o->admin == NULL)
		o->admin = tty ? ask("Administrator's address", admin_def, bufs[2], sizeof(bufs[2])) : admin_def;
	if (o->data_dir == NULL)
		o->data_dir = tty ? ask("Data directory", "/var/lib/tern", bufs[3], sizeof(bufs[3])) : "/var/lib/tern";
	if (o->hostname == NULL || o->admin == NULL || o->data_dir == NULL)
		return cli_usage_error(init_usage, "no answer");
	if (o->address == NULL)
		o->address = "0.0.0.0";
	if (o->user == NULL && geteuid() == 0 && getpwnam("tern") != NULL)
		o->user = "tern";
	return CLI_CONTINUE;
}

static int
check_opts(const struct init_opts *o)
{
	const char *at = strrchr(o->admin, '@');
	char domain[DOMAIN_MAX + 1];

	str_lcpy(domain, o->domain, sizeof(domain));
	str_lower(domain);
	if (!dkim_name_valid(domain, DOMAIN_MAX) || strcmp(domain, o->domain) != 0)
		return cli_usage_error(init_usage, "not a domain name in lower case: %s", o->domain);
	if (!dkim_name_valid(o->hostname, DOMAIN_MAX))
		return cli_usage_error(init_usage, "not a host name: %s", o->hostname);
	if (at == NULL || at == o->admin || strcmp(at + 1, o->domain) != 0)
		return cli_usage_error(init_usage, "--admin must be an address at %s", o->domain);
	if ((o->cert == NULL) != (o->key == NULL))
		return cli_usage_error(init_usage, "--tls-cert and --tls-key go together");
	if (o->cert != NULL && o->self_signed)
		return cli_usage_error(init_usage, "--self-signed or --tls-cert, not both");
	if (o->data_dir[0] != '/' || (o->cert != NULL && (o->cert[0] != '/' || o->key[0] != '/')))
		return cli_usage_error(init_usage, "give absolute paths (the server may start elsewhere)");
	if (o->base_port != NULL) {
		int b = atoi(o->base_port);

		if (b < 1 || b > 65535 - 993)
			return cli_usage_error(init_usage, "--listen-base-port: 1 to %d", 65535 - 993);
	}
	if (o->user != NULL && o->user[0] != '\0' && getpwnam(o->user) == NULL)
		return cli_usage_error(init_usage, "--user %s: no such user (useradd --system %s)", o->user, o->user);
	return CLI_CONTINUE;
}

/* Creates data_dir, the domain, its admin and a DKIM key (tern dkim
 * generate); data owned by [server] user when run as root. */
static int
make_data(struct cli_ctx *ctx, const struct init_opts *o, const char *password)
{
	struct directory *dir = NULL;
	char hash[PASSWORD_HASH_MAX];
	const char *error;
	char *dkim_argv[] = { (char *)"dkim", (char *)"generate", (char *)o->domain, NULL };
	struct passwd *pw;
	char postmaster[DOMAIN_MAX + 16];
	int saved, nul, r;

	if (make_dirs(o->data_dir) != 0)
		return -1;
	if (password_hash(password, hash, sizeof(hash)) != 0) {
		cli_error("cannot hash the password");
		return -1;
	}
	if (cli_open_directory(ctx, &dir) != 0)
		return -1;
	/* The administrator reads mail (postmaster's, RFC 5321 4.5.1): an
	 * ordinary mailbox, as Tern's admin role may not use IMAP or POP3. */
	snprintf(postmaster, sizeof(postmaster), "postmaster@%s", o->domain);
	if (directory_domain_add(dir, o->domain, &error) != 0 ||
	    directory_user_add(dir, o->admin, hash, ROLE_USER, &error) != 0 ||
	    (strcmp(postmaster, o->admin) != 0 &&
	     directory_alias_add(dir, postmaster, o->admin, &error) != 0)) {
		cli_error("%s", error);
		directory_close(&dir);
		return -1;
	}
	directory_close(&dir);
	str_wipe(hash, sizeof(hash));
	/* The key's record is printed by tern dns records below: quiet here. */
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved == -1 || nul == -1 || dup2(nul, STDOUT_FILENO) == -1) {
		cli_error("cannot redirect output: %s", strerror(errno));
		return -1;
	}
	close(nul);
	r = cli_dkim(ctx, 3, dkim_argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	if (r != CLI_EXIT_OK)
		cli_error("no DKIM key made; run tern dkim generate %s later", o->domain);
	if (o->user != NULL && o->user[0] != '\0' && geteuid() == 0 && (pw = getpwnam(o->user)) != NULL) {
		char cmd[PATH_MAX + 128];

		/* Every file in it is the server's own (it refuses to run as root). */
		snprintf(cmd, sizeof(cmd), "chown -R -- '%s:' '%s'", o->user, o->data_dir);
		if (strchr(o->data_dir, '\'') != NULL || system(cmd) != 0)
			cli_error("chown -R %s %s failed: do it by hand", o->user, o->data_dir);
	}
	return 0;
}

static int
init_run(struct cli_ctx *ctx, int argc, char **argv)
{
	struct init_opts o = { 0 };
	char bufs[4][DOMAIN_MAX + LOCALPART_MAX + 2];
	char password[PASSWORD_LEN_MAX + 2], dirbuf[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	bool tty = isatty(STDIN_FILENO) == 1, generated = false;
	const struct cli_opt opts[] = {
		{ "--domain", &o.domain, NULL },
		{ "--hostname", &o.hostname, NULL },
		{ "--admin", &o.admin, NULL },
		{ "--password-stdin", NULL, &o.password_stdin },
		{ "--data-dir", &o.data_dir, NULL },
		{ "--user", &o.user, NULL },
		{ "--tls-cert", &o.cert, NULL },
		{ "--tls-key", &o.key, NULL },
		{ "--self-signed", NULL, &o.self_signed },
		{ "--listen-address", &o.address, NULL },
		{ "--listen-base-port", &o.base_port, NULL },
		{ NULL, NULL, NULL },
	};
	char *dns_argv[] = { (char *)"dns", (char *)"records", NULL, NULL };
	const char *conf_dir;
	struct stat st;
	int r;

	r = cli_parse(ctx, argc, argv, opts, NULL, 0, 0, NULL, init_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (o.password_stdin)
		tty = false;
	if ((r = complete_opts(&o, bufs, tty)) != CLI_CONTINUE || (r = check_opts(&o)) != CLI_CONTINUE)
		return r;
	if (stat(ctx->config_path, &st) == 0) {
		cli_error("%s exists already; not overwriting it (tern config check checks it; remove it to "
		          "start again)", ctx->config_path);
		return CLI_EXIT_ERROR;
	}
	if (o.password_stdin || isatty(STDIN_FILENO) == 1) {
		if (cli_read_password(password, sizeof(password)) != 0)
			return CLI_EXIT_ERROR;
	} else if (password_generate(password, 16) != 0) {
		cli_error("cannot generate a password");
		return CLI_EXIT_ERROR;
	} else {
		generated = true;
	}
	str_lcpy(dirbuf, ctx->config_path, sizeof(dirbuf));
	conf_dir = dirname(dirbuf);
	if (make_dirs(conf_dir) != 0)
		goto fail;
	if (o.cert == NULL) {
		/* The files sit next to the config: /etc/tern/tls-HOST.pem */
		char abs[PATH_MAX];

		if (realpath(conf_dir, abs) == NULL) {
			cli_error("%s: %s", conf_dir, strerror(errno));
			goto fail;
		}
		if (snprintf(cert, sizeof(cert), "%s/%s.crt.pem", abs, o.hostname) >= (int)sizeof(cert) ||
		    snprintf(key, sizeof(key), "%s/%s.key.pem", abs, o.hostname) >= (int)sizeof(key)) {
			cli_error("%s: path too long", abs);
			goto fail;
		}
		if (make_self_signed(o.hostname, cert, key) != 0)
			goto fail;
	} else {
		str_lcpy(cert, o.cert, sizeof(cert));
		str_lcpy(key, o.key, sizeof(key));
	}
	if (write_config(ctx->config_path, &o, cert, key) != 0 || make_data(ctx, &o, password) != 0)
		goto fail;

	printf("Wrote %s and %s for %s, administrator %s.\n", ctx->config_path, o.data_dir, o.domain, o.admin);
	if (generated)
		printf("The administrator's password (shown once): %s\n", password);
	if (o.cert == NULL)
		printf("TLS: a self-signed certificate for %s (%s); clients warn about it until you\n"
		       "  set [tls] cert and key to one from a CA (Let's Encrypt: certbot) and\n"
		       "  reload with systemctl reload tern (SIGHUP).\n", o.hostname, cert);
	printf("\nPublish these DNS records for %s (and an A/AAAA record for %s):\n\n", o.domain, o.hostname);
	fflush(stdout);
	dns_argv[2] = (char *)o.domain;
	cli_dns(ctx, 3, dns_argv);
	printf("\nNext steps:\n"
	       "  tern --config %s config check\n"
	       "      check the configuration\n"
	       "  systemctl enable --now tern\n"
	       "      start it now and at every boot (systemd; docs/OPERATIONS.md), or\n"
	       "  tern serve --config %s\n"
	       "      run it in the foreground\n",
	       ctx->config_path, ctx->config_path);
	if (o.base_port != NULL)
		printf("  Open the ports of [listen] in %s in your firewall.\n", ctx->config_path);
	else
		printf("  Open these ports in your firewall: 25 (mail from other servers), 465 and 587\n"
		       "  (sending, for mail clients), 993 and 143 (IMAP), 995 and 110 (POP3).\n");
	printf("  Mail clients log in as %s on %s.  More users: tern user add ADDRESS;\n"
	       "  more domains: tern domain add DOMAIN, then tern dns records DOMAIN.\n",
	       o.admin, o.hostname);
	str_wipe(password, sizeof(password));
	return CLI_EXIT_OK;
fail:
	str_wipe(password, sizeof(password));
	return CLI_EXIT_ERROR;
}

int
cli_init(struct cli_ctx *ctx, int argc, char **argv)
{
	return init_run(ctx, argc, argv);
}
