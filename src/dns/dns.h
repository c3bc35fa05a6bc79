/* DNS for delivery and for the checks of inbound mail, on libunbound
 * (DNSSEC validation, which DANE needs; asynchronous queries whose file
 * descriptor an event loop can watch).
 *
 * One struct dns serves the whole process.  Synchronous lookups
 * (dns_*_sync) may be called from any worker thread at once; asynchronous
 * ones (dns_*_async) only from the loop given to dns_attach_loop(), where
 * their callbacks run too.  Every lookup ends: libunbound's answer, or
 * DNS_TEMPFAIL after the timeout.
 *
 * Names are presentation format without the trailing dot ("mx1.example.net");
 * answers keep that form, lower-cased. */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/limits.h"   /* DNS_NAME_MAX and the other DNS_* bounds */

struct evloop;
struct dns;

enum dns_status {
	DNS_OK,          /* at least one record */
	DNS_NXDOMAIN,    /* the name does not exist */
	DNS_NODATA,      /* the name exists, no record of this type */
	DNS_TEMPFAIL,    /* SERVFAIL, timeout, network: try again later */
	DNS_PERMFAIL,    /* DNSSEC bogus, malformed answer, bad name */
};

struct dns_settings {
	/* "IP" or "IP:PORT" ("[IPv6]:PORT") of a server to ask (it must
	 * recurse, or be authoritative for every name asked); NULL or "":
	 * the system's (/etc/resolv.conf). */
	const char *resolver;
	/* DNSSEC trust anchors: a file of DS/DNSKEY records, and/or records
	 * as text; both NULL: Debian's root key (/usr/share/dns/root.key) if
	 * present.  trust_anchor_file "none": no DNSSEC validation at all, so
	 * nothing is secure and nothing bogus (for a resolver that is trusted
	 * anyway, and for tests against an unsigned server, whose answers
	 * would otherwise be bogus under the root key). */
	const char *trust_anchor_file;
	const char *trust_anchor;
	unsigned timeout_ms;     /* 0: DNS_TIMEOUT_MS */
};

/* Returns the resolver, or NULL with a malloc'd message in *error_out
 * (bad resolver address, unreadable trust anchor).  The settings are
 * copied into libunbound. */
struct dns *dns_new(const struct dns_settings *set, char **error_out);
/* Accepts NULL; detaches the loop if still attached.  Not from a callback. */
void dns_free(struct dns **d);
/* Watches the async fd on loop; async lookups are then allowed there.
 * One loop at a time.  Returns 0, or -1 with a malloc'd *error_out. */
int dns_attach_loop(struct dns *d, struct evloop *loop, char **error_out);
/* Before freeing the loop: cancels pending async lookups (their
 * callbacks are not called) and stops watching. */
void dns_detach_loop(struct dns *d);

struct dns_mx {
	char host[DNS_NAME_MAX + 1];
	unsigned pref;
};
struct dns_mx_list {
	enum dns_status status;
	bool secure;             /* DNSSEC validated */
	bool null_mx;            /* RFC 7505: one MX "0 ." -- the domain takes no mail
	                            (status DNS_OK, n 0) */
	size_t n;
	struct dns_mx mx[DNS_MX_MAX];   /* by preference, shuffled among equals */
};

struct dns_addr_list {
	enum dns_status status;  /* DNS_OK if either family had an address */
	bool secure;             /* every answer used was validated */
	char canonical[DNS_NAME_MAX + 1];  /* after CNAMEs */
	size_t n;
	struct sockaddr_storage addr[DNS_ADDR_MAX];   /* IPv6 first, then IPv4; port 0 */
};

struct dns_txt_list {
	enum dns_status status;
	bool secure;
	size_t n;
	char txt[DNS_TXT_MAX][DNS_TXT_LEN_MAX + 1];   /* strings of one record joined, NUL-terminated */
};

struct dns_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	uint8_t data[DNS_TLSA_DATA_MAX];
};
struct dns_tlsa_list {
	enum dns_status status;
	bool secure;
	size_t n;
	struct dns_tlsa tlsa[DNS_TLSA_MAX];
};

/* Synchronous: block the calling (worker) thread, at most the timeout.
 * Return 0 and fill *out (whose status says what was found); -1 only for
 * misuse (bad name).  Records that do not parse, or do not fit the
 * limits above, are skipped; an answer with none left is DNS_PERMFAIL.
 * TXT records holding a NUL byte and TLSA data over DNS_TLSA_DATA_MAX
 * are skipped that way too.  Not from the loop thread. */
int dns_mx_sync(struct dns *d, const char *domain, struct dns_mx_list *out);
int dns_addr_sync(struct dns *d, const char *name, struct dns_addr_list *out);
int dns_txt_sync(struct dns *d, const char *name, struct dns_txt_list *out);
int dns_tlsa_sync(struct dns *d, const char *name, struct dns_tlsa_list *out);
/* PTR of an address, for SPF's %{p} and ptr: mechanism (may be skipped). */

/* Asynchronous, on the attached loop (panics without one).  cb runs on
 * that loop exactly once (also for failures: a bad name is DNS_PERMFAIL),
 * never before the call returns; the list is valid during the call only.
 * cb may start lookups but must not free the struct dns. */
typedef void dns_mx_cb(void *arg, const struct dns_mx_list *res);
typedef void dns_addr_cb(void *arg, const struct dns_addr_list *res);
typedef void dns_tlsa_cb(void *arg, const struct dns_tlsa_list *res);
typedef void dns_txt_cb(void *arg, const struct dns_txt_list *res);
void dns_mx_async(struct dns *d, const char *domain, dns_mx_cb *cb, void *arg);
void dns_addr_async(struct dns *d, const char *name, dns_addr_cb *cb, void *arg);
void dns_tlsa_async(struct dns *d, const char *name, dns_tlsa_cb *cb, void *arg);
void dns_txt_async(struct dns *d, const char *name, dns_txt_cb *cb, void *arg);

const char *dns_status_name(enum dns_status s);

#endif
