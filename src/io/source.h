/*
 * source.h — where array bytes live. One interface for every place Lampy reads or writes data:
 *
 *     /abs/or/relative/path   file:///abs/path      a local file (pread; temp file + rename)
 *     http://host[:port]/p    https://...            any HTTP server with Range (libcurl)
 *     s3://bucket/key                                the S3 API, AWS Signature V4 (libcurl),
 *                                                    endpoint/region/credentials from the
 *                                                    standard AWS variables and ~/.aws files
 *
 * Readers open an object (which records its size and version: inode + mtime for a file, ETag
 * or Last-Modified for HTTP and S3) and read byte ranges of it. Remote reads are retried with
 * backoff on 5xx answers and dropped connections, checked against the object's size, and any
 * answer that shows another version of the object (a different ETag, size or Content-Range
 * total) is an error naming the object, never wrong numbers. A server that ignores Range and
 * answers 200 with the whole body is read correctly (the bytes before the range are skipped and
 * the transfer stopped after it).
 *
 * Writers (sinks) take bytes in order and publish the object atomically on commit: a file is
 * written to a temp file beside it and renamed; S3 objects up to one part are one PUT, larger
 * ones a multipart upload (aborted on failure); http(s) URLs get one PUT.
 *
 * Every function takes the caller's context for its message; sources are safe to read from
 * many threads at once.
 */
#ifndef LP_IO_SOURCE_H
#define LP_IO_SOURCE_H

#include "core/core.h"

typedef enum lpi_loc_kind {
    LPI_LOC_FILE = 0,
    LPI_LOC_HTTP = 1,     /* http:// and https:// */
    LPI_LOC_S3 = 2,
} lpi_loc_kind;

/* What kind of location a string names (a string without a scheme is a file path; file://
 * URLs are file paths too). */
lpi_loc_kind lpi_loc_kind_of(const char *url);
/* The path of a file location (after "file://"), else NULL. */
const char *lpi_loc_file_path(const char *url);
/* The URL without its user information (http://user:TOKEN@host/p -> http://host/p), for
 * messages: credentials in a URL never reach an error message. Returns url or buf. */
const char *lpi_loc_redact(const char *url, char *buf, size_t cap);
/* url + "/" + key (no doubled '/'); a new string (lp_free) or NULL when out of memory. */
char *lpi_loc_join(const char *url, const char *key);

/* The version of an object: a change between two opens is detected by comparing these. */
typedef struct lpi_objid {
    int64_t size;
    char tag[96];         /* file: "ino:mtime_ns"; remote: the ETag, else Last-Modified, else "" */
} lpi_objid;

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct lpi_src lpi_src;

/* Open an object for reading: LP_ERR_NOTFOUND when it does not exist, LP_ERR_IO for anything
 * else that went wrong (the message names the URL and says what). */
lp_status lpi_src_open(lp_ctx *ctx, const char *url, lpi_src **out);
/* Open, and fail with LP_ERR_IO "...: changed since it was opened" unless the object is still
 * the version `want` (a run re-opens what lp_load saw). */
lp_status lpi_src_reopen(lp_ctx *ctx, const char *url, const lpi_objid *want, lpi_src **out);
void lpi_src_close(lpi_src *s);                 /* NULL is allowed */
const lpi_objid *lpi_src_id(const lpi_src *s);
const char *lpi_src_name(const lpi_src *s);     /* the URL, for messages */
lpi_loc_kind lpi_src_kind(const lpi_src *s);

/* Read exactly n bytes at offset off; the range must lie inside the object. */
lp_status lpi_src_read(lp_ctx *ctx, lpi_src *s, int64_t off, size_t n, void *dst);
/* Bytes moved from the object by reads so far, including the gaps read to merge nearby ranges
 * and what a server that ignored Range sent before the range. */
int64_t lpi_src_bytes(const lpi_src *s);
/* Two ranges this close are cheaper to read as one span (a page for files; for remote objects
 * what a request costs in transferred bytes). */
int64_t lpi_src_merge_gap(const lpi_src *s);

/* A whole small object (metadata, a compressed chunk): *data (lp_free) receives its n bytes.
 * LP_ERR_NOTFOUND when missing; LP_ERR_LIMIT when larger than max. *moved (may be NULL) is
 * increased by the bytes transferred. */
lp_status lpi_io_get(lp_ctx *ctx, const char *url, size_t max, void **data, size_t *n, int64_t *moved);
/* Does the object exist? (LP_OK with *out false when it does not; errors for everything else.) */
lp_status lpi_io_exists(lp_ctx *ctx, const char *url, bool *out);
/* Is it a local directory? (false for remote URLs) */
bool lpi_io_is_dir(const char *url);

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct lpi_sink lpi_sink;

/* Start writing an object; nothing is visible until commit. make_dirs creates the missing
 * parent directories of a file (Zarr stores); remote stores have no directories. */
lp_status lpi_sink_open(lp_ctx *ctx, const char *url, bool make_dirs, lpi_sink **out);
lp_status lpi_sink_write(lp_ctx *ctx, lpi_sink *k, const void *data, size_t n);
/* Publish the object (atomically) and free the sink, also on failure. */
lp_status lpi_sink_commit(lp_ctx *ctx, lpi_sink *k);
/* Drop everything written (a multipart upload is aborted) and free; NULL is allowed. */
void lpi_sink_abort(lpi_sink *k);
/* A whole object in one call. */
lp_status lpi_io_put(lp_ctx *ctx, const char *url, bool make_dirs, const void *data, size_t n);

/* ---- the backends (io/file.c, io/http.c, io/s3.c); used by source.c ----------------------- */

typedef struct lpi_src_ops {
    lp_status (*read)(lp_ctx *ctx, lpi_src *s, int64_t off, size_t n, void *dst);
    void (*close)(lpi_src *s);
} lpi_src_ops;

struct lpi_src {
    const lpi_src_ops *ops;
    lpi_loc_kind kind;
    char *name;
    lpi_objid id;
    atomic_llong moved;
};

typedef struct lpi_sink_ops {
    lp_status (*write)(lp_ctx *ctx, lpi_sink *k, const void *data, size_t n);
    lp_status (*commit)(lp_ctx *ctx, lpi_sink *k); /* does not free */
    void (*abort)(lpi_sink *k);                    /* does not free */
} lpi_sink_ops;

struct lpi_sink {
    const lpi_sink_ops *ops;
    char *name;
};

lp_status lpi_file_src_open(lp_ctx *ctx, const char *path, const char *name, lpi_src **out);
lp_status lpi_file_sink_open(lp_ctx *ctx, const char *path, bool make_dirs, lpi_sink **out);
lp_status lpi_http_src_open(lp_ctx *ctx, const char *url, lpi_src **out);
lp_status lpi_http_sink_open(lp_ctx *ctx, const char *url, lpi_sink **out);
lp_status lpi_s3_src_open(lp_ctx *ctx, const char *url, lpi_src **out);
lp_status lpi_s3_sink_open(lp_ctx *ctx, const char *url, lpi_sink **out);
/* Whole-object GET for http(s) and s3 (io/http.c); LP_ERR_NOTFOUND on 404. */
lp_status lpi_remote_get(lp_ctx *ctx, const char *url, size_t max, void **data, size_t *n, int64_t *moved);

#endif
