/*
 * gbdt_fixture.c - see gbdt_fixture.h.
 */
#include "tests/fit/gbdt_fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double gx_uniform(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static void set_level(struct fit_frame_builder *b, size_t col, size_t row, int32_t code)
{
	char name[16];
	int len;

	if (code < 0)
		return;
	len = snprintf(name, sizeof(name), "L%05d", (int)code);
	ck_assert_int_eq(fit_frame_builder_set_cat(b, col, row, name, (size_t)len), 0);
}

static struct fit_frame *build(const struct gx *g, size_t rename, int32_t code)
{
	struct fit_frame_builder *b;
	struct fit_frame *f;
	char name[32];

	ck_assert_int_eq(fit_frame_builder_new(g->n, g->nnum + g->ncat, &b), 0);
	for (size_t j = 0; j < g->nnum; j++) {
		snprintf(name, sizeof(name), "x%zu", j);
		ck_assert_int_eq(fit_frame_builder_column(b, j, name, FIT_COL_NUMERIC), 0);
		for (size_t i = 0; i < g->n; i++)
			ck_assert_int_eq(fit_frame_builder_set_num(b, j, i, g->num[j * g->n + i]),
					 0);
	}
	for (size_t j = 0; j < g->ncat; j++) {
		size_t col = g->nnum + j;

		snprintf(name, sizeof(name), "c%zu", j);
		ck_assert_int_eq(fit_frame_builder_column(b, col, name, FIT_COL_CATEGORICAL), 0);
		for (size_t i = 0; i < g->n; i++) {
			int32_t c = g->cat[j * g->n + i];

			if (j == rename && c == code)
				ck_assert_int_eq(fit_frame_builder_set_cat(b, col, i, "ZZ", 2), 0);
			else
				set_level(b, col, i, c);
		}
	}
	ck_assert_int_eq(fit_frame_builder_finish(b, &f), 0);
	return f;
}

void gx_make(struct gx *g, size_t n, size_t nnum, size_t ncat, const size_t *levels, double miss,
	     uint64_t seed)
{
	uint64_t st = seed;

	ck_assert_uint_le(nnum + ncat, GX_MAX_COLS);
	memset(g, 0, sizeof(*g));
	g->n = n;
	g->nnum = nnum;
	g->ncat = ncat;
	g->num = malloc((nnum ? nnum : 1) * n * sizeof(double));
	g->cat = malloc((ncat ? ncat : 1) * n * sizeof(int32_t));
	g->rows = malloc(n * sizeof(size_t));
	g->y = calloc(n, sizeof(double));
	g->label = calloc(n, sizeof(int32_t));
	for (size_t i = 0; i < n; i++)
		g->rows[i] = i;
	for (size_t j = 0; j < nnum; j++)
		for (size_t i = 0; i < n; i++) {
			double v = 2.0 * gx_uniform(&st) - 1.0;

			g->num[j * n + i] = gx_uniform(&st) < miss ? NAN : v;
		}
	for (size_t j = 0; j < ncat; j++)
		for (size_t i = 0; i < n; i++) {
			int32_t c = (int32_t)(gx_uniform(&st) * (double)levels[j]);

			g->cat[j * n + i] = gx_uniform(&st) < miss ? -1 : c;
		}
	g->nfeat = nnum + ncat;
	for (size_t j = 0; j < g->nfeat; j++)
		g->feat[j] = j;
	g->frame = build(g, ncat, -2);
}

struct fit_frame *gx_frame_with_unseen(const struct gx *g, size_t rename, int32_t code)
{
	return build(g, rename, code);
}

void gx_free(struct gx *g)
{
	fit_frame_free(g->frame);
	free(g->num);
	free(g->cat);
	free(g->rows);
	free(g->y);
	free(g->label);
	memset(g, 0, sizeof(*g));
}

struct fit_gbdt_problem gx_problem(const struct gx *g, size_t ntrain, size_t nvalid,
				   size_t nclasses)
{
	struct fit_gbdt_problem p = { g->frame,
				      g->feat,
				      g->nfeat,
				      g->rows,
				      ntrain,
				      nvalid ? g->rows + ntrain : NULL,
				      nvalid,
				      nclasses,
				      nclasses ? NULL : g->y,
				      nclasses ? g->label : NULL };

	return p;
}

struct fit_gbdt_model *gx_train(const struct fit_gbdt_problem *prob,
				const struct fit_gbdt_params *p)
{
	struct fit_gbdt_model *m = NULL;
	struct fitd_error err = { 0 };
	int rc = fit_gbdt_train(prob, p, NULL, &m, &err);

	ck_assert_msg(rc == 0, "train failed: %s (%s)", err.message, err.code);
	return m;
}

double *gx_predict(const struct fit_gbdt_model *m, const struct fit_frame *frame, size_t n,
		   int threads)
{
	size_t k = fit_gbdt_desc(m)->noutputs;
	double *z = malloc((n ? n : 1) * k * sizeof(double));
	struct fitd_error err = { 0 };
	int rc = fit_gbdt_predict(m, frame, NULL, n, threads, z, &err);

	ck_assert_msg(rc == 0, "predict failed: %s", err.message);
	return z;
}

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *src, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

#define PUT(b, v) put(b, &(v), sizeof(v))

static void put_params(struct buf *b, const struct fit_gbdt_params *p, int portable)
{
	int threads = portable ? 0 : p->threads;

	PUT(b, p->trees);
	PUT(b, p->learning_rate);
	PUT(b, p->max_leaves);
	PUT(b, p->max_depth);
	PUT(b, p->min_child_weight);
	PUT(b, p->min_leaf_rows);
	PUT(b, p->min_split_gain);
	PUT(b, p->subsample);
	PUT(b, p->colsample);
	PUT(b, p->max_bins);
	PUT(b, p->l1);
	PUT(b, p->l2);
	PUT(b, p->patience);
	PUT(b, p->loss);
	PUT(b, p->huber_delta);
	PUT(b, p->seed);
	PUT(b, threads);
}

size_t gx_serialize(const struct fit_gbdt_desc *d, int portable, unsigned char **out)
{
	struct buf b = { 0 };
	size_t work = portable ? 0 : d->report.work_bytes;

	put_params(&b, &d->params, portable);
	PUT(&b, d->nclasses);
	PUT(&b, d->noutputs);
	put(&b, d->base, d->noutputs * sizeof(double));
	PUT(&b, d->report.rounds);
	PUT(&b, d->report.best_round);
	PUT(&b, d->report.train_loss);
	PUT(&b, d->report.valid_loss);
	PUT(&b, d->report.stopped_early);
	PUT(&b, work);
	PUT(&b, d->ncolumns);
	for (size_t j = 0; j < d->ncolumns; j++) {
		put(&b, d->columns[j].name, strlen(d->columns[j].name) + 1);
		PUT(&b, d->columns[j].type);
		PUT(&b, d->columns[j].nlevels);
		for (size_t l = 0; l < d->columns[j].nlevels; l++)
			put(&b, d->columns[j].levels[l], strlen(d->columns[j].levels[l]) + 1);
	}
	PUT(&b, d->ntrees);
	for (size_t t = 0; t < d->ntrees; t++) {
		const struct fit_gbdt_tree *tr = &d->trees[t];
		size_t n = tr->nnodes;

		PUT(&b, n);
		put(&b, tr->column, n * sizeof(int32_t));
		put(&b, tr->left, n * sizeof(int32_t));
		put(&b, tr->right, n * sizeof(int32_t));
		put(&b, tr->default_left, n);
		put(&b, tr->value, n * sizeof(double));
		put(&b, tr->cat, n * sizeof(uint32_t));
		put(&b, tr->cover, n * sizeof(double));
		put(&b, tr->gain, n * sizeof(double));
	}
	PUT(&b, d->ncat_words);
	put(&b, d->cat_bits, d->ncat_words * sizeof(uint32_t));
	*out = b.p;
	return b.n;
}

static void *dup(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(q);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

struct gx_copy *gx_copy_new(const struct fit_gbdt_desc *d)
{
	struct gx_copy *c = calloc(1, sizeof(*c));
	size_t nt = d->ntrees, nc = d->ncolumns;

	c->d = *d;
	c->nt = nt;
	c->nc = nc;
	c->base = dup(d->base, d->noutputs * sizeof(double));
	c->cat_bits = dup(d->cat_bits, d->ncat_words * sizeof(uint32_t));
	c->columns = dup(d->columns, nc * sizeof(*c->columns));
	c->names = calloc(nc + 1, sizeof(char *));
	c->levels = calloc(nc + 1, sizeof(char **));
	for (size_t j = 0; j < nc; j++) {
		c->names[j] = strdup(d->columns[j].name);
		c->columns[j].name = c->names[j];
		c->levels[j] = calloc(d->columns[j].nlevels + 1, sizeof(char *));
		for (size_t l = 0; l < d->columns[j].nlevels; l++)
			c->levels[j][l] = strdup(d->columns[j].levels[l]);
		c->columns[j].levels = (const char *const *)c->levels[j];
	}
	c->trees = dup(d->trees, nt * sizeof(*c->trees));
#define ARR(f) c->f = calloc(nt + 1, sizeof(*c->f))
	ARR(column), ARR(left), ARR(right), ARR(default_left), ARR(value), ARR(cover), ARR(gain),
	    ARR(cat);
#undef ARR
	for (size_t t = 0; t < nt; t++) {
		const struct fit_gbdt_tree *s = &d->trees[t];
		size_t n = s->nnodes;

		c->trees[t].column = c->column[t] = dup(s->column, n * sizeof(int32_t));
		c->trees[t].left = c->left[t] = dup(s->left, n * sizeof(int32_t));
		c->trees[t].right = c->right[t] = dup(s->right, n * sizeof(int32_t));
		c->trees[t].default_left = c->default_left[t] = dup(s->default_left, n);
		c->trees[t].value = c->value[t] = dup(s->value, n * sizeof(double));
		c->trees[t].cover = c->cover[t] = dup(s->cover, n * sizeof(double));
		c->trees[t].gain = c->gain[t] = dup(s->gain, n * sizeof(double));
		c->trees[t].cat = c->cat[t] = dup(s->cat, n * sizeof(uint32_t));
	}
	c->d.base = c->base;
	c->d.cat_bits = c->cat_bits;
	c->d.columns = c->columns;
	c->d.trees = c->trees;
	return c;
}

void gx_copy_free(struct gx_copy *c)
{
	if (c == NULL)
		return;
	for (size_t j = 0; j < c->nc; j++) {
		for (size_t l = 0; c->levels[j][l] != NULL; l++)
			free(c->levels[j][l]);
		free(c->levels[j]);
		free(c->names[j]);
	}
	for (size_t t = 0; t < c->nt; t++) {
		free(c->column[t]);
		free(c->left[t]);
		free(c->right[t]);
		free(c->default_left[t]);
		free(c->value[t]);
		free(c->cover[t]);
		free(c->gain[t]);
		free(c->cat[t]);
	}
	free(c->column), free(c->left), free(c->right), free(c->default_left);
	free(c->value), free(c->cover), free(c->gain), free(c->cat);
	free(c->names), free(c->levels), free(c->columns), free(c->trees);
	free(c->base), free(c->cat_bits);
	free(c);
}
