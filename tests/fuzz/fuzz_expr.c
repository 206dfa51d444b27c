/* The `lampy eval` expression language: cli_parse and the evaluator's build step
 * (cli_expr_build) over the arrays of fz_load_dir() bound as a b c d e f x y. A built
 * expression must dump (lp_graph_dump); small ones (fz_small_graph) are run, single-threaded. */
#include "fuzz.h"
#include "../../cli/expr_parse.h"

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
    char *src = fz_cstr(data, size);
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    /* fresh names per input: a run stores results on its targets, which may be a name */
    fz_names nm;
    fz_names_load(ctx, &nm);
    cli_binding b[8];
    for (int i = 0; i < nm.n; i++) b[i] = (cli_binding){nm.name[i], nm.arr[i]};
    char err[512];
    lp_array *a = NULL;
    if (cli_expr_build(ctx, src, b, nm.n, &a, err, sizeof err) == LP_OK) {
        char *dump = NULL;
        /* in-memory data of over 64 elements (a long list literal) does not dump: fine */
        if (lp_graph_dump(ctx, &a, 1, &dump) == LP_OK && fz_small_graph(dump)) {
            lp_buffer *r = NULL;
            if (lp_run(run_ctx, &a, 1, &r) == LP_OK) lp_buffer_release(r);
        }
        lp_string_free(dump);
        lp_array_release(a);
    } else if (!err[0]) {
        fprintf(stderr, "a failure without a message\n");
        abort();
    }
    fz_names_release(&nm);
    lp_ctx_destroy(ctx);
    free(src);
    return 0;
}
