/*
 * test_grad.c - finite-difference checks of every analytic derivative:
 * gradients of each loss x output count x regularizer of the linear models,
 * their Hessian-vector products, mini-batch gradients, the multi-block
 * parallel reduction, and the network's back-propagation (against central
 * differences of a double-precision reference forward pass) for each loss,
 * activation, depth and regularizer.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/internal.h"

static uint64_t st;

static double urand(void)
{
	st = st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(st >> 11) * 0x1.0p-53;
}

/* n rows of d features (ld padded) with a target for loss and k outputs. */
static void make_data(struct fit__data *d, size_t n, size_t nf, size_t k, int regression)
{
	d->n = n;
	d->d = nf;
	d->ld = d->xld = fit__pad(nf);
	d->ncat = 0;
	d->code = NULL;
	d->x = calloc(n * d->ld, sizeof(float));
	d->y = regression ? malloc(n * sizeof(double)) : NULL;
	d->label = regression ? NULL : malloc(n * sizeof(int32_t));
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < nf; j++)
			d->x[i * d->ld + j] = (float)(2.0 * urand() - 1.0);
		if (regression)
			d->y[i] = 3.0 * urand() - 1.5;
		else
			d->label[i] = (int32_t)(urand() * (double)(k == 1 ? 2 : k));
	}
}

static void free_data(struct fit__data *d)
{
	free(d->x);
	free(d->y);
	free(d->label);
}

struct reg_case {
	const char *name;
	double l1, l2;
};

static const struct reg_case regs[] = {
	{ "none", 0.0, 0.0 },
	{ "l2", 0.0, 0.3 },
	{ "l1", 0.2, 0.0 },
	{ "elasticnet", 0.1, 0.15 },
};

/* Compares g (+ the L1 subgradient) with central differences of the value. */
static void check_fd(const struct fit__objective *o, double *w, const char *what, double tol)
{
	size_t dim = o->dim;
	double *g = malloc(dim * sizeof(double)), *gt = malloc(dim * sizeof(double)), f, fp, fm;

	ck_assert_int_eq(fit__objective_grad(o, w, NULL, o->nrows, &f, g), 0);
	for (size_t j = 0; j < dim; j++) {
		double h = 1e-6, keep = w[j], fd, an = g[j];

		if (w[j] == 0.0) /* padding */
			continue;
		w[j] = keep + h;
		ck_assert_int_eq(fit__objective_grad(o, w, NULL, o->nrows, &fp, gt), 0);
		w[j] = keep - h;
		ck_assert_int_eq(fit__objective_grad(o, w, NULL, o->nrows, &fm, gt), 0);
		w[j] = keep;
		fd = (fp - fm) / (2 * h);
		if (j < o->npen)
			an += o->l1 * (keep > 0 ? 1.0 : -1.0);
		ck_assert_msg(fabs(fd - an) <= tol * (1.0 + fabs(fd)),
			      "%s: d/dw%zu analytic %.9g fd %.9g", what, j, an, fd);
	}
	free(g);
	free(gt);
}

/* Random nonzero weights (padding stays zero). */
static void random_w(double *w, size_t k, size_t nf, size_t ld)
{
	memset(w, 0, (k * ld + k) * sizeof(double));
	for (size_t c = 0; c < k; c++) {
		for (size_t j = 0; j < nf; j++)
			w[c * ld + j] = urand() - 0.5 + (urand() > 0.5 ? 0.1 : -0.1);
		w[k * ld + c] = urand() - 0.5 + 0.05;
	}
}

struct loss_case {
	enum fit_loss loss;
	size_t k;
	int regression, smooth;
};

static const struct loss_case losses[] = {
	{ FIT_LOSS_SQUARED, 1, 1, 1 },	     { FIT_LOSS_HUBER, 1, 1, 1 },
	{ FIT_LOSS_ABSOLUTE, 1, 1, 0 },	     { FIT_LOSS_LOG, 1, 0, 1 },
	{ FIT_LOSS_LOG, 4, 0, 1 },	     { FIT_LOSS_HINGE, 1, 0, 0 },
	{ FIT_LOSS_HINGE, 3, 0, 0 },	     { FIT_LOSS_SQUARED_HINGE, 1, 0, 1 },
	{ FIT_LOSS_SQUARED_HINGE, 3, 0, 1 },
};

static void linear_setup(struct fit__linear *lin, struct fit__arena *a, void **mem,
			 const struct fit__data *d, const struct loss_case *lc, int threads)
{
	memset(lin, 0, sizeof(*lin));
	*a = (struct fit__arena){ 0 };
	fit__linear_layout(a, lin, d->n, d->ld, lc->k, 1);
	*mem = fit__alloc(a->used);
	*a = (struct fit__arena){ .base = *mem, .size = a->used };
	fit__linear_layout(a, lin, d->n, d->ld, lc->k, 1);
	lin->data = d;
	lin->loss = lc->loss;
	lin->delta = 0.7;
	lin->threads = threads;
}

START_TEST(test_linear_gradients)
{
	const struct loss_case *lc = &losses[_i];

	st = 100 + (uint64_t)_i;
	for (size_t r = 0; r < sizeof(regs) / sizeof(regs[0]); r++) {
		struct fit__data d;
		struct fit__linear lin;
		struct fit__arena a;
		struct fit__objective o;
		void *mem;
		double w[6 * 9];
		char what[96];

		make_data(&d, 53, 5, lc->k, lc->regression);
		linear_setup(&lin, &a, &mem, &d, lc, 1);
		fit__linear_objective(&lin, &o);
		o.l1 = regs[r].l1;
		o.l2 = regs[r].l2;
		random_w(w, lc->k, 5, d.ld);
		snprintf(what, sizeof(what), "%s k=%zu reg=%s", fit_loss_name(lc->loss), lc->k,
			 regs[r].name);
		check_fd(&o, w, what, 1e-6);
		free(mem);
		free_data(&d);
	}
}
END_TEST

START_TEST(test_linear_hessian)
{
	const struct loss_case *lc = &losses[_i];
	struct fit__data d;
	struct fit__linear lin;
	struct fit__arena a;
	struct fit__objective o;
	void *mem;
	double w[5 * 9], s[5 * 9], hs[5 * 9], gp[5 * 9], gm[5 * 9], wp[5 * 9], f, h = 1e-6;
	size_t dim;

	if (!lc->smooth)
		return;
	st = 200 + (uint64_t)_i;
	make_data(&d, 3000, 5, lc->k, lc->regression); /* two blocks */
	linear_setup(&lin, &a, &mem, &d, lc, 2);
	fit__linear_objective(&lin, &o);
	o.l2 = 0.25;
	dim = o.dim;
	random_w(w, lc->k, 5, d.ld);
	random_w(s, lc->k, 5, d.ld);
	ck_assert_int_eq(fit__objective_grad(&o, w, NULL, d.n, &f, gp), 0);
	o.accept(o.ctx);
	ck_assert_int_eq(fit__objective_hv(&o, s, hs), 0);
	for (size_t j = 0; j < dim; j++)
		wp[j] = w[j] + h * s[j];
	ck_assert_int_eq(fit__objective_grad(&o, wp, NULL, d.n, &f, gp), 0);
	for (size_t j = 0; j < dim; j++)
		wp[j] = w[j] - h * s[j];
	ck_assert_int_eq(fit__objective_grad(&o, wp, NULL, d.n, &f, gm), 0);
	for (size_t j = 0; j < dim; j++) {
		double fd = (gp[j] - gm[j]) / (2 * h);

		ck_assert_msg(fabs(fd - hs[j]) <= 1e-5 * (1.0 + fabs(fd)),
			      "%s k=%zu Hv[%zu] %.9g fd %.9g", fit_loss_name(lc->loss), lc->k, j,
			      hs[j], fd);
	}
	free(mem);
	free_data(&d);
}
END_TEST

START_TEST(test_batch_gradient)
{
	const struct loss_case lc = { FIT_LOSS_LOG, 3, 0, 1 };
	struct fit__data d, sub;
	struct fit__linear lin, lin2;
	struct fit__arena a;
	struct fit__objective o, o2;
	void *mem, *mem2;
	size_t rows[700];
	double w[3 * 9 + 3], g[3 * 9 + 3], g2[3 * 9 + 3], f, f2;

	st = 7;
	make_data(&d, 5000, 6, 3, 0);
	for (size_t i = 0; i < 700; i++)
		rows[i] = (i * 7919) % 5000;
	/* The same rows copied into their own data set, in order. */
	sub = d;
	sub.n = 700;
	sub.x = malloc(700 * d.ld * sizeof(float));
	sub.label = malloc(700 * sizeof(int32_t));
	for (size_t i = 0; i < 700; i++) {
		memcpy(sub.x + i * d.ld, d.x + rows[i] * d.ld, d.ld * sizeof(float));
		sub.label[i] = d.label[rows[i]];
	}
	linear_setup(&lin, &a, &mem, &d, &lc, 2);
	linear_setup(&lin2, &a, &mem2, &sub, &lc, 1);
	fit__linear_objective(&lin, &o);
	fit__linear_objective(&lin2, &o2);
	random_w(w, 3, 6, d.ld);
	ck_assert_int_eq(fit__objective_grad(&o, w, rows, 700, &f, g), 0);
	ck_assert_int_eq(fit__objective_grad(&o2, w, NULL, 700, &f2, g2), 0);
	ck_assert(f == f2);
	ck_assert(memcmp(g, g2, o.dim * sizeof(double)) == 0); /* o.dim = 27 of the 30 */
	free(mem);
	free(mem2);
	free(sub.x);
	free(sub.label);
	free_data(&d);
}
END_TEST

/* ---- networks ---- */

struct net_case {
	enum fit_loss loss;
	size_t kout;
	int regression;
	unsigned layers;
	enum fit_activation act;
};

static const struct net_case nets[] = {
	{ FIT_LOSS_SQUARED, 1, 1, 1, FIT_ACT_RELU },  { FIT_LOSS_HUBER, 1, 1, 2, FIT_ACT_TANH },
	{ FIT_LOSS_ABSOLUTE, 1, 1, 1, FIT_ACT_TANH }, { FIT_LOSS_LOG, 1, 0, 3, FIT_ACT_RELU },
	{ FIT_LOSS_LOG, 3, 0, 2, FIT_ACT_RELU },      { FIT_LOSS_LOG, 3, 0, 3, FIT_ACT_TANH },
};

/* The mean loss of the network in double, written out plainly. */
static double reference_loss(const struct fit__net *net, const struct fit__data *d, const double *w,
			     const struct net_case *nc)
{
	fit__loss_fn fn = fit__loss_pick(nc->loss, nc->kout);
	double sum = 0.0, a[2][64], dz[8];

	for (size_t i = 0; i < d->n; i++) {
		for (size_t j = 0; j < net->sizes[0]; j++)
			a[0][j] = (double)(float)d->x[i * d->ld + j];
		for (size_t l = 0; l < net->nl; l++) {
			double *in = a[l % 2], *out = a[(l + 1) % 2];

			for (size_t o = 0; o < net->sizes[l + 1]; o++) {
				double z = w[net->boff[l] + o];

				for (size_t j = 0; j < net->sizes[l]; j++)
					z += w[net->woff[l] + o * net->sizes[l] + j] * in[j];
				if (l + 1 < net->nl)
					z = net->act == FIT_ACT_RELU ? fmax(z, 0.0) : tanh(z);
				out[o] = z;
			}
		}
		sum += fn(a[net->nl % 2], nc->kout, d->y ? d->y[i] : 0.0,
			  d->label ? d->label[i] : 0, 0.7, dz, NULL);
	}
	return sum / (double)d->n;
}

START_TEST(test_mlp_gradients)
{
	const struct net_case *nc = &nets[_i];
	struct fit_params p;
	struct fit__net net;
	struct fit__data d;
	struct fit__arena a = { 0 };
	struct fit__mlp *m;
	struct fit__objective o;
	void *mem;
	double *w, *g, f;

	st = 300 + (uint64_t)_i;
	fit_params_init(&p);
	p.model = FIT_MODEL_MLP;
	p.hidden_layers = nc->layers;
	p.hidden_units[0] = 7;
	p.hidden_units[1] = 5;
	p.hidden_units[2] = 4;
	p.activation = nc->act;
	p.threads = 2;
	make_data(&d, 300, 6, nc->kout, nc->regression); /* two chunks */
	ck_assert_int_eq(fit__net_shape(&net, d.ld, 0, nc->kout, &p), 0);
	fit__mlp_layout(&a, &net, d.n, 0, &p);
	mem = fit__alloc(a.used);
	a = (struct fit__arena){ .base = mem, .size = a.used };
	m = fit__mlp_layout(&a, &net, d.n, 0, &p);
	fit__mlp_bind(m, &d, nc->loss, 0.7, NULL);
	fit__mlp_objective(m, &o);
	w = malloc(net.dim * sizeof(double));
	g = malloc(net.dim * sizeof(double));
	fit__mlp_init(&net, 6, 6, w, 5);
	for (size_t l = 0; l < net.nl; l++) /* nonzero biases, so relu kinks are not at 0 */
		for (size_t u = 0; u < net.sizes[l + 1]; u++)
			w[net.boff[l] + u] = 0.3 * (urand() - 0.3);
	for (size_t j = 0; j < net.dim; j++) /* parameters exact in float */
		w[j] = (float)w[j];
	for (size_t r = 0; r < sizeof(regs) / sizeof(regs[0]); r++) {
		o.l1 = regs[r].l1;
		o.l2 = regs[r].l2;
		ck_assert_int_eq(fit__objective_grad(&o, w, NULL, d.n, &f, g), 0);
		for (size_t j = 0; j < net.dim; j++) {
			double keep = w[j], h = 1e-5, fd, an = g[j], pen;

			if (j < net.npen && keep == 0.0)
				continue; /* padding of the first layer */
			/*
			 * The reference has no penalty: add its derivative in double. g holds
			 * the L2 term but not the L1 subgradient, which is added to both
			 * sides (its value was checked with the linear models).
			 */
			pen = j < net.npen ? o.l2 * keep + o.l1 * (keep > 0 ? 1.0 : -1.0) : 0.0;
			an += j < net.npen ? o.l1 * (keep > 0 ? 1.0 : -1.0) : 0.0;
			w[j] = keep + h;
			fd = reference_loss(&net, &d, w, nc);
			w[j] = keep - h;
			fd = (fd - reference_loss(&net, &d, w, nc)) / (2 * h);
			w[j] = keep;
			/* The network runs in float32: compare to 2e-3 of the gradient's scale. */
			ck_assert_msg(fabs(fd + pen - an) <= 2e-3 * (0.05 + fabs(fd)),
				      "%s k=%zu layers=%u %s reg=%s: d/dw%zu analytic %.7g fd %.7g",
				      fit_loss_name(nc->loss), nc->kout, nc->layers,
				      fit_activation_name(nc->act), regs[r].name, j, an, fd + pen);
		}
	}
	/* and the value itself */
	o.l1 = o.l2 = 0.0;
	ck_assert_int_eq(fit__objective_grad(&o, w, NULL, d.n, &f, g), 0);
	ck_assert_msg(fabs(f - reference_loss(&net, &d, w, nc)) < 1e-5 * (1 + fabs(f)), "value %g",
		      f);
	free(w);
	free(g);
	free(mem);
	free_data(&d);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fit_grad");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_linear_gradients, 0, sizeof(losses) / sizeof(losses[0]));
	tcase_add_loop_test(tc, test_linear_hessian, 0, sizeof(losses) / sizeof(losses[0]));
	tcase_add_test(tc, test_batch_gradient);
	tcase_add_loop_test(tc, test_mlp_gradients, 0, sizeof(nets) / sizeof(nets[0]));
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
