/*
 * internal.h - names shared between the files of the numeric core (prefix
 * fit__), not part of its public interface; tests may include it.
 *
 * How a fit is put together (train.c drives it):
 *
 *   target + preprocessing  fitted on the training rows (prep.c)
 *   design matrix           the numeric features dense (float32, row-major,
 *                           rows padded to FIT__PAD floats with zeros) and
 *                           each categorical column one compact code per row,
 *                           the index of its active one-hot feature (struct
 *                           fit__data): a one-hot block is read as sparse
 *                           indices, a gather per row, never as a dense block
 *   objective               mean loss and its gradient over any rows, and a
 *                           Hessian-vector product (linear.c, mlp.c), behind
 *                           struct fit__objective
 *   optimizer               gd/sgd/momentum/adam (optim.c), lbfgs (lbfgs.c),
 *                           trust-region newton (newton.c), which know nothing
 *                           of models; or the svm's dual coordinate descent
 *                           (dcd.c), which reads the design matrix itself
 *
 * Working memory is planned once: every module lays out its buffers with
 * fit__arena_take() in a *_layout() function that is first run on a counting
 * arena (which hands out no memory, only adds up sizes), then on the real one.
 * The same layout code therefore sizes fit_memory_estimate().
 */
#ifndef FIT_INTERNAL_H
#define FIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "worker/fit/frame.h"
#include "worker/fit/rng.h"
#include "worker/fit/model.h"
#include "worker/fit/params.h"
#include "daemon/base/status.h"

#define FIT__PAD	8    /* floats: a design-matrix row stride is a multiple of this */
#define FIT__ALIGN	64   /* bytes: alignment of every arena buffer */
#define FIT__BLOCK_ROWS 2048 /* rows of a reduction block (grown for huge n, see fit__blocking) */
#define FIT__MAX_BLOCKS 256  /* at most this many partial sums per pass */

/* ---- sizes and memory ---- */

/* *out = a * b (a + b); 0, or -1 on overflow (then *out is unspecified). */
int fit__mul(size_t a, size_t b, size_t *out);
int fit__add(size_t a, size_t b, size_t *out);

/* x rounded up to a multiple of FIT__PAD, or 0 on overflow. */
size_t fit__pad(size_t x);

/*
 * A bump allocator over one block. With base NULL it only counts: take()
 * returns NULL and adds the aligned size to used. overflow is set (and NULL
 * returned) when a request overflows or does not fit.
 */
struct fit__arena {
	char *base;
	size_t size;
	size_t used;
	int overflow;
};

void *fit__arena_take(struct fit__arena *a, size_t count, size_t elem);

/*
 * 64-byte aligned allocation of bytes (rounded up); NULL on failure. Free
 * with fit__free() and the same bytes to keep a big buffer for the next
 * fit of its size (util.c), or with free().
 */
void *fit__alloc(size_t bytes);
void fit__free(void *p, size_t bytes);

/*
 * Gives the whole pages of p[0..bytes) back to the system (a buffer from
 * fit__alloc() whose contents are dead; they read as zero if touched again)
 * and returns how many bytes that was; 0 where the system cannot.
 */
size_t fit__release(void *p, size_t bytes);

/* Whether fit__release() gives pages back on this system. */
int fit__release_works(void);

/* Bytes fit__release() may keep of a range: the part pages at either end, at most. */
#define FIT__RELEASE_SLACK ((size_t)128 << 10)

/* ---- cancellation ---- */

/*
 * Polled by the calling thread (OpenMP thread 0 inside a parallel pass); the
 * other threads only read stop (atomically) and skip their remaining blocks.
 */
struct fit__poll {
	int (*abort)(void *data);
	void *data;
	int stop;
};

/* Calls abort (when set) and latches stop; returns stop. Caller's thread only; p may be NULL. */
int fit__poll_check(struct fit__poll *p);
/* stop, read atomically; any thread. */
int fit__poll_stopped(const struct fit__poll *p);

/* ---- preprocessing (prep.c) ---- */

/*
 * The preprocessing a model holds; cols is the public view, strings owned.
 *
 * Features have two orders. The public one (first[], the model's layers and
 * feature means) follows the columns: a numeric column's value then its
 * indicator, a categorical column's levels then "other". The kernels' one
 * puts every numeric feature first, in column order, in a dense block of
 * xld floats per row, and every categorical feature after it: a weight
 * vector is [dense (xld) | categorical (ncatw) | zero padding] = ld values,
 * and a row holds, per categorical column, one code: the offset of its
 * active feature in the categorical block, or -1 for none. pos[] maps a
 * column to its place in the kernels' order: a numeric column's offset in
 * the dense block, a categorical column's offset in the categorical block;
 * slot[] is a categorical column's index among the codes of a row.
 */
struct fit__prep {
	size_t ncols;
	struct fit_prep_column *cols;
	size_t *first; /* public: first feature of each column */
	size_t *pos;   /* kernels: see above */
	size_t *slot;  /* categorical columns: the code's index in a row; else 0 */
	size_t nfeat;  /* features */
	size_t ndense; /* numeric features (values and indicators) */
	size_t xld;    /* dense row stride: fit__pad(ndense), at least FIT__PAD */
	size_t ncat;   /* categorical columns: codes per row */
	size_t ncatw;  /* categorical features */
	size_t ld;     /* weight row stride: fit__pad(xld + ncatw) */
};

/*
 * The kernels' index (as above, dense block then categorical block) of
 * every public feature, into map (p->nfeat of them).
 */
void fit__prep_map(const struct fit__prep *p, size_t *map);

/* Fits preprocessing of columns feat[0..nfeat) on rows of frame. */
int fit__prep_fit(const struct fit_frame *frame, const size_t *feat, size_t nfeat,
		  const size_t *rows, size_t nrows, const struct fit_params *params,
		  struct fit__prep *out, struct fitd_error *err);

/*
 * fit__prep_fit through a cache (NULL: none): a copy of an earlier fit of
 * the same frame, columns, rows and settings, else a new fit, which is then
 * kept. The result is the same either way; a cache that cannot keep it
 * (memory) changes nothing but speed.
 */
int fit__prep_cache_fit(struct fit_prep_cache *c, const struct fit_frame *frame, const size_t *feat,
			size_t nfeat, const size_t *rows, size_t nrows,
			const struct fit_params *params, struct fit__prep *out,
			struct fitd_error *err);

/* Deep copy of columns (validated) into *out. FITD_EFORMAT when inconsistent. */
int fit__prep_copy(const struct fit_prep_column *cols, size_t ncols, struct fit__prep *out,
		   struct fitd_error *err);
void fit__prep_release(struct fit__prep *p);

/* A frame's columns matched to a preprocessing. */
struct fit__bind {
	size_t ncols;
	const struct fit_column **src; /* per prep column */
	int32_t **code_map;	       /* categorical: frame code -> feature offset, -1 = none */
};

int fit__bind_init(const struct fit__prep *p, const struct fit_frame *f, struct fit__bind *b,
		   struct fitd_error *err);
void fit__bind_release(struct fit__bind *b);

/*
 * Writes the preprocessed features of rows (NULL = 0..n-1): the dense ones
 * to x (n x p->xld) and the categorical codes to code (n x p->ncat).
 */
void fit__prep_rows(const struct fit__prep *p, const struct fit__bind *b, const size_t *rows,
		    size_t n, float *x, int32_t *code, int threads);

/* ---- target (target.c) ---- */

struct fit__target {
	enum fit_task task;
	size_t nclasses;
	char **classes;	      /* owned names */
	double *values;	      /* classes named by numbers: their values, ascending; else NULL */
	int32_t *value_class; /* the class of each of values */
	double center, scale; /* regression: the training mean and deviation of the target */
};

/* Classes (from training rows with a value) or the standardization of a regression target. */
int fit__target_fit(const struct fit_column *col, enum fit_task task, const size_t *rows, size_t n,
		    struct fit__target *out, struct fitd_error *err);
int fit__target_copy(const struct fit_model_desc *d, struct fit__target *out,
		     struct fitd_error *err);
void fit__target_release(struct fit__target *t);

/*
 * For each row of rows: regression y (standardized when standardize) or class
 * label (-1 when the class is unknown). Rows with a missing target are left
 * out; *kept receives the count and kept_rows (when not NULL) the rows kept.
 * y or label may be NULL. FITD_ENOMEM, FITD_EUNPROCESSABLE for a column of
 * the wrong type.
 */
int fit__target_rows(const struct fit__target *t, const struct fit_column *col, const size_t *rows,
		     size_t n, int standardize, double *y, int32_t *label, size_t *kept_rows,
		     size_t *kept);

/* ---- the design matrix and the objective interface ---- */

struct fit__data {
	size_t n;	/* rows */
	size_t d;	/* features */
	size_t ld;	/* weight row stride: fit__pad(xld + categorical features) */
	size_t xld;	/* dense row stride, a multiple of FIT__PAD; padding is zero */
	float *x;	/* n x xld dense features */
	size_t ncat;	/* categorical columns */
	int32_t *code;	/* n x ncat: offset of the active feature after xld, -1 none */
	double *y;	/* regression: standardized target; else NULL */
	int32_t *label; /* classification: 0..K-1; else NULL */
};

/* Row i of d (n rows from it) as a view of its own, for chunked passes. */
static inline struct fit__data fit__data_rows(const struct fit__data *d, size_t i, size_t n)
{
	struct fit__data v = *d;

	v.n = n;
	v.x = d->x + i * d->xld;
	v.code = d->code != NULL ? d->code + i * d->ncat : NULL;
	v.y = d->y != NULL ? d->y + i : NULL;
	v.label = d->label != NULL ? d->label + i : NULL;
	return v;
}

/*
 * A smooth objective over parameters w[0..dim): the first npen entries are
 * penalized weights, the rest intercepts and biases. grad() writes the mean
 * loss over rows (NULL: every row, in order) to *value and its gradient to g,
 * penalty excluded; hv() multiplies the Hessian of the mean loss at the
 * accepted point by s, where accept() makes the point of the last grad() over
 * every row the accepted one (both NULL when there is no Hessian). grad() and
 * hv() return 0, FITD_ECANCELLED or FITD_EDIVERGED.
 */
struct fit__objective {
	size_t dim;
	size_t npen;
	size_t nrows;
	double l1, l2; /* penalty * l1_ratio and penalty * (1 - l1_ratio) */
	int (*grad)(void *ctx, const double *w, const size_t *rows, size_t n, double *value,
		    double *g);
	int (*hv)(void *ctx, const double *s, double *hs);
	void (*accept)(void *ctx); /* hv() from now on at the last full grad() point */
	void *ctx;
};

/* grad() plus the L2 term; the L1 term is added to *value only (not to g). */
int fit__objective_grad(const struct fit__objective *o, const double *w, const size_t *rows,
			size_t n, double *value, double *g);
/* hv() plus the L2 term. */
int fit__objective_hv(const struct fit__objective *o, const double *s, double *hs);

/* ---- optimizers ---- */

/*
 * What every optimizer shares: the parameters, the callbacks, the report it
 * fills and a validation scorer (NULL without validation rows; returns 0 or a
 * status and the score of w in *score).
 */
struct fit__run {
	const struct fit_params *params;
	const struct fit_callbacks *cb;
	struct fit__poll *poll;
	struct fit_report *report;
	struct fitd_error *err;
	/*
	 * The validation score in the metric's units (reported as progress),
	 * and in *stop what early stopping minimizes: the log loss when the
	 * model gives probabilities (the metric may be a coarse count such as
	 * accuracy), else the metric signed so that lower is better.
	 */
	int (*score)(void *ctx, const double *w, double *score, double *stop);
	void *score_ctx;
	double stop; /* of the last score() */
};

/* Working memory of each optimizer for dim parameters and n rows. */
void *fit__first_layout(struct fit__arena *a, size_t dim, size_t n, const struct fit_params *p);
void *fit__lbfgs_layout(struct fit__arena *a, size_t dim);
void *fit__newton_layout(struct fit__arena *a, size_t dim);

/* Minimize o from w (in place) with gd/sgd/momentum/adam; ws from the layout. */
int fit__first_run(const struct fit__objective *o, struct fit__run *run, double *w, void *ws);
int fit__lbfgs_run(const struct fit__objective *o, struct fit__run *run, double *w, void *ws);
int fit__newton_run(const struct fit__objective *o, struct fit__run *run, double *w, void *ws);

/* Shared by the optimizers: the progress call and the divergence check. */
int fit__run_epoch_end(struct fit__run *run, unsigned epoch, double loss, const double *w,
		       size_t dim, double *score);
int fit__run_diverged(struct fit__run *run, unsigned epoch, const char *what);

/* ---- the svm's dual coordinate descent (dcd.c) ---- */

/*
 * k one-vs-rest linear SVMs over data (k = 1: label 1 against label 0; else
 * label c against the rest for output c), each the L2-regularized problem
 *
 *   min_v  |v|^2 / 2 + c * sum_i loss(1 - y_i v . [x_i, 1])
 *
 * with v = [W row c, b_c] and loss max(0, m) (hinge) or max(0, m)^2
 * (squared_hinge): the intercept is the weight of a constant feature 1,
 * penalized like the others (liblinear's -B 1). Divided by c * n it is the
 * objective of params.h with penalty 1 / (c * n), plus b^2 in the penalty.
 */
struct fit__dcd {
	const struct fit__data *data; /* label 0..K-1 */
	size_t k;		      /* outputs: 1, or the classes K > 2 */
	enum fit_loss loss;	      /* FIT_LOSS_HINGE or FIT_LOSS_SQUARED_HINGE */
	double c;		      /* C > 0 */
	int threads;		      /* the outputs are solved in parallel */
	struct fit__poll *poll;
};

/* Working memory of dcd for n rows and k outputs. */
void *fit__dcd_layout(struct fit__arena *a, size_t n, size_t k);
/*
 * Solves into w = [W (k x ld), b (k)] (overwritten, from zero) for at most
 * run->params->epochs iterations, reporting each; the seed and tol of
 * run->params. 0, or FITD_ECANCELLED or FITD_EDIVERGED with run->err set.
 */
int fit__dcd_run(const struct fit__dcd *d, struct fit__run *run, double *w, void *ws);
/* The dual variables of output c (n of them) after fit__dcd_run(); for tests. */
const double *fit__dcd_dual(const void *ws, size_t c);

/* ---- linear models (linear.c) ---- */

struct fit__linear {
	const struct fit__data *data;
	size_t k;   /* outputs */
	size_t dim; /* k * ld + k */
	enum fit_loss loss;
	double delta;
	int threads;
	struct fit__poll *poll;
	size_t block_rows; /* fixed for the fit: fit__blocking(data->n) */
	double *partial;   /* a slot of slot_size(k, dim) doubles per block (linear.c) */
	double *curv[2];   /* n x k second-derivative terms: accepted, last full grad(); or NULL */
};

size_t fit__blocking(size_t n);
/* Lays out lin's buffers; with_curv for newton. */
void fit__linear_layout(struct fit__arena *a, struct fit__linear *lin, size_t n, size_t ld,
			size_t k, int with_curv);
void fit__linear_objective(struct fit__linear *lin, struct fit__objective *o);
/* Decision values z (rows->n x k) of rows for w = [W (k x rows->ld), b (k)]. */
void fit__linear_scores(size_t k, const double *w, const struct fit__data *rows, double *z,
			int threads);

/* ---- networks (mlp.c) ---- */

#define FIT__MLP_CHUNK 256 /* rows per forward chunk at prediction */
#define FIT__MLP_BLOCK \
	64 /* rows per training block: fixed, so gradients do not depend on threads */

/*
 * The shape of an mlp: nl layers (hidden ones, then the output), sizes[0] =
 * xld (the padded dense inputs) ... sizes[nl] = outputs; its parameters in
 * one vector, every layer's weights (sizes[l+1] x sizes[l], row-major)
 * first, then the first layer's weights of the categorical features
 * (ncatw x sizes[1] at eoff, a row per feature: the gather of a code reads
 * one contiguous row), then every layer's biases, at the offsets woff,
 * eoff and boff. The penalized weights are the first npen = boff[0].
 */
struct fit__net {
	size_t nl;
	size_t sizes[FIT_MAX_HIDDEN + 2];
	size_t woff[FIT_MAX_HIDDEN + 1];
	size_t eoff;
	size_t ncatw;
	size_t boff[FIT_MAX_HIDDEN + 1];
	size_t dim;
	size_t npen;
	enum fit_activation act;
};

/* Shapes an mlp of p's hidden layers on xld-wide dense rows and ncatw categorical features. */
int fit__net_shape(struct fit__net *net, size_t xld, size_t ncatw, size_t kout,
		   const struct fit_params *p);
/* Floats of scratch fit__net_forward() needs for chunk rows. */
size_t fit__net_scratch(const struct fit__net *net, size_t chunk);
/*
 * Output values z (rows->n x outputs, double) of rows->n <= chunk rows with
 * float parameters wf, dropout off; emb is the first layer's categorical
 * weights, a row of sizes[1] floats per code (wf + eoff, or a table with
 * more rows); gemm_ws as for fit_gemm().
 */
void fit__net_forward(const struct fit__net *net, const float *wf, const float *emb,
		      const struct fit__data *rows, float *scratch, double *z, int threads,
		      void *gemm_ws);

/* Lays out the training buffers of an mlp of shape net over n rows of ncat codes each. */
struct fit__mlp *fit__mlp_layout(struct fit__arena *a, const struct fit__net *net, size_t n,
				 size_t ncat, const struct fit_params *p);
void fit__mlp_bind(struct fit__mlp *m, const struct fit__data *data, enum fit_loss loss,
		   double delta, struct fit__poll *poll);
void fit__mlp_objective(struct fit__mlp *m, struct fit__objective *o);
/*
 * Glorot-uniform weights (the first layer's fan-in is nfeat, the features in
 * all) over the ndense real dense inputs and the categorical rows (padding
 * stays zero), zero biases.
 */
void fit__mlp_init(const struct fit__net *net, size_t ndense, size_t nfeat, double *w,
		   uint64_t seed);
/* Output values z (rows->n x outputs) of rows with parameters w, dropout off. */
void fit__mlp_scores(struct fit__mlp *m, const double *w, const struct fit__data *rows, double *z);

/* ---- vector kernels (kernels.c), ld a multiple of FIT__PAD ---- */

/*
 * Row r of d: w . x_r over the dense block and the gathered categorical
 * weights (w has d->ld values), and g += a * x_r (scatter-add). Summed in a
 * fixed order: the dense dot, then the codes in column order.
 */
double fit__row_dot(const struct fit__data *d, size_t r, const double *w);
void fit__row_axpy(const struct fit__data *d, size_t r, double a, double *g);

/* x . w over ld values, accumulated in double. */
double fit__dot(const float *x, const double *w, size_t ld);
/* g += a * x over ld values. */
void fit__axpy(double *g, double a, const float *x, size_t ld);
/*
 * a . b over n doubles, any n, summed in index order: the optimizers'
 * vector algebra, kept plain so a fit's result does not depend on the CPU.
 */
double fit__ddot(const double *a, const double *b, size_t n);

/* ---- losses (linear.c), shared with the networks ---- */

/*
 * Loss of one row's outputs z[0..k) against y (regression) or label: returns
 * the loss, writes dloss/dz to dz and, when curv is not NULL, the terms of the
 * (generalized) Hessian: a diagonal, or the probabilities for softmax.
 */
typedef double (*fit__loss_fn)(const double *z, size_t k, double y, int32_t label, double delta,
			       double *dz, double *curv);

/* The loss function for loss on k outputs (softmax for log with k > 1). */
fit__loss_fn fit__loss_pick(enum fit_loss loss, size_t k);

/* The svm's target of output c of k: +1 or -1, one-vs-rest (k = 1: label 1 is +1). */
double fit__svm_sign(size_t k, int32_t label, size_t c);

/* ---- metrics (metric.c) ---- */

/* Doubles of scratch fit__metric_classification() needs for n rows of nclasses. */
size_t fit__metric_scratch(size_t n, size_t nclasses);
/* fit_metric_classification() with caller-provided scratch; no allocation. */
int fit__metric_classification(enum fit_metric m, size_t n, size_t nclasses, const int32_t *labels,
			       const double *prob, double *scratch, double *out);

/* ---- models (model.c) ---- */

/* A model: owned fields, the public description pointing into them, and the predictor. */
struct fit_model {
	struct fit_model_desc desc; /* public view into the fields below */
	struct fit__prep prep;
	struct fit__target target;
	char *target_name;
	struct fit_layer_desc layers[FIT_MAX_HIDDEN + 1];
	double *layer_mem; /* every layer's weights then bias, back to back */
	size_t kout;
	struct fit__net net; /* mlp */
	double *wd;	     /* linear: k x ld weights then k intercepts */
	float *wf;	     /* mlp: net.dim parameters */
	double *feat_mean;   /* linear, mlp: prep.nfeat training means (zeros when unknown) */
	int means_known;     /* whether feat_mean came from a fit (or the document) */
	struct fit_gbdt_model *gbdt; /* gbdt: the trees; prep only names the columns */
	struct fit__ensemble *ens;   /* an ensemble (ensemble.c); prep and layers empty */
};

/* An ensemble's parts (ensemble.c); the dispatch of model.c and contrib.c goes here. */
int fit__ensemble_predict(const struct fit_model *m, const struct fit_frame *frame,
			  const size_t *rows, size_t nrows, int threads, double *values,
			  int32_t *labels, double *margins, struct fitd_error *err);
int fit__ensemble_contributions(const struct fit_model *m, const struct fit_frame *frame,
				const size_t *rows, size_t nrows, int threads, double *contrib,
				struct fitd_error *err);
size_t fit__ensemble_explain_cost(const struct fit_model *m);
void fit__ensemble_free(struct fit__ensemble *e);

/*
 * A new model from training results: takes prep and target over (they are
 * cleared, also on failure) and copies the layers, which must have the shape
 * params and target call for, and the features' training means (NULL: unknown).
 */
int fit__model_assemble(const struct fit_params *p, const char *target_name, struct fit__prep *prep,
			struct fit__target *target, const struct fit_layer_desc *layers,
			size_t nlayers, const double *means, const struct fit_report *rep,
			struct fit_model **out, struct fitd_error *err);

/*
 * A new gbdt model from a finished fit: takes target over (cleared, also on
 * failure) and g (freed on failure); its columns are g's.
 */
int fit__model_adopt_gbdt(const struct fit_params *p, const char *target_name,
			  struct fit__target *target, struct fit_gbdt_model *g,
			  const struct fit_report *rep, struct fit_model **out,
			  struct fitd_error *err);

/* A design of n rows x (m->prep.xld floats) and code (m->prep.ncat codes each) for m's kernels. */
struct fit__data fit__model_rows(const struct fit_model *m, float *x, int32_t *code, size_t n);

/* Whether family k is one of the linear ones (one layer on preprocessed features). */
int fit__is_linear(enum fit_model_kind k);

/* ---- gradient-boosted trees as a family (model_gbdt.c) ---- */

struct fit_gbdt_params;
struct fit_gbdt_desc;

/* The engine's parameters for p (resolved): see struct fit_params_gbdt in params.h. */
void fit__gbdt_params(const struct fit_params *p, struct fit_gbdt_params *g);

/* fit_model_train() of a gbdt model; p checked and resolved. */
int fit__gbdt_train(const struct fit_problem *prob, const struct fit_params *p,
		    const struct fit_callbacks *cb, struct fit_model **out, struct fitd_error *err);

/* The preprocessing that only names and types g's columns (see fit_prep_column). */
int fit__gbdt_prep(const struct fit_gbdt_desc *g, struct fit__prep *out, struct fitd_error *err);

/* fit_model_memory() of a gbdt fit. */
int fit__gbdt_memory(const struct fit_shape *sh, const struct fit_params *p, size_t *bytes);

/* ---- outputs ---- */

/* Outputs per row: 1 for regression and two classes, else nclasses. */
size_t fit__kout(enum fit_task task, size_t nclasses);

/* Model outputs z (n x kout) to prediction values (see fit_model_predict). */
void fit__outputs_to_values(enum fit_task task, size_t kout, size_t nclasses, double center,
			    double scale, const double *z, size_t n, double *values,
			    int32_t *labels);

#endif
