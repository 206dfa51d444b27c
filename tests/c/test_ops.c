/* Op conformance against NumPy, and determinism across threads / chunk sizes / fusion.
 *
 * Part 1 reads tests/data/ops/MANIFEST (written by tests/data/gen_ops.py, which documents the
 * format): every line is a small stack program over the public API plus the result NumPy
 * computed (or the error NumPy raised). Each case is built, run and compared.
 *
 * Part 2 runs every case again under threads {1,2} x chunk_bytes {256, 4096, 65536, auto} x
 * fusion {on, off} and requires the same results as part 1: bit for bit for elementwise
 * results, within 1e-12 relative for float64 and complex128 reductions (1e-6 for float32 and
 * complex64, 1e-3 for float16).
 *
 * Part 3 does the same with larger inputs (300x70 from lp_random_uniform/normal) and checks the
 * random generators' properties (range, moments, same seed -> same values, independent of
 * chunking and shape).
 *
 * Environment: LP_TEST_DATA (tests/data), LP_OPS_FILTER=substring (only matching case ids),
 * LP_OPS_VERBOSE=1 (print every failure, not only the first ones), LP_OPS_NO_MATRIX=1.
 *
 * Remote mode: LP_OPS_EXECUTOR=lambda with LP_OPS_WORKERS=URL[,URL...] and LP_OPS_STORE=URL
 * (LP_OPS_ORCHESTRATE=lambda: orchestrated by the functions)
 * runs every case through `lampy worker`s and the store (tests/integration/test_remote.py
 * starts them). Part 1 then also runs each case on the local executor and requires the same
 * status, message and bits (the plan, hence the op order, is the same); part 2 varies chunk
 * sizes and fusion (threads do not apply).
 */
#include "lampy.h"
#include "lpt.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

/* ---------------------------------------------------------------- executor */

static const char *remote_exec, *remote_workers, *remote_store;

/* Contexts run on the executor the environment names (local by default). */
static void use_executor(lp_ctx *ctx) {
    if (!ctx || !remote_exec) return;
    LPT_OK(ctx, lp_ctx_set_executor(ctx, remote_exec));
    if (remote_workers) LPT_OK(ctx, lp_ctx_set_workers(ctx, remote_workers));
    if (remote_store) LPT_OK(ctx, lp_ctx_set_store(ctx, remote_store));
    /* LP_OPS_ORCHESTRATE=lambda: orchestration by functions (one invocation per run) */
    const char *orch = getenv("LP_OPS_ORCHESTRATE");
    if (orch && *orch) {
        lp_remote_config rc = {.orchestrate = orch};
        LPT_OK(ctx, lp_ctx_set_remote_config(ctx, &rc));
    }
}

/* ---------------------------------------------------------------- reporting */

static int verbose;
static long nprinted;
#define PRINT_CAP 400

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    nprinted++;
    if (!verbose && nprinted > PRINT_CAP) {
        if (nprinted == PRINT_CAP + 1)
            fprintf(stderr, "... (more failures; LP_OPS_VERBOSE=1 prints all)\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---------------------------------------------------------------- manifest */

enum tol_kind { TOL_EXACT, TOL_EXACTZ, TOL_ULP, TOL_REL };

typedef struct tcase {
    char *id, *cat;
    enum tol_kind tol;
    double tolv;
    char *expect;      /* NULL: an error is expected */
    char **tok;
    int ntok;
    lp_status err_status[4]; /* accepted statuses */
    int nerr;
    char *err_msg;
    int line;
    /* results of the first (reference) run, for the determinism pass */
    lp_status ref_status;
    lp_buffer *ref;
    bool ok;
} tcase;

static const struct { const char *name; lp_status st; } status_names[] = {
#define X(name, num, desc) {#name, LP_##name},
    LP_STATUS_MAP(X)
#undef X
};

static bool status_from_name(const char *s, lp_status *out) {
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (strcmp(status_names[i].name, s) == 0) { *out = status_names[i].st; return true; }
    return false;
}

static const char *status_name(lp_status st) {
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (status_names[i].st == st) return status_names[i].name;
    return "?";
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[n] = 0;
    if (len) *len = (size_t)n;
    return buf;
}

static char *next_word(char **p) {
    char *s = *p;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) { *p = s; return NULL; }
    char *w = s;
    while (*s && *s != ' ' && *s != '\t') s++;
    if (*s) *s++ = 0;
    *p = s;
    return w;
}

/* Parse the manifest in place. Returns the number of cases, -1 on a malformed file. */
static int parse_manifest(char *text, tcase **out) {
    int cap = 1024, n = 0, lineno = 0;
    tcase *cs = calloc((size_t)cap, sizeof *cs);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ') line++;
        if (!*line || *line == '#') continue;
        if (n == cap) {
            cap *= 2;
            cs = realloc(cs, (size_t)cap * sizeof *cs);
        }
        tcase *c = &cs[n];
        memset(c, 0, sizeof *c);
        c->line = lineno;
        char *bar = strstr(line, " | ");
        if (bar) *bar = 0;
        char *p = line;
        c->id = next_word(&p);
        c->cat = next_word(&p);
        char *tol = next_word(&p);
        c->expect = next_word(&p);
        if (!c->id || !c->cat || !tol || !c->expect) goto bad;
        if (strcmp(tol, "exact") == 0 || strcmp(tol, "-") == 0) c->tol = TOL_EXACT;
        else if (strcmp(tol, "exactz") == 0) c->tol = TOL_EXACTZ;
        else if (strncmp(tol, "ulp:", 4) == 0) { c->tol = TOL_ULP; c->tolv = atof(tol + 4); }
        else if (strncmp(tol, "rel:", 4) == 0) { c->tol = TOL_REL; c->tolv = atof(tol + 4); }
        else goto bad;
        int tcap = 8;
        c->tok = malloc((size_t)tcap * sizeof *c->tok);
        for (char *w; (w = next_word(&p));) {
            if (c->ntok == tcap) { tcap *= 2; c->tok = realloc(c->tok, (size_t)tcap * sizeof *c->tok); }
            c->tok[c->ntok++] = w;
        }
        if (strcmp(c->expect, "error") == 0) {
            c->expect = NULL;
            if (!bar) goto bad;
            char *q = bar + 3;
            char *st = next_word(&q);
            if (!st) goto bad;
            for (char *sv = NULL, *s1 = strtok_r(st, ",", &sv); s1; s1 = strtok_r(NULL, ",", &sv)) {
                if (c->nerr == 4 || !status_from_name(s1, &c->err_status[c->nerr])) goto bad;
                c->nerr++;
            }
            if (!c->nerr) goto bad;
            while (*q == ' ') q++;
            c->err_msg = q;
        }
        n++;
        continue;
    bad:
        fprintf(stderr, "MANIFEST:%d: malformed line\n", lineno);
        free(cs);
        return -1;
    }
    *out = cs;
    return n;
}

/* ---------------------------------------------------------------- token helpers */

static int split(char *s, char sep, char **f, int max) {
    int n = 0;
    f[n++] = s;
    for (; *s; s++)
        if (*s == sep) {
            *s = 0;
            if (n == max) return -1;
            f[n++] = s + 1;
        }
    return n;
}

/* "()" -> 0 entries, "none" -> -1, "3,-1" -> 2 entries. */
static int parse_i64_list(const char *s, int64_t *out, int max) {
    if (strcmp(s, "none") == 0) return -1;
    if (strcmp(s, "()") == 0) return 0;
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == max) return -2;
        char *end;
        out[n++] = strtoll(p, &end, 10);
        if (end == p) return -2;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static bool parse_dtype(const char *s, lp_dtype *dt) { return lp_dtype_from_name(s, dt); }

static bool parse_scalar(const char *kind, const char *v, lp_scalar *out) {
    switch (kind[0]) {
    case 'b': *out = lp_scalar_b(atoi(v) != 0); return true;
    case 'i': *out = lp_scalar_i(strtoll(v, NULL, 10)); return true;
    case 'f': *out = lp_scalar_f(strtod(v, NULL)); return true;
    default: return false;
    }
}

static int parse_spec(char *spec, lp_index *idx, int max) {
    char *items[LP_MAX_NDIM * 2 + 4];
    int n = split(spec, ',', items, (int)(sizeof items / sizeof items[0]));
    if (n < 0 || n > max) return -1;
    for (int i = 0; i < n; i++) {
        lp_index *x = &idx[i];
        memset(x, 0, sizeof *x);
        char *it = items[i];
        if (strcmp(it, "N") == 0) x->kind = LP_IDX_NEWAXIS;
        else if (strcmp(it, "...") == 0) x->kind = LP_IDX_ELLIPSIS;
        else if (strchr(it, ':')) {
            char *parts[3] = {"", "", ""};
            char *pf[3];
            int np = split(it, ':', pf, 3);
            if (np < 0) return -1;
            for (int k = 0; k < np; k++) parts[k] = pf[k];
            x->kind = LP_IDX_SLICE;
            if (*parts[0]) { x->has_start = true; x->start = strtoll(parts[0], NULL, 10); }
            if (*parts[1]) { x->has_stop = true; x->stop = strtoll(parts[1], NULL, 10); }
            x->step = *parts[2] ? strtoll(parts[2], NULL, 10) : 0;
        } else {
            x->kind = LP_IDX_INT;
            x->start = strtoll(it, NULL, 10);
        }
    }
    return n;
}

/* ---------------------------------------------------------------- expected results cache */

typedef struct { char *name; lp_buffer *buf; } cache_ent;
static cache_ent *cache;
static size_t cache_cap;

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const char *ops_dir;

static lp_status load_and_run(lp_ctx *ctx, const char *name, lp_buffer **out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ops_dir, name);
    lp_array *a = NULL;
    lp_status st = lp_load(ctx, path, &a);
    if (st == LP_OK) st = lp_run(ctx, &a, 1, out);
    lp_array_release(a);
    return st;
}

static lp_buffer *expected(lp_ctx *ctx, const char *name) {
    if (!cache) {
        cache_cap = 16384;
        cache = calloc(cache_cap, sizeof *cache);
    }
    size_t i = fnv(name) & (cache_cap - 1);
    while (cache[i].name) {
        if (strcmp(cache[i].name, name) == 0) return cache[i].buf;
        i = (i + 1) & (cache_cap - 1);
    }
    lp_buffer *b = NULL;
    lp_status st = load_and_run(ctx, name, &b);
    if (st != LP_OK) {
        report("cannot load expected %s: %s: %s", name, lp_status_str(st), lp_last_error(ctx));
        b = NULL;
    }
    cache[i].name = strdup(name);
    cache[i].buf = b;
    return b;
}

/* ---------------------------------------------------------------- building a case */

#define MAXSTACK 32

/* Values for `call` (lp_call through the function catalogue): their arrays are owned, their
 * items malloc'ed. */
static void val_free(lp_value *v) {
    lp_array_release(v->array);
    for (int k = 0; k < v->n; k++) val_free(&v->items[k]);
    free(v->items);
    *v = lp_value_none();
}

/* v.* tokens push onto the value stack; call/<name>/<npos>/<kw,kw|->/<item|-> pops npos
 * positional and then the keyword values, calls lp_call and pushes the array result (or item
 * <item> of a tuple result) onto the array stack. */
static lp_status value_token(lp_ctx *ctx, char **f, int nf, lp_value *vs, int *vsp, lp_array **st, int *sp,
                             bool *bad, lp_array **r) {
    const char *k = f[0];
    lp_value v = lp_value_none();
    *r = NULL;
    if (*vsp >= MAXSTACK) { *bad = true; return LP_ERR_INTERNAL; }
    if (!strcmp(k, "v.arr") && nf == 1 && *sp >= 1) { v = lp_value_array(st[--*sp]); }
    else if (!strcmp(k, "v.int") && nf == 2) v = lp_value_int(strtoll(f[1], NULL, 10));
    else if (!strcmp(k, "v.flt") && nf == 2) v = lp_value_float(strtod(f[1], NULL));
    else if (!strcmp(k, "v.bool") && nf == 2) v = lp_value_bool(atoi(f[1]) != 0);
    else if (!strcmp(k, "v.none") && nf == 1) v = lp_value_none();
    else if (!strcmp(k, "v.str") && nf == 2) { static char strs[MAXSTACK][64]; snprintf(strs[*vsp], 64, "%s", f[1]); v = lp_value_str(strs[*vsp]); }
    else if (!strcmp(k, "v.dt") && nf == 2) { lp_dtype dt; if (!parse_dtype(f[1], &dt)) { *bad = true; return LP_ERR_INTERNAL; } v = lp_value_dtype(dt); }
    else if (!strcmp(k, "v.tup") && nf == 2) {
        int n = atoi(f[1]);
        if (n < 0 || n > *vsp) { *bad = true; return LP_ERR_INTERNAL; }
        lp_value *items = calloc((size_t)(n ? n : 1), sizeof *items);
        for (int i = 0; i < n; i++) items[i] = vs[*vsp - n + i];
        *vsp -= n;
        v = lp_value_tuple(items, n);
    } else if (!strcmp(k, "call") && nf == 5) {
        int npos = atoi(f[2]);
        const char *kwn[16];
        int nkw = 0;
        char kwbuf[256];
        snprintf(kwbuf, sizeof kwbuf, "%s", f[3]);
        if (strcmp(kwbuf, "-"))
            for (char *sv = NULL, *w = strtok_r(kwbuf, ",", &sv); w && nkw < 16; w = strtok_r(NULL, ",", &sv)) kwn[nkw++] = w;
        if (npos < 0 || npos + nkw > *vsp) { *bad = true; return LP_ERR_INTERNAL; }
        lp_value *args = vs + *vsp - npos - nkw, res;
        lp_status rc = lp_call(ctx, f[1], npos, args, nkw, kwn, args + npos, &res);
        for (int i = 0; i < npos + nkw; i++) val_free(&args[i]);
        *vsp -= npos + nkw;
        if (rc != LP_OK) return rc;
        int item = strcmp(f[4], "-") ? atoi(f[4]) : -1;
        const lp_value *pick = item < 0 ? &res : (item < res.n ? &res.items[item] : NULL);
        if (pick && pick->kind == LP_VAL_ARRAY) { *r = pick->array; lp_array_retain(*r); }
        else *bad = true;
        lp_value_clear(&res);
        return *bad ? LP_ERR_INTERNAL : LP_OK;
    } else { *bad = true; return LP_ERR_INTERNAL; }
    vs[(*vsp)++] = v;
    return LP_OK;
}

/* Run the token program. On failure returns the status (message on ctx) and *out is NULL.
 * *bad is set when the manifest line itself cannot be understood (a test bug). */
static lp_status build(lp_ctx *ctx, const tcase *c, lp_array **out, bool *bad) {
    lp_array *st[MAXSTACK];
    lp_value vs[MAXSTACK];
    int sp = 0, vsp = 0;
    lp_status rc = LP_OK;
    *out = NULL;
    *bad = false;
    for (int t = 0; t < c->ntok && rc == LP_OK; t++) {
        char tok[1024];
        snprintf(tok, sizeof tok, "%s", c->tok[t]);
        char *f[8];
        int nf = split(tok, '/', f, 8);
        lp_array *r = NULL;
        int pop = 0;
        const char *k = f[0];
#define NEED(cond) do { if (!(cond)) { *bad = true; goto done; } } while (0)
        NEED(nf > 0);
        if (strncmp(k, "v.", 2) == 0 || strcmp(k, "call") == 0) {
            rc = value_token(ctx, f, nf, vs, &vsp, st, &sp, bad, &r);
            if (*bad) goto done;
            if (rc == LP_OK && !r) continue; /* a value was pushed */
        } else if (strcmp(k, "load") == 0) {
            NEED(nf == 2);
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", ops_dir, f[1]);
            rc = lp_load(ctx, path, &r);
        } else if (strcmp(k, "scalar") == 0) {
            lp_scalar s;
            NEED(nf == 3 && parse_scalar(f[1], f[2], &s));
            rc = lp_scalar_array(ctx, s, &r);
        } else if (strcmp(k, "elem") == 0) {
            NEED(nf == 3);
            pop = atoi(f[2]);
            NEED(pop >= 1 && pop <= sp);
            rc = lp_elemwise(ctx, f[1], pop, st + sp - pop, &r);
        } else if (strcmp(k, "unary") == 0) {
            NEED(nf == 2 && sp >= 1);
            pop = 1;
            rc = lp_unary(ctx, f[1], st[sp - 1], &r);
        } else if (strcmp(k, "binary") == 0) {
            NEED(nf == 2 && sp >= 2);
            pop = 2;
            rc = lp_binary(ctx, f[1], st[sp - 2], st[sp - 1], &r);
        } else if (strcmp(k, "where") == 0) {
            NEED(nf == 1 && sp >= 3);
            pop = 3;
            rc = lp_where(ctx, st[sp - 3], st[sp - 2], st[sp - 1], &r);
        } else if (strcmp(k, "astype") == 0) {
            lp_dtype dt;
            NEED(nf == 2 && sp >= 1 && parse_dtype(f[1], &dt));
            pop = 1;
            rc = lp_astype(ctx, st[sp - 1], dt, &r);
        } else if (strcmp(k, "reduce") == 0) {
            NEED(nf == 5 && sp >= 1);
            int64_t ax64[LP_MAX_NDIM + 4];
            int axes[LP_MAX_NDIM + 4];
            int na = parse_i64_list(f[2], ax64, LP_MAX_NDIM + 4);
            NEED(na >= -1);
            for (int i = 0; i < na; i++) axes[i] = (int)ax64[i];
            bool keep = atoi(f[3]) != 0;
            pop = 1;
            if (strcmp(f[4], "-") == 0)
                rc = lp_reduce(ctx, f[1], st[sp - 1], na < 0 ? NULL : axes, na < 0 ? 0 : na, keep,
                               &r);
            else
                rc = lp_reduce_ddof(ctx, f[1], st[sp - 1], na < 0 ? NULL : axes,
                                    na < 0 ? 0 : na, keep, atoi(f[4]), &r);
        } else if (strcmp(k, "reshape") == 0) {
            int64_t shape[LP_MAX_NDIM + 1];
            NEED(nf == 2 && sp >= 1);
            int nd = parse_i64_list(f[1], shape, LP_MAX_NDIM + 1);
            NEED(nd >= 0);
            pop = 1;
            rc = lp_reshape(ctx, st[sp - 1], nd, shape, &r);
        } else if (strcmp(k, "transpose") == 0) {
            int64_t p64[LP_MAX_NDIM + 1];
            int perm[LP_MAX_NDIM + 1];
            NEED(nf == 2 && sp >= 1);
            int np = parse_i64_list(f[1], p64, LP_MAX_NDIM + 1);
            NEED(np >= -1);
            for (int i = 0; i < np; i++) perm[i] = (int)p64[i];
            /* lp_transpose reads ndim entries: a shorter perm cannot be expressed (the
             * generator leaves NumPy's "axes don't match array" case out) */
            NEED(np < 0 || np == lp_array_ndim(st[sp - 1]));
            pop = 1;
            rc = lp_transpose(ctx, st[sp - 1], np < 0 ? NULL : perm, &r);
        } else if (strcmp(k, "slice") == 0) {
            lp_index idx[LP_MAX_NDIM * 2 + 4];
            NEED(nf == 2 && sp >= 1);
            int ni = parse_spec(f[1], idx, LP_MAX_NDIM * 2 + 4);
            NEED(ni >= 0);
            pop = 1;
            rc = lp_slice(ctx, st[sp - 1], ni, idx, &r);
        } else if (strcmp(k, "concat") == 0 || strcmp(k, "stack") == 0) {
            NEED(nf == 3);
            pop = atoi(f[1]);
            NEED(pop >= 0 && pop <= sp);
            int axis = atoi(f[2]);
            if (k[0] == 'c') rc = lp_concatenate(ctx, pop, st + sp - pop, axis, &r);
            else rc = lp_stack(ctx, pop, st + sp - pop, axis, &r);
        } else if (strcmp(k, "zeros") == 0 || strcmp(k, "ones") == 0 || strcmp(k, "full") == 0) {
            lp_dtype dt;
            int64_t shape[LP_MAX_NDIM];
            NEED(nf >= 3 && parse_dtype(f[1], &dt));
            int nd = parse_i64_list(f[2], shape, LP_MAX_NDIM);
            NEED(nd >= 0);
            if (k[0] == 'z') rc = lp_zeros(ctx, dt, nd, shape, &r);
            else if (k[0] == 'o') rc = lp_ones(ctx, dt, nd, shape, &r);
            else {
                lp_scalar s;
                NEED(nf == 5 && parse_scalar(f[3], f[4], &s));
                rc = lp_full(ctx, dt, nd, shape, s, &r);
            }
        } else if (strcmp(k, "arange") == 0) {
            lp_dtype dt;
            NEED(nf == 5 && parse_dtype(f[4], &dt));
            rc = lp_arange(ctx, strtod(f[1], NULL), strtod(f[2], NULL), strtod(f[3], NULL), dt, &r);
        } else if (strcmp(k, "linspace") == 0) {
            lp_dtype dt;
            NEED(nf == 6 && parse_dtype(f[5], &dt));
            rc = lp_linspace(ctx, strtod(f[1], NULL), strtod(f[2], NULL), strtoll(f[3], NULL, 10),
                             atoi(f[4]) != 0, dt, &r);
        } else if (strcmp(k, "eye") == 0) {
            lp_dtype dt;
            NEED(nf == 5 && parse_dtype(f[4], &dt));
            rc = lp_eye(ctx, strtoll(f[1], NULL, 10), strtoll(f[2], NULL, 10),
                        strtoll(f[3], NULL, 10), dt, &r);
        } else {
            NEED(false);
        }
#undef NEED
        if (rc == LP_OK && !r) {
            fprintf(stderr, "%s: token %s returned LP_OK and no array\n", c->id, c->tok[t]);
            rc = LP_ERR_INTERNAL;
        }
        for (int i = 0; i < pop; i++) lp_array_release(st[--sp]);
        if (rc == LP_OK) {
            if (sp == MAXSTACK) { lp_array_release(r); *bad = true; goto done; }
            st[sp++] = r;
        }
    }
    if (rc == LP_OK) {
        if (sp != 1 || vsp != 0) { *bad = true; goto done; }
        *out = st[--sp];
    }
done:
    while (sp > 0) lp_array_release(st[--sp]);
    while (vsp > 0) val_free(&vs[--vsp]);
    if (*bad) return LP_ERR_INTERNAL;
    return rc;
}

/* ---------------------------------------------------------------- comparing */

static void index_str(char *buf, size_t cap, const lp_buffer *b, int64_t flat) {
    int nd = lp_buffer_ndim(b);
    const int64_t *sh = lp_buffer_shape(b);
    int64_t ix[LP_MAX_NDIM];
    for (int i = nd - 1; i >= 0; i--) {
        ix[i] = sh[i] ? flat % sh[i] : 0;
        flat = sh[i] ? flat / sh[i] : 0;
    }
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < nd && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? "," : "", ix[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Element i of an integer dtype as int64 (uint64 by its bits); a float16 as a double. */
static int64_t ival(lp_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case LP_INT8: return ((const int8_t *)data)[i];
    case LP_INT16: return ((const int16_t *)data)[i];
    case LP_INT32: return ((const int32_t *)data)[i];
    case LP_UINT8: return ((const uint8_t *)data)[i];
    case LP_UINT16: return ((const uint16_t *)data)[i];
    case LP_UINT32: return ((const uint32_t *)data)[i];
    default: return ((const int64_t *)data)[i];
    }
}
static double hval(const void *data, int64_t i) {
    _Float16 h;
    memcpy(&h, (const char *)data + 2 * i, 2);
    return (double)h;
}

static void value_str(char *buf, size_t cap, lp_dtype dt, const void *data, int64_t i) {
    switch (dt) {
    case LP_BOOL: snprintf(buf, cap, "%d", ((const unsigned char *)data)[i]); break;
    case LP_INT8: case LP_INT16: case LP_INT32: case LP_INT64: case LP_UINT8: case LP_UINT16: case LP_UINT32:
        snprintf(buf, cap, "%" PRId64, ival(dt, data, i));
        break;
    case LP_UINT64: snprintf(buf, cap, "%" PRIu64, ((const uint64_t *)data)[i]); break;
    case LP_FLOAT16: snprintf(buf, cap, "%.5g (%a)", hval(data, i), hval(data, i)); break;
    case LP_COMPLEX64: {
        const float *v = (const float *)data + 2 * i;
        snprintf(buf, cap, "%.9g%+.9gj", (double)v[0], (double)v[1]);
        break;
    }
    case LP_COMPLEX128: {
        const double *v = (const double *)data + 2 * i;
        snprintf(buf, cap, "%.17g%+.17gj", v[0], v[1]);
        break;
    }
    case LP_FLOAT32: {
        float v = ((const float *)data)[i];
        snprintf(buf, cap, "%.9g (%a)", (double)v, (double)v);
        break;
    }
    case LP_FLOAT64: {
        double v = ((const double *)data)[i];
        snprintf(buf, cap, "%.17g (%a)", v, v);
        break;
    }
    default: snprintf(buf, cap, "?");
    }
}

static int64_t ordered64(double x) {
    int64_t i;
    memcpy(&i, &x, 8);
    return i < 0 ? -(i & INT64_MAX) : i;
}
static int64_t ordered32(float x) {
    int32_t i;
    memcpy(&i, &x, 4);
    return i < 0 ? -(int64_t)(i & INT32_MAX) : (int64_t)i;
}

static int64_t ordered16(double x) {
    _Float16 h = (_Float16)x;
    int16_t i;
    memcpy(&i, &h, 2);
    return i < 0 ? -(int64_t)(i & INT16_MAX) : (int64_t)i;
}

/* One float element: g(ot) vs w(ant) under tolerance kind/value; width 2, 4 or 8 bytes (the
 * values are exact in a double). */
static bool float_ok(double g, double w, int width, enum tol_kind kind, double tv) {
    bool is32 = width == 4;
    if (isnan(w) || isnan(g)) return isnan(w) && isnan(g);
    if (kind == TOL_EXACT) {
        if (width == 2) return g == w && signbit(g) == signbit(w);
        if (is32) { float a = (float)g, b = (float)w; return memcmp(&a, &b, 4) == 0; }
        return memcmp(&g, &w, 8) == 0;
    }
    if (kind == TOL_EXACTZ) return g == w;
    if (isinf(w) || isinf(g)) return g == w;
    if (kind == TOL_ULP) {
        int64_t d = width == 2 ? ordered16(g) - ordered16(w)
                    : is32 ? ordered32((float)g) - ordered32((float)w) : ordered64(g) - ordered64(w);
        if (d < 0) d = -d;
        return (double)d <= tv;
    }
    return g == w || fabs(g - w) <= tv * fabs(w);
}

/* Compare got against want; print up to 4 mismatches prefixed with what. */
static bool compare(const char *what, const lp_buffer *got, const lp_buffer *want,
                    enum tol_kind kind, double tv) {
    char a[128], b[128], ix[128];
    if (lp_buffer_dtype(got) != lp_buffer_dtype(want)) {
        report("%s: dtype %s, want %s", what, lp_dtype_name(lp_buffer_dtype(got)),
               lp_dtype_name(lp_buffer_dtype(want)));
        return false;
    }
    int nd = lp_buffer_ndim(got);
    bool shape_ok = nd == lp_buffer_ndim(want);
    for (int i = 0; shape_ok && i < nd; i++)
        shape_ok = lp_buffer_shape(got)[i] == lp_buffer_shape(want)[i];
    if (!shape_ok) {
        char sg[160] = "(", sw[160] = "(";
        for (int i = 0; i < nd; i++)
            snprintf(sg + strlen(sg), sizeof sg - strlen(sg), "%s%" PRId64, i ? "," : "",
                     lp_buffer_shape(got)[i]);
        for (int i = 0; i < lp_buffer_ndim(want); i++)
            snprintf(sw + strlen(sw), sizeof sw - strlen(sw), "%s%" PRId64, i ? "," : "",
                     lp_buffer_shape(want)[i]);
        report("%s: shape %s%s), want %s%s)", what, sg, nd == 1 ? "," : "", sw,
               lp_buffer_ndim(want) == 1 ? "," : "");
        return false;
    }
    int64_t n = lp_buffer_size(want);
    if (lp_buffer_size(got) != n) {
        report("%s: size %" PRId64 ", want %" PRId64, what, lp_buffer_size(got), n);
        return false;
    }
    lp_dtype dt = lp_buffer_dtype(want);
    const void *gd = lp_buffer_data(got), *wd = lp_buffer_data(want);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        switch (dt) {
        case LP_BOOL: ok = (((const unsigned char *)gd)[i] != 0) == (((const unsigned char *)wd)[i] != 0)
                           && ((const unsigned char *)gd)[i] <= 1; break;
        case LP_FLOAT16: ok = float_ok(hval(gd, i), hval(wd, i), 2, kind, tv); break;
        case LP_FLOAT32:
            ok = float_ok(((const float *)gd)[i], ((const float *)wd)[i], 4, kind, tv);
            break;
        case LP_FLOAT64:
            ok = float_ok(((const double *)gd)[i], ((const double *)wd)[i], 8, kind, tv);
            break;
        case LP_COMPLEX64: /* each part as a float32 */
            ok = float_ok(((const float *)gd)[2 * i], ((const float *)wd)[2 * i], 4, kind, tv) &&
                 float_ok(((const float *)gd)[2 * i + 1], ((const float *)wd)[2 * i + 1], 4, kind, tv);
            break;
        case LP_COMPLEX128:
            ok = float_ok(((const double *)gd)[2 * i], ((const double *)wd)[2 * i], 8, kind, tv) &&
                 float_ok(((const double *)gd)[2 * i + 1], ((const double *)wd)[2 * i + 1], 8, kind, tv);
            break;
        default: ok = ival(dt, gd, i) == ival(dt, wd, i); break;
        }
        if (!ok) {
            if (bad < 4) {
                index_str(ix, sizeof ix, want, i);
                value_str(a, sizeof a, dt, gd, i);
                value_str(b, sizeof b, dt, wd, i);
                report("%s: at %" PRId64 " %s got %s want %s", what, i, ix, a, b);
            }
            bad++;
        }
    }
    if (bad > 4) report("%s: ... %d of %" PRId64 " elements differ", what, bad, n);
    return bad == 0;
}

/* ---------------------------------------------------------------- per-category tally */

typedef struct { const char *cat; int pass, fail; char fails[600]; } tally;
static tally tallies[64];
static int ntallies;

static void tally_add(const char *cat, bool ok, const char *id) {
    int i;
    for (i = 0; i < ntallies; i++)
        if (strcmp(tallies[i].cat, cat) == 0) break;
    if (i == ntallies) {
        if (ntallies == 64) return;
        tallies[ntallies++].cat = cat;
    }
    if (ok) tallies[i].pass++;
    else {
        tallies[i].fail++;
        size_t l = strlen(tallies[i].fails);
        if (l + strlen(id) + 3 < sizeof tallies[i].fails) {
            snprintf(tallies[i].fails + l, sizeof tallies[i].fails - l, "%s%s", l ? " " : "", id);
        } else if (l + 5 < sizeof tallies[i].fails && tallies[i].fails[l - 1] != '.') {
            snprintf(tallies[i].fails + l, sizeof tallies[i].fails - l, " ...");
        }
    }
}

/* ---------------------------------------------------------------- part 1: conformance */

/* Build and run case c on ctx. Returns the status; *res receives the buffer on success. */
static lp_status run_case(lp_ctx *ctx, const tcase *c, lp_buffer **res, bool *bad) {
    lp_array *a = NULL;
    *res = NULL;
    lp_status st = build(ctx, c, &a, bad);
    if (st == LP_OK) st = lp_run(ctx, &a, 1, res);
    lp_array_release(a);
    return st;
}

static bool check_case(lp_ctx *ctx, tcase *c) {
    lp_buffer *got = NULL;
    bool bad = false;
    lp_status st = run_case(ctx, c, &got, &bad);
    c->ref_status = st;
    c->ref = got;
    if (bad) {
        report("%s (MANIFEST line %d): cannot interpret the case (test bug)", c->id, c->line);
        return false;
    }
    if (!c->expect) {
        if (st == LP_OK) {
            report("%s: expected %s \"%s\", got a result", c->id, status_name(c->err_status[0]),
                   c->err_msg);
            return false;
        }
        const char *msg = lp_last_error(ctx);
        bool st_ok = false;
        for (int i = 0; i < c->nerr; i++) st_ok |= st == c->err_status[i];
        if (!st_ok || !strstr(msg, c->err_msg)) {
            report("%s: expected %s%s \"%s\", got %s \"%s\"", c->id, status_name(c->err_status[0]),
                   c->nerr > 1 ? " (or another listed)" : "", c->err_msg, status_name(st), msg);
            return false;
        }
        return true;
    }
    if (st != LP_OK) {
        report("%s: %s: %s", c->id, status_name(st), lp_last_error(ctx));
        return false;
    }
    lp_buffer *want = expected(ctx, c->expect);
    if (!want) return false;
    return compare(c->id, got, want, c->tol, c->tolv);
}

/* Remote mode: each case again on the local executor; same status, message and bits. */
static void remote_vs_local(tcase *cs, int n, const char *filter) {
    lp_ctx *lc = NULL;
    LPT_OK(lc, lp_ctx_create(&lc));
    if (!lc) return;
    int nrun = 0, nfail = 0;
    for (int i = 0; i < n; i++) {
        tcase *c = &cs[i];
        if (filter && !strstr(c->id, filter)) continue;
        lp_buffer *got = NULL;
        bool bad = false;
        lp_status st = run_case(lc, c, &got, &bad);
        char what[512];
        snprintf(what, sizeof what, "%s [local vs lambda]", c->id);
        bool ok = true;
        if (st != c->ref_status) {
            report("%s: local status %s, lambda %s", what, status_name(st), status_name(c->ref_status));
            ok = false;
        } else if (st == LP_OK && c->ref) {
            ok = compare(what, c->ref, got, TOL_EXACT, 0);
        }
        nrun++;
        nfail += !ok;
        if (ok) lpt_pass_++;
        else lpt_fail_++;
        tally_add("lambda-vs-local", ok, c->id);
        lp_buffer_release(got);
    }
    fprintf(stderr, "lambda vs local: %d cases, %d differ\n", nrun, nfail);
    lp_ctx_destroy(lc);
}

/* ---------------------------------------------------------------- part 2: determinism */

typedef struct { int threads; size_t chunk; bool fusion; } config;
static const config configs[] = {
    {1, 256, true}, {1, 4096, true}, {1, 65536, true}, {1, 0, true},
    {2, 256, true}, {2, 4096, true}, {2, 65536, true}, {2, 0, true},
    {1, 256, false}, {1, 4096, false}, {1, 65536, false}, {1, 0, false},
    {2, 256, false}, {2, 4096, false}, {2, 65536, false}, {2, 0, false},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

static lp_ctx *config_ctx(const config *cf) {
    lp_ctx *ctx = NULL;
    if (lp_ctx_create(&ctx) != LP_OK) return NULL;
    LPT_OK(ctx, lp_ctx_set_threads(ctx, cf->threads));
    LPT_OK(ctx, lp_ctx_set_chunk_bytes(ctx, cf->chunk));
    LPT_OK(ctx, lp_ctx_set_fusion(ctx, cf->fusion));
    use_executor(ctx);
    return ctx;
}

static void config_name(char *buf, size_t cap, const config *cf) {
    if (cf->chunk)
        snprintf(buf, cap, "threads=%d chunk=%zu fusion=%s", cf->threads, cf->chunk,
                 cf->fusion ? "on" : "off");
    else
        snprintf(buf, cap, "threads=%d chunk=auto fusion=%s", cf->threads, cf->fusion ? "on" : "off");
}

/* Determinism comparison: elementwise results bit for bit (any NaN matches any NaN), float
 * reductions within 1e-12 (float64) / 1e-6 (float32) relative. */
static bool same_result(const char *what, const lp_buffer *got, const lp_buffer *ref, bool reduction) {
    enum tol_kind k = TOL_EXACT;
    double tv = 0;
    lp_dtype rdt = lp_buffer_dtype(ref);
    /* a complex reduction sums each part as its float dtype does (the parts are compared apart) */
    if (reduction && (rdt == LP_FLOAT64 || rdt == LP_FLOAT32 || rdt == LP_FLOAT16 || rdt == LP_COMPLEX128 ||
                      rdt == LP_COMPLEX64)) {
        k = TOL_REL;
        tv = rdt == LP_FLOAT64 || rdt == LP_COMPLEX128 ? 1e-12 : rdt == LP_FLOAT16 ? 1e-3 : 1e-6;
    }
    return compare(what, got, ref, k, tv);
}

static void determinism_cases(tcase *cs, int n, const char *filter) {
    for (int ci = 0; ci < NCONFIGS; ci++) {
        if (remote_exec && configs[ci].threads != 1) continue; /* workers have no thread count */
        char cname[96];
        config_name(cname, sizeof cname, &configs[ci]);
        lp_ctx *ctx = config_ctx(&configs[ci]);
        if (!ctx) { LPT_CHECK(!"lp_ctx_create"); continue; }
        int fails = 0;
        for (int i = 0; i < n; i++) {
            tcase *c = &cs[i];
            if (filter && !strstr(c->id, filter)) continue;
            lp_buffer *got = NULL;
            bool bad = false;
            lp_status st = run_case(ctx, c, &got, &bad);
            char what[512];
            snprintf(what, sizeof what, "%s [%s]", c->id, cname);
            bool ok;
            /* a case that already failed against NumPy (often uninitialised output) is only
             * counted here, not printed again */
            long printed = nprinted;
            if (!c->ok && !verbose) nprinted = PRINT_CAP + 2;
            if (st != c->ref_status) {
                report("%s: status %s (%s), the first run gave %s", what, status_name(st),
                       st == LP_OK ? "" : lp_last_error(ctx), status_name(c->ref_status));
                ok = false;
            } else if (st == LP_OK && c->ref) {
                ok = same_result(what, got, c->ref, c->tol == TOL_REL);
            } else {
                ok = true;
            }
            if (!c->ok && !verbose) nprinted = printed;
            lp_buffer_release(got);
            if (ok) lpt_pass_++;
            else { lpt_fail_++; fails++; }
            tally_add("determinism", ok, c->id);
        }
        if (fails) fprintf(stderr, "determinism [%s]: %d cases differ from the first run "
                           "(details printed only for cases that pass against NumPy)\n", cname, fails);
        lp_ctx_destroy(ctx);
    }
}

/* ---------------------------------------------------------------- part 3: larger inputs */

#define BIG_R 300
#define BIG_C 70
#define BIG_N (BIG_R * BIG_C)
#define MAXT 96

typedef struct {
    lp_ctx *ctx;
    lp_array *t[MAXT];
    const char *name[MAXT];
    bool reduction[MAXT];
    int n;
    bool failed;
    lp_array *tmp[512];
    int ntmp;
} big;

/* Keep intermediates alive until the run; a failed build marks the whole set failed. */
static lp_array *keep(big *b, lp_status st, lp_array *a, const char *what) {
    if (st != LP_OK) {
        if (!b->failed) report("big: building %s: %s: %s", what, status_name(st), lp_last_error(b->ctx));
        b->failed = true;
        return NULL;
    }
    if (b->ntmp < 512) b->tmp[b->ntmp++] = a;
    return a;
}

static void target(big *b, lp_array *a, const char *name, bool reduction) {
    if (!a || b->n == MAXT) { b->failed = true; return; }
    lp_array_retain(a);
    b->t[b->n] = a;
    b->name[b->n] = name;
    b->reduction[b->n] = reduction;
    b->n++;
}

#define MK(var, call, what) do { lp_status s_ = (call); var = keep(b, s_, var, what); } while (0)

static lp_array *S_(big *b, lp_scalar s) {
    lp_array *r = NULL;
    lp_status st = lp_scalar_array(b->ctx, s, &r);
    return keep(b, st, r, "scalar");
}
static lp_array *U_(big *b, const char *op, lp_array *x) {
    lp_array *r = NULL;
    if (!x) { b->failed = true; return NULL; }
    lp_status st = lp_unary(b->ctx, op, x, &r);
    return keep(b, st, r, op);
}
static lp_array *B_(big *b, const char *op, lp_array *x, lp_array *y) {
    lp_array *r = NULL;
    if (!x || !y) { b->failed = true; return NULL; }
    lp_status st = lp_binary(b->ctx, op, x, y, &r);
    return keep(b, st, r, op);
}
static lp_array *W_(big *b, lp_array *c, lp_array *x, lp_array *y) {
    lp_array *r = NULL;
    if (!c || !x || !y) { b->failed = true; return NULL; }
    lp_status st = lp_where(b->ctx, c, x, y, &r);
    return keep(b, st, r, "where");
}
static lp_array *R_(big *b, const char *op, lp_array *x, int axis, bool keepdims, int ddof) {
    lp_array *r = NULL;
    if (!x) { b->failed = true; return NULL; }
    int ax[1] = {axis};
    lp_status st = lp_reduce_ddof(b->ctx, op, x, axis == 99 ? NULL : ax, axis == 99 ? 0 : 1,
                                  keepdims, ddof, &r);
    return keep(b, st, r, op);
}
static lp_array *A_(big *b, lp_array *x, lp_dtype dt) {
    lp_array *r = NULL;
    if (!x) { b->failed = true; return NULL; }
    lp_status st = lp_astype(b->ctx, x, dt, &r);
    return keep(b, st, r, "astype");
}
static lp_array *T_(big *b, lp_array *x) {
    lp_array *r = NULL;
    if (!x) { b->failed = true; return NULL; }
    lp_status st = lp_transpose(b->ctx, x, NULL, &r);
    return keep(b, st, r, "transpose");
}
static lp_array *SL_(big *b, lp_array *x, int n, const lp_index *idx) {
    lp_array *r = NULL;
    if (!x) { b->failed = true; return NULL; }
    lp_status st = lp_slice(b->ctx, x, n, idx, &r);
    return keep(b, st, r, "slice");
}
static lp_array *RS_(big *b, lp_array *x, int nd, const int64_t *shape) {
    lp_array *r = NULL;
    if (!x) { b->failed = true; return NULL; }
    lp_status st = lp_reshape(b->ctx, x, nd, shape, &r);
    return keep(b, st, r, "reshape");
}

static const lp_index ALL = {LP_IDX_SLICE, false, false, 0, 0, 0};
static lp_index ix_int(int64_t i) { lp_index x = {LP_IDX_INT, false, false, i, 0, 0}; return x; }
static lp_index ix_sl(bool hs, int64_t s, bool he, int64_t e, int64_t step) {
    lp_index x = {LP_IDX_SLICE, hs, he, s, e, step};
    return x;
}

/* Build the large expression set on ctx. explicit_chunks: also override the sources' chunk
 * shapes (an odd grid) to vary the partitioning further. */
static void big_build(big *b, bool explicit_chunks) {
    lp_ctx *ctx = b->ctx;
    int64_t shape[2] = {BIG_R, BIG_C}, flat[1] = {BIG_N}, small[1] = {100};
    lp_array *u = NULL, *v = NULL, *w = NULL, *uf = NULL, *wf = NULL, *u2 = NULL, *uflat = NULL,
             *u100 = NULL;
    MK(u, lp_random_uniform(ctx, 42, -1.0, 2.0, LP_FLOAT64, 2, shape, &u), "uniform");
    MK(v, lp_random_uniform(ctx, 43, 0.0, 1.0, LP_FLOAT64, 2, shape, &v), "uniform");
    MK(w, lp_random_normal(ctx, 44, 0.5, 2.0, LP_FLOAT64, 2, shape, &w), "normal");
    MK(uf, lp_random_uniform(ctx, 45, -1.0, 1.0, LP_FLOAT32, 2, shape, &uf), "uniform32");
    MK(wf, lp_random_normal(ctx, 46, -3.0, 0.5, LP_FLOAT32, 2, shape, &wf), "normal32");
    MK(u2, lp_random_uniform(ctx, 42, -1.0, 2.0, LP_FLOAT64, 2, shape, &u2), "uniform");
    MK(uflat, lp_random_uniform(ctx, 42, -1.0, 2.0, LP_FLOAT64, 1, flat, &uflat), "uniform flat");
    MK(u100, lp_random_uniform(ctx, 42, -1.0, 2.0, LP_FLOAT64, 1, small, &u100), "uniform 100");
    if (b->failed) return;
    if (explicit_chunks) {
        int64_t ch[2] = {37, 11};
        lp_array *srcs[] = {u, v, w, uf, wf};
        for (int i = 0; i < 5; i++) LPT_OK(ctx, lp_array_set_chunks(ctx, srcs[i], 2, ch));
    }
    /* the generators themselves (bit for bit across configs) */
    target(b, u, "u=uniform(42)", false);
    target(b, v, "v=uniform(43)", false);
    target(b, w, "w=normal(44)", false);
    target(b, uf, "uf=uniform32(45)", false);
    target(b, wf, "wf=normal32(46)", false);
    target(b, u2, "u2=uniform(42) again", false);
    target(b, uflat, "uniform(42) flat", false);
    target(b, u100, "uniform(42) first 100", false);

    lp_array *two = S_(b, lp_scalar_i(2)), *half = S_(b, lp_scalar_f(0.5));
    lp_array *ui = A_(b, B_(b, "multiply", u, S_(b, lp_scalar_i(1000))), LP_INT32);
    lp_array *vi = B_(b, "add", A_(b, B_(b, "multiply", v, S_(b, lp_scalar_i(50))), LP_INT64),
                      S_(b, lp_scalar_i(1)));
    target(b, ui, "ui=int32(u*1000)", false);
    target(b, vi, "vi=int64(v*50)+1", false);
    target(b, B_(b, "subtract", B_(b, "add", B_(b, "multiply", u, v), B_(b, "multiply", w, two)), u),
           "u*v+w*2-u", false);
    target(b, W_(b, B_(b, "greater", u, half), U_(b, "sqrt", U_(b, "abs", v)), U_(b, "exp", w)),
           "where(u>0.5,sqrt(|v|),exp(w))", false);
    target(b, B_(b, "add", B_(b, "multiply", uf, uf), S_(b, lp_scalar_f(1.5))), "uf*uf+1.5 (f32)",
           false);
    target(b, B_(b, "subtract", B_(b, "multiply", uf, wf), uf), "uf*wf-uf (f32)", false);
    target(b, B_(b, "floor_divide", ui, S_(b, lp_scalar_i(7))), "ui//7", false);
    target(b, B_(b, "remainder", ui, S_(b, lp_scalar_i(-3))), "ui%-3", false);
    target(b, B_(b, "floor_divide", ui, vi), "ui//vi", false);
    target(b, B_(b, "remainder", u, S_(b, lp_scalar_f(0.3))), "u%0.3", false);
    target(b, B_(b, "power", U_(b, "abs", u), S_(b, lp_scalar_f(1.5))), "|u|**1.5", false);
    target(b, B_(b, "power", vi, S_(b, lp_scalar_i(3))), "vi**3", false);
    target(b, B_(b, "add", B_(b, "add", U_(b, "tanh", u), U_(b, "log", v)),
                 B_(b, "multiply", U_(b, "sin", w), U_(b, "cos", w))), "tanh(u)+log(v)+sin(w)cos(w)",
           false);
    target(b, B_(b, "logical_and", B_(b, "less_equal", u, v), B_(b, "not_equal", ui, vi)),
           "(u<=v)&(ui!=vi)", false);
    target(b, B_(b, "bitwise_xor", ui, vi), "ui^vi", false);
    target(b, B_(b, "maximum", u, w), "maximum(u,w)", false);
    target(b, A_(b, u, LP_FLOAT32), "float32(u)", false);
    target(b, A_(b, B_(b, "multiply", w, S_(b, lp_scalar_i(100))), LP_INT64), "int64(w*100)", false);
    {
        lp_index row[2] = {ix_int(0), ALL}, col[2] = {ALL, ix_sl(true, 0, true, 1, 1)};
        lp_array *r = SL_(b, v, 2, row), *c = SL_(b, w, 2, col);
        target(b, B_(b, "add", B_(b, "add", u, r), c), "u+v[0,:]+w[:,0:1]", false);
    }
    target(b, B_(b, "add", T_(b, u), T_(b, v)), "u.T+v.T", false);
    {
        lp_index ix[2] = {ix_sl(false, 0, false, 0, -3), ix_sl(true, 5, true, 60, 2)};
        target(b, B_(b, "multiply", SL_(b, u, 2, ix), two), "u[::-3,5:60:2]*2", false);
    }
    {
        int64_t sh[2] = {BIG_C, -1};
        target(b, B_(b, "add", RS_(b, u, 2, sh), T_(b, v)), "u.reshape(70,-1)+v.T", false);
    }
    {
        lp_array *in[2] = {u, v}, *cat = NULL, *stk = NULL;
        MK(cat, lp_concatenate(ctx, 2, in, 0, &cat), "concatenate");
        MK(stk, lp_stack(ctx, 2, in, 1, &stk), "stack");
        target(b, R_(b, "sum", cat, 1, false, 0), "concat(u,v).sum(1)", true);
        target(b, R_(b, "max", stk, 1, false, 0), "stack(u,v,1).max(1)", false);
    }
    /* reductions */
    target(b, R_(b, "sum", u, 99, false, 0), "u.sum()", true);
    target(b, R_(b, "sum", u, 0, false, 0), "u.sum(0)", true);
    target(b, R_(b, "sum", u, 1, false, 0), "u.sum(1)", true);
    target(b, R_(b, "mean", u, 0, true, 0), "u.mean(0,keepdims)", true);
    target(b, R_(b, "mean", w, -1, false, 0), "w.mean(-1)", true);
    target(b, R_(b, "var", u, 1, false, 1), "u.var(1,ddof=1)", true);
    target(b, R_(b, "var", w, 99, false, 0), "w.var()", true);
    target(b, R_(b, "std", w, 0, false, 0), "w.std(0)", true);
    target(b, R_(b, "std", u, 99, false, 1), "u.std(ddof=1)", true);
    target(b, R_(b, "prod", B_(b, "add", S_(b, lp_scalar_i(1)),
                               B_(b, "multiply", u, S_(b, lp_scalar_f(1e-3)))), 0, false, 0),
           "(1+u*1e-3).prod(0)", true);
    target(b, R_(b, "min", u, 0, false, 0), "u.min(0)", false);
    target(b, R_(b, "max", w, 1, false, 0), "w.max(1)", false);
    target(b, R_(b, "max", w, 99, false, 0), "w.max()", false);
    target(b, R_(b, "argmin", u, 99, false, 0), "u.argmin()", false);
    target(b, R_(b, "argmax", w, 1, false, 0), "w.argmax(1)", false);
    target(b, R_(b, "argmax", ui, 0, false, 0), "ui.argmax(0)", false);
    target(b, R_(b, "sum", ui, 99, false, 0), "ui.sum()", false);
    target(b, R_(b, "sum", vi, 0, false, 0), "vi.sum(0)", false);
    target(b, R_(b, "prod", B_(b, "remainder", vi, S_(b, lp_scalar_i(3))), 1, false, 0),
           "(vi%3).prod(1)", false);
    target(b, R_(b, "any", B_(b, "greater", u, S_(b, lp_scalar_f(1.999))), 99, false, 0),
           "(u>1.999).any()", false);
    target(b, R_(b, "all", B_(b, "less", u, S_(b, lp_scalar_f(2.0))), 0, false, 0), "(u<2).all(0)",
           false);
    target(b, R_(b, "sum", uf, 0, false, 0), "uf.sum(0) (f32)", true);
    target(b, R_(b, "mean", uf, 99, false, 0), "uf.mean() (f32)", true);
    target(b, R_(b, "var", wf, 1, false, 0), "wf.var(1) (f32)", true);
    target(b, R_(b, "sum", B_(b, "multiply", u, v), 1, false, 0), "(u*v).sum(1)", true);
    target(b, R_(b, "mean", T_(b, u), 1, false, 0), "u.T.mean(1)", true);
    {
        lp_index ix[2] = {ix_sl(false, 0, false, 0, -1), ix_sl(false, 0, false, 0, 2)};
        target(b, R_(b, "max", SL_(b, u, 2, ix), 99, false, 0), "u[::-1,::2].max()", false);
        target(b, R_(b, "argmax", SL_(b, u, 2, ix), 0, false, 0), "u[::-1,::2].argmax(0)", false);
    }
    target(b, R_(b, "sum", B_(b, "greater", u, v), 99, false, 0), "(u>v).sum()", false);
    target(b, R_(b, "mean", ui, 0, false, 0), "ui.mean(0)", true);
}

static void big_free(big *b) {
    for (int i = 0; i < b->n; i++) lp_array_release(b->t[i]);
    for (int i = 0; i < b->ntmp; i++) lp_array_release(b->tmp[i]);
    b->n = b->ntmp = 0;
}

static double mean_of(const lp_buffer *x) {
    int64_t n = lp_buffer_size(x);
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += lp_buffer_dtype(x) == LP_FLOAT32 ? ((const float *)lp_buffer_data(x))[i]
                                              : ((const double *)lp_buffer_data(x))[i];
    return s / (double)n;
}
static double var_of(const lp_buffer *x, double m) {
    int64_t n = lp_buffer_size(x);
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (lp_buffer_dtype(x) == LP_FLOAT32 ? ((const float *)lp_buffer_data(x))[i]
                                                     : ((const double *)lp_buffer_data(x))[i]) - m;
        s += d * d;
    }
    return s / (double)n;
}
static int find_t(const big *b, const char *name) {
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->name[i], name) == 0) return i;
    return -1;
}

/* Properties of the random generators, on the reference run's buffers. */
static void random_properties(const big *b, lp_buffer **r) {
    int iu = find_t(b, "u=uniform(42)"), iv = find_t(b, "v=uniform(43)"),
        iw = find_t(b, "w=normal(44)"), iuf = find_t(b, "uf=uniform32(45)"),
        iwf = find_t(b, "wf=normal32(46)"), iu2 = find_t(b, "u2=uniform(42) again"),
        iflat = find_t(b, "uniform(42) flat"), i100 = find_t(b, "uniform(42) first 100");
    if (iu < 0 || iv < 0 || iw < 0 || iuf < 0 || iwf < 0 || iu2 < 0 || iflat < 0 || i100 < 0) {
        LPT_CHECK(!"random targets missing");
        return;
    }
    struct { int i; double lo, hi; } U[] = {{iu, -1, 2}, {iv, 0, 1}, {iuf, -1, 1}};
    for (int k = 0; k < 3; k++) {
        const lp_buffer *x = r[U[k].i];
        LPT_CHECKF(lp_buffer_size(x) == BIG_N, "%s size", b->name[U[k].i]);
        int64_t n = lp_buffer_size(x), out = 0;
        for (int64_t i = 0; i < n; i++) {
            double val = lp_buffer_dtype(x) == LP_FLOAT32 ? ((const float *)lp_buffer_data(x))[i]
                                                          : ((const double *)lp_buffer_data(x))[i];
            if (!(val >= U[k].lo && val < U[k].hi)) out++;
        }
        LPT_CHECKF(out == 0, "%s: %" PRId64 " values outside [%g, %g)", b->name[U[k].i], out,
                   U[k].lo, U[k].hi);
        double m = mean_of(x), var = var_of(x, m), w = U[k].hi - U[k].lo;
        double sd_mean = w / sqrt(12.0) / sqrt((double)n);
        LPT_CHECKF(fabs(m - (U[k].lo + U[k].hi) / 2) < 5 * sd_mean, "%s: mean %g, want %g +- %g",
                   b->name[U[k].i], m, (U[k].lo + U[k].hi) / 2, 5 * sd_mean);
        LPT_CHECKF(fabs(var / (w * w / 12) - 1) < 0.05, "%s: var %g, want %g", b->name[U[k].i], var,
                   w * w / 12);
    }
    struct { int i; double mu, sd; } N[] = {{iw, 0.5, 2.0}, {iwf, -3.0, 0.5}};
    for (int k = 0; k < 2; k++) {
        const lp_buffer *x = r[N[k].i];
        int64_t n = lp_buffer_size(x), nonfinite = 0, within1 = 0;
        double m = mean_of(x), sd = sqrt(var_of(x, m));
        for (int64_t i = 0; i < n; i++) {
            double val = lp_buffer_dtype(x) == LP_FLOAT32 ? ((const float *)lp_buffer_data(x))[i]
                                                          : ((const double *)lp_buffer_data(x))[i];
            if (!isfinite(val)) nonfinite++;
            if (fabs(val - N[k].mu) < N[k].sd) within1++;
        }
        LPT_CHECKF(nonfinite == 0, "%s: %" PRId64 " non-finite values", b->name[N[k].i], nonfinite);
        LPT_CHECKF(fabs(m - N[k].mu) < 5 * N[k].sd / sqrt((double)n), "%s: mean %g, want %g",
                   b->name[N[k].i], m, N[k].mu);
        LPT_CHECKF(fabs(sd / N[k].sd - 1) < 0.03, "%s: std %g, want %g", b->name[N[k].i], sd, N[k].sd);
        /* a normal distribution, not just the right moments: P(|x-mu| < sd) = 0.6827 */
        double frac = (double)within1 / (double)n;
        LPT_CHECKF(fabs(frac - 0.6827) < 0.02, "%s: %.4f within one sd, want 0.6827", b->name[N[k].i],
                   frac);
    }
    /* same seed -> same values, whatever the shape; prefix property; different seeds differ */
    LPT_CHECK(compare("uniform(42) twice", r[iu2], r[iu], TOL_EXACT, 0));
    LPT_CHECK(lp_buffer_size(r[iflat]) == BIG_N &&
              memcmp(lp_buffer_data(r[iflat]), lp_buffer_data(r[iu]), BIG_N * 8) == 0);
    LPT_CHECK(lp_buffer_size(r[i100]) == 100 &&
              memcmp(lp_buffer_data(r[i100]), lp_buffer_data(r[iu]), 100 * 8) == 0);
    int64_t same = 0;
    for (int64_t i = 0; i < BIG_N; i++)
        same += ((const double *)lp_buffer_data(r[iu]))[i] ==
                ((const double *)lp_buffer_data(r[iv]))[i] * 3 - 1;
    LPT_CHECKF(same < 10, "seeds 42 and 43 give %" PRId64 " equal values", same);
}

static void determinism_big(void) {
    lp_buffer *ref[MAXT] = {0};
    big ref_b = {0};
    int nref = 0;
    const char *ref_name = NULL;
    char cname[128];
    for (int ci = 0; ci <= NCONFIGS; ci++) {
        /* the extra last config: 2 threads, auto chunk bytes, odd explicit chunk shape */
        config cf = ci < NCONFIGS ? configs[ci] : (config){2, 0, true};
        if (remote_exec && ci < NCONFIGS && cf.threads != 1) continue;
        config_name(cname, sizeof cname, &cf);
        if (ci == NCONFIGS) strcat(cname, " chunks=37x11");
        lp_ctx *ctx = config_ctx(&cf);
        if (!ctx) { LPT_CHECK(!"lp_ctx_create"); continue; }
        big b = {.ctx = ctx};
        big_build(&b, ci == NCONFIGS);
        if (b.failed) {
            LPT_CHECKF(!b.failed, "big: building the expressions failed [%s]", cname);
            big_free(&b);
            lp_ctx_destroy(ctx);
            if (ci == 0) return;
            continue;
        }
        lp_buffer *res[MAXT] = {0};
        lp_status st = lp_run(ctx, b.t, b.n, res);
        LPT_CHECKF(st == LP_OK, "big: lp_run [%s]: %s: %s", cname, status_name(st), lp_last_error(ctx));
        if (st == LP_OK) {
            /* guard against a vacuous test: small chunks must really split the arrays */
            lp_run_stats rs;
            lp_last_run_stats(ctx, &rs);
            if (cf.chunk == 256)
                LPT_CHECKF(rs.tasks >= 300, "big [%s]: only %" PRId64 " tasks", cname, rs.tasks);
            if (!remote_exec)
                LPT_CHECKF(rs.threads == cf.threads, "big [%s]: run stats say %d threads", cname,
                           rs.threads);
            if (!ref_name) {
                ref_b = b;
                nref = b.n;
                memcpy(ref, res, sizeof ref);
                ref_name = "first";
                random_properties(&b, ref);
                /* each target run alone gives the same as all together */
                for (int i = 0; i < b.n; i++) {
                    lp_buffer *one = NULL;
                    char what[256];
                    snprintf(what, sizeof what, "big %s alone [%s]", b.name[i], cname);
                    lp_ctx *c1 = config_ctx(&cf);
                    big b1 = {.ctx = c1};
                    big_build(&b1, false);
                    lp_status s1 = b1.failed ? LP_ERR_INTERNAL : lp_run(c1, &b1.t[i], 1, &one);
                    LPT_CHECKF(s1 == LP_OK, "%s: %s", what, lp_last_error(c1));
                    if (s1 == LP_OK) LPT_CHECK(same_result(what, one, ref[i], b.reduction[i]));
                    lp_buffer_release(one);
                    big_free(&b1);
                    lp_ctx_destroy(c1);
                }
                lp_ctx_destroy(NULL);
                continue; /* keep ctx and arrays alive until the end */
            }
            for (int i = 0; i < b.n && i < nref; i++) {
                char what[256];
                snprintf(what, sizeof what, "big %s [%s]", b.name[i], cname);
                bool ok = same_result(what, res[i], ref[i], b.reduction[i]);
                if (ok) lpt_pass_++;
                else lpt_fail_++;
                tally_add("determinism-big", ok, b.name[i]);
            }
        }
        for (int i = 0; i < b.n; i++) lp_buffer_release(res[i]);
        big_free(&b);
        lp_ctx_destroy(ctx);
    }
    for (int i = 0; i < nref; i++) lp_buffer_release(ref[i]);
    if (ref_name) {
        lp_ctx *c = ref_b.ctx;
        big_free(&ref_b);
        lp_ctx_destroy(c);
    }
}

/* ---------------------------------------------------------------- coverage */

/* Every op lampy.h documents must appear in the corpus (so it cannot silently shrink). */
static void check_coverage(const tcase *cs, int n) {
    static const char *const elem_ops[] = {
        "add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power", "negative",
        "abs", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
        "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
        "bitwise_xor", "invert", "where", "maximum", "minimum", "sqrt", "exp", "log", "sin", "cos",
        "tanh"};
    static const char *const red_ops[] = {"sum", "prod", "mean", "min", "max", "argmin",
                                          "argmax", "var", "std", "any", "all"};
    static const char *const other[] = {"load/", "scalar/", "where", "astype/", "reshape/",
                                        "transpose/", "slice/", "concat/", "stack/", "zeros/",
                                        "ones/", "full/", "arange/", "linspace/", "eye/"};
    char pat[3][64];
    for (size_t k = 0; k < sizeof elem_ops / sizeof elem_ops[0]; k++) {
        snprintf(pat[0], sizeof pat[0], "elem/%s/", elem_ops[k]);
        snprintf(pat[1], sizeof pat[1], "unary/%s", elem_ops[k]);
        snprintf(pat[2], sizeof pat[2], "binary/%s", elem_ops[k]);
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            for (int t = 0; t < cs[i].ntok && !found; t++)
                for (int q = 0; q < 3; q++)
                    if (strncmp(cs[i].tok[t], pat[q], strlen(pat[q])) == 0 &&
                        (q == 0 || cs[i].tok[t][strlen(pat[q])] == 0))
                        found = true;
        LPT_CHECKF(found, "the corpus has no case for elementwise op '%s'", elem_ops[k]);
    }
    for (size_t k = 0; k < sizeof red_ops / sizeof red_ops[0]; k++) {
        snprintf(pat[0], sizeof pat[0], "reduce/%s/", red_ops[k]);
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            for (int t = 0; t < cs[i].ntok && !found; t++)
                found = strncmp(cs[i].tok[t], pat[0], strlen(pat[0])) == 0;
        LPT_CHECKF(found, "the corpus has no case for reduction '%s'", red_ops[k]);
    }
    for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            for (int t = 0; t < cs[i].ntok && !found; t++)
                found = strncmp(cs[i].tok[t], other[k], strlen(other[k])) == 0;
        LPT_CHECKF(found, "the corpus has no case using '%s'", other[k]);
    }
    /* every function of the catalogue is called by name somewhere (lp_call), except the ones
     * NumPy has no counterpart for (random.*: Lampy's counter-based streams) and the products
     * and numpy.linalg (BLAS/LAPACK nodes that the wire does not carry yet, so the remote run
     * of this corpus could not include them: tests/c/test_linalg.c covers them) */
    for (int f = 0; f < lp_func_count(); f++) {
        const lp_func *fn = lp_func_at(f);
        if (!strncmp(fn->name, "random.", 7) || !strncmp(fn->name, "linalg.", 7) || !strcmp(fn->name, "matmul") ||
            !strcmp(fn->name, "dot") || !strcmp(fn->name, "tensordot") || !strcmp(fn->name, "cov") || !strcmp(fn->name, "corrcoef"))
            continue;
        char want[96];
        snprintf(want, sizeof want, "call/%s/", fn->name);
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            for (int t = 0; t < cs[i].ntok && !found; t++) found = strncmp(cs[i].tok[t], want, strlen(want)) == 0;
        LPT_CHECKF(found, "the corpus has no case calling catalogue function '%s' (tests/data/gen_ops.py: gen_catalog)", fn->name);
    }
}

/* ---------------------------------------------------------------- main */

int main(void) {
    verbose = getenv("LP_OPS_VERBOSE") && atoi(getenv("LP_OPS_VERBOSE"));
    const char *filter = getenv("LP_OPS_FILTER");
    if (filter && !*filter) filter = NULL;
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/ops", lpt_data_dir());
    ops_dir = dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/MANIFEST", ops_dir);
    char *text = read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s (run tests/data/gen_ops.py)\n", path);
        LPT_CHECK(!"manifest");
        return lpt_done("ops");
    }
    tcase *cs = NULL;
    int n = parse_manifest(text, &cs);
    LPT_CHECK(n > 0);
    if (n <= 0) return lpt_done("ops");
    check_coverage(cs, n);

    remote_exec = getenv("LP_OPS_EXECUTOR");
    remote_workers = getenv("LP_OPS_WORKERS");
    remote_store = getenv("LP_OPS_STORE");
    if (remote_exec && (!*remote_exec || !strcmp(remote_exec, "local"))) remote_exec = NULL;
    if (remote_exec) fprintf(stderr, "executor: %s, workers %s, store %s\n", remote_exec, remote_workers ? remote_workers : "-",
                             remote_store ? remote_store : "(default)");

    lp_ctx *ctx = NULL;
    LPT_OK(ctx, lp_ctx_create(&ctx));
    if (!ctx) return lpt_done("ops");
    use_executor(ctx);
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    int nrun = 0, nfail = 0;
    for (int i = 0; i < n; i++) {
        tcase *c = &cs[i];
        if (filter && !strstr(c->id, filter)) continue;
        nrun++;
        c->ok = check_case(ctx, c);
        if (c->ok) lpt_pass_++;
        else { lpt_fail_++; nfail++; }
        tally_add(c->cat, c->ok, c->id);
    }
    fprintf(stderr, "conformance: %d cases, %d failed (%.1f s cpu)\n", nrun, nfail,
            (double)clock() / CLOCKS_PER_SEC - t0);
    if (remote_exec) remote_vs_local(cs, n, filter);

    if (!getenv("LP_OPS_NO_MATRIX")) {
        t0 = (double)clock() / CLOCKS_PER_SEC;
        determinism_cases(cs, n, filter);
        if (!filter) determinism_big();
        fprintf(stderr, "determinism: %.1f s cpu\n", (double)clock() / CLOCKS_PER_SEC - t0);
    }

    fprintf(stderr, "\n%-16s %7s %7s  failing ids (first ones)\n", "category", "pass", "fail");
    for (int i = 0; i < ntallies; i++)
        fprintf(stderr, "%-16s %7d %7d  %s\n", tallies[i].cat, tallies[i].pass, tallies[i].fail,
                tallies[i].fails);

    for (int i = 0; i < n; i++) {
        lp_buffer_release(cs[i].ref);
        free(cs[i].tok);
    }
    for (size_t i = 0; cache && i < cache_cap; i++) {
        free(cache[i].name);
        lp_buffer_release(cache[i].buf);
    }
    free(cache);
    free(cs);
    free(text);
    lp_ctx_destroy(ctx);
    return lpt_done("ops");
}
