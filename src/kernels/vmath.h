/* Vectorized transcendental loops (libmvec), with the elementwise loop signature. */
#ifndef LP_VMATH_H
#define LP_VMATH_H

#include <stdbool.h>
#include <stdint.h>

#define LPI_VMATH_DECL(f)                                                                       \
    void lpi_vmath_##f##_d(char **args, int64_t n, const int64_t *steps, int *err);            \
    void lpi_vmath_##f##_s(char **args, int64_t n, const int64_t *steps, int *err);
LPI_VMATH_DECL(exp)
LPI_VMATH_DECL(log)
LPI_VMATH_DECL(sin)
LPI_VMATH_DECL(cos)
LPI_VMATH_DECL(tanh)
bool lpi_vmath_available(void);

#endif
