/* The IMAP command parser: an incremental reader of the formal syntax of
 * RFC 3501 section 9 and RFC 9051 section 9 that never sees a socket, so
 * unit tests and fuzz/fuzz_imap_parse.c drive it directly.
 *
 * The session feeds it whatever bytes it has, in chunks of any size; the
 * parser takes what it needs (*consumed_out) and stops right after the LF
 * that ends a command, so bytes of the next command (or an IDLE "DONE", or
 * an AUTHENTICATE continuation, which the session reads as raw lines) stay
 * in the caller's buffer.
 *
 * A command is "tag SP name [SP arguments] CRLF" and the arguments are a
 * tree: atoms, NIL, quoted strings, literals, parenthesised lists and
 * fetch attributes with a [section] and <partial>.  Which argument is a
 * sequence set, a number or an astring is for the command to decide: see
 * the imap_arg_* helpers and imap_seqset_parse().  "UID FETCH" arrives as
 * name "UID" with "FETCH" as its first argument.
 *
 * Leniencies, on purpose: a bare LF ends a line like CRLF; empty lines are
 * ignored; atoms may hold "%", "*", "]" and "" (list patterns, sequence
 * sets, astrings and flags share the one atom rule); quoted strings may
 * hold any 8-bit byte but NUL, CR and LF (UTF-8 validity is the session's
 * check, RFC 9051 section 5.1); several SP between arguments, before a
 * closing ")" or "]" and at the end of the line are taken as one (as
 * Dovecot's parser does: some clients join words with extra spaces).
 * Strict elsewhere: one SP after the tag and after the command name, no
 * NUL outside literals.  An atom "BODY",
 * "BODY.PEEK", "BINARY", "BINARY.PEEK" or "BINARY.SIZE" followed by "["
 * always starts a fetch attribute, whatever the command.
 *
 * Literals (RFC 3501 4.3, RFC 7888 LITERAL+ / LITERAL-, RFC 3516 literal8):
 *   - "{n}" CRLF (synchronising): the parser stops and imap_parser_state()
 *     says IMAP_PARSER_WANT_CONTINUATION.  The session looks at the command
 *     so far (imap_parser_command()), then either sends "+ ..." and calls
 *     imap_parser_continue(), or sends a tagged BAD/NO and calls
 *     imap_parser_refuse(): the literal is then never read, as the client
 *     will not send it.  A literal over limits.literal_max is refused by
 *     the parser itself (-1, code "TOOBIG").
 *   - "{n+}" (non-synchronising): read at once; when it is too big (over
 *     literal_max, or over 4096 with limits.literal_minus, RFC 7888 section
 *     5) the parser reports -1 with code "TOOBIG" and then discards the n
 *     bytes and the rest of the line so the session stays in sync.
 *   - "~{n}" / "~{n+}" (literal8): the same, flagged literal8; may hold NUL.
 *   - Streaming: a literal of more than limits.stream_min bytes (0: never)
 *     is not buffered.  The parser appends an IMAP_ARG_LITERAL_STREAM
 *     argument (its size) to the tree and stops with imap_parser_state()
 *     == IMAP_PARSER_LITERAL_STREAM; the caller moves the literal bytes to
 *     where they belong (the store, for APPEND) with
 *     imap_parser_literal_take(), then feeds again.  A synchronising
 *     literal asks for continuation first, as above.
 *
 * Memory: argument strings and the tree live in the arena given to
 * imap_parser_new() ("command arena").  The caller resets it only after a
 * return of 1 or -1 or after imap_parser_refuse(), never while a command
 * is half read.  Buffered literal data goes straight into the arena (its
 * size is known in advance); other tokens are collected in a small heap
 * buffer owned by the parser, bounded by limits.line_max. */
#ifndef TERN_IMAP_PARSE_H
#define TERN_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* RFC 7162 section 4: servers should accept command lines of at least
 * 8192 octets; 64 KiB leaves room for long UID sets (QRESYNC) and LIST
 * patterns.  Counts every byte of a command except literal data. */
#define IMAP_PARSE_LINE_MAX       65536
/* RFC 7888 section 5 (LITERAL-): a non-synchronising literal may hold at
 * most 4096 octets. */
#define IMAP_LITERAL_MINUS_MAX    4096
/* Our bound (RFC 3501 sets none): nested parentheses and [section]s in
 * one command; SEARCH programs nest, nothing real goes past a handful. */
#define IMAP_PARSE_DEPTH_MAX      32
/* Our bound: arguments (atoms, strings, lists...) in one command; a FETCH
 * with every item or a long SEARCH program uses a few hundred. */
#define IMAP_PARSE_ARGS_MAX       4096
/* Our bound: ranges in one sequence set; a 64 KiB line holds at most
 * about 32768 ("1,3,5,...") anyway. */
#define IMAP_SEQSET_RANGES_MAX    32768

struct imap_parse_limits {
	size_t line_max;      /* bytes of a command outside literals; 0: IMAP_PARSE_LINE_MAX */
	uint64_t literal_max; /* largest literal accepted (e.g. max_message_size); 0: none allowed */
	uint64_t stream_min;  /* literals larger than this are streamed; 0: never stream */
	bool literal_minus;   /* LITERAL- advertised instead of LITERAL+ */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,           /* str; also numbers, flags ("\Seen"), sequence sets */
	IMAP_ARG_NIL,            /* the atom NIL (any case); str holds its text, as it may be an astring */
	IMAP_ARG_QUOTED,         /* str, unescaped; may hold 8-bit UTF-8, no NUL */
	IMAP_ARG_LITERAL,        /* str, len bytes (NUL-terminated too; may hold NUL) */
	IMAP_ARG_LITERAL_STREAM, /* lit_size bytes handed out by imap_parser_literal_take() */
	IMAP_ARG_LIST,           /* list, count */
	IMAP_ARG_FETCH_ATT,      /* str = "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK" or
	                          * "BINARY.SIZE" as written; section, has_partial... */
};

struct imap_arg {
	enum imap_arg_type type;
	struct imap_arg *next;    /* the next sibling, NULL at the end */
	const char *str;          /* ATOM, NIL, QUOTED, LITERAL, FETCH_ATT */
	size_t len;               /* bytes in str */
	bool literal8;            /* LITERAL, LITERAL_STREAM: written "~{n}" */
	bool non_sync;            /* LITERAL, LITERAL_STREAM: written "{n+}" */
	uint64_t lit_size;        /* LITERAL_STREAM: bytes of the literal */
	struct imap_arg *list;    /* LIST: the first child (NULL when empty) */
	size_t count;             /* LIST: number of children */
	struct imap_arg *section; /* FETCH_ATT: the list of what is between [ and ] */
	bool has_partial;         /* FETCH_ATT: <start.length> given */
	uint32_t partial_start;
	uint32_t partial_len;     /* RFC 3501: nz-number */
};

struct imap_command {
	const char *tag;
	const char *name;         /* as written; compare without case */
	struct imap_arg *args;    /* the first argument, NULL when none */
	size_t count;             /* top-level arguments */
};

/* Why a command was refused: the text to send after "<tag> BAD " (with
 * "[code] " before it when code is not NULL). */
struct imap_parse_error {
	const char *tag;          /* NULL when no valid tag was read: answer with "*" */
	const char *name;         /* the command's name when it was read, else NULL */
	const char *code;         /* NULL, or a response code such as "TOOBIG" */
	const char *text;         /* static */
	/* true when the parser still has to discard the rest of the line
	 * (and any announced non-synchronising literal) before the next
	 * command: it does so by itself on the following feeds, which
	 * return 0 until the next command starts. */
	bool skipping;
};

enum imap_parser_state {
	IMAP_PARSER_READING,               /* feed more bytes */
	IMAP_PARSER_WANT_CONTINUATION,     /* continue or refuse a "{n}" literal */
	IMAP_PARSER_LITERAL_STREAM,        /* take the bytes of a streamed literal */
};

struct imap_parser;

/* A parser whose arguments live in cmd_arena (owned by the caller).
 * limits is copied.  Never NULL. */
struct imap_parser *imap_parser_new(struct arena *cmd_arena, const struct imap_parse_limits *limits);
/* Frees the parser and sets *p to NULL; accepts NULL. */
void imap_parser_free(struct imap_parser **p);

/* Feeds up to len bytes.  Returns 1 when a command is complete: *cmd_out
 * is filled (pointers into the command arena) and the parser is ready for
 * the next one; 0 when it needs more bytes, or waits on the caller (see
 * imap_parser_state()); -1 when the command is refused: *error_out is
 * filled and the parser resyncs by itself (see struct imap_parse_error).
 * *consumed_out is the number of bytes taken in every case; the caller
 * keeps the rest.  Empty lines are skipped silently. */
int imap_parser_feed(struct imap_parser *p, const char *data, size_t len, size_t *consumed_out,
                     struct imap_command *cmd_out, struct imap_parse_error *error_out);

enum imap_parser_state imap_parser_state(const struct imap_parser *p);

/* The command so far (tag, name and the arguments read), for a session
 * that must decide on a literal; the last argument is the literal being
 * being streamed only in the IMAP_PARSER_LITERAL_STREAM state (a literal
 * waiting for continuation is not in the tree yet).  Pointers into the
 * command arena.  *literal_size_out (may be NULL) gets the announced size
 * in the WANT_CONTINUATION state, the bytes still to take in the
 * LITERAL_STREAM state, 0 otherwise. */
void imap_parser_command(const struct imap_parser *p, struct imap_command *cmd_out, uint64_t *literal_size_out);

/* In the WANT_CONTINUATION state: the session has sent "+ "; the literal
 * is read next (buffered or streamed). */
void imap_parser_continue(struct imap_parser *p);
/* In the WANT_CONTINUATION state: the session has answered the command
 * with a tagged BAD or NO; the parser forgets it and expects a new
 * command (the client sends no literal).  The arena may be reset. */
void imap_parser_refuse(struct imap_parser *p);

/* In the LITERAL_STREAM state, with avail bytes at hand: returns how many
 * of them belong to the literal (the caller consumes and stores them; the
 * parser does not look at them).  When the literal is complete the state
 * goes back to READING and feeding resumes after it. */
size_t imap_parser_literal_take(struct imap_parser *p, size_t avail);
/* Bytes of the streamed literal not taken yet. */
uint64_t imap_parser_literal_left(const struct imap_parser *p);

/* Argument helpers; each returns false when arg is NULL or of another kind. */
/* An atom that is a number (RFC 9051 number64: 0..2^63-1), no sign, no leading '+'. */
bool imap_arg_number(const struct imap_arg *arg, uint64_t *num_out);
/* An astring: atom, NIL (as the text "NIL"), quoted or buffered literal. */
bool imap_arg_astring(const struct imap_arg *arg, const char **str_out, size_t *len_out);
/* A string (quoted or buffered literal) or NIL (*str_out = NULL). */
bool imap_arg_nstring(const struct imap_arg *arg, const char **str_out, size_t *len_out);
/* Case-insensitive comparison of an atom with word. */
bool imap_arg_atom_is(const struct imap_arg *arg, const char *word);

/* A sequence set (RFC 9051 section 9: sequence-set, with "*" and the
 * SEARCHRES "$"). */
/* "*": the largest number in use.  0, which no nz-number can be, so that
 * every number up to 4294967295 (a valid UID) stays itself. */
#define IMAP_SEQ_STAR 0
struct imap_seq_range {
	uint32_t lo, hi;           /* lo <= hi after parsing, so a "*" (0) is always lo:
	                            * "9:*" is {*, 9}; users substitute, then order */
};
struct imap_seqset {
	bool saved;                /* "$": the saved search result, no ranges */
	size_t count;
	struct imap_seq_range *ranges; /* in the order written, in the arena */
};
/* Parses str (len bytes) as a sequence set into the arena.  Numbers are
 * nz-number (1..4294967295, "*" aside), at most IMAP_SEQSET_RANGES_MAX
 * ranges.  Returns 0, or -1 with a static reply text in *error_out. */
int imap_seqset_parse(const char *str, size_t len, struct arena *a, struct imap_seqset *set_out,
                      const char **error_out);

#endif
