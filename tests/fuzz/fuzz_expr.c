/* The `lampy eval` expression language: cli_parse and the evaluator's build step
 * (cli_expr_build) over the arrays of fz_load_dir() bound as a b c d e f x y. A built
 * expression must dump (lp_graph_dump); small ones are run (fz_run_if_small). */
#include "fuzz.h"
#include "../../cli/expr_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fz_names nm;
static cli_binding b[8];

/* The names are loaded once (reading eight .npy headers took most of an input's time); a name
 * that an input ran as its target holds a result afterwards, and is loaded again, so every
 * input sees the same lazily loaded arrays. */
static void load_names(lp_ctx *ctx) {
    for (int i = 0; i < 8; i++)
        if (!nm.arr[i] || lp_array_result(nm.arr[i])) {
            lp_array *a = fz_name_load(ctx, i);
            lp_array_release(nm.arr[i]);
            nm.arr[i] = a;
            nm.name[i] = fz_name(i);
            b[i] = (cli_binding){nm.name[i], nm.arr[i]};
        }
    nm.n = 8;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_load_dir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = fz_cstr(data, size);
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    load_names(ctx);
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
    lp_ctx_destroy(ctx);
    free(src);
    return 0;
}
