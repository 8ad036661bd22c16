/*
 * test_alloc.c - allocation failure: each main flow (upload, submit, a
 * trial and its model file, a gbdt trial and its model file, predict with
 * explanations of both, and a whole search through the scheduler) is run
 * again and again with
 * allocation number N failing, N = 1, 2, ... until a run completes without
 * reaching N. Every run must end with FITD_OK or a clean error (a status
 * and a message), never a crash or an abort; under ASan, LeakSanitizer
 * checks that each failed run freed what it took. After every run the
 * store is closed, reopened with the normal allocator, its database passes
 * PRAGMA integrity_check and the dataset and the job stored before the
 * loop read back identical.
 *
 * The API flows (an event stream read to its end, GET /metrics, GET
 * /v1/openapi.json, the dashboard's gzipped script (with its
 * Content-Security-Policy), the upload of a gzipped semicolon-separated table,
 * whose inflater allocates through calloc so zlib's allocations fail in
 * turn too) run through a real server on a loopback port, started
 * before each run and stopped after it; their answer must be the full
 * success or 503 out_of_memory in the JSON error format. An event stream
 * cut by a failure must resume with Last-Event-ID and give every event of
 * the job exactly once, in order; one that ends cleanly must have given
 * them all, since a client takes a clean end on an ended job as the last
 * word. The token file flow loads a file of 20 tokens, as the daemon does
 * at start-up and on SIGHUP: the table whole, or a clean error and no table.
 * The delete flow deletes a finished job whose model an alias holds, lets
 * the alias go (the model with it) and vacuums, through the store; the
 * alias flow sets an alias, predicts through it, is refused the deletion
 * of its model and reads /readyz, over HTTP.
 *
 * The counting allocator sees three kinds of allocation: fitd's own
 * (linked with -Wl,--wrap for malloc, calloc, realloc, strdup, strndup,
 * aligned_alloc and posix_memalign; our libraries are static, so every call
 * in them goes through the wrapper), SQLite's (SQLITE_CONFIG_MALLOC) and
 * jansson's (json_set_alloc_funcs). Allocations made inside libc itself
 * (asprintf, stdio) and libgomp are not counted, nor those of jansson's
 * parser (json_loads, json_loadb): jansson 2.14's lexer ignores a failed
 * buffer growth and then trips its own assert(0) on the truncated token, a
 * library bug no caller can handle, so the parser is run with the
 * injection paused (its callers' handling of a NULL result is still tested:
 * the document built afterwards fails instead). libmicrohttpd allocates
 * inside its own shared library, out of reach of --wrap; making a response
 * (MHD_create_response_from_buffer and _from_callback) counts as one
 * allocation instead.
 *
 * The search flow runs the real worker (scheduler, trial threads, pool) on a
 * job of several trials, two at a time, until the job ends. After any one
 * failed allocation the job must still end (a finished trial is never
 * forgotten, a trial that could not start is started later) and the store
 * must stay whole.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "api/api.h"
#include "daemon/base/log.h"
#include "daemon/base/metrics.h"
#include "store/sha256.h"
#include "store/store.h"
#include "worker/fit/frame.h"
#include "worker/model_json.h"
#include "worker/params.h"
#include "worker/predict.h"
#include "worker/spec.h"
#include "worker/spec_facts.h"
#include "worker/task.h"
#include "worker/worker.h"

/* ---- the counting allocator ---- */

static atomic_bool armed;
static _Thread_local int paused; /* inside jansson's parser, or the test's own work */
static atomic_long counted;
static long fail_at;
static atomic_bool injected;
static bool spare_others; /* other threads' than the test's neither counted nor failed */
static _Thread_local bool test_thread;

/* True when this allocation is the one to fail. */
static bool fail_now(void)
{
	if (!atomic_load(&armed) || paused || (spare_others && !test_thread))
		return false;
	if (atomic_fetch_add(&counted, 1) + 1 != fail_at)
		return false;
	atomic_store(&injected, true);
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	return fail_now() ? NULL : __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	return fail_now() ? 12 /* ENOMEM */ : __real_posix_memalign(p, align, n);
}

json_t *__real_json_loads(const char *input, size_t flags, json_error_t *error);
json_t *__real_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error);
json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error);
json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error);

json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error)
{
	json_t *doc;

	paused++;
	doc = __real_json_loads(input, flags, error);
	paused--;
	return doc;
}

json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
	json_t *doc;

	paused++;
	doc = __real_json_loadb(buffer, buflen, flags, error);
	paused--;
	return doc;
}

struct MHD_Response *__real_MHD_create_response_from_buffer(size_t size, void *buffer,
							    enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__real_MHD_create_response_from_callback(uint64_t size, size_t block_size,
							      MHD_ContentReaderCallback crc,
							      void *crc_cls,
							      MHD_ContentReaderFreeCallback crfc);
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
							    enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__wrap_MHD_create_response_from_callback(uint64_t size, size_t block_size,
							      MHD_ContentReaderCallback crc,
							      void *crc_cls,
							      MHD_ContentReaderFreeCallback crfc);

/* On failure the caller keeps the buffer, as with libmicrohttpd's own failures. */
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
							    enum MHD_ResponseMemoryMode mode)
{
	return fail_now() ? NULL : __real_MHD_create_response_from_buffer(size, buffer, mode);
}

struct MHD_Response *__wrap_MHD_create_response_from_callback(uint64_t size, size_t block_size,
							      MHD_ContentReaderCallback crc,
							      void *crc_cls,
							      MHD_ContentReaderFreeCallback crfc)
{
	return fail_now()
		   ? NULL
		   : __real_MHD_create_response_from_callback(size, block_size, crc, crc_cls, crfc);
}

static void *json_alloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

static void json_release(void *p)
{
	free(p);
}

/* SQLite's own allocator, with the count in front of it. */
static sqlite3_mem_methods sqlite_default;

static void *sqlite_malloc(int n)
{
	return fail_now() ? NULL : sqlite_default.xMalloc(n);
}

static void *sqlite_realloc(void *p, int n)
{
	return fail_now() ? NULL : sqlite_default.xRealloc(p, n);
}

/* Before SQLite initializes, so outside any test. */
static bool install_allocators(void)
{
	static sqlite3_mem_methods counting;

	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
		return false;
	counting = sqlite_default;
	counting.xMalloc = sqlite_malloc;
	counting.xRealloc = sqlite_realloc;
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &counting) != SQLITE_OK)
		return false;
	json_set_alloc_funcs(json_alloc, json_release);
	return true;
}

static void arm(long n)
{
	fail_at = n;
	atomic_store(&counted, 0);
	atomic_store(&injected, false);
	atomic_store(&armed, true);
}

static void disarm(void)
{
	atomic_store(&armed, false);
}

/* ---- the store and what was stored before the loop ---- */

static const char csv[] = "sepal_length,sepal_width,petal_length,petal_width,species\n"
			  "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n"
			  "4.7,3.2,1.3,0.2,setosa\n4.6,3.1,1.5,0.2,setosa\n"
			  "5.0,3.6,1.4,0.2,setosa\n5.4,3.9,1.7,0.4,setosa\n"
			  "7.0,3.2,4.7,1.4,versicolor\n6.4,3.2,4.5,1.5,versicolor\n"
			  "6.9,3.1,4.9,1.5,versicolor\n5.5,2.3,4.0,1.3,versicolor\n"
			  "6.5,2.8,4.6,1.5,versicolor\n5.7,2.8,4.5,1.3,versicolor\n"
			  "6.3,3.3,6.0,2.5,virginica\n5.8,2.7,5.1,1.9,virginica\n"
			  "7.1,3.0,5.9,2.1,virginica\n6.3,2.9,5.6,1.8,virginica\n"
			  "6.5,3.0,5.8,2.2,virginica\n7.6,3.0,6.6,2.1,virginica\n";

static const char spec_fmt[] =
    "{\"dataset\":\"%s\",\"target\":\"species\",\"validation\":{\"method\":\"cv\",\"folds\":2},"
    "\"space\":{\"models\":[\"logistic\"],\"optimizer\":[\"lbfgs\"],\"epochs\":20},"
    "\"search\":{\"max_trials\":3}}";

/*
 * Several trials of two families, two at a time, with successive halving
 * (so trials take the searcher's snapshot).
 */
static const char search_fmt[] =
    "{\"dataset\":\"%s\",\"target\":\"species\",\"validation\":{\"method\":\"cv\",\"folds\":2},"
    "\"space\":{\"models\":[\"logistic\",\"gbdt\"],\"optimizer\":[\"adam\"],\"epochs\":9,"
    "\"gbdt\":{\"trees\":12,\"max_leaves\":4,\"min_leaf_rows\":2}},"
    "\"search\":{\"algorithm\":\"asha\",\"max_trials\":4,\"parallel_trials\":2,\"seed\":3}}";

static const char params_json[] = "{\"model\":\"logistic\",\"optimizer\":\"lbfgs\",\"epochs\":20,"
				  "\"regularization\":\"l2\",\"penalty\":0.01,\"loss\":\"log\"}";

/* A small boosted ensemble: the tree engine's fit, model, TreeSHAP and document. */
static const char gbdt_json[] =
    "{\"model\":\"gbdt\",\"learning_rate\":0.3,\"regularization\":\"l2\",\"penalty\":1,"
    "\"loss\":\"log\",\"trees\":8,\"max_leaves\":4,\"max_depth\":0,\"min_child_weight\":0.001,"
    "\"min_leaf_rows\":2,\"min_split_gain\":0,\"subsample\":0.8,\"colsample\":1,\"max_bins\":255}";

static const char predict_csv[] = "sepal_length,sepal_width,petal_length,petal_width\n"
				  "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n6.0,2.9,4.5,1.5\n";

struct fixture {
	char state[64];
	struct store *store;
	struct store_dataset ds; /* stored before the loop */
	struct store_job job;	 /* stored before the loop */
	char *ds_file;		 /* the dataset file's bytes */
	size_t ds_file_len;
	char *model_text; /* a trial's model, for predict */
	char *gbdt_text;  /* a gbdt trial's model, for predict */
	struct fitd_metrics *metrics;
	struct api_server *api; /* during a run of an API flow */
	uint16_t port;
	char events_job[STORE_ID_MAX]; /* an ended job with many events */
	struct store_event *events;    /* its events, as stored */
	size_t nevents;
	char token_path[128];
	char alias_model[STORE_ID_MAX]; /* a committed model the alias flow points at */
	char *gz;			/* csv with ';' for ',', gzipped, for the gzip upload */
	size_t gz_len;
};

static struct fixture fx;

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void open_store(void)
{
	struct store_options opt = { .state_dir = fx.state };
	struct fitd_error err = { 0 };

	ck_assert_msg(store_open(&opt, &fx.store, &err) == FITD_OK, "%s", err.message);
}

/* Fails the test unless the errors of a run are clean. */
static void check_outcome(const char *flow, long n, int rc, const struct fitd_error *err)
{
	if (rc == FITD_OK)
		return;
	ck_assert_msg(rc < 0 && err->status == rc && err->code[0] != '\0' &&
			  err->message[0] != '\0',
		      "%s, allocation %ld failed: status %d without a clean error (%d '%s' '%s')",
		      flow, n, rc, err->status, err->code, err->message);
}

/* The flows. Each returns FITD_OK or a status with *err filled. */

static int upload(struct store *s, const char *name, struct store_dataset *out,
		  struct fitd_error *err)
{
	static const char columns[] = "[{\"name\":\"species\",\"type\":\"categorical\"}]";
	struct store_upload *up = NULL;
	const struct fit_frame *frame;
	size_t half = sizeof(csv) / 2;
	int rc = store_upload_begin(s, sizeof(csv) - 1, &up, err);

	if (rc == FITD_OK)
		rc = store_upload_write(up, csv, half, err);
	if (rc == FITD_OK)
		rc = store_upload_write(up, csv + half, sizeof(csv) - 1 - half, err);
	if (rc == FITD_OK)
		rc = store_upload_parse(up, NULL, &frame, err);
	if (rc == FITD_OK)
		rc = worker_dataset_facts_upload(up, frame, err);
	if (rc == FITD_OK)
		rc = store_upload_commit(up, name, columns, out, err);
	store_upload_free(up);
	return rc;
}

/*
 * The column facts of dataset id equal those of the fixture's dataset
 * (the same table): a failure met while computing them was an error, not
 * a different answer.
 */
static void check_same_facts(const char *id)
{
	struct store_column *a = NULL, *b = NULL;
	struct fitd_error err = { 0 };
	size_t na = 0, nb = 0;
	int64_t ra, rb;

	paused++;
	ck_assert_int_eq(store_dataset_columns(fx.store, id, &ra, &a, &na, &err), FITD_OK);
	ck_assert_int_eq(store_dataset_columns(fx.store, fx.ds.id, &rb, &b, &nb, &err), FITD_OK);
	ck_assert(ra == rb && na == nb && na > 0);
	for (size_t i = 0; i < na; i++)
		ck_assert_msg(strcmp(a[i].name, b[i].name) == 0 && a[i].numeric == b[i].numeric &&
				  a[i].levels == b[i].levels && a[i].missing == b[i].missing &&
				  a[i].integer_valued == b[i].integer_valued &&
				  a[i].distinct == b[i].distinct,
			      "column %zu's facts differ after allocation %ld failed", i, fail_at);
	store_columns_free(a, na);
	store_columns_free(b, nb);
	paused--;
}

static int flow_upload(struct fitd_error *err)
{
	struct store_dataset d;
	int rc = upload(fx.store, "torture", &d, err);

	if (rc == FITD_OK) {
		check_same_facts(d.id);
		store_dataset_release(&d);
	}
	return rc;
}

/* As POST /v1/jobs: parse, read the column facts, validate, store; the search job or the small one. */
static int submit(struct store *s, bool search, const char *dataset, struct store_job *out,
		  struct fitd_error *err)
{
	char body[1024];
	struct worker_dataset_facts facts = { 0 };
	struct worker_spec *spec = NULL;
	struct store_job_new in = { .max_attempts = 3 };
	json_t *doc, *normalized = NULL;
	json_error_t jerr;
	char *text = NULL;
	bool existed;
	int rc;

	snprintf(body, sizeof(body), search ? search_fmt : spec_fmt, dataset);
	doc = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "parse: %s", jerr.text);
	rc = worker_dataset_facts_load(s, dataset, &facts, err);
	if (rc == FITD_OK)
		rc = worker_spec_parse(doc, facts.cols, facts.ncols, facts.nrows, &spec, err);
	if (rc == FITD_OK) {
		normalized = worker_spec_to_json(spec);
		text = json_dumps(normalized, JSON_COMPACT | JSON_SORT_KEYS);
		if (text == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "normalized spec");
	}
	if (rc == FITD_OK) {
		in.dataset_id = dataset;
		in.target = "species";
		in.task = "classification";
		in.metric = "accuracy";
		in.spec_json = text;
		rc = store_job_create(s, &in, out, &existed, err);
	}
	free(text);
	json_decref(normalized);
	worker_spec_free(spec);
	worker_dataset_facts_release(&facts);
	json_decref(doc);
	return rc;
}

static int flow_submit(struct fitd_error *err)
{
	struct store_job j;
	int rc = submit(fx.store, false, fx.ds.id, &j, err);

	if (rc == FITD_OK)
		store_job_release(&j);
	return rc;
}

static void task_done(struct worker_task *t)
{
	(void)t;
}

static const struct worker_task_hooks hooks = { .done = task_done };

/* As a trial thread: load the data, cross-validate, refit, write the model file. */
static int trial(struct store *s, const char *params_text, char **model_text,
		 struct fitd_error *err)
{
	struct worker_fit_context ctx = { .task = FIT_TASK_CLASSIFICATION,
					  .metric = FIT_METRIC_ACCURACY,
					  .seed = 7,
					  .threads = 1 };
	struct worker_task t = { .idx = 0, .hooks = &hooks };
	struct worker_data *data = NULL;
	char path[4096], id[STORE_ID_MAX];
	json_t *params = json_loads(params_text, 0, NULL);
	char *text = NULL;
	int rc;

	if (params == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "params");
	rc = store_dataset_path(s, fx.ds.id, path, sizeof(path), err);
	if (rc == FITD_OK)
		rc = worker_data_new(path, "species", NULL, 0, FIT_TASK_CLASSIFICATION, 0, 2, 1, 0,
				     7, &data, err);
	if (rc == FITD_OK)
		rc = worker_params_from_json(params, &ctx, &t.params, err);
	for (int refit = 0; refit < 2 && rc == FITD_OK; refit++) {
		t.refit = refit;
		t.data = worker_data_ref(data);
		worker_task_run(&t);
		rc = t.status;
		if (rc != FITD_OK)
			*err = t.err;
		if (rc == FITD_OK && refit) {
			text = json_dumps(t.model, JSON_COMPACT);
			if (text == NULL)
				rc = fitd_error_set(err, FITD_ENOMEM, NULL, "model text");
		}
		worker_task_release(&t);
	}
	if (rc == FITD_OK)
		rc = store_model_write(s, text, strlen(text), id, err);
	if (rc == FITD_OK && model_text != NULL)
		*model_text = text;
	else
		free(text);
	worker_data_unref(data);
	json_decref(params);
	return rc;
}

static int flow_trial(struct fitd_error *err)
{
	return trial(fx.store, params_json, NULL, err);
}

static int flow_gbdt_trial(struct fitd_error *err)
{
	return trial(fx.store, gbdt_json, NULL, err);
}

/*
 * As POST /v1/models/{id}/predict?explain=true: the model document, the
 * model, the rows, the answer with the rows' contributions.
 */
static int predict(const char *model_text, struct fitd_error *err)
{
	struct store_csv_options opt = { 0 };
	struct fit_model *model = NULL;
	struct fit_frame *frame = NULL;
	json_t *doc = json_loads(model_text, 0, NULL), *out = NULL;
	char *text = NULL;
	int rc = FITD_OK;

	if (doc == NULL)
		return fitd_error_set(err, FITD_ENOMEM, NULL, "model document");
	rc = worker_model_from_json(doc, &model, err);
	if (rc == FITD_OK)
		rc = worker_predict_frame_csv(model, NULL, predict_csv, sizeof(predict_csv) - 1,
					      &opt, &frame, err);
	if (rc == FITD_OK)
		rc = worker_predict(model, frame, 1, &out, err);
	if (rc == FITD_OK)
		rc = worker_explain(model, frame, 1, 1, out, err);
	if (rc == FITD_OK) {
		text = json_dumps(out, JSON_COMPACT);
		if (text == NULL)
			rc = fitd_error_set(err, FITD_ENOMEM, NULL, "answer");
	}
	free(text);
	json_decref(out);
	fit_frame_free(frame);
	fit_model_free(model);
	json_decref(doc);
	return rc;
}

static int flow_predict(struct fitd_error *err)
{
	return predict(fx.model_text, err);
}

static int flow_gbdt_predict(struct fitd_error *err)
{
	return predict(fx.gbdt_text, err);
}

/* ---- the API flows, over HTTP on a loopback port ---- */

extern const unsigned char api__openapi_json[];
extern const size_t api__openapi_json_len;

/*
 * ck_assert for the flows: Check allocates for each passing assertion
 * (fork mode sends where the test got to), so the count is paused.
 */
#define require(cond, ...)                        \
	do {                                      \
		paused++;                         \
		ck_assert_msg(cond, __VA_ARGS__); \
		paused--;                         \
	} while (0)

#define NTOKENS 20
#define NEVENTS 100

struct http_reply {
	int status;
	char type[96]; /* Content-Type */
	char csp[160]; /* Content-Security-Policy */
	char *body;    /* into http_buf, NUL-terminated */
	size_t len;
	bool whole; /* the body ended as announced (a last chunk, or Content-Length reached) */
};

static char http_buf[1 << 20]; /* one answer; static, so the client allocates nothing */

/* The value of header name (with its colon) in head, or "". */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0) {
			const char *v = p + 2 + n + strspn(p + 2 + n, " ");

			snprintf(out, cap, "%.*s", (int)strcspn(v, "\r"), v);
			return;
		}
	}
}

/* Joins a chunked body in place; whole when its last chunk came. */
static void unchunk(struct http_reply *r)
{
	char *in = r->body, *end = r->body + r->len, *out = r->body;

	r->whole = false;
	while (in < end) {
		char *line_end = strstr(in, "\r\n");
		unsigned long n;

		if (line_end == NULL)
			break;
		n = strtoul(in, NULL, 16);
		if (n == 0) {
			r->whole = true;
			break;
		}
		if ((size_t)(end - line_end) < 2 + n + 2)
			break;
		memmove(out, line_end + 2, n);
		out += n;
		in = line_end + 2 + n + 2;
	}
	r->len = (size_t)(out - r->body);
	*out = '\0';
}

/*
 * Sends method path (with extra header lines and, unless NULL, a body of
 * len bytes with its Content-Length) and reads the answer to the
 * connection's end.
 */
static void http_request(const char *method, const char *path, const char *extra, const char *body,
			 size_t len, struct http_reply *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(fx.port) };
	struct timeval tv = { .tv_sec = 120 };
	char req[2048], value[32], *head_end;
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	require(fd >= 0, "socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	require(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "timeout");
	require(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect");
	n = body == NULL ? snprintf(req, sizeof(req),
				    "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
				    "%s\r\n",
				    method, path, extra)
			 : snprintf(req, sizeof(req),
				    "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
				    "%sContent-Length: %zu\r\n\r\n",
				    method, path, extra, len);
	require(write(fd, req, (size_t)n) == n, "write");
	if (body != NULL) /* whole: an early answer waits while the body is drained */
		require(write(fd, body, len) == (ssize_t)len, "write the body");
	while ((n = read(fd, http_buf + got, sizeof(http_buf) - 1 - got)) > 0)
		got += (size_t)n;
	require(n == 0, "%s %s: no end of connection", method, path);
	close(fd);
	http_buf[got] = '\0';
	head_end = strstr(http_buf, "\r\n\r\n");
	require(head_end != NULL && sscanf(http_buf, "HTTP/1.1 %d ", &r->status) == 1,
		"%s %s: no answer (%zu bytes)", method, path, got);
	*head_end = '\0';
	r->body = head_end + 4;
	r->len = got - (size_t)(r->body - http_buf);
	header_value(http_buf, "Content-Type:", r->type, sizeof(r->type));
	header_value(http_buf, "Content-Security-Policy:", r->csp, sizeof(r->csp));
	header_value(http_buf, "Transfer-Encoding:", value, sizeof(value));
	if (strcasecmp(value, "chunked") == 0) {
		unchunk(r);
		return;
	}
	header_value(http_buf, "Content-Length:", value, sizeof(value));
	r->whole = value[0] != '\0' && strtoull(value, NULL, 10) == r->len;
}

static void http_get(const char *path, const char *extra, struct http_reply *r)
{
	http_request("GET", path, extra, NULL, 0, r);
}

/* A failed answer must be 503 out_of_memory as JSON; it becomes the run's error. */
static int http_error(const char *path, const struct http_reply *r, struct fitd_error *err)
{
	json_t *doc = json_loads(r->body, 0, NULL), *e = json_object_get(doc, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *message = json_string_value(json_object_get(e, "message"));

	require(r->status == 503 && r->whole && strcmp(r->type, "application/json") == 0 &&
		    code != NULL && strcmp(code, "out_of_memory") == 0 && message != NULL &&
		    message[0] != '\0',
		"%s: %d '%s' %s", path, r->status, r->type, r->body);
	fitd_error_set(err, FITD_ENOMEM, code, "%s: %s", path, message);
	json_decref(doc);
	return FITD_ENOMEM;
}

/*
 * Checks the events of an SSE body against the stored ones from *next on;
 * returns the id of the last, or last when none came. A body holds only
 * whole events.
 */
static int64_t take_events(const char *body, size_t *next, int64_t last)
{
	const char *p = body;

	while (*p != '\0') {
		const char *end = strstr(p, "\n\n");
		const struct store_event *want;
		char expect[1024];

		require(end != NULL, "a cut event: '%s'", p);
		if (strncmp(p, "retry: ", 7) != 0) {
			require(*next < fx.nevents, "more events than stored");
			want = &fx.events[*next];
			snprintf(expect, sizeof(expect), "id: %lld\nevent: %s\ndata: %s",
				 (long long)want->id, want->type, want->data);
			require(strlen(expect) == (size_t)(end - p) &&
				    strncmp(p, expect, strlen(expect)) == 0,
				"event %zu: got '%.*s', want '%s'", *next, (int)(end - p), p,
				expect);
			last = want->id;
			(*next)++;
		}
		p = end + 2;
	}
	return last;
}

/* As a client following an ended job: read, and resume with Last-Event-ID when cut. */
static int flow_events(struct fitd_error *err)
{
	char path[128], extra[64] = "";
	size_t next = 0;
	int64_t last = 0;

	snprintf(path, sizeof(path), "/v1/jobs/%s/events", fx.events_job);
	for (int attempt = 0; attempt < 3; attempt++) {
		struct http_reply r;

		http_get(path, extra, &r);
		if (r.status != 200)
			return http_error(path, &r, err);
		require(strcmp(r.type, "text/event-stream") == 0, "%s", r.type);
		last = take_events(r.body, &next, last);
		if (r.whole) {
			require(next == fx.nevents,
				"the stream ended cleanly after %zu of %zu events", next,
				fx.nevents);
			return FITD_OK;
		}
		if (last > 0)
			snprintf(extra, sizeof(extra), "Last-Event-ID: %lld\r\n", (long long)last);
	}
	require(false, "the stream was still cut after 3 tries");
	return FITD_EINTERNAL;
}

static int flow_metrics(struct fitd_error *err)
{
	static const char *const families[] = {
		"fitd_jobs{state=\"queued\"} ",
		"fitd_trials{state=\"queued\"} ",
		"fitd_http_requests_total",
		"fitd_http_request_duration_seconds",
		"fitd_event_streams 0\n",
		"fitd_trial_duration_seconds_count 0\n",
		"fitd_store_write_duration_seconds",
		"fitd_state_bytes{kind=\"models\"} ",
		"process_resident_memory_bytes",
	};
	struct http_reply r;

	http_get("/metrics", "", &r);
	if (r.status != 200)
		return http_error("/metrics", &r, err);
	require(r.whole && r.len > 0 && r.body[r.len - 1] == '\n', "a cut scrape");
	require(strcmp(r.type, "text/plain; version=0.0.4; charset=utf-8") == 0, "%s", r.type);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		require(strstr(r.body, families[i]) != NULL, "no %s in the scrape", families[i]);
	return FITD_OK;
}

static int flow_openapi(struct fitd_error *err)
{
	struct http_reply r;

	http_get("/v1/openapi.json", "", &r);
	if (r.status != 200)
		return http_error("/v1/openapi.json", &r, err);
	require(r.whole && r.len == api__openapi_json_len &&
		    memcmp(r.body, api__openapi_json, r.len) == 0,
		"a different document of %zu bytes", r.len);
	require(strcmp(r.type, "application/json") == 0, "%s", r.type);
	return FITD_OK;
}

extern const unsigned char api__dash_app_js_gz[];
extern const size_t api__dash_app_js_gz_len;

/* The dashboard's script, gzipped: whole and with its Content-Security-Policy, or 503. */
static int flow_dashboard(struct fitd_error *err)
{
	struct http_reply r;

	http_get("/dash/app.js", "Accept-Encoding: gzip\r\n", &r);
	if (r.status != 200)
		return http_error("/dash/app.js", &r, err);
	require(r.whole && r.len == api__dash_app_js_gz_len &&
		    memcmp(r.body, api__dash_app_js_gz, r.len) == 0,
		"a different script of %zu bytes", r.len);
	require(strcmp(r.type, "text/javascript; charset=utf-8") == 0, "%s", r.type);
	require(strncmp(r.csp, "default-src 'self';", 19) == 0, "CSP '%s'", r.csp);
	return FITD_OK;
}

/*
 * A job that ran one trial and succeeded, its model (fx.model_text, a real
 * model document) its best; ids into job and model. Not counted: the flows
 * that follow fail their own allocations.
 */
static void finished_job(char job[STORE_ID_MAX], char model[STORE_ID_MAX])
{
	struct store_trial_outcome o = { .state = STORE_TRIAL_COMPLETED,
					 .has_score = true,
					 .score = 0.9,
					 .epochs = 1,
					 .event_json = "{}",
					 .new_best = true,
					 .best_event_json = "{}" };
	struct fitd_error err = { 0 };
	struct store_job j;
	int64_t gen = 0;

	paused++;
	ck_assert_msg(submit(fx.store, false, fx.ds.id, &j, &err) == FITD_OK, "%s", err.message);
	snprintf(job, STORE_ID_MAX, "%s", j.id);
	store_job_release(&j);
	ck_assert_int_eq(store_job_start(fx.store, job, "{}", &err), FITD_OK);
	ck_assert_int_eq(store_trial_claim(fx.store, job, 0, "{}", "t", 60000, &gen, &err),
			 FITD_OK);
	ck_assert_int_eq(
	    store_model_write(fx.store, fx.model_text, strlen(fx.model_text), model, &err),
	    FITD_OK);
	o.model_id = model;
	o.model_bytes = (int64_t)strlen(fx.model_text);
	ck_assert_msg(store_trial_finish(fx.store, job, 0, gen, &o, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_int_eq(store_job_finish(fx.store, job, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
			 FITD_OK);
	paused--;
}

/*
 * As DELETE /v1/jobs/{id} with an alias on its model, the alias letting go,
 * and the retention timer's vacuum: whatever fails, the store stays whole
 * and the rest of it untouched (torture() checks).
 */
static int flow_delete(struct fitd_error *err)
{
	struct store_job_deletion del = { 0 };
	char job[STORE_ID_MAX], model[STORE_ID_MAX], previous[STORE_ID_MAX];
	struct store_alias a;
	bool created;
	char *text = NULL;
	size_t len;
	int rc;

	finished_job(job, model);
	rc = store_alias_set(fx.store, "torture", model, &a, &created, previous, err);
	if (rc == FITD_OK)
		rc = store_job_delete(fx.store, job, &del, err);
	if (rc == FITD_OK) {
		require(del.nkept == 1 && strcmp(del.kept[0], model) == 0,
			"the alias's model went");
		store_job_deletion_release(&del);
		rc = store_alias_delete(fx.store, "torture", NULL, err);
	}
	if (rc == FITD_OK)
		rc = store_vacuum(fx.store, 0, NULL, NULL, err);
	if (rc == FITD_OK)
		require(store_model_read(fx.store, model, &text, &len, NULL) == FITD_ENOTFOUND,
			"the model outlived its job and its alias");
	return rc;
}

/* An answer of status want, or else the run's error (a 503 out_of_memory). */
static int http_expect(const char *method, const char *path, const char *body, int want,
		       struct http_reply *r, struct fitd_error *err)
{
	http_request(method, path, body != NULL ? "Content-Type: application/json\r\n" : "", body,
		     body != NULL ? strlen(body) : 0, r);
	if (r->status == want || (want == 201 && r->status == 200))
		return FITD_OK;
	return http_error(path, r, err);
}

/*
 * GET /readyz with the disk figures; a failure is 503, either the error
 * object or readyz's own {"status":"unavailable","reason"} when the store's
 * counts could not be read.
 */
static int readyz(struct fitd_error *err)
{
	struct http_reply r;

	http_get("/readyz", "", &r);
	if (r.status == 200) {
		require(r.whole && strstr(r.body, "\"disk\":{\"database\":") != NULL, "%s", r.body);
		return FITD_OK;
	}
	if (r.status != 503 || strstr(r.body, "\"status\":\"unavailable\"") == NULL)
		return http_error("/readyz", &r, err);
	require(r.whole && strcmp(r.type, "application/json") == 0, "%s", r.body);
	return fitd_error_set(err, FITD_ENOMEM, "unavailable", "GET /readyz: %s", r.body);
}

/* As a service and an operator: an alias set, a prediction through it, a refused delete, /readyz. */
static int flow_alias(struct fitd_error *err)
{
	char body[128], path[128];
	struct http_reply r;
	int rc;

	snprintf(body, sizeof(body), "{\"model\":\"%s\"}", fx.alias_model);
	rc = http_expect("PUT", "/v1/aliases/torture", body, 201, &r, err);
	if (rc == FITD_OK)
		rc = http_expect("POST", "/v1/aliases/torture/predict",
				 "{\"rows\":[{\"sepal_length\":5.1,\"sepal_width\":3.5,"
				 "\"petal_length\":1.4,\"petal_width\":0.2}]}",
				 200, &r, err);
	if (rc == FITD_OK)
		require(strstr(r.body, fx.alias_model) != NULL && r.whole, "%s", r.body);
	snprintf(path, sizeof(path), "/v1/models/%s", fx.alias_model);
	if (rc == FITD_OK)
		rc = http_expect("DELETE", path, NULL, 409, &r, err);
	if (rc == FITD_OK)
		rc = readyz(err);
	if (rc == FITD_OK)
		rc = http_expect("DELETE", "/v1/aliases/torture", NULL, 200, &r, err);
	return rc;
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	require(d != NULL, "opendir %s", path);
	while ((e = readdir(d)) != NULL)
		empty &= strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* The test's table separated by semicolons and gzipped, into fx.gz. */
static void make_gzip(void)
{
	z_stream zs = { 0 };
	char text[sizeof(csv)];
	size_t cap = sizeof(csv) + 128;

	for (size_t i = 0; i < sizeof(csv); i++)
		text[i] = csv[i] == ',' ? ';' : csv[i];
	fx.gz = malloc(cap);
	ck_assert_ptr_nonnull(fx.gz);
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)text;
	zs.avail_in = (uInt)(sizeof(csv) - 1);
	zs.next_out = (Bytef *)fx.gz;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	fx.gz_len = zs.total_out;
	deflateEnd(&zs);
}

/*
 * As a client uploading a gzipped, semicolon-separated table: 201 with the
 * table as inflated, or 503, with nothing left in tmp/ either way.
 */
static int flow_upload_gzip(struct fitd_error *err)
{
	static const char path[] = "/v1/datasets?name=gz&delimiter=semicolon";
	char tmp[128], rows[32];
	struct http_reply r;
	int rc = FITD_OK;

	http_request("POST", path, "Content-Type: text/csv\r\nContent-Encoding: gzip\r\n", fx.gz,
		     fx.gz_len, &r);
	if (r.status != 201)
		rc = http_error(path, &r, err);
	snprintf(rows, sizeof(rows), "\"rows\":%lld,", (long long)fx.ds.rows);
	require(rc != FITD_OK ||
		    (strstr(r.body, rows) != NULL && strstr(r.body, "\"bytes\":") != NULL),
		"%s: %s", path, r.body);
	snprintf(tmp, sizeof(tmp), "%s/tmp", fx.state);
	require(dir_is_empty(tmp), "an upload left in %s", tmp);
	return rc;
}

/* As the daemon at start-up and on SIGHUP: the whole table or a clean error and none. */
static int flow_tokens(struct fitd_error *err)
{
	struct api_tokens *t = (struct api_tokens *)&fx; /* must become NULL on error */
	char name[API_TOKEN_NAME_MAX + 1], token[32], want[32];
	unsigned scopes;
	int rc = api_tokens_load(fx.token_path, &t, err);

	if (rc != FITD_OK) {
		require(t == NULL, "a table left after an error");
		return rc;
	}
	require(api_tokens_count(t) == NTOKENS, "%zu tokens", api_tokens_count(t));
	for (int i = 0; i < NTOKENS; i++) {
		snprintf(token, sizeof(token), "token-%d", i);
		snprintf(want, sizeof(want), "t%d", i);
		require(api_tokens_find(t, token, strlen(token), name, &scopes) &&
			    strcmp(name, want) == 0 && scopes == (API_READ | API_WRITE),
			"%s not found as %s", token, want);
	}
	api_tokens_free(t);
	return FITD_OK;
}

/* Before a run of an API flow: a server on the store as it is now. */
static void serve(void)
{
	struct api_options opt = { .host = "127.0.0.1",
				   .threads = 1,
				   .connection_limit = 16,
				   .idle_timeout_s = 60,
				   .connection_memory = 128 * 1024,
				   .max_upload_bytes = 1 << 20,
				   .max_json_bytes = 64 * 1024,
				   .max_predict_bytes = 1 << 20,
				   .max_streams = 4,
				   .max_predict_rows = 100,
				   .model_cache = 2,
				   .metrics = fx.metrics };
	struct fitd_error err = { 0 };

	ck_assert_msg(api_server_start(&opt, fx.store, &fx.api, &err) == FITD_OK, "%s",
		      err.message);
	fx.port = api_server_port(fx.api);
	api_server_set_ready(fx.api, true);
}

static void unserve(void)
{
	api_server_stop(fx.api, 5000);
	fx.api = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The state of job id, read with the injection paused; -1 when unreadable. */
static int job_state(struct store *s, const char *id, struct store_job *out)
{
	struct store_job j;
	int state = -1;

	paused++;
	if (store_job_get(s, id, &j, NULL) == FITD_OK) {
		state = (int)j.state;
		if (out != NULL)
			*out = j;
		else
			store_job_release(&j);
	}
	paused--;
	return state;
}

static bool ended(int state)
{
	return state == STORE_JOB_SUCCEEDED || state == STORE_JOB_FAILED ||
	       state == STORE_JOB_CANCELLED;
}

/*
 * Runs a worker on the store until job id ends; FITD_OK, or why the worker
 * could not start. A job that does not end within a minute is stuck: the
 * test fails.
 */
static int run_worker(struct store *s, const char *id, struct fitd_error *err)
{
	struct worker_options opt = { .threads = 2, .heartbeat_ms = 20 };
	int64_t give_up = now_ms() + 60000;
	struct worker *w = NULL;
	uv_loop_t loop;
	int rc;

	paused++; /* Check's own asserts allocate */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	paused--;
	rc = worker_new(&loop, s, &opt, &w, err);
	if (rc == FITD_OK)
		rc = worker_start(w, err);
	while (rc == FITD_OK && !ended(job_state(s, id, NULL))) {
		if (now_ms() >= give_up) {
			paused++;
			ck_abort_msg("job %s did not end after allocation %ld failed", id, fail_at);
		}
		uv_run(&loop, UV_RUN_ONCE);
	}
	worker_free(w);
	paused++;
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	paused--;
	return rc;
}

static void check_integrity(const char *state);

/*
 * As the daemon: a job of several trials through the scheduler, from queued
 * to its end, in a store of its own (so each run costs the same).
 */
static int flow_search(struct fitd_error *err)
{
	struct store_options opt = { .state_dir = NULL };
	struct fitd_error ignored = { 0 };
	struct store_dataset ds;
	struct store_job job, done;
	struct store *s = NULL;
	char state[sizeof(fx.state) + 8], cmd[sizeof(state) + 16];
	int rc;

	paused++; /* the upload and the submission have their own flows */
	snprintf(state, sizeof(state), "%s-search", fx.state);
	ck_assert_int_eq(mkdir(state, 0700), 0);
	opt.state_dir = state;
	ck_assert_int_eq(store_open(&opt, &s, &ignored), FITD_OK);
	ck_assert_int_eq(upload(s, "iris", &ds, &ignored), FITD_OK);
	ck_assert_int_eq(submit(s, true, ds.id, &job, &ignored), FITD_OK);
	paused--;
	rc = run_worker(s, job.id, err);
	paused++;
	/* When the worker did not start, one that does finishes the job. */
	if (rc != FITD_OK)
		ck_assert_int_eq(run_worker(s, job.id, &ignored), FITD_OK);
	ck_assert(ended(job_state(s, job.id, &done)));
	if (rc == FITD_OK && done.state != STORE_JOB_SUCCEEDED && !atomic_load(&injected))
		rc = fitd_error_set(err, FITD_EINTERNAL, "job_failed", "job %s: %s", job.id,
				    done.error_message ? done.error_message : "not succeeded");
	store_job_release(&done);
	store_job_release(&job);
	store_dataset_release(&ds);
	store_close(s);
	check_integrity(state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
	paused--;
	return rc;
}

/* ---- the checks after each run ---- */

static void check_integrity(const char *state)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(path, sizeof(path), "%s/fitd.db", state);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void check_stored(void)
{
	struct fitd_error err = { 0 };
	struct store_dataset d;
	struct store_job j;
	char path[4096];
	char *bytes;
	size_t len;

	ck_assert_msg(store_dataset_get(fx.store, fx.ds.id, &d, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_str_eq(d.name, fx.ds.name);
	ck_assert_str_eq(d.sha256, fx.ds.sha256);
	ck_assert_str_eq(d.columns_json, fx.ds.columns_json);
	ck_assert(d.rows == fx.ds.rows && d.cols == fx.ds.cols && d.bytes == fx.ds.bytes);
	store_dataset_release(&d);
	ck_assert_int_eq(store_dataset_path(fx.store, fx.ds.id, path, sizeof(path), NULL), FITD_OK);
	bytes = read_file(path, &len);
	ck_assert(len == fx.ds_file_len && memcmp(bytes, fx.ds_file, len) == 0);
	free(bytes);

	ck_assert_msg(store_job_get(fx.store, fx.job.id, &j, &err) == FITD_OK, "%s", err.message);
	ck_assert_str_eq(j.dataset_id, fx.job.dataset_id);
	ck_assert_str_eq(j.spec_json, fx.job.spec_json);
	ck_assert_str_eq(j.target, fx.job.target);
	ck_assert_int_eq(j.state, fx.job.state);
	store_job_release(&j);
}

/*
 * Runs flow with allocation 1, 1 + step, 1 + 2 step, ... failing until a
 * run needs fewer, with a server around each run when http; returns the
 * number of runs with a failure.
 */
static long torture(const char *name, int (*flow)(struct fitd_error *err), bool http, long step)
{
	long n, runs = 0;

	for (n = 1;; n += step) {
		struct fitd_error err = { 0 };
		int rc;

		if (http)
			serve();
		arm(n);
		rc = flow(&err);
		disarm();
		if (http)
			unserve();
		if (!atomic_load(&injected)) {
			ck_assert_msg(rc == FITD_OK, "%s without failures: %s", name, err.message);
			break;
		}
		check_outcome(name, n, rc, &err);
		runs++;
		store_close(fx.store);
		check_integrity(fx.state);
		open_store();
		check_stored();
	}
	printf("%s: %ld allocation points exercised (every %ld of %ld)\n", name, runs, step, n - 1);
	fflush(stdout);
	return runs;
}

static void setup(void)
{
	struct fitd_error err = { 0 };
	char path[4096];

	/* tmpfs when there is one: thousands of runs, each committing many times */
	snprintf(fx.state, sizeof(fx.state), "%s/fitd-alloc-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(fx.state));
	open_store();
	ck_assert_msg(upload(fx.store, "iris", &fx.ds, &err) == FITD_OK, "%s", err.message);
	ck_assert_msg(submit(fx.store, false, fx.ds.id, &fx.job, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_msg(trial(fx.store, params_json, &fx.model_text, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_msg(trial(fx.store, gbdt_json, &fx.gbdt_text, &err) == FITD_OK, "%s",
		      err.message);
	ck_assert_int_eq(store_dataset_path(fx.store, fx.ds.id, path, sizeof(path), NULL), FITD_OK);
	fx.ds_file = read_file(path, &fx.ds_file_len);
	ck_assert_int_eq(fitd_metrics_new(&fx.metrics), FITD_OK);
}

/* A job that ran and succeeded, with NEVENTS trial events in between; fx.events lists them all. */
static void make_events_job(void)
{
	struct fitd_error err = { 0 };
	struct store_job j;
	char data[160];
	size_t n = 0;

	ck_assert_msg(submit(fx.store, false, fx.ds.id, &j, &err) == FITD_OK, "%s", err.message);
	snprintf(fx.events_job, sizeof(fx.events_job), "%s", j.id);
	store_job_release(&j);
	ck_assert_int_eq(store_job_start(fx.store, fx.events_job, "{}", &err), FITD_OK);
	for (int i = 0; i < NEVENTS; i++) {
		snprintf(data, sizeof(data),
			 "{\"trial\":%d,\"state\":\"completed\",\"score\":0.%04d,"
			 "\"params\":{\"model\":\"logistic\",\"optimizer\":\"lbfgs\"}}",
			 i, 9000 + i);
		ck_assert_int_eq(
		    store_event_add(fx.store, fx.events_job, "trial_finished", data, NULL, &err),
		    FITD_OK);
	}
	ck_assert_int_eq(
	    store_job_finish(fx.store, fx.events_job, STORE_JOB_SUCCEEDED, NULL, NULL, &err),
	    FITD_OK);
	ck_assert_int_eq(store_event_list(fx.store, fx.events_job, 0, 10 * NEVENTS, &fx.events,
					  &fx.nevents, &err),
			 FITD_OK);
	ck_assert_uint_gt(fx.nevents, NEVENTS);
	for (size_t i = 0; i < fx.nevents; i++)
		n += strlen(fx.events[i].data);
	ck_assert_uint_gt(n, 4096); /* the stream's buffer has to grow */
}

static void make_token_file(void)
{
	struct store_sha256 ctx;
	char token[32], hex[STORE_SHA256_HEX];
	FILE *f;

	snprintf(fx.token_path, sizeof(fx.token_path), "%s/tokens", fx.state);
	f = fopen(fx.token_path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "# the test's tokens\n");
	for (int i = 0; i < NTOKENS; i++) {
		snprintf(token, sizeof(token), "token-%d", i);
		store_sha256_init(&ctx);
		store_sha256_update(&ctx, token, strlen(token));
		store_sha256_final_hex(&ctx, hex);
		fprintf(f, "%s read,write t%d\n", hex, i);
	}
	ck_assert_int_eq(fclose(f), 0);
}

static void teardown(void)
{
	char cmd[128];

	store_close(fx.store);
	store_dataset_release(&fx.ds);
	store_job_release(&fx.job);
	free(fx.ds_file);
	free(fx.model_text);
	free(fx.gz);
	fx.gz = NULL;
	free(fx.gbdt_text);
	fitd_metrics_free(fx.metrics);
	for (size_t i = 0; i < fx.nevents; i++)
		store_event_release(&fx.events[i]);
	free(fx.events);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.state);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(upload_survives)
{
	ck_assert_int_gt(torture("upload", flow_upload, false, 1), 10);
}
END_TEST

START_TEST(submit_survives)
{
	ck_assert_int_gt(torture("submit", flow_submit, false, 1), 10);
}
END_TEST

START_TEST(trial_survives)
{
	ck_assert_int_gt(torture("trial", flow_trial, false, 1), 10);
}
END_TEST

START_TEST(gbdt_trial_survives)
{
	ck_assert_int_gt(torture("gbdt_trial", flow_gbdt_trial, false, 1), 10);
}
END_TEST

START_TEST(gbdt_predict_survives)
{
	ck_assert_int_gt(torture("gbdt_predict", flow_gbdt_predict, false, 1), 10);
}
END_TEST

START_TEST(search_survives)
{
	/*
	 * The fits on trial threads are the trial flow's part: here the loop
	 * thread's allocations fail (job loading, the scheduler, the store).
	 */
	test_thread = true;
	spare_others = true;
	/*
	 * Some 6,000 points, each a whole job: every eighth keeps the run to a
	 * minute, a few under the sanitizers.
	 */
	ck_assert_int_gt(torture("search", flow_search, false, 8), 10);
}
END_TEST

START_TEST(predict_survives)
{
	ck_assert_int_gt(torture("predict", flow_predict, false, 1), 10);
}
END_TEST

START_TEST(events_survive)
{
	make_events_job();
	ck_assert_int_gt(torture("events", flow_events, true, 1), 10);
}
END_TEST

START_TEST(metrics_survive)
{
	ck_assert_int_gt(torture("metrics", flow_metrics, true, 1), 10);
}
END_TEST

START_TEST(openapi_survives)
{
	ck_assert_int_gt(torture("openapi", flow_openapi, true, 1), 3);
}
END_TEST

START_TEST(dashboard_survives)
{
	ck_assert_int_gt(torture("dashboard", flow_dashboard, true, 1), 3);
}
END_TEST

START_TEST(delete_survives)
{
	ck_assert_int_gt(torture("delete", flow_delete, false, 1), 10);
}
END_TEST

START_TEST(alias_survives)
{
	char job[STORE_ID_MAX];

	finished_job(job, fx.alias_model);
	ck_assert_int_gt(torture("alias", flow_alias, true, 1), 10);
}
END_TEST

START_TEST(upload_gzip_survives)
{
	make_gzip();
	ck_assert_int_gt(torture("upload_gzip", flow_upload_gzip, true, 1), 10);
}
END_TEST

START_TEST(tokens_survive)
{
	make_token_file();
	ck_assert_int_gt(torture("tokens", flow_tokens, false, 1), 3);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("alloc");
	TCase *tc = tcase_create("flows");
	TCase *search = tcase_create("search");
	SRunner *sr;
	int failed;

	if (!install_allocators()) {
		fprintf(stderr, "SQLite refused the counting allocator\n");
		return EXIT_FAILURE;
	}
	fitd_log_set_level(FITD_LOG_ERROR); /* not a warning per failed request or trial */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, upload_survives);
	tcase_add_test(tc, submit_survives);
	tcase_add_test(tc, trial_survives);
	tcase_add_test(tc, predict_survives);
	tcase_add_test(tc, gbdt_trial_survives);
	tcase_add_test(tc, gbdt_predict_survives);
	tcase_add_test(tc, events_survive);
	tcase_add_test(tc, metrics_survive);
	tcase_add_test(tc, openapi_survives);
	tcase_add_test(tc, dashboard_survives);
	tcase_add_test(tc, upload_gzip_survives);
	tcase_add_test(tc, tokens_survive);
	tcase_add_test(tc, delete_survives);
	tcase_add_test(tc, alias_survives);
	suite_add_tcase(suite, tc);
	tcase_add_checked_fixture(search, setup, teardown);
	tcase_set_timeout(search, 600);
	tcase_add_test(search, search_survives);
	suite_add_tcase(suite, search);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_VERBOSE);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
