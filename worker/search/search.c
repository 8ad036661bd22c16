/*
 * search.c - the searcher: building it from a spec, dispatching a proposal
 * to the algorithm, the known first configurations of auto, the ranked
 * observations the models learn from, and the job-level stop rules.
 *
 * Every function reads the history through the window of search.h: only
 * trials with index < idx - SEARCH_WINDOW matter for trial idx. The history
 * is never assumed sorted; whatever is collected is sorted by index (or by
 * a total order ending in the index) before use, so finish order cannot
 * leak into a result.
 */
#include "worker/search/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the known configurations of auto ---- */

/*
 * Per task, cheapest first, each family's first configuration the one a
 * practitioner (or scikit-learn) would fit first: a linear model by lbfgs
 * with scikit-learn's L2 penalty of C = 1 (penalty 1 / n on n training
 * rows; 1e-4 when the searcher is not told n) and its robust or more
 * regularized variant; boosted trees with LightGBM's defaults (31 leaves at
 * rate 0.1, min_leaf_rows 20) and up to 300 rounds ended by early stopping,
 * with XGBoost's lambda 1; a linear SVM as scikit-learn's LinearSVC has it
 * (squared hinge, C 1, by its own solver, dcd); a network as
 * scikit-learn's MLP has it (one hidden layer of 100 relu units, adam at
 * 1e-3, L2 1e-4, ended by the job's early stopping); and then boosted trees
 * grown larger (1,000 rounds of 63 leaves at rate 0.05 on bagged rows and
 * columns, ended by early stopping), which the budget may or may not reach;
 * tpe grows the trees further from there. Numbers left 0 are not preferred
 * (the middle of the space); every known configuration of an optimizer asks
 * for 200 epochs.
 */
struct known {
	int model, loss, reg, opt;
	double learning_rate, batch_size, penalty, huber_delta, C;
	double per_row; /* penalty per_row / n on n training rows (a C of 1 / per_row) */
	double units;	/* an mlp's one hidden layer */
	double trees, leaves, leaf_rows, sample; /* gbdt; sample: rows and columns */
};

#define KNOWN_MAX 6
#define GBDT_CHEAP(loss)                                                                           \
	{                                                                                          \
		FIT_MODEL_GBDT, loss, FIT_REG_L2, -1, .learning_rate = 0.1, .penalty = 1,          \
						      .trees = 300, .leaves = 31, .leaf_rows = 20, \
						      .sample = 1                                  \
	}
#define GBDT_LARGE(loss)                                                                   \
	{                                                                                  \
		FIT_MODEL_GBDT, loss, FIT_REG_L2, -1, .learning_rate = 0.05, .penalty = 1, \
						      .trees = 1000, .leaves = 63,         \
						      .leaf_rows = 10, .sample = 0.8       \
	}
static const struct known known_configs[2][KNOWN_MAX] = {
	[0] = {
		{ FIT_MODEL_LINEAR, FIT_LOSS_SQUARED, FIT_REG_L2, FIT_OPT_LBFGS,
		  .penalty = 1e-4, .per_row = 1 },
		GBDT_CHEAP(FIT_LOSS_SQUARED),
		{ FIT_MODEL_LINEAR, FIT_LOSS_HUBER, FIT_REG_L2, FIT_OPT_LBFGS,
		  .penalty = 1e-4, .per_row = 1, .huber_delta = 1.35 },
		{ FIT_MODEL_MLP, FIT_LOSS_SQUARED, FIT_REG_L2, FIT_OPT_ADAM,
		  .learning_rate = 1e-3, .batch_size = 32, .penalty = 1e-4, .units = 100 },
		GBDT_LARGE(FIT_LOSS_SQUARED),
		{ -1 },
	},
	[1] = {
		{ FIT_MODEL_LOGISTIC, FIT_LOSS_LOG, FIT_REG_L2, FIT_OPT_LBFGS,
		  .penalty = 1e-4, .per_row = 1 },
		GBDT_CHEAP(FIT_LOSS_LOG),
		{ FIT_MODEL_SVM, FIT_LOSS_SQUARED_HINGE, FIT_REG_L2, FIT_OPT_DCD, .C = 1 },
		{ FIT_MODEL_LOGISTIC, FIT_LOSS_LOG, FIT_REG_L2, FIT_OPT_LBFGS,
		  .penalty = 1e-2 },
		{ FIT_MODEL_MLP, FIT_LOSS_LOG, FIT_REG_L2, FIT_OPT_ADAM,
		  .learning_rate = 1e-3, .batch_size = 32, .penalty = 1e-4, .units = 100 },
		GBDT_LARGE(FIT_LOSS_LOG),
	},
};

/* The preferred value of each slot on rows training rows (0: not known); NAN: none. */
static void known_wants(const struct known *k, size_t rows, double *want)
{
	for (int s = 0; s < SPACE_SLOT_COUNT; s++)
		want[s] = NAN;
	want[SPACE_SLOT_MODEL] = k->model;
	want[SPACE_SLOT_LOSS] = k->loss;
	want[SPACE_SLOT_REG] = k->reg;
	want[SPACE_SLOT_OPT] = k->opt;
	want[SPACE_SLOT_EPOCHS] = 200;
	want[SPACE_SLOT_LEARNING_RATE] = k->learning_rate ? k->learning_rate : NAN;
	want[SPACE_SLOT_BATCH_SIZE] = k->batch_size ? k->batch_size : NAN;
	want[SPACE_SLOT_PENALTY] = k->penalty ? k->penalty : NAN;
	if (k->per_row > 0 && rows > 0)
		want[SPACE_SLOT_PENALTY] = k->per_row / (double)rows;
	want[SPACE_SLOT_HUBER_DELTA] = k->huber_delta ? k->huber_delta : NAN;
	want[SPACE_SLOT_C] = k->C ? k->C : NAN;
	if (k->units > 0) {
		want[SPACE_SLOT_LAYERS] = 1;
		want[SPACE_SLOT_UNITS1] = k->units;
		want[SPACE_SLOT_ACTIVATION] = FIT_ACT_RELU;
	}
	if (k->trees > 0) {
		want[SPACE_SLOT_GBDT_LEARNING_RATE] = k->learning_rate;
		want[SPACE_SLOT_TREES] = k->trees;
		want[SPACE_SLOT_MAX_LEAVES] = k->leaves;
		want[SPACE_SLOT_MIN_LEAF_ROWS] = k->leaf_rows;
		want[SPACE_SLOT_SUBSAMPLE] = k->sample;
		want[SPACE_SLOT_COLSAMPLE] = k->sample;
		want[SPACE_SLOT_MAX_DEPTH] = 0;
		want[SPACE_SLOT_MIN_CHILD_WEIGHT] = 1e-3;
		want[SPACE_SLOT_MIN_SPLIT_GAIN] = 0;
		want[SPACE_SLOT_MAX_BINS] = 255;
	}
}

/* When the preferred value is not an option: a second choice, else the first option. */
static const double second_choice[SPACE_SLOT_COUNT] = {
	[SPACE_SLOT_MODEL] = -1,
	[SPACE_SLOT_LOSS] = -1,
	[SPACE_SLOT_REG] = FIT_REG_L2,
	[SPACE_SLOT_OPT] = FIT_OPT_ADAM,
	[SPACE_SLOT_ACTIVATION] = FIT_ACT_RELU,
};

static double nearest(const double *opts, size_t n, double want)
{
	double best = opts[0], bestd = INFINITY;

	for (size_t k = 0; k < n; k++) {
		double d = opts[k] > 0 && want > 0 ? fabs(log(opts[k]) - log(want))
						   : fabs(opts[k] - want);

		if (d < bestd) {
			bestd = d;
			best = opts[k];
		}
	}
	return best;
}

static double choose_known(void *ctx, const struct space_point *p, enum space_slot slot,
			   const double *opts, size_t nopts, const struct space_values *vals)
{
	const double *want = ctx;
	unsigned nn;
	bool categorical = search__dim_names(search_space_slot_dim(slot), &nn) != NULL;
	double lo, hi;

	(void)p;
	if (nopts > 0 && categorical) {
		for (size_t k = 0; k < nopts; k++)
			if (opts[k] == want[slot])
				return opts[k];
		for (size_t k = 0; k < nopts; k++)
			if (slot != SPACE_SLOT_MODEL && opts[k] == second_choice[slot])
				return opts[k];
		return opts[0];
	}
	if (nopts > 0)
		return isnan(want[slot]) ? opts[0] : nearest(opts, nopts, want[slot]);
	if (isnan(want[slot])) {
		search__range_bounds(vals, search_space_slot_integer(slot), &lo, &hi);
		return search__range_from(vals, search_space_slot_integer(slot), (lo + hi) / 2);
	}
	return want[slot] < vals->min ? vals->min : want[slot] > vals->max ? vals->max : want[slot];
}

size_t search__known_points(const struct search_space *sp, const struct search_shape *shape,
			    struct space_point *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < KNOWN_MAX && n < max; i++) {
		const struct known *k = &known_configs[sp->classification][i];
		double want[SPACE_SLOT_COUNT];
		struct space_point p;
		bool dup = false;

		if (k->model < 0)
			continue;
		known_wants(k, shape != NULL ? shape->rows : 0, want);
		search__walk(sp, choose_known, want, &p);
		if (p.v[SPACE_SLOT_MODEL] != want[SPACE_SLOT_MODEL])
			continue; /* the family is not in the space */
		for (size_t j = 0; j < n; j++)
			dup = dup || search_space_point_equal(&out[j], &p);
		if (!dup)
			out[n++] = p;
	}
	/* Cheapest first on this data: a stable insertion sort by estimated work. */
	for (size_t i = 1; shape != NULL && i < n; i++) {
		struct space_point p = out[i];
		double w = search__work(shape, &p);
		size_t j = i;

		for (; j > 0 && search__work(shape, &out[j - 1]) > w; j--)
			out[j] = out[j - 1];
		out[j] = p;
	}
	return n;
}

/* ---- the work of a trial ---- */

static double slot_or(const struct space_point *p, enum space_slot s, double otherwise)
{
	return p->active & BIT(s) ? p->v[s] : otherwise;
}

/*
 * Roughly the arithmetic of one fold's fit: per pass over the rows, a
 * linear model does a multiply-add per weight (forward and gradient), a
 * network three per weight (forward, backward, update of the gradient),
 * and a tree a histogram add per row and input column plus a scan of every
 * bin of every column at each leaf, for each output, 8 times over (the
 * partitions, gradients and bookkeeping around them). A solver run to
 * convergence (lbfgs, newton, dcd) is taken to need a quarter of its
 * iteration cap, and a network ended by early stopping half of its epochs.
 * Calibrated only in ratio, on the order that matters: on digits (1,797
 * rows, 64 columns, 10 classes) a logistic regression by lbfgs,
 * scikit-learn's MLP and LightGBM's defaults cost about 1 : 30 : 90 by
 * this measure and took about 1 : 8 : 40 in seconds; on breast_cancer (569
 * rows, 30 columns, 2 classes) the trees cost a little less than the
 * network by both. Dual coordinate descent (the svm's dcd) also needs
 * more passes as the rows grow on a table that is not separable: on
 * 800,000 × 28 generated rows it took 32 s against lbfgs's 0.8 s, so its
 * work grows by rows / 25,000 beyond 25,000 rows.
 */
#define DCD_ROWS 25000.0
double search__work(const struct search_shape *sh, const struct space_point *p)
{
	double rows = (double)sh->rows, width = (double)sh->width, k = (double)sh->outputs;
	int model = (int)p->v[SPACE_SLOT_MODEL];
	double epochs = slot_or(p, SPACE_SLOT_EPOCHS, 200), weights, per_tree;
	int opt = (int)slot_or(p, SPACE_SLOT_OPT, FIT_OPT_ADAM);

	if (model == FIT_MODEL_GBDT) {
		per_tree = rows * (double)sh->features + slot_or(p, SPACE_SLOT_MAX_LEAVES, 31) *
							     (double)sh->features *
							     slot_or(p, SPACE_SLOT_MAX_BINS, 255);
		return 8 * slot_or(p, SPACE_SLOT_TREES, 100) * k * per_tree;
	}
	if (model == FIT_MODEL_MLP) {
		double in = width;
		unsigned layers = (unsigned)slot_or(p, SPACE_SLOT_LAYERS, 1);

		weights = 0;
		for (unsigned i = 0; i < layers && i < 3; i++) {
			double u = slot_or(p, (enum space_slot)(SPACE_SLOT_UNITS1 + i), 64);

			weights += in * u;
			in = u;
		}
		weights += in * k;
		return 3 * rows * weights * epochs / 2;
	}
	if (fit_optimizer_converges((enum fit_optimizer)opt))
		epochs /= 4;
	if (opt == FIT_OPT_DCD && rows > DCD_ROWS)
		epochs *= rows / DCD_ROWS;
	return 2 * rows * width * k * epochs;
}

/* ---- building ---- */

int search_new(const struct worker_spec *spec, struct search **out, struct fitd_error *err)
{
	return search_new_sized(spec, NULL, out, err);
}

int search_new_sized(const struct worker_spec *spec, const struct search_shape *shape,
		     struct search **out, struct fitd_error *err)
{
	const struct worker_search_options *o = worker_spec_search(spec);
	unsigned budget = o->max_trials ? o->max_trials : WORKER_MAX_TRIALS;
	struct search *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "search: out of memory");
	s->spec = spec;
	s->sp = worker_spec_space(spec);
	s->sized = shape != NULL;
	if (shape != NULL)
		s->shape = *shape;
	s->algorithm = o->algorithm;
	s->seed = o->seed;
	s->max_trials = o->max_trials;
	s->patience = o->patience;
	s->has_goal = o->has_goal;
	s->goal = o->goal;
	s->higher_is_better = worker_spec_higher_is_better(spec);
	s->size = search_space_size(s->sp);
	if (s->algorithm == WORKER_ALGORITHM_AUTO && s->size <= budget)
		s->algorithm = WORKER_ALGORITHM_GRID; /* small and finite: try it all */
	if (s->algorithm == WORKER_ALGORITHM_GRID && s->size == UINT64_MAX) {
		free(s);
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "invalid_combination",
				      "space: grid search needs lists, not ranges");
	}
	if (s->algorithm == WORKER_ALGORITHM_AUTO) {
		s->known_first = true;
		s->nknown = search__known_points(s->sp, shape, s->known, SEARCH__DEFAULTS_MAX);
	}
	s->prunes = s->algorithm == WORKER_ALGORITHM_AUTO || s->algorithm == WORKER_ALGORITHM_ASHA;
	*out = s;
	return FITD_OK;
}

void search_free(struct search *s)
{
	free(s);
}

uint64_t search_grid_size(const struct search *s)
{
	return s->size;
}

bool search_prunes(const struct search *s)
{
	return s->prunes;
}

const char *search_algorithm_name(const struct search *s)
{
	return worker_algorithm_name(s->algorithm);
}

double search__norm(const struct search *s, double score)
{
	return s->higher_is_better ? score : -score;
}

/* ---- the history ---- */

static size_t window_below(size_t idx)
{
	return idx > SEARCH_WINDOW ? idx - SEARCH_WINDOW : 0;
}

static int cmp_obs(const void *a, const void *b)
{
	const struct search__obs *x = a, *y = b;

	if (x->rank_class != y->rank_class)
		return x->rank_class - y->rank_class;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->key2 != y->key2)
		return x->key2 < y->key2 ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Ranks one trial; false when the models cannot use it. */
static bool obs_of(const struct search *s, const struct search_trial *t, struct search__obs *o)
{
	o->idx = t->idx;
	o->key = o->key2 = 0;
	if (search_space_point_from_json(s->sp, t->params, &o->p) != FITD_OK)
		return false;
	if (t->state == SEARCH_TRIAL_COMPLETED && t->has_score && isfinite(t->score)) {
		o->rank_class = 0;
		o->key = -search__norm(s, t->score);
	} else if (t->state == SEARCH_TRIAL_PRUNED && t->nrungs > 0 && t->rungs != NULL &&
		   isfinite(t->rungs[t->nrungs - 1])) {
		o->rank_class = 1;
		o->key = -(double)t->nrungs;
		o->key2 = -search__norm(s, t->rungs[t->nrungs - 1]);
	} else if (t->state == SEARCH_TRIAL_FAILED || t->state == SEARCH_TRIAL_COMPLETED ||
		   t->state == SEARCH_TRIAL_PRUNED) {
		o->rank_class = 2; /* failed, or finished without a usable score */
	} else {
		return false; /* pending, timeout, interrupted: nothing learned */
	}
	return true;
}

int search__observations(const struct search *s, size_t below, const struct search_history *h,
			 struct search__obs **out, size_t *n)
{
	size_t cap = h != NULL ? h->n : 0;
	struct search__obs *obs = malloc((cap ? cap : 1) * sizeof(*obs));

	*out = NULL;
	*n = 0;
	if (obs == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		if (h->trials[i].idx < below && obs_of(s, &h->trials[i], &obs[*n]))
			(*n)++;
	qsort(obs, *n, sizeof(*obs), cmp_obs);
	*out = obs;
	return FITD_OK;
}

/* ---- which family pays ---- */

/* What the observations say of one family. */
struct family_stats {
	size_t finished, completed;
	double sum, sumsq, best, top[3]; /* normalized scores of completed trials */
	size_t ntop;
	double work; /* summed over finished trials */
};

static void stats_add(struct family_stats *f, const struct search__obs *o, double work)
{
	double v = -o->key;

	f->finished++;
	f->work += work;
	if (o->rank_class != 0)
		return;
	/* Observations come best first, so the first three are the family's top. */
	if (f->ntop < 3)
		f->top[f->ntop++] = v;
	f->best = f->completed == 0 || v > f->best ? v : f->best;
	f->completed++;
	f->sum += v;
	f->sumsq += v * v;
}

static double stats_std(const struct family_stats *f)
{
	double mean, var;

	if (f->completed < 2)
		return 0;
	mean = f->sum / (double)f->completed;
	var = f->sumsq / (double)f->completed - mean * mean;
	return var > 0 ? sqrt(var) : 0;
}

/* E[max(0, X - best)] for X ~ N(centre, sd). */
static double expected_improvement(double centre, double sd, double best)
{
	double z;

	if (sd <= 0)
		return centre > best ? centre - best : 0;
	z = (centre - best) / sd;
	return (centre - best) * 0.5 * erfc(-z / M_SQRT2) + sd * exp(-0.5 * z * z) / sqrt(2 * M_PI);
}

/*
 * After the portfolio, each trial's family is drawn with probability in
 * proportion to its expected improvement per unit of work, so that the
 * time each family gets follows what it is expected to add (a family 50
 * times dearer per trial gets a fiftieth of the trials at equal promise).
 * A family's next trial is modelled as normal around the mean of its best
 * three scores, with the spread of its scores (at least a tenth of the
 * spread of all), times the share of its trials that completed (failures
 * and pruned trials count against it); the improvement is over the best
 * score of every family. A tenth of the draws go by work alone (in
 * proportion to 1 / work), so no family is written off for good, the
 * cheap ones least. Work is
 * search__work() of the trials' parameters: deterministic, unlike their
 * running times. Only the observations below the window and the trial's
 * own random stream are read.
 */
int search__family(const struct search *s, size_t idx, const struct search__obs *obs, size_t n)
{
	struct family_stats fam[FIT_MODEL_COUNT] = { 0 }, all = { 0 };
	double rate[FIT_MODEL_COUNT] = { 0 }, cheap[FIT_MODEL_COUNT] = { 0 };
	double total = 0, total_cheap = 0, spread, u;
	struct fit_rng r;

	if (!s->sized)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int m = (int)obs[i].p.v[SPACE_SLOT_MODEL];
		double w = search__work(&s->shape, &obs[i].p);

		if (m >= 0 && m < FIT_MODEL_COUNT)
			stats_add(&fam[m], &obs[i], w);
		stats_add(&all, &obs[i], w);
	}
	if (all.completed < 2)
		return -1;
	spread = stats_std(&all);
	for (int m = 0; m < FIT_MODEL_COUNT; m++) {
		const struct family_stats *f = &fam[m];
		double centre = 0, sd, ok;

		if (!(s->sp->dim[SPACE_DIM_MODELS].mask & BIT(m)) || f->finished == 0)
			continue;
		for (size_t k = 0; k < f->ntop; k++)
			centre += f->top[k] / (double)f->ntop;
		sd = stats_std(f) > spread / 10 ? stats_std(f) : spread / 10;
		ok = ((double)f->completed + 1) / ((double)f->finished + 2);
		if (f->work <= 0)
			continue;
		cheap[m] = (double)f->finished / f->work;
		rate[m] = ok * expected_improvement(centre, sd, all.best) * cheap[m];
		total += rate[m];
		total_cheap += cheap[m];
	}
	if (!(total_cheap > 0) || !isfinite(total_cheap) || !isfinite(total))
		return -1;
	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		rate[m] = (total > 0 ? 0.9 * rate[m] / total : 0.9 * cheap[m] / total_cheap) +
			  0.1 * cheap[m] / total_cheap;
	search__rng_init(&r, s->seed, idx, SEARCH__STREAM_FAMILY);
	u = fit_rng_uniform(&r);
	for (int m = 0; m < FIT_MODEL_COUNT; m++) {
		if (rate[m] > 0 && u < rate[m])
			return m;
		u -= rate[m];
	}
	for (int m = FIT_MODEL_COUNT - 1; m >= 0; m--)
		if (rate[m] > 0)
			return m; /* rounding left u past the end */
	return -1;
}

/* ---- proposals ---- */

/* Keeps the observations of family m, in their order; returns how many. */
static size_t only_family(struct search__obs *obs, size_t n, int m)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		if ((int)obs[i].p.v[SPACE_SLOT_MODEL] == m)
			obs[kept++] = obs[i];
	return kept;
}

static int model_point(const struct search *s, size_t idx, const struct search_history *h,
		       struct space_point *p)
{
	struct search__obs *obs = NULL;
	size_t n = 0;
	int rc = search__observations(s, window_below(idx), h, &obs, &n);
	int m = -1;

	if (rc == FITD_OK && n >= SEARCH_TPE_STARTUP) {
		m = search__family(s, idx, obs, n);
		if (m >= 0)
			n = only_family(obs, n, m); /* tpe within the family it learns from */
		rc = search__tpe_point(s, idx, obs, n, m, p);
	} else if (rc == FITD_OK) {
		rc = FITD_EINVAL;
	}
	if (rc == FITD_EINVAL) {
		search__random_point_of(s->sp, s->seed, idx, m, p);
		rc = FITD_OK;
	}
	free(obs);
	return rc;
}

json_t *search_propose(const struct search *s, size_t idx, const struct search_history *h)
{
	bool finite = s->size != UINT64_MAX;
	struct space_point p;

	if (finite && idx >= s->size)
		return NULL;
	switch (s->algorithm) {
	case WORKER_ALGORITHM_GRID:
		search_space_point_at(s->sp, idx, &p);
		break;
	case WORKER_ALGORITHM_RANDOM:
	case WORKER_ALGORITHM_ASHA:
		if (finite)
			search_space_point_at(s->sp, search__permute(idx, s->size, s->seed), &p);
		else
			search__random_point(s->sp, s->seed, idx, &p);
		break;
	default: /* tpe, auto */
		if (s->known_first && idx < s->nknown)
			p = s->known[idx];
		else if (model_point(s, idx, h, &p) != FITD_OK)
			return NULL;
		break;
	}
	return search_space_point_to_json(s->sp, &p);
}

bool search_may_propose(const struct search *s, size_t idx, const struct search_history *h)
{
	size_t below = window_below(idx), done = 0;

	(void)s;
	for (size_t i = 0; h != NULL && i < h->n; i++)
		if (h->trials[i].idx < below && h->trials[i].state != SEARCH_TRIAL_PENDING)
			done++;
	return done >= below;
}

/* ---- stop rules ---- */

static int cmp_trial_ptr(const void *a, const void *b)
{
	const struct search_trial *x = *(const struct search_trial *const *)a;
	const struct search_trial *y = *(const struct search_trial *const *)b;

	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Goal and patience over the finished trials below `below`, in index order. */
static enum search_stop rules(const struct search *s, const struct search_trial **t, size_t n)
{
	double best = -INFINITY, goal = s->has_goal ? search__norm(s, s->goal) : 0;
	bool have = false;
	size_t since = 0;

	for (size_t i = 0; i < n; i++) {
		bool scored = t[i]->state == SEARCH_TRIAL_COMPLETED && t[i]->has_score &&
			      isfinite(t[i]->score);
		double v = scored ? search__norm(s, t[i]->score) : 0;

		if (scored && s->has_goal && v >= goal)
			return SEARCH_STOP_GOAL;
		if (scored && (!have || v > best)) {
			best = v;
			have = true;
			since = 0;
		} else {
			since++;
		}
	}
	return s->patience > 0 && since >= s->patience ? SEARCH_STOP_PATIENCE : SEARCH_STOP_NONE;
}

bool search_should_stop(const struct search *s, size_t idx, const struct search_history *h,
			enum search_stop *reason)
{
	enum search_stop why = SEARCH_STOP_NONE;
	size_t below = window_below(idx), n = 0;
	const struct search_trial **t = NULL;

	if (s->max_trials > 0 && idx >= s->max_trials)
		why = SEARCH_STOP_MAX_TRIALS;
	else if (s->size != UINT64_MAX && idx >= s->size)
		why = SEARCH_STOP_EXHAUSTED;
	else if ((s->patience > 0 || s->has_goal) && h != NULL && h->n > 0 &&
		 (t = malloc(h->n * sizeof(*t))) != NULL) {
		for (size_t i = 0; i < h->n; i++)
			if (h->trials[i].idx < below && h->trials[i].state != SEARCH_TRIAL_PENDING)
				t[n++] = &h->trials[i];
		/* Decide only once every trial below the window is in: never on timing. */
		if (n >= below && n > 0) {
			qsort(t, n, sizeof(*t), cmp_trial_ptr);
			why = rules(s, t, n);
		}
		free(t);
	}
	if (reason != NULL)
		*reason = why;
	return why != SEARCH_STOP_NONE;
}

const char *search_stop_name(enum search_stop reason)
{
	static const char *const names[] = { "none", "max_trials", "exhausted", "patience",
					     "goal" };

	return (unsigned)reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "none";
}
