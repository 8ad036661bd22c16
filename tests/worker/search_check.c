/*
 * search_check.c - shared helpers of the searcher's tests; see search_check.h.
 */
#include "tests/worker/search_check.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/params.h"

const struct worker_column_info check_cols[] = {
	{ "x1", true, 0, 0, false, 140 },     { "x2", true, 0, 0, false, 120 },
	{ "species", false, 3, 0, false, 0 }, { "y", true, 0, 0, false, WORKER_DISTINCT_CAP },
	{ "label", true, 0, 0, true, 2 },
};
const size_t check_ncols = sizeof(check_cols) / sizeof(check_cols[0]);

struct worker_spec *check_spec(const char *text, size_t nrows)
{
	struct fitd_error err = { 0 };
	struct worker_spec *spec = NULL;
	json_error_t jerr;
	json_t *body = json_loads(text, 0, &jerr);
	int rc;

	ck_assert_msg(body != NULL, "bad JSON in test: %s", jerr.text);
	rc = worker_spec_parse(body, check_cols, check_ncols, nrows, &spec, &err);
	ck_assert_msg(rc == FITD_OK, "%s -> %s: %s", text, err.code, err.message);
	json_decref(body);
	return spec;
}

const struct search_shape *check_shape;

struct search *check_search(const struct worker_spec *spec)
{
	struct fitd_error err = { 0 };
	struct search *s = NULL;

	ck_assert_msg(search_new_sized(spec, check_shape, &s, &err) == FITD_OK, "%s", err.message);
	return s;
}

/* ---- the contract ---- */

static bool has(const json_t *p, const char *key)
{
	return json_object_get(p, key) != NULL;
}

static const char *str(const json_t *p, const char *key)
{
	const char *s = json_string_value(json_object_get(p, key));

	ck_assert_msg(s != NULL, "%s missing or not a string", key);
	return s;
}

static bool is(const json_t *p, const char *key, const char *value)
{
	return strcmp(str(p, key), value) == 0;
}

/* The keys of a gbdt trial's own settings (search.h), and their dimensions under space.gbdt. */
static const char *const tree_keys[] = {
	"trees",	  "max_leaves", "max_depth", "min_child_weight", "min_leaf_rows",
	"min_split_gain", "subsample",	"colsample", "max_bins"
};
#define NTREE_KEYS (sizeof(tree_keys) / sizeof(tree_keys[0]))

/* Which keys apply, from the other keys (search.h's table). */
static void check_keys(const json_t *p, bool cls)
{
	static const char *const allowed[] = { "model",
					       "optimizer",
					       "learning_rate",
					       "batch_size",
					       "epochs",
					       "regularization",
					       "penalty",
					       "l1_ratio",
					       "loss",
					       "huber_delta",
					       "C",
					       "hidden_layers",
					       "activation",
					       "dropout",
					       "trees",
					       "max_leaves",
					       "max_depth",
					       "min_child_weight",
					       "min_leaf_rows",
					       "min_split_gain",
					       "subsample",
					       "colsample",
					       "max_bins" };
	bool trees = is(p, "model", "gbdt");
	bool first = !trees && (is(p, "optimizer", "gd") || is(p, "optimizer", "sgd") ||
				is(p, "optimizer", "momentum") || is(p, "optimizer", "adam"));
	bool mlp = is(p, "model", "mlp"), svm = is(p, "model", "svm");
	bool penalized = is(p, "regularization", "l1") || is(p, "regularization", "l2") ||
			 is(p, "regularization", "elasticnet");
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)p, key, v)
	{
		bool ok = false;

		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		ck_assert_msg(ok, "unexpected key %s", key);
	}
	ck_assert_int_eq(has(p, "epochs"), !trees);
	ck_assert_int_eq(has(p, "optimizer"), !trees);
	for (size_t i = 0; i < NTREE_KEYS; i++)
		ck_assert_int_eq(has(p, tree_keys[i]), trees);
	ck_assert_int_eq(has(p, "learning_rate"), first || trees);
	ck_assert_int_eq(has(p, "batch_size"), first && !is(p, "optimizer", "gd"));
	ck_assert_int_eq(has(p, "penalty"), penalized && !svm);
	ck_assert_int_eq(has(p, "l1_ratio"), is(p, "regularization", "elasticnet"));
	ck_assert_int_eq(has(p, "huber_delta"), is(p, "loss", "huber"));
	ck_assert_int_eq(has(p, "C"), svm);
	ck_assert_int_eq(has(p, "hidden_layers"), mlp);
	ck_assert_int_eq(has(p, "activation"), mlp);
	ck_assert_int_eq(has(p, "dropout"), is(p, "regularization", "dropout"));
	if (is(p, "regularization", "dropout"))
		ck_assert(mlp);
	if (!cls)
		ck_assert(is(p, "loss", "squared") || is(p, "loss", "huber") ||
			  is(p, "loss", "absolute"));
	else
		ck_assert(!is(p, "loss", "squared") && !is(p, "loss", "huber") &&
			  !is(p, "loss", "absolute"));
}

/* A gbdt trial's own settings into fp.gbdt. */
static void check_tree_core(const json_t *p, struct fit_params *fp)
{
	double v[NTREE_KEYS];

	for (size_t i = 0; i < NTREE_KEYS; i++)
		v[i] = json_number_value(json_object_get(p, tree_keys[i]));
	fp->gbdt = (struct fit_params_gbdt){ (unsigned)v[0], (unsigned)v[1], (unsigned)v[2],
					     (unsigned)v[4], (unsigned)v[8], v[3],
					     v[5],	     v[6],	     v[7] };
}

/* Maps params to the core's struct the way the trainer does and lets the core judge. */
static void check_core(const json_t *p, bool cls)
{
	struct fit_params fp;
	enum fit_reg reg;
	const char *why;
	json_t *h = json_object_get(p, "hidden_layers");

	fit_params_init(&fp);
	ck_assert_int_eq(fit_model_kind_parse(str(p, "model"), &fp.model), 0);
	if (fp.model == FIT_MODEL_GBDT)
		check_tree_core(p, &fp);
	else
		ck_assert_int_eq(fit_optimizer_parse(str(p, "optimizer"), &fp.optimizer), 0);
	ck_assert_int_eq(fit_loss_parse(str(p, "loss"), &fp.loss), 0);
	if (is(p, "regularization", "dropout")) {
		fp.reg = FIT_REG_NONE;
		fp.penalty = 0;
		fp.dropout = json_number_value(json_object_get(p, "dropout"));
	} else {
		ck_assert_int_eq(fit_reg_parse(str(p, "regularization"), &reg), 0);
		fp.reg = reg;
		if (has(p, "penalty"))
			fp.penalty = json_number_value(json_object_get(p, "penalty"));
	}
	if (has(p, "learning_rate"))
		fp.learning_rate = json_number_value(json_object_get(p, "learning_rate"));
	if (has(p, "batch_size"))
		fp.batch_size = (size_t)json_integer_value(json_object_get(p, "batch_size"));
	if (has(p, "epochs"))
		fp.epochs = (unsigned)json_integer_value(json_object_get(p, "epochs"));
	if (has(p, "l1_ratio"))
		fp.l1_ratio = json_number_value(json_object_get(p, "l1_ratio"));
	if (has(p, "huber_delta"))
		fp.huber_delta = json_number_value(json_object_get(p, "huber_delta"));
	if (has(p, "C"))
		fp.svm_c = json_number_value(json_object_get(p, "C"));
	if (h != NULL) {
		fp.hidden_layers = (unsigned)json_array_size(h);
		for (unsigned i = 0; i < fp.hidden_layers && i < FIT_MAX_HIDDEN; i++)
			fp.hidden_units[i] = (unsigned)json_integer_value(json_array_get(h, i));
		ck_assert_int_eq(fit_activation_parse(str(p, "activation"), &fp.activation), 0);
	}
	why = fit_params_check(&fp, cls ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION);
	ck_assert_msg(why == NULL, "core refuses: %s", why);
}

/* Whether x is allowed by the normalized dimension v (a value, list or range). */
static bool in_dim(const json_t *v, double x)
{
	if (json_is_object(v))
		return x >= json_number_value(json_object_get(v, "min")) &&
		       x <= json_number_value(json_object_get(v, "max"));
	if (json_is_number(v))
		return x == json_number_value(v);
	for (size_t i = 0; i < json_array_size(v); i++)
		if (json_number_value(json_array_get(v, i)) == x)
			return true;
	return false;
}

static bool name_in(const json_t *list, const char *s)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_array_get(list, i)), s) == 0)
			return true;
	return false;
}

static void check_bounds(const json_t *p, const json_t *space)
{
	static const char *const top[] = { "learning_rate", "batch_size",  "epochs",  "penalty",
					   "l1_ratio",	    "huber_delta", "dropout", "C" };
	const json_t *mlp = json_object_get(space, "mlp");
	const json_t *h = json_object_get(p, "hidden_layers");

	const json_t *gbdt = json_object_get(space, "gbdt");

	ck_assert(name_in(json_object_get(space, "models"), str(p, "model")));
	if (is(p, "model", "gbdt")) {
		for (size_t i = 0; i < NTREE_KEYS; i++)
			ck_assert_msg(in_dim(json_object_get(gbdt, tree_keys[i]),
					     json_number_value(json_object_get(p, tree_keys[i]))),
				      "%s is outside the space", tree_keys[i]);
		ck_assert(in_dim(json_object_get(gbdt, "learning_rate"),
				 json_number_value(json_object_get(p, "learning_rate"))));
	} else {
		ck_assert(name_in(json_object_get(space, "optimizer"), str(p, "optimizer")));
	}
	ck_assert(name_in(json_object_get(space, "loss"), str(p, "loss")));
	ck_assert(name_in(json_object_get(space, "regularization"), str(p, "regularization")));
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		const json_t *v = json_object_get(p, top[i]);
		const json_t *dim = strcmp(top[i], "learning_rate") == 0 && is(p, "model", "gbdt")
					? json_object_get(gbdt, "learning_rate")
				    : strcmp(top[i], "dropout") == 0
					? json_object_get(mlp, "dropout")
				    : strcmp(top[i], "C") == 0
					? json_object_get(json_object_get(space, "svm"), "C")
					: json_object_get(space, top[i]);

		if (v != NULL)
			ck_assert_msg(dim != NULL && in_dim(dim, json_number_value(v)),
				      "%s = %g is outside the space", top[i], json_number_value(v));
	}
	if (h == NULL)
		return;
	ck_assert(in_dim(json_object_get(mlp, "hidden_layers"), (double)json_array_size(h)));
	for (size_t i = 0; i < json_array_size(h); i++)
		ck_assert(in_dim(json_object_get(mlp, "units"),
				 (double)json_integer_value(json_array_get(h, i))));
	ck_assert(name_in(json_object_get(mlp, "activation"), str(p, "activation")));
}

void check_params(const json_t *params, const struct worker_spec *spec)
{
	bool cls = worker_spec_task(spec) == FIT_TASK_CLASSIFICATION;
	json_t *norm = worker_spec_to_json(spec);

	ck_assert(json_is_object(params));
	check_keys(params, cls);
	check_core(params, cls);
	check_bounds(params, json_object_get(norm, "space"));
	json_decref(norm);
}

/* ---- the scheduler simulation ---- */

struct sim {
	const struct worker_spec *spec;
	struct search *search;
	struct worker_spec *owned; /* after a restart */
	struct check_trial *t;
	size_t n, cap;
	struct search_trial *view;
	unsigned long long rng;
};

static unsigned long long sim_rand(struct sim *s)
{
	s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
	return s->rng >> 33;
}

/* The history as the scheduler would hand it: every created trial, shuffled. */
static struct search_history sim_history(struct sim *s)
{
	struct search_history h;

	for (size_t i = 0; i < s->n; i++) {
		struct check_trial *c = &s->t[i];

		s->view[i] = (struct search_trial){ c->idx,   c->state, c->params, c->has_score,
						    c->score, c->rungs, c->nrungs };
	}
	for (size_t i = s->n; i > 1; i--) {
		size_t j = sim_rand(s) % i;
		struct search_trial tmp = s->view[i - 1];

		s->view[i - 1] = s->view[j];
		s->view[j] = tmp;
	}
	h.trials = s->view;
	h.n = s->n;
	return h;
}

static void sim_restart(struct sim *s)
{
	struct fitd_error err = { 0 };
	json_t *j = worker_spec_to_json(s->spec);
	struct worker_spec *again = NULL;

	ck_assert_int_eq(worker_spec_from_json(j, &again, &err), FITD_OK);
	json_decref(j);
	search_free(s->search);
	worker_spec_free(s->owned);
	s->owned = again;
	s->spec = again;
	s->search = check_search(again);
}

/* Runs trial i to its end; prune decisions asked with two different histories. */
static void sim_finish(struct sim *s, size_t i, check_objective_fn objective,
		       const struct search_history *at_start)
{
	struct check_trial *c = &s->t[i];
	unsigned epochs = (unsigned)json_integer_value(json_object_get(c->params, "epochs"));

	for (unsigned e = 1; e <= epochs; e++) {
		double score = objective(c->params, e);
		int rung = search_rung_of_epoch(s->search, e);
		struct search_history now;
		bool prune;

		if (rung < 0)
			continue;
		c->rungs[c->nrungs++] = score;
		if (e == epochs)
			break;
		now = sim_history(s);
		prune = search_should_prune(s->search, c->idx, c->params, e, score, &now);
		ck_assert_int_eq(
		    prune, search_should_prune(s->search, c->idx, c->params, e, score, at_start));
		if (prune) {
			c->state = SEARCH_TRIAL_PRUNED;
			c->stopped_at = e;
			return;
		}
	}
	c->state = SEARCH_TRIAL_COMPLETED;
	c->has_score = true;
	c->score = objective(c->params, epochs);
}

/* Proposes the next trial when the rules allow; false when none may start now. */
static bool sim_start(struct sim *s, size_t limit, bool *over)
{
	struct search_history h = sim_history(s);
	json_t *p;

	*over = s->n >= limit || search_should_stop(s->search, s->n, &h, NULL);
	if (*over || !search_may_propose(s->search, s->n, &h))
		return false;
	p = search_propose(s->search, s->n, &h);
	if (p == NULL) {
		*over = true;
		return false;
	}
	check_params(p, s->spec);
	s->t[s->n] =
	    (struct check_trial){ .idx = s->n, .state = SEARCH_TRIAL_PENDING, .params = p };
	s->n++;
	return true;
}

void check_run(const struct worker_spec *spec, unsigned parallel, size_t limit,
	       check_objective_fn objective, unsigned order_seed, size_t restart_at,
	       struct check_run *out)
{
	struct sim s = { .spec = spec, .rng = order_seed * 2654435761ull + 1 };
	struct search_history *starts = calloc(limit + 1, sizeof(*starts));
	struct search_trial **start_views = calloc(limit + 1, sizeof(*start_views));
	unsigned running = 0;
	bool over = false;

	s.search = check_search(spec);
	s.t = calloc(limit + 1, sizeof(*s.t));
	s.view = calloc(limit + 1, sizeof(*s.view));
	ck_assert(s.t != NULL && s.view != NULL && starts != NULL && start_views != NULL);
	for (;;) {
		while (running < parallel && !over && sim_start(&s, limit, &over)) {
			/* Keep the history this trial started with, for the prune check. */
			start_views[s.n - 1] = calloc(s.n, sizeof(struct search_trial));
			memcpy(start_views[s.n - 1], s.view,
			       (s.n - 1) * sizeof(struct search_trial));
			starts[s.n - 1] = (struct search_history){ start_views[s.n - 1], s.n - 1 };
			running++;
			if (restart_at > 0 && s.n == restart_at)
				sim_restart(&s);
		}
		if (running == 0)
			break;
		for (size_t pick = sim_rand(&s) % running, i = 0; i < s.n; i++) {
			if (s.t[i].state != SEARCH_TRIAL_PENDING || pick-- > 0)
				continue;
			sim_finish(&s, i, objective, &starts[i]);
			running--;
			break;
		}
	}
	for (size_t i = 0; i < s.n; i++)
		free(start_views[i]);
	free(start_views);
	free(starts);
	free(s.view);
	search_free(s.search);
	worker_spec_free(s.owned);
	out->trials = s.t;
	out->n = s.n;
}

void check_runs_equal(const struct check_run *a, const struct check_run *b)
{
	ck_assert_uint_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		char *x = json_dumps(a->trials[i].params, JSON_SORT_KEYS | JSON_COMPACT);
		char *y = json_dumps(b->trials[i].params, JSON_SORT_KEYS | JSON_COMPACT);

		ck_assert_msg(strcmp(x, y) == 0, "trial %zu: %s vs %s", i, x, y);
		ck_assert_int_eq(a->trials[i].state, b->trials[i].state);
		ck_assert_uint_eq(a->trials[i].stopped_at, b->trials[i].stopped_at);
		free(x);
		free(y);
	}
}

double check_run_best(const struct check_run *r)
{
	double best = -INFINITY;

	for (size_t i = 0; i < r->n; i++)
		if (r->trials[i].has_score && r->trials[i].score > best)
			best = r->trials[i].score;
	return best;
}

void check_run_release(struct check_run *r)
{
	for (size_t i = 0; i < r->n; i++)
		json_decref(r->trials[i].params);
	free(r->trials);
	r->trials = NULL;
	r->n = 0;
}
