/* The `lampy eval` expression language: cli_parse and the evaluator's build step
 * (cli_expr_build) over the arrays of fz_load_dir() bound as a b c d e f x y. A built
 * expression must dump (lp_graph_dump); small ones are run (fz_run_if_small). */
#include "fuzz.h"
#include "../../cli/expr_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_load_dir();
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
        if (lp_graph_dump(ctx, &a, 1, &dump) == LP_OK) fz_run_if_small(&a, 1, dump);
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
