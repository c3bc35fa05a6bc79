/* The incremental IMAP command parser (see imap_parse.h): a byte-at-a-time
 * state machine, with bulk copies for literal data and for skipping. */
#include "imap/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* The token buffer is given back when a command made it grow past this,
 * so an idle connection keeps little memory. */
#define TOKEN_KEEP 1024

enum pstate {
	P_LINE_START,    /* before a tag; empty lines skipped */
	P_EMPTY_CR,      /* CR of an empty line */
	P_TAG,
	P_NAME,
	P_ARG_START,     /* after SP: an argument must follow */
	P_LIST_FIRST,    /* after "(" or "[": an argument or the closer */
	P_AFTER_ARG,     /* SP, a closer or the line end */
	P_AFTER_SECTION, /* after "]": "<" or as P_AFTER_ARG */
	P_ATOM,
	P_QUOTED,
	P_QUOTED_ESC,
	P_LIT_TILDE,     /* after "~" */
	P_LIT_LEN,       /* digits after "{" */
	P_LIT_CLOSE,     /* after "+": "}" */
	P_LIT_CR,        /* after "}" */
	P_LIT_LF,
	P_WAIT_CONT,     /* synchronising literal: the caller decides */
	P_LIT_DATA,      /* buffered literal bytes */
	P_LIT_STREAM,    /* streamed literal bytes: taken by the caller */
	P_PART_START,    /* digits after "<" */
	P_PART_LEN,      /* digits after "." */
	P_CR,            /* CR at the end of the command */
	P_SKIP_LINE,     /* discarding up to LF after an error */
	P_SKIP_LIT,      /* discarding a non-synchronising literal */
};

struct frame {
	struct imap_arg *owner;     /* LIST or FETCH_ATT; NULL at the top level */
	struct imap_arg **tail;
	size_t *count;
	char close;                 /* ')' or ']'; 0 at the top level */
};

struct imap_parser {
	struct arena *arena;
	struct imap_parse_limits lim;
	enum pstate state;
	struct buf tok;

	const char *tag;
	const char *name;
	struct imap_arg *args;
	size_t count;
	struct frame stack[IMAP_PARSE_DEPTH_MAX + 1];
	int depth;
	struct imap_arg *last;      /* the argument read last */
	size_t line_len;
	size_t nargs;
	uint64_t buffered;          /* literal bytes buffered for this command */

	uint64_t num;               /* literal size or partial number being read */
	bool num_digits;
	bool lit8, lit_plus;
	uint64_t lit_left;          /* literal bytes still to come (data, stream, skip) */
	char *lit_dst;

	/* Skipping: recognise "{n}" / "{n+}" at the end of a skipped line. */
	int skip_sub;
	uint64_t skip_num;
	bool skip_plus;
};

enum step { S_NEXT, S_AGAIN, S_STOP, S_DONE, S_ERROR };

static void cmd_reset(struct imap_parser *p);

struct imap_parser *
imap_parser_new(struct arena *cmd_arena, const struct imap_parse_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->arena = cmd_arena;
	p->lim = *limits;
	if (p->lim.line_max == 0)
		p->lim.line_max = IMAP_PARSE_LINE_MAX;
	buf_init(&p->tok);
	cmd_reset(p);
	return p;
}

void
imap_parser_free(struct imap_parser **pp)
{
	if (*pp == NULL)
		return;
	buf_free(&(*pp)->tok);
	free(*pp);
	*pp = NULL;
}

static void
cmd_reset(struct imap_parser *p)
{
	p->tag = NULL;
	p->name = NULL;
	p->args = NULL;
	p->count = 0;
	p->depth = 0;
	p->stack[0] = (struct frame){ NULL, &p->args, &p->count, 0 };
	p->last = NULL;
	p->line_len = 0;
	p->nargs = 0;
	p->buffered = 0;
	p->lit_left = 0;
	p->lit_dst = NULL;
	p->skip_sub = 0;
	if (p->tok.cap > TOKEN_KEEP)
		buf_free(&p->tok);
	buf_reset(&p->tok);
	p->state = P_LINE_START;
}

enum imap_parser_state
imap_parser_state(const struct imap_parser *p)
{
	if (p->state == P_WAIT_CONT)
		return IMAP_PARSER_WANT_CONTINUATION;
	if (p->state == P_LIT_STREAM)
		return IMAP_PARSER_LITERAL_STREAM;
	return IMAP_PARSER_READING;
}

void
imap_parser_command(const struct imap_parser *p, struct imap_command *cmd_out, uint64_t *literal_size_out)
{
	cmd_out->tag = p->tag;
	cmd_out->name = p->name;
	cmd_out->args = p->args;
	cmd_out->count = p->count;
	if (literal_size_out != NULL)
		*literal_size_out = p->state == P_WAIT_CONT ? p->num :
		                    p->state == P_LIT_STREAM ? p->lit_left : 0;
}

/* Fills *err and resyncs: at_line_end when the offending byte ended the
 * line (nothing to skip), otherwise the rest of the line is discarded. */
static enum step
fail(struct imap_parser *p, struct imap_parse_error *err, const char *code, const char *text, bool at_line_end)
{
	err->tag = p->tag;
	err->name = p->name;
	err->code = code;
	err->text = text;
	err->skipping = !at_line_end;
	cmd_reset(p);
	if (!at_line_end)
		p->state = P_SKIP_LINE;
	return S_ERROR;
}

/* The token collected so far, copied into the command arena.  Tokens
 * never hold NUL (refused outside literals). */
static const char *
tok_dup(struct imap_parser *p)
{
	char *s = arena_alloc(p->arena, p->tok.len + 1);

	if (p->tok.len > 0)
		memcpy(s, p->tok.data, p->tok.len);
	return s;
}

static bool
is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

static bool
is_fetch_att(const char *s, size_t len)
{
	static const char *const names[] = { "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(s, names[i], len) == 0)
			return true;
	return false;
}

/* Appends a new argument to the open list; NULL past IMAP_PARSE_ARGS_MAX. */
static struct imap_arg *
arg_new(struct imap_parser *p, enum imap_arg_type type)
{
	struct frame *f = &p->stack[p->depth];
	struct imap_arg *a;

	if (p->nargs >= IMAP_PARSE_ARGS_MAX)
		return NULL;
	p->nargs++;
	a = arena_alloc(p->arena, sizeof(*a));
	a->type = type;
	*f->tail = a;
	f->tail = &a->next;
	(*f->count)++;
	p->last = a;
	return a;
}

static enum step
atom_end(struct imap_parser *p, struct imap_parse_error *err)
{
	struct imap_arg *a;
	bool nil = p->tok.len == 3 && strncasecmp(p->tok.data, "NIL", 3) == 0;  /* RFC 3501 9: nil = "NIL" */

	a = arg_new(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM);
	if (a == NULL)
		return fail(p, err, NULL, "Too many arguments", false);
	a->str = tok_dup(p);
	a->len = p->tok.len;
	p->state = P_AFTER_ARG;
	return S_AGAIN;
}

static enum step
open_frame(struct imap_parser *p, struct imap_parse_error *err, enum imap_arg_type type, char close)
{
	struct imap_arg *a;

	if (p->depth >= IMAP_PARSE_DEPTH_MAX)
		return fail(p, err, NULL, "Too deeply nested", false);
	a = arg_new(p, type);
	if (a == NULL)
		return fail(p, err, NULL, "Too many arguments", false);
	if (type == IMAP_ARG_FETCH_ATT) {
		a->str = tok_dup(p);
		a->len = p->tok.len;
	}
	p->depth++;
	if (type == IMAP_ARG_LIST)
		p->stack[p->depth] = (struct frame){ a, &a->list, &a->count, close };
	else
		p->stack[p->depth] = (struct frame){ a, &a->section, &a->count, close };
	p->state = P_LIST_FIRST;
	return S_NEXT;
}

/* Reads the data of an accepted literal, buffered or streamed; its size
 * and the argument count were checked by literal_announced(). */
static enum step
literal_begin(struct imap_parser *p)
{
	uint64_t n = p->num;
	bool stream = p->lim.stream_min != 0 && n > p->lim.stream_min;
	struct imap_arg *a = arg_new(p, stream ? IMAP_ARG_LITERAL_STREAM : IMAP_ARG_LITERAL);

	if (a == NULL)
		panic("imap_parse: argument count not checked");
	a->literal8 = p->lit8;
	a->non_sync = p->lit_plus;
	a->lit_size = n;
	p->lit_left = n;
	if (stream) {
		p->state = P_LIT_STREAM;
		return S_STOP;
	}
	p->buffered += n;
	p->lit_dst = arena_alloc(p->arena, (size_t)n + 1);
	a->str = p->lit_dst;
	a->len = (size_t)n;
	p->state = n == 0 ? P_AFTER_ARG : P_LIT_DATA;
	return S_NEXT;
}

/* The LF after "{n}" or "{n+}": checks the bounds, then waits for the
 * caller (synchronising) or reads the data (non-synchronising).  A
 * refused non-synchronising literal is skipped with the rest of its line. */
static enum step
literal_announced(struct imap_parser *p, struct imap_parse_error *err)
{
	uint64_t n = p->num;
	bool stream = p->lim.stream_min != 0 && n > p->lim.stream_min;
	const char *code = "TOOBIG", *text = NULL;

	if (n > p->lim.literal_max)
		text = "Literal too big";
	else if (p->lit_plus && p->lim.literal_minus && n > IMAP_LITERAL_MINUS_MAX)
		text = "Non-synchronizing literal too big (LITERAL-)";
	else if (!stream && p->buffered + n > p->lim.literal_max)
		text = "Literals too big in total";
	else if (p->nargs >= IMAP_PARSE_ARGS_MAX)
		code = NULL, text = "Too many arguments";
	if (text != NULL) {
		(void)fail(p, err, code, text, true);
		if (p->lit_plus) {  /* a "{n}" client waits for "+": nothing follows */
			err->skipping = true;
			p->state = n > 0 ? P_SKIP_LIT : P_SKIP_LINE;
			p->lit_left = n;
		}
		return S_ERROR;
	}
	if (!p->lit_plus) {
		p->state = P_WAIT_CONT;
		return S_STOP;
	}
	return literal_begin(p);
}

static enum step
command_done(struct imap_parser *p, struct imap_command *cmd)
{
	imap_parser_command(p, cmd, NULL);
	cmd_reset(p);
	return S_DONE;
}

static enum step
line_end(struct imap_parser *p, unsigned char c, struct imap_command *cmd, struct imap_parse_error *err)
{
	if (c == '\r') {
		p->state = P_CR;
		return S_NEXT;
	}
	return command_done(p, cmd);
}

static enum step
after_arg(struct imap_parser *p, unsigned char c, struct imap_command *cmd, struct imap_parse_error *err)
{
	struct frame *f = &p->stack[p->depth];

	switch (c) {
	case ' ':
		p->state = P_ARG_START;
		return S_NEXT;
	case '\r':
	case '\n':
		if (p->depth != 0)
			return fail(p, err, NULL, "Missing ')' or ']'", c == '\n');
		return line_end(p, c, cmd, err);
	case ')':
	case ']':
		if (f->close != (char)c)
			return fail(p, err, NULL, "Unexpected ')' or ']'", false);
		p->last = f->owner;
		p->depth--;
		p->state = c == ']' ? P_AFTER_SECTION : P_AFTER_ARG;
		return S_NEXT;
	default:
		return fail(p, err, NULL, "Expected a space between arguments", false);
	}
}

static enum step
arg_start(struct imap_parser *p, unsigned char c, struct imap_command *cmd, struct imap_parse_error *err)
{
	switch (c) {
	case ' ':
		/* More spaces between arguments, as Dovecot's parser takes
		 * them (clients that build commands by joining words). */
		return S_NEXT;
	case '\r':
	case '\n':
		/* Trailing spaces end the line like none. */
		if (p->depth == 0)
			return line_end(p, c, cmd, err);
		return fail(p, err, NULL, "Missing ')' or ']'", c == '\n');
	case ')':
	case ']':
		/* "(a )": spaces before the closer */
		if (p->stack[p->depth].close == (char)c)
			return after_arg(p, c, cmd, err);
		return fail(p, err, NULL, "Expected an argument", false);
	case '(':
		return open_frame(p, err, IMAP_ARG_LIST, ')');
	case '"':
		buf_reset(&p->tok);
		p->state = P_QUOTED;
		return S_NEXT;
	case '{':
		p->lit8 = false;
		p->state = P_LIT_LEN;
		p->num = 0;
		p->num_digits = false;
		p->lit_plus = false;
		return S_NEXT;
	case '~':
		buf_reset(&p->tok);
		p->state = P_LIT_TILDE;
		return S_NEXT;
	default:
		if (!is_atom_char(c) || c == ')' || (c == ']' && p->stack[p->depth].close == ']'))
			return fail(p, err, NULL, "Expected an argument", c == '\n');
		buf_reset(&p->tok);
		p->state = P_ATOM;
		return S_AGAIN;
	}
}

static enum step
atom_char(struct imap_parser *p, unsigned char c, struct imap_parse_error *err)
{
	if (c == '[' && p->tok.len > 0 && is_fetch_att(p->tok.data, p->tok.len))
		return open_frame(p, err, IMAP_ARG_FETCH_ATT, ']');
	if (c == ' ' || c == '\r' || c == '\n' || c == ')' || (c == ']' && p->stack[p->depth].close == ']'))
		return atom_end(p, err);
	if (!is_atom_char(c))
		return fail(p, err, NULL, "Invalid character in atom", c == '\n');
	buf_append(&p->tok, &c, 1);
	return S_NEXT;
}

static bool
add_digit(uint64_t *num, unsigned char c, uint64_t max)
{
	if (*num > (max - (uint64_t)(c - '0')) / 10)
		return false;
	*num = *num * 10 + (uint64_t)(c - '0');
	return true;
}

static enum step
literal_len(struct imap_parser *p, unsigned char c, struct imap_parse_error *err)
{
	if (c >= '0' && c <= '9') {
		if (!add_digit(&p->num, c, INT64_MAX))
			return fail(p, err, "TOOBIG", "Literal size too large", false);
		p->num_digits = true;
		return S_NEXT;
	}
	if (!p->num_digits)
		return fail(p, err, NULL, "Invalid literal size", c == '\n');
	if (c == '+') {
		p->lit_plus = true;
		p->state = P_LIT_CLOSE;
		return S_NEXT;
	}
	if (c == '}') {
		p->state = P_LIT_CR;
		return S_NEXT;
	}
	return fail(p, err, NULL, "Invalid literal size", c == '\n');
}

static enum step
partial_digit(struct imap_parser *p, unsigned char c, struct imap_parse_error *err)
{
	struct imap_arg *a = p->last;

	if (c >= '0' && c <= '9') {
		if (!add_digit(&p->num, c, UINT32_MAX))
			return fail(p, err, NULL, "Partial number too large", false);
		p->num_digits = true;
		return S_NEXT;
	}
	if (!p->num_digits)
		return fail(p, err, NULL, "Invalid partial", c == '\n');
	if (p->state == P_PART_START && c == '.') {
		a->partial_start = (uint32_t)p->num;
		p->num = 0;
		p->num_digits = false;
		p->state = P_PART_LEN;
		return S_NEXT;
	}
	if (p->state == P_PART_LEN && c == '>' && p->num != 0) {
		a->partial_len = (uint32_t)p->num;
		a->has_partial = true;
		p->state = P_AFTER_ARG;
		return S_NEXT;
	}
	return fail(p, err, NULL, "Invalid partial", c == '\n');
}

/* Discards a skipped line up to LF, noticing a literal announced at its
 * end: the data of "{n+}" follows and is skipped too; for "{n}" the
 * client waits for a "+" it will not get. */
static enum step
skip_byte(struct imap_parser *p, unsigned char c)
{
	if (c == '\n') {
		bool lit = p->skip_sub == 3 || p->skip_sub == 4;

		p->skip_sub = 0;
		if (lit && p->skip_plus && p->skip_num > 0) {
			p->lit_left = p->skip_num;
			p->state = P_SKIP_LIT;
		} else if (!lit || !p->skip_plus) {
			cmd_reset(p);
		}
		return S_NEXT;
	}
	switch (p->skip_sub) {
	case 1:  /* digits after "{" */
		if (c >= '0' && c <= '9') {
			if (!add_digit(&p->skip_num, c, INT64_MAX))
				p->skip_sub = 0;
			return S_NEXT;
		}
		if (c == '+') {
			p->skip_plus = true;
			p->skip_sub = 2;
			return S_NEXT;
		}
		p->skip_sub = c == '}' ? 3 : 0;
		return S_NEXT;
	case 2:  /* after "+" */
		p->skip_sub = c == '}' ? 3 : 0;
		return S_NEXT;
	case 3:  /* after "}" */
		p->skip_sub = c == '\r' ? 4 : 0;
		break;
	default:
		p->skip_sub = 0;
		break;
	}
	if (p->skip_sub == 0 && c == '{') {
		p->skip_sub = 1;
		p->skip_num = 0;
		p->skip_plus = false;
	}
	return S_NEXT;
}

static enum step
step(struct imap_parser *p, unsigned char c, struct imap_command *cmd, struct imap_parse_error *err)
{
	if (c == '\0' && p->state != P_SKIP_LINE)
		return fail(p, err, NULL, "NUL in command", false);
	switch (p->state) {
	case P_LINE_START:
		if (c == '\n') {
			p->line_len = 0;
			return S_NEXT;
		}
		if (c == '\r') {
			p->state = P_EMPTY_CR;
			return S_NEXT;
		}
		buf_reset(&p->tok);
		p->state = P_TAG;
		return S_AGAIN;
	case P_EMPTY_CR:
		if (c != '\n')
			return fail(p, err, NULL, "CR without LF", false);
		cmd_reset(p);
		return S_NEXT;
	case P_TAG:
		if (c == ' ' && p->tok.len > 0) {
			p->tag = tok_dup(p);
			buf_reset(&p->tok);
			p->state = P_NAME;
			return S_NEXT;
		}
		if ((c == '\r' || c == '\n') && p->tok.len > 0) {
			p->tag = tok_dup(p);
			return fail(p, err, NULL, "Missing command name", c == '\n');
		}
		if (!is_atom_char(c) || c == '+' || c == '*' || c == '%')
			return fail(p, err, NULL, "Invalid tag", c == '\n');
		buf_append(&p->tok, &c, 1);
		return S_NEXT;
	case P_NAME:
		if (c == ' ' || c == '\r' || c == '\n') {
			if (p->tok.len == 0)
				return fail(p, err, NULL, "Missing command name", c == '\n');
			p->name = tok_dup(p);
			buf_reset(&p->tok);
			if (c == ' ') {
				p->state = P_ARG_START;
				return S_NEXT;
			}
			return line_end(p, c, cmd, err);
		}
		if (!is_atom_char(c))
			return fail(p, err, NULL, "Invalid command name", false);
		buf_append(&p->tok, &c, 1);
		return S_NEXT;
	case P_ARG_START:
		return arg_start(p, c, cmd, err);
	case P_LIST_FIRST:
		if (c == ')' || c == ']')
			return after_arg(p, c, cmd, err);
		return arg_start(p, c, cmd, err);
	case P_AFTER_SECTION:
		if (c == '<') {
			p->num = 0;
			p->num_digits = false;
			p->state = P_PART_START;
			return S_NEXT;
		}
		p->state = P_AFTER_ARG;
		return S_AGAIN;
	case P_AFTER_ARG:
		return after_arg(p, c, cmd, err);
	case P_ATOM:
		return atom_char(p, c, err);
	case P_QUOTED:
		if (c == '"') {
			struct imap_arg *a = arg_new(p, IMAP_ARG_QUOTED);

			if (a == NULL)
				return fail(p, err, NULL, "Too many arguments", false);
			a->str = tok_dup(p);
			a->len = p->tok.len;
			p->state = P_AFTER_ARG;
			return S_NEXT;
		}
		if (c == '\\') {
			p->state = P_QUOTED_ESC;
			return S_NEXT;
		}
		if (c == '\r' || c == '\n')
			return fail(p, err, NULL, "Unterminated quoted string", c == '\n');
		buf_append(&p->tok, &c, 1);
		return S_NEXT;
	case P_QUOTED_ESC:
		if (c != '"' && c != '\\')
			return fail(p, err, NULL, "Invalid escape in quoted string", c == '\n');
		buf_append(&p->tok, &c, 1);
		p->state = P_QUOTED;
		return S_NEXT;
	case P_LIT_TILDE:
		if (c == '{') {
			p->lit8 = true;
			p->state = P_LIT_LEN;
			p->num = 0;
			p->num_digits = false;
			p->lit_plus = false;
			return S_NEXT;
		}
		buf_append(&p->tok, "~", 1);
		p->state = P_ATOM;
		return S_AGAIN;
	case P_LIT_LEN:
		return literal_len(p, c, err);
	case P_LIT_CLOSE:
		if (c != '}')
			return fail(p, err, NULL, "Invalid literal size", c == '\n');
		p->state = P_LIT_CR;
		return S_NEXT;
	case P_LIT_CR:
		if (c == '\r') {
			p->state = P_LIT_LF;
			return S_NEXT;
		}
		/* a bare LF is accepted too */
		__attribute__((fallthrough));
	case P_LIT_LF:
		if (c != '\n')
			return fail(p, err, NULL, "Expected CRLF after literal size", false);
		return literal_announced(p, err);
	case P_PART_START:
	case P_PART_LEN:
		return partial_digit(p, c, err);
	case P_CR:
		if (c != '\n')
			return fail(p, err, NULL, "CR without LF", false);
		return command_done(p, cmd);
	case P_SKIP_LINE:
		return skip_byte(p, c);
	case P_WAIT_CONT:
	case P_LIT_STREAM:
	case P_LIT_DATA:
	case P_SKIP_LIT:
		break;
	}
	panic("imap_parse: byte in state %d", (int)p->state);
}

static bool
counts_in_line(enum pstate s)
{
	return s != P_SKIP_LINE && s != P_SKIP_LIT && s != P_LIT_DATA &&
	       s != P_LIT_STREAM && s != P_WAIT_CONT;
}

int
imap_parser_feed(struct imap_parser *p, const char *data, size_t len, size_t *consumed_out,
                 struct imap_command *cmd_out, struct imap_parse_error *error_out)
{
	size_t i = 0;
	bool again = false;
	int ret = 0;

	while (i < len) {
		enum step r;

		if (p->state == P_WAIT_CONT || p->state == P_LIT_STREAM)
			break;
		if (p->state == P_LIT_DATA || p->state == P_SKIP_LIT) {
			size_t n = len - i;

			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			if (p->state == P_LIT_DATA) {
				memcpy(p->lit_dst, data + i, n);
				p->lit_dst += n;
			}
			p->lit_left -= n;
			i += n;
			if (p->lit_left == 0)
				p->state = p->state == P_LIT_DATA ? P_AFTER_ARG : P_SKIP_LINE;
			continue;
		}
		if (!again && counts_in_line(p->state) && ++p->line_len > p->lim.line_max && data[i] != '\n') {
			(void)fail(p, error_out, NULL, "Command line too long", false);
			i++;
			ret = -1;
			break;
		}
		r = step(p, (unsigned char)data[i], cmd_out, error_out);
		again = r == S_AGAIN;
		if (r == S_AGAIN)
			continue;
		if (r == S_STOP) {
			i++;  /* the byte that announced the wait was consumed */
			break;
		}
		i++;
		if (r == S_DONE) {
			ret = 1;
			break;
		}
		if (r == S_ERROR) {
			ret = -1;
			break;
		}
	}
	*consumed_out = i;
	return ret;
}

void
imap_parser_continue(struct imap_parser *p)
{
	if (p->state != P_WAIT_CONT)
		panic("imap_parser_continue: no literal pending");
	(void)literal_begin(p);
}

void
imap_parser_refuse(struct imap_parser *p)
{
	if (p->state != P_WAIT_CONT)
		panic("imap_parser_refuse: no literal pending");
	cmd_reset(p);
}

size_t
imap_parser_literal_take(struct imap_parser *p, size_t avail)
{
	size_t n = avail;

	if (p->state != P_LIT_STREAM)
		panic("imap_parser_literal_take: no literal streaming");
	if (n > p->lit_left)
		n = (size_t)p->lit_left;
	p->lit_left -= n;
	if (p->lit_left == 0)
		p->state = P_AFTER_ARG;
	return n;
}

uint64_t
imap_parser_literal_left(const struct imap_parser *p)
{
	return p->state == P_LIT_STREAM ? p->lit_left : 0;
}
