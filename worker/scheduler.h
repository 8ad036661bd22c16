/*
 * scheduler.h - the scheduler's private structures, shared by scheduler.c (the
 * loop: wake-ups, slots, job ends), record.c (the task hooks and the
 * recording of results) and job.c (one job's plan and history). Nothing
 * outside worker/ includes it.
 */
#ifndef WORKER_SCHEDULER_H
#define WORKER_SCHEDULER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/base/buf.h"
#include "worker/search/search.h"
#include "worker/spec.h"
#include "worker/task.h"
#include "worker/worker.h"

/*
 * The circuit breaker: a job with no completed trial whose last this many
 * finished trials (in index order) all failed with the same error code
 * ends failed with that code and the last message, rather than proposing
 * trials that fail the same way until its budget runs out (a table too
 * wide for the memory budget, a learning rate that always diverges).
 */
#define SCHED_BREAKER_TRIALS 10

/*
 * What one scheduling pass does at most before it hands the loop back
 * (and wakes itself to go on): trials started or refused, and jobs loaded.
 * Signals, the heartbeat and the watchdog's pings run between passes, so
 * a job whose trials fail as fast as they are proposed never starves them.
 */
#define SCHED_PASS_TRIALS 16
/*
 * Trials of a job whose out-of-fold predictions are kept for its ensemble:
 * the best ones by cross-validation score (ties to the lower index); a
 * file past them is removed as soon as a better trial completes.
 */
#define SCHED_OOF_KEEP	 16
#define SCHED_PASS_LOADS 2

/* What the scheduler reads from a job's normalized spec. */
struct sched_plan {
	enum fit_task task;
	enum fit_metric metric;
	bool higher_is_better;
	unsigned folds; /* 0: holdout */
	unsigned repeats;
	double holdout;
	unsigned patience;     /* early stopping inside a fit; 0 = off */
	int64_t gbdt_min_rows; /* gbdt: patience only from this many labeled rows */
	int64_t max_ms;	       /* 0: no limit */
	unsigned parallel;     /* 0: auto */
	unsigned threads_per;  /* 0: auto */
	uint64_t seed;
	bool ensemble;	      /* search.ensemble: the final model may be an ensemble */
	bool ensemble_always; /* search.ensemble true: it is, whenever it can be */
	bool refit;	      /* search.refit: false ends on the best trial's model */
	unsigned max_trials;  /* 0: unbounded */
};

/* One trial as the searcher and the scheduler see it. */
struct sched_rec {
	enum store_trial_state state;
	json_t *params;
	bool has_score;
	double score;
	double score_std;    /* over the folds (completed trials) */
	int64_t duration_ms; /* completed trials */
	bool oof;	     /* its out-of-fold file may be on disk (SCHED_OOF_KEEP) */
	int64_t generation;  /* while running */
	int64_t last_progress_ms;
	double rungs[WORKER_MAX_RUNGS]; /* fold 0's score at each rung reached */
	unsigned nrungs;
	struct worker_task *task; /* while running here */
};

/*
 * What a running trial's thread needs to decide on pruning by itself, at
 * the very epoch of a rung: the searcher (immutable) and a copy of the
 * history it may read (the finished trials below idx - SEARCH_WINDOW).
 */
struct sched_snapshot {
	const struct search *search;
	struct search_history h;
	struct search_trial *trials;
	double *rungs;
};

enum sched_end {
	SCHED_END_NONE,
	SCHED_END_SEARCH_DONE, /* budget of trials or a stop rule: refit, then succeed */
	SCHED_END_DEADLINE,    /* time is up */
	SCHED_END_CANCEL,
	SCHED_END_FAILED, /* the job cannot run (data gone, spec unreadable) */
	/*
	 * Another node took the job's lease (a shared store): its trials are
	 * stopped and it is forgotten once they are, nothing of it written.
	 */
	SCHED_END_LOST,
};

struct sched_job {
	struct worker *w;
	char id[STORE_ID_MAX];
	json_t *spec_json;
	struct worker_spec *spec;
	struct search *search;
	struct sched_plan plan;
	struct worker_data *data;

	struct sched_rec *recs; /* by trial index */
	size_t nrecs, caprecs;
	struct fitd_buf hist; /* scratch for the searcher's view of recs (search_trial) */
	unsigned running;     /* trials of this job on the pool */
	unsigned threads_per; /* effective */
	unsigned parallel;    /* effective */

	int64_t best_idx; /* -1: none yet */
	double best_score;
	char best_model_id[STORE_ID_MAX];
	int64_t best_duration_ms;
	int64_t final_idx; /* the trial the refit runs (sched_job_final_trial()) */

	int64_t elapsed_saved_ms; /* running time committed to the store */
	int64_t run_mark_ms;	  /* monotonic time up to which elapsed was counted */
	int64_t elapsed_ms;	  /* total running time, saved or not */

	enum sched_end end;
	char fail_code[FITD_ERROR_CODE_MAX];
	char fail_message[FITD_ERROR_MESSAGE_MAX];

	/* the circuit breaker: finished trials that failed in a row with streak_code */
	unsigned streak;
	char streak_code[FITD_ERROR_CODE_MAX];
	char streak_message[FITD_ERROR_MESSAGE_MAX]; /* the last one's */
	struct worker_task *refit;		     /* while the refit runs */
	bool refit_done;
	bool final_said;			  /* a refit stored what the final model is */
	char refit_error[FITD_ERROR_MESSAGE_MAX]; /* why the refit failed, if it did */
	bool cancel_seen;

	/*
	 * A shared store (store_shared()): trials of one job run on every
	 * node. shared_parallel caps the job's trials queued or running on all
	 * nodes together, as the proposer (the lease holder) offers them.
	 * A guest is this node's copy of a job another node holds, loaded to
	 * run trials it took: it never proposes, ends the job, refits or
	 * counts time, and is freed once idle for GUEST_IDLE_MS.
	 */
	unsigned shared_parallel;
	bool guest;
	bool withdrawn;	       /* the proposer withdrew the other nodes' trials at its end */
	bool store_changed;    /* another node wrote to it: read it back (share_read()) */
	int64_t idle_since_ms; /* a guest: when it last ran a trial */

	struct sched_job *next;
};

struct worker {
	uv_loop_t *loop;
	struct store *store;
	struct worker_options opt;
	struct worker_pool *pool;
	char owner[STORE_NODE_MAX]; /* the node id: owner of its leases */

	uv_async_t wake;
	uv_timer_t heartbeat;
	uv_timer_t tick; /* deadlines: re-armed to the nearest one */

	pthread_mutex_t lock; /* guards done and progress below */
	/* finished tasks to record, oldest first, linked by done_next */
	struct worker_task *done, *done_last;
	/*
	 * struct worker_task * of each task with fresh progress, NULL for one
	 * that finished since; capped (see worker_new): past it an epoch is
	 * not shown, as when memory runs out
	 */
	struct fitd_buf progress;
	/* finished tasks whose outcome the store refused, linked by done_next; loop thread */
	struct worker_task *unrecorded;

	struct sched_job *jobs; /* running jobs in round-robin order */
	struct sched_job *rr;	/* where the next slot search starts */
	int64_t load_after_ms;	/* after a job could not be loaded for memory: no load before */
	unsigned threads_busy;
	unsigned tasks_running; /* tasks (trials, refits) started and not yet freed */
	int64_t busy_at_ms;	/* the last heartbeat that saw a task running */
	size_t memory_budget;	/* bytes */
	size_t memory_busy;	/* estimates of the tasks on the pool */
	bool stopping;
	/*
	 * A shared store: the job leases are renewed and new jobs taken once a
	 * heartbeat, or at the next pass when lease_due says something changed
	 * (a job submitted or cancelled here, a job ended), not on every pass,
	 * since each is a write transaction and progress wakes the loop often.
	 */
	atomic_bool lease_due;
	int64_t lease_at_ms;  /* monotonic time of the last lease pass */
	unsigned pass_trials; /* what this pass may still start (SCHED_PASS_TRIALS) */
	unsigned pass_loads;  /* ... and load (SCHED_PASS_LOADS) */
	bool pass_cut;	      /* it stopped short: the next pass goes on */

	/*
	 * A shared store: jobs other nodes hold whose trials this node runs
	 * (sched_job.guest), and when it last looked at the store for what the
	 * others did (a poll every SCHED_SHARE_POLL_MS, or at once when
	 * store_changed is set by worker_store_changed() or a guest's trial
	 * ending).
	 */
	struct sched_job *guests;
	atomic_bool store_changed; /* read every job back */
	bool share_due;		   /* read back the jobs marked store_changed, take offers */
	int64_t share_at_ms;
	int64_t guests_at_ms; /* the guests' jobs were last read */
	int64_t guest_load_after_ms;
	uv_timer_t poll;

	worker_events_fn on_events;
	void *on_events_data;
};

/* ---- job.c ---- */

/*
 * How often a node on a shared store reads back what the other nodes did
 * with the trials of its jobs, and looks for trials to take.
 */
#define SCHED_SHARE_POLL_MS 250

/*
 * Loads a job from the store: spec, searcher, data, history. A guest
 * (another node holds the job) leaves the job's row as it is and takes the
 * holder's threads per trial (its runtime), within this node's budget.
 */
int sched_job_load(struct worker *w, const char *id, bool guest, struct sched_job **out,
		   struct fitd_error *err);

/*
 * Reads the job's trials back from the store (a shared store): what other
 * nodes ran, took or finished feeds the records, the best trial, the
 * searcher's history and, on the holder, the circuit breaker, exactly as
 * local outcomes do. A trial running here whose row moved on (rescued,
 * withdrawn) is asked to stop: nothing of it can be recorded. Offered
 * trials deleted since are forgotten.
 */
int sched_job_refresh(struct sched_job *j, struct fitd_error *err);

/* Trials of j queued or running, on any node as far as j's records know. */
unsigned sched_job_pending(const struct sched_job *j);
void sched_job_free(struct sched_job *j);

/* Running time of the job so far (ms), counting up to now. */
int64_t sched_job_elapsed(struct sched_job *j, int64_t now_mono);

/*
 * The next trial to run: a re-queued one first, else a new one when the
 * searcher neither stops nor waits (its reproducibility window); or -1
 * (also when out of memory: the next pass asks again).
 */
int64_t sched_job_next_trial(struct sched_job *j);

/*
 * How many trials the job would start now given threads and memory: its
 * re-queued trials plus one new one when the searcher would propose it,
 * at most its free parallel slots; 0 once the job is ending.
 */
unsigned sched_job_ready(struct sched_job *j);

/*
 * The record of idx, growing the table as needed; NULL when it cannot grow,
 * so never for an idx below j->nrecs (a trial already seen).
 */
struct sched_rec *sched_job_rec(struct sched_job *j, int64_t idx);

/*
 * Decides whether the search part is over (trial budget, a stop rule, or
 * WORKER_MAX_TRIALS trials, the cap of a job without max_trials); not yet
 * when out of memory.
 */
bool sched_job_search_over(struct sched_job *j);

/*
 * Notes the committed outcome of one of j's trials (state, and code and
 * message when it failed) for the circuit breaker, which may end j:
 * SCHED_END_FAILED with the code, its running trials asked to stop.
 */
void sched_job_note_outcome(struct sched_job *j, enum store_trial_state st, const char *code,
			    const char *message);

/* Models a trial of j fits: folds times repeats, or one for a holdout. */
unsigned sched_job_fold_fits(const struct sched_job *j);

/*
 * How long the best trial's refit should take: one and a half of its fold
 * fits (all rows are up to 1.5 times a fold's training rows with 3 folds;
 * fold 0's model for the importance is read back from the trial's model
 * file, not fitted again), plus 200 ms.
 */
int64_t sched_job_refit_estimate(const struct sched_job *j);

/*
 * The running time to keep back for the refit out of a time budget: the
 * refit estimate, plus with an ensemble the fold fits of
 * ENSEMBLE_RESERVE_TRIALS (4) more of the trials with a file (the best
 * SCHED_OOF_KEEP, whence members come), each counted at most as dear as
 * the best trial, at most a fifth (a quarter with an ensemble) of the
 * budget. A slow trial that is kept but rarely chosen (an svm by dcd on a
 * million rows beside the trees) would otherwise stop the search early;
 * at the end, the selection takes in only the members whose refits fit in
 * the time left, and the job says so (worker/ensemble.c). Nothing without a
 * refit (search.refit false), and nothing when the best trial's own refit
 * is dearer than that share: it would not end on time (a gbdt trial of 12 s
 * on a million rows refits in 16 s), so the search keeps the whole budget
 * and the best trial's model stays.
 */
int64_t sched_job_refit_reserve(const struct sched_job *j);

/*
 * Whether the refit, started elapsed_ms into the job, should end within
 * the budget: its estimate fits in the time left, or overruns it by at
 * most SCHED_REFIT_LATE_MS (a short refit may start a little late, when
 * the trials stopped at the deadline took longer to stop than the reserve).
 * Always without a budget.
 */
#define SCHED_REFIT_LATE_MS 500
bool sched_job_refit_fits(const struct sched_job *j, int64_t elapsed_ms);

/*
 * The trial to refit, by the one-standard-error rule: of the completed
 * trials whose score is within one standard error (the fold scores' standard
 * deviation over the square root of their number) of the best score, the
 * best one of the simplest model family. After a long search on a small
 * table the top score is partly luck; a simpler model that is as good
 * within the noise generalizes better. Ties keep the lower index. Depends
 * only on the finished trials, so a restart chooses the same one.
 */
int64_t sched_job_final_trial(const struct sched_job *j);

/*
 * The trial whose out-of-fold file ranks last of the best SCHED_OOF_KEEP,
 * or -1 while fewer are kept: a new trial that ranks after it need not
 * write its file (worker_task.oof_bar_idx). Files are only ever pruned
 * from past the best SCHED_OOF_KEEP, so the kept set at the end is the
 * same whatever was skipped, at any parallelism.
 */
int64_t sched_job_oof_bar(const struct sched_job *j);

/*
 * Removes the out-of-fold files of the completed trials past the best
 * SCHED_OOF_KEEP. Loop thread.
 */
void sched_job_prune_oof(struct sched_job *j);

/*
 * The candidates of j's ensemble (completed trials with out-of-fold files,
 * best first, at most SCHED_OOF_KEEP) with their parameters for `threads`
 * threads, into *out (malloc'd; 0 of them is fine). FITD_ENOMEM.
 */
int sched_job_candidates(struct sched_job *j, unsigned threads, struct worker_candidate **out,
			 size_t *n);

/* The searcher's parameters for new trial idx (a new reference), or NULL. */
json_t *sched_job_propose(struct sched_job *j, int64_t idx);

/*
 * The snapshot a pruning trial idx takes to its thread in *out (NULL when
 * the searcher never prunes); FITD_ENOMEM with nothing allocated.
 */
int sched_job_snapshot(struct sched_job *j, int64_t idx, struct sched_snapshot **out);
void sched_snapshot_free(struct sched_snapshot *s);

/* ---- scheduler.c ---- */

int64_t sched_now_mono(void);
void sched_emit(struct worker *w, const char *job_id);

/* ---- record.c ---- */

/* What a trial thread calls: queues progress and the end, and wakes the loop. */
extern const struct worker_task_hooks sched_hooks;

/* Asks every running trial and the refit of j to stop, for why. */
void sched_stop_running(struct sched_job *j, enum worker_stop why);

/*
 * Records finished task t and frees it with its slot; when the store refuses
 * a trial's outcome, t keeps its slot and waits in w->unrecorded. Loop thread.
 */
void sched_finish_task(struct worker *w, struct worker_task *t);

/* Publishes the queued progress, at most one event per trial per progress_ms. Loop thread. */
void sched_drain_progress(struct worker *w);

/* Finishes every task queued by the done hook (sched_finish_task). Loop thread. */
void sched_drain_done(struct worker *w);

/*
 * Tries again the outcomes the store refused (on the heartbeat). With last
 * (the worker stops) the ones still refused are let go: their rows stay
 * running and the next start puts them back in the queue. Loop thread.
 */
void sched_retry_unrecorded(struct worker *w, bool last);

#endif
