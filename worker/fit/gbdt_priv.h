/*
 * gbdt_priv.h - names shared between the gbdt_*.c files (prefix fit__gbdt_),
 * not part of gbdt.h's interface; tests may include it.
 *
 * How a fit is put together (gbdt_boost.c drives it):
 *
 *   binning         each input's bins from a sample of training rows, then
 *                   the uint8 matrices of the training and validation rows
 *                   (gbdt_bin.c)
 *   histograms      per leaf and feature {sum g, sum h, rows} per bin, built
 *                   feature-parallel over a leaf's rows (gbdt_hist.c)
 *   split search    per feature from its histogram (gbdt_split.c)
 *   growth          leaf-wise, with the stable partition of rows and the
 *                   histogram pool (gbdt_grow.c)
 *   boosting        losses, gradients, sampling, early stopping (gbdt_boost.c)
 *   the model       its storage, validation and the flattened predictor
 *                   (gbdt_model.c); prediction (gbdt_predict.c); TreeSHAP and
 *                   importance (gbdt_shap.c)
 *
 * All working memory of a fit is laid out by fit__gbdt_plan_layout() on a
 * counting arena first (internal.h), so fit_gbdt_memory_estimate() sizes
 * the same plan.
 */
#ifndef FIT_GBDT_PRIV_H
#define FIT_GBDT_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/gbdt.h"
#include "worker/fit/internal.h"

#define FIT__GBDT_SAMPLE     200000 /* training rows the bin boundaries are cut from, at most */
#define FIT__GBDT_ONEHOT     4	  /* categorical inputs with <= this many bins split one-vs-rest */
#define FIT__GBDT_CAT_MIN    10	  /* level bins on fewer rows of a leaf pool with missing values */
#define FIT__GBDT_CAT_SMOOTH 10.0 /* added to H when ordering level bins by G / H */
#define FIT__GBDT_CAT_SIDE   32	  /* level bins on one side of a subset split, at most */
#define FIT__GBDT_CAT_L2 \
	10.0 /* added to l2 when scoring a subset split's children (LightGBM's cat_l2) */
#define FIT__GBDT_BLOCK	     4096 /* rows of a fixed block: sums are taken per block, in order */
#define FIT__GBDT_PAR_BLOCKS 16	  /* blocks from which a pass over rows is parallel */
#define FIT__GBDT_POOL	     ((size_t)64 << 20) /* histogram pool budget when max_leaves is large */

/* A training row's gradient and hessian for one output. */
struct fit__gbdt_gh {
	float g, h;
};

/*
 * One histogram bin, and also the sums of a leaf: counts are exact in double.
 * The padding makes a bin 32 bytes, so the histogram loop updates it with one
 * load, add and store of four doubles (gbdt_hist.c); it stays zero.
 */
struct fit__gbdt_hbin {
	double g, h, n, pad;
};

/* ---- binning (gbdt_bin.c) ---- */

/* The bins of one input: numeric by thresholds, categorical by level. */
struct fit__gbdt_feat {
	const struct fit_column *src;
	int cat;
	unsigned nbins; /* value bins, >= 1; bin nbins holds missing values (and unseen levels) */
	size_t hoff;	/* its first bin in a leaf histogram */
	double *thr; /* numeric: bin b holds thr[b-1] < x <= thr[b]; thr[nbins-1..255] = DBL_MAX */
	unsigned span; /* numeric: the smallest power of two >= nbins */
	/* categorical: the model's levels are the frame's levels seen on training rows */
	size_t nlevels;
	int32_t *code_level; /* per frame code: the model level, or -1 when unseen */
	int32_t *level_code; /* per model level: its frame code */
	uint8_t *level_bin;  /* per model level: its bin */
};

/* The binned training (and validation) rows and the inputs' tables. */
struct fit__gbdt_data {
	size_t n, nv, nf;
	uint8_t *bins;	/* n x nf, row-major: a row's bins share a cache line */
	uint8_t *vbins; /* nv x nf */
	struct fit__gbdt_feat *feat;
	size_t nhbins; /* bins of a leaf histogram over every input */
};

/* The binning's tables (sliced per input) and scratch. */
struct fit__gbdt_binwork {
	double *thr;	     /* nf x max_bins thresholds */
	int32_t *code_level; /* levels, and as many of each below */
	int32_t *level_code;
	uint8_t *level_bin;
	size_t nsample; /* min(training rows, FIT__GBDT_SAMPLE) */
	uint64_t *sort; /* threads x 2 nsample: radix sort keys and scratch, then the sorted
			     values and their counts */
	uint32_t *pick; /* nsample sampled positions in the training list, ascending */
	uint64_t *keys; /* levels: the ordering of one categorical input's levels */
};

/*
 * Lays out the tables of d->nf inputs, whose categorical ones have levels
 * frame levels in all; they live as long as the fit.
 */
void fit__gbdt_bin_layout(struct fit__arena *a, struct fit__gbdt_data *d, size_t levels,
			  struct fit__gbdt_binwork *w);

/* Lays out the scratch of cutting bins from n training rows on threads threads. */
void fit__gbdt_bin_scratch(struct fit__arena *a, size_t n, size_t levels, int threads,
			   struct fit__gbdt_binwork *w);

/*
 * Cuts every input's bins from a seeded sample of at most FIT__GBDT_SAMPLE of
 * the training rows (and, for categorical inputs, counts levels over all of
 * them). FITD_ECANCELLED when poll says so.
 */
int fit__gbdt_bin_fit(struct fit__gbdt_data *d, const struct fit_gbdt_problem *prob,
		      const struct fit_gbdt_params *p, struct fit__gbdt_binwork *w,
		      struct fit__poll *poll);

/* Writes the bins of frame rows[0..n) to out (n x d->nf). FITD_ECANCELLED when poll says so. */
int fit__gbdt_bin_rows(const struct fit__gbdt_data *d, const size_t *rows, size_t n, uint8_t *out,
		       int threads, struct fit__poll *poll);

/* ---- histograms (gbdt_hist.c) ---- */

/*
 * Zeroes, then builds the histograms of features act[j0..j1) over the rows
 * rows[0..m) (ascending) into hist (a leaf histogram of d->nhbins bins). Each
 * bin sums its rows in the order given, so the result does not depend on how
 * features are shared among threads.
 */
void fit__gbdt_hist_build(const struct fit__gbdt_data *d, const struct fit__gbdt_gh *gh,
			  const uint32_t *rows, size_t m, const uint32_t *act, size_t j0, size_t j1,
			  struct fit__gbdt_hbin *hist);

/* big[b] -= small[b] over the bins of feature f. */
void fit__gbdt_hist_subtract(const struct fit__gbdt_feat *f, struct fit__gbdt_hbin *big,
			     const struct fit__gbdt_hbin *small);

/*
 * The sums of rows[0..m) (NULL: rows 0..m-1), over fixed blocks of
 * FIT__GBDT_BLOCK rows added in block order; partial holds a slot per block.
 */
struct fit__gbdt_hbin fit__gbdt_sum_rows(const struct fit__gbdt_gh *gh, const uint32_t *rows,
					 size_t m, struct fit__gbdt_hbin *partial, int threads);

/* ---- split search (gbdt_split.c) ---- */

/* The best split of a leaf on one feature. */
struct fit__gbdt_split {
	double gain;		    /* S(left) + S(right) - S(leaf) */
	int32_t feat;		    /* index into the inputs; -1: no valid split */
	uint8_t cat;		    /* a categorical split */
	uint8_t dl;		    /* missing values (and pooled rare levels) go left */
	uint8_t bin;		    /* numeric: the last value bin on the left */
	struct fit__gbdt_hbin left; /* the left child's sums */
	uint64_t mask[4];	    /* every bin going left, the missing bin included when dl */
};

/* The limits a split must respect, from the parameters. */
struct fit__gbdt_rules {
	double l1, l2, min_hess, min_rows, min_gain;
};

void fit__gbdt_rules_init(struct fit__gbdt_rules *r, const struct fit_gbdt_params *p);

/* S(G, H) = soft(G, l1)^2 / (H + l2). */
double fit__gbdt_score(const struct fit__gbdt_rules *r, double g, double h);

/* -soft(G, l1) / (H + l2): a leaf's weight before the learning rate. */
double fit__gbdt_weight(const struct fit__gbdt_rules *r, double g, double h);

/*
 * The best split of feature f (histogram h, d->feat[f]) for a leaf with sums
 * s into *out (out->feat = -1 when no split passes the rules). Ties keep the
 * lowest bin, numeric scans putting missing values right before left.
 */
void fit__gbdt_split_feature(const struct fit__gbdt_feat *ft, int32_t f,
			     const struct fit__gbdt_hbin *h, const struct fit__gbdt_hbin *s,
			     const struct fit__gbdt_rules *r, struct fit__gbdt_split *out);

/* Whether bin b goes left under mask. */
static inline int fit__gbdt_goes_left(const uint64_t *mask, unsigned b)
{
	return (int)((mask[b >> 6] >> (b & 63)) & 1);
}

/* ---- growth (gbdt_grow.c) ---- */

/* A node of the tree being grown, in bins. */
struct fit__gbdt_wnode {
	int32_t feat; /* -1: a leaf */
	int32_t left; /* children: left, right = left + 1 */
	uint8_t cat, dl, bin;
	uint64_t mask[4];
	double value;		   /* leaf: weight times the learning rate */
	struct fit__gbdt_hbin sum; /* of its rows; sum.h is the cover */
	double gain;
	size_t begin, end; /* leaf: its rows in grow->rows */
};

struct fit__gbdt_leaf {
	size_t begin, end; /* rows[begin..end) */
	struct fit__gbdt_hbin sum;
	unsigned depth;
	int32_t node;
	int32_t slot; /* its histogram's slot, or -1 */
	int open;     /* waiting in the queue with a valid best split */
	struct fit__gbdt_split best;
};

/* An open leaf in the queue of splits: the best gain first, then the lowest leaf. */
struct fit__gbdt_open {
	double gain;
	int32_t leaf;
};

/*
 * What grows one tree; buffers from fit__gbdt_grow_layout(). A fit has one
 * such context per tree grown at once (gbdt_boost.c), each used by one
 * thread at a time.
 */
struct fit__gbdt_grow {
	const struct fit__gbdt_data *d;
	const struct fit_gbdt_params *p;
	struct fit__gbdt_rules rules;
	struct fit__poll *poll;
	int threads;		       /* the team a tree is grown with */
	const struct fit__gbdt_gh *gh; /* the tree's output's pairs, per training row */
	uint32_t *rows, *tmp;	       /* the tree's rows (ascending, then by leaf); scratch */
	size_t nrows;
	uint32_t *act; /* the tree's inputs, ascending */
	size_t nact;
	uint64_t *colkey;	     /* nf: input sampling scratch */
	struct fit__gbdt_leaf *leaf; /* max_leaves */
	size_t nleaves;
	struct fit__gbdt_open *heap; /* max_leaves */
	size_t nheap;
	struct fit__gbdt_wnode *node; /* 2 max_leaves - 1, set per tree */
	size_t nnodes;
	struct fit__gbdt_hbin *pool; /* cells bins: nslots histograms of stride bins */
	size_t cells, nslots, stride;
	int32_t *owner; /* per slot: the leaf holding it, or -1 */
	int32_t *free_slot;
	size_t nfree;
	struct fit__gbdt_split *cand; /* 2 x nf per-input candidates */
	size_t *blk;		      /* partition: per block of rows */
	struct fit__gbdt_hbin *partial;
};

/*
 * Lays out growing over n rows of nf inputs with at most nhbins histogram
 * bins per leaf; the histogram pool holds max_leaves / 2 + 1 of them (capped
 * at FIT__GBDT_POOL bytes, at least 3).
 */
void fit__gbdt_grow_layout(struct fit__arena *a, struct fit__gbdt_grow *g, size_t n, size_t nf,
			   size_t nhbins, const struct fit_gbdt_params *p);

/*
 * Once the bins are cut (g->p set): histograms of nhbins bins (at most the
 * layout's), as many in the pool as its cells hold, up to one per leaf.
 * Slots pack from the pool's start, so pages past them are never touched.
 */
void fit__gbdt_grow_bins(struct fit__gbdt_grow *g, size_t nhbins);

/*
 * Grows one tree over g->rows[0..g->nrows) with inputs g->act into
 * g->node[0..g->nnodes) on g->threads threads: splits carry their bins,
 * leaves their sums (cover) and rows (begin..end of g->rows) but no value
 * yet. FITD_ECANCELLED when poll says so (polled by the thread that grows
 * the tree, so call it from the calling thread or read the poll's stop),
 * FITD_EINTERNAL when a partition disagrees with its histogram.
 */
int fit__gbdt_grow_tree(struct fit__gbdt_grow *g);

/* The leaf node a row of binned inputs x reaches. */
int32_t fit__gbdt_wtree_leaf(const struct fit__gbdt_wnode *node, const uint8_t *x);

/* ---- boosting (gbdt_boost.c) and the fit (gbdt_train.c) ---- */

/*
 * The trees of a fit as they grow: nodes of every tree back to back, in
 * the model's units (thresholds, leaf values) with the bins of categorical
 * splits; planned for the most trees and nodes the parameters allow.
 */
struct fit__gbdt_store {
	size_t ntrees, nnodes, nmasks;
	size_t *root;	 /* per tree its first node; root[ntrees] = nnodes */
	int32_t *feat;	 /* input index, -1: leaf */
	int32_t *left;	 /* within the tree; the right child is left + 1 */
	uint8_t *dl;	 /* missing values go left */
	uint32_t *mask;	 /* categorical split: its bin mask in masks */
	double *value;	 /* numeric split: threshold; leaf: value */
	double *cover;	 /* hessian sum */
	double *gain;	 /* split gain */
	uint64_t *masks; /* 4 words per categorical split */
};

/* Everything a fit works with, laid out by fit__gbdt_plan_layout(). */
struct fit__gbdt_fit {
	const struct fit_gbdt_params *p;
	const struct fit_callbacks *cb;
	struct fit__poll *poll;
	size_t n, nv, nf, k, nclasses, levels;
	int has_cat;
	struct fit__gbdt_data data;
	struct fit__gbdt_binwork bw;
	const double *y;	     /* regression: the problem's targets, per frame row */
	const int32_t *label;	     /* classification: the problem's classes, per frame row */
	const size_t *train, *valid; /* the frame rows of the training and validation rows */
	double *base;		     /* k */
	double *f, *fv;		     /* margins, k x n and k x nv (output-major) */
	struct fit__gbdt_gh *gh;     /* k x n, output-major */
	uint8_t *inbag;		     /* n, or NULL without subsampling */
	double *partial;	     /* per block of rows: a loss sum */
	struct fit__gbdt_grow *grow; /* ngrow contexts: trees grown at once */
	size_t ngrow;
	struct fit__gbdt_wnode *wnode; /* chunk trees of 2 max_leaves - 1 nodes */
	size_t *wcount;		       /* chunk: their node counts */
	size_t chunk;		       /* trees of a round grown before they are stored */
	struct fit__gbdt_store store;
	struct fit_gbdt_report report;
	/*
	 * The arena's layout: bytes planned, bytes the model still needs (the
	 * tables, the store), and the two ranges [dead[0], dead[1]) (the binned
	 * rows) and [dead[2], dead[3]) (the boosting buffers) that are dead once
	 * boosting ends; released: what fit__release() gave back of them.
	 */
	size_t planned, keep, dead[4], released;
};

/* Lays out fit's buffers (its sizes and params set). */
void fit__gbdt_plan_layout(struct fit__arena *a, struct fit__gbdt_fit *fit);

/* The starting margins from the targets (fit->base). */
void fit__gbdt_boost_base(struct fit__gbdt_fit *fit);

/*
 * Runs the boosting rounds on binned data and targets, filling fit->store
 * and fit->report. FITD_ECANCELLED, FITD_EDIVERGED, FITD_EINTERNAL.
 */
int fit__gbdt_boost(struct fit__gbdt_fit *fit);

/*
 * A model from a finished fit: the kept trees of fit->store. Its
 * report.work_bytes is the fit's peak: the arena, or what was kept of it
 * plus the model. FITD_ENOMEM.
 */
int fit__gbdt_model_assemble(const struct fit__gbdt_fit *fit, struct fit_gbdt_model **out,
			     struct fitd_error *err);

/* ---- the model (gbdt_model.c) ---- */

/*
 * The model's flattened tree nodes: children side by side, four nodes to a
 * cache line. A leaf is a node on the virtual input ncolumns, which a row
 * buffer always holds as missing, sending the row "left" to the leaf
 * itself: a walk may take more steps than its path without changing place.
 */
struct fit__gbdt_pnode {
	union {
		double thr;  /* numeric split */
		double leaf; /* leaf: its value */
		struct {
			uint32_t off;	  /* the bitset's first word in the model's cat_bits */
			uint32_t nlevels; /* bits of the bitset */
		} cat;
	} u;
	int32_t col;	/* the input's index in a row buffer; a leaf: ncolumns */
	uint32_t child; /* low 30 bits: the left child's index (right = left + 1); flags above */
};

#define FIT__GBDT_PN_DL	   (1u << 30) /* missing values go left */
#define FIT__GBDT_PN_CAT   (1u << 31) /* a categorical split */
#define FIT__GBDT_PN_CHILD ((1u << 30) - 1)

/* The model: fields the description points into, and the predictor. */
struct fit_gbdt_model {
	struct fit_gbdt_desc desc;
	struct fit_gbdt_column *columns;
	char *names;	     /* every column and level name, NUL-terminated, back to back */
	const char **levels; /* every column's level pointers, back to back */
	struct fit_gbdt_tree *trees;
	double *base;
	int32_t *column, *left, *right; /* the trees' node arrays, back to back */
	uint8_t *default_left;
	double *value, *cover, *gain;
	uint32_t *cat, *cat_bits;
	/* predictor */
	struct fit__gbdt_pnode *pn; /* every tree's nodes in flat order */
	double *pcover;		    /* cover of each flat node */
	size_t *proot;		    /* ntrees + 1: each tree's first flat node */
	uint32_t *pdepth;	    /* ntrees: each tree's deepest leaf */
	size_t maxdepth;	    /* the deepest leaf of any tree */
};

/* Sizes of a model's storage. */
struct fit__gbdt_shape {
	size_t ncolumns, nlevels, name_bytes, noutputs, ntrees, nnodes, ncat_words;
};

/* Bytes fit__gbdt_model_alloc() takes for shape; 0 on overflow. */
size_t fit__gbdt_model_bytes(const struct fit__gbdt_shape *s);

/* An empty model with storage for shape (desc counts set, pointers into it); FITD_ENOMEM. */
int fit__gbdt_model_alloc(const struct fit__gbdt_shape *s, struct fit_gbdt_model **out);

/* Validates a filled model and builds its predictor: FITD_EFORMAT, FITD_ENOMEM. */
int fit__gbdt_model_finish(struct fit_gbdt_model *m, struct fitd_error *err);

/* Whether flat node d of model m is a leaf. */
static inline int fit__gbdt_pn_leaf(const struct fit_gbdt_model *m, const struct fit__gbdt_pnode *d)
{
	return d->col == (int32_t)m->desc.ncolumns;
}

/* Whether a flat node sends the row buffer x left; the one rule predict and shap share. */
static inline int fit__gbdt_pn_left(const struct fit__gbdt_pnode *d, const double *x,
				    const uint32_t *bits)
{
	double v = x[d->col];

	if (v != v)
		return (d->child & FIT__GBDT_PN_DL) != 0;
	if (!(d->child & FIT__GBDT_PN_CAT))
		return v <= d->u.thr;
	return (int)((bits[d->u.cat.off + ((uint32_t)v >> 5)] >> ((uint32_t)v & 31)) & 1);
}

/* ---- prediction (gbdt_predict.c), shared with gbdt_shap.c ---- */

/* A frame's columns matched to a model's. */
struct fit__gbdt_bind {
	size_t ncols;
	const struct fit_column **src;
	int32_t **code_level; /* categorical: frame code -> model level, -1 = unseen */
};

int fit__gbdt_bind_init(const struct fit_gbdt_model *m, const struct fit_frame *f,
			struct fit__gbdt_bind *b, struct fitd_error *err);
void fit__gbdt_bind_release(struct fit__gbdt_bind *b);

/*
 * Writes n rows (frame rows rows[r0..r0+n), or r0.. when rows is NULL) as
 * model inputs to x (n rows of ncols + 1 doubles): numeric values,
 * categorical model levels as numbers, NAN when missing or unseen, and NAN
 * for the leaves' virtual input ncols.
 */
void fit__gbdt_bind_rows(const struct fit__gbdt_bind *b, const size_t *rows, size_t r0, size_t n,
			 double *x);

/* Checks rows against the frame; FITD_EINVAL when one is out of range. */
int fit__gbdt_check_rows(const size_t *rows, size_t n, size_t nrows, struct fitd_error *err);

#endif
