/* Elementwise loops for every (op, dtype), generated with X-macros. Each loop has a contiguous
 * fast path (what GCC vectorizes at -O3), broadcast-scalar fast paths, and a strided fallback.
 * Integer semantics follow NumPy exactly: wrapping arithmetic (done in unsigned to avoid C's
 * undefined overflow), x // 0 == x % 0 == 0, floor rounding toward -inf. */
#include "kernels/loops.h"
#include "kernels/vmath.h"

#include <math.h>

typedef uint8_t lp_bool_t;

/* ---- scalar semantics ---------------------------------------------------------------- */

#define DEF_INT_HELPERS(T, U, SUF)                                                              \
    static inline T floordiv_##SUF(T a, T b) {                                              \
        if (b == 0) return 0;                                                               \
        if (b == -1) return (T)(0 - (U)a); /* INT_MIN // -1 wraps as in NumPy */            \
        T q = a / b;                                                                        \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q--;                                      \
        return q;                                                                           \
    }                                                                                       \
    static inline T mod_##SUF(T a, T b) {                                                   \
        if (b == 0 || b == -1) return 0;                                                    \
        T r = a % b;                                                                        \
        if (r != 0 && ((r < 0) != (b < 0))) r += b;                                         \
        return r;                                                                           \
    }                                                                                       \
    static inline T ipow_##SUF(T a, T b, int *err) {                                        \
        if (b < 0) { *err = LPI_LOOP_ERR_NEG_POWER; return 0; }                             \
        U r = 1, x = (U)a;                                                                  \
        while (b) { if (b & 1) r *= x; x *= x; b >>= 1; }                                   \
        return (T)r;                                                                        \
    }
DEF_INT_HELPERS(int32_t, uint32_t, i32)
DEF_INT_HELPERS(int64_t, uint64_t, i64)

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

/* ---- loop generators -------------------------------------------------------------------- */

/* The portable build targets baseline x86-64 (SSE2: two doubles per instruction). GCC's function
 * multiversioning compiles each loop for AVX-512 and AVX2 too and picks the best at load time.
 * Results are the same bits on every path: these are IEEE operations without contraction
 * (-ffp-contract=off) and libm calls. Sanitizer builds use the default path: their runtimes are
 * not initialised yet when the loader runs the IFUNC resolvers. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__) && \
    !defined(LP_NATIVE)
#define LPI_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LPI_CLONES
#endif

#define BINARY_LOOP(NAME, TI, TO, EXPR)                                                       \
    LPI_CLONES static void NAME(char **args, int64_t n, const int64_t *steps, int *err) {                 \
        (void)err;                                                                          \
        char *a_ = args[0], *b_ = args[1], *o_ = args[2];                                   \
        const int64_t sa = steps[0], sb = steps[1], so = steps[2];                          \
        if (so == (int64_t)sizeof(TO)) {                                                    \
            TO *restrict po = (TO *)o_;                                                     \
            if (sa == (int64_t)sizeof(TI) && sb == (int64_t)sizeof(TI)) {                   \
                const TI *restrict pa = (const TI *)a_, *restrict pb = (const TI *)b_;      \
                for (int64_t i = 0; i < n; i++) { TI x = pa[i], y = pb[i]; po[i] = (TO)(EXPR); } \
                return;                                                                     \
            }                                                                               \
            if (sa == 0 && sb == (int64_t)sizeof(TI)) {                                     \
                const TI x = *(const TI *)a_; const TI *restrict pb = (const TI *)b_;       \
                for (int64_t i = 0; i < n; i++) { TI y = pb[i]; po[i] = (TO)(EXPR); }      \
                return;                                                                     \
            }                                                                               \
            if (sa == (int64_t)sizeof(TI) && sb == 0) {                                     \
                const TI *restrict pa = (const TI *)a_; const TI y = *(const TI *)b_;       \
                for (int64_t i = 0; i < n; i++) { TI x = pa[i]; po[i] = (TO)(EXPR); }      \
                return;                                                                     \
            }                                                                               \
        }                                                                                   \
        for (int64_t i = 0; i < n; i++, a_ += sa, b_ += sb, o_ += so) {                     \
            TI x = *(const TI *)a_, y = *(const TI *)b_;                                    \
            *(TO *)o_ = (TO)(EXPR);                                                         \
        }                                                                                   \
    }

#define UNARY_LOOP(NAME, TI, TO, EXPR)                                                        \
    LPI_CLONES static void NAME(char **args, int64_t n, const int64_t *steps, int *err) {                 \
        (void)err;                                                                          \
        char *a_ = args[0], *o_ = args[1];                                                  \
        const int64_t sa = steps[0], so = steps[1];                                         \
        if (sa == (int64_t)sizeof(TI) && so == (int64_t)sizeof(TO)) {                       \
            const TI *restrict pa = (const TI *)a_; TO *restrict po = (TO *)o_;             \
            for (int64_t i = 0; i < n; i++) { TI x = pa[i]; po[i] = (TO)(EXPR); }          \
            return;                                                                         \
        }                                                                                   \
        for (int64_t i = 0; i < n; i++, a_ += sa, o_ += so) {                               \
            TI x = *(const TI *)a_;                                                         \
            *(TO *)o_ = (TO)(EXPR);                                                         \
        }                                                                                   \
    }

/* ---- the ops ---------------------------------------------------------------------------- */
/* Each list: X(SUFFIX, C type, unsigned type) over the dtypes an op supports. */
#define INTS(X) X(i32, int32_t, uint32_t) X(i64, int64_t, uint64_t)
#define FLOATS(X) X(f32, float, float) X(f64, double, double)

/* arithmetic, same type in and out */
#define X(S, T, U) BINARY_LOOP(add_##S, T, T, (T)((U)x + (U)y))
INTS(X)
#undef X
#define X(S, T, U) BINARY_LOOP(add_##S, T, T, x + y)
FLOATS(X)
#undef X
BINARY_LOOP(add_b, lp_bool_t, lp_bool_t, x | y)

#define X(S, T, U) BINARY_LOOP(sub_##S, T, T, (T)((U)x - (U)y))
INTS(X)
#undef X
#define X(S, T, U) BINARY_LOOP(sub_##S, T, T, x - y)
FLOATS(X)
#undef X

#define X(S, T, U) BINARY_LOOP(mul_##S, T, T, (T)((U)x * (U)y))
INTS(X)
#undef X
#define X(S, T, U) BINARY_LOOP(mul_##S, T, T, x * y)
FLOATS(X)
#undef X
BINARY_LOOP(mul_b, lp_bool_t, lp_bool_t, x & y)

#define X(S, T, U) BINARY_LOOP(div_##S, T, T, x / y)
FLOATS(X)
#undef X

#define X(S, T, U) BINARY_LOOP(fdiv_##S, T, T, floordiv_##S(x, y))
INTS(X) FLOATS(X)
#undef X
#define X(S, T, U) BINARY_LOOP(rem_##S, T, T, mod_##S(x, y))
INTS(X) FLOATS(X)
#undef X

#define X(S, T, U) BINARY_LOOP(pow_##S, T, T, ipow_##S(x, y, err))
INTS(X)
#undef X
BINARY_LOOP(pow_f32, float, float, powf(x, y))
BINARY_LOOP(pow_f64, double, double, pow(x, y))

#define X(S, T, U) BINARY_LOOP(max_##S, T, T, x > y ? x : y) BINARY_LOOP(min_##S, T, T, x < y ? x : y)
INTS(X)
#undef X
#define X(S, T, U) BINARY_LOOP(max_##S, T, T, FMAX(x, y)) BINARY_LOOP(min_##S, T, T, FMIN(x, y))
FLOATS(X)
#undef X
BINARY_LOOP(max_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(min_b, lp_bool_t, lp_bool_t, x & y)

#define X(S, T, U) BINARY_LOOP(and_##S, T, T, x & y) BINARY_LOOP(or_##S, T, T, x | y) \
                   BINARY_LOOP(xor_##S, T, T, x ^ y) UNARY_LOOP(inv_##S, T, T, ~x)
INTS(X)
#undef X
BINARY_LOOP(and_b, lp_bool_t, lp_bool_t, x & y)
BINARY_LOOP(or_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(xor_b, lp_bool_t, lp_bool_t, x ^ y)
UNARY_LOOP(inv_b, lp_bool_t, lp_bool_t, !x)
UNARY_LOOP(lnot_b, lp_bool_t, lp_bool_t, !x)

/* comparisons: any dtype in, bool out */
#define ALL_DT(X) X(b, lp_bool_t, lp_bool_t) INTS(X) FLOATS(X)
#define X(S, T, U)                                                                           \
    BINARY_LOOP(eq_##S, T, lp_bool_t, x == y) BINARY_LOOP(ne_##S, T, lp_bool_t, x != y)      \
    BINARY_LOOP(lt_##S, T, lp_bool_t, x < y) BINARY_LOOP(le_##S, T, lp_bool_t, x <= y)       \
    BINARY_LOOP(gt_##S, T, lp_bool_t, x > y) BINARY_LOOP(ge_##S, T, lp_bool_t, x >= y)
ALL_DT(X)
#undef X

/* unary arithmetic */
#define X(S, T, U) UNARY_LOOP(neg_##S, T, T, (T)(0 - (U)x)) UNARY_LOOP(abs_##S, T, T, x < 0 ? (T)(0 - (U)x) : x)
INTS(X)
#undef X
UNARY_LOOP(neg_f32, float, float, -x)
UNARY_LOOP(neg_f64, double, double, -x)
UNARY_LOOP(abs_f32, float, float, fabsf(x))
UNARY_LOOP(abs_f64, double, double, fabs(x))
UNARY_LOOP(abs_b, lp_bool_t, lp_bool_t, x)

UNARY_LOOP(sqrt_f32, float, float, sqrtf(x))
UNARY_LOOP(sqrt_f64, double, double, sqrt(x))
/* exp log sin cos tanh: vector math (kernels/vmath.c) */

/* float -> int out of range (and NaN) gives INT_MIN, as x86's cvtt* does in NumPy (core.h) */
#define F2I32(x) lpi_f2i32(x)
#define F2I64(x) lpi_f2i64(x)

/* predicates: bool out; integers are never NaN or infinite */
#define X(S, T, U) UNARY_LOOP(isnan_##S, T, lp_bool_t, 0 * x) UNARY_LOOP(isinf_##S, T, lp_bool_t, 0 * x) \
                   UNARY_LOOP(isfin_##S, T, lp_bool_t, 1 + 0 * x) UNARY_LOOP(sbit_##S, T, lp_bool_t, x < 0)
INTS(X)
#undef X
UNARY_LOOP(isnan_b, lp_bool_t, lp_bool_t, 0 * x)
UNARY_LOOP(isinf_b, lp_bool_t, lp_bool_t, 0 * x)
UNARY_LOOP(isfin_b, lp_bool_t, lp_bool_t, 1 + 0 * x)
UNARY_LOOP(sbit_b, lp_bool_t, lp_bool_t, 0 * x)
#define X(S, T, U) UNARY_LOOP(isnan_##S, T, lp_bool_t, isnan(x) != 0) UNARY_LOOP(isinf_##S, T, lp_bool_t, isinf(x) != 0) \
                   UNARY_LOOP(isfin_##S, T, lp_bool_t, isfinite(x) != 0) UNARY_LOOP(sbit_##S, T, lp_bool_t, signbit(x) != 0)
FLOATS(X)
#undef X

/* floor ceil trunc: integers and bools are their own value */
#define X(S, T, U) UNARY_LOOP(id_##S, T, T, x)
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
#define X(S, T, U) UNARY_LOOP(sign_##S, T, T, (T)((x > 0) - (x < 0)))
INTS(X)
#undef X
#define X(S, T, U) UNARY_LOOP(sign_##S, T, T, x > 0 ? (T)1 : x < 0 ? (T)-1 : x == 0 ? (T)0 : x)
FLOATS(X)
#undef X
#define X(S, T, U) UNARY_LOOP(square_##S, T, T, (T)((U)x * (U)x))
INTS(X)
#undef X
#define X(S, T, U) UNARY_LOOP(square_##S, T, T, x * x) UNARY_LOOP(recip_##S, T, T, (T)1 / x)
FLOATS(X)
#undef X
/* integer reciprocal: NumPy computes 1.0 / x and converts (1 / 0 gives INT_MIN, as x86 does) */
UNARY_LOOP(recip_i32, int32_t, int32_t, F2I32(1.0 / (double)x))
UNARY_LOOP(recip_i64, int64_t, int64_t, F2I64(1.0 / (double)x))

/* fmax fmin: NaN ignored; fmod: the sign of the dividend (C's), x fmod 0 == 0 for integers */
#define X(S, T, U) BINARY_LOOP(fmax_##S, T, T, x > y ? x : y) BINARY_LOOP(fmin_##S, T, T, x < y ? x : y) \
                   BINARY_LOOP(fmod_##S, T, T, (y == 0 || y == -1) ? 0 : x % y)
INTS(X)
#undef X
BINARY_LOOP(fmax_b, lp_bool_t, lp_bool_t, x | y)
BINARY_LOOP(fmin_b, lp_bool_t, lp_bool_t, x & y)

/* float math through libm (glibc: within 1-2 ULP of the correctly rounded value) */
#define MATH1(NAME, F32, F64) UNARY_LOOP(NAME##_f32, float, float, F32(x)) UNARY_LOOP(NAME##_f64, double, double, F64(x))
#define MATH2(NAME, F32, F64) \
    BINARY_LOOP(NAME##_f32, float, float, F32(x, y)) BINARY_LOOP(NAME##_f64, double, double, F64(x, y))
MATH2(fmax, fmaxf, fmax)
MATH2(fmin, fminf, fmin)
MATH2(fmod, fmodf, fmod)
MATH2(atan2, atan2f, atan2)
MATH2(hypot, hypotf, hypot)
MATH2(copysign, copysignf, copysign)
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

static inline int64_t allnan_check(int64_t x, int *err) {
    if (x < 0) *err = LPI_LOOP_ERR_ALL_NAN;
    return x;
}
UNARY_LOOP(allnan_i64, int64_t, int64_t, allnan_check(x, err))

/* where(cond, a, b): cond is bool */
#define WHERE_LOOP(S, T, U)                                                                  \
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
            *(T *)o_ = *(const lp_bool_t *)c_ ? *(const T *)a_ : *(const T *)b_;            \
    }
ALL_DT(WHERE_LOOP)

/* casts: float -> int out of range (and NaN) gives INT_MIN, as x86's cvtt* does in NumPy */
#define TO_BOOL(x) ((x) != 0)
UNARY_LOOP(cast_b_b, lp_bool_t, lp_bool_t, x)
UNARY_LOOP(cast_b_i32, lp_bool_t, int32_t, x)
UNARY_LOOP(cast_b_i64, lp_bool_t, int64_t, x)
UNARY_LOOP(cast_b_f32, lp_bool_t, float, x)
UNARY_LOOP(cast_b_f64, lp_bool_t, double, x)
UNARY_LOOP(cast_i32_b, int32_t, lp_bool_t, TO_BOOL(x))
UNARY_LOOP(cast_i32_i32, int32_t, int32_t, x)
UNARY_LOOP(cast_i32_i64, int32_t, int64_t, x)
UNARY_LOOP(cast_i32_f32, int32_t, float, x)
UNARY_LOOP(cast_i32_f64, int32_t, double, x)
UNARY_LOOP(cast_i64_b, int64_t, lp_bool_t, TO_BOOL(x))
UNARY_LOOP(cast_i64_i32, int64_t, int32_t, (int32_t)(uint32_t)(uint64_t)x)
UNARY_LOOP(cast_i64_i64, int64_t, int64_t, x)
UNARY_LOOP(cast_i64_f32, int64_t, float, x)
UNARY_LOOP(cast_i64_f64, int64_t, double, x)
UNARY_LOOP(cast_f32_b, float, lp_bool_t, TO_BOOL(x))
UNARY_LOOP(cast_f32_i32, float, int32_t, F2I32(x))
UNARY_LOOP(cast_f32_i64, float, int64_t, F2I64(x))
UNARY_LOOP(cast_f32_f32, float, float, x)
UNARY_LOOP(cast_f32_f64, float, double, x)
UNARY_LOOP(cast_f64_b, double, lp_bool_t, TO_BOOL(x))
UNARY_LOOP(cast_f64_i32, double, int32_t, F2I32(x))
UNARY_LOOP(cast_f64_i64, double, int64_t, F2I64(x))
UNARY_LOOP(cast_f64_f32, double, float, (float)x)
UNARY_LOOP(cast_f64_f64, double, double, x)

/* ---- tables ------------------------------------------------------------------------------ */

#define ROW(b, i32, i64, f32, f64) {b, i32, i64, f32, f64}
const lpi_loop_fn lpi_loops[LPI_OP_COUNT][LP_DTYPE_COUNT] = {
    [LPI_OP_ADD] = ROW(add_b, add_i32, add_i64, add_f32, add_f64),
    [LPI_OP_SUBTRACT] = ROW(NULL, sub_i32, sub_i64, sub_f32, sub_f64),
    [LPI_OP_MULTIPLY] = ROW(mul_b, mul_i32, mul_i64, mul_f32, mul_f64),
    [LPI_OP_DIVIDE] = ROW(NULL, NULL, NULL, div_f32, div_f64),
    [LPI_OP_FLOOR_DIVIDE] = ROW(NULL, fdiv_i32, fdiv_i64, fdiv_f32, fdiv_f64),
    [LPI_OP_REMAINDER] = ROW(NULL, rem_i32, rem_i64, rem_f32, rem_f64),
    [LPI_OP_POWER] = ROW(NULL, pow_i32, pow_i64, pow_f32, pow_f64),
    [LPI_OP_MAXIMUM] = ROW(max_b, max_i32, max_i64, max_f32, max_f64),
    [LPI_OP_MINIMUM] = ROW(min_b, min_i32, min_i64, min_f32, min_f64),
    [LPI_OP_EQUAL] = ROW(eq_b, eq_i32, eq_i64, eq_f32, eq_f64),
    [LPI_OP_NOT_EQUAL] = ROW(ne_b, ne_i32, ne_i64, ne_f32, ne_f64),
    [LPI_OP_LESS] = ROW(lt_b, lt_i32, lt_i64, lt_f32, lt_f64),
    [LPI_OP_LESS_EQUAL] = ROW(le_b, le_i32, le_i64, le_f32, le_f64),
    [LPI_OP_GREATER] = ROW(gt_b, gt_i32, gt_i64, gt_f32, gt_f64),
    [LPI_OP_GREATER_EQUAL] = ROW(ge_b, ge_i32, ge_i64, ge_f32, ge_f64),
    [LPI_OP_LOGICAL_AND] = ROW(and_b, NULL, NULL, NULL, NULL),
    [LPI_OP_LOGICAL_OR] = ROW(or_b, NULL, NULL, NULL, NULL),
    [LPI_OP_LOGICAL_XOR] = ROW(xor_b, NULL, NULL, NULL, NULL),
    [LPI_OP_LOGICAL_NOT] = ROW(lnot_b, NULL, NULL, NULL, NULL),
    [LPI_OP_BITWISE_AND] = ROW(and_b, and_i32, and_i64, NULL, NULL),
    [LPI_OP_BITWISE_OR] = ROW(or_b, or_i32, or_i64, NULL, NULL),
    [LPI_OP_BITWISE_XOR] = ROW(xor_b, xor_i32, xor_i64, NULL, NULL),
    [LPI_OP_INVERT] = ROW(inv_b, inv_i32, inv_i64, NULL, NULL),
    [LPI_OP_NEGATIVE] = ROW(NULL, neg_i32, neg_i64, neg_f32, neg_f64),
    [LPI_OP_ABS] = ROW(abs_b, abs_i32, abs_i64, abs_f32, abs_f64),
    [LPI_OP_SQRT] = ROW(NULL, NULL, NULL, sqrt_f32, sqrt_f64),
    [LPI_OP_EXP] = ROW(NULL, NULL, NULL, lpi_vmath_exp_s, lpi_vmath_exp_d),
    [LPI_OP_LOG] = ROW(NULL, NULL, NULL, lpi_vmath_log_s, lpi_vmath_log_d),
    [LPI_OP_SIN] = ROW(NULL, NULL, NULL, lpi_vmath_sin_s, lpi_vmath_sin_d),
    [LPI_OP_COS] = ROW(NULL, NULL, NULL, lpi_vmath_cos_s, lpi_vmath_cos_d),
    [LPI_OP_TANH] = ROW(NULL, NULL, NULL, lpi_vmath_tanh_s, lpi_vmath_tanh_d),
    [LPI_OP_WHERE] = ROW(where_b, where_i32, where_i64, where_f32, where_f64),
    [LPI_OP_ISNAN] = ROW(isnan_b, isnan_i32, isnan_i64, isnan_f32, isnan_f64),
    [LPI_OP_ISINF] = ROW(isinf_b, isinf_i32, isinf_i64, isinf_f32, isinf_f64),
    [LPI_OP_ISFINITE] = ROW(isfin_b, isfin_i32, isfin_i64, isfin_f32, isfin_f64),
    [LPI_OP_SIGNBIT] = ROW(sbit_b, sbit_i32, sbit_i64, sbit_f32, sbit_f64),
    [LPI_OP_FLOOR] = ROW(id_b, id_i32, id_i64, floor_f32, floor_f64),
    [LPI_OP_CEIL] = ROW(id_b, id_i32, id_i64, ceil_f32, ceil_f64),
    [LPI_OP_TRUNC] = ROW(id_b, id_i32, id_i64, trunc_f32, trunc_f64),
    [LPI_OP_SIGN] = ROW(NULL, sign_i32, sign_i64, sign_f32, sign_f64),
    [LPI_OP_SQUARE] = ROW(NULL, square_i32, square_i64, square_f32, square_f64),
    [LPI_OP_RECIPROCAL] = ROW(NULL, recip_i32, recip_i64, recip_f32, recip_f64),
    [LPI_OP_FMAX] = ROW(fmax_b, fmax_i32, fmax_i64, fmax_f32, fmax_f64),
    [LPI_OP_FMIN] = ROW(fmin_b, fmin_i32, fmin_i64, fmin_f32, fmin_f64),
    [LPI_OP_FMOD] = ROW(NULL, fmod_i32, fmod_i64, fmod_f32, fmod_f64),
    [LPI_OP_RINT] = ROW(NULL, NULL, NULL, rint_f32, rint_f64),
    [LPI_OP_LOG1P] = ROW(NULL, NULL, NULL, log1p_f32, log1p_f64),
    [LPI_OP_LOG2] = ROW(NULL, NULL, NULL, log2_f32, log2_f64),
    [LPI_OP_LOG10] = ROW(NULL, NULL, NULL, log10_f32, log10_f64),
    [LPI_OP_EXPM1] = ROW(NULL, NULL, NULL, expm1_f32, expm1_f64),
    [LPI_OP_EXP2] = ROW(NULL, NULL, NULL, exp2_f32, exp2_f64),
    [LPI_OP_TAN] = ROW(NULL, NULL, NULL, tan_f32, tan_f64),
    [LPI_OP_ARCSIN] = ROW(NULL, NULL, NULL, asin_f32, asin_f64),
    [LPI_OP_ARCCOS] = ROW(NULL, NULL, NULL, acos_f32, acos_f64),
    [LPI_OP_ARCTAN] = ROW(NULL, NULL, NULL, atan_f32, atan_f64),
    [LPI_OP_SINH] = ROW(NULL, NULL, NULL, sinh_f32, sinh_f64),
    [LPI_OP_COSH] = ROW(NULL, NULL, NULL, cosh_f32, cosh_f64),
    [LPI_OP_ARCSINH] = ROW(NULL, NULL, NULL, asinh_f32, asinh_f64),
    [LPI_OP_ARCCOSH] = ROW(NULL, NULL, NULL, acosh_f32, acosh_f64),
    [LPI_OP_ARCTANH] = ROW(NULL, NULL, NULL, atanh_f32, atanh_f64),
    [LPI_OP_CBRT] = ROW(NULL, NULL, NULL, cbrt_f32, cbrt_f64),
    [LPI_OP_DEG2RAD] = ROW(NULL, NULL, NULL, d2r_f32, d2r_f64),
    [LPI_OP_RAD2DEG] = ROW(NULL, NULL, NULL, r2d_f32, r2d_f64),
    [LPI_OP_ARCTAN2] = ROW(NULL, NULL, NULL, atan2_f32, atan2_f64),
    [LPI_OP_HYPOT] = ROW(NULL, NULL, NULL, hypot_f32, hypot_f64),
    [LPI_OP_COPYSIGN] = ROW(NULL, NULL, NULL, copysign_f32, copysign_f64),
    [LPI_OP_LOGADDEXP] = ROW(NULL, NULL, NULL, logaddexp_f32, logaddexp_f64),
    [LPI_OP_ALLNAN_CHECK] = ROW(NULL, NULL, allnan_i64, NULL, NULL),
};

const lpi_loop_fn lpi_cast_loops[LP_DTYPE_COUNT][LP_DTYPE_COUNT] = {
    ROW(cast_b_b, cast_b_i32, cast_b_i64, cast_b_f32, cast_b_f64),
    ROW(cast_i32_b, cast_i32_i32, cast_i32_i64, cast_i32_f32, cast_i32_f64),
    ROW(cast_i64_b, cast_i64_i32, cast_i64_i64, cast_i64_f32, cast_i64_f64),
    ROW(cast_f32_b, cast_f32_i32, cast_f32_i64, cast_f32_f32, cast_f32_f64),
    ROW(cast_f64_b, cast_f64_i32, cast_f64_i64, cast_f64_f32, cast_f64_f64),
};

lp_dtype lpi_loop_out_dtype(lpi_op op, lp_dtype loop_dt) {
    switch (op) {
    case LPI_OP_EQUAL: case LPI_OP_NOT_EQUAL: case LPI_OP_LESS: case LPI_OP_LESS_EQUAL:
    case LPI_OP_GREATER: case LPI_OP_GREATER_EQUAL: case LPI_OP_LOGICAL_AND: case LPI_OP_LOGICAL_OR:
    case LPI_OP_LOGICAL_XOR: case LPI_OP_LOGICAL_NOT: case LPI_OP_ISNAN: case LPI_OP_ISINF: case LPI_OP_ISFINITE:
    case LPI_OP_SIGNBIT:
        return LP_BOOL;
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
