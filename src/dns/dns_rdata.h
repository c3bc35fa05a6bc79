/* Parsers of the rdata libunbound hands back (one record's rdata, wire
 * form, without the RDLENGTH), private to src/dns.  Pure: no I/O, no
 * globals but the MX shuffle's random numbers, every length checked, so
 * fuzz/fuzz_dns_rdata.c can drive them. */
#ifndef TERN_DNS_RDATA_H
#define TERN_DNS_RDATA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

/* An uncompressed wire name at p (at most len bytes) to presentation form
 * in out[DNS_NAME_MAX + 1]: lower-case, no trailing dot, the root as "".
 * Only host name characters (letters, digits, '-', '_') are accepted, so
 * the result never needs escapes.  Sets *used_out to the bytes the name
 * took.  Returns 0, or -1 if malformed (compression pointer, label over
 * 63, name over DNS_NAME_MAX, other characters, past len). */
int dns_rdata_name(const uint8_t *p, size_t len, char *out, size_t *used_out);

/* MX (RFC 1035 3.3.9): preference and exchange; the whole rdata must be
 * used.  A null MX's "." gives host "".  Returns 0 or -1. */
int dns_rdata_mx(const uint8_t *p, size_t len, struct dns_mx *out);

/* TXT (RFC 1035 3.3.14): the length-prefixed strings joined into
 * out[DNS_TXT_LEN_MAX + 1], NUL-terminated.  Returns 0, or -1 if a string
 * runs past len, the rdata is empty, the joined text is longer than
 * DNS_TXT_LEN_MAX or holds a NUL (which no caller could see past). */
int dns_rdata_txt(const uint8_t *p, size_t len, char *out);

/* TLSA (RFC 6698 2.1): usage, selector, matching type and 1 to
 * DNS_TLSA_DATA_MAX bytes of data (longer data, a full certificate with
 * matching type 0, is refused).  Returns 0 or -1. */
int dns_rdata_tlsa(const uint8_t *p, size_t len, struct dns_tlsa *out);

/* A (4 bytes) for AF_INET or AAAA (16 bytes) for AF_INET6 into *out with
 * port 0.  Returns 0 or -1 if the length is not exactly right. */
int dns_rdata_addr(int family, const uint8_t *p, size_t len, struct sockaddr_storage *out);

/* Adds mx to l, keeping the DNS_MX_MAX most preferred when there are
 * more. */
void dns_mx_list_add(struct dns_mx_list *l, const struct dns_mx *mx);
/* Puts l in delivery order: by preference, shuffled among equals
 * (RFC 5321 5.1).  Sets null_mx (and n = 0) for a lone "0 ." (RFC 7505);
 * drops a "." that is not alone, it names no host. */
void dns_mx_list_finish(struct dns_mx_list *l);

#endif
