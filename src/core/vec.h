/* A growing array of pointers (graph walks: stacks, node lists). */
#ifndef LP_CORE_VEC_H
#define LP_CORE_VEC_H

#include "core/core.h"

typedef struct lpi_ptrvec {
    void **v;
    int n, cap;
} lpi_ptrvec;

/* Append p; false when memory runs out (the vector is unchanged). */
static inline bool lpi_ptrvec_push(lpi_ptrvec *s, void *p) {
    if (s->n == s->cap) {
        int c = s->cap ? 2 * s->cap : 32;
        void **nv = lp_realloc(s->v, (size_t)c * sizeof *nv);
        if (!nv) return false;
        s->v = nv;
        s->cap = c;
    }
    s->v[s->n++] = p;
    return true;
}

#endif
