/*
 * wait_policy.c - fitd's default for how OpenMP's threads wait at a barrier
 * (wait_policy.h).
 *
 * libgomp's default has a thread that reaches a barrier spin for a while
 * before it sleeps. On a machine whose cores are busy with other work (other
 * trials, HTTP, other programs) the spinning thread burns the time slice the
 * thread it waits for needs, and a fit that meets barriers often (an mlp
 * several times per batch) slows down by several times; see
 * tests/bench/results/fit.txt. fitd therefore asks threads to sleep at once.
 * The setting has to be in the environment when libgomp is loaded, before
 * main() runs, hence the exec.
 */
#include "daemon/wait_policy.h"

#include <stdlib.h>
#include <unistd.h>

#include "daemon/base/log.h"

void wait_policy_apply(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") != NULL || getenv("GOMP_SPINCOUNT") != NULL)
		return;
	if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	fitd_log_warn("wait_policy", "cannot restart with OMP_WAIT_POLICY=passive; OpenMP "
				     "threads keep spinning at barriers");
}
