/*
 * prep_cache.c - fitted preprocessing kept for reuse (fit_prep_cache in
 * model.h): a small table of entries under one mutex, each the key of a
 * fit (frame address, feature columns, the settings that change a fit, and
 * the training rows as their count and two independent 64-bit hashes of
 * the sequence) and a copy of its columns. A lookup copies the columns out
 * under the lock (a few values per column); a miss fits outside the lock
 * and then adds its result, replacing the oldest entry when the table is
 * full. Two fits of the same key at once both fit and the second finds the
 * entry there: the results are equal, so either copy serves.
 *
 * The frame's address may stand for its contents because a cache belongs
 * to one job and is freed with that job's data: no other frame can take
 * the address of one it has seen while the cache lives.
 */
#include "worker/fit/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/rng.h"

struct prep_key {
	const struct fit_frame *frame;
	size_t nfeat, nrows, min_level_count;
	int missing_indicator;
	uint64_t feat_hash, rows_hash[2];
};

struct prep_entry {
	struct prep_key key;
	size_t *feat; /* nfeat column indexes: compared in full */
	struct fit__prep prep;
};

struct fit_prep_cache {
	pthread_mutex_t lock; /* guards everything below */
	struct prep_entry *entries;
	size_t cap, n, next; /* next: the slot the next addition replaces when full */
	uint64_t hits;
};

int fit_prep_cache_new(size_t max_entries, struct fit_prep_cache **out)
{
	struct fit_prep_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return FITD_ENOMEM;
	c->cap = max_entries ? max_entries : 1;
	c->entries = calloc(c->cap, sizeof(*c->entries));
	if (c->entries == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->entries);
		free(c);
		return FITD_ENOMEM;
	}
	*out = c;
	return FITD_OK;
}

static void entry_release(struct prep_entry *e)
{
	free(e->feat);
	fit__prep_release(&e->prep);
	memset(e, 0, sizeof(*e));
}

void fit_prep_cache_free(struct fit_prep_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_release(&c->entries[i]);
	free(c->entries);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t fit_prep_cache_hits(struct fit_prep_cache *c)
{
	uint64_t h;

	pthread_mutex_lock(&c->lock);
	h = c->hits;
	pthread_mutex_unlock(&c->lock);
	return h;
}

/* A hash of the sequence a[0..n) from seed: each value mixed into the running state. */
static uint64_t hash_seq(const size_t *a, size_t n, uint64_t seed)
{
	uint64_t h = fit_hash64(seed ^ n);

	for (size_t i = 0; i < n; i++)
		h = fit_hash64(h ^ (uint64_t)a[i]);
	return h;
}

static int same_key(const struct prep_entry *e, const struct prep_key *k, const size_t *feat)
{
	return e->key.frame == k->frame && e->key.nfeat == k->nfeat && e->key.nrows == k->nrows &&
	       e->key.min_level_count == k->min_level_count &&
	       e->key.missing_indicator == k->missing_indicator &&
	       e->key.feat_hash == k->feat_hash && e->key.rows_hash[0] == k->rows_hash[0] &&
	       e->key.rows_hash[1] == k->rows_hash[1] &&
	       memcmp(e->feat, feat, k->nfeat * sizeof(size_t)) == 0;
}

static struct prep_entry *find(struct fit_prep_cache *c, const struct prep_key *k,
			       const size_t *feat)
{
	for (size_t i = 0; i < c->n; i++)
		if (same_key(&c->entries[i], k, feat))
			return &c->entries[i];
	return NULL;
}

/* Adds a copy of p under k unless one is there; nothing when memory runs out. */
static void add(struct fit_prep_cache *c, const struct prep_key *k, const size_t *feat,
		const struct fit__prep *p)
{
	struct prep_entry e = { .key = *k };

	e.feat = malloc((k->nfeat ? k->nfeat : 1) * sizeof(size_t));
	if (e.feat == NULL || fit__prep_copy(p->cols, p->ncols, &e.prep, NULL) != FITD_OK) {
		free(e.feat);
		return;
	}
	memcpy(e.feat, feat, k->nfeat * sizeof(size_t));
	pthread_mutex_lock(&c->lock);
	if (find(c, k, feat) != NULL) {
		pthread_mutex_unlock(&c->lock);
		entry_release(&e);
		return;
	}
	if (c->n < c->cap) {
		c->entries[c->n++] = e;
	} else {
		entry_release(&c->entries[c->next]);
		c->entries[c->next] = e;
		c->next = (c->next + 1) % c->cap;
	}
	pthread_mutex_unlock(&c->lock);
}

int fit__prep_cache_fit(struct fit_prep_cache *c, const struct fit_frame *frame, const size_t *feat,
			size_t nfeat, const size_t *rows, size_t nrows,
			const struct fit_params *params, struct fit__prep *out,
			struct fitd_error *err)
{
	struct prep_key k;
	struct prep_entry *e;
	int rc = -1;

	if (c == NULL)
		return fit__prep_fit(frame, feat, nfeat, rows, nrows, params, out, err);
	k = (struct prep_key){
		.frame = frame,
		.nfeat = nfeat,
		.nrows = nrows,
		.min_level_count = params->min_level_count,
		.missing_indicator = !!params->missing_indicator,
		.feat_hash = hash_seq(feat, nfeat, 0x66656174ULL),
		.rows_hash = { hash_seq(rows, nrows, 0x726f7773ULL),
			       hash_seq(rows, nrows, 0x9e3779b97f4a7c15ULL) },
	};
	pthread_mutex_lock(&c->lock);
	e = find(c, &k, feat);
	/* A copy that fails (memory; a column fit__prep_copy would not accept) fits anew. */
	if (e != NULL && (rc = fit__prep_copy(e->prep.cols, e->prep.ncols, out, NULL)) == FITD_OK)
		c->hits++;
	pthread_mutex_unlock(&c->lock);
	if (rc == FITD_OK)
		return FITD_OK;
	rc = fit__prep_fit(frame, feat, nfeat, rows, nrows, params, out, err);
	if (rc == FITD_OK)
		add(c, &k, feat, out);
	return rc;
}
