/* The resolver's insides, shared by the files of src/dns only. */
#ifndef TERN_DNS_PRIVATE_H
#define TERN_DNS_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <unbound.h>

#include "dns/dns.h"

struct dns_query;

struct dns {
	unsigned timeout_ms;
	/* Two contexts, each with its own background thread and cache: the
	 * synchronous callers pump sync_ctx among themselves, the attached
	 * loop pumps async_ctx, and neither waits on the other's answers. */
	struct ub_ctx *sync_ctx;
	struct ub_ctx *async_ctx;
	pthread_mutex_t sync_mu;    /* guards sync_pumping and every sync part */
	pthread_cond_t sync_cond;   /* a part finished, or the pump is free */
	bool sync_pumping;          /* a caller is reading sync_ctx's fd */
	struct evloop *loop;        /* NULL until dns_attach_loop */
	struct dns_query *queries;  /* pending async lookups, for detach */
};

/* One libunbound query of a lookup (a lookup of addresses has two). */
struct dns_part {
	int rrtype;
	int id;                     /* ub_resolve_async's async_id */
	bool pending;
	int err;                    /* UB_* from libunbound; 0 with res */
	struct ub_result *res;      /* NULL if err, timed out or never sent */
	void *owner;                /* struct dns (sync) or struct dns_query (async) */
};

#define DNS_RR_A 1
#define DNS_RR_MX 15
#define DNS_RR_TXT 16
#define DNS_RR_AAAA 28
#define DNS_RR_TLSA 52
#define DNS_CLASS_IN 1

/* Copies name to out[DNS_NAME_MAX + 1] without one trailing dot, after
 * checking it is a name to ask for: 1 to DNS_NAME_MAX characters, labels
 * of 1 to 63, printable ASCII without space or backslash (libunbound
 * would read a backslash as an escape).  Returns 0 or -1. */
int dns_name_check(const char *name, char *out);

/* The status one answered (or failed) part stands for. */
enum dns_status dns_part_status(const struct dns_part *p);
/* Fill a list from finished parts: one for MX, TXT and TLSA; AAAA then A
 * for addresses.  qname is the name asked (for `canonical` when there
 * was no CNAME). */
void dns_result_mx(const struct dns_part *p, struct dns_mx_list *out);
void dns_result_addr(const struct dns_part p[2], const char *qname, struct dns_addr_list *out);
void dns_result_txt(const struct dns_part *p, struct dns_txt_list *out);
void dns_result_tlsa(const struct dns_part *p, struct dns_tlsa_list *out);
/* Frees the parts' results. */
void dns_parts_free(struct dns_part *p, size_t n);

#endif
