/* Graph JSON (docs/GRAPH_FORMAT.md): lp_graph_load on the input. A graph that loads must dump,
 * and its dump must load back and dump to the same text (the format is a fixed point after one
 * round). Graphs whose every node is small (fz_small_graph) are also run, single-threaded:
 * planning, fusion and the kernels see every graph the loader accepts. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lp_ctx *run_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_load_dir();
    if (lp_ctx_create(&run_ctx) != LP_OK || lp_ctx_set_threads(run_ctx, 1) != LP_OK ||
        lp_ctx_set_chunk_bytes(run_ctx, 256) != LP_OK)
        abort();
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
        if (fz_small_graph(d1)) {
            lp_buffer **res = calloc((size_t)n, sizeof *res);
            if (!res) abort();
            if (lp_run(run_ctx, t, n, res) == LP_OK)
                for (int i = 0; i < n; i++) lp_buffer_release(res[i]);
            free(res);
        }
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
