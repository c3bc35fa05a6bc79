/* Fuzzer for the outbound queue's envelope parser (src/queue/queue_env.c):
 * the .env files are read back from disk at every `tern queue list` and by
 * the delivery agent, so a damaged file must be refused, never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_env env;
	const char *error;
	char *copy;

	if (size > QUEUE_ENV_MAX)
		return 0;
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	memset(&env, 0, sizeof(env));
	if (queue_env_parse(copy, size, &env, &error) == 0)
		queue_env_free(&env);
	free(copy);
	return 0;
}
