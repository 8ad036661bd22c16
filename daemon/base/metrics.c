/*
 * metrics.c - lock-free histograms and gauges, and the Prometheus text
 * format; see metrics.h.
 */
#include "daemon/base/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/base/status.h"

/* Trials run from milliseconds (iris) to the 10 minute default budget. */
static const double trial_bounds[] = { 0.01, 0.1, 1, 10, 60, 600 };

/* A commit fsyncs (synchronous=FULL): about a millisecond on SSDs, more on disks. */
static const double write_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1
};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

void fitd_histogram_init(struct fitd_histogram *h, const double *bounds, size_t nbounds)
{
	h->bounds = bounds;
	h->nbounds = nbounds < FITD_HISTOGRAM_MAX_BOUNDS ? nbounds : FITD_HISTOGRAM_MAX_BOUNDS;
	for (size_t i = 0; i <= FITD_HISTOGRAM_MAX_BOUNDS; i++)
		atomic_init(&h->counts[i], 0);
	atomic_init(&h->sum_ns, 0);
}

void fitd_histogram_observe(struct fitd_histogram *h, int64_t ns)
{
	double s;
	size_t i = 0;

	if (ns < 0)
		ns = 0;
	s = (double)ns / 1e9;
	while (i < h->nbounds && s > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
}

uint64_t fitd_histogram_count(const struct fitd_histogram *h)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= h->nbounds; i++)
		n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
	return n;
}

/* ---- text ---- */

void fitd_prom_family(struct fitd_buf *t, const char *name, const char *type, const char *help)
{
	fitd_buf_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds from nanoseconds, exactly: integer part, then nine decimals. */
static void print_seconds(struct fitd_buf *t, uint64_t ns)
{
	fitd_buf_printf(t, "%" PRIu64 ".%09" PRIu64 "\n", ns / 1000000000u, ns % 1000000000u);
}

void fitd_prom_histogram(struct fitd_buf *t, const char *name, const char *labels,
			 const struct fitd_histogram *h)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t total = 0;

	for (size_t i = 0; i <= h->nbounds; i++) {
		total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < h->nbounds)
			fitd_buf_printf(t, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels,
					sep, h->bounds[i], total);
		else
			fitd_buf_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
					sep, total);
	}
	if (labels[0])
		fitd_buf_printf(t, "%s_sum{%s} ", name, labels);
	else
		fitd_buf_printf(t, "%s_sum ", name);
	print_seconds(t, atomic_load_explicit(&h->sum_ns, memory_order_relaxed));
	if (labels[0])
		fitd_buf_printf(t, "%s_count{%s} %" PRIu64 "\n", name, labels, total);
	else
		fitd_buf_printf(t, "%s_count %" PRIu64 "\n", name, total);
}

/* ---- the registry ---- */

int fitd_metrics_new(struct fitd_metrics **out)
{
	struct fitd_metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return FITD_ENOMEM;
	fitd_histogram_init(&m->trial_duration, trial_bounds, NBOUNDS(trial_bounds));
	fitd_histogram_init(&m->store_write, write_bounds, NBOUNDS(write_bounds));
	atomic_init(&m->trial_threads, 0);
	atomic_init(&m->trial_threads_busy, 0);
	atomic_init(&m->queue_depth, 0);
	atomic_init(&m->lease_losses, 0);
	atomic_init(&m->trials_rescued, 0);
	atomic_init(&m->stale_writes, 0);
	atomic_init(&m->notifications, 0);
	atomic_init(&m->listen_reconnects, 0);
	atomic_init(&m->listen_connected, 0);
	*out = m;
	return FITD_OK;
}

void fitd_metrics_free(struct fitd_metrics *m)
{
	free(m);
}

void fitd_metrics_trial_finished(struct fitd_metrics *m, int64_t duration_ms)
{
	if (m != NULL)
		fitd_histogram_observe(&m->trial_duration, duration_ms * 1000000);
}

void fitd_metrics_store_write(struct fitd_metrics *m, int64_t ns)
{
	if (m != NULL)
		fitd_histogram_observe(&m->store_write, ns);
}

void fitd_metrics_lease_lost(struct fitd_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->lease_losses, 1, memory_order_relaxed);
}

void fitd_metrics_trials_rescued(struct fitd_metrics *m, int64_t n)
{
	if (m != NULL && n > 0)
		atomic_fetch_add_explicit(&m->trials_rescued, (uint64_t)n, memory_order_relaxed);
}

void fitd_metrics_stale_write(struct fitd_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->stale_writes, 1, memory_order_relaxed);
}

void fitd_metrics_notifications(struct fitd_metrics *m, uint64_t n)
{
	if (m != NULL && n > 0)
		atomic_fetch_add_explicit(&m->notifications, n, memory_order_relaxed);
}

void fitd_metrics_listen_reconnect(struct fitd_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->listen_reconnects, 1, memory_order_relaxed);
}

void fitd_metrics_set_listening(struct fitd_metrics *m, bool connected)
{
	if (m != NULL)
		atomic_store_explicit(&m->listen_connected, connected ? 1u : 0u,
				      memory_order_relaxed);
}

void fitd_metrics_set_worker(struct fitd_metrics *m, unsigned threads, unsigned busy,
			     unsigned queue_depth)
{
	if (m == NULL)
		return;
	atomic_store_explicit(&m->trial_threads, threads, memory_order_relaxed);
	atomic_store_explicit(&m->trial_threads_busy, busy, memory_order_relaxed);
	atomic_store_explicit(&m->queue_depth, queue_depth, memory_order_relaxed);
}

/* A counter family of one sample. */
static void counter(struct fitd_buf *t, const char *name, const char *help,
		    const atomic_uint_least64_t *v)
{
	fitd_prom_family(t, name, "counter", help);
	fitd_buf_printf(t, "%s %llu\n", name,
			(unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
}

void fitd_metrics_write(const struct fitd_metrics *m, struct fitd_buf *t)
{
	unsigned threads = atomic_load_explicit(&m->trial_threads, memory_order_relaxed);
	unsigned busy = atomic_load_explicit(&m->trial_threads_busy, memory_order_relaxed);

	/* Both are stored together on the loop thread; a scrape in between must not underflow. */
	if (busy > threads)
		busy = threads;
	fitd_prom_family(t, "fitd_trial_duration_seconds", "histogram",
			 "Running time of trials that ran on a trial thread and finished "
			 "(completed, pruned, failed, timeout or interrupted); refits are not "
			 "counted.");
	fitd_prom_histogram(t, "fitd_trial_duration_seconds", "", &m->trial_duration);
	fitd_prom_family(t, "fitd_queue_depth", "gauge",
			 "Trials ready to start that wait for a free trial thread or memory: "
			 "re-queued trials plus the next new trial of each running job, within "
			 "its parallel_trials. Sampled after each scheduler pass.");
	fitd_buf_printf(t, "fitd_queue_depth %u\n",
			atomic_load_explicit(&m->queue_depth, memory_order_relaxed));
	fitd_prom_family(t, "fitd_trial_threads", "gauge",
			 "The trial thread budget (cores for trials), busy in running trials "
			 "and refits or idle.");
	fitd_buf_printf(t, "fitd_trial_threads{state=\"busy\"} %u\n", busy);
	fitd_buf_printf(t, "fitd_trial_threads{state=\"idle\"} %u\n", threads - busy);
	fitd_prom_family(t, "fitd_store_write_duration_seconds", "histogram",
			 "Time of each write transaction on the single writer connection, from "
			 "BEGIN IMMEDIATE to COMMIT (with its fsync) or ROLLBACK.");
	fitd_prom_histogram(t, "fitd_store_write_duration_seconds", "", &m->store_write);
	counter(t, "fitd_lease_losses_total",
		"Jobs this node was running whose lease another node took over (the "
		"node was stopped or cut off past its lease); their trials were "
		"stopped and nothing of them written.",
		&m->lease_losses);
	counter(t, "fitd_trials_rescued_total",
		"Running trials of a node that died or lost its lease that this node "
		"put back in the queue (a new generation fences the old one).",
		&m->trials_rescued);
	counter(t, "fitd_stale_writes_refused_total",
		"Writes of this node refused because the trial or job lease they "
		"belonged to had moved to another attempt or node (results, progress, "
		"claims, job ends).",
		&m->stale_writes);
	counter(t, "fitd_store_notifications_total",
		"Event notifications (LISTEN fitd_events) this node received from a "
		"shared PostgreSQL store; another node's wakes the event streams of its "
		"job and has the scheduler read the job back.",
		&m->notifications);
	counter(t, "fitd_store_listen_reconnects_total",
		"Times the LISTEN connection to a shared PostgreSQL store was made "
		"again after it was lost or could not be made; streams are polled "
		"every second meanwhile.",
		&m->listen_reconnects);
	fitd_prom_family(t, "fitd_store_listen_connected", "gauge",
			 "1 while the LISTEN connection to a shared PostgreSQL store is in "
			 "place, else 0 (always 0 on SQLite, which needs none).");
	fitd_buf_printf(t, "fitd_store_listen_connected %u\n",
			atomic_load_explicit(&m->listen_connected, memory_order_relaxed));
}
