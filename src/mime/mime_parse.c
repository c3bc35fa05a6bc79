/* The MIME structure of a message (RFC 2045, RFC 2046) and its IMAP
 * ENVELOPE and BODYSTRUCTURE renderings (RFC 3501 7.4.2). */
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"

struct mime_ctx {
	const char *msg;
	struct arena *arena;
	size_t parts;
};

/* Header fields the parser keeps, first occurrence wins. */
enum field {
	F_CONTENT_TYPE, F_ENCODING, F_ID, F_DESCRIPTION, F_DISPOSITION, F_LANGUAGE,
	F_LOCATION, F_MD5, F_DATE, F_SUBJECT, F_FROM, F_SENDER, F_REPLY_TO, F_TO,
	F_CC, F_BCC, F_IN_REPLY_TO, F_MESSAGE_ID, F_REFERENCES, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"content-type", "content-transfer-encoding", "content-id", "content-description",
	"content-disposition", "content-language", "content-location", "content-md5",
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id", "references",
};

struct fields {
	const char *value[F_COUNT];
};

static void
field_keep(struct mime_ctx *c, struct fields *f, size_t name, size_t name_len,
	   size_t vstart, size_t vend)
{
	int i;

	while (name_len > 0 && (c->msg[name + name_len - 1] == ' ' ||
				c->msg[name + name_len - 1] == '\t'))
		name_len--;
	for (i = 0; i < F_COUNT; i++) {
		if (strlen(field_names[i]) == name_len &&
		    strncasecmp(c->msg + name, field_names[i], name_len) == 0) {
			if (f->value[i] == NULL)
				f->value[i] = mime_header_unfold(c->msg + vstart, vend - vstart,
								 c->arena);
			return;
		}
	}
}

/* Scans the header at [start, end): fills f and the part's header size.
 * The header ends after an empty line, or at end. */
static void
header_scan(struct mime_ctx *c, size_t start, size_t end, struct fields *f,
	    struct mime_part *part)
{
	const char *m = c->msg;
	size_t pos = start, lines = 0, nfields = 0;
	size_t name = 0, name_len = 0, vstart = 0, vend = 0;
	bool open = false;

	while (pos < end) {
		const char *nl = memchr(m + pos, '\n', end - pos);
		size_t eol = nl != NULL ? (size_t)(nl - m) : end;
		size_t next = nl != NULL ? eol + 1 : end;
		size_t linelen = eol - pos;

		lines += nl != NULL;
		if (linelen == 0 || (linelen == 1 && m[pos] == '\r')) {
			pos = next;
			break;
		}
		if (m[pos] == ' ' || m[pos] == '\t') {
			if (open)
				vend = eol;
		} else {
			const char *colon = memchr(m + pos, ':', linelen);
			if (open)
				field_keep(c, f, name, name_len, vstart, vend);
			open = false;
			if (colon != NULL && nfields < MIME_HEADER_FIELDS_MAX) {
				nfields++;
				open = true;
				name = pos;
				name_len = (size_t)(colon - (m + pos));
				vstart = (size_t)(colon - m) + 1;
				vend = eol;
			}
		}
		pos = next;
	}
	if (open)
		field_keep(c, f, name, name_len, vstart, vend);
	part->header_offset = start;
	part->header_size = pos - start;
	part->header_lines = lines;
	part->body_offset = pos;
	part->body_size = end - pos;
}

/* Lines of a body for BODYSTRUCTURE: its line ends.  An unterminated
 * last line is not counted, as Dovecot and imaptest count (a part of
 * "hello" before a boundary has 0 lines: the CRLF before "--boundary"
 * belongs to the boundary). */
static size_t
count_lines(const char *p, size_t len)
{
	size_t n = 0;
	const char *q = p, *e = p + len;

	while (q < e && (q = memchr(q, '\n', (size_t)(e - q))) != NULL) {
		n++;
		q++;
	}
	return n;
}

static void
set_text_plain(struct mime_ctx *c, struct mime_part *part)
{
	struct mime_param *p = arena_alloc(c->arena, sizeof(*p));

	p->name = "CHARSET";
	p->value = "US-ASCII";
	part->type = "TEXT";
	part->subtype = "PLAIN";
	part->params = p;
}

static void
apply_fields(struct mime_ctx *c, struct mime_part *part, const struct fields *f,
	     bool digest_child)
{
	const char *v;

	if (f->value[F_CONTENT_TYPE] == NULL ||
	    mime_content_type_parse(f->value[F_CONTENT_TYPE], c->arena, &part->type,
				    &part->subtype, &part->params) == -1) {
		if (digest_child) {
			part->type = "MESSAGE";
			part->subtype = "RFC822";
		} else {
			set_text_plain(c, part);
		}
	}
	part->encoding = "7BIT";
	if ((v = f->value[F_ENCODING]) != NULL && v[0] != '\0') {
		char *e = arena_strdup(c->arena, v);
		for (char *q = e; *q != '\0'; q++)
			*q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
		part->encoding = e;
	}
	part->id = f->value[F_ID];
	part->description = f->value[F_DESCRIPTION];
	part->md5 = f->value[F_MD5];
	part->location = f->value[F_LOCATION];
	if ((v = f->value[F_DISPOSITION]) != NULL)
		(void)mime_disposition_parse(v, c->arena, &part->disposition,
					     &part->disposition_params);
	if ((v = f->value[F_LANGUAGE]) != NULL) {
		size_t n = 0, cap = 1;
		const char *q;
		for (q = v; *q != '\0'; q++)
			cap += *q == ',' || *q == ' ';
		if (cap > MIME_PARAMS_MAX)
			cap = MIME_PARAMS_MAX;
		part->language = arena_alloc(c->arena, cap * sizeof(char *));
		q = v;
		while (*q != '\0' && n < cap) {
			size_t l;
			while (*q == ',' || *q == ' ' || *q == '\t')
				q++;
			l = strcspn(q, ", \t");
			if (l > 0)
				part->language[n++] = arena_strndup(c->arena, q, l);
			q += l;
		}
		part->language_count = n;
	}
}

static struct mime_envelope *
envelope_make(struct mime_ctx *c, const struct fields *f)
{
	struct mime_envelope *e = arena_alloc(c->arena, sizeof(*e));

	e->date = f->value[F_DATE];
	e->subject = f->value[F_SUBJECT];
	e->in_reply_to = f->value[F_IN_REPLY_TO];
	e->message_id = f->value[F_MESSAGE_ID];
	e->references = f->value[F_REFERENCES];
#define ADDR(x, i) e->x = f->value[i] ? mime_address_parse(f->value[i], c->arena) : NULL
	ADDR(from, F_FROM);
	ADDR(sender, F_SENDER);
	ADDR(reply_to, F_REPLY_TO);
	ADDR(to, F_TO);
	ADDR(cc, F_CC);
	ADDR(bcc, F_BCC);
#undef ADDR
	return e;
}

static struct mime_part *parse_part(struct mime_ctx *c, size_t start, size_t end,
				    int depth, bool digest_child, bool is_message);

/* Is the line at pos (up to eol) a delimiter "--boundary" or a close
 * delimiter "--boundary--"?  Only white space may follow (RFC 2046 5.1.1
 * transport padding), so "--b1" does not match a line "--b10". */
static bool
is_delimiter(const char *m, size_t pos, size_t eol, const char *b, size_t bl, bool *close_out)
{
	size_t i;

	if (eol - pos < bl + 2 || m[pos] != '-' || m[pos + 1] != '-' ||
	    memcmp(m + pos + 2, b, bl) != 0)
		return false;
	i = pos + 2 + bl;
	*close_out = eol - i >= 2 && m[i] == '-' && m[i + 1] == '-';
	if (*close_out)
		return true;
	for (; i < eol; i++)
		if (m[i] != ' ' && m[i] != '\t' && m[i] != '\r')
			return false;
	return true;
}

/* Splits the body of a multipart into children.  Returns false when no
 * delimiter was found (the caller then treats the part as text). */
static bool
parse_multipart(struct mime_ctx *c, struct mime_part *part, const char *boundary, int depth)
{
	const char *m = c->msg;
	size_t bl = strlen(boundary), pos = part->body_offset;
	size_t end = part->body_offset + part->body_size;
	size_t part_start = 0;
	bool in_part = false, digest = strcmp(part->subtype, "DIGEST") == 0;
	struct mime_part **tail = &part->children;

	part->preamble_offset = pos;
	part->epilogue_offset = end;
	while (pos < end) {
		const char *nl = memchr(m + pos, '\n', end - pos);
		size_t eol = nl != NULL ? (size_t)(nl - m) : end;
		size_t next = nl != NULL ? eol + 1 : end;
		bool close;

		if (is_delimiter(m, pos, eol, boundary, bl, &close)) {
			size_t cend = pos;
			if (cend > part->body_offset && m[cend - 1] == '\n')
				cend--;
			if (cend > part->body_offset && m[cend - 1] == '\r')
				cend--;
			if (in_part) {
				struct mime_part *child;
				if (cend < part_start)
					cend = part_start;
				child = parse_part(c, part_start, cend, depth + 1, digest, false);
				*tail = child;
				tail = &child->next;
			} else if (part->children == NULL) {
				part->preamble_size = cend - part->preamble_offset;
			}
			in_part = false;
			if (close) {
				part->epilogue_offset = next;
				break;
			}
			if (c->parts >= MIME_PARTS_MAX) {
				part->epilogue_offset = pos;
				break;
			}
			in_part = true;
			part_start = next;
		}
		pos = next;
	}
	if (in_part) {
		/* no close delimiter: the last part runs to the end */
		struct mime_part *child = parse_part(c, part_start, end, depth + 1, digest, false);
		*tail = child;
		part->epilogue_offset = end;
	}
	part->epilogue_size = end - part->epilogue_offset;
	return part->children != NULL;
}

static struct mime_part *
parse_part(struct mime_ctx *c, size_t start, size_t end, int depth, bool digest_child,
	   bool is_message)
{
	struct mime_part *part = arena_alloc(c->arena, sizeof(*part));
	struct fields f;

	memset(&f, 0, sizeof(f));
	c->parts++;
	header_scan(c, start, end, &f, part);
	apply_fields(c, part, &f, digest_child);
	if (is_message)
		part->envelope = envelope_make(c, &f);
	part->body_lines = count_lines(c->msg + part->body_offset, part->body_size);

	if (strcmp(part->type, "MULTIPART") == 0) {
		const char *b = mime_param_get(part->params, "BOUNDARY");
		if (depth >= MIME_DEPTH_MAX || c->parts >= MIME_PARTS_MAX || b == NULL ||
		    b[0] == '\0' || strlen(b) > MIME_BOUNDARY_MAX ||
		    !parse_multipart(c, part, b, depth)) {
			part->children = NULL;
			set_text_plain(c, part);
		}
	} else if (strcmp(part->type, "MESSAGE") == 0 &&
		   (strcmp(part->subtype, "RFC822") == 0 ||
		    strcmp(part->subtype, "GLOBAL") == 0)) {
		if (depth >= MIME_DEPTH_MAX || c->parts >= MIME_PARTS_MAX)
			set_text_plain(c, part);
		else
			part->message = parse_part(c, part->body_offset,
						   part->body_offset + part->body_size,
						   depth + 1, false, true);
	}
	return part;
}

struct mime_part *
mime_parse(const char *msg, size_t len, struct arena *arena)
{
	struct mime_ctx c = { msg, arena, 0 };

	return parse_part(&c, 0, len, 0, false, true);
}

/* Part k (from 1) inside c: a child of a multipart, or c itself. */
static const struct mime_part *
part_index(const struct mime_part *c, unsigned k)
{
	const struct mime_part *p;

	if (c->children == NULL)
		return k == 1 ? c : NULL;
	for (p = c->children; p != NULL && k > 1; p = p->next)
		k--;
	return k == 1 ? p : NULL;
}

const struct mime_part *
mime_part_find(const struct mime_part *root, const unsigned *nums, size_t n)
{
	const struct mime_part *c = root, *p = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		p = part_index(c, nums[i]);
		if (p == NULL)
			return NULL;
		if (i + 1 < n && p->children == NULL && p->message == NULL)
			return NULL;
		c = p->message != NULL ? p->message : p;
	}
	return p;
}

/* ---- rendering ---- */

/* string / nil (RFC 3501 9): quoted when it can be, a literal when it has
 * CR, LF or 8-bit octets. */
static void
put_nstring(struct buf *out, const char *s)
{
	const char *p;
	bool literal = false;

	if (s == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	for (p = s; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n' || (unsigned char)*p >= 0x80)
			literal = true;
	if (literal) {
		buf_printf(out, "{%zu}\r\n", strlen(s));
		buf_puts(out, s);
		return;
	}
	buf_append(out, "\"", 1);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, p, 1);
	}
	buf_append(out, "\"", 1);
}

static void
put_addresses(struct buf *out, const struct mime_address *a)
{
	if (a == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_append(out, "(", 1);
	for (; a != NULL; a = a->next) {
		buf_append(out, "(", 1);
		put_nstring(out, a->name);
		buf_append(out, " ", 1);
		put_nstring(out, a->adl);
		buf_append(out, " ", 1);
		put_nstring(out, a->mailbox);
		buf_append(out, " ", 1);
		put_nstring(out, a->host);
		buf_append(out, ")", 1);
	}
	buf_append(out, ")", 1);
}

void
mime_envelope_write(struct buf *out, const struct mime_envelope *env)
{
	buf_append(out, "(", 1);
	put_nstring(out, env->date);
	buf_append(out, " ", 1);
	put_nstring(out, env->subject);
	buf_append(out, " ", 1);
	put_addresses(out, env->from);
	buf_append(out, " ", 1);
	put_addresses(out, env->sender != NULL ? env->sender : env->from);
	buf_append(out, " ", 1);
	put_addresses(out, env->reply_to != NULL ? env->reply_to : env->from);
	buf_append(out, " ", 1);
	put_addresses(out, env->to);
	buf_append(out, " ", 1);
	put_addresses(out, env->cc);
	buf_append(out, " ", 1);
	put_addresses(out, env->bcc);
	buf_append(out, " ", 1);
	put_nstring(out, env->in_reply_to);
	buf_append(out, " ", 1);
	put_nstring(out, env->message_id);
	buf_append(out, ")", 1);
}

static void
put_params(struct buf *out, const struct mime_param *p)
{
	if (p == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_append(out, "(", 1);
	for (; p != NULL; p = p->next) {
		put_nstring(out, p->name);
		buf_append(out, " ", 1);
		put_nstring(out, p->value);
		if (p->next != NULL)
			buf_append(out, " ", 1);
	}
	buf_append(out, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void
put_ext_common(struct buf *out, const struct mime_part *part)
{
	size_t i;

	buf_append(out, " ", 1);
	if (part->disposition == NULL) {
		buf_puts(out, "NIL");
	} else {
		buf_append(out, "(", 1);
		put_nstring(out, part->disposition);
		buf_append(out, " ", 1);
		put_params(out, part->disposition_params);
		buf_append(out, ")", 1);
	}
	buf_append(out, " ", 1);
	if (part->language_count == 0) {
		buf_puts(out, "NIL");
	} else if (part->language_count == 1) {
		put_nstring(out, part->language[0]);
	} else {
		buf_append(out, "(", 1);
		for (i = 0; i < part->language_count; i++) {
			if (i > 0)
				buf_append(out, " ", 1);
			put_nstring(out, part->language[i]);
		}
		buf_append(out, ")", 1);
	}
	buf_append(out, " ", 1);
	put_nstring(out, part->location);
}

void
mime_bodystructure_write(struct buf *out, const struct mime_part *part, bool extended)
{
	buf_append(out, "(", 1);
	if (part->children != NULL) {
		const struct mime_part *ch;
		for (ch = part->children; ch != NULL; ch = ch->next)
			mime_bodystructure_write(out, ch, extended);
		buf_append(out, " ", 1);
		put_nstring(out, part->subtype);
		if (extended) {
			buf_append(out, " ", 1);
			put_params(out, part->params);
			put_ext_common(out, part);
		}
		buf_append(out, ")", 1);
		return;
	}
	put_nstring(out, part->type);
	buf_append(out, " ", 1);
	put_nstring(out, part->subtype);
	buf_append(out, " ", 1);
	put_params(out, part->params);
	buf_append(out, " ", 1);
	put_nstring(out, part->id);
	buf_append(out, " ", 1);
	put_nstring(out, part->description);
	buf_append(out, " ", 1);
	put_nstring(out, part->encoding);
	buf_printf(out, " %zu", part->body_size);
	if (part->message != NULL) {
		buf_append(out, " ", 1);
		mime_envelope_write(out, part->message->envelope);
		buf_append(out, " ", 1);
		mime_bodystructure_write(out, part->message, extended);
		buf_printf(out, " %zu", part->body_lines);
	} else if (strcmp(part->type, "TEXT") == 0) {
		buf_printf(out, " %zu", part->body_lines);
	}
	if (extended) {
		buf_append(out, " ", 1);
		put_nstring(out, part->md5);
		put_ext_common(out, part);
	}
	buf_append(out, ")", 1);
}
