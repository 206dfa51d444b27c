/* Graph JSON (docs/GRAPH_FORMAT.md): lp_graph_load on the input. A graph that loads must dump,
 * and its dump must load back and dump to the same text (the format is a fixed point after one
 * round). Small graphs are also run (fz_run_if_small):
 * planning, fusion and the kernels see every graph the loader accepts. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_load_dir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fz_cstr(data, size);
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    lp_array **t = NULL, **t2 = NULL;
    int n = 0, n2 = 0;
    char *d1 = NULL, *d2 = NULL;
    if (lp_graph_load(ctx, text, &t, &n) == LP_OK) {
        if (lp_graph_dump(ctx, t, n, &d1) != LP_OK) {
            fprintf(stderr, "a loaded graph does not dump: %s\n", lp_last_error(ctx));
            abort();
        }
        if (lp_graph_load(ctx, d1, &t2, &n2) != LP_OK || lp_graph_dump(ctx, t2, n2, &d2) != LP_OK) {
            fprintf(stderr, "a dump does not load back: %s\n%s\n", lp_last_error(ctx), d1);
            abort();
        }
        if (strcmp(d1, d2) != 0) {
            fprintf(stderr, "dump(load(dump)) differs from the dump:\n%s\n%s\n", d1, d2);
            abort();
        }
        fz_run_if_small(t, n, d1);
    } else if (!lp_last_error(ctx)[0]) {
        fprintf(stderr, "a failure without a message\n");
        abort();
    }
    lp_string_free(d1);
    lp_string_free(d2);
    if (t) lp_arrays_release(t, n);
    if (t2) lp_arrays_release(t2, n2);
    lp_ctx_destroy(ctx);
    free(text);
    return 0;
}
