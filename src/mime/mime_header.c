/* Header field values: unfolding, Content-Type and Content-Disposition
 * with RFC 2231 parameters, RFC 5322 address lists for ENVELOPE. */
#include <ctype.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "mime/mime.h"

char *
mime_header_unfold(const char *raw, size_t len, struct arena *arena)
{
	size_t i, n = 0, start, end;
	char *out;

	if (len > MIME_HEADER_VALUE_MAX * 2)
		len = MIME_HEADER_VALUE_MAX * 2;
	out = arena_alloc(arena, len + 1);
	for (i = 0; i < len && n < MIME_HEADER_VALUE_MAX; i++) {
		char c = raw[i];
		if (c == '\r' || c == '\n' || c == '\0')
			continue;
		out[n++] = c;
	}
	start = 0;
	while (start < n && (out[start] == ' ' || out[start] == '\t'))
		start++;
	end = n;
	while (end > start && (out[end - 1] == ' ' || out[end - 1] == '\t'))
		end--;
	out[end] = '\0';
	return out + start;
}

const char *
mime_param_get(const struct mime_param *params, const char *name)
{
	for (; params != NULL; params = params->next)
		if (strcasecmp(params->name, name) == 0)
			return params->value;
	return NULL;
}

/* ---- RFC 2045 tokens ---- */

static void
skip_cfws(const char **pp)
{
	const char *p = *pp;
	int depth;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '(')
			break;
		depth = 0;
		while (*p != '\0') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
	*pp = p;
}

static bool
is_tspecial(int c)
{
	return c <= ' ' || c == 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* Reads an RFC 2045 token; NULL if there is none. */
static char *
read_token(const char **pp, struct arena *arena)
{
	const char *p = *pp, *s = p;

	while (*p != '\0' && !is_tspecial((unsigned char)*p))
		p++;
	if (p == s)
		return NULL;
	*pp = p;
	return arena_strndup(arena, s, (size_t)(p - s));
}

/* Reads a quoted-string at *pp (which is '"'), unquoting it. */
static char *
read_quoted(const char **pp, struct arena *arena)
{
	const char *p = *pp + 1;
	struct buf b = BUF_INIT;
	char *out;

	buf_append(&b, "", 0);
	while (*p != '\0' && *p != '"') {
		if (*p == '\\' && p[1] != '\0')
			p++;
		buf_append(&b, p, 1);
		p++;
	}
	if (*p == '"')
		p++;
	*pp = p;
	out = arena_strndup(arena, b.data, b.len);
	buf_free(&b);
	return out;
}

static char *
upper(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return s;
}

/* ---- RFC 2231 ---- */

struct raw_param {
	char *name;     /* as written, with any '*' */
	char *value;
	bool used;
};

static void
percent_decode(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		int h, l;
		if (*s == '%' && (h = str_hexval((unsigned char)s[1])) >= 0 &&
		    (l = str_hexval((unsigned char)s[2])) >= 0) {
			char c = (char)(h * 16 + l);
			if (c != '\0')
				buf_append(b, &c, 1);
			s += 2;
		} else {
			buf_append(b, s, 1);
		}
	}
}

/* Converts b (in charset) to UTF-8; keeps the bytes when it cannot. */
static char *
to_utf8(const struct buf *b, const char *charset, struct arena *arena)
{
	size_t inleft, outleft, cap;
	char *in, *out, *o;
	iconv_t cd;

	if (b->len == 0)
		return arena_strdup(arena, "");
	if (charset[0] == '\0' || strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0)
		return arena_strndup(arena, b->data, b->len);
	/* Only plain charset names reach iconv: no "//" suffixes, no paths. */
	if (strspn(charset, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") !=
	    strlen(charset))
		return arena_strndup(arena, b->data, b->len);
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return arena_strndup(arena, b->data, b->len);
	cap = b->len * 4 + 16;
	out = arena_alloc(arena, cap + 1);
	in = b->data;
	inleft = b->len;
	o = out;
	outleft = cap;
	if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &o, &outleft) == (size_t)-1) {
		iconv_close(cd);
		return arena_strndup(arena, b->data, b->len);
	}
	iconv_close(cd);
	*o = '\0';
	if (memchr(out, '\0', (size_t)(o - out)) != NULL)
		return arena_strndup(arena, b->data, b->len);
	return out;
}

/* Splits "name*3*" into base length, section (-1 if none) and extended. */
static size_t
split_name(const char *name, long *section_out, bool *ext_out)
{
	const char *star = strchr(name, '*');
	char *end;

	*section_out = -1;
	*ext_out = false;
	if (star == NULL)
		return strlen(name);
	if (star[1] == '\0') {
		*ext_out = true;
		return (size_t)(star - name);
	}
	if (!isdigit((unsigned char)star[1]))
		return strlen(name);
	*section_out = strtol(star + 1, &end, 10);
	if (*end == '*' && end[1] == '\0')
		*ext_out = true;
	else if (*end != '\0' || *section_out > MIME_PARAMS_MAX)
		return strlen(name);
	return (size_t)(star - name);
}

/* Joins the RFC 2231 sections of the parameter raw[first] names. */
static char *
join_2231(struct raw_param *raw, size_t n, size_t first, size_t baselen,
	  struct arena *arena)
{
	char charset[64] = "";
	struct buf b = BUF_INIT;
	bool any_ext = false;
	char *out;
	long want;

	buf_append(&b, "", 0);
	for (want = 0;; want++) {
		size_t i;
		bool found = false;
		for (i = first; i < n; i++) {
			long sec;
			bool ext;
			size_t bl;
			if (raw[i].used)
				continue;
			bl = split_name(raw[i].name, &sec, &ext);
			if (bl != baselen || strncasecmp(raw[i].name, raw[first].name, bl) != 0)
				continue;
			if (sec == -1 && !ext)
				continue;  /* the plain form, dropped below */
			if (sec == -1)
				sec = 0;
			if (sec != want)
				continue;
			found = true;
			raw[i].used = true;
			if (ext) {
				const char *v = raw[i].value;
				if (want == 0) {
					const char *q1 = strchr(v, '\'');
					const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
					if (q2 != NULL) {
						size_t cl = (size_t)(q1 - v);
						if (cl < sizeof(charset)) {
							memcpy(charset, v, cl);
							charset[cl] = '\0';
						}
						v = q2 + 1;
					}
				}
				any_ext = true;
				percent_decode(&b, v);
			} else {
				buf_puts(&b, raw[i].value);
			}
			break;
		}
		if (!found || (raw[first].name[baselen] == '*' && raw[first].name[baselen + 1] == '\0'))
			break;
	}
	out = any_ext ? to_utf8(&b, charset, arena) : arena_strndup(arena, b.data, b.len);
	buf_free(&b);
	return out;
}

/* Reads "; name=value" pairs at p and builds the joined list. */
static struct mime_param *
parse_params(const char *p, struct arena *arena)
{
	struct raw_param raw[MIME_PARAMS_MAX];
	struct mime_param *head = NULL, **tail = &head;
	size_t n = 0, i;

	for (;;) {
		char *name, *value;
		skip_cfws(&p);
		while (*p == ';' || *p == ' ' || *p == '\t')
			p++;
		skip_cfws(&p);
		if (*p == '\0' || n == MIME_PARAMS_MAX)
			break;
		name = read_token(&p, arena);
		skip_cfws(&p);
		if (name == NULL || *p != '=') {
			/* garbage: skip to the next ';' */
			while (*p != '\0' && *p != ';')
				p++;
			continue;
		}
		p++;
		skip_cfws(&p);
		if (*p == '"') {
			value = read_quoted(&p, arena);
		} else {
			/* a token, leniently up to ';' (unquoted spaces happen) */
			const char *s = p;
			size_t l;
			while (*p != '\0' && *p != ';')
				p++;
			l = (size_t)(p - s);
			while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
				l--;
			value = arena_strndup(arena, s, l);
		}
		raw[n].name = name;
		raw[n].value = value;
		raw[n].used = false;
		n++;
	}
	/* Names with an RFC 2231 form win over the plain form. */
	for (i = 0; i < n; i++) {
		struct mime_param *mp;
		long sec;
		bool ext;
		size_t bl;
		char *value;

		if (raw[i].used)
			continue;
		bl = split_name(raw[i].name, &sec, &ext);
		if (sec == -1 && !ext) {
			size_t j;
			bool has2231 = false;
			for (j = 0; j < n; j++) {
				long s2;
				bool e2;
				size_t l2 = split_name(raw[j].name, &s2, &e2);
				if (j != i && (s2 != -1 || e2) && l2 == bl &&
				    strncasecmp(raw[j].name, raw[i].name, bl) == 0)
					has2231 = true;
			}
			raw[i].used = true;
			if (has2231)
				continue;
			value = raw[i].value;
		} else {
			value = join_2231(raw, n, i, bl, arena);
			if (!raw[i].used) {
				/* a section not starting at 0: keep it as written */
				raw[i].used = true;
				bl = strlen(raw[i].name);
				value = raw[i].value;
			}
		}
		mp = arena_alloc(arena, sizeof(*mp));
		mp->name = upper(arena_strndup(arena, raw[i].name, bl));
		mp->value = value;
		*tail = mp;
		tail = &mp->next;
	}
	return head;
}

int
mime_content_type_parse(const char *value, struct arena *arena, const char **type_out,
			const char **subtype_out, struct mime_param **params_out)
{
	const char *p = value;
	char *type, *subtype;

	skip_cfws(&p);
	type = read_token(&p, arena);
	skip_cfws(&p);
	if (type == NULL || *p != '/')
		return -1;
	p++;
	skip_cfws(&p);
	subtype = read_token(&p, arena);
	if (subtype == NULL)
		return -1;
	*type_out = upper(type);
	*subtype_out = upper(subtype);
	*params_out = parse_params(p, arena);
	return 0;
}

int
mime_disposition_parse(const char *value, struct arena *arena, const char **type_out,
		       struct mime_param **params_out)
{
	const char *p = value;
	char *type;

	skip_cfws(&p);
	type = read_token(&p, arena);
	if (type == NULL)
		return -1;
	*type_out = upper(type);
	*params_out = parse_params(p, arena);
	return 0;
}

/* ---- RFC 5322 addresses ---- */

struct alex {
	const char *p;
	struct arena *arena;
	const char *comment;    /* text of the last comment skipped */
	struct mime_address *head, **tail;
	size_t count;
};

static void
alex_cfws(struct alex *lx)
{
	for (;;) {
		while (*lx->p == ' ' || *lx->p == '\t')
			lx->p++;
		if (*lx->p != '(')
			return;
		const char *s = lx->p + 1;
		int depth = 0;
		while (*lx->p != '\0') {
			if (*lx->p == '\\' && lx->p[1] != '\0')
				lx->p++;
			else if (*lx->p == '(')
				depth++;
			else if (*lx->p == ')' && --depth == 0)
				break;
			lx->p++;
		}
		lx->comment = arena_strndup(lx->arena, s, (size_t)(lx->p - s));
		if (*lx->p == ')')
			lx->p++;
	}
}

static bool
is_atext(int c)
{
	return c > ' ' && c != 127 && strchr("()<>@,;:\\\".[]", c) == NULL;
}

/* Reads words (atoms, quoted strings, dots) up to a special.  phrase gets
 * them joined by single spaces, local gets them joined as written. */
static void
alex_words(struct alex *lx, struct buf *phrase, struct buf *local)
{
	buf_reset(phrase);
	buf_reset(local);
	buf_append(phrase, "", 0);
	buf_append(local, "", 0);
	for (;;) {
		const char *s, *w = lx->p;
		bool ws;
		alex_cfws(lx);
		s = lx->p;
		ws = s != w;
		if (*lx->p == '"') {
			lx->p++;
			if (phrase->len > 0)
				buf_append(phrase, " ", 1);
			while (*lx->p != '\0' && *lx->p != '"') {
				if (*lx->p == '\\' && lx->p[1] != '\0')
					lx->p++;
				buf_append(phrase, lx->p, 1);
				buf_append(local, lx->p, 1);
				lx->p++;
			}
			if (*lx->p == '"')
				lx->p++;
		} else if (*lx->p == '.') {
			lx->p++;
			if (ws && phrase->len > 0)
				buf_append(phrase, " ", 1);
			buf_append(phrase, ".", 1);
			buf_append(local, ".", 1);
		} else if (is_atext((unsigned char)*lx->p)) {
			while (is_atext((unsigned char)*lx->p))
				lx->p++;
			if (phrase->len > 0 && (ws || phrase->data[phrase->len - 1] != '.'))
				buf_append(phrase, " ", 1);
			buf_append(phrase, s, (size_t)(lx->p - s));
			buf_append(local, s, (size_t)(lx->p - s));
		} else {
			return;
		}
	}
}

static void
alex_add(struct alex *lx, const char *name, const char *adl, const char *mailbox,
	 const char *host)
{
	struct mime_address *a;

	if (lx->count >= MIME_ADDRESSES_MAX)
		return;
	lx->count++;
	a = arena_alloc(lx->arena, sizeof(*a));
	a->name = name;
	a->adl = adl;
	a->mailbox = mailbox;
	a->host = host;
	*lx->tail = a;
	lx->tail = &a->next;
}

/* Reads a domain (dot-atoms or a domain literal) up to a special. */
static char *
alex_domain(struct alex *lx, struct buf *b)
{
	buf_reset(b);
	buf_append(b, "", 0);
	for (;;) {
		const char *s;
		alex_cfws(lx);
		s = lx->p;
		if (*lx->p == '[') {
			while (*lx->p != '\0' && *lx->p != ']')
				lx->p++;
			if (*lx->p == ']')
				lx->p++;
		} else if (*lx->p == '.' || is_atext((unsigned char)*lx->p)) {
			while (*lx->p == '.' || is_atext((unsigned char)*lx->p))
				lx->p++;
		} else {
			break;
		}
		buf_append(b, s, (size_t)(lx->p - s));
	}
	return b->len > 0 ? arena_strndup(lx->arena, b->data, b->len) : NULL;
}

/* One mailbox; the leading words are already in phrase/local. */
static void
alex_mailbox(struct alex *lx, struct buf *phrase, struct buf *local, struct buf *tmp)
{
	char *name = NULL, *adl = NULL, *mailbox, *host = NULL;

	if (*lx->p == '<') {
		if (phrase->len > 0)
			name = arena_strndup(lx->arena, phrase->data, phrase->len);
		lx->p++;
		alex_cfws(lx);
		if (*lx->p == '@') {
			const char *s = lx->p;
			while (*lx->p != '\0' && *lx->p != ':' && *lx->p != '>')
				lx->p++;
			adl = arena_strndup(lx->arena, s, (size_t)(lx->p - s));
			if (*lx->p == ':')
				lx->p++;
		}
		alex_words(lx, phrase, local);
		mailbox = arena_strndup(lx->arena, local->data, local->len);
		if (*lx->p == '@') {
			lx->p++;
			host = alex_domain(lx, tmp);
		}
		while (*lx->p != '\0' && *lx->p != '>' && *lx->p != ',' && *lx->p != ';')
			lx->p++;
		if (*lx->p == '>')
			lx->p++;
		if (mailbox[0] == '\0' && host == NULL && adl == NULL) {
			/* "<>": the null sender */
			host = arena_strdup(lx->arena, "");
		}
	} else {
		mailbox = arena_strndup(lx->arena, local->data, local->len);
		lx->comment = NULL;
		if (*lx->p == '@') {
			lx->p++;
			host = alex_domain(lx, tmp);
		}
		alex_cfws(lx);
		if (lx->comment != NULL && lx->comment[0] != '\0')
			name = (char *)lx->comment;
	}
	if (host == NULL)
		host = arena_strdup(lx->arena, "MISSING_DOMAIN");
	alex_add(lx, name, adl, mailbox, host);
}

struct mime_address *
mime_address_parse(const char *value, struct arena *arena)
{
	struct buf phrase = BUF_INIT, local = BUF_INIT, tmp = BUF_INIT;
	struct alex lx = { value, arena, NULL, NULL, NULL, 0 };
	bool in_group = false;

	lx.tail = &lx.head;
	while (*lx.p != '\0') {
		alex_cfws(&lx);
		if (*lx.p == ',') {
			lx.p++;
			continue;
		}
		if (*lx.p == ';') {
			lx.p++;
			if (in_group)
				alex_add(&lx, NULL, NULL, NULL, NULL);
			in_group = false;
			continue;
		}
		if (*lx.p == '\0')
			break;
		alex_words(&lx, &phrase, &local);
		if (*lx.p == ':' && !in_group) {
			lx.p++;
			alex_add(&lx, NULL, NULL,
				 arena_strndup(arena, phrase.data, phrase.len), NULL);
			in_group = true;
			continue;
		}
		if (*lx.p == '<' || *lx.p == '@' || local.len > 0) {
			alex_mailbox(&lx, &phrase, &local, &tmp);
			continue;
		}
		if (*lx.p != '\0')
			lx.p++;   /* a stray special: skip it */
	}
	if (in_group)
		alex_add(&lx, NULL, NULL, NULL, NULL);
	buf_free(&phrase);
	buf_free(&local);
	buf_free(&tmp);
	return lx.head;
}
