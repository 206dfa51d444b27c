/* A minimal unit-test harness: each test binary prints "NAME: N passed, N failed". */
#ifndef LPT_H
#define LPT_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lpt_pass_, lpt_fail_;

#define LPT_CHECK(cond)                                                                 \
    do {                                                                                \
        if (cond) lpt_pass_++;                                                          \
        else { lpt_fail_++; fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,     \
                                    __LINE__, #cond); }                                 \
    } while (0)

#define LPT_CHECKF(cond, ...)                                                           \
    do {                                                                                \
        if (cond) lpt_pass_++;                                                          \
        else { lpt_fail_++; fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,     \
                                    __LINE__, #cond); fprintf(stderr, __VA_ARGS__);     \
               fputc('\n', stderr); }                                                   \
    } while (0)

/* lp_status call that must succeed; prints the context's message otherwise. */
#define LPT_OK(ctx, call)                                                               \
    do {                                                                                \
        lp_status st_ = (call);                                                         \
        if (st_ == LP_OK) lpt_pass_++;                                                  \
        else { lpt_fail_++; fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, \
                                    #call, lp_status_str(st_), lp_last_error(ctx)); }   \
    } while (0)

#define LPT_RUN(fn)                                                                     \
    do { int f0_ = lpt_fail_; fn(); if (lpt_fail_ != f0_)                              \
         fprintf(stderr, "  in %s\n", #fn); } while (0)

static inline int lpt_done(const char *name) {
    printf("%s: %d passed, %d failed\n", name, lpt_pass_, lpt_fail_);
    return lpt_fail_ ? 1 : 0;
}

/* Directory of tests/data (set by meson as an environment variable, else relative). */
static inline const char *lpt_data_dir(void) {
    const char *d = getenv("LP_TEST_DATA");
    return d ? d : "tests/data";
}
#endif
