/* w1 `a*b + c*2 - a` as the planner hands it to the VM, for the benchmarks that call the VM
 * directly (bench/vm_block.c, bench/stream2.c): inputs 0..2, constant 3 (2.0), temporaries
 * 4..7 (7 the output). */
#ifndef LAMPY_BENCH_VM_W1_H
#define LAMPY_BENCH_VM_W1_H

#include "kernels/kernels.h"

#include <string.h>

typedef struct {
    lp_dtype dt[8];
    lpi_raw k[1];
    lpi_instr ins[4];
    lpi_program p;
} bench_w1;

static inline void bench_w1_init(bench_w1 *w) {
    const double two = 2.0;
    memset(w, 0, sizeof *w);
    for (int i = 0; i < 8; i++) w->dt[i] = LP_FLOAT64;
    memcpy(&w->k[0], &two, 8);
    const lpi_instr ins[4] = {
        {LPI_OP_MULTIPLY, LP_FLOAT64, 2, 4, {0, 1, 0}},
        {LPI_OP_MULTIPLY, LP_FLOAT64, 2, 5, {2, 3, 0}},
        {LPI_OP_ADD, LP_FLOAT64, 2, 6, {4, 5, 0}},
        {LPI_OP_SUBTRACT, LP_FLOAT64, 2, 7, {6, 0, 0}},
    };
    memcpy(w->ins, ins, sizeof ins);
    const lpi_program p = {3, 1, 8, 4, 7, w->dt, w->k, w->ins};
    w->p = p;
}

#endif
