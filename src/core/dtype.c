/* dtypes and NumPy's promotion rules. */
#include "core/core.h"

#include <string.h>
#include <time.h>

static const char *const names[LP_DTYPE_COUNT] = {
    "bool", "int32", "int64", "float32", "float64", "int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16", "complex64", "complex128"};
/* from the storage types of LPI_DTYPES (core.h), so a dtype's size is written once */
static const size_t sizes[LP_DTYPE_COUNT] = {
#define X(E, T, S) [E] = sizeof(T),
    LPI_DTYPES(X)
#undef X
};

const char *lp_dtype_name(lp_dtype dt) { return (unsigned)dt < LP_DTYPE_COUNT ? names[dt] : "?"; }
size_t lp_dtype_size(lp_dtype dt) { return (unsigned)dt < LP_DTYPE_COUNT ? sizes[dt] : 0; }

bool lp_dtype_from_name(const char *name, lp_dtype *out) {
    static const struct { const char *n; lp_dtype dt; } alias[] = {
        {"bool", LP_BOOL}, {"bool_", LP_BOOL}, {"?", LP_BOOL}, {"b1", LP_BOOL},
        {"int8", LP_INT8}, {"i1", LP_INT8}, {"byte", LP_INT8}, {"b", LP_INT8},
        {"int16", LP_INT16}, {"i2", LP_INT16}, {"short", LP_INT16}, {"h", LP_INT16},
        {"int32", LP_INT32}, {"i4", LP_INT32}, {"intc", LP_INT32}, {"i", LP_INT32},
        {"int64", LP_INT64}, {"i8", LP_INT64}, {"int", LP_INT64}, {"int_", LP_INT64}, {"intp", LP_INT64},
        {"long", LP_INT64}, {"longlong", LP_INT64}, {"l", LP_INT64}, {"q", LP_INT64},
        {"uint8", LP_UINT8}, {"u1", LP_UINT8}, {"ubyte", LP_UINT8}, {"B", LP_UINT8},
        {"uint16", LP_UINT16}, {"u2", LP_UINT16}, {"ushort", LP_UINT16}, {"H", LP_UINT16},
        {"uint32", LP_UINT32}, {"u4", LP_UINT32}, {"uintc", LP_UINT32}, {"I", LP_UINT32},
        {"uint64", LP_UINT64}, {"u8", LP_UINT64}, {"uint", LP_UINT64}, {"uintp", LP_UINT64},
        {"ulong", LP_UINT64}, {"ulonglong", LP_UINT64}, {"L", LP_UINT64}, {"Q", LP_UINT64},
        {"float16", LP_FLOAT16}, {"f2", LP_FLOAT16}, {"half", LP_FLOAT16}, {"e", LP_FLOAT16},
        {"float32", LP_FLOAT32}, {"f4", LP_FLOAT32}, {"single", LP_FLOAT32}, {"f", LP_FLOAT32},
        {"float64", LP_FLOAT64}, {"f8", LP_FLOAT64}, {"float", LP_FLOAT64}, {"double", LP_FLOAT64},
        {"d", LP_FLOAT64},
        {"complex64", LP_COMPLEX64}, {"c8", LP_COMPLEX64}, {"csingle", LP_COMPLEX64}, {"F", LP_COMPLEX64},
        {"complex128", LP_COMPLEX128}, {"c16", LP_COMPLEX128}, {"complex", LP_COMPLEX128},
        {"cdouble", LP_COMPLEX128}, {"D", LP_COMPLEX128},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(alias[i].n, name) == 0) { *out = alias[i].dt; return true; }
    return false;
}

lpi_kind lpi_dtype_kind(lp_dtype dt) {
    switch (dt) {
    case LP_BOOL: return LPI_KIND_BOOL;
    case LP_FLOAT16: case LP_FLOAT32: case LP_FLOAT64: return LPI_KIND_FLOAT;
    case LP_COMPLEX64: case LP_COMPLEX128: return LPI_KIND_COMPLEX;
    default: return LPI_KIND_INT;
    }
}

bool lpi_dtype_unsigned(lp_dtype dt) {
    return dt == LP_UINT8 || dt == LP_UINT16 || dt == LP_UINT32 || dt == LP_UINT64;
}

static lp_dtype int_of(bool u, size_t bytes) {
    switch (bytes) {
    case 1: return u ? LP_UINT8 : LP_INT8;
    case 2: return u ? LP_UINT16 : LP_INT16;
    case 4: return u ? LP_UINT32 : LP_INT32;
    default: return u ? LP_UINT64 : LP_INT64;
    }
}
static lp_dtype float_of(size_t bytes) { return bytes <= 2 ? LP_FLOAT16 : bytes == 4 ? LP_FLOAT32 : LP_FLOAT64; }

/* np.result_type for two arrays (NumPy 2's table). A signed/unsigned pair needs a signed type
 * wider than the unsigned one (uint64 with a signed type has none: float64); an integer with a
 * float needs a float whose mantissa holds it (8 bits: float16, 16: float32, more: float64). */
lp_dtype lp_promote(lp_dtype a, lp_dtype b) {
    if (a == b || b == LP_BOOL) return a;
    if (a == LP_BOOL) return b;
    lpi_kind ka = lpi_dtype_kind(a), kb = lpi_dtype_kind(b);
    if (ka == LPI_KIND_COMPLEX || kb == LPI_KIND_COMPLEX) {
        /* the complex type whose parts hold the other operand's float promotion: complex64
         * with float32, int8/16/uint8/16 or float16; complex128 otherwise */
        lp_dtype part = lp_promote(lpi_dtype_real(a), lpi_dtype_real(b));
        return part == LP_FLOAT64 ? LP_COMPLEX128 : LP_COMPLEX64;
    }
    size_t sa = sizes[a], sb = sizes[b];
    if (ka == LPI_KIND_FLOAT && kb == LPI_KIND_FLOAT) return sa >= sb ? a : b;
    if (ka == LPI_KIND_INT && kb == LPI_KIND_INT) {
        bool ua = lpi_dtype_unsigned(a), ub = lpi_dtype_unsigned(b);
        if (ua == ub) return sa >= sb ? a : b;
        size_t su = ua ? sa : sb, ss = ua ? sb : sa;
        if (ss > su) return int_of(false, ss);
        return su == 8 ? LP_FLOAT64 : int_of(false, 2 * su);
    }
    size_t si = ka == LPI_KIND_INT ? sa : sb, sf = ka == LPI_KIND_FLOAT ? sa : sb;
    size_t need = si == 1 ? 2 : si == 2 ? 4 : 8;
    return float_of(need > sf ? need : sf);
}

/* NEP 50: a Python scalar takes the array's dtype when its kind is not higher; otherwise the
 * default dtype of its own kind (int64, float64). */
lp_dtype lpi_promote_weak(lp_dtype array_dt, lp_dtype scalar_dt) {
    lpi_kind ka = lpi_dtype_kind(array_dt), ks = lpi_dtype_kind(scalar_dt);
    if (ks <= ka) return array_dt;
    /* a Python complex with a float array keeps the float's precision (float32 -> complex64) */
    if (ks == LPI_KIND_COMPLEX) return ka == LPI_KIND_FLOAT && array_dt != LP_FLOAT64 ? LP_COMPLEX64 : LP_COMPLEX128;
    return ks == LPI_KIND_INT ? LP_INT64 : LP_FLOAT64;
}

double lpi_load_f64(const void *p, lp_dtype dt) {
    if (dt == LP_FLOAT16) { uint16_t h; memcpy(&h, p, 2); return lpi_h2f(h); }
    switch (dt) {
#define X(E, T, S) case E: { T v; memcpy(&v, p, sizeof v); return (double)v; }
    LPI_DTYPES(X)
#undef X
    default: return 0;
    }
}

void lpi_load_c(const void *p, lp_dtype dt, double out[2]) {
    if (dt == LP_COMPLEX64) { float v[2]; memcpy(v, p, 8); out[0] = v[0]; out[1] = v[1]; }
    else if (dt == LP_COMPLEX128) memcpy(out, p, 16);
    else { out[0] = lpi_load_f64(p, dt); out[1] = 0; }
}

void lpi_store_c(void *p, lp_dtype dt, double re, double im) {
    if (dt == LP_COMPLEX64) { float v[2] = {(float)re, (float)im}; memcpy(p, v, 8); }
    else if (dt == LP_COMPLEX128) { double v[2] = {re, im}; memcpy(p, v, 16); }
    else lpi_store_f64(p, dt, re); /* the imaginary part discarded, as NumPy's complex casts */
}

int64_t lpi_load_i64(const void *p, lp_dtype dt) {
    if (lpi_dtype_kind(dt) >= LPI_KIND_FLOAT) return lpi_f2i64(lpi_load_f64(p, dt));
    switch (dt) {
#define X(E, T, S) case E: { T v; memcpy(&v, p, sizeof v); return (int64_t)v; }
    LPI_DTYPES(X)
#undef X
    default: return 0;
    }
}

void lpi_store_i64(void *p, lp_dtype dt, int64_t v) {
    switch (dt) {
    case LP_BOOL: { uint8_t x = v != 0; memcpy(p, &x, 1); return; }
    case LP_FLOAT16: { uint16_t x = lpi_d2h((double)v); memcpy(p, &x, 2); return; }
    case LP_FLOAT32: { float x = (float)v; memcpy(p, &x, 4); return; }
    case LP_FLOAT64: { double x = (double)v; memcpy(p, &x, 8); return; }
    case LP_COMPLEX64: case LP_COMPLEX128: lpi_store_c(p, dt, (double)v, 0); return;
    default: { uint64_t u = (uint64_t)v; memcpy(p, &u, sizes[dt]); return; } /* little-endian: low bytes */
    }
}

void lpi_store_f64(void *p, lp_dtype dt, double v) {
    switch (dt) {
    case LP_BOOL: { uint8_t x = v != 0; memcpy(p, &x, 1); return; }
    case LP_FLOAT16: { uint16_t x = lpi_d2h(v); memcpy(p, &x, 2); return; }
    case LP_FLOAT32: { float x = (float)v; memcpy(p, &x, 4); return; }
    case LP_FLOAT64: memcpy(p, &v, 8); return;
    case LP_COMPLEX64: case LP_COMPLEX128: lpi_store_c(p, dt, v, 0); return;
    case LP_UINT64: { uint64_t x = lpi_f2u64(v); memcpy(p, &x, 8); return; }
    case LP_INT64: case LP_UINT32: lpi_store_i64(p, dt, lpi_f2i64(v)); return;
    default: lpi_store_i64(p, dt, lpi_f2i32(v)); return;
    }
}

void lpi_int_range(lp_dtype dt, int64_t *lo, int64_t *hi) {
    int bits = (int)sizes[dt] * 8;
    if (lpi_dtype_unsigned(dt)) { *lo = 0; *hi = bits == 64 ? INT64_MAX : (int64_t)((1ull << bits) - 1); }
    else if (dt == LP_BOOL) { *lo = 0; *hi = 1; }
    else { *lo = bits == 64 ? INT64_MIN : -(int64_t)(1ull << (bits - 1)); *hi = bits == 64 ? INT64_MAX : (int64_t)((1ull << (bits - 1)) - 1); }
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
lpi_raw lpi_scalar_bits(lp_scalar v, lp_dtype dt) {
    lpi_kind k = lpi_dtype_kind(v.dtype);
    lpi_raw raw = {{0, 0}};
    if (k == LPI_KIND_COMPLEX) lpi_store_c(&raw, dt, v.v.c[0], v.v.c[1]);
    else if (k == LPI_KIND_FLOAT) lpi_store_f64(&raw, dt, v.v.f);
    else lpi_store_i64(&raw, dt, k == LPI_KIND_INT ? v.v.i : (int64_t)v.v.b);
    return raw;
}
