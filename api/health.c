/*
 * health.c - liveness and readiness.
 *
 * /healthz answers 200 while the process serves at all; /readyz only once
 * the store is open and recovery is done (the daemon flips the flag), so a
 * load balancer or systemd can tell "alive" from "able to take work".
 */
#include "api/internal.h"

void api_health_get(struct api_request *req)
{
	api_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void api_ready_get(struct api_request *req)
{
	if (atomic_load(&req->srv->ready))
		api_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
	else
		api_reply_json(
		    req, 503,
		    json_pack("{s:s}", "status",
			      atomic_load(&req->srv->stopping) ? "stopping" : "starting"));
}
