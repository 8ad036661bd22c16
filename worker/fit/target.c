/*
 * target.c - what the model predicts: the classes of a classification target
 * or the standardization of a regression target, fitted on training rows.
 *
 * Classes come from a categorical column (its levels present in training, in
 * byte order) or from an integer-valued numeric column (its distinct values,
 * ascending, named with "%.17g"). Looking rows up again, in the training frame
 * or any other, maps a level by name and a number by value, so a class the
 * model never saw becomes -1 rather than some other class.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int fit_regression(const struct fit_column *col, const size_t *rows, size_t n,
			  struct fit__target *t, struct fitd_error *err)
{
	size_t m = 0;
	double sum = 0.0, ss = 0.0;

	for (size_t i = 0; i < n; i++) {
		double v = col->num[rows[i]];

		if (!isnan(v)) {
			sum += v;
			m++;
		}
	}
	if (m == 0)
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "no_target",
				      "no training row has a target value");
	t->center = sum / (double)m;
	if (!isfinite(t->center))
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
				      "the target's values are too large");
	for (size_t i = 0; i < n; i++) {
		double v = col->num[rows[i]];

		if (!isnan(v))
			ss += (v - t->center) * (v - t->center);
	}
	t->scale = sqrt(ss / (double)m);
	/*
	 * Deviations past about 1e154 square past the largest double: the fit
	 * would then train on unscaled values and diverge, and RMSE and R^2 are
	 * not finite on them either.
	 */
	if (!isfinite(t->scale))
		return fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
				      "the target's values are too large: their squared "
				      "deviations pass the largest double; rescale the column");
	if (!(t->scale > 0.0))
		t->scale = 1.0;
	return FITD_OK;
}

static int name_classes_numeric(struct fit__target *t)
{
	char buf[64];

	for (size_t k = 0; k < t->nclasses; k++) {
		snprintf(buf, sizeof(buf), "%.17g", t->values[k]);
		t->classes[k] = strdup(buf);
		if (t->classes[k] == NULL)
			return FITD_ENOMEM;
		t->value_class[k] = (int32_t)k;
	}
	return FITD_OK;
}

#define FEW_CLASSES 256 /* distinct values kept by insertion before falling back to a sort */

/*
 * Class targets have few values, so a small sorted set with insertion is
 * linear in m; past FEW_CLASSES distinct values it sorts everything instead.
 */
void fit_distinct_values(double *v, size_t m, size_t *k)
{
	double set[FEW_CLASSES];
	size_t n = 0;

	for (size_t i = 0; i < m; i++) {
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (set[mid] < v[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n && set[lo] == v[i])
			continue;
		if (n == FEW_CLASSES) {
			qsort(v, m, sizeof(*v), cmp_double);
			n = 0;
			for (size_t j = 0; j < m; j++)
				if (j == 0 || v[j] != v[n - 1])
					v[n++] = v[j];
			*k = n;
			return;
		}
		memmove(set + lo + 1, set + lo, (n - lo) * sizeof(double));
		set[lo] = v[i];
		n++;
	}
	memcpy(v, set, n * sizeof(double));
	*k = n;
}

size_t fit_distinct_find(const double *vals, size_t k, double x)
{
	size_t lo = 0, hi = k;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vals[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k && vals[lo] == x ? lo : k;
}

static int fit_numeric_classes(const struct fit_column *col, const size_t *rows, size_t n,
			       struct fit__target *t, struct fitd_error *err)
{
	double *v = malloc((n ? n : 1) * sizeof(*v));
	size_t m = 0, k = 0;
	int rc = FITD_OK;

	if (v == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		double x = col->num[rows[i]];

		if (isnan(x))
			continue;
		if (x != floor(x) || fabs(x) > 9007199254740992.0) {
			rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
					    "a numeric class target must hold integers, not %g", x);
			goto out;
		}
		v[m++] = x;
	}
	fit_distinct_values(v, m, &k);
	t->nclasses = k;
	t->values = v;
	v = NULL;
	t->value_class = malloc((k ? k : 1) * sizeof(*t->value_class));
	t->classes = calloc(k ? k : 1, sizeof(*t->classes));
	if (t->value_class == NULL || t->classes == NULL || name_classes_numeric(t) != FITD_OK)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
out:
	free(v);
	return rc;
}

static int fit_level_classes(const struct fit_column *col, const size_t *rows, size_t n,
			     struct fit__target *t, struct fitd_error *err)
{
	size_t *count = calloc(col->nlevels ? col->nlevels : 1, sizeof(*count));
	size_t k = 0;
	int rc = FITD_OK;

	if (count == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int32_t c = col->cat[rows[i]];

		if (c >= 0 && (size_t)c < col->nlevels)
			count[c]++;
	}
	for (size_t l = 0; l < col->nlevels; l++)
		k += count[l] > 0;
	t->classes = calloc(k ? k : 1, sizeof(*t->classes));
	if (t->classes == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		goto out;
	}
	for (size_t l = 0; l < col->nlevels; l++) {
		if (count[l] == 0)
			continue;
		t->classes[t->nclasses] = strdup(col->levels[l]);
		if (t->classes[t->nclasses] == NULL) {
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
			goto out;
		}
		t->nclasses++;
	}
out:
	free(count);
	return rc;
}

int fit__target_fit(const struct fit_column *col, enum fit_task task, const size_t *rows, size_t n,
		    struct fit__target *out, struct fitd_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->task = task;
	out->scale = 1.0;
	if (task == FIT_TASK_REGRESSION) {
		if (col->type != FIT_COL_NUMERIC)
			return fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
					      "a regression target must be numeric");
		return fit_regression(col, rows, n, out, err);
	}
	if (col->type == FIT_COL_NUMERIC)
		rc = fit_numeric_classes(col, rows, n, out, err);
	else
		rc = fit_level_classes(col, rows, n, out, err);
	if (rc == FITD_OK && out->nclasses < 2)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "one_class",
				    "the training rows hold %zu class(es); at least two are needed",
				    out->nclasses);
	if (rc != FITD_OK)
		fit__target_release(out);
	return rc;
}

struct value_pair {
	double value;
	int32_t cls;
};

static int cmp_pair(const void *a, const void *b)
{
	return cmp_double(&((const struct value_pair *)a)->value,
			  &((const struct value_pair *)b)->value);
}

/* Classes whose names all read as numbers can be looked up by value. */
static int copy_values(struct fit__target *t)
{
	struct value_pair *pairs = calloc(t->nclasses, sizeof(*pairs));

	if (pairs == NULL)
		return FITD_ENOMEM;
	for (size_t k = 0; k < t->nclasses; k++) {
		char *end;
		double v = strtod(t->classes[k], &end);

		if (end == t->classes[k] || *end != '\0' || !isfinite(v)) {
			free(pairs);
			return FITD_OK;
		}
		pairs[k].value = v;
		pairs[k].cls = (int32_t)k;
	}
	qsort(pairs, t->nclasses, sizeof(*pairs), cmp_pair);
	t->values = malloc(t->nclasses * sizeof(*t->values));
	t->value_class = malloc(t->nclasses * sizeof(*t->value_class));
	if (t->values != NULL && t->value_class != NULL)
		for (size_t k = 0; k < t->nclasses; k++) {
			t->values[k] = pairs[k].value;
			t->value_class[k] = pairs[k].cls;
		}
	free(pairs);
	return t->values != NULL && t->value_class != NULL ? FITD_OK : FITD_ENOMEM;
}

int fit__target_copy(const struct fit_model_desc *d, struct fit__target *out,
		     struct fitd_error *err)
{
	memset(out, 0, sizeof(*out));
	out->task = d->task;
	out->center = d->y_center;
	out->scale = d->y_scale;
	if (d->task == FIT_TASK_REGRESSION) {
		if (!isfinite(d->y_center) || !(d->y_scale > 0.0) || !isfinite(d->y_scale))
			return fitd_error_set(
			    err, FITD_EFORMAT, "bad_model",
			    "y_center and y_scale must be finite, y_scale positive");
		return FITD_OK;
	}
	if (d->nclasses < 2 || d->nclasses > ((size_t)1 << 30) || d->classes == NULL)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model",
				      "a classifier needs at least two class names");
	out->classes = calloc(d->nclasses, sizeof(*out->classes));
	if (out->classes == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t k = 0; k < d->nclasses; k++) {
		if (d->classes[k] == NULL) {
			fit__target_release(out);
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "class %zu has no name", k);
		}
		out->classes[k] = strdup(d->classes[k]);
		out->nclasses = k + 1;
		if (out->classes[k] == NULL) {
			fit__target_release(out);
			return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		}
	}
	if (copy_values(out) != FITD_OK) {
		fit__target_release(out);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	}
	return FITD_OK;
}

void fit__target_release(struct fit__target *t)
{
	for (size_t k = 0; t->classes != NULL && k < t->nclasses; k++)
		free(t->classes[k]);
	free(t->classes);
	free(t->values);
	free(t->value_class);
	memset(t, 0, sizeof(*t));
}

static int32_t class_of_value(const struct fit__target *t, double v)
{
	size_t lo = 0, hi = t->values != NULL ? t->nclasses : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->values[mid] == v)
			return t->value_class[mid];
		if (t->values[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* code -> class for each level of a categorical column; -1 when not a class. */
static int32_t *level_map(const struct fit__target *t, const struct fit_column *col)
{
	int32_t *map = malloc((col->nlevels ? col->nlevels : 1) * sizeof(*map));

	if (map == NULL)
		return NULL;
	for (size_t l = 0; l < col->nlevels; l++) {
		map[l] = -1;
		for (size_t k = 0; k < t->nclasses; k++)
			if (strcmp(col->levels[l], t->classes[k]) == 0)
				map[l] = (int32_t)k;
	}
	return map;
}

int fit__target_rows(const struct fit__target *t, const struct fit_column *col, const size_t *rows,
		     size_t n, int standardize, double *y, int32_t *label, size_t *kept_rows,
		     size_t *kept)
{
	int32_t *map = NULL;
	size_t m = 0;

	if (t->task == FIT_TASK_REGRESSION && col->type != FIT_COL_NUMERIC)
		return FITD_EUNPROCESSABLE;
	if (t->task == FIT_TASK_CLASSIFICATION && col->type == FIT_COL_CATEGORICAL) {
		map = level_map(t, col);
		if (map == NULL)
			return FITD_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t r = rows != NULL ? rows[i] : i;

		if (col->type == FIT_COL_NUMERIC ? isnan(col->num[r]) : col->cat[r] < 0)
			continue;
		if (t->task == FIT_TASK_REGRESSION) {
			double v = col->num[r];

			if (y != NULL)
				y[m] = standardize ? (v - t->center) / t->scale : v;
		} else if (label != NULL) {
			label[m] = map != NULL
				       ? ((size_t)col->cat[r] < col->nlevels ? map[col->cat[r]]
									     : -1)
				       : class_of_value(t, col->num[r]);
		}
		if (kept_rows != NULL)
			kept_rows[m] = r;
		m++;
	}
	*kept = m;
	free(map);
	return FITD_OK;
}
