/*
 * test_search_rules.c - the searcher and the numeric core agree on which
 * model, loss, regularization and optimizer go together, both ways, over
 * every combination of every task.
 *
 * The core's view is fit_params_check() on the parameters a trial of the
 * combination has (dropout at a rate when it is the regularizer). The
 * searcher's view is every path through the categorical slots that
 * search_space_slot_options() offers, in a space: the default one, and one
 * listing every value the core accepts for the task. Each such path is
 * completed into a point whose trial parameters must pass the contract of
 * search.h and the trainer's own path (worker_params_from_json()). Then:
 * what the searcher reaches in the full space is exactly what the core
 * accepts, and in the default space exactly that without optimizer gd
 * (which the default space leaves out). A rule changed on one side only
 * (a refusal in the core's checks, a narrowing in the searcher) fails here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/worker/search_check.h"
#include "worker/params.h"
#include "worker/search/space.h"

#define NO_OPT FIT_OPT_COUNT /* the point of a family that takes no optimizer */

struct combos {
	bool on[FIT_MODEL_COUNT][FIT_LOSS_COUNT][FIT_REG_COUNT][FIT_OPT_COUNT + 1];
};

static const enum fit_task tasks[] = { FIT_TASK_REGRESSION, FIT_TASK_CLASSIFICATION };
static const char *const targets[] = { "y", "species" };

/* ---- the core's view ---- */

static bool core_accepts(enum fit_task task, int m, int l, int r, int o)
{
	struct fit_params p;

	fit_params_init(&p);
	p.model = (enum fit_model_kind)m;
	p.loss = (enum fit_loss)l;
	p.reg = (enum fit_reg)r;
	p.optimizer = (enum fit_optimizer)(o == NO_OPT ? 0 : o);
	p.dropout = r == FIT_REG_DROPOUT ? 0.2 : 0.0;
	p.svm_c = 1.0;
	return fit_params_check(&p, task) == NULL;
}

/* Every combination the core accepts for task, with a loss the spec can name (not auto). */
static void core_view(enum fit_task task, struct combos *out)
{
	memset(out, 0, sizeof(*out));
	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		for (int l = 0; l < FIT_LOSS_COUNT; l++)
			for (int r = 0; r < FIT_REG_COUNT; r++)
				for (int o = 0; o < FIT_OPT_COUNT; o++) {
					bool none = fit_family_optimizers((enum fit_model_kind)m) ==
						    0;

					if (l != FIT_LOSS_AUTO &&
					    core_accepts(task, m, l, r, none ? NO_OPT : o))
						out->on[m][l][r][none ? NO_OPT : o] = true;
				}
}

/* ---- the searcher's view ---- */

/* Fills the slots after the optimizer (first option, or a range's middle). */
static void complete(const struct search_space *sp, struct space_point *p)
{
	double opts[SPACE_LIST_MAX];

	for (int s = SPACE_SLOT_OPT + 1; s < SPACE_SLOT_COUNT; s++) {
		const struct space_values *v = &sp->dim[search_space_slot_dim((enum space_slot)s)];
		size_t n;

		if (!search_space_slot_active(p, (enum space_slot)s))
			continue;
		n = search_space_slot_options(sp, p, (enum space_slot)s, opts);
		p->v[s] = search_space_slot_round((enum space_slot)s,
						  n > 0 ? opts[n - 1] : (v->min + v->max) / 2);
		p->active |= 1u << s;
	}
}

/* The completed point's trial parameters follow search.h and the trainer takes them. */
static void check_trial(const struct worker_spec *spec, const struct space_point *p)
{
	struct worker_fit_context ctx = { worker_spec_task(spec), worker_spec_metric(spec), 0, 0,
					  1 };
	struct fitd_error err = { 0 };
	bool dropout = (int)p->v[SPACE_SLOT_REG] == FIT_REG_DROPOUT;
	json_t *params = search_space_point_to_json(worker_spec_space(spec), p);
	struct space_point back;
	struct fit_params fp;
	char *text = json_dumps(params, JSON_SORT_KEYS | JSON_COMPACT);

	check_params(params, spec);
	ck_assert_msg(worker_params_from_json(params, &ctx, &fp, &err) == FITD_OK,
		      "%s: the trainer refuses: %s", text, err.message);
	/* What the trainer fits: the same choices, dropout as no penalty with its rate. */
	ck_assert_int_eq(fp.model, (int)p->v[SPACE_SLOT_MODEL]);
	ck_assert_int_eq(fp.loss, (int)p->v[SPACE_SLOT_LOSS]);
	if (p->active & (1u << SPACE_SLOT_OPT))
		ck_assert_int_eq(fp.optimizer, (int)p->v[SPACE_SLOT_OPT]);
	ck_assert_int_eq(fp.reg, (dropout ? FIT_REG_NONE : (int)p->v[SPACE_SLOT_REG]));
	ck_assert_int_eq(fp.dropout > 0, dropout);
	if (fp.model == FIT_MODEL_GBDT) {
		/* The trees' own settings reach the trainer, the shrinkage as learning_rate. */
		ck_assert(fp.learning_rate == p->v[SPACE_SLOT_GBDT_LEARNING_RATE]);
		ck_assert(fp.gbdt.trees == p->v[SPACE_SLOT_TREES]);
		ck_assert(fp.gbdt.max_leaves == p->v[SPACE_SLOT_MAX_LEAVES]);
		ck_assert(fp.gbdt.max_depth == p->v[SPACE_SLOT_MAX_DEPTH]);
		ck_assert(fp.gbdt.min_child_weight == p->v[SPACE_SLOT_MIN_CHILD_WEIGHT]);
		ck_assert(fp.gbdt.min_leaf_rows == p->v[SPACE_SLOT_MIN_LEAF_ROWS]);
		ck_assert(fp.gbdt.min_split_gain == p->v[SPACE_SLOT_MIN_SPLIT_GAIN]);
		ck_assert(fp.gbdt.subsample == p->v[SPACE_SLOT_SUBSAMPLE]);
		ck_assert(fp.gbdt.colsample == p->v[SPACE_SLOT_COLSAMPLE]);
		ck_assert(fp.gbdt.max_bins == p->v[SPACE_SLOT_MAX_BINS]);
	}
	ck_assert_ptr_null(fit_params_check(&fp, ctx.task));
	ck_assert_int_eq(search_space_point_from_json(worker_spec_space(spec), params, &back),
			 FITD_OK);
	ck_assert(search_space_point_equal(&back, p));
	free(text);
	json_decref(params);
}

/* Every path through model, loss, regularization and optimizer from slot on. */
static void walk(const struct worker_spec *spec, const struct space_point *p, int slot,
		 struct combos *seen)
{
	const struct search_space *sp = worker_spec_space(spec);
	double opts[SPACE_LIST_MAX];
	size_t n;

	if (slot > SPACE_SLOT_OPT) {
		struct space_point full = *p;
		int o = p->active & (1u << SPACE_SLOT_OPT) ? (int)p->v[SPACE_SLOT_OPT] : NO_OPT;

		seen->on[(int)p->v[SPACE_SLOT_MODEL]][(int)p->v[SPACE_SLOT_LOSS]]
			[(int)p->v[SPACE_SLOT_REG]][o] = true;
		complete(sp, &full);
		check_trial(spec, &full);
		return;
	}
	if (!search_space_slot_active(p, (enum space_slot)slot)) {
		walk(spec, p, slot + 1, seen);
		return;
	}
	n = search_space_slot_options(sp, p, (enum space_slot)slot, opts);
	ck_assert_msg(n > 0, "slot %d: a dead end", slot);
	for (size_t k = 0; k < n; k++) {
		struct space_point q = *p;

		q.v[slot] = opts[k];
		q.active |= 1u << slot;
		walk(spec, &q, slot + 1, seen);
	}
}

static void searcher_view(const char *text, struct combos *seen)
{
	struct worker_spec *spec = check_spec(text, 150);
	struct space_point p;

	memset(&p, 0, sizeof(p));
	memset(seen, 0, sizeof(*seen));
	walk(spec, &p, 0, seen);
	worker_spec_free(spec);
}

/* ---- the two compared ---- */

static const char *opt_name(int o)
{
	return o == NO_OPT ? "(none)" : fit_optimizer_name((enum fit_optimizer)o);
}

/* Fails on the first combination where want and got differ; returns how many want holds. */
static unsigned same(const struct combos *want, const struct combos *got, const char *what)
{
	unsigned n = 0;

	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		for (int l = 0; l < FIT_LOSS_COUNT; l++)
			for (int r = 0; r < FIT_REG_COUNT; r++)
				for (int o = 0; o <= NO_OPT; o++) {
					bool w = want->on[m][l][r][o], g = got->on[m][l][r][o];

					ck_assert_msg(
					    w == g, "%s: %s %s %s %s: the core %s, the searcher %s",
					    what, fit_model_kind_name((enum fit_model_kind)m),
					    fit_loss_name((enum fit_loss)l),
					    fit_reg_name((enum fit_reg)r), opt_name(o),
					    w ? "accepts" : "refuses",
					    g ? "reaches it" : "does not");
					n += w;
				}
	return n;
}

/* Appends to list each name of a value that some accepted combination uses. */
static void add_names(json_t *list, const char *const *names, int count, const bool *used)
{
	for (int i = 0; i < count; i++)
		if (used[i])
			json_array_append_new(list, json_string(names[i]));
}

/* A spec whose space lists every model, loss, regularization and optimizer of core. */
static char *everything_spec(const char *target, const struct combos *core)
{
	bool m_used[FIT_MODEL_COUNT] = { 0 }, l_used[FIT_LOSS_COUNT] = { 0 };
	bool r_used[FIT_REG_COUNT] = { 0 }, o_used[FIT_OPT_COUNT + 1] = { 0 };
	json_t *models = json_array(), *losses = json_array(), *regs = json_array();
	json_t *opts = json_array(), *spec;
	char *text;

	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		for (int l = 0; l < FIT_LOSS_COUNT; l++)
			for (int r = 0; r < FIT_REG_COUNT; r++)
				for (int o = 0; o <= NO_OPT; o++)
					if (core->on[m][l][r][o]) {
						m_used[m] = l_used[l] = r_used[r] = true;
						o_used[o] = true;
					}
	add_names(models, fit_model_kind_names, FIT_MODEL_COUNT, m_used);
	add_names(losses, fit_loss_names, FIT_LOSS_COUNT, l_used);
	add_names(regs, fit_reg_names, FIT_REG_COUNT, r_used);
	add_names(opts, fit_optimizer_names, FIT_OPT_COUNT, o_used);
	spec = json_pack("{s:s, s:s, s:{s:o, s:o, s:o, s:o}}", "dataset", "d", "target", target,
			 "space", "models", models, "loss", losses, "regularization", regs,
			 "optimizer", opts);
	text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	return text;
}

START_TEST(test_everything_both_ways)
{
	struct combos core, seen;
	char *text;

	core_view(tasks[_i], &core);
	text = everything_spec(targets[_i], &core);
	searcher_view(text, &seen);
	ck_assert_uint_gt(same(&core, &seen, text), 0);
	free(text);
}
END_TEST

START_TEST(test_default_space_both_ways)
{
	struct combos core, seen;
	char text[96];

	core_view(tasks[_i], &core);
	for (int m = 0; m < FIT_MODEL_COUNT; m++)
		for (int l = 0; l < FIT_LOSS_COUNT; l++)
			for (int r = 0; r < FIT_REG_COUNT; r++)
				core.on[m][l][r][FIT_OPT_GD] = false; /* not in the default space */
	snprintf(text, sizeof(text), "{\"dataset\":\"d\",\"target\":\"%s\"}", targets[_i]);
	searcher_view(text, &seen);
	ck_assert_uint_gt(same(&core, &seen, text), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("worker_search_rules");
	TCase *tc = tcase_create("rules");

	tcase_add_loop_test(tc, test_everything_both_ways, 0, 2);
	tcase_add_loop_test(tc, test_default_space_both_ways, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
