/* Fuzzes the From header address parser (smtp_from.c).  Checks: an
 * accepted value gives 1..SMTP_FROM_ADDRS_MAX addresses, each with an "@",
 * at most ADDRESS_MAX bytes, no control characters; and parsing is
 * deterministic (a second run gives the same addresses). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_from.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct smtp_from_list l1, l2;
	const char *e1 = NULL, *e2 = NULL;
	int r1, r2;
	size_t i, j;

	if (size > SMTP_FROM_FIELD_MAX)
		return 0;   /* the session never passes more */
	a = arena_new(4096, false);
	r1 = smtp_from_parse((const char *)data, size, a, &l1, &e1);
	r2 = smtp_from_parse((const char *)data, size, a, &l2, &e2);
	if (r1 != r2)
		abort();
	if (r1 == -1) {
		if (e1 == NULL || e2 == NULL || strcmp(e1, e2) != 0)
			abort();
	} else {
		if (l1.n == 0 || l1.n > SMTP_FROM_ADDRS_MAX || l1.n != l2.n)
			abort();
		for (i = 0; i < l1.n; i++) {
			size_t len = strlen(l1.addr[i]);

			if (len > ADDRESS_MAX || strchr(l1.addr[i], '@') == NULL || strcmp(l1.addr[i], l2.addr[i]) != 0)
				abort();
			for (j = 0; j < len; j++) {
				unsigned char c = (unsigned char)l1.addr[i][j];

				if ((c < 0x20 && c != '\t') || c == 0x7f)
					abort();
			}
		}
	}
	arena_free(&a);
	return 0;
}
