/* The task wire format, decoding side: a worker's security boundary (see wire.h and
 * docs/PROTOCOL.md). The pieces are the plan serializer's (plan/serialize.c): boxes, programs,
 * reductions, axis maps and node parameters are decoded by the same functions as a plan dump,
 * so a node means the same thing in a plan file and on the wire. What is added here is the
 * batch around them (stores, chunk references, outputs) and the checks that tie a task to the
 * chunks it reads instead of to a whole plan. */
#include "exec/wire.h"
#include "graph/json.h"
#include "plan/serialize.h"
#include "io/dataset.h"
#include "kernels/kernels.h"
#include "kernels/lda.h"
#include "kernels/loops.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

void lpi_wire_limits_default(lpi_wire_limits *lim) {
    memset(lim, 0, sizeof *lim);
    lim->max_tasks = 4096;
    lim->max_nodes = 4096;
    lim->max_stores = 16;
    lim->max_chunks = 1 << 20;
    lim->max_operands = 4096;
    lim->max_pieces = 1 << 20;
    lim->max_program = 30000; /* registers are int16 */
    lim->max_chunk_bytes = (uint64_t)1 << 30;
    lim->max_task_bytes = (uint64_t)4 << 30;
    lim->load_dirs = NULL;
    lim->load_urls = NULL;
    lim->write_dirs = NULL;
}

static bool parse_hex64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    int n = 0;
    for (; *s; s++, n++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else return false;
        if (n >= 16) return false;
        v = v << 4 | (uint64_t)d;
    }
    if (n != 16) return false;
    *out = v;
    return true;
}


typedef struct dec {
    lp_ctx *ctx;
    const lpi_wire_limits *lim;
    lpi_wire_batch *b;
    int64_t npieces;
    lp_array **exprs;   /* per node: gen and load sources (new references) */
    struct lpi_reader **readers; /* per node: LOAD reader */
    const json_t **maps; /* per node: a copy's own map, if the node has one */
} dec;

#define W LPI_WHERE_MAX

static lp_status fmt_err(lp_ctx *ctx, const char *where, const char *what) {
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: %s", where, what);
}

static lp_status get_list(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                          size_t max, const json_t **out) {
    const json_t *j = json_object_get(obj, key);
    *out = NULL;
    if (!j) return opt ? LP_OK : lpi_error(ctx, LP_ERR_FORMAT, "%s: missing key '%s'", where, key);
    if (!json_is_array(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be a list", where, key);
    if (json_array_size(j) > max)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: '%s' has %zu items; at most %zu are allowed", where, key,
                         json_array_size(j), max);
    *out = j;
    return LP_OK;
}

/* A box of any rank in the serializer's format ([[lo, hi], ...]), with coordinates small enough
 * that no volume or offset computed from it can overflow. */
static lp_status box_from(lp_ctx *ctx, const char *where, const json_t *j, lpi_box *b) {
    if (!json_is_array(j)) return fmt_err(ctx, where, "a box must be a list of [lo, hi] pairs");
    if (json_array_size(j) > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: a box has at most %d axes", where, LP_MAX_NDIM);
    lp_status st = lpi_box_from_json(ctx, where, j, (int)json_array_size(j), NULL, b);
    if (st) return st;
    int64_t vol = 1;
    for (int i = 0; i < b->ndim; i++)
        if (b->hi[i] > (INT64_MAX >> 2) || __builtin_mul_overflow(vol, b->hi[i] - b->lo[i], &vol) || vol > (INT64_MAX >> 4))
            return lpi_error(ctx, LP_ERR_LIMIT, "%s: the box is too large", where);
    return LP_OK;
}

static lp_status box_key(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, lpi_box *b) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return lpi_error(ctx, LP_ERR_FORMAT, "%s: missing key '%s'", where, key);
    char w[W + 16];
    snprintf(w, sizeof w, "%s: %s", where, key);
    return box_from(ctx, w, j, b);
}

static bool box_inside(const lpi_box *in, const lpi_box *outer) {
    if (in->ndim != outer->ndim) return false;
    for (int i = 0; i < in->ndim; i++)
        if (in->lo[i] < outer->lo[i] || in->hi[i] > outer->hi[i]) return false;
    return true;
}


static bool box_in_shape(const lpi_box *b, int ndim, const int64_t *shape) {
    if (b->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (b->hi[i] > shape[i]) return false;
    return true;
}

static const char *box_str(char *buf, size_t cap, const lpi_box *b) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < b->ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld:%lld", i ? ", " : "", (long long)b->lo[i], (long long)b->hi[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

static int64_t box_extent(const lpi_box *b, int i) { return b->hi[i] - b->lo[i]; }

/* ---- chunk references ---- */

static const char *const K_CHUNK[] = {"store", "key", "dtype", "shape", "box", "checksum", "state", NULL};
static const char *const K_CHUNK_LOAD[] = {"load", "dtype", "shape", "box", NULL};

static lp_status decode_chunk(dec *D, int64_t i, const json_t *j) {
    lp_ctx *ctx = D->ctx;
    lpi_wire_chunk *c = &D->b->chunks[i];
    char where[W];
    snprintf(where, sizeof where, "chunk %lld", (long long)i);
    if (!json_is_object(j)) return fmt_err(ctx, where, "must be an object");
    lp_status st;
    int64_t store, load;
    const char *cs;
    c->load = -1;
    if (json_object_get(j, "load")) {
        /* rows of a .npy file, read by the worker itself through a load node of the batch */
        if ((st = lpi_json_only_keys(ctx, where, j, K_CHUNK_LOAD, "key")) ||
            (st = lpi_json_int(ctx, where, j, "load", false, 0, D->b->nnodes - 1, &load)) ||
            (st = lpi_json_dtype(ctx, where, j, "dtype", &c->dtype)) ||
            (st = lpi_json_shape(ctx, where, j, "shape", &c->ndim, c->shape)) || (st = box_key(ctx, where, j, "box", &c->box)))
            return st;
        const lpi_pnode *ln = &D->b->nodes[load];
        if (ln->kernel != LPI_K_LOAD) return lpi_error(ctx, LP_ERR_VALUE, "%s: node %lld is not a load", where, (long long)load);
        if (c->dtype != ln->dtype || !box_in_shape(&c->box, ln->ndim, ln->shape))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: not a part of node %lld's array", where, (long long)load);
        c->load = (int)load;
    } else if ((st = lpi_json_only_keys(ctx, where, j, K_CHUNK, "key")) ||
        (st = lpi_json_int(ctx, where, j, "store", false, 0, D->b->nstores - 1, &store)) ||
        (st = lpi_json_str(ctx, where, j, "key", false, &c->key)) || (st = lpi_json_dtype(ctx, where, j, "dtype", &c->dtype)) ||
        (st = lpi_json_shape(ctx, where, j, "shape", &c->ndim, c->shape)) || (st = box_key(ctx, where, j, "box", &c->box)) ||
        (st = lpi_json_str(ctx, where, j, "checksum", false, &cs)) ||
        (st = lpi_json_bool(ctx, where, j, "state", true, &c->state)))
        return st;
    if (c->load < 0) {
        c->store = (int)store;
        if (!lpi_store_key_valid(c->key, NULL)) return lpi_store_key_check(ctx, c->key);
        if (!parse_hex64(cs, &c->checksum)) return fmt_err(ctx, where, "'checksum' must be 16 lowercase hex digits");
    }
    int64_t size;
    lpi_shape_size(c->ndim, c->shape, &size);
    if ((uint64_t)size > D->lim->max_chunk_bytes / lp_dtype_size(c->dtype))
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: %lld elements of %s exceed the chunk limit of %llu bytes", where,
                         (long long)size, lp_dtype_name(c->dtype), (unsigned long long)D->lim->max_chunk_bytes);
    if (c->state) {
        if (c->ndim != 2 || c->box.ndim != 1 || box_extent(&c->box, 0) != 1 ||
            (c->dtype != LP_FLOAT64 && c->dtype != LP_INT64))
            return lpi_error(ctx, LP_ERR_SHAPE, "%s: a state chunk is (fields, elements) of float64 or int64 with a "
                             "1-d box of one element", where);
        return LP_OK;
    }
    if (c->box.ndim != c->ndim) return lpi_error(ctx, LP_ERR_SHAPE, "%s: box has %d axes but shape %d", where, c->box.ndim, c->ndim);
    for (int a = 0; a < c->ndim; a++)
        if (box_extent(&c->box, a) != c->shape[a])
            return lpi_error(ctx, LP_ERR_SHAPE, "%s: shape does not match its box on axis %d", where, a);
    return LP_OK;
}

/* ---- nodes ---- */

static const char *const K_NODE[] = {"kernel", "op", "dtype", "shape", "params", NULL};
static const char *const K_P_SRC[] = {"node", NULL};
static const char *const K_P_LOAD[] = {"node", "view", "lshape", NULL}; /* view, lshape optional */
static const char *const K_P_MAP[] = {"program", NULL};
static const char *const K_P_PARTIAL[] = {"program", "reduce", "final", NULL};
static const char *const K_P_RED[] = {"reduce", "final", NULL};
static const char *const K_P_COPY[] = {"map", NULL};
static const char *const K_P_RESHAPE[] = {"src_shape", NULL};
static const char *const K_P_NONE[] = {NULL};
static const char *const K_P_MATMUL[] = {"linalg", "reduce", "final", NULL};
static const char *const K_P_LINALG[] = {"linalg", NULL};

static bool is_gen_op(lpi_op op) {
    return op == LPI_OP_SCALAR || op == LPI_OP_FULL || op == LPI_OP_ARANGE || op == LPI_OP_LINSPACE ||
           op == LPI_OP_EYE || op == LPI_OP_RANDOM_UNIFORM || op == LPI_OP_RANDOM_NORMAL || op == LPI_OP_RANDOM_INTEGERS;
}

/* The path's part below root ("" when it is root itself), or NULL when path is not lexically
 * below it. */
static const char *below(const char *path, const char *root) {
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    if (n == 1 && root[0] == '/') return path + 1;
    if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != 0)) return NULL;
    return path[n] ? path + n + 1 : path + n;
}

/* Open path read-only below one of the load roots, the kernel confining the walk (openat2 with
 * RESOLVE_BENEATH: neither ".." nor a symlink may leave the root). Only a path lexically below a
 * root is looked up at all, so the answer for a path outside — LP_ERR_DENIED, same words
 * whether it exists or not — says nothing about the file system there. Inside a root, a
 * missing file is LP_ERR_NOTFOUND. *real receives the resolved path (malloc'd). */
static lp_status open_below_roots(lp_ctx *ctx, const char *where, const char *const *roots, const char *path,
                                  int flags, const char *what, int *fd_out, char **real) {
    *fd_out = -1;
    *real = NULL;
    int err = EXDEV;
    for (int k = 0; roots && roots[k] && err == EXDEV; k++) {
        char *rr = realpath(roots[k], NULL);
        const char *rel = below(path, roots[k]);
        if (!rel && rr) rel = below(path, rr);
        free(rr);
        if (!rel) continue;
        int dfd = open(roots[k], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) continue;
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)flags | O_CLOEXEC | O_NONBLOCK; /* a FIFO must not block the open */
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, dfd, *rel ? rel : ".", &how, sizeof how);
        err = fd < 0 ? errno : 0;
        if (fd < 0 && err == ENOSYS) {
            /* kernels before 5.6: resolve, then check the result is below the root */
            char *p = realpath(path, NULL), *r = realpath(roots[k], NULL);
            err = p && r && below(p, r) ? 0 : EXDEV;
            fd = err ? -1 : open(p, flags | O_CLOEXEC | O_NONBLOCK);
            if (!err && fd < 0) err = errno;
            free(p);
            free(r);
        }
        close(dfd);
        if (fd >= 0) *fd_out = (int)fd;
    }
    if (err == EXDEV || err == ELOOP)
        return lpi_error(ctx, LP_ERR_DENIED, "%s: %s %.300s is not below %s", where, what, path,
                         flags == O_RDONLY ? "the worker's load roots (lampy worker --load-dir)"
                                           : "the worker's write roots (lampy worker --write-dir)");
    if (err) return lpi_error(ctx, err == ENOENT ? LP_ERR_NOTFOUND : err == EISDIR ? LP_ERR_VALUE : LP_ERR_IO, "%s: %.300s: %s",
                              where, path, strerror(err));
    char link[64], buf[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", *fd_out);
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    if (n <= 0 || !(*real = lp_malloc((size_t)n + 1))) {
        close(*fd_out);
        *fd_out = -1;
        return n <= 0 ? lpi_error(ctx, LP_ERR_IO, "%s: cannot resolve %.300s", where, path) : lpi_nomem(ctx);
    }
    memcpy(*real, buf, (size_t)n);
    (*real)[n] = 0;
    return LP_OK;
}

/* A URL whose path could be normalised into another one ("a/../b", "%2e%2e") is refused: a
 * prefix check means nothing for it. */
static bool url_plain(const char *u) {
    const char *p = strstr(u, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (!p) return true;
    if (strstr(p, "/../") || strstr(p, "/./") || strcasestr(p, "%2e") || strchr(p, '\\') || strchr(p, '?') ||
        strchr(p, '#'))
        return false;
    size_t n = strlen(p);
    return !(n >= 3 && !strcmp(p + n - 3, "/..")) && !(n >= 2 && !strcmp(p + n - 2, "/."));
}

/* The policy and, for a file, the confined open: *fd_out (may be NULL) keeps the descriptor the
 * confined open found, so the caller can check that what it reads later is that very file. */
static lp_status load_allowed(lp_ctx *ctx, const lpi_wire_limits *lim, const char *where, const char *url,
                              char **resolved, int *fd_out) {
    *resolved = NULL;
    if (fd_out) *fd_out = -1;
    const char *path = lpi_loc_file_path(url);
    if (!path) {
        if (!url_plain(url))
            return lpi_error(ctx, LP_ERR_DENIED, "%s: a load URL must not contain '.' or '..' segments, escapes, a "
                             "query or a fragment", where);
        bool ok = false;
        for (int k = 0; !ok && lim->load_urls && lim->load_urls[k]; k++) {
            const char *a = lim->load_urls[k];
            size_t n = strlen(a);
            ok = n && !strncmp(url, a, n) && (a[n - 1] == '/' || url[n] == '/' || url[n] == 0);
        }
        if (!ok)
            return lpi_error(ctx, LP_ERR_DENIED, "%s: load URL %.300s is not one this worker may read (lampy worker "
                             "--load-url)", where, url);
        return (*resolved = lp_strdup(url)) ? LP_OK : lpi_nomem(ctx);
    }
    if (path[0] != '/') return lpi_error(ctx, LP_ERR_VALUE, "%s: a load path must be absolute", where);
    int fd;
    lp_status st = open_below_roots(ctx, where, lim->load_dirs, path, O_RDONLY, "load path", &fd, resolved);
    if (st) return st;
    if (fd_out) *fd_out = fd;
    else close(fd);
    return LP_OK;
}

lp_status lpi_wire_load_allowed(lp_ctx *ctx, const lpi_wire_limits *lim, const char *where, const char *url,
                                char **resolved) {
    return load_allowed(ctx, lim, where, url, resolved, NULL);
}

lp_status lpi_wire_sink_open(lp_ctx *ctx, const lpi_wire_limits *lim, const char *where, const char *path,
                             int64_t need, int *fd_out) {
    *fd_out = -1;
    if (path[0] != '/') return lpi_error(ctx, LP_ERR_VALUE, "%s: a sink path must be absolute", where);
    char *real;
    int fd;
    lp_status st = open_below_roots(ctx, where, lim->write_dirs, path, O_WRONLY, "sink path", &fd, &real);
    if (st) return st;
    lp_free(real);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (int64_t)sb.st_size < need) {
        close(fd);
        return lpi_error(ctx, LP_ERR_VALUE, "%s: sink %.300s is not a .npy file sized for the result (%lld bytes needed)",
                         where, path, (long long)need);
    }
    *fd_out = fd;
    return LP_OK;
}

/* LOAD: where it is read from passes the worker's policy (deny by default; a file is opened
 * below a load root); then the graph codec's own rebuild (lp_load: header or metadata
 * validated, declared dtype and shape compared) of the resolved path — checked to be the very
 * file the confined open found, so a link swapped meanwhile cannot redirect the read — the
 * version the driver saw, and a reader for the kernel (which reopens that version only). */
static lp_status load_source(dec *D, const char *where, int ni, json_t *src) {
    lp_ctx *ctx = D->ctx;
    json_t *attrs = json_object_get(src, "attrs");
    const json_t *jp = attrs ? json_object_get(attrs, "path") : NULL;
    if (!json_is_string(jp)) return fmt_err(ctx, where, "source: 'attrs.path' must be a string");
    const char *path = json_string_value(jp);
    size_t len = strlen(path);
    if (len == 0 || len > LPI_JSON_MAX_PATH || len != json_string_length(jp))
        return lpi_error(ctx, LP_ERR_VALUE, "%s: a load path has 1 to %d bytes", where, LPI_JSON_MAX_PATH);
    char *real;
    int cfd;
    lp_status st = load_allowed(ctx, D->lim, where, path, &real, &cfd);
    if (st) return st;
    /* load the resolved path, so a link changed later cannot redirect the read */
    int r = json_object_set_new(attrs, "path", json_string(real));
    lp_free(real);
    if (r) { if (cfd >= 0) close(cfd); return lpi_nomem(ctx); }
    const json_t *ver = json_object_get(src, "version");
    json_t *head = json_deep_copy(src);
    if (!head) { if (cfd >= 0) close(cfd); return lpi_nomem(ctx); }
    json_object_del(head, "version");
    st = lpi_json_node_from_head(ctx, where, head, NULL, 0, &D->exprs[ni]);
    json_decref(head);
    const lpi_dataset *d = st ? NULL : D->exprs[ni]->a.ds;
    if (!st && cfd >= 0 && d->fmt == LPI_FMT_NPY) {
        /* the file lp_load opened is the one the confined open found (its version tag starts
         * with the inode; the device is checked against the confined descriptor too) */
        struct stat s1, s2;
        unsigned long long ino = 0;
        const char *fp = lpi_loc_file_path(d->url);
        bool same = fp && fstat(cfd, &s1) == 0 && stat(fp, &s2) == 0 && s1.st_dev == s2.st_dev &&
                    sscanf(d->id.tag, "%llu:", &ino) == 1 && ino == (unsigned long long)s1.st_ino;
        if (!same) st = lpi_error(ctx, LP_ERR_DENIED, "%s: the load path changed while it was opened", where);
    }
    if (cfd >= 0) close(cfd);
    if (st) return st;
    if (ver) {
        int64_t size;
        const char *tag;
        if ((st = lpi_json_int(ctx, where, ver, "size", false, 0, INT64_MAX, &size)) ||
            (st = lpi_json_str(ctx, where, ver, "tag", false, &tag)))
            return st;
        if (d->fmt != LPI_FMT_NPY || size != d->id.size || strcmp(tag, d->id.tag))
            return lpi_error(ctx, LP_ERR_IO, "%s: %s changed since the driver opened it", where, d->url);
    }
    return lpi_reader_open(ctx, d, &D->readers[ni]);
}

static lp_status decode_node(dec *D, int ni, json_t *j) {
    lp_ctx *ctx = D->ctx;
    lpi_pnode *pn = &D->b->nodes[ni];
    char where[W], w2[W + 16];
    snprintf(where, sizeof where, "node %d", ni);
    if (!json_is_object(j)) return fmt_err(ctx, where, "must be an object");
    memset(pn, 0, sizeof *pn);
    pn->target = -1;
    pn->lndim = -1;
    const char *kname, *opname;
    lp_status st;
    if ((st = lpi_json_only_keys(ctx, where, j, K_NODE, "key")) || (st = lpi_json_str(ctx, where, j, "kernel", false, &kname)) ||
        (st = lpi_json_str(ctx, where, j, "op", false, &opname)) || (st = lpi_json_dtype(ctx, where, j, "dtype", &pn->dtype)) ||
        (st = lpi_json_shape(ctx, where, j, "shape", &pn->ndim, pn->shape)))
        return st;
    if (!lpi_kernel_lookup(kname, &pn->kernel) || pn->kernel == LPI_K_NONE)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: unknown kernel '%.40s'", where, kname);
    if (!lpi_op_lookup(opname, &pn->op)) return lpi_error(ctx, LP_ERR_VALUE, "%s: unknown op '%.40s'", where, opname);
    snprintf(where, sizeof where, "node %d (%s %s)", ni, kname, lpi_ops[pn->op].name);
    const lpi_op op = pn->op;
    const bool lda = lpi_is_lda_op(op);
    json_t *params = json_object_get(j, "params");
    if (!json_is_object(params)) return fmt_err(ctx, where, "'params' must be an object");
    const char *const *allowed = K_P_NONE;
    bool pair_ok;
    switch (pn->kernel) {
    case LPI_K_GEN: pair_ok = is_gen_op(op); allowed = K_P_SRC; break;
    case LPI_K_LOAD: pair_ok = op == LPI_OP_LOAD; allowed = K_P_LOAD; break;
    case LPI_K_MAP:
        pair_ok = lpi_ops[op].kind == LP_OPK_ELEMWISE || op == LPI_OP_LDA_PROJECT || op == LPI_OP_LDA_PREDICT;
        allowed = lda ? K_P_NONE : K_P_MAP;
        break;
    case LPI_K_PARTIAL: case LPI_K_COMBINE:
        pair_ok = lpi_ops[op].kind == LP_OPK_REDUCE || op == LPI_OP_LDA_LABELS || op == LPI_OP_LDA_STATS ||
                  op == LPI_OP_LDA_LW || (pn->kernel == LPI_K_COMBINE && op == LPI_OP_MATMUL);
        allowed = pn->kernel == LPI_K_PARTIAL && !lda ? K_P_PARTIAL : K_P_RED;
        break;
    case LPI_K_COPY: pair_ok = lpi_ops[op].kind == LP_OPK_MOVE; allowed = K_P_COPY; break;
    case LPI_K_RESHAPE: pair_ok = op == LPI_OP_RESHAPE; allowed = K_P_RESHAPE; break;
    case LPI_K_MATMUL: pair_ok = op == LPI_OP_MATMUL; allowed = K_P_MATMUL; break;
    case LPI_K_LINALG: pair_ok = lpi_ops[op].kind == LP_OPK_LINALG && !lda && op != LPI_OP_MATMUL; allowed = K_P_LINALG; break;
    case LPI_K_SCAN: case LPI_K_SORT: case LPI_K_INDEX: case LPI_K_FFT: pair_ok = true; allowed = lpi_axisk_keys; break; /* op checked below */
    default: pair_ok = false;
    }
    if (!pair_ok)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: kernel '%s' does not run op '%s' on a worker", where, kname, lpi_ops[op].name);
    if ((st = lpi_json_only_keys(ctx, where, params, allowed, "parameter"))) return st;
    if (pn->kernel == LPI_K_MATMUL || pn->kernel == LPI_K_LINALG) {
        /* the plan decoder's rules (plan/serialize.c): linalg parameters, and a reduction for
         * a split contraction's partial products */
        lpi_linalg_params *la;
        snprintf(w2, sizeof w2, "%s: linalg", where);
        if ((st = lpi_linalg_from_json(ctx, D->b->ar, w2, json_object_get(params, "linalg"), &la))) return st;
        /* a worker has its own cores: never more BLAS threads than those */
        if (la->blas_threads > lpi_ncores()) la->blas_threads = lpi_ncores();
        pn->la = la;
        pn->final = true;
        if (json_object_get(params, "reduce")) {
            snprintf(w2, sizeof w2, "%s: reduce", where);
            if ((st = lpi_reduce_from_json(ctx, D->b->ar, w2, json_object_get(params, "reduce"), &pn->red)) ||
                (st = lpi_json_bool(ctx, where, params, "final", false, &pn->final)))
                return st;
        } else if (json_object_get(params, "final")) {
            return fmt_err(ctx, where, "'final' goes with 'reduce'");
        }
        return lpi_linalg_node_check(ctx, where, pn);
    }
    /* every parameter the kernel needs is there (only_keys checked nothing else is) */
    for (int k = 0; allowed[k]; k++)
        if (strcmp(allowed[k], "map") && strcmp(allowed[k], "view") && strcmp(allowed[k], "lshape") &&
            !json_object_get(params, allowed[k]))
            return lpi_error(ctx, LP_ERR_FORMAT, "%s: missing parameter '%s'", where, allowed[k]);
    if (json_object_get(params, "program")) {
        snprintf(w2, sizeof w2, "%s: program", where);
        if ((st = lpi_program_from_json(ctx, D->b->ar, w2, json_object_get(params, "program"), &pn->prog))) return st;
    }
    if (json_object_get(params, "reduce")) {
        snprintf(w2, sizeof w2, "%s: reduce", where);
        if ((st = lpi_reduce_from_json(ctx, D->b->ar, w2, json_object_get(params, "reduce"), &pn->red)) ||
            (st = lpi_json_bool(ctx, where, params, "final", false, &pn->final)))
            return st;
        if (op == LPI_OP_MATMUL) return lpi_linalg_node_check(ctx, where, pn); /* a split contraction's sum */
        if (pn->red->op != op) return lpi_error(ctx, LP_ERR_VALUE, "%s: the reduction's op is not the node's", where);
    }
    if (pn->kernel == LPI_K_GEN || pn->kernel == LPI_K_LOAD) {
        json_t *src = json_object_get(params, "node");
        snprintf(w2, sizeof w2, "%s: node", where);
        if (!json_is_object(src)) return fmt_err(ctx, w2, "must be a node object");
        const json_t *so = json_object_get(src, "op");
        if (!json_is_string(so) || strcmp(json_string_value(so), lpi_ops[op].name))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the source's op must be '%s'", where, lpi_ops[op].name);
        if (op == LPI_OP_LOAD) st = load_source(D, w2, ni, src);
        else st = lpi_json_node_from_head(ctx, w2, src, NULL, 0, &D->exprs[ni]);
        if (st) return st;
        const lp_array *e = D->exprs[ni];
        pn->expr = D->exprs[ni];
        if (op == LPI_OP_LOAD) {
            /* the view and reshape it is read through, checked against the stored array */
            if ((st = lpi_load_params_from_json(ctx, D->b->ar, where, params, e, pn))) return st;
            pn->reader = D->readers[ni];
        } else if (e->dtype != pn->dtype || e->ndim != pn->ndim ||
                   memcmp(e->shape, pn->shape, (size_t)pn->ndim * sizeof(int64_t))) {
            return lpi_error(ctx, LP_ERR_SHAPE, "%s: the source's dtype and shape differ from the node's", where);
        }
    }
    if ((pn->kernel == LPI_K_SCAN || pn->kernel == LPI_K_SORT || pn->kernel == LPI_K_INDEX || pn->kernel == LPI_K_FFT) &&
        (st = lpi_axisk_from_json(ctx, where, params, pn)))
        return st; /* the kernels check their operands' shapes themselves */
    if (pn->kernel == LPI_K_COPY) D->maps[ni] = json_object_get(params, "map"); /* decoded per task: needs the input's rank */
    if (pn->kernel == LPI_K_RESHAPE) {
        /* the flat-copy kernel reads only the source's shape: a stand-in node holds it */
        lp_array *self = lpi_arena_alloc(D->b->ar, sizeof *self), *src = lpi_arena_alloc(D->b->ar, sizeof *src);
        lp_array **ins = lpi_arena_alloc(D->b->ar, sizeof *ins);
        if (!self || !src || !ins) return lpi_nomem(ctx);
        if ((st = lpi_json_shape(ctx, where, params, "src_shape", &src->ndim, src->shape))) return st;
        int64_t a, b;
        lpi_shape_size(src->ndim, src->shape, &a);
        lpi_shape_size(pn->ndim, pn->shape, &b);
        if (a != b) return lpi_error(ctx, LP_ERR_SHAPE, "%s: 'src_shape' has %lld elements, the shape %lld", where, (long long)a, (long long)b);
        src->dtype = self->dtype = pn->dtype;
        src->size = a;
        self->op = LPI_OP_RESHAPE;
        self->ndim = pn->ndim;
        memcpy(self->shape, pn->shape, sizeof self->shape);
        self->size = b;
        self->nin = 1;
        ins[0] = src;
        self->in = ins;
        pn->expr = self;
    }
    /* what each kind produces must be what the node declares */
    if (pn->prog && pn->kernel == LPI_K_MAP && pn->prog->reg_dt[pn->prog->out_reg] != pn->dtype)
        return lpi_error(ctx, LP_ERR_TYPE, "%s: the program writes %s, the node is %s", where,
                         lp_dtype_name(pn->prog->reg_dt[pn->prog->out_reg]), lp_dtype_name(pn->dtype));
    if (pn->prog && pn->kernel == LPI_K_PARTIAL && pn->prog->reg_dt[pn->prog->out_reg] != (pn->red->acc_float ? LP_FLOAT64 : LP_INT64))
        return lpi_error(ctx, LP_ERR_TYPE, "%s: the program must produce the accumulator's dtype", where);
    if (pn->red) {
        const lpi_reduce *r = pn->red;
        bool must_float = op == LPI_OP_MEAN || op == LPI_OP_VAR || op == LPI_OP_STD || op == LPI_OP_LDA_STATS || op == LPI_OP_LDA_LW;
        bool must_int = op == LPI_OP_ANY || op == LPI_OP_ALL || op == LPI_OP_LDA_LABELS;
        if ((must_float && !r->acc_float) || (must_int && r->acc_float))
            return lpi_error(ctx, LP_ERR_TYPE, "%s: '%s' accumulates in %s", where, lpi_ops[op].name, must_float ? "float64" : "int64");
        if (lda && (op == LPI_OP_LDA_STATS || op == LPI_OP_LDA_LW) && r->in_ndim != 2)
            return lpi_error(ctx, LP_ERR_SHAPE, "%s: 'in_shape' must be X's (rows, features)", where);
    }
    return LP_OK;
}

/* ---- tasks ---- */

static const char *const K_TASK[] = {"node", "chunk", "box", "pelems", "map", "out", "ops", NULL};
static const char *const K_OUT[] = {"store", "key", "box", "file", "offset", NULL};

/* A sink's file, opened once per batch however many tasks write into it. */
static lp_status sink_fd(dec *D, int ti, const char *where, const lpi_pnode *pn, lpi_wire_chunk *out) {
    lpi_wire_batch *b = D->b;
    for (int i = 0; i < ti; i++) {
        const lpi_wire_chunk *o = &b->outs[i];
        if (o->file && o->fd >= 0 && !strcmp(o->file, out->file)) { out->fd = o->fd; return LP_OK; }
    }
    int64_t need = 1;
    for (int i = 0; i < pn->ndim; i++) need *= pn->shape[i]; /* the shape passed the node's checks */
    need = need * (int64_t)lp_dtype_size(pn->dtype) + out->file_offset;
    if (!b->fds && !(b->fds = lpi_arena_alloc(b->ar, (size_t)(b->ntasks + 1) * sizeof *b->fds))) return lpi_nomem(D->ctx);
    lp_status st = lpi_wire_sink_open(D->ctx, D->lim, where, out->file, need, &out->fd);
    if (!st) b->fds[b->nfds++] = out->fd;
    return st;
}
static const char *const K_OPERAND[] = {"dtype", "box", "contig", "pieces", NULL};


/* The pieces tile the operand box exactly: per axis, their intervals partition [lo, hi); every
 * piece is one cell of that grid; no cell twice; as many pieces as cells. (A gap would leave
 * assembled memory uninitialized; an overlap with a gap, too.) */
static lp_status check_tiling(dec *D, const char *where, const lpi_operand *op) {
    lp_ctx *ctx = D->ctx;
    const int nd = op->box.ndim, np = op->npieces;
    if (lpi_box_size(&op->box) == 0) {
        if (np) return lpi_error(ctx, LP_ERR_VALUE, "%s: an empty operand box has no pieces", where);
        return LP_OK;
    }
    if (np == 0) return lpi_error(ctx, LP_ERR_VALUE, "%s: no pieces cover the operand box", where);
    if (np == 1) {
        if (!lpi_box_eq(&op->pieces[0].box, &op->box))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the only piece must be the whole operand box", where);
        return LP_OK;
    }
    int64_t *lo = lp_malloc((size_t)np * 2 * sizeof *lo), *cut[LP_MAX_NDIM], ncut[LP_MAX_NDIM];
    uint8_t *seen = NULL;
    lp_status st = LP_OK;
    for (int i = 0; i < nd; i++) cut[i] = NULL;
    if (!lo) return lpi_nomem(ctx);
    int64_t cells = 1;
    for (int i = 0; i < nd && !st; i++) {
        /* distinct lo values, sorted; each with one hi; consecutive; covering the box */
        for (int q = 0; q < np; q++) lo[q] = op->pieces[q].box.lo[i];
        qsort(lo, (size_t)np, sizeof *lo, lpi_cmp_i64);
        int64_t n = 0;
        for (int q = 0; q < np; q++)
            if (!n || lo[n - 1] != lo[q]) lo[n++] = lo[q];
        if (!(cut[i] = lp_malloc((size_t)(n + 1) * sizeof **cut))) { st = lpi_nomem(ctx); break; }
        memcpy(cut[i], lo, (size_t)n * sizeof *lo);
        cut[i][n] = op->box.hi[i];
        ncut[i] = n;
        if (cut[i][0] != op->box.lo[i]) st = lpi_error(ctx, LP_ERR_VALUE, "%s: pieces do not start at the operand box on axis %d", where, i);
        if (__builtin_mul_overflow(cells, n, &cells) || cells > np) cells = -1;
    }
    if (!st && cells != np)
        st = lpi_error(ctx, LP_ERR_VALUE, "%s: %d pieces do not tile the operand box", where, np);
    if (!st && !(seen = lp_calloc((size_t)np, 1))) st = lpi_nomem(ctx);
    for (int q = 0; q < np && !st; q++) {
        const lpi_box *pb = &op->pieces[q].box;
        int64_t cell = 0;
        for (int i = 0; i < nd && !st; i++) {
            int64_t *f = bsearch(&pb->lo[i], cut[i], (size_t)ncut[i], sizeof(int64_t), lpi_cmp_i64);
            int64_t k = f ? f - cut[i] : -1;
            if (k < 0 || cut[i][k + 1] != pb->hi[i] || pb->hi[i] <= pb->lo[i])
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: piece %d is not one cell of the pieces' grid on axis %d", where, q, i);
            cell = cell * ncut[i] + k;
        }
        if (!st && seen[cell]) st = lpi_error(ctx, LP_ERR_VALUE, "%s: piece %d overlaps another piece", where, q);
        if (!st) seen[cell] = 1;
    }
    lp_free(lo);
    lp_free(seen);
    for (int i = 0; i < nd; i++) lp_free(cut[i]);
    return st;
}

static lp_status decode_operand(dec *D, const char *where0, int k, const json_t *j, lpi_operand *op, lp_dtype *dt) {
    lp_ctx *ctx = D->ctx;
    char where[W + 32];
    snprintf(where, sizeof where, "%s operand %d", where0, k);
    if (!json_is_object(j)) return fmt_err(ctx, where, "must be an object");
    const json_t *pcs;
    lp_status st;
    bool contig = false;
    if ((st = lpi_json_only_keys(ctx, where, j, K_OPERAND, "key")) || (st = lpi_json_dtype(ctx, where, j, "dtype", dt)) ||
        (st = box_key(ctx, where, j, "box", &op->box)) || (st = lpi_json_bool(ctx, where, j, "contig", true, &contig)) ||
        (st = get_list(ctx, where, j, "pieces", false, (size_t)D->lim->max_pieces, &pcs)))
        return st;
    op->pnode = -1;
    op->contig = contig;
    op->npieces = (int)json_array_size(pcs);
    D->npieces += op->npieces;
    if (D->npieces > D->lim->max_pieces)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: the batch has more than %lld pieces", where, (long long)D->lim->max_pieces);
    if (op->npieces && !(op->pieces = lpi_arena_alloc(D->b->ar, (size_t)op->npieces * sizeof *op->pieces))) return lpi_nomem(ctx);
    for (int q = 0; q < op->npieces; q++) {
        const json_t *e = json_array_get(pcs, (size_t)q);
        char w[W + 64];
        snprintf(w, sizeof w, "%s piece %d", where, q);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(json_array_get(e, 0)))
            return fmt_err(ctx, w, "must be [chunk, box]");
        int64_t c = json_integer_value(json_array_get(e, 0));
        if (c < 0 || c >= D->b->nchunks) return lpi_error(ctx, LP_ERR_VALUE, "%s: chunk %lld does not exist", w, (long long)c);
        lpi_piece *pc = &op->pieces[q];
        pc->pnode = -1;
        pc->chunk = c;
        if ((st = box_from(ctx, w, json_array_get(e, 1), &pc->box))) return st;
        const lpi_wire_chunk *ch = &D->b->chunks[c];
        char b1[200], b2[200];
        if (ch->dtype != *dt)
            return lpi_error(ctx, LP_ERR_TYPE, "%s: chunk %lld is %s, the operand %s", w, (long long)c, lp_dtype_name(ch->dtype),
                             lp_dtype_name(*dt));
        if (pc->box.ndim != op->box.ndim || !box_inside(&pc->box, &ch->box))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: box %s is not inside its chunk's box %s", w, box_str(b1, sizeof b1, &pc->box),
                             box_str(b2, sizeof b2, &ch->box));
        if (!box_inside(&pc->box, &op->box))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: box %s is not inside the operand box %s", w, box_str(b1, sizeof b1, &pc->box),
                             box_str(b2, sizeof b2, &op->box));
        if (ch->state && (op->npieces != 1 || !lpi_box_eq(&pc->box, &ch->box)))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: a state chunk is read whole, as the only piece", w);
    }
    return check_tiling(D, where, op);
}

/* COPY: every read of the affine map stays inside the operand box. */
static lp_status check_copy(dec *D, const char *where, const lpi_task *t) {
    lp_ctx *ctx = D->ctx;
    const lpi_axismap *m = t->map;
    const lpi_box *ib = &t->ops[0].box, *ob = &t->box;
    bool used[LP_MAX_NDIM] = {false};
    for (int o = 0; o < ob->ndim; o++) {
        int s = m->src[o];
        if (s < 0) continue;
        if (used[s] || m->dropped[s]) return lpi_error(ctx, LP_ERR_VALUE, "%s: input axis %d is mapped twice", where, s);
        used[s] = true;
    }
    if (lpi_box_size(ob) == 0) return LP_OK;
    if (lpi_box_size(ib) == 0) return lpi_error(ctx, LP_ERR_VALUE, "%s: the operand box is empty", where);
    for (int i = 0; i < ib->ndim; i++)
        if (m->dropped[i] && (m->fixed[i] < ib->lo[i] || m->fixed[i] >= ib->hi[i]))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: fixed index %lld of input axis %d is outside the operand box", where,
                             (long long)m->fixed[i], i);
    for (int o = 0; o < ob->ndim; o++) {
        int s = m->src[o];
        if (s < 0) continue;
        int64_t c[2], e[2] = {ob->lo[o], ob->hi[o] - 1};
        for (int q = 0; q < 2; q++)
            if (__builtin_mul_overflow(m->step[o], e[q], &c[q]) || __builtin_add_overflow(c[q], m->off[o], &c[q]) ||
                c[q] < ib->lo[s] || c[q] >= ib->hi[s])
                return lpi_error(ctx, LP_ERR_VALUE, "%s: output axis %d reads outside the operand box", where, o);
    }
    return LP_OK;
}

/* MAP/PARTIAL: operands broadcast to the task box (right-aligned; extent equal or 1). */
static lp_status check_broadcast(dec *D, const char *where, const lpi_task *t, const lp_dtype *odt, const lpi_program *p) {
    lp_ctx *ctx = D->ctx;
    if (t->nops != p->ninputs)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: the program reads %d operands, the task has %d", where, p->ninputs, t->nops);
    for (int k = 0; k < t->nops; k++) {
        const lpi_box *b = &t->ops[k].box;
        if (odt[k] != p->reg_dt[k])
            return lpi_error(ctx, LP_ERR_TYPE, "%s: operand %d is %s, the program's register %s", where, k,
                             lp_dtype_name(odt[k]), lp_dtype_name(p->reg_dt[k]));
        if (b->ndim > t->box.ndim) return lpi_error(ctx, LP_ERR_SHAPE, "%s: operand %d has more axes than the task box", where, k);
        for (int i = 0; i < b->ndim; i++) {
            int64_t e = box_extent(b, i), te = box_extent(&t->box, i + t->box.ndim - b->ndim);
            if (e != te && e != 1)
                return lpi_error(ctx, LP_ERR_SHAPE, "%s: operand %d (extent %lld on axis %d) does not broadcast to the "
                                 "task box (%lld)", where, k, (long long)e, i, (long long)te);
        }
    }
    return LP_OK;
}

static int64_t rows_of(const lpi_box *b) { return b->ndim ? box_extent(b, 0) : 1; }

/* The Fisher LDA kernels read their operands by shape: check every shape they rely on. */
static lp_status check_lda(dec *D, const char *where, const lpi_pnode *pn, lpi_task *t, const lp_dtype *odt,
                           const lpi_wire_chunk *out) {
    lp_ctx *ctx = D->ctx;
    const int n = t->nops;
    const lpi_box *B[5] = {NULL};
    for (int k = 0; k < n && k < 5; k++) B[k] = &t->ops[k].box;
    /* parameters (every operand after the row operands) are read as contiguous memory */
#define BAD(...) lpi_error(ctx, LP_ERR_SHAPE, __VA_ARGS__)
    bool isfloat0 = n > 0 && (odt[0] == LP_FLOAT32 || odt[0] == LP_FLOAT64);
    if (pn->kernel == LPI_K_COMBINE) {
        if (n < 1) return BAD("%s: a combine needs states", where);
        for (int k = 0; k < n; k++) {
            const lpi_wire_chunk *c = &D->b->chunks[t->ops[k].pieces[0].chunk];
            if (c->shape[0] != 1 || c->shape[1] != t->pelems || c->dtype != (pn->red->acc_float ? LP_FLOAT64 : LP_INT64))
                return BAD("%s: operand %d is not a state of this node", where, k);
        }
        if (pn->op == LPI_OP_LDA_STATS) {
            int64_t Dd = pn->red->in_shape[1], per = 1 + Dd + Dd * Dd;
            if (Dd > 65536 || t->pelems % per) return BAD("%s: the state size is not K (1 + D + D^2)", where);
        }
        if (pn->op == LPI_OP_LDA_LABELS && t->pelems != LPI_LDA_LABELS_SIZE) return BAD("%s: a labels state has %d entries", where, LPI_LDA_LABELS_SIZE);
        return LP_OK;
    }
    if (pn->op == LPI_OP_LDA_LABELS) {
        if (n != 1 || B[0]->ndim != 1 || lpi_dtype_kind(odt[0]) == LPI_KIND_FLOAT)
            return BAD("%s: lda_labels reads one 1-d integer or bool operand", where);
        if (t->pelems != LPI_LDA_LABELS_SIZE) return BAD("%s: a labels state has %d entries", where, LPI_LDA_LABELS_SIZE);
        return LP_OK;
    }
    if (pn->op == LPI_OP_LDA_STATS || pn->op == LPI_OP_LDA_LW) {
        int want = pn->op == LPI_OP_LDA_STATS ? 3 : 4;
        if (n != want) return BAD("%s: %s reads %d operands", where, lpi_ops[pn->op].name, want);
        if (B[0]->ndim != 2 || !isfloat0) return BAD("%s: X must be 2-d float32 or float64", where);
        if (B[1]->ndim != 1 || lpi_dtype_kind(odt[1]) == LPI_KIND_FLOAT || rows_of(B[1]) != rows_of(B[0]))
            return BAD("%s: y must be 1-d integer or bool with X's rows", where);
        if (B[2]->ndim != 1 || odt[2] != LP_INT64) return BAD("%s: classes must be 1-d int64", where);
        int64_t Dd = box_extent(B[0], 1), K = box_extent(B[2], 0);
        if (K > LPI_LDA_MAX_CLASSES || Dd != pn->red->in_shape[1]) return BAD("%s: at most %d classes and X's features", where, LPI_LDA_MAX_CLASSES);
        t->ops[2].contig = true;
        if (pn->op == LPI_OP_LDA_STATS) {
            if (Dd > 65536 || t->pelems != lpi_lda_stats_size(K, Dd)) return BAD("%s: the state must be K (1 + D + D^2)", where);
        } else {
            if (odt[3] != LP_FLOAT64 || lpi_box_size(B[3]) < (K + 1) * 2 * Dd) return BAD("%s: parameters must be (K+1) x 2 x D float64", where);
            t->ops[3].contig = true;
            if (t->pelems != K + 1) return BAD("%s: the state must have K + 1 entries", where);
        }
        return LP_OK;
    }
    /* project / predict: maps over X's rows into the output chunk; the last operand is the
     * centering vector (D float64) */
    int want = pn->op == LPI_OP_LDA_PROJECT ? 4 : 5;
    if (n != want) return BAD("%s: %s reads %d operands", where, lpi_ops[pn->op].name, want);
    if (B[0]->ndim != 2 || !isfloat0) return BAD("%s: X must be 2-d float32 or float64", where);
    const int64_t rows = rows_of(B[0]), Dd = box_extent(B[0], 1);
    if (out->ndim < 1 || out->shape[0] != rows) return BAD("%s: the output must have X's rows", where);
    for (int k = 1; k < n; k++) t->ops[k].contig = true;
    const lpi_box *Bc = &t->ops[n - 1].box;
    if (odt[n - 1] != LP_FLOAT64 || lpi_box_size(Bc) < Dd) return BAD("%s: the center must hold D float64", where);
    if (pn->op == LPI_OP_LDA_PROJECT) {
        if (odt[1] != LP_FLOAT64 || B[1]->ndim != 2 || box_extent(B[1], 0) != Dd) return BAD("%s: W must be D x m float64", where);
        int64_t m = box_extent(B[1], 1);
        if (odt[2] != LP_FLOAT64 || lpi_box_size(B[2]) < m) return BAD("%s: b must hold m float64", where);
        if (pn->dtype != LP_FLOAT64 || !((out->ndim == 2 && out->shape[1] == m) || (out->ndim == 1 && m == 1)))
            return BAD("%s: the output must be rows x m float64", where);
        return LP_OK;
    }
    if (odt[1] != LP_FLOAT64 || B[1]->ndim != 2 || box_extent(B[1], 1) != Dd) return BAD("%s: coef must be C x D float64", where);
    int64_t C = box_extent(B[1], 0);
    if (odt[2] != LP_FLOAT64 || lpi_box_size(B[2]) < C) return BAD("%s: b must hold C float64", where);
    if (odt[3] != LP_INT64 || lpi_box_size(B[3]) < (C > 2 ? C : 2)) return BAD("%s: classes must hold the C labels (int64)", where);
    if (out->ndim != 1 || lpi_dtype_kind(pn->dtype) == LPI_KIND_FLOAT) return BAD("%s: the output must be 1-d labels", where);
#undef BAD
    return LP_OK;
}

static lp_status decode_task(dec *D, int ti, const json_t *j) {
    lp_ctx *ctx = D->ctx;
    lpi_wire_batch *b = D->b;
    lpi_task *t = &b->tasks[ti];
    lpi_wire_chunk *out = &b->outs[ti];
    char where[W];
    snprintf(where, sizeof where, "task %d", ti);
    if (!json_is_object(j)) return fmt_err(ctx, where, "must be an object");
    memset(t, 0, sizeof *t);
    memset(out, 0, sizeof *out);
    int64_t node, chunk, pelems = 0, store;
    const json_t *jops, *jout;
    lp_status st;
    if ((st = lpi_json_only_keys(ctx, where, j, K_TASK, "key")) ||
        (st = lpi_json_int(ctx, where, j, "node", false, 0, b->nnodes - 1, &node)) ||
        (st = lpi_json_int(ctx, where, j, "chunk", false, 0, INT64_MAX >> 2, &chunk)) ||
        (st = box_key(ctx, where, j, "box", &t->box)) ||
        (st = lpi_json_int(ctx, where, j, "pelems", true, 0, INT64_MAX >> 4, &pelems)) ||
        (st = get_list(ctx, where, j, "ops", false, (size_t)D->lim->max_operands, &jops)))
        return st;
    t->pnode = (int32_t)node;
    t->chunk = chunk;
    t->pelems = pelems;
    const lpi_pnode *pn = &b->nodes[node];
    if (!!json_object_get(j, "pelems") != lpi_pnode_has_pelems(pn))
        return fmt_err(ctx, where, "'pelems' is given exactly for tasks of partial, combine and split matmul nodes");
    snprintf(where, sizeof where, "task %d (%s %s)", ti, lpi_kernel_name(pn->kernel), lpi_ops[pn->op].name);
    /* output */
    if (!(jout = json_object_get(j, "out")) || !json_is_object(jout)) return fmt_err(ctx, where, "'out' must be an object");
    const bool state_out = lpi_pnode_writes_state(pn);
    out->fd = -1;
    out->store = -1;
    const bool sunk = json_object_get(jout, "file") != NULL;
    if ((st = lpi_json_only_keys(ctx, where, jout, K_OUT, "key")) ||
        (st = lpi_json_str(ctx, where, jout, "file", true, &out->file)) ||
        (st = lpi_json_int(ctx, where, jout, "offset", !sunk, 0, INT64_MAX >> 2, &out->file_offset)))
        return st;
    if (!sunk && json_object_get(jout, "offset")) return fmt_err(ctx, where, "'offset' belongs to a sink's 'file'");
    if (!sunk || json_object_get(jout, "key")) {
        if ((st = lpi_json_int(ctx, where, jout, "store", false, 0, b->nstores - 1, &store)) ||
            (st = lpi_json_str(ctx, where, jout, "key", false, &out->key)))
            return st;
        if (!lpi_store_key_valid(out->key, NULL)) return lpi_store_key_check(ctx, out->key);
        out->store = (int)store;
    } else if (json_object_get(jout, "store")) {
        return fmt_err(ctx, where, "'store' belongs to a 'key'");
    }
    if (sunk && state_out) return fmt_err(ctx, where, "a partial state cannot go to a sink 'file'");
    if (state_out) {
        if (json_object_get(jout, "box")) return fmt_err(ctx, where, "a state output has no 'box'");
        if (pn->red->nfields * (uint64_t)pelems > D->lim->max_chunk_bytes / 8)
            return lpi_error(ctx, LP_ERR_LIMIT, "%s: the state exceeds the chunk limit", where);
        out->box.ndim = 1;
        out->box.hi[0] = 1;
        out->state = true;
    } else {
        if ((st = box_key(ctx, where, jout, "box", &out->box))) return st;
        if (!box_in_shape(&out->box, pn->ndim, pn->shape))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the output box is not inside the node's shape", where);
        if ((uint64_t)lpi_box_size(&out->box) > D->lim->max_chunk_bytes / lp_dtype_size(pn->dtype))
            return lpi_error(ctx, LP_ERR_LIMIT, "%s: the output chunk exceeds the chunk limit of %llu bytes", where,
                             (unsigned long long)D->lim->max_chunk_bytes);
    }
    lpi_task_out_shape(pn, t, &out->box, &out->dtype, &out->ndim, out->shape);
    if (sunk && (st = sink_fd(D, ti, where, pn, out))) return st;
    /* operands */
    t->nops = (int)json_array_size(jops);
    lp_dtype odt_stack[8], *odt = odt_stack;
    if (t->nops && !(t->ops = lpi_arena_alloc(b->ar, (size_t)t->nops * sizeof *t->ops))) return lpi_nomem(ctx);
    if (t->nops > 8 && !(odt = lpi_arena_alloc(b->ar, (size_t)t->nops * sizeof *odt))) return lpi_nomem(ctx);
    for (int k = 0; k < t->nops; k++)
        if ((st = decode_operand(D, where, k, json_array_get(jops, (size_t)k), &t->ops[k], &odt[k]))) return st;
    /* map: the task's own (concatenate) or its node's; copies only */
    const json_t *jm = json_object_get(j, "map");
    if (jm && pn->kernel != LPI_K_COPY) return fmt_err(ctx, where, "only copy tasks have a 'map'");
    if (pn->kernel == LPI_K_COPY) {
        if (t->nops != 1) return lpi_error(ctx, LP_ERR_VALUE, "%s: a copy reads one operand", where);
        if (!jm) jm = D->maps[node];
        if (!jm) return fmt_err(ctx, where, "a copy task needs a 'map' (its own or its node's)");
        lpi_axismap *m = lpi_arena_alloc(b->ar, sizeof *m);
        char w2[W + 16];
        snprintf(w2, sizeof w2, "%s: map", where);
        if (!m) return lpi_nomem(ctx);
        if ((st = lpi_axismap_from_json(ctx, w2, jm, pn->ndim, t->ops[0].box.ndim, m))) return st;
        t->map = m;
    }
    /* state operands belong to combines, combines read only states */
    for (int k = 0; k < t->nops; k++) {
        bool st_in = t->ops[k].npieces && b->chunks[t->ops[k].pieces[0].chunk].state;
        if (st_in != (pn->kernel == LPI_K_COMBINE))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: operand %d: only combine tasks read partial states", where, k);
        if (pn->kernel == LPI_K_COMBINE && !st_in) return lpi_error(ctx, LP_ERR_VALUE, "%s: operand %d is empty", where, k);
    }
    /* the kernel's own expectations */
    const bool lda = lpi_is_lda_op(pn->op);
    char b1[200], b2[200];
    switch (pn->kernel) {
    case LPI_K_GEN: case LPI_K_LOAD:
        if (t->nops) return lpi_error(ctx, LP_ERR_VALUE, "%s: a source task reads no operands", where);
        /* fall through */
    case LPI_K_MAP: case LPI_K_COPY: case LPI_K_RESHAPE: case LPI_K_LINALG: case LPI_K_SCAN: case LPI_K_SORT: case LPI_K_INDEX:
    case LPI_K_FFT:
        if (!lpi_box_eq(&t->box, &out->box))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the task box %s must be the output box %s", where,
                             box_str(b1, sizeof b1, &t->box), box_str(b2, sizeof b2, &out->box));
        break;
    default: break;
    }
    if (pn->kernel == LPI_K_MAP && !lda && (st = check_broadcast(D, where, t, odt, pn->prog))) return st;
    if (pn->kernel == LPI_K_MATMUL || pn->kernel == LPI_K_LINALG) {
        /* a matmul block: the output box (a split contraction's state: a block of the product,
         * pelems its size); a linalg op: the whole result */
        if (pn->kernel == LPI_K_MATMUL && state_out) {
            if (!box_in_shape(&t->box, pn->red->in_ndim, pn->red->in_shape) || pelems != lpi_box_size(&t->box))
                return lpi_error(ctx, LP_ERR_VALUE, "%s: a partial product is a block of the product with 'pelems' elements", where);
        } else if (pn->kernel == LPI_K_MATMUL) {
            if (!lpi_box_eq(&t->box, &out->box))
                return lpi_error(ctx, LP_ERR_VALUE, "%s: the task box %s must be the output box %s", where,
                                 box_str(b1, sizeof b1, &t->box), box_str(b2, sizeof b2, &out->box));
        } else if (pn->op != LPI_OP_QR_Q && pn->op != LPI_OP_QR_R) { /* TSQR: a task per row block */
            for (int i = 0; i < pn->ndim; i++)
                if (t->box.lo[i] != 0 || t->box.hi[i] != pn->shape[i])
                    return lpi_error(ctx, LP_ERR_VALUE, "%s: a linalg task computes the whole result", where);
        }
        if ((st = lpi_linalg_task_check(ctx, where, pn, t, odt))) return st;
    }
    if (pn->kernel == LPI_K_COPY) {
        if (odt[0] != pn->dtype) return lpi_error(ctx, LP_ERR_TYPE, "%s: a copy keeps the dtype", where);
        if ((st = check_copy(D, where, t))) return st;
    }
    if (pn->kernel == LPI_K_RESHAPE) {
        const lp_array *src = pn->expr->in[0];
        if (t->nops != 1 || odt[0] != pn->dtype) return lpi_error(ctx, LP_ERR_VALUE, "%s: a reshape reads one operand of its dtype", where);
        const lpi_operand *o = &t->ops[0]; /* (not before: ops is NULL when a task has none) */
        t->ops[0].contig = true;
        bool rows = o->box.ndim == src->ndim && t->box.ndim == pn->ndim;
        for (int i = 1; rows && i < src->ndim; i++) rows = o->box.lo[i] == 0 && o->box.hi[i] == src->shape[i];
        for (int i = 1; rows && i < pn->ndim; i++) rows = t->box.lo[i] == 0 && t->box.hi[i] == pn->shape[i];
        if (!rows || !box_in_shape(&o->box, src->ndim, src->shape))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: a reshape moves whole rows", where);
        int64_t orow = 1, irow = 1;
        for (int i = 1; i < pn->ndim; i++) orow *= pn->shape[i];
        for (int i = 1; i < src->ndim; i++) irow *= src->shape[i];
        int64_t out0 = pn->ndim ? t->box.lo[0] * orow : 0, in0 = src->ndim ? o->box.lo[0] * irow : 0;
        int64_t nn = lpi_box_size(&t->box);
        if (nn && (out0 < in0 || out0 - in0 + nn > lpi_box_size(&o->box)))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the operand does not hold the output's elements", where);
    }
    if (pn->kernel == LPI_K_GEN || pn->kernel == LPI_K_LOAD) {
        if (!box_in_shape(&t->box, pn->ndim, pn->shape)) return lpi_error(ctx, LP_ERR_VALUE, "%s: box outside the array", where);
    }
    if (pn->kernel == LPI_K_PARTIAL && !lda) {
        const lpi_reduce *r = pn->red;
        if (!box_in_shape(&t->box, r->in_ndim, r->in_shape))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the box is not inside the reduction's input", where);
        if ((st = check_broadcast(D, where, t, odt, pn->prog))) return st;
        int64_t nelem = 1;
        int kept = 0;
        for (int i = 0; i < r->in_ndim; i++)
            if (!(r->axes & (1u << i))) { nelem *= box_extent(&t->box, i); kept++; }
        if (state_out) {
            if (pelems != nelem) return lpi_error(ctx, LP_ERR_VALUE, "%s: 'pelems' must be %lld", where, (long long)nelem);
        } else {
            if (lpi_box_size(&out->box) != nelem || (pn->ndim != kept && pn->ndim != r->in_ndim))
                return lpi_error(ctx, LP_ERR_VALUE, "%s: the output box does not hold the reduced elements", where);
        }
    }
    if (pn->kernel == LPI_K_COMBINE && !lda) {
        const lpi_reduce *r = pn->red;
        if (t->nops < 1) return lpi_error(ctx, LP_ERR_VALUE, "%s: a combine needs states", where);
        for (int k = 0; k < t->nops; k++) {
            const lpi_wire_chunk *c = &b->chunks[t->ops[k].pieces[0].chunk];
            if (c->shape[0] != r->nfields || c->shape[1] != pelems || c->dtype != (r->acc_float ? LP_FLOAT64 : LP_INT64))
                return lpi_error(ctx, LP_ERR_SHAPE, "%s: operand %d is not a state of this reduction", where, k);
        }
        if (!state_out && lpi_box_size(&out->box) != pelems)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: the output box does not hold 'pelems' elements", where);
    }
    if (lda) {
        if (!state_out && (pn->kernel == LPI_K_PARTIAL || pn->kernel == LPI_K_COMBINE) &&
            (lpi_box_size(&out->box) != pelems || pn->ndim != 1 || pn->dtype != (pn->red->acc_float ? LP_FLOAT64 : LP_INT64)))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: a final state is the node's whole output", where);
        if ((st = check_lda(D, where, pn, t, odt, out))) return st;
    }
    /* memory: distinct inputs, assembled copies, the output */
    uint64_t bytes = 0;
    for (int k = 0; k < t->nops; k++) {
        const lpi_operand *o = &t->ops[k];
        for (int q = 0; q < o->npieces; q++) {
            const lpi_wire_chunk *c = &b->chunks[o->pieces[q].chunk];
            int64_t n;
            lpi_shape_size(c->ndim, c->shape, &n);
            bytes += (uint64_t)n * lp_dtype_size(c->dtype);
        }
        if (o->npieces > 1 || o->contig) bytes += (uint64_t)lpi_box_size(&o->box) * lp_dtype_size(odt[k]);
    }
    int64_t on;
    lpi_shape_size(out->ndim, out->shape, &on);
    bytes += (uint64_t)on * lp_dtype_size(out->dtype);
    b->task_bytes[ti] = bytes;
    if (bytes > D->lim->max_task_bytes)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: needs %llu bytes; the worker's limit per task is %llu", where,
                         (unsigned long long)bytes, (unsigned long long)D->lim->max_task_bytes);
    return LP_OK;
}

/* ---- the batch ---- */

static const char *const K_TOP[] = {"format", "version", "kind", "run", "timeout_ms", "guard", "expire_ms", "stores",
                                    "chunks", "nodes", "tasks", NULL};

void lpi_wire_batch_free(lpi_wire_batch *b) {
    if (!b) return;
    for (int i = 0; i < b->nnodes; i++) {
        lpi_reader_close(b->nodes[i].reader);
        if (b->nodes[i].kernel == LPI_K_GEN || b->nodes[i].kernel == LPI_K_LOAD) lp_array_release(b->nodes[i].expr);
    }
    for (int i = 0; i < b->nfds; i++) close(b->fds[i]);
    json_decref(b->doc);
    lpi_arena_destroy(b->ar);
    lp_free(b);
}

/* ---- streaming the big lists ----
 * jansson's tree of a document takes about 15 times its text. "chunks" and "tasks" are nearly
 * all of a large batch, so they are parsed one element at a time: a scanner finds where the
 * top-level members and the elements of those two lists begin and end (it follows strings and
 * nesting only; every value is then parsed, and checked, by jansson), and each element's tree
 * is freed as soon as it is decoded. A batch then takes its text, its decoded structs and one
 * element's tree, not its whole tree as well. */

typedef struct span { const char *p; size_t n; } span;

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* The end of the value at s[i] (after whitespace), or 0 when its structure is broken. */
static size_t skip_value(const char *s, size_t n, size_t i) {
    size_t depth = 0;
    do {
        if (i >= n) return 0;
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            if (i >= n) return 0;
            i++;
        } else if (c == '[' || c == '{') {
            depth++;
            i++;
        } else if (c == ']' || c == '}') {
            if (!depth) return 0;
            depth--;
            i++;
        } else if (depth && (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            i++;
        } else { /* a number or a literal: up to the next delimiter */
            size_t j = i;
            while (j < n && !strchr(",:]} \t\n\r\"[{", s[j])) j++;
            if (j == i) return 0;
            i = j;
        }
    } while (depth);
    return i;
}

static lp_status json_err(lp_ctx *ctx, const char *body, const char *at, const json_error_t *e) {
    return lpi_error(ctx, LP_ERR_FORMAT, "invalid JSON at byte %lld: %s", (long long)(at - body) + e->position, e->text);
}

/* The elements of the list in sp: with cb == NULL only counts them (*count). */
static lp_status each_element(dec *D, const char *body, const char *name, span sp, int64_t *count,
                              lp_status (*cb)(dec *D, int64_t i, const json_t *j)) {
    size_t i = skip_ws(sp.p, sp.n, 1), k = 0;
    if (i < sp.n && sp.p[i] == ']') { *count = 0; return LP_OK; }
    for (;; k++) {
        size_t e = skip_value(sp.p, sp.n, i);
        if (!e) return lpi_error(D->ctx, LP_ERR_FORMAT, "invalid JSON in '%s' at byte %lld", name, (long long)(sp.p + i - body));
        if (cb) {
            json_error_t jerr;
            json_t *j = json_loadb(sp.p + i, e - i, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
            if (!j) return json_err(D->ctx, body, sp.p + i, &jerr);
            lp_status st = cb(D, (int64_t)k, j);
            json_decref(j);
            if (st) return st;
        }
        i = skip_ws(sp.p, sp.n, e);
        if (i < sp.n && sp.p[i] == ',') { i = skip_ws(sp.p, sp.n, i + 1); continue; }
        if (i < sp.n && sp.p[i] == ']') break;
        return lpi_error(D->ctx, LP_ERR_FORMAT, "invalid JSON in '%s' at byte %lld", name, (long long)(sp.p + i - body));
    }
    *count = (int64_t)k + 1;
    return LP_OK;
}

/* The top-level object with every member parsed but "chunks" and "tasks", whose spans are
 * returned (p = NULL when absent). */
static lp_status scan_top(lp_ctx *ctx, const char *body, size_t n, json_t **top, span *chunks, span *tasks) {
    *top = NULL;
    chunks->p = tasks->p = NULL;
    json_error_t jerr;
    size_t i = skip_ws(body, n, 0);
    if (i >= n || body[i] != '{') {
        /* not an object: let jansson say what it is (or what is wrong with it) */
        json_t *j = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!j) return json_err(ctx, body, body, &jerr);
        json_decref(j);
        return lpi_error(ctx, LP_ERR_FORMAT, "batch: must be a JSON object");
    }
    json_t *obj = json_object();
    if (!obj) return lpi_nomem(ctx);
    i = skip_ws(body, n, i + 1);
    bool first = true;
    while (!(i < n && body[i] == '}' && first)) {
        size_t ke = i < n && body[i] == '"' ? skip_value(body, n, i) : 0;
        json_t *key = ke ? json_loadb(body + i, ke - i, JSON_DECODE_ANY, &jerr) : NULL;
        size_t vs = ke ? skip_ws(body, n, ke) : 0;
        if (!key || !json_is_string(key) || vs >= n || body[vs] != ':') {
            json_decref(key);
            json_decref(obj);
            return lpi_error(ctx, LP_ERR_FORMAT, "invalid JSON at byte %lld: a member of the batch object was expected",
                             (long long)i);
        }
        const char *k = json_string_value(key);
        vs = skip_ws(body, n, vs + 1);
        size_t ve = skip_value(body, n, vs);
        lp_status st = LP_OK;
        bool big = !strcmp(k, "chunks") || !strcmp(k, "tasks");
        span *sp = !strcmp(k, "chunks") ? chunks : tasks;
        if (!ve) st = lpi_error(ctx, LP_ERR_FORMAT, "invalid JSON at byte %lld: a value was expected", (long long)vs);
        else if (json_object_get(obj, k) || (big && sp->p)) st = lpi_error(ctx, LP_ERR_FORMAT, "batch: duplicate key '%.40s'", k);
        else if (big && body[vs] == '[') { sp->p = body + vs; sp->n = ve - vs; }
        else if (big) st = lpi_error(ctx, LP_ERR_FORMAT, "batch: '%s' must be a list", k);
        else {
            json_t *v = json_loadb(body + vs, ve - vs, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
            if (!v) st = json_err(ctx, body, body + vs, &jerr);
            else if (json_object_set_new(obj, k, v)) st = lpi_nomem(ctx);
        }
        json_decref(key);
        if (st) { json_decref(obj); return st; }
        first = false;
        i = skip_ws(body, n, ve);
        if (i < n && body[i] == ',') { i = skip_ws(body, n, i + 1); continue; }
        if (i < n && body[i] == '}') break;
        json_decref(obj);
        return lpi_error(ctx, LP_ERR_FORMAT, "invalid JSON at byte %lld: ',' or '}' was expected", (long long)i);
    }
    if (skip_ws(body, n, i + 1) != n) {
        json_decref(obj);
        return lpi_error(ctx, LP_ERR_FORMAT, "invalid JSON at byte %lld: end of text expected", (long long)(i + 1));
    }
    /* "chunks" and "tasks" are known to the key check below as lists */
    if ((chunks->p && json_object_set_new(obj, "chunks", json_array())) ||
        (tasks->p && json_object_set_new(obj, "tasks", json_array()))) {
        json_decref(obj);
        return lpi_nomem(ctx);
    }
    *top = obj;
    return LP_OK;
}

/* Decoded elements keep their strings (keys) in the batch's arena: their trees are gone. */
static char *arena_str(lpi_arena *ar, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = lpi_arena_alloc(ar, n);
    if (d) memcpy(d, s, n);
    return d;
}

static lp_status stream_chunk(dec *D, int64_t i, const json_t *j) {
    lp_status st = decode_chunk(D, i, j);
    lpi_wire_chunk *c = &D->b->chunks[i];
    if (!st && c->key && !(c->key = arena_str(D->b->ar, c->key))) st = lpi_nomem(D->ctx);
    return st;
}

static lp_status stream_task(dec *D, int64_t i, const json_t *j) {
    lp_status st = decode_task(D, (int)i, j);
    lpi_wire_chunk *o = &D->b->outs[i];
    if (!st && o->key && !(o->key = arena_str(D->b->ar, o->key))) st = lpi_nomem(D->ctx);
    if (!st && o->file && !(o->file = arena_str(D->b->ar, o->file))) st = lpi_nomem(D->ctx);
    return st;
}

lp_status lpi_wire_kind(lp_ctx *ctx, const char *body, size_t n, char *kind, size_t cap) {
    json_t *top;
    span chunk_span, task_span;
    if (!n) { body = "{}"; n = 2; }
    lp_status st = scan_top(ctx, body, n, &top, &chunk_span, &task_span);
    if (st) return st;
    const json_t *k = json_object_get(top, "kind");
    if (k && !json_is_string(k)) st = lpi_error(ctx, LP_ERR_FORMAT, "batch: 'kind' must be a string");
    else snprintf(kind, cap, "%s", k ? json_string_value(k) : "batch");
    json_decref(top);
    return st;
}

lp_status lpi_wire_decode(lp_ctx *ctx, const lpi_wire_limits *lim, const char *body, size_t n, lpi_wire_batch **out) {
    *out = NULL;
    lpi_wire_batch *b = lp_calloc(1, sizeof *b);
    if (!b || !(b->ar = lpi_arena_create())) { lp_free(b); return lpi_nomem(ctx); }
    dec D = {.ctx = ctx, .lim = lim, .b = b};
    lp_status st = LP_OK;
    const char *where = "batch";
    span chunk_span, task_span;
    if (!n) { body = "{}"; n = 2; }
    if ((st = scan_top(ctx, body, n, &b->doc, &chunk_span, &task_span))) goto fail;
    json_t *top = b->doc;
    const char *format, *run = "", *kind = "batch";
    int64_t version, timeout = 0, expire = LPI_WIRE_DEFAULT_EXPIRE_MS;
    const json_t *stores, *chunks, *nodes, *tasks;
    if (!json_is_object(top)) { st = fmt_err(ctx, where, "must be a JSON object"); goto fail; }
    if ((st = lpi_json_only_keys(ctx, where, top, K_TOP, "key")) ||
        (st = lpi_json_str(ctx, where, top, "format", false, &format)))
        goto fail;
    if (strcmp(format, LPI_WIRE_FORMAT)) { st = lpi_error(ctx, LP_ERR_FORMAT, "batch: 'format' must be \"%s\"", LPI_WIRE_FORMAT); goto fail; }
    if ((st = lpi_json_int(ctx, where, top, "version", false, 0, INT32_MAX, &version))) goto fail;
    if (version != LPI_WIRE_VERSION) {
        st = lpi_error(ctx, LP_ERR_FORMAT, "batch: version %lld is not supported (this worker speaks %d)", (long long)version,
                       LPI_WIRE_VERSION);
        goto fail;
    }
    const char *guard = NULL;
    if ((st = lpi_json_str(ctx, where, top, "kind", true, &kind))) goto fail;
    if (strcmp(kind, "batch")) {
        st = lpi_error(ctx, LP_ERR_VALUE, "batch: 'kind' is \"batch\" or \"orchestrate\", not \"%.40s\"", kind);
        goto fail;
    }
    if ((st = lpi_json_str(ctx, where, top, "run", true, &run)) || (st = lpi_json_str(ctx, where, top, "guard", true, &guard)) ||
        (st = lpi_json_int(ctx, where, top, "timeout_ms", true, 0, INT64_MAX >> 2, &timeout)) ||
        (st = lpi_json_int(ctx, where, top, "expire_ms", true, 1, INT64_MAX >> 2, &expire)) ||
        (st = get_list(ctx, where, top, "stores", false, (size_t)lim->max_stores, &stores)) ||
        (st = get_list(ctx, where, top, "chunks", true, (size_t)lim->max_chunks, &chunks)) ||
        (st = get_list(ctx, where, top, "nodes", true, (size_t)lim->max_nodes, &nodes)) ||
        (st = get_list(ctx, where, top, "tasks", false, (size_t)lim->max_tasks, &tasks)))
        goto fail;
    if (strlen(run) > 64 || strspn(run, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(run)) {
        st = lpi_error(ctx, LP_ERR_VALUE, "batch: 'run' must be at most 64 letters, digits, '.', '_' or '-'");
        goto fail;
    }
    if (guard && *guard && (st = lpi_store_key_check(ctx, guard))) goto fail;
    b->run = run;
    b->guard = guard && *guard ? guard : NULL;
    b->timeout_ms = timeout;
    b->expire_ms = expire;
    (void)chunks;
    (void)tasks;
    b->nstores = (int)json_array_size(stores);
    /* b->nnodes is set once b->nodes exists: lpi_wire_batch_free walks nodes[0..nnodes) */
    const int nnodes = nodes ? (int)json_array_size(nodes) : 0;
    int64_t count = 0;
    if (chunk_span.p && (st = each_element(&D, body, "chunks", chunk_span, &count, NULL))) goto fail;
    if (count > lim->max_chunks) {
        st = lpi_error(ctx, LP_ERR_LIMIT, "batch: 'chunks' has %lld items; at most %lld are allowed", (long long)count,
                       (long long)lim->max_chunks);
        goto fail;
    }
    b->nchunks = count;
    count = 0;
    if ((st = each_element(&D, body, "tasks", task_span, &count, NULL))) goto fail;
    if (count > lim->max_tasks) {
        st = lpi_error(ctx, LP_ERR_LIMIT, "batch: 'tasks' has %lld items; at most %d are allowed", (long long)count,
                       lim->max_tasks);
        goto fail;
    }
    b->ntasks = (int)count;
    b->stores = lpi_arena_alloc(b->ar, (size_t)(b->nstores + 1) * sizeof *b->stores);
    b->chunks = lpi_arena_alloc(b->ar, (size_t)(b->nchunks + 1) * sizeof *b->chunks);
    b->nodes = lpi_arena_alloc(b->ar, (size_t)(nnodes + 1) * sizeof *b->nodes);
    b->tasks = lpi_arena_alloc(b->ar, (size_t)(b->ntasks + 1) * sizeof *b->tasks);
    b->outs = lpi_arena_alloc(b->ar, (size_t)(b->ntasks + 1) * sizeof *b->outs);
    b->task_bytes = lpi_arena_alloc(b->ar, (size_t)(b->ntasks + 1) * sizeof *b->task_bytes);
    D.exprs = lpi_arena_alloc(b->ar, (size_t)(nnodes + 1) * sizeof *D.exprs);
    D.readers = lpi_arena_alloc(b->ar, (size_t)(nnodes + 1) * sizeof *D.readers);
    D.maps = lpi_arena_alloc(b->ar, (size_t)(nnodes + 1) * sizeof *D.maps);
    if (!b->stores || !b->chunks || !b->nodes || !b->tasks || !b->outs || !b->task_bytes || !D.exprs || !D.readers || !D.maps) {
        st = lpi_nomem(ctx);
        goto fail;
    }
    b->nnodes = nnodes;
    for (int i = 0; i < b->nnodes; i++) b->nodes[i].lndim = -1;
    for (int i = 0; i < b->nstores; i++) {
        const json_t *e = json_array_get(stores, (size_t)i);
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 1024 ||
            strlen(json_string_value(e)) != json_string_length(e)) {
            st = lpi_error(ctx, LP_ERR_FORMAT, "batch: store %d must be a URL of 1 to 1024 characters", i);
            goto fail;
        }
        b->stores[i] = json_string_value(e);
    }
    for (int i = 0; i < b->nnodes; i++) {
        st = decode_node(&D, i, json_array_get(nodes, (size_t)i));
        if (st) {
            /* what decode_node opened is released with the batch */
            b->nodes[i].reader = D.readers[i];
            b->nodes[i].expr = D.exprs[i];
            b->nnodes = i + 1;
            goto fail;
        }
    }
    if (chunk_span.p && (st = each_element(&D, body, "chunks", chunk_span, &count, stream_chunk))) goto fail;
    if ((st = each_element(&D, body, "tasks", task_span, &count, stream_task))) goto fail;
    *out = b;
    return LP_OK;
fail:
    lpi_wire_batch_free(b);
    return st;
}

lp_status lpi_wire_check_input(lp_ctx *ctx, const lpi_wire_batch *b, int64_t ci, const lp_buffer *buf) {
    const lpi_wire_chunk *c = &b->chunks[ci];
    if (buf->dtype != c->dtype || buf->ndim != c->ndim || memcmp(buf->shape, c->shape, (size_t)c->ndim * sizeof(int64_t)))
        return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: stored dtype and shape differ from the task's reference", c->key);
    /* the store verified the data against the stored header; this ties the header to the
     * producer's report, so a stale or substituted chunk is not read as the right one */
    uint64_t h = XXH3_64bits(buf->nbytes ? buf->data : "", buf->nbytes);
    if (h != c->checksum) return lpi_chunk_checksum_error(ctx, c->key, c->checksum, h);
    return LP_OK;
}

lp_status lpi_wire_check_operands(lp_ctx *ctx, const lpi_pnode *pn, const lpi_task *t, const lpi_view *ins) {
    /* labels states: the merge trusts the count in entry 0 */
    if (pn->op == LPI_OP_LDA_LABELS && pn->kernel == LPI_K_COMBINE)
        for (int k = 0; k < t->nops; k++) {
            int64_t cnt;
            memcpy(&cnt, ins[k].data, sizeof cnt);
            if (cnt < 0 || cnt > LPI_LDA_LABELS_CAP)
                return lpi_error(ctx, LP_ERR_FORMAT, "operand %d: a labels state counts %lld labels (at most %d)", k,
                                 (long long)cnt, LPI_LDA_LABELS_CAP);
        }
    return LP_OK;
}
