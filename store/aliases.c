/*
 * aliases.c - names that point at a model, as a model registry's aliases:
 * a service predicts through "churn-prod" and an operator switches it to a
 * better model with one write.
 *
 * A switch is one UPDATE on the writer, so every read before its commit
 * sees the old model and every read after it the new one; a reader never
 * sees an alias half-switched. The foreign key aliases.model_id ->
 * models.id keeps a model an alias points at from being deleted under it
 * (store_model_delete() and store_job_delete() check first, for a clear
 * error). A model whose job was deleted lives on for its aliases only:
 * the last alias to let go of it deletes it, row then file.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIAS_COLUMNS "name, model_id, created_at, updated_at"

bool store_alias_name_valid(const char *name)
{
	size_t i = 0;

	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (i = 1; name[i] != '\0'; i++)
		if (i >= STORE_ALIAS_NAME_MAX ||
		    !((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '.' || name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

static int name_check(const char *name, struct fitd_error *err)
{
	if (store_alias_name_valid(name))
		return FITD_OK;
	return fitd_error_set(err, FITD_EINVAL, "invalid_name",
			      "'%.64s' is not an alias name: 1 to %d of a-z 0-9 . _ -, starting "
			      "with a letter or digit",
			      name, STORE_ALIAS_NAME_MAX);
}

static int alias_from_row(sqlite3_stmt *st, void *item, struct fitd_error *err)
{
	struct store_alias *a = item;
	const unsigned char *name = sqlite3_column_text(st, 0);
	const unsigned char *model = sqlite3_column_text(st, 1);

	(void)err;
	snprintf(a->name, sizeof(a->name), "%s", name ? (const char *)name : "");
	snprintf(a->model_id, sizeof(a->model_id), "%s", model ? (const char *)model : "");
	a->created_at = sqlite3_column_int64(st, 2);
	a->updated_at = sqlite3_column_int64(st, 3);
	return FITD_OK;
}

static void alias_release_item(void *item)
{
	(void)item;
}

/* Reads alias name on db into *out; FITD_ENOTFOUND alias_not_found. */
static int alias_read(sqlite3 *db, const char *name, struct store_alias *out,
		      struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(db, "SELECT " ALIAS_COLUMNS " FROM aliases WHERE name = ?", &st,
				err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read alias", err);
	if (rc == FITD_OK)
		rc = alias_from_row(st, out, err);
	else if (rc == FITD_ENOTFOUND)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "alias_not_found", "no alias named '%s'",
				    name);
	sqlite3_finalize(st);
	return rc;
}

int store_alias_get(struct store *s, const char *name, struct store_alias *out,
		    struct fitd_error *err)
{
	sqlite3 *db;
	int rc = name_check(name, err);

	if (rc != FITD_OK)
		return rc;
	if (s->pg != NULL)
		return store__pg_alias_get(s, name, out, err);
	db = store__read_begin(s);
	rc = alias_read(db, name, out, err);
	store__read_end(s, db);
	return rc;
}

static const struct store__list_kind alias_list = {
	.page_sql = "SELECT " ALIAS_COLUMNS " FROM aliases"
		    " WHERE ?1 IS NULL OR name > ?1 ORDER BY name LIMIT ?2",
	.cursor_sql = "SELECT 1 FROM aliases WHERE name = ?",
	.noun = "alias",
	.what = "list aliases",
	.size = sizeof(struct store_alias),
	.from_row = alias_from_row,
	.release = alias_release_item,
};

int store_alias_list(struct store *s, const char *after, size_t limit, struct store_alias **out,
		     size_t *n, bool *more, struct fitd_error *err)
{
	void *items;
	int rc;

	if (s->pg != NULL)
		return store__pg_alias_list(s, after, limit, out, n, more, err);
	rc = store__list(s, &alias_list, after, NULL, limit, &items, n, more, err);

	*out = items;
	return rc;
}

/* FITD_ENOTFOUND model_not_found unless model id has a row; FITD_EUNPROCESSABLE past the cap. */
static int set_checks(sqlite3 *db, const char *model_id, bool creating, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int64_t count = 0;
	int rc = store__prepare(db,
				"SELECT (SELECT count(*) FROM models WHERE id = ?),"
				" (SELECT count(*) FROM aliases)",
				&st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, model_id, -1, SQLITE_STATIC);
	rc = store__step_row(db, st, "read model", err);
	if (rc == FITD_OK && sqlite3_column_int64(st, 0) == 0)
		rc = fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				    "no model with id '%.64s'", model_id);
	else if (rc == FITD_OK)
		count = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	if (rc == FITD_OK && creating && count >= STORE_ALIASES_MAX)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "too_many_aliases",
				    "%lld aliases exist, the most fitd keeps; delete one first",
				    (long long)count);
	return rc;
}

/* Inserts or switches alias name to model_id at now. */
static int upsert(sqlite3 *db, const char *name, const char *model_id, struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store__prepare(
	    db,
	    "INSERT INTO aliases (name, model_id, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE"
	    " SET model_id = excluded.model_id, updated_at = excluded.updated_at",
	    &st, err);

	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, model_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "set alias", err);
	sqlite3_finalize(st);
	return rc;
}

static int set_in_tx(sqlite3 *db, const char *name, const char *model_id, struct store_alias *out,
		     bool *created, char previous[STORE_ID_MAX], bool *dropped,
		     struct fitd_error *err)
{
	struct fitd_error scratch = { 0 };
	struct store_alias old;
	int rc = alias_read(db, name, &old, &scratch);

	*created = rc == FITD_ENOTFOUND;
	previous[0] = '\0';
	if (rc == FITD_OK)
		snprintf(previous, STORE_ID_MAX, "%s", old.model_id);
	else if (rc != FITD_ENOTFOUND)
		return fitd_error_set(err, rc, scratch.code, "%s", scratch.message);
	rc = set_checks(db, model_id, *created, err);
	if (rc == FITD_OK)
		rc = upsert(db, name, model_id, err);
	if (rc == FITD_OK && previous[0] != '\0' && strcmp(previous, model_id) != 0)
		rc = store__model_drop_orphan(db, previous, dropped, err);
	if (rc == FITD_OK)
		rc = alias_read(db, name, out, err);
	return rc;
}

int store_alias_set(struct store *s, const char *name, const char *model_id,
		    struct store_alias *out, bool *created, char previous[STORE_ID_MAX],
		    struct fitd_error *err)
{
	bool dropped = false;
	sqlite3 *db;
	int rc = name_check(name, err);

	if (rc == FITD_OK && !store_id_valid("mdl", model_id))
		rc = fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				    "no model with id '%.64s'", model_id);
	if (rc == FITD_OK && s->pg != NULL)
		return store__pg_alias_set(s, name, model_id, out, created, previous, err);
	if (rc == FITD_OK)
		rc = store__write_begin(s, &db, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__write_end(
	    s, set_in_tx(db, name, model_id, out, created, previous, &dropped, err), err);
	if (rc == FITD_OK && dropped)
		store__model_files_remove(s, (const char(*)[STORE_ID_MAX])previous, 1);
	return rc;
}

static int delete_in_tx(sqlite3 *db, const char *name, struct store_alias *out, bool *dropped,
			struct fitd_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = alias_read(db, name, out, err);

	if (rc == FITD_OK)
		rc = store__prepare(db, "DELETE FROM aliases WHERE name = ?", &st, err);
	if (rc != FITD_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store__sqlite_error(db, sqlite3_errcode(db), "delete alias", err);
	sqlite3_finalize(st);
	if (rc == FITD_OK)
		rc = store__model_drop_orphan(db, out->model_id, dropped, err);
	return rc;
}

int store_alias_delete(struct store *s, const char *name, struct store_alias *out,
		       struct fitd_error *err)
{
	struct store_alias was;
	bool dropped = false;
	sqlite3 *db;
	int rc = name_check(name, err);

	if (rc == FITD_OK && s->pg != NULL)
		return store__pg_alias_delete(s, name, out, err);
	if (rc == FITD_OK)
		rc = store__write_begin(s, &db, err);
	if (rc != FITD_OK)
		return rc;
	rc = store__write_end(s, delete_in_tx(db, name, &was, &dropped, err), err);
	if (rc == FITD_OK && dropped)
		store__model_files_remove(s, (const char(*)[STORE_ID_MAX])was.model_id, 1);
	if (rc == FITD_OK && out != NULL)
		*out = was;
	return rc;
}
