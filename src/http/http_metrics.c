/* GET /metrics: who may read it, and the document (lib/metrics.h holds
 * the figures).  See http_docs.h. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/penalty.h"
#include "http/http_docs.h"
#include "lib/metrics.h"
#include "lib/str.h"

/* Whether peer (an address as text) lies in one of the networks of list
 * ("127.0.0.1/8, ::1"; checked when the configuration was read). */
static bool
peer_in(const char *list, const char *peer)
{
	char copy[1024], *tok, *save = NULL;
	unsigned char addr[16], net[16];
	unsigned prefix, peer_prefix;

	if (penalty_parse_cidr(peer, addr, &peer_prefix) != 0)
		return false;
	str_lcpy(copy, list, sizeof(copy));
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned full, rest;

		if (penalty_parse_cidr(tok, net, &prefix) != 0 || prefix > 128)
			continue;
		full = prefix / 8;
		rest = prefix % 8;
		if (memcmp(addr, net, full) != 0)
			continue;
		if (rest == 0 || ((addr[full] ^ net[full]) & (0xff << (8 - rest))) == 0)
			return true;
	}
	return false;
}

/* "Bearer TOKEN" (RFC 6750 2.1; the scheme is case-insensitive) equal to
 * token, compared in constant time. */
static bool
bearer_ok(const char *authorization, const char *token)
{
	size_t len = strlen(token);
	const char *given;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	given = authorization + 7;
	while (*given == ' ')
		given++;
	return strlen(given) == len && CRYPTO_memcmp(given, token, len) == 0;
}

int
http_metrics_access(const struct tern_config *cfg, const char *peer, const char *authorization)
{
	if (peer_in(cfg->http.metrics_allow, peer))
		return 200;
	if (cfg->http.metrics_token[0] == '\0')
		return 403;
	return bearer_ok(authorization, cfg->http.metrics_token) ? 200 : 401;
}

void
http_metrics(struct buf *out)
{
	const char *names[SERVICE_COUNT];

	for (int s = 0; s < SERVICE_COUNT; s++)
		names[s] = config_service_name((enum service)s);
	metrics_render(out, names, SERVICE_COUNT, (int64_t)time(NULL));
}
