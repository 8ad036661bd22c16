/*
 * kernels.c - the inner loops of the linear models: dot products of float32
 * rows with double weights and double "g += a * x" updates, accumulated in
 * double.
 *
 * Two implementations, picked once at load time by an ifunc resolver: AVX-512
 * intrinsics (one vcvtps2pd zmm and one FMA per 8 values), and GCC vector
 * types of 8 doubles compiled twice by target_clones (x86-64-v3 with AVX2 and
 * FMA, and the baseline) for every other machine. Rows are padded to FIT__PAD
 * floats with zeros, so there is no remainder loop. Callers walk rows one at a
 * time: reading four rows interleaved (to share the weight loads) halves the
 * bandwidth, as the hardware prefetcher then sees four streams.
 *
 * A row of the design is its dense block and, per categorical column, the
 * code of its active one-hot feature: fit__row_dot() and fit__row_axpy()
 * take the dense part through these kernels and gather (scatter) the
 * categorical weights, so a one-hot block costs one load per column.
 *
 * The optimizers' dot product of two double vectors (fit__ddot, for lbfgs.c
 * and newton.c) is one plain loop on every machine: its vectors are short
 * (the parameters), and a fixed summation order keeps fits reproducible.
 */
#include "worker/fit/internal.h"

/* Not under TSan: the resolvers target_clones makes are instrumented, and run before its runtime. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute) && \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones) && __has_attribute(ifunc)
#define HAVE_AVX512_PATH 1
#include <immintrin.h>
#endif
#endif

#if HAVE_AVX512_PATH
#define CLONES	      static __attribute__((target_clones("arch=x86-64-v3", "default")))
#define GENERIC(name) generic_##name
#else
#define CLONES
#define GENERIC(name) name
#endif

typedef double v8d __attribute__((vector_size(64)));
/* Unaligned, aliasing views for loads and stores (rows are only 4-byte aligned). */
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef double v8d_u __attribute__((vector_size(64), aligned(8), may_alias));

/* Macros rather than functions: a 64-byte vector argument would change the baseline ABI. */
#define LOAD_F(p)     __builtin_convertvector(*(const v8f_u *)(p), v8d)
#define LOAD_D(p)     (*(const v8d_u *)(p))
#define STORE_D(p, v) (*(v8d_u *)(p) = (v))
#define PAIR(v, i)    ((v)[i] + (v)[(i) + 4])
#define HSUM(v)	      ((PAIR(v, 0) + PAIR(v, 1)) + (PAIR(v, 2) + PAIR(v, 3)))

CLONES double GENERIC(fit__dot)(const float *x, const double *w, size_t ld)
{
	v8d acc = { 0 };

	for (size_t j = 0; j < ld; j += 8)
		acc += LOAD_F(x + j) * LOAD_D(w + j);
	return HSUM(acc);
}

CLONES void GENERIC(fit__axpy)(double *g, double a, const float *x, size_t ld)
{
	for (size_t j = 0; j < ld; j += 8)
		STORE_D(g + j, LOAD_D(g + j) + a * LOAD_F(x + j));
}

double fit__row_dot(const struct fit__data *d, size_t r, const double *w)
{
	double s = fit__dot(d->x + r * d->xld, w, d->xld);
	const int32_t *code = d->ncat > 0 ? d->code + r * d->ncat : NULL;
	const double *wc = w + d->xld;

	for (size_t j = 0; j < d->ncat; j++)
		if (code[j] >= 0)
			s += wc[code[j]];
	return s;
}

void fit__row_axpy(const struct fit__data *d, size_t r, double a, double *g)
{
	const int32_t *code = d->ncat > 0 ? d->code + r * d->ncat : NULL;
	double *gc = g + d->xld;

	fit__axpy(g, a, d->x + r * d->xld, d->xld);
	for (size_t j = 0; j < d->ncat; j++)
		if (code[j] >= 0)
			gc[code[j]] += a;
}

double fit__ddot(const double *a, const double *b, size_t n)
{
	double s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#if HAVE_AVX512_PATH
#define AVX512 __attribute__((target("avx512f")))

AVX512 static double avx512_dot(const float *x, const double *w, size_t ld)
{
	__m512d acc = _mm512_setzero_pd();

	for (size_t j = 0; j < ld; j += 8)
		acc = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)),
				      _mm512_loadu_pd(w + j), acc);
	return _mm512_reduce_add_pd(acc);
}

AVX512 static void avx512_axpy(double *g, double a, const float *x, size_t ld)
{
	__m512d va = _mm512_set1_pd(a);

	for (size_t j = 0; j < ld; j += 8)
		_mm512_storeu_pd(g + j, _mm512_fmadd_pd(va, _mm512_cvtps_pd(_mm256_loadu_ps(x + j)),
							_mm512_loadu_pd(g + j)));
}

/*
 * ifunc resolvers run while the program is being relocated: before
 * constructors (so __builtin_cpu_init() first) and before a sanitizer's
 * runtime is up (so they must not be instrumented).
 */
#define RESOLVER __attribute__((no_sanitize("address", "undefined")))

RESOLVER static int have_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}

typedef double (*dot_fn)(const float *, const double *, size_t);
typedef void (*axpy_fn)(double *, double, const float *, size_t);

RESOLVER static dot_fn resolve_dot(void)
{
	return have_avx512() ? avx512_dot : generic_fit__dot;
}

RESOLVER static axpy_fn resolve_axpy(void)
{
	return have_avx512() ? avx512_axpy : generic_fit__axpy;
}

double fit__dot(const float *x, const double *w, size_t ld) __attribute__((ifunc("resolve_dot")));
void fit__axpy(double *g, double a, const float *x, size_t ld)
    __attribute__((ifunc("resolve_axpy")));
#endif
