/* The task wire decoder (src/exec/wire_decode.c): lpi_wire_decode on the input, as a worker decodes a
 * POST /run body, with the default limits and load tasks confined to FZ_LOAD_DIR. What it
 * accepts must be what fuzz_worker.c can run without touching memory out of bounds; this harness
 * only decodes (fast), and checks the indices the executor will follow. */
#include "fuzz.h"
#include "exec/wire.h"

#include <stdio.h>
#include <stdlib.h>

static lpi_wire_limits lim;
static const char *const load_dirs[] = {FZ_LOAD_DIR, NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    fz_load_dir();
    lpi_wire_limits_default(&lim);
    lim.load_dirs = load_dirs;
    return 0;
}

static void bad(const char *what, int i) {
    fprintf(stderr, "accepted batch with %s (task or chunk %d)\n", what, i);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    lpi_wire_batch *b = NULL;
    if (lpi_wire_decode(ctx, &lim, (const char *)data, size, &b) == LP_OK) {
        for (int64_t c = 0; c < b->nchunks; c++) {
            const lpi_wire_chunk *ch = &b->chunks[c];
            if (ch->load >= 0 ? ch->load >= b->nnodes : ch->store < 0 || ch->store >= b->nstores) bad("a dangling chunk", (int)c);
        }
        for (int i = 0; i < b->ntasks; i++) {
            const lpi_task *t = &b->tasks[i];
            if (t->pnode < 0 || t->pnode >= b->nnodes) bad("a task of no node", i);
            if (b->outs[i].store < 0 || b->outs[i].store >= b->nstores) bad("an output in no store", i);
            for (int k = 0; k < t->nops; k++)
                for (int q = 0; q < t->ops[k].npieces; q++)
                    if (t->ops[k].pieces[q].chunk < 0 || t->ops[k].pieces[q].chunk >= b->nchunks) bad("a dangling piece", i);
        }
    } else if (!lp_last_error(ctx)[0]) {
        fprintf(stderr, "a failure without a message\n");
        abort();
    }
    lpi_wire_batch_free(b);
    lp_ctx_destroy(ctx);
    return 0;
}
