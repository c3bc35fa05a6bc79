/* The settings page's sessions: see http_websession.h. */
#include "http/http_websession.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "lib/str.h"

struct entry {
	struct http_websession ws;
	time_t created;
	time_t last_used;
	bool used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[HTTP_WEBSESSIONS_MAX];

static bool
expired(const struct entry *e, time_t now)
{
	if (!e->used)
		return true;
	if (e->ws.user[0] == '\0')
		return now - e->created >= HTTP_WEBSESSION_ANON_SEC;
	return now - e->last_used >= HTTP_WEBSESSION_IDLE_SEC || now - e->created >= HTTP_WEBSESSION_MAX_SEC;
}

static int
random_hex(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[HTTP_WEBSESSION_TOKEN_LEN / 2];

	if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[HTTP_WEBSESSION_TOKEN_LEN] = '\0';
	str_wipe(raw, sizeof(raw));
	return 0;
}

/* The entry a new session takes (see the header); lock held. */
static struct entry *
victim(time_t now)
{
	struct entry *anon = NULL, *any = NULL;

	for (size_t i = 0; i < HTTP_WEBSESSIONS_MAX; i++) {
		struct entry *e = &table[i];

		if (expired(e, now))
			return e;
		if (e->ws.user[0] == '\0' && (anon == NULL || e->last_used < anon->last_used))
			anon = e;
		if (any == NULL || e->last_used < any->last_used)
			any = e;
	}
	return anon != NULL ? anon : any;
}

int
http_websession_new(const char *user, bool app_password, time_t now, struct http_websession *out)
{
	struct entry *e;

	memset(out, 0, sizeof(*out));
	if (random_hex(out->id) != 0 || random_hex(out->csrf) != 0)
		return -1;
	if (user != NULL)
		str_lcpy(out->user, user, sizeof(out->user));
	out->app_password = app_password;
	pthread_mutex_lock(&lock);
	e = victim(now);
	e->ws = *out;
	e->created = e->last_used = now;
	e->used = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The live entry called id; lock held. */
static struct entry *
find(const char *id, time_t now)
{
	if (id == NULL || strlen(id) != HTTP_WEBSESSION_TOKEN_LEN)
		return NULL;
	for (size_t i = 0; i < HTTP_WEBSESSIONS_MAX; i++) {
		struct entry *e = &table[i];

		if (e->used && str_ct_equal(e->ws.id, id, HTTP_WEBSESSION_TOKEN_LEN)) {
			if (expired(e, now)) {
				str_wipe(e, sizeof(*e));
				return NULL;
			}
			return e;
		}
	}
	return NULL;
}

bool
http_websession_get(const char *id, time_t now, struct http_websession *out)
{
	struct entry *e;

	pthread_mutex_lock(&lock);
	e = find(id, now);
	if (e != NULL) {
		e->last_used = now;
		*out = e->ws;
	}
	pthread_mutex_unlock(&lock);
	return e != NULL;
}

void
http_websession_end(const char *id)
{
	struct entry *e;

	pthread_mutex_lock(&lock);
	e = find(id, time(NULL));
	if (e != NULL)
		str_wipe(e, sizeof(*e));
	pthread_mutex_unlock(&lock);
}

bool
http_websession_csrf_ok(const struct http_websession *ws, const char *token)
{
	return token != NULL && strlen(token) == HTTP_WEBSESSION_TOKEN_LEN &&
	       str_ct_equal(ws->csrf, token, HTTP_WEBSESSION_TOKEN_LEN);
}

unsigned
http_websession_count(time_t now)
{
	unsigned n = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < HTTP_WEBSESSIONS_MAX; i++)
		n += !expired(&table[i], now);
	pthread_mutex_unlock(&lock);
	return n;
}
