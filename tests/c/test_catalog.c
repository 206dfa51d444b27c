/* The function catalogue (lp_call): the table is well formed, binding follows Python's rules
 * with CPython's messages, arguments are converted as NumPy converts them, and methods bind
 * like functions. Values are checked against hand-computed results. */
#include "lampy.h"
#include "lpt.h"

static lp_ctx *ctx;

/* Run a and compare with n expected doubles (any dtype, converted). */
static bool values(lp_array *a, int n, const double *want) {
    lp_buffer *b = NULL;
    if (lp_run(ctx, &a, 1, &b) != LP_OK) { fprintf(stderr, "run: %s\n", lp_last_error(ctx)); return false; }
    bool ok = lp_buffer_size(b) == n;
    for (int i = 0; ok && i < n; i++) {
        double v;
        const void *p = lp_buffer_data(b);
        switch (lp_buffer_dtype(b)) {
        case LP_BOOL: v = ((const uint8_t *)p)[i]; break;
        case LP_INT32: v = ((const int32_t *)p)[i]; break;
        case LP_INT64: v = (double)((const int64_t *)p)[i]; break;
        case LP_FLOAT32: v = ((const float *)p)[i]; break;
        default: v = ((const double *)p)[i];
        }
        ok = v == want[i] || (v != v && want[i] != want[i]);
    }
    lp_buffer_release(b);
    return ok;
}

static void test_table(void) {
    int n = lp_func_count();
    LPT_CHECKF(n > 60, "%d functions", n);
    for (int i = 0; i < n; i++) {
        const lp_func *f = lp_func_at(i);
        LPT_CHECK(f && f->name && f->signature && f->doc && f->aliases);
        LPT_CHECKF(lp_func_find(f->name) == f, "%s", f->name);
        /* the signature starts with the short name */
        const char *base = strrchr(f->name, '.') ? strrchr(f->name, '.') + 1 : f->name;
        LPT_CHECKF(!strncmp(f->signature, base, strlen(base)) && f->signature[strlen(base)] == '(', "%s", f->signature);
        for (int j = 0; j < i; j++) LPT_CHECKF(strcmp(lp_func_at(j)->name, f->name) != 0, "%s twice", f->name);
    }
    LPT_CHECK(lp_func_at(-1) == NULL && lp_func_at(n) == NULL);
    LPT_CHECK(lp_func_find("absolute") == lp_func_find("abs"));
    LPT_CHECK(lp_func_find("bitwise_invert") == lp_func_find("invert"));
    LPT_CHECK(lp_func_find("no_such_function") == NULL && lp_func_find(NULL) == NULL);
    LPT_CHECK(lp_method_exists("sum") && lp_method_exists("reshape") && !lp_method_exists("zeros"));
    LPT_CHECK(lp_func_find("add")->ufunc_nin == 2 && lp_func_find("sqrt")->ufunc_nin == 1 &&
              lp_func_find("sum")->ufunc_nin == 0);
    LPT_CHECK(!strcmp(lp_func_find("sum")->signature, "sum(a, axis=None, dtype=None, out=None, keepdims=False)"));
    LPT_CHECK(!strcmp(lp_func_find("sum")->method, "sum(axis=None, dtype=None, out=None, keepdims=False)"));
}

/* The error of a call, as (status, message). */
static bool fails(lp_status want, const char *msg, const char *name, int npos, const lp_value *pos, int nkw,
                  const char *const *kwn, const lp_value *kw) {
    lp_value out;
    lp_status st = lp_call(ctx, name, npos, pos, nkw, kwn, kw, &out);
    bool ok = st == want && strstr(lp_last_error(ctx), msg) && out.kind == LP_VAL_NONE;
    if (!ok) fprintf(stderr, "%s: got %s '%s', want %s '%s'\n", name, lp_status_str(st), lp_last_error(ctx),
                     lp_status_str(want), msg);
    if (st == LP_OK) lp_value_clear(&out);
    return ok;
}

static void test_binding(void) {
    lp_array *x;
    lp_arange(ctx, 0, 6, 1, LP_INT64, &x);
    lp_value a = lp_value_array(x), one = lp_value_int(1), f = lp_value_float(1.5), none = lp_value_none();
    const char *foo[] = {"foo"}, *axis[] = {"axis"}, *a_kw[] = {"a"};
    LPT_CHECK(fails(LP_ERR_TYPE, "sum() got an unexpected keyword argument 'foo'", "sum", 1, &a, 1, foo, &one));
    LPT_CHECK(fails(LP_ERR_TYPE, "sum() missing required argument 'a' (pos 1)", "sum", 0, NULL, 0, NULL, NULL));
    LPT_CHECK(fails(LP_ERR_TYPE, "sum() got multiple values for argument 'a'", "sum", 1, &a, 1, a_kw, &a));
    lp_value many[6] = {a, none, none, none, lp_value_bool(false), one};
    LPT_CHECK(fails(LP_ERR_TYPE, "sum() takes at most 5 positional arguments (6 given)", "sum", 6, many, 0, NULL, NULL));
    LPT_CHECK(fails(LP_ERR_TYPE, "'float' object cannot be interpreted as an integer", "sum", 1, &a, 1, axis, &f));
    LPT_CHECK(fails(LP_ERR_AXIS, "axis 3 is out of bounds for array of dimension 1", "sum", 1, &a, 1, axis,
                    &(lp_value){LP_VAL_INT, false, 3, 0, NULL, LP_BOOL, NULL, NULL, 0}));
    LPT_CHECK(fails(LP_ERR_NOTFOUND, "no function named 'nope'", "nope", 0, NULL, 0, NULL, NULL));
    lp_value two[2] = {a, one};
    LPT_CHECK(fails(LP_ERR_TYPE, "exp() takes at most 1 positional argument (2 given)", "exp", 2, two, 0, NULL, NULL));
    /* positional-only parameters cannot be named; out= is refused */
    const char *x_kw[] = {"x"}, *out_kw[] = {"out"};
    LPT_CHECK(fails(LP_ERR_TYPE, "exp() got an unexpected keyword argument 'x'", "exp", 0, NULL, 1, x_kw, &a));
    LPT_CHECK(fails(LP_ERR_TYPE, "exp(): out= is not supported", "exp", 1, &a, 1, out_kw, &a));
    /* one message for arange(step=0) everywhere */
    lp_value ar[3] = {lp_value_int(0), lp_value_int(10), lp_value_int(0)};
    LPT_CHECK(fails(LP_ERR_ZERO_DIVISION, "arange(): step must not be zero", "arange", 3, ar, 0, NULL, NULL));
    /* None where an int is required */
    const char *k_kw[] = {"k"};
    LPT_CHECK(fails(LP_ERR_TYPE, "eye(): 'k' must not be None", "eye", 1, &one, 1, k_kw, &none));
    lp_value s = lp_value_str("x");
    LPT_CHECK(fails(LP_ERR_TYPE, "exp(): 'x' must be an array or a number, got str", "exp", 1, &s, 0, NULL, NULL));
    lp_array_release(x);
}

static void test_values(void) {
    lp_value out;
    /* a nested tuple becomes an int64 array; the alias keeps its own name */
    lp_value r0[3] = {lp_value_int(1), lp_value_int(2), lp_value_int(3)};
    lp_value r1[3] = {lp_value_int(4), lp_value_bool(true), lp_value_int(-6)};
    lp_value rows[2] = {lp_value_tuple(r0, 3), lp_value_tuple(r1, 3)};
    lp_value m = lp_value_tuple(rows, 2);
    const char *axis[] = {"axis"};
    lp_value zero = lp_value_int(0);
    LPT_OK(ctx, lp_call(ctx, "sum", 1, &m, 1, axis, &zero, &out));
    LPT_CHECK(out.kind == LP_VAL_ARRAY && lp_array_dtype(out.array) == LP_INT64);
    LPT_CHECK(values(out.array, 3, (double[]){5, 3, -3}));
    lp_value_clear(&out);
    LPT_CHECK(out.kind == LP_VAL_NONE);
    /* the same through the method form, with the tuple axis and keepdims */
    lp_array *x;
    lp_value mm = m;
    LPT_OK(ctx, lp_call(ctx, "asarray", 1, &mm, 0, NULL, NULL, &out));
    x = out.array;
    out.array = NULL;
    lp_value_clear(&out);
    lp_value ax2[2] = {lp_value_int(0), lp_value_int(-1)};
    lp_value kwv[2] = {lp_value_tuple(ax2, 2), lp_value_bool(true)};
    const char *kwn[2] = {"axis", "keepdims"};
    LPT_OK(ctx, lp_call_method(ctx, "max", x, 0, NULL, 2, kwn, kwv, &out));
    LPT_CHECK(lp_array_ndim(out.array) == 2 && values(out.array, 1, (double[]){4}));
    lp_value_clear(&out);
    /* reshape(3, 2) and reshape((3, 2)) */
    lp_value dims[2] = {lp_value_int(3), lp_value_int(2)};
    LPT_OK(ctx, lp_call_method(ctx, "reshape", x, 2, dims, 0, NULL, NULL, &out));
    LPT_CHECK(lp_array_shape(out.array)[0] == 3 && lp_array_shape(out.array)[1] == 2);
    lp_value_clear(&out);
    lp_value tup = lp_value_tuple(dims, 2);
    LPT_OK(ctx, lp_call_method(ctx, "reshape", x, 1, &tup, 0, NULL, NULL, &out));
    LPT_CHECK(lp_array_shape(out.array)[0] == 3);
    lp_value_clear(&out);
    /* transpose() reverses; astype by name; a 0-d array standing for an int */
    LPT_OK(ctx, lp_call_method(ctx, "transpose", x, 0, NULL, 0, NULL, NULL, &out));
    LPT_CHECK(lp_array_shape(out.array)[0] == 3);
    lp_value_clear(&out);
    lp_value f32 = lp_value_str("float32");
    LPT_OK(ctx, lp_call_method(ctx, "astype", x, 1, &f32, 0, NULL, NULL, &out));
    LPT_CHECK(lp_array_dtype(out.array) == LP_FLOAT32);
    lp_value_clear(&out);
    lp_array *k;
    lp_full(ctx, LP_INT64, 0, NULL, lp_scalar_i(1), &k);
    lp_value kv = lp_value_array(k);
    LPT_OK(ctx, lp_call_method(ctx, "sum", x, 1, &kv, 0, NULL, NULL, &out));
    LPT_CHECK(values(out.array, 2, (double[]){6, -1}));
    lp_value_clear(&out);
    lp_array_release(k);
    /* a tuple result: linspace(retstep=True) */
    lp_value lin[3] = {lp_value_int(0), lp_value_int(1), lp_value_int(5)};
    const char *rs[] = {"retstep"};
    lp_value t = lp_value_bool(true);
    LPT_OK(ctx, lp_call(ctx, "linspace", 3, lin, 1, rs, &t, &out));
    LPT_CHECK(out.kind == LP_VAL_TUPLE && out.n == 2 && out.items[1].kind == LP_VAL_FLOAT && out.items[1].f == 0.25);
    LPT_CHECK(values(out.items[0].array, 5, (double[]){0, 0.25, 0.5, 0.75, 1}));
    lp_value_clear(&out);
    lp_array_release(x);
}

int main(void) {
    if (lp_ctx_create(&ctx) != LP_OK) return 1;
    LPT_RUN(test_table);
    LPT_RUN(test_binding);
    LPT_RUN(test_values);
    lp_ctx_destroy(ctx);
    return lpt_done("catalog");
}
