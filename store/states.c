/*
 * states.c - the names of job and trial states as the database stores them
 * and the API shows them: one table per state machine, indexed by its enum,
 * and one lookup and one parser that both tables share.
 *
 * The schema's CHECK constraints (schema.c) spell the same names; a name
 * the tables lack parses as -1, so a row written by a newer fitd is
 * skipped by the counts rather than read as some other state.
 */
#include "store/internal.h"

#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const job_states[] = {
	[STORE_JOB_QUEUED] = "queued",	     [STORE_JOB_RUNNING] = "running",
	[STORE_JOB_SUCCEEDED] = "succeeded", [STORE_JOB_FAILED] = "failed",
	[STORE_JOB_CANCELLED] = "cancelled",
};

static const char *const trial_states[] = {
	[STORE_TRIAL_QUEUED] = "queued",	   [STORE_TRIAL_RUNNING] = "running",
	[STORE_TRIAL_COMPLETED] = "completed",	   [STORE_TRIAL_PRUNED] = "pruned",
	[STORE_TRIAL_FAILED] = "failed",	   [STORE_TRIAL_TIMEOUT] = "timeout",
	[STORE_TRIAL_INTERRUPTED] = "interrupted",
};

_Static_assert(COUNT(job_states) == STORE_JOB_NSTATES,
	       "STORE_JOB_NSTATES must count the job states");
_Static_assert(COUNT(trial_states) == STORE_TRIAL_NSTATES,
	       "STORE_TRIAL_NSTATES must count the trial states");

/* The name of state st in names (n of them), or "unknown" outside the table. */
static const char *state_name(const char *const *names, size_t n, int st)
{
	return st >= 0 && (size_t)st < n ? names[st] : "unknown";
}

/* The index of name in names (n of them), or -1 for NULL or an unknown name. */
static int state_parse(const char *const *names, size_t n, const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *store_job_state_name(enum store_job_state st)
{
	return state_name(job_states, COUNT(job_states), (int)st);
}

int store_job_state_parse(const char *name)
{
	return state_parse(job_states, COUNT(job_states), name);
}

const char *store_trial_state_name(enum store_trial_state st)
{
	return state_name(trial_states, COUNT(trial_states), (int)st);
}

int store_trial_state_parse(const char *name)
{
	return state_parse(trial_states, COUNT(trial_states), name);
}
