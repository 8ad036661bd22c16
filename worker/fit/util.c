/*
 * util.c - the small pieces every file of the core uses: overflow-checked
 * sizes, the planning arena and cancellation.
 */
#include "worker/fit/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_FROM ((size_t)8 << 20) /* buffers from this size get huge pages */

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

void *fit__alloc(size_t bytes)
{
	size_t n;
	void *p = NULL;

	if (fit__add(bytes, FIT__ALIGN - 1, &n))
		return NULL;
	n = n / FIT__ALIGN * FIT__ALIGN;
	if (n < HUGE_FROM)
		return aligned_alloc(FIT__ALIGN, n == 0 ? FIT__ALIGN : n);
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
