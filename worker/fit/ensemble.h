/*
 * ensemble.h - greedy ensemble selection over out-of-fold predictions
 * (Caruana et al. 2004) and the ensemble as one model.
 *
 * Selection: start from an empty ensemble and, round after round, add
 * (with replacement) the candidate whose addition gives the best score of
 * the averaged predictions; a candidate's weight is the share of rounds
 * that picked it. The ensemble kept is the best prefix of the rounds, so
 * it never scores worse than its first pick, the best single candidate.
 * Ties go to the lower candidate index (and the earlier round), so the
 * answer depends only on the inputs.
 *
 * An ensemble model (fit_model_ensemble_new()) is a struct fit_model like
 * any other: fit_model_predict() gives the weighted mean of the members'
 * predictions (probabilities for classification: combined in probability
 * space; values for regression), and fit_model_score(),
 * fit_model_margins() and fit_model_contributions() work on it. Its
 * margins and contributions are the weighted sums of the members' (on
 * the members' raw scale: target units, log-odds, softmax inputs), so a
 * row's contributions still sum to its margin; for a classifier that
 * margin is the weighted mean of the members' margins, not the link of
 * the predicted probability, which averages after the link.
 * fit_model_desc() of an ensemble has nmembers > 0, its members and
 * weights; its columns are the union of the members' (by name), its
 * target, task and classes those of the members, and its params the first
 * member's. Thread-safety as any model: immutable once built.
 */
#ifndef FIT_ENSEMBLE_H
#define FIT_ENSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/fit/model.h"

/* Rounds of greedy selection: AutoGluon's choice (no gain seen above 25). */
#define FIT_ENSEMBLE_ROUNDS 25

/*
 * What the members may cost together (their refits' time, say): a
 * candidate not yet in the ensemble joins only while the members' costs
 * plus its own stay within budget. The first pick, the best single
 * candidate, always joins (and counts). A NULL limit is no limit.
 */
struct fit_ensemble_limit {
	const double *cost; /* per candidate, >= 0 */
	double budget;
};

/* What fit_ensemble_select() gives back. */
struct fit_ensemble_choice {
	unsigned *counts; /* per candidate: rounds that picked it (caller's array) */
	unsigned rounds;  /* rounds in the kept prefix: the sum of counts */
	double score;	  /* the metric of the kept ensemble on the rows */
	size_t best;	  /* the best single candidate (the first pick) */
	double best_score;
	bool limited; /* the limit kept some candidate out of some round */
};

/*
 * Selects an ensemble of ncand candidates from their predictions on the
 * same nrows rows: preds[c] holds nrows * nout floats, row-major, the
 * class probabilities (nout = classes, with labels in 0..nout-1, -1 for a
 * class no candidate knows) or the regression values (nout = 1, with
 * truth). Runs `rounds` rounds within limit (NULL: none) and keeps the
 * best prefix in *choice, whose counts array (ncand entries) the caller
 * provides. FITD_EINVAL for
 * no candidate, no row or rounds 0 or a metric of the other task; the
 * metric's errors (an undefined AUC); FITD_ENOMEM.
 */
int fit_ensemble_select(const float *const *preds, size_t ncand, size_t nrows, size_t nout,
			enum fit_metric metric, const int32_t *labels, const double *truth,
			unsigned rounds, const struct fit_ensemble_limit *limit,
			struct fit_ensemble_choice *choice, struct fitd_error *err);

/*
 * The selection bias guard: how the ensemble selection and the choice of
 * the best single candidate do on rows they were not chosen on. The rows
 * are split by parity; each half chooses (fit_ensemble_select(), whose
 * first pick is the best single candidate) and the other half scores both
 * choices; *ens and *single are the two halves' scores weighted by their
 * rows. On the rows it was chosen on, an ensemble of 25 picks among many
 * candidates looks better than it is (it fits their noise); here both
 * choices are scored honestly and the ensemble must win there too. Each
 * half's selection keeps to limit, as the one checked did. Arguments and
 * errors as fit_ensemble_select(); FITD_EINVAL under 2 rows.
 */
int fit_ensemble_crossfit(const float *const *preds, size_t ncand, size_t nrows, size_t nout,
			  enum fit_metric metric, const int32_t *labels, const double *truth,
			  unsigned rounds, const struct fit_ensemble_limit *limit, double *ens,
			  double *single, struct fitd_error *err);

/*
 * A new ensemble model of n members with weights (positive, normalized
 * here to sum to 1). Takes the members over: they belong to *out, and are
 * freed on failure too. The members must agree on task, target and
 * classes (FITD_EFORMAT otherwise) and may not be ensembles themselves.
 * FITD_EINVAL for n = 0 or a weight that is not positive and finite;
 * FITD_ENOMEM.
 */
int fit_model_ensemble_new(struct fit_model **members, const double *weights, size_t n,
			   struct fit_model **out, struct fitd_error *err);

#endif
