/*
 * auth.c - the token file: its parser, and the constant-time lookup of a
 * presented token among the hashes it lists.
 *
 * The parser reads the whole file (it is small) and stops at the first bad
 * line with a reason naming the line, so a typo can never leave a token
 * half-configured: the daemon refuses to start, and a reload keeps the
 * table it has. Names and hashes must be unique: a name is a token's
 * identity for limits and job ownership, and one token under two names
 * would make its scopes ambiguous. Running out of memory is refused the
 * same way (FITD_ENOMEM): nothing is half-built, nothing leaks. The table
 * is one struct fitd_buf of records, capped at API_TOKENS_MAX.
 */
#include "api/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/base/buf.h"
#include "store/sha256.h"

/* One line of the token file as kept in memory: the hash, never the token. */
struct token_entry {
	unsigned char hash[STORE_SHA256_BYTES];
	unsigned scopes;
	unsigned line;
	char name[API_TOKEN_NAME_MAX + 1];
};

struct api_tokens {
	struct fitd_buf items; /* n struct token_entry records, at most API_TOKENS_MAX */
	size_t n;
};

static struct token_entry *token_at(const struct api_tokens *t, size_t i)
{
	return (struct token_entry *)t->items.data + i;
}

static const struct {
	const char *name;
	enum api_scope scope;
} scope_names[] = {
	{ "read", API_READ },
	{ "write", API_WRITE },
	{ "admin", API_ADMIN },
};

#define NSCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

const char *api_scope_name(enum api_scope scope)
{
	for (size_t i = 0; i < NSCOPES; i++)
		if (scope_names[i].scope == scope)
			return scope_names[i].name;
	return "open";
}

/* Parse state: where errors point. */
struct parser {
	const char *origin;
	unsigned line;
	struct fitd_error *err;
};

static int fail(const struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const struct parser *p, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return fitd_error_set(p->err, FITD_EINVAL, "invalid_token_file", "token file %s:%u: %s",
			      p->origin, p->line, why);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hash(const struct parser *p, const char *s, unsigned char out[STORE_SHA256_BYTES])
{
	if (strlen(s) != 2 * STORE_SHA256_BYTES)
		return fail(p, "the hash must be 64 hex digits (the token's sha256sum)");
	for (size_t i = 0; i < STORE_SHA256_BYTES; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return fail(p, "the hash must be 64 hex digits (the token's sha256sum)");
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return FITD_OK;
}

/* Parses "read,write" into a mask; each scope at most once, none empty. */
static int parse_scopes(const struct parser *p, char *s, unsigned *mask)
{
	char *save = NULL;

	*mask = 0;
	if (s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,") != NULL)
		return fail(p, "empty scope in '%.40s'", s);
	for (char *item = strtok_r(s, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < NSCOPES && strcmp(scope_names[i].name, item) != 0)
			i++;
		if (i == NSCOPES)
			return fail(p, "unknown scope '%.20s' (read, write or admin)", item);
		if (*mask & (unsigned)scope_names[i].scope)
			return fail(p, "scope '%s' is listed twice", item);
		*mask |= (unsigned)scope_names[i].scope;
	}
	return FITD_OK;
}

static int check_name(const struct parser *p, const char *s)
{
	size_t len = strlen(s);

	if (len > API_TOKEN_NAME_MAX ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") != len)
		return fail(p, "the name must be 1 to 64 of A-Z a-z 0-9 . _ -");
	return FITD_OK;
}

/* Refuses a name or hash already listed on an earlier line. */
static int check_unique(const struct parser *p, const struct api_tokens *t,
			const struct token_entry *e)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct token_entry *o = token_at(t, i);

		if (strcmp(o->name, e->name) == 0)
			return fail(p, "the name is already used on line %u", o->line);
		if (memcmp(o->hash, e->hash, sizeof(e->hash)) == 0)
			return fail(p, "the same token is already listed on line %u", o->line);
	}
	return FITD_OK;
}

static int parse_line(const struct parser *p, char *line, struct api_tokens *t)
{
	char *fields[4], *save = NULL;
	struct token_entry e = { .line = p->line };
	size_t n = 0;
	void *slot;
	int rc;

	for (char *f = strtok_r(line, " \t", &save); f && n < 4; f = strtok_r(NULL, " \t", &save))
		fields[n++] = f;
	if (n != 3)
		return fail(p, "expected '<sha256 hex> <scopes> <name>'");
	rc = parse_hash(p, fields[0], e.hash);
	if (rc == FITD_OK)
		rc = parse_scopes(p, fields[1], &e.scopes);
	if (rc == FITD_OK)
		rc = check_name(p, fields[2]);
	if (rc != FITD_OK)
		return rc;
	snprintf(e.name, sizeof(e.name), "%s", fields[2]);
	rc = check_unique(p, t, &e);
	if (rc != FITD_OK)
		return rc;
	slot = fitd_buf_grow(&t->items, sizeof(e));
	if (slot == NULL && fitd_buf_status(&t->items) == FITD_ETOOBIG)
		return fail(p, "more than %d tokens", API_TOKENS_MAX);
	if (slot == NULL)
		return fitd_error_set(p->err, FITD_ENOMEM, NULL, "token file %s: out of memory",
				      p->origin);
	memcpy(slot, &e, sizeof(e));
	t->n++;
	return FITD_OK;
}

int api_tokens_parse(const char *text, size_t len, const char *origin, struct api_tokens **out,
		     struct fitd_error *err)
{
	struct parser p = { .origin = origin, .line = 0, .err = err };
	struct api_tokens *t = calloc(1, sizeof(*t));
	char *copy = malloc(len + 1), *line = copy;
	int rc = FITD_OK;

	*out = NULL;
	if (t == NULL || copy == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "token file %s: out of memory", origin);
		goto out;
	}
	fitd_buf_init(&t->items, API_TOKENS_MAX * sizeof(struct token_entry));
	memcpy(copy, text, len);
	copy[len] = '\0';
	while (rc == FITD_OK && line < copy + len) {
		char *end = memchr(line, '\n', (size_t)(copy + len - line)), *s;

		if (end == NULL)
			end = copy + len;
		*end = '\0';
		p.line++;
		if (strlen(line) != (size_t)(end - line)) {
			rc = fail(&p, "NUL byte");
			break;
		}
		if (end > line && end[-1] == '\r')
			end[-1] = '\0';
		s = line + strspn(line, " \t");
		if (s[0] != '\0' && s[0] != '#')
			rc = parse_line(&p, s, t);
		line = end + 1;
	}
out:
	free(copy);
	if (rc != FITD_OK) {
		api_tokens_free(t);
		return rc;
	}
	*out = t;
	return FITD_OK;
}

int api_tokens_load(const char *path, struct api_tokens **out, struct fitd_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	ssize_t got = 0;
	int rc, read_errno = 0;

	*out = NULL;
	if (fd < 0)
		return fitd_error_set(err, FITD_EINVAL, "invalid_token_file",
				      "token file %s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > API_TOKEN_FILE_MAX) {
		rc = fitd_error_set(err, FITD_EINVAL, "invalid_token_file",
				    "token file %s: not a regular file of at most %d bytes", path,
				    API_TOKEN_FILE_MAX);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "token file %s: out of memory", path);
		goto out;
	}
	while (got < st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)(st.st_size - got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			read_errno = errno;
		if (n <= 0)
			break;
		got += n;
	}
	if (got != st.st_size) {
		rc = fitd_error_set(err, FITD_EINVAL, "invalid_token_file",
				    "token file %s: cannot read: %s", path,
				    read_errno ? strerror(read_errno) : "it changed while read");
		goto out;
	}
	rc = api_tokens_parse(text, (size_t)got, path, out, err);
out:
	free(text);
	close(fd);
	return rc;
}

void api_tokens_free(struct api_tokens *t)
{
	if (t == NULL)
		return;
	fitd_buf_release(&t->items);
	free(t);
}

size_t api_tokens_count(const struct api_tokens *t)
{
	return t->n;
}

bool api_tokens_find(const struct api_tokens *t, const char *token, size_t len,
		     char name[API_TOKEN_NAME_MAX + 1], unsigned *scopes)
{
	unsigned char h[STORE_SHA256_BYTES];
	struct store_sha256 ctx;
	size_t hit = 0; /* index + 1 of the matching entry */

	store_sha256_init(&ctx);
	store_sha256_update(&ctx, token, len);
	store_sha256_final(&ctx, h);
	/* Every entry is compared in full: no early exit on a difference or a match. */
	for (size_t i = 0; i < t->n; i++) {
		unsigned diff = 0;

		for (size_t k = 0; k < STORE_SHA256_BYTES; k++)
			diff |= (unsigned)(h[k] ^ token_at(t, i)->hash[k]);
		/* (diff - 1) >> 31 is 1 exactly when diff is 0 (diff < 256). */
		hit |= ((size_t)0 - (size_t)((diff - 1u) >> 31)) & (i + 1);
	}
	if (hit == 0)
		return false;
	snprintf(name, API_TOKEN_NAME_MAX + 1, "%s", token_at(t, hit - 1)->name);
	*scopes = token_at(t, hit - 1)->scopes;
	return true;
}
