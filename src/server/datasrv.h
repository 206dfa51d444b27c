/* The data server (`lampy serve`): read-only remote access to a directory of datasets (.npy
 * files and Zarr v3 arrays), the http(s) source of io/source.h on the other side.
 *
 *     GET  /            JSON listing: {"format": "lampy.datasets", "version": 1, "arrays": [
 *                         {"path": "x.npy", "format": "npy", "dtype": "float64", "shape": [..],
 *                          "order": "C", "bytes": N}, {"path": "d/y.zarr", "format": "zarr", ...}]}
 *     GET  /KEY         the file's bytes; Range: bytes=a-b | a- | -n gives 206 (416 when nothing
 *                       of it exists); ETag and Last-Modified name the file's version
 *     HEAD /KEY         as GET, without the body
 *     GET  /status      "ready"
 *
 * Keys are relative paths of [A-Za-z0-9._-/] (no '.' or '..' component, at most 1024 bytes;
 * the URL is not percent-decoded) that resolve, links followed, to a regular file below the
 * directory. With a token, every request but /status must carry it: "Authorization: Bearer
 * TOKEN", or HTTP Basic with the token as the password (a URL http://:TOKEN@host/...), else 401.
 * Other methods are 405. The server keeps serving after any bad request. */
#ifndef LP_DATASRV_H
#define LP_DATASRV_H

#include "core/core.h"

typedef struct lpi_datasrv lpi_datasrv;

typedef struct lpi_datasrv_opts {
    const char *dir;             /* the directory served (must exist) */
    const char *bind;            /* NULL = "127.0.0.1" */
    unsigned port;               /* 0 = any free port */
    const char *token;           /* NULL or "" = none */
    unsigned threads;            /* polling threads; 0 = max(4, 2 x cores) */
} lpi_datasrv_opts;

lp_status lpi_datasrv_start(lp_ctx *ctx, const lpi_datasrv_opts *opts, lpi_datasrv **out);
const char *lpi_datasrv_url(const lpi_datasrv *srv);
void lpi_datasrv_stop(lpi_datasrv *srv);

#endif
