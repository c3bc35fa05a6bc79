/* From header addresses (see smtp_from.h).  RFC 5322 3.2 (lexical tokens),
 * 3.4 (address specification), 4.4 (obsolete addressing). */
#include <stdbool.h>
#include <string.h>

#include "smtp/smtp_from.h"

enum tok_kind { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL, T_ERR };

struct tok {
	enum tok_kind kind;
	const char *s;          /* ATOM, DLIT: in the input; QSTR: lex.qbuf */
	size_t len;
	char c;                 /* SPECIAL */
};

struct lex {
	const unsigned char *p, *end;
	char *qbuf;             /* a quoted string's content (as long as the input) */
	const char *error;
};

/* An address being built: at most ADDRESS_MAX bytes. */
struct abuf {
	char s[ADDRESS_MAX + 1];
	size_t len;
	bool overflow;
};

/* RFC 5322 3.2.3 atext, plus UTF-8 (RFC 6532 3.2). */
static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Visible text and white space, not control characters: what may stand
 * in a quoted string, a comment or a domain literal. */
static bool
is_text(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Skips white space and comments (nested, with quoted pairs). */
static int
skip_cfws(struct lex *lx)
{
	size_t depth = 0;

	while (lx->p < lx->end) {
		unsigned char c = *lx->p;

		if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '(')
			return 0;
		lx->p++;
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			depth--;
		} else if (depth > 0 && c == '\\') {
			if (lx->p == lx->end)
				break;
			lx->p++;
		} else if (depth > 0 && !is_text(c)) {
			lx->error = "control character in From header";
			return -1;
		}
	}
	if (depth > 0) {
		lx->error = "unterminated comment in From header";
		return -1;
	}
	return 0;
}

static enum tok_kind
lex_quoted(struct lex *lx, struct tok *t)
{
	size_t n = 0;

	lx->p++;
	while (lx->p < lx->end) {
		unsigned char c = *lx->p++;

		if (c == '"') {
			t->s = lx->qbuf;
			t->len = n;
			return t->kind = T_QSTR;
		}
		if (c == '\\') {
			if (lx->p == lx->end)
				break;
			c = *lx->p++;
		}
		if (!is_text(c)) {
			lx->error = "control character in From header";
			return t->kind = T_ERR;
		}
		lx->qbuf[n++] = (char)c;
	}
	lx->error = "unterminated quoted string in From header";
	return t->kind = T_ERR;
}

static enum tok_kind
lex_literal(struct lex *lx, struct tok *t)
{
	const unsigned char *start = lx->p++;

	while (lx->p < lx->end && *lx->p != ']') {
		if (*lx->p == '[' || *lx->p == '\\' || !is_text(*lx->p)) {
			lx->error = "bad domain literal in From header";
			return t->kind = T_ERR;
		}
		lx->p++;
	}
	if (lx->p == lx->end) {
		lx->error = "unterminated domain literal in From header";
		return t->kind = T_ERR;
	}
	lx->p++;
	t->s = (const char *)start;
	t->len = (size_t)(lx->p - start);
	return t->kind = T_DLIT;
}

/* The next token after any CFWS. */
static enum tok_kind
lex_next(struct lex *lx, struct tok *t)
{
	const unsigned char *start;

	if (skip_cfws(lx) == -1)
		return t->kind = T_ERR;
	if (lx->p == lx->end)
		return t->kind = T_END;
	if (*lx->p == '"')
		return lex_quoted(lx, t);
	if (*lx->p == '[')
		return lex_literal(lx, t);
	if (!is_atext(*lx->p)) {
		t->c = (char)*lx->p++;
		return t->kind = T_SPECIAL;
	}
	start = lx->p;
	while (lx->p < lx->end && is_atext(*lx->p))
		lx->p++;
	t->s = (const char *)start;
	t->len = (size_t)(lx->p - start);
	return t->kind = T_ATOM;
}

static bool
is_special(const struct tok *t, char c)
{
	return t->kind == T_SPECIAL && t->c == c;
}

static void
abuf_add(struct abuf *a, const char *s, size_t len)
{
	if (len > ADDRESS_MAX - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->s + a->len, s, len);
	a->len += len;
}

/* Reads words and dots: word *("." word) is a local part (obsolete CFWS
 * between them included, RFC 5322 4.4).  Anything else (two words in a
 * row, a leading, trailing or doubled dot) can only be a display name.
 * The local part's content, quotes removed, goes to lp.  Returns the
 * number of tokens read (0: none); *local_ok_out says if they form a
 * local part. */
static size_t
read_words(struct lex *lx, struct tok *t, struct abuf *lp, bool *local_ok_out)
{
	bool want_word = true, ok = true;
	size_t n = 0;

	while (t->kind == T_ATOM || t->kind == T_QSTR || is_special(t, '.')) {
		if (is_special(t, '.')) {
			if (want_word)
				ok = false;
			abuf_add(lp, ".", 1);
			want_word = true;
		} else {
			if (!want_word)
				ok = false;
			abuf_add(lp, t->s, t->len);
			want_word = false;
		}
		n++;
		lex_next(lx, t);
	}
	*local_ok_out = ok && n > 0 && !want_word;
	return n;
}

/* domain = dot-atom / domain-literal, after the "@" (t is its first token). */
static int
read_domain(struct lex *lx, struct tok *t, struct abuf *dom)
{
	if (t->kind == T_DLIT) {
		abuf_add(dom, t->s, t->len);
		lex_next(lx, t);
		return 0;
	}
	for (;;) {
		if (t->kind != T_ATOM)
			return -1;
		abuf_add(dom, t->s, t->len);
		lex_next(lx, t);
		if (!is_special(t, '.'))
			return 0;
		abuf_add(dom, ".", 1);
		lex_next(lx, t);
	}
}

/* true if s (len bytes) is RFC 5322 dot-atom-text. */
static bool
is_dot_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* local "@" domain into the arena; a local part that is not a dot-atom
 * is quoted again (RFC 5321 4.1.2 Quoted-string). */
static const char *
join_address(const struct abuf *lp, const struct abuf *dom, struct arena *arena)
{
	struct abuf a = { .len = 0 };
	size_t i;

	if (is_dot_atom(lp->s, lp->len)) {
		abuf_add(&a, lp->s, lp->len);
	} else {
		abuf_add(&a, "\"", 1);
		for (i = 0; i < lp->len; i++) {
			if (lp->s[i] == '"' || lp->s[i] == '\\')
				abuf_add(&a, "\\", 1);
			abuf_add(&a, lp->s + i, 1);
		}
		abuf_add(&a, "\"", 1);
	}
	abuf_add(&a, "@", 1);
	abuf_add(&a, dom->s, dom->len);
	if (a.overflow)
		return NULL;
	return arena_strndup(arena, a.s, a.len);
}

/* addr-spec from its local part (already read) to its end. */
static int
read_addr_spec_rest(struct lex *lx, struct tok *t, const struct abuf *lp, struct arena *arena,
                    const char **addr_out, const char **error_out)
{
	struct abuf dom = { .len = 0 };

	if (!is_special(t, '@')) {
		*error_out = "no address in From header";
		return -1;
	}
	lex_next(lx, t);
	if (read_domain(lx, t, &dom) == -1) {
		*error_out = "bad domain in From header";
		return -1;
	}
	if (lp->overflow || dom.overflow || (*addr_out = join_address(lp, &dom, arena)) == NULL) {
		*error_out = "address too long in From header";
		return -1;
	}
	return 0;
}

/* mailbox = name-addr / addr-spec (t is its first token). */
static int
read_mailbox(struct lex *lx, struct tok *t, struct arena *arena, const char **addr_out, const char **error_out)
{
	struct abuf lp = { .len = 0 };
	bool local_ok;

	read_words(lx, t, &lp, &local_ok);
	if (is_special(t, '@')) {
		if (!local_ok) {
			*error_out = "bad local part in From header";
			return -1;
		}
		return read_addr_spec_rest(lx, t, &lp, arena, addr_out, error_out);
	}
	if (is_special(t, ':')) {
		*error_out = "group syntax not accepted in From header";
		return -1;
	}
	if (!is_special(t, '<')) {
		*error_out = "no address in From header";
		return -1;
	}
	/* angle-addr: whatever came before was the display name */
	lex_next(lx, t);
	if (is_special(t, '@')) {
		*error_out = "source route not accepted in From header";
		return -1;
	}
	lp.len = 0;
	lp.overflow = false;
	read_words(lx, t, &lp, &local_ok);
	if (!local_ok) {
		*error_out = "bad local part in From header";
		return -1;
	}
	if (read_addr_spec_rest(lx, t, &lp, arena, addr_out, error_out) == -1)
		return -1;
	if (!is_special(t, '>')) {
		*error_out = "missing \">\" in From header";
		return -1;
	}
	lex_next(lx, t);
	return 0;
}

int
smtp_from_parse(const char *value, size_t len, struct arena *arena, struct smtp_from_list *out,
                const char **error_out)
{
	struct lex lx = { (const unsigned char *)value, (const unsigned char *)value + len, NULL, NULL };
	struct tok t;

	out->n = 0;
	lx.qbuf = arena_alloc(arena, len + 1);
	lex_next(&lx, &t);
	for (;;) {
		while (is_special(&t, ','))
			lex_next(&lx, &t);   /* obsolete empty list elements */
		if (t.kind == T_END)
			break;
		if (t.kind == T_ERR) {
			*error_out = lx.error;
			return -1;
		}
		if (out->n == SMTP_FROM_ADDRS_MAX) {
			*error_out = "too many addresses in From header";
			return -1;
		}
		if (read_mailbox(&lx, &t, arena, &out->addr[out->n], error_out) == -1) {
			if (t.kind == T_ERR)
				*error_out = lx.error;
			return -1;
		}
		out->n++;
		if (t.kind == T_ERR) {
			*error_out = lx.error;
			return -1;
		}
		if (t.kind != T_END && !is_special(&t, ',')) {
			*error_out = "syntax error in From header";
			return -1;
		}
	}
	if (out->n == 0) {
		*error_out = "no address in From header";
		return -1;
	}
	return 0;
}
