/*
 * predict.h - `fitd predict`: scores a CSV file offline with a model file,
 * through the same code as POST /v1/models/{id}/predict.
 */
#ifndef DAEMON_PREDICT_H
#define DAEMON_PREDICT_H

#include <jansson.h>
#include <stdio.h>

/* argv[0] is "predict". Returns the process exit status. */
int predict_main(int argc, char **argv);

/*
 * Writes a predictions answer ({"predictions", "classes"?, "probabilities"?})
 * as CSV: a header, then one line per row.
 */
void predict_write_csv(FILE *f, const json_t *res);

#endif
