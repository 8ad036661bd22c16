/*
 * json.c - the jansson helpers of json.h.
 */
#include "worker/json.h"

json_t *worker_json_append(json_t *a, json_t *v)
{
	if (json_array_append_new(a, v) == 0)
		return a;
	json_decref(a);
	return NULL;
}
