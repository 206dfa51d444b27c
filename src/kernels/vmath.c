/* exp, log, sin, cos, tanh through glibc's vector math library (libmvec): the scalar libm calls
 * are ~90% of a transcendental-heavy kernel, and NumPy uses SIMD versions. Every element goes
 * through the same vector function (tails are padded, strided data is gathered), so a value never
 * depends on its position, the chunking or whether the op was fused. libmvec's functions are
 * within 4 ULP of the correctly rounded result, like NumPy's. */
#include "kernels/vmath.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(LP_NO_MVEC)
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wpsabi"

/* The AVX variants are declared with the target they need: clang rejects a call that passes a
 * 256/512-bit vector to a function declared without that feature (the ABI would differ). */
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#define MVEC_DECL(fn)                                                                            \
    __m128d _ZGVbN2v_##fn(__m128d);                                                              \
    AVX2 __m256d _ZGVdN4v_##fn(__m256d);                                                         \
    AVX512 __m512d _ZGVeN8v_##fn(__m512d);                                                       \
    __m128 _ZGVbN4v_##fn##f(__m128);                                                             \
    AVX2 __m256 _ZGVdN8v_##fn##f(__m256);                                                        \
    AVX512 __m512 _ZGVeN16v_##fn##f(__m512);
MVEC_DECL(exp)
MVEC_DECL(log)
MVEC_DECL(sin)
MVEC_DECL(cos)
MVEC_DECL(tanh)

static int level; /* 0 SSE2, 1 AVX2, 2 AVX-512 */

__attribute__((constructor)) static void pick_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) level = 2;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = 1;
}

/* One contiguous run, n elements, the tail padded to a full vector. */
#define RUN(NAME, T, W, VT, LOAD, STORE, FN, ATTR)                                             \
    ATTR static void NAME(const T *x, T *y, int64_t n) {                                        \
        int64_t i = 0;                                                                          \
        for (; i + W <= n; i += W) STORE(y + i, FN(LOAD(x + i)));                               \
        if (i < n) {                                                                            \
            T tin[W], tout[W];                                                                  \
            memset(tin, 0, sizeof tin);                                                         \
            memcpy(tin, x + i, (size_t)(n - i) * sizeof(T));                                    \
            STORE(tout, FN(LOAD(tin)));                                                         \
            memcpy(y + i, tout, (size_t)(n - i) * sizeof(T));                                   \
        }                                                                                       \
    }

#define FAMILY(fn)                                                                               \
    RUN(fn##_d_sse, double, 2, __m128d, _mm_loadu_pd, _mm_storeu_pd, _ZGVbN2v_##fn, )              \
    RUN(fn##_d_avx2, double, 4, __m256d, _mm256_loadu_pd, _mm256_storeu_pd, _ZGVdN4v_##fn,        \
        AVX2)                                                    \
    RUN(fn##_d_avx512, double, 8, __m512d, _mm512_loadu_pd, _mm512_storeu_pd, _ZGVeN8v_##fn,      \
        AVX512)                                                     \
    RUN(fn##_f_sse, float, 4, __m128, _mm_loadu_ps, _mm_storeu_ps, _ZGVbN4v_##fn##f, )            \
    RUN(fn##_f_avx2, float, 8, __m256, _mm256_loadu_ps, _mm256_storeu_ps, _ZGVdN8v_##fn##f,       \
        AVX2)                                                    \
    RUN(fn##_f_avx512, float, 16, __m512, _mm512_loadu_ps, _mm512_storeu_ps, _ZGVeN16v_##fn##f,   \
        AVX512)                                                     \
    static void fn##_d(const double *x, double *y, int64_t n) {                                  \
        if (level == 2) fn##_d_avx512(x, y, n);                                                  \
        else if (level == 1) fn##_d_avx2(x, y, n);                                               \
        else fn##_d_sse(x, y, n);                                                                \
    }                                                                                           \
    static void fn##_s(const float *x, float *y, int64_t n) {                                    \
        if (level == 2) fn##_f_avx512(x, y, n);                                                  \
        else if (level == 1) fn##_f_avx2(x, y, n);                                               \
        else fn##_f_sse(x, y, n);                                                                \
    }
FAMILY(exp)
FAMILY(log)
FAMILY(sin)
FAMILY(cos)
FAMILY(tanh)

bool lpi_vmath_available(void) { return true; }

#else
#include <math.h>
#define FAMILY(fn)                                                                               \
    static void fn##_d(const double *x, double *y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = fn(x[i]); } \
    static void fn##_s(const float *x, float *y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = fn##f(x[i]); }
FAMILY(exp)
FAMILY(log)
FAMILY(sin)
FAMILY(cos)
FAMILY(tanh)
bool lpi_vmath_available(void) { return false; }
#endif

/* Strided data is gathered into a small buffer so it takes exactly the same path. */
#define STRIDED(f, T, SUF)                                                                      \
    void lpi_vmath_##f##_##SUF(char **args, int64_t n, const int64_t *steps, int *err) {       \
        (void)err;                                                                              \
        const char *a = args[0];                                                                \
        char *o = args[1];                                                                      \
        if (steps[0] == (int64_t)sizeof(T) && steps[1] == (int64_t)sizeof(T)) {                 \
            f##_##SUF((const T *)a, (T *)o, n);                                                 \
            return;                                                                             \
        }                                                                                       \
        T in[256], out[256];                                                                    \
        for (int64_t i0 = 0; i0 < n; i0 += 256) {                                               \
            int64_t m = n - i0 < 256 ? n - i0 : 256;                                            \
            for (int64_t i = 0; i < m; i++) memcpy(&in[i], a + (i0 + i) * steps[0], sizeof(T)); \
            f##_##SUF(in, out, m);                                                              \
            for (int64_t i = 0; i < m; i++) memcpy(o + (i0 + i) * steps[1], &out[i], sizeof(T)); \
        }                                                                                       \
    }
#define BOTH(fn) STRIDED(fn, double, d) STRIDED(fn, float, s)
BOTH(exp)
BOTH(log)
BOTH(sin)
BOTH(cos)
BOTH(tanh)
