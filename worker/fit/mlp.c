/*
 * mlp.c - the objective of a multilayer perceptron: 1 to 3 hidden layers
 * (relu or tanh, inverted dropout while training), then a linear output layer
 * whose loss comes from the same per-row loss table as the linear models
 * (identity for regression, sigmoid for two classes, softmax for more).
 *
 * Rows go through in chunks of FIT__MLP_CHUNK: forward with fit_gemm (NT:
 * activations times the transposed weights), then backward (TN for the
 * weight gradients, NN for the gradients of the activations). The first
 * layer reads a row's dense block through the GEMM and its one-hot columns
 * as codes: each adds one row of the categorical weights (a gather) to the
 * pre-activation, and its gradient is the scatter-add of the row's dz
 * into that weight row, in double, in row order. Each chunk's
 * weight gradient is added in double to the batch gradient in chunk order,
 * and the GEMM never splits a k sum across threads, so gradients do not
 * depend on the number of threads. Parameters are kept in double by the
 * optimizer and rounded to float32 for the passes.
 *
 * Dropout masks are a counter-based hash of (seed, gradient call, row of the
 * batch, layer, unit), so they too are the same whatever the thread count.
 * At prediction there is no dropout: inverted dropout already scaled the kept
 * units by 1 / (1 - p) during training.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <string.h>

#include "worker/fit/gemm.h"

struct fit__mlp {
	struct fit__net net;
	const struct fit__data *data;
	struct fit__poll *poll;
	fit__loss_fn loss;
	double delta;
	double dropout;
	uint64_t seed, calls;
	int threads;
	size_t chunk, maxw;
	float *wf;		     /* parameters, rounded */
	float *gw;		     /* one chunk's weight gradient */
	float *xb;		     /* gathered rows: dense block */
	int32_t *cb;		     /* ... and codes */
	float *h[FIT_MAX_HIDDEN];    /* hidden activations before dropout */
	float *a[FIT_MAX_HIDDEN];    /* after dropout (h itself without dropout) */
	float *mask[FIT_MAX_HIDDEN]; /* 0 or 1 / (1 - p); NULL without dropout */
	float *zo, *d1, *d2;	     /* outputs; two back-propagation buffers */
	double *zd, *dzd;	     /* outputs and their loss gradient, per row */
	float *scratch;		     /* for fit__net_forward() */
	void *gemm_ws;
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
	size_t chunk = FIT__MLP_CHUNK, maxw = max_width(net), kout = net->sizes[net->nl];
	float *h[FIT_MAX_HIDDEN] = { 0 }, *am[FIT_MAX_HIDDEN] = { 0 }, *mk[FIT_MAX_HIDDEN] = { 0 };
	float *wf = fit__arena_take(a, net->dim, sizeof(float));
	float *gw = fit__arena_take(a, net->eoff, sizeof(float));
	float *xb = fit__arena_take(a, chunk, net->sizes[0] * sizeof(float));
	int32_t *cb = fit__arena_take(a, chunk, ncat * sizeof(int32_t));
	float *zo = fit__arena_take(a, chunk, kout * sizeof(float));
	float *d1 = fit__arena_take(a, chunk, maxw * sizeof(float));
	float *d2 = fit__arena_take(a, chunk, maxw * sizeof(float));
	double *zd = fit__arena_take(a, chunk, kout * sizeof(double));
	double *dzd = fit__arena_take(a, chunk, kout * sizeof(double));
	float *scratch = fit__arena_take(a, fit__net_scratch(net, chunk), sizeof(float));
	void *gemm_ws = fit__arena_take(a, 1, fit_gemm_workspace_size(p->threads));

	(void)n;
	for (size_t l = 0; l + 1 < net->nl; l++) {
		h[l] = fit__arena_take(a, chunk, net->sizes[l + 1] * sizeof(float));
		am[l] = p->dropout > 0
			    ? fit__arena_take(a, chunk, net->sizes[l + 1] * sizeof(float))
			    : h[l];
		mk[l] = p->dropout > 0
			    ? fit__arena_take(a, chunk, net->sizes[l + 1] * sizeof(float))
			    : NULL;
	}
	if (m == NULL)
		return NULL;
	*m = (struct fit__mlp){ .net = *net,
				.dropout = p->dropout,
				.seed = p->seed,
				.threads = p->threads,
				.chunk = chunk,
				.maxw = maxw,
				.wf = wf,
				.gw = gw,
				.xb = xb,
				.cb = cb,
				.zo = zo,
				.d1 = d1,
				.d2 = d2,
				.zd = zd,
				.dzd = dzd,
				.scratch = scratch,
				.gemm_ws = gemm_ws };
	memcpy(m->h, h, sizeof(h));
	memcpy(m->a, am, sizeof(am));
	memcpy(m->mask, mk, sizeof(mk));
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
static void drop(struct fit__mlp *m, size_t l, size_t r0, size_t n, uint64_t call)
{
	size_t width = m->net.sizes[l + 1];
	uint64_t key = fit_hash64(m->seed ^ fit_hash64(call + 0x5851f42d4c957f2dULL));
	float keep_scale = (float)(1.0 / (1.0 - m->dropout));

	for (size_t i = 0; i < n; i++)
		for (size_t u = 0; u < width; u++) {
			uint64_t id = ((r0 + i) * FIT_MAX_HIDDEN + l) * 65537 + u;
			double r = (double)(fit_hash64(key + id) >> 11) * 0x1.0p-53;
			float s = r >= m->dropout ? keep_scale : 0.0f;

			m->mask[l][i * width + u] = s;
			m->a[l][i * width + u] = m->h[l][i * width + u] * s;
		}
}

/* Forward through the training buffers; returns the chunk's summed loss. */
static double forward(struct fit__mlp *m, const struct fit__data *x, const size_t *rows, size_t r0,
		      size_t n, uint64_t call)
{
	const struct fit__net *net = &m->net;
	const struct fit__data *d = m->data;
	size_t kout = net->sizes[net->nl];
	const float *in = x->x;
	double loss = 0.0;

	for (size_t l = 0; l < net->nl; l++) {
		size_t w = net->sizes[l + 1];
		float *out = l + 1 < net->nl ? m->h[l] : m->zo;

		fit_gemm(FIT_GEMM_N, FIT_GEMM_T, n, w, net->sizes[l], 1.0f, in, net->sizes[l],
			 m->wf + net->woff[l], net->sizes[l], 0.0f, out, w, m->threads, m->gemm_ws);
		if (l == 0 && x->ncat > 0)
			gather_codes(x, m->wf + net->eoff, out, w);
		bias_act(out, n, w, m->wf + net->boff[l], l + 1 < net->nl, net->act, m->threads);
		if (l + 1 < net->nl && m->mask[l] != NULL)
			drop(m, l, r0, n, call);
		in = l + 1 < net->nl ? m->a[l] : NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t r = rows != NULL ? rows[r0 + i] : r0 + i;

		for (size_t c = 0; c < kout; c++)
			m->zd[i * kout + c] = m->zo[i * kout + c];
		loss += m->loss(m->zd + i * kout, kout, d->y ? d->y[r] : 0.0,
				d->label ? d->label[r] : 0, m->delta, m->dzd + i * kout, NULL);
		for (size_t c = 0; c < kout; c++)
			m->d1[i * kout + c] = (float)m->dzd[i * kout + c];
	}
	return loss;
}

/* dZ of hidden layer l from dA, in place: times the mask and act'(h). */
static void act_backward(const struct fit__mlp *m, size_t l, float *da, size_t n)
{
	size_t width = m->net.sizes[l + 1];
	const float *h = m->h[l], *mask = m->mask[l];

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
static void scatter_codes(const struct fit__data *x, const float *dz, size_t width, double *ge)
{
	for (size_t i = 0; i < x->n; i++) {
		const int32_t *code = x->code + i * x->ncat;
		const float *d = dz + i * width;

		for (size_t j = 0; j < x->ncat; j++) {
			double *e;

			if (code[j] < 0)
				continue;
			e = ge + (size_t)code[j] * width;
			for (size_t u = 0; u < width; u++)
				e[u] += d[u];
		}
	}
}

/* Back-propagates d1 (the outputs' gradient) and adds the chunk's gradient to g. */
static void backward(struct fit__mlp *m, const struct fit__data *x, size_t n, double *g)
{
	const struct fit__net *net = &m->net;
	float *dz = m->d1, *da = m->d2;

	for (size_t l = net->nl; l-- > 0;) {
		size_t wout = net->sizes[l + 1], win = net->sizes[l];
		const float *in = l == 0 ? x->x : m->a[l - 1];
		double *gb = g + net->boff[l];
		float *t;

		fit_gemm(FIT_GEMM_T, FIT_GEMM_N, wout, win, n, 1.0f, dz, wout, in, win, 0.0f,
			 m->gw + net->woff[l], win, m->threads, m->gemm_ws);
		for (size_t i = 0; i < n; i++)
			for (size_t u = 0; u < wout; u++)
				gb[u] += dz[i * wout + u];
		if (l == 0 && x->ncat > 0)
			scatter_codes(x, dz, wout, g + net->eoff);
		if (l == 0)
			break;
		fit_gemm(FIT_GEMM_N, FIT_GEMM_N, n, win, wout, 1.0f, dz, wout, m->wf + net->woff[l],
			 win, 0.0f, da, win, m->threads, m->gemm_ws);
		act_backward(m, l - 1, da, n);
		t = dz;
		dz = da;
		da = t;
	}
	for (size_t j = 0; j < net->eoff; j++)
		g[j] += m->gw[j];
}

/* Rows s..s+cnt of the batch (through rows when not NULL) as a view, gathered into xb, cb. */
static struct fit__data batch_rows(struct fit__mlp *m, const size_t *rows, size_t s, size_t cnt)
{
	const struct fit__data *d = m->data;
	struct fit__data v = fit__data_rows(d, s, cnt);
	size_t xld = d->xld, nc = d->ncat;

	if (rows == NULL)
		return v;
	for (size_t i = 0; i < cnt; i++) {
		memcpy(m->xb + i * xld, d->x + rows[s + i] * xld, xld * sizeof(float));
		if (nc > 0)
			memcpy(m->cb + i * nc, d->code + rows[s + i] * nc, nc * sizeof(int32_t));
	}
	v.x = m->xb;
	v.code = nc > 0 ? m->cb : NULL;
	return v;
}

static int mlp_grad(void *ctx, const double *w, const size_t *rows, size_t n, double *value,
		    double *g)
{
	struct fit__mlp *m = ctx;
	uint64_t call = m->calls++;
	double loss = 0.0;

	round_params(m, w);
	memset(g, 0, m->net.dim * sizeof(double));
	for (size_t s = 0; s < n; s += m->chunk) {
		size_t cnt = n - s < m->chunk ? n - s : m->chunk;
		struct fit__data x = batch_rows(m, rows, s, cnt);

		loss += forward(m, &x, rows, s, cnt, call);
		backward(m, &x, cnt, g);
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
