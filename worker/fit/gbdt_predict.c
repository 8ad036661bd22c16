/*
 * gbdt_predict.c - raw margins of rows of any frame that holds the model's
 * columns, matched by name.
 *
 * Binding maps each model column to the frame's column of that name and,
 * for categorical ones, every frame code to the model's level of the same
 * name (binary search over the model's sorted levels), or to "unseen".
 * Rows are then scored in blocks of BLOCK: a block's inputs are written
 * once into a small row-major buffer of doubles (numbers, level indexes,
 * NAN for missing and unseen), and every tree walks all the block's rows
 * while its nodes sit in L1. A row's margins add its trees' leaves in tree
 * order, whatever the block or thread, so results do not depend on threads.
 */
#include "worker/fit/gbdt_priv.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64 /* rows scored together */
#define GROUP 8	 /* rows walking a tree in lockstep */

int fit__gbdt_check_rows(const size_t *rows, size_t n, size_t nrows, struct fitd_error *err)
{
	for (size_t i = 0; rows != NULL && i < n; i++)
		if (rows[i] >= nrows)
			return fitd_error_set(err, FITD_EINVAL, "bad_rows",
					      "row %zu is out of range", rows[i]);
	return FITD_OK;
}

void fit__gbdt_bind_release(struct fit__gbdt_bind *b)
{
	for (size_t j = 0; b->code_level != NULL && j < b->ncols; j++)
		free(b->code_level[j]);
	free(b->code_level);
	free(b->src);
	memset(b, 0, sizeof(*b));
}

/* The model level named s, or -1. */
static int32_t find_level(const struct fit_gbdt_column *c, const char *s)
{
	size_t lo = 0, hi = c->nlevels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->levels[mid], s);

		if (cmp == 0)
			return (int32_t)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int bind_column(const struct fit_gbdt_column *mc, const struct fit_column *fc, int32_t **map,
		       struct fitd_error *err)
{
	if (fc->type != mc->type)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "column_type",
				      "column '%.64s' has another type than in training", mc->name);
	if (mc->type != FIT_COL_CATEGORICAL)
		return FITD_OK;
	*map = malloc((fc->nlevels ? fc->nlevels : 1) * sizeof(int32_t));
	if (*map == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t code = 0; code < fc->nlevels; code++)
		(*map)[code] = find_level(mc, fc->levels[code]);
	return FITD_OK;
}

int fit__gbdt_bind_init(const struct fit_gbdt_model *m, const struct fit_frame *f,
			struct fit__gbdt_bind *b, struct fitd_error *err)
{
	size_t nc = m->desc.ncolumns;
	int rc = FITD_OK;

	memset(b, 0, sizeof(*b));
	b->ncols = nc;
	b->src = calloc(nc, sizeof(*b->src));
	b->code_level = calloc(nc, sizeof(*b->code_level));
	if (b->src == NULL || b->code_level == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t j = 0; rc == FITD_OK && j < nc; j++) {
		const struct fit_gbdt_column *mc = &m->desc.columns[j];
		long idx = fit_frame_find(f, mc->name);

		if (idx < 0) {
			rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "missing_column",
					    "column '%.64s' is absent", mc->name);
			break;
		}
		b->src[j] = &f->cols[idx];
		rc = bind_column(mc, b->src[j], &b->code_level[j], err);
	}
	if (rc != FITD_OK)
		fit__gbdt_bind_release(b);
	return rc;
}

void fit__gbdt_bind_rows(const struct fit__gbdt_bind *b, const size_t *rows, size_t r0, size_t n,
			 double *x)
{
	size_t nc = b->ncols, ld = nc + 1;

	for (size_t i = 0; i < n; i++)
		x[i * ld + nc] = NAN;
	for (size_t j = 0; j < nc; j++) {
		const struct fit_column *c = b->src[j];
		const int32_t *map = b->code_level[j];

		for (size_t i = 0; i < n; i++) {
			size_t r = rows != NULL ? rows[r0 + i] : r0 + i;
			int32_t code, l;

			if (map == NULL) {
				x[i * ld + j] = c->num[r];
				continue;
			}
			code = c->cat[r];
			l = code >= 0 && (size_t)code < c->nlevels ? map[code] : -1;
			x[i * ld + j] = l >= 0 ? (double)l : NAN;
		}
	}
}

/*
 * Adds tree t's leaves to output c of n (<= GROUP) rows at x: the rows walk
 * in lockstep for as many steps as the tree is deep, so their loads overlap
 * and no step waits on a branch. A numeric step is written without one: a
 * missing value fails "v <= thr" and goes right, unless the node sends
 * missing values left; a leaf sends its always-missing virtual
 * input "left" to itself, so a walk may take more steps than its path
 * without changing place. Categorical splits take fit__gbdt_pn_left().
 */
static void walk_group(const struct fit_gbdt_model *m, size_t t, const double *x, size_t ld,
		       size_t n, double *out, size_t k)
{
	const struct fit__gbdt_pnode *pn = m->pn;
	uint32_t at[GROUP], root = (uint32_t)m->proot[t], moved = 1;

	for (size_t j = 0; j < n; j++)
		at[j] = root;
	for (uint32_t s = 0; s < m->pdepth[t] && moved; s++) {
		const double *xj = x;

		moved = 0;
		for (size_t j = 0; j < n; j++, xj += ld) {
			const struct fit__gbdt_pnode *d = pn + at[j];
			uint32_t c = d->child;
			double v = xj[d->col];
			uint32_t right = (uint32_t)(v > d->u.thr) | ((uint32_t)(v != v) & ~c >> 30);

			if (__builtin_expect((c & FIT__GBDT_PN_CAT) != 0, 0))
				right = (uint32_t)!fit__gbdt_pn_left(d, xj, m->cat_bits);
			right = (c & FIT__GBDT_PN_CHILD) + (right & 1);
			moved |= right ^ at[j];
			at[j] = right;
		}
	}
	for (size_t j = 0; j < n; j++)
		out[j * k] += pn[at[j]].u.leaf;
}

/* Margins of the n (<= BLOCK) rows whose inputs are x into out (n x noutputs). */
static void score_block(const struct fit_gbdt_model *m, const double *x, size_t n, double *out)
{
	size_t k = m->desc.noutputs, ld = m->desc.ncolumns + 1;

	for (size_t i = 0; i < n; i++)
		memcpy(out + i * k, m->base, k * sizeof(double));
	for (size_t t = 0; t < m->desc.ntrees; t++)
		for (size_t i = 0; i < n; i += GROUP)
			walk_group(m, t, x + i * ld, ld, n - i < GROUP ? n - i : GROUP,
				   out + i * k + t % k, k);
}

int fit_gbdt_predict(const struct fit_gbdt_model *m, const struct fit_frame *frame,
		     const size_t *rows, size_t nrows, int threads, double *margins,
		     struct fitd_error *err)
{
	struct fit__gbdt_bind b;
	size_t nc = m->desc.ncolumns, k = m->desc.noutputs, nblk = (nrows + BLOCK - 1) / BLOCK;
	size_t cells;
	double *buf;
	int rc = fit__gbdt_check_rows(rows, rows != NULL ? nrows : 0, frame->nrows, err);

	if (rc == FITD_OK && rows == NULL && nrows > frame->nrows)
		rc = fitd_error_set(err, FITD_EINVAL, "bad_rows", "more rows than the frame has");
	if (rc != FITD_OK)
		return rc;
	threads = threads < 1 ? 1 : threads > FIT_MAX_THREADS ? FIT_MAX_THREADS : threads;
	rc = fit__gbdt_bind_init(m, frame, &b, err);
	if (rc != FITD_OK)
		return rc;
	buf = fit__mul((size_t)threads * BLOCK, (nc + 1) * sizeof(double), &cells) ? NULL
										   : malloc(cells);
	if (buf == NULL) {
		fit__gbdt_bind_release(&b);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	}
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16) if (threads > 1 && nblk > 1)
	for (size_t blk = 0; blk < nblk; blk++) {
		double *x = buf + (size_t)omp_get_thread_num() * BLOCK * (nc + 1);
		size_t r0 = blk * BLOCK, n = nrows - r0 < BLOCK ? nrows - r0 : BLOCK;

		fit__gbdt_bind_rows(&b, rows, r0, n, x);
		score_block(m, x, n, margins + r0 * k);
	}
	free(buf);
	fit__gbdt_bind_release(&b);
	return FITD_OK;
}
