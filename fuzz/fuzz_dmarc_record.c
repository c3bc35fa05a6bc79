/* Fuzzes the DMARC record parser, and the organisational domain of the
 * input taken as a domain name (fallback rule: no list loaded). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmarc_record r;
	const char *err;
	char name[DOMAIN_MAX + 1], org[DOMAIN_MAX + 1];

	if (dmarc_record_parse((const char *)data, size, &r, &err) == 0 &&
	    (r.pct > 100 || r.p > DMARC_POLICY_REJECT || r.sp > DMARC_POLICY_REJECT))
		abort();
	if (size <= DOMAIN_MAX && memchr(data, '\0', size) == NULL) {
		memcpy(name, data, size);
		name[size] = '\0';
		if (dmarc_org_domain(name, org, sizeof(org)) == 0 && strstr(name, org) == NULL)
			abort();
		(void)dmarc_aligned(name, "example.com", false);
	}
	return 0;
}
