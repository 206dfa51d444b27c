/* Private to src/store and src/server: the backend vtable and the file backend's primitives
 * that the store server builds on (it serves a file store over HTTP). */
#ifndef LP_STORE_INTERNAL_H
#define LP_STORE_INTERNAL_H

#include "store/store.h"

/* The front (store.c) has validated the key and the arguments before a backend is called;
 * put receives the encoded header. Backends report with "chunk KEY: ..." messages. */
typedef struct lpi_store_vtable {
    const char *scheme;
    lp_status (*put)(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                     const uint8_t *hdr, const void *data);
    /* Check the header (lpi_chunk_header_decode with s->max_chunk) and the stored size, allocate
     * with lpi_buffer_new, fill. The front verifies the checksum. */
    lp_status (*get)(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *info,
                     lp_buffer **out);
    lp_status (*get_range)(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t off, size_t n,
                           void *dst);
    lp_status (*head)(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out);
    lp_status (*del)(lp_ctx *ctx, lpi_store *s, const char *key);
    lp_status (*exists)(lp_ctx *ctx, lpi_store *s, const char *key, bool *out);
    void (*close)(lpi_store *s);
    /* Optional (NULL: the backend cannot; the front falls back or does nothing). */
    /* put, only while guard exists (NULL: always), expiring after ttl_ms (0: never) */
    lp_status (*put_ex)(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                        const uint8_t *hdr, const void *data, const char *guard, int64_t ttl_ms);
    lp_status (*mark)(lp_ctx *ctx, lpi_store *s, const char *key, double ttl_sec);
    lp_status (*del_prefix)(lp_ctx *ctx, lpi_store *s, const char *prefix);
} lpi_store_vtable;

/* Every backend's struct starts with this. */
struct lpi_store {
    const lpi_store_vtable *vt;
    char *url;
    uint64_t max_chunk;
    struct lpi_key *key;   /* http(s): sign requests with it (store/auth.h) */
    char *ca_file;         /* https: trust this CA bundle (PEM) */
};

/* Backend constructors: `rest` is the URL after "scheme://". They fill everything but the base
 * (the front sets url and max_chunk). */
lp_status lpi_store_mem_open(lp_ctx *ctx, const char *rest, lpi_store **out);
lp_status lpi_store_file_open(lp_ctx *ctx, const char *rest, lpi_store **out);
lp_status lpi_store_redis_open(lp_ctx *ctx, const char *url, const char *rest, lpi_store **out);
lp_status lpi_store_http_open(lp_ctx *ctx, const char *url, lpi_store **out);

/* redis:// only (store/redis.c): one command on a pooled connection of the store, with the
 * backend's SIGPIPE guard and its retry on a fresh connection after a transport failure (so a
 * command may run twice: callers send idempotent ones). *out is the hiredis reply (free it with
 * freeReplyObject); an error reply is returned as one, a transport failure as LP_ERR_IO with
 * "what: STORE: message" on ctx. LP_ERR_VALUE when s is not a redis store. */
struct redisReply;
lp_status lpi_redis_command(lp_ctx *ctx, lpi_store *s, const char *what, int argc, const char **argv,
                            const size_t *argvlen, struct redisReply **out);

/* LP_ERR_VALUE "chunk KEY: range [a, b) is outside the N data bytes" unless off + n <= nbytes. */
lp_status lpi_chunk_range_check(lp_ctx *ctx, const char *key, uint64_t off, uint64_t n,
                                uint64_t nbytes);

/* ---- file backend primitives (store/file.c) ----------------------------------------------
 * Paths are resolved component by component with openat(O_NOFOLLOW) from the root directory's
 * descriptor: a symlink anywhere below the root (a directory or the chunk file) is never
 * followed, so no key can reach outside the root. Keys must have passed lpi_store_key_check. */

/* Open a file store on a directory path (created if missing, including parents). */
lp_status lpi_store_open_dir(lp_ctx *ctx, const char *dir, lpi_store **out);
/* Open the chunk file of key for reading: a regular file, not a symlink. *fd_out is O_RDONLY |
 * O_CLOEXEC; the caller closes it. LP_ERR_NOTFOUND if missing (or reached through a symlink). */
lp_status lpi_fstore_open_chunk(lp_ctx *ctx, lpi_store *s, const char *key, int *fd_out,
                                uint64_t *size_out);

/* An atomic writer: bytes go to a temp file beside the chunk ("NAME.#PID.N", '#' cannot appear
 * in a key, so a temp file never aliases a chunk); commit renames it over the chunk, abort (or
 * any failure) removes it. Missing directories of nested keys are created on open. */
typedef struct lpi_fwriter lpi_fwriter;
lp_status lpi_fwriter_open(lp_ctx *ctx, lpi_store *s, const char *key, lpi_fwriter **out);
lp_status lpi_fwriter_write(lp_ctx *ctx, lpi_fwriter *w, const void *data, size_t n);
/* Makes the chunk visible and frees w (also on failure, after removing the temp file). */
lp_status lpi_fwriter_commit(lp_ctx *ctx, lpi_fwriter *w);
/* Removes the temp file and frees w. NULL is allowed. */
void lpi_fwriter_abort(lpi_fwriter *w);

#endif
