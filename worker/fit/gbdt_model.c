/*
 * gbdt_model.c - the trained model: one block of storage that the public
 * description points into, its validation, the flattened predictor, and the
 * two ways in (a finished fit, a description read back).
 *
 * A model and every array it owns live in one allocation laid out with the
 * core's arena (internal.h), so fit__gbdt_model_bytes() is exact and
 * freeing is one free(). Both ways in fill the description's arrays and then
 * call fit__gbdt_model_finish(), which validates them and derives the
 * predictor from them alone, so a rebuilt model predicts bit-identically to
 * the trained one.
 *
 * The predictor flattens every tree into 16-byte nodes in breadth-first
 * order with each node's children side by side (left, then right), so a
 * walk needs one index per node and four nodes share a cache line; a leaf
 * holds its value where a split holds its threshold.
 */
#include "worker/fit/gbdt_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLAT_NODES ((size_t)FIT__GBDT_PN_CHILD) /* flat nodes of a model, at most */

static void model_layout(struct fit__arena *a, const struct fit__gbdt_shape *s,
			 struct fit_gbdt_model *m)
{
	m->columns = fit__arena_take(a, s->ncolumns, sizeof(struct fit_gbdt_column));
	m->levels = fit__arena_take(a, s->nlevels, sizeof(char *));
	m->names = fit__arena_take(a, s->name_bytes, 1);
	m->base = fit__arena_take(a, s->noutputs, sizeof(double));
	m->trees = fit__arena_take(a, s->ntrees, sizeof(struct fit_gbdt_tree));
	m->column = fit__arena_take(a, s->nnodes, sizeof(int32_t));
	m->left = fit__arena_take(a, s->nnodes, sizeof(int32_t));
	m->right = fit__arena_take(a, s->nnodes, sizeof(int32_t));
	m->default_left = fit__arena_take(a, s->nnodes, 1);
	m->value = fit__arena_take(a, s->nnodes, sizeof(double));
	m->cover = fit__arena_take(a, s->nnodes, sizeof(double));
	m->gain = fit__arena_take(a, s->nnodes, sizeof(double));
	m->cat = fit__arena_take(a, s->nnodes, sizeof(uint32_t));
	m->cat_bits = fit__arena_take(a, s->ncat_words, sizeof(uint32_t));
	m->pn = fit__arena_take(a, s->nnodes, sizeof(struct fit__gbdt_pnode));
	m->pcover = fit__arena_take(a, s->nnodes, sizeof(double));
	m->proot = fit__arena_take(a, s->ntrees + 1, sizeof(size_t));
	m->pdepth = fit__arena_take(a, s->ntrees, sizeof(uint32_t));
}

size_t fit__gbdt_model_bytes(const struct fit__gbdt_shape *s)
{
	struct fit__arena a = { 0 };
	struct fit_gbdt_model m;

	fit__arena_take(&a, 1, sizeof(struct fit_gbdt_model));
	model_layout(&a, s, &m);
	return a.overflow ? 0 : a.used;
}

int fit__gbdt_model_alloc(const struct fit__gbdt_shape *s, struct fit_gbdt_model **out)
{
	size_t bytes = fit__gbdt_model_bytes(s);
	struct fit__arena a;
	struct fit_gbdt_model *m;
	char *mem;

	*out = NULL;
	if (bytes == 0)
		return FITD_ETOOBIG;
	mem = fit__alloc(bytes);
	if (mem == NULL)
		return FITD_ENOMEM;
	memset(mem, 0, bytes);
	a = (struct fit__arena){ .base = mem, .size = bytes };
	m = fit__arena_take(&a, 1, sizeof(struct fit_gbdt_model));
	model_layout(&a, s, m);
	m->desc.noutputs = s->noutputs;
	m->desc.base = m->base;
	m->desc.ncolumns = s->ncolumns;
	m->desc.columns = m->columns;
	m->desc.ntrees = s->ntrees;
	m->desc.trees = m->trees;
	m->desc.ncat_words = s->ncat_words;
	m->desc.cat_bits = m->cat_bits;
	*out = m;
	return FITD_OK;
}

void fit_gbdt_free(struct fit_gbdt_model *m)
{
	free(m);
}

const struct fit_gbdt_desc *fit_gbdt_desc(const struct fit_gbdt_model *m)
{
	return &m->desc;
}

/* Points tree t at nodes [at, at + nnodes) of the model's node arrays. */
static void point_tree(struct fit_gbdt_model *m, size_t t, size_t at, size_t nnodes)
{
	m->trees[t] = (struct fit_gbdt_tree){
		nnodes,	       m->column + at, m->left + at,  m->right + at, m->default_left + at,
		m->value + at, m->cat + at,    m->cover + at, m->gain + at,
	};
}

/* ---- validation ---- */

static int bad(struct fitd_error *err, const char *what, size_t i)
{
	return fitd_error_set(err, FITD_EFORMAT, "bad_model", "%s (at %zu)", what, i);
}

static int check_head(const struct fit_gbdt_desc *d, struct fitd_error *err)
{
	size_t want = d->nclasses <= 2 ? 1 : d->nclasses;

	if (fit_gbdt_params_check(&d->params, d->nclasses) != NULL ||
	    d->params.loss == FIT_LOSS_AUTO)
		return bad(err, "the model's parameters are invalid", 0);
	if (d->noutputs != want || d->ntrees % d->noutputs != 0 || d->ncolumns == 0)
		return bad(err, "the model's outputs, trees or columns do not fit together", 0);
	for (size_t k = 0; k < d->noutputs; k++)
		if (!isfinite(d->base[k]))
			return bad(err, "a base score is not finite", k);
	for (size_t j = 0; j < d->ncolumns; j++) {
		const struct fit_gbdt_column *c = &d->columns[j];

		if (c->type != FIT_COL_NUMERIC && c->type != FIT_COL_CATEGORICAL)
			return bad(err, "a column has an unknown type", j);
		if (c->type == FIT_COL_NUMERIC && c->nlevels != 0)
			return bad(err, "a numeric column has levels", j);
		if (c->nlevels > FIT_GBDT_MAX_LEVELS)
			return bad(err, "a column has too many levels", j);
		for (size_t l = 1; l < c->nlevels; l++)
			if (strcmp(c->levels[l - 1], c->levels[l]) >= 0)
				return bad(err, "a column's levels are not in strict byte order",
					   j);
	}
	return FITD_OK;
}

static int check_split(const struct fit_gbdt_desc *d, const struct fit_gbdt_tree *t, size_t j)
{
	size_t n = t->nnodes, words;
	int32_t c = t->column[j];

	if (c < 0 || (size_t)c >= d->ncolumns || t->left[j] <= (int32_t)j ||
	    t->right[j] <= (int32_t)j || (size_t)t->left[j] >= n || (size_t)t->right[j] >= n ||
	    t->left[j] == t->right[j] || t->default_left[j] > 1 || !isfinite(t->gain[j]) ||
	    t->gain[j] < 0.0)
		return 0;
	if (d->columns[c].type == FIT_COL_NUMERIC)
		return isfinite(t->value[j]) && t->cat[j] == 0;
	words = (d->columns[c].nlevels + 31) / 32;
	return t->cat[j] <= d->ncat_words && words <= d->ncat_words - t->cat[j];
}

/* Checks tree t; parents (nnodes entries) is scratch. */
static int check_tree(const struct fit_gbdt_desc *d, const struct fit_gbdt_tree *t,
		      uint32_t *parents, size_t ti, struct fitd_error *err)
{
	if (t->nnodes == 0)
		return bad(err, "a tree has no nodes", ti);
	memset(parents, 0, t->nnodes * sizeof(uint32_t));
	for (size_t j = 0; j < t->nnodes; j++) {
		int leaf = t->column[j] == FIT_GBDT_LEAF;

		if (!(isfinite(t->cover[j]) && t->cover[j] > 0.0))
			return bad(err, "a node's cover is not positive", ti);
		if (leaf && (t->left[j] != 0 || t->right[j] != 0 || !isfinite(t->value[j])))
			return bad(err, "a leaf is malformed", ti);
		if (!leaf && !check_split(d, t, j))
			return bad(err, "a split is malformed", ti);
		if (!leaf) {
			parents[t->left[j]]++;
			parents[t->right[j]]++;
		}
	}
	for (size_t j = 1; j < t->nnodes; j++)
		if (parents[j] != 1)
			return bad(err, "a tree's nodes do not form one tree", ti);
	return FITD_OK;
}

/* ---- the predictor ---- */

static struct fit__gbdt_pnode flat_node(const struct fit_gbdt_model *m,
					const struct fit_gbdt_tree *t, size_t j)
{
	struct fit__gbdt_pnode p = { .col = t->column[j] };
	int32_t c = t->column[j];

	if (c == FIT_GBDT_LEAF) {
		p.col = (int32_t)m->desc.ncolumns;
		p.child = FIT__GBDT_PN_DL; /* and the leaf's own index */
		p.u.leaf = t->value[j];
		return p;
	}
	if (t->default_left[j])
		p.child |= FIT__GBDT_PN_DL;
	if (m->desc.columns[c].type == FIT_COL_NUMERIC) {
		p.u.thr = t->value[j];
		return p;
	}
	p.child |= FIT__GBDT_PN_CAT;
	p.u.cat.off = t->cat[j];
	p.u.cat.nlevels = (uint32_t)m->desc.columns[c].nlevels;
	return p;
}

/* Flattens tree ti breadth-first from flat node at; order and depth are scratch. */
static size_t flatten(struct fit_gbdt_model *m, size_t ti, size_t at, int32_t *order,
		      uint32_t *depth)
{
	const struct fit_gbdt_tree *t = &m->desc.trees[ti];
	size_t next = 1;

	order[0] = 0;
	depth[0] = 0;
	m->pdepth[ti] = 0;
	for (size_t q = 0; q < next; q++) {
		int32_t j = order[q];

		m->pn[at + q] = flat_node(m, t, (size_t)j);
		m->pcover[at + q] = t->cover[j];
		if (t->column[j] == FIT_GBDT_LEAF) {
			m->pn[at + q].child |= (uint32_t)(at + q);
			m->pdepth[ti] = depth[q] > m->pdepth[ti] ? depth[q] : m->pdepth[ti];
			m->maxdepth = depth[q] > m->maxdepth ? depth[q] : m->maxdepth;
			continue;
		}
		m->pn[at + q].child |= (uint32_t)(at + next);
		order[next] = t->left[j];
		order[next + 1] = t->right[j];
		depth[next] = depth[next + 1] = depth[q] + 1;
		next += 2;
	}
	return at + next;
}

int fit__gbdt_model_finish(struct fit_gbdt_model *m, struct fitd_error *err)
{
	const struct fit_gbdt_desc *d = &m->desc;
	size_t total = 0, most = 1, at = 0;
	int32_t *order;
	uint32_t *depth;
	int rc = check_head(d, err);

	for (size_t t = 0; t < d->ntrees; t++) {
		total += d->trees[t].nnodes;
		most = d->trees[t].nnodes > most ? d->trees[t].nnodes : most;
	}
	if (rc == FITD_OK && total > MAX_FLAT_NODES)
		rc = bad(err, "the model has too many nodes", total);
	order = malloc(most * (sizeof(int32_t) + sizeof(uint32_t)));
	depth = (uint32_t *)(order + most);
	if (rc == FITD_OK && order == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t t = 0; rc == FITD_OK && t < d->ntrees; t++)
		rc = check_tree(d, &d->trees[t], depth, t, err);
	m->maxdepth = 0;
	for (size_t t = 0; rc == FITD_OK && t < d->ntrees; t++) {
		m->proot[t] = at;
		at = flatten(m, t, at, order, depth);
	}
	if (rc == FITD_OK)
		m->proot[d->ntrees] = at;
	free(order);
	return rc;
}

/* ---- a model from a description ---- */

/* Appends s (NUL included) at *at in the model's names; returns the copy. */
static const char *put_name(struct fit_gbdt_model *m, size_t *at, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = m->names + *at;

	memcpy(p, s, len);
	*at += len;
	return p;
}

static int shape_columns(const struct fit_gbdt_desc *d, struct fit__gbdt_shape *s,
			 struct fitd_error *err)
{
	if (d->ncolumns > 0 && d->columns == NULL)
		return bad(err, "the model has no columns", 0);
	for (size_t j = 0; j < d->ncolumns; j++) {
		const struct fit_gbdt_column *c = &d->columns[j];

		if (c->name == NULL || c->name[0] == '\0')
			return bad(err, "a column has no name", j);
		s->name_bytes += strlen(c->name) + 1;
		if (c->type != FIT_COL_CATEGORICAL && c->nlevels != 0)
			return bad(err, "a numeric column has levels", j);
		if (c->type != FIT_COL_CATEGORICAL)
			continue;
		if (c->nlevels > FIT_GBDT_MAX_LEVELS || (c->nlevels > 0 && c->levels == NULL))
			return bad(err, "a column's levels are missing", j);
		for (size_t l = 0; l < c->nlevels; l++) {
			if (c->levels[l] == NULL)
				return bad(err, "a level has no name", j);
			s->name_bytes += strlen(c->levels[l]) + 1;
		}
		s->nlevels += c->nlevels;
	}
	return FITD_OK;
}

static int shape_of(const struct fit_gbdt_desc *d, struct fit__gbdt_shape *s,
		    struct fitd_error *err)
{
	int rc;

	memset(s, 0, sizeof(*s));
	/* the counts that size the copies are checked before anything is read */
	if (d->nclasses == 1 || d->noutputs != (d->nclasses <= 2 ? 1 : d->nclasses) ||
	    d->noutputs > 65536 || d->base == NULL || (d->ntrees > 0 && d->trees == NULL) ||
	    (d->ncat_words > 0 && d->cat_bits == NULL) ||
	    d->ntrees > (size_t)FIT_GBDT_MAX_TREES * 65536)
		return bad(err, "the model's outputs, trees or bitsets are missing", 0);
	rc = shape_columns(d, s, err);
	for (size_t t = 0; rc == FITD_OK && t < d->ntrees; t++) {
		const struct fit_gbdt_tree *tr = &d->trees[t];

		if (tr->column == NULL || tr->left == NULL || tr->right == NULL ||
		    tr->default_left == NULL || tr->value == NULL || tr->cat == NULL ||
		    tr->cover == NULL || tr->gain == NULL || tr->nnodes > MAX_FLAT_NODES ||
		    fit__add(s->nnodes, tr->nnodes, &s->nnodes))
			rc = bad(err, "a tree's arrays are missing or too long", t);
	}
	s->ncolumns = d->ncolumns;
	s->noutputs = d->noutputs;
	s->ntrees = d->ntrees;
	s->ncat_words = d->ncat_words;
	return rc;
}

static void copy_desc(struct fit_gbdt_model *m, const struct fit_gbdt_desc *d)
{
	size_t at = 0, lv = 0, node = 0;

	m->desc.params = d->params;
	m->desc.nclasses = d->nclasses;
	m->desc.report = d->report;
	memcpy(m->base, d->base, d->noutputs * sizeof(double));
	if (d->ncat_words > 0)
		memcpy(m->cat_bits, d->cat_bits, d->ncat_words * sizeof(uint32_t));
	for (size_t j = 0; j < d->ncolumns; j++) {
		const struct fit_gbdt_column *c = &d->columns[j];
		int cat = c->type == FIT_COL_CATEGORICAL;

		m->columns[j] = (struct fit_gbdt_column){ put_name(m, &at, c->name), c->type,
							  cat ? c->nlevels : 0, m->levels + lv };
		for (size_t l = 0; cat && l < c->nlevels; l++)
			m->levels[lv++] = put_name(m, &at, c->levels[l]);
	}
	for (size_t t = 0; t < d->ntrees; t++) {
		const struct fit_gbdt_tree *s = &d->trees[t];
		size_t n = s->nnodes;

		memcpy(m->column + node, s->column, n * sizeof(int32_t));
		memcpy(m->left + node, s->left, n * sizeof(int32_t));
		memcpy(m->right + node, s->right, n * sizeof(int32_t));
		memcpy(m->default_left + node, s->default_left, n);
		memcpy(m->value + node, s->value, n * sizeof(double));
		memcpy(m->cat + node, s->cat, n * sizeof(uint32_t));
		memcpy(m->cover + node, s->cover, n * sizeof(double));
		memcpy(m->gain + node, s->gain, n * sizeof(double));
		point_tree(m, t, node, n);
		node += n;
	}
}

int fit_gbdt_rebuild(const struct fit_gbdt_desc *desc, struct fit_gbdt_model **out,
		     struct fitd_error *err)
{
	struct fit__gbdt_shape s;
	struct fit_gbdt_model *m = NULL;
	int rc = shape_of(desc, &s, err);

	*out = NULL;
	if (rc != FITD_OK)
		return rc;
	rc = fit__gbdt_model_alloc(&s, &m);
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL, "cannot allocate the model");
	copy_desc(m, desc);
	rc = fit__gbdt_model_finish(m, err);
	if (rc != FITD_OK) {
		fit_gbdt_free(m);
		return rc;
	}
	*out = m;
	return FITD_OK;
}

/* ---- a model from a finished fit ---- */

static size_t words_of(const struct fit__gbdt_feat *ft)
{
	return (ft->nlevels + 31) / 32;
}

static void fit_shape(const struct fit__gbdt_fit *fit, size_t kept, struct fit__gbdt_shape *s)
{
	const struct fit__gbdt_store *st = &fit->store;

	memset(s, 0, sizeof(*s));
	s->ncolumns = fit->nf;
	s->noutputs = fit->k;
	s->ntrees = kept;
	s->nnodes = st->root[kept];
	for (size_t f = 0; f < fit->nf; f++) {
		const struct fit__gbdt_feat *ft = &fit->data.feat[f];

		s->name_bytes += strlen(ft->src->name) + 1;
		for (size_t l = 0; ft->cat && l < ft->nlevels; l++)
			s->name_bytes += strlen(ft->src->levels[ft->level_code[l]]) + 1;
		s->nlevels += ft->cat ? ft->nlevels : 0;
	}
	for (size_t j = 0; j < s->nnodes; j++)
		if (st->feat[j] >= 0 && fit->data.feat[st->feat[j]].cat)
			s->ncat_words += words_of(&fit->data.feat[st->feat[j]]);
}

static void fill_columns(struct fit_gbdt_model *m, const struct fit__gbdt_fit *fit)
{
	size_t at = 0, lv = 0;

	for (size_t f = 0; f < fit->nf; f++) {
		const struct fit__gbdt_feat *ft = &fit->data.feat[f];

		m->columns[f] = (struct fit_gbdt_column){ put_name(m, &at, ft->src->name),
							  ft->src->type, ft->cat ? ft->nlevels : 0,
							  m->levels + lv };
		for (size_t l = 0; ft->cat && l < ft->nlevels; l++)
			m->levels[lv++] = put_name(m, &at, ft->src->levels[ft->level_code[l]]);
	}
}

/* The level bitset of a categorical split's bin mask, at *word. */
static uint32_t put_bitset(struct fit_gbdt_model *m, const struct fit__gbdt_feat *ft,
			   const uint64_t *mask, size_t *word)
{
	uint32_t off = (uint32_t)*word;

	for (size_t l = 0; l < ft->nlevels; l++)
		if (fit__gbdt_goes_left(mask, ft->level_bin[l]))
			m->cat_bits[off + l / 32] |= (uint32_t)1 << (l % 32);
	*word += words_of(ft);
	return off;
}

static void fill_trees(struct fit_gbdt_model *m, const struct fit__gbdt_fit *fit, size_t kept)
{
	const struct fit__gbdt_store *st = &fit->store;
	size_t word = 0;

	for (size_t t = 0; t < kept; t++) {
		size_t r0 = st->root[t];

		point_tree(m, t, r0, st->root[t + 1] - r0);
		for (size_t j = r0; j < st->root[t + 1]; j++) {
			int32_t f = st->feat[j];

			m->column[j] = f >= 0 ? f : FIT_GBDT_LEAF;
			m->left[j] = f >= 0 ? st->left[j] : 0;
			m->right[j] = f >= 0 ? st->left[j] + 1 : 0;
			m->default_left[j] = st->dl[j];
			m->value[j] = st->value[j];
			m->cover[j] = st->cover[j];
			m->gain[j] = st->gain[j];
			if (f >= 0 && fit->data.feat[f].cat)
				m->cat[j] = put_bitset(m, &fit->data.feat[f],
						       st->masks + 4 * (size_t)st->mask[j], &word);
		}
	}
}

int fit__gbdt_model_assemble(const struct fit__gbdt_fit *fit, struct fit_gbdt_model **out,
			     struct fitd_error *err)
{
	size_t kept = (size_t)fit->report.best_round * fit->k;
	struct fit__gbdt_shape s;
	struct fit_gbdt_model *m;
	int rc;

	fit_shape(fit, kept, &s);
	rc = fit__gbdt_model_alloc(&s, &m);
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL, "cannot allocate the model");
	fill_columns(m, fit);
	memcpy(m->base, fit->base, fit->k * sizeof(double));
	fill_trees(m, fit, kept);
	m->desc.params = *fit->p;
	m->desc.nclasses = fit->nclasses;
	m->desc.report = fit->report;
	m->desc.report.work_bytes = fit->planned - fit->released + fit__gbdt_model_bytes(&s);
	if (m->desc.report.work_bytes < fit->planned)
		m->desc.report.work_bytes = fit->planned;
	rc = fit__gbdt_model_finish(m, err);
	if (rc != FITD_OK) {
		fit_gbdt_free(m);
		return fitd_error_set(err, FITD_EINTERNAL, NULL, "the trained model is invalid");
	}
	*out = m;
	return FITD_OK;
}
