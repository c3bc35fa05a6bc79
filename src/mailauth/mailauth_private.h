/* Private to src/mailauth: the DNS callbacks on the process-wide
 * resolver (mailauth.c), for mailauth_check.c. */
#ifndef TERN_MAILAUTH_PRIVATE_H
#define TERN_MAILAUTH_PRIVATE_H

#include "mailauth/mailauth.h"

void mailauth_spf_dns(struct spf_dns *out);
enum dkim_lookup mailauth_dkim_lookup(void *arg, const char *name, struct dkim_txt *out);
int mailauth_dmarc_lookup(void *arg, const char *name, char (*recs)[DMARC_RECORD_MAX + 1], size_t max,
                          size_t *n_out);

#endif
