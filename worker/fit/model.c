/*
 * model.c - the trained model: its public description, rebuilding one from a
 * description, and prediction and scoring on rows of any frame. A gbdt
 * model's trees are the tree engine's (model_gbdt.c); this file only holds
 * them and asks the engine for their margins.
 *
 * A model owns its fields (struct fit_model_desc points into them) and a
 * "predictor": the weights laid out as the training kernels use them (the
 * dense features first, rows padded to FIT__PAD, then the one-hot ones,
 * which a network keeps as a row of first-layer weights per feature;
 * float32 for networks). The description keeps the public order of the
 * features (a column's one-hot block where the column is), as model
 * documents have always had it. The predictor is always derived
 * from the description by build_predictor(), for a freshly trained model and
 * for a rebuilt one alike, so both predict bit-identically. Predictions run
 * in chunks of rows, so memory stays bounded whatever nrows is; every row's
 * result is computed the same way whatever chunk it is in.
 */
#include "worker/fit/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/fit/gbdt.h"
#include "worker/fit/gemm.h"
#include "worker/fit/metric.h"

#define PREDICT_CHUNK 4096 /* rows per chunk for linear and gbdt models */

size_t fit__kout(enum fit_task task, size_t nclasses)
{
	return task == FIT_TASK_REGRESSION || nclasses == 2 ? 1 : nclasses;
}

int fit__is_linear(enum fit_model_kind k)
{
	return k == FIT_MODEL_LINEAR || k == FIT_MODEL_LOGISTIC || k == FIT_MODEL_SVM;
}

static int is_linear(enum fit_model_kind k)
{
	return fit__is_linear(k);
}

struct fit__data fit__model_rows(const struct fit_model *m, float *x, int32_t *code, size_t n)
{
	return (struct fit__data){ .n = n,
				   .d = m->prep.nfeat,
				   .ld = m->prep.ld,
				   .xld = m->prep.xld,
				   .x = x,
				   .ncat = m->prep.ncat,
				   .code = code };
}

static int build_predictor(struct fit_model *m)
{
	const struct fit_layer_desc *L = m->layers;
	size_t ld = m->prep.ld, nf = m->prep.nfeat, xld = m->prep.xld;
	size_t *map = malloc((nf ? nf : 1) * sizeof(size_t));

	if (map == NULL)
		return FITD_ENOMEM;
	fit__prep_map(&m->prep, map);
	if (is_linear(m->desc.params.model)) {
		size_t k = m->kout;

		m->wd = fit__alloc((k * ld + k) * sizeof(double));
		if (m->wd == NULL)
			goto nomem;
		memset(m->wd, 0, (k * ld + k) * sizeof(double));
		for (size_t c = 0; c < k; c++) {
			for (size_t f = 0; f < nf; f++)
				m->wd[c * ld + map[f]] = L[0].weights[c * nf + f];
			m->wd[k * ld + c] = L[0].bias[c];
		}
		free(map);
		return FITD_OK;
	}
	m->wf = fit__alloc(m->net.dim * sizeof(float));
	if (m->wf == NULL)
		goto nomem;
	memset(m->wf, 0, m->net.dim * sizeof(float));
	for (size_t l = 0; l < m->net.nl; l++) {
		size_t in = m->net.sizes[l], nout = L[l].nout;

		for (size_t o = 0; o < nout; o++) {
			for (size_t i = 0; i < L[l].nin; i++) {
				size_t f = l == 0 ? map[i] : i;
				float v = (float)L[l].weights[o * L[l].nin + i];

				if (l == 0 && f >= xld) /* a categorical feature's row of weights */
					m->wf[m->net.eoff + (f - xld) * nout + o] = v;
				else
					m->wf[m->net.woff[l] + o * in + f] = v;
			}
			m->wf[m->net.boff[l] + o] = (float)L[l].bias[o];
		}
	}
	free(map);
	return FITD_OK;
nomem:
	free(map);
	return FITD_ENOMEM;
}

/* Layer sizes the parameters and data call for; FITD_EFORMAT when nin/nout differ. */
static int check_shape(const struct fit_model *m, const struct fit_layer_desc *layers,
		       size_t nlayers, struct fitd_error *err)
{
	const struct fit_params *p = &m->desc.params;
	size_t want = is_linear(p->model) ? 1 : p->hidden_layers + 1, in = m->prep.nfeat;

	if (nlayers != want || layers == NULL)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model",
				      "expected %zu layer(s), got %zu", want, nlayers);
	for (size_t l = 0; l < nlayers; l++) {
		size_t out = l + 1 < nlayers ? p->hidden_units[l] : m->kout;

		if (layers[l].nin != in || layers[l].nout != out || layers[l].weights == NULL ||
		    layers[l].bias == NULL)
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "layer %zu must be %zu x %zu with weights and bias",
					      l, out, in);
		in = out;
	}
	return FITD_OK;
}

/* Copies layers (shapes already checked) into one block; FITD_EFORMAT when not finite. */
static int copy_layers(struct fit_model *m, const struct fit_layer_desc *src, size_t nlayers,
		       struct fitd_error *err)
{
	size_t total = 0, at = 0;

	for (size_t l = 0; l < nlayers; l++)
		total += src[l].nout * src[l].nin + src[l].nout;
	m->layer_mem = malloc((total ? total : 1) * sizeof(double));
	if (m->layer_mem == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	for (size_t l = 0; l < nlayers; l++) {
		size_t nw = src[l].nout * src[l].nin;
		double *w = m->layer_mem + at, *b = w + nw;

		memcpy(w, src[l].weights, nw * sizeof(double));
		memcpy(b, src[l].bias, src[l].nout * sizeof(double));
		for (size_t i = 0; i < nw + src[l].nout; i++)
			if (!isfinite(w[i]))
				return fitd_error_set(err, FITD_EFORMAT, "bad_model",
						      "layer %zu holds a non-finite number", l);
		m->layers[l] = src[l];
		m->layers[l].weights = w;
		m->layers[l].bias = b;
		at += nw + src[l].nout;
	}
	return FITD_OK;
}

/* Fills the description from the owned fields. */
static void describe(struct fit_model *m, size_t nlayers)
{
	struct fit_model_desc *d = &m->desc;

	d->task = m->target.task;
	d->target = m->target_name;
	d->nclasses = m->target.task == FIT_TASK_CLASSIFICATION ? m->target.nclasses : 0;
	d->classes = (const char *const *)m->target.classes;
	d->y_center = m->target.task == FIT_TASK_REGRESSION ? m->target.center : 0.0;
	d->y_scale = m->target.task == FIT_TASK_REGRESSION ? m->target.scale : 1.0;
	d->ncolumns = m->prep.ncols;
	d->columns = m->prep.cols;
	d->nlayers = nlayers;
	d->layers = m->layers;
	d->feature_means = m->means_known ? m->feat_mean : NULL;
	d->gbdt = m->gbdt != NULL ? fit_gbdt_desc(m->gbdt) : NULL;
}

/* The training means of the features: means (prep.nfeat of them) or, when NULL, zeros. */
static int copy_means(struct fit_model *m, const double *means, struct fitd_error *err)
{
	size_t n = m->prep.nfeat;

	m->feat_mean = calloc(n ? n : 1, sizeof(double));
	if (m->feat_mean == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	m->means_known = means != NULL;
	for (size_t f = 0; means != NULL && f < n; f++) {
		if (!isfinite(means[f]))
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "feature mean %zu is not finite", f);
		m->feat_mean[f] = means[f];
	}
	return FITD_OK;
}

/*
 * Everything after prep, target and params (and a gbdt's trees) are in
 * place: layers, shape, predictor, feature means.
 */
static int finish(struct fit_model *m, const struct fit_layer_desc *layers, size_t nlayers,
		  const double *means, struct fitd_error *err)
{
	int rc;

	m->kout = fit__kout(m->target.task, m->target.nclasses);
	if (m->gbdt != NULL) {
		if (nlayers != 0)
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "a gbdt model has trees, not layers");
		describe(m, 0);
		return FITD_OK;
	}
	if (!is_linear(m->desc.params.model) && fit__net_shape(&m->net, m->prep.xld, m->prep.ncatw,
							       m->kout, &m->desc.params) != FITD_OK)
		return fitd_error_set(err, FITD_ETOOBIG, NULL, "the network is too large");
	rc = check_shape(m, layers, nlayers, err);
	if (rc == FITD_OK)
		rc = copy_layers(m, layers, nlayers, err);
	if (rc == FITD_OK && build_predictor(m) != FITD_OK)
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (rc == FITD_OK)
		rc = copy_means(m, means, err);
	if (rc == FITD_OK)
		describe(m, nlayers);
	return rc;
}

int fit__model_assemble(const struct fit_params *p, const char *target_name, struct fit__prep *prep,
			struct fit__target *target, const struct fit_layer_desc *layers,
			size_t nlayers, const double *means, const struct fit_report *rep,
			struct fit_model **out, struct fitd_error *err)
{
	struct fit_model *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (m == NULL || (m->target_name = strdup(target_name)) == NULL) {
		free(m);
		fit__prep_release(prep);
		fit__target_release(target);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	}
	m->prep = *prep;
	m->target = *target;
	memset(prep, 0, sizeof(*prep));
	memset(target, 0, sizeof(*target));
	m->desc.params = *p;
	m->desc.report = *rep;
	rc = finish(m, layers, nlayers, means, err);
	if (rc != FITD_OK) {
		fit_model_free(m);
		return rc;
	}
	*out = m;
	return FITD_OK;
}

int fit__model_adopt_gbdt(const struct fit_params *p, const char *target_name,
			  struct fit__target *target, struct fit_gbdt_model *g,
			  const struct fit_report *rep, struct fit_model **out,
			  struct fitd_error *err)
{
	struct fit_model *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (m == NULL || (m->target_name = strdup(target_name)) == NULL) {
		free(m);
		fit_gbdt_free(g);
		fit__target_release(target);
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	}
	m->gbdt = g;
	m->target = *target;
	memset(target, 0, sizeof(*target));
	m->desc.params = *p;
	m->desc.report = *rep;
	rc = fit__gbdt_prep(fit_gbdt_desc(g), &m->prep, err);
	if (rc == FITD_OK)
		rc = finish(m, NULL, 0, NULL, err);
	if (rc != FITD_OK) {
		fit_model_free(m);
		return rc;
	}
	*out = m;
	return FITD_OK;
}

/* Whether the model's columns name the trees' columns in order, with their types. */
static int same_columns(const struct fit_model_desc *d, const struct fit_gbdt_desc *g,
			struct fitd_error *err)
{
	if (d->ncolumns != g->ncolumns)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model",
				      "the trees have %zu columns, the model %zu", g->ncolumns,
				      d->ncolumns);
	for (size_t j = 0; j < d->ncolumns; j++)
		if (d->columns[j].name == NULL || g->columns[j].name == NULL ||
		    strcmp(d->columns[j].name, g->columns[j].name) != 0 ||
		    d->columns[j].type != g->columns[j].type)
			return fitd_error_set(err, FITD_EFORMAT, "bad_model",
					      "column %zu of the trees is not the model's", j);
	return FITD_OK;
}

/* A gbdt model's trees from d: rebuilt, and the same columns and outputs as the model. */
static int rebuild_trees(struct fit_model *m, const struct fit_model_desc *d,
			 struct fitd_error *err)
{
	struct fit_gbdt_desc g;
	size_t nclasses = d->task == FIT_TASK_CLASSIFICATION ? m->target.nclasses : 0;
	int rc;

	if (d->gbdt == NULL)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model", "a gbdt model needs trees");
	g = *d->gbdt;
	fit__gbdt_params(&m->desc.params, &g.params);
	if (g.nclasses != nclasses)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model",
				      "the trees have %zu classes, the model %zu", g.nclasses,
				      nclasses);
	rc = same_columns(d, &g, err);
	if (rc == FITD_OK)
		rc = fit_gbdt_rebuild(&g, &m->gbdt, err);
	return rc;
}

int fit_model_rebuild(const struct fit_model_desc *d, struct fit_model **out,
		      struct fitd_error *err)
{
	struct fit_model *m;
	const char *why;
	int rc;

	*out = NULL;
	if (d == NULL || d->target == NULL)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model", "the model names no target");
	why = fit_params_check(&d->params, d->task);
	if (why != NULL)
		return fitd_error_set(err, FITD_EFORMAT, "bad_model", "bad parameters: %s", why);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	m->desc.params = d->params;
	fit_params_resolve(&m->desc.params, d->task);
	m->desc.report = d->report;
	m->target_name = strdup(d->target);
	rc = m->target_name != NULL ? FITD_OK
				    : fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	if (rc == FITD_OK)
		rc = fit__target_copy(d, &m->target, err);
	if (rc == FITD_OK && m->desc.params.model == FIT_MODEL_GBDT) {
		rc = rebuild_trees(m, d, err);
		if (rc == FITD_OK)
			rc = fit__gbdt_prep(fit_gbdt_desc(m->gbdt), &m->prep, err);
	} else if (rc == FITD_OK) {
		rc = fit__prep_copy(d->columns, d->ncolumns, &m->prep, err);
	}
	if (rc == FITD_OK)
		rc = finish(m, d->layers, d->nlayers, d->feature_means, err);
	if (rc != FITD_OK) {
		fit_model_free(m);
		return rc;
	}
	*out = m;
	return FITD_OK;
}

const struct fit_model_desc *fit_model_desc(const struct fit_model *m)
{
	return &m->desc;
}

size_t fit_model_noutputs(const struct fit_model *m)
{
	return m->target.task == FIT_TASK_REGRESSION ? 1 : m->target.nclasses;
}

void fit_model_free(struct fit_model *m)
{
	if (m == NULL)
		return;
	fit__prep_release(&m->prep);
	fit__target_release(&m->target);
	free(m->target_name);
	free(m->layer_mem);
	free(m->wd);
	free(m->wf);
	free(m->feat_mean);
	fit_gbdt_free(m->gbdt);
	fit__ensemble_free(m->ens);
	free(m);
}

static double sigmoid(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	return exp(z) / (1.0 + exp(z));
}

void fit__outputs_to_values(enum fit_task task, size_t kout, size_t nclasses, double center,
			    double scale, const double *z, size_t n, double *values,
			    int32_t *labels)
{
	for (size_t i = 0; i < n; i++) {
		const double *zi = z + i * kout;
		double *v = values + i * (task == FIT_TASK_REGRESSION ? 1 : nclasses);

		if (task == FIT_TASK_REGRESSION) {
			v[0] = center + scale * zi[0];
		} else if (kout == 1) {
			double p = sigmoid(zi[0]);

			v[0] = 1.0 - p;
			v[1] = p;
			if (labels)
				labels[i] = zi[0] > 0.0;
		} else {
			double mx = zi[0], s = 0.0;
			size_t best = 0;

			for (size_t c = 1; c < kout; c++)
				if (zi[c] > mx) {
					mx = zi[c];
					best = c;
				}
			for (size_t c = 0; c < kout; c++) {
				v[c] = exp(zi[c] - mx);
				s += v[c];
			}
			for (size_t c = 0; c < kout; c++)
				v[c] /= s;
			if (labels)
				labels[i] = (int32_t)best;
		}
	}
}

/* Per-call buffers of a prediction. */
struct predict_bufs {
	size_t chunk;
	size_t *idx;
	float *x;
	int32_t *code;
	double *z;
	float *scratch;
	void *gemm_ws;
};

static int bufs_init(const struct fit_model *m, int threads, struct predict_bufs *b)
{
	int mlp = m->desc.params.model == FIT_MODEL_MLP, trees = m->gbdt != NULL;

	memset(b, 0, sizeof(*b));
	b->chunk = mlp ? FIT__MLP_CHUNK : PREDICT_CHUNK;
	b->idx = malloc(b->chunk * sizeof(size_t));
	b->x = trees ? NULL : fit__alloc(b->chunk * m->prep.xld * sizeof(float));
	b->code = malloc(b->chunk * (m->prep.ncat ? m->prep.ncat : 1) * sizeof(int32_t));
	b->z = malloc(b->chunk * m->kout * sizeof(double));
	if (mlp) {
		b->scratch = fit__alloc(fit__net_scratch(&m->net, b->chunk) * sizeof(float));
		b->gemm_ws = fit__alloc(fit_gemm_workspace_size(threads));
	}
	if (b->idx == NULL || (!trees && b->x == NULL) || b->code == NULL || b->z == NULL ||
	    (mlp && (b->scratch == NULL || b->gemm_ws == NULL)))
		return FITD_ENOMEM;
	return FITD_OK;
}

static void bufs_release(struct predict_bufs *b)
{
	free(b->idx);
	free(b->x);
	free(b->code);
	free(b->z);
	free(b->scratch);
	free(b->gemm_ws);
}

/* The raw outputs b->z (cnt x kout) of rows b->idx of frame. */
static int chunk_outputs(const struct fit_model *m, const struct fit_frame *frame,
			 const struct fit__bind *bind, struct predict_bufs *b, size_t cnt,
			 int threads, struct fitd_error *err)
{
	struct fit__data rows;

	if (m->gbdt != NULL)
		return fit_gbdt_predict(m->gbdt, frame, b->idx, cnt, threads, b->z, err);
	fit__prep_rows(&m->prep, bind, b->idx, cnt, b->x, b->code, threads);
	rows = fit__model_rows(m, b->x, b->code, cnt);
	if (is_linear(m->desc.params.model))
		fit__linear_scores(m->kout, m->wd, &rows, b->z, threads);
	else
		fit__net_forward(&m->net, m->wf, m->wf + m->net.eoff, &rows, b->scratch, b->z,
				 threads, b->gemm_ws);
	return FITD_OK;
}

/* Regression outputs in target units, the others as they are. */
static void outputs_to_margins(const struct fit_model *m, const double *z, size_t n, double *out)
{
	for (size_t i = 0; i < n * m->kout; i++)
		out[i] = m->target.task == FIT_TASK_REGRESSION
			     ? m->target.center + m->target.scale * z[i]
			     : z[i];
}

/* Predictions (values and labels) or, with values NULL, margins of rows. */
static int predict_rows(const struct fit_model *m, const struct fit_frame *frame,
			const size_t *rows, size_t nrows, int threads, double *values,
			int32_t *labels, double *margins, struct fitd_error *err)
{
	struct fit__bind bind = { 0 };
	struct predict_bufs b;
	size_t nout = fit_model_noutputs(m);
	int rc = FITD_OK;

	threads = threads < 1 ? 1 : threads > FIT_MAX_THREADS ? FIT_MAX_THREADS : threads;
	for (size_t i = 0; rows != NULL && i < nrows; i++)
		if (rows[i] >= frame->nrows)
			return fitd_error_set(err, FITD_EINVAL, "bad_row",
					      "row %zu is out of range", rows[i]);
	if (rows == NULL && nrows > frame->nrows)
		return fitd_error_set(err, FITD_EINVAL, "bad_row", "the frame has %zu rows",
				      frame->nrows);
	if (m->gbdt == NULL)
		rc = fit__bind_init(&m->prep, frame, &bind, err);
	if (rc != FITD_OK)
		return rc;
	rc = bufs_init(m, threads, &b);
	if (rc != FITD_OK)
		fitd_error_set(err, rc, NULL, "out of memory");
	for (size_t s = 0; rc == FITD_OK && s < nrows; s += b.chunk) {
		size_t cnt = nrows - s < b.chunk ? nrows - s : b.chunk;

		for (size_t i = 0; i < cnt; i++)
			b.idx[i] = rows != NULL ? rows[s + i] : s + i;
		rc = chunk_outputs(m, frame, &bind, &b, cnt, threads, err);
		if (rc == FITD_OK && values == NULL)
			outputs_to_margins(m, b.z, cnt, margins + s * m->kout);
		else if (rc == FITD_OK)
			fit__outputs_to_values(m->target.task, m->kout, m->target.nclasses,
					       m->target.center, m->target.scale, b.z, cnt,
					       values + s * nout,
					       labels != NULL ? labels + s : NULL);
	}
	bufs_release(&b);
	if (m->gbdt == NULL)
		fit__bind_release(&bind);
	return rc;
}

int fit_model_predict(const struct fit_model *m, const struct fit_frame *frame, const size_t *rows,
		      size_t nrows, int threads, double *values, int32_t *labels,
		      struct fitd_error *err)
{
	if (m->ens != NULL)
		return fit__ensemble_predict(m, frame, rows, nrows, threads, values, labels, NULL,
					     err);
	return predict_rows(m, frame, rows, nrows, threads, values, labels, NULL, err);
}

size_t fit_model_nmargins(const struct fit_model *m)
{
	return m->kout;
}

int fit_model_margins(const struct fit_model *m, const struct fit_frame *frame, const size_t *rows,
		      size_t nrows, int threads, double *margins, struct fitd_error *err)
{
	if (m->ens != NULL)
		return fit__ensemble_predict(m, frame, rows, nrows, threads, NULL, NULL, margins,
					     err);
	return predict_rows(m, frame, rows, nrows, threads, NULL, NULL, margins, err);
}

static long find_column(const struct fit_frame *f, const char *name)
{
	for (size_t i = 0; i < f->ncols; i++)
		if (strcmp(f->cols[i].name, name) == 0)
			return (long)i;
	return -1;
}

static int score_kept(const struct fit_model *m, const struct fit_frame *frame, const size_t *kept,
		      size_t n, const double *y, const int32_t *label, enum fit_metric metric,
		      int threads, double *score, struct fitd_error *err)
{
	double *values = malloc(n * fit_model_noutputs(m) * sizeof(double));
	int rc;

	if (values == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	rc = fit_model_predict(m, frame, kept, n, threads, values, NULL, err);
	if (rc == FITD_OK && m->target.task == FIT_TASK_REGRESSION)
		rc = fit_metric_regression(metric, n, y, values, score, err);
	else if (rc == FITD_OK)
		rc = fit_metric_classification(metric, n, m->target.nclasses, label, values, score,
					       err);
	free(values);
	return rc;
}

int fit_model_score(const struct fit_model *m, const struct fit_frame *frame, const size_t *rows,
		    size_t nrows, enum fit_metric metric, int threads, double *score,
		    struct fitd_error *err)
{
	long t = find_column(frame, m->target_name);
	size_t *kept = malloc((nrows ? nrows : 1) * sizeof(size_t)), n = 0;
	double *y = malloc((nrows ? nrows : 1) * sizeof(double));
	int32_t *label = malloc((nrows ? nrows : 1) * sizeof(int32_t));
	int rc;

	if (metric == FIT_METRIC_AUTO)
		metric = m->target.task == FIT_TASK_CLASSIFICATION ? FIT_METRIC_ACCURACY
								   : FIT_METRIC_RMSE;
	if (kept == NULL || y == NULL || label == NULL) {
		rc = fitd_error_set(err, FITD_ENOMEM, NULL, "out of memory");
	} else if (t < 0) {
		rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "missing_column",
				    "the data has no target column \"%s\"", m->target_name);
	} else if (fit_metric_is_classification(metric) !=
		   (m->target.task == FIT_TASK_CLASSIFICATION)) {
		rc = fitd_error_set(err, FITD_EINVAL, "bad_metric",
				    "metric %s does not go with this model",
				    fit_metric_name(metric));
	} else {
		rc = FITD_OK;
		for (size_t i = 0; rows != NULL && i < nrows; i++)
			if (rows[i] >= frame->nrows)
				rc = fitd_error_set(err, FITD_EINVAL, "bad_row",
						    "row out of range");
		if (rc == FITD_OK && rows == NULL && nrows > frame->nrows)
			rc = fitd_error_set(err, FITD_EINVAL, "bad_row", "row out of range");
		if (rc == FITD_OK && fit__target_rows(&m->target, &frame->cols[t], rows, nrows, 0,
						      y, label, kept, &n) != FITD_OK)
			rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "bad_target",
					    "the target column has the wrong type");
		if (rc == FITD_OK && n == 0)
			rc = fitd_error_set(err, FITD_EUNPROCESSABLE, "no_rows",
					    "no row has a target value");
		if (rc == FITD_OK)
			rc = score_kept(m, frame, kept, n, y, label, metric, threads, score, err);
	}
	free(kept);
	free(y);
	free(label);
	return rc;
}
