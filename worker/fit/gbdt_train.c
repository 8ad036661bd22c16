/*
 * gbdt_train.c - fit_gbdt_train(): the parameters and their check, the
 * problem's check, the plan of every buffer of a fit, and
 * fit_gbdt_memory_estimate(), which sizes the same plan.
 *
 * The steps: check; plan every buffer with fit__gbdt_plan_layout() on a
 * counting arena, allocate once, lay out again for real; cut the bins
 * (gbdt_bin.c) and write the binned training and validation matrices;
 * boost (gbdt_boost.c), reading the targets through the problem's row lists
 * (no copy: a byte per input is all a row costs beyond its gradients,
 * margins and place in the partition); copy the kept trees into a
 * model (gbdt_model.c). The tree store is planned for the most trees and
 * nodes the parameters allow: pages never written are never touched, and
 * the estimate holds whatever the fit does.
 */
#include "worker/fit/gbdt_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NAME_ALLOWANCE 256   /* bytes the estimate allows per column and level name */
#define ALIGN_SLACK    65536 /* the arena's rounding when rows split into training and validation */
#define MAX_CLASSES    65536

void fit_gbdt_params_init(struct fit_gbdt_params *p)
{
	*p = (struct fit_gbdt_params){
		.trees = 100,
		.learning_rate = 0.1,
		.max_leaves = 31,
		.max_depth = 0,
		.min_child_weight = 1e-3,
		.min_leaf_rows = 20,
		.min_split_gain = 0.0,
		.subsample = 1.0,
		.colsample = 1.0,
		.max_bins = 255,
		.l1 = 0.0,
		.l2 = 1.0,
		.patience = 0,
		.loss = FIT_LOSS_AUTO,
		.huber_delta = 1.0,
		.seed = 0,
		.threads = 1,
	};
}

static int nonneg(double x)
{
	return isfinite(x) && x >= 0.0;
}

static int share(double x)
{
	return x > 0.0 && x <= 1.0;
}

static const char *check_loss(const struct fit_gbdt_params *p, size_t nclasses)
{
	if (nclasses == 1 || nclasses > MAX_CLASSES)
		return "a classification needs between 2 and 65536 classes";
	if (nclasses > 0 && p->loss != FIT_LOSS_AUTO && p->loss != FIT_LOSS_LOG)
		return "classification trees take the log loss";
	if (nclasses == 0 && p->loss != FIT_LOSS_AUTO && p->loss != FIT_LOSS_SQUARED &&
	    p->loss != FIT_LOSS_HUBER && p->loss != FIT_LOSS_ABSOLUTE)
		return "regression trees take the squared, huber or absolute loss";
	if (!(isfinite(p->huber_delta) && p->huber_delta > 0.0))
		return "huber_delta must be positive";
	return NULL;
}

const char *fit_gbdt_params_check(const struct fit_gbdt_params *p, size_t nclasses)
{
	if (p->trees < 1 || p->trees > FIT_GBDT_MAX_TREES)
		return "trees must be between 1 and 1000000";
	if (!(isfinite(p->learning_rate) && p->learning_rate > 0.0 && p->learning_rate <= 1e3))
		return "learning_rate must be in (0, 1000]";
	if (p->max_leaves < 2 || p->max_leaves > FIT_GBDT_MAX_LEAVES)
		return "max_leaves must be between 2 and 131072";
	if (p->max_depth > 1000)
		return "max_depth must be at most 1000";
	if (!nonneg(p->min_child_weight))
		return "min_child_weight must be zero or positive";
	if (!nonneg(p->min_split_gain))
		return "min_split_gain must be zero or positive";
	if (!share(p->subsample))
		return "subsample must be in (0, 1]";
	if (!share(p->colsample))
		return "colsample must be in (0, 1]";
	if (p->max_bins < 2 || p->max_bins > FIT_GBDT_MAX_BINS)
		return "max_bins must be between 2 and 255";
	if (!nonneg(p->l1) || !nonneg(p->l2))
		return "l1 and l2 must be zero or positive";
	if (p->l2 == 0.0 && p->min_child_weight == 0.0)
		return "l2 and min_child_weight cannot both be zero";
	if (p->threads < 1 || p->threads > FIT_MAX_THREADS)
		return "threads must be between 1 and 256";
	if ((unsigned)p->loss >= FIT_LOSS_COUNT)
		return "unknown loss";
	return check_loss(p, nclasses);
}

static size_t noutputs(size_t nclasses)
{
	return nclasses <= 2 ? 1 : nclasses;
}

/*
 * How a round's trees share the threads: with enough outputs, one tree per
 * thread (ngrow contexts, trees grown single-threaded, chunk trees at a
 * time); else one tree at a time over every thread. Both give the same
 * trees.
 */
static void sharing(struct fit__gbdt_fit *fit)
{
	size_t t = (size_t)fit->p->threads, k = fit->k;

	if (k > 1 && t > 1 && (k % t == 0 || k >= 4 * t)) {
		fit->ngrow = t;
		fit->chunk = k < 4 * t ? k : 4 * t;
	} else {
		fit->ngrow = 1;
		fit->chunk = 1;
	}
}

/* The store of the most trees and nodes p allows. */
static void store_layout(struct fit__arena *a, struct fit__gbdt_store *st, size_t k, int has_cat,
			 const struct fit_gbdt_params *p)
{
	size_t trees, nodes, splits;

	if (fit__mul(p->trees, k, &trees) ||
	    fit__mul(trees, 2 * (size_t)p->max_leaves - 1, &nodes) ||
	    fit__mul(trees, (size_t)p->max_leaves - 1, &splits)) {
		a->overflow = 1;
		return;
	}
	st->root = fit__arena_take(a, trees + 1, sizeof(size_t));
	st->feat = fit__arena_take(a, nodes, sizeof(int32_t));
	st->left = fit__arena_take(a, nodes, sizeof(int32_t));
	st->dl = fit__arena_take(a, nodes, 1);
	st->mask = fit__arena_take(a, nodes, sizeof(uint32_t));
	st->value = fit__arena_take(a, nodes, sizeof(double));
	st->cover = fit__arena_take(a, nodes, sizeof(double));
	st->gain = fit__arena_take(a, nodes, sizeof(double));
	st->masks = fit__arena_take(a, has_cat ? splits : 0, 4 * sizeof(uint64_t));
}

/* The buffers boosting uses once the bins are cut. */
static void boost_layout(struct fit__arena *a, struct fit__gbdt_fit *fit, size_t nhb)
{
	const struct fit_gbdt_params *p = fit->p;
	size_t n = fit->n, nv = fit->nv, k = fit->k, most = n > nv ? n : nv;

	fit->f = fit__arena_take(a, n, k * sizeof(double));
	fit->fv = fit__arena_take(a, nv, k * sizeof(double));
	fit->gh = fit__arena_take(a, n, k * sizeof(struct fit__gbdt_gh));
	fit->inbag = p->subsample < 1.0 ? fit__arena_take(a, n, 1) : NULL;
	fit->partial = fit__arena_take(a, (most + FIT__GBDT_BLOCK - 1) / FIT__GBDT_BLOCK,
				       sizeof(double));
	for (size_t i = 0; i < fit->ngrow; i++) {
		struct fit__gbdt_grow g = { 0 };

		fit__gbdt_grow_layout(a, &g, n, fit->nf, nhb, p);
		if (fit->grow != NULL)
			fit->grow[i] = g;
	}
	fit->wnode = fit__arena_take(a, fit->chunk * (2 * (size_t)p->max_leaves - 1),
				     sizeof(struct fit__gbdt_wnode));
	fit->wcount = fit__arena_take(a, fit->chunk, sizeof(size_t));
}

/*
 * The binned matrices, the tables and the growing contexts
 * live through the fit; the binning's scratch (sample values and sort
 * buffers, per thread) is dead once the bins are cut, so the tree store and
 * the boosting buffers are laid over it (nothing there is written before
 * boosting): the plan takes the larger of the two, not their sum. Once
 * boosting ends only the tables and the store are needed to make the
 * model: the binned rows and the boosting buffers lie in two ranges that
 * are given back before the model is allocated (fit->dead).
 */
void fit__gbdt_plan_layout(struct fit__arena *a, struct fit__gbdt_fit *fit)
{
	const struct fit_gbdt_params *p = fit->p;
	size_t n = fit->n, nv = fit->nv, nf = fit->nf, nhb, start, scratch_end;

	if (fit__mul(nf, (size_t)p->max_bins + 1, &nhb)) {
		a->overflow = 1;
		return;
	}
	fit->data.n = n;
	fit->data.nv = nv;
	fit->data.nf = nf;
	fit__gbdt_bin_layout(a, &fit->data, fit->levels, &fit->bw);
	fit->base = fit__arena_take(a, fit->k, sizeof(double));
	fit->grow = fit__arena_take(a, fit->ngrow, sizeof(struct fit__gbdt_grow));
	fit->dead[0] = a->used;
	fit->data.bins = fit__arena_take(a, n, nf);
	fit->data.vbins = fit__arena_take(a, nv, nf);
	start = fit->dead[1] = a->used;
	fit__gbdt_bin_scratch(a, n, fit->levels, p->threads, &fit->bw);
	scratch_end = a->used;
	a->used = start;
	store_layout(a, &fit->store, fit->k, fit->has_cat, p);
	fit->dead[2] = a->used;
	fit->keep = fit->dead[0] + (fit->dead[2] - start);
	boost_layout(a, fit, nhb);
	if (a->used < scratch_end)
		a->used = scratch_end;
	fit->dead[3] = fit->planned = a->used;
}

static int check_rows(const size_t *rows, size_t n, size_t nrows, const char *what,
		      struct fitd_error *err)
{
	if (n > 0 && rows == NULL)
		return fitd_error_set(err, FITD_EINVAL, "bad_rows", "%s rows missing", what);
	for (size_t i = 0; i < n; i++)
		if (rows[i] >= nrows)
			return fitd_error_set(err, FITD_EINVAL, "bad_rows",
					      "%s row %zu is out of range", what, rows[i]);
	return FITD_OK;
}

static int check_targets(const struct fit_gbdt_problem *prob, const size_t *rows, size_t n,
			 struct fitd_error *err)
{
	for (size_t i = 0; i < n; i++) {
		size_t r = rows[i];

		if (prob->nclasses == 0
			? !isfinite(prob->y[r])
			: prob->label[r] < 0 || (size_t)prob->label[r] >= prob->nclasses)
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
					      "the target of row %zu is out of range", r);
	}
	return FITD_OK;
}

static int check_problem(const struct fit_gbdt_problem *prob, struct fitd_error *err)
{
	const struct fit_frame *f = prob->frame;
	int rc;

	if (f == NULL || prob->nfeatures == 0 || prob->features == NULL || prob->ntrain == 0 ||
	    (prob->nclasses == 0 ? prob->y == NULL : prob->label == NULL))
		return fitd_error_set(
		    err, FITD_EINVAL, "bad_problem",
		    "the problem needs a frame, inputs, training rows and targets");
	if (prob->ntrain >= UINT32_MAX)
		return fitd_error_set(err, FITD_ETOOBIG, NULL, "too many training rows");
	for (size_t j = 0; j < prob->nfeatures; j++) {
		const struct fit_column *c = prob->features[j] < f->ncols
						 ? &f->cols[prob->features[j]]
						 : NULL;

		if (c == NULL || (c->type == FIT_COL_NUMERIC ? c->num == NULL : c->cat == NULL) ||
		    (c->type == FIT_COL_CATEGORICAL && c->nlevels > FIT_GBDT_MAX_LEVELS))
			return fitd_error_set(err, FITD_EINVAL, "bad_features",
					      "input %zu is out of range or unusable", j);
	}
	rc = check_rows(prob->train, prob->ntrain, f->nrows, "training", err);
	if (rc == FITD_OK)
		rc = check_rows(prob->valid, prob->nvalid, f->nrows, "validation", err);
	if (rc == FITD_OK)
		rc = check_targets(prob, prob->train, prob->ntrain, err);
	if (rc == FITD_OK)
		rc = check_targets(prob, prob->valid, prob->nvalid, err);
	return rc;
}

/* Plans on a counting arena, then allocates *mem and lays out for real. */
static int plan_alloc(struct fit__gbdt_fit *fit, void **mem, size_t *bytes, struct fitd_error *err)
{
	struct fit__arena a = { 0 };

	fit__gbdt_plan_layout(&a, fit);
	if (a.overflow)
		return fitd_error_set(err, FITD_ETOOBIG, NULL,
				      "the fit's working memory is too large");
	*mem = fit__alloc(a.used);
	if (*mem == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL,
				      "cannot allocate %zu bytes of working memory", a.used);
	fit->report.work_bytes = *bytes = a.used;
	a = (struct fit__arena){ .base = *mem, .size = a.used };
	fit__gbdt_plan_layout(&a, fit);
	return a.overflow ? fitd_error_set(err, FITD_EINTERNAL, NULL, "plan mismatch") : FITD_OK;
}

/* Bins, targets and boosting; the codes inner steps return get their message here. */
static int run(struct fit__gbdt_fit *fit, const struct fit_gbdt_problem *prob,
	       struct fitd_error *err)
{
	int rc = fit__gbdt_bin_fit(&fit->data, prob, fit->p, &fit->bw, fit->poll);

	if (rc == FITD_OK)
		rc = fit__gbdt_bin_rows(&fit->data, prob->train, fit->n, fit->data.bins,
					fit->p->threads, fit->poll);
	if (rc == FITD_OK)
		rc = fit__gbdt_bin_rows(&fit->data, prob->valid, fit->nv, fit->data.vbins,
					fit->p->threads, fit->poll);
	for (size_t i = 0; rc == FITD_OK && i < fit->ngrow; i++) {
		struct fit__gbdt_grow *g = &fit->grow[i];

		g->d = &fit->data;
		g->p = fit->p;
		g->poll = fit->poll;
		g->threads = fit->ngrow > 1 ? 1 : fit->p->threads;
		fit__gbdt_rules_init(&g->rules, fit->p);
		fit__gbdt_grow_bins(g, fit->data.nhbins);
	}
	if (rc == FITD_OK) {
		/* targets are read through the row lists, not copied */
		fit->y = prob->nclasses == 0 ? prob->y : NULL;
		fit->label = prob->nclasses > 0 ? prob->label : NULL;
		fit->train = prob->train;
		fit->valid = prob->valid;
		fit__gbdt_boost_base(fit);
		rc = fit__gbdt_boost(fit);
	}
	if (rc == FITD_ECANCELLED)
		return fitd_error_set(err, rc, NULL, "the fit was cancelled");
	if (rc == FITD_EDIVERGED)
		return fitd_error_set(err, rc, NULL, "the margins stopped being finite");
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL, "a partition disagreed with its histogram");
	return FITD_OK;
}

static size_t cat_levels(const struct fit_gbdt_problem *prob, int *has_cat)
{
	size_t levels = 0;

	*has_cat = 0;
	for (size_t j = 0; j < prob->nfeatures; j++) {
		const struct fit_column *c = &prob->frame->cols[prob->features[j]];

		if (c->type == FIT_COL_CATEGORICAL) {
			levels += c->nlevels;
			*has_cat = 1;
		}
	}
	return levels;
}

int fit_gbdt_train(const struct fit_gbdt_problem *prob, const struct fit_gbdt_params *params,
		   const struct fit_callbacks *cb, struct fit_gbdt_model **out,
		   struct fitd_error *err)
{
	struct fit_gbdt_params p;
	struct fit__gbdt_fit fit = { 0 };
	struct fit__poll poll = { cb ? cb->abort : NULL, cb ? cb->data : NULL, 0 };
	void *mem = NULL;
	size_t mem_bytes = 0;
	const char *why;
	int rc;

	*out = NULL;
	rc = check_problem(prob, err);
	if (rc != FITD_OK)
		return rc;
	why = fit_gbdt_params_check(params, prob->nclasses);
	if (why != NULL)
		return fitd_error_set(err, FITD_EINVAL, "bad_params", "%s", why);
	p = *params;
	if (p.loss == FIT_LOSS_AUTO)
		p.loss = prob->nclasses > 0 ? FIT_LOSS_LOG : FIT_LOSS_SQUARED;
	fit.p = &p;
	fit.cb = cb;
	fit.poll = &poll;
	fit.n = prob->ntrain;
	fit.nv = prob->nvalid;
	fit.nf = prob->nfeatures;
	fit.nclasses = prob->nclasses;
	fit.k = noutputs(prob->nclasses);
	fit.levels = cat_levels(prob, &fit.has_cat);
	sharing(&fit);
	rc = plan_alloc(&fit, &mem, &mem_bytes, err);
	if (rc == FITD_OK)
		rc = run(&fit, prob, err);
	if (rc == FITD_OK) {
		fit.released = fit__release((char *)mem + fit.dead[0], fit.dead[1] - fit.dead[0]) +
			       fit__release((char *)mem + fit.dead[2], fit.dead[3] - fit.dead[2]);
		rc = fit__gbdt_model_assemble(&fit, out, err);
	}
	fit__free(mem, mem_bytes);
	return rc;
}

/* Bytes of the largest model p can give; 0 on overflow. */
static size_t model_bound(size_t features, size_t k, size_t levels, const struct fit_gbdt_params *p)
{
	struct fit__gbdt_shape s = { .ncolumns = features, .nlevels = levels, .noutputs = k };
	size_t splits, words = (levels + 31) / 32;

	if (fit__mul(p->trees, k, &s.ntrees) ||
	    fit__mul(s.ntrees, 2 * (size_t)p->max_leaves - 1, &s.nnodes) ||
	    fit__mul(s.ntrees, (size_t)p->max_leaves - 1, &splits) ||
	    fit__mul(splits, words, &s.ncat_words) ||
	    fit__mul(features + levels, NAME_ALLOWANCE, &s.name_bytes))
		return 0;
	return fit__gbdt_model_bytes(&s);
}

int fit_gbdt_memory_estimate(size_t rows, size_t features, size_t nclasses, size_t cat_levels,
			     const struct fit_gbdt_params *params, size_t *bytes)
{
	struct fit_gbdt_params p = *params;
	struct fit__gbdt_fit fit = { 0 };
	struct fit__arena a = { 0 };
	size_t model, total, kept;

	if (fit_gbdt_params_check(params, nclasses) != NULL)
		return FITD_EINVAL;
	fit.p = &p;
	fit.n = rows > 0 ? rows : 1;
	fit.nf = features > 0 ? features : 1;
	fit.nclasses = nclasses;
	fit.k = noutputs(nclasses);
	fit.levels = cat_levels;
	fit.has_cat = cat_levels > 0;
	sharing(&fit);
	/* validation rows cost less than training rows, so all-training is the peak */
	fit__gbdt_plan_layout(&a, &fit);
	model = model_bound(fit.nf, fit.k, cat_levels, &p);
	/* the model is made once the dead ranges are given back (else beside them) */
	kept = fit__release_works() ? fit.keep + 2 * FIT__RELEASE_SLACK : a.used;
	if (a.overflow || model == 0 || fit__add(kept, model, &total))
		return FITD_ETOOBIG;
	if (total < a.used)
		total = a.used;
	if (fit__add(total, ALIGN_SLACK, &total))
		return FITD_ETOOBIG;
	*bytes = total;
	return FITD_OK;
}
