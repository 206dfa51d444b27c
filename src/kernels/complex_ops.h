/* NumPy's complex product and order, shared by the elementwise loops (loops_complex.c) and the
 * scans (axis.c): cumprod and cumulative maximum/minimum must give the bits of the elementwise
 * multiply/maximum/minimum. C99 complex types, real part first (NumPy's layout). */
#ifndef LPI_KERNELS_COMPLEX_OPS_H
#define LPI_KERNELS_COMPLEX_OPS_H

#include <complex.h>
#include <math.h>

#define crealf_c64(z) crealf(z)
#define cimagf_c64(z) cimagf(z)
#define crealf_c128(z) creal(z)
#define cimagf_c128(z) cimag(z)

/* mk: a complex from its parts (no arithmetic, so no inf*0 NaNs); mul: the textbook product
 * NumPy computes, not C's Annex G one (which repairs infinities) */
#define LPI_COMPLEX_BASE(T, C, S)                                                                   \
    static inline C mk_##S(T re, T im) { C z; __real__ z = re; __imag__ z = im; return z; }           \
    static inline C mul_##S(C a, C b) {                                                             \
        T ar = crealf_##S(a), ai = cimagf_##S(a), br = crealf_##S(b), bi = cimagf_##S(b);           \
        return mk_##S(ar * br - ai * bi, ar * bi + ai * br);                                        \
    }
LPI_COMPLEX_BASE(float, float _Complex, c64)
LPI_COMPLEX_BASE(double, double _Complex, c128)

/* NumPy's lexicographic order of complex numbers (its CLT/CLE/CGT/CGE): by the real parts,
 * which count only when neither imaginary part is NaN, then by the imaginary parts */
#define CLE_(x, y, S)                                                                                   \
    ((crealf_##S(x) < crealf_##S(y) && !isnan(cimagf_##S(x)) && !isnan(cimagf_##S(y))) ||                 \
     (crealf_##S(x) == crealf_##S(y) && cimagf_##S(x) <= cimagf_##S(y)))
#define CGE_(x, y, S)                                                                                   \
    ((crealf_##S(x) > crealf_##S(y) && !isnan(cimagf_##S(x)) && !isnan(cimagf_##S(y))) ||                 \
     (crealf_##S(x) == crealf_##S(y) && cimagf_##S(x) >= cimagf_##S(y)))
#define CORD_STRICT(OP, x, y, S)                                                                        \
    ((crealf_##S(x) OP crealf_##S(y) && !isnan(cimagf_##S(x)) && !isnan(cimagf_##S(y))) ||                \
     (crealf_##S(x) == crealf_##S(y) && cimagf_##S(x) OP cimagf_##S(y)))
#define CNAN(x, S) (isnan(crealf_##S(x)) || isnan(cimagf_##S(x)))
/* maximum/minimum: x when it has a NaN part or is >= (<=) y (NaN propagates, the first wins) */
#define CMAX_(x, y, S) (CNAN(x, S) || CGE_(x, y, S) ? (x) : (y))
#define CMIN_(x, y, S) (CNAN(x, S) || CLE_(x, y, S) ? (x) : (y))

#endif
