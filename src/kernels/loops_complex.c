/* Elementwise loops of complex64 and complex128 (C99 complex types: two floats, real first, the
 * layout NumPy stores). Arithmetic follows NumPy's own formulas rather than C's Annex G ones so
 * results match it bit for bit: multiplication is the textbook product, division and the
 * reciprocal scale by the larger part of the divisor (Smith's method), powers with small
 * integer exponents multiply repeatedly (complex_ops.h has the product and the order, shared
 * with the scans). The transcendental functions are the C library's c* functions, which NumPy
 * also calls (npymath defers to them where the platform has them). */
#define LPI_LOOP_LINK
#include "kernels/loop_gen.h"

#include "kernels/complex_ops.h"

/* The scalar helpers for one precision: T the part type, C the complex type, F the libm suffix
 * ("f" or nothing), S the loop suffix. */
#define COMPLEX_HELPERS(T, C, F, S)                                                                  \
    static inline C div_##S(C a, C b) {                                                             \
        T ar = crealf_##S(a), ai = cimagf_##S(a), br = crealf_##S(b), bi = cimagf_##S(b);           \
        T abr = fabs##F(br), abi = fabs##F(bi);                                                     \
        if (abr >= abi) {                                                                           \
            if (abr == 0 && abi == 0) return mk_##S(ar / abr, ai / abr); /* inf or nan parts */      \
            T rat = bi / br, scl = (T)1 / (br + bi * rat);                                          \
            return mk_##S((ar + ai * rat) * scl, (ai - ar * rat) * scl);                            \
        }                                                                                           \
        T rat = br / bi, scl = (T)1 / (bi + br * rat);                                              \
        return mk_##S((ar * rat + ai) * scl, (ai * rat - ar) * scl);                                \
    }                                                                                               \
    static inline C recip_##S(C a) {                                                                \
        T r = crealf_##S(a), i = cimagf_##S(a);                                                     \
        if (fabs##F(r) >= fabs##F(i)) {                                                             \
            T rat = i / r, scl = (T)1 / (r + i * rat);                                              \
            return mk_##S(scl, -rat * scl);                                                         \
        }                                                                                           \
        T rat = r / i, scl = (T)1 / (i + r * rat);                                                  \
        return mk_##S(rat * scl, -scl);                                                             \
    }                                                                                               \
    static inline C pow_##S(C a, C b) {                                                             \
        T ar = crealf_##S(a), ai = cimagf_##S(a), br = crealf_##S(b), bi = cimagf_##S(b);           \
        if (br == 0 && bi == 0) return mk_##S(1, 0);                                                \
        if (ar == 0 && ai == 0) return br > 0 && bi == 0 ? mk_##S(0, 0) : mk_##S(NAN, NAN);         \
        if (bi == 0 && br > -100 && br < 100 && br == (T)(int)br) {                                  \
            int k = (int)br, m = k < 0 ? -k : k;                                                    \
            C r = mk_##S(1, 0), p = a;                                                              \
            for (; m; m >>= 1, p = mul_##S(p, p)) if (m & 1) r = mul_##S(r, p);                     \
            return k < 0 ? div_##S(mk_##S(1, 0), r) : r;                                            \
        }                                                                                           \
        return cpow##F(a, b);                                                                       \
    }                                                                                               \
    /* NumPy 2's sign: z / |z| by hypot (so an infinite part wins over a NaN in the other),    \
     * NaN when |z| is, the unit of the infinite part when one part is */                     \
    static inline C sign_##S(C a) {                                                                 \
        T r = crealf_##S(a), i = cimagf_##S(a), m = hypot##F(r, i);                                 \
        if (isnan(m)) return mk_##S(NAN, NAN);                                                      \
        if (isinf(m)) {                                                                             \
            if (isinf(r)) return isinf(i) ? mk_##S(NAN, NAN) : mk_##S(copysign##F(1, r), 0);        \
            return mk_##S(0, copysign##F(1, i));                                                    \
        }                                                                                           \
        if (m == 0) return mk_##S(0, 0);                                                            \
        return mk_##S(r / m, i / m);                                                                \
    }                                                                                               \
    static inline C log1p_##S(C a) {                                                                \
        T r = crealf_##S(a) + 1, i = cimagf_##S(a);                                                 \
        return mk_##S(log##F(hypot##F(r, i)), atan2##F(i, r));                                      \
    }                                                                                               \
    static inline C expm1_##S(C a) {                                                                \
        T r = crealf_##S(a), i = cimagf_##S(a), h = sin##F(i / 2);                                  \
        return mk_##S(expm1##F(r) * cos##F(i) - 2 * h * h, exp##F(r) * sin##F(i));                   \
    }                                                                                               \
    static inline C logk_##S(C a, T k) { C l = clog##F(a); return mk_##S(crealf_##S(l) * k, cimagf_##S(l) * k); } \
    static inline C exp2_##S(C a) {                                                                 \
        const T ln2 = (T)0.693147180559945309417232121458176568;                                    \
        return cexp##F(mk_##S(crealf_##S(a) * ln2, cimagf_##S(a) * ln2));                           \
    }

COMPLEX_HELPERS(float, float _Complex, f, c64)
COMPLEX_HELPERS(double, double _Complex, , c128)

#define LOG2E 1.442695040888963407359924681001892137
#define LOG10E 0.434294481903251827651128918916605082

/* X(S, T, C, F) over both precisions */
#define CPLX(X) X(c64, float, float _Complex, f) X(c128, double, double _Complex, )
#define X(S, T, C, F)                                                                                  \
    BINARY_LOOP(lpi_cadd_##S, C, C, mk_##S(crealf_##S(x) + crealf_##S(y), cimagf_##S(x) + cimagf_##S(y))) \
    BINARY_LOOP(lpi_csub_##S, C, C, mk_##S(crealf_##S(x) - crealf_##S(y), cimagf_##S(x) - cimagf_##S(y))) \
    BINARY_LOOP(lpi_cmul_##S, C, C, mul_##S(x, y))                                                     \
    BINARY_LOOP(lpi_cdiv_##S, C, C, div_##S(x, y))                                                     \
    BINARY_LOOP(lpi_cpow_##S, C, C, pow_##S(x, y))                                                     \
    BINARY_LOOP(lpi_ceq_##S, C, uint8_t, crealf_##S(x) == crealf_##S(y) && cimagf_##S(x) == cimagf_##S(y)) \
    BINARY_LOOP(lpi_clt_##S, C, uint8_t, CORD_STRICT(<, x, y, S))                                      \
    BINARY_LOOP(lpi_cgt_##S, C, uint8_t, CORD_STRICT(>, x, y, S))                                      \
    BINARY_LOOP(lpi_cle_##S, C, uint8_t, CLE_(x, y, S))                                                \
    BINARY_LOOP(lpi_cge_##S, C, uint8_t, CGE_(x, y, S))                                                \
    /* maximum/minimum: x when it has a NaN part or is >= (<=) y (NaN propagates, the first wins); \
     * fmax/fmin: x when y has a NaN part or x is >= (<=) y */                                    \
    BINARY_LOOP(lpi_cmax_##S, C, C, CMAX_(x, y, S))                                                    \
    BINARY_LOOP(lpi_cmin_##S, C, C, CMIN_(x, y, S))                                                    \
    BINARY_LOOP(lpi_cfmax_##S, C, C, CNAN(y, S) || CGE_(x, y, S) ? x : y)                              \
    BINARY_LOOP(lpi_cfmin_##S, C, C, CNAN(y, S) || CLE_(x, y, S) ? x : y)                              \
    BINARY_LOOP(lpi_cne_##S, C, uint8_t, !(crealf_##S(x) == crealf_##S(y) && cimagf_##S(x) == cimagf_##S(y))) \
    UNARY_LOOP(lpi_cneg_##S, C, C, mk_##S(-crealf_##S(x), -cimagf_##S(x)))                            \
    UNARY_LOOP(lpi_cabs_##S, C, T, hypot##F(crealf_##S(x), cimagf_##S(x)))                             \
    UNARY_LOOP(lpi_csqrt_##S, C, C, csqrt##F(x))                                                       \
    UNARY_LOOP(lpi_cexp_##S, C, C, cexp##F(x))                                                         \
    UNARY_LOOP(lpi_clog_##S, C, C, clog##F(x))                                                         \
    UNARY_LOOP(lpi_csin_##S, C, C, csin##F(x))                                                         \
    UNARY_LOOP(lpi_ccos_##S, C, C, ccos##F(x))                                                         \
    UNARY_LOOP(lpi_ctan_##S, C, C, ctan##F(x))                                                         \
    UNARY_LOOP(lpi_csinh_##S, C, C, csinh##F(x))                                                       \
    UNARY_LOOP(lpi_ccosh_##S, C, C, ccosh##F(x))                                                       \
    UNARY_LOOP(lpi_ctanh_##S, C, C, ctanh##F(x))                                                       \
    UNARY_LOOP(lpi_casin_##S, C, C, casin##F(x))                                                       \
    UNARY_LOOP(lpi_cacos_##S, C, C, cacos##F(x))                                                       \
    UNARY_LOOP(lpi_catan_##S, C, C, catan##F(x))                                                       \
    UNARY_LOOP(lpi_casinh_##S, C, C, casinh##F(x))                                                     \
    UNARY_LOOP(lpi_cacosh_##S, C, C, cacosh##F(x))                                                     \
    UNARY_LOOP(lpi_catanh_##S, C, C, catanh##F(x))                                                     \
    UNARY_LOOP(lpi_clog1p_##S, C, C, log1p_##S(x))                                                     \
    UNARY_LOOP(lpi_cexpm1_##S, C, C, expm1_##S(x))                                                     \
    UNARY_LOOP(lpi_clog2_##S, C, C, logk_##S(x, (T)LOG2E))                                             \
    UNARY_LOOP(lpi_clog10_##S, C, C, logk_##S(x, (T)LOG10E))                                           \
    UNARY_LOOP(lpi_cexp2_##S, C, C, exp2_##S(x))                                                       \
    UNARY_LOOP(lpi_cisnan_##S, C, uint8_t, isnan(crealf_##S(x)) || isnan(cimagf_##S(x)))                \
    UNARY_LOOP(lpi_cisinf_##S, C, uint8_t, isinf(crealf_##S(x)) || isinf(cimagf_##S(x)))                \
    UNARY_LOOP(lpi_cisfin_##S, C, uint8_t, isfinite(crealf_##S(x)) && isfinite(cimagf_##S(x)))          \
    UNARY_LOOP(lpi_csign_##S, C, C, sign_##S(x))                                                       \
    UNARY_LOOP(lpi_csquare_##S, C, C, mul_##S(x, x))                                                   \
    UNARY_LOOP(lpi_crecip_##S, C, C, recip_##S(x))                                                     \
    UNARY_LOOP(lpi_crint_##S, C, C, mk_##S(rint##F(crealf_##S(x)), rint##F(cimagf_##S(x))))            \
    UNARY_LOOP(lpi_cconj_##S, C, C, mk_##S(crealf_##S(x), -cimagf_##S(x)))                            \
    UNARY_LOOP(lpi_creal_##S, C, T, crealf_##S(x))                                                     \
    UNARY_LOOP(lpi_cimag_##S, C, T, cimagf_##S(x))                                                     \
    BINARY_LOOP(lpi_cmkc_##S, T, C, mk_##S(x, y))
CPLX(X)
#undef X
