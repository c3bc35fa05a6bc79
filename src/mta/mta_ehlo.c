/* The EHLO reply's keyword lines (RFC 5321 4.1.1.1: "ehlo-keyword
 * *(SP ehlo-param)"), reduced to the extensions the client acts on. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mta/mta_reply.h"

static const struct {
	const char *name;
	unsigned bit;
} exts[] = {
	{ "STARTTLS", MTA_EXT_STARTTLS },       /* RFC 3207 */
	{ "PIPELINING", MTA_EXT_PIPELINING },   /* RFC 2920 */
	{ "SIZE", MTA_EXT_SIZE },               /* RFC 1870 */
	{ "8BITMIME", MTA_EXT_8BITMIME },       /* RFC 6152 */
	{ "SMTPUTF8", MTA_EXT_SMTPUTF8 },       /* RFC 6531 */
	{ "CHUNKING", MTA_EXT_CHUNKING },       /* RFC 3030 */
	{ "DSN", MTA_EXT_DSN },                 /* RFC 3461 */
	{ "AUTH", MTA_EXT_AUTH },               /* RFC 4954 */
	{ "ENHANCEDSTATUSCODES", MTA_EXT_ENHANCEDSTATUSCODES }, /* RFC 2034 */
};

unsigned
mta_ehlo_ext(const char *name)
{
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(name, exts[i].name) == 0)
			return exts[i].bit;
	return 0;
}

/* The mechanisms after "AUTH " (or "AUTH=", the pre-RFC form some old
 * servers still send). */
static void
auth_mechs(struct mta_ehlo *e, const char *p)
{
	while (*p != '\0') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 5 && strncasecmp(p, "PLAIN", 5) == 0)
			e->auth |= MTA_AUTH_PLAIN;
		else if (n == 5 && strncasecmp(p, "LOGIN", 5) == 0)
			e->auth |= MTA_AUTH_LOGIN;
		p += n;
	}
}

void
mta_ehlo_line(struct mta_ehlo *e, const char *text)
{
	char kw[32];
	size_t n = strcspn(text, " =");
	unsigned bit;

	if (n == 0 || n >= sizeof(kw))
		return;
	memcpy(kw, text, n);
	kw[n] = '\0';
	bit = mta_ehlo_ext(kw);
	if (bit == 0)
		return;
	if (bit == MTA_EXT_AUTH)
		auth_mechs(e, text + n + (text[n] != '\0'));
	e->ext |= bit;
	if (bit == MTA_EXT_SIZE && text[n] == ' ') {
		/* "SIZE 52428800"; a bad number counts as no limit. */
		const char *num = text + n + 1;
		char *end;
		unsigned long long v;

		if (*num >= '0' && *num <= '9') {
			v = strtoull(num, &end, 10);
			if (*end == '\0' || *end == ' ')
				e->size_max = v;
		}
	}
}
