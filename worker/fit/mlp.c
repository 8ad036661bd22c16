/*
 * mlp.c - the objective of a multilayer perceptron: 1 to 3 hidden layers
 * (relu or tanh, inverted dropout while training), then a linear output layer
 * whose loss comes from the same per-row loss table as the linear models
 * (identity for regression, sigmoid for two classes, softmax for more).
 *
 * Training splits a batch into blocks of FIT__MLP_BLOCK rows, a fixed size,
 * and runs each block's whole forward and backward pass on one thread
 * (OpenMP over the blocks, fit_gemm() with one thread inside): forward NT
 * (activations times the transposed weights), backward TN for the weight
 * gradients and NN for the gradients of the activations. A block leaves its
 * weight gradient (float), bias gradient and loss (double) in a slot; the
 * slots are added to the batch gradient, in double, in block order (the
 * weights split across the threads, each weight summing its blocks in
 * order). Each block's arithmetic is the same whatever thread runs it, and
 * the sums have a fixed order, so gradients do not depend on the number of
 * threads, nor on how many blocks a pass takes at once (2 per thread).
 *
 * Why blocks on one thread each, and our own kernel rather than a BLAS:
 * on the network's shapes (64..256 x 256 x 100 and transposes) one thread
 * of fit_gemm's AVX-512 kernel runs at 90-130 GFLOP/s on the 2-core AMD
 * EPYC (Zen 4) this was measured on, Debian's OpenBLAS 0.3.21 (which takes
 * that CPU for a Haswell and uses its AVX2 kernel) at 85-95 on the same
 * blocks and 95 on whole batches. What cost the time was around the kernel:
 * a fork and join of the thread team and a shared packing of B in every one
 * of the half dozen GEMMs of a batch, and the serial parts between them.
 * Blocks per thread leave one join per batch; the non-GEMM work (bias and
 * activation, dropout, loss, act', bias gradients) runs on the block in
 * the thread's cache; a one-unit output layer is a dot product per row
 * (fit_gemm's thin path); and the optimizer's adam step is vectorized and
 * threaded (optim.c).
 *
 * The first layer reads a row's dense block through the GEMM and its
 * one-hot columns as codes: each adds one row of the categorical weights (a
 * gather) to the pre-activation, and its gradient is the scatter-add of the
 * row's dz into that weight row, in double, in row order (after the blocks,
 * from the slots). Parameters are kept in double by the optimizer and
 * rounded to float32 for the passes.
 *
 * Dropout masks are a counter-based hash of (seed, gradient call, row of the
 * batch, layer, unit), so they too are the same whatever the thread count.
 * At prediction there is no dropout: inverted dropout already scaled the kept
 * units by 1 / (1 - p) during training.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "worker/fit/gemm.h"

/* One thread's buffers for the block it is on. */
struct mlp_work {
	float *xb;		     /* gathered rows: dense block */
	int32_t *cb;		     /* ... and codes */
	float *h[FIT_MAX_HIDDEN];    /* hidden activations before dropout */
	float *a[FIT_MAX_HIDDEN];    /* after dropout (h itself without dropout) */
	float *mask[FIT_MAX_HIDDEN]; /* 0 or 1 / (1 - p); NULL without dropout */
	float *zo, *d1, *d2;	     /* outputs; two back-propagation buffers */
	double *zd, *dzd;	     /* outputs and their loss gradient, per row */
	void *gemm_ws;		     /* fit_gemm_workspace_size(1) */
};

/* What one block of rows leaves for the ordered sum: its share of the gradient and loss. */
struct mlp_slot {
	float *gw;     /* weight gradient (eoff floats) */
	double *gb;    /* bias gradient (dim - npen) */
	float *dz0;    /* first layer's dz, for the categorical scatter (ncat > 0) */
	int32_t *code; /* the block's codes (ncat > 0) */
	double loss;
	size_t n;
};

struct fit__mlp {
	struct fit__net net;
	const struct fit__data *data;
	struct fit__poll *poll;
	fit__loss_fn loss;
	double delta;
	double dropout;
	uint64_t seed, calls;
	int threads;
	size_t chunk, nslots;
	float *wf;		/* parameters, rounded */
	struct mlp_work *work;	/* threads of them */
	struct mlp_slot *slots; /* nslots of them */
	float *scratch;		/* for fit__net_forward() */
	void *gemm_ws;		/* ... with threads */
};

int fit__net_shape(struct fit__net *net, size_t xld, size_t ncatw, size_t kout,
		   const struct fit_params *p)
{
	size_t off = 0, ne;

	memset(net, 0, sizeof(*net));
	net->nl = (size_t)p->hidden_layers + 1;
	net->act = p->activation;
	net->sizes[0] = xld;
	for (size_t l = 1; l < net->nl; l++)
		net->sizes[l] = p->hidden_units[l - 1];
	net->sizes[net->nl] = kout;
	for (size_t l = 0; l < net->nl; l++) {
		size_t nw;

		net->woff[l] = off;
		if (fit__mul(net->sizes[l + 1], net->sizes[l], &nw) || fit__add(off, nw, &off))
			return FITD_ETOOBIG;
	}
	net->eoff = off;
	net->ncatw = ncatw;
	if (fit__mul(ncatw, net->sizes[1], &ne) || fit__add(off, ne, &off))
		return FITD_ETOOBIG;
	net->npen = off;
	for (size_t l = 0; l < net->nl; l++) {
		net->boff[l] = off;
		if (fit__add(off, net->sizes[l + 1], &off))
			return FITD_ETOOBIG;
	}
	net->dim = off;
	return FITD_OK;
}

static size_t max_width(const struct fit__net *net)
{
	size_t w = 0;

	for (size_t l = 1; l <= net->nl; l++)
		if (net->sizes[l] > w)
			w = net->sizes[l];
	return w;
}

size_t fit__net_scratch(const struct fit__net *net, size_t chunk)
{
	return 2 * chunk * max_width(net);
}

/* out = act(out + bias), rows n of width; act only when hidden. */
static void bias_act(float *out, size_t n, size_t width, const float *bias, int hidden,
		     enum fit_activation act, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n * width > 65536)
	for (size_t i = 0; i < n; i++) {
		float *o = out + i * width;

		for (size_t u = 0; u < width; u++) {
			float v = o[u] + bias[u];

			if (hidden)
				v = act == FIT_ACT_RELU ? (v > 0.0f ? v : 0.0f) : tanhf(v);
			o[u] = v;
		}
	}
}

/* out (rows->n x width) += the categorical weights emb of each row's codes, in column order. */
static void gather_codes(const struct fit__data *rows, const float *emb, float *out, size_t width)
{
	for (size_t i = 0; i < rows->n; i++) {
		const int32_t *code = rows->code + i * rows->ncat;
		float *o = out + i * width;

		for (size_t j = 0; j < rows->ncat; j++) {
			const float *e;

			if (code[j] < 0)
				continue;
			e = emb + (size_t)code[j] * width;
			for (size_t u = 0; u < width; u++)
				o[u] += e[u];
		}
	}
}

void fit__net_forward(const struct fit__net *net, const float *wf, const float *emb,
		      const struct fit__data *rows, float *scratch, double *z, int threads,
		      void *gemm_ws)
{
	const float *in = rows->x;
	float *out = scratch;
	size_t n = rows->n, half = n * max_width(net);

	for (size_t l = 0; l < net->nl; l++) {
		size_t w = net->sizes[l + 1];

		out = scratch + (l % 2) * half;
		fit_gemm(FIT_GEMM_N, FIT_GEMM_T, n, w, net->sizes[l], 1.0f, in, net->sizes[l],
			 wf + net->woff[l], net->sizes[l], 0.0f, out, w, threads, gemm_ws);
		if (l == 0 && rows->ncat > 0)
			gather_codes(rows, emb, out, w);
		bias_act(out, n, w, wf + net->boff[l], l + 1 < net->nl, net->act, threads);
		in = out;
	}
	for (size_t i = 0; i < n * net->sizes[net->nl]; i++)
		z[i] = out[i];
}

struct fit__mlp *fit__mlp_layout(struct fit__arena *a, const struct fit__net *net, size_t n,
				 size_t ncat, const struct fit_params *p)
{
	struct fit__mlp *m = fit__arena_take(a, 1, sizeof(*m));
	size_t blk = FIT__MLP_BLOCK, maxw = max_width(net), kout = net->sizes[net->nl];
	size_t threads = p->threads < 1 ? 1 : (size_t)p->threads, nslots = 2 * threads;
	struct mlp_work *work = fit__arena_take(a, threads, sizeof(*work));
	struct mlp_slot *slots = fit__arena_take(a, nslots, sizeof(*slots));
	float *wf = fit__arena_take(a, net->dim, sizeof(float));
	float *scratch = fit__arena_take(a, fit__net_scratch(net, FIT__MLP_CHUNK), sizeof(float));
	void *gemm_ws = fit__arena_take(a, 1, fit_gemm_workspace_size(p->threads));

	(void)n;
	for (size_t t = 0; t < threads; t++) {
		struct mlp_work w = { 0 };

		w.xb = fit__arena_take(a, blk, net->sizes[0] * sizeof(float));
		w.cb = fit__arena_take(a, blk, ncat * sizeof(int32_t));
		w.zo = fit__arena_take(a, blk, kout * sizeof(float));
		w.d1 = fit__arena_take(a, blk, maxw * sizeof(float));
		w.d2 = fit__arena_take(a, blk, maxw * sizeof(float));
		w.zd = fit__arena_take(a, blk, kout * sizeof(double));
		w.dzd = fit__arena_take(a, blk, kout * sizeof(double));
		w.gemm_ws = fit__arena_take(a, 1, fit_gemm_workspace_size(1));
		for (size_t l = 0; l + 1 < net->nl; l++) {
			size_t bytes = net->sizes[l + 1] * sizeof(float);

			w.h[l] = fit__arena_take(a, blk, bytes);
			w.a[l] = p->dropout > 0 ? fit__arena_take(a, blk, bytes) : w.h[l];
			w.mask[l] = p->dropout > 0 ? fit__arena_take(a, blk, bytes) : NULL;
		}
		if (work != NULL)
			work[t] = w;
	}
	for (size_t s = 0; s < nslots; s++) {
		struct mlp_slot sl = { 0 };

		sl.gw = fit__arena_take(a, net->eoff, sizeof(float));
		sl.gb = fit__arena_take(a, net->dim - net->npen, sizeof(double));
		sl.dz0 = ncat > 0 ? fit__arena_take(a, blk, net->sizes[1] * sizeof(float)) : NULL;
		sl.code = ncat > 0 ? fit__arena_take(a, blk, ncat * sizeof(int32_t)) : NULL;
		if (slots != NULL)
			slots[s] = sl;
	}
	if (m == NULL)
		return NULL;
	*m = (struct fit__mlp){ .net = *net,
				.dropout = p->dropout,
				.seed = p->seed,
				.threads = (int)threads,
				.chunk = FIT__MLP_CHUNK,
				.nslots = nslots,
				.wf = wf,
				.work = work,
				.slots = slots,
				.scratch = scratch,
				.gemm_ws = gemm_ws };
	return m;
}

void fit__mlp_bind(struct fit__mlp *m, const struct fit__data *data, enum fit_loss loss,
		   double delta, struct fit__poll *poll)
{
	m->data = data;
	m->loss = fit__loss_pick(loss, m->net.sizes[m->net.nl]);
	m->delta = delta;
	m->poll = poll;
	m->calls = 0;
}

void fit__mlp_init(const struct fit__net *net, size_t ndense, size_t nfeat, double *w,
		   uint64_t seed)
{
	struct fit_rng rng;

	fit_rng_seed(&rng, seed, 2);
	memset(w, 0, net->dim * sizeof(double));
	for (size_t l = 0; l < net->nl; l++) {
		size_t in = l == 0 ? nfeat : net->sizes[l], out = net->sizes[l + 1];
		size_t real = l == 0 ? ndense : in;
		double bound = sqrt(6.0 / (double)(in + out));

		for (size_t o = 0; o < out; o++)
			for (size_t i = 0; i < real; i++)
				w[net->woff[l] + o * net->sizes[l] + i] =
				    (2.0 * fit_rng_uniform(&rng) - 1.0) * bound;
	}
	if (net->ncatw > 0) {
		double bound = sqrt(6.0 / (double)(nfeat + net->sizes[1]));

		for (size_t j = 0; j < net->ncatw * net->sizes[1]; j++)
			w[net->eoff + j] = (2.0 * fit_rng_uniform(&rng) - 1.0) * bound;
	}
}

static void round_params(struct fit__mlp *m, const double *w)
{
	for (size_t j = 0; j < m->net.dim; j++)
		m->wf[j] = (float)w[j];
}

/* Inverted dropout on hidden layer l of rows r0.. of the batch in call. */
static void drop(const struct fit__mlp *m, struct mlp_work *w, size_t l, size_t r0, size_t n,
		 uint64_t call)
{
	size_t width = m->net.sizes[l + 1];
	uint64_t key = fit_hash64(m->seed ^ fit_hash64(call + 0x5851f42d4c957f2dULL));
	float keep_scale = (float)(1.0 / (1.0 - m->dropout));

	for (size_t i = 0; i < n; i++)
		for (size_t u = 0; u < width; u++) {
			uint64_t id = ((r0 + i) * FIT_MAX_HIDDEN + l) * 65537 + u;
			double r = (double)(fit_hash64(key + id) >> 11) * 0x1.0p-53;
			float s = r >= m->dropout ? keep_scale : 0.0f;

			w->mask[l][i * width + u] = s;
			w->a[l][i * width + u] = w->h[l][i * width + u] * s;
		}
}

/* Forward of the block's rows r0.. of the batch; returns their summed loss. */
static double forward(const struct fit__mlp *m, struct mlp_work *w, const struct fit__data *x,
		      const size_t *rows, size_t r0, size_t n, uint64_t call)
{
	const struct fit__net *net = &m->net;
	const struct fit__data *d = m->data;
	size_t kout = net->sizes[net->nl];
	const float *in = x->x;
	double loss = 0.0;

	for (size_t l = 0; l < net->nl; l++) {
		size_t wd = net->sizes[l + 1];
		float *out = l + 1 < net->nl ? w->h[l] : w->zo;

		fit_gemm(FIT_GEMM_N, FIT_GEMM_T, n, wd, net->sizes[l], 1.0f, in, net->sizes[l],
			 m->wf + net->woff[l], net->sizes[l], 0.0f, out, wd, 1, w->gemm_ws);
		if (l == 0 && x->ncat > 0)
			gather_codes(x, m->wf + net->eoff, out, wd);
		bias_act(out, n, wd, m->wf + net->boff[l], l + 1 < net->nl, net->act, 1);
		if (l + 1 < net->nl && w->mask[l] != NULL)
			drop(m, w, l, r0, n, call);
		in = l + 1 < net->nl ? w->a[l] : NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t r = rows != NULL ? rows[r0 + i] : r0 + i;

		for (size_t c = 0; c < kout; c++)
			w->zd[i * kout + c] = w->zo[i * kout + c];
		loss += m->loss(w->zd + i * kout, kout, d->y ? d->y[r] : 0.0,
				d->label ? d->label[r] : 0, m->delta, w->dzd + i * kout, NULL);
		for (size_t c = 0; c < kout; c++)
			w->d1[i * kout + c] = (float)w->dzd[i * kout + c];
	}
	return loss;
}

/* dZ of hidden layer l from dA, in place: times the mask and act'(h). */
static void act_backward(const struct fit__mlp *m, const struct mlp_work *w, size_t l, float *da,
			 size_t n)
{
	size_t width = m->net.sizes[l + 1];
	const float *h = w->h[l], *mask = w->mask[l];

	for (size_t i = 0; i < n * width; i++) {
		float g = da[i] * (mask != NULL ? mask[i] : 1.0f);

		da[i] = m->net.act == FIT_ACT_RELU ? (h[i] > 0.0f ? g : 0.0f)
						   : g * (1.0f - h[i] * h[i]);
	}
}

/*
 * The first layer's categorical weights' gradient: each row's dz (n x
 * width) added to the rows of its codes, in row then column order.
 */
static void scatter_codes(const int32_t *codes, size_t n, size_t ncat, const float *dz,
			  size_t width, double *ge)
{
	for (size_t i = 0; i < n; i++) {
		const int32_t *code = codes + i * ncat;
		const float *d = dz + i * width;

		for (size_t j = 0; j < ncat; j++) {
			double *e;

			if (code[j] < 0)
				continue;
			e = ge + (size_t)code[j] * width;
			for (size_t u = 0; u < width; u++)
				e[u] += d[u];
		}
	}
}

/*
 * Back-propagates the block's d1 (the outputs' gradient) into its slot: the
 * weight gradient, the bias gradient, and what the categorical scatter needs.
 */
static void backward(const struct fit__mlp *m, struct mlp_work *w, struct mlp_slot *sl,
		     const struct fit__data *x, size_t n)
{
	const struct fit__net *net = &m->net;
	float *dz = w->d1, *da = w->d2;

	memset(sl->gb, 0, (net->dim - net->npen) * sizeof(double));
	for (size_t l = net->nl; l-- > 0;) {
		size_t wout = net->sizes[l + 1], win = net->sizes[l];
		const float *in = l == 0 ? x->x : w->a[l - 1];
		double *gb = sl->gb + (net->boff[l] - net->npen);
		float *t;

		fit_gemm(FIT_GEMM_T, FIT_GEMM_N, wout, win, n, 1.0f, dz, wout, in, win, 0.0f,
			 sl->gw + net->woff[l], win, 1, w->gemm_ws);
		for (size_t i = 0; i < n; i++)
			for (size_t u = 0; u < wout; u++)
				gb[u] += dz[i * wout + u];
		if (l == 0 && x->ncat > 0) {
			memcpy(sl->dz0, dz, n * wout * sizeof(float));
			memcpy(sl->code, x->code, n * x->ncat * sizeof(int32_t));
		}
		if (l == 0)
			break;
		fit_gemm(FIT_GEMM_N, FIT_GEMM_N, n, win, wout, 1.0f, dz, wout, m->wf + net->woff[l],
			 win, 0.0f, da, win, 1, w->gemm_ws);
		act_backward(m, w, l - 1, da, n);
		t = dz;
		dz = da;
		da = t;
	}
}

/* Rows s..s+cnt of the batch (through rows when not NULL) as a view, gathered into w's buffers. */
static struct fit__data batch_rows(const struct fit__mlp *m, struct mlp_work *w, const size_t *rows,
				   size_t s, size_t cnt)
{
	const struct fit__data *d = m->data;
	struct fit__data v = fit__data_rows(d, s, cnt);
	size_t xld = d->xld, nc = d->ncat;

	if (rows == NULL)
		return v;
	for (size_t i = 0; i < cnt; i++) {
		memcpy(w->xb + i * xld, d->x + rows[s + i] * xld, xld * sizeof(float));
		if (nc > 0)
			memcpy(w->cb + i * nc, d->code + rows[s + i] * nc, nc * sizeof(int32_t));
	}
	v.x = w->xb;
	v.code = nc > 0 ? w->cb : NULL;
	return v;
}

/*
 * Rows s..s+n of the batch (at most nslots blocks): every block forward and
 * backward on one thread into its slot, then the slots added to g (and their
 * losses to *loss) in block order.
 */
static void grad_chunk(struct fit__mlp *m, const size_t *rows, size_t s, size_t n, uint64_t call,
		       double *g, double *loss)
{
	const struct fit__net *net = &m->net;
	size_t blk = FIT__MLP_BLOCK, nb = (n + blk - 1) / blk, nbias = net->dim - net->npen;

#pragma omp parallel num_threads(m->threads) if (m->threads > 1)
	{
		struct mlp_work *w = m->work + omp_get_thread_num();

#pragma omp for schedule(static)
		for (size_t b = 0; b < nb; b++) {
			size_t r0 = s + b * blk, cnt = n - b * blk < blk ? n - b * blk : blk;
			struct fit__data x = batch_rows(m, w, rows, r0, cnt);
			struct mlp_slot *sl = m->slots + b;

			sl->n = cnt;
			sl->loss = forward(m, w, &x, rows, r0, cnt, call);
			backward(m, w, sl, &x, cnt);
		}
#pragma omp for schedule(static)
		for (size_t j = 0; j < net->eoff; j++)
			for (size_t b = 0; b < nb; b++)
				g[j] += m->slots[b].gw[j];
	}
	for (size_t b = 0; b < nb; b++) {
		const struct mlp_slot *sl = m->slots + b;

		*loss += sl->loss;
		for (size_t j = 0; j < nbias; j++)
			g[net->npen + j] += sl->gb[j];
		if (sl->dz0 != NULL)
			scatter_codes(sl->code, sl->n, m->data->ncat, sl->dz0, net->sizes[1],
				      g + net->eoff);
	}
}

static int mlp_grad(void *ctx, const double *w, const size_t *rows, size_t n, double *value,
		    double *g)
{
	struct fit__mlp *m = ctx;
	uint64_t call = m->calls++;
	size_t step = m->nslots * FIT__MLP_BLOCK;
	double loss = 0.0;

	round_params(m, w);
	memset(g, 0, m->net.dim * sizeof(double));
	for (size_t s = 0; s < n; s += step) {
		grad_chunk(m, rows, s, n - s < step ? n - s : step, call, g, &loss);
		if (fit__poll_check(m->poll))
			return FITD_ECANCELLED;
	}
	*value = loss / (double)n;
	for (size_t j = 0; j < m->net.dim; j++)
		g[j] /= (double)n;
	return isfinite(*value) ? FITD_OK : FITD_EDIVERGED;
}

void fit__mlp_objective(struct fit__mlp *m, struct fit__objective *o)
{
	memset(o, 0, sizeof(*o));
	o->dim = m->net.dim;
	o->npen = m->net.npen;
	o->nrows = m->data->n;
	o->grad = mlp_grad;
	o->ctx = m;
}

void fit__mlp_scores(struct fit__mlp *m, const double *w, const struct fit__data *rows, double *z)
{
	size_t kout = m->net.sizes[m->net.nl];

	round_params(m, w);
	for (size_t s = 0; s < rows->n; s += m->chunk) {
		size_t cnt = rows->n - s < m->chunk ? rows->n - s : m->chunk;
		struct fit__data v = fit__data_rows(rows, s, cnt);

		fit__net_forward(&m->net, m->wf, m->wf + m->net.eoff, &v, m->scratch, z + s * kout,
				 m->threads, m->gemm_ws);
	}
}
