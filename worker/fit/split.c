/*
 * split.c - k-fold and holdout splits, stratified by class or plain, from a
 * seed (stream 3 of the core's generator).
 *
 * Rows are put in (label, row) order - counted into place for class ids,
 * sorted for any other int32 labels - then each class is shuffled on its
 * own and dealt round the folds, starting where the previous class stopped.
 */
#include "worker/fit/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/frame.h"
#include "worker/fit/internal.h"

struct lab_row {
	int64_t label;
	size_t row;
};

static int cmp_lab_row(const void *a, const void *b)
{
	const struct lab_row *x = a, *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

/*
 * Rows 0..n-1 in (label, row) order into order: counted into place when
 * the labels span at most n + 1 values (class ids do, and no labels is one
 * label), else sorted. Both give the same order.
 */
static int order_rows(const int32_t *labels, size_t n, size_t *order)
{
	int64_t lo = 0, hi = 0;
	struct lab_row *lr;
	size_t *at;

	for (size_t i = 0; labels != NULL && i < n; i++) {
		lo = i == 0 || labels[i] < lo ? labels[i] : lo;
		hi = i == 0 || labels[i] > hi ? labels[i] : hi;
	}
	if ((uint64_t)(hi - lo) <= n && (at = calloc((size_t)(hi - lo) + 2, sizeof(*at)))) {
		for (size_t i = 0; i < n; i++)
			at[(labels ? labels[i] - lo : 0) + 1]++;
		for (int64_t v = 1; v <= hi - lo; v++)
			at[v] += at[v - 1];
		for (size_t i = 0; i < n; i++)
			order[at[labels ? labels[i] - lo : 0]++] = i;
		free(at);
		return FITD_OK;
	}
	lr = malloc((n ? n : 1) * sizeof(*lr));
	if (lr == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		lr[i].label = labels != NULL ? labels[i] : 0;
		lr[i].row = i;
	}
	qsort(lr, n, sizeof(*lr), cmp_lab_row);
	for (size_t i = 0; i < n; i++)
		order[i] = lr[i].row;
	free(lr);
	return FITD_OK;
}

/*
 * Groups 0..n-1 by label (all one group when labels is NULL) and shuffles
 * each group: order receives the rows, group_end the end of each group.
 */
static int group_rows(const int32_t *labels, size_t n, uint64_t seed, size_t *order,
		      size_t *group_end, size_t *ngroups)
{
	struct fit_rng rng;
	size_t g = 0, start = 0;

	if (order_rows(labels, n, order) != FITD_OK)
		return FITD_ENOMEM;
	fit_rng_seed(&rng, seed, 3);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 == n || (labels != NULL && labels[order[i + 1]] != labels[order[i]])) {
			fit_rng_shuffle(&rng, order + start, i + 1 - start);
			group_end[g++] = i + 1;
			start = i + 1;
		}
	}
	*ngroups = g;
	return FITD_OK;
}

int fit_split_kfold(const int32_t *labels, size_t n, unsigned k, uint64_t seed, uint32_t *fold,
		    struct fitd_error *err)
{
	size_t *order, *end, ng, at = 0, start = 0;
	int rc;

	if (k < 2 || k > n)
		return fitd_error_set(err, FITD_EINVAL, "bad_folds",
				      "%u folds need at least 2 and at most %zu rows", k, n);
	order = malloc(n * sizeof(*order));
	end = malloc(n * sizeof(*end));
	rc = order && end ? group_rows(labels, n, seed, order, end, &ng) : FITD_ENOMEM;
	for (size_t g = 0; rc == FITD_OK && g < ng; g++) {
		for (size_t i = start; i < end[g]; i++)
			fold[order[i]] = (uint32_t)(at++ % k);
		start = end[g];
	}
	free(order);
	free(end);
	return rc == FITD_OK ? FITD_OK : fitd_error_set(err, rc, NULL, "out of memory");
}

int fit_split_holdout(const int32_t *labels, size_t n, double fraction, uint64_t seed,
		      uint8_t *is_valid, struct fitd_error *err)
{
	size_t *order, *end, ng, start = 0, nvalid = 0, big = 0;
	int rc;

	if (!(fraction > 0.0 && fraction < 1.0) || n < 2)
		return fitd_error_set(err, FITD_EINVAL, "bad_holdout",
				      "a holdout needs 0 < fraction < 1 and at least 2 rows");
	order = malloc(n * sizeof(*order));
	end = malloc(n * sizeof(*end));
	rc = order && end ? group_rows(labels, n, seed, order, end, &ng) : FITD_ENOMEM;
	if (rc == FITD_OK) {
		memset(is_valid, 0, n);
		for (size_t g = 0; g < ng; g++) {
			size_t cnt = end[g] - start,
			       take = (size_t)floor(fraction * (double)cnt + 0.5);

			for (size_t i = 0; i < take; i++)
				is_valid[order[start + i]] = 1;
			nvalid += take;
			if (cnt > end[big] - (big ? end[big - 1] : 0))
				big = g;
			start = end[g];
		}
		/* At least one row on each side, from the largest class. */
		start = big ? end[big - 1] : 0;
		if (nvalid == 0)
			is_valid[order[start]] = 1;
		if (nvalid == n)
			is_valid[order[start]] = 0;
	}
	free(order);
	free(end);
	return rc == FITD_OK ? FITD_OK : fitd_error_set(err, rc, NULL, "out of memory");
}

struct fit_split {
	unsigned count;
	size_t **train, **valid; /* count lists each */
	size_t *ntrain, *nvalid;
};

void fit_split_free(struct fit_split *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->count; i++) {
		free(s->train ? s->train[i] : NULL);
		free(s->valid ? s->valid[i] : NULL);
	}
	free(s->train);
	free(s->valid);
	free(s->ntrain);
	free(s->nvalid);
	free(s);
}

unsigned fit_split_count(const struct fit_split *s)
{
	return s->count;
}

void fit_split_get(const struct fit_split *s, unsigned i, const size_t **train, size_t *ntrain,
		   const size_t **valid, size_t *nvalid)
{
	*train = s->train[i];
	*ntrain = s->ntrain[i];
	*valid = s->valid[i];
	*nvalid = s->nvalid[i];
}

/* Rows with a target value and, for classification, a label per such row. */
static int target_labels(const struct fit_column *col, enum fit_task task, size_t nrows,
			 size_t *rows, int32_t *labels, size_t *n)
{
	double *vals;
	size_t m = 0, k = 0;

	for (size_t r = 0; r < nrows; r++)
		if (col->type == FIT_COL_NUMERIC ? !isnan(col->num[r]) : col->cat[r] >= 0)
			rows[m++] = r;
	*n = m;
	if (task == FIT_TASK_REGRESSION || col->type == FIT_COL_CATEGORICAL) {
		for (size_t i = 0; task != FIT_TASK_REGRESSION && i < m; i++)
			labels[i] = col->cat[rows[i]];
		return FITD_OK;
	}
	/* Numeric classes: number distinct values in ascending order. */
	vals = malloc((m ? m : 1) * sizeof(*vals));
	if (vals == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < m; i++)
		vals[i] = col->num[rows[i]];
	fit_distinct_values(vals, m, &k);
	for (size_t i = 0; i < m; i++)
		labels[i] = (int32_t)fit_distinct_find(vals, k, col->num[rows[i]]);
	free(vals);
	return FITD_OK;
}

/* Pair i: rows whose part[] is (or, for train, is not) p, ascending. */
static int make_pair(struct fit_split *s, unsigned i, uint32_t p, const size_t *rows,
		     const uint32_t *part, size_t n)
{
	size_t nv = 0, nt = 0;

	for (size_t j = 0; j < n; j++)
		nv += part[j] == p;
	s->train[i] = malloc((n - nv ? n - nv : 1) * sizeof(size_t));
	s->valid[i] = malloc((nv ? nv : 1) * sizeof(size_t));
	if (s->train[i] == NULL || s->valid[i] == NULL)
		return FITD_ENOMEM;
	for (size_t j = 0; j < n; j++) {
		if (part[j] == p)
			s->valid[i][s->nvalid[i]++] = rows[j];
		else
			s->train[i][nt++] = rows[j];
	}
	s->ntrain[i] = nt;
	return FITD_OK;
}

/* The folds of every repeat, or the holdout, into pairs. */
static int make_pairs(struct fit_split *s, const int32_t *labels, enum fit_task task,
		      unsigned folds, unsigned repeats, double fraction, uint64_t seed,
		      const size_t *rows, uint32_t *part, size_t n, struct fitd_error *err)
{
	const int32_t *strata = task == FIT_TASK_CLASSIFICATION ? labels : NULL;
	uint8_t *isv;
	int rc;

	if (folds < 2) {
		isv = malloc(n ? n : 1);
		if (isv == NULL)
			return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		rc = fit_split_holdout(strata, n, fraction, seed, isv, err);
		for (size_t j = 0; rc == FITD_OK && j < n; j++)
			part[j] = isv[j] ? 0 : 1;
		free(isv);
		if (rc == FITD_OK && make_pair(s, 0, 0, rows, part, n) != FITD_OK)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		return rc;
	}
	for (unsigned r = 0; r < repeats; r++) {
		rc = fit_split_kfold(strata, n, folds, r == 0 ? seed : fit_hash64(seed + r), part,
				     err);
		if (rc != FITD_OK)
			return rc;
		for (unsigned f = 0; f < folds; f++)
			if (make_pair(s, r * folds + f, f, rows, part, n) != FITD_OK)
				return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	}
	return FITD_OK;
}

int fit_split_new(const struct fit_frame *frame, size_t target, enum fit_task task, unsigned folds,
		  unsigned repeats, double fraction, uint64_t seed, struct fit_split **out,
		  struct fitd_error *err)
{
	size_t nrows = frame->nrows, n = 0;
	size_t *rows = malloc((nrows ? nrows : 1) * sizeof(size_t));
	int32_t *labels = malloc((nrows ? nrows : 1) * sizeof(int32_t));
	uint32_t *part = malloc((nrows ? nrows : 1) * sizeof(uint32_t));
	struct fit_split *s = calloc(1, sizeof(*s));
	unsigned count = folds >= 2 ? folds * (repeats ? repeats : 1) : 1;
	int rc = FITD_OK;

	*out = NULL;
	if (target >= frame->ncols)
		rc = fitd_error_set(err, FITD_EINVAL, "bad_target", "no such target column");
	else if (!rows || !labels || !part || !s)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	else if (target_labels(&frame->cols[target], task, nrows, rows, labels, &n) != FITD_OK)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (rc == FITD_OK) {
		s->count = count;
		s->train = calloc(count, sizeof(*s->train));
		s->valid = calloc(count, sizeof(*s->valid));
		s->ntrain = calloc(count, sizeof(size_t));
		s->nvalid = calloc(count, sizeof(size_t));
		if (!s->train || !s->valid || !s->ntrain || !s->nvalid)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		if (rc == FITD_OK)
			rc = make_pairs(s, labels, task, folds, repeats ? repeats : 1, fraction,
					seed, rows, part, n, err);
	}
	free(rows);
	free(labels);
	free(part);
	if (rc != FITD_OK) {
		fit_split_free(s);
		return rc;
	}
	*out = s;
	return FITD_OK;
}
