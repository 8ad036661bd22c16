/*
 * frame_priv.h - what frame.c (the dataset file format) and frame_build.c
 * (the builder) share: the storage a frame owns behind its priv pointer.
 *
 * A frame owns its struct fit_frame, its cols array, and a frame_store: a
 * file mapping (loaded frames) and a list of heap blocks (names, values,
 * level arrays, string arenas). fit_frame_free() releases all of them.
 */
#ifndef FIT_FRAME_PRIV_H
#define FIT_FRAME_PRIV_H

#include <stddef.h>

#include "worker/fit/frame.h"

struct fit__frame_store {
	void *map;	/* read-only mapping of a loaded frame, or NULL */
	size_t map_len; /* bytes mapped */
	void **blocks;	/* heap blocks the frame owns, freed with free() */
	size_t nblocks; /* blocks in use */
	size_t cap;	/* room in blocks */
};

/*
 * Allocates a frame of nrows rows with ncols zeroed columns and room for
 * nblocks owned blocks. FITD_ENOMEM or FITD_ETOOBIG on failure (*out NULL).
 */
int fit__frame_alloc(size_t nrows, size_t ncols, size_t nblocks, struct fit_frame **out);

/*
 * Hands block (may be NULL) to the frame. Never fails: the caller reserved
 * the room in fit__frame_alloc(); a call beyond it is a bug and aborts.
 */
void fit__frame_own(struct fit_frame *f, void *block);

/* The mutable view of column col of a frame being assembled. */
static inline struct fit_column *fit__frame_col(struct fit_frame *f, size_t col)
{
	return (struct fit_column *)&f->cols[col];
}

#endif
