/* The source/sink interface: dispatch by URL scheme to the file, http(s) and s3 backends, and
 * what every backend shares (version checks, byte counters, whole-object helpers). */
#include "io/source.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

lpi_loc_kind lpi_loc_kind_of(const char *url) {
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) return LPI_LOC_HTTP;
    if (!strncmp(url, "s3://", 5)) return LPI_LOC_S3;
    return LPI_LOC_FILE;
}

const char *lpi_loc_file_path(const char *url) {
    if (lpi_loc_kind_of(url) != LPI_LOC_FILE) return NULL;
    if (!strncmp(url, "file://", 7)) {
        const char *p = url + 7;
        /* file://localhost/abs is the same file as file:///abs */
        if (!strncmp(p, "localhost/", 10)) p += 9;
        return p;
    }
    return url;
}

const char *lpi_loc_redact(const char *url, char *buf, size_t cap) {
    const char *p = strstr(url, "://");
    const char *at = p ? strchr(p + 3, '@') : NULL, *slash = p ? strchr(p + 3, '/') : NULL;
    if (!at || (slash && slash < at)) return url;
    snprintf(buf, cap, "%.*s%s", (int)(p + 3 - url), url, at + 1);
    return buf;
}

char *lpi_loc_join(const char *url, const char *key) {
    size_t a = strlen(url), b = strlen(key);
    while (a > 0 && url[a - 1] == '/') a--;
    while (b > 0 && key[0] == '/') { key++; b--; }
    char *s = lp_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, url, a);
    s[a] = '/';
    memcpy(s + a + 1, key, b);
    s[a + b + 1] = 0;
    return s;
}

static lp_status open_any(lp_ctx *ctx, const char *url, lpi_src **out) {
    *out = NULL;
    if (!url || !*url) return lpi_error(ctx, LP_ERR_VALUE, "empty path or URL");
    switch (lpi_loc_kind_of(url)) {
    case LPI_LOC_HTTP: return lpi_http_src_open(ctx, url, out);
    case LPI_LOC_S3: return lpi_s3_src_open(ctx, url, out);
    default: {
        const char *p = lpi_loc_file_path(url);
        if (!*p) return lpi_error(ctx, LP_ERR_VALUE, "%s: empty path", url);
        return lpi_file_src_open(ctx, p, url, out);
    }
    }
}

lp_status lpi_src_open(lp_ctx *ctx, const char *url, lpi_src **out) { return open_any(ctx, url, out); }

lp_status lpi_src_reopen(lp_ctx *ctx, const char *url, const lpi_objid *want, lpi_src **out) {
    lp_status st = open_any(ctx, url, out);
    if (st) return st;
    lpi_objid now = (*out)->id, *id = &now;
    if (id->size != want->size || strcmp(id->tag, want->tag)) {
        lpi_src_close(*out);
        *out = NULL;
        return lpi_error(ctx, LP_ERR_IO, "%s: changed since it was opened (was %lld bytes%s%s, now %lld bytes%s%s)", url,
                         (long long)want->size, want->tag[0] ? ", version " : "", want->tag, (long long)id->size,
                         id->tag[0] ? ", version " : "", id->tag);
    }
    return LP_OK;
}

void lpi_src_close(lpi_src *s) {
    if (!s) return;
    char *name = s->name;
    s->ops->close(s);
    lp_free(name);
}

const lpi_objid *lpi_src_id(const lpi_src *s) { return &s->id; }
const char *lpi_src_name(const lpi_src *s) { return s->name; }
lpi_loc_kind lpi_src_kind(const lpi_src *s) { return s->kind; }
int64_t lpi_src_bytes(const lpi_src *s) { return atomic_load(&((lpi_src *)s)->moved); }

/* A page for files (the kernel reads whole pages anyway). Remote: a request costs about as much
 * as moving a few hundred kilobytes over a fast link, so gaps below that are read along. */
int64_t lpi_src_merge_gap(const lpi_src *s) { return s->kind == LPI_LOC_FILE ? 4096 : 256 << 10; }

lp_status lpi_src_read(lp_ctx *ctx, lpi_src *s, int64_t off, size_t n, void *dst) {
    if (off < 0 || (uint64_t)n > (uint64_t)(s->id.size - off) || off > s->id.size)
        return lpi_error(ctx, LP_ERR_INTERNAL, "%s: read of %zu bytes at %lld is outside the object (%lld bytes)",
                         s->name, n, (long long)off, (long long)s->id.size);
    if (n == 0) return LP_OK;
    return s->ops->read(ctx, s, off, n, dst);
}

lp_status lpi_io_get(lp_ctx *ctx, const char *url, size_t max, void **data, size_t *n, int64_t *moved) {
    *data = NULL;
    *n = 0;
    if (lpi_loc_kind_of(url) != LPI_LOC_FILE) return lpi_remote_get(ctx, url, max, data, n, moved);
    lpi_src *s;
    lp_status st = lpi_src_open(ctx, url, &s);
    if (st) return st;
    if ((uint64_t)s->id.size > max) {
        st = lpi_error(ctx, LP_ERR_LIMIT, "%s: %lld bytes exceed the limit of %zu", url, (long long)s->id.size, max);
    } else if (!(*data = lp_malloc(s->id.size ? (size_t)s->id.size : 1))) {
        st = lpi_nomem(ctx);
    } else if ((st = lpi_src_read(ctx, s, 0, (size_t)s->id.size, *data))) {
        lp_free(*data);
        *data = NULL;
    } else {
        *n = (size_t)s->id.size;
    }
    if (moved) *moved += lpi_src_bytes(s);
    lpi_src_close(s);
    return st;
}

lp_status lpi_io_exists(lp_ctx *ctx, const char *url, bool *out) {
    *out = false;
    lpi_src *s;
    /* a missing object is an answer, not a failure: no message for it */
    lp_status st = lpi_src_open(NULL, url, &s);
    if (st && st != LP_ERR_NOTFOUND) st = lpi_src_open(ctx, url, &s);
    if (st == LP_OK) { *out = true; lpi_src_close(s); }
    return st == LP_ERR_NOTFOUND ? LP_OK : st;
}

bool lpi_io_is_dir(const char *url) {
    const char *p = lpi_loc_file_path(url);
    struct stat sb;
    return p && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

lp_status lpi_sink_open(lp_ctx *ctx, const char *url, bool make_dirs, lpi_sink **out) {
    *out = NULL;
    if (!url || !*url) return lpi_error(ctx, LP_ERR_VALUE, "empty path or URL");
    switch (lpi_loc_kind_of(url)) {
    case LPI_LOC_HTTP: return lpi_http_sink_open(ctx, url, out);
    case LPI_LOC_S3: return lpi_s3_sink_open(ctx, url, out);
    default: return lpi_file_sink_open(ctx, lpi_loc_file_path(url), make_dirs, out);
    }
}

lp_status lpi_sink_write(lp_ctx *ctx, lpi_sink *k, const void *data, size_t n) {
    return n ? k->ops->write(ctx, k, data, n) : LP_OK;
}

lp_status lpi_sink_commit(lp_ctx *ctx, lpi_sink *k) {
    lp_status st = k->ops->commit(ctx, k);
    lp_free(k->name);
    lp_free(k);
    return st;
}

void lpi_sink_abort(lpi_sink *k) {
    if (!k) return;
    k->ops->abort(k);
    lp_free(k->name);
    lp_free(k);
}

lp_status lpi_io_put(lp_ctx *ctx, const char *url, bool make_dirs, const void *data, size_t n) {
    lpi_sink *k;
    lp_status st = lpi_sink_open(ctx, url, make_dirs, &k);
    if (st) return st;
    if ((st = lpi_sink_write(ctx, k, data, n))) { lpi_sink_abort(k); return st; }
    return lpi_sink_commit(ctx, k);
}
