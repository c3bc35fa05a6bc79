/* HTTPS requests over libcurl for JWKS fetches and token introspection. */
#include "auth/oauth_http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "lib/str.h"
#include "lib/xalloc.h"

struct http_body {
	char *data;
	size_t len, max;
	bool too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void
oauth_http_global_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

bool
oauth_http_url_ok(const char *url)
{
	return url != NULL && strncasecmp(url, "https://", 8) == 0 && url[8] != '\0' && url[8] != '/';
}

static size_t
oauth_http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_body *b = arg;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->too_big = true;
		return 0;               /* makes curl fail with CURLE_WRITE_ERROR */
	}
	b->data = xrealloc(b->data, b->len + n + 1);
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

char *
oauth_http_form_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s), o = 0;
	char *out = xmalloc(len * 3 + 1);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

int
oauth_http_request(const char *url, const char *ca_file, const char *userpwd,
                   const char *post_body, size_t max_body,
                   char **body_out, size_t *len_out, char *err, size_t errsize)
{
	struct http_body b = { .max = max_body };
	struct curl_slist *headers = NULL;
	CURL *c = NULL;
	CURLcode rc;
	long status = 0;
	int ret = -1;

	*body_out = NULL;
	*len_out = 0;
	if (!oauth_http_url_ok(url)) {
		snprintf(err, errsize, "not an https URL");
		return -1;
	}
	pthread_once(&curl_once, oauth_http_global_init);
	if (curl_init_result != CURLE_OK || (c = curl_easy_init()) == NULL) {
		snprintf(err, errsize, "libcurl initialisation failed");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)OAUTH_HTTP_REDIRECTS_MAX);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)OAUTH_HTTP_TIMEOUT_SEC);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);       /* threads: no SIGALRM */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, oauth_http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tern");
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	if (userpwd != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	}
	headers = curl_slist_append(headers, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (post_body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post_body));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errsize, "%s", b.too_big ? "response too large" : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errsize, "HTTP status %ld", status);
		goto out;
	}
	if (b.data == NULL)
		b.data = xstrdup("");
	*body_out = b.data;
	*len_out = b.len;
	b.data = NULL;
	ret = 0;
out:
	free(b.data);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return ret;
}
