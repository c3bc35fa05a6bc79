/* Mozilla autoconfig (clientConfig v1.1) and the helpers every document
 * uses: see http_docs.h. */
#include <stdio.h>
#include <string.h>

#include "http/http_docs.h"
#include "lib/limits.h"
#include "lib/str.h"

void
http_xml_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&apos;"); break;
		default: buf_append(out, s, 1); break;
		}
	}
}

void
http_json_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(out, "\\u%04x", c);
		else
			buf_append(out, s, 1);
	}
}

bool
http_address_ok(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t len = strlen(addr);

	if (at == NULL || at == addr || at[1] == '\0' || strchr(at + 1, '@') != NULL || len > ADDRESS_MAX)
		return false;
	for (const char *p = addr; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	}
	return true;
}

bool
http_service_offered(const struct tern_config *cfg, enum service s)
{
	return config_service_listening(cfg, s) && (cfg->listen[s].implicit_tls || cfg->tls_cert[0] != '\0');
}

bool
http_https_base(const struct tern_config *cfg, char *out, size_t size)
{
	const struct listen_config *l = &cfg->listen[SERVICE_HTTPS];
	int n;

	if (!config_service_listening(cfg, SERVICE_HTTPS))
		return false;
	if (strcmp(l->port, "443") == 0)
		n = snprintf(out, size, "https://%s", config_client_hostname(cfg));
	else
		n = snprintf(out, size, "https://%s:%s", config_client_hostname(cfg), l->port);
	return n > 0 && (size_t)n < size;
}

static void
element(struct buf *out, const char *indent, const char *name, const char *value)
{
	buf_printf(out, "%s<%s>", indent, name);
	http_xml_escape(out, value);
	buf_printf(out, "</%s>\n", name);
}

/* One incomingServer or outgoingServer, if service s is offered. */
static void
server(const struct tern_config *cfg, struct buf *out, const char *tag, const char *type, enum service s)
{
	const char *in = "      ";

	if (!http_service_offered(cfg, s))
		return;
	buf_printf(out, "    <%s type=\"%s\">\n", tag, type);
	element(out, in, "hostname", config_client_hostname(cfg));
	element(out, in, "port", cfg->listen[s].port);
	element(out, in, "socketType", cfg->listen[s].implicit_tls ? "SSL" : "STARTTLS");
	element(out, in, "username", "%EMAILADDRESS%");
	if (cfg->basic != BASIC_OFF)
		element(out, in, "authentication", "password-cleartext");
	if (cfg->oauth.issuer[0] != '\0')
		element(out, in, "authentication", "OAuth2");
	buf_printf(out, "    </%s>\n", tag);
}

void
http_autoconfig(const struct tern_config *cfg, const char *address, struct buf *out)
{
	char domain[DOMAIN_MAX + 1];
	const char *at = address != NULL && http_address_ok(address) ? strrchr(address, '@') : NULL;

	str_lcpy(domain, at != NULL ? at + 1 : config_srs_domain(cfg), sizeof(domain));
	str_lower(domain);
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n");
	buf_puts(out, "  <emailProvider id=\"");
	http_xml_escape(out, domain);
	buf_puts(out, "\">\n");
	element(out, "    ", "domain", domain);
	element(out, "    ", "displayName", domain);
	element(out, "    ", "displayShortName", domain);
	/* implicit TLS first: RFC 8314 4 prefers it */
	server(cfg, out, "incomingServer", "imap", SERVICE_IMAPS);
	server(cfg, out, "incomingServer", "imap", SERVICE_IMAP);
	server(cfg, out, "incomingServer", "pop3", SERVICE_POP3S);
	server(cfg, out, "incomingServer", "pop3", SERVICE_POP3);
	server(cfg, out, "outgoingServer", "smtp", SERVICE_SUBMISSIONS);
	server(cfg, out, "outgoingServer", "smtp", SERVICE_SUBMISSION);
	buf_puts(out, "  </emailProvider>\n</clientConfig>\n");
}
