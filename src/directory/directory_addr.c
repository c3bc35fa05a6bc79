/* Address checks and normalisation for the directory (see directory_addr.h). */
#include "directory/directory_addr.h"

#include <string.h>

#include "lib/str.h"

/* RFC 5322 3.2.3 atext. */
static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool
dir_addr_local_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LOCALPART_MAX || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static bool
domain_valid(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > DOMAIN_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_ldh((unsigned char)s[i]))
			return false;
		if (label == 0 && s[i] == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

int
dir_addr_domain(const char *in, char *out, size_t outsize)
{
	size_t len = strlen(in);

	if (!domain_valid(in, len) || len >= outsize)
		return -1;
	memcpy(out, in, len + 1);
	str_lower(out);
	return 0;
}

int
dir_addr_parse(const char *in, struct dir_addr *out)
{
	const char *at = strrchr(in, '@');
	size_t llen, dlen;

	if (at == NULL)
		return -1;
	llen = (size_t)(at - in);
	dlen = strlen(at + 1);
	if (!dir_addr_local_valid(in, llen) || !domain_valid(at + 1, dlen))
		return -1;
	memcpy(out->local, in, llen);
	out->local[llen] = '\0';
	memcpy(out->domain, at + 1, dlen + 1);
	str_lower(out->local);
	str_lower(out->domain);
	memcpy(out->address, out->local, llen);
	out->address[llen] = '@';
	memcpy(out->address + llen + 1, out->domain, dlen + 1);
	return 0;
}

int
dir_addr_strip_tag(const struct dir_addr *a, struct dir_addr *out)
{
	const char *plus = strchr(a->local, '+');
	size_t llen, dlen;

	if (plus == NULL)
		return -1;
	llen = (size_t)(plus - a->local);
	if (!dir_addr_local_valid(a->local, llen))
		return -1;
	dlen = strlen(a->domain);
	memcpy(out->local, a->local, llen);
	out->local[llen] = '\0';
	memcpy(out->domain, a->domain, dlen + 1);
	memcpy(out->address, out->local, llen);
	out->address[llen] = '@';
	memcpy(out->address + llen + 1, out->domain, dlen + 1);
	return 0;
}
