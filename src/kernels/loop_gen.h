/* The loop generators shared by the real (loops.c) and complex (loops_complex.c) loops: each
 * loop has a contiguous fast path, broadcast-scalar fast paths and a strided fallback. */
#ifndef LP_KERNELS_LOOP_GEN_H
#define LP_KERNELS_LOOP_GEN_H

#include "kernels/kernels.h"
#include "kernels/loops.h"

/* loops are file-local unless the including file says otherwise (loops_complex.c exports its
 * loops to the tables in loops.c) */
#ifndef LPI_LOOP_LINK
#define LPI_LOOP_LINK static
#endif

#define BINARY_LOOP(NAME, TI, TO, EXPR)                                                       \
    LPI_CLONES LPI_LOOP_LINK void NAME(char **args, int64_t n, const int64_t *steps, int *err) {                 \
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
    LPI_CLONES LPI_LOOP_LINK void NAME(char **args, int64_t n, const int64_t *steps, int *err) {                 \
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

#endif
