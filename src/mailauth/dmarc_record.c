/* The DMARC record parser (RFC 7489 6.3, 6.4).  Pure; the tag-list syntax
 * is DKIM's (RFC 7489 6.4 refers to RFC 6376 3.2), so dkim_tags_parse()
 * does the splitting.  Fuzzed by fuzz/fuzz_dmarc_record.c. */
#include <string.h>
#include <strings.h>

#include "mailauth/dkim_private.h"
#include "mailauth/dmarc.h"

bool
dmarc_record_is_dmarc(const char *txt, size_t len)
{
	/* RFC 7489 6.6.3: records not starting "v=DMARC1" are discarded */
	return len >= 8 && memcmp(txt, "v=DMARC1", 8) == 0 &&
	       (len == 8 || txt[8] == ';' || txt[8] == ' ' || txt[8] == '\t');
}

/* The value of tag name, whitespace removed, into out; false if absent. */
static bool
tag_value(const struct dkim_tags *t, const char *name, char *out, size_t outsize)
{
	const struct dkim_tag *g = dkim_tags_get(t, name);

	return g != NULL && dkim_tag_value_nows(g, out, outsize) == 0;
}

static int
policy_of(const char *v, enum dmarc_policy *out)
{
	if (strcasecmp(v, "none") == 0)
		*out = DMARC_POLICY_NONE;
	else if (strcasecmp(v, "quarantine") == 0)
		*out = DMARC_POLICY_QUARANTINE;
	else if (strcasecmp(v, "reject") == 0)
		*out = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

int
dmarc_record_parse(const char *s, size_t len, struct dmarc_record *out, const char **error_out)
{
	struct dkim_tags t;
	char v[64];

	memset(out, 0, sizeof(*out));
	out->pct = 100;
	if (!dmarc_record_is_dmarc(s, len)) {
		*error_out = "dmarc: not a DMARC record";
		return -1;
	}
	if (dkim_tags_parse(s, len, &t, error_out) == -1)
		return -1;
	if (t.n == 0 || t.tag[0].name_len != 1 || t.tag[0].name[0] != 'v') {
		*error_out = "dmarc: v= must come first";
		return -1;
	}
	if (!tag_value(&t, "p", v, sizeof(v)) || policy_of(v, &out->p) == -1) {
		/* RFC 7489 6.6.3: without a valid p=, a record with rua= is
		 * taken as p=none; without rua= there is no DMARC */
		if (dkim_tags_get(&t, "rua") == NULL) {
			*error_out = "dmarc: no valid p=";
			return -1;
		}
		out->p = DMARC_POLICY_NONE;
	}
	out->sp = out->p;
	if (tag_value(&t, "sp", v, sizeof(v)) && policy_of(v, &out->sp) == -1)
		out->sp = out->p;
	if (tag_value(&t, "adkim", v, sizeof(v)))
		out->adkim_strict = strcasecmp(v, "s") == 0;
	if (tag_value(&t, "aspf", v, sizeof(v)))
		out->aspf_strict = strcasecmp(v, "s") == 0;
	if (tag_value(&t, "pct", v, sizeof(v))) {
		size_t n = strlen(v);
		unsigned pct = 0;
		bool ok = n > 0 && n <= 3;

		for (size_t i = 0; ok && i < n; i++) {
			ok = v[i] >= '0' && v[i] <= '9';
			pct = pct * 10 + (unsigned)(v[i] - '0');
		}
		if (ok && pct <= 100)
			out->pct = pct;
	}
	return 0;
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RESULT_NONE:
		return "none";
	case DMARC_RESULT_PASS:
		return "pass";
	case DMARC_RESULT_FAIL:
		return "fail";
	case DMARC_RESULT_TEMPERROR:
		return "temperror";
	case DMARC_RESULT_PERMERROR:
		return "permerror";
	}
	return "?";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	}
	return "?";
}
