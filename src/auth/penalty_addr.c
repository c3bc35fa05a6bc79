/* Penalty sources: parsing client addresses into sources and networks,
 * CIDR matching, formatting, account hashing (SipHash-2-4, keyed, so that
 * nobody can aim many account names at one hash bucket). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/penalty_private.h"
#include "lib/str.h"
#include "lib/limits.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* SipHash-2-4 (Aumasson and Bernstein, 2012), 64-bit output. */
uint64_t
pen_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, left = len & 7, end = len - left;

	for (i = 0; i < end; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | in[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)in[end + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static bool
is_v4_mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static void
clear_host_bits(uint8_t a[16], unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bit = i * 8;

		if (bit >= prefix)
			a[i] = 0;
		else if (bit + 8 > prefix)
			a[i] &= (uint8_t)(0xff << (8 - (prefix - bit)));
	}
}

/* Parses one address (no prefix) into the 16-byte form. */
static int
parse_addr(const char *s, uint8_t out[16], bool *v4_out)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4_out = true;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*v4_out = is_v4_mapped(out);
		return 0;
	}
	return -1;
}

bool
pen_source_of(const char *addr, uint8_t out[16], uint8_t *prefix_out, uint8_t full_out[16])
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t n;
	bool v4;

	if (addr == NULL)
		goto bad;
	if (addr[0] == '[')
		addr++;
	n = strcspn(addr, "]%");
	if (n == 0 || n >= sizeof(buf))
		goto bad;
	memcpy(buf, addr, n);
	buf[n] = '\0';
	if (parse_addr(buf, full_out, &v4) != 0)
		goto bad;
	memcpy(out, full_out, 16);
	*prefix_out = v4 ? 128 : 64;
	clear_host_bits(out, *prefix_out);
	return true;
bad:
	memset(out, 0, 16);
	memset(full_out, 0, 16);
	*prefix_out = PEN_PREFIX_BAD;
	return false;
}

bool
pen_net_of(const uint8_t src[16], uint8_t src_prefix, uint8_t out[16], uint8_t *prefix_out)
{
	if (src_prefix == PEN_PREFIX_BAD)
		return false;
	memcpy(out, src, 16);
	*prefix_out = is_v4_mapped(src) ? 96 + 24 : 48;
	clear_host_bits(out, *prefix_out);
	return true;
}

bool
pen_in_cidr(const uint8_t addr[16], const uint8_t net[16], unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (prefix > 128)
		return false;
	if (memcmp(addr, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((addr[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
pen_overlap(const uint8_t a[16], unsigned pa, const uint8_t b[16], unsigned pb)
{
	if (pa == PEN_PREFIX_BAD || pb == PEN_PREFIX_BAD)
		return pa == pb;
	return pen_in_cidr(a, b, pa < pb ? pa : pb);
}

void
pen_format(const uint8_t addr[16], unsigned prefix, char *out, size_t outsize)
{
	char text[INET6_ADDRSTRLEN];

	if (prefix == PEN_PREFIX_BAD) {
		snprintf(out, outsize, "unparseable");
		return;
	}
	if (is_v4_mapped(addr) && prefix >= 96) {
		if (inet_ntop(AF_INET, addr + 12, text, sizeof(text)) == NULL)
			snprintf(text, sizeof(text), "?");
		if (prefix == 128)
			snprintf(out, outsize, "%s", text);
		else
			snprintf(out, outsize, "%s/%u", text, prefix - 96);
		return;
	}
	if (inet_ntop(AF_INET6, addr, text, sizeof(text)) == NULL)
		snprintf(text, sizeof(text), "?");
	if (prefix == 128)
		snprintf(out, outsize, "%s", text);
	else
		snprintf(out, outsize, "%s/%u", text, prefix);
}

int
penalty_parse_cidr(const char *s, unsigned char addr_out[16], unsigned *prefix_out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long bits;
	bool v4;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (parse_addr(buf, addr_out, &v4) != 0)
		return -1;
	/* An IPv4 prefix counts IPv4 bits; an IPv6 one (even ::ffff:...) IPv6 bits. */
	v4 = strchr(buf, ':') == NULL;
	if (slash == NULL) {
		bits = v4 ? 32 : 128;
	} else {
		if (!isdigit((unsigned char)*slash))
			return -1;
		bits = strtoul(slash, &end, 10);
		if (*end != '\0' || bits > (v4 ? 32UL : 128UL) || end - slash > 3)
			return -1;
	}
	*prefix_out = (unsigned)bits + (v4 ? 96 : 0);
	clear_host_bits(addr_out, *prefix_out);
	return 0;
}

int
pen_parse_source(const char *s, uint8_t addr_out[16], unsigned *prefix_out)
{
	if (strcmp(s, "unparseable") == 0) {
		memset(addr_out, 0, 16);
		*prefix_out = PEN_PREFIX_BAD;
		return 0;
	}
	return penalty_parse_cidr(s, addr_out, prefix_out);
}

uint64_t
pen_account_hash(const struct penalty *p, const char *account)
{
	char buf[AUTH_USER_MAX * 2];
	size_t n = 0;
	uint64_t h;

	if (account == NULL || account[0] == '\0')
		return 0;
	/* Longer than any account: the first bytes are as good a name as any. */
	for (; account[n] != '\0' && n < sizeof(buf); n++)
		buf[n] = (char)tolower((unsigned char)account[n]);
	h = pen_siphash(p->hkey, buf, n);
	return h != 0 ? h : 1;
}

static const char *const why_text[WHY_COUNT] = {
	[WHY_NONE] = "not blocked",
	[WHY_FAILURES] = "too many failed logins",
	[WHY_ACCOUNT] = "too many failed logins for one account",
	[WHY_SPRAY] = "password spraying (failed logins for many accounts)",
	[WHY_NET_FAILURES] = "too many failed logins from the network",
	[WHY_NET_SPRAY] = "password spraying from the network",
	[WHY_OTHER] = "blocked",
};

const char *
pen_why_text(unsigned why)
{
	return why < WHY_COUNT ? why_text[why] : why_text[WHY_OTHER];
}

unsigned
pen_why_parse(const char *s)
{
	for (unsigned i = WHY_FAILURES; i < WHY_COUNT; i++) {
		if (s != NULL && strcmp(s, why_text[i]) == 0)
			return i;
	}
	return WHY_OTHER;
}

/* Whether peer (an address as text) lies in one of the networks of list
 * ("127.0.0.1/8, ::1"; checked when the configuration was read). */
bool
penalty_addr_in_list(const char *list, const char *peer)
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
