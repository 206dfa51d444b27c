/* Helpers of the C benchmark programs: a monotonic clock and a check that exits on failure. */
#ifndef LAMPY_BENCH_UTIL_H
#define LAMPY_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A Lampy call that must succeed; BENCH_NAME names the program in the message. */
#define CHECK(ctx, call)                                                                    \
    do {                                                                                    \
        lp_status st_ = (call);                                                             \
        if (st_ != LP_OK) {                                                                 \
            fprintf(stderr, "%s: %s failed: %s: %s\n", BENCH_NAME, #call, lp_status_str(st_), \
                    lp_last_error(ctx));                                                    \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#endif
