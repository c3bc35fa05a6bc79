/* Destinations of the delivery agent: one per recipient domain (or one
 * for the smarthost).  A destination finds its mail servers (MX in
 * preference order, then each one's addresses; no MX: the domain itself,
 * RFC 5321 5.1; a null MX, RFC 7505: nothing to try), opens up to
 * connections_per_domain SMTP sessions, and each session takes the jobs
 * waiting for that destination one after another, so one connection
 * carries many messages.  A session that cannot connect or greet moves
 * to the next address; when every address failed, the jobs waiting are
 * deferred with that error.  With tls = dane, each MX host's TLSA
 * records set its addresses' TLS policy (queue_dane.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_runner_private.h"

/* How a session's TLS policy is chosen. */
enum conn_how {
	CONN_POLICY,   /* the configured policy, then DANE or MTA-STS */
	CONN_PLAIN,    /* opportunistic TLS broke: plain text */
	CONN_NO_STS,   /* MTA-STS testing failed: as without the policy */
};

struct qconn {
	struct qdest *d;
	size_t addr_i;
	enum conn_how how;
	bool was_ready;
	struct qjob *job;
	struct mta_params params;
	struct mta_session *s;
};

static struct qdest *dests;

static void dest_kick(struct qdest *d);
static void conn_start(struct qdest *d, size_t addr_i, enum conn_how how);

struct qdest *
qdest_get(const char *domain)
{
	struct qdest *d;

	for (d = dests; d != NULL; d = d->next) {
		if (strcasecmp(d->domain, domain) == 0)
			return d;
	}
	d = xcalloc(1, sizeof(*d));
	snprintf(d->domain, sizeof(d->domain), "%s", domain);
	for (char *p = d->domain; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	d->next = dests;
	dests = d;
	return d;
}

static struct qjob *
take_job(struct qdest *d)
{
	struct qjob *j = d->head;

	if (j != NULL) {
		d->head = j->next;
		if (d->head == NULL)
			d->tail = NULL;
		d->n_waiting--;
		j->next = NULL;
	}
	return j;
}

/* A job ends with one reply for all its recipients, made up here. */
static void
fail_job(struct qjob *j, int code, const char *status, const char *text)
{
	static struct mta_reply r[QJOB_RCPT_MAX];   /* the delivery thread's only */

	for (size_t i = 0; i < j->n; i++) {
		r[i].code = code;
		snprintf(r[i].status, sizeof(r[i].status), "%s", status);
		snprintf(r[i].text, sizeof(r[i].text), "%s", text);
	}
	qrunner_job_done(j, r, NULL, false);
}

/* Every waiting job gets the same reply (a DNS or connection failure). */
static void
fail_waiting(struct qdest *d, int code, const char *status, const char *text)
{
	struct qjob *j;

	log_info("queue dest=%s failed waiting=%zu reply=%d %s %s", d->domain, d->n_waiting, code, status, text);
	while ((j = take_job(d)) != NULL)
		fail_job(j, code, status, text);
}

void
qdest_add_job(struct qdest *d, struct qjob *job)
{
	job->d = d;
	job->next = NULL;
	if (d->tail != NULL)
		d->tail->next = job;
	else
		d->head = job;
	d->tail = job;
	d->n_waiting++;
	dest_kick(d);
}

void
qdest_kick_all(void)
{
	for (struct qdest *d = dests; d != NULL && !qr.stopping; d = d->next) {
		if (d->n_waiting > 0)
			dest_kick(d);
	}
}

void
qdest_forget_all(void)
{
	for (struct qdest *d = dests; d != NULL; d = d->next) {
		if (d->st == QDEST_READY)
			d->st = QDEST_IDLE;
	}
}

void
qdest_free_all(void)
{
	struct qdest *d, *next;

	for (d = dests; d != NULL; d = next) {
		next = d->next;
		qdane_forget(d);
		free(d->mx);
		free(d);
	}
	dests = NULL;
	qsts_free_all();
}

/* ---- finding the servers ---- */

static void resolve_next_host(struct qdest *d);

/* The first address at or after from that may be used, or d->n_addr. */
static size_t
next_addr(const struct qdest *d, size_t from)
{
	while (from < d->n_addr && !(qdane_usable(&d->addr[from]) && qsts_usable(&d->addr[from])))
		from++;
	return from;
}

static void
add_addrs(struct qdest *d, const char *host, const struct dns_addr_list *res)
{
	for (size_t i = 0; i < res->n && d->n_addr < QDEST_ADDR_MAX; i++) {
		struct qaddr *a = &d->addr[d->n_addr++];

		memcpy(&a->sa, &res->addr[i], sizeof(a->sa));
		if (a->sa.ss_family == AF_INET6) {
			((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)qr.cfg->delivery.mx_port);
			a->len = sizeof(struct sockaddr_in6);
		} else {
			((struct sockaddr_in *)&a->sa)->sin_port = htons((uint16_t)qr.cfg->delivery.mx_port);
			a->len = sizeof(struct sockaddr_in);
		}
		snprintf(a->host, sizeof(a->host), "%s", host);
		a->sts = QADDR_STS_NONE;
	}
}

static void
resolved(struct qdest *d)
{
	free(d->mx);
	d->mx = NULL;
	if (d->n_addr == 0) {
		d->st = QDEST_IDLE;
		fail_waiting(d, 0, "4.4.4", "no address found for the mail servers of the domain");
		return;
	}
	if (next_addr(d, 0) == d->n_addr) {
		d->st = QDEST_IDLE;
		fail_waiting(d, 0, "4.7.5", "TLSA lookup failed for every mail server of the domain (DANE, RFC 7672 2.2.1)");
		return;
	}
	if (qsts_wanted(d)) {
		qsts_lookup(d);   /* qdest_sts_done follows */
		return;
	}
	d->st = QDEST_READY;
	dest_kick(d);
}

void
qdest_sts_done(struct qdest *d)
{
	if (qr.stopping)
		return;
	if (next_addr(d, 0) == d->n_addr) {
		d->st = QDEST_IDLE;
		fail_waiting(d, 0, "4.7.5",
		             "MTA-STS policy (enforce): no MX host of the domain matches the policy's mx (RFC 8461 4.1)");
		return;
	}
	d->st = QDEST_READY;
	dest_kick(d);
}

static void
on_tlsa(void *arg, const struct dns_tlsa_list *res)
{
	struct qdest *d = arg;

	qdane_apply(d, d->mx->mx[d->mx_i].host, d->host_first, res);
	d->mx_i++;
	resolve_next_host(d);
}

static void
on_addr(void *arg, const struct dns_addr_list *res)
{
	struct qdest *d = arg;
	const char *host = d->mx->mx[d->mx_i].host;

	if (res->status == DNS_OK) {
		d->host_first = d->n_addr;
		add_addrs(d, host, res);
		if (d->n_addr > d->host_first && qdane_wanted(d, res)) {
			qdane_lookup(d, host, on_tlsa);
			return;
		}
	} else if (d->mx->n == 1 && d->mx->mx[0].pref == UINT32_MAX && res->status == DNS_NXDOMAIN) {
		/* no MX and the domain has no address either */
		d->st = QDEST_IDLE;
		free(d->mx);
		d->mx = NULL;
		fail_waiting(d, 550, "5.1.2", "Domain not found");
		return;
	} else {
		log_info("queue dest=%s mx=%s address lookup: %s", d->domain, host, dns_status_name(res->status));
	}
	d->mx_i++;
	resolve_next_host(d);
}

static void
resolve_next_host(struct qdest *d)
{
	if (qr.stopping)
		return;
	if (d->mx_i >= d->mx->n || d->n_addr >= QDEST_ADDR_MAX) {
		resolved(d);
		return;
	}
	dns_addr_async(qr.dns, d->mx->mx[d->mx_i].host, on_addr, d);
}

static void
on_mx(void *arg, const struct dns_mx_list *res)
{
	struct qdest *d = arg;

	if (res->status == DNS_OK && res->null_mx) {
		d->st = QDEST_IDLE;
		fail_waiting(d, 556, "5.1.10", "Recipient address has null MX (RFC 7505): the domain accepts no mail");
		return;
	}
	if (res->status == DNS_NXDOMAIN) {
		d->st = QDEST_IDLE;
		fail_waiting(d, 550, "5.1.2", "Domain not found");
		return;
	}
	if (res->status != DNS_OK && res->status != DNS_NODATA) {
		char text[128];

		d->st = QDEST_IDLE;
		snprintf(text, sizeof(text), "MX lookup failed (%s)", dns_status_name(res->status));
		fail_waiting(d, 0, "4.4.3", text);
		return;
	}
	d->mx = xcalloc(1, sizeof(*d->mx));
	d->mx_secure = res->secure;   /* no MX: its denial; the addresses are checked too */
	if (res->status == DNS_OK) {
		memcpy(d->mx, res, sizeof(*d->mx));
	} else {
		/* RFC 5321 5.1: no MX, the domain itself is the one server
		 * (pref UINT32_MAX marks it so) */
		d->mx->n = 1;
		d->mx->mx[0].pref = UINT32_MAX;
		snprintf(d->mx->mx[0].host, sizeof(d->mx->mx[0].host), "%.*s", DNS_NAME_MAX, d->domain);
	}
	d->mx_i = 0;
	resolve_next_host(d);
}

/* "host:port" or "[host]:port" of the relay into host and port. */
static void
relay_split(const char *relay, char *host, size_t size, unsigned *port)
{
	const char *colon = strrchr(relay, ':');
	size_t len = colon != NULL ? (size_t)(colon - relay) : strlen(relay);

	if (len >= 2 && relay[0] == '[' && relay[len - 1] == ']') {
		relay++;
		len -= 2;
	}
	snprintf(host, size, "%.*s", (int)(len < size ? len : size - 1), relay);
	*port = colon != NULL ? (unsigned)strtoul(colon + 1, NULL, 10) : 25;
}

/* An address literal ("[192.0.2.1]", relay "192.0.2.1"): no DNS. */
static bool
literal_addr(struct qdest *d, const char *text, unsigned port, const char *host)
{
	struct dns_addr_list one = { .status = DNS_OK, .n = 1 };
	char buf[DNS_NAME_MAX + 8];
	size_t len = strlen(text);

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		snprintf(buf, sizeof(buf), "%.*s", (int)(len - 2), text + 1);
		text = buf;
		if (strncasecmp(text, "IPv6:", 5) == 0)
			text += 5;
	}
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&one.addr[0])->sin_addr) == 1)
		one.addr[0].ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&one.addr[0])->sin6_addr) == 1)
		one.addr[0].ss_family = AF_INET6;
	else
		return false;
	add_addrs(d, host, &one);
	for (size_t i = 0; i < d->n_addr; i++) {
		if (d->addr[i].sa.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&d->addr[i].sa)->sin6_port = htons((uint16_t)port);
		else
			((struct sockaddr_in *)&d->addr[i].sa)->sin_port = htons((uint16_t)port);
	}
	return true;
}

static void
on_relay_addr(void *arg, const struct dns_addr_list *res)
{
	struct qdest *d = arg;
	char host[DNS_NAME_MAX + 1];
	unsigned port;

	relay_split(qr.cfg->delivery.relay, host, sizeof(host), &port);
	if (res->status != DNS_OK)
		log_info("queue relay=%s address lookup: %s", host, dns_status_name(res->status));
	if (res->status == DNS_OK) {
		add_addrs(d, host, res);
		for (size_t i = 0; i < d->n_addr; i++) {
			if (d->addr[i].sa.ss_family == AF_INET6)
				((struct sockaddr_in6 *)&d->addr[i].sa)->sin6_port = htons((uint16_t)port);
			else
				((struct sockaddr_in *)&d->addr[i].sa)->sin_port = htons((uint16_t)port);
		}
	}
	resolved(d);
}

static void
resolve(struct qdest *d)
{
	char host[DNS_NAME_MAX + 1];
	unsigned port;

	d->st = QDEST_RESOLVING;
	qdane_forget(d);
	d->n_addr = 0;
	d->mx_secure = false;
	if (strcmp(d->domain, "[relay]") == 0) {
		relay_split(qr.cfg->delivery.relay, host, sizeof(host), &port);
		if (literal_addr(d, host, port, host)) {
			resolved(d);
			return;
		}
		dns_addr_async(qr.dns, host, on_relay_addr, d);
		return;
	}
	if (d->domain[0] == '[') {
		if (!literal_addr(d, d->domain, qr.cfg->delivery.mx_port, d->domain)) {
			d->st = QDEST_IDLE;
			fail_waiting(d, 550, "5.1.2", "Bad address literal");
			return;
		}
		resolved(d);
		return;
	}
	dns_mx_async(qr.dns, d->domain, on_mx, d);
}

/* ---- sessions ---- */

static void
dest_kick(struct qdest *d)
{
	if (qr.stopping || d->n_waiting == 0)
		return;
	if (d->st == QDEST_IDLE) {
		resolve(d);
		return;
	}
	if (d->st != QDEST_READY)
		return;
	while (d->n_waiting > d->sessions && d->sessions < qr.cfg->delivery.connections_per_domain &&
	       qr.sessions_total < qr.cfg->delivery.connections_total)
		conn_start(d, next_addr(d, 0), CONN_POLICY);
}

static void
on_ready(void *arg, struct mta_session *s)
{
	struct qconn *c = arg;
	struct qjob *j;

	c->was_ready = true;
	for (;;) {
		if (qr.stopping || (j = take_job(c->d)) == NULL) {
			mta_session_quit(s);
			return;
		}
		if (qrunner_job_open(j) == 0)
			break;
		fail_job(j, 0, "4.3.0", "cannot open the queued message");
	}
	c->job = j;
	mta_session_send(s, &j->msg);
}

static void
on_msg_done(void *arg, struct mta_session *s, const struct mta_msg *m, const struct mta_reply *per_rcpt)
{
	struct qconn *c = arg;
	struct qjob *j = c->job;

	c->job = NULL;
	if (j != NULL)
		qrunner_job_done(j, per_rcpt, c->d->addr[c->addr_i].host, mta_session_has(s, "DSN"));
}

static void
on_closed(void *arg, struct mta_session *s, const struct mta_reply *why, bool tls_failed)
{
	struct qconn *c = arg;
	struct qdest *d = c->d;

	d->sessions--;
	qr.sessions_total--;
	if (c->job != NULL) {
		struct mta_reply r[QJOB_RCPT_MAX];

		for (size_t i = 0; i < QJOB_RCPT_MAX; i++)
			r[i] = why != NULL ? *why : (struct mta_reply){ .code = 0, .status = "4.4.2", .text = "lost" };
		qrunner_job_done(c->job, r, d->addr[c->addr_i].host, false);
		c->job = NULL;
	}
	if (!c->was_ready && !qr.stopping && d->st == QDEST_READY) {
		const struct qaddr *a = &d->addr[c->addr_i];

		if (why != NULL)
			log_info("queue dest=%s host=%s peer=%s tls=%s failed: %d %s %s%s", d->domain,
			         d->addr[c->addr_i].host, mta_session_peer(s), mta_tls_policy_name(c->params.tls), why->code,
			         why->status, why->text, tls_failed ? " (tls)" : "");
		if (tls_failed && a->sts == QADDR_STS_TESTING && c->how == CONN_POLICY) {
			/* RFC 8461 5: testing reports and delivers anyway */
			log_info("queue dest=%s host=%s mta-sts=testing: the policy would have failed: %s", d->domain,
			         a->host, why != NULL ? why->text : "TLS failed");
			conn_start(d, c->addr_i, CONN_NO_STS);
		} else if (tls_failed && c->params.tls == MTA_TLS_OPPORTUNISTIC) {
			/* opportunistic TLS is no better than none when it
			 * breaks: say it, and deliver in plain text (Postfix);
			 * never for DANE, required or encrypt (RFC 7672 2.2) */
			conn_start(d, c->addr_i, CONN_PLAIN);
		} else if (next_addr(d, c->addr_i + 1) < d->n_addr) {
			conn_start(d, next_addr(d, c->addr_i + 1), CONN_POLICY);
		} else if (d->n_waiting > 0) {
			/* Every address failed: the destination is down for now.
			 * Everything waiting for it is deferred at once, even
			 * while other sessions are still connecting; otherwise
			 * each failure would start a new session, without end. */
			char text[MTA_REPLY_TEXT_MAX + DNS_NAME_MAX + 64];

			if (a->sts == QADDR_STS_ENFORCE && c->how == CONN_POLICY)
				snprintf(text, sizeof(text), "MTA-STS policy (enforce) of %s: %s", d->domain,
				         why != NULL ? why->text : "no server answered");
			else
				snprintf(text, sizeof(text), "%s", why != NULL ? why->text : "no server answered");
			d->st = QDEST_IDLE;
			if (why != NULL && why->code >= 500)
				fail_waiting(d, why->code, why->status[0] != '\0' ? why->status : "5.0.0", text);
			else
				fail_waiting(d, why != NULL ? why->code : 0,
				             why != NULL && why->status[0] != '\0' ? why->status : "4.4.1", text);
		}
	}
	free(c);
	if (d->n_waiting == 0 && d->sessions == 0 && d->st == QDEST_READY)
		d->st = QDEST_IDLE;   /* asked again on the next burst: DNS may change */
	qdest_kick_all();
}

static const struct mta_callbacks callbacks = {
	.ready = on_ready,
	.msg_done = on_msg_done,
	.closed = on_closed,
};

static void
conn_start(struct qdest *d, size_t addr_i, enum conn_how how)
{
	bool plain = how == CONN_PLAIN;
	const struct tern_config *cfg = qr.cfg;
	struct qconn *c = xcalloc(1, sizeof(*c));
	struct qaddr *a;

	if (addr_i >= d->n_addr || !qdane_usable(&d->addr[addr_i]) || !qsts_usable(&d->addr[addr_i]))
		panic("queue dest=%s: session to unusable address %zu of %zu", d->domain, addr_i, d->n_addr);
	a = &d->addr[addr_i];
	c->d = d;
	c->addr_i = addr_i;
	c->how = how;
	c->params.helo_name = cfg->delivery.helo_name[0] != '\0' ? cfg->delivery.helo_name : cfg->hostname;
	c->params.tls_name = a->host;
	c->params.tls_domain = d->domain;
	c->params.ca_file = cfg->delivery.ca_file[0] != '\0' ? cfg->delivery.ca_file : NULL;
	if (plain)
		c->params.tls = MTA_TLS_NONE;
	else if (cfg->delivery.tls == DELIVERY_TLS_REQUIRED)
		c->params.tls = MTA_TLS_REQUIRED;
	else
		c->params.tls = MTA_TLS_OPPORTUNISTIC;
	if (!plain)
		qdane_params(a, &c->params);
	if (how == CONN_POLICY)
		qsts_params(a, &c->params);
	if (strcmp(d->domain, "[relay]") == 0 && cfg->delivery.relay_user[0] != '\0') {
		/* a password goes only to the relay it is for: over TLS with
		 * its certificate checked, never in plain text */
		c->params.tls = MTA_TLS_REQUIRED;
		c->params.auth_user = cfg->delivery.relay_user;
		c->params.auth_pass = cfg->delivery.relay_password;
	}
	d->sessions++;
	qr.sessions_total++;
	c->s = mta_session_connect(qr.loop, (const struct sockaddr *)&a->sa, a->len, &c->params, &callbacks, c);
	if (c->s == NULL) {
		/* out of sockets: nothing more to try for now */
		log_warnx("queue dest=%s cannot make a socket: %s", d->domain, strerror(errno));
		d->sessions--;
		qr.sessions_total--;
		free(c);
		if (d->sessions == 0)
			fail_waiting(d, 0, "4.3.0", "cannot make a socket");
	}
}
