/*
 * test_search.c - the searcher's proposals: random and grid are
 * deterministic, inside the space and conditional (no key that does not
 * apply, every proposal accepted by the numeric core); grid enumerates
 * exactly the product of the lists; auto starts with the known
 * configurations; proposals are the same whatever the parallelism, the
 * finish order and a restart; the stop rules and the window.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/worker/search_check.h"

static const char *const spaces[] = {
	"{\"dataset\":\"d\",\"target\":\"species\"}",
	"{\"dataset\":\"d\",\"target\":\"y\"}",
	"{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"optimizer\":[\"lbfgs\",\"newton\","
	"\"gd\"],\"regularization\":[\"l1\",\"l2\",\"none\"]}}",
	"{\"dataset\":\"d\",\"target\":\"y\",\"space\":{\"models\":[\"mlp\"],\"loss\":\"huber\","
	"\"mlp\":{\"hidden_layers\":{\"min\":1,\"max\":3},\"units\":[8,16,32],"
	"\"dropout\":[0.1,0.3]}}}",
};

static char *propose_text(const struct search *s, size_t idx)
{
	json_t *p = search_propose(s, idx, NULL);
	char *t;

	ck_assert_ptr_nonnull(p);
	t = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(p);
	return t;
}

#define RANDOM_SPEC \
	"{\"dataset\":\"d\",\"target\":\"%s\",\"search\":{\"algorithm\":\"random\",\"seed\":%d}}"

START_TEST(test_random_deterministic_and_valid)
{
	char text[256];
	struct worker_spec *a, *b, *c;
	struct search *sa, *sb, *sc;
	size_t differ = 0;

	snprintf(text, sizeof(text), RANDOM_SPEC, _i ? "y" : "species", 7);
	a = check_spec(text, 150);
	b = check_spec(text, 150);
	snprintf(text, sizeof(text), RANDOM_SPEC, _i ? "y" : "species", 8);
	c = check_spec(text, 150);
	sa = check_search(a);
	sb = check_search(b);
	sc = check_search(c);
	for (size_t k = 0; k < 300; k++) {
		char *x = propose_text(sa, k), *y = propose_text(sb, k), *z = propose_text(sc, k);
		json_t *p = json_loads(x, 0, NULL);

		ck_assert_str_eq(x, y);
		differ += strcmp(x, z) != 0;
		check_params(p, a);
		json_decref(p);
		free(x);
		free(y);
		free(z);
	}
	ck_assert_uint_gt(differ, 290); /* another seed, another sequence */
	search_free(sa);
	search_free(sb);
	search_free(sc);
	worker_spec_free(a);
	worker_spec_free(b);
	worker_spec_free(c);
}
END_TEST

/* Index of s in names, or -1. */
static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* Every conditional branch shows up and obeys the contract. */
START_TEST(test_random_covers_branches)
{
	static const char *const models[] = { "linear", "logistic", "svm", "mlp", "gbdt" };
	static const char *const opts[] = { "gd",    "sgd",    "momentum", "adam",
					    "lbfgs", "newton", "dcd" };
	char text[512];
	struct worker_spec *spec;
	struct search *s;
	unsigned seen_models = 0, seen_opts = 0, seen_layers = 0;
	bool seen_dropout = false;

	/* The same space, searched at random. */
	snprintf(text, sizeof(text), "%.*s,\"search\":{\"algorithm\":\"random\"}}",
		 (int)strlen(spaces[_i]) - 1, spaces[_i]);
	spec = check_spec(text, 150);
	s = check_search(spec);
	for (size_t k = 0; k < 400; k++) {
		json_t *p = search_propose(s, k, NULL);
		int m = lookup(models, 5, json_string_value(json_object_get(p, "model")));
		int o = lookup(opts, 7, json_string_value(json_object_get(p, "optimizer")));

		check_params(p, spec);
		ck_assert(m >= 0 && (o >= 0) == (m != 4)); /* gbdt takes no optimizer */
		seen_models |= 1u << m;
		seen_opts |= o >= 0 ? 1u << o : 0;
		seen_dropout = seen_dropout || json_object_get(p, "dropout") != NULL;
		seen_layers |= 1u << json_array_size(json_object_get(p, "hidden_layers"));
		json_decref(p);
	}
	if (_i == 0) {
		ck_assert_uint_eq(seen_models, 0x1e); /* logistic, svm, mlp, gbdt */
		ck_assert_uint_eq(seen_opts, 0x7e);   /* the default optimizers, never gd */
		ck_assert(seen_dropout);
	}
	if (_i == 1)
		ck_assert_uint_eq(seen_models, 0x19); /* linear, mlp, gbdt */
	if (_i == 2) {
		ck_assert_uint_eq(seen_models, 0x1e); /* mlp only with gd */
		ck_assert_uint_eq(seen_opts, 0x31);   /* gd, lbfgs, newton */
	}
	if (_i == 3) {
		ck_assert(seen_dropout);
		ck_assert_uint_eq(seen_layers, (1u << 1) | (1u << 2) | (1u << 3));
	}
	search_free(s);
	worker_spec_free(spec);
}
END_TEST

START_TEST(test_grid_product)
{
	struct worker_spec *spec = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"grid\"},"
	    "\"space\":{\"models\":[\"logistic\"],\"optimizer\":[\"adam\",\"sgd\"],"
	    "\"learning_rate\":[0.01,0.1],\"batch_size\":[16,32,64],\"penalty\":[1e-4,1e-3],"
	    "\"epochs\":50}}",
	    150);
	struct search *s = check_search(spec);
	static const char *const opts[] = { "adam", "sgd" };
	static const double lrs[] = { 0.01, 0.1 }, pens[] = { 1e-4, 1e-3 };
	static const int batches[] = { 16, 32, 64 };
	int seen[2][2][3][2] = { { { { 0 } } } };

	ck_assert_uint_eq(search_grid_size(s), 24);
	ck_assert_str_eq(search_algorithm_name(s), "grid");
	for (size_t k = 0; k < 24; k++) {
		json_t *p = search_propose(s, k, NULL);
		int o = -1, l = -1, b = -1, q = -1;

		check_params(p, spec);
		for (int i = 0; i < 2; i++) {
			o = strcmp(json_string_value(json_object_get(p, "optimizer")), opts[i]) == 0
				? i
				: o;
			l = json_real_value(json_object_get(p, "learning_rate")) == lrs[i] ? i : l;
			q = json_real_value(json_object_get(p, "penalty")) == pens[i] ? i : q;
		}
		for (int i = 0; i < 3; i++)
			b = json_integer_value(json_object_get(p, "batch_size")) == batches[i] ? i
											       : b;
		ck_assert(o >= 0 && l >= 0 && b >= 0 && q >= 0);
		ck_assert_int_eq(seen[o][l][b][q]++, 0);
		json_decref(p);
	}
	ck_assert_ptr_null(search_propose(s, 24, NULL));
	search_free(s);
	worker_spec_free(spec);
}
END_TEST

/* A conditional grid: lbfgs has no learning rate, mlp cannot use lbfgs. */
START_TEST(test_grid_conditional)
{
	struct worker_spec *spec = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"grid\"},"
	    "\"space\":{\"models\":[\"logistic\",\"mlp\"],\"optimizer\":[\"lbfgs\",\"adam\"],"
	    "\"learning_rate\":[0.01,0.1],\"mlp\":{\"hidden_layers\":[1,2],\"units\":[8,16]}}}",
	    150);
	struct search *s = check_search(spec);
	/* logistic: lbfgs 1 + adam 2; mlp: adam 2 x (1 layer: 2 + 2 layers: 4). */
	uint64_t expect = 1 + 2 + 2 * (2 + 4);
	char **seen = calloc(expect, sizeof(*seen));

	ck_assert_uint_eq(search_grid_size(s), expect);
	for (size_t k = 0; k < expect; k++) {
		json_t *p = search_propose(s, k, NULL);

		check_params(p, spec);
		seen[k] = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
		for (size_t j = 0; j < k; j++)
			ck_assert_str_ne(seen[j], seen[k]);
		json_decref(p);
	}
	for (size_t k = 0; k < expect; k++)
		free(seen[k]);
	free(seen);
	search_free(s);
	worker_spec_free(spec);
}
END_TEST

/* One fixed setting (the seed example) runs once; a finite random space has no repeats. */
START_TEST(test_finite_spaces)
{
	struct worker_spec *one = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"y\",\"space\":{\"models\":[\"linear\"],"
	    "\"optimizer\":\"sgd\",\"learning_rate\":0.01,\"epochs\":1000,\"batch_size\":32,"
	    "\"regularization\":\"none\",\"loss\":\"squared\"}}",
	    1000);
	struct worker_spec *few = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"y\",\"search\":{\"algorithm\":\"random\"},"
	    "\"space\":{\"models\":[\"linear\"],\"optimizer\":\"adam\",\"learning_rate\":[0.1,"
	    "0.01,0.001],\"batch_size\":[16,64],\"regularization\":\"none\",\"loss\":\"squared\"}}",
	    1000);
	struct search *s1 = check_search(one), *s6 = check_search(few);
	json_t *p = search_propose(s1, 0, NULL);
	enum search_stop why;
	char *seen[6];

	ck_assert_str_eq(search_algorithm_name(s1), "grid");
	ck_assert_str_eq(json_string_value(json_object_get(p, "optimizer")), "sgd");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "epochs")), 1000);
	json_decref(p);
	ck_assert_ptr_null(search_propose(s1, 1, NULL));
	ck_assert(search_should_stop(s1, 1, NULL, &why));
	ck_assert_int_eq(why, SEARCH_STOP_EXHAUSTED);
	ck_assert_uint_eq(search_grid_size(s6), 6);
	for (size_t k = 0; k < 6; k++) {
		seen[k] = propose_text(s6, k);
		for (size_t j = 0; j < k; j++)
			ck_assert_str_ne(seen[j], seen[k]);
	}
	for (size_t k = 0; k < 6; k++)
		free(seen[k]);
	search_free(s1);
	search_free(s6);
	worker_spec_free(one);
	worker_spec_free(few);
}
END_TEST

/* auto: the known configurations first, cheapest first, projected into the space. */
START_TEST(test_auto_known_first)
{
	struct worker_spec *cls = check_spec("{\"dataset\":\"d\",\"target\":\"species\"}", 150);
	struct worker_spec *reg = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"y\",\"space\":{\"epochs\":[50,100]}}", 150);
	struct search *sc = check_search(cls), *sr = check_search(reg);
	static const char *const cls_models[] = { "logistic", "gbdt", "svm",
						  "logistic", "mlp",  "gbdt" };
	json_t *p;

	for (size_t k = 0; k < 6; k++) {
		p = search_propose(sc, k, NULL);
		ck_assert_str_eq(json_string_value(json_object_get(p, "model")), cls_models[k]);
		json_decref(p);
	}
	p = search_propose(sc, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(p, "optimizer")), "lbfgs");
	ck_assert_str_eq(json_string_value(json_object_get(p, "regularization")), "l2");
	json_decref(p);
	/* The svm's known setting is LinearSVC's default: squared hinge, C 1, by dcd. */
	p = search_propose(sc, 2, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(p, "optimizer")), "dcd");
	ck_assert_str_eq(json_string_value(json_object_get(p, "loss")), "squared_hinge");
	ck_assert_str_eq(json_string_value(json_object_get(p, "regularization")), "l2");
	ck_assert_double_eq(json_number_value(json_object_get(p, "C")), 1.0);
	json_decref(p);
	p = search_propose(sr, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(p, "model")), "linear");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "epochs")), 100); /* nearest 200 */
	json_decref(p);
	ck_assert(search_prunes(sc));
	/* A network as scikit-learn's MLP: one layer of 100 relu units, adam at 1e-3, L2 1e-4. */
	p = search_propose(sc, 4, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(p, "optimizer")), "adam");
	ck_assert_int_eq(json_array_size(json_object_get(p, "hidden_layers")), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(p, "hidden_layers"), 0)),
			 100);
	ck_assert_str_eq(json_string_value(json_object_get(p, "activation")), "relu");
	ck_assert_double_eq(json_number_value(json_object_get(p, "learning_rate")), 1e-3);
	ck_assert_double_eq(json_number_value(json_object_get(p, "penalty")), 1e-4);
	json_decref(p);
	search_free(sc);
	/*
	 * Cheapest first on the data: ten classes put the trees after the
	 * network, two before; on 800,000 rows the svm's dcd comes after the
	 * trees (its passes grow with the rows).
	 */
	for (int t = 0; t < 3; t++) {
		static const struct search_shape shapes[3] = { { 1149, 128, 64, 10 },
							       { 455, 60, 30, 1 },
							       { 800000, 28, 28, 1 } };
		static const char *const order[3][6] = {
			{ "logistic", "svm", "logistic", "mlp", "gbdt", "gbdt" },
			{ "logistic", "svm", "logistic", "gbdt", "mlp", "gbdt" },
			{ "logistic", "logistic", "gbdt", "svm", "gbdt", "mlp" },
		};

		ck_assert(search_new_sized(cls, &shapes[t], &sc, NULL) == FITD_OK);
		for (size_t k = 0; k < 6; k++) {
			p = search_propose(sc, k, NULL);
			ck_assert_str_eq(json_string_value(json_object_get(p, "model")),
					 order[t][k]);
			json_decref(p);
		}
		search_free(sc);
	}
	/* Told the rows a fold trains on, the linear defaults take C = 1: penalty 1 / n. */
	ck_assert(search_new_sized(cls, &(struct search_shape){ 400, 8, 4, 3 }, &sc, NULL) ==
		  FITD_OK);
	p = search_propose(sc, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(p, "model")), "logistic");
	ck_assert_double_eq_tol(json_number_value(json_object_get(p, "penalty")), 1.0 / 400, 1e-12);
	json_decref(p);
	search_free(sc);
	worker_spec_free(cls);
	/* With the penalty fixed both logistic configurations are one point: it runs once. */
	cls = check_spec("{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"models\":"
			 "[\"logistic\"],\"penalty\":0.01}}",
			 150);
	sc = check_search(cls);
	p = search_propose(sc, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(p, "optimizer")), "lbfgs");
	json_decref(p);
	for (size_t k = 1; k < 8; k++) {
		json_t *a = search_propose(sc, 0, NULL), *b = search_propose(sc, k, NULL);

		ck_assert(!json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
	search_free(sc);
	search_free(sr);
	worker_spec_free(cls);
	worker_spec_free(reg);
}
END_TEST

static double num(const json_t *p, const char *key)
{
	return json_number_value(json_object_get(p, key));
}

static bool named(const json_t *p, const char *key, const char *value)
{
	return strcmp(json_string_value(json_object_get(p, key)), value) == 0;
}

/*
 * Inside the default ranges, draws stay where good settings live: the
 * learning rate by optimizer, the penalty by family, the svm's C; a range
 * the request gives (other than the default) is drawn from whole.
 */
START_TEST(test_default_ranges_narrowed)
{
	struct worker_spec *rnd = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"random\"}}",
	    150);
	struct worker_spec *wide = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":"
	    "\"random\"},\"space\":{\"models\":[\"mlp\"],\"optimizer\":\"adam\","
	    "\"learning_rate\":{\"min\":0.0001,\"max\":0.9,\"log\":true}}}",
	    150);
	struct search *s = check_search(rnd), *w = check_search(wide);
	double adam_max = 0, wide_max = 0;
	size_t adam = 0, gbdt = 0, svm = 0;

	for (size_t k = 0; k < 400; k++) {
		json_t *p = search_propose(s, k, NULL), *q = search_propose(w, k, NULL);
		double lr = num(p, "learning_rate");

		if (named(p, "model", "gbdt")) {
			gbdt++;
			ck_assert(!json_object_get(p, "penalty") || num(p, "penalty") >= 1e-3);
		} else if (json_object_get(p, "penalty") != NULL) {
			ck_assert_msg(num(p, "penalty") <= 0.1, "penalty %g", num(p, "penalty"));
		}
		if (named(p, "model", "svm")) {
			svm++;
			ck_assert(num(p, "C") >= 1e-2 && num(p, "C") <= 10);
		}
		if (json_object_get(p, "optimizer") && named(p, "optimizer", "adam")) {
			adam++;
			ck_assert(lr >= 1e-4 && lr <= 0.03);
			adam_max = lr > adam_max ? lr : adam_max;
		}
		if (json_object_get(p, "optimizer") && named(p, "optimizer", "sgd"))
			ck_assert(lr >= 1e-3 && lr <= 0.3);
		wide_max = num(q, "learning_rate") > wide_max ? num(q, "learning_rate") : wide_max;
		json_decref(p);
		json_decref(q);
	}
	ck_assert(adam > 20 && gbdt > 20 && svm > 20);
	ck_assert(adam_max > 0.01);
	ck_assert_msg(wide_max > 0.1, "a given range is drawn whole: %g", wide_max);
	search_free(s);
	search_free(w);
	worker_spec_free(rnd);
	worker_spec_free(wide);
}
END_TEST

/*
 * auto starts gbdt from a cheap point (LightGBM's defaults: up to 300 rounds of
 * 31 leaves at 0.1) and tries a larger one later; the default space
 * proposes gbdt points with every tree setting inside its range.
 */
START_TEST(test_gbdt_points)
{
	struct worker_spec *reg = check_spec("{\"dataset\":\"d\",\"target\":\"y\"}", 150);
	struct worker_spec *rnd = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"random\"}}",
	    150);
	struct search *sr = check_search(reg), *sx = check_search(rnd);
	json_t *cheap = search_propose(sr, 1, NULL), *large = search_propose(sr, 4, NULL);
	size_t gbdt = 0;

	ck_assert_str_eq(json_string_value(json_object_get(cheap, "model")), "gbdt");
	ck_assert_ptr_null(json_object_get(cheap, "optimizer"));
	ck_assert_ptr_null(json_object_get(cheap, "epochs"));
	ck_assert_int_eq(json_integer_value(json_object_get(cheap, "trees")), 300);
	ck_assert_int_eq(json_integer_value(json_object_get(cheap, "max_leaves")), 31);
	ck_assert_int_eq(json_integer_value(json_object_get(cheap, "min_leaf_rows")), 20);
	ck_assert(json_real_value(json_object_get(cheap, "learning_rate")) == 0.1);
	ck_assert(json_real_value(json_object_get(cheap, "penalty")) == 1.0);
	ck_assert_str_eq(json_string_value(json_object_get(cheap, "loss")), "squared");
	ck_assert_str_eq(json_string_value(json_object_get(large, "model")), "gbdt");
	ck_assert_int_eq(json_integer_value(json_object_get(large, "trees")), 1000);
	ck_assert_int_eq(json_integer_value(json_object_get(large, "max_leaves")), 63);
	ck_assert(json_real_value(json_object_get(large, "subsample")) == 0.8);
	for (size_t k = 0; k < 200; k++) {
		json_t *p = search_propose(sx, k, NULL);

		check_params(p, rnd); /* every key of the contract, inside the space */
		if (strcmp(json_string_value(json_object_get(p, "model")), "gbdt") == 0) {
			double lr = json_real_value(json_object_get(p, "learning_rate"));
			json_int_t trees = json_integer_value(json_object_get(p, "trees"));

			ck_assert(lr >= 0.01 && lr <= 0.3);
			ck_assert(trees >= 16 && trees <= 2000);
			gbdt++;
		}
		json_decref(p);
	}
	ck_assert_uint_gt(gbdt, 20);
	json_decref(cheap);
	json_decref(large);
	search_free(sr);
	search_free(sx);
	worker_spec_free(reg);
	worker_spec_free(rnd);
}
END_TEST

/* A grid over gbdt lists: every combination once, the rest at LightGBM's defaults. */
START_TEST(test_gbdt_grid)
{
	struct worker_spec *spec = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"algorithm\":\"grid\"},"
	    "\"space\":{\"models\":\"gbdt\",\"regularization\":[\"l2\",\"none\"],"
	    "\"gbdt\":{\"learning_rate\":[0.05,0.1],\"trees\":[50,200],\"max_leaves\":[7,15,31]}}}",
	    150);
	struct search *s = check_search(spec);
	char *seen[24];

	ck_assert_uint_eq(search_grid_size(s), 24);
	for (size_t k = 0; k < 24; k++) {
		json_t *p = search_propose(s, k, NULL);

		check_params(p, spec);
		ck_assert_int_eq(json_integer_value(json_object_get(p, "min_leaf_rows")), 20);
		ck_assert_int_eq(json_integer_value(json_object_get(p, "max_bins")), 255);
		ck_assert(json_real_value(json_object_get(p, "subsample")) == 1.0);
		seen[k] = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
		for (size_t j = 0; j < k; j++)
			ck_assert_str_ne(seen[j], seen[k]);
		json_decref(p);
	}
	ck_assert_ptr_null(search_propose(s, 24, NULL));
	for (size_t k = 0; k < 24; k++)
		free(seen[k]);
	search_free(s);
	worker_spec_free(spec);
}
END_TEST

/*
 * learning_rate is gbdt's shrinkage when gbdt.learning_rate is not given,
 * also when no other family is left to use it; gbdt.learning_rate, when
 * given, is gbdt's alone.
 */
START_TEST(test_gbdt_shrinkage)
{
	struct worker_spec *only = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"y\",\"space\":{\"models\":[\"gbdt\"],"
	    "\"learning_rate\":0.02}}",
	    150);
	struct worker_spec *both = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"y\",\"search\":{\"algorithm\":\"random\"},"
	    "\"space\":{\"models\":[\"gbdt\",\"linear\"],\"optimizer\":\"sgd\","
	    "\"learning_rate\":0.5,\"gbdt\":{\"learning_rate\":0.03}}}",
	    150);
	struct search *so = check_search(only), *sb = check_search(both);
	json_t *norm = worker_spec_to_json(only);
	json_t *space = json_object_get(norm, "space");

	ck_assert_ptr_null(json_object_get(space, "learning_rate"));
	ck_assert(json_real_value(
		      json_object_get(json_object_get(space, "gbdt"), "learning_rate")) == 0.02);
	for (size_t k = 0; k < 40; k++) {
		json_t *p = search_propose(k < 20 ? so : sb, k, NULL);
		double lr = json_real_value(json_object_get(p, "learning_rate"));
		bool trees = strcmp(json_string_value(json_object_get(p, "model")), "gbdt") == 0;

		ck_assert(lr == (k < 20 ? 0.02 : trees ? 0.03 : 0.5));
		json_decref(p);
	}
	json_decref(norm);
	search_free(so);
	search_free(sb);
	worker_spec_free(only);
	worker_spec_free(both);
}
END_TEST

/* ---- reproducibility ---- */

static double bowl(const json_t *p, unsigned epoch)
{
	const json_t *lr = json_object_get(p, "learning_rate");
	double x = lr ? log10(json_number_value(lr)) + 2 : 0.5;
	double q = 1 - x * x / 10;
	const char *m = json_string_value(json_object_get(p, "model"));

	if (strcmp(m, "mlp") == 0)
		q += 0.1;
	return q * (1 - pow(0.7, epoch));
}

static void same_everywhere(const char *text, size_t limit)
{
	struct worker_spec *spec = check_spec(text, 150);
	struct check_run base, other;

	check_run(spec, 1, limit, bowl, 1, 0, &base);
	ck_assert_uint_gt(base.n, 0);
	for (unsigned par = 2; par <= SEARCH_WINDOW + 3; par += 3) {
		for (unsigned order = 1; order <= 3; order++) {
			check_run(spec, par, limit, bowl, order * 17 + par, 0, &other);
			check_runs_equal(&base, &other);
			check_run_release(&other);
		}
	}
	/* A restart in the middle: the searcher is rebuilt from the stored spec. */
	check_run(spec, 4, limit, bowl, 99, limit / 2, &other);
	check_runs_equal(&base, &other);
	check_run_release(&other);
	check_run_release(&base);
	worker_spec_free(spec);
}

START_TEST(test_reproducible_auto)
{
	same_everywhere("{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"seed\":3}}", 40);
}
END_TEST

/* Told the data's shape, auto orders its portfolio and shares out families by work. */
START_TEST(test_reproducible_auto_sized)
{
	static const struct search_shape shape = { 800, 40, 20, 3 };

	check_shape = &shape;
	same_everywhere("{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"seed\":4}}", 40);
}
END_TEST

START_TEST(test_reproducible_tpe_with_stop_rules)
{
	same_everywhere("{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"epochs\":30},"
			"\"search\":{\"algorithm\":\"tpe\",\"seed\":5,\"patience\":12,"
			"\"goal\":0.995,\"max_trials\":60}}",
			60);
}
END_TEST

START_TEST(test_reproducible_random_asha)
{
	same_everywhere("{\"dataset\":\"d\",\"target\":\"species\",\"space\":{\"epochs\":81},"
			"\"search\":{\"algorithm\":\"asha\",\"seed\":11}}",
			45);
}
END_TEST

/* ---- stop rules and the window ---- */

static struct search_trial done(size_t idx, double score)
{
	return (struct search_trial){ .idx = idx,
				      .state = isnan(score) ? SEARCH_TRIAL_FAILED
							    : SEARCH_TRIAL_COMPLETED,
				      .has_score = !isnan(score),
				      .score = score };
}

START_TEST(test_stop_rules)
{
	struct worker_spec *acc = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"species\",\"search\":{\"max_trials\":30,"
	    "\"patience\":3,\"goal\":0.97}}",
	    150);
	struct worker_spec *rmse = check_spec(
	    "{\"dataset\":\"d\",\"target\":\"y\",\"search\":{\"goal\":0.46}}", 150);
	struct search *sa = check_search(acc), *sr = check_search(rmse);
	struct search_trial t[5] = { done(0, 0.5), done(1, 0.4), done(2, NAN), done(3, 0.45),
				     done(4, 0.98) };
	struct search_history h = { t, 4 };
	enum search_stop why = SEARCH_STOP_GOAL;

	/* Trials 1..3 do not beat trial 0; patience 3 counts them once they are out of the window. */
	ck_assert(!search_should_stop(sa, SEARCH_WINDOW + 3, &h, &why));
	ck_assert_int_eq(why, SEARCH_STOP_NONE);
	ck_assert(search_should_stop(sa, SEARCH_WINDOW + 4, &h, &why));
	ck_assert_int_eq(why, SEARCH_STOP_PATIENCE);
	/* Not decided while a trial below the window is missing. */
	h.n = 3;
	ck_assert(!search_should_stop(sa, SEARCH_WINDOW + 4, &h, &why));
	/* The goal, higher is better. */
	h.n = 5;
	ck_assert(search_should_stop(sa, SEARCH_WINDOW + 5, &h, &why));
	ck_assert_int_eq(why, SEARCH_STOP_GOAL);
	ck_assert(search_should_stop(sa, 30, &h, &why));
	ck_assert_int_eq(why, SEARCH_STOP_MAX_TRIALS);
	/* rmse: lower is better; 0.45 reaches a goal of 0.46, 0.5 and 0.98 do not. */
	h.n = 2;
	t[1].score = 0.98;
	ck_assert(!search_should_stop(sr, SEARCH_WINDOW + 2, &h, &why));
	t[1].score = 0.45;
	ck_assert(search_should_stop(sr, SEARCH_WINDOW + 2, &h, &why));
	ck_assert_int_eq(why, SEARCH_STOP_GOAL);
	ck_assert(
	    !search_should_stop(sr, SEARCH_WINDOW + 1, &h, &why)); /* trial 1 inside the window */
	ck_assert_str_eq(search_stop_name(SEARCH_STOP_PATIENCE), "patience");
	search_free(sa);
	search_free(sr);
	worker_spec_free(acc);
	worker_spec_free(rmse);
}
END_TEST

START_TEST(test_window)
{
	struct worker_spec *spec = check_spec("{\"dataset\":\"d\",\"target\":\"species\"}", 150);
	struct search *s = check_search(spec);
	struct search_trial t[3] = { done(0, 0.5), done(1, 0.6), done(2, 0.7) };
	struct search_history h = { t, 3 };

	ck_assert(search_may_propose(s, SEARCH_WINDOW, NULL));
	ck_assert(search_may_propose(s, SEARCH_WINDOW + 3, &h));
	ck_assert(!search_may_propose(s, SEARCH_WINDOW + 4, &h));
	t[1].state = SEARCH_TRIAL_PENDING;
	ck_assert(!search_may_propose(s, SEARCH_WINDOW + 2, &h));
	ck_assert(search_may_propose(s, SEARCH_WINDOW + 1, &h));
	search_free(s);
	worker_spec_free(spec);
}
END_TEST

static Suite *search_suite(void)
{
	Suite *s = suite_create("search");
	TCase *tc = tcase_create("proposals");
	TCase *rep = tcase_create("reproducible");

	tcase_add_loop_test(tc, test_random_deterministic_and_valid, 0, 2);
	tcase_add_loop_test(tc, test_random_covers_branches, 0,
			    (int)(sizeof(spaces) / sizeof(spaces[0])));
	tcase_add_test(tc, test_grid_product);
	tcase_add_test(tc, test_grid_conditional);
	tcase_add_test(tc, test_finite_spaces);
	tcase_add_test(tc, test_auto_known_first);
	tcase_add_test(tc, test_gbdt_points);
	tcase_add_test(tc, test_default_ranges_narrowed);
	tcase_add_test(tc, test_gbdt_grid);
	tcase_add_test(tc, test_gbdt_shrinkage);
	tcase_add_test(tc, test_stop_rules);
	tcase_add_test(tc, test_window);
	suite_add_tcase(s, tc);
	tcase_set_timeout(rep, 300);
	tcase_add_test(rep, test_reproducible_auto);
	tcase_add_test(rep, test_reproducible_auto_sized);
	tcase_add_test(rep, test_reproducible_tpe_with_stop_rules);
	tcase_add_test(rep, test_reproducible_random_asha);
	suite_add_tcase(s, rep);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(search_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
