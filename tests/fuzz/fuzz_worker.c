/* The worker entry point, lp_worker_run_json (what the OpenLambda lambda and `lampy worker` run
 * for a POST /run body): decode, fetch the inputs, assemble operands, run the kernels, store the
 * outputs. Stores are confined to FZ_STORE (an in-process map holding the chunks the seed
 * batches read) and loads to FZ_LOAD_DIR. After each input the keys the batch could have written
 * are put back, so every input sees the same store. */
#include "fuzz.h"
#include "exec/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lpi_wire_limits lim;
static const char *const load_dirs[] = {FZ_LOAD_DIR, NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    /* read once, by the worker's first call */
    setenv("LAMPY_ALLOW_STORES", FZ_STORE, 1);
    setenv("LAMPY_LOAD_DIRS", FZ_LOAD_DIR, 1);
    fz_load_dir();
    fz_seed_store();
    lpi_wire_limits_default(&lim);
    lim.load_dirs = load_dirs;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *reply = NULL;
    int code = lp_worker_run_json((const char *)data, size, &reply);
    if (!reply || code < 200 || code > 599) {
        fprintf(stderr, "status %d, reply %s\n", code, reply ? reply : "(none)");
        abort();
    }
    if (getenv("FZ_VERBOSE")) fprintf(stderr, "%d %.300s\n", code, reply);
    lp_string_free(reply);
    /* a 4xx means the batch was refused before any task ran: nothing to put back (decoding
     * every input a second time was a large part of the harness's time) */
    if (code >= 400 && code < 500) return 0;
    /* the keys a decodable batch names as outputs (written or not) */
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    lpi_wire_batch *b = NULL;
    if (lpi_wire_decode(ctx, &lim, (const char *)data, size, &b) == LP_OK)
        for (int i = 0; i < b->ntasks; i++) fz_reset_key(b->outs[i].key);
    lpi_wire_batch_free(b);
    lp_ctx_destroy(ctx);
    return 0;
}
