/*
 * models.c - model files: written durably under a new id before the row
 * that points at them is committed, read back whole for serving.
 *
 * A model file whose row never committed (a crash between the two steps, or
 * a trial result fenced off as stale) is an orphan; store__models_sweep()
 * removes orphans at start.
 */
#include "store/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_model_write(struct store *s, const char *text, size_t len, char id[STORE_ID_MAX],
		      struct fitd_error *err)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	size_t done = 0;
	int fd, rc = FITD_OK;

	store_id_new("mdl", id);
	snprintf(final, sizeof(final), "%s/%s", s->models_dir, id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", s->models_dir, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return store_files_errno(err, errno, "create", tmp);
	while (rc == FITD_OK && done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = store_files_errno(err, errno, "write", tmp);
		else
			done += (size_t)w;
	}
	if (rc == FITD_OK)
		rc = store_files_publish(fd, tmp, final, err);
	close(fd);
	if (rc != FITD_OK)
		unlink(tmp);
	return rc;
}

static bool model_row_exists(struct store *s, const char *id)
{
	sqlite3 *db = store__read_begin(s);
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (store__prepare(db, "SELECT 1 FROM models WHERE id = ?", &st, NULL) == FITD_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	store__read_end(s, db);
	return found;
}

int store_model_read(struct store *s, const char *id, char **text, size_t *len,
		     struct fitd_error *err)
{
	char path[PATH_MAX];
	struct stat sb;
	char *buf = NULL;
	size_t done = 0;
	int fd, rc = FITD_OK;

	*text = NULL;
	if (!store_id_valid("mdl", id) || !model_row_exists(s, id))
		return fitd_error_set(err, FITD_ENOTFOUND, "model_not_found",
				      "no model with id '%s'", id);
	snprintf(path, sizeof(path), "%s/%s", s->models_dir, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = store_files_errno(err, errno, "open", path);
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "model of %lld bytes",
				    (long long)sb.st_size);
		goto out;
	}
	while (done < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + done, (size_t)sb.st_size - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = store_files_errno(err, r < 0 ? errno : EIO, "read", path);
			goto out;
		}
		done += (size_t)r;
	}
	buf[done] = '\0';
	*text = buf;
	*len = done;
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int store__models_sweep(struct store *s, struct fitd_error *err)
{
	DIR *d = opendir(s->models_dir);
	struct dirent *de;

	if (d == NULL)
		return store_files_errno(err, errno, "opendir", s->models_dir);
	while ((de = readdir(d)) != NULL) {
		bool tmp = de->d_name[0] == '.' && strstr(de->d_name, ".tmp") != NULL;

		if (de->d_name[0] == '.' && !tmp)
			continue;
		if (tmp || !store_id_valid("mdl", de->d_name) || !model_row_exists(s, de->d_name))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return FITD_OK;
}
