/* Asynchronous lookups on the attached loop: the loop watches async_ctx's
 * fd and runs ub_process(), which calls on_answer(); a timer per lookup
 * ends it with DNS_TEMPFAIL if libunbound has not answered in time.
 * Everything here runs on the loop thread, so nothing is locked. */
#include <stdlib.h>
#include <sys/epoll.h>

#include "dns/dns_private.h"
#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct dns_query {
	struct dns *d;
	struct dns_query *prev, *next;     /* in d->queries */
	struct dns_part part[2];
	size_t nparts;
	bool bad_name;                     /* never sent: DNS_PERMFAIL */
	struct evloop_timer *timer;
	void (*deliver)(struct dns_query *q);
	union {
		dns_mx_cb *mx;
		dns_addr_cb *addr;
		dns_tlsa_cb *tlsa;
		dns_txt_cb *txt;
	} cb;
	void *arg;
	char name[DNS_NAME_MAX + 1];
};

static void
on_readable(void *arg, uint32_t events)
{
	struct dns *d = arg;
	int r = ub_process(d->async_ctx);

	if (r != 0)
		log_warnx("dns async process failed error=\"%s\"", ub_strerror(r));
}

int
dns_attach_loop(struct dns *d, struct evloop *loop, char **error_out)
{
	if (d->loop != NULL) {
		*error_out = xstrdup("dns: already attached to a loop");
		return -1;
	}
	if (evloop_add(loop, ub_fd(d->async_ctx), EPOLLIN, on_readable, d) == -1) {
		*error_out = xstrdup("dns: cannot watch libunbound's descriptor");
		return -1;
	}
	d->loop = loop;
	return 0;
}

static void
query_unlink(struct dns_query *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->d->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
}

/* Forgets q without calling back: its unanswered queries are cancelled
 * (in thread mode ub_cancel only marks them, and their late answers are
 * dropped by ub_process). */
static void
query_free(struct dns_query *q)
{
	for (size_t i = 0; i < q->nparts; i++)
		if (q->part[i].pending)
			ub_cancel(q->d->async_ctx, q->part[i].id);
	evloop_timer_cancel(q->d->loop, &q->timer);
	dns_parts_free(q->part, q->nparts);
	free(q);
}

void
dns_detach_loop(struct dns *d)
{
	if (d->loop == NULL)
		return;
	while (d->queries != NULL) {
		struct dns_query *q = d->queries;

		query_unlink(q);
		query_free(q);
	}
	evloop_del(d->loop, ub_fd(d->async_ctx));
	d->loop = NULL;
}

/* Every part answered, or the time is up.  q leaves the list and loses
 * its timer first: the callback may start lookups, or even detach the
 * loop, but must not free d. */
static void
query_finish(struct dns_query *q)
{
	query_unlink(q);
	evloop_timer_cancel(q->d->loop, &q->timer);
	q->deliver(q);
	dns_parts_free(q->part, q->nparts);
	free(q);
}

static bool
query_pending(const struct dns_query *q)
{
	for (size_t i = 0; i < q->nparts; i++)
		if (q->part[i].pending)
			return true;
	return false;
}

static void
on_answer(void *arg, int err, struct ub_result *res)
{
	struct dns_part *p = arg;
	struct dns_query *q = p->owner;

	p->err = err;
	p->res = res;
	p->pending = false;
	if (!query_pending(q))
		query_finish(q);
}

static void
on_timeout(void *arg)
{
	struct dns_query *q = arg;

	q->timer = NULL;   /* a fired timer's handle is gone */
	for (size_t i = 0; i < q->nparts; i++) {
		if (q->part[i].pending) {
			ub_cancel(q->d->async_ctx, q->part[i].id);
			q->part[i].pending = false;
		}
	}
	query_finish(q);
}

static void
query_start(struct dns *d, struct dns_query *q, const char *name, const int *rrtypes, size_t n)
{
	if (d->loop == NULL)
		panic("dns: async lookup without an attached loop");
	q->d = d;
	q->nparts = n;
	q->next = d->queries;
	if (q->next != NULL)
		q->next->prev = q;
	d->queries = q;
	q->bad_name = dns_name_check(name, q->name) == -1;
	for (size_t i = 0; i < n; i++) {
		struct dns_part *p = &q->part[i];

		p->rrtype = rrtypes[i];
		p->owner = q;
		if (q->bad_name)
			continue;
		/* answers come only through ub_process on this loop, so not
		 * before we return */
		p->err = ub_resolve_async(d->async_ctx, q->name, p->rrtype, DNS_CLASS_IN, p, on_answer, &p->id);
		p->pending = p->err == 0;
	}
	/* with nothing sent the timer delivers the failure at once, still
	 * after this call has returned */
	q->timer = evloop_timer_add(d->loop, query_pending(q) ? d->timeout_ms : 0, on_timeout, q);
}

static void
deliver_mx(struct dns_query *q)
{
	struct dns_mx_list res;

	dns_result_mx(&q->part[0], &res);
	if (q->bad_name)
		res.status = DNS_PERMFAIL;
	q->cb.mx(q->arg, &res);
}

static void
deliver_addr(struct dns_query *q)
{
	struct dns_addr_list res;

	dns_result_addr(q->part, q->name, &res);
	if (q->bad_name)
		res.status = DNS_PERMFAIL;
	q->cb.addr(q->arg, &res);
}

static void
deliver_tlsa(struct dns_query *q)
{
	struct dns_tlsa_list res;

	dns_result_tlsa(&q->part[0], &res);
	if (q->bad_name)
		res.status = DNS_PERMFAIL;
	q->cb.tlsa(q->arg, &res);
}

static void
deliver_txt(struct dns_query *q)
{
	struct dns_txt_list *res = xmalloc(sizeof(*res));   /* 130 KiB: not on the stack */

	dns_result_txt(&q->part[0], res);
	if (q->bad_name)
		res->status = DNS_PERMFAIL;
	q->cb.txt(q->arg, res);
	free(res);
}

void
dns_mx_async(struct dns *d, const char *domain, dns_mx_cb *cb, void *arg)
{
	static const int types[] = { DNS_RR_MX };
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->deliver = deliver_mx;
	q->cb.mx = cb;
	q->arg = arg;
	query_start(d, q, domain, types, 1);
}

void
dns_addr_async(struct dns *d, const char *name, dns_addr_cb *cb, void *arg)
{
	static const int types[] = { DNS_RR_AAAA, DNS_RR_A };
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->deliver = deliver_addr;
	q->cb.addr = cb;
	q->arg = arg;
	query_start(d, q, name, types, 2);
}

void
dns_tlsa_async(struct dns *d, const char *name, dns_tlsa_cb *cb, void *arg)
{
	static const int types[] = { DNS_RR_TLSA };
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->deliver = deliver_tlsa;
	q->cb.tlsa = cb;
	q->arg = arg;
	query_start(d, q, name, types, 1);
}

void
dns_txt_async(struct dns *d, const char *name, dns_txt_cb *cb, void *arg)
{
	static const int types[] = { DNS_RR_TXT };
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->deliver = deliver_txt;
	q->cb.txt = cb;
	q->arg = arg;
	query_start(d, q, name, types, 1);
}
