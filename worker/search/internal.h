/*
 * internal.h - what the files of worker/search/ share and nothing else
 * includes: the dimensions' names and the core's combination rules as the
 * space sees them, the seeded random numbers, the searcher's structure and
 * the observations the models learn from.
 */
#ifndef WORKER_SEARCH_INTERNAL_H
#define WORKER_SEARCH_INTERNAL_H

#include <stdint.h>

#include "worker/fit/rng.h"
#include "worker/search/search.h"
#include "worker/search/space.h"

#define BIT(x) FIT_BIT(x)

/*
 * Names of a categorical dimension's values, the core's name table indexed
 * by enum value (NULL for a numeric one); *n is its length.
 */
const char *const *search__dim_names(enum space_dim d, unsigned *n);

/*
 * The enum value named s in categorical dimension d, or -1 when s is not a
 * value the spec may name there (a loss of "auto", an unknown name).
 */
int search__dim_lookup(enum space_dim d, const char *s);

/* The task of a space. */
enum fit_task search__task(const struct search_space *sp);

/*
 * Whether model m, loss l, regularization r and optimizer o go together for
 * the space's task: the core's fit_combo_check(). The optimizer of a family
 * that takes none is not looked at.
 */
bool search__combo_ok(const struct search_space *sp, int m, int l, int r, int o);

/*
 * The optimizers to try with model m: the listed ones, or when the family
 * takes none the single bit SEARCH__NO_OPT (o is then not looked at).
 */
#define SEARCH__NO_OPT FIT_BIT(0)
uint32_t search__opt_choices(const struct search_space *sp, int m);

/* The core setting a numeric (or activation) dimension stands for; FIT_SET_COUNT: none. */
enum fit_setting search__dim_setting(enum space_dim d);

/* The path of a dimension in a spec ("space.mlp.units"). */
const char *search__dim_path(enum space_dim d);

/*
 * Every proposal has its own random stream, seeded from (seed, trial index,
 * stream), that no other trial's draws move.
 */
enum search__stream {
	SEARCH__STREAM_RANDOM = 1,
	SEARCH__STREAM_TPE = 2,
	SEARCH__STREAM_PERMUTE = 3,
	SEARCH__STREAM_FAMILY = 4,
};

void search__rng_init(struct fit_rng *r, uint64_t seed, uint64_t idx, uint64_t stream);

/*
 * Ranges in the samplers' coordinates: log(x) for log ranges; integer
 * ranges widened by half a step each side. search__range_from() maps back, rounds
 * integers and clamps into [min, max].
 */
void search__range_bounds(const struct space_values *v, bool integer, double *lo, double *hi);
double search__range_to(const struct space_values *v, double x);
double search__range_from(const struct space_values *v, bool integer, double t);

/* Position of i in a seeded permutation of [0, n) (a Feistel network, cycle-walked). */
uint64_t search__permute(uint64_t i, uint64_t n, uint64_t seed);

/*
 * Walks the slots in order; at each active one choose() picks a value from
 * opts (nopts > 0) or, when nopts is 0, from the range of vals. p holds the
 * earlier slots. The result is always a valid point.
 */
typedef double (*search__choose_fn)(void *ctx, const struct space_point *p, enum space_slot slot,
				    const double *opts, size_t nopts,
				    const struct space_values *vals);
void search__walk(const struct search_space *sp, search__choose_fn choose, void *ctx,
		  struct space_point *out);

/* Whether v is exactly dimension d's default range of search (space.c). */
bool search__default_range(enum space_dim d, const struct space_values *v);

/*
 * Within a default range (search__default_range()), the part where good
 * settings of slot live for the point's earlier slots: the learning rate
 * by optimizer, the penalty by family, the svm's C (space_tree.c). False
 * when the slot's values are used as they are.
 */
bool search__narrowed(const struct search_space *sp, const struct space_point *p,
		      enum space_slot slot, struct space_values *out);

/* A uniformly random point for trial idx. */
void search__random_point(const struct search_space *sp, uint64_t seed, size_t idx,
			  struct space_point *out);

/* The same within model family model when the space has it (-1: any family). */
void search__random_point_of(const struct search_space *sp, uint64_t seed, size_t idx, int model,
			     struct space_point *out);

#define SEARCH__DEFAULTS_MAX 8

struct search {
	const struct worker_spec *spec;
	const struct search_space *sp;
	enum worker_algorithm algorithm; /* as run: auto on a small finite space is grid */
	bool known_first;		 /* auto: the known configurations first */
	bool prunes;
	bool higher_is_better;
	uint64_t seed;
	uint64_t size; /* search_space_size() */
	unsigned max_trials;
	unsigned patience;
	bool has_goal;
	double goal;
	bool sized; /* shape is the data's (search_new_sized()) */
	struct search_shape shape;
	struct space_point known[SEARCH__DEFAULTS_MAX];
	size_t nknown;
};

/*
 * The known configurations of auto, projected into the space and
 * deduplicated; with a shape (else NULL) scaled to its rows and sorted
 * cheapest first by search__work() (ties keep the listed order).
 */
size_t search__known_points(const struct search_space *sp, const struct search_shape *shape,
			    struct space_point *out, size_t max);

/*
 * A deterministic estimate of the work of one fold of trial p on data of
 * this shape, in multiply-adds: comparable across families, never a clock.
 */
double search__work(const struct search_shape *sh, const struct space_point *p);

/* A trial the models learn from, ranked best first by (rank_class, key, idx). */
struct search__obs {
	size_t idx;
	int rank_class; /* 0 completed, 1 pruned, 2 failed */
	double key;	/* smaller is better within a class */
	double key2;	/* then this */
	struct space_point p;
};

/*
 * The finished trials of h below `below` that the models use, ranked best
 * first; FITD_ENOMEM. *out is freed by the caller.
 */
int search__observations(const struct search *s, size_t below, const struct search_history *h,
			 struct search__obs **out, size_t *n);

/* A score as "higher is better". */
double search__norm(const struct search *s, double score);

/*
 * tpe's proposal for trial idx from ranked observations, within model
 * family model when the space has it (-1: tpe picks the family too).
 * FITD_EINVAL when they hold no good and bad trial to compare (the caller
 * draws at random), FITD_ENOMEM.
 */
int search__tpe_point(const struct search *s, size_t idx, const struct search__obs *obs, size_t n,
		      int model, struct space_point *out);

/*
 * The family trial idx explores after the portfolio, by expected
 * improvement per unit of work (search.c); -1 to leave it to tpe (no
 * shape, or nothing to compare yet).
 */
int search__family(const struct search *s, size_t idx, const struct search__obs *obs, size_t n);

#endif
