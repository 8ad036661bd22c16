/*
 * aliases.c - /v1/aliases: names that point at a model (store/aliases.c),
 * and predictions through them.
 *
 * PUT /v1/aliases/{name} with {"model": "mdl_…"} creates (201) or switches
 * (200) an alias in one commit. POST /v1/aliases/{name}/predict reads the
 * alias, then predicts as POST /v1/models/{id}/predict does, adding the
 * model that answered (a Fitd-Model header and "model" in the body). A
 * switch during a prediction is harmless: the prediction holds the model it
 * read. Should that model be deleted between the read and the load (its
 * job went and the alias let go of it), the alias is read again, a few
 * times at most, so a prediction through an alias that always points at a
 * model never fails.
 */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"

#define PREDICT_TRIES 3

/* Replies 400 and returns false unless the {name} param is a valid alias name. */
static bool name_param(struct api__request *req)
{
	if (store_alias_name_valid(req->params[0]))
		return true;
	api__reply_fail(req, 400, "invalid_name",
			"'%.64s' is not an alias name: 1 to %d of a-z 0-9 . _ -, starting with a "
			"letter or digit",
			req->params[0], STORE_ALIAS_NAME_MAX);
	return false;
}

static json_t *alias_json(const struct store_alias *a)
{
	char created[32], updated[32];

	api__format_time(a->created_at, created);
	api__format_time(a->updated_at, updated);
	return json_pack("{s:s, s:s, s:s, s:s}", "name", a->name, "model", a->model_id,
			 "created_at", created, "updated_at", updated);
}

void api__aliases_get(struct api__request *req)
{
	struct fitd_error err = { 0 };
	struct store_alias a;

	if (!name_param(req))
		return;
	if (store_alias_get(req->srv->store, req->params[0], &a, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	api__reply_json(req, 200, alias_json(&a));
}

void api__aliases_list(struct api__request *req)
{
	struct store_alias *items = NULL;
	struct fitd_error err = { 0 };
	const char *after;
	size_t limit, n;
	bool more;
	json_t *arr;

	if (!api__page_params(req, &limit, &after))
		return;
	if (store_alias_list(req->srv->store, after, limit, &items, &n, &more, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, alias_json(&items[i]));
	api__reply_json(req, 200,
			json_pack("{s:o, s:o}", "items", arr, "next_after",
				  more && n > 0 ? json_string(items[n - 1].name) : json_null()));
	free(items);
}

/* The model id of a PUT body {"model": "mdl_…"}; NULL after replying 400 or 422. */
static const char *body_model(struct api__request *req, json_t *body)
{
	json_t *model = json_object_get(body, "model");
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "model") != 0) {
			api__reply_fail(req, 400, "unknown_field",
					"'%.64s' is not a field of an alias; send {\"model\": "
					"\"mdl_…\"}",
					key);
			return NULL;
		}
	}
	if (model == NULL)
		api__reply_fail(req, 422, "missing_field", "model: a model id is required");
	else if (!json_is_string(model))
		api__reply_fail(req, 400, "wrong_type", "model must be a model id string");
	return json_string_value(model);
}

void api__aliases_put(struct api__request *req)
{
	struct fitd_error err = { 0 };
	char previous[STORE_ID_MAX];
	struct store_alias a;
	const char *model;
	bool created = false;
	json_t *body, *out;

	if (!name_param(req) || (body = api__body_object(req)) == NULL)
		return;
	model = body_model(req, body);
	if (model != NULL && store_alias_set(req->srv->store, req->params[0], model, &a, &created,
					     previous, &err) != FITD_OK)
		api__reply_error(req, &err);
	else if (model != NULL) {
		fitd_log_info("alias_set", "name=%s model=%s previous=%s", a.name, a.model_id,
			      previous[0] ? previous : "none");
		out = alias_json(&a);
		json_object_set_new(out, "previous",
				    previous[0] ? json_string(previous) : json_null());
		api__reply_json(req, created ? 201 : 200, out);
	}
	json_decref(body);
}

void api__aliases_delete(struct api__request *req)
{
	struct fitd_error err = { 0 };
	struct store_alias a;

	if (!name_param(req))
		return;
	if (store_alias_delete(req->srv->store, req->params[0], &a, &err) != FITD_OK) {
		api__reply_error(req, &err);
		return;
	}
	fitd_log_info("alias_deleted", "name=%s model=%s", a.name, a.model_id);
	api__reply_json(
	    req, 200,
	    json_pack("{s:s, s:s, s:b}", "name", a.name, "model", a.model_id, "deleted", 1));
}

void api__aliases_predict(struct api__request *req)
{
	struct fitd_error err = { 0 };
	struct store_alias a;
	json_t *extra;
	int rc = FITD_ENOTFOUND;

	if (!name_param(req))
		return;
	for (int i = 0; i < PREDICT_TRIES && rc == FITD_ENOTFOUND; i++) {
		if (store_alias_get(req->srv->store, req->params[0], &a, &err) != FITD_OK) {
			api__reply_error(req, &err);
			return;
		}
		extra = json_pack("{s:s, s:s}", "alias", a.name, "model", a.model_id);
		if (extra == NULL) {
			api__reply_oom(req);
			return;
		}
		rc = api__predict_with(req, a.model_id, i + 1 < PREDICT_TRIES, extra);
		json_decref(extra);
	}
}
