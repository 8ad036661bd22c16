/*
 * auth.h - who may call the API: bearer tokens and their scopes.
 *
 * The token file has one token a line: "<sha256 hex> <scopes> <name>",
 * scopes comma-separated from read, write and admin; '#' starts a comment
 * line and blank lines are ignored. Only the SHA-256 of each token is kept,
 * on disk and in memory: a presented token is hashed and its hash compared
 * with every entry in constant time, so neither the file nor the timing of
 * a refusal tells anything about a valid token. The name stands for the
 * token in logs, as the owner of its jobs and as the key of its limits;
 * the token itself is never written anywhere.
 *
 * A token table is immutable once loaded, so lookups need no lock of their
 * own; the server swaps whole tables on reload (api_server_set_tokens).
 */
#ifndef API_AUTH_H
#define API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/base/status.h"

/* What a route needs and what a token may do; a token's scopes are a mask of these. */
enum api_scope {
	API_OPEN = 0, /* a route anyone may call, with or without a token */
	API_READ = 1 << 0,
	API_WRITE = 1 << 1,
	API_ADMIN = 1 << 2,
};

#define API_TOKEN_NAME_MAX 64	   /* characters of a token's name: A-Z a-z 0-9 . _ - */
#define API_TOKEN_FILE_MAX 1048576 /* bytes of a token file */
/*
 * Tokens in one table. A token's line takes at least 71 bytes (64 hex
 * digits, a scope, a name and two separators), so a token file of
 * API_TOKEN_FILE_MAX bytes never reaches it.
 */
#define API_TOKENS_MAX 16384

struct api_tokens;

/*
 * Parses a token file's text (len bytes, NULs refused). origin names it in
 * errors, which read "token file ORIGIN:LINE: reason". On error *out is
 * NULL and err has code "invalid_token_file" (FITD_EINVAL; also for more
 * than API_TOKENS_MAX tokens), or "out_of_memory" (FITD_ENOMEM) when the
 * table cannot be allocated. An empty table (only comments) is valid: then
 * only open routes can be called.
 */
int api_tokens_parse(const char *text, size_t len, const char *origin, struct api_tokens **out,
		     struct fitd_error *err);

/*
 * Reads and parses the file at path (at most API_TOKEN_FILE_MAX bytes);
 * errors as api_tokens_parse's.
 */
int api_tokens_load(const char *path, struct api_tokens **out, struct fitd_error *err);

/* NULL is allowed. */
void api_tokens_free(struct api_tokens *t);

size_t api_tokens_count(const struct api_tokens *t);

/*
 * Looks up a presented token (len bytes, any content). On a match copies
 * the entry's name into name (API_TOKEN_NAME_MAX + 1 bytes), its scope mask
 * into *scopes and returns true. Takes the same time whichever entry, if
 * any, matches.
 */
bool api_tokens_find(const struct api_tokens *t, const char *token, size_t len,
		     char name[API_TOKEN_NAME_MAX + 1], unsigned *scopes);

/* "read", "write", "admin" or "open". */
const char *api_scope_name(enum api_scope scope);

#endif
