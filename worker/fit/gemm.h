/*
 * gemm.h - single-precision matrix multiply for the networks:
 * C = alpha * op(A) * op(B) + beta * C, row-major, op = as is or transposed.
 *
 * Cache-blocked in the usual way (panels of B and blocks of A packed into
 * contiguous micro-panels, a register-blocked micro-kernel over them). The
 * micro-kernel is picked at run time: AVX-512F, else AVX2 with FMA, else
 * portable C. Threads split the output into tiles; the k sum of each output
 * element is always taken by one thread, in the same blocked order, so the
 * result does not depend on the number of threads.
 *
 * With beta = 0, C is only written (it may hold garbage or NaN before).
 */
#ifndef FIT_GEMM_H
#define FIT_GEMM_H

#include <stddef.h>

enum fit_gemm_op {
	FIT_GEMM_N = 0, /* the matrix as stored */
	FIT_GEMM_T = 1, /* its transpose */
};

/*
 * Bytes of working memory fit_gemm() needs with threads threads, whatever the
 * sizes; a caller that plans its memory passes that much to every call.
 */
size_t fit_gemm_workspace_size(int threads);

/*
 * op(A) is m x k, op(B) is k x n, C is m x n; lda, ldb, ldc are the row
 * strides of A, B, C as stored. ws is fit_gemm_workspace_size(threads) bytes
 * aligned to 64, or NULL to have the call allocate (and free) its own; returns
 * 0 or FITD_ENOMEM (only when ws is NULL). Runs an OpenMP team of threads.
 */
int fit_gemm(enum fit_gemm_op ta, enum fit_gemm_op tb, size_t m, size_t n, size_t k, float alpha,
	     const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
	     size_t ldc, int threads, void *ws);

/* The micro-kernel in use: "avx512", "avx2" or "generic". */
const char *fit_gemm_kernel_name(void);

#endif
