/* The status fields of an mbox message's header (see cli_mbox.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_mbox.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime_decode.h"

enum field {
	F_OTHER,
	F_STATUS,                      /* mutt, Dovecot, UW-IMAP: R read, O old */
	F_X_STATUS,                    /* A answered, F flagged, T draft, D deleted */
	F_X_KEYWORDS,                  /* Dovecot, mutt: keywords */
	F_MOZ_STATUS,                  /* Thunderbird: 4 hex digits */
	F_MOZ_KEYS,                    /* Thunderbird: keywords ("tags") */
	F_GMAIL_LABELS,                /* Google Takeout */
	F_X_IMAP,                      /* UW-IMAP: the pseudo message's */
	F_DROP,                        /* other mbox bookkeeping: dropped */
	F_MESSAGE_ID,
};

static const struct {
	const char *name;
	enum field f;
} fields[] = {
	{ "Status", F_STATUS },
	{ "X-Status", F_X_STATUS },
	{ "X-Keywords", F_X_KEYWORDS },
	{ "X-Mozilla-Status", F_MOZ_STATUS },
	{ "X-Mozilla-Keys", F_MOZ_KEYS },
	{ "X-Gmail-Labels", F_GMAIL_LABELS },
	{ "X-IMAP", F_X_IMAP },
	{ "X-IMAPbase", F_DROP },
	{ "X-UID", F_DROP },
	{ "Content-Length", F_DROP },
	{ "X-Mozilla-Status2", F_DROP },
	{ "Message-ID", F_MESSAGE_ID },
};

static enum field
field_of(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) == len && strncasecmp(fields[i].name, name, len) == 0)
			return fields[i].f;
	}
	return F_OTHER;
}

/* RFC 9051 flag-keyword: an atom, and not a system flag. */
static bool
keyword_ok(const char *w, size_t len)
{
	if (len == 0 || len > STORE_KEYWORD_LEN_MAX || w[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)w[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* Adds the words of v (spaces or commas between) that are keywords. */
static void
add_keywords(struct mbox_meta *m, const char *v)
{
	size_t used = strlen(m->keywords);

	while (*v != '\0') {
		size_t len;

		v += strspn(v, " \t,");
		len = strcspn(v, " \t,");
		if (len == 0)
			break;
		if (keyword_ok(v, len) && m->n_keywords < STORE_KEYWORDS_MAX &&
		    used + len + 2 <= sizeof(m->keywords)) {
			if (used > 0)
				m->keywords[used++] = ' ';
			memcpy(m->keywords + used, v, len);
			used += len;
			m->keywords[used] = '\0';
			m->n_keywords++;
		}
		v += len;
	}
}

/* Labels, commas between, a label with a comma in double quotes. */
static void
add_labels(struct mbox_meta *m, const char *v, struct arena *a)
{
	while (*v != '\0' && m->n_labels < MBOX_LABELS_MAX) {
		char *label = arena_alloc(a, strlen(v) + 1), *o = label;
		bool quoted = false;

		v += strspn(v, " \t");
		for (; *v != '\0' && (quoted || *v != ','); v++) {
			if (*v == '"')
				quoted = !quoted;
			else if (*v == '\\' && quoted && v[1] != '\0')
				*o++ = *++v;
			else
				*o++ = *v;
		}
		while (o > label && (o[-1] == ' ' || o[-1] == '\t'))
			o--;
		*o = '\0';
		if (*v == ',')
			v++;
		if (label[0] != '\0')
			m->labels[m->n_labels++] = mime_decode_words(label, a);
	}
}

/* The field's value unfolded (CRLF and the folding white space become
 * one space), in the arena. */
static char *
unfold(const char *v, size_t len, struct arena *a)
{
	char *out = arena_alloc(a, len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n') {
			if (o > out && o[-1] != ' ')
				*o++ = ' ';
			continue;
		}
		*o++ = v[i] == '\t' ? ' ' : v[i];
	}
	while (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	return out + strspn(out, " ");
}

static void
apply(struct mbox_meta *m, enum field f, const char *v, struct arena *a)
{
	switch (f) {
	case F_STATUS:
		if (strchr(v, 'R') != NULL)
			m->flags |= STORE_FLAG_SEEN;
		break;
	case F_X_STATUS:
		for (; *v != '\0'; v++) {
			switch (*v) {
			case 'A': m->flags |= STORE_FLAG_ANSWERED; break;
			case 'F': m->flags |= STORE_FLAG_FLAGGED; break;
			case 'T': m->flags |= STORE_FLAG_DRAFT; break;
			case 'D': m->flags |= STORE_FLAG_DELETED; break;
			default: break;
			}
		}
		break;
	case F_MOZ_STATUS: {
		unsigned long bits = strtoul(v, NULL, 16);

		if (bits & 0x1)
			m->flags |= STORE_FLAG_SEEN;
		if (bits & 0x2)
			m->flags |= STORE_FLAG_ANSWERED;
		if (bits & 0x4)
			m->flags |= STORE_FLAG_FLAGGED;
		if (bits & 0x8)
			m->flags |= STORE_FLAG_DELETED;
		break;
	}
	case F_X_KEYWORDS:
	case F_MOZ_KEYS:
		add_keywords(m, v);
		break;
	case F_GMAIL_LABELS:
		m->gmail = true;
		add_labels(m, v, a);
		for (size_t i = 0; i < m->n_labels; i++) {
			const char *folder;
			uint32_t flags;

			cli_mbox_label(m->labels[i], &folder, &flags);
			m->flags |= flags;
			if (strcasecmp(m->labels[i], "Unread") == 0)
				m->unread = true;
		}
		break;
	case F_X_IMAP:
		m->uw_internal = true;
		break;
	case F_MESSAGE_ID:
		if (m->message_id == NULL) {
			size_t n = strcspn(v, " ");

			if (n > 0)
				m->message_id = arena_strndup(a, v, n);
		}
		break;
	default:
		break;
	}
}

void
cli_mbox_header(const char *h, size_t len, struct mbox_meta *m, struct buf *kept, struct arena *a)
{
	size_t i = 0;

	memset(m, 0, sizeof(*m));
	while (i < len) {
		size_t start = i, colon, vstart;
		enum field f = F_OTHER;
		const char *nl;

		/* one field: its line and the continuation lines */
		do {
			nl = memchr(h + i, '\n', len - i);
			i = nl == NULL ? len : (size_t)(nl - h) + 1;
		} while (i < len && (h[i] == ' ' || h[i] == '\t'));
		for (colon = start; colon < i && h[colon] != ':' && h[colon] != '\n'; colon++)
			;
		if (colon < i && h[colon] == ':') {
			size_t nlen = colon;

			while (nlen > start && (h[nlen - 1] == ' ' || h[nlen - 1] == '\t'))
				nlen--;
			f = field_of(h + start, nlen - start);
		}
		if (f != F_OTHER) {
			vstart = colon + 1;
			apply(m, f, unfold(h + vstart, i - vstart, a), a);
		}
		if (kept != NULL && (f == F_OTHER || f == F_MESSAGE_ID))
			buf_append(kept, h + start, i - start);
	}
	if (m->unread)
		m->flags &= ~(uint32_t)STORE_FLAG_SEEN;
}
