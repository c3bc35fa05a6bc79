/* Base subject (RFC 5256 2.1) and the address keys of SORT (RFC 5256 3,
 * RFC 5957 3).  The step numbers below are those of RFC 5256 2.1. */
#include "mime/mime_subject.h"

#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP, BLOBCHAR excluding "[" and "]".
 * Returns the offset after it, or 0 when s + i does not start one. */
static size_t
blob(const char *s, size_t i, size_t end)
{
	if (i >= end || s[i] != '[')
		return 0;
	for (i++; i < end && s[i] != ']'; i++)
		if (s[i] == '[')
			return 0;
	if (i >= end)
		return 0;
	for (i++; i < end && s[i] == ' '; i++)
		;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at s + i.
 * Returns the offset after the colon, or 0. */
static size_t
refwd(const char *s, size_t i, size_t end)
{
	static const char *const words[] = { "re", "fwd", "fw" };

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t n = strlen(words[w]), j = i + n, k;

		if (j > end || strncasecmp(s + i, words[w], n) != 0)
			continue;
		while (j < end && s[j] == ' ')
			j++;
		if ((k = blob(s, j, end)) != 0)
			j = k;
		if (j < end && s[j] == ':')
			return j + 1;
	}
	return 0;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP, as one match at s + i:
 * returns the offset after it, or 0. */
static size_t
leader(const char *s, size_t i, size_t end, bool *reply)
{
	size_t j = i, k;

	if (i < end && s[i] == ' ')
		return i + 1;
	while ((k = blob(s, j, end)) != 0)
		j = k;
	if ((k = refwd(s, j, end)) == 0)
		return 0;
	*reply = true;
	return k;
}

char *
mime_base_subject(const char *subject, struct arena *a, bool *reply_out)
{
	char *s;
	size_t i, o, start, end;
	bool reply = false, again;

	/* (1) decode, and make each run of white space one space */
	s = mime_decode_words(subject != NULL ? subject : "", a);
	for (i = o = 0; s[i] != '\0'; i++) {
		if (is_wsp(s[i])) {
			if (o > 0 && s[o - 1] == ' ')
				continue;
			s[o++] = ' ';
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	start = 0;
	end = o;
	do {
		/* (2) trailers: "(fwd)" and white space */
		for (;;) {
			if (end > start && s[end - 1] == ' ') {
				end--;
			} else if (end - start >= 5 && strncasecmp(s + end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3) leaders, (4) a leading blob that is not all there is,
		 * (5) until neither applies */
		for (;;) {
			size_t k = leader(s, start, end, &reply);

			if (k == 0 && (k = blob(s, start, end)) != 0) {
				size_t t;

				for (t = k; t < end && s[t] == ' '; t++)
					;
				if (t == end)
					k = 0;  /* the blob is the whole subject: keep it */
			}
			if (k == 0)
				break;
			start = k;
		}
		/* (6) "[fwd:" ... "]": unwrap and start again from (2) */
		again = end - start >= 6 && strncasecmp(s + start, "[fwd:", 5) == 0 && s[end - 1] == ']';
		if (again) {
			start += 5;
			end--;
			reply = true;
		}
	} while (again);
	if (reply_out != NULL)
		*reply_out = reply;
	s[end] = '\0';
	return s + start;
}

const char *
mime_sort_mailbox(const struct mime_address *list)
{
	if (list == NULL || list->mailbox == NULL)
		return "";
	return list->mailbox;
}

const char *
mime_sort_display(const struct mime_address *list, struct arena *a)
{
	const char *name, *host;
	size_t ml, hl;
	char *out;

	if (list == NULL)
		return "";
	if (list->name != NULL) {
		name = mime_decode_words(list->name, a);
		while (is_wsp(*name))
			name++;
		if (*name != '\0')
			return name;
	}
	if (list->mailbox == NULL)
		return "";
	host = list->host;
	/* the parser's stand-in for an address without "@host" is no host */
	if (host == NULL || host[0] == '\0' || strcmp(host, "MISSING_DOMAIN") == 0)
		return list->mailbox;
	ml = strlen(list->mailbox);
	hl = strlen(host);
	out = arena_alloc(a, ml + hl + 2);
	memcpy(out, list->mailbox, ml);
	out[ml] = '@';
	memcpy(out + ml + 1, host, hl + 1);
	return out;
}

int
mime_casemap_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	for (;; x++, y++) {
		unsigned cx = *x >= 'a' && *x <= 'z' ? *x - 32u : *x;
		unsigned cy = *y >= 'a' && *y <= 'z' ? *y - 32u : *y;

		if (cx != cy || cx == 0)
			return (int)cx - (int)cy;
	}
}

void
mime_casemap_fold(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}
