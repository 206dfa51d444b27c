/* The cost model (see cost.h) and the machine profile: built-in defaults, JSON load/save in the
 * XDG config directory, lp_estimate.
 *
 * A task's time is   overhead + file read + max(compute, memory traffic) + fresh-page writes:
 * file reads (pread from the page cache) precede the compute in a task; streaming memory
 * traffic overlaps with compute (roofline); first-touch page faults of result buffers do not.
 * Bandwidth is shared: with `a` active workers a core gets min(bw1, bw / a). */
#include "plan/cost.h"
#include "plan/serialize.h"
#include "kernels/kernels.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- profiles ---- */

/* The last-level cache of cpu0 from sysfs (the largest "Unified"/"Data" level). */
static double llc_size(void) {
    double best = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            double v = strtod(buf, &end);
            if (*end == 'K') v *= 1024;
            else if (*end == 'M') v *= 1024 * 1024;
            if (v > best) best = v;
        }
        fclose(f);
    }
    return best > 0 ? best : 8 << 20;
}

void lpi_profile_copy_remote(lpi_profile *dst, const lpi_profile *src) {
    dst->net_bw = src->net_bw;
    dst->put_bw = src->put_bw;
    dst->rtt = src->rtt;
    dst->invoke = src->invoke;
    dst->remote_par = src->remote_par;
    dst->remote_over_par = src->remote_over_par;
    dst->orch_run_s = src->orch_run_s;
    dst->orch_task_s = src->orch_task_s;
    dst->orch_lambda_s = src->orch_lambda_s;
    dst->orch_input_s = src->orch_input_s;
    dst->remote_load_bw = src->remote_load_bw;
    dst->remote_write_bw = src->remote_write_bw;
    dst->drv_run_s = src->drv_run_s;
    dst->drv_task_s = src->drv_task_s;
    dst->remote_first_s = src->remote_first_s;
    dst->remote_calibrated = src->remote_calibrated;
}

void lpi_profile_scale_cores(lpi_profile *p, double k) {
    p->task_overhead *= k;
    p->axis_row_s *= k;
    for (int i = 0; i < LPI_OP_COUNT; i++) {
        p->op_s[i] *= k;
        p->axis_s[i] *= k;
    }
    for (int i = 0; i < LPI_CC_COUNT; i++) p->rate[i] /= k;
    for (int i = 0; i < 3; i++) {
        p->mem_bw1[i] /= k;
        p->mem_bw[i] /= k;
    }
    p->cache_bw1 /= k;
}

void lpi_profile_pin_chunks(lpi_profile *p) {
    lpi_profile def;
    lpi_profile_default(&def);
    p->chunk_bytes = def.chunk_bytes;
}

int64_t lpi_cost_chunk_bytes(const lpi_profile *pr, int64_t total_bytes) {
    int64_t t = total_bytes / 16;
    if (t <= LPI_CHUNK_MIN) return LPI_CHUNK_MIN;
    int64_t cap = pr && pr->chunk_bytes >= (double)LPI_CHUNK_MIN ? (int64_t)fmin(pr->chunk_bytes, (double)LPI_CHUNK_MAX)
                                                                 : (int64_t)16 << 20;
    return t < cap ? t : cap;
}

void lpi_profile_default(lpi_profile *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->machine, sizeof p->machine, "built-in defaults (run `lampy calibrate`)");
    p->cores = lpi_ncores();
    p->task_overhead = 4e-6;
    p->run_overhead = 40e-6;
    for (int k = 0; k < 3; k++) {
        p->mem_bw1[k] = 12e9 / (1 + 0.5 * k);
        p->mem_bw[k] = 20e9 / (1 + 0.5 * k);
    }
    p->axis_row_s = 1e-9;
    p->write_factor = 2;
    p->cache_bw1 = 30e9;
    p->llc_bytes = llc_size();
    p->load_bw1 = 8e9;
    p->load_bw = 5e9;
    p->fresh_bw1 = 6e9;
    p->fresh_bw = 3e9;
    p->rate[LPI_CC_ARITH] = 2e9;
    p->rate[LPI_CC_MATH] = 2e9;
    p->rate[LPI_CC_REDUCE] = 3e9;
    p->rate[LPI_CC_REDUCE_AXIS] = 0.5e9;
    p->rate[LPI_CC_GEN] = 2e9;
    p->rate[LPI_CC_BLAS] = 30e9;
    /* remote: guesses for a fleet behind a network until `lampy calibrate --executor lambda` */
    p->net_bw = 100e6;
    p->put_bw = 100e6;
    p->rtt = 1e-3;
    p->invoke = 20e-3;
    p->remote_par = 1024;
    p->remote_over_par = 64;
    p->orch_run_s = 50e-3;
    p->orch_task_s = 2e-3;
    p->orch_lambda_s = 1e-3;
    p->orch_input_s = 1e-3;
    p->drv_run_s = 20e-3;
    p->drv_task_s = 200e-6;
    p->remote_first_s = 5e-3;
    /* saving into a file: a page-cache copy, a disk behind it */
    p->file_write_bw = 2e9;
    p->file_sync_bw = 200e6;
    p->file_commit_s = 10e-3;
    p->file_drop_bw = 4e9;
    /* the choices made before the probe existed (issue 16) */
    p->chunk_bytes = 16 << 20;
    p->huge_pages = true;
    p->nt_stores = true;
}

typedef struct pfield {
    const char *key;
    size_t off;
} pfield;

#define PF(k, f) {k, offsetof(lpi_profile, f)}
static const pfield PFIELDS[] = {
    PF("task_overhead_s", task_overhead), PF("run_overhead_s", run_overhead),
    PF("mem_bw_1core_1stream", mem_bw1[0]), PF("mem_bw_1core_2streams", mem_bw1[1]),
    PF("mem_bw_1core_3streams", mem_bw1[2]), PF("mem_bw_1stream", mem_bw[0]), PF("mem_bw_2streams", mem_bw[1]),
    PF("mem_bw_3streams", mem_bw[2]), PF("write_factor", write_factor), PF("axis_row_s", axis_row_s),
    PF("cache_bw_1core", cache_bw1), PF("llc_bytes", llc_bytes),
    PF("load_bw_1worker", load_bw1), PF("load_bw_per_worker", load_bw),
    PF("fresh_bw_1worker", fresh_bw1), PF("fresh_bw_per_worker", fresh_bw),
    PF("flops_arith", rate[LPI_CC_ARITH]), PF("flops_math", rate[LPI_CC_MATH]),
    PF("flops_reduce", rate[LPI_CC_REDUCE]), PF("flops_reduce_axis", rate[LPI_CC_REDUCE_AXIS]),
    PF("flops_gen", rate[LPI_CC_GEN]), PF("flops_blas", rate[LPI_CC_BLAS]),
    PF("net_bw", net_bw), PF("rtt_s", rtt), PF("invoke_s", invoke),
    /* version 2 */
    PF("store_put_bw", put_bw), PF("remote_parallelism", remote_par), PF("remote_overhead_parallelism", remote_over_par),
    PF("orch_run_s", orch_run_s),
    PF("orch_task_s", orch_task_s), PF("driver_run_s", drv_run_s), PF("driver_task_s", drv_task_s),
    /* version 3 */
    PF("chunk_bytes", chunk_bytes),
    /* version 4 */
    PF("file_write_bw", file_write_bw), PF("file_sync_bw", file_sync_bw), PF("file_commit_s", file_commit_s),
    PF("remote_first_s", remote_first_s), PF("orch_lambda_s", orch_lambda_s),
    /* version 5 */
    PF("file_drop_bw", file_drop_bw),
    /* version 6 */
    PF("orch_input_s", orch_input_s),
    /* version 7 (written only once measured: 0 is "not measured") */
    PF("remote_load_bw", remote_load_bw),
    /* version 8 (written only once measured) */
    PF("remote_write_bw", remote_write_bw),
};
/* 2: the remote fields after invoke_s; 3: the probe's chunk_bytes, huge_pages, nt_stores, probed;
 * 4: saving into files (file_write_bw, file_sync_bw, file_commit_s), remote_first_s, orch_lambda_s;
 * 5: file_drop_bw (replacing a file); file_write_bw measured with concurrent chunk writers, and
 * fresh_bw (all workers faulting at once) measured directly.
 * 6: orch_input_s (each function of an orchestrated run opening the run's file inputs).
 * 7: remote_load_bw (the workers' reads of file inputs, measured through them); absent, the
 * local load_bw1 prices those reads as before.
 * 8: remote_write_bw (the tasks' writes into a result sink's file, measured through the workers
 * while the other lambdas compute: the local file_write_bw, one writer's best with the machine
 * otherwise idle, priced each 8 MiB write of a 128 MiB result at 1.7 ms where they took a median
 * 6.5-23 ms, docs/PERFORMANCE.md, est12g; the simulation now lets one task at a time write into
 * a file); absent, file_write_bw prices them.
 * Older files load with the defaults of the fields they lack. */
#define PROFILE_VERSION 8

typedef struct bfield {
    const char *key;
    size_t off;
} bfield;
static const bfield BFIELDS[] = {
    {"calibrated", offsetof(lpi_profile, calibrated)}, {"remote_calibrated", offsetof(lpi_profile, remote_calibrated)},
    {"probed", offsetof(lpi_profile, probed)},         {"huge_pages", offsetof(lpi_profile, huge_pages)},
    {"nt_stores", offsetof(lpi_profile, nt_stores)},
};
#define NBFIELDS ((int)(sizeof BFIELDS / sizeof BFIELDS[0]))
#define NPFIELDS ((int)(sizeof PFIELDS / sizeof PFIELDS[0]))

char *lpi_profile_to_json_text(const lpi_profile *p) {
    json_t *o = json_object();
    int r = !o;
    if (o) {
        r |= json_object_set_new(o, "format", json_string("lampy.profile"));
        r |= json_object_set_new(o, "version", json_integer(PROFILE_VERSION));
        r |= json_object_set_new(o, "machine", json_string(p->machine));
        r |= json_object_set_new(o, "cores", json_integer(p->cores));
        for (int i = 0; i < NBFIELDS; i++)
            r |= json_object_set_new(o, BFIELDS[i].key, json_boolean(*(const bool *)((const char *)p + BFIELDS[i].off)));
        for (int i = 0; i < NPFIELDS; i++) {
            double d = *(const double *)((const char *)p + PFIELDS[i].off);
            if (d == 0 && (!strcmp(PFIELDS[i].key, "remote_load_bw") || !strcmp(PFIELDS[i].key, "remote_write_bw")))
                continue; /* not measured */
            /* a byte count is written exactly (6 significant digits would not round-trip it) */
            bool bytes = !strcmp(PFIELDS[i].key, "chunk_bytes");
            r |= json_object_set_new(o, PFIELDS[i].key, bytes ? json_integer((json_int_t)d) : json_real(d));
        }
        json_t *ops = json_object(), *axis = json_object();
        for (int k = 0; k < LPI_OP_COUNT && ops && axis; k++) {
            if (p->op_s[k] > 0) r |= json_object_set_new(ops, lpi_ops[k].name, json_real(p->op_s[k]));
            if (p->axis_s[k] > 0) r |= json_object_set_new(axis, lpi_ops[k].name, json_real(p->axis_s[k]));
        }
        r |= json_object_set_new(o, "op_seconds", ops);
        r |= json_object_set_new(o, "axis_reduce_seconds", axis);
    }
    char *s = r ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}

static const bfield *bool_field(const char *key) {
    for (int i = 0; i < NBFIELDS; i++)
        if (!strcmp(BFIELDS[i].key, key)) return &BFIELDS[i];
    return NULL;
}

lp_status lpi_profile_from_json_text(lp_ctx *ctx, const char *where, const char *text, lpi_profile *out) {
    json_error_t err;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!o) return lpi_error(ctx, LP_ERR_FORMAT, "%s: invalid JSON at line %d: %s", where, err.line, err.text);
    lpi_profile p;
    lpi_profile_default(&p);
    lp_status st = LP_OK;
    const char *key;
    json_t *v;
    if (!json_is_object(o)) st = lpi_error(ctx, LP_ERR_FORMAT, "%s: a profile is a JSON object", where);
    else json_object_foreach(o, key, v) {
        if (!strcmp(key, "format")) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "lampy.profile"))
                st = lpi_error(ctx, LP_ERR_FORMAT, "%s: not a Lampy profile", where);
        } else if (!strcmp(key, "version")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > PROFILE_VERSION)
                st = lpi_error(ctx, LP_ERR_FORMAT, "%s: unsupported profile version", where);
        } else if (!strcmp(key, "machine")) {
            if (!json_is_string(v)) st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'machine' must be a string", where);
            else snprintf(p.machine, sizeof p.machine, "%s", json_string_value(v));
        } else if (!strcmp(key, "cores")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4096)
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'cores' must be an integer in 1..4096", where);
            else p.cores = (int)json_integer_value(v);
        } else if (bool_field(key)) {
            if (!json_is_boolean(v)) st = lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be true or false", where, key);
            else *(bool *)((char *)&p + bool_field(key)->off) = json_is_true(v);
        } else if (!strcmp(key, "op_seconds") || !strcmp(key, "axis_reduce_seconds")) {
            /* per-op times: ops this build does not know are skipped (profiles are advice) */
            double *tab = !strcmp(key, "op_seconds") ? p.op_s : p.axis_s;
            const char *name;
            json_t *x;
            if (!json_is_object(v)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: '%s' must be an object", where, key); break; }
            json_object_foreach(v, name, x) {
                lpi_op op;
                double d = json_is_number(x) ? json_number_value(x) : NAN;
                if (!(d > 0) || !isfinite(d) || d > 1) {
                    st = lpi_error(ctx, LP_ERR_VALUE, "%s: %s['%.40s'] must be a positive number of seconds", where, key, name);
                    break;
                }
                if (lpi_op_lookup(name, &op)) tab[op] = d;
            }
        } else {
            int i = 0;
            while (i < NPFIELDS && strcmp(PFIELDS[i].key, key)) i++;
            if (i == NPFIELDS) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: unknown key '%.40s'", where, key); break; }
            double d = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(d > 0) || !isfinite(d)) {
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: '%s' must be a positive number", where, key);
                break;
            }
            if (!strcmp(key, "chunk_bytes") && (d < (double)LPI_CHUNK_MIN || d > (double)LPI_CHUNK_MAX)) {
                st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'chunk_bytes' must be in %lld..%lld", where,
                               (long long)LPI_CHUNK_MIN, (long long)LPI_CHUNK_MAX);
                break;
            }
            *(double *)((char *)&p + PFIELDS[i].off) = d;
        }
        if (st) break;
    }
    json_decref(o);
    if (!st) *out = p;
    return st;
}

lp_status lp_profile_path(char *buf, size_t cap) {
    const char *env = getenv("LAMPY_PROFILE");
    int n;
    if (env && *env) n = snprintf(buf, cap, "%s", env);
    else {
        const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        if (x && *x == '/') n = snprintf(buf, cap, "%s/lampy/profile.json", x);
        else if (home && *home) n = snprintf(buf, cap, "%s/.config/lampy/profile.json", home);
        else return LP_ERR_NOTFOUND;
    }
    return n < 0 || (size_t)n >= cap ? LP_ERR_LIMIT : LP_OK;
}

static char *read_text(const char *path, size_t max, int *err) {
    FILE *f = fopen(path, "rb");
    if (!f) { *err = errno; return NULL; }
    char *s = malloc(max + 1);
    size_t n = s ? fread(s, 1, max + 1, f) : 0;
    fclose(f);
    if (!s || n > max) { free(s); *err = s ? EFBIG : ENOMEM; return NULL; }
    s[n] = 0;
    return s;
}

/* The context's own profile lives in its LPI_SLOT_PROFILE (NULL until set or loaded). */
static void profile_destroy(void *p) { lp_free(p); }

lp_status lpi_profile_set(lp_ctx *ctx, const lpi_profile *p) {
    lpi_profile *q = lpi_ctx_slot(ctx, LPI_SLOT_PROFILE);
    if (!q) {
        if (!(q = lp_malloc(sizeof *q))) return lpi_nomem(ctx);
        lpi_ctx_set_slot(ctx, LPI_SLOT_PROFILE, q, profile_destroy);
    }
    *q = *p;
    /* what the kernels choose is a fact about the machine: process-wide */
    lpi_alloc_set_huge(p->huge_pages);
    lpi_vm_set_stream(p->nt_stores);
    return LP_OK;
}

lp_status lp_profile_load(lp_ctx *ctx, const char *path) {
    char def[4096];
    if (!path) {
        if (lp_profile_path(def, sizeof def)) return lpi_error(ctx, LP_ERR_NOTFOUND, "no profile location (set HOME or LAMPY_PROFILE)");
        path = def;
    }
    int err = 0;
    char *text = read_text(path, 1 << 20, &err);
    if (!text) return lpi_error(ctx, err == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO, "%s: %s", path, strerror(err));
    lpi_profile p;
    lp_status st = lpi_profile_from_json_text(ctx, path, text, &p);
    free(text);
    if (st) return st;
    return lpi_profile_set(ctx, &p);
}

static lpi_profile builtin_profile;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static void init_builtin(void) { lpi_profile_default(&builtin_profile); }

const lpi_profile *lpi_profile_get(lp_ctx *ctx) {
    const lpi_profile *own = lpi_ctx_slot(ctx, LPI_SLOT_PROFILE);
    if (own) return own;
    char path[4096];
    if (!lp_profile_path(path, sizeof path)) {
        int err;
        char *text = read_text(path, 1 << 20, &err);
        lpi_profile p;
        /* a broken profile file must not break runs: fall back to the defaults, keep the
         * context's error slot as it was */
        if (text) {
            char keep[LPI_ERRMSG_MAX];
            lp_status ks = ctx->last_status;
            snprintf(keep, sizeof keep, "%s", ctx->errmsg);
            if (!lpi_profile_from_json_text(ctx, path, text, &p)) lpi_profile_set(ctx, &p);
            ctx->last_status = ks;
            snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", keep);
            free(text);
            if ((own = lpi_ctx_slot(ctx, LPI_SLOT_PROFILE))) return own;
        }
    }
    pthread_once(&builtin_once, init_builtin);
    return &builtin_profile;
}

static _Atomic(lpi_profile_prober) prober;
void lpi_set_profile_prober(lpi_profile_prober fn) { atomic_store(&prober, fn); }

const lpi_profile *lpi_profile_planning(lp_ctx *ctx) {
    const lpi_profile *p = lpi_profile_get(ctx);
    lpi_profile_prober fn = atomic_load(&prober);
    const char *env = getenv("LAMPY_PROFILE");
    char path[4096];
    /* a profile was found or set, or the user named one (even a missing file: the built-in
     * figures, as the test suite asks), or there is nowhere to cache a probe */
    if (lpi_ctx_slot(ctx, LPI_SLOT_PROFILE) || !fn || (env && *env) || lp_profile_path(path, sizeof path)) return p;
    lpi_profile q;
    if (fn(ctx, &q) || lpi_profile_set(ctx, &q)) return p;
    return lpi_ctx_slot(ctx, LPI_SLOT_PROFILE);
}

lp_status lp_profile_save(lp_ctx *ctx, const char *path) {
    char def[4096];
    if (!path) {
        if (lp_profile_path(def, sizeof def)) return lpi_error(ctx, LP_ERR_NOTFOUND, "no profile location (set HOME or LAMPY_PROFILE)");
        path = def;
        /* mkdir -p of the directory */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        for (char *s = dir + 1; *s; s++) {
            if (*s != '/') continue;
            *s = 0;
            if (mkdir(dir, 0755) && errno != EEXIST) return lpi_error(ctx, LP_ERR_IO, "%s: %s", dir, strerror(errno));
            *s = '/';
        }
    }
    char *text = lpi_profile_to_json_text(lpi_profile_get(ctx));
    if (!text) return lpi_nomem(ctx);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    lp_status st = LP_OK;
    if (!f) st = lpi_error(ctx, errno == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO, "%s: %s", path, strerror(errno));
    else {
        bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        ok &= fclose(f) == 0;
        if (!ok || rename(tmp, path)) { st = lpi_error(ctx, LP_ERR_IO, "%s: %s", path, strerror(errno)); unlink(tmp); }
    }
    free(text);
    return st;
}

lp_status lp_profile_dump(lp_ctx *ctx, char **json_out) {
    *json_out = lpi_profile_to_json_text(lpi_profile_get(ctx));
    return *json_out ? LP_OK : lpi_nomem(ctx);
}

/* ---- per task ---- */


static lpi_cost_class op_class(lpi_op op) {
    lpi_opkind k = lpi_ops[op].kind;
    if (k == LP_OPK_LINALG) return LPI_CC_BLAS;
    if (k == LP_OPK_REDUCE) return LPI_CC_REDUCE;
    if (k == LP_OPK_SOURCE) return LPI_CC_GEN;
    return lpi_ops[op].flops >= 15 ? LPI_CC_MATH : LPI_CC_ARITH;
}

/* flops per element of a program, by class (casts and moves count a quarter flop), and its
 * seconds per element on one core: the calibrated cost of each op's loop where known */
static double program_cost(const lpi_profile *pr, const lpi_program *p, double *f) {
    double s = 0;
    for (int i = 0; i < p->ninstr; i++) {
        lpi_op op = (lpi_op)p->ins[i].op;
        double c = lpi_ops[op].flops > 0 ? lpi_ops[op].flops : 0.25;
        lpi_cost_class k = op_class(op);
        f[k] += c;
        s += pr->op_s[op] > 0 ? pr->op_s[op] : c / pr->rate[k];
    }
    return s;
}

static double box_bytes(const lpi_box *b, lp_dtype dt) { return (double)lpi_box_size(b) * (double)lp_dtype_size(dt); }

/* Bytes and flops of a task. Chunks a task reads or writes count as cache traffic when the
 * task's working set, times the workers sharing the last-level cache, fits in half of it
 * (producer and consumer run back to back: the planner's depth-first priorities); data that
 * existed before the run, page-cache reads, results and spilled chunks count as DRAM traffic. */
void lpi_task_cost_of(const lpi_plan *pl, int64_t ti, const lpi_profile *pr, int active, lpi_task_cost *c) {
    const lpi_task *t = &pl->tasks[ti];
    const lpi_pnode *p = &pl->pnodes[t->pnode];
    memset(c, 0, sizeof *c);
    if (active < 1) active = 1;
    const double budget = pr->llc_bytes / 2 / active;
    const double isz = (double)lp_dtype_size(p->dtype);
    const double nbox = (double)lpi_box_size(&t->box);
    /* output */
    double out;
    bool states = p->red && !p->final;
    if (states) out = (double)t->pelems * p->red->nfields * 8;
    else if (p->kernel == LPI_K_PARTIAL || p->kernel == LPI_K_COMBINE) {
        lpi_box cb;
        lpi_grid_chunk_box(&p->grid, t->chunk, &cb);
        out = box_bytes(&cb, p->dtype);
    } else out = nbox * isz;
    /* operands */
    double in = 0;
    for (int k = 0; k < t->nops; k++) {
        const lpi_pnode *q = &pl->pnodes[t->ops[k].pnode];
        in += q->red && !q->final ? (double)t->pelems * q->red->nfields * 8 : box_bytes(&t->ops[k].box, q->dtype);
    }
    c->bytes_in = in;
    c->bytes_out = out;
    const bool fits = (in + out) <= budget;
    for (int k = 0; k < t->nops; k++) {
        const lpi_operand *op = &t->ops[k];
        const lpi_pnode *q = &pl->pnodes[op->pnode];
        double b = q->red && !q->final ? (double)t->pelems * q->red->nfields * 8 : box_bytes(&op->box, q->dtype);
        bool cached = q->kernel != LPI_K_NONE && fits;
        if (cached) c->bytes_cache += b;
        else { c->bytes_dram += b; c->dram_streams++; }
        /* several pieces: reassembled by a copy into a temporary */
        if (op->npieces > 1) {
            if (2 * b <= budget) c->bytes_cache += 2 * b;
            else { c->bytes_dram += b; c->bytes_dram_w += b; }
        }
    }
    /* where the output goes: a result buffer (fresh pages), or a chunk its consumer reads
     * soon (in cache when it and a partner chunk fit) */
    bool target = p->target >= 0 && !states;
    if (target) { c->bytes_dram_w += out; c->bytes_fresh = out; }
    else if (2 * out <= budget) c->bytes_cache += out;
    else c->bytes_dram_w += out;
    /* intermediate chunks come back from the buffer cache (core/buffer.c) after the first few:
     * no first-touch faults for them */
    double fl[LPI_CC_COUNT] = {0}, per = 0;
    /* the instructions that read the operands: about one copy-like instruction per stream */
    {
        double per_instr = pr->op_s[LPI_OP_ASTYPE] > 0 ? pr->op_s[LPI_OP_ASTYPE] : 0.25 / pr->rate[LPI_CC_ARITH];
        double elems = p->kernel == LPI_K_PARTIAL ? nbox : (double)lpi_box_size(&t->box);
        c->overlap_s = per_instr * elems * (c->dram_streams > 0 ? c->dram_streams : 1);
    }
    switch (p->kernel) {
    case LPI_K_GEN:
        c->flops[LPI_CC_GEN] = lpi_ops[p->op].flops * nbox;
        c->compute_s = nbox * (pr->op_s[p->op] > 0 ? pr->op_s[p->op] : (lpi_ops[p->op].flops + 0.25) / pr->rate[LPI_CC_GEN]);
        break;
    case LPI_K_LOAD:
        /* the calibrated load rate covers the copy and its memory traffic */
        c->bytes_load = nbox * isz;
        c->bytes_dram_w = c->bytes_cache = 0;
        break;
    case LPI_K_MAP:
        if (p->prog) {
            per = program_cost(pr, p->prog, fl);
            for (int k = 0; k < LPI_CC_COUNT; k++) c->flops[k] = fl[k] * nbox;
            c->compute_s = per * nbox;
        } else {
            lpi_cost_class k = op_class(p->op);
            c->flops[k] = lpi_ops[p->op].flops * nbox + 2 * in / 8;
            c->compute_s = c->flops[k] / pr->rate[k];
        }
        break;
    case LPI_K_PARTIAL:
        if (p->prog) {
            per = program_cost(pr, p->prog, fl);
            for (int k = 0; k < LPI_CC_COUNT; k++) c->flops[k] = fl[k] * nbox;
            c->compute_s = per * nbox;
        }
        if (p->red) {
            int last = p->red->in_ndim - 1;
            bool axis = last >= 0 && !(p->red->axes & (1u << last)) && p->red->axes;
            lpi_cost_class k = axis ? LPI_CC_REDUCE_AXIS : LPI_CC_REDUCE;
            double f = lpi_ops[p->op].flops * nbox, ms = axis ? pr->axis_s[p->op] : pr->op_s[p->op];
            c->flops[k] += f;
            c->compute_s += ms > 0 ? ms * nbox : f / pr->rate[k];
            if (axis) {
                /* per row of the kept innermost axes: the fold's loop overhead */
                double inner = 1;
                for (int i = p->red->in_ndim - 1; i >= 0 && !(p->red->axes & (1u << i)); i--)
                    inner *= (double)(t->box.hi[i] - t->box.lo[i]);
                if (inner > 0) c->compute_s += pr->axis_row_s * (nbox / inner - nbox / 16);
            }
        } else {
            /* family kernels without a program: their registry coefficient per row of the
             * first operand, plus a multiply-add per element read */
            double rows = t->nops && t->ops[0].box.ndim ? (double)(t->ops[0].box.hi[0] - t->ops[0].box.lo[0]) : 1;
            lpi_cost_class k = op_class(p->op);
            c->flops[k] += lpi_ops[p->op].flops * rows + 2 * in / 8;
            c->compute_s += c->flops[k] / pr->rate[k];
        }
        break;
    case LPI_K_COMBINE:
        c->flops[LPI_CC_REDUCE] = in / 8;
        c->compute_s = c->flops[LPI_CC_REDUCE] / pr->rate[LPI_CC_REDUCE];
        break;
    case LPI_K_COPY: case LPI_K_RESHAPE: break;
    case LPI_K_MATMUL: {
        /* 2 flops per multiply-add: output block x the contraction of its k-pieces (operands
         * come as (A_s, B_s) pairs; a syrk diagonal block has only A_s and half the work) */
        const lpi_linalg_params *l = p->la;
        double kext = 0;
        const lpi_box *ob = &t->box;
        int nd = ob->ndim;
        bool diag = l && l->syrk && nd >= 2 && ob->lo[nd - 2] == ob->lo[nd - 1] && ob->hi[nd - 2] == ob->hi[nd - 1];
        int step = diag ? 1 : 2;
        for (int k = 0; k < t->nops; k += step) {
            const lpi_box *b = &t->ops[k].box;
            int ax = !l || l->a_ndim == 1 ? b->ndim - 1 : (l->flags & LPI_MM_TA) ? b->ndim - 2 : b->ndim - 1;
            if (ax >= 0) kext += (double)(b->hi[ax] - b->lo[ax]);
        }
        double e = states ? (double)t->pelems : nbox;
        c->flops[LPI_CC_BLAS] = 2 * e * kext * (diag ? 0.5 : 1);
        c->compute_s = c->flops[LPI_CC_BLAS] / pr->rate[LPI_CC_BLAS];
        break;
    }
    case LPI_K_LINALG: {
        /* one LAPACK call over (batches of) n x n matrices: nominal n^3 multiples */
        double n = 1, batch = 1;
        if (t->nops && t->ops[0].box.ndim >= 2) {
            const lpi_box *b = &t->ops[0].box;
            n = (double)(b->hi[b->ndim - 1] - b->lo[b->ndim - 1]);
            double m = (double)(b->hi[b->ndim - 2] - b->lo[b->ndim - 2]);
            batch = n > 0 && m > 0 ? (double)lpi_box_size(b) / (n * m) : 0;
            n = n > m ? n : m;
        }
        double f = 2.0 / 3;
        switch (p->op) {
        case LPI_OP_INV: f = 2; break;
        case LPI_OP_CHOLESKY: f = 1.0 / 3; break;
        case LPI_OP_EIGH: f = 9; break;
        case LPI_OP_LSTSQ: f = 4; break;
        default: break;
        }
        /* complex arithmetic (c / z LAPACK): a multiply-add is four real ones (eig's result is
         * complex for real input too: its loop dtype does not tell) */
        if (p->la && lpi_dtype_is_complex(p->la->loop_dt) && p->op != LPI_OP_EIG) f *= 4;
        c->flops[LPI_CC_BLAS] = f * n * n * n * batch + 2 * in / 8;
        /* LAPACK on small matrices is far from the dgemm rate */
        c->compute_s = c->flops[LPI_CC_BLAS] / (pr->rate[LPI_CC_BLAS] / 4);
        break;
    }
    default: {
        lpi_cost_class k = op_class(p->op);
        c->flops[k] = lpi_ops[p->op].flops * nbox + 2 * in / 8;
        c->compute_s = c->flops[k] / pr->rate[k];
    }
    }
}

double lpi_task_seconds(const lpi_profile *pr, const lpi_task_cost *c, int active, bool remote) {
    if (active < 1) active = 1;
    if (remote) active = 1; /* a function has the machine to itself */
    int s = c->dram_streams < 1 ? 0 : c->dram_streams > 3 ? 2 : c->dram_streams - 1;
    double bw = fmin(pr->mem_bw1[s], pr->mem_bw[s] / active), bw_w = fmin(pr->mem_bw1[0], pr->mem_bw[0] / active);
    /* per-worker rates measured with one worker and with all: interpolate in time per byte */
    double x = pr->cores > 1 ? fmin(1.0, (active - 1) / (double)(pr->cores - 1)) : 0;
    double load_s = (1 - x) / pr->load_bw1 + x / pr->load_bw;
    double fresh_s = (1 - x) / pr->fresh_bw1 + x / pr->fresh_bw;
    double compute = c->compute_s;
    double mem = c->bytes_dram / bw + pr->write_factor * c->bytes_dram_w / bw_w + c->bytes_cache / pr->cache_bw1;
    /* Streaming memory traffic overlaps only with the instructions that read the streams (the
     * VM computes a block after loading it): the rest of the compute adds to it. Measured on
     * sums and fused where/sqrt reductions this is within ~15%; max(compute, memory) (the
     * roofline) underestimates such programs by up to 2x. */
    double overlap = fmin(compute, c->overlap_s);
    return pr->task_overhead + compute + fmax(mem - overlap, 0) + c->bytes_load * load_s + c->bytes_fresh * fresh_s;
}

/* ---- remote executors: what a task costs beyond its work ---- */

double lpi_remote_load_bw(const lpi_profile *pr) { return pr->remote_load_bw > 0 ? pr->remote_load_bw : pr->load_bw1; }
double lpi_remote_write_bw(const lpi_profile *pr) { return pr->remote_write_bw > 0 ? pr->remote_write_bw : pr->file_write_bw; }

/* Remotely a load that is not itself a result is no task: its consumers read its rows. */
static bool direct_load(const lpi_pnode *p) { return p->kernel == LPI_K_LOAD && p->target < 0; }

static double chunk_bytes_of(const lpi_plan *pl, int p, int64_t chunk) {
    const lpi_pnode *q = &pl->pnodes[p];
    if (q->red && !q->final) {
        /* a partial state: (fields, elements) of float64/int64 */
        const lpi_task *pt = &pl->tasks[q->first_task + chunk];
        return (double)pt->pelems * q->red->nfields * 8;
    }
    lpi_box b;
    lpi_grid_chunk_box(&q->grid, chunk, &b);
    return box_bytes(&b, q->dtype);
}

/* Seconds task t adds on a function to its work (c), and into *store_s the seconds it keeps
 * the store busy (its bytes: Redis serves one request at a time). The task reads its loads'
 * rows itself (loads are no tasks remotely), fetches its other operands' chunks from the store
 * (orchestrated: one producer's chunk is still in the chain's memory, the one with most bytes,
 * and the producers' checksums cost one round trip first) and puts its output, or writes it
 * into a result sink's file: that write, the task's last step, is *write_s of the seconds
 * returned (the simulation lets one task at a time write into a file). */
static double remote_extra(const lpi_plan *pl, int64_t ti, const lpi_profile *pr, lpi_cost_mode mode,
                           const lpi_task_cost *c, double *store_s, double *lat, double *write_s) {
    const lpi_task *t = &pl->tasks[ti];
    double s = 0, fetched = 0, held = 0;
    int nf = 0;
    for (int k = 0; k < t->nops; k++)
        for (int q = 0; q < t->ops[k].npieces; q++) {
            const lpi_piece *pc = &t->ops[k].pieces[q];
            const lpi_pnode *pp = &pl->pnodes[pc->pnode];
            if (pp->kernel == LPI_K_NONE) continue;
            if (direct_load(pp)) { s += box_bytes(&pc->box, pp->dtype) / lpi_remote_load_bw(pr); continue; }
            /* a chunk read by several pieces is fetched once */
            bool dup = false;
            for (int k2 = 0; k2 <= k && !dup; k2++)
                for (int q2 = 0; q2 < (k2 == k ? q : t->ops[k2].npieces) && !dup; q2++)
                    dup = t->ops[k2].pieces[q2].pnode == pc->pnode && t->ops[k2].pieces[q2].chunk == pc->chunk;
            if (dup) continue;
            double b = chunk_bytes_of(pl, pc->pnode, pc->chunk);
            fetched += b;
            nf++;
            if (b > held) held = b;
        }
    if (mode == LPI_COST_ORCH && nf) { fetched -= held; nf--; }
    /* the output: put into the store, or written at its place in a result sink's file (no
     * store traffic; the file's sync is the run's, save_seconds) */
    const bool sunk = lpi_plan_sink(pl, t->pnode) != NULL;
    /* round trips: the checksums (orchestrated), each fetch, the put */
    *lat = ((nf && mode == LPI_COST_ORCH ? 1 : 0) + nf + !sunk) * pr->rtt;
    const double moved = fetched / pr->net_bw + (sunk ? 0 : c->bytes_out / pr->put_bw);
    *store_s += moved;
    *write_s = sunk ? c->bytes_out / lpi_remote_write_bw(pr) : 0;
    return s + moved + *write_s + *lat;
}

/* The driver fetching the results at the end: a get per target chunk, copied into fresh pages
 * (not the targets its tasks wrote into their files). */
static double gather_seconds(const lpi_plan *pl, const lpi_profile *pr) {
    double s = 0;
    for (int p = 0; p < pl->npnodes; p++) {
        const lpi_pnode *pn = &pl->pnodes[p];
        if (pn->target < 0 || pn->kernel == LPI_K_NONE || lpi_plan_sink(pl, p)) continue;
        for (int64_t c = 0; c < pn->grid.total; c++) {
            double b = chunk_bytes_of(pl, p, c);
            s += pr->rtt + b / pr->net_bw + b / pr->fresh_bw1;
        }
    }
    return s;
}

/* Saving the targets that go to .npy files, after the run: the driver writes the results no
 * task wrote into their file (into the page cache), then commits each file (its pages synced to
 * the disk, the rename, the directory's sync: lpi_file_finish); a rename that replaces an
 * existing file frees that file's pages and blocks. */
static double save_seconds(const lpi_plan *pl, const lpi_profile *pr) {
    double s = 0;
    for (int t = 0; pl->target_sink && t < pl->ntargets; t++) {
        const lpi_result_sink *k = pl->target_sink[t];
        if (!k) continue;
        const lpi_pnode *pn = &pl->pnodes[pl->target_pnode[t]];
        double b = (double)lp_dtype_size(pn->dtype);
        for (int d = 0; d < pn->ndim; d++) b *= (double)pn->shape[d];
        s += (k->taken ? 0 : b / pr->file_write_bw) + b / pr->file_sync_bw + pr->file_commit_s + k->replaced / pr->file_drop_bw;
    }
    return s;
}

/* ---- the plan: simulation and critical path ---- */

typedef struct ev {
    double t;
    int64_t task;
} ev;

static void ev_push(ev *h, int64_t *n, ev e) {
    int64_t i = (*n)++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (h[p].t <= e.t) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static ev ev_pop(ev *h, int64_t *n) {
    ev top = h[0], last = h[--*n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1].t < h[c].t) c++;
        if (last.t <= h[c].t) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

lp_status lpi_cost_plan(lp_ctx *ctx, lpi_plan *pl, int workers, lpi_cost_mode mode, bool want_critical, lpi_cost_summary *out) {
    memset(out, 0, sizeof *out);
    const lpi_profile *pr = lpi_profile_get(ctx);
    if (workers <= 0) workers = lpi_ctx_workers(ctx);
    out->workers = workers;
    const bool remote = mode != LPI_COST_LOCAL;
    int active = remote ? 1 : (workers < pr->cores ? workers : pr->cores);
    const int64_t nt = pl->ntasks;
    double *dur = lp_malloc((size_t)(nt ? nt : 1) * sizeof *dur);
    double *fin = lp_calloc((size_t)(nt ? nt : 1), sizeof *fin);
    int64_t *pred = lp_malloc((size_t)(nt ? nt : 1) * sizeof *pred);
    int32_t *pending = lp_malloc((size_t)(nt ? nt : 1) * sizeof *pending);
    ev *ready = lp_malloc((size_t)(nt ? nt : 1) * sizeof *ready), *run = lp_malloc((size_t)(nt ? nt : 1) * sizeof *run);
    double *start = lp_calloc((size_t)(nt ? nt : 1), sizeof *start);
    /* remote tasks writing their output into a result sink's file: the write's seconds (the
     * end of the task's time; 0 once the write is booked), and per target when its file is free */
    double *wr = lp_calloc((size_t)(nt ? nt : 1), sizeof *wr);
    double *file_free = lp_calloc((size_t)(pl->ntargets > 0 ? pl->ntargets : 1), sizeof *file_free);
    if (want_critical) out->critical_pnode = lp_calloc((size_t)(pl->npnodes ? pl->npnodes : 1), sizeof(bool));
    lp_status st = LP_OK;
    if (!dur || !fin || !pred || !pending || !ready || !run || !start || !wr || !file_free ||
        (want_critical && !out->critical_pnode)) {
        st = lpi_nomem(ctx);
        goto done;
    }
    /* remote: the lambdas at once, of which remote_par run their tasks at full speed (simulated
     * as ceil(par) workers whose tasks take ceil(par) / par as long) */
    double par = remote && pr->remote_par < workers ? pr->remote_par : workers, slow = 1;
    int sim_workers = workers;
    if (remote) {
        if (par < 1) par = 1;
        sim_workers = (int)ceil(par - 1e-9);
        slow = sim_workers / par;
    }
    int64_t nremote = 0;
    for (int64_t t = 0; t < nt; t++) nremote += !direct_load(&pl->pnodes[pl->tasks[t].pnode]);
    /* driver-centric: a fair share of the ready tasks per invocation, at most a batch */
    double per_inv = remote ? (double)nremote / sim_workers : 1;
    per_inv = per_inv < 1 ? 1 : per_inv > 32 ? 32 : per_inv;
    double store_s = 0, over_s = 0;
    for (int p = 0; p < pl->npnodes; p++) pl->pnodes[p].est_seconds = 0;
    for (int64_t t = 0; t < nt; t++) {
        lpi_task_cost c;
        lpi_task_cost_of(pl, t, pr, active, &c);
        if (remote && direct_load(&pl->pnodes[pl->tasks[t].pnode])) dur[t] = 0; /* read by its consumers */
        else {
            dur[t] = lpi_task_seconds(pr, &c, active, remote);
            double lat = 0;
            if (remote) dur[t] += remote_extra(pl, t, pr, mode, &c, &store_s, &lat, &wr[t]);
            /* coordination: a chain's step (orchestrated) or a share of an invocation (driver) */
            double coord = mode == LPI_COST_ORCH ? pr->orch_task_s : mode == LPI_COST_DRIVER ? pr->invoke / per_inv : 0;
            dur[t] += coord;
            over_s += lat + coord;
        }
        pl->pnodes[pl->tasks[t].pnode].est_seconds += dur[t];
        out->work += dur[t];
        for (int k = 0; k < LPI_CC_COUNT; k++) out->flops += c.flops[k];
        out->bytes_read += c.bytes_in + c.bytes_load;
        out->bytes_written += c.bytes_out;
        pending[t] = pl->tasks[t].ndeps;
        pred[t] = -1;
    }
    /* the executor: ready tasks by priority, `workers` at a time */
    int64_t nready = 0, nrun = 0, done_n = 0;
    for (int64_t t = 0; t < nt; t++)
        if (!pending[t]) ev_push(ready, &nready, (ev){(double)pl->tasks[t].prio, t});
    double now = 0;
    while (done_n < nt) {
        while (nrun < sim_workers && nready) {
            ev r = ev_pop(ready, &nready);
            start[r.task] = now;
            ev_push(run, &nrun, (ev){now + (dur[r.task] - wr[r.task]) * slow, r.task});
        }
        if (!nrun) break; /* a malformed plan; cannot happen for planned graphs */
        ev e = ev_pop(run, &nrun);
        now = e.t;
        if (wr[e.task] > 0) {
            /* its work done, the task writes its output into the sink's file once no other task
             * writes there (a file system writes a file's pages under the file's lock; the
             * measured rate is one writer's while the other lambdas compute): the lambda waits
             * for it, the next writer waits for this one */
            int tg = pl->pnodes[pl->tasks[e.task].pnode].target;
            file_free[tg] = fmax(now, file_free[tg]) + wr[e.task];
            wr[e.task] = 0;
            ev_push(run, &nrun, (ev){file_free[tg], e.task});
            continue;
        }
        done_n++;
        const lpi_task *tk = &pl->tasks[e.task];
        for (int32_t c = 0; c < tk->nconsumers; c++) {
            int64_t u = tk->consumers[c];
            if (--pending[u] == 0) ev_push(ready, &nready, (ev){(double)pl->tasks[u].prio, u});
        }
    }
    /* per run: remote, the fixed costs, the store as a bound (one server for every function),
     * the driver's time per task as a bound (driver-centric), the results' gathering */
    double fixed = pr->run_overhead;
    if (mode == LPI_COST_ORCH) {
        /* the lambdas the run spreads to at its start: one per task ready then (its direct
         * loads are no tasks), at most the budget */
        int64_t *wait = lp_malloc((size_t)(nt ? nt : 1) * sizeof *wait), ready0 = 0;
        if (!wait) { st = lpi_nomem(ctx); goto done; }
        for (int64_t t = 0; t < nt; t++) wait[t] = pl->tasks[t].ndeps;
        for (int64_t t = 0; t < nt; t++)
            if (direct_load(&pl->pnodes[pl->tasks[t].pnode]))
                for (int32_t c = 0; c < pl->tasks[t].nconsumers; c++) wait[pl->tasks[t].consumers[c]]--;
        for (int64_t t = 0; t < nt; t++) ready0 += !wait[t] && !direct_load(&pl->pnodes[pl->tasks[t].pnode]);
        lp_free(wait);
        int64_t spread = ready0 < workers ? ready0 : workers;
        out->lambdas = spread > 1 ? (int)spread : 1;
        /* every one of them plans the run, which opens each file input's header */
        int inputs = 0;
        for (int p = 0; p < pl->npnodes; p++) inputs += direct_load(&pl->pnodes[p]);
        fixed = pr->orch_run_s + pr->invoke + (double)(out->lambdas - 1) * pr->orch_lambda_s +
                (double)out->lambdas * inputs * pr->orch_input_s;
    }
    if (mode == LPI_COST_DRIVER) {
        fixed = pr->drv_run_s;
        now = fmax(now, (double)nremote * pr->drv_task_s);
    }
    out->save = save_seconds(pl, pr);
    fixed += out->save;
    if (remote) {
        fixed += gather_seconds(pl, pr) + pr->remote_first_s;
        /* the tasks' round trips and coordination (Redis scripts, invocations) overlap only
         * remote_over_par at a time: the store serves one request at a time */
        double op = pr->remote_over_par < workers ? pr->remote_over_par : workers;
        now = fmax(now, fmax(store_s, over_s / (op < 1 ? 1 : op)));
    }
    out->total = fixed + now;
    out->fixed = fixed;
    /* critical path: longest chain by duration, in the order the simulation finished tasks
     * (producers before consumers); start[] holds the simulated start times */
    {
        int64_t *ord = lp_malloc((size_t)(nt ? nt : 1) * sizeof *ord);
        if (!ord) { st = lpi_nomem(ctx); goto done; }
        for (int64_t t = 0; t < nt; t++) { pending[t] = pl->tasks[t].ndeps; fin[t] = 0; }
        int64_t head = 0, tail = 0;
        for (int64_t t = 0; t < nt; t++)
            if (!pending[t]) ord[tail++] = t;
        double best = 0;
        int64_t bt = -1;
        while (head < tail) {
            int64_t t = ord[head++];
            fin[t] += dur[t]; /* fin held the longest chain before t */
            if (fin[t] > best) { best = fin[t]; bt = t; }
            const lpi_task *tk = &pl->tasks[t];
            for (int32_t c = 0; c < tk->nconsumers; c++) {
                int64_t u = tk->consumers[c];
                if (fin[t] > fin[u]) { fin[u] = fin[t]; pred[u] = t; }
                if (--pending[u] == 0) ord[tail++] = u;
            }
        }
        out->critical = best + fixed;
        if (out->critical_pnode)
            for (int64_t t = bt; t >= 0; t = pred[t]) out->critical_pnode[pl->tasks[t].pnode] = true;
        lp_free(ord);
    }
done:
    lp_free(dur);
    lp_free(fin);
    lp_free(pred);
    lp_free(pending);
    lp_free(ready);
    lp_free(run);
    lp_free(start);
    lp_free(wr);
    lp_free(file_free);
    if (st) { lp_free(out->critical_pnode); out->critical_pnode = NULL; }
    return st;
}

/* ---- lp_estimate ---- */

void lp_estimate_free(lp_estimate_result *e) {
    if (!e) return;
    lp_free(e->nodes);
    lp_free(e);
}

static lp_status estimate(lp_ctx *ctx, lp_array *const *targets, int n, int workers, int flags, const char *const *paths,
                          lp_estimate_result **out);

lp_status lp_estimate(lp_ctx *ctx, lp_array *const *targets, int n, int workers, int flags, lp_estimate_result **out) {
    return estimate(ctx, targets, n, workers, flags, NULL, out);
}

lp_status lp_estimate_save(lp_ctx *ctx, lp_array *const *targets, int n, int workers, int flags, const char *const *paths,
                           lp_estimate_result **out) {
    return estimate(ctx, targets, n, workers, flags | LP_ESTIMATE_SAVE, paths, out);
}

static lp_status estimate(lp_ctx *ctx, lp_array *const *targets, int n, int workers, int flags, const char *const *paths,
                          lp_estimate_result **out) {
    if (!out) return lpi_error(ctx, LP_ERR_VALUE, "lp_estimate: NULL output");
    *out = NULL;
    if (n < 1 || !targets) return lpi_error(ctx, LP_ERR_VALUE, "lp_estimate: need at least one target");
    for (int i = 0; i < n; i++)
        if (!targets[i]) return lpi_error(ctx, LP_ERR_VALUE, "lp_estimate: target %d is NULL", i);
    if (workers < 0 || workers > 1 << 20) return lpi_error(ctx, LP_ERR_VALUE, "lp_estimate: workers must be 0..%d", 1 << 20);
    lpi_plan *pl;
    lp_status st;
    if (flags & LP_ESTIMATE_ORCHESTRATE) {
        /* planned as the run's functions plan it (server/chain.c), the profile's own figures
         * for the pricing */
        lpi_profile keep = *lpi_profile_planning(ctx), pinned = keep;
        lpi_profile_pin_chunks(&pinned);
        if ((st = lpi_profile_set(ctx, &pinned))) return st;
        st = lpi_plan_build(ctx, targets, n, &pl);
        lp_status rs = lpi_profile_set(ctx, &keep);
        if (!st && rs) lpi_plan_destroy(pl);
        if (st || (st = rs)) return st;
    } else if ((st = lpi_plan_build(ctx, targets, n, &pl))) {
        return st;
    }
    lpi_cost_summary s;
    bool remote = flags & (LP_ESTIMATE_REMOTE | LP_ESTIMATE_ORCHESTRATE);
    lpi_cost_mode mode = flags & LP_ESTIMATE_ORCHESTRATE ? LPI_COST_ORCH : remote ? LPI_COST_DRIVER : LPI_COST_LOCAL;
    /* saved targets: a sink per target, taken where a remote run's tasks would write it */
    lpi_result_sink *sinks = NULL, **sinkp = NULL;
    if (flags & LP_ESTIMATE_SAVE) {
        sinks = lp_calloc((size_t)n, sizeof *sinks);
        sinkp = lp_calloc((size_t)n, sizeof *sinkp);
        if (!sinks || !sinkp) st = lpi_nomem(ctx);
        for (int t = 0; !st && t < n; t++) {
            sinks[t].taken = remote && lpi_result_sinks_on() && lpi_plan_sinkable(pl, t);
            /* a regular file already there: its rename replaces it */
            struct stat sb;
            if (paths && paths[t] && stat(paths[t], &sb) == 0 && S_ISREG(sb.st_mode)) sinks[t].replaced = (double)sb.st_size;
            sinkp[t] = &sinks[t];
        }
        pl->target_sink = sinkp;
    }
    if (!st) st = lpi_cost_plan(ctx, pl, workers, mode, true, &s);
    pl->target_sink = NULL;
    lp_free(sinks);
    lp_free(sinkp);
    if (st) { lpi_plan_destroy(pl); return st; }
    lp_estimate_result *e = lp_calloc(1, sizeof *e);
    if (e) e->nodes = lp_calloc((size_t)(pl->npnodes ? pl->npnodes : 1), sizeof *e->nodes);
    if (!e || !e->nodes) {
        lp_free(e);
        lp_free(s.critical_pnode);
        lpi_plan_destroy(pl);
        return lpi_nomem(ctx);
    }
    e->workers = s.workers;
    e->remote = remote;
    e->tasks = pl->ntasks;
    e->flops = s.flops;
    e->bytes_read = s.bytes_read;
    e->bytes_written = s.bytes_written;
    e->work_seconds = s.work;
    e->critical_seconds = s.critical;
    e->total_seconds = s.total;
    e->save_seconds = s.save;
    for (int p = 0; p < pl->npnodes; p++) {
        const lpi_pnode *pn = &pl->pnodes[p];
        lp_estimate_node *d = &e->nodes[e->nnodes++];
        d->id = p;
        int extra = 0;
        if (pn->prog)
            for (int i = 0; i < pn->prog->ninstr; i++) extra += pn->prog->ins[i].op != LPI_OP_ASTYPE;
        if (pn->prog && pn->kernel == LPI_K_MAP) extra -= 1;
        if (extra > 0) snprintf(d->op, sizeof d->op, "%s+%d", lpi_ops[pn->op].name, extra);
        else snprintf(d->op, sizeof d->op, "%s", lpi_ops[pn->op].name);
        snprintf(d->kernel, sizeof d->kernel, "%s", lpi_kernel_name(pn->kernel));
        d->dtype = pn->dtype;
        d->ndim = pn->ndim;
        memcpy(d->shape, pn->shape, sizeof d->shape);
        d->tasks = pn->ntasks;
        d->seconds = pn->est_seconds;
        d->critical = s.critical_pnode[p];
        const lpi_profile *pr = lpi_profile_get(ctx);
        int active = remote ? 1 : (s.workers < pr->cores ? s.workers : pr->cores);
        for (int64_t t = pn->first_task; pn->ntasks > 0 && t < pn->first_task + pn->ntasks; t++) {
            lpi_task_cost c;
            lpi_task_cost_of(pl, t, pr, active, &c);
            for (int k = 0; k < LPI_CC_COUNT; k++) d->flops += c.flops[k];
            d->bytes_read += c.bytes_in + c.bytes_load;
            d->bytes_written += c.bytes_out;
            double held = c.bytes_in + c.bytes_load + c.bytes_out;
            if (held > e->max_task_bytes) e->max_task_bytes = held;
        }
    }
    lp_free(s.critical_pnode);
    lpi_plan_destroy(pl);
    *out = e;
    return LP_OK;
}

/* ---- plan dump ---- */

lp_status lp_plan_dump(lp_ctx *ctx, lp_array *const *targets, int n, char **json_out) {
    if (!json_out) return lpi_error(ctx, LP_ERR_VALUE, "lp_plan_dump: NULL output");
    *json_out = NULL;
    if (n < 1 || !targets) return lpi_error(ctx, LP_ERR_VALUE, "lp_plan_dump: need at least one target");
    for (int i = 0; i < n; i++)
        if (!targets[i]) return lpi_error(ctx, LP_ERR_VALUE, "lp_plan_dump: target %d is NULL", i);
    lpi_plan *pl;
    lp_status st = lpi_plan_build(ctx, targets, n, &pl);
    if (st) return st;
    lpi_cost_summary s;
    json_t *top = NULL;
    if (!(st = lpi_cost_plan(ctx, pl, 0, LPI_COST_LOCAL, false, &s)) && !(st = lpi_plan_json(ctx, pl, &top))) {
        static const char *const lines[] = {"pnodes", "tasks", NULL};
        json_object_set_new(top, "estimate", json_pack("{siso}", "workers", s.workers, "total_seconds", lpi_json_float(s.total)));
        *json_out = lpi_json_dump_lines(top, lines);
        if (!*json_out) st = lpi_nomem(ctx);
    }
    json_decref(top);
    lpi_plan_destroy(pl);
    return st;
}
