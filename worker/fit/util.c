/*
 * util.c - the small pieces every file of the core uses: overflow-checked
 * sizes, the planning arena, big buffers and cancellation.
 */
#include "worker/fit/internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_FROM ((size_t)8 << 20) /* buffers from this size get huge pages */

#if defined(__SANITIZE_ADDRESS__)
#define KEEP_POISONED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEP_POISONED 1
#endif
#endif
#ifdef KEEP_POISONED
#include <sanitizer/asan_interface.h>
#define KEEP_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define KEEP_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define KEEP_POISON(p, n)   ((void)(p), (void)(n))
#define KEEP_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * Big buffers a fit frees are kept for the next fit of the same size (in
 * HUGE_PAGE steps): fresh pages cost their first touch, little on a quiet
 * machine (5 ms per 64 MiB of huge pages) but much more when the kernel
 * must compact memory for huge pages or other processes compete (a
 * one-trial logistic job on 200,000 x 100 rows beside a test suite spent a
 * quarter of its samples zeroing pages). At most KEEP_BLOCKS; a fit that finds
 * none of its size gives them all back before it allocates, so what is
 * kept never exceeds what the last fits used, and were admitted for;
 * fit_buffers_trim() gives them back when the daemon is idle. Kept blocks
 * are poisoned under AddressSanitizer, so a use after free still shows.
 */
#define KEEP_BLOCKS 4

static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void *p;
	size_t n;
} kept[KEEP_BLOCKS]; /* guarded by keep_lock, like nkept */
static size_t nkept;

int fit__mul(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int fit__add(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

size_t fit__pad(size_t x)
{
	size_t r;

	if (fit__add(x, FIT__PAD - 1, &r))
		return 0;
	return r / FIT__PAD * FIT__PAD;
}

void *fit__arena_take(struct fit__arena *a, size_t count, size_t elem)
{
	size_t bytes, end;
	void *p;

	if (a->overflow || fit__mul(count, elem, &bytes) ||
	    fit__add(bytes, FIT__ALIGN - 1, &bytes)) {
		a->overflow = 1;
		return NULL;
	}
	bytes = bytes / FIT__ALIGN * FIT__ALIGN;
	if (fit__add(a->used, bytes, &end) || (a->base != NULL && end > a->size)) {
		a->overflow = 1;
		return NULL;
	}
	p = a->base != NULL ? a->base + a->used : NULL;
	a->used = end;
	return p;
}

/* The size bytes are allocated as, 0 on overflow. */
static size_t alloc_size(size_t bytes)
{
	size_t n, step;

	if (bytes == 0)
		bytes = 1;
	if (fit__add(bytes, FIT__ALIGN - 1, &n))
		return 0;
	step = n < HUGE_FROM ? FIT__ALIGN : HUGE_PAGE;
	if (fit__add(n, step - 1, &n))
		return 0;
	return n / step * step;
}

/* A kept block of n bytes, or NULL after giving every kept block back. */
static void *keep_take(size_t n)
{
	void *p = NULL;

	pthread_mutex_lock(&keep_lock);
	for (size_t i = 0; i < nkept && p == NULL; i++)
		if (kept[i].n == n) {
			p = kept[i].p;
			kept[i] = kept[--nkept];
		}
	pthread_mutex_unlock(&keep_lock);
	if (p == NULL)
		fit_buffers_trim();
	else
		KEEP_UNPOISON(p, n);
	return p;
}

void *fit__alloc(size_t bytes)
{
	size_t n = alloc_size(bytes);
	void *p = NULL;

	if (n == 0)
		return NULL;
	if (n < HUGE_FROM)
		return aligned_alloc(FIT__ALIGN, n);
	if ((p = keep_take(n)) != NULL)
		return p;
	/*
	 * Big buffers (design matrices) are touched once per pass: 2 MiB pages
	 * make their first touch one fault per 2 MiB instead of per 4 KiB, which
	 * in a virtual machine costs more than several passes over the data.
	 */
	if (posix_memalign(&p, HUGE_PAGE, n) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

void fit__free(void *p, size_t bytes)
{
	size_t n = alloc_size(bytes);

	if (p == NULL || n < HUGE_FROM) {
		free(p);
		return;
	}
	pthread_mutex_lock(&keep_lock);
	if (nkept < KEEP_BLOCKS) {
		KEEP_POISON(p, n);
		kept[nkept].p = p;
		kept[nkept++].n = n;
		p = NULL;
	}
	pthread_mutex_unlock(&keep_lock);
	free(p);
}

void fit_buffers_trim(void)
{
	void *drop[KEEP_BLOCKS];
	size_t ndrop = 0;

	pthread_mutex_lock(&keep_lock);
	for (size_t i = 0; i < nkept; i++) {
		KEEP_UNPOISON(kept[i].p, kept[i].n);
		drop[ndrop++] = kept[i].p;
	}
	nkept = 0;
	pthread_mutex_unlock(&keep_lock);
	for (size_t i = 0; i < ndrop; i++)
		free(drop[i]);
}

size_t fit_buffers_kept(void)
{
	size_t bytes = 0;

	pthread_mutex_lock(&keep_lock);
	for (size_t i = 0; i < nkept; i++)
		bytes += kept[i].n;
	pthread_mutex_unlock(&keep_lock);
	return bytes;
}

size_t fit__release(void *p, size_t bytes)
{
#if defined(MADV_DONTNEED) && defined(_SC_PAGESIZE)
	long ps = sysconf(_SC_PAGESIZE);
	uintptr_t page = ps > 0 ? (uintptr_t)ps : 0, lo, hi;

	if (page == 0 || page > FIT__RELEASE_SLACK / 2 || bytes < 2 * page)
		return 0;
	lo = ((uintptr_t)p + page - 1) / page * page;
	hi = ((uintptr_t)p + bytes) / page * page;
	if (hi <= lo || madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
		return 0;
	return hi - lo;
#else
	(void)p, (void)bytes;
	return 0;
#endif
}

int fit__release_works(void)
{
#if defined(MADV_DONTNEED) && defined(_SC_PAGESIZE)
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 && (size_t)ps <= FIT__RELEASE_SLACK / 2;
#else
	return 0;
#endif
}

int fit__poll_check(struct fit__poll *p)
{
	if (p == NULL)
		return 0;
	if (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED) && p->abort != NULL &&
	    p->abort(p->data) != 0)
		__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&p->stop, __ATOMIC_RELAXED);
}

int fit__poll_stopped(const struct fit__poll *p)
{
	if (p == NULL)
		return 0;
	return __atomic_load_n(&p->stop, __ATOMIC_RELAXED);
}
