/*
 * grid.c - counting and enumerating the points of a finite space.
 *
 * A conditional space is not a Cartesian product: an mlp has units slots a
 * logistic model does not, lbfgs has no learning rate. The points are the
 * leaves of the tree the slots make. Only the branching slots (model, loss,
 * regularization, optimizer, hidden_layers) change which later slots are
 * used, so a subtree's size is the product of the option counts of its
 * non-branching slots times the sum over the options of its next branching
 * slot: at most a few thousand paths, never one visit per point. Point i is
 * found by walking down the same way (mixed radix), so the order is fixed
 * by the space alone: model-major, then loss, regularization, optimizer,
 * then the numeric settings in slot order.
 *
 * Sizes saturate at UINT64_MAX, which also stands for "infinite".
 */
#include "worker/search/internal.h"

#include <string.h>

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0)
		return 0;
	return a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Points below slot `from` of the partial point p. */
static uint64_t count_from(const struct search_space *sp, const struct space_point *p, int from)
{
	double opts[SPACE_LIST_MAX];
	uint64_t mult = 1;

	for (int s = from; s < SPACE_SLOT_COUNT; s++) {
		size_t n;

		if (!search_space_slot_active(p, (enum space_slot)s))
			continue;
		n = search_space_slot_options(sp, p, (enum space_slot)s, opts);
		if (n == 0)
			return UINT64_MAX; /* a range */
		if (search_space_slot_branches((enum space_slot)s)) {
			uint64_t total = 0;

			for (size_t k = 0; k < n; k++) {
				struct space_point q = *p;

				q.v[s] = opts[k];
				q.active |= BIT(s);
				total = sat_add(total, count_from(sp, &q, s + 1));
			}
			return sat_mul(mult, total);
		}
		mult = sat_mul(mult, n);
	}
	return mult;
}

uint64_t search_space_size(const struct search_space *sp)
{
	struct space_point p;

	memset(&p, 0, sizeof(p));
	return count_from(sp, &p, 0);
}

void search_space_point_at(const struct search_space *sp, uint64_t i, struct space_point *out)
{
	double opts[SPACE_LIST_MAX];

	memset(out, 0, sizeof(*out));
	for (int s = 0; s < SPACE_SLOT_COUNT; s++) {
		size_t n, k = 0;

		if (!search_space_slot_active(out, (enum space_slot)s))
			continue;
		n = search_space_slot_options(sp, out, (enum space_slot)s, opts);
		out->active |= BIT(s);
		if (search_space_slot_branches((enum space_slot)s)) {
			for (k = 0; k + 1 < n; k++) {
				struct space_point q = *out;
				uint64_t c;

				q.v[s] = opts[k];
				c = count_from(sp, &q, s + 1);
				if (i < c)
					break;
				i -= c;
			}
		} else {
			uint64_t rest = count_from(sp, out, s + 1);

			k = (size_t)(i / rest);
			i %= rest;
			if (k >= n)
				k = n - 1;
		}
		out->v[s] = opts[k];
	}
}
