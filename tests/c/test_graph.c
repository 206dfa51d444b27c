/* The graph format, the plan serializers, DOT, the cost model and traces:
 *   - random DAGs built with the public API: dump, load, dump again -> identical JSON; run both
 *     -> identical bits (or the same error);
 *   - exact floats (nan, inf, -0, subnormals, 0.1) through dump and load;
 *   - in-memory data: inlined when small, an error or a .npy file when large;
 *   - tests/data/json/invalid: each file fails with the status and message in EXPECTED;
 *   - truncated and mutated documents never crash;
 *   - plan dumps: every pnode and task decodes and re-encodes to the same JSON; corrupted
 *     tasks and programs are rejected with their location;
 *   - DOT parses with Graphviz (when installed); estimates are consistent; traces are valid
 *     JSON with one span per task; profiles save and load. */
#include "lampy.h"
#include "lpt.h"

#include "graph/json.h"
#include "plan/cost.h"
#include "plan/serialize.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static lp_ctx *ctx;
static char tmpdir[256];
static char npy_f64[512], npy_i32[512];

/* ---- a small PRNG ---- */
static uint64_t rs = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static int rint_(int n) { return (int)(rnd() % (uint64_t)n); }

static const char *status_name(lp_status s) {
    switch (s) {
#define X(name, num, desc) case LP_##name: return "LP_" #name;
        LP_STATUS_MAP(X)
#undef X
    default: return "?";
    }
}
static lp_status status_from_name(const char *name) {
    for (int s = 0; s < LP_STATUS_COUNT; s++)
        if (!strcmp(status_name((lp_status)s), name)) return (lp_status)s;
    return LP_STATUS_COUNT;
}

/* ---- random graphs ---- */

typedef struct pool {
    lp_array *a[256];
    int n;
} pool;

static void add(pool *p, lp_status st, lp_array *x) {
    if (st || !x) return;
    if (p->n < 256) p->a[p->n++] = x;
    else lp_array_release(x);
}

static const int64_t SHAPES[][4] = {{0}, {5}, {4, 5}, {3, 4, 5}, {1, 5}, {4, 1}, {2, 1, 5}, {6}, {5, 5}};
static const int SHAPE_ND[] = {0, 1, 2, 3, 2, 2, 3, 1, 2};

static double special_float(void) {
    static const double v[] = {0.1, -0.0, 1.5, 2.0, 1e-310, 3.141592653589793, -7.25, 1e300, 0.3333333333333333};
    int k = rint_(12);
    if (k == 9) return NAN;
    if (k == 10) return INFINITY;
    if (k == 11) return -INFINITY;
    return v[k];
}

/* real dtypes (the value generators below are real; complex graphs: test_py_complex) */
static lp_dtype rdtype(void) { return (lp_dtype)rint_(LP_COMPLEX64); }

static void random_source(pool *p, bool allow_data) {
    int s = rint_(9);
    const int64_t *sh = SHAPES[s];
    int nd = SHAPE_ND[s];
    lp_array *x = NULL;
    lp_status st = LP_OK;
    switch (rint_(allow_data ? 11 : 9)) {
    case 0: st = lp_random_uniform(ctx, rnd(), -1, 2, rint_(2) ? LP_FLOAT32 : LP_FLOAT64, nd, sh, &x); break;
    case 1: st = lp_random_normal(ctx, rnd(), 0.5, 2, rint_(2) ? LP_FLOAT32 : LP_FLOAT64, nd, sh, &x); break;
    case 2: st = lp_arange(ctx, rint_(5) - 2, 3 + rint_(20), rint_(2) ? 1 : 0.7, rdtype(), &x); break;
    case 3: st = lp_linspace(ctx, -1, 0.1 * rint_(30), rint_(9), rint_(2), rdtype(), &x); break;
    case 4: {
        lp_dtype dt = rdtype();
        lp_scalar v = lpi_dtype_kind(dt) == LPI_KIND_FLOAT ? lp_scalar_f(special_float()) : lp_scalar_i(rint_(9) - 4);
        if (dt == LP_BOOL) v = lp_scalar_b(rint_(2));
        st = lp_full(ctx, dt, nd, sh, v, &x);
        break;
    }
    case 5: st = lp_eye(ctx, 3 + rint_(3), rint_(2) ? -1 : 4, rint_(5) - 2, rdtype(), &x); break;
    case 6: {
        int k = rint_(3);
        lp_scalar v = k == 0 ? lp_scalar_b(rint_(2)) : k == 1 ? lp_scalar_i(rint_(7) - 3) : lp_scalar_f(special_float());
        st = lp_scalar_array(ctx, v, &x);
        break;
    }
    case 7: st = lp_load(ctx, npy_f64, &x); break;
    case 8: st = lp_load(ctx, npy_i32, &x); break;
    default: {
        /* small in-memory data: inlined in the dump */
        lp_dtype dt = rdtype();
        double raw[64];
        for (int i = 0; i < 64; i++) {
            double f = special_float();
            switch (dt) {
            case LP_BOOL: ((uint8_t *)raw)[i] = rint_(2); break;
            case LP_INT32: ((int32_t *)raw)[i] = (int32_t)(rnd() >> 33); break;
            case LP_INT64: ((int64_t *)raw)[i] = (int64_t)rnd(); break;
            case LP_FLOAT32: ((float *)raw)[i] = (float)f; break;
            case LP_FLOAT16: { _Float16 h = (_Float16)f; memcpy((char *)raw + 2 * i, &h, 2); break; }
            case LP_FLOAT64: raw[i] = f; break;
            default: { uint64_t v = rnd(); memcpy((char *)raw + i * (int)lp_dtype_size(dt), &v, lp_dtype_size(dt)); }
            }
        }
        lp_buffer *b;
        if (!(st = lp_buffer_create(ctx, dt, nd, sh, raw, &b))) {
            st = lp_from_buffer(ctx, b, &x);
            lp_buffer_release(b);
        }
    }
    }
    if (!st && x && rint_(6) == 0 && x->ndim) {
        int64_t ch[LP_MAX_NDIM];
        for (int i = 0; i < x->ndim; i++) ch[i] = rint_(3);
        lp_array_set_chunks(ctx, x, x->ndim, ch);
    }
    add(p, st, x);
}

static void random_op(pool *p) {
    static const char *bin[] = {"add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power",
                                "maximum", "minimum", "equal", "less", "greater_equal", "logical_and",
                                "logical_xor", "bitwise_and", "bitwise_or"};
    static const char *un[] = {"negative", "abs", "sqrt", "exp", "log", "sin", "cos", "tanh", "logical_not", "invert"};
    static const char *red[] = {"sum", "prod", "mean", "min", "max", "argmin", "argmax", "var", "std", "any", "all"};
    if (p->n == 0) return;
    lp_array *a = p->a[rint_(p->n)], *b = p->a[rint_(p->n)], *c = p->a[rint_(p->n)], *x = NULL;
    lp_status st = LP_OK;
    switch (rint_(15)) {
    case 14: {
        /* ops along an axis, through the function catalogue */
        static const char *fns[] = {"cumsum", "cumprod", "cummax", "cummin", "sort", "argsort", "median", "quantile", "diff",
                                    "nanmax", "nanvar", "round", "clip"};
        const char *f = fns[rint_(13)];
        bool rc = !strcmp(f, "round") || !strcmp(f, "clip");
        lp_value args[3] = {lp_value_array(a), rc ? lp_value_int(rint_(3)) : lp_value_float(0.25 * rint_(5)),
                            lp_value_int(rint_(4) - 2)};
        const char *kw[] = {"axis"};
        lp_value out;
        int npos = rc || !strcmp(f, "quantile") ? 2 : 1;
        st = lp_call(ctx, f, npos, args, rc || !a->ndim ? 0 : 1, kw, args + 2, &out);
        x = st ? NULL : out.array;
        break;
    }
    case 12: {
        /* matmul, with transposes the builder folds into the product */
        lp_array *ta = NULL, *tb = NULL;
        if (rint_(2) && a->ndim >= 2) lp_transpose(ctx, a, NULL, &ta);
        if (rint_(2) && b->ndim >= 2) lp_transpose(ctx, b, NULL, &tb);
        st = lp_matmul(ctx, ta ? ta : a, tb ? tb : b, &x);
        lp_array_release(ta);
        lp_array_release(tb);
        break;
    }
    case 13: {
        lp_array *y = NULL;
        switch (rint_(7)) {
        case 0: st = lp_linalg_inv(ctx, a, &x); break;
        case 1: st = lp_linalg_det(ctx, a, &x); break;
        case 2: st = lp_linalg_solve(ctx, a, b, &x); break;
        case 3: st = lp_linalg_cholesky(ctx, a, &x); break;
        case 4: st = lp_linalg_eigh(ctx, a, &x, &y); break;
        case 5: st = lp_linalg_slogdet(ctx, a, &y, &x); break;
        default: st = lp_linalg_lstsq(ctx, a, b, rint_(2) ? -1 : 1e-10, &x);
        }
        add(p, st, y);
        break;
    }
    case 0: case 1: case 2: st = lp_binary(ctx, bin[rint_(16)], a, b, &x); break;
    case 3: st = lp_unary(ctx, un[rint_(10)], a, &x); break;
    case 4: st = lp_where(ctx, a, b, c, &x); break;
    case 5: st = lp_astype(ctx, a, rdtype(), &x); break;
    case 6: {
        int axes[LP_MAX_NDIM], n = 0;
        for (int i = 0; i < a->ndim; i++)
            if (rint_(2)) axes[n++] = rint_(2) ? i : i - a->ndim;
        st = lp_reduce_ddof(ctx, red[rint_(11)], a, rint_(3) ? axes : NULL, n, rint_(2), rint_(2), &x);
        break;
    }
    case 7: {
        int64_t sh[LP_MAX_NDIM];
        int nd = 0;
        switch (rint_(3)) {
        case 0: sh[nd++] = -1; break;
        case 1: for (int i = a->ndim - 1; i >= 0; i--) sh[nd++] = a->shape[i]; break;
        default: sh[nd++] = 1; for (int i = 0; i < a->ndim; i++) sh[nd++] = a->shape[i];
        }
        st = lp_reshape(ctx, a, nd, sh, &x);
        break;
    }
    case 8: {
        int perm[LP_MAX_NDIM];
        for (int i = 0; i < a->ndim; i++) perm[i] = i;
        for (int i = a->ndim - 1; i > 0; i--) { int j = rint_(i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
        st = lp_transpose(ctx, a, rint_(4) ? perm : NULL, &x);
        break;
    }
    case 9: {
        lp_index idx[LP_MAX_NDIM + 2];
        int n = 0;
        for (int i = 0; i < a->ndim && n < LP_MAX_NDIM; i++) {
            lp_index ix = {0};
            int k = rint_(6);
            if (k == 0) { ix.kind = LP_IDX_INT; ix.start = rint_(3) - 1; }
            else if (k == 1 && n + 1 < LP_MAX_NDIM) { ix.kind = LP_IDX_NEWAXIS; idx[n++] = ix; ix.kind = LP_IDX_SLICE; ix.step = 1; }
            else {
                ix.kind = LP_IDX_SLICE;
                ix.has_start = rint_(2);
                ix.has_stop = rint_(2);
                ix.start = rint_(9) - 4;
                ix.stop = rint_(9) - 4;
                ix.step = (rint_(2) ? 1 : -1) * (1 + rint_(3));
            }
            idx[n++] = ix;
        }
        st = lp_slice(ctx, a, n, idx, &x);
        break;
    }
    case 10: {
        lp_array *in[3] = {a, rint_(2) ? a : b, a};
        st = lp_concatenate(ctx, 2 + rint_(2), in, rint_(3) - 1, &x);
        break;
    }
    default: {
        lp_array *in[2] = {a, b};
        st = lp_stack(ctx, 2, in, rint_(2) ? 0 : -1, &x);
    }
    }
    add(p, st, x);
}

static void build_random(pool *p, bool allow_data) {
    p->n = 0;
    int ns = 2 + rint_(4), nops = 4 + rint_(14);
    for (int i = 0; i < ns; i++) random_source(p, allow_data);
    for (int i = 0; i < nops; i++) {
        if (rint_(6) == 0) random_source(p, allow_data);
        else random_op(p);
    }
}

static void pool_free(pool *p) {
    for (int i = 0; i < p->n; i++) lp_array_release(p->a[i]);
    p->n = 0;
}

static bool same_result(lp_buffer *x, lp_buffer *y) {
    if (lp_buffer_dtype(x) != lp_buffer_dtype(y) || lp_buffer_ndim(x) != lp_buffer_ndim(y)) return false;
    if (memcmp(lp_buffer_shape(x), lp_buffer_shape(y), (size_t)lp_buffer_ndim(x) * sizeof(int64_t))) return false;
    return !memcmp(lp_buffer_data(x), lp_buffer_data(y), lp_buffer_nbytes(x));
}

static void test_roundtrip_random(void) {
    int graphs = 0, runs_ok = 0, runs_err = 0;
    for (int trial = 0; trial < 400; trial++) {
        pool p;
        build_random(&p, true);
        if (p.n == 0) continue;
        int nt = 1 + rint_(3);
        lp_array *t[3];
        for (int i = 0; i < nt; i++) t[i] = p.a[p.n - 1 - rint_(p.n < 4 ? p.n : 4)];
        char *j1 = NULL, *j2 = NULL;
        lp_status st = lp_graph_dump(ctx, t, nt, &j1);
        LPT_CHECKF(st == LP_OK, "dump: %s", lp_last_error(ctx));
        if (st) { pool_free(&p); continue; }
        lp_array **lt = NULL;
        int ln = 0;
        st = lp_graph_load(ctx, j1, &lt, &ln);
        LPT_CHECKF(st == LP_OK && ln == nt, "load: %s\n%s", lp_last_error(ctx), j1);
        if (!st) {
            st = lp_graph_dump(ctx, lt, ln, &j2);
            LPT_CHECKF(st == LP_OK && !strcmp(j1, j2), "second dump differs:\n%s\n---\n%s", j1, j2 ? j2 : lp_last_error(ctx));
            graphs++;
            /* run both: the same bits, or the same failure */
            lp_buffer *r1[3] = {0}, *r2[3] = {0};
            lp_status s1 = lp_run(ctx, t, nt, r1);
            char m1[512];
            snprintf(m1, sizeof m1, "%s", lp_last_error(ctx));
            lp_status s2 = lp_run(ctx, lt, ln, r2);
            LPT_CHECKF(s1 == s2, "run status %s (%s) vs %s (%s)\n%s", status_name(s1), m1, status_name(s2), lp_last_error(ctx), j1);
            if (s1 == LP_OK && s2 == LP_OK) {
                runs_ok++;
                for (int i = 0; i < nt; i++) LPT_CHECKF(same_result(r1[i], r2[i]), "target %d differs\n%s", i, j1);
            } else {
                runs_err++;
            }
            for (int i = 0; i < nt; i++) { lp_buffer_release(r1[i]); lp_buffer_release(r2[i]); }
        }
        lp_string_free(j1);
        lp_string_free(j2);
        lp_arrays_release(lt, ln);
        pool_free(&p);
    }
    LPT_CHECKF(graphs > 300 && runs_ok > 200, "only %d graphs, %d runs (%d failed alike)", graphs, runs_ok, runs_err);
}

/* Floats keep every bit: the dump of special values, loaded and run. */
static void test_exact_floats(void) {
    const double v[] = {0.1, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.0 / 3, NAN, INFINITY, -INFINITY, 123456789.125};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        int64_t n = 3;
        lp_array *f, *s, *g, **lt = NULL;
        int ln = 0;
        LPT_OK(ctx, lp_full(ctx, LP_FLOAT64, 1, &n, lp_scalar_f(v[i]), &f));
        LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_f(v[i]), &s));
        LPT_OK(ctx, lp_binary(ctx, "add", f, s, &g));
        char *j;
        LPT_OK(ctx, lp_graph_dump(ctx, &g, 1, &j));
        LPT_OK(ctx, lp_graph_load(ctx, j, &lt, &ln));
        lp_buffer *r1, *r2;
        LPT_OK(ctx, lp_run(ctx, &g, 1, &r1));
        LPT_OK(ctx, lp_run(ctx, lt, 1, &r2));
        LPT_CHECKF(same_result(r1, r2), "%.17g: results differ", v[i]);
        /* the loaded scalar holds the same bits */
        const lp_array *ls = lt[0]->in[1];
        LPT_CHECKF(!memcmp(&ls->a.value.v.f, &v[i], 8) || (isnan(v[i]) && isnan(ls->a.value.v.f)), "%.17g: value changed", v[i]);
        lp_buffer_release(r1);
        lp_buffer_release(r2);
        lp_string_free(j);
        lp_arrays_release(lt, ln);
        lp_array_release(f);
        lp_array_release(s);
        lp_array_release(g);
    }
    /* float32 values in full() and a uint64 seed above INT64_MAX */
    int64_t n = 4;
    lp_array *f, *r, *x, **lt;
    int ln;
    LPT_OK(ctx, lp_full(ctx, LP_FLOAT32, 1, &n, lp_scalar_f(0.1), &f));
    LPT_OK(ctx, lp_random_uniform(ctx, UINT64_MAX - 5, -1, 1, LP_FLOAT32, 1, &n, &r));
    LPT_OK(ctx, lp_binary(ctx, "multiply", f, r, &x));
    char *j;
    LPT_OK(ctx, lp_graph_dump(ctx, &x, 1, &j));
    LPT_CHECKF(strstr(j, "\"18446744073709551610\"") != NULL, "%s", j);
    LPT_OK(ctx, lp_graph_load(ctx, j, &lt, &ln));
    lp_buffer *r1, *r2;
    LPT_OK(ctx, lp_run(ctx, &x, 1, &r1));
    LPT_OK(ctx, lp_run(ctx, lt, 1, &r2));
    LPT_CHECK(same_result(r1, r2));
    lp_buffer_release(r1);
    lp_buffer_release(r2);
    lp_string_free(j);
    lp_arrays_release(lt, ln);
    lp_array_release(f);
    lp_array_release(r);
    lp_array_release(x);
}

/* In-memory data: inline up to 64 elements, otherwise an error or a .npy file. */
static void test_data_limits(void) {
    double d[65];
    for (int i = 0; i < 65; i++) d[i] = i * 0.5;
    int64_t n64 = 64, n65 = 65;
    lp_array *a, *b, *s;
    LPT_OK(ctx, lp_wrap(ctx, d, LP_FLOAT64, 1, &n64, NULL, NULL, NULL, &a));
    LPT_OK(ctx, lp_wrap(ctx, d, LP_FLOAT64, 1, &n65, NULL, NULL, NULL, &b));
    char *j = NULL;
    LPT_OK(ctx, lp_graph_dump(ctx, &a, 1, &j));
    lp_string_free(j);
    j = NULL;
    lp_status st = lp_graph_dump(ctx, &b, 1, &j);
    LPT_CHECKF(st == LP_ERR_LIMIT && strstr(lp_last_error(ctx), "cannot dump: node 0 (wrap) holds in-memory data of 520 bytes"),
               "%s: %s", status_name(st), lp_last_error(ctx));
    LPT_CHECK(j == NULL);
    /* with a data directory the array is written and referenced */
    LPT_OK(ctx, lp_reduce(ctx, "sum", b, NULL, 0, false, &s));
    LPT_OK(ctx, lp_graph_dump_to(ctx, &s, 1, tmpdir, &j));
    LPT_CHECKF(j && strstr(j, "\"op\":\"load\"") && strstr(j, "node0.npy"), "%s", j ? j : "");
    lp_array **lt;
    int ln;
    LPT_OK(ctx, lp_graph_load(ctx, j, &lt, &ln));
    lp_buffer *r;
    LPT_OK(ctx, lp_run(ctx, lt, 1, &r));
    LPT_CHECK(*(double *)lp_buffer_data(r) == 64 * 65 / 2 * 0.5);
    lp_buffer_release(r);
    lp_arrays_release(lt, ln);
    lp_string_free(j);
    /* a computed result is data: small results are inlined */
    LPT_OK(ctx, lp_run(ctx, &s, 1, &r));
    lp_buffer_release(r);
    LPT_OK(ctx, lp_graph_dump(ctx, &s, 1, &j));
    LPT_CHECKF(strstr(j, "\"op\":\"wrap\"") && strstr(j, "\"data\":[\"1040\"]"), "%s", j);
    lp_string_free(j);
    /* a strided wrap is gathered in C order */
    int64_t sh[2] = {2, 3}, strd[2] = {8, 16};
    lp_array *w;
    LPT_OK(ctx, lp_wrap(ctx, d, LP_FLOAT64, 2, sh, strd, NULL, NULL, &w));
    LPT_OK(ctx, lp_graph_dump(ctx, &w, 1, &j));
    LPT_CHECKF(strstr(j, "[\"0\",\"1\",\"2\",\"0.5\",\"1.5\",\"2.5\"]"), "%s", j);
    lp_string_free(j);
    lp_array *all[] = {a, b, s, w};
    for (int i = 0; i < 4; i++) lp_array_release(all[i]);
}

static void test_invalid_corpus(void) {
    char dir[512], epath[600], line[1024];
    snprintf(dir, sizeof dir, "%s/json/invalid", lpt_data_dir());
    snprintf(epath, sizeof epath, "%s/EXPECTED", dir);
    FILE *f = fopen(epath, "r");
    LPT_CHECKF(f != NULL, "cannot open %s", epath);
    if (!f) return;
    int n = 0;
    char listed[128][128];
    /* load paths in the corpus are relative to the corpus directory */
    char cwd[1024];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    while (fgets(line, sizeof line, f) && n < 128) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *name = strtok(line, "\t"), *sname = strtok(NULL, "\t"), *sub = strtok(NULL, "");
        if (!name || !sname || !sub) continue;
        snprintf(listed[n++], sizeof listed[0], "%s", name);
        char path[800];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = -1;
        struct stat sb;
        char *text = NULL;
        if (stat(path, &sb) == 0 && (text = calloc(1, (size_t)sb.st_size + 1))) {
            FILE *g = fopen(path, "rb");
            if (g) { fd = (int)fread(text, 1, (size_t)sb.st_size, g); fclose(g); }
        }
        LPT_CHECKF(text && fd >= 0, "cannot read %s", path);
        if (!text) continue;
        if (chdir(dir)) {}
        lp_array **t = NULL;
        int nt = 0;
        lp_status st = lp_graph_load(ctx, text, &t, &nt);
        if (cwd[0] && chdir(cwd)) {}
        lp_status want = status_from_name(sname);
        LPT_CHECKF(st == want && strstr(lp_last_error(ctx), sub) && t == NULL, "%s: want %s '%s', got %s '%s'", name, sname,
                   sub, status_name(st), lp_last_error(ctx));
        if (st == LP_OK) lp_arrays_release(t, nt);
        free(text);
    }
    fclose(f);
    LPT_CHECKF(n >= 20, "only %d invalid documents", n);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "EXPECTED") || strstr(e->d_name, ".npy")) continue;
        bool found = false;
        for (int i = 0; i < n && !found; i++) found = !strcmp(listed[i], e->d_name);
        LPT_CHECKF(found, "%s is not listed in EXPECTED", e->d_name);
    }
    if (d) closedir(d);
}

/* Every prefix and many single-byte mutations of a valid document: an error or a graph, never
 * a crash (run this under ASan: make test-asan). */
static void test_malformed_never_crash(void) {
    pool p;
    rs = 12345;
    build_random(&p, true);
    while (p.n < 3) random_source(&p, true);
    lp_array *t = p.a[p.n - 1];
    char *j = NULL;
    if (lp_graph_dump(ctx, &t, 1, &j)) { pool_free(&p); return; }
    size_t len = strlen(j);
    char *buf = malloc(len + 1);
    int errors = 0, ok = 0;
    for (size_t cut = 0; cut < len; cut += 1 + len / 400) {
        memcpy(buf, j, cut);
        buf[cut] = 0;
        lp_array **lt;
        int ln;
        if (lp_graph_load(ctx, buf, &lt, &ln) == LP_OK) { ok++; lp_arrays_release(lt, ln); }
        else errors++;
    }
    static const char junk[] = "{}[]\",:0123456789-eE.tfn\\ xq\x01\xff";
    for (int k = 0; k < 3000; k++) {
        memcpy(buf, j, len + 1);
        int m = 1 + rint_(3);
        for (int q = 0; q < m; q++) buf[rint_((int)len)] = junk[rint_((int)sizeof junk - 1)];
        lp_array **lt;
        int ln;
        if (lp_graph_load(ctx, buf, &lt, &ln) == LP_OK) { ok++; lp_arrays_release(lt, ln); }
        else errors++;
    }
    LPT_CHECKF(errors > 1000, "%d errors, %d loaded", errors, ok);
    free(buf);
    lp_string_free(j);
    pool_free(&p);
}

/* ---- plan serialization ---- */

static json_t *parse(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j) fprintf(stderr, "JSON: %s at %d\n", e.text, e.line);
    return j;
}

/* Decode every pnode and task of a plan dump and encode them again: the same JSON. */
static int plan_roundtrip(const char *text) {
    json_t *top = parse(text);
    if (!top) return -1;
    json_t *pns = json_object_get(top, "pnodes"), *tks = json_object_get(top, "tasks");
    size_t np = json_array_size(pns), ntk = json_array_size(tks);
    lpi_arena *ar = lpi_arena_create();
    lpi_plan pl = {0};
    pl.pnodes = calloc(np + 1, sizeof *pl.pnodes);
    pl.tasks = calloc(ntk + 1, sizeof *pl.tasks);
    pl.npnodes = (int)np;
    pl.ntasks = (int64_t)ntk;
    int bad = 0;
    for (size_t p = 0; p < np && !bad; p++) {
        char w[32];
        snprintf(w, sizeof w, "pnode %zu", p);
        lp_status st = lpi_pnode_from_json(ctx, ar, w, json_array_get(pns, p), pl.pnodes, (int)p, &pl.pnodes[p]);
        LPT_CHECKF(st == LP_OK, "%s", lp_last_error(ctx));
        if (st) { bad = 1; break; }
    }
    for (size_t p = 0; p < np && !bad; p++) {
        json_t *o;
        lp_status st = lpi_pnode_to_json(ctx, &pl, (int)p, &o);
        LPT_CHECKF(st == LP_OK && json_equal(o, json_array_get(pns, p)), "pnode %zu re-encodes differently", p);
        bad |= st != LP_OK;
        json_decref(o);
    }
    for (size_t t = 0; t < ntk && !bad; t++) {
        char w[32];
        snprintf(w, sizeof w, "task %zu", t);
        lp_status st = lpi_task_from_json(ctx, ar, w, json_array_get(tks, t), pl.pnodes, (int)np, (int64_t)ntk, &pl.tasks[t]);
        LPT_CHECKF(st == LP_OK, "%s", lp_last_error(ctx));
        if (st) { bad = 1; break; }
    }
    for (size_t t = 0; t < ntk && !bad; t++) {
        json_t *o = lpi_task_to_json(&pl, (int64_t)t);
        /* the id is the array position */
        LPT_CHECKF(o && json_equal(o, json_array_get(tks, t)), "task %zu re-encodes differently", t);
        json_decref(o);
    }
    for (size_t p = 0; p < np; p++) lp_array_release(pl.pnodes[p].expr);
    free(pl.pnodes);
    free(pl.tasks);
    lpi_arena_destroy(ar);
    json_decref(top);
    return bad;
}

static void test_plan_roundtrip(void) {
    int done = 0;
    lp_ctx_set_chunk_bytes(ctx, 64);
    for (int trial = 0; trial < 150; trial++) {
        pool p;
        build_random(&p, false);
        if (!p.n) continue;
        lp_array *t = p.a[p.n - 1];
        char *j = NULL;
        if (lp_plan_dump(ctx, &t, 1, &j) == LP_OK) {
            /* in-memory data (the ranks of a quantile) is not in a plan dump: the remote
             * executor sends it through the store */
            if (strstr(j, "\"data\":\"memory\"")) {
                json_t *ok = parse(j);
                LPT_CHECK(ok != NULL);
                json_decref(ok);
                done++;
            } else if (!plan_roundtrip(j)) done++;
        } else {
            LPT_CHECKF(0, "plan dump: %s", lp_last_error(ctx));
        }
        lp_string_free(j);
        pool_free(&p);
    }
    lp_ctx_set_chunk_bytes(ctx, 0);
    LPT_CHECKF(done > 120, "only %d plans round-tripped", done);
}

/* A plan document with one field changed must be rejected, naming the place. */
static void expect_task_error(const char *text, const char *path_desc, void (*mutate)(json_t *), const char *sub) {
    json_t *top = parse(text);
    json_t *pns = json_object_get(top, "pnodes"), *tks = json_object_get(top, "tasks");
    mutate(top);
    size_t np = json_array_size(pns), ntk = json_array_size(tks);
    lpi_arena *ar = lpi_arena_create();
    lpi_pnode *pn = calloc(np + 1, sizeof *pn);
    lp_status st = LP_OK;
    char w[32];
    for (size_t p = 0; p < np && !st; p++) {
        snprintf(w, sizeof w, "pnode %zu", p);
        st = lpi_pnode_from_json(ctx, ar, w, json_array_get(pns, p), pn, (int)p, &pn[p]);
    }
    for (size_t t = 0; t < ntk && !st; t++) {
        lpi_task tk;
        snprintf(w, sizeof w, "task %zu", t);
        st = lpi_task_from_json(ctx, ar, w, json_array_get(tks, t), pn, (int)np, (int64_t)ntk, &tk);
    }
    LPT_CHECKF(st != LP_OK && strstr(lp_last_error(ctx), sub), "%s: want '%s', got %s '%s'", path_desc, sub,
               status_name(st), lp_last_error(ctx));
    for (size_t p = 0; p < np; p++) lp_array_release(pn[p].expr);
    free(pn);
    lpi_arena_destroy(ar);
    json_decref(top);
}

static json_t *first_task_of(json_t *top, const char *kernel) {
    json_t *pns = json_object_get(top, "pnodes"), *tks = json_object_get(top, "tasks");
    for (size_t t = 0; t < json_array_size(tks); t++) {
        json_t *tk = json_array_get(tks, t);
        json_t *pn = json_array_get(pns, (size_t)json_integer_value(json_object_get(tk, "pnode")));
        if (!strcmp(json_string_value(json_object_get(pn, "kernel")), kernel)) return tk;
    }
    return NULL;
}
static json_t *first_pnode_of(json_t *top, const char *kernel) {
    json_t *pns = json_object_get(top, "pnodes");
    for (size_t p = 0; p < json_array_size(pns); p++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(pns, p), "kernel")), kernel)) return json_array_get(pns, p);
    return NULL;
}
static void m_piece_box(json_t *top) {
    json_t *op = json_array_get(json_object_get(first_task_of(top, "map"), "ops"), 0);
    json_t *pc = json_array_get(json_object_get(op, "pieces"), 0);
    json_array_set_new(json_array_get(json_array_get(pc, 1), 0), 1, json_integer(1 << 30));
}
static void m_piece_chunk(json_t *top) {
    json_t *op = json_array_get(json_object_get(first_task_of(top, "map"), "ops"), 0);
    json_array_set_new(json_array_get(json_object_get(op, "pieces"), 0), 0, json_integer(999999));
}
static void m_drop_piece(json_t *top) {
    json_t *op = json_array_get(json_object_get(first_task_of(top, "map"), "ops"), 0);
    json_array_remove(json_object_get(op, "pieces"), 0);
}
static void m_reg(json_t *top) {
    json_t *prog = json_object_get(json_object_get(first_pnode_of(top, "map"), "params"), "program");
    json_t *ins = json_array_get(json_object_get(prog, "code"), 0);
    json_array_set_new(ins, 3, json_integer(20000));
}
static void m_ssa(json_t *top) {
    json_t *prog = json_object_get(json_object_get(first_pnode_of(top, "map"), "params"), "program");
    json_t *code = json_object_get(prog, "code");
    json_t *last = json_array_get(code, json_array_size(code) - 1);
    json_array_set_new(json_array_get(code, 0), 3, json_integer(json_integer_value(json_array_get(last, 2))));
}
static void m_loop_dt(json_t *top) {
    json_t *prog = json_object_get(json_object_get(first_pnode_of(top, "map"), "params"), "program");
    json_array_set_new(json_array_get(json_object_get(prog, "code"), 0), 1, json_string("bool"));
}
static void m_box(json_t *top) {
    json_t *tk = first_task_of(top, "map");
    json_array_set_new(json_array_get(json_object_get(tk, "box"), 0), 0, json_integer(1));
}
static void m_copy_map(json_t *top) {
    json_t *m = json_object_get(json_object_get(first_pnode_of(top, "copy"), "params"), "map");
    json_array_set_new(json_object_get(m, "off"), 0, json_integer(1000));
}
static void m_grid(json_t *top) {
    json_t *g = json_object_get(first_pnode_of(top, "map"), "grid");
    json_array_set_new(json_array_get(g, 0), 1, json_integer(0));
}
static void m_reduce_count(json_t *top) {
    json_t *r = json_object_get(json_object_get(first_pnode_of(top, "partial"), "params"), "reduce");
    json_object_set_new(r, "count", json_integer(7));
}

static void test_plan_rejects(void) {
    int64_t sh[2] = {40, 6};
    lp_array *a, *b, *c, *t, *s, *m;
    lp_ctx_set_chunk_bytes(ctx, 256);
    LPT_OK(ctx, lp_random_uniform(ctx, 1, 0, 1, LP_FLOAT64, 2, sh, &a));
    LPT_OK(ctx, lp_random_uniform(ctx, 2, 0, 1, LP_FLOAT64, 2, sh, &b));
    LPT_OK(ctx, lp_binary(ctx, "multiply", a, b, &c));
    LPT_OK(ctx, lp_transpose(ctx, c, NULL, &t));
    LPT_OK(ctx, lp_reduce(ctx, "sum", t, NULL, 0, false, &s));
    lp_array *tt[2] = {s, t};
    char *j;
    LPT_OK(ctx, lp_plan_dump(ctx, tt, 2, &j));
    LPT_CHECK(plan_roundtrip(j) == 0);
    expect_task_error(j, "piece box", m_piece_box, "operand 0 piece 0: box axis 0");
    expect_task_error(j, "piece chunk", m_piece_chunk, "piece 0: chunk 999999 does not exist");
    expect_task_error(j, "missing piece", m_drop_piece, "the pieces do not cover the operand box");
    expect_task_error(j, "register", m_reg, "register operand 1 out of range");
    expect_task_error(j, "ssa", m_ssa, "before it is written");
    expect_task_error(j, "loop dtype", m_loop_dt, "in a bool loop");
    expect_task_error(j, "task box", m_box, "the box is not chunk");
    expect_task_error(j, "copy map", m_copy_map, "reads outside the operand box");
    expect_task_error(j, "grid", m_grid, "bounds must rise strictly");
    expect_task_error(j, "reduce count", m_reduce_count, "'count' is 7");
    lp_string_free(j);
    LPT_OK(ctx, lp_binary(ctx, "add", s, s, &m));
    lp_array_release(m);
    lp_array *all[] = {a, b, c, t, s};
    for (int i = 0; i < 5; i++) lp_array_release(all[i]);
    lp_ctx_set_chunk_bytes(ctx, 0);
}

/* ---- DOT, estimates, traces, profiles ---- */

static bool have_dot(void) { return system("command -v dot >/dev/null 2>&1") == 0; }

static int dot_parses(const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/g.dot", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    fclose(f);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o '%s/g.svg' 2>'%s/dot.err'", path, tmpdir, tmpdir);
    return system(cmd);
}

static void test_dot(void) {
    bool dot = have_dot();
    if (!dot) fprintf(stderr, "graph: Graphviz 'dot' not installed; DOT output is not parsed back\n");
    for (int trial = 0; trial < 12; trial++) {
        pool p;
        build_random(&p, true);
        if (!p.n) continue;
        lp_array *t[2] = {p.a[p.n - 1], p.a[0]};
        for (int flags = 0; flags <= LP_DOT_PLAN; flags += LP_DOT_PLAN) {
            char *d = NULL;
            lp_status st = lp_graph_dot(ctx, t, 2, flags, &d);
            LPT_CHECKF(st == LP_OK && d && strstr(d, "digraph"), "%s", lp_last_error(ctx));
            if (st == LP_OK && dot) LPT_CHECKF(dot_parses(d) == 0, "dot rejected:\n%s", d);
            lp_string_free(d);
        }
        pool_free(&p);
    }
    /* a fused region is a cluster; labels carry shape, dtype and time */
    int64_t n = 1000;
    lp_array *a, *b, *c, *s, *two;
    LPT_OK(ctx, lp_random_uniform(ctx, 1, 0, 1, LP_FLOAT64, 1, &n, &a));
    LPT_OK(ctx, lp_random_uniform(ctx, 2, 0, 1, LP_FLOAT64, 1, &n, &b));
    LPT_OK(ctx, lp_binary(ctx, "subtract", a, b, &c));
    LPT_OK(ctx, lp_scalar_array(ctx, lp_scalar_i(2), &two));
    lp_array *sq;
    LPT_OK(ctx, lp_binary(ctx, "power", c, two, &sq));
    LPT_OK(ctx, lp_reduce(ctx, "sum", sq, NULL, 0, false, &s));
    char *d;
    LPT_OK(ctx, lp_graph_dot(ctx, &s, 1, 0, &d));
    LPT_CHECKF(strstr(d, "subgraph cluster_") && strstr(d, "fused kernel: 3 ops") && strstr(d, "(1000,) float64") &&
                   strstr(d, " us"), "%s", d);
    lp_string_free(d);
    lp_array *all[] = {a, b, c, s, two, sq};
    for (int i = 0; i < 6; i++) lp_array_release(all[i]);
}

static void test_estimate(void) {
    int64_t sh[2] = {20000, 8};
    lp_array *a, *e, *s;
    LPT_OK(ctx, lp_random_uniform(ctx, 1, 0, 1, LP_FLOAT64, 2, sh, &a));
    LPT_OK(ctx, lp_unary(ctx, "exp", a, &e));
    int ax = 0;
    LPT_OK(ctx, lp_reduce(ctx, "mean", e, &ax, 1, false, &s));
    lp_estimate_result *r1 = NULL, *r2 = NULL, *rr = NULL;
    LPT_OK(ctx, lp_estimate(ctx, &s, 1, 1, 0, &r1));
    LPT_OK(ctx, lp_estimate(ctx, &s, 1, 2, 0, &r2));
    LPT_OK(ctx, lp_estimate(ctx, &s, 1, 4, LP_ESTIMATE_REMOTE, &rr));
    if (r1 && r2 && rr) {
        LPT_CHECK(r1->nnodes >= 2 && r1->tasks > 2);
        LPT_CHECKF(r1->total_seconds > 0 && r1->critical_seconds <= r1->total_seconds + 1e-12, "total %g critical %g",
                   r1->total_seconds, r1->critical_seconds);
        LPT_CHECKF(r2->total_seconds <= r1->total_seconds, "2 workers %g, 1 worker %g", r2->total_seconds, r1->total_seconds);
        LPT_CHECKF(r2->total_seconds >= r2->critical_seconds - 1e-12, "total below the critical path");
        LPT_CHECK(rr->remote && rr->total_seconds > r2->total_seconds);
        double sum = 0;
        bool crit = false;
        for (int i = 0; i < r1->nnodes; i++) { sum += r1->nodes[i].seconds; crit |= r1->nodes[i].critical; }
        LPT_CHECKF(fabs(sum - r1->work_seconds) <= 1e-9 * r1->work_seconds, "node times %g vs work %g", sum, r1->work_seconds);
        LPT_CHECK(crit);
        LPT_CHECK(r1->flops >= 20.0 * 20000 * 8);
        LPT_CHECK(r1->bytes_read >= 8.0 * 20000 * 8);
    }
    lp_estimate_free(r1);
    lp_estimate_free(r2);
    lp_estimate_free(rr);
    lp_array_release(a);
    lp_array_release(e);
    lp_array_release(s);
}

static void test_trace(void) {
    lp_ctx *c;
    lp_ctx_create(&c);
    lp_ctx_set_chunk_bytes(c, 4096);
    char path[600];
    snprintf(path, sizeof path, "%s/trace.json", tmpdir);
    LPT_CHECK(lp_trace_write(c, path) == LP_ERR_VALUE); /* nothing traced yet */
    LPT_OK(c, lp_ctx_set_trace(c, true));
    int64_t sh[2] = {3000, 4};
    lp_array *a, *b, *s;
    LPT_OK(c, lp_random_normal(c, 3, 0, 1, LP_FLOAT64, 2, sh, &a));
    LPT_OK(c, lp_unary(c, "sin", a, &b));
    LPT_OK(c, lp_reduce(c, "sum", b, NULL, 0, false, &s));
    lp_array *t[2] = {s, b};
    lp_buffer *r[2];
    LPT_OK(c, lp_run(c, t, 2, r));
    lp_run_report rep;
    lp_last_run_report(c, &rep);
    LPT_CHECKF(rep.predicted_seconds > 0 && rep.busy_seconds > 0 && rep.utilisation > 0 && rep.utilisation <= 1.0001,
               "predicted %g busy %g utilisation %g", rep.predicted_seconds, rep.busy_seconds, rep.utilisation);
    LPT_CHECK(rep.bytes_written >= 3000 * 4 * 8);
    LPT_OK(c, lp_trace_write(c, path));
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    LPT_CHECKF(doc != NULL, "trace is not JSON: %s (line %d)", e.text, e.line);
    if (doc) {
        json_t *evs = json_object_get(doc, "traceEvents");
        int64_t spans = 0;
        int64_t *seen = calloc((size_t)rep.stats.tasks + 1, sizeof *seen);
        bool fields = true;
        for (size_t i = 0; i < json_array_size(evs); i++) {
            json_t *ev = json_array_get(evs, i);
            if (strcmp(json_string_value(json_object_get(ev, "ph")), "X")) continue;
            spans++;
            json_t *args = json_object_get(ev, "args");
            int64_t task = json_integer_value(json_object_get(args, "task"));
            fields &= json_is_string(json_object_get(args, "op")) && json_is_integer(json_object_get(args, "chunk")) &&
                      json_is_integer(json_object_get(args, "bytes_out")) && json_is_number(json_object_get(ev, "ts")) &&
                      json_is_number(json_object_get(ev, "dur")) && json_is_integer(json_object_get(ev, "tid"));
            if (task >= 0 && task < rep.stats.tasks) seen[task]++;
        }
        LPT_CHECKF(spans == rep.stats.tasks, "%lld spans for %lld tasks", (long long)spans, (long long)rep.stats.tasks);
        bool once = true;
        for (int64_t k = 0; k < rep.stats.tasks; k++) once &= seen[k] == 1;
        LPT_CHECK(once && fields);
        free(seen);
        json_decref(doc);
    }
    lp_buffer_release(r[0]);
    lp_buffer_release(r[1]);
    lp_array_release(a);
    lp_array_release(b);
    lp_array_release(s);
    lp_ctx_destroy(c);
}

static void test_profile(void) {
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/profile.json", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad-profile.json", tmpdir);
    lp_ctx *c;
    lp_ctx_create(&c);
    LPT_OK(c, lp_profile_save(c, path));
    LPT_OK(c, lp_profile_load(c, path));
    FILE *f = fopen(bad, "w");
    fputs("{\"format\": \"lampy.profile\", \"version\": 1, \"mem_bw_1stream\": -3}", f);
    fclose(f);
    lp_status st = lp_profile_load(c, bad);
    LPT_CHECKF(st == LP_ERR_VALUE && strstr(lp_last_error(c), "'mem_bw_1stream' must be a positive number"), "%s", lp_last_error(c));
    f = fopen(bad, "w");
    fputs("{\"format\": \"lampy.profile\", \"flops_quantum\": 1}", f);
    fclose(f);
    st = lp_profile_load(c, bad);
    LPT_CHECKF(st == LP_ERR_FORMAT && strstr(lp_last_error(c), "unknown key 'flops_quantum'"), "%s", lp_last_error(c));
    snprintf(bad, sizeof bad, "%s/missing.json", tmpdir);
    LPT_CHECK(lp_profile_load(c, bad) == LP_ERR_NOTFOUND);
    char *j;
    LPT_OK(c, lp_profile_dump(c, &j));
    LPT_CHECK(j && strstr(j, "\"mem_bw_1stream\"") && strstr(j, "\"op_seconds\""));
    lp_string_free(j);
    /* the remote figures (version 2) through save and load; a version 1 file keeps the
     * defaults of the fields it does not have */
    lpi_profile p, q, d;
    lpi_profile_default(&p);
    lpi_profile_default(&d);
    p.net_bw = 1.5e9; p.put_bw = 1.25e9; p.rtt = 3.5e-5; p.invoke = 1.75e-4; p.remote_par = 2.5; p.remote_over_par = 1.5;
    p.orch_run_s = 4.5e-3; p.orch_task_s = 1.25e-4; p.drv_run_s = 6.5e-3; p.drv_task_s = 7.5e-5;
    p.remote_calibrated = true;
    char *text = lpi_profile_to_json_text(&p);
    LPT_CHECK(text && strstr(text, "\"version\": 8") && strstr(text, "\"remote_calibrated\": true"));
    LPT_OK(c, lpi_profile_from_json_text(c, "test", text, &q));
    free(text);
    LPT_CHECK(q.net_bw == p.net_bw && q.put_bw == p.put_bw && q.rtt == p.rtt && q.invoke == p.invoke &&
              q.remote_par == p.remote_par && q.remote_over_par == p.remote_over_par && q.orch_run_s == p.orch_run_s && q.orch_task_s == p.orch_task_s &&
              q.drv_run_s == p.drv_run_s && q.drv_task_s == p.drv_task_s && q.remote_calibrated);
    LPT_OK(c, lpi_profile_from_json_text(c, "v1", "{\"format\": \"lampy.profile\", \"version\": 1, \"rtt_s\": 0.5}", &q));
    LPT_CHECK(q.rtt == 0.5 && q.put_bw == d.put_bw && q.orch_task_s == d.orch_task_s && !q.remote_calibrated);
    st = lpi_profile_from_json_text(c, "v9", "{\"format\": \"lampy.profile\", \"version\": 9}", &q);
    LPT_CHECKF(st == LP_ERR_FORMAT && strstr(lp_last_error(c), "unsupported profile version"), "%s", lp_last_error(c));
    lp_ctx_destroy(c);
}

static void write_npy_inputs(void) {
    snprintf(npy_f64, sizeof npy_f64, "%s/x.npy", tmpdir);
    snprintf(npy_i32, sizeof npy_i32, "%s/i.npy", tmpdir);
    double d[20];
    int32_t k[5];
    for (int i = 0; i < 20; i++) d[i] = (i - 7) * 0.25;
    for (int i = 0; i < 5; i++) k[i] = i * 3 - 4;
    int64_t s1[2] = {4, 5}, s2[1] = {5};
    lp_buffer *b1, *b2;
    lp_buffer_create(ctx, LP_FLOAT64, 2, s1, d, &b1);
    lp_buffer_create(ctx, LP_INT32, 1, s2, k, &b2);
    lp_save(ctx, npy_f64, b1);
    lp_save(ctx, npy_i32, b2);
    lp_buffer_release(b1);
    lp_buffer_release(b2);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lampy-test-graph-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    /* the estimates use the built-in profile, whatever is installed on this machine */
    char prof[400];
    snprintf(prof, sizeof prof, "%s/none.json", tmpdir);
    setenv("LAMPY_PROFILE", prof, 1);
    lp_ctx_create(&ctx);
    write_npy_inputs();
    LPT_RUN(test_exact_floats);
    LPT_RUN(test_data_limits);
    LPT_RUN(test_invalid_corpus);
    LPT_RUN(test_roundtrip_random);
    LPT_RUN(test_malformed_never_crash);
    LPT_RUN(test_plan_roundtrip);
    LPT_RUN(test_plan_rejects);
    LPT_RUN(test_dot);
    LPT_RUN(test_estimate);
    LPT_RUN(test_trace);
    LPT_RUN(test_profile);
    lp_ctx_destroy(ctx);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {}
    return lpt_done("graph");
}
