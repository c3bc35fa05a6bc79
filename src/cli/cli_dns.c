/* tern dns records DOMAIN */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "mailauth/dkim.h"

static const char dns_usage[] =
	"usage: tern dns records DOMAIN\n"
	"\n"
	"Prints every DNS record DOMAIN needs to receive and send mail through this\n"
	"server, one per line in zone-file syntax, ready to paste: MX (to [server]\n"
	"hostname), SPF, the DKIM key records (tern dkim generate), DMARC, and the\n"
	"SRV records mail clients use to find the server (RFC 6186, RFC 8314), the\n"
	"autoconfig and autodiscover host names and the _autodiscover._tcp SRV record\n"
	"(when [listen] http or https is on); and, as comments, an MTA-STS record and\n"
	"policy (RFC 8461).\n";

/* RFC 6186 3: a service not offered gets target "." */
static void
print_srv(const struct tern_config *cfg, const char *domain, const char *label, enum service s)
{
	const struct listen_config *l = &cfg->listen[s];

	if (l->enabled && config_service_enabled(cfg, s))
		printf("%s._tcp.%s. IN SRV 0 1 %s %s.\n", label, domain, l->port, cfg->hostname);
	else
		printf("%s._tcp.%s. IN SRV 0 0 0 .\n", label, domain);
}

static int
dns_records(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	struct dkim_keys *keys = NULL;
	char domain[DOMAIN_MAX + 1], *error = NULL;
	const char *pos[1];
	size_t i, nkeys = 0;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 1, NULL, dns_usage);
	if (r != CLI_CONTINUE)
		return r;
	str_lcpy(domain, pos[0], sizeof(domain));
	str_lower(domain);
	if (!dkim_name_valid(domain, DOMAIN_MAX)) {
		cli_error("not a domain name: %s", pos[0]);
		return CLI_EXIT_ERROR;
	}
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	if (dkim_keys_load(cfg.data_dir, &keys, &error) != 0) {
		cli_error("%s", error);
		free(error);
		return CLI_EXIT_ERROR;
	}
	printf("%s. IN MX 10 %s.\n", domain, cfg.hostname);
	printf("%s. IN TXT \"v=spf1 mx -all\"\n", domain);
	for (i = 0; i < keys->n; i++) {
		char *line;

		if (strcmp(keys->key[i].domain, domain) != 0 || (line = dkim_key_dns_line(&keys->key[i])) == NULL)
			continue;
		printf("%s\n", line);
		free(line);
		nkeys++;
	}
	if (nkeys == 0)
		printf("; no DKIM key: run tern dkim generate %s\n", domain);
	printf("_dmarc.%s. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@%s\"\n", domain, domain);
	print_srv(&cfg, domain, "_submissions", SERVICE_SUBMISSIONS);
	print_srv(&cfg, domain, "_imaps", SERVICE_IMAPS);
	print_srv(&cfg, domain, "_pop3s", SERVICE_POP3S);
	print_srv(&cfg, domain, "_submission", SERVICE_SUBMISSION);
	print_srv(&cfg, domain, "_imap", SERVICE_IMAP);
	print_srv(&cfg, domain, "_pop3", SERVICE_POP3);
	/* What Thunderbird (autoconfig.DOMAIN) and Outlook (autodiscover.DOMAIN,
	 * then the SRV record) look up; the https certificate must name them */
	if (config_service_listening(&cfg, SERVICE_HTTP) || config_service_listening(&cfg, SERVICE_HTTPS)) {
		printf("autoconfig.%s. IN CNAME %s.\n", domain, config_client_hostname(&cfg));
		printf("autodiscover.%s. IN CNAME %s.\n", domain, config_client_hostname(&cfg));
	}
	if (config_service_listening(&cfg, SERVICE_HTTPS))
		printf("_autodiscover._tcp.%s. IN SRV 0 1 %s %s.\n", domain, cfg.listen[SERVICE_HTTPS].port,
		       config_client_hostname(&cfg));
	/* MTA-STS (RFC 8461): optional, and it needs an HTTPS server this
	 * one is not, so a comment the owner can follow */
	printf("; MTA-STS (RFC 8461), optional: publish the policy below at\n"
	       ";   https://mta-sts.%s/.well-known/mta-sts.txt (Content-Type: text/plain,\n"
	       ";   a certificate valid for mta-sts.%s), start with mode: testing, then\n"
	       ";   enforce; change the id whenever the policy changes.\n"
	       "; _mta-sts.%s. IN TXT \"v=STSv1; id=1\"\n"
	       ";   version: STSv1\n;   mode: testing\n;   mx: %s\n;   max_age: 604800\n",
	       domain, domain, domain, cfg.hostname);
	dkim_keys_free(&keys);
	return CLI_EXIT_OK;
}

int
cli_dns(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "records", dns_records },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, dns_usage);
}
