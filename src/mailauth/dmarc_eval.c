/* DMARC evaluation (RFC 7489 6.6): policy discovery, alignment, the
 * policy to apply with pct sampling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc.h"

/* What discovery found at one name: 1 a record, 0 none, -1 temperror. */
static int
discover(const char *domain, dmarc_txt_lookup *lookup, void *arg, struct dmarc_record *rec)
{
	char name[DOMAIN_MAX + 16];
	char (*recs)[DMARC_RECORD_MAX + 1] = malloc(4 * sizeof(*recs));
	size_t n = 0, found = 0, which = 0;
	const char *err;
	int r = 0;

	if (recs == NULL)
		return -1;
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	if (lookup(arg, name, recs, 4, &n) != 0) {
		free(recs);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (dmarc_record_is_dmarc(recs[i], strlen(recs[i]))) {
			found++;
			which = i;
		}
	}
	/* RFC 7489 6.6.3: several records, or none, end discovery here */
	if (found == 1 && dmarc_record_parse(recs[which], strlen(recs[which]), rec, &err) == 0)
		r = 1;
	free(recs);
	return r;
}

static enum dmarc_policy
lower_policy(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

void
dmarc_evaluate(const struct dmarc_input *in, dmarc_txt_lookup *lookup, void *arg, struct dmarc_verdict *out)
{
	struct dmarc_record rec;
	char org[DOMAIN_MAX + 1];
	bool subdomain = false;
	int r;

	memset(out, 0, sizeof(*out));
	if (in->from_domain == NULL || in->from_domain[0] == '\0') {
		out->result = DMARC_RESULT_PERMERROR;
		return;
	}
	snprintf(out->from_domain, sizeof(out->from_domain), "%s", in->from_domain);
	r = discover(in->from_domain, lookup, arg, &rec);
	if (r == 0 && dmarc_org_domain(in->from_domain, org, sizeof(org)) == 0 &&
	    strcmp(org, in->from_domain) != 0) {
		r = discover(org, lookup, arg, &rec);
		subdomain = true;
	}
	if (r == -1) {
		out->result = DMARC_RESULT_TEMPERROR;
		return;
	}
	if (r == 0) {
		out->result = DMARC_RESULT_NONE;
		return;
	}
	out->policy = subdomain ? rec.sp : rec.p;
	out->spf_aligned = in->spf_domain != NULL && dmarc_aligned(in->spf_domain, in->from_domain, rec.aspf_strict);
	for (size_t i = 0; i < in->n_dkim && !out->dkim_aligned; i++)
		out->dkim_aligned = dmarc_aligned(in->dkim_domains[i], in->from_domain, rec.adkim_strict);
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_RESULT_PASS;
		out->disposition = DMARC_POLICY_NONE;
		return;
	}
	out->result = DMARC_RESULT_FAIL;
	out->disposition = out->policy;
	/* RFC 7489 6.6.4: outside the pct sample, the next lower policy */
	if (in->pct_roll >= rec.pct)
		out->disposition = lower_policy(out->policy);
}
