/* Where a user's data lives, and the small file-system helpers the store
 * and the queue share: safe names, mkdir -p, directory fsync, unique
 * names, error classes and error text. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/limits.h"
#include "store/store_maint.h"
#include "store/store_private.h"

static _Thread_local char tls_errbuf[STORE_ERR_MAX];

const char *
store_tls_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tls_errbuf, sizeof(tls_errbuf), fmt, ap);
	va_end(ap);
	return tls_errbuf;
}

const char *
store_errorf(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errbuf, sizeof(st->errbuf), fmt, ap);
	va_end(ap);
	return st->errbuf;
}

enum store_error
store_errno_class(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return STORE_ERR_NOSPACE;
	default:
		return STORE_ERR_TEMP;
	}
}

static bool
safe_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
	       c == '-';
}

int
store_path_escape(const char *part, size_t len, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)part[i];

		if (safe_byte(c) && !(i == 0 && c == '.')) {
			if (o + 1 >= outsize)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsize)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o > NAME_MAX ? -1 : 0;
}

/* data_dir/mail/<domain>/<local>.  The address splits at its last '@' (a
 * quoted local part may hold '@'; a domain never does).  Both parts are
 * escaped, so the mapping is one-to-one and never leaves mail/. */
int
store_user_dir(const char *data_dir, const char *user, char *out, size_t outsize)
{
	char local[NAME_MAX + 1], domain[NAME_MAX + 1];
	const char *at;
	size_t len;
	int r;

	if (user == NULL || data_dir == NULL || data_dir[0] == '\0')
		return -1;
	len = strnlen(user, ADDRESS_MAX + 1);
	if (len > ADDRESS_MAX)
		return -1;
	at = strrchr(user, '@');
	if (at == NULL)
		return -1;
	if (store_path_escape(user, (size_t)(at - user), local, sizeof(local)) == -1 ||
	    store_path_escape(at + 1, strlen(at + 1), domain, sizeof(domain)) == -1)
		return -1;
	r = snprintf(out, outsize, "%s/mail/%s/%s", data_dir, domain, local);
	if (r < 0 || (size_t)r >= outsize)
		return -1;
	return 0;
}

/* mkdir(2) of one level; on creation, fsyncs the parent directory so the
 * new entry is durable. */
static int
mkdir_one(char *path)
{
	char *slash;
	int r;

	if (mkdir(path, 0700) == -1)
		return errno == EEXIST ? 0 : -1;
	slash = strrchr(path, '/');
	if (slash == NULL)
		return store_fsync_dir(".");
	if (slash == path)
		return store_fsync_dir("/");
	*slash = '\0';
	r = store_fsync_dir(path);
	*slash = '/';
	return r;
}

int
store_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	/* Fast path: it usually exists already. */
	if (mkdir_one(tmp) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_one(tmp) == -1) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir_one(tmp);
}

int
store_fsync_dir(const char *path)
{
	int fd, r, saved;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	do {
		r = fsync(fd);
	} while (r == -1 && errno == EINTR);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

void
store_random_hex(char *out, size_t outsize, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];
	size_t got = 0;

	if (n > sizeof(raw))
		n = sizeof(raw);
	if (outsize < 2 * n + 1)
		n = outsize > 0 ? (outsize - 1) / 2 : 0;
	while (got < n) {
		ssize_t r = getrandom(raw + got, n - got, 0);

		if (r > 0) {
			got += (size_t)r;
		} else if (r == -1 && errno != EINTR) {
			/* No entropy source (ancient kernel): a name only has to
			 * be unique, and link(2)/O_EXCL catch the rare clash. */
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
			for (; got < n; got++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
				raw[got] = (unsigned char)(x >> 56);
		}
	}
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	if (outsize > 0)
		out[2 * n] = '\0';
}

void
store_unique_name(char *out, size_t outsize)
{
	char rnd[17];

	store_random_hex(rnd, sizeof(rnd), 8);
	snprintf(out, outsize, "%lld.%s", (long long)time(NULL), rnd);
}

/* The inverse of store_path_escape: %XX back to its byte.  Returns 0, or
 * -1 if name is not something store_path_escape makes (checked by
 * escaping the result again). */
static int
path_unescape(const char *name, char *out, size_t outsize)
{
	char again[NAME_MAX + 1];
	size_t o = 0;

	for (const char *p = name; *p != '\0'; p++) {
		unsigned v = 0;

		if (o + 1 >= outsize)
			return -1;
		if (*p != '%') {
			out[o++] = *p;
			continue;
		}
		for (int k = 1; k <= 2; k++) {
			char c = p[k];

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (unsigned)(c - 'A' + 10);
			else
				return -1;
		}
		if (v == 0)
			return -1;
		out[o++] = (char)v;
		p += 2;
	}
	out[o] = '\0';
	if (store_path_escape(out, o, again, sizeof(again)) == -1 || strcmp(again, name) != 0)
		return -1;
	return 0;
}

int
store_users_each(const char *data_dir, bool (*fn)(const char *user, void *arg), void *arg, const char **error_out)
{
	char mail[PATH_MAX], user[ADDRESS_MAX + 1], local[ADDRESS_MAX + 1], domain[ADDRESS_MAX + 1];
	struct dirent *dd, *ld;
	DIR *dom, *loc;
	int r;

	r = snprintf(mail, sizeof(mail), "%s/mail", data_dir);
	if (r < 0 || (size_t)r >= sizeof(mail)) {
		*error_out = "data_dir path too long";
		return -1;
	}
	if ((dom = opendir(mail)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_out = store_tls_errorf("opendir %s: %s", mail, strerror(errno));
		return -1;
	}
	while ((dd = readdir(dom)) != NULL) {
		int dfd;
		bool go_on = true;

		if (dd->d_name[0] == '.' || path_unescape(dd->d_name, domain, sizeof(domain)) == -1)
			continue;
		dfd = openat(dirfd(dom), dd->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd == -1 || (loc = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			continue;
		}
		while (go_on && (ld = readdir(loc)) != NULL) {
			char index[NAME_MAX + 16];

			if (ld->d_name[0] == '.' || path_unescape(ld->d_name, local, sizeof(local)) == -1)
				continue;
			/* Only users that have an index: opening one must never
			 * create a folder for somebody. */
			snprintf(index, sizeof(index), "%s/index.db", ld->d_name);
			if (faccessat(dirfd(loc), index, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			r = snprintf(user, sizeof(user), "%s@%s", local, domain);
			if (r < 0 || (size_t)r >= sizeof(user))
				continue;
			go_on = fn(user, arg);
		}
		closedir(loc);
		if (!go_on)
			break;
	}
	closedir(dom);
	return 0;
}
