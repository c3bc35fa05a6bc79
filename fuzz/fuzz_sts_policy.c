/* Fuzzes the MTA-STS parsers: the input as a policy file, as a cache
 * file, and as TXT records (split at NUL bytes).  A policy that parses
 * must be within its limits; every host it names must match itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_sts_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct sts_policy *p)
{
	if (p->n_mx > STS_MX_MAX || p->max_age > STS_MAX_AGE_MAX || p->mode > STS_MODE_ENFORCE)
		abort();
	for (size_t i = 0; i < p->n_mx; i++) {
		if (strlen(p->mx[i]) > STS_NAME_MAX)
			abort();
		if (p->mx[i][0] != '*' && !queue_sts_mx_match(p, p->mx[i]))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy *p = malloc(sizeof(*p));
	char id[STS_ID_MAX + 1];
	const char *err;
	int64_t at;
	char *copy;
	const char *recs[8];
	size_t n = 0;

	if (queue_sts_policy_parse((const char *)data, size, p, &err) == 0)
		check(p);
	if (queue_sts_cache_parse((const char *)data, size, &at, id, p, &err) == 0) {
		check(p);
		if (strlen(id) > STS_ID_MAX)
			abort();
	}
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *s = copy; n < 8 && s <= copy + size; s += strlen(s) + 1)
		recs[n++] = s;
	if (queue_sts_txt_parse(recs, n, id, &err) == 0 && (id[0] == '\0' || strlen(id) > STS_ID_MAX))
		abort();
	queue_sts_mx_match(p, copy);
	free(copy);
	free(p);
	return 0;
}
