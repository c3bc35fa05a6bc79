/* MTA-STS (RFC 8461) in the delivery agent.  For a recipient domain whose
 * MX hosts DANE does not cover (2: DANE wins), once its addresses are
 * known:
 *   1. TXT _mta-sts.<domain> (3.1), on the loop;
 *   2. the policy in memory if its id is the record's and it has not
 *      expired (fetched_at + max_age); with no record, any unexpired
 *      cached policy (5.1: the record only announces changes);
 *   3. otherwise a job on a worker: the file data_dir/mta-sts/<domain>
 *      (a restart keeps policies), then, if the record's id differs or
 *      the policy expired, https://mta-sts.<domain>/.well-known/mta-sts.txt
 *      (3.3: no redirects, the certificate verified for that name with
 *      [delivery] ca_file or the system's store, at most 64 KiB in 10 s,
 *      200 and text/plain).  The host's address comes from our own
 *      resolver (CURLOPT_RESOLVE), on [delivery] mta_sts_port.  A fetch
 *      that fails leaves an unexpired cached policy in force (3.3, 5.1);
 *      with none, the domain has no policy.
 * Then per address (4.1, 5): enforce -> hosts not matching an mx pattern
 * are not used, matching ones need TLS with a certificate valid for the
 * MX host name, any failure is temporary, never a downgrade; testing ->
 * the same checks, failures logged, delivery as without a policy; none ->
 * nothing.  Not done: TLS-RPT (RFC 8460), refreshing policies before
 * they expire (5.1 SHOULD), evicting cached policies of idle domains. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_runner_private.h"
#include "queue/queue_sts_policy.h"

/* One domain's policy as last seen, on the delivery thread only. */
struct sts_cached {
	struct sts_cached *next;
	char domain[DNS_NAME_MAX + 3];
	struct sts_policy *policy;   /* NULL: none known (the disk was read) */
	char id[STS_ID_MAX + 1];
	int64_t fetched_at;
};

static struct sts_cached *cache;
static unsigned in_flight;   /* written on the loop, read by queue_runner_stop */

/* A worker's job: the disk, then maybe a fetch. */
struct sts_job {
	struct qdest *d;
	char domain[DNS_NAME_MAX + 3];
	char txt_id[STS_ID_MAX + 1];   /* "": no usable record */
	bool read_disk;                /* no entry in memory yet */
	struct sts_policy *policy;     /* in: the memory copy or NULL; out: the one to use or NULL */
	char id[STS_ID_MAX + 1];
	int64_t fetched_at;
	const char *source;            /* "memory", "disk", "fetched" */
	char error[600];               /* the fetch failed: why (the URL, then the reason) */
};

static int64_t
now_sec(void)
{
	return (int64_t)time(NULL);
}

static bool
valid(const struct sts_policy *p, int64_t fetched_at)
{
	return p != NULL && fetched_at + (int64_t)p->max_age > now_sec();
}

/* Names used as file names: what DNS allows, nothing else. */
static bool
safe_name(const char *s)
{
	if (s[0] == '\0' || s[0] == '.')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return false;
	}
	return true;
}

/* ---- the worker's side ---- */

static void
load_disk(struct sts_job *j)
{
	char path[PATH_MAX + 300], *buf = NULL;
	const char *error;
	struct stat st;
	ssize_t n;
	int fd;

	if (!safe_name(j->domain))
		return;
	snprintf(path, sizeof(path), "%s/mta-sts/%s", qr.cfg->data_dir, j->domain);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return;
	if (fstat(fd, &st) == -1 || st.st_size > STS_POLICY_MAX + 256)
		goto out;
	buf = xmalloc((size_t)st.st_size + 1);
	if ((n = read(fd, buf, (size_t)st.st_size)) != st.st_size)
		goto out;
	j->policy = xmalloc(sizeof(*j->policy));
	if (queue_sts_cache_parse(buf, (size_t)n, &j->fetched_at, j->id, j->policy, &error) == -1) {
		log_warnx("queue dest=%s mta-sts cache %s ignored: %s", j->domain, path, error);
		free(j->policy);
		j->policy = NULL;
	}
out:
	free(buf);
	close(fd);
}

static void
save_disk(const struct sts_job *j, const char *body, size_t len)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300], tmp[PATH_MAX + 310];
	char *text;
	size_t tlen;
	int fd;

	if (!safe_name(j->domain))
		return;
	snprintf(dir, sizeof(dir), "%s/mta-sts", qr.cfg->data_dir);
	snprintf(path, sizeof(path), "%s/%s", dir, j->domain);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("queue dest=%s mta-sts: %s", j->domain, dir);
		return;
	}
	text = queue_sts_cache_format(j->fetched_at, j->id, body, len);
	tlen = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || write(fd, text, tlen) != (ssize_t)tlen || fsync(fd) == -1 || close(fd) == -1 ||
	    rename(tmp, path) == -1) {
		log_warn("queue dest=%s mta-sts: cannot write %s", j->domain, path);
		if (fd != -1)
			close(fd);
		unlink(tmp);
	}
	free(text);
}

struct body {
	char *data;
	size_t len;
	bool too_big;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (n > STS_POLICY_MAX - b->len) {
		b->too_big = true;
		return 0;   /* CURLE_WRITE_ERROR */
	}
	b->data = xrealloc(b->data, b->len + n + 1);
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* A shutdown ends a fetch at once rather than after its timeout. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return __atomic_load_n(&qr.stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void
curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool
text_plain(const char *ct)
{
	return ct != NULL && strncasecmp(ct, "text/plain", 10) == 0 &&
	       (ct[10] == '\0' || ct[10] == ';' || ct[10] == ' ' || ct[10] == '\t');
}

/* "mta-sts.<domain>:<port>:<addr>,<addr>..." for CURLOPT_RESOLVE: the
 * addresses our resolver (the tests' DNS server) gave. */
static void
resolve_entry(const char *host, unsigned port, const struct dns_addr_list *a, char *out, size_t size)
{
	size_t o = (size_t)snprintf(out, size, "%s:%u:", host, port);

	for (size_t i = 0; i < a->n && o < size; i++) {
		char ip[INET6_ADDRSTRLEN];

		if (a->addr[i].ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->addr[i])->sin6_addr, ip, sizeof(ip));
			o += (size_t)snprintf(out + o, size - o, "%s[%s]", i > 0 ? "," : "", ip);
		} else {
			inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->addr[i])->sin_addr, ip, sizeof(ip));
			o += (size_t)snprintf(out + o, size - o, "%s%s", i > 0 ? "," : "", ip);
		}
	}
}

/* Fetches the policy file; returns 0 with the body (malloc'd), or -1
 * with j->error set. */
static int
fetch(struct sts_job *j, struct body *b)
{
	unsigned port = qr.cfg->delivery.mta_sts_port;
	const char *ca = qr.cfg->delivery.ca_file[0] != '\0' ? qr.cfg->delivery.ca_file : NULL;
	char host[DNS_NAME_MAX + 16], url[DNS_NAME_MAX + 64], entry[DNS_NAME_MAX + 32 + DNS_ADDR_MAX * 48];
	struct dns_addr_list *addrs = xmalloc(sizeof(*addrs));
	struct curl_slist *resolve = NULL;
	char *ct = NULL;
	long status = 0;
	CURLcode rc;
	CURL *c = NULL;
	int ret = -1;

	snprintf(host, sizeof(host), "mta-sts.%s", j->domain);
	if (dns_addr_sync(qr.dns, host, addrs) == -1 || addrs->status != DNS_OK) {
		snprintf(j->error, sizeof(j->error), "address of %s: %s", host,
		         dns_status_name(addrs->status == DNS_OK ? DNS_PERMFAIL : addrs->status));
		goto out;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK || (c = curl_easy_init()) == NULL) {
		snprintf(j->error, sizeof(j->error), "libcurl initialisation failed");
		goto out;
	}
	resolve_entry(host, port, addrs, entry, sizeof(entry));
	resolve = curl_slist_append(NULL, entry);
	snprintf(url, sizeof(url), "https://%s:%u/.well-known/mta-sts.txt", host, port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);   /* 3.3: no redirects */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)STS_FETCH_TIMEOUT_SEC);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)STS_POLICY_MAX);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tern");
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(j->error, sizeof(j->error), "%s: %s", url,
		         b->too_big ? "policy larger than 64 KiB" : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (status != 200) {
		snprintf(j->error, sizeof(j->error), "%s: HTTP status %ld", url, status);
		goto out;
	}
	if (!text_plain(ct)) {
		snprintf(j->error, sizeof(j->error), "%s: Content-Type %s, not text/plain", url, ct != NULL ? ct : "none");
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(resolve);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(addrs);
	if (ret == -1) {
		free(b->data);
		b->data = NULL;
	}
	return ret;
}

static void
job_work(void *arg)
{
	struct sts_job *j = arg;
	struct sts_policy *p;
	struct body b = { 0 };
	const char *error;

	if (j->read_disk) {
		load_disk(j);
		j->source = "disk";
	}
	if (j->policy != NULL && !valid(j->policy, j->fetched_at)) {
		free(j->policy);   /* expired: of no use, not even after a failed fetch */
		j->policy = NULL;
	}
	if (j->policy != NULL && (j->txt_id[0] == '\0' || strcmp(j->id, j->txt_id) == 0))
		return;
	if (j->txt_id[0] == '\0')
		return;   /* no record, nothing cached: no policy */
	if (fetch(j, &b) == -1)
		return;   /* j->policy: the cached one, or none */
	p = xmalloc(sizeof(*p));
	if (queue_sts_policy_parse(b.data, b.len, p, &error) == -1) {
		snprintf(j->error, sizeof(j->error), "policy of mta-sts.%s: %s", j->domain, error);
		free(p);
		free(b.data);
		return;
	}
	free(j->policy);
	j->policy = p;
	snprintf(j->id, sizeof(j->id), "%s", j->txt_id);
	j->fetched_at = now_sec();
	j->source = "fetched";
	save_disk(j, b.data, b.len);
	free(b.data);
}

/* ---- the loop's side ---- */

static struct sts_cached *
cached(const char *domain)
{
	for (struct sts_cached *c = cache; c != NULL; c = c->next) {
		if (strcmp(c->domain, domain) == 0)
			return c;
	}
	return NULL;
}

bool
qsts_wanted(const struct qdest *d)
{
	if (strcmp(d->domain, "[relay]") == 0 || d->domain[0] == '[')
		return false;
	for (size_t i = 0; i < d->n_addr; i++) {
		if (d->addr[i].dane != QADDR_DANE_NONE)
			return false;
	}
	return true;
}

/* Sets each address's state from the policy p (may be NULL); logs. */
static void
apply(struct qdest *d, const struct sts_policy *p, const char *id, const char *source)
{
	const char *prev = NULL;

	if (p == NULL)
		return;
	log_info("queue dest=%s mta-sts=%s id=%s source=%s max_age=%u mx=%zu", d->domain,
	         queue_sts_mode_name(p->mode), id, source, (unsigned)p->max_age, p->n_mx);
	if (p->mode == STS_MODE_NONE)
		return;
	for (size_t i = 0; i < d->n_addr; i++) {
		struct qaddr *a = &d->addr[i];
		bool match = queue_sts_mx_match(p, a->host);

		if (p->mode == STS_MODE_ENFORCE)
			a->sts = match ? QADDR_STS_ENFORCE : QADDR_STS_MISMATCH;
		else
			a->sts = match ? QADDR_STS_TESTING : QADDR_STS_NONE;
		if (!match && (prev == NULL || strcmp(prev, a->host) != 0)) {
			if (p->mode == STS_MODE_ENFORCE)
				log_info("queue dest=%s host=%s mta-sts=enforce: not in the policy's mx, not used "
				         "(RFC 8461 4.1)", d->domain, a->host);
			else
				log_info("queue dest=%s host=%s mta-sts=testing: the policy would have failed: not in "
				         "the policy's mx", d->domain, a->host);
		}
		prev = a->host;
	}
}

static void
job_done(void *arg)
{
	struct sts_job *j = arg;
	struct sts_cached *c;

	__atomic_sub_fetch(&in_flight, 1, __ATOMIC_RELEASE);
	if (qr.stopping) {
		free(j->policy);
		free(j);
		return;
	}
	if ((c = cached(j->domain)) == NULL) {
		c = xcalloc(1, sizeof(*c));
		snprintf(c->domain, sizeof(c->domain), "%s", j->domain);
		c->next = cache;
		cache = c;
	}
	if (c->policy != j->policy) {
		free(c->policy);
		c->policy = j->policy;
	}
	snprintf(c->id, sizeof(c->id), "%s", j->id);
	c->fetched_at = j->fetched_at;
	if (j->error[0] != '\0')
		log_info("queue dest=%s mta-sts fetch failed: %s; %s", j->domain, j->error,
		         c->policy != NULL ? "the cached policy stays in force (RFC 8461 5.1)" : "no policy");
	else if (c->policy != NULL && strcmp(j->source, "fetched") == 0)
		log_info("queue dest=%s mta-sts fetched id=%s mode=%s", j->domain, c->id,
		         queue_sts_mode_name(c->policy->mode));
	apply(j->d, c->policy, c->id, j->error[0] != '\0' ? "cache" : j->source);
	qdest_sts_done(j->d);
	free(j);
}

static void
on_txt(void *arg, const struct dns_txt_list *res)
{
	struct qdest *d = arg;
	struct sts_cached *c = cached(d->domain);
	char id[STS_ID_MAX + 1] = "";
	struct sts_job *j;

	if (qr.stopping)
		return;
	if (res->status == DNS_OK) {
		const char *recs[DNS_TXT_MAX], *error;

		for (size_t i = 0; i < res->n; i++)
			recs[i] = res->txt[i];
		if (queue_sts_txt_parse(recs, res->n, id, &error) == -1) {
			if (strcmp(error, "no STSv1 record") != 0)
				log_info("queue dest=%s mta-sts record ignored: %s", d->domain, error);
			id[0] = '\0';
		}
	} else if (res->status != DNS_NXDOMAIN && res->status != DNS_NODATA) {
		log_info("queue dest=%s mta-sts record lookup: %s", d->domain, dns_status_name(res->status));
	}
	if (c != NULL) {
		bool ok = valid(c->policy, c->fetched_at);

		if (id[0] == '\0' || (ok && strcmp(c->id, id) == 0)) {
			/* 5.1: without a record, an unexpired cached policy holds */
			apply(d, ok ? c->policy : NULL, c->id, "memory");
			qdest_sts_done(d);
			return;
		}
	}
	j = xcalloc(1, sizeof(*j));
	j->d = d;
	snprintf(j->domain, sizeof(j->domain), "%s", d->domain);
	snprintf(j->txt_id, sizeof(j->txt_id), "%s", id);
	j->source = "memory";
	if (c == NULL) {
		j->read_disk = true;
	} else if (c->policy != NULL) {
		j->policy = xmalloc(sizeof(*j->policy));
		memcpy(j->policy, c->policy, sizeof(*j->policy));
		snprintf(j->id, sizeof(j->id), "%s", c->id);
		j->fetched_at = c->fetched_at;
	}
	__atomic_add_fetch(&in_flight, 1, __ATOMIC_RELEASE);
	evloop_defer(qr.loop, job_work, job_done, j);
}

void
qsts_lookup(struct qdest *d)
{
	char name[DNS_NAME_MAX + 16];

	/* too long for DNS: DNS_PERMFAIL, as no record */
	snprintf(name, sizeof(name), "_mta-sts.%s", d->domain);
	dns_txt_async(qr.dns, name, on_txt, d);
}

bool
qsts_usable(const struct qaddr *a)
{
	return a->sts != QADDR_STS_MISMATCH;
}

void
qsts_params(const struct qaddr *a, struct mta_params *p)
{
	if (a->sts == QADDR_STS_ENFORCE || a->sts == QADDR_STS_TESTING)
		p->tls = MTA_TLS_REQUIRED;
}

unsigned
qsts_in_flight(void)
{
	return __atomic_load_n(&in_flight, __ATOMIC_ACQUIRE);
}

void
qsts_free_all(void)
{
	while (cache != NULL) {
		struct sts_cached *c = cache;

		cache = c->next;
		free(c->policy);
		free(c);
	}
}
