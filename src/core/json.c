/* JSON building blocks every layer's formats share (graph files, plans, the task wire,
 * profiles): bit-exact floats, typed and range-checked getters that say where a document is
 * wrong, strict key sets, and a line-per-element text dump. */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---------------------------------------------------------------------------- */

json_t *lpi_json_float(double v) {
    if (isnan(v)) return json_string("nan");
    if (isinf(v)) return json_string(v < 0 ? "-inf" : "inf");
    /* shortest round-tripping digits; plain notation for ordinary magnitudes ("1040", not
     * "1.04e+03") */
    char buf[40];
    double m = fabs(v);
    bool plain = m == 0 || (m >= 1e-4 && m < 1e16);
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v && (!plain || !strchr(buf, 'e'))) break;
    }
    return json_string(buf);
}

bool lpi_json_get_float(const json_t *j, double *out) {
    if (json_is_integer(j)) { *out = (double)json_integer_value(j); return true; }
    if (json_is_real(j)) { *out = json_real_value(j); return true; }
    if (!json_is_string(j)) return false;
    const char *s = json_string_value(j);
    if (!strcmp(s, "nan")) { *out = NAN; return true; }
    if (!strcmp(s, "inf") || !strcmp(s, "+inf")) { *out = INFINITY; return true; }
    if (!strcmp(s, "-inf")) { *out = -INFINITY; return true; }
    if (!*s || !(s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || (errno == ERANGE && isinf(v)) || isnan(v)) return false;
    *out = v;
    return true;
}

json_t *lpi_json_ints(int n, const int64_t *v) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer((json_int_t)v[i]))) { json_decref(a); return NULL; }
    return a;
}

lp_status lpi_json_missing(lp_ctx *ctx, const char *where, const char *key) {
    return lpi_error(ctx, LP_ERR_FORMAT, "%s: missing key '%s'", where, key);
}

lp_status lpi_json_int(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt, int64_t lo,
                       int64_t hi, int64_t *out) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return opt ? LP_OK : lpi_json_missing(ctx, where, key);
    if (!json_is_integer(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be an integer", where, key);
    int64_t v = json_integer_value(j);
    if (v < lo || v > hi)
        return lpi_error(ctx, LP_ERR_VALUE, "%s: '%s' is %lld, outside [%lld, %lld]", where, key, (long long)v,
                         (long long)lo, (long long)hi);
    *out = v;
    return LP_OK;
}

lp_status lpi_json_bool(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt, bool *out) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return opt ? LP_OK : lpi_json_missing(ctx, where, key);
    if (!json_is_boolean(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be true or false", where, key);
    *out = json_is_true(j);
    return LP_OK;
}

lp_status lpi_json_flt(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt, double *out) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return opt ? LP_OK : lpi_json_missing(ctx, where, key);
    if (!lpi_json_get_float(j, out))
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be a float (a number or a string such as \"0.1\", \"nan\", \"-inf\")",
                         where, key);
    return LP_OK;
}

lp_status lpi_json_str(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                       const char **out) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return opt ? LP_OK : lpi_json_missing(ctx, where, key);
    if (!json_is_string(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be a string", where, key);
    *out = json_string_value(j);
    return LP_OK;
}

json_t *lpi_json_elem(lp_dtype dt, const void *p) {
    switch (lpi_dtype_kind(dt)) {
    case LPI_KIND_BOOL: return json_boolean(*(const uint8_t *)p != 0);
    case LPI_KIND_INT: {
        int64_t v = lpi_load_i64(p, dt);
        if (dt == LP_UINT64 && v < 0) {
            char s[24];
            snprintf(s, sizeof s, "%llu", (unsigned long long)(uint64_t)v);
            return json_string(s);
        }
        return json_integer((json_int_t)v);
    }
    case LPI_KIND_COMPLEX: { /* [real, imaginary] */
        double c[2];
        lpi_load_c(p, dt, c);
        return json_pack("[oo]", lpi_json_float(c[0]), lpi_json_float(c[1]));
    }
    default: return lpi_json_float(lpi_load_f64(p, dt));
    }
}

bool lpi_json_elem_get(lp_dtype dt, const json_t *j, void *p) {
    switch (lpi_dtype_kind(dt)) {
    case LPI_KIND_BOOL:
        if (!json_is_boolean(j)) return false;
        *(uint8_t *)p = json_is_true(j);
        return true;
    case LPI_KIND_INT: {
        int64_t v, lo, hi;
        if (dt == LP_UINT64 && json_is_string(j)) {
            const char *s = json_string_value(j);
            char *end;
            errno = 0;
            unsigned long long u = strtoull(s, &end, 10);
            if (errno || end == s || *end || s[0] < '0' || s[0] > '9' || u <= (unsigned long long)INT64_MAX) return false;
            v = (int64_t)(uint64_t)u;
        } else {
            if (!json_is_integer(j)) return false;
            v = json_integer_value(j);
            lpi_int_range(dt, &lo, &hi);
            if (v < lo || v > hi) return false;
        }
        lpi_store_i64(p, dt, v);
        return true;
    }
    case LPI_KIND_COMPLEX: {
        double re, im;
        if (!json_is_array(j) || json_array_size(j) != 2 || !lpi_json_get_float(json_array_get(j, 0), &re) ||
            !lpi_json_get_float(json_array_get(j, 1), &im))
            return false;
        lpi_store_c(p, dt, re, im);
        return true;
    }
    default: {
        double d;
        if (!lpi_json_get_float(j, &d)) return false;
        lpi_store_f64(p, dt, d);
        return true;
    }
    }
}

lp_status lpi_json_dtype(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, lp_dtype *out) {
    const char *s = NULL;
    lp_status st = lpi_json_str(ctx, where, obj, key, false, &s);
    if (st) return st;
    for (int d = 0; d < LP_DTYPE_COUNT; d++)
        if (!strcmp(s, lp_dtype_name((lp_dtype)d))) { *out = (lp_dtype)d; return LP_OK; }
    char names[256] = "";
    for (int d = 0; d < LP_DTYPE_COUNT; d++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", d ? ", " : "",
                 lp_dtype_name((lp_dtype)d));
    return lpi_error(ctx, LP_ERR_TYPE, "%s: unknown dtype '%.40s' (%s)", where, s, names);
}

lp_status lpi_json_int_list(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt, int max,
                            int64_t lo, int64_t hi, int *n, int64_t *out) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return opt ? LP_OK : lpi_json_missing(ctx, where, key);
    if (!json_is_array(j)) return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be a list of integers", where, key);
    size_t len = json_array_size(j);
    if (len > (size_t)max)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: '%s' has %zu items; at most %d are allowed", where, key, len, max);
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(j, i);
        if (!json_is_integer(e))
            return lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s'[%zu] must be an integer", where, key, i);
        int64_t v = json_integer_value(e);
        if (v < lo || v > hi)
            return lpi_error(ctx, LP_ERR_VALUE, "%s: '%s'[%zu] is %lld, outside [%lld, %lld]", where, key, i,
                             (long long)v, (long long)lo, (long long)hi);
        out[i] = v;
    }
    *n = (int)len;
    return LP_OK;
}

lp_status lpi_json_shape(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, int *ndim,
                         int64_t *shape) {
    const json_t *j = json_object_get(obj, key);
    if (!j) return lpi_json_missing(ctx, where, key);
    if (json_is_array(j) && json_array_size(j) > LP_MAX_NDIM)
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: '%s' has %zu dimensions; at most %d are supported", where, key,
                         json_array_size(j), LP_MAX_NDIM);
    lp_status st = lpi_json_int_list(ctx, where, obj, key, false, LP_MAX_NDIM, 0, INT64_MAX, ndim, shape);
    if (st) return st;
    int64_t size;
    if (!lpi_shape_fits(*ndim, shape, &size))
        return lpi_error(ctx, LP_ERR_LIMIT, "%s: '%s' describes an array too large to address", where, key);
    return LP_OK;
}

lp_status lpi_json_only_keys(lp_ctx *ctx, const char *where, const json_t *obj, const char *const *allowed,
                             const char *what) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(key, allowed[i]);
        if (!ok) return lpi_error(ctx, LP_ERR_FORMAT, "%s: unknown %s '%.60s'", where, what, key);
    }
    return LP_OK;
}

/* ---- a text buffer ---- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1) c *= 2;
        char *ns = realloc(b->s, c);
        if (!ns) { b->oom = true; return; }
        b->s = ns;
        b->cap = c;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_json(sbuf *b, const json_t *j) {
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) { b->oom = true; return; }
    sb_str(b, t);
    free(t);
}

char *lpi_json_dump_lines(const json_t *top, const char *const *list_keys) {
    sbuf b = {0};
    sb_str(&b, "{");
    const char *key;
    const json_t *v;
    bool first = true;
    json_object_foreach((json_t *)top, key, v) {
        sb_str(&b, first ? "\n  " : ",\n  ");
        first = false;
        json_t *k = json_string(key);
        if (!k) { b.oom = true; break; }
        sb_json(&b, k);
        json_decref(k);
        sb_str(&b, ": ");
        bool lines = false;
        for (int i = 0; list_keys && list_keys[i]; i++) lines |= !strcmp(key, list_keys[i]);
        if (lines && json_is_array(v) && json_array_size(v)) {
            sb_str(&b, "[");
            for (size_t i = 0; i < json_array_size(v); i++) {
                sb_str(&b, i ? ",\n    " : "\n    ");
                sb_json(&b, json_array_get(v, i));
            }
            sb_str(&b, "\n  ]");
        } else {
            sb_json(&b, v);
        }
    }
    sb_str(&b, "\n}\n");
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

