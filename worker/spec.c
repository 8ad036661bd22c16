/*
 * spec.c - the job spec: strict validation of a request body against its
 * dataset's columns, and its defaults (spec_json.c writes the normalized
 * JSON stored with the job).
 *
 * One parser serves both directions. worker_spec_parse() has the columns
 * and checks the target, the excluded columns and the task against them;
 * worker_spec_from_json() reads a normalized spec, whose task and
 * validation are already resolved, and skips only those column checks. So
 * to_json(from_json(to_json(x))) is to_json(x) by construction: every value
 * the normalized form holds passes the same checks it passed the first time.
 *
 * Errors name the field's path first ("search.max_trials: ..."): wrong JSON
 * types and unknown keys are FITD_EFORMAT, everything else
 * FITD_EUNPROCESSABLE. The first problem found is reported; fields are
 * checked in the order of the normalized spec.
 *
 * Numbers are taken as clients send them: an integer field takes any JSON
 * number with an integer value (30 or 30.0, search_json_integer()), since
 * many clients cannot promise an integer type; a fraction there (30.5) is
 * the wrong type. A duration (search.max_seconds) is any number of seconds.
 */
#include "worker/spec_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker/fit/metric.h"
#include "worker/search/space.h"

#define NAME_MAX_LEN	   256
#define HOLDOUT_ROWS	   10000 /* above this many rows: holdout by default */
#define REPEAT_ROWS	   1000	 /* below this many rows: repeated folds by default */
#define DEFAULT_REPEATS	   3
#define MAX_REPEATS	   10
#define AUTO_CLASSES_MAX   20 /* task auto: at most this many integer values ... */
#define AUTO_CLASSES_SHARE 20 /* ... and fewer than rows / this (5%) */
#define DEFAULT_TRIALS	   50
#define DEFAULT_SECONDS	   600
#define PATIENCE_MAX	   10000
#define GBDT_MIN_ROWS	   10000 /* scikit-learn's HistGradientBoosting stops early from here */
#define GBDT_MIN_ROWS_MAX  1000000000000LL

struct parse {
	const struct worker_column_info *cols; /* NULL: a stored, normalized spec */
	size_t ncols;
	size_t rows; /* rows with a target */
	const struct worker_column_info *target;
	struct worker_spec *spec;
	struct fitd_error *err;
};

static const char *const algorithm_names[] = { "auto", "random", "grid", "tpe", "asha" };

const char *worker_algorithm_name(enum worker_algorithm a)
{
	return (unsigned)a < sizeof(algorithm_names) / sizeof(algorithm_names[0])
		   ? algorithm_names[a]
		   : "?";
}

static int fail(struct parse *ps, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct parse *ps, int status, const char *code, const char *fmt, ...)
{
	char msg[FITD_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fitd_error_set(ps->err, status, code, "%s", msg);
}

static int wrong_type(struct parse *ps, const char *path, const char *what)
{
	return fail(ps, FITD_EFORMAT, "wrong_type", "%s: expected %s", path, what);
}

/* Refuses any key of obj not in keys (NULL-terminated); prefix is the object's path. */
static int known_keys(struct parse *ps, const json_t *obj, const char *prefix,
		      const char *const *keys)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val)
	{
		size_t i = 0;

		while (keys[i] != NULL && strcmp(keys[i], key) != 0)
			i++;
		if (keys[i] == NULL)
			return fail(ps, FITD_EFORMAT, "unknown_field", "%s%s%.60s: unknown key",
				    prefix, *prefix ? "." : "", key);
	}
	return FITD_OK;
}

/* An integer field: absent leaves *v alone; present must be an integer in [lo, hi]. */
static int get_int(struct parse *ps, const json_t *obj, const char *key, const char *path,
		   long long lo, long long hi, long long *v)
{
	const json_t *j = json_object_get(obj, key);

	long long x;

	if (j == NULL)
		return FITD_OK;
	if (!search_json_integer(j, &x))
		return wrong_type(ps, path, "an integer");
	if (x < lo || x > hi)
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "%s: %lld is out of range %lld..%lld", path, x, lo, hi);
	*v = x;
	return FITD_OK;
}

static int get_name(struct parse *ps, const json_t *obj, const char *key, bool required,
		    const char **out)
{
	const json_t *j = json_object_get(obj, key);

	*out = NULL;
	if (j == NULL && required)
		return fail(ps, FITD_EUNPROCESSABLE, "missing_field", "%s: required", key);
	if (j == NULL)
		return FITD_OK;
	if (!json_is_string(j))
		return wrong_type(ps, key, "a string");
	if (json_string_length(j) == 0 || json_string_length(j) > NAME_MAX_LEN)
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range", "%s: must be 1 to %d bytes",
			    key, NAME_MAX_LEN);
	*out = json_string_value(j);
	return FITD_OK;
}

static const struct worker_column_info *find_column(const struct parse *ps, const char *name)
{
	for (size_t i = 0; i < ps->ncols; i++)
		if (strcmp(ps->cols[i].name, name) == 0)
			return &ps->cols[i];
	return NULL;
}

/* Whether a and b are the same name but for case and the blanks around them. */
static bool loosely_equal(const char *a, const char *b)
{
	size_t na, nb;

	a += strspn(a, " \t");
	b += strspn(b, " \t");
	for (na = strlen(a); na > 0 && (a[na - 1] == ' ' || a[na - 1] == '\t'); na--)
		;
	for (nb = strlen(b); nb > 0 && (b[nb - 1] == ' ' || b[nb - 1] == '\t'); nb--)
		;
	return na == nb && strncasecmp(a, b, na) == 0;
}

/*
 * unknown_column for name at path; when a column differs from it only in
 * case or in blanks around it (a header written "x, y"), the message names
 * that column.
 */
static int unknown_column(struct parse *ps, const char *path, const char *name)
{
	for (size_t i = 0; i < ps->ncols; i++)
		if (loosely_equal(ps->cols[i].name, name))
			return fail(ps, FITD_EUNPROCESSABLE, "unknown_column",
				    "%s: no column named '%.64s'; the table has '%.64s'", path,
				    name, ps->cols[i].name);
	return fail(ps, FITD_EUNPROCESSABLE, "unknown_column", "%s: no column named '%.64s'", path,
		    name);
}

/* ---- dataset, target, exclude_columns ---- */

static int parse_data(struct parse *ps, const json_t *body)
{
	struct worker_spec *sp = ps->spec;
	const char *dataset, *target;
	int rc = get_name(ps, body, "dataset", true, &dataset);

	if (rc == FITD_OK)
		rc = get_name(ps, body, "target", true, &target);
	if (rc != FITD_OK)
		return rc;
	if (ps->cols != NULL) {
		ps->target = find_column(ps, target);
		if (ps->target == NULL)
			return unknown_column(ps, "target", target);
		ps->rows -= ps->target->missing < ps->rows ? ps->target->missing : ps->rows;
	}
	sp->dataset = strdup(dataset);
	sp->target = strdup(target);
	if (sp->dataset == NULL || sp->target == NULL)
		return fail(ps, FITD_ENOMEM, NULL, "dataset, target: out of memory");
	return FITD_OK;
}

static int check_exclude(struct parse *ps, const char *name, const char *path, size_t i)
{
	if (strcmp(name, ps->spec->target) == 0)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "%s: '%.64s' is the target and cannot be excluded", path, name);
	for (size_t k = 0; k < i; k++)
		if (strcmp(ps->spec->exclude[k], name) == 0)
			return fail(ps, FITD_EUNPROCESSABLE, "duplicate_value",
				    "%s: '%.64s' is listed twice", path, name);
	if (ps->cols != NULL && find_column(ps, name) == NULL)
		return unknown_column(ps, path, name);
	return FITD_OK;
}

static int parse_exclude(struct parse *ps, const json_t *body)
{
	const json_t *j = json_object_get(body, "exclude_columns");
	struct worker_spec *sp = ps->spec;
	size_t n = json_array_size(j);
	char path[48];

	if (j != NULL && !json_is_array(j))
		return wrong_type(ps, "exclude_columns", "a list of column names");
	if (n > 100000)
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "exclude_columns: too many names");
	sp->exclude = calloc(n ? n : 1, sizeof(*sp->exclude));
	if (sp->exclude == NULL)
		return fail(ps, FITD_ENOMEM, NULL, "exclude_columns: out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(j, i);
		int rc;

		snprintf(path, sizeof(path), "exclude_columns[%zu]", i);
		if (!json_is_string(e))
			return wrong_type(ps, path, "a column name");
		rc = check_exclude(ps, json_string_value(e), path, i);
		if (rc != FITD_OK)
			return rc;
		sp->exclude[i] = strdup(json_string_value(e));
		sp->nexclude = i + 1;
		if (sp->exclude[i] == NULL)
			return fail(ps, FITD_ENOMEM, NULL, "%s: out of memory", path);
	}
	/* The names are distinct columns other than the target. */
	if (ps->cols != NULL && ps->ncols < n + 2)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    n ? "exclude_columns: no feature column would be left"
			      : "target: the dataset has no other column to learn from");
	return FITD_OK;
}

/* ---- task and metric ---- */

/* The task of a numeric target under "auto"; see spec.h for the rule. */
static bool numeric_looks_categorical(const struct worker_column_info *c, size_t rows)
{
	return c->integer_valued && (c->distinct == 2 || (c->distinct <= AUTO_CLASSES_MAX &&
							  c->distinct * AUTO_CLASSES_SHARE < rows));
}

static int resolve_task(struct parse *ps, const char *given)
{
	const struct worker_column_info *c = ps->target;
	size_t classes = c->numeric ? c->distinct : c->nlevels;
	bool cls;

	if (c->numeric && c->distinct == 0) /* a column of missing values alone is numeric */
		return fail(ps, FITD_EUNPROCESSABLE, "too_few_classes",
			    "target: '%.64s' has no value: it is missing in every row", c->name);
	if (c->numeric && c->distinct < 2)
		return fail(ps, FITD_EUNPROCESSABLE, "too_few_classes",
			    "target: '%.64s' has fewer than 2 distinct values", c->name);
	if (strcmp(given, "regression") == 0 && !c->numeric)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "task: regression needs a numeric target; '%.64s' is categorical (one "
			    "value that is not a number makes it so: the dataset lists its levels)",
			    c->name);
	/*
	 * Levels nearly one per row are no classes: most often a numeric
	 * column made categorical by one stray text value, which classification
	 * would fit to an accuracy near 0 without a word.
	 */
	if (strcmp(given, "auto") == 0 && !c->numeric && c->nlevels > AUTO_CLASSES_MAX &&
	    c->nlevels * 2 > ps->rows)
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "target: '%.64s' has %zu levels in %zu rows: no classes; one text "
			    "value makes a numeric column categorical (see the dataset's levels): "
			    "make it NA, or give task classification",
			    c->name, c->nlevels, ps->rows);
	if (strcmp(given, "classification") == 0 && c->numeric && !c->integer_valued)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "task: classification needs a categorical or integer-valued target; "
			    "'%.64s' has fractional values",
			    c->name);
	if (strcmp(given, "auto") == 0)
		cls = !c->numeric || numeric_looks_categorical(c, ps->rows);
	else
		cls = strcmp(given, "classification") == 0;
	if (cls && classes < 2)
		return fail(ps, FITD_EUNPROCESSABLE, "too_few_classes",
			    "target: '%.64s' has fewer than 2 classes", c->name);
	if (cls && classes > WORKER_MAX_CLASSES)
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "target: '%.64s' has more than %d classes", c->name,
			    WORKER_MAX_CLASSES);
	ps->spec->task = cls ? FIT_TASK_CLASSIFICATION : FIT_TASK_REGRESSION;
	return FITD_OK;
}

static int parse_task(struct parse *ps, const json_t *body)
{
	const json_t *j = json_object_get(body, "task");
	const char *t = j ? json_string_value(j) : "auto";

	enum fit_task task;

	if (j != NULL && !json_is_string(j))
		return wrong_type(ps, "task", "a string");
	if (strcmp(t, "auto") != 0 && fit_task_parse(t, &task) != 0)
		return fail(ps, FITD_EUNPROCESSABLE, "unknown_value",
			    "task: unknown value '%.40s' (one of auto, classification, regression)",
			    t);
	if (ps->cols != NULL)
		return resolve_task(ps, t);
	if (strcmp(t, "auto") == 0)
		return fail(ps, FITD_EUNPROCESSABLE, "missing_field",
			    "task: a stored spec names its task");
	ps->spec->task = task;
	return FITD_OK;
}

/* "accuracy, balanced_accuracy, ...": the core's metric names but auto, in buf. */
static const char *metric_names(char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < FIT_METRIC_COUNT && used < cap; i++) {
		int w = i == FIT_METRIC_AUTO ? 0
					     : snprintf(buf + used, cap - used, "%s%s",
							used ? ", " : "", fit_metric_names[i]);

		used += w > 0 ? (size_t)w : 0;
	}
	return buf;
}

static int parse_metric(struct parse *ps, const json_t *body)
{
	const json_t *j = json_object_get(body, "metric");
	bool cls = ps->spec->task == FIT_TASK_CLASSIFICATION;
	char names[160];
	enum fit_metric m;

	if (j == NULL) {
		ps->spec->metric = cls ? FIT_METRIC_ACCURACY : FIT_METRIC_RMSE;
		return FITD_OK;
	}
	if (!json_is_string(j))
		return wrong_type(ps, "metric", "a string");
	if (fit_metric_parse(json_string_value(j), &m) != 0 || m == FIT_METRIC_AUTO)
		return fail(ps, FITD_EUNPROCESSABLE, "unknown_value",
			    "metric: unknown value '%.40s' (one of %s)", json_string_value(j),
			    metric_names(names, sizeof(names)));
	if ((fit_metric_is_classification(m) != 0) != cls)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "metric: %s is a %s metric; the task is %s", fit_metric_name(m),
			    cls ? "regression" : "classification", fit_task_name(ps->spec->task));
	ps->spec->metric = m;
	return FITD_OK;
}

/* ---- validation, early_stopping ---- */

static int parse_cv(struct parse *ps, const json_t *j)
{
	long long folds = 5, repeats = 1;
	int rc;

	if (json_object_get(j, "fraction") != NULL)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "validation.fraction: applies to method holdout, not cv");
	rc = get_int(ps, j, "folds", "validation.folds", 2, WORKER_MAX_FOLDS, &folds);
	if (rc == FITD_OK)
		rc = get_int(ps, j, "repeats", "validation.repeats", 1, MAX_REPEATS, &repeats);
	if (rc == FITD_OK && folds * repeats > WORKER_MAX_FOLDS)
		rc = fail(
		    ps, FITD_EUNPROCESSABLE, "out_of_range",
		    "validation.repeats: %lld folds repeated %lld times are more than %d fits",
		    folds, repeats, WORKER_MAX_FOLDS);
	if (rc == FITD_OK && ps->cols != NULL && (size_t)folds > ps->rows)
		rc = fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			  "validation.folds: %lld folds need at least %lld rows with a target",
			  folds, folds);
	ps->spec->validation = WORKER_VALIDATION_CV;
	ps->spec->folds = (unsigned)folds;
	ps->spec->repeats = (unsigned)repeats;
	return rc;
}

static int parse_holdout(struct parse *ps, const json_t *j)
{
	const json_t *f = json_object_get(j, "fraction");
	struct worker_spec *sp = ps->spec;

	if (json_object_get(j, "folds") != NULL || json_object_get(j, "repeats") != NULL)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "validation.%s: applies to method cv, not holdout",
			    json_object_get(j, "folds") != NULL ? "folds" : "repeats");
	sp->validation = WORKER_VALIDATION_HOLDOUT;
	sp->fraction = 0.2;
	if (f == NULL)
		return FITD_OK;
	if (!json_is_number(f))
		return wrong_type(ps, "validation.fraction", "a number");
	sp->fraction = json_number_value(f);
	if (!(sp->fraction >= 0.05 && sp->fraction <= 0.5))
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "validation.fraction: %g is out of range 0.05..0.5", sp->fraction);
	return FITD_OK;
}

/*
 * Holdout above HOLDOUT_ROWS rows, else five folds (one per row on a tiny
 * table), repeated below REPEAT_ROWS rows.
 */
static void default_validation(struct parse *ps)
{
	struct worker_spec *sp = ps->spec;

	if (ps->rows > HOLDOUT_ROWS) {
		sp->validation = WORKER_VALIDATION_HOLDOUT;
		sp->fraction = 0.2;
	} else {
		sp->validation = WORKER_VALIDATION_CV;
		sp->folds = ps->rows < 5 ? (unsigned)ps->rows : 5;
		sp->repeats = ps->rows >= 5 && ps->rows < REPEAT_ROWS ? DEFAULT_REPEATS : 1;
	}
}

static int parse_validation(struct parse *ps, const json_t *body)
{
	static const char *const keys[] = { "method", "folds", "repeats", "fraction", NULL };
	const json_t *j = json_object_get(body, "validation");
	const char *method;
	int rc;

	if (j == NULL && ps->cols == NULL)
		return fail(ps, FITD_EUNPROCESSABLE, "missing_field",
			    "validation: a stored spec names its validation");
	if (ps->cols != NULL && ps->rows < 2)
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "target: %zu rows have a target; at least 2 are needed", ps->rows);
	if (j == NULL) {
		default_validation(ps);
		return FITD_OK;
	}
	if (!json_is_object(j))
		return wrong_type(ps, "validation", "an object");
	rc = known_keys(ps, j, "validation", keys);
	if (rc != FITD_OK)
		return rc;
	if (json_object_get(j, "method") == NULL)
		return fail(ps, FITD_EUNPROCESSABLE, "missing_field",
			    "validation.method: required");
	method = json_string_value(json_object_get(j, "method"));
	if (method == NULL)
		return wrong_type(ps, "validation.method", "a string");
	if (strcmp(method, "cv") == 0)
		return parse_cv(ps, j);
	if (strcmp(method, "holdout") == 0)
		return parse_holdout(ps, j);
	return fail(ps, FITD_EUNPROCESSABLE, "unknown_value",
		    "validation.method: unknown value '%.40s' (one of cv, holdout)", method);
}

static int parse_early(struct parse *ps, const json_t *body)
{
	static const char *const keys[] = { "patience", "gbdt_min_rows", NULL };
	const json_t *j = json_object_get(body, "early_stopping");
	long long patience = 10, min_rows = GBDT_MIN_ROWS;
	int rc;

	ps->spec->early_patience = 10;
	ps->spec->gbdt_min_rows = GBDT_MIN_ROWS;
	if (j == NULL || json_is_true(j))
		return FITD_OK;
	if (json_is_false(j)) {
		ps->spec->early_patience = 0;
		return FITD_OK;
	}
	if (!json_is_object(j))
		return wrong_type(ps, "early_stopping", "true, false or an object");
	rc = known_keys(ps, j, "early_stopping", keys);
	if (rc == FITD_OK)
		rc = get_int(ps, j, "patience", "early_stopping.patience", 1, PATIENCE_MAX,
			     &patience);
	if (rc == FITD_OK)
		rc = get_int(ps, j, "gbdt_min_rows", "early_stopping.gbdt_min_rows", 0,
			     GBDT_MIN_ROWS_MAX, &min_rows);
	ps->spec->early_patience = (unsigned)patience;
	ps->spec->gbdt_min_rows = min_rows;
	return rc;
}

/* ---- search ---- */

/* "auto" (0) or an integer 1..WORKER_MAX_PARALLEL. */
static int get_auto_int(struct parse *ps, const json_t *obj, const char *key, const char *path,
			unsigned *out)
{
	const json_t *j = json_object_get(obj, key);
	long long v = 0;
	int rc;

	*out = 0;
	if (j == NULL)
		return FITD_OK;
	if (json_is_string(j))
		return strcmp(json_string_value(j), "auto") == 0
			   ? FITD_OK
			   : fail(ps, FITD_EUNPROCESSABLE, "unknown_value",
				  "%s: expected \"auto\" or a positive integer", path);
	if (!search_json_integer(j, &v))
		return wrong_type(ps, path, "\"auto\" or a positive integer");
	rc = get_int(ps, obj, key, path, 1, WORKER_MAX_PARALLEL, &v);
	*out = (unsigned)v;
	return rc;
}

/*
 * A budget: absent, *given is false; null is unbounded (0); else an integer
 * (a count) or any number (a duration) in [1, hi].
 */
static int get_budget(struct parse *ps, const json_t *search, const char *key, bool integer,
		      double hi, bool *given, double *out)
{
	const json_t *j = json_object_get(search, key);
	char path[40];
	long long n;

	snprintf(path, sizeof(path), "search.%s", key);
	*given = j != NULL;
	*out = 0;
	if (j == NULL || json_is_null(j))
		return FITD_OK;
	if (integer ? !search_json_integer(j, &n) : !json_is_number(j))
		return wrong_type(ps, path, integer ? "an integer" : "a number");
	*out = json_number_value(j);
	if (!(*out >= 1 && *out <= hi))
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range", "%s: %g is out of range 1..%g",
			    path, *out, hi);
	return FITD_OK;
}

static int parse_algorithm(struct parse *ps, const json_t *search)
{
	const json_t *j = json_object_get(search, "algorithm");

	ps->spec->search.algorithm = WORKER_ALGORITHM_AUTO;
	if (j == NULL)
		return FITD_OK;
	if (!json_is_string(j))
		return wrong_type(ps, "search.algorithm", "a string");
	for (unsigned a = 0; a < sizeof(algorithm_names) / sizeof(algorithm_names[0]); a++) {
		if (strcmp(json_string_value(j), algorithm_names[a]) == 0) {
			ps->spec->search.algorithm = (enum worker_algorithm)a;
			return FITD_OK;
		}
	}
	return fail(
	    ps, FITD_EUNPROCESSABLE, "unknown_value",
	    "search.algorithm: unknown value '%.40s' (one of auto, random, grid, tpe, asha)",
	    json_string_value(j));
}

static int parse_goal(struct parse *ps, const json_t *search)
{
	/* What each metric can reach: [lo, hi]. */
	static const double bounds[FIT_METRIC_COUNT][2] = {
		[FIT_METRIC_ACCURACY] = { 0, 1 },
		[FIT_METRIC_BALANCED_ACCURACY] = { 0, 1 },
		[FIT_METRIC_F1] = { 0, 1 },
		[FIT_METRIC_AUC] = { 0, 1 },
		[FIT_METRIC_LOG_LOSS] = { 0, INFINITY },
		[FIT_METRIC_RMSE] = { 0, INFINITY },
		[FIT_METRIC_MAE] = { 0, INFINITY },
		[FIT_METRIC_R2] = { -INFINITY, 1 },
	};
	const json_t *j = json_object_get(search, "goal");
	struct worker_search_options *o = &ps->spec->search;

	if (j == NULL || json_is_null(j))
		return FITD_OK;
	if (!json_is_number(j))
		return wrong_type(ps, "search.goal", "a number or null");
	o->has_goal = true;
	o->goal = json_number_value(j);
	if (o->goal < bounds[ps->spec->metric][0] || o->goal > bounds[ps->spec->metric][1])
		return fail(ps, FITD_EUNPROCESSABLE, "out_of_range",
			    "search.goal: %g is not a reachable %s", o->goal,
			    fit_metric_name(ps->spec->metric));
	return FITD_OK;
}

/* search.ensemble: "auto" (the default), true or false. */
static int parse_ensemble(struct parse *ps, const json_t *search)
{
	const json_t *j = json_object_get(search, "ensemble");

	ps->spec->search.ensemble = true;
	ps->spec->search.ensemble_always = json_is_true(j);
	if (j == NULL || json_is_true(j))
		return FITD_OK;
	if (json_is_false(j)) {
		ps->spec->search.ensemble = false;
		return FITD_OK;
	}
	if (!json_is_string(j))
		return wrong_type(ps, "search.ensemble", "\"auto\", true or false");
	if (strcmp(json_string_value(j), "auto") != 0)
		return fail(ps, FITD_EUNPROCESSABLE, "unknown_value",
			    "search.ensemble: expected \"auto\", true or false");
	return FITD_OK;
}

/*
 * search.refit: true (the default) fits the final setting again on every
 * training row; false keeps the best trial's first-fold model, so a job
 * of one trial fits once. No ensemble without a refit: with "ensemble":
 * true it is a contradiction, "auto" turns off.
 */
static int parse_refit(struct parse *ps, const json_t *search)
{
	const json_t *j = json_object_get(search, "refit");
	struct worker_search_options *o = &ps->spec->search;

	o->refit = true;
	if (j == NULL || json_is_true(j))
		return FITD_OK;
	if (!json_is_false(j))
		return wrong_type(ps, "search.refit", "true or false");
	if (o->ensemble_always)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "search.refit: false leaves no refit to build an ensemble from; "
			    "drop search.ensemble true");
	o->refit = false;
	o->ensemble = false;
	return FITD_OK;
}

static int parse_search(struct parse *ps, const json_t *search)
{
	static const char *const keys[] = {
		"algorithm",	     "max_trials", "max_seconds", "parallel_trials",
		"threads_per_trial", "seed",	   "patience",	  "goal",
		"max_attempts",	     "ensemble",   "refit",	  NULL
	};
	struct worker_search_options *o = &ps->spec->search;
	long long seed = 0, attempts = 3, patience = 0;
	const json_t *pj = json_object_get(search, "patience");
	int rc;

	if (search != NULL && !json_is_object(search))
		return wrong_type(ps, "search", "an object");
	rc = search ? known_keys(ps, search, "search", keys) : FITD_OK;
	if (rc == FITD_OK)
		rc = parse_algorithm(ps, search);
	if (rc == FITD_OK)
		rc = get_auto_int(ps, search, "parallel_trials", "search.parallel_trials",
				  &o->parallel_trials);
	if (rc == FITD_OK)
		rc = get_auto_int(ps, search, "threads_per_trial", "search.threads_per_trial",
				  &o->threads_per_trial);
	if (rc == FITD_OK)
		rc = get_int(ps, search, "seed", "search.seed", 0, INT64_MAX, &seed);
	if (rc == FITD_OK && pj != NULL && !json_is_null(pj))
		rc = get_int(ps, search, "patience", "search.patience", 1, PATIENCE_MAX, &patience);
	if (rc == FITD_OK)
		rc = parse_goal(ps, search);
	if (rc == FITD_OK)
		rc = get_int(ps, search, "max_attempts", "search.max_attempts", 1, 10, &attempts);
	if (rc == FITD_OK)
		rc = parse_ensemble(ps, search);
	if (rc == FITD_OK)
		rc = parse_refit(ps, search);
	o->seed = (uint64_t)seed;
	o->patience = (unsigned)patience;
	o->max_attempts = (unsigned)attempts;
	return rc;
}

/* Budgets last: grid's default max_trials is the size of the space. */
static int parse_budgets(struct parse *ps, const json_t *search)
{
	struct worker_search_options *o = &ps->spec->search;
	bool trials_given, seconds_given;
	double trials;
	uint64_t size;
	int rc = get_budget(ps, search, "max_trials", true, WORKER_MAX_TRIALS, &trials_given,
			    &trials);

	if (rc == FITD_OK)
		rc = get_budget(ps, search, "max_seconds", false, WORKER_MAX_SECONDS,
				&seconds_given, &o->max_seconds);
	if (rc != FITD_OK)
		return rc;
	o->max_trials = (unsigned)trials;
	if (trials_given && seconds_given && o->max_trials == 0 && o->max_seconds == 0)
		return fail(ps, FITD_EUNPROCESSABLE, "invalid_combination",
			    "search: max_trials and max_seconds cannot both be null");
	if (!seconds_given && (!trials_given || o->max_trials == 0))
		o->max_seconds = DEFAULT_SECONDS;
	if (o->algorithm != WORKER_ALGORITHM_GRID) {
		if (!trials_given && (!seconds_given || o->max_seconds == 0))
			o->max_trials = DEFAULT_TRIALS;
		return FITD_OK;
	}
	size = search_space_size(&ps->spec->space);
	if (!trials_given && size <= WORKER_MAX_TRIALS)
		o->max_trials = (unsigned)size;
	if (size > (o->max_trials ? o->max_trials : WORKER_MAX_TRIALS))
		return fail(ps, FITD_EUNPROCESSABLE, "grid_too_large",
			    "search.max_trials: the grid has %llu points, more than %u",
			    (unsigned long long)size,
			    o->max_trials ? o->max_trials : WORKER_MAX_TRIALS);
	return FITD_OK;
}

/* ---- the whole spec ---- */

static int parse_all(struct parse *ps, const json_t *body)
{
	static const char *const keys[] = {
		"dataset",    "target",		"task",	 "exclude_columns", "metric",
		"validation", "early_stopping", "space", "search",	    NULL
	};
	const json_t *search = json_object_get(body, "search");
	int rc;

	if (!json_is_object(body))
		return wrong_type(ps, "spec", "a JSON object");
	rc = known_keys(ps, body, "", keys);
	if (rc == FITD_OK)
		rc = parse_data(ps, body);
	if (rc == FITD_OK)
		rc = parse_task(ps, body);
	if (rc == FITD_OK)
		rc = parse_exclude(ps, body);
	if (rc == FITD_OK)
		rc = parse_metric(ps, body);
	if (rc == FITD_OK)
		rc = parse_validation(ps, body);
	if (rc == FITD_OK)
		rc = parse_early(ps, body);
	if (rc == FITD_OK)
		rc = parse_search(ps, search);
	if (rc == FITD_OK)
		rc = search_space_build(
		    json_object_get(body, "space"), ps->spec->task == FIT_TASK_CLASSIFICATION,
		    ps->spec->search.algorithm == WORKER_ALGORITHM_GRID, &ps->spec->space, ps->err);
	if (rc == FITD_OK)
		rc = parse_budgets(ps, search);
	return rc;
}

static int parse_common(struct parse *ps, const json_t *body, struct worker_spec **out)
{
	int rc;

	*out = NULL;
	ps->spec = calloc(1, sizeof(*ps->spec));
	if (ps->spec == NULL)
		return fitd_error_set(ps->err, FITD_ENOMEM, NULL, "spec: out of memory");
	rc = parse_all(ps, body);
	if (rc != FITD_OK) {
		worker_spec_free(ps->spec);
		return rc;
	}
	*out = ps->spec;
	return FITD_OK;
}

int worker_spec_parse(const json_t *body, const struct worker_column_info *cols, size_t ncols,
		      size_t nrows, struct worker_spec **out, struct fitd_error *err)
{
	struct parse ps = { .cols = cols, .ncols = ncols, .rows = nrows, .err = err };

	if (cols == NULL) {
		*out = NULL;
		return fitd_error_set(err, FITD_EINVAL, NULL, "spec: no column facts");
	}
	return parse_common(&ps, body, out);
}

int worker_spec_from_json(const json_t *normalized, struct worker_spec **out,
			  struct fitd_error *err)
{
	struct parse ps = { .err = err };

	return parse_common(&ps, normalized, out);
}

void worker_spec_free(struct worker_spec *spec)
{
	if (spec == NULL)
		return;
	for (size_t i = 0; i < spec->nexclude; i++)
		free(spec->exclude[i]);
	free(spec->exclude);
	free(spec->dataset);
	free(spec->target);
	free(spec);
}
