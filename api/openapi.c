/*
 * openapi.c - GET /v1/openapi.json: the OpenAPI description of the HTTP
 * contract, api/openapi.json as it was when the binary was built (api/embed.py
 * turns it into a byte array at build time). Open to everyone and served
 * while starting, so clients and tools can read it before anything else.
 */
#include "api/internal.h"

extern const unsigned char api__openapi_json[];
extern const size_t api__openapi_json_len;

void api__openapi_get(struct api__request *req)
{
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	req->response = MHD_create_response_from_buffer(
	    api__openapi_json_len, (void *)api__openapi_json, MHD_RESPMEM_PERSISTENT);
	if (req->response == NULL) {
		api__reply_oom(req);
		return;
	}
	MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	req->status = 200;
}
