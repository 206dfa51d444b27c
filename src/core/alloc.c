/* Allocation hooks: every allocation of the library goes through here so tests can make the
 * nth one fail and check that failures propagate and leak nothing. */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Chunks of a few MiB and more are backed by transparent huge pages when the kernel allows it
 * (madvise mode is the common default): first touch of fresh memory then costs one fault per
 * 2 MiB instead of one per 4 KiB, which otherwise dominates bandwidth-bound kernels. */
#define HUGE_MIN (4u << 20)
#define HUGE_ALIGN (2u << 20)

/* On some machines (THP defrag set to "always"/"madvise" with fragmented memory) a huge-page
 * fault stalls in compaction and costs more than the 512 small faults it replaces: the probe
 * (exec/probe.c) measures both and the profile turns this off there. */
static atomic_bool huge_on = true;
void lpi_alloc_set_huge(bool on) { atomic_store_explicit(&huge_on, on, memory_order_relaxed); }
bool lpi_alloc_huge(void) { return atomic_load_explicit(&huge_on, memory_order_relaxed); }

void *lp_malloc_aligned(size_t n) {
    if (should_fail()) return NULL;
    void *p = NULL;
    size_t sz = (n + 63) & ~(size_t)63;
    if (sz < n) return NULL;
    if (sz >= HUGE_MIN) {
        size_t hs = (sz + HUGE_ALIGN - 1) & ~(size_t)(HUGE_ALIGN - 1);
        if (posix_memalign(&p, HUGE_ALIGN, hs) != 0) return NULL;
        if (lpi_alloc_huge()) madvise(p, hs, MADV_HUGEPAGE);
        return p;
    }
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
