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
	if (penalty_addr_in_list(cfg->http.metrics_allow, peer))
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
