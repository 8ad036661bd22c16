/*
 * train.c - fit_model_train(): from a frame and a parameter struct to a
 * trained model, and fit_memory_estimate() and fit_model_memory(), which
 * size the same plan.
 *
 * The steps: check the problem and the parameters; fit the target (classes or
 * standardization) and the preprocessing on the training rows that have a
 * target; plan every buffer of the fit with plan_layout() on a counting arena,
 * allocate once, lay out again for real; write the designs of the training
 * and validation rows (numeric features dense in float32, one code per
 * categorical column: rows x columns of memory, never rows x levels); build the objective (linear.c or mlp.c)
 * and hand it to the chosen optimizer (or hand the design matrix to the
 * svm's dual coordinate descent, dcd.c); copy the weights into a model, with
 * the training mean of every feature (the baseline of explanations). A gbdt
 * model goes to the tree engine instead (model_gbdt.c) after the checks.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/gemm.h"
#include "worker/fit/metric.h"

/* Everything a fit works with, laid out by plan_layout(). */
struct plan {
	const struct fit_params *p;
	enum fit_task task;
	size_t n, nv, nfeat, ld, kout, nclasses, dim;
	size_t ndense, xld, ncat, ncatw; /* the design's shape (struct fit__prep) */
	struct fit__target *target;
	struct fit__data train, valid; /* valid.y in target units */
	double *w;
	double *zv, *vals, *mscratch; /* validation outputs, values, metric scratch */
	struct fit__linear lin;
	struct fit__net net;
	struct fit__mlp *mlp;
	void *opt;
};

static size_t nvalues(const struct plan *pl)
{
	return pl->task == FIT_TASK_REGRESSION ? 1 : pl->nclasses;
}

static void plan_layout(struct fit__arena *a, struct plan *pl)
{
	const struct fit_params *p = pl->p;
	int reg = pl->task == FIT_TASK_REGRESSION;

	pl->train.x = fit__arena_take(a, pl->n, pl->xld * sizeof(float));
	pl->valid.x = fit__arena_take(a, pl->nv, pl->xld * sizeof(float));
	pl->train.code = fit__arena_take(a, pl->n, pl->ncat * sizeof(int32_t));
	pl->valid.code = fit__arena_take(a, pl->nv, pl->ncat * sizeof(int32_t));
	pl->train.y = reg ? fit__arena_take(a, pl->n, sizeof(double)) : NULL;
	pl->valid.y = reg ? fit__arena_take(a, pl->nv, sizeof(double)) : NULL;
	pl->train.label = reg ? NULL : fit__arena_take(a, pl->n, sizeof(int32_t));
	pl->valid.label = reg ? NULL : fit__arena_take(a, pl->nv, sizeof(int32_t));
	pl->zv = fit__arena_take(a, pl->nv, pl->kout * sizeof(double));
	pl->vals = fit__arena_take(a, pl->nv, nvalues(pl) * sizeof(double));
	pl->mscratch = fit__arena_take(a, fit__metric_scratch(pl->nv, pl->nclasses),
				       sizeof(double));
	if (p->model == FIT_MODEL_MLP) {
		if (fit__net_shape(&pl->net, pl->xld, pl->ncatw, pl->kout, p) != FITD_OK) {
			a->overflow = 1;
			return;
		}
		pl->dim = pl->net.dim;
		pl->mlp = fit__mlp_layout(a, &pl->net, pl->n, pl->ncat, p);
	} else if (p->optimizer != FIT_OPT_DCD) {
		fit__linear_layout(a, &pl->lin, pl->n, pl->ld, pl->kout,
				   p->optimizer == FIT_OPT_NEWTON);
		pl->dim = pl->lin.dim;
	} else if (fit__mul(pl->kout, pl->ld + 1, &pl->dim)) {
		a->overflow = 1; /* dcd: the same weights, no objective buffers */
		return;
	}
	pl->w = fit__arena_take(a, pl->dim, sizeof(double));
	if (p->optimizer == FIT_OPT_LBFGS)
		pl->opt = fit__lbfgs_layout(a, pl->dim);
	else if (p->optimizer == FIT_OPT_NEWTON)
		pl->opt = fit__newton_layout(a, pl->dim);
	else if (p->optimizer == FIT_OPT_DCD)
		pl->opt = fit__dcd_layout(a, pl->n, pl->kout);
	else
		pl->opt = fit__first_layout(a, pl->dim, pl->n, p);
}

/* Plans on a counting arena, then allocates *mem and lays out for real. */
static int plan_alloc(struct plan *pl, void **mem, size_t *bytes, struct fitd_error *err)
{
	struct fit__arena a = { 0 };

	pl->train.n = pl->n;
	pl->valid.n = pl->nv;
	pl->train.d = pl->valid.d = pl->nfeat;
	pl->train.ld = pl->valid.ld = pl->ld;
	pl->train.xld = pl->valid.xld = pl->xld;
	pl->train.ncat = pl->valid.ncat = pl->ncat;
	plan_layout(&a, pl);
	if (a.overflow)
		return fitd_error_set(err, FITD_ETOOBIG, NULL,
				      "the fit's working memory is too large");
	*mem = fit__alloc(a.used);
	if (*mem == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL,
				      "cannot allocate %zu bytes of working memory", a.used);
	*bytes = a.used;
	a = (struct fit__arena){ .base = *mem, .size = a.used };
	plan_layout(&a, pl);
	return a.overflow ? fitd_error_set(err, FITD_EINTERNAL, NULL, "plan mismatch") : FITD_OK;
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

static int check_problem(const struct fit_problem *prob, struct fitd_error *err)
{
	const struct fit_frame *f = prob->frame;
	int rc;

	if (f == NULL || prob->target >= f->ncols || (prob->nfeatures > 0 && !prob->features) ||
	    (unsigned)prob->task >= FIT_TASK_COUNT)
		return fitd_error_set(err, FITD_EINVAL, "bad_problem",
				      "the problem needs a frame, a target column and a task");
	for (size_t j = 0; j < prob->nfeatures; j++)
		if (prob->features[j] >= f->ncols || prob->features[j] == prob->target)
			return fitd_error_set(err, FITD_EINVAL, "bad_features",
					      "feature %zu is out of range or is the target", j);
	rc = check_rows(prob->train, prob->ntrain, f->nrows, "training", err);
	if (rc == FITD_OK)
		rc = check_rows(prob->valid, prob->nvalid, f->nrows, "validation", err);
	return rc;
}

static double lambda_of(const struct fit_params *p, size_t n)
{
	if ((p->model == FIT_MODEL_SVM || p->model == FIT_MODEL_LOGISTIC) && p->svm_c > 0.0)
		return 1.0 / (p->svm_c * (double)n);
	return p->penalty;
}

static void set_penalty(const struct fit_params *p, size_t n, struct fit__objective *o)
{
	double lam = lambda_of(p, n);

	o->l1 = o->l2 = 0.0;
	if (p->reg == FIT_REG_L1)
		o->l1 = lam;
	else if (p->reg == FIT_REG_L2)
		o->l2 = lam;
	else if (p->reg == FIT_REG_ELASTICNET) {
		o->l1 = lam * p->l1_ratio;
		o->l2 = lam * (1.0 - p->l1_ratio);
	}
}

static int score_valid(void *ctx, const double *w, double *score, double *stop)
{
	struct plan *pl = ctx;
	int rc;

	if (pl->p->model == FIT_MODEL_MLP)
		fit__mlp_scores(pl->mlp, w, &pl->valid, pl->zv);
	else
		fit__linear_scores(pl->kout, w, &pl->valid, pl->zv, pl->p->threads);
	fit__outputs_to_values(pl->task, pl->kout, pl->nclasses, pl->target->center,
			       pl->target->scale, pl->zv, pl->nv, pl->vals, NULL);
	if (pl->task == FIT_TASK_REGRESSION)
		rc = fit_metric_regression(pl->p->metric, pl->nv, pl->valid.y, pl->vals, score,
					   NULL);
	else
		rc = fit__metric_classification(pl->p->metric, pl->nv, pl->nclasses,
						pl->valid.label, pl->vals, pl->mscratch, score);
	*stop = fit_metric_higher_is_better(pl->p->metric) ? -*score : *score;
	if (rc == FITD_OK && pl->task == FIT_TASK_CLASSIFICATION && pl->p->loss == FIT_LOSS_LOG)
		rc = fit__metric_classification(FIT_METRIC_LOG_LOSS, pl->nv, pl->nclasses,
						pl->valid.label, pl->vals, pl->mscratch, stop);
	return rc;
}

/* The svm's dual coordinate descent: it reads the design matrix, not an objective. */
static int run_dcd(struct plan *pl, struct fit__run *run)
{
	const struct fit_params *p = pl->p;
	struct fit__dcd dcd = {
		.data = &pl->train,
		.k = pl->kout,
		.loss = p->loss,
		.c = 1.0 / (lambda_of(p, pl->n) * (double)pl->n), /* C, as params.h maps it */
		.threads = p->threads,
		.poll = run->poll,
	};

	return fit__dcd_run(&dcd, run, pl->w, pl->opt);
}

/* Builds the objective and runs the optimizer on pl->w. */
static int optimize(struct plan *pl, const struct fit_callbacks *cb, struct fit_report *rep,
		    struct fitd_error *err)
{
	const struct fit_params *p = pl->p;
	struct fit__poll poll = { cb ? cb->abort : NULL, cb ? cb->data : NULL, 0 };
	struct fit__objective o;
	struct fit__run run = { p, cb, &poll, rep, err, NULL, NULL, NAN };

	if (pl->nv > 0) {
		run.score = score_valid;
		run.score_ctx = pl;
	}
	rep->valid_score = NAN;
	if (p->optimizer == FIT_OPT_DCD)
		return run_dcd(pl, &run);
	if (p->model == FIT_MODEL_MLP) {
		fit__mlp_bind(pl->mlp, &pl->train, p->loss, p->huber_delta, &poll);
		fit__mlp_objective(pl->mlp, &o);
		fit__mlp_init(&pl->net, pl->ndense, pl->nfeat, pl->w, p->seed);
	} else {
		pl->lin.data = &pl->train;
		pl->lin.loss = p->loss;
		pl->lin.delta = p->huber_delta;
		pl->lin.threads = p->threads;
		pl->lin.poll = &poll;
		fit__linear_objective(&pl->lin, &o);
		memset(pl->w, 0, pl->dim * sizeof(double));
	}
	set_penalty(p, pl->n, &o);
	if (p->optimizer == FIT_OPT_LBFGS)
		return fit__lbfgs_run(&o, &run, pl->w, pl->opt);
	if (p->optimizer == FIT_OPT_NEWTON)
		return fit__newton_run(&o, &run, pl->w, pl->opt);
	return fit__first_run(&o, &run, pl->w, pl->opt);
}

/*
 * The layers of the fitted parameters in tmp (pl->dim doubles), unpadded
 * and in the public order of the features (map: their kernels' index).
 */
static size_t make_layers(const struct plan *pl, const size_t *map, double *tmp,
			  struct fit_layer_desc *layers)
{
	int mlp = pl->p->model == FIT_MODEL_MLP;
	size_t nl = mlp ? pl->net.nl : 1, at = 0;

	for (size_t l = 0; l < nl; l++) {
		size_t in = mlp ? pl->net.sizes[l] : pl->ld;
		size_t nin = l == 0 ? pl->nfeat : in;
		size_t nout = mlp ? pl->net.sizes[l + 1] : pl->kout;
		const double *src = pl->w + (mlp ? pl->net.woff[l] : 0);
		const double *bias = pl->w + (mlp ? pl->net.boff[l] : pl->kout * pl->ld);

		for (size_t o = 0; o < nout; o++)
			for (size_t i = 0; i < nin; i++) {
				size_t f = l == 0 ? map[i] : i;
				/* an mlp's categorical weights: a row per feature, after xld */
				int emb = mlp && l == 0 && f >= pl->xld;

				tmp[at + o * nin + i] =
				    emb ? pl->w[pl->net.eoff + (f - pl->xld) * nout + o]
					: src[o * in + f];
			}
		layers[l] = (struct fit_layer_desc){ nin, nout, tmp + at, bias };
		at += nout * nin;
	}
	return nl;
}

/* Writes the design matrices and targets of the kept rows. */
static int fill(struct plan *pl, const struct fit_problem *prob, const struct fit__prep *prep,
		const size_t *kt, const size_t *kv, struct fitd_error *err)
{
	const struct fit_column *tcol = &prob->frame->cols[prob->target];
	struct fit__bind bind;
	size_t n;
	int rc = fit__bind_init(prep, prob->frame, &bind, err);

	if (rc != FITD_OK)
		return rc;
	fit__prep_rows(prep, &bind, kt, pl->n, pl->train.x, pl->train.code, pl->p->threads);
	fit__prep_rows(prep, &bind, kv, pl->nv, pl->valid.x, pl->valid.code, pl->p->threads);
	fit__bind_release(&bind);
	rc = fit__target_rows(pl->target, tcol, kt, pl->n, 1, pl->train.y, pl->train.label, NULL,
			      &n);
	if (rc == FITD_OK)
		rc = fit__target_rows(pl->target, tcol, kv, pl->nv, 0, pl->valid.y, pl->valid.label,
				      NULL, &n);
	return rc == FITD_OK ? FITD_OK : fitd_error_set(err, rc, NULL, "out of memory");
}

/*
 * The training rows' mean of each feature of d, in row order, in the public
 * order of the features (map: their kernels' index); NULL when memory runs
 * out. A one-hot feature's mean is the share of rows it is active in.
 */
static double *feature_means(const struct fit__data *d, const size_t *map)
{
	double *sum = calloc(d->ld, sizeof(double));
	double *mean = calloc(d->d ? d->d : 1, sizeof(double));

	for (size_t i = 0; sum != NULL && i < d->n; i++)
		fit__row_axpy(d, i, 1.0, sum);
	for (size_t f = 0; sum != NULL && mean != NULL && d->n > 0 && f < d->d; f++)
		mean[f] = sum[map[f]] / (double)d->n;
	if (sum == NULL) {
		free(mean);
		mean = NULL;
	}
	free(sum);
	return mean;
}

/* Target and preprocessing on the training rows with a target; kept rows out. */
static int prepare(const struct fit_problem *prob, const struct fit_params *p,
		   struct fit__target *target, struct fit__prep *prep, size_t **kt, size_t *nt,
		   size_t **kv, size_t *nv, struct fitd_error *err)
{
	const struct fit_column *tcol = &prob->frame->cols[prob->target];
	int rc = fit__target_fit(tcol, prob->task, prob->train, prob->ntrain, target, err);

	if (rc != FITD_OK)
		return rc;
	*kt = malloc((prob->ntrain ? prob->ntrain : 1) * sizeof(size_t));
	*kv = malloc((prob->nvalid ? prob->nvalid : 1) * sizeof(size_t));
	if (*kt == NULL || *kv == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (fit__target_rows(target, tcol, prob->train, prob->ntrain, 0, NULL, NULL, *kt, nt) ||
	    fit__target_rows(target, tcol, prob->valid, prob->nvalid, 0, NULL, NULL, *kv, nv))
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (*nt == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "no_rows",
				      "no training row has a target value");
	return fit__prep_cache_fit(prob->prep_cache, prob->frame, prob->features, prob->nfeatures,
				   *kt, *nt, p, prep, err);
}

int fit_model_train(const struct fit_problem *prob, const struct fit_params *params,
		    const struct fit_callbacks *cb, struct fit_model **out, struct fitd_error *err)
{
	struct fit_params p;
	struct fit__target target = { 0 };
	struct fit__prep prep = { 0 };
	struct plan pl = { 0 };
	struct fit_report rep = { 0 };
	struct fit_layer_desc layers[FIT_MAX_HIDDEN + 1];
	size_t *kt = NULL, *kv = NULL, *map = NULL, nl;
	void *mem = NULL;
	size_t mem_bytes = 0;
	double *tmp = NULL, *means = NULL;
	const char *why;
	int rc;

	*out = NULL;
	rc = check_problem(prob, err);
	if (rc != FITD_OK)
		return rc;
	why = fit_params_check(params, prob->task);
	if (why != NULL)
		return fitd_error_set(err, FITD_EINVAL, "bad_params", "%s", why);
	p = *params;
	fit_params_resolve(&p, prob->task);
	if (p.model == FIT_MODEL_GBDT)
		return fit__gbdt_train(prob, &p, cb, out, err);
	rc = prepare(prob, &p, &target, &prep, &kt, &pl.n, &kv, &pl.nv, err);
	if (rc != FITD_OK)
		goto out;
	pl.p = &p;
	pl.task = prob->task;
	pl.target = &target;
	pl.nclasses = target.nclasses;
	pl.kout = fit__kout(prob->task, target.nclasses);
	pl.nfeat = prep.nfeat;
	pl.ld = prep.ld;
	pl.ndense = prep.ndense;
	pl.xld = prep.xld;
	pl.ncat = prep.ncat;
	pl.ncatw = prep.ncatw;
	rc = plan_alloc(&pl, &mem, &mem_bytes, err);
	if (rc == FITD_OK)
		rc = fill(&pl, prob, &prep, kt, kv, err);
	if (rc == FITD_OK)
		rc = optimize(&pl, cb, &rep, err);
	if (rc != FITD_OK)
		goto out;
	tmp = malloc(pl.dim * sizeof(double));
	map = malloc((pl.nfeat ? pl.nfeat : 1) * sizeof(size_t));
	if (map != NULL)
		fit__prep_map(&prep, map);
	means = map != NULL ? feature_means(&pl.train, map) : NULL;
	if (tmp == NULL || means == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		goto out;
	}
	nl = make_layers(&pl, map, tmp, layers);
	rc = fit__model_assemble(&p, prob->frame->cols[prob->target].name, &prep, &target, layers,
				 nl, means, &rep, out, err);
out:
	free(tmp);
	free(map);
	free(means);
	fit__free(mem, mem_bytes);
	free(kt);
	free(kv);
	fit__prep_release(&prep);
	fit__target_release(&target);
	return rc;
}

/*
 * The design's shape for the estimate: ndense dense features, ncat codes
 * per row and ncatw one-hot features, as layout_features() (prep.c) makes it.
 */
struct design {
	size_t ndense, ncat, ncatw;
};

/* Arena bytes of a fit of n training and nv validation rows, 0 on overflow; *dim gets its size. */
static size_t plan_bytes(const struct fit_params *p, enum fit_task task, size_t n, size_t nv,
			 const struct design *ds, size_t nclasses, size_t *dim)
{
	struct fit__target t = { 0 };
	struct plan pl = { 0 };
	struct fit__arena a = { 0 };

	pl.p = p;
	pl.task = task;
	pl.target = &t;
	pl.n = n;
	pl.nv = nv;
	pl.ndense = ds->ndense;
	pl.ncat = ds->ncat;
	pl.ncatw = ds->ncatw;
	pl.xld = ds->ndense > 0 ? fit__pad(ds->ndense) : FIT__PAD;
	if (pl.xld == 0 || fit__add(ds->ndense, ds->ncatw, &pl.nfeat) ||
	    fit__add(pl.xld, ds->ncatw, &pl.ld))
		return 0;
	pl.ld = fit__pad(pl.ld);
	pl.nclasses = nclasses;
	pl.kout = fit__kout(task, nclasses);
	if (pl.ld == 0)
		return 0;
	plan_layout(&a, &pl);
	*dim = pl.dim;
	return a.overflow ? 0 : a.used;
}

/*
 * The estimate for a design: the plan at its larger end (it is linear in
 * the two row counts), plus what lives beside it.
 */
static int estimate(size_t rows, const struct design *ds, size_t nclasses,
		    const struct fit_params *params, size_t *bytes)
{
	enum fit_task task = nclasses > 0 ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION;
	struct fit_params p = *params;
	size_t all_train, all_valid, extra, model, total, dim = 0, nfeat;

	fit_params_resolve(&p, task);
	all_train = plan_bytes(&p, task, rows, 0, ds, nclasses, &dim);
	all_valid = plan_bytes(&p, task, 1, rows, ds, nclasses, &dim);
	total = all_train > all_valid ? all_train : all_valid;
	/*
	 * Besides the plan: kept row lists and preprocessing scratch (two rows'
	 * worth per thread), the weights' copies (unpadded layers, the model's
	 * layers, its predictor), the features' sums and means, and a MiB for
	 * names, levels and small buffers.
	 */
	if (total == 0 || fit__add(ds->ndense, ds->ncatw, &nfeat) ||
	    fit__mul(rows, (size_t)(2 * p.threads + 2) * sizeof(double), &extra) ||
	    fit__mul(dim, 3 * sizeof(double), &model) || fit__add(total, extra, &total) ||
	    fit__add(total, model, &total) || fit__mul(nfeat, 3 * sizeof(double), &extra) ||
	    fit__add(total, extra, &total) || fit__add(total, (size_t)1 << 20, &total))
		return FITD_ETOOBIG;
	*bytes = total;
	return FITD_OK;
}

int fit_memory_estimate(size_t rows, size_t features, size_t nclasses,
			const struct fit_params *params, size_t *bytes)
{
	struct design ds = { features, 0, 0 };

	return estimate(rows, &ds, nclasses, params, bytes);
}

int fit_model_memory(const struct fit_shape *shape, const struct fit_params *params, size_t *bytes)
{
	struct design ds = { 0 };

	if (params->model == FIT_MODEL_GBDT)
		return fit__gbdt_memory(shape, params, bytes);
	/* A categorical column is its levels plus "other" wide, a numeric one the rest. */
	if (fit__add(shape->cat_levels, shape->cat_columns, &ds.ncatw) || ds.ncatw > shape->width)
		return FITD_EINVAL;
	ds.ndense = shape->width - ds.ncatw;
	ds.ncat = shape->cat_columns;
	return estimate(shape->rows, &ds, shape->nclasses, params, bytes);
}
