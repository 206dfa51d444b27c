/* Allocation hooks: every allocation of the library goes through here so tests can make the
 * nth one fail and check that failures propagate and leak nothing. */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown; /* 0 = never fail */

void lpi_alloc_fail_after(long n) { atomic_store(&fail_countdown, n); }

static inline bool should_fail(void) {
    long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (c == 0) return false;
    c = atomic_fetch_sub(&fail_countdown, 1);
    if (c == 1) return true;
    if (c <= 0) atomic_store(&fail_countdown, 0);
    return false;
}

void *lp_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }
void *lp_calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1); }
void *lp_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }
void lp_free(void *p) { free(p); }

void *lp_malloc_aligned(size_t n) {
    if (should_fail()) return NULL;
    void *p = NULL;
    size_t sz = (n + 63) & ~(size_t)63;
    if (sz < n) return NULL;
    if (posix_memalign(&p, 64, sz ? sz : 64) != 0) return NULL;
    return p;
}
void lp_free_aligned(void *p) { free(p); }

char *lp_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = lp_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
