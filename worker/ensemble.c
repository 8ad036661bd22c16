/*
 * ensemble.c - out-of-fold predictions of trials and the final step's
 * choice of an ensemble (ensemble.h).
 *
 * The class names of a classification are computed once per job from the
 * target column the way the numeric core names a model's classes
 * (categorical levels in byte order, numbers ascending printed "%.17g"),
 * so a fold model's classes map onto them by name.
 */
#include "worker/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/clock.h"
#include "store/store.h"
#include "worker/fit/ensemble.h"
#include "worker/fit/frame.h"
#include "worker/fit/metric.h"
#include "worker/fit/split.h"

/* ---- out-of-fold rows and truth ---- */

/* Numeric classes: the distinct values ascending; *vals is malloc'd. */
static int numeric_classes(const struct worker_data *d, double **vals, size_t *n)
{
	const double *num = d->frame->cols[d->target].num;
	double *v = malloc((d->nall ? d->nall : 1) * sizeof(double));

	if (v == NULL)
		return FITD_ENOMEM;
	for (size_t i = 0; i < d->nall; i++)
		v[i] = num[d->all_rows[i]];
	fit_distinct_values(v, d->nall, n);
	*vals = v;
	return FITD_OK;
}

static int class_names(struct worker_data *d, int32_t *row_class)
{
	const struct fit_column *c = &d->frame->cols[d->target];
	double *vals = NULL;
	size_t n = 0;
	int32_t *map = NULL;

	if (c->type == FIT_COL_CATEGORICAL) {
		map = malloc((c->nlevels + 1) * sizeof(int32_t));
		if (map == NULL)
			return FITD_ENOMEM;
		for (size_t l = 0; l < c->nlevels; l++)
			map[l] = -1;
		for (size_t i = 0; i < d->nall; i++)
			map[c->cat[d->all_rows[i]]] = 0;
		for (size_t l = 0; l < c->nlevels; l++)
			if (map[l] == 0)
				map[l] = (int32_t)n++;
	} else if (numeric_classes(d, &vals, &n) != FITD_OK) {
		return FITD_ENOMEM;
	}
	d->class_names = calloc(n + 1, sizeof(char *));
	for (size_t l = 0, k = 0; d->class_names != NULL && k < n; l++) {
		char buf[40];

		if (map != NULL && map[l] < 0)
			continue;
		if (map == NULL)
			snprintf(buf, sizeof(buf), "%.17g", vals[k]);
		d->class_names[k] = strdup(map != NULL ? c->levels[l] : buf);
		if (d->class_names[k++] == NULL)
			break;
	}
	d->oof_width = n;
	for (size_t r = 0; r < d->frame->nrows; r++) {
		if (map != NULL) {
			row_class[r] = c->cat[r] >= 0 ? map[c->cat[r]] : -1;
		} else {
			size_t at = fit_distinct_find(vals, n, c->num[r]);

			row_class[r] = at < n ? (int32_t)at : -1;
		}
	}
	free(map);
	free(vals);
	return d->class_names != NULL && (n == 0 || d->class_names[n - 1] != NULL) ? FITD_OK
										   : FITD_ENOMEM;
}

int worker_oof_prepare(struct worker_data *d, struct fitd_error *err)
{
	unsigned k = fit_split_count(d->split);
	bool cls = d->task == FIT_TASK_CLASSIFICATION;
	int32_t *row_class = NULL;
	size_t at = 0;
	int rc = FITD_OK;

	d->noof = 0;
	for (unsigned i = 0; i < k && i < WORKER_MAX_FOLDS; i++) {
		const size_t *train, *valid;
		size_t ntrain, nvalid;

		fit_split_get(d->split, i, &train, &ntrain, &valid, &nvalid);
		d->noof += nvalid;
	}
	d->oof_width = 1;
	if (cls) {
		d->oof_labels = malloc((d->noof ? d->noof : 1) * sizeof(int32_t));
		row_class = malloc((d->frame->nrows ? d->frame->nrows : 1) * sizeof(int32_t));
		if (d->oof_labels == NULL || row_class == NULL ||
		    class_names(d, row_class) != FITD_OK)
			rc = FITD_ENOMEM;
	} else if ((d->oof_truth = malloc((d->noof ? d->noof : 1) * sizeof(double))) == NULL) {
		rc = FITD_ENOMEM;
	}
	for (unsigned i = 0; rc == FITD_OK && i < k && i < WORKER_MAX_FOLDS; i++) {
		const size_t *train, *valid;
		size_t ntrain, nvalid;

		fit_split_get(d->split, i, &train, &ntrain, &valid, &nvalid);
		for (size_t r = 0; r < nvalid; r++, at++) {
			if (cls)
				d->oof_labels[at] = row_class[valid[r]];
			else
				d->oof_truth[at] = d->frame->cols[d->target].num[valid[r]];
		}
	}
	free(row_class);
	if (rc != FITD_OK)
		return fitd_error_set(err, rc, NULL, "out-of-fold rows: out of memory");
	return FITD_OK;
}

void worker_oof_release(struct worker_data *d)
{
	for (size_t i = 0; d->class_names != NULL && i < d->oof_width; i++)
		free(d->class_names[i]);
	free(d->class_names);
	free(d->oof_labels);
	free(d->oof_truth);
}

int worker_oof_fold(const struct worker_data *d, const struct fit_model *m, const size_t *valid,
		    size_t nvalid, int threads, float *dst, struct fitd_error *err)
{
	const struct fit_model_desc *md = fit_model_desc(m);
	size_t k = fit_model_noutputs(m), w = d->oof_width;
	double *p = malloc((nvalid * k + 1) * sizeof(double));
	size_t *map = calloc(k + 1, sizeof(size_t));
	int rc = p != NULL && map != NULL ? FITD_OK
					  : fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");

	/* A model class the job does not know (none should be) maps past the row: dropped. */
	for (size_t c = 0; rc == FITD_OK && d->task == FIT_TASK_CLASSIFICATION && c < k; c++) {
		map[c] = w;
		for (size_t j = 0; j < w; j++)
			if (strcmp(md->classes[c], d->class_names[j]) == 0)
				map[c] = j;
	}
	if (rc == FITD_OK)
		rc = fit_model_predict(m, d->frame, valid, nvalid, threads, p, NULL, err);
	for (size_t r = 0; rc == FITD_OK && r < nvalid; r++) {
		float *row = dst + r * w;

		if (d->task != FIT_TASK_CLASSIFICATION) {
			row[0] = (float)p[r];
			continue;
		}
		memset(row, 0, w * sizeof(float));
		for (size_t c = 0; c < k; c++)
			if (map[c] < w)
				row[map[c]] = (float)p[r * k + c];
	}
	free(p);
	free(map);
	return rc;
}

/* ---- the final step's choice ---- */

void worker_ensemble_plan_release(struct worker_ensemble_plan *p)
{
	free(p->member);
	free(p->weight);
	p->member = NULL;
	p->weight = NULL;
}

/*
 * Loads the candidates' files into preds, keeping every stride-th row; a
 * candidate without a good file gets NULL.
 */
static int load_preds(const struct worker_task *t, size_t stride, float **preds, size_t *have)
{
	const struct worker_data *d = t->data;
	size_t w = d->oof_width;

	*have = 0;
	for (size_t c = 0; c < t->ncands; c++) {
		struct fitd_error e = { 0 };
		size_t n = 0;
		int rc = store_oof_read(t->store, t->job_id, t->cands[c].idx, &preds[c], &n, &e);

		if (rc == FITD_ENOMEM)
			return rc;
		if (rc == FITD_OK && n != d->noof * w) {
			free(preds[c]);
			preds[c] = NULL;
		}
		for (size_t i = 0, j = 0; preds[c] != NULL && stride > 1 && i < d->noof;
		     i += stride, j++)
			memmove(preds[c] + j * w, preds[c] + i * w, w * sizeof(float));
		*have += preds[c] != NULL;
	}
	return FITD_OK;
}

static void decide(const struct worker_task *t, struct worker_ensemble_plan *p,
		   enum fit_metric metric, int64_t left)
{
	bool higher = fit_metric_higher_is_better(metric);

	if (p->n < 2 && p->limited)
		snprintf(p->reason, sizeof(p->reason),
			 "greedy selection kept the best trial alone: refitting another member "
			 "would not fit in the %.1f s left of max_seconds",
			 (double)(left > 0 ? left : 0) / 1000);
	else if (p->n < 2)
		snprintf(p->reason, sizeof(p->reason),
			 "greedy selection kept the best trial alone");
	else if (t->ensemble_always) {
		p->use = true;
		snprintf(p->reason, sizeof(p->reason),
			 "search.ensemble is true (out of fold: %.6g, the best single trial %.6g)",
			 p->score, p->single);
	} else if (!(higher ? p->score > p->single : p->score < p->single))
		snprintf(p->reason, sizeof(p->reason),
			 "the ensemble's out-of-fold %s (%.6g) does not beat the best single "
			 "trial's (%.6g)",
			 fit_metric_name(metric), p->score, p->single);
	else if (!p->checked)
		snprintf(p->reason, sizeof(p->reason),
			 "the ensemble's out-of-fold %s could not be checked on rows it was not "
			 "chosen on",
			 fit_metric_name(metric));
	else if (!(higher ? p->check_ens > p->check_single : p->check_ens < p->check_single))
		snprintf(p->reason, sizeof(p->reason),
			 "chosen on half the rows and scored on the other, the ensemble's %s "
			 "(%.6g) does not beat the best single trial's (%.6g)",
			 fit_metric_name(metric), p->check_ens, p->check_single);
	else {
		p->use = true;
		snprintf(
		    p->reason, sizeof(p->reason),
		    "the ensemble's out-of-fold %s (%.6g) beats the best single trial's "
		    "(%.6g), also where neither was chosen (%.6g, %.6g)%s",
		    fit_metric_name(metric), p->score, p->single, p->check_ens, p->check_single,
		    p->limited ? "; its members kept to the refits that fit in the time left" : "");
	}
}

/* A candidate's refit: its fold fit time with a margin. */
static int64_t refit_cost(const struct worker_task *t, size_t cand)
{
	return t->cands[cand].fold_ms * WORKER_ENSEMBLE_REFIT_PCT / 100;
}

/* The distinct picks of the selection, best candidate first (the candidates' order). */
static int fill_members(struct worker_ensemble_plan *p, const size_t *cand_of,
			const unsigned *counts, size_t nusable, unsigned rounds)
{
	p->member = calloc(nusable, sizeof(size_t));
	p->weight = calloc(nusable, sizeof(double));
	if (p->member == NULL || p->weight == NULL)
		return FITD_ENOMEM;
	for (size_t u = 0; u < nusable; u++) {
		if (counts[u] == 0)
			continue;
		p->member[p->n] = cand_of[u];
		p->weight[p->n] = (double)counts[u] / rounds;
		p->n++;
	}
	return FITD_OK;
}

int worker_ensemble_plan(const struct worker_task *t, struct worker_ensemble_plan *p,
			 struct fitd_error *err)
{
	const struct worker_data *d = t->data;
	enum fit_metric metric = t->params.metric;
	float **preds = calloc(t->ncands + 1, sizeof(float *));
	const float **usable = calloc(t->ncands + 1, sizeof(float *));
	size_t *cand_of = calloc(t->ncands + 1, sizeof(size_t));
	unsigned *counts = calloc(t->ncands + 1, sizeof(unsigned));
	double *cost = calloc(t->ncands + 1, sizeof(double));
	int64_t left = t->deadline_ms > 0 ? t->deadline_ms - fitd_clock_ms() : INT64_MAX;
	/* With a deadline, the members are only those whose refits fit before it. */
	struct fit_ensemble_limit limit = { .cost = cost, .budget = (double)left };
	const struct fit_ensemble_limit *lim = t->deadline_ms > 0 ? &limit : NULL;
	struct fit_ensemble_choice ch = { .counts = counts };
	size_t stride = (d->noof + WORKER_ENSEMBLE_MAX_ROWS - 1) / WORKER_ENSEMBLE_MAX_ROWS;
	size_t nsel = stride > 1 ? (d->noof + stride - 1) / stride : d->noof;
	int32_t *labels = d->oof_labels != NULL ? malloc((nsel + 1) * sizeof(int32_t)) : NULL;
	double *truth = d->oof_truth != NULL ? malloc((nsel + 1) * sizeof(double)) : NULL;
	size_t have = 0, nu = 0;
	int rc = preds && usable && cand_of && counts && cost && (labels || truth) ? FITD_OK
										   : FITD_ENOMEM;

	memset(p, 0, sizeof(*p));
	p->single_idx = -1;
	if (metric == FIT_METRIC_AUTO)
		metric = d->task == FIT_TASK_CLASSIFICATION ? FIT_METRIC_ACCURACY : FIT_METRIC_RMSE;
	stride = stride > 1 ? stride : 1;
	for (size_t i = 0, j = 0; rc == FITD_OK && i < d->noof; i += stride, j++) {
		if (labels != NULL)
			labels[j] = d->oof_labels[i];
		if (truth != NULL)
			truth[j] = d->oof_truth[i];
	}
	if (rc == FITD_OK)
		rc = load_preds(t, stride, preds, &have);
	for (size_t c = 0; rc == FITD_OK && c < t->ncands; c++)
		if (preds[c] != NULL) {
			usable[nu] = preds[c];
			cost[nu] = (double)refit_cost(t, c);
			cand_of[nu++] = c;
		}
	if (rc == FITD_OK && nu < 2) {
		snprintf(p->reason, sizeof(p->reason),
			 "fewer than two trials kept out-of-fold predictions");
	} else if (rc == FITD_OK) {
		struct fitd_error e = { 0 };
		int src = fit_ensemble_select(usable, nu, nsel, d->oof_width, metric, labels, truth,
					      FIT_ENSEMBLE_ROUNDS, lim, &ch, &e);

		if (src == FITD_ENOMEM)
			rc = src;
		else if (src != FITD_OK)
			snprintf(p->reason, sizeof(p->reason), "selection failed: %.160s",
				 e.message);
		if (src == FITD_OK) {
			p->scored = true;
			p->score = ch.score;
			p->single = ch.best_score;
			p->single_idx = t->cands[cand_of[ch.best]].idx;
			p->limited = ch.limited;
			rc = fill_members(p, cand_of, counts, nu, ch.rounds);
		}
		if (rc == FITD_OK && src == FITD_OK && p->n >= 2) {
			int crc = fit_ensemble_crossfit(usable, nu, nsel, d->oof_width, metric,
							labels, truth, FIT_ENSEMBLE_ROUNDS, lim,
							&p->check_ens, &p->check_single, &e);

			if (crc == FITD_ENOMEM)
				rc = crc;
			p->checked = crc == FITD_OK;
		}
		if (rc == FITD_OK && src == FITD_OK)
			decide(t, p, metric, left);
	}
	for (size_t c = 0; preds != NULL && c < t->ncands; c++)
		free(preds[c]);
	free(preds);
	free(usable);
	free(cand_of);
	free(counts);
	free(cost);
	free(labels);
	free(truth);
	if (rc != FITD_OK)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "ensemble selection: out of memory");
	return FITD_OK;
}

json_t *worker_ensemble_detail(const struct worker_task *t, const struct worker_ensemble_plan *p,
			       bool ensemble, const char *reason)
{
	json_t *members = json_array();
	json_t *o;

	for (size_t k = 0; p != NULL && k < p->n && members != NULL; k++)
		if (json_array_append_new(members, json_pack("{s:I, s:f}", "trial",
							     (json_int_t)t->cands[p->member[k]].idx,
							     "weight", p->weight[k])) != 0) {
			json_decref(members);
			members = NULL;
		}
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "kind",
		      ensemble ? "ensemble" : "single", "reason", reason, "metric",
		      fit_metric_name(t->params.metric), "ensemble_score",
		      p != NULL && p->scored ? json_real(p->score) : json_null(), "single_score",
		      p != NULL && p->scored ? json_real(p->single) : json_null(), "single_trial",
		      p != NULL && p->single_idx >= 0 ? json_integer(p->single_idx) : json_null(),
		      "members", members);
	return o;
}
