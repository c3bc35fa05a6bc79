/* tern dkim generate|list|sign|verify */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/str.h"
#include "mailauth/dkim.h"

static const char dkim_usage[] =
	"usage: tern dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]\n"
	"       tern dkim list\n"
	"       tern dkim sign --domain D [--selector S] FILE\n"
	"       tern dkim verify FILE [--txt NAME=VALUE]... [--txt-file FILE]\n"
	"\n"
	"DKIM (RFC 6376) signing keys, kept in DATA_DIR/dkim/DOMAIN/SELECTOR.pem.\n"
	"\n"
	"generate  makes a key (RSA 2048 by default, or Ed25519, RFC 8463) and\n"
	"          prints the DNS TXT record to publish.  The default selector is\n"
	"          tern + YYYYMM (tern202612).\n"
	"list      prints domain, selector, algorithm, creation date, whether it\n"
	"          is the active key, and the DNS record, tab-separated.\n"
	"          The newest key of a domain signs; touch a key file to make it\n"
	"          the newest again.\n"
	"\n"
	"For testing and troubleshooting only:\n"
	"sign      writes FILE (a message with CRLF line ends) to standard output\n"
	"          with a DKIM-Signature added on top.\n"
	"verify    checks FILE's signatures and prints one Authentication-Results\n"
	"          method per signature.  Key records come from --txt\n"
	"          NAME=VALUE (VALUE as in a zone file, quoted strings joined) or\n"
	"          from a file of such lines, never from DNS.  Exit status 0 if\n"
	"          one signature passes.\n";

static int
load_keys(struct cli_ctx *ctx, struct tern_config *cfg, struct dkim_keys **keys)
{
	char *error = NULL;

	if (cli_load_config(ctx, cfg) != 0)
		return -1;
	if (dkim_keys_load(cfg->data_dir, keys, &error) != 0) {
		cli_error("%s", error);
		free(error);
		return -1;
	}
	return 0;
}

static int
dkim_generate(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	const char *selector = NULL, *alg = "rsa", *pos[1];
	const struct cli_opt opts[] = {
		{ "--selector", &selector, NULL },
		{ "--algorithm", &alg, NULL },
		{ NULL, NULL, NULL },
	};
	struct dkim_keys *keys = NULL;
	const struct dkim_key *key;
	enum dkim_key_type type;
	char domain[DOMAIN_MAX + 1], sel[DKIM_SELECTOR_MAX + 1], *error = NULL, *line;
	int r;

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, dkim_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (strcmp(alg, "rsa") == 0)
		type = DKIM_KEY_RSA;
	else if (strcmp(alg, "ed25519") == 0)
		type = DKIM_KEY_ED25519;
	else
		return cli_usage_error(dkim_usage, "--algorithm is rsa or ed25519");
	str_lcpy(domain, pos[0], sizeof(domain));
	str_lower(domain);
	if (selector == NULL) {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(sel, sizeof(sel), "tern%Y%m", &tm);
	} else {
		str_lcpy(sel, selector, sizeof(sel));
	}
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	if (dkim_key_generate(cfg.data_dir, domain, sel, type, &error) != 0) {
		cli_error("%s", error);
		free(error);
		return CLI_EXIT_ERROR;
	}
	if (load_keys(ctx, &cfg, &keys) != 0)
		return CLI_EXIT_ERROR;
	key = dkim_keys_find(keys, domain, sel);
	line = key != NULL ? dkim_key_dns_line(key) : NULL;
	if (line == NULL) {
		cli_error("the new key cannot be read back");
		dkim_keys_free(&keys);
		return CLI_EXIT_ERROR;
	}
	printf("%s\n", line);
	free(line);
	dkim_keys_free(&keys);
	return CLI_EXIT_OK;
}

static int
dkim_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	struct dkim_keys *keys = NULL;
	size_t i;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, dkim_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (load_keys(ctx, &cfg, &keys) != 0)
		return CLI_EXIT_ERROR;
	for (i = 0; i < keys->n; i++) {
		const struct dkim_key *k = &keys->key[i];
		char date[32];
		struct tm tm;
		char *line = dkim_key_dns_line(k);

		gmtime_r(&k->created, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d", &tm);
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", k->domain, k->selector, k->type == DKIM_KEY_RSA ? "rsa" : "ed25519", date,
		       dkim_keys_find(keys, k->domain, NULL) == k ? "active" : "-", line != NULL ? line : "?");
		free(line);
	}
	if (keys->n == 0)
		printf("no DKIM keys (tern dkim generate DOMAIN)\n");
	dkim_keys_free(&keys);
	return CLI_EXIT_OK;
}

static int
open_message(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		cli_error("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static int
copy_out(int fd)
{
	char b[65536];
	ssize_t n;

	while ((n = read(fd, b, sizeof(b))) > 0) {
		if (fwrite(b, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	}
	return n < 0 || fflush(stdout) != 0 ? -1 : 0;
}

static int
dkim_sign_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	const char *domain = NULL, *selector = NULL, *pos[1], *error;
	const struct cli_opt opts[] = {
		{ "--domain", &domain, NULL },
		{ "--selector", &selector, NULL },
		{ NULL, NULL, NULL },
	};
	struct dkim_keys *keys = NULL;
	const struct dkim_key *key;
	char *header = NULL;
	uint64_t size;
	int r, fd, ret = CLI_EXIT_ERROR;

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, dkim_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (domain == NULL)
		return cli_usage_error(dkim_usage, "dkim sign needs --domain");
	if (load_keys(ctx, &cfg, &keys) != 0)
		return CLI_EXIT_ERROR;
	if ((key = dkim_keys_find(keys, domain, selector)) == NULL) {
		cli_error("no DKIM key for %s%s%s", domain, selector != NULL ? " selector " : "",
		          selector != NULL ? selector : "");
		goto out;
	}
	if ((fd = open_message(pos[0], &size)) < 0)
		goto out;
	if (dkim_sign(key, fd, size, time(NULL), &header, &error) != 0) {
		cli_error("%s: %s", pos[0], error);
	} else {
		fputs(header, stdout);
		if (copy_out(fd) == 0)
			ret = CLI_EXIT_OK;
		else
			cli_error("%s: cannot copy the message", pos[0]);
	}
	free(header);
	close(fd);
out:
	dkim_keys_free(&keys);
	return ret;
}

/* Key records given on the command line, instead of DNS. */
#define TXT_GIVEN_MAX 64
struct given {
	size_t n;
	char *name[TXT_GIVEN_MAX];
	char *value[TXT_GIVEN_MAX];
};

/* Joins zone-file strings ("a" "b" -> ab); a value without quotes is kept. */
static char *
unquote(const char *v)
{
	char *out = malloc(strlen(v) + 1), *o = out;

	if (out == NULL)
		return NULL;
	if (*v != '"') {
		strcpy(out, v);
		return out;
	}
	while (*v != '\0') {
		if (*v == '"') {
			for (v++; *v != '\0' && *v != '"'; v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				*o++ = *v;
			}
			if (*v == '"')
				v++;
		} else {
			v++;   /* the space between strings */
		}
	}
	*o = '\0';
	return out;
}

static int
given_add(struct given *g, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t n;

	if (eq == NULL || eq == arg || g->n == TXT_GIVEN_MAX)
		return -1;
	n = (size_t)(eq - arg);
	if (arg[n - 1] == '.')
		n--;   /* "sel._domainkey.example.org." as in a zone file */
	g->name[g->n] = strndup(arg, n);
	g->value[g->n] = unquote(eq + 1);
	if (g->name[g->n] == NULL || g->value[g->n] == NULL) {
		free(g->name[g->n]);
		free(g->value[g->n]);
		return -1;
	}
	g->n++;
	return 0;
}

static int
given_file(struct given *g, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[DKIM_KEY_RECORD_MAX + 512];
	int r = 0;

	if (f == NULL) {
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		str_trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if ((r = given_add(g, line)) != 0)
			cli_error("%s: not NAME=VALUE: %s", path, line);
	}
	fclose(f);
	return r;
}

static enum dkim_lookup
given_lookup(void *arg, const char *name, struct dkim_txt *out)
{
	struct given *g = arg;
	size_t i;

	for (i = 0; i < g->n && out->n < DKIM_TXT_RECORDS_MAX; i++) {
		if (strcasecmp(g->name[i], name) == 0 && strlen(g->value[i]) <= DKIM_KEY_RECORD_MAX)
			str_lcpy(out->rec[out->n++], g->value[i], sizeof(out->rec[0]));
	}
	return out->n > 0 ? DKIM_LOOKUP_OK : DKIM_LOOKUP_NONE;
}

static int
verify_file(const char *path, struct given *g)
{
	struct dkim_verdict v[DKIM_SIGS_MAX];
	const char *error;
	uint64_t size;
	size_t n, i;
	bool pass = false;
	int fd;

	if ((fd = open_message(path, &size)) < 0)
		return CLI_EXIT_ERROR;
	if (dkim_verify(fd, size, time(NULL), given_lookup, g, v, DKIM_SIGS_MAX, &n, &error) != 0) {
		cli_error("%s: %s", path, error);
		close(fd);
		return CLI_EXIT_ERROR;
	}
	close(fd);
	if (n == 0)
		printf("dkim=none\n");
	for (i = 0; i < n; i++) {
		char line[1024];

		dkim_verdict_format(&v[i], line, sizeof(line));
		printf("%s\n", line);
		pass |= v[i].result == DKIM_PASS;
	}
	return pass ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int
dkim_verify_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	struct given g = { 0 };
	const char *file = NULL;
	size_t i;
	int a, r = CLI_EXIT_USAGE;

	/* By hand: --txt may be given many times. */
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
			fputs(dkim_usage, stdout);
			r = CLI_EXIT_OK;
			goto out;
		} else if (strcmp(argv[a], "--txt") == 0 && a + 1 < argc) {
			if (given_add(&g, argv[++a]) != 0) {
				r = cli_usage_error(dkim_usage, "--txt wants NAME=VALUE");
				goto out;
			}
		} else if (strcmp(argv[a], "--txt-file") == 0 && a + 1 < argc) {
			if (given_file(&g, argv[++a]) != 0) {
				r = CLI_EXIT_ERROR;
				goto out;
			}
		} else if (argv[a][0] != '-' && file == NULL) {
			file = argv[a];
		} else {
			r = cli_usage_error(dkim_usage, "unexpected argument \"%s\"", argv[a]);
			goto out;
		}
	}
	if (file == NULL) {
		r = cli_usage_error(dkim_usage, "missing argument");
		goto out;
	}
	r = verify_file(file, &g);
out:
	for (i = 0; i < g.n; i++) {
		free(g.name[i]);
		free(g.value[i]);
	}
	return r;
}

int
cli_dkim(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "generate", dkim_generate },
		{ "list", dkim_list },
		{ "sign", dkim_sign_cmd },
		{ "verify", dkim_verify_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, dkim_usage);
}
