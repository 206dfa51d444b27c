/* The chunk store server (`lampy store`): a file store served over HTTP.
 *
 *     GET    /status        200 "ready" (as an OpenLambda worker answers)
 *     GET    /chunks/KEY    the chunk's bytes (header + data); Range: bytes=a-b | a- | -n
 *                           gives 206 with Content-Range, or 416 when nothing of it exists
 *     HEAD   /chunks/KEY    as GET, without the body
 *     PUT    /chunks/KEY    body = a chunk; 201 once its header and checksum are verified and it
 *                           is renamed into place; nothing is visible before that, and nothing is
 *                           left when the upload fails or the client goes away
 *     DELETE /chunks/KEY    204
 *
 * Errors are JSON {"error": "..."}: 400 bad key or malformed chunk, 404 missing, 405 other
 * methods (with Allow), 413 too large (judged from Content-Length before the body is read),
 * 416 bad range, 500 I/O. Keys follow lpi_store_key_valid; the URL is not percent-decoded, so
 * an escaped key is simply invalid. Files live below --dir only (see store/file.c). */
#ifndef LP_STORESRV_H
#define LP_STORESRV_H

#include "core/core.h"

typedef struct lpi_storesrv lpi_storesrv;

typedef struct lpi_storesrv_opts {
    const char *dir;             /* store directory (created if missing) */
    const char *bind;            /* NULL = "127.0.0.1" */
    unsigned port;               /* 0 = any free port */
    uint64_t max_chunk_bytes;    /* data bytes per chunk; 0 = LPI_STORE_DEFAULT_MAX_CHUNK */
    unsigned threads;            /* polling threads; 0 = max(4, 2 x cores) */
    struct lpi_key *key;         /* requests must be signed with it (server/http.h); NULL = none */
    unsigned per_client, request_timeout_sec; /* server/http.h; 0 = its defaults */
    const char *tls_cert, *tls_key; /* PEM files: HTTPS */
} lpi_storesrv_opts;

lp_status lpi_storesrv_start(lp_ctx *ctx, const lpi_storesrv_opts *opts, lpi_storesrv **out);
unsigned lpi_storesrv_port(const lpi_storesrv *srv);
const char *lpi_storesrv_url(const lpi_storesrv *srv);
/* Graceful: stop accepting, let uploads in flight finish (a few seconds at most), free. */
void lpi_storesrv_stop(lpi_storesrv *srv);


#endif
