/*
 * files.c - directories, atomic publication of files and ids; see files.h.
 */
#include "store/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int store_files_errno(struct fitd_error *err, int errnum, const char *what, const char *path)
{
	if (errnum == ENOSPC || errnum == EDQUOT)
		return fitd_error_set(err, FITD_ENOSPC, NULL, "%s %s: no space left on device",
				      what, path);
	return fitd_error_set(err, FITD_EIO, NULL, "%s %s: %s", what, path, strerror(errnum));
}

int store_files_mkdirs(const char *dir, struct fitd_error *err)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return fitd_error_set(err, FITD_EINVAL, NULL, "bad directory path '%s'", dir);
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			return store_files_errno(err, errno, "mkdir", path);
		*p = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return store_files_errno(err, errno, "mkdir", path);
	return FITD_OK;
}

int store_files_sync_dir(const char *dir, struct fitd_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = FITD_OK;

	if (fd < 0)
		return store_files_errno(err, errno, "open", dir);
	if (fsync(fd) != 0)
		rc = store_files_errno(err, errno, "fsync", dir);
	close(fd);
	return rc;
}

int store_files_publish(int fd, const char *tmp_path, const char *final_path,
			struct fitd_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(final_path, '/');
	size_t dlen = slash ? (size_t)(slash - final_path) : 0;

	if (fsync(fd) != 0)
		return store_files_errno(err, errno, "fsync", tmp_path);
	if (rename(tmp_path, final_path) != 0)
		return store_files_errno(err, errno, "rename", final_path);
	if (dlen == 0 || dlen >= sizeof(dir))
		return store_files_sync_dir(".", err);
	memcpy(dir, final_path, dlen);
	dir[dlen] = '\0';
	return store_files_sync_dir(dir, err);
}

void store_id_new(const char *prefix, char out[STORE_ID_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[STORE_ID_HEX / 2];
	size_t got = 0;
	int n = snprintf(out, STORE_ID_MAX, "%s_", prefix);

	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

		if (r > 0)
			got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(raw) && (size_t)n + 2 * i + 2 < STORE_ID_MAX; i++) {
		out[n + 2 * i] = hex[raw[i] >> 4];
		out[n + 2 * i + 1] = hex[raw[i] & 15];
	}
	out[n + STORE_ID_HEX] = '\0';
}

bool store_id_valid(const char *prefix, const char *s)
{
	size_t plen = strlen(prefix);

	if (strncmp(s, prefix, plen) != 0 || s[plen] != '_')
		return false;
	s += plen + 1;
	for (int i = 0; i < STORE_ID_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[STORE_ID_HEX] == '\0';
}

int store_files_clear_dir(const char *dir, struct fitd_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = FITD_OK;

	if (d == NULL)
		return store_files_errno(err, errno, "opendir", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
			rc = store_files_errno(err, errno, "unlink in", dir);
	}
	closedir(d);
	return rc;
}
