/* SEARCH and UID SEARCH: the command, and the parser of its program
 * (RFC 9051 6.4.4 and 9 "search", RFC 3501 6.4.4, RFC 4731 RETURN, RFC
 * 5182 "$", RFC 7162 3.1.5 MODSEQ) into a tree of struct imap_search_key.
 * Evaluation is imap_search_eval.c, the responses imap_search_result.c. */
#include "imap/imap_search.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_search_private.h"
#include "imap/imap_search_update.h"
#include "lib/arena.h"
#include "lib/str.h"
#include "store/store.h"

/* What follows a key's name. */
enum key_kind {
	KD_PLAIN,         /* nothing: ALL, OLD, NEW, RECENT */
	KD_FLAG,          /* nothing: a system flag set or clear */
	KD_KEYWORD,       /* flag-keyword */
	KD_OBJECTID,      /* objectid (RFC 8474 7) */
	KD_SIZE,          /* number64 */
	KD_DATE,          /* date */
	KD_FIELD,         /* astring, matched in a fixed header field */
	KD_HEADER,        /* header-fld-name SP astring */
	KD_FTS,           /* astring, through the full-text index */
	KD_NOT,           /* search-key */
	KD_OR,            /* search-key SP search-key */
	KD_UID,           /* sequence-set */
	KD_MODSEQ,        /* [entry-name SP entry-type-req SP] mod-sequence-valzer */
	KD_INTERVAL,      /* nz-number of seconds (RFC 5032 WITHIN) */
};

struct key_def {
	const char *name;
	enum key_kind kind;
	enum imap_search_op op;
	uint32_t flag;
	bool want;
	const char *field;
};

/* RFC 9051 9 search-key, plus RFC 3501's NEW (RECENT UNSEEN), OLD (NOT
 * RECENT) and RECENT (rev1 clients send them; under IMAP4rev2 nothing is
 * recent, so NEW and RECENT never match and OLD always does), RFC 7162's
 * MODSEQ, RFC 5032's OLDER and YOUNGER, and RFC 8514's SAVED* keys
 * (every mailbox keeps save dates, so SAVEDATESUPPORTED is ALL). */
static const struct key_def key_defs[] = {
	{ "ALL", KD_PLAIN, ISK_ALL, 0, false, NULL },
	{ "ANSWERED", KD_FLAG, ISK_FLAG, STORE_FLAG_ANSWERED, true, NULL },
	{ "BCC", KD_FIELD, ISK_HEADER, 0, false, "Bcc" },
	{ "BEFORE", KD_DATE, ISK_BEFORE, 0, false, NULL },
	{ "BODY", KD_FTS, ISK_BODY, 0, false, NULL },
	{ "CC", KD_FIELD, ISK_HEADER, 0, false, "Cc" },
	{ "DELETED", KD_FLAG, ISK_FLAG, STORE_FLAG_DELETED, true, NULL },
	{ "DRAFT", KD_FLAG, ISK_FLAG, STORE_FLAG_DRAFT, true, NULL },
	{ "EMAILID", KD_OBJECTID, ISK_EMAILID, 0, true, NULL },
	{ "FLAGGED", KD_FLAG, ISK_FLAG, STORE_FLAG_FLAGGED, true, NULL },
	{ "FROM", KD_FIELD, ISK_HEADER, 0, false, "From" },
	{ "HEADER", KD_HEADER, ISK_HEADER, 0, false, NULL },
	{ "KEYWORD", KD_KEYWORD, ISK_KEYWORD, 0, true, NULL },
	{ "LARGER", KD_SIZE, ISK_LARGER, 0, false, NULL },
	{ "MODSEQ", KD_MODSEQ, ISK_MODSEQ, 0, false, NULL },
	{ "NEW", KD_PLAIN, ISK_RECENT, STORE_FLAG_SEEN, true, NULL },
	{ "NOT", KD_NOT, ISK_NOT, 0, false, NULL },
	{ "OLD", KD_PLAIN, ISK_RECENT, 0, false, NULL },
	{ "OLDER", KD_INTERVAL, ISK_OLDER, 0, false, NULL },
	{ "ON", KD_DATE, ISK_ON, 0, false, NULL },
	{ "OR", KD_OR, ISK_OR, 0, false, NULL },
	{ "RECENT", KD_PLAIN, ISK_RECENT, 0, true, NULL },
	{ "SAVEDATESUPPORTED", KD_PLAIN, ISK_ALL, 0, false, NULL },
	{ "SAVEDBEFORE", KD_DATE, ISK_SAVEDBEFORE, 0, false, NULL },
	{ "SAVEDON", KD_DATE, ISK_SAVEDON, 0, false, NULL },
	{ "SAVEDSINCE", KD_DATE, ISK_SAVEDSINCE, 0, false, NULL },
	{ "SEEN", KD_FLAG, ISK_FLAG, STORE_FLAG_SEEN, true, NULL },
	{ "SENTBEFORE", KD_DATE, ISK_SENTBEFORE, 0, false, NULL },
	{ "SENTON", KD_DATE, ISK_SENTON, 0, false, NULL },
	{ "SENTSINCE", KD_DATE, ISK_SENTSINCE, 0, false, NULL },
	{ "SINCE", KD_DATE, ISK_SINCE, 0, false, NULL },
	{ "SMALLER", KD_SIZE, ISK_SMALLER, 0, false, NULL },
	{ "SUBJECT", KD_FIELD, ISK_HEADER, 0, false, "Subject" },
	{ "TEXT", KD_FTS, ISK_TEXT, 0, false, NULL },
	{ "THREADID", KD_OBJECTID, ISK_THREADID, 0, true, NULL },
	{ "TO", KD_FIELD, ISK_HEADER, 0, false, "To" },
	{ "UID", KD_UID, ISK_UIDSET, 0, false, NULL },
	{ "UNANSWERED", KD_FLAG, ISK_FLAG, STORE_FLAG_ANSWERED, false, NULL },
	{ "UNDELETED", KD_FLAG, ISK_FLAG, STORE_FLAG_DELETED, false, NULL },
	{ "UNDRAFT", KD_FLAG, ISK_FLAG, STORE_FLAG_DRAFT, false, NULL },
	{ "UNFLAGGED", KD_FLAG, ISK_FLAG, STORE_FLAG_FLAGGED, false, NULL },
	{ "UNKEYWORD", KD_KEYWORD, ISK_KEYWORD, 0, false, NULL },
	{ "UNSEEN", KD_FLAG, ISK_FLAG, STORE_FLAG_SEEN, false, NULL },
	{ "YOUNGER", KD_INTERVAL, ISK_YOUNGER, 0, false, NULL },
};

struct parse {
	struct arena *arena;
	struct imap_search_program *prog;
	struct imap_result *res;
};

static int
fail(struct parse *p, enum imap_status status, const char *code, const char *text)
{
	p->res->status = status;
	str_lcpy(p->res->code, code, sizeof(p->res->code));
	str_lcpy(p->res->text, text, sizeof(p->res->text));
	return -1;
}

static int
bad(struct parse *p, const char *text)
{
	return fail(p, IMAP_BAD, "", text);
}

static struct imap_search_key *
key_new(struct parse *p, enum imap_search_op op)
{
	struct imap_search_key *k = arena_alloc(p->arena, sizeof(*k));

	k->op = op;
	return k;
}

/* A search string: astring, no NUL (RFC 9051 9: only literal8 may hold
 * NUL, and literal8 belongs to APPEND).  Copied into the program's arena,
 * which may outlive the command's (an UPDATE context keeps it). */
static int
get_string(struct parse *p, const struct imap_arg *arg, const char **str_out, size_t *len_out)
{
	const char *s;

	if (arg == NULL || !imap_arg_astring(arg, &s, len_out) || arg->literal8)
		return bad(p, "Search key needs a string");
	if (memchr(s, '\0', *len_out) != NULL)
		return bad(p, "NUL in search string");
	*str_out = arena_strndup(p->arena, s, *len_out);
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-"
 * date-month "-" date-year; date-day = 1*2DIGIT; date-year = 4DIGIT. */
static int
get_date(struct parse *p, const struct imap_arg *arg, int64_t *day_out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *s;
	unsigned d = 0, m, y = 0;
	size_t i = 0, j;

	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_QUOTED))
		return bad(p, "Search key needs a date");
	s = arg->str;
	while (i < arg->len && i < 2 && s[i] >= '0' && s[i] <= '9')
		d = d * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || arg->len != i + 9 || s[i] != '-' || s[i + 4] != '-')
		return bad(p, "Invalid date");
	for (m = 0; m < 12; m++)
		if (strncasecmp(s + i + 1, months + m * 3, 3) == 0)
			break;
	for (j = i + 5; j < arg->len; j++) {
		if (s[j] < '0' || s[j] > '9')
			return bad(p, "Invalid date");
		y = y * 10 + (unsigned)(s[j] - '0');
	}
	if (m == 12 || d == 0 || d > mdays[m] ||
	    (m == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return bad(p, "Invalid date");
	*day_out = days_from_civil(y, m + 1, d);
	return 0;
}

static int
get_seqset(struct parse *p, const struct imap_arg *arg, struct imap_search_key *k)
{
	const char *error;

	if (arg == NULL || arg->type != IMAP_ARG_ATOM)
		return bad(p, "Search key needs a sequence set");
	if (imap_seqset_parse(arg->str, arg->len, p->arena, &k->set, &error) == -1)
		return bad(p, error);
	if (k->set.saved)
		k->op = ISK_SAVED;
	return 0;
}

/* RFC 7162 3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP
 * mod-sequence-valzer.  We keep one MODSEQ per message, so the entry
 * (a flag's own mod-sequence) is checked for syntax and then ignored:
 * the message's MODSEQ is at least that of any of its flags. */
static int
get_modseq(struct parse *p, const struct imap_arg **argp, struct imap_search_key *k)
{
	const struct imap_arg *arg = *argp;

	if (arg != NULL && (arg->type == IMAP_ARG_QUOTED || arg->type == IMAP_ARG_LITERAL)) {
		const struct imap_arg *type = arg->next;

		if (arg->len <= 7 || strncasecmp(arg->str, "/flags/", 7) != 0 ||
		    memchr(arg->str, '\0', arg->len) != NULL)
			return bad(p, "Invalid MODSEQ entry name");
		if (!imap_arg_atom_is(type, "priv") && !imap_arg_atom_is(type, "shared") &&
		    !imap_arg_atom_is(type, "all"))
			return bad(p, "Invalid MODSEQ entry type");
		arg = type->next;
	}
	if (!imap_arg_number(arg, &k->num))
		return bad(p, "Invalid MODSEQ value");
	*argp = arg;
	p->prog->modseq = true;
	return 0;
}

static const struct key_def *
key_lookup(const struct imap_arg *arg)
{
	size_t i;

	if (arg->type != IMAP_ARG_ATOM)
		return NULL;
	for (i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (imap_arg_atom_is(arg, key_defs[i].name))
			return &key_defs[i];
	return NULL;
}

static int parse_key(struct parse *p, const struct imap_arg **argp, struct imap_search_key **out);

/* Keys from first to the end of its sibling list, as the children of an
 * AND node k. */
static int
parse_keys(struct parse *p, const struct imap_arg *first, struct imap_search_key *k)
{
	struct imap_search_key **tail = &k->child;
	const struct imap_arg *arg = first;

	if (arg == NULL)
		return bad(p, "Missing search key");
	while (arg != NULL) {
		if (parse_key(p, &arg, tail) == -1)
			return -1;
		tail = &(*tail)->next;
		arg = arg->next;
	}
	return 0;
}

/* One search-key starting at *argp; *argp is left on its last argument. */
static int
parse_key(struct parse *p, const struct imap_arg **argp, struct imap_search_key **out)
{
	const struct imap_arg *arg = *argp;
	const struct key_def *def;
	struct imap_search_key *k;
	const char *s;
	size_t len;

	if (++p->prog->keys > IMAP_SEARCH_KEYS_MAX)
		return fail(p, IMAP_NO, "LIMIT", "Search program too complex");
	if (arg->type == IMAP_ARG_LIST) {
		k = *out = key_new(p, ISK_AND);
		return parse_keys(p, arg->list, k);
	}
	def = key_lookup(arg);
	if (def == NULL) {
		if (arg->type != IMAP_ARG_ATOM)
			return bad(p, "Invalid search key");
		if (!((arg->str[0] >= '0' && arg->str[0] <= '9') || arg->str[0] == '*' || arg->str[0] == '$'))
			return bad(p, "Unknown search key");
		k = *out = key_new(p, ISK_SEQSET);
		return get_seqset(p, arg, k);
	}
	k = *out = key_new(p, def->op);
	k->flag = def->flag;
	k->want = def->want;
	switch (def->kind) {
	case KD_PLAIN:
	case KD_FLAG:
		return 0;
	case KD_KEYWORD:
		arg = *argp = arg->next;
		if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL))
			return bad(p, "Search key needs a keyword");  /* NIL is an atom too */
		k->str = arena_strndup(p->arena, arg->str, arg->len);
		k->len = arg->len;
		return 0;
	case KD_OBJECTID:
		arg = *argp = arg->next;
		if (arg == NULL || arg->type != IMAP_ARG_ATOM || arg->len == 0 || arg->len > 255)
			return bad(p, "Search key needs an object id");
		for (size_t i = 0; i < arg->len; i++)
			if (!isalnum((unsigned char)arg->str[i]) && arg->str[i] != '_' && arg->str[i] != '-')
				return bad(p, "An object id is letters, digits, _ and -");
		k->str = arena_strndup(p->arena, arg->str, arg->len);
		k->len = arg->len;
		return 0;
	case KD_SIZE:
		arg = *argp = arg->next;
		if (!imap_arg_number(arg, &k->num))
			return bad(p, "Search key needs a number");
		return 0;
	case KD_DATE:
		arg = *argp = arg->next;
		return get_date(p, arg, &k->day);
	case KD_HEADER:
		arg = *argp = arg->next;
		if (get_string(p, arg, &k->str, &k->len) == -1)
			return -1;
		__attribute__((fallthrough));  /* then the value, as for the fixed fields */
	case KD_FIELD:
		if (def->field != NULL) {
			k->str = def->field;
			k->len = strlen(def->field);
			k->address = strcasecmp(def->field, "Subject") != 0;
		}
		arg = *argp = arg->next;
		if (get_string(p, arg, &s, &len) == -1)
			return -1;
		k->needle = imap_search_fold(s, len, p->arena, &k->needle_len);
		return 0;
	case KD_FTS:
		arg = *argp = arg->next;
		if (get_string(p, arg, &k->needle, &k->needle_len) == -1)
			return -1;
		return 0;
	case KD_NOT:
		arg = *argp = arg->next;
		if (arg == NULL)
			return bad(p, "NOT needs a search key");
		if (parse_key(p, argp, &k->child) == -1)
			return -1;
		return 0;
	case KD_OR:
		arg = *argp = arg->next;
		if (arg == NULL || arg->next == NULL)
			return bad(p, "OR needs two search keys");
		if (parse_key(p, argp, &k->child) == -1)
			return -1;
		arg = *argp = (*argp)->next;
		if (arg == NULL)
			return bad(p, "OR needs two search keys");
		return parse_key(p, argp, &k->child->next);
	case KD_UID:
		arg = *argp = arg->next;
		return get_seqset(p, arg, k);
	case KD_MODSEQ:
		*argp = arg->next;
		return get_modseq(p, argp, k);
	case KD_INTERVAL:
		/* RFC 5032 4: "OLDER" / "YOUNGER" SP nz-number */
		arg = *argp = arg->next;
		if (!imap_arg_number(arg, &k->num) || k->num == 0 || k->num > UINT32_MAX)
			return bad(p, "Search key needs a number of seconds");
		return 0;
	}
	return bad(p, "Invalid search key");
}

static enum imap_search_cost
leaf_cost(enum imap_search_op op)
{
	switch (op) {
	case ISK_BODY:
	case ISK_TEXT:
		return ISC_FTS;
	case ISK_SENTBEFORE:
	case ISK_SENTON:
	case ISK_SENTSINCE:
		return ISC_CACHED;
	case ISK_HEADER:
		return ISC_HEADER;
	default:
		return ISC_CHEAP;
	}
}

/* Computes costs and puts the cheap children of AND and OR first
 * (stable), so evaluation stops before reading a header when flags,
 * sizes, dates or sets already decide. */
static enum imap_search_cost
order(struct imap_search_key *k)
{
	struct imap_search_key *c, *sorted = NULL, **pp, *next;

	if (k->child == NULL) {
		k->cost = leaf_cost(k->op);
		return k->cost;
	}
	k->cost = ISC_CHEAP;
	for (c = k->child; c != NULL; c = next) {
		next = c->next;
		if (order(c) > k->cost)
			k->cost = c->cost;
		/* insert after every child of no greater cost */
		for (pp = &sorted; *pp != NULL && (*pp)->cost <= c->cost; pp = &(*pp)->next)
			;
		c->next = *pp;
		*pp = c;
	}
	k->child = sorted;
	return k->cost;
}

/* partial-range = partial-range-first / partial-range-last;
 * partial-range-first = nz-number ":" nz-number; partial-range-last =
 * MINUS nz-number ":" MINUS nz-number (RFC 9394 4; RFC 5267 4.4 had the
 * first form only).  "500:400" is "400:500"; no "*". */
static int
parse_partial(struct parse *p, const struct imap_arg *arg)
{
	uint64_t v[2] = { 0, 0 };
	bool minus[2] = { false, false };
	const char *s, *end;
	int i;

	if (arg == NULL || arg->type != IMAP_ARG_ATOM)
		return bad(p, "PARTIAL needs a range");
	s = arg->str;
	end = s + arg->len;
	for (i = 0; i < 2; i++) {
		if (i == 1 && (s == end || *s++ != ':'))
			return bad(p, "Invalid PARTIAL range");
		if (s < end && *s == '-') {
			minus[i] = true;
			s++;
		}
		if (s == end || *s < '1' || *s > '9')
			return bad(p, "Invalid PARTIAL range");
		while (s < end && *s >= '0' && *s <= '9') {
			v[i] = v[i] * 10 + (uint64_t)(*s++ - '0');
			if (v[i] > IMAP_SEARCH_PARTIAL_MAX)
				return bad(p, "Invalid PARTIAL range");
		}
	}
	if (s != end || minus[0] != minus[1])
		return bad(p, "Invalid PARTIAL range");
	p->prog->partial_lo = (uint32_t)(v[0] < v[1] ? v[0] : v[1]);
	p->prog->partial_hi = (uint32_t)(v[0] < v[1] ? v[1] : v[0]);
	p->prog->partial_from_end = minus[0];
	return 0;
}

int
imap_search_partial_parse(const struct imap_arg *arg, struct imap_search_program *prog, struct imap_result *res)
{
	struct parse p = { NULL, prog, res };

	return parse_partial(&p, arg);
}

/* search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP
 * search-return-opt)] ")" (RFC 4731 3.1, RFC 5182 SAVE, RFC 5267 4:
 * CONTEXT, UPDATE, PARTIAL range); unknown options are BAD.  One PARTIAL
 * or one ALL, not both (RFC 9394 3.1). */
static int
parse_return(struct parse *p, const struct imap_arg *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RET_MIN },         { "MAX", IMAP_SEARCH_RET_MAX },
		{ "ALL", IMAP_SEARCH_RET_ALL },         { "COUNT", IMAP_SEARCH_RET_COUNT },
		{ "SAVE", IMAP_SEARCH_RET_SAVE },       { "UPDATE", IMAP_SEARCH_RET_UPDATE },
		{ "PARTIAL", IMAP_SEARCH_RET_PARTIAL }, { "CONTEXT", 0 },
	};
	const struct imap_arg *a;
	unsigned ret = 0;
	size_t i;

	for (a = list; a != NULL; a = a->next) {
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (imap_arg_atom_is(a, opts[i].name))
				break;
		if (i == sizeof(opts) / sizeof(opts[0]))
			return bad(p, "Unknown SEARCH return option");
		if ((ret & opts[i].bit) != 0 && (opts[i].bit & (IMAP_SEARCH_RET_PARTIAL | IMAP_SEARCH_RET_UPDATE)))
			return bad(p, "Duplicate SEARCH return option");
		if (opts[i].bit == IMAP_SEARCH_RET_PARTIAL) {
			a = a->next;
			if (parse_partial(p, a) == -1)
				return -1;
		}
		ret |= opts[i].bit;
	}
	if ((ret & IMAP_SEARCH_RET_PARTIAL) && (ret & IMAP_SEARCH_RET_ALL))
		return bad(p, "PARTIAL and ALL cannot be used together");
	/* RFC 4731 3.1: RETURN () is RETURN (ALL); CONTEXT alone is a hint
	 * (RFC 5267 4.2) and changes nothing else */
	p->prog->ret = ret != 0 ? ret : IMAP_SEARCH_RET_ALL;
	p->prog->esearch = true;
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, struct arena *a, struct imap_search_program *prog,
                  struct imap_result *res)
{
	struct parse p = { a, prog, res };
	const char *cs;
	size_t len;

	memset(prog, 0, sizeof(*prog));
	prog->ret = IMAP_SEARCH_RET_ALL;
	prog->root = key_new(&p, ISK_AND);
	if (imap_arg_atom_is(args, "RETURN")) {
		if (args->next == NULL || args->next->type != IMAP_ARG_LIST)
			return bad(&p, "RETURN needs a list of options");
		if (parse_return(&p, args->next->list) == -1)
			return -1;
		args = args->next->next;
	}
	if (imap_arg_atom_is(args, "CHARSET")) {
		args = args->next;
		if (!imap_arg_astring(args, &cs, &len))
			return bad(&p, "CHARSET needs a charset name");
		/* RFC 9051 6.4.4: UTF-8 and US-ASCII must be supported; we
		 * search in UTF-8, of which US-ASCII is a subset. */
		if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0)
			return fail(&p, IMAP_NO, "BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset");
		args = args->next;
	}
	if (parse_keys(&p, args, prog->root) == -1)
		return -1;
	order(prog->root);
	return 0;
}

/* Whether a search program starts with CHARSET (after RETURN (...)). */
static bool
has_charset(const struct imap_arg *args)
{
	if (imap_arg_atom_is(args, "RETURN") && args->next != NULL)
		args = args->next->next;
	return imap_arg_atom_is(args, "CHARSET");
}

void
imap_search_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	struct imap_search_program prog;
	struct imap_search_match m;

	res->status = IMAP_OK;
	res->code[0] = '\0';
	res->text[0] = '\0';
	if (ctx->view == NULL) {
		res->status = IMAP_BAD;
		str_lcpy(res->text, "No mailbox selected", sizeof(res->text));
		return;
	}
	if (ctx->utf8_accept && has_charset(args)) {
		/* RFC 6855 3 (and erratum 4029): after ENABLE UTF8=ACCEPT a
		 * client sends no CHARSET; the server SHOULD answer BAD */
		res->status = IMAP_BAD;
		str_lcpy(res->text, "No CHARSET after ENABLE UTF8=ACCEPT (RFC 6855 3)", sizeof(res->text));
		goto fail;
	}
	if (imap_search_parse(args, ctx->arena, &prog, res) == -1)
		goto fail;
	/* RFC 5267 4.3: UPDATE under the tag of a live context is BAD */
	if ((prog.ret & IMAP_SEARCH_RET_UPDATE) && ctx->contexts != NULL &&
	    imap_search_contexts_has(ctx->contexts, ctx->tag)) {
		res->status = IMAP_BAD;
		str_lcpy(res->text, "Tag reuse: a search with this tag is being updated", sizeof(res->text));
		goto fail;
	}
	if (prog.modseq)
		ctx->condstore_used = true;  /* RFC 7162 3.1: the MODSEQ key enables CONDSTORE */
	if (imap_search_eval(ctx, &prog, &m, res) == -1)
		goto fail;
	if (prog.ret & IMAP_SEARCH_RET_UPDATE)
		imap_search_context_add(ctx, args, &m, out);
	imap_search_respond(ctx, &prog, &m, out);
	imap_search_match_free(&m);
	return;
fail:
	/* RFC 5182 2.1: a SEARCH ... SAVE that fails leaves "$" empty */
	if (prog.esearch && (prog.ret & IMAP_SEARCH_RET_SAVE) != 0)
		imap_search_saved_clear(ctx);
}
