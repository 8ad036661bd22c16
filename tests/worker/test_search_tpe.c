/*
 * test_search_tpe.c - the model-based parts of the searcher: tpe finds
 * better trials than random search on a synthetic objective with the same
 * budget, over several seeds; asha stops the weak trials of a set of
 * learning curves at its rungs, never the best one, with decisions that do
 * not depend on parallelism or finish order.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/worker/search_check.h"

#define BUDGET 40
#define SEEDS  10

/* A bowl in log learning rate and log penalty, plus a bonus for adam and for mlp. */
static double objective(const json_t *p, unsigned epoch)
{
	double lr = log10(json_number_value(json_object_get(p, "learning_rate")));
	double pen = log10(json_number_value(json_object_get(p, "penalty")));
	const char *opt = json_string_value(json_object_get(p, "optimizer"));
	const char *model = json_string_value(json_object_get(p, "model"));

	(void)epoch;
	return -(lr + 2.5) * (lr + 2.5) - 0.5 * (pen + 3) * (pen + 3) +
	       (strcmp(opt, "adam") == 0 ? 1.0 : 0.0) + (strcmp(model, "mlp") == 0 ? 0.5 : 0.0);
}

static double mean_best(const char *algorithm)
{
	double sum = 0;

	for (int seed = 0; seed < SEEDS; seed++) {
		char text[640];
		struct worker_spec *spec;
		struct check_run run;

		snprintf(
		    text, sizeof(text),
		    "{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"models\":"
		    "[\"logistic\",\"mlp\"],\"optimizer\":[\"sgd\",\"momentum\",\"adam\"],"
		    "\"regularization\":\"l2\",\"learning_rate\":{\"min\":1e-5,\"max\":1,"
		    "\"log\":true},\"penalty\":{\"min\":1e-6,\"max\":1,\"log\":true},"
		    "\"batch_size\":32,\"epochs\":20,\"mlp\":{\"hidden_layers\":1,\"units\":16,"
		    "\"activation\":\"relu\"}},\"search\":{\"algorithm\":\"%s\",\"seed\":%d,"
		    "\"max_trials\":%d}}",
		    algorithm, seed, BUDGET);
		spec = check_spec(text, 150);
		check_run(spec, 1, BUDGET, objective, (unsigned)seed, 0, &run);
		ck_assert_uint_eq(run.n, BUDGET);
		sum += check_run_best(&run);
		check_run_release(&run);
		worker_spec_free(spec);
	}
	return sum / SEEDS;
}

START_TEST(test_tpe_beats_random)
{
	double tpe = mean_best("tpe"), random = mean_best("random");

	fprintf(stderr, "mean best over %d seeds, %d trials: tpe %.4f, random %.4f (max 1.5)\n",
		SEEDS, BUDGET, tpe, random);
	ck_assert_msg(tpe > random, "tpe %g <= random %g", tpe, random);
}
END_TEST

/*
 * Cost-aware: told the data's shape, tpe shares trials out among families
 * by expected improvement per unit of work. A network here is about 50
 * times a logistic regression's work; at equal scores it gets few trials,
 * and once clearly better it gets most of them (a tenth of the draws go by
 * work alone, which here is nearly all logistic).
 */
static double share_of_mlp(double logistic_score, double mlp_score)
{
	static const struct search_shape shape = { 1000, 20, 10, 1 };
	struct worker_spec *spec = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"models\":[\"logistic\","
	    "\"mlp\"],\"optimizer\":\"adam\",\"regularization\":\"l2\",\"mlp\":{\"hidden_layers\":"
	    "1,\"units\":64}},\"search\":{\"algorithm\":\"tpe\",\"seed\":2}}",
	    150);
	struct search *rnd = check_search(spec), *s;
	struct search_trial hist[16];
	size_t n = 0, nl = 0, nm = 0, mlp = 0;

	for (size_t k = 0; n < 16; k++) {
		json_t *p = search_propose(rnd, k, NULL);
		bool is_mlp = strcmp(json_string_value(json_object_get(p, "model")), "mlp") == 0;
		size_t *count = is_mlp ? &nm : &nl;

		if (*count == 8) {
			json_decref(p);
			continue;
		}
		hist[n] = (struct search_trial){ .idx = n,
						 .state = SEARCH_TRIAL_COMPLETED,
						 .params = p,
						 .has_score = true,
						 .score = (is_mlp ? mlp_score : logistic_score) +
							  0.002 * (double)(*count) };
		(*count)++;
		n++;
	}
	check_shape = &shape;
	s = check_search(spec);
	check_shape = NULL;
	for (size_t k = 30; k < 230; k++) {
		struct search_history h = { hist, n };
		json_t *p = search_propose(s, k, &h);

		mlp += strcmp(json_string_value(json_object_get(p, "model")), "mlp") == 0;
		json_decref(p);
	}
	for (size_t i = 0; i < n; i++)
		json_decref((json_t *)hist[i].params);
	search_free(s);
	search_free(rnd);
	worker_spec_free(spec);
	return (double)mlp / 200;
}

START_TEST(test_families_by_work)
{
	double even = share_of_mlp(0.90, 0.90), better = share_of_mlp(0.90, 0.96);

	fprintf(stderr, "share of mlp proposals: %.3f at equal scores, %.3f when better\n", even,
		better);
	ck_assert_msg(even > 0 && even < 0.1, "equal scores: %g", even);
	ck_assert_msg(better > 0.75 && better < 0.95, "better: %g", better);
}
END_TEST

/* Any proposal: a bowl in log learning rate (lbfgs and newton sit at its rim). */
static double objective_any(const json_t *p, unsigned epoch)
{
	const json_t *lr = json_object_get(p, "learning_rate");
	double x = lr ? log10(json_number_value(lr)) + 2 : 1;

	(void)epoch;
	return -x * x;
}

/* tpe is a function of (seed, index, history): the same history, the same answer. */
START_TEST(test_tpe_pure)
{
	struct worker_spec *spec = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"tpe\"}}", 150);
	struct check_run run;
	struct search *a = check_search(spec), *b = check_search(spec);
	struct search_trial *t;
	struct search_history h;

	check_run(spec, 1, 30, objective_any, 1, 0, &run);
	t = calloc(run.n, sizeof(*t));
	for (size_t i = 0; i < run.n; i++)
		t[i] = (struct search_trial){ run.trials[i].idx,
					      run.trials[i].state,
					      run.trials[i].params,
					      run.trials[i].has_score,
					      run.trials[i].score,
					      NULL,
					      0 };
	h = (struct search_history){ t, run.n };
	for (size_t k = 20; k < 40; k++) {
		json_t *x = search_propose(a, k, &h), *y = search_propose(b, k, &h);
		struct search_history fewer = { t, k - SEARCH_WINDOW < run.n ? k - SEARCH_WINDOW
									     : run.n };
		json_t *z = search_propose(a, k, &fewer);

		/* Trials inside the window do not matter. */
		ck_assert(json_equal(x, y));
		ck_assert(json_equal(x, z));
		json_decref(x);
		json_decref(y);
		json_decref(z);
	}
	free(t);
	check_run_release(&run);
	search_free(a);
	search_free(b);
	worker_spec_free(spec);
}
END_TEST

/* ---- asha ---- */

/* How good a learning rate is: 0 at 1e-2, worse away from it. */
static double quality(const json_t *p)
{
	return -fabs(log10(json_number_value(json_object_get(p, "learning_rate"))) + 2);
}

/* Learning curves that keep their order at every epoch. */
static double curve(const json_t *p, unsigned epoch)
{
	return exp(quality(p)) * (1 - pow(0.8, epoch));
}

#define ASHA_SPEC                                                                             \
	"{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"models\":[\"logistic\"],"     \
	"\"optimizer\":\"sgd\",\"regularization\":\"none\",\"learning_rate\":{\"min\":1e-4,"  \
	"\"max\":1,\"log\":true},\"batch_size\":32,\"epochs\":81},\"search\":{\"algorithm\":" \
	"\"asha\",\"seed\":%d,\"max_trials\":60}}"

/* The rung scores of the finished trials below the window that reached rung r. */
static size_t peers_better(const struct check_run *run, size_t k, int r, double score,
			   size_t *better)
{
	size_t peers = 0;

	*better = 0;
	for (size_t i = 0; i + SEARCH_WINDOW < k; i++) {
		if (run->trials[i].nrungs <= (size_t)r)
			continue;
		peers++;
		*better += run->trials[i].rungs[r] > score;
	}
	return peers;
}

START_TEST(test_asha_prunes_the_weak)
{
	char text[512];
	struct worker_spec *spec;
	struct search *s;
	struct check_run run, wide;
	size_t pruned = 0, best = 0;

	snprintf(text, sizeof(text), ASHA_SPEC, _i);
	spec = check_spec(text, 150);
	s = check_search(spec);
	check_run(spec, 1, 60, curve, 3, 0, &run);
	ck_assert_uint_eq(run.n, 60);
	for (size_t k = 1; k < run.n; k++)
		if (quality(run.trials[k].params) > quality(run.trials[best].params))
			best = k;
	ck_assert_int_eq(run.trials[best].state, SEARCH_TRIAL_COMPLETED);
	for (size_t k = 0; k < run.n; k++) {
		const struct check_trial *t = &run.trials[k];
		int r = search_rung_of_epoch(s, t->stopped_at);
		size_t better, peers;

		if (t->state != SEARCH_TRIAL_PRUNED)
			continue;
		pruned++;
		/* At a rung, behind at least a third of enough earlier trials. */
		ck_assert_int_ge(r, 0);
		ck_assert_uint_eq(t->nrungs, (size_t)r + 1);
		peers = peers_better(&run, k, r, t->rungs[r], &better);
		ck_assert_uint_ge(peers, SEARCH_ASHA_ETA);
		ck_assert_uint_ge(better, (peers + 1) / SEARCH_ASHA_ETA);
		ck_assert(quality(t->params) < quality(run.trials[best].params));
	}
	ck_assert_uint_ge(pruned, run.n / 3);
	/* Six slots and another finish order: the same trials, the same decisions. */
	check_run(spec, 6, 60, curve, 41, 0, &wide);
	check_runs_equal(&run, &wide);
	check_run_release(&wide);
	check_run_release(&run);
	search_free(s);
	worker_spec_free(spec);
}
END_TEST

START_TEST(test_asha_rungs)
{
	struct worker_spec *asha = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"asha\"}}", 150);
	struct worker_spec *tpe = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"tpe\"}}", 150);
	struct search *a = check_search(asha), *t = check_search(tpe);
	struct search_trial peers[7];
	double rungs[7][1] = { { 0.9 }, { 0.8 }, { 0.7 }, { 0.6 }, { 0.99 }, { 0.99 }, { 0.99 } };
	struct search_history h = { peers, 7 };
	json_t *mlp = json_pack("{s:s, s:s}", "model", "mlp", "optimizer", "adam");
	json_t *svm = json_pack("{s:s, s:s}", "model", "svm", "optimizer", "sgd");
	json_t *lbfgs = json_pack("{s:s, s:s}", "model", "mlp", "optimizer", "lbfgs");
	json_t *dcd = json_pack("{s:s, s:s}", "model", "svm", "optimizer", "dcd");

	ck_assert_int_eq(search_rung_of_epoch(a, 3), 0);
	ck_assert_int_eq(search_rung_of_epoch(a, 9), 1);
	ck_assert_int_eq(search_rung_of_epoch(a, 27), 2);
	ck_assert_int_eq(search_rung_of_epoch(a, 4), -1);
	ck_assert_int_eq(search_rung_of_epoch(t, 3), -1);
	ck_assert_uint_eq(search_rung_epochs(3), 81);
	for (size_t i = 0; i < 7; i++)
		peers[i] = (struct search_trial){ .idx = i,
						  .state = SEARCH_TRIAL_PRUNED,
						  .params = i < 4 ? mlp : svm,
						  .rungs = rungs[i],
						  .nrungs = 1 };
	/* Five at the rung: keep floor(5/3) = 1, so only a score above 0.9 continues. */
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 4, mlp, 3, 0.95, &h));
	ck_assert(search_should_prune(a, SEARCH_WINDOW + 4, mlp, 3, 0.85, &h));
	ck_assert(
	    !search_should_prune(a, SEARCH_WINDOW + 4, mlp, 3, 0.9, &h)); /* a tie continues */
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 4, mlp, 4, 0.1, &h)); /* not a rung */
	ck_assert(!search_should_prune(t, SEARCH_WINDOW + 4, mlp, 3, 0.1, &h)); /* tpe does not */
	/* Peers inside the window do not count: two left, too few to prune. */
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 2, mlp, 3, 0.1, &h));
	/* Only the same family counts: three svms at 0.99 do not stop an mlp at 0.95 ... */
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 7, mlp, 3, 0.95, &h));
	/* ... but with every trial as a peer (no params) they do. */
	ck_assert(search_should_prune(a, SEARCH_WINDOW + 7, NULL, 3, 0.95, &h));
	/* They stop an svm; lbfgs, and dcd (the svm's own solver), are never stopped. */
	ck_assert(search_should_prune(a, SEARCH_WINDOW + 7, svm, 3, 0.95, &h));
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 7, lbfgs, 3, 0.1, &h));
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 7, dcd, 3, 0.1, &h));
	/* Nor are dcd trials the peers of first-order ones: with them the svms stop nothing. */
	peers[4].params = peers[5].params = peers[6].params = dcd;
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 7, svm, 3, 0.5, &h));
	json_decref(dcd);
	json_decref(mlp);
	json_decref(svm);
	json_decref(lbfgs);
	search_free(a);
	search_free(t);
	worker_spec_free(asha);
	worker_spec_free(tpe);
}
END_TEST

/* A gbdt trial's rungs are boosting rounds (10, 30, 90, ...); its peers are gbdt trials. */
START_TEST(test_asha_rounds)
{
	struct worker_spec *asha = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"asha\"}}", 150);
	struct search *a = check_search(asha);
	struct search_trial peers[8];
	double rungs[8][2] = { { 0.9, 0.95 },  { 0.8, 0.9 },   { 0.7, 0.8 },   { 0.6, 0.7 },
			       { 0.99, 0.99 }, { 0.99, 0.99 }, { 0.99, 0.99 }, { 0.99, 0.99 } };
	struct search_history h = { peers, 8 };
	json_t *gbdt = json_pack("{s:s, s:i}", "model", "gbdt", "trees", 500);
	json_t *mlp = json_pack("{s:s, s:s}", "model", "mlp", "optimizer", "adam");

	ck_assert_int_eq(search_rung_at(a, gbdt, 10), 0);
	ck_assert_int_eq(search_rung_at(a, gbdt, 30), 1);
	ck_assert_int_eq(search_rung_at(a, gbdt, 90), 2);
	ck_assert_int_eq(search_rung_at(a, gbdt, 3), -1);
	ck_assert_int_eq(search_rung_at(a, gbdt, 9), -1);
	ck_assert_int_eq(search_rung_at(a, mlp, 3), 0);
	ck_assert_int_eq(search_rung_at(a, mlp, 10), -1);
	ck_assert_uint_eq(search_rung_budget(gbdt, 3), 270);
	ck_assert_uint_eq(search_rung_budget(mlp, 3), 81);
	for (size_t i = 0; i < 8; i++)
		peers[i] = (struct search_trial){ .idx = i,
						  .state = SEARCH_TRIAL_PRUNED,
						  .params = i < 4 ? gbdt : mlp,
						  .rungs = rungs[i],
						  .nrungs = 2 };
	/* Four gbdt peers at round 10 (the mlps do not count): keep 1 of 5, above 0.9. */
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 8, gbdt, 10, 0.95, &h));
	ck_assert(search_should_prune(a, SEARCH_WINDOW + 8, gbdt, 10, 0.85, &h));
	/* Round 30 is rung 1: scored against the peers' second rung. */
	ck_assert(search_should_prune(a, SEARCH_WINDOW + 8, gbdt, 30, 0.92, &h));
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 8, gbdt, 30, 0.96, &h));
	/* Epoch 3 is an mlp's rung, not a gbdt's. */
	ck_assert(!search_should_prune(a, SEARCH_WINDOW + 8, gbdt, 3, 0.1, &h));
	json_decref(gbdt);
	json_decref(mlp);
	search_free(a);
	worker_spec_free(asha);
}
END_TEST

static Suite *tpe_suite(void)
{
	Suite *s = suite_create("search_models");
	TCase *tc = tcase_create("tpe");
	TCase *asha = tcase_create("asha");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_tpe_beats_random);
	tcase_add_test(tc, test_tpe_pure);
	tcase_add_test(tc, test_families_by_work);
	suite_add_tcase(s, tc);
	tcase_set_timeout(asha, 300);
	tcase_add_loop_test(asha, test_asha_prunes_the_weak, 0, 3);
	tcase_add_test(asha, test_asha_rungs);
	tcase_add_test(asha, test_asha_rounds);
	suite_add_tcase(s, asha);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tpe_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
