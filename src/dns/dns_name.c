/* Checks a name before it goes to libunbound (see dns_private.h). */
#include <string.h>

#include "dns/dns_private.h"

int
dns_name_check(const char *name, char *out)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f || c == '\\')
			return -1;
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (++label > 63) {
			return -1;
		}
	}
	if (label == 0)   /* "a..": an empty last label */
		return -1;
	memcpy(out, name, len);
	out[len] = '\0';
	return 0;
}
