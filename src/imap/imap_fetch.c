/* FETCH items and modifiers (RFC 9051 6.4.5, RFC 3501 6.4.5, RFC 3516,
 * RFC 7162 3.1.4 and 3.2.6):
 *
 *   fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *           fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
 *
 * The parser (imap_parse.c) already made "BODY[...]<p>" and friends one
 * IMAP_ARG_FETCH_ATT argument; here each item becomes a struct
 * imap_fetch_item with its response name rendered once. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_fetch.h"
#include "imap/imap_fetch_private.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"

static const struct {
	const char *name;
	enum imap_fetch_kind kind;
} simple_items[] = {
	{ "UID", IMAP_FI_UID },
	{ "FLAGS", IMAP_FI_FLAGS },
	{ "INTERNALDATE", IMAP_FI_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FI_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FI_ENVELOPE },
	{ "BODY", IMAP_FI_BODY },
	{ "BODYSTRUCTURE", IMAP_FI_BODYSTRUCTURE },
	{ "MODSEQ", IMAP_FI_MODSEQ },
	{ "SAVEDATE", IMAP_FI_SAVEDATE },
	{ "RFC822", IMAP_FI_RFC822 },
	{ "RFC822.HEADER", IMAP_FI_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FI_RFC822_TEXT },
	{ "PREVIEW", IMAP_FI_PREVIEW },
	{ "EMAILID", IMAP_FI_EMAILID },
	{ "THREADID", IMAP_FI_THREADID },
};

static void
bad(struct imap_result *res, const char *text)
{
	res->status = IMAP_BAD;
	res->code[0] = '\0';
	snprintf(res->text, sizeof(res->text), "%s", text);
}

/* Adds an item of a kind without a section, once. */
static void
add_simple(struct imap_fetch_spec *spec, enum imap_fetch_kind kind, const char *name)
{
	struct imap_fetch_item *it;
	size_t i;

	for (i = 0; i < spec->count; i++)
		if (spec->items[i].kind == kind)
			return;
	it = &spec->items[spec->count++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->name = name;
	it->name_len = strlen(name);
}

static bool
atom_item(struct imap_fetch_spec *spec, const struct imap_arg *a)
{
	size_t i;

	if (a->type != IMAP_ARG_ATOM)
		return false;
	for (i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++) {
		if (strlen(simple_items[i].name) == a->len &&
		    strncasecmp(a->str, simple_items[i].name, a->len) == 0) {
			add_simple(spec, simple_items[i].kind, simple_items[i].name);
			return true;
		}
	}
	return false;
}

/* BODY[...]<p>, BODY.PEEK[...]<p>, BINARY[...]<p>, BINARY.PEEK[...]<p>,
 * BINARY.SIZE[...]. */
static int
section_item(struct imap_ctx *ctx, struct imap_fetch_spec *spec, const struct imap_arg *a,
             struct imap_result *res)
{
	struct imap_fetch_item *it = &spec->items[spec->count];
	const char *error = "Invalid fetch item";
	const char *prefix;
	struct buf name = BUF_INIT;
	bool binary;

	memset(it, 0, sizeof(*it));
	if (a->len == 4 && strncasecmp(a->str, "BODY", 4) == 0) {
		it->kind = IMAP_FI_SECTION;
	} else if (a->len == 9 && strncasecmp(a->str, "BODY.PEEK", 9) == 0) {
		it->kind = IMAP_FI_SECTION;
		it->peek = true;
	} else if (a->len == 6 && strncasecmp(a->str, "BINARY", 6) == 0) {
		it->kind = IMAP_FI_BINARY;
	} else if (a->len == 11 && strncasecmp(a->str, "BINARY.PEEK", 11) == 0) {
		it->kind = IMAP_FI_BINARY;
		it->peek = true;
	} else if (a->len == 11 && strncasecmp(a->str, "BINARY.SIZE", 11) == 0) {
		it->kind = IMAP_FI_BINARY_SIZE;
	} else {
		bad(res, error);
		return -1;
	}
	binary = it->kind != IMAP_FI_SECTION;
	if (imap_section_parse(a->section, binary, ctx->arena, &it->section, &error) == -1) {
		bad(res, error);
		return -1;
	}
	if (a->has_partial) {
		if (it->kind == IMAP_FI_BINARY_SIZE) {
			bad(res, "BINARY.SIZE takes no partial");
			return -1;
		}
		it->has_partial = true;
		it->partial_start = a->partial_start;
		it->partial_len = a->partial_len;
	}
	/* BODY.PEEK[x] is answered as BODY[x], BINARY.PEEK[x] as BINARY[x] */
	prefix = it->kind == IMAP_FI_SECTION ? "BODY[" : it->kind == IMAP_FI_BINARY ? "BINARY[" : "BINARY.SIZE[";
	buf_puts(&name, prefix);
	imap_section_write(&name, &it->section);
	buf_append(&name, "]", 1);
	it->name = arena_strndup(ctx->arena, name.data, name.len);
	it->name_len = name.len;
	buf_free(&name);
	if (!it->peek && it->kind != IMAP_FI_BINARY_SIZE)
		spec->sets_seen = true;
	spec->count++;
	return 0;
}

/* RFC 8970 3.2: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"],
 * preview-mod = "LAZY".  We always compute the preview, which LAZY
 * allows, so the modifier changes nothing. */
static bool
is_preview_mods(const struct imap_arg *a)
{
	const struct imap_arg *m;

	if (a == NULL || a->type != IMAP_ARG_LIST || a->count == 0)
		return false;
	for (m = a->list; m != NULL; m = m->next)
		if (!imap_arg_atom_is(m, "LAZY"))
			return false;
	return true;
}

static int
one_item(struct imap_ctx *ctx, struct imap_fetch_spec *spec, const struct imap_arg *a,
         struct imap_result *res)
{
	if (a->type == IMAP_ARG_FETCH_ATT)
		return section_item(ctx, spec, a, res);
	if (!atom_item(spec, a)) {
		bad(res, "Invalid fetch item");
		return -1;
	}
	return 0;
}

/* fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
 * fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED" */
static int
modifiers_parse(struct imap_ctx *ctx, struct imap_fetch_spec *spec, const struct imap_arg *mods,
                struct imap_result *res)
{
	const struct imap_arg *a;

	if (mods->type != IMAP_ARG_LIST || mods->count == 0 || mods->next != NULL) {
		bad(res, "Invalid fetch modifiers");
		return -1;
	}
	for (a = mods->list; a != NULL; a = a->next) {
		if (imap_arg_atom_is(a, "CHANGEDSINCE")) {
			uint64_t v;

			/* mod-sequence-value: 1 .. 2^63-1 (RFC 7162 7) */
			if (spec->changedsince != 0 || !imap_arg_number(a->next, &v) || v == 0) {
				bad(res, "Invalid CHANGEDSINCE");
				return -1;
			}
			spec->changedsince = v;
			a = a->next;
		} else if (imap_arg_atom_is(a, "VANISHED")) {
			if (spec->vanished) {
				bad(res, "VANISHED given twice");
				return -1;
			}
			spec->vanished = true;
		} else {
			bad(res, "Unknown fetch modifier");
			return -1;
		}
	}
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE,
	 * once QRESYNC is enabled; otherwise BAD. */
	if (spec->vanished && (!ctx->uid || spec->changedsince == 0 || !ctx->qresync)) {
		bad(res, ctx->qresync ? "VANISHED needs UID FETCH with CHANGEDSINCE" : "QRESYNC is not enabled");
		return -1;
	}
	return 0;
}

struct imap_fetch_spec *
imap_fetch_parse(struct imap_ctx *ctx, const struct imap_arg *items, const struct imap_arg *modifiers,
                 struct imap_result *res)
{
	struct imap_fetch_spec *spec = arena_alloc(ctx->arena, sizeof(*spec));
	const struct imap_arg *a;
	size_t cap = 3;  /* UID, FLAGS and MODSEQ may be added */
	size_t i;

	if (items == NULL) {
		bad(res, "Missing fetch items");
		return NULL;
	}
	if (items->type == IMAP_ARG_LIST) {
		if (items->count == 0) {
			bad(res, "Empty fetch item list");
			return NULL;
		}
		cap += items->count;
	} else {
		cap += 5;  /* FULL */
	}
	spec->items = arena_alloc(ctx->arena, cap * sizeof(*spec->items));
	if (items->type == IMAP_ARG_LIST) {
		for (a = items->list; a != NULL; a = a->next) {
			if (one_item(ctx, spec, a, res) == -1)
				return NULL;
			if (imap_arg_atom_is(a, "PREVIEW") && is_preview_mods(a->next))
				a = a->next;
		}
	} else if (imap_arg_atom_is(items, "ALL") || imap_arg_atom_is(items, "FAST") ||
	           imap_arg_atom_is(items, "FULL")) {
		/* RFC 9051 6.4.5 macros */
		add_simple(spec, IMAP_FI_FLAGS, "FLAGS");
		add_simple(spec, IMAP_FI_INTERNALDATE, "INTERNALDATE");
		add_simple(spec, IMAP_FI_RFC822_SIZE, "RFC822.SIZE");
		if (!imap_arg_atom_is(items, "FAST"))
			add_simple(spec, IMAP_FI_ENVELOPE, "ENVELOPE");
		if (imap_arg_atom_is(items, "FULL"))
			add_simple(spec, IMAP_FI_BODY, "BODY");
	} else if (one_item(ctx, spec, items, res) == -1) {
		return NULL;
	} else if (imap_arg_atom_is(items, "PREVIEW") && is_preview_mods(modifiers)) {
		/* "FETCH 1 PREVIEW (LAZY)": the list is the item's, not modifiers */
		modifiers = modifiers->next;
	}
	if (modifiers != NULL && modifiers_parse(ctx, spec, modifiers, res) == -1)
		return NULL;
	if (ctx->uid)
		add_simple(spec, IMAP_FI_UID, "UID");
	for (i = 0; i < spec->count; i++) {
		const struct imap_fetch_item *it = &spec->items[i];

		switch (it->kind) {
		case IMAP_FI_MODSEQ:
			spec->modseq = true;
			break;
		case IMAP_FI_EMAILID:
			spec->emailid = true;
			break;
		case IMAP_FI_ENVELOPE:
		case IMAP_FI_BODY:
		case IMAP_FI_BODYSTRUCTURE:
			spec->need_cache = true;
			break;
		case IMAP_FI_RFC822:
		case IMAP_FI_RFC822_TEXT:
			spec->sets_seen = true;
			spec->need_file = true;
			break;
		case IMAP_FI_RFC822_HEADER:
			spec->need_header = true;
			break;
		case IMAP_FI_SECTION:
			if (it->section.n == 0 && (it->section.text == IMAP_SECT_HEADER ||
			                           it->section.text == IMAP_SECT_FIELDS ||
			                           it->section.text == IMAP_SECT_FIELDS_NOT))
				spec->need_header = true;
			else
				spec->need_file = true;
			break;
		case IMAP_FI_BINARY:
		case IMAP_FI_BINARY_SIZE:
		case IMAP_FI_PREVIEW:
			spec->need_file = true;
			break;
		default:
			break;
		}
	}
	if (spec->changedsince != 0)
		spec->modseq = true;
	if (spec->modseq)
		ctx->condstore_used = true;  /* RFC 7162 3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE */
	return spec;
}

bool
imap_fetch_sets_seen(const struct imap_fetch_spec *spec)
{
	return spec->sets_seen;
}

bool
imap_fetch_metadata_only(const struct imap_fetch_spec *spec)
{
	return !spec->need_file && !spec->need_header && !spec->need_cache;
}

bool
imap_fetch_uses_modseq(const struct imap_fetch_spec *spec)
{
	return spec->modseq;
}

uint64_t
imap_fetch_changedsince(const struct imap_fetch_spec *spec)
{
	return spec->changedsince;
}

bool
imap_fetch_vanished(const struct imap_fetch_spec *spec)
{
	return spec->vanished;
}
