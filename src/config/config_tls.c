/* The TLS contexts that [tls] describes, built the same way by the server
 * and by `tern config check`. */
#include <string.h>

#include "config/config.h"
#include "lib/str.h"
#include "lib/tls.h"

struct tls_server *
config_tls_server_new(const struct tern_config *cfg, char **error_out)
{
	struct tls_settings set = {
		.cert = cfg->tls_cert,
		.key = cfg->tls_key,
		.min_version = cfg->tls_min_version,
		.ciphers = cfg->tls_ciphers[0] != '\0' ? cfg->tls_ciphers : NULL,
		.ciphersuites = cfg->tls_ciphersuites[0] != '\0' ? cfg->tls_ciphersuites : NULL,
	};
	char sni[sizeof(cfg->tls_sni)], *tok, *save = NULL;

	/* "cert:key, cert:key" (checked when the config was loaded) */
	str_lcpy(sni, cfg->tls_sni, sizeof(sni));
	for (tok = strtok_r(sni, ", \t", &save); tok != NULL && set.n_sni < TLS_SNI_MAX;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char *colon = strchr(tok, ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		set.sni_cert[set.n_sni] = tok;
		set.sni_key[set.n_sni] = colon + 1;
		set.n_sni++;
	}
	/* tls_server_new copies the settings' strings */
	return tls_server_new(&set, error_out);
}
