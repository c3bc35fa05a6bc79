/* The config file format: "[section]" lines, "key = value" lines, "#"
 * comments (whole line, or after whitespace on a value line).  The parser
 * knows no keys: it gives back (section, key, value, line) entries and
 * reports syntax errors as "file:line: message". */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stddef.h>

struct conf_entry {
	char *section;
	char *key;
	char *value;
	unsigned line;
};

struct conf {
	char *path;
	struct conf_entry *entries;
	size_t count;
	/* Every "[section]" header (key and value NULL), so that a caller can
	 * refuse an unknown section even when it holds no keys. */
	struct conf_entry *sections;
	size_t nsections;
};

/* Parses text (len bytes) that came from path.  Returns 0, or -1 with a
 * malloc'd "path:line: message" in *error_out (caller frees).  Bounds:
 * CONF_LINE_MAX per line, CONF_FILE_MAX in all. */
int conf_parse(const char *path, const char *text, size_t len, struct conf **conf_out, char **error_out);
/* Reads and parses a file. */
int conf_load(const char *path, struct conf **conf_out, char **error_out);
void conf_free(struct conf **conf);
/* The last entry for section/key, or NULL. */
const struct conf_entry *conf_find(const struct conf *conf, const char *section, const char *key);

#endif
