/* dtypes and NumPy's promotion rules. */
#include "core/core.h"

#include <string.h>
#include <time.h>

static const char *const names[LP_DTYPE_COUNT] = {"bool", "int32", "int64", "float32", "float64"};
static const size_t sizes[LP_DTYPE_COUNT] = {1, 4, 8, 4, 8};

const char *lp_dtype_name(lp_dtype dt) { return (unsigned)dt < LP_DTYPE_COUNT ? names[dt] : "?"; }
size_t lp_dtype_size(lp_dtype dt) { return (unsigned)dt < LP_DTYPE_COUNT ? sizes[dt] : 0; }

bool lp_dtype_from_name(const char *name, lp_dtype *out) {
    static const struct { const char *n; lp_dtype dt; } alias[] = {
        {"bool", LP_BOOL}, {"bool_", LP_BOOL}, {"?", LP_BOOL},
        {"int32", LP_INT32}, {"i4", LP_INT32}, {"intc", LP_INT32},
        {"int64", LP_INT64}, {"i8", LP_INT64}, {"int", LP_INT64}, {"int_", LP_INT64},
        {"float32", LP_FLOAT32}, {"f4", LP_FLOAT32}, {"single", LP_FLOAT32},
        {"float64", LP_FLOAT64}, {"f8", LP_FLOAT64}, {"float", LP_FLOAT64}, {"double", LP_FLOAT64},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(alias[i].n, name) == 0) { *out = alias[i].dt; return true; }
    return false;
}

lpi_kind lpi_dtype_kind(lp_dtype dt) {
    switch (dt) {
    case LP_BOOL: return LPI_KIND_BOOL;
    case LP_INT32: case LP_INT64: return LPI_KIND_INT;
    default: return LPI_KIND_FLOAT;
    }
}

/* np.result_type for two arrays. int32 + float32 needs float64 to hold every int32 exactly. */
lp_dtype lp_promote(lp_dtype a, lp_dtype b) {
    static const lp_dtype T[LP_DTYPE_COUNT][LP_DTYPE_COUNT] = {
        /*            bool        int32       int64       float32     float64 */
        /* bool  */ {LP_BOOL,    LP_INT32,   LP_INT64,   LP_FLOAT32, LP_FLOAT64},
        /* int32 */ {LP_INT32,   LP_INT32,   LP_INT64,   LP_FLOAT64, LP_FLOAT64},
        /* int64 */ {LP_INT64,   LP_INT64,   LP_INT64,   LP_FLOAT64, LP_FLOAT64},
        /* f32   */ {LP_FLOAT32, LP_FLOAT64, LP_FLOAT64, LP_FLOAT32, LP_FLOAT64},
        /* f64   */ {LP_FLOAT64, LP_FLOAT64, LP_FLOAT64, LP_FLOAT64, LP_FLOAT64},
    };
    return T[a][b];
}

/* NEP 50: a Python scalar takes the array's dtype when its kind is not higher; otherwise the
 * default dtype of its own kind (int64, float64). */
lp_dtype lpi_promote_weak(lp_dtype array_dt, lp_dtype scalar_dt) {
    lpi_kind ka = lpi_dtype_kind(array_dt), ks = lpi_dtype_kind(scalar_dt);
    if (ks <= ka) return array_dt;
    return ks == LPI_KIND_INT ? LP_INT64 : LP_FLOAT64;
}

double lpi_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static _Thread_local double thread_deadline;

double lpi_deadline_set(double t) {
    double old = thread_deadline;
    thread_deadline = t;
    return old;
}

double lpi_deadline(void) { return thread_deadline; }

double lpi_op_budget(double dflt) {
    if (!thread_deadline) return dflt;
    double left = thread_deadline - lpi_now();
    return left <= 0 ? 0 : left < dflt ? left : dflt;
}

/* The 8-byte slot holding v converted to dt (little-endian: the value in its first bytes), as a
 * constant register or a fill value. v is read by its kind: b, i or f, whatever its width. */
uint64_t lpi_scalar_bits(lp_scalar v, lp_dtype dt) {
    lpi_kind k = lpi_dtype_kind(v.dtype);
    double f = k == LPI_KIND_FLOAT ? v.v.f : k == LPI_KIND_INT ? (double)v.v.i : (double)v.v.b;
    int64_t i = k == LPI_KIND_FLOAT ? (int64_t)0 : k == LPI_KIND_INT ? v.v.i : (int64_t)v.v.b;
    bool isf = k == LPI_KIND_FLOAT;
    uint64_t raw = 0;
    switch (dt) {
    case LP_BOOL: { uint8_t x = isf ? f != 0 : i != 0; memcpy(&raw, &x, sizeof x); } break;
    case LP_INT32: { int32_t x = isf ? lpi_f2i32(f) : (int32_t)i; memcpy(&raw, &x, sizeof x); } break;
    case LP_INT64: { int64_t x = isf ? lpi_f2i64(f) : i; memcpy(&raw, &x, sizeof x); } break;
    case LP_FLOAT32: { float x = isf ? (float)f : (float)i; memcpy(&raw, &x, sizeof x); } break;
    default: { double x = isf ? f : (double)i; memcpy(&raw, &x, sizeof x); }
    }
    return raw;
}
