/* JSON building blocks shared by every format Lampy reads and writes (graph files, plan dumps,
 * the task wire, machine profiles): jansson values, bit-exact floats, and getters that validate
 * what they read and report failures as "WHERE: what is wrong", where WHERE is the caller's
 * location string ("node 7 (add)", "task 12 operand 0"). */
#ifndef LP_CORE_JSON_H
#define LP_CORE_JSON_H

#include <jansson.h>

#include "core/core.h"

/* "node 7 (add)" etc.: a location prefixed to messages. */
#define LPI_WHERE_MAX 192

/* ---- values ---- */

/* A float as the shortest decimal string that reads back to the same double ("0.1", "-0",
 * "1e+300"), or "nan" / "inf" / "-inf". JSON numbers cannot hold the last three, and strings
 * keep every float bit-exact through any JSON library. NULL on OOM. */
json_t *lpi_json_float(double v);
/* Accepts such a string (also C99 hex floats) or a JSON number. */
bool lpi_json_get_float(const json_t *j, double *out);
/* One element of dtype dt at p as JSON (bool, integer, bit-exact float; a uint64 above
 * INT64_MAX as a string of its decimal digits, which JSON integers here cannot hold), and back:
 * false if j is not a value of dt's kind or does not fit dt. */
json_t *lpi_json_elem(lp_dtype dt, const void *p);
bool lpi_json_elem_get(lp_dtype dt, const json_t *j, void *p);
json_t *lpi_json_ints(int n, const int64_t *v);  /* [1, 2, 3] */

/* "WHERE: missing key 'KEY'" on ctx; returns LP_ERR_FORMAT. */
lp_status lpi_json_missing(lp_ctx *ctx, const char *where, const char *key);
/* Typed getters: on failure they record "WHERE: 'key' ..." on ctx and return the status. A
 * missing key is an error unless `opt` (then *out is left alone and LP_OK returned). */
lp_status lpi_json_int(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                       int64_t lo, int64_t hi, int64_t *out);
lp_status lpi_json_bool(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                        bool *out);
lp_status lpi_json_flt(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                       double *out);
/* A string; *out borrowed from obj. */
lp_status lpi_json_str(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                       const char **out);
lp_status lpi_json_dtype(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, lp_dtype *out);
/* An array of at most `max` integers in [lo, hi]. */
lp_status lpi_json_int_list(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, bool opt,
                            int max, int64_t lo, int64_t hi, int *n, int64_t *out);
/* A shape: at most LP_MAX_NDIM non-negative integers whose product fits. */
lp_status lpi_json_shape(lp_ctx *ctx, const char *where, const json_t *obj, const char *key, int *ndim,
                         int64_t *shape);
/* obj is an object with no key outside `allowed` (NULL-terminated); `what` names the object in
 * the message ("attribute", "key"). */
lp_status lpi_json_only_keys(lp_ctx *ctx, const char *where, const json_t *obj, const char *const *allowed,
                             const char *what);

/* Text of a JSON document with the elements of the arrays named in `list_keys` one per line
 * (readable, diffable, still compact). NULL on OOM; free with free(). */
char *lpi_json_dump_lines(const json_t *top, const char *const *list_keys);

#endif
