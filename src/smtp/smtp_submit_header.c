/* The submission header filter (see smtp_submit_header.h). */
#include <string.h>

#include "smtp/smtp_submit_header.h"

enum {
	ST_BOL,         /* at the start of a line */
	ST_BOL_CR,      /* after a CR at the start of a line: held back */
	ST_NAME,        /* reading a field name */
	ST_NAME_WSP,    /* white space after the name (RFC 5322 4.5.3 obs) */
	ST_VALUE,       /* in a field value or an unnamed line */
};

enum { F_NONE, F_FROM, F_OTHER };

void
smtp_submit_header_init(struct smtp_submit_header *h, const char *add_date, const char *add_msgid,
                        smtp_body_sink_fn *next, void *next_arg)
{
	memset(h, 0, sizeof(*h));
	h->state = ST_BOL;
	h->in_header = true;
	h->field = F_NONE;
	h->add_date = add_date;
	h->add_msgid = add_msgid;
	h->next = next;
	h->next_arg = next_arg;
}

static int
pass(struct smtp_submit_header *h, const char *data, size_t len)
{
	return len == 0 ? 0 : h->next(h->next_arg, data, len);
}

/* The end of the header section: adds what is missing.  Returns the sink's
 * result. */
static int
insert_missing(struct smtp_submit_header *h)
{
	h->in_header = false;
	if (!h->has_date && h->add_date != NULL) {
		if (pass(h, h->add_date, strlen(h->add_date)) == -1)
			return -1;
		h->added_date = true;
	}
	if (!h->has_msgid && h->add_msgid != NULL) {
		if (pass(h, h->add_msgid, strlen(h->add_msgid)) == -1)
			return -1;
		h->added_msgid = true;
	}
	return 0;
}

static bool
name_is(const struct smtp_submit_header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* A colon ended the field name. */
static void
field_named(struct smtp_submit_header *h)
{
	h->field = F_OTHER;
	if (h->name_len == SMTP_SUBMIT_NAME_MAX)
		return;   /* longer than any we look for */
	if (name_is(h, "date")) {
		h->has_date = true;
	} else if (name_is(h, "message-id")) {
		h->has_msgid = true;
	} else if (name_is(h, "from")) {
		/* only the first is kept: a second makes the message refused */
		if (h->n_from++ == 0)
			h->field = F_FROM;
	}
}

static void
from_add(struct smtp_submit_header *h, unsigned char c)
{
	if (c == '\r' || c == '\n')
		return;   /* unfolding, RFC 5322 2.2.3 */
	if (h->from_len == sizeof(h->from))
		h->from_overflow = true;
	else
		h->from[h->from_len++] = (char)c;
}

/* One header byte, other than the CR LF handling done by the caller. */
static void
header_byte(struct smtp_submit_header *h, unsigned char c)
{
	switch (h->state) {
	case ST_BOL:
		if (c == ' ' || c == '\t') {
			/* a continuation line: still the same field */
			h->state = ST_VALUE;
			if (h->field == F_FROM)
				from_add(h, c);
			return;
		}
		h->field = F_NONE;
		h->name_len = 0;
		h->state = ST_NAME;
		/* fall through */
	case ST_NAME:
		if (c == ':') {
			field_named(h);
			h->state = ST_VALUE;
		} else if (c == ' ' || c == '\t') {
			h->state = ST_NAME_WSP;
		} else if (h->name_len < SMTP_SUBMIT_NAME_MAX) {
			h->name[h->name_len++] = (char)c;
		}
		return;
	case ST_NAME_WSP:
		if (c == ':')
			field_named(h);
		else if (c != ' ' && c != '\t')
			h->field = F_OTHER;   /* not a field: a malformed line */
		if (c != ' ' && c != '\t')
			h->state = ST_VALUE;
		return;
	default: /* ST_VALUE */
		if (h->field == F_FROM)
			from_add(h, c);
		return;
	}
}

int
smtp_submit_header_sink(void *arg, const char *data, size_t len)
{
	struct smtp_submit_header *h = arg;
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, run = 0;

	while (h->in_header && i < len) {
		unsigned char c = p[i];

		if (++h->header_len > SMTP_SUBMIT_HEADER_MAX) {
			/* stop looking; a held CR goes out first */
			h->in_header = false;
			h->header_overflow = true;
			if (h->state == ST_BOL_CR && pass(h, "\r", 1) == -1)
				return -1;
			break;
		}
		if (h->state == ST_BOL_CR) {
			if (c == '\n') {
				/* the empty line: the fields go before it */
				if (insert_missing(h) == -1 || pass(h, "\r", 1) == -1)
					return -1;
				break;   /* the LF is the start of run */
			}
			/* a CR starting a line (the body machine sends none) */
			if (pass(h, "\r", 1) == -1)
				return -1;
			h->state = ST_VALUE;
			h->field = F_OTHER;
		}
		if (c == '\n') {
			if (h->state == ST_BOL) {
				/* a bare LF empty line */
				if (pass(h, data + run, i - run) == -1)
					return -1;
				run = i;
				if (insert_missing(h) == -1)
					return -1;
				break;
			}
			h->state = ST_BOL;
		} else if (c == '\r' && h->state == ST_BOL) {
			/* maybe the empty line: hold the CR back */
			if (pass(h, data + run, i - run) == -1)
				return -1;
			run = i + 1;
			h->state = ST_BOL_CR;
		} else if (c == '\r') {
			if (h->field == F_FROM)
				from_add(h, c);
		} else {
			header_byte(h, c);
		}
		i++;
	}
	return pass(h, data + run, len - run);
}

int
smtp_submit_header_finish(struct smtp_submit_header *h)
{
	if (!h->in_header)
		return 0;
	if (h->state == ST_BOL)
		return insert_missing(h);
	/* ended inside a line (the body machine always ends with CR LF) */
	h->in_header = false;
	if (h->state == ST_BOL_CR)
		return pass(h, "\r", 1);
	return 0;
}
