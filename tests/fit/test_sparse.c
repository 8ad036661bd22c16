/*
 * test_sparse.c - one-hot columns read as sparse indices (internal.h): the
 * kernels of the linear models, the svm's dual coordinate descent and the
 * network against the same computation on a dense one-hot design (the path
 * fitd took before: every level a float column), bit-identical results for
 * any thread count, trained models against a reference predictor written
 * here from the public description (the one-hot features in column order),
 * and the memory estimate of a table with a 5,000-level column.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fit/helpers.h"
#include "worker/fit/explain.h"
#include "worker/fit/internal.h"

static uint64_t st;

static double urand(void)
{
	st = st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(st >> 11) * 0x1.0p-53;
}

/* ---- the kernels: a sparse design and its dense twin ---- */

#define ND    3 /* dense features */
#define NCAT  2 /* categorical columns */
#define NCATW 45

static const size_t levels[NCAT] = { 5, 40 };

/* sp: the sparse design; de: the same rows with every one-hot feature a float column. */
struct pair {
	struct fit__data sp, de;
};

static void make_pair(struct pair *p, size_t n, size_t k, int regression)
{
	struct fit__data *s = &p->sp, *d = &p->de;
	size_t xld = fit__pad(ND), ld = fit__pad(xld + NCATW);

	*s = (struct fit__data){ .n = n, .d = ND + NCATW, .ld = ld, .xld = xld, .ncat = NCAT };
	s->x = calloc(n * xld, sizeof(float));
	s->code = malloc(n * NCAT * sizeof(int32_t));
	s->y = regression ? malloc(n * sizeof(double)) : NULL;
	s->label = regression ? NULL : malloc(n * sizeof(int32_t));
	*d = *s;
	d->xld = ld;
	d->ncat = 0;
	d->code = NULL;
	d->x = calloc(n * ld, sizeof(float));
	for (size_t i = 0; i < n; i++) {
		size_t off = 0;

		for (size_t j = 0; j < ND; j++)
			s->x[i * xld + j] = d->x[i * ld + j] = (float)(2.0 * urand() - 1.0);
		for (size_t c = 0; c < NCAT; c++) {
			int32_t code = urand() < 0.1 ? -1 : (int32_t)(off + urand() * levels[c]);

			s->code[i * NCAT + c] = code;
			if (code >= 0)
				d->x[i * ld + xld + (size_t)code] = 1.0f;
			off += levels[c];
		}
		if (regression)
			s->y[i] = 3.0 * urand() - 1.5;
		else
			s->label[i] = (int32_t)(urand() * (double)(k == 1 ? 2 : k));
	}
}

static void free_pair(struct pair *p)
{
	free(p->sp.x);
	free(p->sp.code);
	free(p->sp.y);
	free(p->sp.label);
	free(p->de.x);
}

static void random_w(double *w, size_t dim)
{
	for (size_t j = 0; j < dim; j++)
		w[j] = urand() - 0.5;
}

static void close_to(const double *a, const double *b, size_t n, double tol, const char *what)
{
	for (size_t j = 0; j < n; j++)
		ck_assert_msg(fabs(a[j] - b[j]) <= tol * (1.0 + fabs(b[j])),
			      "%s[%zu]: %.17g vs %.17g", what, j, a[j], b[j]);
}

struct lin {
	struct fit__linear lin;
	struct fit__objective o;
	void *mem;
};

static void lin_setup(struct lin *l, const struct fit__data *d, enum fit_loss loss, size_t k,
		      int threads)
{
	struct fit__arena a = { 0 };

	memset(l, 0, sizeof(*l));
	fit__linear_layout(&a, &l->lin, d->n, d->ld, k, 1);
	l->mem = fit__alloc(a.used);
	a = (struct fit__arena){ .base = l->mem, .size = a.used };
	fit__linear_layout(&a, &l->lin, d->n, d->ld, k, 1);
	l->lin.data = d;
	l->lin.loss = loss;
	l->lin.delta = 0.7;
	l->lin.threads = threads;
	fit__linear_objective(&l->lin, &l->o);
}

static const struct {
	enum fit_loss loss;
	size_t k;
	int regression;
} lin_cases[] = {
	{ FIT_LOSS_SQUARED, 1, 1 },
	{ FIT_LOSS_LOG, 1, 0 },
	{ FIT_LOSS_LOG, 3, 0 },
	{ FIT_LOSS_SQUARED_HINGE, 3, 0 },
};

START_TEST(linear_kernels_match_the_dense_design)
{
	struct pair p;
	struct lin s1, s2, de;
	size_t k = lin_cases[_i].k, dim, rows[300];
	double *w, *v, *g[3], *hs[3], f[3], *z[2];

	st = 11 + (uint64_t)_i;
	make_pair(&p, 5000, k, lin_cases[_i].regression); /* three blocks */
	lin_setup(&s1, &p.sp, lin_cases[_i].loss, k, 1);
	lin_setup(&s2, &p.sp, lin_cases[_i].loss, k, 2);
	lin_setup(&de, &p.de, lin_cases[_i].loss, k, 1);
	dim = s1.o.dim;
	ck_assert_uint_eq(dim, de.o.dim); /* one weight layout for both */
	w = malloc(dim * sizeof(double));
	v = malloc(dim * sizeof(double));
	for (int i = 0; i < 3; i++) {
		g[i] = malloc(dim * sizeof(double));
		hs[i] = malloc(dim * sizeof(double));
	}
	random_w(w, dim);
	random_w(v, dim);
	ck_assert_int_eq(s1.o.grad(s1.o.ctx, w, NULL, 5000, &f[0], g[0]), 0);
	ck_assert_int_eq(s2.o.grad(s2.o.ctx, w, NULL, 5000, &f[1], g[1]), 0);
	ck_assert_int_eq(de.o.grad(de.o.ctx, w, NULL, 5000, &f[2], g[2]), 0);
	ck_assert(f[0] == f[1]);
	ck_assert(memcmp(g[0], g[1], dim * sizeof(double)) == 0);
	close_to(&f[0], &f[2], 1, 1e-13, "loss");
	close_to(g[0], g[2], dim, 1e-12, "gradient");
	s1.o.accept(s1.o.ctx);
	s2.o.accept(s2.o.ctx);
	de.o.accept(de.o.ctx);
	ck_assert_int_eq(s1.o.hv(s1.o.ctx, v, hs[0]), 0);
	ck_assert_int_eq(s2.o.hv(s2.o.ctx, v, hs[1]), 0);
	ck_assert_int_eq(de.o.hv(de.o.ctx, v, hs[2]), 0);
	ck_assert(memcmp(hs[0], hs[1], dim * sizeof(double)) == 0);
	close_to(hs[0], hs[2], dim, 1e-12, "Hv");
	/* a mini-batch through a row list */
	for (size_t i = 0; i < 300; i++)
		rows[i] = (i * 7919) % 5000;
	ck_assert_int_eq(s1.o.grad(s1.o.ctx, w, rows, 300, &f[0], g[0]), 0);
	ck_assert_int_eq(de.o.grad(de.o.ctx, w, rows, 300, &f[2], g[2]), 0);
	close_to(g[0], g[2], dim, 1e-12, "batch gradient");
	/* decision values */
	z[0] = malloc(5000 * k * sizeof(double));
	z[1] = malloc(5000 * k * sizeof(double));
	fit__linear_scores(k, w, &p.sp, z[0], 2);
	fit__linear_scores(k, w, &p.de, z[1], 1);
	close_to(z[0], z[1], 5000 * k, 1e-13, "scores");
	for (int i = 0; i < 3; i++) {
		free(g[i]);
		free(hs[i]);
	}
	free(z[0]);
	free(z[1]);
	free(w);
	free(v);
	free(s1.mem);
	free(s2.mem);
	free(de.mem);
	free_pair(&p);
}
END_TEST

/* The svm's solver on d: weights [W (k x ld), b (k)] in w. */
static void run_dcd(const struct fit__data *d, size_t k, int threads, double *w)
{
	struct fit_params p;
	struct fit_report rep = { 0 };
	struct fit__arena a = { 0 };
	struct fit__poll poll = { 0 };
	struct fitd_error err = { 0 };
	struct fit__run run = { &p, NULL, &poll, &rep, &err, NULL, NULL, NAN };
	struct fit__dcd dcd = { d, k, FIT_LOSS_HINGE, 0.5, threads, &poll };
	void *ws, *mem;

	fit_params_init(&p);
	p.model = FIT_MODEL_SVM;
	p.loss = FIT_LOSS_HINGE;
	p.optimizer = FIT_OPT_DCD;
	p.epochs = 30;
	p.seed = 3;
	p.threads = threads;
	fit__dcd_layout(&a, d->n, k);
	mem = fit__alloc(a.used);
	a = (struct fit__arena){ .base = mem, .size = a.used };
	ws = fit__dcd_layout(&a, d->n, k);
	ck_assert_int_eq(fit__dcd_run(&dcd, &run, w, ws), 0);
	free(mem);
}

START_TEST(dcd_matches_the_dense_design)
{
	struct pair p;
	size_t k = 3, dim;
	double *w[3];

	st = 21;
	make_pair(&p, 3000, k, 0);
	dim = k * p.sp.ld + k;
	for (int i = 0; i < 3; i++)
		w[i] = malloc(dim * sizeof(double));
	run_dcd(&p.sp, k, 1, w[0]);
	run_dcd(&p.sp, k, 2, w[1]);
	run_dcd(&p.de, k, 1, w[2]);
	ck_assert(memcmp(w[0], w[1], dim * sizeof(double)) == 0);
	close_to(w[0], w[2], dim, 1e-9, "dcd weights");
	for (int i = 0; i < 3; i++)
		free(w[i]);
	free_pair(&p);
}
END_TEST

/* ---- networks: the categorical rows of weights against a wide first layer ---- */

struct net {
	struct fit__net net;
	struct fit__mlp *m;
	struct fit__objective o;
	void *mem;
};

static void net_setup(struct net *n, const struct fit__data *d, size_t ncatw, size_t kout,
		      const struct fit_params *p)
{
	struct fit__arena a = { 0 };

	ck_assert_int_eq(fit__net_shape(&n->net, d->xld, ncatw, kout, p), 0);
	fit__mlp_layout(&a, &n->net, d->n, d->ncat, p);
	n->mem = fit__alloc(a.used);
	a = (struct fit__arena){ .base = n->mem, .size = a.used };
	n->m = fit__mlp_layout(&a, &n->net, d->n, d->ncat, p);
	fit__mlp_bind(n->m, d, FIT_LOSS_LOG, 0.7, NULL);
	fit__mlp_objective(n->m, &n->o);
}

/*
 * Index in the dense net's parameters of parameter j of the sparse one: the
 * dense first layer's column xld + c is the sparse net's categorical row c.
 */
static size_t dense_index(const struct fit__net *sp, const struct fit__net *de, size_t j)
{
	size_t h = sp->sizes[1], xld = sp->sizes[0];

	if (j < (sp->nl > 1 ? sp->woff[1] : sp->eoff))
		return de->woff[0] + j / xld * de->sizes[0] + j % xld;
	if (j < sp->eoff) {
		size_t l = sp->nl - 1;

		while (j < sp->woff[l])
			l--;
		return de->woff[l] + j - sp->woff[l];
	}
	if (j < sp->npen)
		return de->woff[0] + (j - sp->eoff) % h * de->sizes[0] + xld + (j - sp->eoff) / h;
	for (size_t l = sp->nl; l-- > 0;)
		if (j >= sp->boff[l])
			return de->boff[l] + j - sp->boff[l];
	return SIZE_MAX;
}

START_TEST(mlp_matches_the_dense_design)
{
	struct fit_params p;
	struct pair pr;
	struct net s1, s2, de;
	size_t k = 3;
	double *w, *wd, *g[3], f[3], *z[2];

	st = 31;
	fit_params_init(&p);
	p.model = FIT_MODEL_MLP;
	p.hidden_layers = 2;
	p.hidden_units[0] = 9;
	p.hidden_units[1] = 5;
	p.activation = FIT_ACT_TANH;
	p.threads = 1;
	make_pair(&pr, 700, k, 0); /* three chunks */
	net_setup(&s1, &pr.sp, NCATW, k, &p);
	net_setup(&de, &pr.de, 0, k, &p);
	p.threads = 2;
	net_setup(&s2, &pr.sp, NCATW, k, &p);
	ck_assert_uint_eq(de.net.sizes[0], fit__pad(s1.net.sizes[0] + NCATW));
	w = malloc(s1.net.dim * sizeof(double));
	wd = calloc(de.net.dim, sizeof(double));
	for (int i = 0; i < 3; i++)
		g[i] = malloc(de.net.dim * sizeof(double));
	fit__mlp_init(&s1.net, ND, ND + NCATW, w, 5);
	for (size_t j = 0; j < s1.net.dim; j++) {
		w[j] = (float)(w[j] + (j >= s1.net.boff[0] ? 0.2 * (urand() - 0.5) : 0.0));
		wd[dense_index(&s1.net, &de.net, j)] = w[j];
	}
	ck_assert_int_eq(s1.o.grad(s1.o.ctx, w, NULL, 700, &f[0], g[0]), 0);
	ck_assert_int_eq(s2.o.grad(s2.o.ctx, w, NULL, 700, &f[1], g[1]), 0);
	ck_assert_int_eq(de.o.grad(de.o.ctx, wd, NULL, 700, &f[2], g[2]), 0);
	ck_assert(f[0] == f[1]);
	ck_assert(memcmp(g[0], g[1], s1.net.dim * sizeof(double)) == 0);
	close_to(&f[0], &f[2], 1, 1e-5, "mlp loss");
	for (size_t j = 0; j < s1.net.dim; j++) {
		double a = g[0][j], b = g[2][dense_index(&s1.net, &de.net, j)];

		ck_assert_msg(fabs(a - b) <= 1e-5 + 1e-4 * fabs(b), "mlp gradient[%zu]: %g vs %g",
			      j, a, b);
	}
	z[0] = malloc(700 * k * sizeof(double));
	z[1] = malloc(700 * k * sizeof(double));
	fit__mlp_scores(s1.m, w, &pr.sp, z[0]);
	fit__mlp_scores(de.m, wd, &pr.de, z[1]);
	for (size_t i = 0; i < 700 * k; i++)
		ck_assert_msg(fabs(z[0][i] - z[1][i]) <= 1e-5 * (1 + fabs(z[1][i])),
			      "mlp score %zu: %g vs %g", i, z[0][i], z[1][i]);
	for (int i = 0; i < 3; i++)
		free(g[i]);
	free(z[0]);
	free(z[1]);
	free(w);
	free(wd);
	free(s1.mem);
	free(s2.mem);
	free(de.mem);
	free_pair(&pr);
}
END_TEST

/* ---- trained models against a reference predictor on the public description ---- */

#define ROWS	 800
#define CITIES	 30
#define CITY_OFF 0.6

/* x1 (numeric, some missing), city (30 levels, rare ones, some missing), x2, color (4), y, r. */
static struct fit_frame *mixed_frame(size_t n)
{
	static const char *colors[] = { "blue", "green", "red", "white" };
	struct fit_frame_builder *b;
	struct fit_frame *f;
	char name[16];

	ck_assert_int_eq(fit_frame_builder_new(n, 6, &b), 0);
	fit_frame_builder_column(b, 0, "x1", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 1, "city", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 2, "x2", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 3, "color", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 4, "y", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 5, "r", FIT_COL_NUMERIC);
	for (size_t i = 0; i < n; i++) {
		double x1 = 2.0 * urand() - 1.0, x2 = urand();
		/* levels past 25 are rare: a few rows each, folded into "other" */
		size_t city = urand() < 0.98 ? (size_t)(urand() * 25) : 25 + (size_t)(urand() * 5);
		size_t color = (size_t)(urand() * 4);
		double t = x1 + (city % 3 == 0 ? CITY_OFF : -CITY_OFF) + 0.3 * (double)color - 0.4 +
			   0.5 * (urand() - 0.5);

		fit_frame_builder_set_num(b, 0, i, urand() < 0.05 ? NAN : x1);
		snprintf(name, sizeof(name), "c%02zu", city);
		if (urand() > 0.03)
			fit_frame_builder_set_cat(b, 1, i, name, strlen(name));
		fit_frame_builder_set_num(b, 2, i, x2);
		fit_frame_builder_set_cat(b, 3, i, colors[color], strlen(colors[color]));
		fit_frame_builder_set_cat(b, 4, i, t > 0 ? "yes" : "no", t > 0 ? 3 : 2);
		fit_frame_builder_set_num(b, 5, i, 3.0 * t + 1.0);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	return f;
}

/* Row r's public features (as documented in model.h) from the description d. */
static void reference_features(const struct fit_model_desc *d, const struct fit_frame *f, size_t r,
			       double *x)
{
	size_t at = 0;

	for (size_t j = 0; j < d->ncolumns; j++) {
		const struct fit_prep_column *c = &d->columns[j];
		const struct fit_column *src = &f->cols[fit_frame_find(f, c->name)];

		if (c->type == FIT_COL_NUMERIC) {
			double v = src->num[r];

			/* the design holds features in float32 */
			x[at++] = (float)(((isnan(v) ? c->fill : v) - c->center) / c->scale);
			if (c->indicator)
				x[at++] = isnan(v);
			continue;
		}
		for (size_t l = 0; l < c->nlevels + !!c->other; l++)
			x[at + l] = 0.0;
		if (src->cat[r] >= 0) {
			const char *s = src->levels[src->cat[r]];
			size_t l = 0;

			while (l < c->nlevels && strcmp(c->levels[l], s) != 0)
				l++;
			if (l < c->nlevels || c->other)
				x[at + l] = 1.0;
		}
		at += c->nlevels + !!c->other;
	}
}

/* The raw margins of row r, in double, from the layers of the description. */
static void reference_margins(const struct fit_model_desc *d, const double *x, double *z)
{
	double a[2][256];
	size_t nin = d->layers[0].nin;

	memcpy(a[0], x, nin * sizeof(double));
	for (size_t l = 0; l < d->nlayers; l++) {
		const struct fit_layer_desc *L = &d->layers[l];
		double *in = a[l % 2], *out = a[(l + 1) % 2];

		for (size_t o = 0; o < L->nout; o++) {
			double s = L->bias[o];

			for (size_t i = 0; i < L->nin; i++)
				s += L->weights[o * L->nin + i] * in[i];
			if (l + 1 < d->nlayers)
				s = d->params.activation == FIT_ACT_RELU ? fmax(s, 0.0) : tanh(s);
			out[o] = s;
		}
	}
	memcpy(z, a[d->nlayers % 2], d->layers[d->nlayers - 1].nout * sizeof(double));
	for (size_t o = 0; d->task == FIT_TASK_REGRESSION && o < d->layers[d->nlayers - 1].nout;
	     o++)
		z[o] = d->y_center + d->y_scale * z[o];
}

struct family {
	const char *name;
	enum fit_model_kind model;
	enum fit_optimizer opt;
	enum fit_loss loss;
	const char *target;
	double tol; /* margins against the reference: double weights, or float networks */
};

static const struct family families[] = {
	{ "logistic lbfgs", FIT_MODEL_LOGISTIC, FIT_OPT_LBFGS, FIT_LOSS_LOG, "y", 1e-9 },
	{ "logistic newton", FIT_MODEL_LOGISTIC, FIT_OPT_NEWTON, FIT_LOSS_LOG, "y", 1e-9 },
	{ "svm dcd", FIT_MODEL_SVM, FIT_OPT_DCD, FIT_LOSS_HINGE, "y", 1e-9 },
	{ "linear adam", FIT_MODEL_LINEAR, FIT_OPT_ADAM, FIT_LOSS_SQUARED, "r", 1e-9 },
	{ "mlp adam", FIT_MODEL_MLP, FIT_OPT_ADAM, FIT_LOSS_LOG, "y", 1e-4 },
	{ "mlp sgd regression", FIT_MODEL_MLP, FIT_OPT_SGD, FIT_LOSS_SQUARED, "r", 1e-4 },
};

static struct fit_model *train_family(const struct family *fam, const struct fit_frame *f,
				      int threads)
{
	struct fit_params p;
	size_t *rows = th_rows(ROWS), feat[4] = { 0, 1, 2, 3 };
	struct fit_problem prob = { f,
				    th_col(f, fam->target),
				    feat,
				    4,
				    rows,
				    ROWS * 3 / 4,
				    rows + ROWS * 3 / 4,
				    ROWS / 4,
				    fam->target[0] == 'r' ? FIT_TASK_REGRESSION
							  : FIT_TASK_CLASSIFICATION };
	struct fit_model *m;

	fit_params_init(&p);
	p.model = fam->model;
	p.optimizer = fam->opt;
	p.loss = fam->loss;
	p.epochs = fam->opt == FIT_OPT_ADAM ? 15 : 40;
	p.learning_rate = 0.01;
	p.missing_indicator = 1;
	p.min_level_count = 8;
	p.hidden_layers = 1;
	p.hidden_units[0] = 8;
	p.activation = FIT_ACT_TANH;
	p.reg = FIT_REG_L2;
	p.penalty = 1e-3;
	p.seed = 9;
	p.threads = threads;
	m = th_train(&prob, &p);
	free(rows);
	return m;
}

static void same_layers(const struct fit_model_desc *a, const struct fit_model_desc *b)
{
	ck_assert_uint_eq(a->nlayers, b->nlayers);
	for (size_t l = 0; l < a->nlayers; l++) {
		ck_assert(memcmp(a->layers[l].weights, b->layers[l].weights,
				 a->layers[l].nin * a->layers[l].nout * sizeof(double)) == 0);
		ck_assert(memcmp(a->layers[l].bias, b->layers[l].bias,
				 a->layers[l].nout * sizeof(double)) == 0);
	}
}

START_TEST(models_predict_as_the_public_one_hot_description)
{
	const struct family *fam = &families[_i];
	struct fit_frame *f;
	struct fit_model *m, *m2, *again;
	const struct fit_model_desc *d;
	size_t nm, w, nfeat;
	double *z, *z2, *x, *contrib, ref[8];

	st = 41;
	f = mixed_frame(ROWS);
	m = train_family(fam, f, 1);
	m2 = train_family(fam, f, 2);
	d = fit_model_desc(m);
	/* one-hot in the public view: city's kept levels and "other", color's four */
	ck_assert_uint_eq(d->columns[1].type, FIT_COL_CATEGORICAL);
	ck_assert_uint_eq(d->columns[1].nlevels, 25);
	ck_assert(d->columns[1].other);
	nfeat = d->layers[0].nin;
	ck_assert_uint_eq(nfeat, 2 + 26 + 1 + 4);
	same_layers(d, fit_model_desc(m2)); /* bit-identical for 1 and 2 threads */
	ck_assert_int_eq(fit_model_rebuild(d, &again, NULL), 0);
	nm = fit_model_nmargins(m);
	z = malloc(ROWS * nm * sizeof(double));
	z2 = malloc(ROWS * nm * sizeof(double));
	x = malloc(nfeat * sizeof(double));
	ck_assert_int_eq(fit_model_margins(m, f, NULL, ROWS, 2, z, NULL), 0);
	ck_assert_int_eq(fit_model_margins(again, f, NULL, ROWS, 1, z2, NULL), 0);
	ck_assert(memcmp(z, z2, ROWS * nm * sizeof(double)) == 0);
	for (size_t r = 0; r < ROWS; r++) {
		reference_features(d, f, r, x);
		reference_margins(d, x, ref);
		for (size_t o = 0; o < nm; o++)
			ck_assert_msg(fabs(z[r * nm + o] - ref[o]) <= fam->tol * (1 + fabs(ref[o])),
				      "%s row %zu: %.17g vs reference %.17g", fam->name, r,
				      z[r * nm + o], ref[o]);
	}
	/* contributions: a column's share plus the bias make the margin */
	w = d->ncolumns + 1;
	contrib = malloc(ROWS * nm * w * sizeof(double));
	ck_assert_int_eq(fit_model_contributions(m, f, NULL, ROWS, 2, contrib, NULL), 0);
	for (size_t r = 0; r < ROWS; r++) {
		double s = 0.0;

		for (size_t j = 0; j < w; j++)
			s += contrib[r * w + j];
		ck_assert_msg(fabs(s - z[r * nm]) <= 1e-6 * (1 + fabs(z[r * nm])),
			      "%s row %zu: contributions %.17g, margin %.17g", fam->name, r, s,
			      z[r * nm]);
	}
	if (d->feature_means != NULL && fit__is_linear(d->params.model)) {
		/* linear: w (x - mean) summed over city's features, from the public view */
		for (size_t r = 0; r < ROWS; r++) {
			double c = 0.0, scale = d->task == FIT_TASK_REGRESSION ? d->y_scale : 1.0;

			reference_features(d, f, r, x);
			for (size_t q = 2; q < 2 + 26; q++)
				c += d->layers[0].weights[q] * (x[q] - d->feature_means[q]);
			ck_assert_msg(fabs(contrib[r * w + 1] - scale * c) <= 1e-9 * (1 + fabs(c)),
				      "%s row %zu: city %.17g vs %.17g", fam->name, r,
				      contrib[r * w + 1], scale * c);
		}
	}
	free(contrib);
	free(z);
	free(z2);
	free(x);
	fit_model_free(again);
	fit_model_free(m);
	fit_model_free(m2);
	fit_frame_free(f);
}
END_TEST

START_TEST(permutation_importance_shuffles_codes)
{
	struct fit_frame *f;
	struct fit_model *m;
	double imp[4];

	st = 43;
	f = mixed_frame(ROWS);
	m = train_family(&families[0], f, 2);
	ck_assert_int_eq(fit_explain_permutation(m, f, NULL, ROWS, FIT_METRIC_ACCURACY, 3, 7, 2,
						 imp, NULL, NULL),
			 0);
	/* y depends on x1 and city most, on color less, not at all on x2 */
	ck_assert_double_gt(imp[0], 0.05);
	ck_assert_double_gt(imp[1], 0.05);
	ck_assert_double_gt(imp[1], imp[2]);
	ck_assert_double_lt(fabs(imp[2]), 0.02);
	fit_model_free(m);
	fit_frame_free(f);
}
END_TEST

/* ---- memory: rows x columns, never rows x levels ---- */

#define BIG_ROWS   100000
#define BIG_LEVELS 5000

START_TEST(a_5000_level_column_is_small)
{
	struct fit_params p;
	/* three numeric columns (value + indicator each) and one of 5,000 levels */
	struct fit_shape sh = { BIG_ROWS, 4, 6 + BIG_LEVELS + 1, BIG_LEVELS, 2, 1 };
	size_t bytes, dense;
	static const enum fit_model_kind kinds[] = { FIT_MODEL_LOGISTIC, FIT_MODEL_SVM,
						     FIT_MODEL_MLP };

	for (size_t i = 0; i < 3; i++) {
		fit_params_init(&p);
		p.model = kinds[i];
		p.optimizer = kinds[i] == FIT_MODEL_SVM	  ? FIT_OPT_DCD
			      : kinds[i] == FIT_MODEL_MLP ? FIT_OPT_ADAM
							  : FIT_OPT_LBFGS;
		p.loss = kinds[i] == FIT_MODEL_SVM ? FIT_LOSS_HINGE : FIT_LOSS_LOG;
		p.hidden_layers = 1;
		p.hidden_units[0] = 64;
		p.threads = 2;
		ck_assert_int_eq(fit_model_memory(&sh, &p, &bytes), FITD_OK);
		ck_assert_msg(bytes < (size_t)64 << 20, "%s: %zu bytes",
			      fit_model_kind_name(kinds[i]), bytes);
		ck_assert_uint_gt(bytes, (size_t)BIG_ROWS * 4 * sizeof(float));
		/* the same width held dense, one float per level and row, is gigabytes */
		ck_assert_int_eq(fit_memory_estimate(BIG_ROWS, sh.width, 2, &p, &dense), FITD_OK);
		ck_assert_uint_gt(dense, (size_t)1 << 30);
	}
	/* memory grows with rows, not with levels */
	fit_params_init(&p);
	p.model = FIT_MODEL_LOGISTIC;
	p.optimizer = FIT_OPT_LBFGS;
	sh.width += 5 * BIG_LEVELS;
	sh.cat_levels += 5 * BIG_LEVELS;
	ck_assert_int_eq(fit_model_memory(&sh, &p, &bytes), FITD_OK);
	ck_assert_uint_lt(bytes, (size_t)64 << 20);
	sh.cat_levels = sh.width; /* more levels than the width: inconsistent */
	ck_assert_int_eq(fit_model_memory(&sh, &p, &bytes), FITD_EINVAL);
}
END_TEST

/* 100,000 rows: a 5,000-level city, three numeric columns, a target that depends on both. */
static struct fit_frame *big_frame(void)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;
	char name[16];

	ck_assert_int_eq(fit_frame_builder_new(BIG_ROWS, 5, &b), 0);
	fit_frame_builder_column(b, 0, "city", FIT_COL_CATEGORICAL);
	fit_frame_builder_column(b, 1, "a", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 2, "b", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 3, "c", FIT_COL_NUMERIC);
	fit_frame_builder_column(b, 4, "y", FIT_COL_CATEGORICAL);
	for (size_t i = 0; i < BIG_ROWS; i++) {
		size_t city = (size_t)(urand() * BIG_LEVELS);
		double a = urand() - 0.5, t = a + ((city * 2654435761u) % 7 < 3 ? 0.5 : -0.5);

		snprintf(name, sizeof(name), "c%zu", city);
		fit_frame_builder_set_cat(b, 0, i, name, strlen(name));
		fit_frame_builder_set_num(b, 1, i, a);
		fit_frame_builder_set_num(b, 2, i, urand());
		fit_frame_builder_set_num(b, 3, i, urand());
		fit_frame_builder_set_cat(b, 4, i, t + 0.3 * (urand() - 0.5) > 0 ? "1" : "0", 1);
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	return f;
}

START_TEST(a_trial_on_a_5000_level_column_fits)
{
	struct fit_frame *f;
	struct fit_params p;
	struct fit_model *m;
	size_t *train, *test, ntrain, ntest, feat[4] = { 0, 1, 2, 3 };
	struct fit_problem prob;
	double acc;

	st = 51;
	f = big_frame();
	ck_assert_uint_eq(f->cols[0].nlevels, BIG_LEVELS);
	th_split(BIG_ROWS, &train, &ntrain, &test, &ntest);
	prob =
	    (struct fit_problem){ f, 4, feat, 4, train, ntrain, NULL, 0, FIT_TASK_CLASSIFICATION };
	fit_params_init(&p);
	p.model = FIT_MODEL_LOGISTIC;
	p.optimizer = FIT_OPT_LBFGS;
	p.epochs = 30;
	p.min_level_count = 1;
	p.threads = 2;
	m = th_train(&prob, &p);
	ck_assert_uint_eq(fit_model_desc(m)->layers[0].nin, 3 + BIG_LEVELS);
	ck_assert_int_eq(fit_model_score(m, f, test, ntest, FIT_METRIC_ACCURACY, 2, &acc, NULL), 0);
	ck_assert_double_gt(acc, 0.8); /* the city carries half of the signal */
	fit_model_free(m);
	free(train);
	free(test);
	fit_frame_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_sparse");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, linear_kernels_match_the_dense_design, 0,
			    sizeof(lin_cases) / sizeof(lin_cases[0]));
	tcase_add_test(tc, dcd_matches_the_dense_design);
	tcase_add_test(tc, mlp_matches_the_dense_design);
	tcase_add_loop_test(tc, models_predict_as_the_public_one_hot_description, 0,
			    sizeof(families) / sizeof(families[0]));
	tcase_add_test(tc, permutation_importance_shuffles_codes);
	tcase_add_test(tc, a_5000_level_column_is_small);
	tcase_add_test(tc, a_trial_on_a_5000_level_column_fits);
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
