/*
 * oof.c - out-of-fold prediction files: a completed trial's predictions of
 * the rows its validation folds held out, float32, under
 * STATE/oof/JOB/TRIAL.f32. The job's final step reads those of its best
 * trials to choose an ensemble (worker/fit/ensemble.h).
 *
 * Files are written like every other file of the state (temp, fsync,
 * rename, fsync dir), so a crash leaves a whole file or none; the worker
 * keeps only its jobs' best trials' files, and deleting a job removes its
  * folder. Only the state directory's path is read, so any thread may call
 * these. On PostgreSQL they are rows of trial_oof instead (pg_oof.c), so
 * any node can read what another wrote; store_oof_path() still names the
 * file the SQLite engine would use.
 */
#include "store/internal.h"
#include "store/pg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int job_dir(const struct store *s, const char *job_id, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/oof/%s", s->state_dir, job_id);

	return n > 0 && (size_t)n < cap ? FITD_OK : FITD_EINVAL;
}

int store_oof_path(const struct store *s, const char *job_id, int64_t idx, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/oof/%s/%lld.f32", s->state_dir, job_id, (long long)idx);

	return n > 0 && (size_t)n < cap ? FITD_OK : FITD_EINVAL;
}

static int write_all(int fd, const char *p, size_t len, const char *path, struct fitd_error *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return store_files_errno(err, errno, "write", path);
		done += (size_t)w;
	}
	return FITD_OK;
}

int store_oof_write(const struct store *s, const char *job_id, int64_t idx, int64_t generation,
		    const float *v, size_t n, struct fitd_error *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX];
	int fd, rc;

	/* The engine's pool changes under a const store: only its connections are used. */
	if (s->pg != NULL)
		return store__pg_oof_write((struct store *)s, job_id, idx, generation, v, n, err);
	rc = job_dir(s, job_id, dir, sizeof(dir));

	if (rc == FITD_OK)
		rc = store_oof_path(s, job_id, idx, final, sizeof(final));
	if (rc == FITD_OK &&
	    snprintf(tmp, sizeof(tmp), "%s/.%lld.tmp", dir, (long long)idx) >= (int)sizeof(tmp))
		rc = FITD_EINVAL;
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL, "out-of-fold path too long");
	if (n > SIZE_MAX / sizeof(float))
		return fitd_error_set(err, FITD_ETOOBIG, NULL, "out-of-fold predictions too large");
	rc = store_files_mkdirs(dir, err);
	if (rc != FITD_OK)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return store_files_errno(err, errno, "create", tmp);
	rc = write_all(fd, (const char *)v, n * sizeof(float), tmp, err);
	if (rc == FITD_OK)
		rc = store_files_publish(fd, tmp, final, err);
	close(fd);
	if (rc != FITD_OK)
		unlink(tmp);
	return rc;
}

int store_oof_read(const struct store *s, const char *job_id, int64_t idx, float **out, size_t *n,
		   struct fitd_error *err)
{
	char path[PATH_MAX];
	struct stat sb;
	float *v = NULL;
	size_t done = 0, len;
	int fd, rc = FITD_OK;

	if (s->pg != NULL)
		return store__pg_oof_read((struct store *)s, job_id, idx, out, n, err);
	*out = NULL;
	*n = 0;
	if (store_oof_path(s, job_id, idx, path, sizeof(path)) != FITD_OK)
		return fitd_error_set(err, FITD_EINVAL, NULL, "out-of-fold path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return fitd_error_set(err, FITD_ENOTFOUND, "oof_not_found",
				      "no out-of-fold predictions for trial %lld", (long long)idx);
	if (fd < 0)
		return store_files_errno(err, errno, "open", path);
	if (fstat(fd, &sb) != 0 || sb.st_size < 0 || sb.st_size % sizeof(float) != 0) {
		close(fd);
		return fitd_error_set(err, FITD_EFORMAT, "bad_oof", "%s: not float32 values", path);
	}
	len = (size_t)sb.st_size;
	v = malloc(len ? len : 1);
	if (v == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out-of-fold predictions");
	while (rc == FITD_OK && done < len) {
		ssize_t r = read(fd, (char *)v + done, len - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			rc = fitd_error_set(err, FITD_EIO, NULL, "%s: short read", path);
		else
			done += (size_t)r;
	}
	close(fd);
	if (rc != FITD_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*n = len / sizeof(float);
	return FITD_OK;
}

void store_oof_remove(const struct store *s, const char *job_id, int64_t idx)
{
	char path[PATH_MAX];

	if (s->pg != NULL) {
		if (idx >= 0) /* a negative one names no trial; -1 is the whole job's there */
			store__pg_oof_remove((struct store *)s, job_id, idx);
	} else if (store_oof_path(s, job_id, idx, path, sizeof(path)) == FITD_OK)
		unlink(path);
}

void store_oof_remove_job(const struct store *s, const char *job_id)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (s->pg != NULL) {
		store__pg_oof_remove((struct store *)s, job_id, -1);
		return;
	}
	if (job_dir(s, job_id, dir, sizeof(dir)) != FITD_OK || (d = opendir(dir)) == NULL)
		return;
	/* Temp files too: a trial thread's write cut short by a crash. */
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

void store__oof_sweep(struct store *s)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	bool exists;

	if (s->pg != NULL) {
		store__pg_oof_sweep(s, NULL);
		return;
	}
	if (snprintf(dir, sizeof(dir), "%s/oof", s->state_dir) >= (int)sizeof(dir) ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!store_id_valid("job", de->d_name))
			continue;
		exists = true;
		if (store_job_exists(s, de->d_name, &exists, NULL) == FITD_OK && !exists)
			store_oof_remove_job(s, de->d_name);
	}
	closedir(d);
}
