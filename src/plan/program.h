#ifndef LP_PROGRAM_H
#define LP_PROGRAM_H

#include "graph/graph.h"
#include "kernels/task.h"

/* Build the program computing graph node `root` inside fusion region `region`, followed by
 * casts to casts[0..ncasts). Program inputs are the pnodes (pnode_of[gid]) of the non-inlined
 * nodes it reads, returned in *inputs (register order). */
lp_status lpi_program_build(lp_ctx *ctx, lpi_arena *ar, const lpi_graph *g, const int *pnode_of, int root,
                            int region, const lp_dtype *casts, int ncasts, lpi_program **out,
                            int **inputs, int *ninputs);

#endif
