/* Operand assembly: turn the pieces of producer chunks a task needs into one view. Shared by
 * the local executor (chunks in memory) and workers (chunks fetched from a store). */
#ifndef LP_ASSEMBLE_H
#define LP_ASSEMBLE_H

#include "plan/plan.h"

/* View of the whole chunk `chunk` of pnode `pn` given its data view (chunk_view) and box. */
/* piece_views[q] / piece_chunk_boxes[q]: the chunk holding piece q, and that chunk's box.
 * On return *out views the operand box; *tmp (free with lp_free_aligned) is set when the
 * pieces had to be copied together. */
lp_status lpi_assemble(lp_ctx *ctx, const lpi_operand *op, lp_dtype dt, const lpi_view *piece_views,
                       const lpi_box *piece_chunk_boxes, lpi_view *out, void **tmp);

/* A view of box `sub` inside a chunk view covering box `whole`. */
void lpi_subview(const lpi_view *chunk, const lpi_box *whole, const lpi_box *sub, lpi_view *out);
/* Copy chunk b (C-contiguous, box's extents, the result's dtype) to its box of result tb. */
void lpi_copy_into(lp_buffer *tb, const lpi_box *box, const lp_buffer *b);

#endif
