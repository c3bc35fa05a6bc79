/* Fuzzes the SRS decoder: the input is taken as the local part of an
 * address at our SRS domain.  A success must give local@domain with no
 * control bytes, and re-encoding a decoded SRS0 address must give an
 * address that decodes to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/limits.h"
#include "srs/srs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[SRS_KEY_LEN] = "fuzzing key, thirty-two bytes!!!";
static const int64_t now = 20000 * (int64_t)86400;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[ADDRESS_MAX + 1], again[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1];
	const char *at;
	enum srs_result r;

	r = srs_reverse(key, (const char *)data, size, now, SRS_MAX_AGE_DAYS, out, sizeof(out));
	if (r != SRS_OK) {
		if (out[0] != '\0')
			abort();
		return 0;
	}
	if (strlen(out) >= sizeof(out) || (at = strrchr(out, '@')) == NULL || at == out || at[1] == '\0')
		abort();
	for (const char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ')
			abort();
	/* what it gives can be forwarded again and comes back the same */
	if (srs_forward(key, out, "fwd.example", now, again, sizeof(again)) == SRS_OK) {
		at = strrchr(again, '@');
		if (srs_reverse(key, again, (size_t)(at - again), now, SRS_MAX_AGE_DAYS, back, sizeof(back)) != SRS_OK)
			abort();
	}
	return 0;
}
