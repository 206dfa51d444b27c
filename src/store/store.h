/*
 * store.h — the chunk store: where tasks that run in other processes (HTTP workers) find their
 * inputs and leave their outputs. One interface, four backends chosen by URL:
 *
 *     mem://            a private in-process hash map (tests, the local executor)
 *     mem://NAME        an in-process map shared by every open of the same NAME
 *     file:///abs/dir   one file per chunk below a directory (file://relative/dir also works)
 *     redis://[[user]:pass@]host[:port][/db]   one string value per chunk (hiredis)
 *     http://host:port  Lampy's store server, `lampy store` (libcurl, keep-alive)
 *
 * Usage:
 *
 *     lpi_store *s;  lp_buffer *b;
 *     if (lpi_store_open(ctx, "redis://127.0.0.1:6379/0", &s) != LP_OK) return lp_last_status(ctx);
 *     lpi_store_put(ctx, s, "job7/a/0.0", LP_FLOAT64, 2, shape, data, nbytes);
 *     lpi_store_get(ctx, s, "job7/a/0.0", &b);          // verified: header and checksum
 *     ...
 *     lp_buffer_release(b);  lpi_store_close(s);
 *
 * A chunk is a fixed 96-byte header followed by the data, the same bytes on every backend and on
 * the wire (a file of the file backend is exactly the body of an HTTP PUT and the Redis value):
 *
 *     off  size  field
 *       0     4  magic "LPCK"
 *       4     2  version (1)
 *       6     1  dtype (lp_dtype number)
 *       7     1  ndim (0..8)
 *       8    64  shape[8], int64; entries past ndim are 0
 *      72     8  nbytes of data = prod(shape) * itemsize
 *      80     8  XXH3-64 of the data
 *      88     8  XXH3-64 of header bytes [0, 88)
 *      96        data, C order
 *
 * Integers are little-endian; so is the data (Lampy supports little-endian hosts only). The
 * header hash catches corruption that would leave the fields consistent (two dims swapped).
 *
 * Every operation takes the caller's context for its error message (NULL is allowed: the status
 * is still returned) and is safe to call from many threads at once on one store. Messages name
 * the chunk: "chunk job7/a/0.0: checksum mismatch (stored 0x..., computed 0x...)".
 */
#ifndef LP_STORE_H
#define LP_STORE_H

#include "core/core.h"

#define LPI_CHUNK_MAGIC "LPCK"
#define LPI_CHUNK_VERSION 1
#define LPI_CHUNK_HDR_SIZE 96
#define LPI_STORE_KEY_MAX 200
/* Default largest chunk (data bytes) a store accepts or reads; see lpi_store_set_max_chunk_bytes. */
#define LPI_STORE_DEFAULT_MAX_CHUNK ((uint64_t)1 << 30)

typedef struct lpi_store lpi_store;

/* What a chunk header says. */
typedef struct lpi_chunk_info {
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_NDIM];
    uint64_t nbytes;     /* data bytes, without the header */
    uint64_t checksum;   /* XXH3-64 of the data */
} lpi_chunk_info;

/* ---- opening ---------------------------------------------------------------------------- */

/* Open a store by URL (see the top of this file). file:// creates the directory if missing.
 * redis:// and http:// connect lazily: open checks the URL, the first operation connects. */
lp_status lpi_store_open(lp_ctx *ctx, const char *url, lpi_store **out);
/* Close and free; pending operations on other threads must have returned. NULL is allowed.
 * A named mem:// map lives until its last store is closed. */
void lpi_store_close(lpi_store *s);
/* The URL the store was opened with. */
const char *lpi_store_url(const lpi_store *s);
/* Largest chunk (data bytes) put accepts and get/head read; checked before anything is
 * allocated. Default LPI_STORE_DEFAULT_MAX_CHUNK. Set it before sharing the store with threads. */
void lpi_store_set_max_chunk_bytes(lpi_store *s, uint64_t max_bytes);
uint64_t lpi_store_max_chunk_bytes(const lpi_store *s);
/* http(s):// stores: sign every request with key (a reference is kept; NULL = unsigned) and
 * verify the server's certificate against the PEM bundle ca_file (NULL = the system's). Other
 * backends ignore both. Set before sharing the store with threads. */
struct lpi_key;
lp_status lpi_store_set_auth(lp_ctx *ctx, lpi_store *s, struct lpi_key *key, const char *ca_file);

/* A store's identity: its URL without credentials, with defaults filled in and the host in
 * lower case ("redis://host:6379/0", "http://host:80/path", file:// and mem:// as given
 * without trailing '/'). Two URLs name the same store exactly when these are equal; workers
 * match the stores a batch names against their allow-list this way. false: not a store URL
 * (or longer than cap). */
bool lpi_store_url_canon(const char *url, char *out, size_t cap);

/* ---- operations ------------------------------------------------------------------------- */

/* Store a chunk atomically: a reader sees the old chunk, the new one, or none, never a part.
 * (file: temp file + rename; redis: one SET of header+data; http: one PUT the server checks
 * before making it visible; mem: swap under a lock.) Replaces an existing chunk. nbytes must
 * equal prod(shape) * itemsize. The data is copied; the caller keeps it. */
lp_status lpi_store_put(lp_ctx *ctx, lpi_store *s, const char *key, lp_dtype dtype, int ndim,
                        const int64_t *shape, const void *data, size_t nbytes);
/* Same, from a buffer. */
lp_status lpi_store_put_buffer(lp_ctx *ctx, lpi_store *s, const char *key, const lp_buffer *buf);

/* Read a whole chunk. *out receives a NEW reference. The header is checked (magic, version,
 * header hash, dtype, ndim, shape * itemsize == nbytes, stored size == 96 + nbytes, nbytes within
 * the limit) before the data is allocated, and the data's XXH3 is checked after:
 * LP_ERR_NOTFOUND (no such chunk), LP_ERR_FORMAT (malformed or checksum mismatch), LP_ERR_LIMIT.
 * mem:// hands out the stored buffer itself (no copy): it is shared (refcount > 1), so treat it
 * as read-only unless lp_buffer's refcount says you hold the only reference. */
lp_status lpi_store_get(lp_ctx *ctx, lpi_store *s, const char *key, lp_buffer **out);

/* Copy data bytes [byte_off, byte_off + nbytes) of a chunk (offsets into the data, not counting
 * the header) into dst. Reads only those bytes (HTTP Range, Redis GETRANGE, pread). The range
 * must lie inside the data (LP_ERR_VALUE otherwise). The checksum covers the whole data, so a
 * partial read CANNOT be verified: a caller that needs integrity reads the chunk with get. */
lp_status lpi_store_get_range(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t byte_off,
                              size_t nbytes, void *dst);

/* The header of a chunk (checked as in get, data not read, checksum not verified). */
lp_status lpi_store_head(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out);

/* Remove a chunk. LP_ERR_NOTFOUND if there is none (cleanup code may ignore that status).
 * The file backend also removes the directories of nested keys that become empty (a concurrent
 * put below one of them makes it again). */
lp_status lpi_store_del(lp_ctx *ctx, lpi_store *s, const char *key);

/* A put of a run's chunk. guard (may be NULL): the put happens only while that key exists,
 * atomically with the check (redis: one script; other backends cannot check and write
 * unconditionally); LP_ERR_CANCELLED when the guard is gone: the run the chunk belonged to is
 * over, and writing it would leave garbage. ttl_sec > 0: the value expires that long after the
 * put, set in the same command, so it never exists without its expiry (redis; other backends
 * cannot expire values and ignore it): a chunk whose run could not delete it is removed by the
 * store itself. */
lp_status lpi_store_put_guarded(lp_ctx *ctx, lpi_store *s, const char *key, const lp_buffer *buf,
                                const char *guard, double ttl_sec);
/* Create a small marker value under key that expires after ttl_sec (redis; a no-op elsewhere):
 * the guard of a run's guarded puts. */
lp_status lpi_store_mark(lp_ctx *ctx, lpi_store *s, const char *key, double ttl_sec);
/* Remove every value whose key starts with prefix + "/" (redis: SCAN + DEL; file: the directory
 * tree; a no-op for http and mem). */
lp_status lpi_store_del_prefix(lp_ctx *ctx, lpi_store *s, const char *prefix);

/* *out = whether a chunk (or, for foreign data, any value) is stored under key. */
lp_status lpi_store_exists(lp_ctx *ctx, lpi_store *s, const char *key, bool *out);

/* ---- keys ------------------------------------------------------------------------------- */

/* THE key rule, for every backend and the store server: 1..200 characters from
 * [A-Za-z0-9._/-]; '/' separates components; no leading or trailing '/', no empty component,
 * no "." or ".." component. Keys never need escaping in a URL, a path or a Redis command.
 * On false, *why (if not NULL) receives a static reason. */
bool lpi_store_key_valid(const char *key, const char **why);
/* The same check with the message on ctx: LP_ERR_VALUE "invalid chunk key "a/../b": ...". */
lp_status lpi_store_key_check(lp_ctx *ctx, const char *key);

/* ---- the chunk format (shared by the backends and the store server) ---------------------- */

/* Encode info as a header (no validation: tests use it to craft bad headers). */
void lpi_chunk_header_encode(const lpi_chunk_info *info, uint8_t out[LPI_CHUNK_HDR_SIZE]);
/* Decode and check a header: LP_ERR_FORMAT with "chunk KEY: ..." when malformed, LP_ERR_LIMIT
 * when nbytes > max_nbytes. key is used in messages only. */
lp_status lpi_chunk_header_decode(lp_ctx *ctx, const char *key, const uint8_t *hdr,
                                  uint64_t max_nbytes, lpi_chunk_info *out);
/* Check that dtype/ndim/shape describe exactly nbytes and fill info (checksum over data). */
lp_status lpi_chunk_info_make(lp_ctx *ctx, const char *key, lp_dtype dtype, int ndim,
                              const int64_t *shape, const void *data, size_t nbytes,
                              lpi_chunk_info *out);
/* Report a checksum mismatch (LP_ERR_FORMAT) in the one wording used everywhere. */
lp_status lpi_chunk_checksum_error(lp_ctx *ctx, const char *key, uint64_t stored,
                                   uint64_t computed);

#endif
