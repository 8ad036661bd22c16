/*
 * model_json.h - a trained model as self-contained, versioned JSON and back.
 *
 * The document holds everything needed to predict: the parameters, the
 * preprocessing of every input column (with its features' training means,
 * the baseline of explanations), the layers' weights or, for gbdt, the
 * trees ("trees") and the columns they split by name, type and levels, and
 * the class names, plus the fit report. A document without the means (from
 * before fitd kept them) still loads; its explanations take every mean as
 * 0. The version stays 1: every key added since is one an older reader
 * ignores, and an older reader refuses a gbdt model by its unknown name. Doubles are written with 17 significant
 * digits, so a model read back predicts bit-identically. Callers may add
 * keys of their own (metrics, explanations, provenance) to the object;
 * reading ignores keys it does not know.
 *
 * An ensemble (worker/fit/ensemble.h) is written as {"format", "version",
 * "kind": "ensemble", "task", "target", "classes", "members": [{"weight",
 * "model": a member's own document}, ...]}; reading rebuilds every member
 * and then the ensemble. An older reader refuses it (no "params").
 */
#ifndef WORKER_MODEL_JSON_H
#define WORKER_MODEL_JSON_H

#include <jansson.h>

#include "worker/fit/model.h"

#define WORKER_MODEL_FORMAT  "fitd-model"
#define WORKER_MODEL_VERSION 1

/* A new JSON object describing m (the caller owns the reference); NULL when memory runs out. */
json_t *worker_model_to_json(const struct fit_model *m);

/*
 * Rebuilds a model from a document made by worker_model_to_json(). Fails with
 * FITD_EFORMAT naming the first bad field, or FITD_EUNPROCESSABLE for a newer
 * format version.
 */
int worker_model_from_json(const json_t *doc, struct fit_model **out, struct fitd_error *err);

#endif
