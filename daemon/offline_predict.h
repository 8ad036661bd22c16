/*
 * offline_predict.h - `fitd predict`: scores a CSV file offline with a
 * model file, through the same code as POST /v1/models/{id}/predict (which
 * lives in worker/predict.h; this is only the command around it). Given a
 * model id instead of a file, it hands over to the client
 * (client_predict_remote), which prints the daemon's answer with
 * offline_predict_write_csv() so both paths print alike.
 */
#ifndef DAEMON_OFFLINE_PREDICT_H
#define DAEMON_OFFLINE_PREDICT_H

#include <jansson.h>
#include <stdio.h>

/* argv[0] is "predict". Returns the process exit status. */
int offline_predict_main(int argc, char **argv);

/*
 * Writes a predictions answer ({"predictions", "classes"?, "probabilities"?})
 * as CSV: a header, then one line per row.
 */
void offline_predict_write_csv(FILE *f, const json_t *res);

#endif
