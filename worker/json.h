/*
 * json.h - small jansson helpers that the worker's documents (models,
 * trials, predictions) and the API's answers share. Nothing here knows
 * what a model is; any library that already uses jansson may include it.
 */
#ifndef WORKER_JSON_H
#define WORKER_JSON_H

#include <jansson.h>

/*
 * Appends v (the reference is stolen) to the array a and returns a; when
 * that fails, frees a and returns NULL, so a loop of appends ends with the
 * whole array or nothing: `a = worker_json_append(a, json_real(x));`.
 * a and v may be NULL (a failed json_array() or json_real()): the result
 * is then NULL and whatever was not NULL is freed. Any thread.
 */
json_t *worker_json_append(json_t *a, json_t *v);

#endif
