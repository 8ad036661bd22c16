/*
 * spec_facts.h - the column facts a job spec is validated against
 * (struct worker_column_info, spec.h), computed once per dataset and kept
 * in the store with it, so that a submission costs the same on a 10 GB
 * table as on iris: it reads them, never the dataset file.
 *
 * worker_dataset_facts_upload() computes them while the uploaded table is
 * in memory and hands them to the upload, which commits them with the
 * dataset's row. worker_dataset_facts_load() reads them back. A dataset
 * uploaded before the store kept them (schema 4) is described by its first
 * load instead: its file is read once, on the calling thread (the HTTP
 * thread of that first submission), and the facts are stored; every later
 * load reads the store alone.
 *
 * Thread-safe: each call uses the store's own connections.
 */
#ifndef WORKER_SPEC_FACTS_H
#define WORKER_SPEC_FACTS_H

#include <stddef.h>

#include "store/store.h"
#include "worker/spec.h"

/* A dataset's facts, ready for worker_spec_parse(cols, ncols, nrows). */
struct worker_dataset_facts {
	struct worker_column_info *cols; /* ncols; names point into stored */
	size_t ncols;
	size_t nrows;
	struct store_column *stored; /* what the store holds, owned */
};

/*
 * Computes the facts of every column of frame (the parsed upload up
 * holds) and gives them to up, to be committed with its row.
 * FITD_ENOMEM when memory runs out: nothing is guessed.
 */
int worker_dataset_facts_upload(struct store_upload *up, const struct fit_frame *frame,
				struct fitd_error *err);

/*
 * Fills *out with the facts of dataset id (describing it first when it has
 * none kept). FITD_ENOTFOUND ("dataset_not_found", message "dataset: no
 * dataset with id ...") when there is no such dataset or, for one without
 * facts, no readable file; FITD_ENOMEM; a store failure as the store says.
 * On error *out is empty (and safe to release).
 */
int worker_dataset_facts_load(struct store *s, const char *id, struct worker_dataset_facts *out,
			      struct fitd_error *err);

/* Frees what *f holds and empties it; an empty one is fine. */
void worker_dataset_facts_release(struct worker_dataset_facts *f);

#endif
