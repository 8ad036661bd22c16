/*
 * ensemble.h - the worker's side of ensembles: each trial's out-of-fold
 * predictions (what its fold models predicted for the rows they did not
 * train on), and the final step's choice between the best single trial
 * and a greedy ensemble of the best trials (worker/fit/ensemble.h).
 *
 * Out-of-fold rows are the validation rows of every split in turn, the
 * same for every trial of a job (the split comes from the job's seed).
 * A classifier's values are its class probabilities over the classes of
 * the job's labeled rows (worker_data.class_names), so fold models that
 * saw fewer classes still line up; a class a model does not know gets 0.
 * Trial threads call these; nothing here touches the loop's state.
 */
#ifndef WORKER_ENSEMBLE_H
#define WORKER_ENSEMBLE_H

#include <jansson.h>
#include <stdbool.h>

#include "worker/task.h"

/* Time per member refit is estimated as its per-fold fit time times this share (percent). */
#define WORKER_ENSEMBLE_REFIT_PCT 125
/*
 * Out-of-fold rows selection scores at most (every k-th row beyond), so the
 * 25 rounds over 16 candidates stay within a second or so on any table.
 */
#define WORKER_ENSEMBLE_MAX_ROWS 50000

/*
 * Fills d's out-of-fold rows, their truth and, for a classification, the
 * class names (from the target column of the labeled rows, named as the
 * models name them). FITD_ENOMEM, FITD_ETOOBIG.
 */
int worker_oof_prepare(struct worker_data *d, struct fitd_error *err);
void worker_oof_release(struct worker_data *d);

/*
 * Writes m's predictions of the nvalid rows valid (a fold's validation
 * rows) to dst: nvalid * d->oof_width floats. Errors of fit_model_predict().
 */
int worker_oof_fold(const struct worker_data *d, const struct fit_model *m, const size_t *valid,
		    size_t nvalid, int threads, float *dst, struct fitd_error *err);

/* What the final step decided. */
struct worker_ensemble_plan {
	bool use;	     /* refit the members into an ensemble */
	size_t n;	     /* members (distinct candidates) */
	size_t *member;	     /* indexes into the task's cands */
	double *weight;	     /* summing to 1 */
	bool scored;	     /* selection ran: the scores below are set */
	double score;	     /* the ensemble's out-of-fold score */
	double single;	     /* the best single candidate's out-of-fold score */
	int64_t single_idx;  /* ... and its trial */
	bool checked;	     /* the cross-fitted check ran (fit_ensemble_crossfit()) */
	double check_ens;    /* the selection's score on rows it was not chosen on */
	double check_single; /* the best single choice's, likewise */
	bool limited;	     /* the time left kept some candidate out of the selection */
	char reason[256];
};

/*
 * Reads the candidates' out-of-fold files (t->cands, from t->store),
 * selects the ensemble and decides whether it is used: it must score
 * better out of fold than the best single candidate, also where neither
 * was chosen (the cross-fitted check, fit_ensemble_crossfit()), have two
 * members or more, and its members' refits must fit before t->deadline_ms:
 * with a deadline, selection only takes in members whose refits fit in the
 * time left (struct fit_ensemble_limit), so a short budget gets a smaller
 * ensemble rather than none. Errors are
 * FITD_ENOMEM only; a missing or damaged file drops its candidate.
 */
int worker_ensemble_plan(const struct worker_task *t, struct worker_ensemble_plan *p,
			 struct fitd_error *err);
void worker_ensemble_plan_release(struct worker_ensemble_plan *p);

/*
 * The job's best.kind and why: {"kind", "reason", "metric",
 * "ensemble_score", "single_score", "single_trial", "members": [{"trial",
 * "weight"}]}; p NULL when no selection ran. NULL when memory runs out.
 */
json_t *worker_ensemble_detail(const struct worker_task *t, const struct worker_ensemble_plan *p,
			       bool ensemble, const char *reason);

#endif
