/*
 * ensemble.c - greedy ensemble selection over out-of-fold predictions and
 * the ensemble model: a weighted mean of member models (ensemble.h).
 *
 * Selection keeps the running sum of the picked candidates' predictions
 * and, per round, scores sum + candidate for every candidate in index
 * order; only a strictly better score replaces the round's pick, so ties
 * keep the lower index. The model side maps each member's columns onto the
 * union of columns by name, and calls the members in turn: predictions,
 * margins and contributions are weighted sums.
 */
#include "worker/fit/ensemble.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/explain.h"
#include "worker/fit/internal.h"
#include "worker/fit/metric.h"

struct fit__ensemble {
	size_t n;
	struct fit_model **members;
	double *weights;
	size_t **colmap; /* per member: its column j is the ensemble's colmap[k][j] */
	struct fit_prep_column *columns;
};

/* ---- selection ---- */

static int score_mean(const double *sum, size_t nrows, size_t nout, double scale,
		      enum fit_metric metric, const int32_t *labels, const double *truth,
		      double *avg, double *out, struct fitd_error *err)
{
	for (size_t i = 0; i < nrows * nout; i++)
		avg[i] = sum[i] * scale;
	if (fit_metric_is_classification(metric))
		return fit_metric_classification(metric, nrows, nout, labels, avg, out, err);
	return fit_metric_regression(metric, nrows, truth, avg, out, err);
}

static bool improves(enum fit_metric metric, double s, double than)
{
	return fit_metric_higher_is_better(metric) ? s > than : s < than;
}

int fit_ensemble_select(const float *const *preds, size_t ncand, size_t nrows, size_t nout,
			enum fit_metric metric, const int32_t *labels, const double *truth,
			unsigned rounds, const struct fit_ensemble_limit *limit,
			struct fit_ensemble_choice *choice, struct fitd_error *err)
{
	bool cls = fit_metric_is_classification(metric);
	size_t cells = nrows * nout;
	double *sum, *trial, *avg, spent = 0;
	unsigned *run;
	int rc = FITD_OK;

	if (ncand == 0 || nrows == 0 || nout == 0 || rounds == 0 || cells / nout != nrows ||
	    (cls ? labels == NULL || nout < 2 : truth == NULL || nout != 1))
		return fitd_error_set(err, FITD_EINVAL, "bad_argument",
				      "ensemble selection needs candidates, rows, rounds and the "
				      "truth of the metric's task");
	sum = calloc(cells, sizeof(double));
	trial = calloc(cells, sizeof(double));
	avg = calloc(cells, sizeof(double));
	run = calloc(ncand, sizeof(unsigned));
	if (sum == NULL || trial == NULL || avg == NULL || run == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "ensemble selection: out of memory");
	memset(choice->counts, 0, ncand * sizeof(unsigned));
	choice->rounds = 0;
	choice->limited = false;
	for (unsigned r = 0; rc == FITD_OK && r < rounds; r++) {
		size_t pick = ncand;
		double pick_score = NAN;

		for (size_t c = 0; rc == FITD_OK && c < ncand; c++) {
			double s;

			if (limit != NULL && r > 0 && run[c] == 0 &&
			    spent + limit->cost[c] > limit->budget) {
				choice->limited = true;
				continue;
			}
			for (size_t i = 0; i < cells; i++)
				trial[i] = sum[i] + (double)preds[c][i];
			rc = score_mean(trial, nrows, nout, 1.0 / (r + 1), metric, labels, truth,
					avg, &s, err);
			if (rc == FITD_OK && isfinite(s) &&
			    (pick == ncand || improves(metric, s, pick_score))) {
				pick = c;
				pick_score = s;
			}
		}
		if (rc != FITD_OK || pick == ncand)
			break;
		for (size_t i = 0; i < cells; i++)
			sum[i] += (double)preds[pick][i];
		if (limit != NULL && run[pick] == 0)
			spent += limit->cost[pick];
		run[pick]++;
		if (r == 0) {
			choice->best = pick;
			choice->best_score = pick_score;
		}
		if (r == 0 || improves(metric, pick_score, choice->score)) {
			memcpy(choice->counts, run, ncand * sizeof(unsigned));
			choice->rounds = r + 1;
			choice->score = pick_score;
		}
	}
	if (rc == FITD_OK && choice->rounds == 0)
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "undefined_metric",
				    "no candidate has a finite %s", fit_metric_name(metric));
	free(sum);
	free(trial);
	free(avg);
	free(run);
	return rc;
}

/* The rows of half h (parity) of src, nrows * nout, into dst. */
static void half_rows(const float *src, size_t nrows, size_t nout, size_t h, float *dst)
{
	for (size_t i = h, j = 0; i < nrows; i += 2, j++)
		memcpy(dst + j * nout, src + i * nout, nout * sizeof(float));
}

/* Scores the candidates' mix counts / rounds on their rows. */
static int score_mix(const float *const *preds, size_t ncand, size_t nrows, size_t nout,
		     const unsigned *counts, unsigned rounds, enum fit_metric metric,
		     const int32_t *labels, const double *truth, double *out,
		     struct fitd_error *err)
{
	double *sum = calloc(nrows * nout, sizeof(double));
	double *avg = calloc(nrows * nout, sizeof(double));
	int rc = sum != NULL && avg != NULL
		     ? FITD_OK
		     : fitd_error_set(err, FITD_ENOMEM, NULL, "ensemble check: out of memory");

	for (size_t c = 0; rc == FITD_OK && c < ncand; c++)
		for (size_t i = 0; counts[c] > 0 && i < nrows * nout; i++)
			sum[i] += counts[c] * (double)preds[c][i];
	if (rc == FITD_OK)
		rc = score_mean(sum, nrows, nout, 1.0 / rounds, metric, labels, truth, avg, out,
				err);
	free(sum);
	free(avg);
	return rc;
}

int fit_ensemble_crossfit(const float *const *preds, size_t ncand, size_t nrows, size_t nout,
			  enum fit_metric metric, const int32_t *labels, const double *truth,
			  unsigned rounds, const struct fit_ensemble_limit *limit, double *ens,
			  double *single, struct fitd_error *err)
{
	size_t rows[2] = { (nrows + 1) / 2, nrows / 2 };
	float *halves = ncand > 0 ? calloc(ncand * nrows * nout + 1, sizeof(float)) : NULL;
	const float **part[2] = { calloc(ncand + 1, sizeof(float *)),
				  calloc(ncand + 1, sizeof(float *)) };
	int32_t *lab[2] = { NULL, NULL };
	double *tru[2] = { NULL, NULL };
	unsigned *counts = calloc(ncand + 1, sizeof(unsigned));
	unsigned *one = calloc(ncand + 1, sizeof(unsigned));
	bool oom = halves == NULL || counts == NULL || one == NULL;
	int rc = FITD_OK;

	*ens = *single = 0;
	for (size_t h = 0; h < 2; h++) {
		lab[h] = labels != NULL ? malloc((rows[h] + 1) * sizeof(int32_t)) : NULL;
		tru[h] = truth != NULL ? malloc((rows[h] + 1) * sizeof(double)) : NULL;
		oom = oom || part[h] == NULL || (labels != NULL && lab[h] == NULL) ||
		      (truth != NULL && tru[h] == NULL);
	}
	if (nrows < 2 || ncand == 0)
		rc = fitd_error_set(err, FITD_EINVAL, "bad_argument",
				    "the ensemble check needs candidates and two rows");
	else if (oom)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "ensemble check: out of memory");
	for (size_t h = 0; rc == FITD_OK && h < 2; h++) {
		float *base = halves + (h == 0 ? 0 : ncand * rows[0] * nout);

		for (size_t c = 0; c < ncand; c++) {
			part[h][c] = base + c * rows[h] * nout;
			half_rows(preds[c], nrows, nout, h, (float *)part[h][c]);
		}
		for (size_t i = h, j = 0; i < nrows; i += 2, j++) {
			if (lab[h] != NULL)
				lab[h][j] = labels[i];
			if (tru[h] != NULL)
				tru[h][j] = truth[i];
		}
	}
	for (size_t h = 0; rc == FITD_OK && h < 2; h++) {
		size_t o = 1 - h; /* chosen on h, scored on o */
		struct fit_ensemble_choice ch = { .counts = counts };
		double e = 0, s = 0;

		rc = fit_ensemble_select(part[h], ncand, rows[h], nout, metric, lab[h], tru[h],
					 rounds, limit, &ch, err);
		if (rc == FITD_OK)
			rc = score_mix(part[o], ncand, rows[o], nout, counts, ch.rounds, metric,
				       lab[o], tru[o], &e, err);
		memset(one, 0, ncand * sizeof(unsigned));
		one[ch.best] = 1;
		if (rc == FITD_OK)
			rc = score_mix(part[o], ncand, rows[o], nout, one, 1, metric, lab[o],
				       tru[o], &s, err);
		*ens += e * (double)rows[o] / (double)nrows;
		*single += s * (double)rows[o] / (double)nrows;
	}
	free(halves);
	for (size_t h = 0; h < 2; h++) {
		free(part[h]);
		free(lab[h]);
		free(tru[h]);
	}
	free(counts);
	free(one);
	return rc;
}

/* ---- the model ---- */

void fit__ensemble_free(struct fit__ensemble *e)
{
	if (e == NULL)
		return;
	for (size_t k = 0; k < e->n; k++) {
		fit_model_free(e->members[k]);
		free(e->colmap != NULL ? e->colmap[k] : NULL);
	}
	free(e->members);
	free(e->weights);
	free(e->colmap);
	free(e->columns);
	free(e);
}

static int same_target(const struct fit_model_desc *a, const struct fit_model_desc *b)
{
	if (a->task != b->task || a->nclasses != b->nclasses || strcmp(a->target, b->target) != 0)
		return 0;
	for (size_t c = 0; c < a->nclasses; c++)
		if (strcmp(a->classes[c], b->classes[c]) != 0)
			return 0;
	return 1;
}

/* The union of the members' columns by name, and each member's map onto it. */
static int map_columns(struct fit__ensemble *e, size_t *ncols, struct fitd_error *err)
{
	size_t cap = 0, n = 0;

	for (size_t k = 0; k < e->n; k++)
		cap += fit_model_desc(e->members[k])->ncolumns;
	e->columns = calloc(cap + 1, sizeof(*e->columns));
	e->colmap = calloc(e->n, sizeof(*e->colmap));
	if (e->columns == NULL || e->colmap == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t k = 0; k < e->n; k++) {
		const struct fit_model_desc *d = fit_model_desc(e->members[k]);

		e->colmap[k] = calloc(d->ncolumns + 1, sizeof(size_t));
		if (e->colmap[k] == NULL)
			return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
		for (size_t j = 0; j < d->ncolumns; j++) {
			size_t at = 0;

			while (at < n && strcmp(e->columns[at].name, d->columns[j].name) != 0)
				at++;
			if (at < n && e->columns[at].type != d->columns[j].type)
				return fitd_error_set(err, FITD_EFORMAT, "bad_model",
						      "members disagree on the type of column %s",
						      d->columns[j].name);
			if (at == n) {
				e->columns[n].name = d->columns[j].name;
				e->columns[n].type = d->columns[j].type;
				e->columns[n].scale = 1;
				n++;
			}
			e->colmap[k][j] = at;
		}
	}
	*ncols = n;
	return FITD_OK;
}

static int check_members(struct fit_model **members, const double *weights, size_t n,
			 struct fitd_error *err)
{
	if (n == 0)
		return fitd_error_set(err, FITD_EINVAL, "bad_model", "an ensemble has no member");
	for (size_t k = 0; k < n; k++) {
		if (members[k] == NULL || members[k]->ens != NULL)
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "an ensemble's member is missing or an ensemble");
		if (!(weights[k] > 0) || !isfinite(weights[k]))
			return fitd_error_set(err, FITD_EINVAL, "bad_model",
					      "member %zu's weight is not positive", k);
		if (!same_target(fit_model_desc(members[0]), fit_model_desc(members[k])))
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "members disagree on the target or its classes");
	}
	return FITD_OK;
}

static void fill_desc(struct fit_model *m, size_t ncols)
{
	const struct fit_model_desc *d0 = fit_model_desc(m->ens->members[0]);

	m->desc = *d0;
	m->desc.target = m->target_name;
	m->desc.ncolumns = ncols;
	m->desc.columns = m->ens->columns;
	m->desc.nlayers = 0;
	m->desc.layers = NULL;
	m->desc.feature_means = NULL;
	m->desc.gbdt = NULL;
	memset(&m->desc.report, 0, sizeof(m->desc.report));
	m->desc.report.valid_score = NAN;
	m->desc.nmembers = m->ens->n;
	m->desc.members = (const struct fit_model *const *)m->ens->members;
	m->desc.weights = m->ens->weights;
	m->kout = m->ens->members[0]->kout;
}

int fit_model_ensemble_new(struct fit_model **members, const double *weights, size_t n,
			   struct fit_model **out, struct fitd_error *err)
{
	struct fit_model *m = calloc(1, sizeof(*m));
	struct fit__ensemble *e = calloc(1, sizeof(*e));
	double total = 0;
	size_t ncols = 0;
	int rc = check_members(members, weights, n, err);

	*out = NULL;
	if (rc == FITD_OK &&
	    (m == NULL || e == NULL || (e->members = calloc(n, sizeof(*e->members))) == NULL ||
	     (e->weights = calloc(n, sizeof(double))) == NULL))
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (rc != FITD_OK) {
		for (size_t k = 0; k < n; k++)
			fit_model_free(members[k]);
		fit__ensemble_free(e);
		free(m);
		return rc;
	}
	for (size_t k = 0; k < n; k++)
		total += weights[k];
	for (size_t k = 0; k < n; k++) {
		e->members[k] = members[k];
		e->weights[k] = weights[k] / total;
	}
	e->n = n;
	m->ens = e;
	rc = map_columns(e, &ncols, err);
	if (rc == FITD_OK)
		rc = fit__target_copy(fit_model_desc(members[0]), &m->target, err);
	if (rc == FITD_OK && (m->target_name = strdup(members[0]->target_name)) == NULL)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (rc != FITD_OK) {
		fit_model_free(m);
		return rc;
	}
	fill_desc(m, ncols);
	*out = m;
	return FITD_OK;
}

int fit__ensemble_predict(const struct fit_model *m, const struct fit_frame *frame,
			  const size_t *rows, size_t nrows, int threads, double *values,
			  int32_t *labels, double *margins, struct fitd_error *err)
{
	const struct fit__ensemble *e = m->ens;
	size_t nout = values != NULL ? fit_model_noutputs(m) : m->kout;
	double *acc = values != NULL ? values : margins;
	double *one = malloc((nrows * nout + 1) * sizeof(double));
	int rc = one != NULL ? FITD_OK : fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");

	for (size_t i = 0; rc == FITD_OK && i < nrows * nout; i++)
		acc[i] = 0;
	for (size_t k = 0; rc == FITD_OK && k < e->n; k++) {
		if (values != NULL)
			rc = fit_model_predict(e->members[k], frame, rows, nrows, threads, one,
					       NULL, err);
		else
			rc = fit_model_margins(e->members[k], frame, rows, nrows, threads, one,
					       err);
		for (size_t i = 0; rc == FITD_OK && i < nrows * nout; i++)
			acc[i] += e->weights[k] * one[i];
	}
	free(one);
	if (rc != FITD_OK || labels == NULL || m->target.task != FIT_TASK_CLASSIFICATION)
		return rc;
	for (size_t r = 0; r < nrows; r++) {
		const double *p = values + r * nout;
		size_t best = 0;

		for (size_t c = 1; c < nout; c++)
			if (p[c] > p[best])
				best = c;
		labels[r] = (int32_t)best;
	}
	return FITD_OK;
}

int fit__ensemble_contributions(const struct fit_model *m, const struct fit_frame *frame,
				const size_t *rows, size_t nrows, int threads, double *contrib,
				struct fitd_error *err)
{
	const struct fit__ensemble *e = m->ens;
	size_t w = m->desc.ncolumns + 1, k = m->kout, cap = 0;
	double *one;
	int rc = FITD_OK;

	for (size_t i = 0; i < e->n; i++) {
		size_t wi = fit_model_desc(e->members[i])->ncolumns + 1;

		cap = wi > cap ? wi : cap;
	}
	one = malloc((nrows * k * cap + 1) * sizeof(double));
	if (one == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	memset(contrib, 0, nrows * k * w * sizeof(double));
	for (size_t i = 0; rc == FITD_OK && i < e->n; i++) {
		size_t wi = fit_model_desc(e->members[i])->ncolumns + 1;

		rc = fit_model_contributions(e->members[i], frame, rows, nrows, threads, one, err);
		for (size_t ro = 0; rc == FITD_OK && ro < nrows * k; ro++) {
			const double *src = one + ro * wi;
			double *dst = contrib + ro * w;

			for (size_t j = 0; j + 1 < wi; j++)
				dst[e->colmap[i][j]] += e->weights[i] * src[j];
			dst[w - 1] += e->weights[i] * src[wi - 1];
		}
	}
	free(one);
	return rc;
}

size_t fit__ensemble_explain_cost(const struct fit_model *m)
{
	size_t cost = 0;

	for (size_t k = 0; k < m->ens->n; k++) {
		size_t c = fit_model_explain_cost(m->ens->members[k]);

		cost = cost > SIZE_MAX - c ? SIZE_MAX : cost + c;
	}
	return cost;
}
