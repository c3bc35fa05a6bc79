/* BODY[section] (RFC 9051 6.4.5, RFC 3501 6.4.5): parsing the section
 * specifier and finding its bytes in a message held in memory.
 *
 *   section-spec = section-msgtext / (section-part ["." section-text])
 *   section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
 *   section-text = section-msgtext / "MIME"
 *   section-part = nz-number *("." nz-number)
 *
 * The HEADER, HEADER.FIELDS[.NOT] and TEXT specifiers after part numbers
 * need a message/rfc822 (or message/global) part; anything naming a part
 * the message does not have is answered NIL, as Dovecot and Cyrus do. */
#include <string.h>

#include "imap/imap_fetch_private.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"

static bool
word_is(const char *s, size_t len, const char *word)
{
	size_t i, wl = strlen(word);

	if (len != wl)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != word[i])
			return false;
	}
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")", names are
 * astrings. */
static int
names_parse(const struct imap_arg *list, struct arena *a, struct imap_section *out,
            const char **error_out)
{
	const struct imap_arg *n;
	size_t i = 0;

	if (list == NULL || list->type != IMAP_ARG_LIST || list->count == 0 || list->next != NULL) {
		*error_out = "HEADER.FIELDS needs a list of field names";
		return -1;
	}
	out->names = arena_alloc(a, list->count * sizeof(*out->names));
	for (n = list->list; n != NULL; n = n->next) {
		const char *s;
		size_t len;

		/* any astring; one that is no field name ("") matches nothing */
		if (!imap_arg_astring(n, &s, &len)) {
			*error_out = "Invalid header field name";
			return -1;
		}
		out->names[i].str = s;
		out->names[i].len = len;
		out->names[i].atom = n->type == IMAP_ARG_ATOM || n->type == IMAP_ARG_NIL;
		i++;
	}
	out->nnames = i;
	return 0;
}

int
imap_section_parse(const struct imap_arg *section, bool binary, struct arena *a,
                   struct imap_section *out, const char **error_out)
{
	unsigned nums[IMAP_FETCH_SECTION_PARTS_MAX];
	const char *s, *e, *text;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (section == NULL)
		return 0;  /* BODY[] */
	if (section->type != IMAP_ARG_ATOM) {
		*error_out = "Invalid section";
		return -1;
	}
	s = section->str;
	len = section->len;
	e = s + len;
	/* part numbers: nz-number ("." nz-number)*, each followed by "." or the end */
	while (s < e && *s >= '1' && *s <= '9') {
		unsigned long v = 0;

		while (s < e && *s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned long)(*s - '0');
			if (v > UINT32_MAX) {
				*error_out = "Invalid section part number";
				return -1;
			}
			s++;
		}
		if (out->n == IMAP_FETCH_SECTION_PARTS_MAX) {
			*error_out = "Section part too deep";
			return -1;
		}
		nums[out->n++] = (unsigned)v;
		if (s == e)
			break;
		if (*s != '.') {
			*error_out = "Invalid section";
			return -1;
		}
		s++;
		if (s == e) {
			*error_out = "Invalid section";
			return -1;
		}
	}
	if (out->n > 0) {
		out->nums = arena_alloc(a, out->n * sizeof(*out->nums));
		memcpy(out->nums, nums, out->n * sizeof(*out->nums));
	}
	text = s;
	len = (size_t)(e - text);
	if (len == 0)
		out->text = IMAP_SECT_NONE;
	else if (binary) {
		*error_out = "BINARY takes part numbers only";
		return -1;
	} else if (word_is(text, len, "HEADER"))
		out->text = IMAP_SECT_HEADER;
	else if (word_is(text, len, "HEADER.FIELDS"))
		out->text = IMAP_SECT_FIELDS;
	else if (word_is(text, len, "HEADER.FIELDS.NOT"))
		out->text = IMAP_SECT_FIELDS_NOT;
	else if (word_is(text, len, "TEXT"))
		out->text = IMAP_SECT_TEXT;
	else if (word_is(text, len, "MIME") && out->n > 0)
		out->text = IMAP_SECT_MIME;
	else {
		*error_out = "Invalid section";
		return -1;
	}
	if (out->text == IMAP_SECT_FIELDS || out->text == IMAP_SECT_FIELDS_NOT)
		return names_parse(section->next, a, out, error_out);
	if (section->next != NULL) {
		*error_out = "Invalid section";
		return -1;
	}
	return 0;
}

/* A header name echoed back: an atom as it came, otherwise a quoted
 * string, or a literal when it holds a byte a quoted string cannot. */
static void
name_write(struct buf *out, const struct imap_fetch_name *n)
{
	size_t i;
	bool literal = false;

	if (n->atom) {
		buf_append(out, n->str, n->len);
		return;
	}
	for (i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->str[i];
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", n->len);
		buf_append(out, n->str, n->len);
		return;
	}
	buf_append(out, "\"", 1);
	for (i = 0; i < n->len; i++) {
		if (n->str[i] == '"' || n->str[i] == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, n->str + i, 1);
	}
	buf_append(out, "\"", 1);
}

void
imap_section_write(struct buf *out, const struct imap_section *s)
{
	static const char *const words[] = {
		[IMAP_SECT_NONE] = "", [IMAP_SECT_HEADER] = "HEADER",
		[IMAP_SECT_FIELDS] = "HEADER.FIELDS", [IMAP_SECT_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECT_TEXT] = "TEXT", [IMAP_SECT_MIME] = "MIME",
	};
	size_t i;

	for (i = 0; i < s->n; i++)
		buf_printf(out, "%s%u", i > 0 ? "." : "", s->nums[i]);
	if (s->text == IMAP_SECT_NONE)
		return;
	if (s->n > 0)
		buf_append(out, ".", 1);
	buf_puts(out, words[s->text]);
	if (s->text != IMAP_SECT_FIELDS && s->text != IMAP_SECT_FIELDS_NOT)
		return;
	buf_puts(out, " (");
	for (i = 0; i < s->nnames; i++) {
		if (i > 0)
			buf_append(out, " ", 1);
		name_write(out, &s->names[i]);
	}
	buf_append(out, ")", 1);
}

size_t
imap_header_size(const char *msg, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t eol = nl != NULL ? (size_t)(nl - msg) : len;
		size_t next = nl != NULL ? eol + 1 : len;

		if (eol == pos || (eol - pos == 1 && msg[pos] == '\r'))
			return next;
		pos = next;
	}
	return len;
}

static bool
name_in(const char *name, size_t len, const struct imap_fetch_name *names, size_t nnames)
{
	size_t i, j;

	for (i = 0; i < nnames; i++) {
		if (names[i].len != len)
			continue;
		for (j = 0; j < len; j++) {
			unsigned char a = (unsigned char)name[j], b = (unsigned char)names[i].str[j];
			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			if (a != b)
				break;
		}
		if (j == len)
			return true;
	}
	return false;
}

size_t
imap_header_blank_start(const char *hdr, size_t len)
{
	size_t ls;

	if (len == 0 || hdr[len - 1] != '\n')
		return len;
	ls = len - 1;
	if (ls > 0 && hdr[ls - 1] == '\r')
		ls--;
	if (ls == 0 || hdr[ls - 1] == '\n')
		return ls;
	return len;
}

/* The filter's states: a field's first octet, its name (the first line up
 * to the colon), inside a line of a field already decided, at the start of
 * a line inside a field (a continuation if it begins with SP or TAB), and
 * the blank line at the end. */
enum { HF_FIELD, HF_NAME, HF_LINE, HF_LINE_START, HF_TAIL };

void
imap_hfilter_init(struct imap_hfilter *f, const struct imap_fetch_name *names, size_t nnames, bool not,
                  uint64_t end)
{
	f->names = names;
	f->nnames = nnames;
	f->not = not;
	f->end = end;
	f->pos = 0;
	f->state = HF_FIELD;
	f->include = false;
	f->held = 0;
	f->trim = 0;
}

/* The current field turned out to have no name (no colon on its first
 * line, or a name too long): it goes out with HEADER.FIELDS.NOT only. */
static void
hf_unnamed(struct imap_hfilter *f, struct buf *out)
{
	f->include = f->not;
	if (f->include)
		buf_append(out, f->name, f->held);
	f->held = 0;
}

void
imap_hfilter_feed(struct imap_hfilter *f, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		char c = in[i];

		if (f->pos == f->end && f->state != HF_TAIL) {
			if (f->state == HF_NAME)
				hf_unnamed(f, out);
			f->state = HF_TAIL;
		}
		switch (f->state) {
		case HF_TAIL:
			buf_append(out, in + i, len - i);   /* the blank line */
			f->pos += len - i;
			return;
		case HF_LINE: {
			/* the rest of the line at once */
			size_t n = len - i;
			const char *nl;

			if (n > f->end - f->pos)
				n = (size_t)(f->end - f->pos);
			nl = memchr(in + i, '\n', n);
			if (nl != NULL) {
				n = (size_t)(nl - (in + i)) + 1;
				f->state = HF_LINE_START;
			}
			if (f->include)
				buf_append(out, in + i, n);
			i += n;
			f->pos += n;
			continue;
		}
		case HF_LINE_START:
			if (c == ' ' || c == '\t') {
				f->state = HF_LINE;   /* a continuation line */
				continue;
			}
			f->state = HF_FIELD;
			continue;
		case HF_FIELD:
			if (c == ' ' || c == '\t' || c == '\n') {
				/* a line that starts with white space (only the
				 * header's first can) or is empty: no name */
				f->include = f->not;
				f->state = HF_LINE;
				continue;
			}
			f->held = 0;
			f->trim = 0;
			f->state = HF_NAME;
			continue;
		case HF_NAME:
			if (c == ':') {
				f->include = name_in(f->name, f->trim, f->names, f->nnames) != f->not;
				if (f->include)
					buf_append(out, f->name, f->held);
				f->held = 0;
				f->state = HF_LINE;      /* the colon goes with the line */
			} else if (c == '\n' || f->held == sizeof(f->name)) {
				hf_unnamed(f, out);
				f->state = HF_LINE;
			} else {
				f->name[f->held++] = c;
				if (c != ' ' && c != '\t')
					f->trim = f->held;
				i++;
				f->pos++;
			}
			continue;
		}
	}
}

void
imap_hfilter_finish(struct imap_hfilter *f, struct buf *out)
{
	if (f->state == HF_NAME)
		hf_unnamed(f, out);
	f->state = HF_TAIL;
}

void
imap_header_filter(const char *hdr, size_t len, const struct imap_fetch_name *names, size_t nnames,
                   bool not, struct buf *out)
{
	struct imap_hfilter f;

	imap_hfilter_init(&f, names, nnames, not, imap_header_blank_start(hdr, len));
	imap_hfilter_feed(&f, hdr, len, out);
	imap_hfilter_finish(&f, out);
}

static bool
is_leaf(const struct mime_part *p)
{
	return p->children == NULL && p->message == NULL;
}

int
imap_section_get(struct imap_fetch_msg *msg, const struct imap_section *s, struct arena *a,
                 const char **data_out, size_t *len_out, const struct mime_part **leaf_out)
{
	const struct mime_part *p;
	const char *hdr;
	size_t hdr_len;

	*leaf_out = NULL;
	if (s->n == 0) {
		size_t hs;

		if (s->text == IMAP_SECT_HEADER || s->text == IMAP_SECT_FIELDS ||
		    s->text == IMAP_SECT_FIELDS_NOT) {
			if (msg->header != NULL) {
				hdr = msg->header;
				hdr_len = msg->header_len;
			} else {
				hdr = msg->data;
				hdr_len = imap_header_size(msg->data, msg->len);
			}
			goto header;
		}
		if (s->text == IMAP_SECT_TEXT) {
			hs = imap_header_size(msg->data, msg->len);
			*data_out = msg->data + hs;
			*len_out = msg->len - hs;
			return 1;
		}
		*data_out = msg->data;
		*len_out = msg->len;
		return 1;
	}
	if (msg->root == NULL)
		msg->root = mime_parse(msg->data, msg->len, a);
	p = mime_part_find(msg->root, s->nums, s->n);
	if (p == NULL)
		return 0;
	switch (s->text) {
	case IMAP_SECT_NONE:
		*data_out = msg->data + p->body_offset;
		*len_out = p->body_size;
		if (is_leaf(p))
			*leaf_out = p;
		return 1;
	case IMAP_SECT_MIME:
		*data_out = msg->data + p->header_offset;
		*len_out = p->header_size;
		return 1;
	case IMAP_SECT_TEXT:
		if (p->message == NULL)
			return 0;
		*data_out = msg->data + p->message->body_offset;
		*len_out = p->message->body_size;
		return 1;
	default:
		if (p->message == NULL)
			return 0;
		hdr = msg->data + p->message->header_offset;
		hdr_len = p->message->header_size;
		break;
	}
header:
	/* HEADER, or the header HEADER.FIELDS[.NOT] filters */
	*data_out = hdr;
	*len_out = hdr_len;
	return 1;
}
