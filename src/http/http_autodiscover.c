/* Microsoft Autodiscover, the POX form: the request
 * (http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006)
 * names an address; the response (outlook/responseschema/2006a) gives
 * one Protocol block per service that listens.  See http_docs.h. */
#include <stdlib.h>
#include <string.h>

#include "http/http_docs.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define RESPONSE_NS "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define OUTLOOK_NS  "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

/* The text of the first <tag>...</tag> in a NUL-terminated body, with the
 * five predefined entities decoded, into out; -1 if absent or too long. */
static int
element_text(const char *body, const char *tag, char *out, size_t size)
{
	char open[64], close[64];
	const char *b, *e;
	size_t o = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	b = strcasestr(body, open);
	if (b == NULL)
		return -1;
	b += strlen(open);
	e = strcasestr(b, close);
	if (e == NULL)
		return -1;
	while (b < e && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	while (b < e) {
		static const struct { const char *ent; char c; } ents[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
		};
		char c = *b;
		size_t n = 1;

		if (c == '&') {
			size_t i;

			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t el = strlen(ents[i].ent);

				if ((size_t)(e - b) >= el && strncmp(b, ents[i].ent, el) == 0) {
					c = ents[i].c;
					n = el;
					break;
				}
			}
			if (i == sizeof(ents) / sizeof(ents[0]))
				return -1;      /* numeric references: not in an address */
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
		b += n;
	}
	out[o] = '\0';
	return 0;
}

int
http_autodiscover_request(const char *body, size_t len, char *address_out, size_t size)
{
	char *text, schema[512];
	int r = -1;

	if (memchr(body, '\0', len) != NULL)
		return -1;
	text = xmalloc(len + 1);
	memcpy(text, body, len);
	text[len] = '\0';
	/* Outlook asks for the outlook schema; another (mobilesync, from
	 * ActiveSync clients) is a service Tern does not have */
	if (element_text(text, "AcceptableResponseSchema", schema, sizeof(schema)) == 0 &&
	    strcmp(schema, OUTLOOK_NS) != 0)
		goto done;
	if (element_text(text, "EMailAddress", address_out, size) == -1 || !http_address_ok(address_out))
		goto done;
	r = 0;
done:
	free(text);
	return r;
}

static void
element(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "        <%s>", name);
	http_xml_escape(out, value);
	buf_printf(out, "</%s>\n", name);
}

static void
protocol(const struct tern_config *cfg, struct buf *out, const char *type, enum service s, const char *address)
{
	bool ssl = cfg->listen[s].implicit_tls;

	if (!http_service_offered(cfg, s))
		return;
	buf_puts(out, "      <Protocol>\n");
	element(out, "Type", type);
	element(out, "Server", config_client_hostname(cfg));
	element(out, "Port", cfg->listen[s].port);
	element(out, "DomainRequired", "off");
	if (address != NULL)
		element(out, "LoginName", address);
	element(out, "SPA", "off");
	/* SSL on: implicit TLS; off with Encryption TLS: STARTTLS */
	element(out, "SSL", ssl ? "on" : "off");
	element(out, "Encryption", ssl ? "SSL" : "TLS");
	element(out, "AuthRequired", "on");
	buf_puts(out, "      </Protocol>\n");
}

void
http_autodiscover(const struct tern_config *cfg, const char *address, struct buf *out)
{
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"" RESPONSE_NS "\">\n"
	              "  <Response xmlns=\"" OUTLOOK_NS "\">\n    <Account>\n"
	              "      <AccountType>email</AccountType>\n      <Action>settings</Action>\n");
	/* one block per protocol, the preferred port first */
	protocol(cfg, out, "IMAP", SERVICE_IMAPS, address);
	protocol(cfg, out, "IMAP", SERVICE_IMAP, address);
	protocol(cfg, out, "POP3", SERVICE_POP3S, address);
	protocol(cfg, out, "POP3", SERVICE_POP3, address);
	protocol(cfg, out, "SMTP", SERVICE_SUBMISSIONS, address);
	protocol(cfg, out, "SMTP", SERVICE_SUBMISSION, address);
	buf_puts(out, "    </Account>\n  </Response>\n</Autodiscover>\n");
}

void
http_autodiscover_error(struct buf *out)
{
	buf_puts(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"" RESPONSE_NS "\">\n"
	              "  <Response>\n    <Error>\n      <ErrorCode>600</ErrorCode>\n"
	              "      <Message>Invalid Request</Message>\n      <DebugData />\n    </Error>\n"
	              "  </Response>\n</Autodiscover>\n");
}
