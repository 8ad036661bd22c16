/*
 * files.h - the durable file steps of the store: directories, atomic
 * replacement (temp, fsync, rename, fsync dir) and server-generated ids.
 *
 * Names on disk are always ids made here, never strings from a client.
 */
#ifndef STORE_FILES_H
#define STORE_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/base/status.h"

/* "ds_" + 20 lowercase hex digits + NUL, and the same shape for other kinds. */
#define STORE_ID_MAX 32
#define STORE_ID_HEX 20

/* Creates dir and its missing parents with mode 0750; an existing dir is fine. */
int store_files_mkdirs(const char *dir, struct fitd_error *err);

/* fsyncs the directory so a rename or unlink inside it is durable. */
int store_files_sync_dir(const char *dir, struct fitd_error *err);

/*
 * Makes the file at tmp_path durable under final_path: fsync(fd), rename,
 * fsync of the directory. Does not close fd.
 */
int store_files_publish(int fd, const char *tmp_path, const char *final_path,
			struct fitd_error *err);

/* Maps an errno from a write path to FITD_ENOSPC or FITD_EIO with a message. */
int store_files_errno(struct fitd_error *err, int errnum, const char *what, const char *path);

/* Writes a new random id "<prefix>_<20 hex>" into out (STORE_ID_MAX bytes). */
void store_id_new(const char *prefix, char out[STORE_ID_MAX]);

/* True when s is exactly "<prefix>_" followed by 20 lowercase hex digits. */
bool store_id_valid(const char *prefix, const char *s);

/* Removes every regular file directly inside dir (used to clear tmp/ at start). */
int store_files_clear_dir(const char *dir, struct fitd_error *err);

#endif
