/*
 * migrate.h - moving a single-node state (SQLite in a state directory) into
 * an empty PostgreSQL fitd schema, for `fitd migrate`.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include <stdint.h>

#include "daemon/base/status.h"

/* What store_migrate() moved, row by row. */
struct store_migration {
	int64_t datasets, columns, jobs, trials, requeued, events, models, aliases, oof;
};

/*
 * Copies everything of the SQLite state in state_dir into the PostgreSQL
 * database at location (a postgresql:// URI), keeping ids, timestamps and
 * states, in one PostgreSQL transaction: all of it is there or none.
 * Dataset and model files become checksummed chunks, out-of-fold files
 * trial_oof rows. Running trials become queued (as a restart on SQLite
 * would make them), so running and queued jobs resume on the new store.
 *
 * The source is only read, under SQLite's exclusive lock held from the
 * first read to the end: a daemon that has the database open makes it
 * fail (FITD_ESTATE, "source_in_use"), and one starting meanwhile cannot
 * open it (its busy timeout runs out).
 * Errors: FITD_ENOTFOUND when state_dir has no fitd.db; FITD_ESCHEMA
 * when its schema is not this fitd's (start this fitd on it once first);
 * FITD_ECONFLICT ("target_not_empty") when the target holds fitd data
 * already, with nothing changed; FITD_EINVAL for a location that is not
 * a PostgreSQL URI; store and file errors as they come. *out is filled
 * only on success. Not thread-safe with anything else on the same state.
 */
int store_migrate(const char *state_dir, const char *location, struct store_migration *out,
		  struct fitd_error *err);

#endif
