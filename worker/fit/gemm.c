/*
 * gemm.c - C = alpha * op(A) * op(B) + beta * C in float32, row-major.
 *
 * The classic blocking (Goto; BLIS): for each NC-wide panel of columns and
 * each KC-deep slice of k, B's slice is packed into NR-wide micro-panels
 * shared by all threads; then every task packs an MC x KC block of A into
 * MR-tall micro-panels and runs the micro-kernel, which keeps an MR x NR tile
 * of C in registers over the whole slice. Packed panels are zero-padded, so
 * the kernel always computes full tiles; tiles that stick out of C go through
 * a small buffer. The micro-kernel is chosen at run time with
 * __builtin_cpu_supports(): AVX-512F (8 x 32), AVX2 with FMA (6 x 16), or
 * portable C (4 x 8).
 *
 * Determinism: threads split C into (row block, column group) tasks and never
 * split k; KC is fixed, so every element of C sees the same sequence of
 * operations whatever the number of threads, and whatever tile it falls in
 * (the edge path rounds exactly like the kernel's store: alpha * acc, then one
 * fused multiply-add with beta * C).
 *
 * A single column of C (a one-unit output layer), or a single row with A
 * transposed (its weight gradient), skips the packing: padded to a full
 * tile it would cost the kernel up to NR times the useful work.
 *
 * The networks' training (mlp.c) calls this with one thread on fixed blocks
 * of rows and parallelizes over the blocks; mlp.c says why this kernel and
 * not OpenBLAS's.
 */
#include "worker/fit/gemm.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define KC	 256  /* k slice: fixed, so results do not depend on anything else */
#define NC	 2048 /* columns per packed B panel, a multiple of every NR */
#define MC_MAX	 128  /* rows of a packed A block, at most */
#define TILE_MAX 256  /* mr * nr of the largest kernel */

typedef void (*ukernel_fn)(size_t kc, const float *a, const float *b, float *c, size_t ldc,
			   float alpha, float beta);

struct ukernel {
	const char *name;
	size_t mr, nr;
	ukernel_fn fn;
};

static void kernel_generic(size_t kc, const float *a, const float *b, float *c, size_t ldc,
			   float alpha, float beta)
{
	float acc[4][8] = { { 0 } };

	for (size_t p = 0; p < kc; p++)
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 8; j++)
				acc[i][j] += a[p * 4 + i] * b[p * 8 + j];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++) {
			float v = alpha * acc[i][j];

			c[i * ldc + j] = beta == 0.0f ? v : fmaf(beta, c[i * ldc + j], v);
		}
}

#if HAVE_X86
__attribute__((target("avx2,fma"))) static void kernel_avx2(size_t kc, const float *a,
							    const float *b, float *c, size_t ldc,
							    float alpha, float beta)
{
	__m256 acc[6][2];

#pragma GCC unroll 6
	for (int i = 0; i < 6; i++)
		acc[i][0] = acc[i][1] = _mm256_setzero_ps();
	for (size_t p = 0; p < kc; p++) {
		__m256 b0 = _mm256_loadu_ps(b + p * 16), b1 = _mm256_loadu_ps(b + p * 16 + 8);

#pragma GCC unroll 6
		for (int i = 0; i < 6; i++) {
			__m256 a_i = _mm256_broadcast_ss(a + p * 6 + i);

			acc[i][0] = _mm256_fmadd_ps(a_i, b0, acc[i][0]);
			acc[i][1] = _mm256_fmadd_ps(a_i, b1, acc[i][1]);
		}
	}
#pragma GCC unroll 6
	for (int i = 0; i < 6; i++) {
		__m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
		__m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);

		if (beta != 0.0f) {
			r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc), r0);
			r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc + 8), r1);
		}
		_mm256_storeu_ps(c + i * ldc, r0);
		_mm256_storeu_ps(c + i * ldc + 8, r1);
	}
}

__attribute__((target("avx512f"))) static void kernel_avx512(size_t kc, const float *a,
							     const float *b, float *c, size_t ldc,
							     float alpha, float beta)
{
	__m512 acc[8][2];

#pragma GCC unroll 8
	for (int i = 0; i < 8; i++)
		acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (size_t p = 0; p < kc; p++) {
		__m512 b0 = _mm512_loadu_ps(b + p * 32), b1 = _mm512_loadu_ps(b + p * 32 + 16);

#pragma GCC unroll 8
		for (int i = 0; i < 8; i++) {
			__m512 a_i = _mm512_set1_ps(a[p * 8 + i]);

			acc[i][0] = _mm512_fmadd_ps(a_i, b0, acc[i][0]);
			acc[i][1] = _mm512_fmadd_ps(a_i, b1, acc[i][1]);
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		__m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
		__m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);

		if (beta != 0.0f) {
			r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc), r0);
			r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc + 16), r1);
		}
		_mm512_storeu_ps(c + i * ldc, r0);
		_mm512_storeu_ps(c + i * ldc + 16, r1);
	}
}
#endif

static struct ukernel pick_kernel(void)
{
#if HAVE_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return (struct ukernel){ "avx512", 8, 32, kernel_avx512 };
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return (struct ukernel){ "avx2", 6, 16, kernel_avx2 };
#endif
	return (struct ukernel){ "generic", 4, 8, kernel_generic };
}

const char *fit_gemm_kernel_name(void)
{
	return pick_kernel().name;
}

size_t fit_gemm_workspace_size(int threads)
{
	if (threads < 1)
		threads = 1;
	return ((size_t)KC * NC + (size_t)threads * MC_MAX * KC) * sizeof(float) + FIT__ALIGN;
}

/*
 * Packs rows i0..i0+mc-1, k p0..p0+kc-1 of op(A) into MR-tall micro-panels.
 * The branches are hoisted out of the element loops: with A transposed a
 * micro-panel's k step is a contiguous run of mr floats, as stored a row is.
 */
static void pack_a(enum fit_gemm_op ta, const float *a, size_t lda, size_t m, size_t i0, size_t mc,
		   size_t p0, size_t kc, size_t mr, float *ap)
{
	for (size_t ir = 0; ir < mc; ir += mr, ap += mr * kc) {
		size_t r0 = i0 + ir, mv = m - r0 < mr ? m - r0 : mr;

		if (ta == FIT_GEMM_T) {
			for (size_t p = 0; p < kc; p++) {
				const float *src = a + (p0 + p) * lda + r0;
				float *dst = ap + p * mr;

				for (size_t i = 0; i < mv; i++)
					dst[i] = src[i];
				for (size_t i = mv; i < mr; i++)
					dst[i] = 0.0f;
			}
			continue;
		}
		for (size_t i = 0; i < mv; i++) {
			const float *src = a + (r0 + i) * lda + p0;

			for (size_t p = 0; p < kc; p++)
				ap[p * mr + i] = src[p];
		}
		for (size_t i = mv; i < mr; i++)
			for (size_t p = 0; p < kc; p++)
				ap[p * mr + i] = 0.0f;
	}
}

/* Packs NR-wide micro-panel q of columns j0.., k p0..p0+kc-1 of op(B), branches hoisted. */
static void pack_b_panel(enum fit_gemm_op tb, const float *b, size_t ldb, size_t n, size_t j0,
			 size_t p0, size_t kc, size_t nr, float *bp)
{
	size_t nv = n - j0 < nr ? n - j0 : nr;

	if (tb == FIT_GEMM_N) {
		for (size_t p = 0; p < kc; p++) {
			const float *src = b + (p0 + p) * ldb + j0;
			float *dst = bp + p * nr;

			for (size_t j = 0; j < nv; j++)
				dst[j] = src[j];
			for (size_t j = nv; j < nr; j++)
				dst[j] = 0.0f;
		}
		return;
	}
	for (size_t j = 0; j < nv; j++) {
		const float *src = b + (j0 + j) * ldb + p0;

		for (size_t p = 0; p < kc; p++)
			bp[p * nr + j] = src[p];
	}
	for (size_t j = nv; j < nr; j++)
		for (size_t p = 0; p < kc; p++)
			bp[p * nr + j] = 0.0f;
}

/* One micro-tile at C(i, j) of at most mr x nr valid elements. */
static void tile(const struct ukernel *uk, size_t kc, const float *ap, const float *bp, float *c,
		 size_t ldc, size_t mv, size_t nv, float alpha, float beta)
{
	float buf[TILE_MAX] __attribute__((aligned(64)));

	if (mv == uk->mr && nv == uk->nr) {
		uk->fn(kc, ap, bp, c, ldc, alpha, beta);
		return;
	}
	uk->fn(kc, ap, bp, buf, uk->nr, alpha, 0.0f);
	for (size_t i = 0; i < mv; i++)
		for (size_t j = 0; j < nv; j++) {
			float v = buf[i * uk->nr + j];

			c[i * ldc + j] = beta == 0.0f ? v : fmaf(beta, c[i * ldc + j], v);
		}
}

struct gemm_job {
	enum fit_gemm_op ta, tb;
	size_t m, n, k;
	float alpha, beta;
	const float *a, *b;
	size_t lda, ldb, ldc;
	float *c;
	struct ukernel uk;
	size_t mc, iblocks, jgroups, panels_per_group;
	float *bp, *ap_all;
};

static void run_task(const struct gemm_job *g, size_t task, size_t jc, size_t nc, size_t pc,
		     size_t kc, float beta, float *ap)
{
	size_t ib = task % g->iblocks, jg = task / g->iblocks, nr = g->uk.nr, mr = g->uk.mr;
	size_t i0 = ib * g->mc, mc = g->m - i0 < g->mc ? g->m - i0 : g->mc;
	size_t q0 = jg * g->panels_per_group, npanels = (nc + nr - 1) / nr;
	size_t q1 = q0 + g->panels_per_group < npanels ? q0 + g->panels_per_group : npanels;

	if (q0 >= q1)
		return;
	pack_a(g->ta, g->a, g->lda, g->m, i0, mc, pc, kc, mr, ap);
	for (size_t q = q0; q < q1; q++) {
		size_t j = q * nr, nv = nc - j < nr ? nc - j : nr;

		for (size_t ir = 0; ir < mc; ir += mr) {
			size_t mv = mc - ir < mr ? mc - ir : mr;

			tile(&g->uk, kc, ap + ir * kc, g->bp + q * nr * kc,
			     g->c + (i0 + ir) * g->ldc + jc + j, g->ldc, mv, nv, g->alpha, beta);
		}
	}
}

static void gemm_blocked(struct gemm_job *g, int threads)
{
	size_t ntasks = g->iblocks * g->jgroups;

#pragma omp parallel num_threads(threads) if (threads > 1)
	{
		float *ap = g->ap_all + (size_t)omp_get_thread_num() * MC_MAX * KC;

		for (size_t jc = 0; jc < g->n; jc += NC) {
			size_t nc = g->n - jc < NC ? g->n - jc : NC;
			size_t npanels = (nc + g->uk.nr - 1) / g->uk.nr;

			for (size_t pc = 0; pc < g->k; pc += KC) {
				size_t kc = g->k - pc < KC ? g->k - pc : KC;
				float beta = pc == 0 ? g->beta : 1.0f;

#pragma omp for schedule(static)
				for (size_t q = 0; q < npanels; q++)
					pack_b_panel(g->tb, g->b, g->ldb, g->n, jc + q * g->uk.nr,
						     pc, kc, g->uk.nr, g->bp + q * g->uk.nr * kc);
#pragma omp for schedule(static)
				for (size_t t = 0; t < ntasks; t++)
					run_task(g, t, jc, nc, pc, kc, beta, ap);
			}
		}
	}
}

/* sum_p x[p * incx] * y[p * incy] in 16 fixed lanes, then the lanes in order. */
static float dot16(const float *x, size_t incx, const float *y, size_t incy, size_t k)
{
	float lane[16] = { 0 }, s = 0.0f;
	size_t p = 0;

	for (; p + 16 <= k; p += 16)
		for (size_t l = 0; l < 16; l++)
			lane[l] += x[(p + l) * incx] * y[(p + l) * incy];
	for (; p < k; p++)
		lane[p % 16] += x[p * incx] * y[p * incy];
	for (size_t l = 0; l < 16; l++)
		s += lane[l];
	return s;
}

/*
 * A single column of C, or a single row of C with op(A) transposed (a
 * network's output layer of one unit and its weight gradient): no packing,
 * each element a dot product in fixed lanes, or with one row of C and B as
 * stored, axpys along B's rows. One thread, so the threads do not matter;
 * and a row of C is still computed the same way whatever m (a single row
 * with A as stored, a prediction of one row, keeps the blocked path).
 */
static void gemm_thin(enum fit_gemm_op ta, enum fit_gemm_op tb, size_t m, size_t n, size_t k,
		      float alpha, const float *a, size_t lda, const float *b, size_t ldb,
		      float beta, float *c, size_t ldc)
{
	size_t ia = ta == FIT_GEMM_N ? 1 : lda, ib = tb == FIT_GEMM_N ? ldb : 1;

	if (m == 1 && tb == FIT_GEMM_N && beta == 0.0f) {
		for (size_t j = 0; j < n; j++)
			c[j] = 0.0f;
		for (size_t p = 0; p < k; p++) {
			float x = a[p * ia];
			const float *row = b + p * ldb;

			for (size_t j = 0; j < n; j++)
				c[j] += x * row[j];
		}
		for (size_t j = 0; j < n; j++)
			c[j] *= alpha;
		return;
	}
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			const float *x = a + (ta == FIT_GEMM_N ? i * lda : i);
			const float *y = b + (tb == FIT_GEMM_N ? j : j * ldb);
			float v = alpha * dot16(x, ia, y, ib, k);

			c[i * ldc + j] = beta == 0.0f ? v : fmaf(beta, c[i * ldc + j], v);
		}
}

int fit_gemm(enum fit_gemm_op ta, enum fit_gemm_op tb, size_t m, size_t n, size_t k, float alpha,
	     const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
	     size_t ldc, int threads, void *ws)
{
	struct gemm_job g = { ta, tb, m, n, k, alpha, beta, a, b, lda, ldb, ldc, c };
	void *own = NULL;
	size_t npanels;

	if (m == 0 || n == 0)
		return FITD_OK;
	threads = threads < 1 ? 1 : threads;
	if (k == 0) {
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < n; j++)
				c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
		return FITD_OK;
	}
	if (n == 1 || (m == 1 && ta == FIT_GEMM_T)) {
		gemm_thin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
		return FITD_OK;
	}
	if (ws == NULL) {
		ws = own = fit__alloc(fit_gemm_workspace_size(threads));
		if (ws == NULL)
			return FITD_ENOMEM;
	}
	g.uk = pick_kernel();
	g.bp = ws;
	g.ap_all = g.bp + (size_t)KC * NC;
	g.mc = MC_MAX / g.uk.mr * g.uk.mr;
	g.iblocks = (m + g.mc - 1) / g.mc;
	npanels = ((n < NC ? n : NC) + g.uk.nr - 1) / g.uk.nr;
	g.jgroups = (2 * (size_t)threads + g.iblocks - 1) / g.iblocks;
	g.jgroups = g.jgroups < 1 ? 1 : g.jgroups > npanels ? npanels : g.jgroups;
	g.panels_per_group = (npanels + g.jgroups - 1) / g.jgroups;
	gemm_blocked(&g, threads);
	free(own);
	return FITD_OK;
}
