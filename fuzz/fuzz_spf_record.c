/* Fuzzes the SPF record parser and macro expansion: the input is parsed
 * as a record, and every domain-spec it yields (and the whole input) is
 * expanded.  Every span a success reports must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct spf_macro_ctx ctx = {
	.sender = "strong-bad@email.example.com",
	.domain = "email.example.com",
	.helo = "mx.example.org",
	.ip = { 192, 0, 2, 3 },
};

static void
expand(const char *s, size_t len)
{
	char out[SPF_MACRO_OUT_MAX];
	const char *err;

	if (spf_macro_expand(s, len, &ctx, true, out, sizeof(out), &err) == 0 && strlen(out) > SPF_DOMAIN_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *err;
	struct spf_record *r = malloc(sizeof(*r));

	if (spf_record_parse(s, size, r, &err) == 0) {
		if (r->n > SPF_TERMS_MAX)
			abort();
		for (size_t i = 0; i < r->n; i++) {
			const struct spf_term *t = &r->term[i];

			if (t->domain != NULL) {
				if (t->domain < s || t->domain + t->domain_len > s + size)
					abort();
				expand(t->domain, t->domain_len);
			}
			if (t->cidr4 < 0 || t->cidr4 > 32 || t->cidr6 < 0 || t->cidr6 > 128)
				abort();
		}
		if (r->redirect != NULL && (r->redirect < s || r->redirect + r->redirect_len > s + size))
			abort();
	}
	free(r);
	expand(s, size);
	return 0;
}
