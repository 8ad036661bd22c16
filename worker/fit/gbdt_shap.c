/*
 * gbdt_shap.c - exact TreeSHAP and importance per column.
 *
 * TreeSHAP is Algorithm 2 of Lundberg, Erion and Lee, "Consistent
 * individualized feature attribution for tree ensembles" (2018): the
 * Shapley values of the path-dependent value function
 *
 *   v(S) = E[f(x) | x_S] = at a split on a column in S follow the row's
 *          branch, else average both branches weighted by cover / cover,
 *
 * computed in polynomial time by walking each tree once and carrying, for
 * the unique columns on the path, the share of subsets that reach the node
 * ("extend") and taking a column back out when it splits again ("unwind").
 * The row's own branch (the "hot" one) is decided by fit__gbdt_pn_left(),
 * the rule prediction uses, so missing values and categorical levels go
 * exactly where they go when predicting. The bias of a row is v({}) for
 * every tree (each node's cover-weighted mean) plus the base score, so the
 * contributions and the bias add up to the raw margin.
 *
 * Walks run over the model's flat nodes, recursively (a path is at most
 * MAX_DEPTH deep); each thread has its own path buffer and row buffer, and
 * each row's values are computed the same way whatever the thread.
 */
#include "worker/fit/gbdt_priv.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK	  16   /* rows bound together */
#define MAX_DEPTH 1024 /* the deepest tree TreeSHAP takes */

struct path_el {
	int32_t col;
	double zero; /* the share of subsets without the column that reach here */
	double one;  /* 1 when the row itself goes this way, else 0 */
	double w;    /* the permutation weight */
};

struct walk {
	const struct fit_gbdt_model *m;
	const double *mean; /* per flat node: its cover-weighted mean leaf value */
	const double *x;    /* the row's inputs */
	double *phi;	    /* its contributions for the tree's output */
};

static void extend(struct path_el *p, size_t d, double zero, double one, int32_t col)
{
	p[d] = (struct path_el){ col, zero, one, d == 0 ? 1.0 : 0.0 };
	for (size_t i = d; i-- > 0;) {
		p[i + 1].w += one * p[i].w * (double)(i + 1) / (double)(d + 1);
		p[i].w = zero * p[i].w * (double)(d - i) / (double)(d + 1);
	}
}

static void unwind(struct path_el *p, size_t d, size_t k)
{
	double one = p[k].one, zero = p[k].zero, next = p[d].w;

	for (size_t i = d; i-- > 0;) {
		if (one != 0.0) {
			double t = p[i].w;

			p[i].w = next * (double)(d + 1) / ((double)(i + 1) * one);
			next = t - p[i].w * zero * (double)(d - i) / (double)(d + 1);
		} else {
			p[i].w = p[i].w * (double)(d + 1) / (zero * (double)(d - i));
		}
	}
	for (size_t i = k; i < d; i++) {
		p[i].col = p[i + 1].col;
		p[i].zero = p[i + 1].zero;
		p[i].one = p[i + 1].one;
	}
}

/* The total weight of the path with element k unwound, the path left as it is. */
static double unwound_sum(const struct path_el *p, size_t d, size_t k)
{
	double one = p[k].one, zero = p[k].zero, next = p[d].w, total = 0.0;

	for (size_t i = d; i-- > 0;) {
		if (one != 0.0) {
			double t = next * (double)(d + 1) / ((double)(i + 1) * one);

			total += t;
			next = p[i].w - t * zero * (double)(d - i) / (double)(d + 1);
		} else {
			total += p[i].w / zero * (double)(d + 1) / (double)(d - i);
		}
	}
	return total;
}

static void recurse(const struct walk *wk, size_t q, struct path_el *parent, size_t d, double zero,
		    double one, int32_t col)
{
	const struct fit_gbdt_model *m = wk->m;
	const struct fit__gbdt_pnode *n = &m->pn[q];
	struct path_el *p = parent + d + 1;
	size_t l = n->child & FIT__GBDT_PN_CHILD, hot, cold, k;
	double iz = 1.0, io = 1.0;

	memcpy(p, parent, d * sizeof(*p));
	extend(p, d, zero, one, col);
	if (fit__gbdt_pn_leaf(m, n)) {
		for (size_t i = 1; i <= d; i++)
			wk->phi[p[i].col] += unwound_sum(p, d, i) * (p[i].one - p[i].zero) *
					     n->u.leaf;
		return;
	}
	hot = l + !fit__gbdt_pn_left(n, wk->x, m->cat_bits);
	cold = hot == l ? l + 1 : l;
	for (k = 0; k <= d && p[k].col != n->col; k++)
		;
	if (k <= d) {
		iz = p[k].zero;
		io = p[k].one;
		unwind(p, d, k);
		d--;
	}
	recurse(wk, hot, p, d + 1, m->pcover[hot] / m->pcover[q] * iz, io, n->col);
	recurse(wk, cold, p, d + 1, m->pcover[cold] / m->pcover[q] * iz, 0.0, n->col);
}

/* Each flat node's cover-weighted mean leaf value; children come after parents. */
static void node_means(const struct fit_gbdt_model *m, double *mean)
{
	for (size_t q = m->proot[m->desc.ntrees]; q-- > 0;) {
		const struct fit__gbdt_pnode *n = &m->pn[q];
		size_t l = n->child & FIT__GBDT_PN_CHILD;

		mean[q] = fit__gbdt_pn_leaf(m, n)
			      ? n->u.leaf
			      : (m->pcover[l] * mean[l] + m->pcover[l + 1] * mean[l + 1]) /
				    m->pcover[q];
	}
}

/* Contributions of n rows with inputs x into out (n x noutputs x (ncolumns + 1)). */
static void shap_block(const struct fit_gbdt_model *m, const double *mean, const double *x,
		       size_t n, struct path_el *path, double *out)
{
	size_t k = m->desc.noutputs, nc = m->desc.ncolumns;

	memset(out, 0, n * k * (nc + 1) * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < k; c++)
			out[(i * k + c) * (nc + 1) + nc] = m->base[c];
		for (size_t t = 0; t < m->desc.ntrees; t++) {
			double *phi = out + (i * k + t % k) * (nc + 1);
			struct walk wk = { m, mean, x + i * (nc + 1), phi };

			phi[nc] += mean[m->proot[t]];
			recurse(&wk, m->proot[t], path, 0, 1.0, 1.0, -1);
		}
	}
}

int fit_gbdt_shap(const struct fit_gbdt_model *m, const struct fit_frame *frame, const size_t *rows,
		  size_t nrows, int threads, double *contrib, struct fitd_error *err)
{
	struct fit__gbdt_bind b;
	size_t nc = m->desc.ncolumns, k = m->desc.noutputs, nblk = (nrows + BLOCK - 1) / BLOCK;
	size_t depth = m->maxdepth + 2, npath = depth * (depth + 1) / 2 + 1, per;
	double *mean = NULL, *xbuf = NULL;
	struct path_el *paths = NULL;
	int rc = fit__gbdt_check_rows(rows, rows != NULL ? nrows : 0, frame->nrows, err);

	if (rc == FITD_OK && rows == NULL && nrows > frame->nrows)
		rc = fitd_error_set(err, FITD_EINVAL, "bad_rows", "more rows than the frame has");
	if (rc == FITD_OK && m->maxdepth > MAX_DEPTH)
		rc = fitd_error_set(err, FITD_ETOOBIG, NULL, "a tree is too deep for TreeSHAP");
	if (rc != FITD_OK)
		return rc;
	threads = threads < 1 ? 1 : threads > FIT_MAX_THREADS ? FIT_MAX_THREADS : threads;
	rc = fit__gbdt_bind_init(m, frame, &b, err);
	if (rc != FITD_OK)
		return rc;
	mean = malloc((m->proot[m->desc.ntrees] + 1) * sizeof(double));
	paths = malloc((size_t)threads * npath * sizeof(struct path_el));
	xbuf = fit__mul((size_t)threads * BLOCK, (nc + 1) * sizeof(double), &per) ? NULL
										  : malloc(per);
	if (mean == NULL || paths == NULL || xbuf == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		goto out;
	}
	node_means(m, mean);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && nblk > 1)
	for (size_t blk = 0; blk < nblk; blk++) {
		int t = omp_get_thread_num();
		double *x = xbuf + (size_t)t * BLOCK * (nc + 1);
		size_t r0 = blk * BLOCK, n = nrows - r0 < BLOCK ? nrows - r0 : BLOCK;

		fit__gbdt_bind_rows(&b, rows, r0, n, x);
		shap_block(m, mean, x, n, paths + (size_t)t * npath, contrib + r0 * k * (nc + 1));
	}
out:
	free(mean);
	free(paths);
	free(xbuf);
	fit__gbdt_bind_release(&b);
	return rc;
}

void fit_gbdt_importance(const struct fit_gbdt_model *m, double *gain, double *cover)
{
	const struct fit_gbdt_desc *d = &m->desc;

	for (size_t j = 0; j < d->ncolumns; j++) {
		if (gain != NULL)
			gain[j] = 0.0;
		if (cover != NULL)
			cover[j] = 0.0;
	}
	for (size_t t = 0; t < d->ntrees; t++) {
		const struct fit_gbdt_tree *tr = &d->trees[t];

		for (size_t j = 0; j < tr->nnodes; j++) {
			if (tr->column[j] == FIT_GBDT_LEAF)
				continue;
			if (gain != NULL)
				gain[tr->column[j]] += tr->gain[j];
			if (cover != NULL)
				cover[tr->column[j]] += tr->cover[j];
		}
	}
}
