/*
 * metrics.c - GET /metrics in the Prometheus text format (0.0.4), and the
 * HTTP request counters and durations it reports.
 *
 * A scrape reads the job and trial counts from the store (one GROUP BY
 * each on a read-only connection), the state directory's bytes the store
 * keeps (two stat() calls), the open event streams from the hub,
 * the figures the store and the scheduler publish (daemon/base/metrics.h) and
 * the resident memory from /proc; nothing is cached between scrapes.
 *
 * Requests are counted by route, method and status in a fixed table of
 * atomics, so counting takes no lock on the MHD threads. Every label comes
 * from a closed set, so the series stay bounded whatever clients send: the
 * route is the routing table's pattern ("/v1/jobs/{id}", never the raw
 * path) or "other" when no pattern matches; a method outside the usual
 * seven is "other"; so is a status fitd does not send.
 */
#include "api/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char *const methods[] = { "GET",	 "HEAD",  "POST",    "PUT",
				       "DELETE", "PATCH", "OPTIONS", "other" };
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* The statuses fitd answers with (see reply.c); the last slot is "other". */
static const unsigned statuses[] = { 200, 201, 202, 400, 401, 403, 404, 405, 409,
				     411, 413, 415, 422, 429, 500, 503, 504, 507 };
#define NSTATUSES (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* From interactive reads (sub-millisecond) to large uploads and predictions. */
static const double duration_bounds[] = { 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60 };

/* A route label per distinct pattern (GET and POST /v1/jobs share one), then "other". */
#define NLABELS (API__ROUTES_MAX + 1)

struct api__metrics {
	const char *labels[NLABELS]; /* the patterns, then "other" at nlabels - 1 */
	size_t nlabels;
	unsigned char label_of[API__ROUTES_MAX]; /* routing table index -> labels index */
	const struct api__route *table;
	atomic_uint_least64_t requests[NLABELS][NMETHODS][NSTATUSES];
	struct fitd_histogram duration[NLABELS];
};

int api__metrics_new(struct api__metrics **out)
{
	struct api__metrics *m = calloc(1, sizeof(*m));
	size_t n;

	*out = NULL;
	if (m == NULL)
		return FITD_ENOMEM;
	m->table = api__routes(&n);
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (k < m->nlabels && strcmp(m->labels[k], m->table[i].pattern) != 0)
			k++;
		if (k == m->nlabels)
			m->labels[m->nlabels++] = m->table[i].pattern;
		m->label_of[i] = (unsigned char)k;
	}
	m->labels[m->nlabels++] = "other";
	for (size_t r = 0; r < NLABELS; r++) {
		for (size_t i = 0; i < NMETHODS; i++)
			for (size_t s = 0; s < NSTATUSES; s++)
				atomic_init(&m->requests[r][i][s], 0);
		fitd_histogram_init(&m->duration[r], duration_bounds,
				    sizeof(duration_bounds) / sizeof(duration_bounds[0]));
	}
	*out = m;
	return FITD_OK;
}

void api__metrics_free(struct api__metrics *m)
{
	free(m);
}

static size_t method_index(const char *method)
{
	size_t i = 0;

	while (i < NMETHODS - 1 && strcmp(methods[i], method) != 0)
		i++;
	return i;
}

static size_t status_index(unsigned status)
{
	size_t i = 0;

	while (i < NSTATUSES - 1 && statuses[i] != status)
		i++;
	return i;
}

void api__metrics_request(struct api__request *req, int64_t ns)
{
	struct api__metrics *m = req->srv->http;
	const struct api__route *r = req->route ? req->route : req->path_route;
	size_t label = r ? m->label_of[r - m->table] : m->nlabels - 1;

	atomic_fetch_add_explicit(
	    &m->requests[label][method_index(req->method)][status_index(req->status)], 1,
	    memory_order_relaxed);
	fitd_histogram_observe(&m->duration[label], ns);
}

/* ---- the scrape ---- */

static void write_states(struct fitd_buf *t, const char *family, const char *help,
			 const int64_t *counts, size_t n, const char *(*name)(size_t))
{
	fitd_prom_family(t, family, "gauge", help);
	for (size_t i = 0; i < n; i++)
		fitd_buf_printf(t, "%s{state=\"%s\"} %" PRId64 "\n", family, name(i), counts[i]);
}

static const char *job_state(size_t i)
{
	return store_job_state_name((enum store_job_state)i);
}

static const char *trial_state(size_t i)
{
	return store_trial_state_name((enum store_trial_state)i);
}

static void write_status(struct fitd_buf *t, size_t s)
{
	if (s < NSTATUSES - 1)
		fitd_buf_printf(t, "%u", statuses[s]);
	else
		fitd_buf_printf(t, "other");
}

/* Only the series seen so far: most (route, method, status) triples never happen. */
static void write_requests(struct fitd_buf *t, const struct api__metrics *m)
{
	fitd_prom_family(t, "fitd_http_requests_total", "counter",
			 "HTTP requests answered, by route pattern (other: no route matched), "
			 "method and status.");
	for (size_t r = 0; r < m->nlabels; r++) {
		for (size_t i = 0; i < NMETHODS; i++) {
			for (size_t s = 0; s < NSTATUSES; s++) {
				uint64_t v = atomic_load_explicit(&m->requests[r][i][s],
								  memory_order_relaxed);

				if (v == 0)
					continue;
				fitd_buf_printf(t,
						"fitd_http_requests_total{route=\"%s\","
						"method=\"%s\",status=\"",
						m->labels[r], methods[i]);
				write_status(t, s);
				fitd_buf_printf(t, "\"} %" PRIu64 "\n", v);
			}
		}
	}
}

static void write_durations(struct fitd_buf *t, const struct api__metrics *m)
{
	char labels[96];

	fitd_prom_family(t, "fitd_http_request_duration_seconds", "histogram",
			 "Time from a request's headers to its reply being queued, by route "
			 "pattern (an event stream counts until its first byte).");
	for (size_t r = 0; r < m->nlabels; r++) {
		if (fitd_histogram_count(&m->duration[r]) == 0)
			continue;
		snprintf(labels, sizeof(labels), "route=\"%s\"", m->labels[r]);
		fitd_prom_histogram(t, "fitd_http_request_duration_seconds", labels,
				    &m->duration[r]);
	}
}

/* The state directory's bytes by kind, as the store keeps them (no directory walk). */
static void write_disk(struct fitd_buf *t, struct store *store)
{
	struct store_disk d;

	store_disk_usage(store, &d);
	fitd_prom_family(t, "fitd_state_bytes", "gauge",
			 "Bytes of the state directory: the database with its WAL, the dataset "
			 "files, the model files.");
	fitd_buf_printf(t,
			"fitd_state_bytes{kind=\"database\"} %" PRId64 "\n"
			"fitd_state_bytes{kind=\"datasets\"} %" PRId64 "\n"
			"fitd_state_bytes{kind=\"models\"} %" PRId64 "\n",
			d.database, d.datasets, d.models);
}

static void write_rss(struct fitd_buf *t)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size, resident;
	bool ok = f != NULL && fscanf(f, "%llu %llu", &size, &resident) == 2;

	if (f != NULL)
		fclose(f);
	fitd_prom_family(t, "process_resident_memory_bytes", "gauge",
			 "Resident memory of the fitd process, from /proc/self/statm.");
	if (ok)
		fitd_buf_printf(t, "process_resident_memory_bytes %llu\n",
				resident * (unsigned long long)sysconf(_SC_PAGESIZE));
}

void api__metrics_get(struct api__request *req)
{
	struct api_server *srv = req->srv;
	int64_t jobs[STORE_JOB_NSTATES], trials[STORE_TRIAL_NSTATES];
	struct fitd_error err = { 0 };
	struct fitd_buf t;
	int rc = store_job_count_by_state(srv->store, jobs, &err);

	fitd_buf_init(&t, FITD_TEXT_MAX);
	if (rc == FITD_OK)
		rc = store_trial_count_by_state(srv->store, trials, &err);
	if (rc != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	write_states(&t, "fitd_jobs", "Jobs in each state, counted in the store.", jobs,
		     STORE_JOB_NSTATES, job_state);
	write_states(&t, "fitd_trials", "Trials in each state, counted in the store.", trials,
		     STORE_TRIAL_NSTATES, trial_state);
	write_requests(&t, srv->http);
	write_durations(&t, srv->http);
	fitd_prom_family(&t, "fitd_event_streams", "gauge",
			 "Open Server-Sent Events streams of job events.");
	fitd_buf_printf(&t, "fitd_event_streams %u\n", api_events_open_streams(srv));
	write_disk(&t, srv->store);
	if (srv->opt.metrics != NULL)
		fitd_metrics_write(srv->opt.metrics, &t);
	write_rss(&t);
	/*
	 * A scrape that ran out of memory is refused whole (503 out_of_memory)
	 * rather than sent without the series it could not write: Prometheus
	 * would take missing series for gone ones and a counter seen again
	 * later for a reset, where a failed scrape is only a gap in the graphs.
	 */
	if (fitd_buf_status(&t) == FITD_ENOMEM) {
		fitd_buf_release(&t);
		api__reply_oom(req);
		return;
	}
	if (fitd_buf_status(&t) != FITD_OK) {
		fitd_buf_release(&t);
		api__reply_fail(req, 500, "internal_error", "the metrics exceed %u bytes",
				FITD_TEXT_MAX);
		return;
	}
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	/* MHD frees the buffer with free() once sent. */
	req->response = MHD_create_response_from_buffer(t.len, t.data, MHD_RESPMEM_MUST_FREE);
	if (req->response == NULL) {
		fitd_buf_release(&t);
		api__reply_oom(req);
		return;
	}
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	req->status = 200;
}
