/* Folder names of imported mail: the special-use folders other servers
 * and clients name their own way, and Gmail's labels. */
#include <string.h>
#include <strings.h>

#include "cli/cli_mbox.h"

/* Other names for Tern's INBOX and special-use folders (Drafts, Sent,
 * Trash, Junk, Archive: store_ensure_default_mailboxes). */
static const struct {
	const char *from, *to;
} special_alias[] = {
	{ "Inbox", "INBOX" },
	{ "Sent Messages", "Sent" }, { "Sent Items", "Sent" }, { "Sent Mail", "Sent" },
	{ "Deleted Messages", "Trash" }, { "Deleted Items", "Trash" },
	{ "Spam", "Junk" }, { "Junk E-mail", "Junk" }, { "Junk Email", "Junk" },
	{ "Archives", "Archive" },
};

const char *
cli_import_special(const char *name, char *const *names, size_t n)
{
	for (size_t i = 0; i < sizeof(special_alias) / sizeof(special_alias[0]); i++) {
		bool has = false;

		if (strcasecmp(name, special_alias[i].from) != 0)
			continue;
		for (size_t k = 0; k < n; k++)
			has = has || strcmp(names[k], special_alias[i].to) == 0;
		return has ? name : special_alias[i].to;
	}
	return name;
}

/* Gmail's system labels as Google Takeout writes them in X-Gmail-Labels
 * (the tabs come as "Category Promotions" and the like). */
static const struct {
	const char *label, *folder;
	uint32_t flags;
} gmail_labels[] = {
	{ "Inbox", "INBOX", 0 },
	{ "Sent", "Sent", 0 },
	{ "Drafts", "Drafts", STORE_FLAG_DRAFT },
	{ "Draft", "Drafts", STORE_FLAG_DRAFT },
	{ "Trash", "Trash", 0 },
	{ "Spam", "Junk", 0 },
	{ "Starred", NULL, STORE_FLAG_FLAGGED },
	{ "Opened", NULL, STORE_FLAG_SEEN },
	{ "Unread", NULL, 0 },
	{ "Important", NULL, 0 },
	{ "Archived", NULL, 0 },
	{ "Chat", NULL, 0 },
};

void
cli_mbox_label(const char *label, const char **folder_out, uint32_t *flags_out)
{
	*flags_out = 0;
	for (size_t i = 0; i < sizeof(gmail_labels) / sizeof(gmail_labels[0]); i++) {
		if (strcasecmp(label, gmail_labels[i].label) == 0) {
			*folder_out = gmail_labels[i].folder;
			*flags_out = gmail_labels[i].flags;
			return;
		}
	}
	*folder_out = strncasecmp(label, "Category ", 9) == 0 ? NULL : label;
}
