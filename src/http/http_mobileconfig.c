/* Apple configuration profile for Mail on iOS and macOS: see
 * http_docs.h.  Keys from Apple's "Mail" payload reference
 * (com.apple.mail.managed) and the top-level "Configuration" profile.
 * The profile is not signed: the device shows it as "Unverified" and
 * asks the user to confirm (signing needs the certificate's key on the
 * HTTP side, which this listener does not hold apart from TLS). */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "http/http_docs.h"
#include "lib/limits.h"
#include "lib/str.h"

/* RFC 4122 4.3 name-based UUID, version 5 (SHA-1), in the URL namespace:
 * the same address on the same server always gets the same UUID, so a
 * profile downloaded again replaces the installed one. */
static void
uuid5_url(const char *name, char out[37])
{
	static const unsigned char ns_url[16] = { 0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
	                                          0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *p = out;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, ns_url, sizeof(ns_url)) != 1 || EVP_DigestUpdate(ctx, name, strlen(name)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16)
		memset(md, 0, 16);
	EVP_MD_CTX_free(ctx);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02X", md[i]);
	}
	*p = '\0';
}

/* The first of the services (implicit TLS first) that autoconfig offers:
 * listening, and STARTTLS only with a certificate. */
static int
pick(const struct tern_config *cfg, enum service tls, enum service starttls)
{
	if (http_service_offered(cfg, tls))
		return (int)tls;
	if (http_service_offered(cfg, starttls))
		return (int)starttls;
	return -1;
}

/* mail.example.org -> org.example.mail (the start of PayloadIdentifier);
 * cut short if it does not fit. */
static void
reverse_dns(const char *host, char *out, size_t size)
{
	const char *end = host + strlen(host);
	size_t n = 0;

	out[0] = '\0';
	while (end > host) {
		const char *dot = end;
		int w;

		while (dot > host && dot[-1] != '.')
			dot--;
		w = snprintf(out + n, size - n, "%s%.*s", n > 0 ? "." : "", (int)(end - dot), dot);
		if (w < 0 || (size_t)w >= size - n)
			return;
		n += (size_t)w;
		end = dot > host ? dot - 1 : host;
	}
}

static void
key_string(struct buf *out, const char *indent, const char *key, const char *value)
{
	buf_printf(out, "%s<key>%s</key>\n%s<string>", indent, key, indent);
	http_xml_escape(out, value);
	buf_puts(out, "</string>\n");
}

static void
key_raw(struct buf *out, const char *indent, const char *key, const char *value)
{
	buf_printf(out, "%s<key>%s</key>\n%s%s\n", indent, key, indent, value);
}

/* One side of the account (Incoming or Outgoing). */
static void
mail_server(const struct tern_config *cfg, struct buf *out, const char *side, enum service s, const char *address)
{
	const char *in = "\t\t\t";
	char key[64];

	snprintf(key, sizeof(key), "%sMailServerAuthentication", side);
	key_string(out, in, key, "EmailAuthPassword");
	snprintf(key, sizeof(key), "%sMailServerHostName", side);
	key_string(out, in, key, config_client_hostname(cfg));
	snprintf(key, sizeof(key), "%sMailServerPortNumber", side);
	buf_printf(out, "%s<key>%s</key>\n%s<integer>%s</integer>\n", in, key, in, cfg->listen[s].port);
	/* true on a STARTTLS port too: Mail then upgrades with STARTTLS */
	snprintf(key, sizeof(key), "%sMailServerUseSSL", side);
	key_raw(out, in, key, "<true/>");
	snprintf(key, sizeof(key), "%sMailServerUsername", side);
	key_string(out, in, key, address);
}

int
http_mobileconfig(const struct tern_config *cfg, const char *address, struct buf *out)
{
	int imap = pick(cfg, SERVICE_IMAPS, SERVICE_IMAP);
	int smtp = pick(cfg, SERVICE_SUBMISSIONS, SERVICE_SUBMISSION);
	const char *host = config_client_hostname(cfg);
	const char *in = "\t\t\t";
	char name[ADDRESS_MAX + DOMAIN_MAX + 64], uuid[37], mail_uuid[37], ident[DOMAIN_MAX + 64], lower[ADDRESS_MAX + 1];

	if (imap < 0 || smtp < 0)
		return -1;
	str_lcpy(lower, address, sizeof(lower));
	str_lower(lower);
	snprintf(name, sizeof(name), "https://%s/apple.mobileconfig?emailaddress=%s", host, lower);
	uuid5_url(name, uuid);
	snprintf(name, sizeof(name), "https://%s/apple.mobileconfig?emailaddress=%s#mail", host, lower);
	uuid5_url(name, mail_uuid);
	reverse_dns(host, ident, sizeof(ident));

	buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	              "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	              "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	              "<plist version=\"1.0\">\n<dict>\n\t<key>PayloadContent</key>\n\t<array>\n\t\t<dict>\n");
	key_string(out, in, "EmailAccountDescription", address);
	key_string(out, in, "EmailAccountType", "EmailTypeIMAP");
	key_string(out, in, "EmailAddress", address);
	mail_server(cfg, out, "Incoming", (enum service)imap, address);
	mail_server(cfg, out, "Outgoing", (enum service)smtp, address);
	key_raw(out, in, "OutgoingPasswordSameAsIncomingPassword", "<true/>");
	key_string(out, in, "PayloadDescription", "Mail account settings");
	key_string(out, in, "PayloadDisplayName", address);
	buf_printf(out, "%s<key>PayloadIdentifier</key>\n%s<string>", in, in);
	http_xml_escape(out, ident);
	buf_printf(out, ".mobileconfig.%s.mail</string>\n", uuid);
	key_string(out, in, "PayloadType", "com.apple.mail.managed");
	key_string(out, in, "PayloadUUID", mail_uuid);
	key_raw(out, in, "PayloadVersion", "<integer>1</integer>");
	buf_puts(out, "\t\t</dict>\n\t</array>\n");
	in = "\t";
	key_string(out, in, "PayloadDescription", "Mail settings for this address (an unsigned profile)");
	key_string(out, in, "PayloadDisplayName", address);
	buf_printf(out, "%s<key>PayloadIdentifier</key>\n%s<string>", in, in);
	http_xml_escape(out, ident);
	buf_printf(out, ".mobileconfig.%s</string>\n", uuid);
	key_raw(out, in, "PayloadRemovalDisallowed", "<false/>");
	key_string(out, in, "PayloadType", "Configuration");
	key_string(out, in, "PayloadUUID", uuid);
	key_raw(out, in, "PayloadVersion", "<integer>1</integer>");
	buf_puts(out, "</dict>\n</plist>\n");
	return 0;
}
