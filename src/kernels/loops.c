/* Elementwise loops for every (op, dtype), generated with X-macros. Each loop has a contiguous
 * fast path (what GCC vectorizes at -O3), broadcast-scalar fast paths, and a strided fallback.
 * Integer semantics follow NumPy exactly: wrapping arithmetic (done in unsigned to avoid C's
 * undefined overflow), x // 0 == x % 0 == 0, floor rounding toward -inf. */
#include "kernels/loop_gen.h"
#include "kernels/vmath.h"

#include <math.h>

typedef uint8_t lp_bool_t;

/* ---- scalar semantics ---------------------------------------------------------------- */

/* T the type, W an unsigned type at least as wide as T and as unsigned int (so that narrow
 * products do not overflow int after C's integer promotions). */
#define DEF_INT_HELPERS(T, W, SUF)                                                              \
    static inline T floordiv_##SUF(T a, T b) {                                              \
        if (b == 0) return 0;                                                               \
        if (b == -1) return (T)(0 - (W)a); /* INT_MIN // -1 wraps as in NumPy */            \
        T q = (T)(a / b);                                                                   \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q--;                                      \
        return q;                                                                           \
    }                                                                                       \
    static inline T mod_##SUF(T a, T b) {                                                   \
        if (b == 0 || b == -1) return 0;                                                    \
        T r = (T)(a % b);                                                                   \
        if (r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b);                                 \
        return r;                                                                           \
    }                                                                                       \
    static inline T ipow_##SUF(T a, T b, int *err) {                                        \
        if (b < 0) { *err = LPI_LOOP_ERR_NEG_POWER; return 0; }                             \
        return (T)upow_##W((W)a, (uint64_t)b);                                              \
    }
/* a ** b by squaring, wrapping in W (the exponent is not negative) */
static inline uint32_t upow_uint32_t(uint32_t x, uint64_t b) {
    uint32_t r = 1;
    for (; b; b >>= 1, x *= x) if (b & 1) r *= x;
    return r;
}
static inline uint64_t upow_uint64_t(uint64_t x, uint64_t b) {
    uint64_t r = 1;
    for (; b; b >>= 1, x *= x) if (b & 1) r *= x;
    return r;
}
DEF_INT_HELPERS(int8_t, uint32_t, i8)
DEF_INT_HELPERS(int16_t, uint32_t, i16)
DEF_INT_HELPERS(int32_t, uint32_t, i32)
DEF_INT_HELPERS(int64_t, uint64_t, i64)
#define DEF_UINT_HELPERS(T, W, SUF)                                                             \
    static inline T floordiv_##SUF(T a, T b) { return b == 0 ? 0 : (T)(a / b); }            \
    static inline T mod_##SUF(T a, T b) { return b == 0 ? 0 : (T)(a % b); }                 \
    static inline T ipow_##SUF(T a, T b, int *err) {                                        \
        (void)err;                                                                          \
        return (T)upow_##W((W)a, (uint64_t)b);                                              \
    }
DEF_UINT_HELPERS(uint8_t, uint32_t, u8)
DEF_UINT_HELPERS(uint16_t, uint32_t, u16)
DEF_UINT_HELPERS(uint32_t, uint32_t, u32)
DEF_UINT_HELPERS(uint64_t, uint64_t, u64)

/* double -> each dtype as the cast loops convert (NumPy's C casts on x86-64: narrow integers
 * through the 32-bit conversion, uint32 through the 64-bit one; out of range as core.h says) */
#define F2_b(x) ((x) != 0)
#define F2_i8(x) ((int8_t)lpi_f2i32(x))
#define F2_i16(x) ((int16_t)lpi_f2i32(x))
#define F2_i32(x) lpi_f2i32(x)
#define F2_i64(x) lpi_f2i64(x)
#define F2_u8(x) ((uint8_t)lpi_f2i32(x))
#define F2_u16(x) ((uint16_t)lpi_f2i32(x))
#define F2_u32(x) ((uint32_t)lpi_f2i64(x))
#define F2_u64(x) lpi_f2u64(x)
#define F2_f16(x) lpi_d2h(x)
#define F2_f32(x) ((float)(x))
#define F2_f64(x) ((double)(x))
#define F2_c64(x) ((float _Complex)(float)(x))
#define F2_c128(x) ((double _Complex)(double)(x))
/* an integer or bool value -> each dtype (C's conversions: modular between integers) */
#define I2_b(x) ((x) != 0)
#define I2_f16(x) lpi_d2h((double)(x))
#define I2_i8(x) ((int8_t)(x))
#define I2_i16(x) ((int16_t)(x))
#define I2_i32(x) ((int32_t)(x))
#define I2_i64(x) ((int64_t)(x))
#define I2_u8(x) ((uint8_t)(x))
#define I2_u16(x) ((uint16_t)(x))
#define I2_u32(x) ((uint32_t)(x))
#define I2_u64(x) ((uint64_t)(x))
#define I2_f32(x) ((float)(x))
#define I2_f64(x) ((double)(x))
#define I2_c64(x) ((float _Complex)(float)(x))
#define I2_c128(x) ((double _Complex)(double)(x))

/* NumPy's npy_divmod / npy_floor_divide / npy_remainder for floats. */
#define DEF_FLOAT_HELPERS(T, SUF, FMOD, FLOOR, COPYSIGN)                                    \
    static inline T divmod_##SUF(T a, T b, T *modulus) {                                    \
        T mod = FMOD(a, b);                                                                 \
        T div = (a - mod) / b;                                                              \
        if (mod) {                                                                          \
            if ((b < 0) != (mod < 0)) { mod += b; div -= (T)1; }                             \
        } else {                                                                            \
            mod = COPYSIGN((T)0, b);                                                        \
        }                                                                                   \
        T floordiv;                                                                         \
        if (div) {                                                                          \
            floordiv = FLOOR(div);                                                          \
            if (div - floordiv > (T)0.5) floordiv += (T)1;                                  \
        } else {                                                                            \
            floordiv = COPYSIGN((T)0, a / b);                                               \
        }                                                                                   \
        *modulus = mod;                                                                     \
        return floordiv;                                                                    \
    }                                                                                       \
    static inline T floordiv_##SUF(T a, T b) {                                              \
        T mod;                                                                              \
        if (!b) return a / b;                                                               \
        return divmod_##SUF(a, b, &mod);                                                    \
    }                                                                                       \
    static inline T mod_##SUF(T a, T b) {                                                   \
        T mod;                                                                              \
        if (!b) return FMOD(a, b);                                                          \
        divmod_##SUF(a, b, &mod);                                                           \
        return mod;                                                                         \
    }
DEF_FLOAT_HELPERS(float, f32, fmodf, floorf, copysignf)
DEF_FLOAT_HELPERS(double, f64, fmod, floor, copysign)

/* maximum/minimum propagate NaN like NumPy: (a >= b || isnan(a)) ? a : b */
#define FMAX(a, b) (((a) >= (b) || (a) != (a)) ? (a) : (b))
#define FMIN(a, b) (((a) <= (b) || (a) != (a)) ? (a) : (b))
/* fmax/fmin ignore NaN like NumPy: a when b is NaN, else the larger (smaller), b when the two
 * compare equal (-0 and +0) or a alone is NaN; both NaN: a. That is NumPy's float32/float64
 * vector loop (blend(a, max(a, b), b ordered): maxpd/minpd give b for equal or unordered
 * operands) and glibc's x86-64 fmax; compares and a select vectorise, a libm call per element
 * did not. (In the scalar remainder of a short contiguous loop NumPy's zero sign varies with
 * the position: there alone may a zero's sign differ.) float16 is NumPy's half loop: FMAXH. */
#define FMAXNUM(a, b) (((a) > (b) || (b) != (b)) ? (a) : (b))
#define FMINNUM(a, b) (((a) < (b) || (b) != (b)) ? (a) : (b))
#define FMAXH(a, b) (((a) >= (b) || (b) != (b)) ? (a) : (b))
#define FMINH(a, b) (((a) <= (b) || (b) != (b)) ? (a) : (b))

/* ---- loop generators -------------------------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------------------- */
/* Each list: X(SUFFIX, C type, W) over the dtypes an op supports; W is the unsigned type the
 * arithmetic wraps in (at least unsigned int: see DEF_INT_HELPERS). float16 has no native loops:
 * its loops (below the float32 ones) convert blocks to float32 and round each result back. */
#define SINTS(X) X(i8, int8_t, uint32_t) X(i16, int16_t, uint32_t) X(i32, int32_t, uint32_t) X(i64, int64_t, uint64_t)
#define UINTS(X) X(u8, uint8_t, uint32_t) X(u16, uint16_t, uint32_t) X(u32, uint32_t, uint32_t) X(u64, uint64_t, uint64_t)
#define INTS(X) SINTS(X) UINTS(X)
#define FLOATS(X) X(f32, float, float) X(f64, double, double)

/* arithmetic, same type in and out */
#define X(S, T, W) BINARY_LOOP(add_##S, T, T, (T)((W)x + (W)y)) BINARY_LOOP(sub_##S, T, T, (T)((W)x - (W)y)) \
                   BINARY_LOOP(mul_##S, T, T, (T)((W)x * (W)y))
INTS(X)
#undef X
#define X(S, T, W) BINARY_LOOP(add_##S, T, T, x + y) BINARY_LOOP(sub_##S, T, T, x - y) BINARY_LOOP(mul_##S, T, T, x * y)
FLOATS(X)
#undef X
BINARY_LOOP(add_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(mul_b, lp_bool_t, lp_bool_t, x & y)

#define X(S, T, W) BINARY_LOOP(div_##S, T, T, x / y)
FLOATS(X)
#undef X

#define X(S, T, W) BINARY_LOOP(fdiv_##S, T, T, floordiv_##S(x, y)) BINARY_LOOP(rem_##S, T, T, mod_##S(x, y))
INTS(X) FLOATS(X)
#undef X

#define X(S, T, W) BINARY_LOOP(pow_##S, T, T, ipow_##S(x, y, err))
INTS(X)
#undef X
BINARY_LOOP(pow_f32, float, float, powf(x, y))
BINARY_LOOP(pow_f64, double, double, pow(x, y))

#define X(S, T, W) BINARY_LOOP(max_##S, T, T, x > y ? x : y) BINARY_LOOP(min_##S, T, T, x < y ? x : y)
INTS(X)
#undef X
#define X(S, T, W) BINARY_LOOP(max_##S, T, T, FMAX(x, y)) BINARY_LOOP(min_##S, T, T, FMIN(x, y))
FLOATS(X)
#undef X
BINARY_LOOP(max_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(min_b, lp_bool_t, lp_bool_t, x & y)

#define X(S, T, W) BINARY_LOOP(and_##S, T, T, x & y) BINARY_LOOP(or_##S, T, T, x | y) \
                   BINARY_LOOP(xor_##S, T, T, x ^ y) UNARY_LOOP(inv_##S, T, T, (T)~x)
INTS(X)
#undef X
BINARY_LOOP(and_b, lp_bool_t, lp_bool_t, x & y)
BINARY_LOOP(or_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(xor_b, lp_bool_t, lp_bool_t, x ^ y)
UNARY_LOOP(inv_b, lp_bool_t, lp_bool_t, !x)
UNARY_LOOP(lnot_b, lp_bool_t, lp_bool_t, !x)

/* shifts as NumPy's npy_lshift/npy_rshift: a count read as unsigned (so negative is huge) of the
 * width or more gives 0, or -1 for a negative x shifted right; left shifts in W (no signed UB) */
#define SHIFT_OK(T, y) ((uint64_t)(y) < 8 * sizeof(T))
#define X(S, T, W) BINARY_LOOP(shl_##S, T, T, SHIFT_OK(T, y) ? (T)((W)x << y) : (T)0)   \
                   BINARY_LOOP(shr_##S, T, T, SHIFT_OK(T, y) ? (T)(x >> y) : x < 0 ? (T)-1 : (T)0)
SINTS(X)
#undef X
#define X(S, T, W) BINARY_LOOP(shl_##S, T, T, SHIFT_OK(T, y) ? (T)((W)x << y) : (T)0)   \
                   BINARY_LOOP(shr_##S, T, T, SHIFT_OK(T, y) ? (T)(x >> y) : (T)0)
UINTS(X)
#undef X

/* comparisons: any dtype in, bool out */
#define ALL_DT(X) X(b, lp_bool_t, lp_bool_t) INTS(X) FLOATS(X)
#define X(S, T, W)                                                                           \
    BINARY_LOOP(eq_##S, T, lp_bool_t, x == y) BINARY_LOOP(ne_##S, T, lp_bool_t, x != y)      \
    BINARY_LOOP(lt_##S, T, lp_bool_t, x < y) BINARY_LOOP(le_##S, T, lp_bool_t, x <= y)       \
    BINARY_LOOP(gt_##S, T, lp_bool_t, x > y) BINARY_LOOP(ge_##S, T, lp_bool_t, x >= y)
ALL_DT(X)
#undef X

/* unary arithmetic; sbit: the sign bit (never set for unsigned types) */
#define X(S, T, W) UNARY_LOOP(neg_##S, T, T, (T)(0 - (W)x)) UNARY_LOOP(abs_##S, T, T, x < 0 ? (T)(0 - (W)x) : x) \
                   UNARY_LOOP(sign_##S, T, T, (T)((x > 0) - (x < 0))) UNARY_LOOP(sbit_##S, T, lp_bool_t, x < 0)
SINTS(X)
#undef X
#define X(S, T, W) UNARY_LOOP(neg_##S, T, T, (T)(0 - (W)x)) UNARY_LOOP(abs_##S, T, T, x) \
                   UNARY_LOOP(sign_##S, T, T, (T)(x > 0)) UNARY_LOOP(sbit_##S, T, lp_bool_t, 0 * x)
UINTS(X)
#undef X
UNARY_LOOP(neg_f32, float, float, -x)
UNARY_LOOP(neg_f64, double, double, -x)
UNARY_LOOP(abs_f32, float, float, fabsf(x))
UNARY_LOOP(abs_f64, double, double, fabs(x))
UNARY_LOOP(abs_b, lp_bool_t, lp_bool_t, x)

UNARY_LOOP(sqrt_f32, float, float, sqrtf(x))
UNARY_LOOP(sqrt_f64, double, double, sqrt(x))
/* exp log sin cos tanh: vector math (kernels/vmath.c) */

/* predicates: bool out; integers are never NaN or infinite */
#define X(S, T, W) UNARY_LOOP(isnan_##S, T, lp_bool_t, 0 * x) UNARY_LOOP(isinf_##S, T, lp_bool_t, 0 * x) \
                   UNARY_LOOP(isfin_##S, T, lp_bool_t, 1 + 0 * x)
X(b, lp_bool_t, lp_bool_t) INTS(X)
#undef X
UNARY_LOOP(sbit_b, lp_bool_t, lp_bool_t, 0 * x)
#define X(S, T, W) UNARY_LOOP(isnan_##S, T, lp_bool_t, isnan(x) != 0) UNARY_LOOP(isinf_##S, T, lp_bool_t, isinf(x) != 0) \
                   UNARY_LOOP(isfin_##S, T, lp_bool_t, isfinite(x) != 0) UNARY_LOOP(sbit_##S, T, lp_bool_t, signbit(x) != 0)
FLOATS(X)
#undef X

/* floor ceil trunc: integers and bools are their own value */
#define X(S, T, W) UNARY_LOOP(id_##S, T, T, x)
X(b, lp_bool_t, lp_bool_t) INTS(X)
#undef X
UNARY_LOOP(floor_f32, float, float, floorf(x))
UNARY_LOOP(floor_f64, double, double, floor(x))
UNARY_LOOP(ceil_f32, float, float, ceilf(x))
UNARY_LOOP(ceil_f64, double, double, ceil(x))
UNARY_LOOP(trunc_f32, float, float, truncf(x))
UNARY_LOOP(trunc_f64, double, double, trunc(x))
UNARY_LOOP(rint_f32, float, float, rintf(x))
UNARY_LOOP(rint_f64, double, double, rint(x))

/* sign: -1, 0, 1; NaN stays NaN (NumPy: x > 0 ? 1 : x < 0 ? -1 : x == 0 ? 0 : x) */
#define X(S, T, W) UNARY_LOOP(sign_##S, T, T, x > 0 ? (T)1 : x < 0 ? (T)-1 : x == 0 ? (T)0 : x)
FLOATS(X)
#undef X
/* integer reciprocal: NumPy computes 1.0 / x and converts (1 / 0 gives INT_MIN, as x86 does) */
#define X(S, T, W) UNARY_LOOP(square_##S, T, T, (T)((W)x * (W)x)) UNARY_LOOP(recip_##S, T, T, F2_##S(1.0 / (double)x))
INTS(X)
#undef X
#define X(S, T, W) UNARY_LOOP(square_##S, T, T, x * x) UNARY_LOOP(recip_##S, T, T, (T)1 / x)
FLOATS(X)
#undef X

/* fmax fmin: NaN ignored; fmod: the sign of the dividend (C's), x fmod 0 == 0 for integers */
#define X(S, T, W) BINARY_LOOP(fmax_##S, T, T, x > y ? x : y) BINARY_LOOP(fmin_##S, T, T, x < y ? x : y) \
                   BINARY_LOOP(fmod_##S, T, T, (y == 0 || y == (T)-1) ? (T)0 : (T)(x % y))
SINTS(X)
#undef X
#define X(S, T, W) BINARY_LOOP(fmax_##S, T, T, x > y ? x : y) BINARY_LOOP(fmin_##S, T, T, x < y ? x : y) \
                   BINARY_LOOP(fmod_##S, T, T, y == 0 ? (T)0 : (T)(x % y))
UINTS(X)
#undef X
BINARY_LOOP(fmax_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(fmin_b, lp_bool_t, lp_bool_t, x & y)
#define X(S, T, W) BINARY_LOOP(fmax_##S, T, T, FMAXNUM(x, y)) BINARY_LOOP(fmin_##S, T, T, FMINNUM(x, y))
FLOATS(X)
#undef X
/* for float16 (via float32, exact) */
BINARY_LOOP(fmaxh_f32, float, float, FMAXH(x, y))
BINARY_LOOP(fminh_f32, float, float, FMINH(x, y))

/* float math through libm (glibc: within 1-2 ULP of the correctly rounded value) */
#define MATH1(NAME, F32, F64) UNARY_LOOP(NAME##_f32, float, float, F32(x)) UNARY_LOOP(NAME##_f64, double, double, F64(x))
#define MATH2(NAME, F32, F64) \
    BINARY_LOOP(NAME##_f32, float, float, F32(x, y)) BINARY_LOOP(NAME##_f64, double, double, F64(x, y))
MATH2(fmod, fmodf, fmod)
MATH2(atan2, atan2f, atan2)
MATH2(hypot, hypotf, hypot)
MATH2(copysign, copysignf, copysign)
MATH2(nextafter, nextafterf, nextafter)
#undef MATH2
MATH1(log1p, log1pf, log1p)
MATH1(log2, log2f, log2)
MATH1(log10, log10f, log10)
MATH1(expm1, expm1f, expm1)
MATH1(exp2, exp2f, exp2)
MATH1(tan, tanf, tan)
MATH1(asin, asinf, asin)
MATH1(acos, acosf, acos)
MATH1(atan, atanf, atan)
MATH1(sinh, sinhf, sinh)
MATH1(cosh, coshf, cosh)
MATH1(asinh, asinhf, asinh)
MATH1(acosh, acoshf, acosh)
MATH1(atanh, atanhf, atanh)
MATH1(cbrt, cbrtf, cbrt)
#undef MATH1
UNARY_LOOP(d2r_f32, float, float, x * (float)(3.141592653589793238462643383279502884 / 180.0))
UNARY_LOOP(d2r_f64, double, double, x * (3.141592653589793238462643383279502884 / 180.0))
UNARY_LOOP(r2d_f32, float, float, x * (float)(180.0 / 3.141592653589793238462643383279502884))
UNARY_LOOP(r2d_f64, double, double, x * (180.0 / 3.141592653589793238462643383279502884))
/* NumPy's npy_logaddexp: exact for equal arguments (also infinities), else the larger plus
 * log1p(exp(-|x - y|)); NaN propagates */
#define LOGADDEXP(T, LOG1P, EXP, LN2)                                                        \
    static inline T logaddexp_##T(T x, T y) {                                                 \
        if (x == y) return x + (T)LN2;                                                        \
        T t = x - y;                                                                          \
        if (t > 0) return x + LOG1P(EXP(-t));                                                 \
        if (t <= 0) return y + LOG1P(EXP(t));                                                 \
        return t;                                                                             \
    }
LOGADDEXP(float, log1pf, expf, 0.693147180559945309417232121458176568f)
LOGADDEXP(double, log1p, exp, 0.693147180559945309417232121458176568)
BINARY_LOOP(logaddexp_f32, float, float, logaddexp_float(x, y))
BINARY_LOOP(logaddexp_f64, double, double, logaddexp_double(x, y))
#define exp_f32 lpi_vmath_exp_s
#define exp_f64 lpi_vmath_exp_d
#define log_f32 lpi_vmath_log_s
#define log_f64 lpi_vmath_log_d
#define sin_f32 lpi_vmath_sin_s
#define sin_f64 lpi_vmath_sin_d
#define cos_f32 lpi_vmath_cos_s
#define cos_f64 lpi_vmath_cos_d
#define tanh_f32 lpi_vmath_tanh_s
#define tanh_f64 lpi_vmath_tanh_d

static inline int64_t allnan_check(int64_t x, int *err) {
    if (x < 0) *err = LPI_LOOP_ERR_ALL_NAN;
    return x;
}
UNARY_LOOP(allnan_i64, int64_t, int64_t, allnan_check(x, err))

/* where(cond, a, b): cond is bool; a loop per item size serves every dtype of that size */
#define WHERE_LOOP(S, T)                                                                     \
    LPI_CLONES static void where_##S(char **args, int64_t n, const int64_t *steps, int *err) {          \
        (void)err;                                                                          \
        char *c_ = args[0], *a_ = args[1], *b_ = args[2], *o_ = args[3];                    \
        if (steps[0] == 1 && steps[1] == (int64_t)sizeof(T) && steps[2] == (int64_t)sizeof(T) \
            && steps[3] == (int64_t)sizeof(T)) {                                            \
            const lp_bool_t *restrict pc = (const lp_bool_t *)c_;                           \
            const T *restrict pa = (const T *)a_, *restrict pb = (const T *)b_;             \
            T *restrict po = (T *)o_;                                                       \
            for (int64_t i = 0; i < n; i++) po[i] = pc[i] ? pa[i] : pb[i];                  \
            return;                                                                         \
        }                                                                                   \
        for (int64_t i = 0; i < n; i++, c_ += steps[0], a_ += steps[1], b_ += steps[2], o_ += steps[3]) \
            memcpy(o_, *(const lp_bool_t *)c_ ? a_ : b_, sizeof(T));                        \
    }
WHERE_LOOP(1, uint8_t)
WHERE_LOOP(2, uint16_t)
WHERE_LOOP(4, uint32_t)
WHERE_LOOP(8, uint64_t)
WHERE_LOOP(16, double _Complex)

/* ---- float16: blocks converted to float32, the float32 loop, each result rounded back --- */

enum { F16_BLOCK = 256 };
static void via_f32(lpi_loop_fn f, int nin, bool out_f16, char **args, int64_t n, const int64_t *steps, int *err) {
    float buf[4][F16_BLOCK];
    char *a2[4];
    int64_t s2[4];
    for (int64_t b0 = 0; b0 < n; b0 += F16_BLOCK) {
        const int64_t m = n - b0 < F16_BLOCK ? n - b0 : F16_BLOCK;
        for (int k = 0; k < nin; k++) {
            const char *src = args[k] + b0 * steps[k];
            if (steps[k] == 0) buf[k][0] = lpi_h2f(*(const uint16_t *)src);
            else for (int64_t i = 0; i < m; i++) buf[k][i] = lpi_h2f(*(const uint16_t *)(src + i * steps[k]));
            a2[k] = (char *)buf[k];
            s2[k] = steps[k] ? 4 : 0;
        }
        a2[nin] = out_f16 ? (char *)buf[nin] : args[nin] + b0 * steps[nin];
        s2[nin] = out_f16 ? 4 : steps[nin];
        f(a2, m, s2, err);
        if (out_f16) {
            char *dst = args[nin] + b0 * steps[nin];
            for (int64_t i = 0; i < m; i++) *(uint16_t *)(dst + i * steps[nin]) = lpi_d2h(buf[nin][i]);
        }
    }
}
/* X(name, nin, result is float16) over the ops with a float32 loop */
#define F16_OPS(X)                                                                                                \
    X(add, 2, 1) X(sub, 2, 1) X(mul, 2, 1) X(div, 2, 1) X(fdiv, 2, 1) X(rem, 2, 1) X(pow, 2, 1) X(max, 2, 1)     \
    X(min, 2, 1) X(eq, 2, 0) X(ne, 2, 0) X(lt, 2, 0) X(le, 2, 0) X(gt, 2, 0) X(ge, 2, 0) X(neg, 1, 1)           \
    X(abs, 1, 1) X(sqrt, 1, 1) X(exp, 1, 1) X(log, 1, 1) X(sin, 1, 1) X(cos, 1, 1) X(tanh, 1, 1)               \
    X(isnan, 1, 0) X(isinf, 1, 0) X(isfin, 1, 0) X(sbit, 1, 0) X(floor, 1, 1) X(ceil, 1, 1) X(trunc, 1, 1)     \
    X(sign, 1, 1) X(square, 1, 1) X(recip, 1, 1) X(fmod, 2, 1) X(rint, 1, 1)       \
    X(log1p, 1, 1) X(log2, 1, 1) X(log10, 1, 1) X(expm1, 1, 1) X(exp2, 1, 1) X(tan, 1, 1) X(asin, 1, 1)        \
    X(acos, 1, 1) X(atan, 1, 1) X(sinh, 1, 1) X(cosh, 1, 1) X(asinh, 1, 1) X(acosh, 1, 1) X(atanh, 1, 1)       \
    X(cbrt, 1, 1) X(d2r, 1, 1) X(r2d, 1, 1) X(atan2, 2, 1) X(hypot, 2, 1) X(copysign, 2, 1) X(logaddexp, 2, 1)
#define X(NAME, NIN, OUTF)                                                                   \
    static void NAME##_f16(char **args, int64_t n, const int64_t *steps, int *err) {        \
        via_f32(NAME##_f32, NIN, OUTF, args, n, steps, err);                                \
    }
F16_OPS(X)
#undef X
/* fmax/fmin: NumPy's half loops keep the first of equal zeros (FMAXH) */
static void fmax_f16(char **args, int64_t n, const int64_t *steps, int *err) {
    via_f32(fmaxh_f32, 2, true, args, n, steps, err);
}
static void fmin_f16(char **args, int64_t n, const int64_t *steps, int *err) {
    via_f32(fminh_f32, 2, true, args, n, steps, err);
}

/* nextafter in float16 steps, on the bits (a float32 step would round back to x): NaN in,
 * NaN out; equal values give x; from a zero the smallest subnormal with y's sign; otherwise
 * the magnitude bits move one unit towards y */
static inline uint16_t nextafter_h(uint16_t x, uint16_t y) {
    float fx = lpi_h2f(x), fy = lpi_h2f(y);
    if (fx != fx || fy != fy) return 0x7E00u;
    if (fx == fy) return x;
    if (fx == 0) return (uint16_t)((y & 0x8000u) | 1u);
    bool away = (fy > fx) == !(x & 0x8000u); /* towards larger magnitude */
    return (uint16_t)(away ? x + 1 : x - 1);
}
BINARY_LOOP(nextafter_f16, uint16_t, uint16_t, nextafter_h(x, y))

/* ---- casts: every pair; a source is read as itself (integers, bool) or as a double (floats) */
#define SRC_DT(X)                                                                            \
    X(b, lp_bool_t, I) X(i8, int8_t, I) X(i16, int16_t, I) X(i32, int32_t, I) X(i64, int64_t, I) \
    X(u8, uint8_t, I) X(u16, uint16_t, I) X(u32, uint32_t, I) X(u64, uint64_t, I)              \
    X(f16, uint16_t, H) X(f32, float, F) X(f64, double, F) X(c64, float _Complex, C) X(c128, double _Complex, C)
#define CAST_TO(X, FS, FT, FK)                                                               \
    X(FS, FT, FK, b, lp_bool_t) X(FS, FT, FK, i8, int8_t) X(FS, FT, FK, i16, int16_t)          \
    X(FS, FT, FK, i32, int32_t) X(FS, FT, FK, i64, int64_t) X(FS, FT, FK, u8, uint8_t)         \
    X(FS, FT, FK, u16, uint16_t) X(FS, FT, FK, u32, uint32_t) X(FS, FT, FK, u64, uint64_t)     \
    X(FS, FT, FK, f16, uint16_t) X(FS, FT, FK, f32, float) X(FS, FT, FK, f64, double)           \
    X(FS, FT, FK, c64, float _Complex) X(FS, FT, FK, c128, double _Complex)
#define CAST_EXPR_I(TS, x) I2_##TS(x)
#define CAST_EXPR_F(TS, x) F2_##TS((double)(x))
#define CAST_EXPR_H(TS, x) F2_##TS((double)lpi_h2f(x))
/* from complex: to complex keeps both parts; to bool tests both (NumPy's nonzero); to a real
 * type the real part, the imaginary part discarded (NumPy's ComplexWarning cast) */
#define CAST_EXPR_C(TS, x) C2_##TS(x)
#define C2_b(x) ((x) != 0)
#define C2_c64(x) ((float _Complex)(x))
#define C2_c128(x) ((double _Complex)(x))
#define C2_i8(x) F2_i8(__real__(x))
#define C2_i16(x) F2_i16(__real__(x))
#define C2_i32(x) F2_i32(__real__(x))
#define C2_i64(x) F2_i64(__real__(x))
#define C2_u8(x) F2_u8(__real__(x))
#define C2_u16(x) F2_u16(__real__(x))
#define C2_u32(x) F2_u32(__real__(x))
#define C2_u64(x) F2_u64(__real__(x))
#define C2_f16(x) F2_f16((double)__real__(x))
#define C2_f32(x) F2_f32(__real__(x))
#define C2_f64(x) F2_f64(__real__(x))
#define DEF_CAST(FS, FT, FK, TS, TT) UNARY_LOOP(cast_##FS##_##TS, FT, TT, CAST_EXPR_##FK(TS, x))
#define DEF_CASTS_FROM(FS, FT, FK) CAST_TO(DEF_CAST, FS, FT, FK)
SRC_DT(DEF_CASTS_FROM)

/* ---- tables ------------------------------------------------------------------------------ */

#define ICOLS(N) [LP_INT8] = N##_i8, [LP_INT16] = N##_i16, [LP_INT32] = N##_i32, [LP_INT64] = N##_i64,        \
                 [LP_UINT8] = N##_u8, [LP_UINT16] = N##_u16, [LP_UINT32] = N##_u32, [LP_UINT64] = N##_u64
#define FCOLS(N) [LP_FLOAT16] = N##_f16, [LP_FLOAT32] = N##_f32, [LP_FLOAT64] = N##_f64
#define BCOL(N) [LP_BOOL] = N##_b
#define CCOLS(N) [LP_COMPLEX64] = lpi_c##N##_c64, [LP_COMPLEX128] = lpi_c##N##_c128
const lpi_loop_fn lpi_loops[LPI_OP_COUNT][LP_DTYPE_COUNT] = {
    [LPI_OP_ADD] = {BCOL(add), ICOLS(add), FCOLS(add), CCOLS(add)},
    [LPI_OP_SUBTRACT] = {ICOLS(sub), FCOLS(sub), CCOLS(sub)},
    [LPI_OP_MULTIPLY] = {BCOL(mul), ICOLS(mul), FCOLS(mul), CCOLS(mul)},
    [LPI_OP_DIVIDE] = {FCOLS(div), CCOLS(div)},
    [LPI_OP_FLOOR_DIVIDE] = {ICOLS(fdiv), FCOLS(fdiv)},
    [LPI_OP_REMAINDER] = {ICOLS(rem), FCOLS(rem)},
    [LPI_OP_POWER] = {ICOLS(pow), FCOLS(pow), CCOLS(pow)},
    [LPI_OP_MAXIMUM] = {BCOL(max), ICOLS(max), FCOLS(max), CCOLS(max)},
    [LPI_OP_MINIMUM] = {BCOL(min), ICOLS(min), FCOLS(min), CCOLS(min)},
    [LPI_OP_EQUAL] = {BCOL(eq), ICOLS(eq), FCOLS(eq), CCOLS(eq)},
    [LPI_OP_NOT_EQUAL] = {BCOL(ne), ICOLS(ne), FCOLS(ne), CCOLS(ne)},
    [LPI_OP_LESS] = {BCOL(lt), ICOLS(lt), FCOLS(lt), CCOLS(lt)},
    [LPI_OP_LESS_EQUAL] = {BCOL(le), ICOLS(le), FCOLS(le), CCOLS(le)},
    [LPI_OP_GREATER] = {BCOL(gt), ICOLS(gt), FCOLS(gt), CCOLS(gt)},
    [LPI_OP_GREATER_EQUAL] = {BCOL(ge), ICOLS(ge), FCOLS(ge), CCOLS(ge)},
    [LPI_OP_LOGICAL_AND] = {BCOL(and)},
    [LPI_OP_LOGICAL_OR] = {BCOL(or)},
    [LPI_OP_LOGICAL_XOR] = {BCOL(xor)},
    [LPI_OP_LOGICAL_NOT] = {BCOL(lnot)},
    [LPI_OP_BITWISE_AND] = {BCOL(and), ICOLS(and)},
    [LPI_OP_BITWISE_OR] = {BCOL(or), ICOLS(or)},
    [LPI_OP_BITWISE_XOR] = {BCOL(xor), ICOLS(xor)},
    [LPI_OP_INVERT] = {BCOL(inv), ICOLS(inv)},
    [LPI_OP_LEFT_SHIFT] = {ICOLS(shl)},
    [LPI_OP_RIGHT_SHIFT] = {ICOLS(shr)},
    [LPI_OP_NEGATIVE] = {ICOLS(neg), FCOLS(neg), CCOLS(neg)},
    [LPI_OP_ABS] = {BCOL(abs), ICOLS(abs), FCOLS(abs), CCOLS(abs)},
    [LPI_OP_SQRT] = {FCOLS(sqrt), CCOLS(sqrt)},
    [LPI_OP_EXP] = {FCOLS(exp), CCOLS(exp)},
    [LPI_OP_LOG] = {FCOLS(log), CCOLS(log)},
    [LPI_OP_SIN] = {FCOLS(sin), CCOLS(sin)},
    [LPI_OP_COS] = {FCOLS(cos), CCOLS(cos)},
    [LPI_OP_TANH] = {FCOLS(tanh), CCOLS(tanh)},
    [LPI_OP_WHERE] = {[LP_BOOL] = where_1, [LP_INT8] = where_1, [LP_UINT8] = where_1, [LP_INT16] = where_2,
                      [LP_UINT16] = where_2, [LP_FLOAT16] = where_2, [LP_INT32] = where_4, [LP_UINT32] = where_4,
                      [LP_FLOAT32] = where_4, [LP_INT64] = where_8, [LP_UINT64] = where_8, [LP_FLOAT64] = where_8,
                      [LP_COMPLEX64] = where_8, [LP_COMPLEX128] = where_16},
    [LPI_OP_ISNAN] = {BCOL(isnan), ICOLS(isnan), FCOLS(isnan), CCOLS(isnan)},
    [LPI_OP_ISINF] = {BCOL(isinf), ICOLS(isinf), FCOLS(isinf), CCOLS(isinf)},
    [LPI_OP_ISFINITE] = {BCOL(isfin), ICOLS(isfin), FCOLS(isfin), CCOLS(isfin)},
    [LPI_OP_SIGNBIT] = {BCOL(sbit), ICOLS(sbit), FCOLS(sbit)},
    [LPI_OP_FLOOR] = {BCOL(id), ICOLS(id), FCOLS(floor)},
    [LPI_OP_CEIL] = {BCOL(id), ICOLS(id), FCOLS(ceil)},
    [LPI_OP_TRUNC] = {BCOL(id), ICOLS(id), FCOLS(trunc)},
    [LPI_OP_SIGN] = {ICOLS(sign), FCOLS(sign), CCOLS(sign)},
    [LPI_OP_SQUARE] = {ICOLS(square), FCOLS(square), CCOLS(square)},
    [LPI_OP_RECIPROCAL] = {ICOLS(recip), FCOLS(recip), CCOLS(recip)},
    [LPI_OP_FMAX] = {BCOL(fmax), ICOLS(fmax), FCOLS(fmax), CCOLS(fmax)},
    [LPI_OP_FMIN] = {BCOL(fmin), ICOLS(fmin), FCOLS(fmin), CCOLS(fmin)},
    [LPI_OP_FMOD] = {ICOLS(fmod), FCOLS(fmod)},
    [LPI_OP_RINT] = {FCOLS(rint), CCOLS(rint)},
    [LPI_OP_LOG1P] = {FCOLS(log1p), CCOLS(log1p)},
    [LPI_OP_LOG2] = {FCOLS(log2), CCOLS(log2)},
    [LPI_OP_LOG10] = {FCOLS(log10), CCOLS(log10)},
    [LPI_OP_EXPM1] = {FCOLS(expm1), CCOLS(expm1)},
    [LPI_OP_EXP2] = {FCOLS(exp2), CCOLS(exp2)},
    [LPI_OP_TAN] = {FCOLS(tan), CCOLS(tan)},
    [LPI_OP_ARCSIN] = {FCOLS(asin), CCOLS(asin)},
    [LPI_OP_ARCCOS] = {FCOLS(acos), CCOLS(acos)},
    [LPI_OP_ARCTAN] = {FCOLS(atan), CCOLS(atan)},
    [LPI_OP_SINH] = {FCOLS(sinh), CCOLS(sinh)},
    [LPI_OP_COSH] = {FCOLS(cosh), CCOLS(cosh)},
    [LPI_OP_ARCSINH] = {FCOLS(asinh), CCOLS(asinh)},
    [LPI_OP_ARCCOSH] = {FCOLS(acosh), CCOLS(acosh)},
    [LPI_OP_ARCTANH] = {FCOLS(atanh), CCOLS(atanh)},
    [LPI_OP_CBRT] = {FCOLS(cbrt)},
    [LPI_OP_DEG2RAD] = {FCOLS(d2r)},
    [LPI_OP_RAD2DEG] = {FCOLS(r2d)},
    [LPI_OP_ARCTAN2] = {FCOLS(atan2)},
    [LPI_OP_HYPOT] = {FCOLS(hypot)},
    [LPI_OP_COPYSIGN] = {FCOLS(copysign)},
    [LPI_OP_LOGADDEXP] = {FCOLS(logaddexp)},
    [LPI_OP_NEXTAFTER] = {FCOLS(nextafter)},
    [LPI_OP_ALLNAN_CHECK] = {[LP_INT64] = allnan_i64},
    [LPI_OP_CONJ] = {CCOLS(conj)},
    [LPI_OP_REAL] = {CCOLS(real)},
    [LPI_OP_IMAG] = {CCOLS(imag)},
    /* make_complex's loop dtype is its parts' */
    [LPI_OP_MAKE_COMPLEX] = {[LP_FLOAT32] = lpi_cmkc_c64, [LP_FLOAT64] = lpi_cmkc_c128},
};

#define CAST_ROW(FS) {[LP_BOOL] = cast_##FS##_b, ICOLS(cast_##FS), FCOLS(cast_##FS), \
                      [LP_COMPLEX64] = cast_##FS##_c64, [LP_COMPLEX128] = cast_##FS##_c128}
const lpi_loop_fn lpi_cast_loops[LP_DTYPE_COUNT][LP_DTYPE_COUNT] = {
    [LP_BOOL] = CAST_ROW(b), [LP_INT8] = CAST_ROW(i8), [LP_INT16] = CAST_ROW(i16), [LP_INT32] = CAST_ROW(i32),
    [LP_INT64] = CAST_ROW(i64), [LP_UINT8] = CAST_ROW(u8), [LP_UINT16] = CAST_ROW(u16), [LP_UINT32] = CAST_ROW(u32),
    [LP_UINT64] = CAST_ROW(u64), [LP_FLOAT16] = CAST_ROW(f16), [LP_FLOAT32] = CAST_ROW(f32),
    [LP_FLOAT64] = CAST_ROW(f64), [LP_COMPLEX64] = CAST_ROW(c64), [LP_COMPLEX128] = CAST_ROW(c128),
};

lp_dtype lpi_loop_out_dtype(lpi_op op, lp_dtype loop_dt) {
    switch (op) {
    case LPI_OP_EQUAL: case LPI_OP_NOT_EQUAL: case LPI_OP_LESS: case LPI_OP_LESS_EQUAL:
    case LPI_OP_GREATER: case LPI_OP_GREATER_EQUAL: case LPI_OP_LOGICAL_AND: case LPI_OP_LOGICAL_OR:
    case LPI_OP_LOGICAL_XOR: case LPI_OP_LOGICAL_NOT: case LPI_OP_ISNAN: case LPI_OP_ISINF: case LPI_OP_ISFINITE:
    case LPI_OP_SIGNBIT:
        return LP_BOOL;
    case LPI_OP_ABS: case LPI_OP_REAL: case LPI_OP_IMAG: return lpi_dtype_real(loop_dt);
    case LPI_OP_MAKE_COMPLEX: return loop_dt == LP_FLOAT32 ? LP_COMPLEX64 : LP_COMPLEX128;
    default: return loop_dt;
    }
}

const char *lpi_loop_errstr(int err) {
    switch (err) {
    case LPI_LOOP_ERR_NEG_POWER: return "Integers to negative integer powers are not allowed.";
    case LPI_LOOP_ERR_ALL_NAN: return "All-NaN slice encountered";
    default: return "elementwise loop failed";
    }
}
