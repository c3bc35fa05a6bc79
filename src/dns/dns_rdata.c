/* Rdata parsers (see dns_rdata.h).  libunbound has already split the
 * answer into records and decompressed the names of well-known types, so
 * a compression pointer here is malformed. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_rdata.h"

#define LABEL_MAX 63   /* RFC 1035 2.3.4 */

static bool
host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int
dns_rdata_name(const uint8_t *p, size_t len, char *out, size_t *used_out)
{
	size_t pos = 0, olen = 0;

	for (;;) {
		size_t l;

		if (pos >= len)
			return -1;
		l = p[pos++];
		if (l == 0)
			break;
		if (l > LABEL_MAX || l > len - pos)
			return -1;
		/* the dot before this label, then the label */
		if (olen + (olen > 0) + l > DNS_NAME_MAX)
			return -1;
		if (olen > 0)
			out[olen++] = '.';
		for (size_t i = 0; i < l; i++) {
			uint8_t c = p[pos + i];

			if (!host_char(c))
				return -1;
			out[olen++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
		}
		pos += l;
	}
	out[olen] = '\0';
	*used_out = pos;
	return 0;
}

int
dns_rdata_mx(const uint8_t *p, size_t len, struct dns_mx *out)
{
	size_t used;

	if (len < 3)
		return -1;
	out->pref = (unsigned)p[0] << 8 | p[1];
	if (dns_rdata_name(p + 2, len - 2, out->host, &used) == -1)
		return -1;
	return used == len - 2 ? 0 : -1;
}

int
dns_rdata_txt(const uint8_t *p, size_t len, char *out)
{
	size_t pos = 0, olen = 0;

	if (len == 0)
		return -1;
	while (pos < len) {
		size_t l = p[pos++];

		if (l > len - pos || l > DNS_TXT_LEN_MAX - olen)
			return -1;
		if (memchr(p + pos, '\0', l) != NULL)
			return -1;
		memcpy(out + olen, p + pos, l);
		olen += l;
		pos += l;
	}
	out[olen] = '\0';
	return 0;
}

int
dns_rdata_tlsa(const uint8_t *p, size_t len, struct dns_tlsa *out)
{
	if (len < 4 || len - 3 > DNS_TLSA_DATA_MAX)
		return -1;
	out->usage = p[0];
	out->selector = p[1];
	out->mtype = p[2];
	out->len = len - 3;
	memcpy(out->data, p + 3, out->len);
	return 0;
}

int
dns_rdata_addr(int family, const uint8_t *p, size_t len, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET && len == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, p, 4);
		return 0;
	}
	if (family == AF_INET6 && len == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, p, 16);
		return 0;
	}
	return -1;
}

void
dns_mx_list_add(struct dns_mx_list *l, const struct dns_mx *mx)
{
	size_t worst = 0;

	if (l->n < DNS_MX_MAX) {
		l->mx[l->n++] = *mx;
		return;
	}
	/* full: the new one replaces the least preferred if it is better */
	for (size_t i = 1; i < l->n; i++)
		if (l->mx[i].pref > l->mx[worst].pref)
			worst = i;
	if (mx->pref < l->mx[worst].pref)
		l->mx[worst] = *mx;
}

static int
mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

void
dns_mx_list_finish(struct dns_mx_list *l)
{
	size_t n = 0;

	l->null_mx = l->n == 1 && l->mx[0].pref == 0 && l->mx[0].host[0] == '\0';
	if (l->null_mx) {
		l->n = 0;
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->mx[i].host[0] != '\0')
			l->mx[n++] = l->mx[i];
	l->n = n;
	qsort(l->mx, l->n, sizeof(l->mx[0]), mx_cmp);
	/* Fisher-Yates within each run of equal preference */
	for (size_t start = 0, end; start < l->n; start = end) {
		for (end = start + 1; end < l->n && l->mx[end].pref == l->mx[start].pref; end++)
			;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + arc4random_uniform((uint32_t)(i - start + 1));
			struct dns_mx t = l->mx[i];

			l->mx[i] = l->mx[j];
			l->mx[j] = t;
		}
	}
}
