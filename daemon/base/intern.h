/*
 * intern.h - a table of distinct byte strings, each given a dense code in
 * order of first appearance (0, 1, 2, ...): how the values of a categorical
 * column become level codes, in the CSV parser's chunks (store/) and in the
 * frame builder (worker/fit/).
 *
 *   struct fitd_intern t;
 *   fitd_intern_init(&t, 1 << 20);             // at most 1 MiB of keys
 *   if (fitd_intern_add(&t, s, len, &code) != FITD_OK)
 *           ...;                                // the same bytes, the same code
 *   key = fitd_intern_key(&t, code, &len);     // NUL-terminated
 *   fitd_intern_release(&t);
 *
 * The keys live back to back in one capped buffer (struct fitd_buf), each
 * followed by a NUL, so a million distinct strings cost a few dozen
 * allocations; a key's pointer is valid until the next add. Lookups go
 * through an open-addressing table (FNV-1a, linear probing, at most half
 * full). Keys may hold any bytes, NUL included (len says where they end).
 *
 * A failed add changes nothing a lookup sees: the keys already there keep
 * their codes. Like fitd_buf, running into the cap (FITD_ETOOBIG) or out of
 * memory while storing a key (FITD_ENOMEM) sticks: every later add of a new
 * key fails the same way. Not thread-safe: a table belongs to one thread at
 * a time.
 */
#ifndef FITD_INTERN_H
#define FITD_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/base/buf.h"

struct fitd_intern {
	struct fitd_buf keys; /* the keys back to back, each followed by a NUL */
	struct fitd_buf offs; /* n + 1 size_t: key i is keys[offs[i] .. offs[i + 1] - 1) */
	uint32_t *slots;      /* code + 1 per slot; 0 is empty */
	size_t nslots;	      /* 0, or a power of two at least twice n */
	size_t n;	      /* keys, at most INT32_MAX */
};

/* An empty table whose keys (with their NULs) may take at most max_bytes. */
void fitd_intern_init(struct fitd_intern *t, size_t max_bytes);

/*
 * The code of the len bytes at s in *code, adding them when they are new.
 * FITD_OK; FITD_ETOOBIG past the cap or beyond INT32_MAX keys; FITD_ENOMEM.
 */
int fitd_intern_add(struct fitd_intern *t, const char *s, size_t len, int32_t *code);

/* Key code (below t->n): its bytes, NUL-terminated, and its length in *len (may be NULL). */
const char *fitd_intern_key(const struct fitd_intern *t, int32_t code, size_t *len);

/*
 * Hands the key bytes over: the caller frees them (NULL when there are
 * none). Pointers from fitd_intern_key() stay valid in them; the table is
 * released, empty again with its cap.
 */
char *fitd_intern_take_keys(struct fitd_intern *t);

/* Frees what the table holds; empty again with its cap. NULL-safe. */
void fitd_intern_release(struct fitd_intern *t);

#endif
