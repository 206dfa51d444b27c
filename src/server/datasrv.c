/* The data server (see datasrv.h). Polling threads, as the store server: every handler step is
 * short (open, fstat, hand the descriptor to libmicrohttpd, which sends it with sendfile); the
 * listing walks the directory and reads only headers and zarr.json files. */
#include "server/datasrv.h"
#include "io/dataset.h"
#include "server/http.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_MAX 1024
#define LIST_MAX 10000     /* arrays in a listing */
#define LIST_DEPTH 16

struct lpi_datasrv {
    char *root;            /* realpath of the directory */
    size_t rootlen;
    char *token;           /* NULL: none */
    lpi_http_server *http;
};

/* ---- keys ---- */

static bool key_ok(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > KEY_MAX || k[0] == '/' || k[n - 1] == '/') return false;
    for (const char *p = k; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/'))
            return false;
    }
    /* no empty, "." or ".." component */
    for (const char *p = k; *p;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return false;
        p += len + (e ? 1 : 0);
    }
    return true;
}

/* Open key below the root: resolved (links followed) inside it, a regular file. */
static int open_key(const lpi_datasrv *S, const char *key, struct stat *sb, unsigned *code) {
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", S->root, key) >= sizeof path) { *code = 400; return -1; }
    char *real = realpath(path, NULL);
    if (!real) { *code = 404; return -1; }
    bool inside = !strncmp(real, S->root, S->rootlen) && real[S->rootlen] == '/';
    int fd = inside ? open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1; /* a FIFO must not block */
    free(real);
    /* outside the root looks exactly like missing: no existence probing */
    if (fd < 0) { *code = 404; return -1; }
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) { close(fd); *code = 404; return -1; }
    return fd;
}

/* ---- authorisation ---- */

static bool same(const char *a, const char *b) { /* constant time in the length of b */
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < nb; i++) d |= (unsigned char)(a[i < na ? i : 0] ^ b[i]);
    return d == 0;
}

static bool authorised(const lpi_datasrv *S, lpi_http_req *req) {
    if (!S->token) return true;
    const char *h = lpi_http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        const char *t = h + 7;
        while (*t == ' ') t++;
        return same(t, S->token);
    }
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(lpi_http_connection(req), &pass);
    bool ok = pass && same(pass, S->token);
    if (user) MHD_free(user);
    if (pass) MHD_free(pass);
    return ok;
}

/* ---- the listing ---- */

static void add_array(json_t *arr, const char *rel, const char *full, bool zarr) {
    lp_ctx *ctx;
    if (json_array_size(arr) >= LIST_MAX || lp_ctx_create(&ctx) != LP_OK) return;
    lpi_dataset *d;
    if (lpi_dataset_open(ctx, full, &d) == LP_OK && (d->fmt == LPI_FMT_ZARR) == zarr) {
        json_t *shape = json_array();
        for (int i = 0; i < d->ndim; i++) json_array_append_new(shape, json_integer(d->shape[i]));
        json_t *o = json_pack("{s:s,s:s,s:s,s:o}", "path", rel, "format", zarr ? "zarr" : "npy", "dtype",
                              lp_dtype_name(d->dtype), "shape", shape);
        if (o && !zarr) {
            json_object_set_new(o, "order", json_string(d->npy.fortran_order ? "F" : "C"));
            json_object_set_new(o, "bytes", json_integer(d->npy.data_bytes));
        }
        if (o) json_array_append_new(arr, o);
    }
    lpi_dataset_release(d);
    lp_ctx_destroy(ctx);
}

static void walk(const lpi_datasrv *S, json_t *arr, const char *rel, int depth) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", S->root, *rel ? "/" : "", rel);
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp)) && json_array_size(arr) < LIST_MAX) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden and temp files */
        char r2[PATH_MAX], full[PATH_MAX];
        if ((size_t)snprintf(r2, sizeof r2, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= sizeof r2 || !key_ok(r2)) continue;
        snprintf(full, sizeof full, "%s/%s", S->root, r2);
        struct stat sb;
        if (lstat(full, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            char meta[PATH_MAX];
            if ((size_t)snprintf(meta, sizeof meta, "%s/zarr.json", full) >= sizeof meta) continue;
            if (access(meta, R_OK) == 0) add_array(arr, r2, full, true); /* an array: not descended into */
            else if (depth < LIST_DEPTH) walk(S, arr, r2, depth + 1);
        } else if (S_ISREG(sb.st_mode)) {
            size_t n = strlen(e->d_name);
            if (n > 4 && !strcmp(e->d_name + n - 4, ".npy")) add_array(arr, r2, full, false);
        }
    }
    closedir(dp);
}

/* ---- requests ---- */

static void serve_file(lpi_datasrv *S, lpi_http_req *req, const char *key) {
    unsigned code = 404;
    struct stat sb;
    int fd = open_key(S, key, &sb, &code);
    if (fd < 0) {
        if (code == 404) lpi_http_reply_error(req, 404, "%s: not found", key);
        else lpi_http_reply_error(req, code, "%s: invalid key", key);
        return;
    }
    char etag[96], lm[64];
    /* the version: a rewrite (rename or in place) changes inode, size or mtime */
    snprintf(etag, sizeof etag, "\"%llx-%llx-%llx.%lx\"", (unsigned long long)sb.st_ino, (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec, (unsigned long)sb.st_mtim.tv_nsec);
    struct tm tmv;
    gmtime_r(&sb.st_mtim.tv_sec, &tmv);
    strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tmv);
    lpi_http_reply_file(req, fd, (uint64_t)sb.st_size, "file", key);
    lpi_http_add_header(req, MHD_HTTP_HEADER_ETAG, etag);
    lpi_http_add_header(req, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
}

static lpi_http_action on_request(void *app, lpi_http_req *req) {
    lpi_datasrv *S = app;
    const char *path = lpi_http_path(req), *method = lpi_http_method(req);
    bool get = !strcmp(method, "GET"), head = !strcmp(method, "HEAD");
    if (!get && !head) {
        lpi_http_reply_error(req, 405, "method %.16s not allowed: the data server is read-only", method);
        lpi_http_add_header(req, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return LPI_HTTP_DONE;
    }
    if (!strcmp(path, "/status")) {
        lpi_http_reply_text(req, 200, "text/plain", "ready");
        return LPI_HTTP_DONE;
    }
    if (!authorised(S, req)) {
        lpi_http_reply_error(req, 401, "a token is required (Authorization: Bearer TOKEN)");
        lpi_http_add_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"lampy\"");
        return LPI_HTTP_DONE;
    }
    if (!strcmp(path, "/")) {
        json_t *arr = json_array();
        if (arr) walk(S, arr, "", 0);
        lpi_http_reply_json(req, 200, arr ? json_pack("{s:s,s:i,s:o}", "format", "lampy.datasets", "version", 1, "arrays", arr) : NULL);
        return LPI_HTTP_DONE;
    }
    const char *key = path[0] == '/' ? path + 1 : path;
    if (!key_ok(key)) {
        lpi_http_reply_error(req, 400, "invalid key (relative path of letters, digits, '.', '_', '-', '/'; no '..')");
        return LPI_HTTP_DONE;
    }
    serve_file(S, req, key);
    return LPI_HTTP_DONE;
}

static void on_body(void *app, lpi_http_req *req, const char *body, size_t n) {
    /* (every request is answered before its body: GET and HEAD have none worth reading) */
    lpi_http_reply_error(req, 400, "unexpected request body");
}

lp_status lpi_datasrv_start(lp_ctx *ctx, const lpi_datasrv_opts *o, lpi_datasrv **out) {
    *out = NULL;
    if (!o->dir || !*o->dir) return lpi_error(ctx, LP_ERR_VALUE, "serve: no directory");
    char *root = realpath(o->dir, NULL);
    struct stat sb;
    if (!root || stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        free(root);
        return lpi_error(ctx, LP_ERR_NOTFOUND, "%s: not a directory", o->dir);
    }
    lpi_datasrv *S = lp_calloc(1, sizeof *S);
    if (!S || !(S->root = lp_strdup(root)) || (o->token && *o->token && !(S->token = lp_strdup(o->token)))) {
        free(root);
        if (S) { lp_free(S->root); lp_free(S); }
        return lpi_nomem(ctx);
    }
    free(root);
    S->rootlen = strlen(S->root);
    if (S->rootlen == 1) S->rootlen = 0; /* "/": every path is below it */
    unsigned threads = o->threads;
    if (!threads) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 2 ? (unsigned)(2 * nc) : 4;
        if (threads > 64) threads = 64;
    }
    lpi_http_opts ho = {.bind = o->bind, .port = o->port, .threads = threads, .max_body = 1 << 16};
    lpi_http_handlers h = {S, on_request, NULL, on_body, NULL};
    lp_status st = lpi_http_start(ctx, &ho, &h, &S->http);
    if (st) { lp_free(S->token); lp_free(S->root); lp_free(S); return st; }
    *out = S;
    return LP_OK;
}

const char *lpi_datasrv_url(const lpi_datasrv *S) { return lpi_http_url(S->http); }

void lpi_datasrv_stop(lpi_datasrv *S) {
    if (!S) return;
    lpi_http_stop(S->http, 5.0);
    lp_free(S->token);
    lp_free(S->root);
    lp_free(S);
}
