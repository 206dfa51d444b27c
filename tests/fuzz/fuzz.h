/* What the libFuzzer harnesses of tests/fuzz share (docs/SECURITY.md, "Fuzzing").
 *
 * Each harness is one file with LLVMFuzzerTestOneInput (and, when it needs process-level setup,
 * LLVMFuzzerInitialize). `make fuzz` links them with libFuzzer's driver; `make test` runs the
 * same binaries on every file of corpus/<target>/ and regressions/<target>/.
 *
 * Seeds name absolute paths (load tasks, graph dumps), so the .npy files they read live at a
 * fixed place, FZ_LOAD_DIR, which fz_load_dir() (re)creates with deterministic contents. */
#ifndef LAMPY_FUZZ_H
#define LAMPY_FUZZ_H

#include "lampy.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define FZ_ROOT "/tmp/lampy-fuzz"
#define FZ_LOAD_DIR FZ_ROOT "/load"
/* The store wire and worker seeds name; fz_seed_store() fills it with the chunks they read. */
#define FZ_STORE "mem://fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A malloc'd NUL-terminated copy of the input (parsers take C strings). Aborts when out of memory. */
char *fz_cstr(const uint8_t *data, size_t size);

/* FZ_LOAD_DIR with its .npy files (written atomically, so concurrent harnesses agree). The
 * arrays, by file name: a, b (8x6 float64), c (8 int64), d (6 float32), f (8x6 float32,
 * Fortran order), e (8x6 float64 big-endian), x (40x3 float64), y (40 int64 labels 0..2).
 * Aborts on failure: a harness without its data would fuzz nothing. The first call also keeps
 * the process off the network: URL requests go to a loopback proxy address where nothing
 * listens, once (no DNS lookups, no retries). Every harness calls it first. */
const char *fz_load_dir(void);

/* A private directory below /tmp, removed with its contents at exit. */
const char *fz_tmpdir(const char *tag);
/* Remove everything below dir (not dir itself). */
void fz_empty_dir(const char *dir);

/* FZ_STORE, open for the life of the process and holding the chunks that the seed batches
 * read (tests/fuzz/data/chunks.bin, written by gen_seeds). */
lpi_store *fz_seed_store(void);
/* After a batch that may have written `key`: put back the seed chunk stored under it, or
 * delete what the batch left there (so every input sees the same store). */
void fz_reset_key(const char *key);

/* Run the targets when their graph (`dump`, lp_graph_dump's text) is cheap: few nodes, each of
 * at most 4096 elements (256 for a matmul, whose cost grows with its inner dimension). One
 * thread, 256-byte chunks (many tasks, pieces and combine levels), errors allowed. Harnesses run
 * such graphs so that planning, fusion and the kernels see what the parsers accept. */
void fz_run_if_small(lp_array *const *targets, int n, const char *dump);

/* Names bound in expression seeds: the arrays of fz_load_dir() (a new reference each). */
typedef struct fz_names {
    int n;
    const char *name[8];
    lp_array *arr[8];
} fz_names;
void fz_names_load(lp_ctx *ctx, fz_names *out);
/* Name i (0..7) and a new reference to its array, loaded now. */
const char *fz_name(int i);
lp_array *fz_name_load(lp_ctx *ctx, int i);
void fz_names_release(fz_names *nm);

#endif
