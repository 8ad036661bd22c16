/*
 * test_prep.c - the preprocessing a model carries, seen through the public
 * model description and predictions: median imputation with a missing
 * indicator, standardization, one-hot levels with rare ones folded into
 * "other", statistics from the training rows only, unseen and missing levels
 * at prediction, and prediction frames with absent or mistyped columns.
 * The one-pass fit of numeric columns (sampled pivots, columns in groups)
 * is checked bit for bit against the plain definition here: gather, sort,
 * sum in row order; so are the design it writes and the model, at 1 and 2
 * threads.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/internal.h"
#include "worker/fit/model.h"

#define N 80

static const char *const levels[] = { "a", "b", "c", "rare" };

/* x numeric with gaps, color categorical, y = 2x + level effect; rows >= 60 are odd. */
static struct fit_frame *make_frame(double valid_x_shift, const char *unseen)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;

	ck_assert_int_eq(fit_frame_builder_new(N, 3, &b), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "x", FIT_COL_NUMERIC), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "color", FIT_COL_CATEGORICAL), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 2, "y", FIT_COL_NUMERIC), 0);
	for (size_t i = 0; i < N; i++) {
		double x = (double)(i % 17) + (i >= 60 ? valid_x_shift : 0.0);
		const char *lv = i == 7 ? levels[3] : levels[i % 3];
		double y = 2.0 * x + (double)(i % 3);

		if (i % 9 == 4)
			x = NAN;
		if (i == 70 && unseen != NULL)
			lv = unseen;
		ck_assert_int_eq(fit_frame_builder_set_num(b, 0, i, x), 0);
		if (i != 11)
			ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, i, lv, strlen(lv)), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 2, i, y), 0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	return f;
}

static struct fit_model *train(const struct fit_frame *f, size_t *feat)
{
	size_t *rows = th_rows(N);
	struct fit_problem prob = { f, 2, feat, 2, rows, 60, rows + 60, 20, FIT_TASK_REGRESSION };
	struct fit_params p;
	struct fit_model *m;

	fit_params_init(&p);
	p.model = FIT_MODEL_LINEAR;
	p.optimizer = FIT_OPT_NEWTON;
	p.reg = FIT_REG_NONE;
	p.min_level_count = 2;
	m = th_train(&prob, &p);
	free(rows);
	return m;
}

START_TEST(test_numeric_column)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, NULL);
	struct fit_model *m = train(f, feat);
	const struct fit_prep_column *c = &fit_model_desc(m)->columns[0];
	double v[60], sum = 0.0, ss = 0.0, med;
	size_t n = 0;

	for (size_t i = 0; i < 60; i++)
		if (!isnan(f->cols[0].num[i]))
			v[n++] = f->cols[0].num[i];
	/* median of the present training values, by sorting here */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	for (size_t i = 0; i < 60; i++)
		sum += isnan(f->cols[0].num[i]) ? med : f->cols[0].num[i];
	for (size_t i = 0; i < 60; i++) {
		double x = isnan(f->cols[0].num[i]) ? med : f->cols[0].num[i];

		ss += (x - sum / 60) * (x - sum / 60);
	}
	ck_assert_str_eq(c->name, "x");
	ck_assert(c->fill == med);
	ck_assert(fabs(c->center - sum / 60) < 1e-12);
	ck_assert(fabs(c->scale - sqrt(ss / 60)) < 1e-12);
	ck_assert_int_eq(c->indicator, 1);
	ck_assert_uint_eq(fit_model_desc(m)->layers[0].nin,
			  2 + 3 + 1); /* x, missing, a b c, other */
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_categorical_column)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, NULL);
	struct fit_model *m = train(f, feat);
	const struct fit_prep_column *c = &fit_model_desc(m)->columns[1];

	ck_assert_uint_eq(c->nlevels, 3);
	ck_assert_str_eq(c->levels[0], "a");
	ck_assert_str_eq(c->levels[2], "c");
	ck_assert_int_eq(c->other, 1); /* "rare" was seen once: folded */
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_training_rows_only)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f1 = make_frame(0.0, NULL), *f2 = make_frame(1000.0, "zzz");
	struct fit_model *m1 = train(f1, feat), *m2 = train(f2, feat);
	const struct fit_model_desc *d1 = fit_model_desc(m1), *d2 = fit_model_desc(m2);

	/* Wild validation rows change nothing fitted. */
	ck_assert(d1->columns[0].fill == d2->columns[0].fill);
	ck_assert(d1->columns[0].center == d2->columns[0].center);
	ck_assert(d1->columns[0].scale == d2->columns[0].scale);
	ck_assert(d1->y_center == d2->y_center && d1->y_scale == d2->y_scale);
	ck_assert(memcmp(d1->layers[0].weights, d2->layers[0].weights, 6 * sizeof(double)) == 0);
	fit_model_free(m1);
	fit_model_free(m2);
	fit_frame_free(f1);
	fit_frame_free(f2);
}
END_TEST

START_TEST(test_prediction_levels_and_missing)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, "zzz"), *g;
	struct fit_model *m = train(f, feat);
	const struct fit_model_desc *d = fit_model_desc(m);
	const double *w = d->layers[0].weights;
	double pred[N], base;
	struct fit_frame_builder *b;
	static const char *const vals[] = { "a", "zzz", "rare", NULL };

	/* row 70 holds the unseen level "zzz": it takes the "other" weight */
	ck_assert_int_eq(fit_model_predict(m, f, NULL, N, 1, pred, NULL, NULL), 0);
	ck_assert_int_eq(fit_frame_builder_new(4, 2, &b), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 0, "color", FIT_COL_CATEGORICAL), 0);
	ck_assert_int_eq(fit_frame_builder_column(b, 1, "x", FIT_COL_NUMERIC), 0);
	for (size_t i = 0; i < 4; i++) {
		if (vals[i])
			ck_assert_int_eq(
			    fit_frame_builder_set_cat(b, 0, i, vals[i], strlen(vals[i])), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 1, i, i == 3 ? NAN : 5.0), 0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &g), 0);
	/* columns matched by name, in another order */
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 4, 1, pred, NULL, NULL), 0);
	base = pred[0] - d->y_scale * w[2];			      /* x = 5 with no level on */
	ck_assert(fabs(pred[1] - (base + d->y_scale * w[5])) < 1e-5); /* unseen -> other */
	ck_assert(fabs(pred[2] - (base + d->y_scale * w[5])) < 1e-5); /* rare -> other */
	/* missing x: the median, plus the indicator's weight; missing level: none on */
	ck_assert(fabs(pred[3] - (base + d->y_scale * ((d->columns[0].fill - 5.0) /
							   d->columns[0].scale * w[0] +
						       w[1]))) < 1e-5);
	fit_frame_free(g);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

START_TEST(test_prediction_frame_errors)
{
	size_t feat[2] = { 0, 1 };
	struct fit_frame *f = make_frame(0.0, NULL), *g;
	struct fit_model *m = train(f, feat);
	static const char *names[] = { "x", "colour" };
	static const char *names2[] = { "x", "color" };
	double data[4] = { 1, 2, 3, 4 }, out[2];
	struct fitd_error err = { 0 };
	size_t bad = 5;

	g = th_frame_num(2, 2, names, data); /* no "color" */
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 2, 1, out, NULL, &err), FITD_EUNPROCESSABLE);
	ck_assert_str_eq(err.code, "missing_column");
	fit_frame_free(g);
	g = th_frame_num(2, 2, names2, data); /* "color" numeric */
	ck_assert_int_eq(fit_model_predict(m, g, NULL, 2, 1, out, NULL, &err), FITD_EUNPROCESSABLE);
	ck_assert_int_eq(fit_model_predict(m, f, &bad, 1, 1, out, NULL, &err), 0);
	bad = N;
	ck_assert_int_eq(fit_model_predict(m, f, &bad, 1, 1, out, NULL, &err), FITD_EINVAL);
	fit_frame_free(g);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Large columns take the sampled-pivot median; many ties take its fallback. */
START_TEST(test_large_median)
{
	static const char *names[] = { "x", "y" };
	size_t n = 60001, *rows = th_rows(n), feat = 0;
	double *data = malloc(2 * n * sizeof(double)), *sorted = malloc(n * sizeof(double));
	uint64_t st = 77;

	for (int ties = 0; ties < 2; ties++) {
		struct fit_problem prob = {
			NULL, 1, &feat, 1, rows, n, NULL, 0, FIT_TASK_REGRESSION
		};
		struct fit_params p;
		struct fit_frame *f;
		struct fit_model *m;
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			data[i] = ties ? (double)(st >> 62)
				       : (double)(st >> 11) * 0x1.0p-53 * 100.0;
			if (i % 10 == 3)
				data[i] = NAN;
			else
				sorted[k++] = data[i];
			data[n + i] = (double)i;
		}
		qsort(sorted, k, sizeof(double), cmp);
		f = th_frame_num(n, 2, names, data);
		prob.frame = f;
		fit_params_init(&p);
		p.model = FIT_MODEL_LINEAR;
		p.optimizer = FIT_OPT_NEWTON;
		p.epochs = 1;
		m = th_train(&prob, &p);
		ck_assert_msg(fit_model_desc(m)->columns[0].fill ==
				  (k % 2 ? sorted[k / 2] : (sorted[k / 2 - 1] + sorted[k / 2]) / 2),
			      "median %.17g", fit_model_desc(m)->columns[0].fill);
		fit_model_free(m);
		fit_frame_free(f);
	}
	free(data);
	free(sorted);
	free(rows);
}
END_TEST

/*
 * A table for the one-pass fit: nine columns whose groups of two mix numeric
 * and categorical ones, and numeric columns that take each path of the
 * median: sampled pivots (0, 4), pivots missed by ties (2), a sample mostly
 * missing (3), all missing (7), one present value (8), a constant (6),
 * and pivots misled (10): the rows prep.c samples (every (n / 1024)-th of
 * the row list) hold values far below all others. Column 9 is a binary
 * target.
 */
#define MIXED_COLS 11
static size_t *mixed_rows(size_t n, size_t *nrows);

static struct fit_frame *mixed_frame(size_t n)
{
	static const char *const names[MIXED_COLS] = { "u",    "c1", "ties", "sparse",
						       "skew", "c2", "k",    "absent",
						       "one",  "y",  "trap" };
	static const char *const lv[] = { "red", "green", "blue", "teal", "gray" };
	struct fit_frame_builder *b;
	struct fit_frame *f;
	uint64_t st = 1234;
	size_t nrows, *rows = mixed_rows(n, &nrows), stride = nrows / 1024 ? nrows / 1024 : 1;

	ck_assert_int_eq(fit_frame_builder_new(n, MIXED_COLS, &b), 0);
	for (size_t j = 0; j < MIXED_COLS; j++)
		ck_assert_int_eq(fit_frame_builder_column(b, j, names[j],
							  j == 1 || j == 5 ? FIT_COL_CATEGORICAL
									   : FIT_COL_NUMERIC),
				 0);
	for (size_t i = 0; i < n; i++) {
		double u[MIXED_COLS];

		for (size_t j = 0; j < MIXED_COLS; j++) {
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			u[j] = (double)(st >> 11) * 0x1.0p-53;
		}
		ck_assert_int_eq(
		    fit_frame_builder_set_num(b, 0, i, u[0] < 0.1 ? NAN : u[0] * 100 - 30), 0);
		if (u[1] > 0.05)
			ck_assert_int_eq(fit_frame_builder_set_cat(b, 1, i, lv[(size_t)(u[1] * 5)],
								   strlen(lv[(size_t)(u[1] * 5)])),
					 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 2, i, floor(u[2] * 4)), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 3, i, u[3] < 0.8 ? NAN : u[3] * 7),
				 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 4, i, pow(u[4], 8) * 1e6 + 3.0), 0);
		ck_assert_int_eq(fit_frame_builder_set_cat(b, 5, i, lv[i % 3], strlen(lv[i % 3])),
				 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 6, i, i % 11 == 5 ? NAN : 2.5), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 7, i, NAN), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 8, i, i == n / 3 ? 9.0 : NAN), 0);
		ck_assert_int_eq(
		    fit_frame_builder_set_num(b, 9, i, u[0] + 0.3 * u[2] + (i % 3 == 1) > 1.0), 0);
		ck_assert_int_eq(fit_frame_builder_set_num(b, 10, i, u[9]), 0);
	}
	for (size_t q = 0; q < nrows; q += stride)
		ck_assert_int_eq(fit_frame_builder_set_num(b, 10, rows[q], -1e6 - (double)q), 0);
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	free(rows);
	return f;
}

/* A row list that is not in order: every 7th row skipped, the rest strided. */
static size_t *mixed_rows(size_t n, size_t *nrows)
{
	size_t *rows = malloc(n * sizeof(size_t)), k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t r = i * 7919 % n; /* n is prime to 7919 below */

		if (r % 7 != 3)
			rows[k++] = r;
	}
	*nrows = k;
	return rows;
}

/* The statistics of a numeric column by their plain definition (prep.c's contract). */
static void ref_numeric(const double *num, const size_t *rows, size_t n,
			struct fit_prep_column *out)
{
	double *a = malloc((n ? n : 1) * sizeof(double)), s1 = 0.0, s2 = 0.0, shift = 0.0, c, ss;
	size_t p = 0, m;

	for (size_t i = 0; i < n; i++) {
		double v = num[rows[i]];

		if (isnan(v))
			continue;
		if (p == 0)
			shift = v;
		a[p++] = v;
		s1 += v - shift;
		s2 += (v - shift) * (v - shift);
	}
	qsort(a, p, sizeof(double), cmp);
	out->fill = 0.0;
	if (p % 2)
		out->fill = a[p / 2];
	else if (p > 0)
		out->fill = (a[p / 2 - 1] + a[p / 2]) / 2;
	m = n - p;
	c = ((double)p * shift + s1 + (double)m * out->fill) / (double)n;
	ss = s2 - 2.0 * (c - shift) * s1 + (double)p * (c - shift) * (c - shift) +
	     (double)m * (out->fill - c) * (out->fill - c);
	out->center = c;
	out->scale = ss > 0.0 ? sqrt(ss / (double)n) : 0.0;
	if (!(out->scale > 0.0) || !isfinite(out->scale))
		out->scale = 1.0;
	out->indicator = m > 0;
	free(a);
}

/* The features of the mixed table: every column but the target, 9. */
static size_t mixed_features(size_t *feat)
{
	size_t k = 0;

	for (size_t j = 0; j < MIXED_COLS; j++)
		if (j != 9)
			feat[k++] = j;
	return k;
}

/* Bit for bit: fill, center, scale and indicator of every numeric column. */
static void check_stats(const struct fit_frame *f, const size_t *rows, size_t n,
			const struct fit__prep *prep)
{
	size_t feat[MIXED_COLS], nf = mixed_features(feat);

	for (size_t k = 0; k < nf; k++) {
		size_t j = feat[k];
		const struct fit_prep_column *got = &prep->cols[k];
		struct fit_prep_column want = { 0 };

		if (f->cols[j].type != FIT_COL_NUMERIC)
			continue;
		ref_numeric(f->cols[j].num, rows, n, &want);
		ck_assert_msg(memcmp(&got->fill, &want.fill, sizeof(double)) == 0 &&
				  memcmp(&got->center, &want.center, sizeof(double)) == 0 &&
				  memcmp(&got->scale, &want.scale, sizeof(double)) == 0,
			      "column %zu, %zu rows: fill %a center %a scale %a, want %a %a %a", j,
			      n, got->fill, got->center, got->scale, want.fill, want.center,
			      want.scale);
		ck_assert_int_eq(got->indicator, want.indicator);
	}
}

/* The design's dense block, by its definition, against what fit__prep_rows wrote. */
static void check_design(const struct fit_frame *f, const size_t *rows, size_t n,
			 const struct fit__prep *prep, const float *x)
{
	size_t feat[MIXED_COLS], nf = mixed_features(feat);

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nf; k++) {
			size_t j = feat[k];
			const struct fit_prep_column *c = &prep->cols[k];
			const float *xi = x + i * prep->xld + prep->pos[k];
			double v;
			float want;

			if (c->type != FIT_COL_NUMERIC)
				continue;
			v = f->cols[j].num[rows[i]];
			want = (float)(((isnan(v) ? c->fill : v) - c->center) / c->scale);
			ck_assert_msg(memcmp(xi, &want, sizeof(float)) == 0,
				      "row %zu column %zu: %a, want %a", i, j, (double)xi[0],
				      (double)want);
			ck_assert(!c->indicator || xi[1] == (isnan(v) ? 1.0f : 0.0f));
		}
}

/* One fit of the preprocessing and its design at the given threads; x and code malloc'd. */
static void prep_design(const struct fit_frame *f, const size_t *rows, size_t n, int threads,
			struct fit__prep *prep, float **x, int32_t **code)
{
	size_t feat[MIXED_COLS], nf = mixed_features(feat);
	struct fit_params p;
	struct fit__bind bind;

	fit_params_init(&p);
	p.threads = threads;
	p.missing_indicator = 1;
	ck_assert_int_eq(fit__prep_fit(f, feat, nf, rows, n, &p, prep, NULL), 0);
	ck_assert_int_eq(fit__bind_init(prep, f, &bind, NULL), 0);
	*x = calloc(n * prep->xld, sizeof(float));
	*code = calloc(n * prep->ncat + 1, sizeof(int32_t));
	fit__prep_rows(prep, &bind, rows, n, *x, *code, threads);
	fit__bind_release(&bind);
}

/* Small tables take the plain median, large ones (> 16 x 1024 rows) the sampled pivots. */
START_TEST(test_one_pass_fit)
{
	static const size_t sizes[] = { 101, 40009 };
	size_t n = sizes[_i], nrows, *rows;
	struct fit_frame *f = mixed_frame(n);
	struct fit__prep prep[2];
	float *x[2];
	int32_t *code[2];

	rows = mixed_rows(n, &nrows);
	for (int t = 0; t < 2; t++) {
		prep_design(f, rows, nrows, t + 1, &prep[t], &x[t], &code[t]);
		check_stats(f, rows, nrows, &prep[t]);
		check_design(f, rows, nrows, &prep[t], x[t]);
	}
	ck_assert_uint_eq(prep[0].xld, prep[1].xld);
	ck_assert(memcmp(x[0], x[1], nrows * prep[0].xld * sizeof(float)) == 0);
	ck_assert(memcmp(code[0], code[1], nrows * prep[0].ncat * sizeof(int32_t)) == 0);
	ck_assert_uint_eq(prep[0].cols[1].nlevels, 5);
	ck_assert_uint_eq(prep[0].cols[5].nlevels, 3);
	for (int t = 0; t < 2; t++) {
		fit__prep_release(&prep[t]);
		free(x[t]);
		free(code[t]);
	}
	free(rows);
	fit_frame_free(f);
}
END_TEST

/* A logistic model of the mixed table on rows (the last 5000 validate). */
static struct fit_model *mixed_model(const struct fit_frame *f, const size_t *rows, size_t nrows,
				     int threads, struct fit_prep_cache *cache)
{
	size_t feat[MIXED_COLS], nf = mixed_features(feat);
	struct fit_problem prob = {
		.frame = f,
		.target = 9,
		.features = feat,
		.nfeatures = nf,
		.train = rows,
		.ntrain = nrows - 5000,
		.valid = rows + nrows - 5000,
		.nvalid = 5000,
		.task = FIT_TASK_CLASSIFICATION,
		.prep_cache = cache,
	};
	struct fit_params p;

	fit_params_init(&p);
	p.model = FIT_MODEL_LOGISTIC;
	p.optimizer = FIT_OPT_NEWTON;
	p.reg = FIT_REG_L2;
	p.svm_c = 1.0;
	p.missing_indicator = 1;
	p.threads = threads;
	return th_train(&prob, &p);
}

/* Bit for bit: the preprocessing, weights and bias of two models of the mixed table. */
static void check_same_model(const struct fit_model *a, const struct fit_model *b)
{
	const struct fit_model_desc *d0 = fit_model_desc(a), *d = fit_model_desc(b);

	ck_assert_uint_eq(d->layers[0].nin, d0->layers[0].nin);
	ck_assert(memcmp(d->layers[0].weights, d0->layers[0].weights,
			 d0->layers[0].nin * sizeof(double)) == 0);
	ck_assert(memcmp(d->layers[0].bias, d0->layers[0].bias, sizeof(double)) == 0);
	for (size_t j = 0; j + 1 < MIXED_COLS; j++) {
		ck_assert_str_eq(d->columns[j].name, d0->columns[j].name);
		ck_assert(memcmp(&d->columns[j].fill, &d0->columns[j].fill, sizeof(double)) == 0);
		ck_assert(memcmp(&d->columns[j].center, &d0->columns[j].center, sizeof(double)) ==
			  0);
		ck_assert(memcmp(&d->columns[j].scale, &d0->columns[j].scale, sizeof(double)) == 0);
		ck_assert_int_eq(d->columns[j].indicator, d0->columns[j].indicator);
		ck_assert_uint_eq(d->columns[j].nlevels, d0->columns[j].nlevels);
		ck_assert_int_eq(d->columns[j].other, d0->columns[j].other);
	}
}

/* The same logistic model, weights and preprocessing, at 1 and 2 threads. */
START_TEST(test_one_pass_model_threads)
{
	size_t n = 40009, nrows, *rows = mixed_rows(n, &nrows);
	struct fit_frame *f = mixed_frame(n);
	struct fit_model *m1 = mixed_model(f, rows, nrows, 1, NULL);
	struct fit_model *m2 = mixed_model(f, rows, nrows, 2, NULL);

	check_same_model(m1, m2);
	fit_model_free(m1);
	fit_model_free(m2);
	free(rows);
	fit_frame_free(f);
}
END_TEST

/*
 * A preprocessing cache: the second fit of the same rows copies the first's
 * preprocessing, and the model is the one a fit without the cache makes, at
 * 1 and 2 threads; other rows are not served from it.
 */
START_TEST(test_prep_cache)
{
	size_t n = 40009, nrows, *rows = mixed_rows(n, &nrows);
	struct fit_frame *f = mixed_frame(n);
	struct fit_prep_cache *cache;
	struct fit_model *plain = mixed_model(f, rows, nrows, 1, NULL), *m;

	ck_assert_int_eq(fit_prep_cache_new(2, &cache), 0);
	for (int round = 0; round < 2; round++)
		for (int threads = 1; threads <= 2; threads++) {
			m = mixed_model(f, rows, nrows, threads, cache);
			check_same_model(plain, m);
			fit_model_free(m);
			ck_assert_uint_eq(fit_prep_cache_hits(cache),
					  (uint64_t)(round * 2 + threads - 1));
		}
	/* Other training rows (one of them twice): a new fit, the same as without the cache. */
	rows[0] = rows[1];
	m = mixed_model(f, rows, nrows, 1, cache);
	ck_assert_uint_eq(fit_prep_cache_hits(cache), 3);
	fit_model_free(plain);
	plain = mixed_model(f, rows, nrows, 2, NULL);
	check_same_model(plain, m);
	fit_model_free(m);
	fit_prep_cache_free(cache);
	fit_model_free(plain);
	free(rows);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_prep");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_numeric_column);
	tcase_add_test(tc, test_categorical_column);
	tcase_add_test(tc, test_training_rows_only);
	tcase_add_test(tc, test_prediction_levels_and_missing);
	tcase_add_test(tc, test_prediction_frame_errors);
	tcase_add_test(tc, test_large_median);
	tcase_add_loop_test(tc, test_one_pass_fit, 0, 2);
	tcase_add_test(tc, test_one_pass_model_threads);
	tcase_add_test(tc, test_prep_cache);
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
