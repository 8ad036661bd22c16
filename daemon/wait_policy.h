/*
 * wait_policy.h - how OpenMP's threads wait at a barrier, chosen before
 * libgomp starts: fitd's default unless the user chose.
 */
#ifndef DAEMON_WAIT_POLICY_H
#define DAEMON_WAIT_POLICY_H

/*
 * When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is in the environment,
 * sets GOMP_SPINCOUNT=10000 (a short spin at a barrier, then sleep) and replaces the process with the same
 * program and argv (execv of /proc/self/exe): libgomp reads its settings
 * once, when it is loaded, so only a new image sees them. The process id,
 * open descriptors and the rest of the environment stay. Call it first in
 * main(), before any thread exists. Returns when there was nothing to do,
 * or when exec failed (then libgomp keeps its default and a warning says
 * so); a user's explicit setting, even the default one, always wins.
 */
void wait_policy_apply(char **argv);

#endif
