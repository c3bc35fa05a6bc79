/* Fuzzes the penalty module's address handling: the input as a CIDR (the
 * config's allow list, `tern auth unblock`), and as a client address fed
 * to penalty_check, penalty_record and penalty_unblock of one small
 * in-memory tracker (max_tracked at its minimum, so that eviction runs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/penalty.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct penalty *tracker;
static time_t now = 1700000000;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char addr[16];
	unsigned prefix;
	const char *error;
	char *s;

	if (tracker == NULL) {
		struct penalty_config cfg;

		log_set_level(LOG_ERROR);
		penalty_config_default(&cfg);
		cfg.max_tracked = 0;
		cfg.allow_networks = "10.0.0.0/8, ::ffff:192.0.2.0/120";
		if ((tracker = penalty_new(&cfg, &error)) == NULL)
			abort();
	}
	if (size > 256)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (penalty_parse_cidr(s, addr, &prefix) == 0 && prefix > 128)
		abort();
	now += 7;
	penalty_check(tracker, s, now, NULL, NULL);
	if (penalty_record(tracker, s, s, size % 3 == 0, now) > 15000)
		abort();
	if (size % 5 == 0 && penalty_unblock(tracker, s, now, &error) < -1)
		abort();
	if (penalty_tracked(tracker) > 64)
		abort();
	free(s);
	return 0;
}
