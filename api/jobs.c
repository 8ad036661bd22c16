/*
 * jobs.c - POST/GET /v1/jobs, cancel, delete and the trial leaderboard.
 *
 * A submission is validated completely before anything is written: the
 * body must be a JSON object, the dataset must exist, and the spec is
 * checked and normalized (every default filled in) against the facts of
 * the dataset's columns, kept in the store since its upload
 * (worker/spec_facts.h), by worker/spec.c. Then one transaction stores the
 * job and its first event; the 201 goes out after that commit, and the
 * scheduler is woken.
 */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"
#include "worker/fit/metric.h"
#include "worker/spec.h"
#include "worker/spec_facts.h"

#define IDEMPOTENCY_KEY_MAX 255

json_t *api__body_object(struct api__request *req)
{
	json_error_t jerr;
	json_t *doc;

	if (!api__body_unencoded(req, "the fields"))
		return NULL;
	if (req->body.len == 0) {
		api__reply_fail(req, 400, "empty_body", "the body must be a JSON object");
		return NULL;
	}
	doc = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL && json_error_code(&jerr) == json_error_out_of_memory) {
		api__reply_oom(req);
		return NULL;
	}
	if (doc == NULL) {
		api__reply_fail(req, 400, "malformed_json", "line %d column %d: %s", jerr.line,
				jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		api__reply_fail(req, 400, "wrong_type", "the body must be a JSON object");
		return NULL;
	}
	return doc;
}

bool api__job_id_param(struct api__request *req)
{
	if (store_id_valid("job", req->params[0]))
		return true;
	api__reply_fail(req, 400, "invalid_id", "'%.64s' is not a job id (job_ and 20 hex digits)",
			req->params[0]);
	return false;
}

static json_t *time_or_null(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	api__format_time(ms, buf);
	return json_string(buf);
}

static json_t *parse_or_null(const char *text)
{
	json_error_t jerr;
	json_t *v = text ? json_loads(text, 0, &jerr) : NULL;

	return v ? v : json_null();
}

/*
 * The job's best: the trial, its model, score and params, and what the
 * final model is ("kind" "single" or "ensemble", why, the members and the
 * out-of-fold scores); "kind" is "single" until a final model says more.
 */
static json_t *job_best(const struct store_job *j)
{
	json_t *best, *detail;

	if (j->best_trial < 0)
		return json_null();
	best = json_pack("{s:I, s:o, s:f, s:o, s:s}", "trial", (json_int_t)j->best_trial,
			 "model_id",
			 j->best_model_id[0] ? json_string(j->best_model_id) : json_null(), "score",
			 j->best_score, "params", parse_or_null(j->best_params), "kind", "single");
	detail = parse_or_null(j->best_detail);
	if (best != NULL && json_is_object(detail))
		json_object_update(best, detail);
	json_decref(detail);
	return best;
}

static json_t *job_json(const struct store_job *j)
{
	json_t *spec = parse_or_null(j->spec_json);
	json_t *max = json_object_get(json_object_get(spec, "search"), "max_trials");
	json_t *progress = json_pack(
	    "{s:I, s:I, s:O, s:f}", "trials_done", (json_int_t)j->trials_done, "trials_running",
	    (json_int_t)j->trials_running, "trials_total", json_is_integer(max) ? max : json_null(),
	    "elapsed_s", (double)j->elapsed_ms / 1000.0);

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:b}",
			 "id", j->id, "state", store_job_state_name(j->state), "dataset",
			 j->dataset_id, "target", j->target, "task", j->task, "metric", j->metric,
			 "created_at", time_or_null(j->created_at), "started_at",
			 time_or_null(j->started_at), "finished_at", time_or_null(j->finished_at),
			 "progress", progress, "best", job_best(j), "error",
			 j->error_code ? json_pack("{s:s, s:s}", "code", j->error_code, "message",
						   j->error_message ? j->error_message : "")
				       : json_null(),
			 "spec", spec, "runtime", parse_or_null(j->runtime_json),
			 "cancel_requested", j->cancel_requested);
}

/*
 * Validates body against the dataset's column facts, read from the store
 * (never from the dataset file: a submission costs the same on any table);
 * *spec is the spec with defaults.
 */
static int validate(struct api__request *req, json_t *body, struct worker_spec **spec,
		    struct fitd_error *err)
{
	const char *ds = json_string_value(json_object_get(body, "dataset"));
	struct worker_dataset_facts facts = { 0 };
	int rc;

	if (ds == NULL)
		return fitd_error_set(
		    err, json_object_get(body, "dataset") ? FITD_EFORMAT : FITD_EUNPROCESSABLE,
		    json_object_get(body, "dataset") ? "wrong_type" : "missing_field",
		    "dataset: a dataset id string is required");
	if (!store_id_valid("ds", ds))
		return fitd_error_set(err, FITD_ENOTFOUND, "dataset_not_found",
				      "dataset: no dataset with id '%.64s'", ds);
	rc = worker_dataset_facts_load(req->srv->store, ds, &facts, err);
	if (rc == FITD_OK)
		rc = worker_spec_parse(body, facts.cols, facts.ncols, facts.nrows, spec, err);
	worker_dataset_facts_release(&facts);
	return rc;
}

static bool idempotency_key(struct api__request *req, const char **key)
{
	*key = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (*key == NULL)
		return true;
	for (const char *p = *key; *p; p++) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e ||
		    p - *key >= IDEMPOTENCY_KEY_MAX) {
			api__reply_fail(req, 400, "invalid_idempotency_key",
					"Idempotency-Key must be 1 to %d visible ASCII characters",
					IDEMPOTENCY_KEY_MAX);
			return false;
		}
	}
	if ((*key)[0] == '\0') {
		api__reply_fail(req, 400, "invalid_idempotency_key", "Idempotency-Key is empty");
		return false;
	}
	return true;
}

void api__jobs_create(struct api__request *req)
{
	struct worker_spec *spec = NULL;
	struct fitd_error err = { 0 };
	struct store_job_new in = { 0 };
	struct store_job job;
	json_t *body, *normalized = NULL;
	char *spec_text = NULL;
	bool existed = false;
	int rc;

	if (!idempotency_key(req, &in.idempotency_key))
		return;
	body = api__body_object(req);
	if (body == NULL)
		return;
	rc = validate(req, body, &spec, &err);
	if (rc == FITD_OK) {
		normalized = worker_spec_to_json(spec);
		spec_text = json_dumps(normalized, JSON_COMPACT | JSON_SORT_KEYS);
		if (spec_text == NULL)
			rc = fitd_error_set(&err, FITD_ENOMEM, NULL, "normalized spec");
	}
	if (rc == FITD_OK) {
		in.dataset_id = json_string_value(json_object_get(normalized, "dataset"));
		in.target = json_string_value(json_object_get(normalized, "target"));
		in.task = json_string_value(json_object_get(normalized, "task"));
		in.metric = json_string_value(json_object_get(normalized, "metric"));
		in.max_attempts = json_integer_value(
		    json_object_get(json_object_get(normalized, "search"), "max_attempts"));
		in.spec_json = spec_text;
		in.owner = req->token[0] ? req->token : NULL;
		in.max_owner_active = req->srv->opt.max_jobs_per_token;
		rc = store_job_create(req->srv->store, &in, &job, &existed, &err);
	}
	if (rc == FITD_OK) {
		if (!existed)
			fitd_log_info("job_created", "id=%s dataset=%s target=\"%s\"%s%s", job.id,
				      job.dataset_id, job.target, in.owner ? " owner=" : "",
				      in.owner ? in.owner : "");
		api__reply_json(req, 201, job_json(&job));
		if (existed && req->response != NULL)
			MHD_add_response_header(req->response, "Idempotent-Replayed", "true");
		store_job_release(&job);
		if (req->srv->opt.notify != NULL)
			req->srv->opt.notify(req->srv->opt.notify_data);
	} else {
		api__reply_error(req, &err);
	}
	free(spec_text);
	json_decref(normalized);
	json_decref(body);
	worker_spec_free(spec);
}

/*
 * How the job's time went, per model family: {"gbdt": {"trials", "seconds",
 * "best_score"}, ...} over its finished trials; NULL with err set.
 */
static json_t *families_json(struct api__request *req, const struct store_job *j,
			     struct fitd_error *err)
{
	enum fit_metric metric = FIT_METRIC_ACCURACY;
	struct store_family *f = NULL;
	json_t *obj;
	size_t n = 0;

	fit_metric_parse(j->metric, &metric);
	if (store_trial_families(req->srv->store, j->id, fit_metric_higher_is_better(metric), &f,
				 &n, err) != FITD_OK)
		return NULL;
	obj = json_object();
	for (size_t i = 0; obj != NULL && i < n; i++)
		json_object_set_new(obj, f[i].model,
				    json_pack("{s:I, s:f, s:o}", "trials", (json_int_t)f[i].trials,
					      "seconds", (double)f[i].duration_ms / 1000.0,
					      "best_score",
					      f[i].has_best ? json_real(f[i].best) : json_null()));
	free(f);
	if (obj == NULL)
		fitd_error_set(err, FITD_ENOMEM, NULL, "family summary");
	return obj;
}

void api__jobs_get(struct api__request *req)
{
	struct fitd_error err = { 0 };
	struct store_job job;
	json_t *doc, *families;

	if (!api__job_id_param(req))
		return;
	if (store_job_get(req->srv->store, req->params[0], &job, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	families = families_json(req, &job, &err);
	doc = families != NULL ? job_json(&job) : NULL;
	if (families == NULL) {
		api__reply_error(req, &err);
	} else if (doc == NULL) {
		json_decref(families);
		api__reply_oom(req);
	} else if (json_object_set_new(doc, "families", families) != 0) {
		json_decref(doc);
		api__reply_oom(req);
	} else {
		api__reply_json(req, 200, doc);
	}
	store_job_release(&job);
}

void api__jobs_list(struct api__request *req)
{
	const char *state = api__query(req, "state");
	struct store_job *items = NULL;
	struct fitd_error err = { 0 };
	const char *after;
	size_t limit, n;
	int st = -1;
	bool more;
	json_t *arr;

	if (!api__page_params(req, &limit, &after))
		return;
	if (state != NULL && (st = store_job_state_parse(state)) < 0) {
		api__reply_fail(req, 400, "invalid_parameter",
				"state must be queued, running, succeeded, failed or cancelled");
		return;
	}
	if (store_job_list(req->srv->store, st, after, limit, &items, &n, &more, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, job_json(&items[i]));
	api__reply_json(req, 200,
			json_pack("{s:o, s:o}", "items", arr, "next_after",
				  more && n > 0 ? json_string(items[n - 1].id) : json_null()));
	for (size_t i = 0; i < n; i++)
		store_job_release(&items[i]);
	free(items);
}

void api__jobs_cancel(struct api__request *req)
{
	struct fitd_error err = { 0 };
	struct store_job job;

	if (!api__job_id_param(req))
		return;
	if (store_job_cancel(req->srv->store, req->params[0], &job, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fitd_log_info("job_cancel_requested", "id=%s", job.id);
	api__reply_json(req, 202, job_json(&job));
	store_job_release(&job);
	if (req->srv->opt.notify != NULL)
		req->srv->opt.notify(req->srv->opt.notify_data);
	api_events_notify(req->srv, req->params[0]);
}

static json_t *trial_json(const struct store_trial *t)
{
	json_t *result = parse_or_null(t->result);
	json_t *o = json_pack("{s:I, s:s, s:o, s:I, s:I, s:I, s:o, s:o}", "trial",
			      (json_int_t)t->idx, "state", store_trial_state_name(t->state),
			      "params", parse_or_null(t->params), "attempt", (json_int_t)t->attempt,
			      "epochs", (json_int_t)t->epochs, "duration_ms",
			      (json_int_t)t->duration_ms, "started_at", time_or_null(t->started_at),
			      "finished_at", time_or_null(t->finished_at));

	json_object_set_new(o, "score", t->has_score ? json_real(t->score) : json_null());
	json_object_set_new(o, "score_std", t->has_score ? json_real(t->score_std) : json_null());
	json_object_set(o, "fold_scores",
			json_is_object(result) ? json_object_get(result, "fold_scores")
					       : json_null());
	/* Several nodes on one database: the node that ran it (fitd --node). */
	if (json_is_string(json_object_get(result, "node")))
		json_object_set(o, "node", json_object_get(result, "node"));
	json_decref(result);
	json_object_set_new(o, "error",
			    t->error_code
				? json_pack("{s:s, s:s}", "code", t->error_code, "message",
					    t->error_message ? t->error_message : "")
				: json_null());
	return o;
}

/* ?offset= as a count of entries to skip; false after replying 400. */
static bool offset_param(struct api__request *req, size_t *offset)
{
	const char *v = api__query(req, "offset");
	char *end;
	unsigned long long n;

	*offset = 0;
	if (v == NULL)
		return true;
	n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || n > 100000000) {
		api__reply_fail(req, 400, "invalid_parameter", "offset must be an integer >= 0");
		return false;
	}
	*offset = (size_t)n;
	return true;
}

void api__jobs_trials(struct api__request *req)
{
	struct store_trial *items = NULL;
	struct fitd_error err = { 0 };
	enum fit_metric metric = FIT_METRIC_ACCURACY;
	struct store_job job;
	size_t limit, offset, n;
	const char *after;
	bool more;
	json_t *arr;

	if (!api__job_id_param(req) || !api__page_params(req, &limit, &after) ||
	    !offset_param(req, &offset))
		return;
	if (store_job_get(req->srv->store, req->params[0], &job, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fit_metric_parse(job.metric, &metric);
	store_job_release(&job);
	if (store_trial_board(req->srv->store, req->params[0], fit_metric_higher_is_better(metric),
			      offset, limit, &items, &n, &more, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *t = trial_json(&items[i]);

		json_object_set_new(t, "rank", json_integer((json_int_t)(offset + i + 1)));
		json_array_append_new(arr, t);
		store_trial_release(&items[i]);
	}
	free(items);
	api__reply_json(req, 200,
			json_pack("{s:o, s:o}", "items", arr, "next_offset",
				  more ? json_integer((json_int_t)(offset + n)) : json_null()));
}

void api__jobs_delete(struct api__request *req)
{
	struct store_job_deletion del = { 0 };
	struct fitd_error err = { 0 };
	json_t *kept;

	if (!api__job_id_param(req))
		return;
	if (store_job_delete(req->srv->store, req->params[0], &del, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fitd_log_info("job_deleted", "id=%s models_deleted=%zu models_kept=%zu", req->params[0],
		      del.models_deleted, del.nkept);
	/* Event streams still replaying the job end now (events.c). */
	api_events_notify(req->srv, req->params[0]);
	kept = json_array();
	for (size_t i = 0; i < del.nkept; i++)
		json_array_append_new(kept, json_string(del.kept[i]));
	api__reply_json(req, 200,
			json_pack("{s:s, s:b, s:I, s:o}", "id", req->params[0], "deleted", 1,
				  "models_deleted", (json_int_t)del.models_deleted, "models_kept",
				  kept));
	store_job_deletion_release(&del);
}
