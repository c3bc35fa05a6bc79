/* tern serve: listeners, event loop threads, signals, graceful stop. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/auth.h"
#include "http/http.h"
#include "imap/imap.h"
#include "imap/imap_session.h"
#include "lib/conn.h"
#include "lib/evloop.h"
#include "lib/limits.h"
#include "lib/lockfile.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/reserve.h"
#include "lib/source_count.h"
#include "lib/str.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "mta/mta.h"
#include "mailauth/mailauth.h"
#include "pop3/pop3.h"
#include "server/listener.h"
#include "server/maint.h"
#include "queue/queue_runner.h"
#include "server/server.h"
#include "srs/srs.h"
#include "smtp/smtp.h"
#include "store/store_fts.h"
#include "store/store_maint.h"

#define SHUTDOWN_GRACE_SEC 30

struct listener {
	int fd;
	struct listener_ctx ctx;
	const struct conn_handler *handler;
	bool implicit_tls;
};

struct loop_thread {
	struct evloop *loop;
	pthread_t thread;
};

struct server {
	const struct tern_config *cfg;
	struct tls_server *tls;
	struct listener listeners[SERVICE_COUNT];
	size_t nlisteners;
	struct loop_thread *loops;
	unsigned nloops;
};

/* An accept watcher: one per (loop, listener). */
struct acceptor {
	struct server *srv;
	struct evloop *loop;
	struct listener *l;
};

static const struct conn_handler *
handler_for(enum service s)
{
	switch (s) {
	case SERVICE_SMTP:
	case SERVICE_SUBMISSION:
	case SERVICE_SUBMISSIONS:
		return &smtp_conn_handler;
	case SERVICE_POP3:
	case SERVICE_POP3S:
		return &pop3_conn_handler;
	case SERVICE_IMAP:
	case SERVICE_IMAPS:
		return &imap_conn_handler;
	case SERVICE_HTTP:
	case SERVICE_HTTPS:
		return &http_conn_handler;
	default:
		return NULL;
	}
}

/* A listener that cannot open: say which service and address, and what
 * an operator does about the two usual causes. */
static void
listen_explain(const char *name, const struct listen_config *lc, int err)
{
	const char *host = lc->host[0] != '\0' ? lc->host : "*";
	bool v6 = strchr(host, ':') != NULL;
	char addr[300];

	snprintf(addr, sizeof(addr), v6 ? "[%s]:%s" : "%s:%s", host, lc->port);
	if (err == EADDRINUSE)
		log_error("listen %s %s: %s: another process holds this address; find it with "
		          "\"ss -ltnp 'sport = :%s'\", stop it or change [listen] %s",
		          name, addr, strerror(err), lc->port, name);
	else if (err == EACCES && atoi(lc->port) < 1024 && geteuid() != 0)
		log_error("listen %s %s: %s: port %s is below 1024 and needs root or CAP_NET_BIND_SERVICE: "
		          "start as root with [server] user set (the server drops to it after binding), "
		          "or grant the capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)",
		          name, addr, strerror(err), lc->port);
	else if (err == EADDRNOTAVAIL)
		log_error("listen %s %s: %s: no interface of this machine has that address; change [listen] %s",
		          name, addr, strerror(err), name);
	else
		log_error("listen %s %s: %s", name, addr, strerror(err));
}

static int
listen_on(const struct listen_config *lc, const char *name)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	int fd = -1, one = 1, r;

	r = getaddrinfo(lc->host[0] != '\0' ? lc->host : NULL, lc->port, &hints, &res);
	if (r != 0) {
		log_error("listen %s %s:%s: %s", name, lc->host, lc->port, gai_strerror(r));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, NET_LISTEN_BACKLOG) == -1) {
		listen_explain(name, lc, errno);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The table behind [limits] max_connections_per_ip: process-wide, as
 * connections are freed on whichever loop thread owns them. */
static struct source_count *server_sources;

/* Connections accepted and not yet freed: in total ([limits]
 * max_connections) and per service with a budget of its own
 * (max_connections_smtp).  Taken at accept with a compare-and-swap, so
 * that loops accepting at once never pass a limit together. */
static atomic_uint conns_total;
static atomic_uint conns_service[SERVICE_COUNT];

/* What a connection holds until it is freed. */
struct conn_ticket {
	struct source_slot *slot;
	atomic_uint *service;           /* NULL: its service has no budget */
	enum service svc;
};

/* Takes one of max places in *n; false if all are taken. */
static bool
budget_take(atomic_uint *n, unsigned max)
{
	unsigned cur = atomic_load(n);

	do {
		if (cur >= max)
			return false;
	} while (!atomic_compare_exchange_weak(n, &cur, cur + 1));
	return true;
}

/* A service's own budget; 0: it only shares max_connections.  Port 25 has
 * one because it never authenticates: anyone may hold its connections
 * (on the other services, connections not logged in are bounded by
 * max_unauthenticated and auth_timeout). */
static unsigned
service_budget(const struct tern_config *cfg, enum service s)
{
	return s == SERVICE_SMTP ? cfg->max_connections_smtp : 0;
}

/* A connection refused at accept gets one line in its protocol (a plain
 * close on the implicit-TLS ports: no handshake is spent on it).  The
 * socket is new and its buffer empty, so the line goes out at once or
 * not at all. */
static void
refuse(const struct acceptor *a, int fd, const char *why)
{
	char line[DOMAIN_MAX + 128];
	size_t n = 0;

	if (!a->l->implicit_tls && a->l->handler->refusal != NULL)
		n = a->l->handler->refusal(&a->l->ctx, why, line, sizeof(line));
	if (n > 0 && n < sizeof(line) && send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the client has gone already: nothing to tell it */
	}
	close(fd);
}

static void
release_ticket(void *arg)
{
	struct conn_ticket *t = arg;

	source_count_release(server_sources, t->slot);
	if (t->service != NULL)
		atomic_fetch_sub(t->service, 1);
	atomic_fetch_sub(&conns_total, 1);
	metrics_conn_close(t->svc);
	free(t);
}

static void
on_accept(void *arg, uint32_t events)
{
	struct acceptor *a = arg;
	const struct tern_config *cfg = a->srv->cfg;

	for (int i = 0; i < 64; i++) {
		int one = 1;
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		struct source_slot *slot;
		struct conn_ticket *ticket;
		atomic_uint *service = NULL;
		enum service svc = a->l->ctx.service;
		unsigned held, budget = service_budget(cfg, svc);
		int fd = accept4(a->l->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept %s", config_service_name(a->l->ctx.service));
			return;
		}
		if (!budget_take(&conns_total, cfg->max_connections)) {
			log_warnx("%s refused: max_connections=%u reached", config_service_name(svc),
			          cfg->max_connections);
			refuse(a, fd, "Too many connections, try again later");
			continue;
		}
		if (budget > 0) {
			service = &conns_service[svc];
			if (!budget_take(service, budget)) {
				atomic_fetch_sub(&conns_total, 1);
				log_warnx("%s refused: max_connections_%s=%u reached", config_service_name(svc),
				          config_service_name(svc), budget);
				refuse(a, fd, "Too many connections, try again later");
				continue;
			}
		}
		/* Every service counts: an MTA's parallel deliveries stay far
		 * below the default, a flood from one host does not. */
		slot = source_count_acquire(server_sources, (struct sockaddr *)&ss, cfg->max_connections_per_ip, &held);
		if (slot == NULL) {
			char peer[INET6_ADDRSTRLEN] = "?";

			atomic_fetch_sub(&conns_total, 1);
			if (service != NULL)
				atomic_fetch_sub(service, 1);
			if (ss.ss_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, peer, sizeof(peer));
			else if (ss.ss_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, peer, sizeof(peer));
			log_info("%s refused peer=%s reason=max_connections_per_ip connections=%u",
			         config_service_name(a->l->ctx.service), peer, held);
			refuse(a, fd, "Too many connections from your address");
			continue;
		}
		/* Replies are already batched per event: no Nagle delay. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ticket = xmalloc(sizeof(*ticket));
		ticket->slot = slot;
		ticket->service = service;
		ticket->svc = svc;
		metrics_conn_open(svc);
		conn_new_tracked(a->loop, fd, a->l->handler, &a->l->ctx, a->srv->tls, a->l->implicit_tls,
		                 release_ticket, ticket);
	}
}

static void *
loop_main(void *arg)
{
	struct loop_thread *lt = arg;

	evloop_run(lt->loop);
	/* A proxy's hops to its back ends made TLS contexts on this loop. */
	mta_tls_thread_end();
	return NULL;
}

static atomic_uint acceptors_stopped;

static void
stop_accepting(void *arg)
{
	struct acceptor *a = arg;

	evloop_del(a->loop, a->l->fd);
	atomic_fetch_add(&acceptors_stopped, 1);
}

/* Shutdown sweeps, run on each loop: idle sessions are closed at once,
 * busy ones (a message arriving) on a later sweep once they are done. */
static atomic_uint sessions_left;

static void
sweep_connections(void *unused)
{
	atomic_fetch_add(&sessions_left, conn_close_idle(false));
}

static void
close_all_connections(void *unused)
{
	conn_close_idle(true);
}

static int
open_listeners(struct server *srv)
{
	const struct tern_config *cfg = srv->cfg;

	for (int s = 0; s < SERVICE_COUNT; s++) {
		const struct listen_config *lc = &cfg->listen[s];
		const char *name = config_service_name((enum service)s);
		struct listener *l;

		if (!lc->enabled)
			continue;
		if (!config_service_enabled(cfg, (enum service)s)) {
			log_info("listen %s: service switched off in the configuration, not listening", name);
			continue;
		}
		if (handler_for((enum service)s) == NULL) {
			log_warnx("listen %s: not implemented yet, not listening", name);
			continue;
		}
		if (lc->implicit_tls && srv->tls == NULL) {
			log_error("listen %s: needs [tls] cert and key", name);
			return -1;
		}
		l = &srv->listeners[srv->nlisteners];
		l->fd = listen_on(lc, name);
		if (l->fd == -1)
			return -1;
		l->ctx.cfg = cfg;
		l->ctx.service = (enum service)s;
		l->handler = handler_for((enum service)s);
		l->implicit_tls = lc->implicit_tls;
		srv->nlisteners++;
		log_info("listening service=%s address=%s:%s tls=%s", name, lc->host, lc->port,
		         lc->implicit_tls ? "implicit" : srv->tls != NULL && s != SERVICE_HTTP ? "starttls" : "none");
	}
	return 0;
}

/* Waits (at most SHUTDOWN_GRACE_SEC) until no job is in flight and every
 * session that was receiving a message has finished and been closed. */
static void
finish_in_flight(struct server *srv)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (int i = 0; i < SHUTDOWN_GRACE_SEC * 50; i++) {
		atomic_store(&sessions_left, 0);
		for (unsigned l = 0; l < srv->nloops; l++)
			evloop_post(srv->loops[l].loop, sweep_connections, NULL);
		nanosleep(&ts, NULL);
		/* The sweeps posted above have run by now unless a loop is
		 * very busy; then the counts are simply checked again. */
		if (atomic_load(&sessions_left) == 0 && conn_jobs_in_flight() == 0 && conn_count() == 0)
			return;
	}
	log_warnx("shutdown: %u connections still busy after %d s, closing them", conn_count(), SHUTDOWN_GRACE_SEC);
}

/* The TLS contexts from [tls]: the default certificate, cipher lists and
 * the SNI certificates ("cert:key, cert:key", checked by config). */
static int
tls_start(struct server *srv, char **error_out)
{
	srv->tls = config_tls_server_new(srv->cfg, error_out);
	if (srv->tls == NULL) {
		log_error("tls: %s", *error_out);
		return -1;
	}
	return 0;
}

/* A fresh install starts with no data_dir: make it (0700, parents too),
 * owned by [server] user when root will hand over to that user. */
static int
ensure_data_dir(const struct tern_config *cfg)
{
	char path[PATH_MAX];
	struct passwd *pw;
	bool made = false;

	if (str_lcpy(path, cfg->data_dir, sizeof(path)) >= sizeof(path))
		return -1;
	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == 0)
			made = true;
		else if (errno != EEXIST) {
			log_error("data_dir %s: cannot create %s: %s", cfg->data_dir, path, strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (made && cfg->user[0] != '\0' && geteuid() == 0 && (pw = getpwnam(cfg->user)) != NULL &&
	    chown(cfg->data_dir, pw->pw_uid, pw->pw_gid) != 0) {
		log_error("data_dir %s: chown to %s: %s", cfg->data_dir, cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}

/* [server] user: started as root, become that user (and its groups only)
 * once the ports are bound and the keys read.  Checked afterwards: root
 * cannot be regained, and data_dir must be writable. */
static int
drop_privileges(const struct tern_config *cfg)
{
	struct passwd *pw;

	if (cfg->user[0] == '\0')
		return 0;
	if (geteuid() != 0) {
		log_warnx("not started as root: [server] user = %s has no effect", cfg->user);
		return 0;
	}
	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		log_error("[server] user %s: no such user", cfg->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error("[server] user %s is root: choose an unprivileged user", cfg->user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_error("cannot become %s: %s", cfg->user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		log_error("privileges could be regained after dropping them: refusing to run");
		return -1;
	}
	if (access(cfg->data_dir, R_OK | W_OK | X_OK) != 0) {
		log_error("data_dir %s is not usable by %s (%s): chown -R %s %s", cfg->data_dir, cfg->user,
		          strerror(errno), cfg->user, cfg->data_dir);
		return -1;
	}
	log_info("privileges dropped user=%s uid=%u gid=%u", cfg->user, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

/* Data written by another user (a tern command run as root before it
 * gave files to [server] user, or a copy restored as root) would fail
 * later, one write at a time ("attempt to write a readonly database"):
 * say so now, in one line, and stop.  Checks directory.db with its -wal
 * and -shm, and the entries at the top of data_dir (not every message). */
static int
check_data_writable(const struct tern_config *cfg)
{
	char path[PATH_MAX], first[PATH_MAX] = "";
	struct passwd *pw = getpwuid(geteuid());
	struct dirent *de;
	struct stat sb;
	unsigned bad = 0;
	uid_t owner = 0;
	mode_t mode = 0;
	DIR *d;

	d = opendir(cfg->data_dir);
	if (d == NULL)
		return 0;   /* made or refused elsewhere */
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, de->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &sb) != 0 || S_ISLNK(sb.st_mode))
			continue;
		if (access(path, S_ISDIR(sb.st_mode) ? R_OK | W_OK | X_OK : R_OK | W_OK) == 0)
			continue;
		if (bad++ == 0) {
			str_lcpy(first, path, sizeof(first));
			owner = sb.st_uid;
			mode = sb.st_mode & 07777;
		}
	}
	closedir(d);
	if (bad == 0)
		return 0;
	log_error("data file %s (owner uid %u, mode %04o)%s cannot be written by %s (uid %u): "
	          "chown -R %s %s and chmod go-rwx it, then start again",
	          first, (unsigned)owner, (unsigned)mode, bad > 1 ? " and others" : "",
	          pw != NULL ? pw->pw_name : "this user",
	          (unsigned)geteuid(), pw != NULL ? pw->pw_name : "USER", cfg->data_dir);
	return -1;
}

/* Every connection is a descriptor: take all the kernel allows us
 * (the soft limit is often 1024, far below max_connections). */
static void
raise_fd_limit(const struct tern_config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)cfg->max_connections + 64)
		log_warnx("open file limit %llu is below max_connections=%u: raise it (ulimit -n, LimitNOFILE=)",
		          (unsigned long long)rl.rlim_cur, cfg->max_connections);
}

int
server_run(const struct tern_config *cfg)
{
	struct server srv = { .cfg = cfg };
	struct acceptor *acceptors;
	sigset_t sigs;
	char *error = NULL;
	int status = 0, sig, lock_fd = -1;

	/* Signals go to this thread only, through sigwait below; blocked
	 * before the ports open, so a SIGTERM that comes as soon as a client
	 * can connect is a clean stop, not a kill (threads started from here
	 * on inherit the mask). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	log_set_level((enum log_level)cfg->log_level);
	raise_fd_limit(cfg);
	/* Mail, indexes and the penalty state are nobody else's business. */
	umask(077);
	/* As root: bind the ports and read the keys, then become the
	 * unprivileged user before opening any data file. */
	if (cfg->tls_cert[0] != '\0' && tls_start(&srv, &error) == -1)
		goto fail;
	/* The secret proxies and back ends share is one of the keys. */
	if (auth_proxy_start(cfg, &error) == -1) {
		log_error("proxy: %s", error);
		goto fail;
	}
	if (open_listeners(&srv) == -1 || ensure_data_dir(cfg) == -1 || drop_privileges(cfg) == -1 ||
	    check_data_writable(cfg) == -1)
		goto fail;
	/* One server per data_dir; tern restore takes the same lock. */
	{
		const char *lerr = NULL;
		int lr = lockfile_take(cfg->data_dir, &lock_fd, &lerr);

		if (lr == 1) {
			log_error("%s/%s is locked: another tern serve (or a tern restore) is using data_dir", cfg->data_dir,
			          LOCKFILE_NAME);
			goto fail;
		}
		if (lr == -1) {
			log_error("%s", lerr);
			goto fail;
		}
	}
	if (auth_oauth_start(cfg, &error) == -1) {
		log_error("oauth: %s", error);
		goto fail;
	}
	/* SRS (srs.h): the key, made on first start; a cluster shares it */
	if (cfg->delivery.srs) {
		const char *kerr;

		if (srs_key_start(cfg->data_dir, &kerr) == -1)
			log_error("%s; SRS is off: forwarded mail keeps its sender, bounces to SRS addresses wait",
			          kerr);
	}
	if (auth_penalty_start(cfg, &error) == -1) {
		log_error("bruteforce: %s", error);
		goto fail;
	}
	/* Store changes wake the IMAP sessions that watch them. */
	imap_bus_init();
	smtp_set_burl_fetch(imap_burl_fetch);  /* BURL reads IMAP URLs in-process */
	store_fts_async_start();
	{
		/* Nothing is in flight yet: every spool file is a leftover. */
		const char *serr;
		long removed = store_spool_cleanup(cfg->data_dir, 0, &serr);

		if (removed < 0)
			log_warnx("spool cleanup: %s", serr);
		else if (removed > 0)
			log_info("spool cleanup removed=%ld", removed);
	}

	signal(SIGPIPE, SIG_IGN);
	/* A file size limit (ulimit -f) must give EFBIG, answered like a full
	 * disk (452 4.3.1), not kill the server. */
	signal(SIGXFSZ, SIG_IGN);
	/* Space kept for deletes when the disk fills (lib/reserve.h). */
	reserve_configure(cfg->disk_reserve);
	if (reserve_ensure(cfg->data_dir) == -1)
		log_warnx("disk full at start: no disk reserve; deliveries wait until deletes free %llu bytes",
		          (unsigned long long)cfg->disk_reserve);

	/* Only sources with a connection open have an entry: as many as
	 * there can be connections (plus those being accepted meanwhile). */
	server_sources = source_count_new((size_t)cfg->max_connections + 1024);
	evloop_workers_start(cfg->workers);
	/* Orphan files and queue leftovers (server/maint.h): off the loops,
	 * before any connection is taken, so the start time is before every
	 * write of this process. */
	{
		struct timespec started;

		clock_gettime(CLOCK_REALTIME, &started);
		maint_start(cfg, &started);
	}
	/* Outbound delivery (queue/queue_runner.h): its own thread and loop. */
	if (queue_runner_start(cfg, &error) == -1) {
		log_error("delivery agent not started, the queue waits: %s", error);
		free(error);
		error = NULL;
	}
	/* SPF/DKIM/DMARC of port-25 mail (mailauth.h): one resolver for the
	 * process, made the way the queue runner makes its own. */
	if (mailauth_start(cfg, &error) == -1) {
		log_error("inbound checks off, mail is stored unchecked: %s", error);
		free(error);
		error = NULL;
	}
	srv.nloops = cfg->threads;
	srv.loops = xcalloc(srv.nloops, sizeof(*srv.loops));
	acceptors = xcalloc((size_t)srv.nloops * (srv.nlisteners ? srv.nlisteners : 1), sizeof(*acceptors));
	for (unsigned i = 0; i < srv.nloops; i++) {
		srv.loops[i].loop = evloop_new();
		for (size_t j = 0; j < srv.nlisteners; j++) {
			struct acceptor *a = &acceptors[i * srv.nlisteners + j];

			a->srv = &srv;
			a->loop = srv.loops[i].loop;
			a->l = &srv.listeners[j];
			/* Every loop watches every listener; EPOLLEXCLUSIVE wakes
			 * one of them per connection, spreading accepts. */
			if (evloop_add(a->loop, a->l->fd, EPOLLIN | EPOLLEXCLUSIVE, on_accept, a) == -1)
				panic("cannot watch listener: %s", strerror(errno));
		}
		if (pthread_create(&srv.loops[i].thread, NULL, loop_main, &srv.loops[i]) != 0)
			panic("cannot start event loop thread");
	}
	log_info("tern started hostname=%s threads=%u workers=%u", cfg->hostname, cfg->threads, cfg->workers);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (srv.tls == NULL) {
				log_info("sighup: no tls configured");
			} else if (tls_server_reload(srv.tls, &error) == -1) {
				log_error("tls reload failed, keeping the old certificate: %s", error);
				free(error);
				error = NULL;
			} else {
				log_info("tls certificate reloaded");
			}
			continue;
		}
		break;
	}

	log_info("shutting down signal=%d: finishing transactions in flight", sig);
	for (unsigned i = 0; i < srv.nloops; i++) {
		for (size_t j = 0; j < srv.nlisteners; j++)
			evloop_post(srv.loops[i].loop, stop_accepting, &acceptors[i * srv.nlisteners + j]);
	}
	/* Once no loop watches them, close the listeners: new clients are
	 * refused at once instead of waiting in the backlog. */
	{
		struct timespec ts = { 0, 1000 * 1000 };

		for (int i = 0; i < 5000 && atomic_load(&acceptors_stopped) < srv.nloops * srv.nlisteners; i++)
			nanosleep(&ts, NULL);
		for (size_t j = 0; j < srv.nlisteners; j++) {
			close(srv.listeners[j].fd);
			srv.listeners[j].fd = -1;
		}
	}
	queue_runner_stop();
	finish_in_flight(&srv);
	maint_stop();
	/* What is left after the grace period is closed by its own loop. */
	for (unsigned i = 0; i < srv.nloops; i++) {
		evloop_post(srv.loops[i].loop, close_all_connections, NULL);
		evloop_stop(srv.loops[i].loop);
	}
	for (unsigned i = 0; i < srv.nloops; i++)
		pthread_join(srv.loops[i].thread, NULL);
	evloop_workers_stop();
	mailauth_stop();
	store_fts_async_stop();
	store_cache_close_all();
	for (unsigned i = 0; i < srv.nloops; i++)
		evloop_free(&srv.loops[i].loop);
	source_count_free(&server_sources);
	auth_oauth_stop();
	auth_penalty_stop();
	log_info("tern stopped");
	tls_server_free(&srv.tls);
	free(acceptors);
	free(srv.loops);
	close(lock_fd);
	return status;

fail:
	free(error);
	if (lock_fd != -1)
		close(lock_fd);
	auth_penalty_stop();
	auth_oauth_stop();
	for (size_t j = 0; j < srv.nlisteners; j++)
		close(srv.listeners[j].fd);
	tls_server_free(&srv.tls);
	return 1;
}
