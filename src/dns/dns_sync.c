/* Synchronous lookups for worker threads.  They are asynchronous queries
 * on sync_ctx underneath, because ub_resolve() cannot be given a timeout
 * and a dead server would hold a worker for as long as libunbound keeps
 * retrying.  The waiting threads take turns reading sync_ctx's fd
 * ("pumping"); whoever pumps delivers everyone's answers. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "dns/dns_private.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs inside ub_process(), on whichever thread pumps. */
static void
on_answer(void *arg, int err, struct ub_result *res)
{
	struct dns_part *p = arg;
	struct dns *d = p->owner;

	pthread_mutex_lock(&d->sync_mu);
	p->err = err;
	p->res = res;
	p->pending = false;
	pthread_cond_broadcast(&d->sync_cond);
	pthread_mutex_unlock(&d->sync_mu);
}

static bool
any_pending(const struct dns_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].pending)
			return true;
	return false;
}

/* Reads answers for up to ms; called without sync_mu. */
static void
pump(struct dns *d, uint64_t ms)
{
	struct pollfd pfd = { .fd = ub_fd(d->sync_ctx), .events = POLLIN };

	if (poll(&pfd, 1, ms > 1000 ? 1000 : (int)ms) > 0)
		ub_process(d->sync_ctx);
}

/* After the deadline: a part libunbound will not cancel (UB_NOID) is
 * having its callback run by the pumping thread right now, so we wait
 * for it rather than leave it a dangling pointer. */
static void
cancel_pending(struct dns *d, struct dns_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&d->sync_mu);
		if (!p[i].pending) {
			pthread_mutex_unlock(&d->sync_mu);
			continue;
		}
		pthread_mutex_unlock(&d->sync_mu);
		if (ub_cancel(d->sync_ctx, p[i].id) == 0) {
			p[i].pending = false;   /* its callback never runs now */
			continue;
		}
		pthread_mutex_lock(&d->sync_mu);
		while (p[i].pending)
			pthread_cond_wait(&d->sync_cond, &d->sync_mu);
		pthread_mutex_unlock(&d->sync_mu);
	}
}

/* Sends the n parts' queries for name and waits for all of them, at most
 * the timeout.  Parts that time out keep res NULL. */
static void
resolve(struct dns *d, const char *name, struct dns_part *p, size_t n)
{
	uint64_t deadline = now_ms() + d->timeout_ms;
	struct timespec abs;
	int r;

	for (size_t i = 0; i < n; i++) {
		p[i].owner = d;
		p[i].pending = true;
		/* the callback may run on a pumping thread before this returns */
		r = ub_resolve_async(d->sync_ctx, name, p[i].rrtype, DNS_CLASS_IN, &p[i], on_answer, &p[i].id);
		if (r != 0) {
			pthread_mutex_lock(&d->sync_mu);
			p[i].err = r;
			p[i].pending = false;
			pthread_mutex_unlock(&d->sync_mu);
		}
	}
	pthread_mutex_lock(&d->sync_mu);
	while (any_pending(p, n)) {
		uint64_t now = now_ms();

		if (now >= deadline)
			break;
		if (!d->sync_pumping) {
			d->sync_pumping = true;
			pthread_mutex_unlock(&d->sync_mu);
			pump(d, deadline - now);
			pthread_mutex_lock(&d->sync_mu);
			d->sync_pumping = false;
			/* another waiter may take over the pump */
			pthread_cond_broadcast(&d->sync_cond);
			continue;
		}
		abs.tv_sec = (time_t)(deadline / 1000);
		abs.tv_nsec = (long)(deadline % 1000) * 1000000;
		pthread_cond_timedwait(&d->sync_cond, &d->sync_mu, &abs);
	}
	pthread_mutex_unlock(&d->sync_mu);
	cancel_pending(d, p, n);
}

int
dns_mx_sync(struct dns *d, const char *domain, struct dns_mx_list *out)
{
	struct dns_part p = { .rrtype = DNS_RR_MX };
	char name[DNS_NAME_MAX + 1];

	if (dns_name_check(domain, name) == -1)
		return -1;
	resolve(d, name, &p, 1);
	dns_result_mx(&p, out);
	dns_parts_free(&p, 1);
	return 0;
}

int
dns_addr_sync(struct dns *d, const char *qname, struct dns_addr_list *out)
{
	struct dns_part p[2] = { { .rrtype = DNS_RR_AAAA }, { .rrtype = DNS_RR_A } };
	char name[DNS_NAME_MAX + 1];

	if (dns_name_check(qname, name) == -1)
		return -1;
	resolve(d, name, p, 2);
	dns_result_addr(p, name, out);
	dns_parts_free(p, 2);
	return 0;
}

int
dns_txt_sync(struct dns *d, const char *qname, struct dns_txt_list *out)
{
	struct dns_part p = { .rrtype = DNS_RR_TXT };
	char name[DNS_NAME_MAX + 1];

	if (dns_name_check(qname, name) == -1)
		return -1;
	resolve(d, name, &p, 1);
	dns_result_txt(&p, out);
	dns_parts_free(&p, 1);
	return 0;
}

int
dns_tlsa_sync(struct dns *d, const char *qname, struct dns_tlsa_list *out)
{
	struct dns_part p = { .rrtype = DNS_RR_TLSA };
	char name[DNS_NAME_MAX + 1];

	if (dns_name_check(qname, name) == -1)
		return -1;
	resolve(d, name, &p, 1);
	dns_result_tlsa(&p, out);
	dns_parts_free(&p, 1);
	return 0;
}
