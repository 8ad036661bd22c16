/*
 * search.h - the searcher of a job: which parameters trial idx runs with,
 * whether a running trial is stopped early, and when the search is over.
 *
 * Algorithms (search.algorithm in the spec):
 *
 *   random  points drawn uniformly from the space (log ranges in log space);
 *           a finite space (lists only) is walked in a seeded random order
 *           without repeats.
 *   grid    every point of a space of lists, in a fixed order.
 *   tpe     the tree-structured Parzen estimator (Bergstra et al. 2011):
 *           SEARCH_TPE_STARTUP random trials, then the observed trials are
 *           split into the best quarter (at most 25) and the rest, a density
 *           l(x) (good) and g(x) (rest) is estimated per slot and per model
 *           family (categorical counts with a prior of one; Parzen windows of
 *           truncated Gaussians in log space for log ranges), 24 candidates
 *           are drawn from l and the one with the largest l/g is proposed.
 *   asha    random points, stopped early by asynchronous successive halving.
 *   auto    the default: a portfolio of strong known configurations first,
 *           each family's first one its usual default (linear or logistic
 *           by lbfgs with scikit-learn's L2 penalty of C = 1, boosted trees
 *           with LightGBM's defaults, a linear SVM as LinearSVC by dcd,
 *           scikit-learn's default MLP by adam, then larger boosted trees;
 *           search.c), each projected into the space, cheapest first on
 *           the data at hand (struct search_shape); then tpe, with
 *           successive halving stopping the weak trials early. Told the
 *           data's shape, tpe first draws the family of each trial in
 *           proportion to its expected improvement per unit of estimated
 *           work (search__family()), so a family many times dearer per
 *           trial must promise that much more, and then models that
 *           family's own trials. The known configurations give a good
 *           model within the first few trials, which matters when the
 *           budget is time; they also give tpe informative first
 *           observations; successive halving lets tpe afford more trials.
 *           A finite space that fits the trial budget is enumerated instead
 *           (a single fixed setting runs once).
 *
 * Every algorithm stops once a finite space is exhausted.
 *
 * Reproducibility. The proposal for trial k depends only on the seed, k and
 * the trials with index < k - SEARCH_WINDOW, never on the clock or the order
 * in which trials finished. The scheduler may therefore run up to
 * SEARCH_WINDOW + 1 trials at once and must not propose trial k before
 * search_may_propose() says every trial below k - SEARCH_WINDOW finished.
 * A searcher rebuilt after a restart and given the stored history proposes
 * exactly what the first one did. The stop rules and the pruning decision
 * follow the same window. The cost: with more than SEARCH_WINDOW + 1 slots,
 * or behind one slow trial, slots wait. All of this assumes a trial's
 * scores depend only on its parameters, data and seed (DESIGN.md rule 5); a
 * trial ended by a clock (timeout) is left out of every model for that
 * reason. For the same reason the cost auto weighs is never a measured
 * duration, which depends on the machine and its load, but an estimate
 * of the work of a trial's parameters on the data's shape (rows times
 * features times epochs for a linear model or network, rounds times
 * leaves and bins for trees; search__work()): the same everywhere.
 *
 * Successive halving (asha, auto). Rungs are at SEARCH_ASHA_MIN_EPOCHS *
 * SEARCH_ASHA_ETA^i epochs (3, 9, 27, 81, ...); a gbdt trial's budget is
 * boosting rounds, with rungs at SEARCH_ASHA_MIN_ROUNDS * SEARCH_ASHA_ETA^i
 * rounds (10, 30, 90, 270, 810, ...): a round at learning rate 0.1 moves
 * the margins a tenth of the way, so a few rounds say little. At a rung, trial k continues
 * only when its score is among the best 1/SEARCH_ASHA_ETA of the rung scores
 * of the trials with index < k - SEARCH_WINDOW that reached the rung (itself
 * included; ties continue), and only once at least SEARCH_ASHA_ETA such
 * trials exist. Those trials are finished whenever k runs, so the decision
 * is the same at any parallelism and after a restart. The caveat: trial k
 * is not compared with the SEARCH_WINDOW trials just before it even when
 * they are done (a wholly asynchronous ASHA would be, and would then depend
 * on timing), and the rung scores of finished trials must be stored and
 * given back in the history, or decisions after a restart differ.
 *
 * Scores are in the metric's own units (rmse as rmse); the searcher knows
 * from the spec whether higher is better. Trial states the history must
 * map: queued and running are SEARCH_TRIAL_PENDING.
 *
 * Trial parameters (the contract with the trainer): a JSON object holding
 * model, loss and regularization, the optimizer when the family takes one,
 * and of the settings only those the combination reads (the core's
 * fit_combo_settings(), worker/fit/params.h); names are the core's. With
 * today's family table that is
 *
 *   model           "linear" | "logistic" | "svm" | "mlp" | "gbdt"   always
 *   optimizer       "gd" | "sgd" | "momentum" | "adam" | "lbfgs" | "newton" |
 *                   "dcd"              every family but gbdt
 *   learning_rate   number            gd, sgd, momentum, adam; gbdt (its
 *                                     shrinkage, from space.gbdt.learning_rate)
 *   batch_size      integer           sgd, momentum, adam
 *   epochs          integer           every family but gbdt (iterations for
 *                                     lbfgs, newton, dcd)
 *   regularization  "none" | "l1" | "l2" | "elasticnet" | "dropout"  always
 *   penalty         number            l1, l2, elasticnet; not for svm
 *   l1_ratio        number            elasticnet
 *   loss            "squared" | "huber" | "absolute" | "log" | "hinge" |
 *                   "squared_hinge"                                  always
 *   huber_delta     number            huber
 *   C               number            svm (its regularization's strength)
 *   hidden_layers   [units, ...]      mlp, 1 to 3 integers
 *   activation      "relu" | "tanh"   mlp
 *   dropout         number            regularization "dropout" (mlp)
 *   trees, max_leaves, max_depth, min_leaf_rows, max_bins
 *                   integer           gbdt
 *   min_child_weight, min_split_gain, subsample, colsample
 *                   number            gbdt
 *
 * An mlp has one regularizer per trial: a weight penalty (l1, l2,
 * elasticnet with "penalty"), dropout (regularization "dropout" with the
 * rate in "dropout" and no penalty), or none.
 *
 * A struct search is immutable once built: every function may be called from
 * any thread at once. Histories are only read.
 */
#ifndef WORKER_SEARCH_SEARCH_H
#define WORKER_SEARCH_SEARCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/base/status.h"
#include "worker/spec.h"

#define SEARCH_WINDOW	       8  /* see "Reproducibility" above */
#define SEARCH_TPE_STARTUP     10 /* observed trials before tpe models them */
#define SEARCH_TPE_CANDIDATES  24
#define SEARCH_ASHA_ETA	       3
#define SEARCH_ASHA_MIN_EPOCHS 3
#define SEARCH_ASHA_MIN_ROUNDS 10 /* gbdt: the first rung, in boosting rounds */

enum search_trial_state {
	SEARCH_TRIAL_PENDING,	/* queued or running: not finished */
	SEARCH_TRIAL_COMPLETED, /* has a final score */
	SEARCH_TRIAL_PRUNED,	/* stopped at a rung */
	SEARCH_TRIAL_FAILED,	/* diverged or could not run: counts as bad */
	SEARCH_TRIAL_TIMEOUT,	/* finished by a clock: ignored by the models */
	SEARCH_TRIAL_INTERRUPTED,
};

/* One trial of the history. Everything is borrowed for the call. */
struct search_trial {
	size_t idx;
	enum search_trial_state state;
	const json_t *params; /* as proposed; NULL leaves the trial out of the models */
	bool has_score;
	double score;	     /* the final validation score (completed trials) */
	const double *rungs; /* rungs[i]: the score at rung i (search_rung_budget()) */
	size_t nrungs;	     /* rungs the trial reached */
};

/* The trials of a job in any order, at most one per index. */
struct search_history {
	const struct search_trial *trials;
	size_t n;
};

enum search_stop {
	SEARCH_STOP_NONE,
	SEARCH_STOP_MAX_TRIALS, /* the trial budget is used */
	SEARCH_STOP_EXHAUSTED,	/* every point of a finite space was proposed */
	SEARCH_STOP_PATIENCE,	/* no better trial among the last search.patience */
	SEARCH_STOP_GOAL,	/* a trial reached search.goal */
};

struct search;

/*
 * Builds the searcher of spec (which must outlive it). *out is NULL on
 * error: FITD_ENOMEM, or FITD_EUNPROCESSABLE for a space it cannot search.
 */
int search_new(const struct worker_spec *spec, struct search **out, struct fitd_error *err);

/*
 * The shape of a job's data, for what auto decides before it has scores:
 * its known linear configurations take scikit-learn's penalty of C = 1 on
 * rows training rows (1 / rows), and the portfolio runs and the later
 * trials are shared out by a deterministic estimate of a trial's work
 * (search__work() in search.c: rows times features times epochs, or rounds
 * times leaves, never a clock, so "Reproducibility" holds). It comes from
 * the data alone, so a searcher rebuilt after a restart proposes the same.
 */
struct search_shape {
	size_t rows;	 /* rows a fold trains on */
	size_t width;	 /* preprocessed features a linear model or network reads */
	size_t features; /* input columns, which trees split */
	size_t outputs;	 /* scores per row: the classes when more than two, else 1 */
};

/*
 * search_new() with the data's shape (NULL: not known, which is search_new():
 * the known configurations in their listed order with a penalty of 1e-4,
 * and tpe over every family at once).
 */
int search_new_sized(const struct worker_spec *spec, const struct search_shape *shape,
		     struct search **out, struct fitd_error *err);

/* NULL is allowed. */
void search_free(struct search *s);

/*
 * The parameters of trial idx (a new reference), or NULL once a finite
 * space is exhausted. Reads only the trials of h below idx - SEARCH_WINDOW.
 */
json_t *search_propose(const struct search *s, size_t idx, const struct search_history *h);

/* Whether every trial below idx - SEARCH_WINDOW is in h and finished. */
bool search_may_propose(const struct search *s, size_t idx, const struct search_history *h);

/*
 * Whether trial idx should not be created: the search part of the job is
 * over. *reason (may be NULL) says why. max_trials and an exhausted space
 * depend on idx alone; patience and goal look at the trials below
 * idx - SEARCH_WINDOW in index order, so the set of trials a job runs is
 * the same at any parallelism. Patience counts finished trials since the
 * last strictly better completed one; the goal is reached when a completed
 * trial's score is at least as good as it.
 */
bool search_should_stop(const struct search *s, size_t idx, const struct search_history *h,
			enum search_stop *reason);

/* "max_trials", "exhausted", "patience", "goal"; "none". */
const char *search_stop_name(enum search_stop reason);

/* Whether this searcher ever prunes (asha and auto). */
bool search_prunes(const struct search *s);

/*
 * The rung reached after epoch epochs (1-based) of a trial with params (as
 * proposed; gbdt counts boosting rounds), or -1 when it is not a rung or
 * the searcher does not prune. params NULL counts epochs.
 */
int search_rung_at(const struct search *s, const json_t *params, unsigned epoch);

/* Epochs of rung i of a trial with params (rounds for gbdt; NULL: epochs). */
unsigned search_rung_budget(const json_t *params, unsigned rung);

/* search_rung_at() and search_rung_budget() in epochs (params NULL). */
int search_rung_of_epoch(const struct search *s, unsigned epoch);
unsigned search_rung_epochs(unsigned rung);

/*
 * Whether running trial idx with params (as proposed; NULL compares it with
 * every trial), having scored score after epoch epochs (rounds for gbdt),
 * stops here (state pruned). False except at rungs of a pruning searcher, and
 * for lbfgs, newton and dcd (see asha.c). The caller does not ask after the
 * trial's last epoch.
 */
bool search_should_prune(const struct search *s, size_t idx, const json_t *params, unsigned epoch,
			 double score, const struct search_history *h);

/* Points of a finite space; UINT64_MAX when a dimension is a range. */
uint64_t search_grid_size(const struct search *s);

/* The algorithm actually used, after auto chose: "grid", "random", ... */
const char *search_algorithm_name(const struct search *s);

#endif
