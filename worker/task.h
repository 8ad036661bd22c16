/*
 * task.h - one unit of work on a trial thread, a task: a trial (the
 * parameters scored by cross-validation or holdout) or the final refit of a
 * job's best parameters on all training rows.
 *
 * The scheduler fills a struct worker_task on the loop thread, submits
 * worker_task_run() to the pool, and reads the results back on the loop
 * thread after the done callback. While it runs, only `stop` (atomic) is
 * shared; everything else is either read-only or written only by the trial
 * thread before `done` is called.
 */
#ifndef WORKER_TASK_H
#define WORKER_TASK_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/files.h"
#include "worker/fit/model.h"
#include "worker/fit/split.h"
#include "worker/pool.h"
#include "worker/spec.h" /* WORKER_MAX_FOLDS */

/* A job's data, shared read-only by its trials; freed with the last reference. */
struct worker_data {
	atomic_int refs;
	struct fit_frame *frame;
	size_t target;
	size_t *features;
	size_t nfeatures;
	struct fit_split *split;	   /* the validation folds, from the job's seed */
	struct fit_prep_cache *prep_cache; /* the folds' fitted preprocessing, for every trial */
	size_t *all_rows;		   /* rows with a target value: what the refit trains on */
	size_t nall;
	enum fit_task task;
	size_t
	    width; /* preprocessed features: a numeric column counts 2, a categorical one levels + 1 */
	size_t cat_levels;  /* levels of the categorical feature columns in all */
	size_t cat_columns; /* categorical feature columns */
	size_t nclasses;    /* an upper bound; 0 for regression */
	/*
	 * Out-of-fold predictions (worker/ensemble.h): the validation rows of
	 * every split in turn, noof of them, oof_width values each (the
	 * classes of class_names, or 1 for regression), and their truth.
	 */
	size_t noof, oof_width;
	int32_t *oof_labels; /* classification: index into class_names */
	double *oof_truth;   /* regression */
	char **class_names;  /* classification: the labeled rows' classes, as models name them */
};

/* A candidate member of the job's ensemble: a completed trial with out-of-fold predictions. */
struct worker_candidate {
	int64_t idx;
	struct fit_params params;
	json_t *params_json; /* a reference */
	double score;	     /* its cross-validation mean */
	int64_t fold_ms;     /* its time per fold fit: what a refit takes, about */
};

/*
 * Loads the dataset file and computes the split. nclasses is the target's
 * number of classes as the dataset's stored facts count them
 * (spec_facts.h; an upper bound for a classification); 0 counts them from
 * the table. FITD_ENOMEM when memory runs out.
 */
int worker_data_new(const char *path, const char *target, const char *const *exclude,
		    size_t nexclude, enum fit_task task, size_t nclasses, unsigned folds,
		    unsigned repeats, double holdout, uint64_t seed, struct worker_data **out,
		    struct fitd_error *err);
struct worker_data *worker_data_ref(struct worker_data *d);
void worker_data_unref(struct worker_data *d);

enum worker_stop {
	WORKER_STOP_NONE = 0,
	WORKER_STOP_CANCEL,   /* the job was cancelled: trial interrupted */
	WORKER_STOP_DEADLINE, /* the job's time is up: trial timeout */
	WORKER_STOP_SHUTDOWN, /* the daemon stops: trial given back */
	WORKER_STOP_PRUNE,    /* the searcher stopped it early: trial pruned */
};

struct worker_task;

struct worker_task_hooks {
	/* Per epoch of fold `fold`, from the trial thread; must not block. */
	void (*progress)(struct worker_task *t, unsigned fold, unsigned epoch, double train_loss,
			 double score);
	/* Once, from the trial thread, when the results are written. */
	void (*done)(struct worker_task *t);
};

#define WORKER_MAX_RUNGS 8

struct worker_task {
	/* set before submit */
	char job_id[STORE_ID_MAX];
	int64_t idx; /* -1 for the refit */
	int64_t generation;
	struct worker_data *data; /* a reference, released by the scheduler */
	struct fit_params params;
	json_t *params_json;
	bool refit;
	const struct worker_task_hooks *hooks;
	void *owner;			   /* the scheduler's, for the hooks */
	void *hook_data;		   /* the scheduler's, read-only while the trial runs */
	struct worker_pool_task pool_task; /* the pool's while queued */
	struct worker_task *done_next;	   /* the scheduler's queue of finished tasks */
	/* the model file of an outcome the store refused, reused by the next try */
	char refused_model_id[STORE_ID_MAX];
	int64_t refused_model_bytes;

	size_t memory; /* the estimate admitted against the memory budget */

	struct store *store; /* out-of-fold files; the refit reads its stand-in here */
	bool keep_oof;	     /* a trial writes its out-of-fold predictions */
	/*
	 * ... unless it ranks after trial oof_bar_idx (-1: none), the worst of
	 * the kept files when the task was made, whose score is oof_bar: such
	 * a trial can never rank among them, so its write and fsync are saved.
	 */
	int64_t oof_bar_idx;
	double oof_bar;
	bool explain;	      /* a trial: fold 0's model gets permutation importance */
	bool ensemble_always; /* the refit: an ensemble even when it scores no better */
	/*
	 * The refit: the model file of the final trial's fold-0 model ("":
	 * none), whose permutation importance the final model takes instead
	 * of fitting fold 0 again.
	 */
	char standin_id[STORE_ID_MAX];
	bool used_standin; /* the refit: it did */
	/*
	 * The refit's ensemble candidates (owned; NULL: a single model),
	 * best first, and the monotonic ms by which the final model must be
	 * done (0: no limit), which decides whether members can be refitted.
	 */
	struct worker_candidate *cands;
	size_t ncands;
	int64_t deadline_ms;

	atomic_int stop; /* enum worker_stop, set from the loop thread */

	/* monotonic ms of the start or the last mini-batch, epoch or end: the watchdog's view */
	atomic_int_least64_t sign_ms;

	/* the latest progress, guarded by the scheduler's lock */
	bool prog_pending;
	unsigned prog_fold, prog_epoch;
	double prog_loss, prog_score;

	/* fold 0's score at each rung of successive halving, written by the progress hook */
	double rungs[WORKER_MAX_RUNGS];
	unsigned nrungs;

	/* results, written by the trial thread before done() */
	int status;
	struct fitd_error err;
	double score, score_std;
	double fold_scores[WORKER_MAX_FOLDS];
	unsigned nfolds_done;
	unsigned epochs; /* mean best epoch over folds: what a refit should run */
	int64_t duration_ms;
	json_t *model;	  /* fold 0's model (a trial) or the final model (the refit) */
	bool oof_written; /* a trial: its out-of-fold file is on disk */
	/*
	 * The refit: what the final model is and why ({"kind": "single" |
	 * "ensemble", "reason", ...}, the job's best.kind), or NULL.
	 */
	json_t *detail;
	int64_t final_idx; /* the refit: the trial the final model stands for */
};

/* Runs t on the calling (trial) thread, then calls t->hooks->done(t). */
void worker_task_run(void *t);

/* Frees what the results hold and drops the data reference; not t itself. */
void worker_task_release(struct worker_task *t);

#endif
