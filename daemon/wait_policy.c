/*
 * wait_policy.c - fitd's default for how OpenMP's threads wait at a barrier
 * (wait_policy.h).
 *
 * libgomp's default has a thread that reaches a barrier spin for a long
 * while (300,000 turns) before it sleeps. On a machine whose cores are busy
 * with other work (other trials, HTTP, other programs) the spinning thread
 * burns the time slice the thread it waits for needs, and a fit that meets
 * barriers often (an mlp several times per batch) slows down by several
 * times. Sleeping at once (OMP_WAIT_POLICY=passive) avoids that but pays a
 * wake-up at every barrier: an mlp epoch up to 1.4 times as long as with a
 * short spin, on free cores and under load alike. fitd therefore bounds the
 * spin (GOMP_SPINCOUNT=10000; libgomp cuts it further when threads
 * outnumber cores); the linear and tree fits, with few barriers, time the
 * same either way. See tests/bench/results/fit.txt. The setting has to be
 * in the environment when libgomp is loaded, before main() runs, hence the
 * exec.
 */
#include "daemon/wait_policy.h"

#include <stdlib.h>
#include <unistd.h>

#include "daemon/base/log.h"

void wait_policy_apply(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") != NULL || getenv("GOMP_SPINCOUNT") != NULL)
		return;
	if (setenv("GOMP_SPINCOUNT", "10000", 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	fitd_log_warn("wait_policy", "cannot restart with GOMP_SPINCOUNT=10000; OpenMP "
				     "threads keep spinning long at barriers");
}
