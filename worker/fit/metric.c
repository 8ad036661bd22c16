/*
 * metric.c - scores of predictions, computed as scikit-learn computes them so
 * numbers can be compared with it: accuracy, balanced accuracy (mean recall
 * over the classes present in the truth), macro F1 (over the classes in the
 * truth or the predictions), log loss (clipped to [1e-15, 1 - 1e-15] and each
 * row renormalized), AUC by ranks with ties averaged (binary on the positive
 * class; one-vs-rest macro for more classes), RMSE, MAE and R^2.
 *
 * What each metric is (its direction, its task) lives in one table. AUC sorts
 * (score, label) pairs in scratch memory the caller provides, so scoring a
 * validation set every epoch allocates nothing.
 */
#include "worker/fit/metric.h"

#include <math.h>
#include <stdlib.h>

#include "worker/fit/internal.h"

#define LOG_LOSS_EPS 1e-15

static const struct {
	int higher;
	int classification;
} metric_table[FIT_METRIC_COUNT] = {
	[FIT_METRIC_AUTO] = { 1, 0 },
	[FIT_METRIC_ACCURACY] = { 1, 1 },
	[FIT_METRIC_BALANCED_ACCURACY] = { 1, 1 },
	[FIT_METRIC_F1] = { 1, 1 },
	[FIT_METRIC_LOG_LOSS] = { 0, 1 },
	[FIT_METRIC_AUC] = { 1, 1 },
	[FIT_METRIC_RMSE] = { 0, 0 },
	[FIT_METRIC_MAE] = { 0, 0 },
	[FIT_METRIC_R2] = { 1, 0 },
};

int fit_metric_higher_is_better(enum fit_metric m)
{
	return (unsigned)m < FIT_METRIC_COUNT ? metric_table[m].higher : 0;
}

int fit_metric_is_classification(enum fit_metric m)
{
	return (unsigned)m < FIT_METRIC_COUNT ? metric_table[m].classification : 0;
}

struct auc_pair {
	double score;
	int32_t positive;
};

size_t fit__metric_scratch(size_t n, size_t nclasses)
{
	/* one struct auc_pair per row, or three counts per class */
	return 2 * n > 3 * nclasses ? 2 * n : 3 * nclasses;
}

static int cmp_pair(const void *a, const void *b)
{
	double x = ((const struct auc_pair *)a)->score, y = ((const struct auc_pair *)b)->score;

	return (x > y) - (x < y);
}

static size_t argmax(const double *p, size_t k)
{
	size_t best = 0;

	for (size_t c = 1; c < k; c++)
		if (p[c] > p[best])
			best = c;
	return best;
}

/* AUC of class c against the rest; NAN when c has no positives or no negatives. */
static double auc_one(size_t n, size_t k, const int32_t *labels, const double *prob, size_t c,
		      struct auc_pair *pairs)
{
	size_t m = 0, npos = 0, i = 0;
	double rank_sum = 0.0;

	for (size_t r = 0; r < n; r++) {
		if (labels[r] < 0)
			continue;
		pairs[m].score = prob[r * k + c];
		pairs[m].positive = (size_t)labels[r] == c;
		npos += pairs[m].positive;
		m++;
	}
	if (npos == 0 || npos == m)
		return NAN;
	qsort(pairs, m, sizeof(*pairs), cmp_pair);
	while (i < m) {
		size_t j = i, pos = 0;

		while (j < m && pairs[j].score == pairs[i].score)
			pos += pairs[j++].positive;
		rank_sum += (double)pos * ((double)(i + 1) + (double)j) / 2.0;
		i = j;
	}
	return (rank_sum - (double)npos * ((double)npos + 1.0) / 2.0) /
	       ((double)npos * (double)(m - npos));
}

static int auc(size_t n, size_t k, const int32_t *labels, const double *prob, double *scratch,
	       double *out)
{
	struct auc_pair *pairs = (struct auc_pair *)scratch;
	double sum = 0.0;
	size_t used = 0;

	if (k == 2) {
		*out = auc_one(n, k, labels, prob, 1, pairs);
		return isnan(*out) ? FITD_EUNPROCESSABLE : FITD_OK;
	}
	for (size_t c = 0; c < k; c++) {
		double a = auc_one(n, k, labels, prob, c, pairs);

		if (!isnan(a)) {
			sum += a;
			used++;
		}
	}
	if (used == 0)
		return FITD_EUNPROCESSABLE;
	*out = sum / (double)used;
	return FITD_OK;
}

static double log_loss(size_t n, size_t k, const int32_t *labels, const double *prob)
{
	double sum = 0.0;

	for (size_t r = 0; r < n; r++) {
		const double *p = prob + r * k;
		double total = 0.0, mine = LOG_LOSS_EPS;

		for (size_t c = 0; c < k; c++) {
			double q = fmin(fmax(p[c], LOG_LOSS_EPS), 1.0 - LOG_LOSS_EPS);

			total += q;
			if ((int32_t)c == labels[r])
				mine = q;
		}
		sum -= log(mine / total);
	}
	return sum / (double)n;
}

/* Per-class counts: truth, predicted, hits; then the count-based metrics. */
static double count_metric(enum fit_metric m, size_t n, size_t k, const int32_t *labels,
			   const double *prob, double *counts)
{
	double *truth = counts, *pred = counts + k, *hit = counts + 2 * k, sum = 0.0, hits = 0.0;
	size_t used = 0;

	for (size_t c = 0; c < 3 * k; c++)
		counts[c] = 0.0;
	for (size_t r = 0; r < n; r++) {
		size_t y = argmax(prob + r * k, k);

		pred[y] += 1.0;
		if (labels[r] < 0)
			continue;
		truth[labels[r]] += 1.0;
		if ((size_t)labels[r] == y) {
			hit[y] += 1.0;
			hits += 1.0;
		}
	}
	if (m == FIT_METRIC_ACCURACY)
		return hits / (double)n;
	for (size_t c = 0; c < k; c++) {
		if (m == FIT_METRIC_BALANCED_ACCURACY && truth[c] > 0) {
			sum += hit[c] / truth[c];
			used++;
		} else if (m == FIT_METRIC_F1 && (truth[c] > 0 || pred[c] > 0)) {
			sum += 2.0 * hit[c] / (truth[c] + pred[c]);
			used++;
		}
	}
	return used ? sum / (double)used : 0.0;
}

int fit__metric_classification(enum fit_metric m, size_t n, size_t nclasses, const int32_t *labels,
			       const double *prob, double *scratch, double *out)
{
	if (!fit_metric_is_classification(m) || n == 0 || nclasses < 2)
		return FITD_EINVAL;
	for (size_t r = 0; r < n; r++)
		if (labels[r] < -1 || (labels[r] >= 0 && (size_t)labels[r] >= nclasses))
			return FITD_EINVAL;
	if (m == FIT_METRIC_AUC)
		return auc(n, nclasses, labels, prob, scratch, out);
	if (m == FIT_METRIC_LOG_LOSS) {
		*out = log_loss(n, nclasses, labels, prob);
		return FITD_OK;
	}
	*out = count_metric(m, n, nclasses, labels, prob, scratch);
	return FITD_OK;
}

int fit_metric_classification(enum fit_metric m, size_t n, size_t nclasses, const int32_t *labels,
			      const double *prob, double *out, struct fitd_error *err)
{
	size_t cells = fit__metric_scratch(n, nclasses);
	double *scratch = malloc((cells ? cells : 1) * sizeof(double));
	int rc;

	if (scratch == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	rc = fit__metric_classification(m, n, nclasses, labels, prob, scratch, out);
	free(scratch);
	if (rc == FITD_EUNPROCESSABLE)
		return fitd_error_set(err, rc, "undefined_metric",
				      "%s needs both positive and negative rows",
				      fit_metric_name(m));
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, "bad_metric",
				      "%s cannot score these %zu rows of %zu classes",
				      fit_metric_name(m), n, nclasses);
	return FITD_OK;
}

int fit_metric_regression(enum fit_metric m, size_t n, const double *truth, const double *pred,
			  double *out, struct fitd_error *err)
{
	double se = 0.0, ae = 0.0, mean = 0.0, tot = 0.0;

	if (fit_metric_is_classification(m) || m == FIT_METRIC_AUTO ||
	    (unsigned)m >= FIT_METRIC_COUNT || n == 0)
		return fitd_error_set(err, FITD_EINVAL, "bad_metric",
				      "%s cannot score %zu regression rows", fit_metric_name(m), n);
	for (size_t i = 0; i < n; i++) {
		double e = pred[i] - truth[i];

		se += e * e;
		ae += fabs(e);
		mean += truth[i];
	}
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		tot += (truth[i] - mean) * (truth[i] - mean);
	if (m == FIT_METRIC_RMSE)
		*out = sqrt(se / (double)n);
	else if (m == FIT_METRIC_MAE)
		*out = ae / (double)n;
	else
		*out = tot > 0.0 ? 1.0 - se / tot : (se == 0.0 ? 1.0 : 0.0);
	return FITD_OK;
}
