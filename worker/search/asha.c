/*
 * asha.c - asynchronous successive halving (Li et al., "A System for
 * Massively Parallel Hyperparameter Tuning", 2020) over epochs, and over
 * boosting rounds for gbdt trials.
 *
 * Rungs are at SEARCH_ASHA_MIN_EPOCHS * SEARCH_ASHA_ETA^i epochs, for gbdt
 * at SEARCH_ASHA_MIN_ROUNDS * SEARCH_ASHA_ETA^i rounds. A trial
 * reaching a rung continues when it is in the top 1/eta of the rung: among
 * the rung scores of its peers and itself, fewer than floor(n / eta) peers
 * score strictly better (ties continue). Its peers are the finished trials
 * with index < idx - SEARCH_WINDOW that reached the rung and learn the same
 * way: the same model family with a first-order optimizer (or, for gbdt,
 * none: every gbdt trial boosts the same way). An epoch of adam
 * and an iteration of lbfgs are different budgets, and a linear model
 * reaches its level in a few epochs that a network needs dozens for, so
 * comparing across them would stop every network early. Trials of an
 * optimizer run to convergence (lbfgs, newton, dcd;
 * fit_optimizer_converges()) are never stopped: they converge in cheap
 * iterations and their scores on the way are no learning curve. With
 * fewer than eta peers every trial continues. Because those trials are finished
 * before idx may even be proposed, the decision is a function of the
 * history alone: the same at any parallelism, in any finish order and after
 * a restart. See search.h for the caveat.
 */
#include "worker/search/internal.h"

#include <math.h>

#define RUNGS_MAX 20

/* Whether params name a boosted ensemble, whose budget is rounds. */
static bool boosted(const json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "model"));
	enum fit_model_kind m;

	return name != NULL && fit_model_kind_parse(name, &m) == 0 && m == FIT_MODEL_GBDT;
}

unsigned search_rung_budget(const json_t *params, unsigned rung)
{
	unsigned e = boosted(params) ? SEARCH_ASHA_MIN_ROUNDS : SEARCH_ASHA_MIN_EPOCHS;

	for (unsigned i = 0; i < rung && i < RUNGS_MAX; i++)
		e *= SEARCH_ASHA_ETA;
	return e;
}

int search_rung_at(const struct search *s, const json_t *params, unsigned epoch)
{
	if (!s->prunes)
		return -1;
	for (unsigned r = 0; r < RUNGS_MAX; r++) {
		unsigned e = search_rung_budget(params, r);

		if (e == epoch)
			return (int)r;
		if (e > epoch)
			break;
	}
	return -1;
}

unsigned search_rung_epochs(unsigned rung)
{
	return search_rung_budget(NULL, rung);
}

int search_rung_of_epoch(const struct search *s, unsigned epoch)
{
	return search_rung_at(s, NULL, epoch);
}

static bool finished(enum search_trial_state st)
{
	return st != SEARCH_TRIAL_PENDING;
}

/* Whether params name an optimizer run to convergence (the core's table). */
static bool converges(const json_t *params)
{
	const char *name = json_string_value(json_object_get(params, "optimizer"));
	enum fit_optimizer o;

	return name != NULL && fit_optimizer_parse(name, &o) == 0 && fit_optimizer_converges(o);
}

/* Whether a trial with params b is a peer of one with params a (NULL a: every trial). */
static bool peer(const json_t *a, const json_t *b)
{
	if (a == NULL)
		return true;
	return b != NULL && json_equal(json_object_get(a, "model"), json_object_get(b, "model")) &&
	       !converges(b);
}

bool search_should_prune(const struct search *s, size_t idx, const json_t *params, unsigned epoch,
			 double score, const struct search_history *h)
{
	int rung = search_rung_at(s, params, epoch);
	size_t peers = 0, better = 0;
	double mine;

	if (rung < 0 || converges(params))
		return false;
	if (!isfinite(score))
		return true; /* diverged: nothing to continue */
	mine = search__norm(s, score);
	for (size_t i = 0; h != NULL && i < h->n; i++) {
		const struct search_trial *t = &h->trials[i];
		double theirs;

		if (t->idx + SEARCH_WINDOW >= idx || !finished(t->state) || t->rungs == NULL ||
		    t->nrungs <= (size_t)rung || !isfinite(t->rungs[rung]) ||
		    !peer(params, t->params))
			continue;
		theirs = search__norm(s, t->rungs[rung]);
		peers++;
		if (theirs > mine)
			better++;
	}
	if (peers < SEARCH_ASHA_ETA)
		return false;
	return better >= (peers + 1) / SEARCH_ASHA_ETA;
}
