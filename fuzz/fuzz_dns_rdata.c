/* Fuzzes the DNS rdata parsers (src/dns/dns_rdata.c) and the check of
 * names asked for.  The first byte picks the parser, the rest is one
 * record's rdata; mode 5 is a run of records ([length][rdata]...) for the
 * MX list, which is then sorted and shuffled.  Checks the outputs'
 * invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_private.h"
#include "dns/dns_rdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *name)
{
	size_t len = strnlen(name, DNS_NAME_MAX + 1);

	if (len > DNS_NAME_MAX)
		abort();
	if (len > 0 && (name[0] == '.' || name[len - 1] == '.' || strstr(name, "..") != NULL))
		abort();
	for (size_t i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", name[i]) == NULL)
			abort();
}

static void
mx_list(const uint8_t *p, size_t len)
{
	static struct dns_mx_list l;

	memset(&l, 0, sizeof(l));
	while (len > 0) {
		size_t n = p[0] < len - 1 ? p[0] : len - 1;
		struct dns_mx mx;

		if (dns_rdata_mx(p + 1, n, &mx) == 0)
			dns_mx_list_add(&l, &mx);
		p += 1 + n;
		len -= 1 + n;
	}
	dns_mx_list_finish(&l);
	if (l.n > DNS_MX_MAX || (l.null_mx && l.n != 0))
		abort();
	for (size_t i = 0; i < l.n; i++) {
		check_name(l.mx[i].host);
		if (l.mx[i].host[0] == '\0' || (i > 0 && l.mx[i - 1].pref > l.mx[i].pref))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char txt[DNS_TXT_LEN_MAX + 1];
	char name[DNS_NAME_MAX + 1], *s;
	struct dns_mx mx;
	struct dns_tlsa tlsa;
	struct sockaddr_storage ss;
	const uint8_t *p = data + 1;
	size_t len = size - 1, used;

	if (size == 0 || size > 65536)
		return 0;
	switch (data[0] % 7) {
	case 0:
		if (dns_rdata_name(p, len, name, &used) == 0) {
			check_name(name);
			if (used == 0 || used > len)
				abort();
		}
		break;
	case 1:
		if (dns_rdata_mx(p, len, &mx) == 0)
			check_name(mx.host);
		break;
	case 2:
		if (dns_rdata_txt(p, len, txt) == 0 && strlen(txt) > DNS_TXT_LEN_MAX)
			abort();
		break;
	case 3:
		if (dns_rdata_tlsa(p, len, &tlsa) == 0 &&
		    (tlsa.len == 0 || tlsa.len > DNS_TLSA_DATA_MAX || tlsa.len + 3 != len))
			abort();
		break;
	case 4:
		if (dns_rdata_addr(data[0] & 8 ? AF_INET6 : AF_INET, p, len, &ss) == 0 && len != 4 && len != 16)
			abort();
		break;
	case 5:
		mx_list(p, len);
		break;
	case 6:
		s = malloc(len + 1);
		memcpy(s, p, len);
		s[len] = '\0';
		if (dns_name_check(s, name) == 0 && (strlen(name) == 0 || strlen(name) > DNS_NAME_MAX))
			abort();
		free(s);
		break;
	}
	return 0;
}
