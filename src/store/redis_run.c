/* Scripts of an orchestrated run (see redis_run.h). Each is a Lua function of the run's
 * prefix and the caller's arguments, evaluated with EVALSHA (the SHA of its text, learnt from
 * SCRIPT LOAD once per process; NOSCRIPT after a Redis restart loads it again). Scripts read
 * the clock with TIME, so leases compare against one clock whatever the callers' clocks say. */
#include "store/redis_run.h"
#include "store/internal.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the scripts ---- */

#define PRELUDE                                                                                          \
    "local P = ARGV[1]\n"                                                                                \
    "local M = P .. '/meta'\n"                                                                           \
    "local function now_ms() local t = redis.call('TIME')\n"                                           \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end\n"                          \
    "local function expire(k, dl) redis.call('PEXPIREAT', k, dl + 60000) end\n"                          \
    "local function deadline() return tonumber(redis.call('HGET', M, 'deadline')) end\n"                 \
    "local function fail(msg)\n"                                                                         \
    "  local st = redis.call('HGET', M, 'state')\n"                                                      \
    "  if st == 'running' or st == 'starting' then\n"                                                    \
    "    redis.call('HSET', M, 'state', 'failed', 'error', msg)\n"                                       \
    "    redis.call('RPUSH', P .. '/result', 'failed:' .. msg)\n"                                        \
    "    expire(P .. '/result', deadline())\n"                                                          \
    "  end\n"                                                                                            \
    "end\n"                                                                                              \
    /* re-claim up to max expired leases into out; false when a task ran out of tries */                \
    "local function reap(now, max, out)\n"                                                               \
    "  if max <= 0 then return true end\n"                                                               \
    "  local exp = redis.call('ZRANGEBYSCORE', P .. '/leases', '-inf', now, 'LIMIT', 0, max)\n"          \
    "  if #exp == 0 then return true end\n"                                                              \
    "  local maxt = tonumber(redis.call('HGET', M, 'max_tries'))\n"                                      \
    "  local lease = tonumber(redis.call('HGET', M, 'lease_ms'))\n"                                      \
    "  for _, t in ipairs(exp) do\n"                                                                     \
    "    local n = redis.call('HINCRBY', P .. '/tries', t, 1)\n"                                         \
    "    if n >= maxt then\n"                                                                            \
    "      fail('ERR_REMOTE:' .. (t == 'start' and 'the run did not start' or ('task ' .. t .. ' did not complete'))\n" \
    "           .. ' in ' .. n .. ' leases (its workers died, hung or were overloaded)')\n"              \
    "      return false\n"                                                                               \
    "    end\n"                                                                                          \
    /* a slow task is not a dead one: each expiry doubles its next lease */                              \
    "    redis.call('ZADD', P .. '/leases', now + lease * 2 ^ math.min(n, 5), t)\n"                    \
    "    out[#out + 1] = t\n"                                                                            \
    "  end\n"                                                                                            \
    "  expire(P .. '/tries', deadline())\n"                                                              \
    "  return true\n"                                                                                    \
    "end\n"                                                                                              \
    /* lease ready tasks while the budget allows (first kept), queue the rest */                        \
    "local function claim(now, list, out)\n"                                                             \
    "  local budget = tonumber(redis.call('HGET', M, 'budget'))\n"                                       \
    "  local used = redis.call('ZCARD', P .. '/leases')\n"                                               \
    "  local keep, q = '', {}\n"                                                                         \
    "  for _, r in ipairs(list) do\n"                                                                    \
    "    if used < budget then\n"                                                                        \
    "      redis.call('ZADD', P .. '/leases', now + r[2], r[1])\n"                                       \
    "      used = used + 1\n"                                                                            \
    "      if keep == '' then keep = r[1] else out[#out + 1] = r[1] end\n"                              \
    "    else\n"                                                                                         \
    "      q[#q + 1] = r[1] .. ':' .. r[2]\n"                                                            \
    "      if #q == 1000 then redis.call('RPUSH', P .. '/ready', unpack(q)); q = {} end\n"               \
    "    end\n"                                                                                          \
    "  end\n"                                                                                            \
    "  if #q > 0 then redis.call('RPUSH', P .. '/ready', unpack(q)) end\n"                               \
    "  if keep == '' and used < budget then\n"                                                           \
    "    local e = redis.call('LPOP', P .. '/ready')\n"                                                  \
    "    if e then\n"                                                                                    \
    "      local c = string.find(e, ':', 1, true)\n"                                                     \
    "      keep = string.sub(e, 1, c - 1)\n"                                                             \
    "      redis.call('ZADD', P .. '/leases', now + tonumber(string.sub(e, c + 1)), keep)\n"             \
    "    end\n"                                                                                          \
    "  end\n"                                                                                            \
    "  local dl = deadline()\n"                                                                          \
    "  expire(P .. '/leases', dl)\n"                                                                     \
    "  if redis.call('EXISTS', P .. '/ready') == 1 then expire(P .. '/ready', dl) end\n"                \
    "  return keep\n"                                                                                    \
    "end\n"

/* ARGV: P, doc, budget, max_tries, lease_ms, ttl_ms */
static const char S_INIT[] = PRELUDE
    "if redis.call('EXISTS', M) == 1 then return 0 end\n"
    "local now = now_ms()\n"
    "local dl = now + tonumber(ARGV[6])\n"
    "redis.call('SET', P .. '/run', ARGV[2], 'PXAT', dl + 60000)\n"
    "redis.call('HSET', M, 'state', 'starting', 'budget', ARGV[3], 'max_tries', ARGV[4], 'lease_ms', ARGV[5],\n"
    "           'deadline', dl, 'ndone', 0, 'ntasks', -1)\n"
    "expire(M, dl)\n"
    "redis.call('ZADD', P .. '/leases', now + 4 * tonumber(ARGV[5]), 'start')\n"
    "expire(P .. '/leases', dl)\n"
    "return 1\n";

/* ARGV: P, ntasks, template, nroots, (task, lease_ms)... */
static const char S_START[] = PRELUDE
    "local st = redis.call('HGET', M, 'state')\n"
    "if not st then return {'gone'} end\n"
    "if st ~= 'starting' then return {'dup'} end\n"
    "local now, dl = now_ms(), deadline()\n"
    "redis.call('HSET', M, 'state', 'running', 'ntasks', ARGV[2])\n"
    "redis.call('ZREM', P .. '/leases', 'start')\n"
    "redis.call('SET', P .. '/targets', ARGV[3], 'PXAT', dl + 60000)\n"
    "if tonumber(ARGV[2]) == 0 then\n"
    "  redis.call('HSET', M, 'state', 'ok')\n"
    "  redis.call('RPUSH', P .. '/result', 'ok:0')\n"
    "  expire(P .. '/result', dl)\n"
    "  return {'done'}\n"
    "end\n"
    "local list = {}\n"
    "for k = 0, tonumber(ARGV[4]) - 1 do list[#list + 1] = {ARGV[5 + 2 * k], tonumber(ARGV[6 + 2 * k])} end\n"
    "local out = {}\n"
    "local keep = claim(now, list, out)\n"
    "return {'ok', keep, unpack(out)}\n";

/* ARGV: P, task, checksum, out_key, ncons, (task, ndeps, lease)..., nin, (key, readers)..., reap_max */
static const char S_COMPLETE[] = PRELUDE
    "local st = redis.call('HGET', M, 'state')\n"
    "if not st then return {'gone'} end\n"
    "if st ~= 'running' then return {'stop'} end\n"
    "local now, dl = now_ms(), deadline()\n"
    "if now > dl then fail('ERR_LIMIT:the run passed its deadline'); return {'stop'} end\n"
    "local task = ARGV[2]\n"
    "redis.call('ZREM', P .. '/leases', task)\n"
    "local nc = tonumber(ARGV[5])\n"
    "local ci = 6\n"
    "local ni = tonumber(ARGV[ci + 3 * nc])\n"
    "local ii = ci + 3 * nc + 1\n"
    "local reap_max = tonumber(ARGV[ii + 2 * ni])\n"
    "local tag, list = 'dup', {}\n"
    "if redis.call('HSETNX', P .. '/done', task, ARGV[3]) == 1 then\n"
    "  tag = 'ok'\n"
    "  expire(P .. '/done', dl)\n"
    "  if ARGV[4] ~= '' then expire(ARGV[4], dl) end\n"
    "  for k = 0, nc - 1 do\n"
    "    local c = ARGV[ci + 3 * k]\n"
    "    if redis.call('HINCRBY', P .. '/din', c, 1) == tonumber(ARGV[ci + 3 * k + 1]) then\n"
    "      list[#list + 1] = {c, tonumber(ARGV[ci + 3 * k + 2])}\n"
    "    end\n"
    "  end\n"
    "  if nc > 0 then expire(P .. '/din', dl) end\n"
    "  for k = 0, ni - 1 do\n"
    "    local key, readers = ARGV[ii + 2 * k], tonumber(ARGV[ii + 2 * k + 1])\n"
    "    if readers > 0 and redis.call('HINCRBY', P .. '/crefs', key, 1) >= readers then\n"
    "      redis.call('DEL', key)\n"
    "      redis.call('HDEL', P .. '/crefs', key)\n"
    "    end\n"
    "  end\n"
    "  if redis.call('EXISTS', P .. '/crefs') == 1 then expire(P .. '/crefs', dl) end\n"
    "  local nd = redis.call('HINCRBY', M, 'ndone', 1)\n"
    "  if nd == tonumber(redis.call('HGET', M, 'ntasks')) then\n"
    "    redis.call('HSET', M, 'state', 'ok')\n"
    "    redis.call('RPUSH', P .. '/result', 'ok:' .. nd)\n"
    "    expire(P .. '/result', dl)\n"
    "    return {'done'}\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "local keep = claim(now, list, out)\n"
    "if not reap(now, reap_max, out) then return {'stop'} end\n"
    "return {tag, keep, unpack(out)}\n";

/* ARGV: P, max */
static const char S_REAP[] = PRELUDE
    "local st = redis.call('HGET', M, 'state')\n"
    "if not st then return {'gone'} end\n"
    "if st ~= 'running' and st ~= 'starting' then return {'stop'} end\n"
    "local now = now_ms()\n"
    "if now > deadline() then fail('ERR_LIMIT:the run passed its deadline'); return {'stop'} end\n"
    "local out = {}\n"
    "if not reap(now, tonumber(ARGV[2]), out) then return {'stop'} end\n"
    /* queued tasks and no lease: every invocation was refused as busy; start them again */
    "if st == 'running' and redis.call('ZCARD', P .. '/leases') == 0 then\n"
    "  local budget = tonumber(redis.call('HGET', M, 'budget'))\n"
    "  for k = 1, budget do\n"
    "    local e = redis.call('LPOP', P .. '/ready')\n"
    "    if not e then break end\n"
    "    local c = string.find(e, ':', 1, true)\n"
    "    local t = string.sub(e, 1, c - 1)\n"
    "    redis.call('ZADD', P .. '/leases', now + tonumber(string.sub(e, c + 1)), t)\n"
    "    out[#out + 1] = t\n"
    "  end\n"
    "end\n"
    "return {'ok', '', unpack(out)}\n";

/* ARGV: P, task, lease_ms: every worker was busy; the task waits in the queue instead */
static const char S_REQUEUE[] = PRELUDE
    "local st = redis.call('HGET', M, 'state')\n"
    "if not st then return {'gone'} end\n"
    "if st ~= 'running' then return {'stop'} end\n"
    "redis.call('ZREM', P .. '/leases', ARGV[2])\n"
    "redis.call('RPUSH', P .. '/ready', ARGV[2] .. ':' .. ARGV[3])\n"
    "expire(P .. '/ready', deadline())\n"
    "return {'ok'}\n";

/* ARGV: P, task, why */
static const char S_REFUSED[] = PRELUDE
    "local st = redis.call('HGET', M, 'state')\n"
    "if not st then return {'gone'} end\n"
    "if st ~= 'running' and st ~= 'starting' then return {'stop'} end\n"
    "local t = ARGV[2]\n"
    "local n = redis.call('HINCRBY', P .. '/tries', t, 1)\n"
    "expire(P .. '/tries', deadline())\n"
    "if n >= tonumber(redis.call('HGET', M, 'max_tries')) then\n"
    "  fail('ERR_REMOTE:' .. (t == 'start' and 'the run' or ('task ' .. t)) .. ' could not be started on any worker ('\n"
    "       .. n .. ' tries); last: ' .. ARGV[3])\n"
    "  return {'stop'}\n"
    "end\n"
    "redis.call('ZADD', P .. '/leases', now_ms() + tonumber(redis.call('HGET', M, 'lease_ms')), t)\n"
    "return {'ok'}\n";

/* ARGV: P, message */
static const char S_FAIL[] = PRELUDE "fail(ARGV[2])\nreturn 1\n";

/* ARGV: P, key */
static const char S_TOUCH[] = PRELUDE
    "if redis.call('EXISTS', M) == 0 then redis.call('DEL', ARGV[2]); return 0 end\n"
    "expire(ARGV[2], deadline())\n"
    "return 1\n";

/* ARGV: P, lease_ms, doc ('' keeps it): the start is still at work (it runs the graph's loops):
 * its lease renewed; with a document, the run document replaced (the loops' values as data) */
static const char S_HOLD[] = PRELUDE
    "local st = redis.call('HGET', M, 'state')\n"
    "if not st then return {'gone'} end\n"
    "if st ~= 'starting' then return {'stop'} end\n"
    "local now, dl = now_ms(), deadline()\n"
    "if now > dl then fail('ERR_LIMIT:the run passed its deadline'); return {'stop'} end\n"
    "redis.call('ZADD', P .. '/leases', 'XX', now + tonumber(ARGV[2]), 'start')\n"
    "if ARGV[3] ~= '' then redis.call('SET', P .. '/run', ARGV[3], 'PXAT', dl + 60000) end\n"
    "return {'ok'}\n";

/* ARGV: P */
static const char S_CLEANUP[] = PRELUDE
    "redis.call('DEL', M)\n"
    "local cur, n = '0', 0\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cur, 'MATCH', P .. '/*', 'COUNT', 1000)\n"
    "  cur = r[1]\n"
    "  for _, k in ipairs(r[2]) do redis.call('DEL', k); n = n + 1 end\n"
    "until cur == '0'\n"
    "return n\n";

enum { SC_INIT, SC_START, SC_COMPLETE, SC_REAP, SC_REFUSED, SC_REQUEUE, SC_FAIL, SC_TOUCH, SC_HOLD, SC_CLEANUP, SC_COUNT };
static const char *const SCRIPTS[SC_COUNT] = {S_INIT, S_START, S_COMPLETE, S_REAP, S_REFUSED, S_REQUEUE, S_FAIL, S_TOUCH,
                                              S_HOLD, S_CLEANUP};
static const char *const NAMES[SC_COUNT] = {"init", "start", "complete", "reap", "refused", "requeue", "fail", "touch",
                                            "hold", "cleanup"};

/* SHA1 of each script's text: the same on every server, learnt from the first SCRIPT LOAD */
static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;
static char sha[SC_COUNT][41];

/* ---- arguments ---- */

typedef struct args {
    int n, cap;
    const char **v;
    size_t *len;
    char **owned;       /* formatted numbers */
    int nowned;
    bool oom;
} args;

static void arg_add(args *a, const char *s, size_t len) {
    if (a->oom) return;
    if (a->n == a->cap) {
        int c = a->cap ? 2 * a->cap : 32;
        const char **v = lp_realloc(a->v, (size_t)c * sizeof *v);
        size_t *l = v ? lp_realloc(a->len, (size_t)c * sizeof *l) : NULL;
        char **o = l ? lp_realloc(a->owned, (size_t)c * sizeof *o) : NULL;
        if (v) a->v = v;
        if (l) a->len = l;
        if (o) a->owned = o;
        if (!v || !l || !o) { a->oom = true; return; }
        a->cap = c;
    }
    a->v[a->n] = s;
    a->len[a->n++] = len;
}

static void arg_str(args *a, const char *s) { arg_add(a, s, strlen(s)); }

static void arg_int(args *a, int64_t x) {
    char *s = lp_malloc(24);
    if (!s) { a->oom = true; return; }
    snprintf(s, 24, "%" PRId64, x);
    arg_str(a, s);
    if (!a->oom) a->owned[a->nowned++] = s;
    else lp_free(s);
}

static void args_free(args *a) {
    for (int i = 0; i < a->nowned; i++) lp_free(a->owned[i]);
    lp_free(a->owned);
    lp_free((void *)a->v);
    lp_free(a->len);
}

/* ---- evaluation ---- */

static lp_status load_script(lp_ctx *ctx, lpi_store *s, int sc) {
    const char *argv[3] = {"SCRIPT", "LOAD", SCRIPTS[sc]};
    redisReply *r;
    lp_status st = lpi_redis_command(ctx, s, "SCRIPT LOAD", 3, argv, NULL, &r);
    if (st) return st;
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        st = lpi_error(ctx, LP_ERR_IO, "SCRIPT LOAD (%s): %s: %.*s", NAMES[sc], lpi_store_url(s),
                       r->type == REDIS_REPLY_ERROR ? (int)r->len : 0, r->type == REDIS_REPLY_ERROR ? r->str : "");
    } else {
        pthread_mutex_lock(&sha_lock);
        memcpy(sha[sc], r->str, 40);
        sha[sc][40] = 0;
        pthread_mutex_unlock(&sha_lock);
    }
    freeReplyObject(r);
    return st;
}

/* EVALSHA script a.v[2..] (a.v[0], a.v[1] are filled here); *out is the reply, never an error. */
static lp_status eval(lp_ctx *ctx, lpi_store *s, int sc, args *a, redisReply **out) {
    *out = NULL;
    if (a->oom) return lpi_nomem(ctx);
    char h[41], what[48];
    snprintf(what, sizeof what, "run script %s", NAMES[sc]);
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&sha_lock);
        memcpy(h, sha[sc], sizeof h);
        pthread_mutex_unlock(&sha_lock);
        lp_status st;
        if (!h[0]) {
            if ((st = load_script(ctx, s, sc))) return st;
            continue;
        }
        a->v[0] = "EVALSHA";
        a->len[0] = 7;
        a->v[1] = h;
        a->len[1] = 40;
        /* v[2] is the number of keys: 0 (scripts name their keys from the prefix) */
        redisReply *r;
        if ((st = lpi_redis_command(ctx, s, what, a->n, a->v, a->len, &r))) return st;
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8) && attempt == 0) {
            /* the server restarted or flushed its scripts */
            freeReplyObject(r);
            if ((st = load_script(ctx, s, sc))) return st;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            st = lpi_error(ctx, LP_ERR_IO, "%s: %s: %.*s", what, lpi_store_url(s), (int)(r->len > 300 ? 300 : r->len), r->str);
            freeReplyObject(r);
            return st;
        }
        *out = r;
        return LP_OK;
    }
    return lpi_error(ctx, LP_ERR_IO, "%s: %s: the script could not be loaded", what, lpi_store_url(s));
}

static void args_begin(args *a, const char *prefix) {
    memset(a, 0, sizeof *a);
    arg_str(a, "EVALSHA");
    arg_str(a, "");
    arg_str(a, "0");
    arg_str(a, prefix);
}

static bool parse_i64(const char *s, size_t n, int64_t *out) {
    if (!n || n > 20) return false;
    char buf[24];
    memcpy(buf, s, n);
    buf[n] = 0;
    char *e;
    long long v = strtoll(buf, &e, 10);
    if (*e) return false;
    *out = v;
    return true;
}

/* {tag, keep, spawn...} into claims. */
static lp_status claims_from(lp_ctx *ctx, const char *what, redisReply *r, lpi_rr_claims *c) {
    memset(c, 0, sizeof *c);
    c->keep = -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING)
        return lpi_error(ctx, LP_ERR_IO, "run script %s: unexpected reply", what);
    const char *tag = r->element[0]->str;
    if (!strcmp(tag, "gone")) c->state = LPI_RR_GONE;
    else if (!strcmp(tag, "stop")) c->state = LPI_RR_STOP;
    else if (!strcmp(tag, "done")) c->state = LPI_RR_DONE;
    else if (!strcmp(tag, "dup")) c->state = LPI_RR_DUP;
    else if (!strcmp(tag, "ok")) c->state = LPI_RR_OK;
    else return lpi_error(ctx, LP_ERR_IO, "run script %s: unexpected reply '%.20s'", what, tag);
    if (r->elements < 2) return LP_OK;
    if (!(c->spawn = lp_malloc((r->elements ? r->elements : 1) * sizeof *c->spawn))) return lpi_nomem(ctx);
    for (size_t i = 1; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        int64_t t;
        if (e->type != REDIS_REPLY_STRING) return lpi_error(ctx, LP_ERR_IO, "run script %s: unexpected reply", what);
        if (i == 1 && e->len == 0) continue;
        if (e->len == 5 && !memcmp(e->str, "start", 5)) t = LPI_RR_START;
        else if (!parse_i64(e->str, e->len, &t) || t < 0) return lpi_error(ctx, LP_ERR_IO, "run script %s: bad task id", what);
        if (i == 1) c->keep = t;
        else c->spawn[c->n++] = t;
    }
    return LP_OK;
}

void lpi_rr_claims_free(lpi_rr_claims *c) {
    if (!c) return;
    lp_free(c->spawn);
    c->spawn = NULL;
    c->n = 0;
}

static lp_status run_claims(lp_ctx *ctx, lpi_store *s, int sc, args *a, lpi_rr_claims *out) {
    redisReply *r;
    lp_status st = eval(ctx, s, sc, a, &r);
    args_free(a);
    if (st) return st;
    st = claims_from(ctx, NAMES[sc], r, out);
    freeReplyObject(r);
    if (st) lpi_rr_claims_free(out);
    return st;
}

static lp_status run_int(lp_ctx *ctx, lpi_store *s, int sc, args *a, long long *out) {
    redisReply *r;
    lp_status st = eval(ctx, s, sc, a, &r);
    args_free(a);
    if (st) return st;
    if (r->type == REDIS_REPLY_INTEGER) *out = r->integer;
    else st = lpi_error(ctx, LP_ERR_IO, "run script %s: unexpected reply", NAMES[sc]);
    freeReplyObject(r);
    return st;
}

static void task_arg(args *a, int64_t t) {
    if (t == LPI_RR_START) arg_str(a, "start");
    else arg_int(a, t);
}

/* ---- the operations ---- */

lp_status lpi_rr_init(lp_ctx *ctx, lpi_store *s, const char *prefix, const char *doc, size_t doclen, int budget,
                      int max_tries, int64_t lease_ms, int64_t ttl_ms, bool *created) {
    args a;
    args_begin(&a, prefix);
    arg_add(&a, doc, doclen);
    arg_int(&a, budget);
    arg_int(&a, max_tries);
    arg_int(&a, lease_ms);
    arg_int(&a, ttl_ms);
    long long v = 0;
    lp_status st = run_int(ctx, s, SC_INIT, &a, &v);
    *created = v == 1;
    return st;
}

lp_status lpi_rr_start(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t ntasks, const char *tpl,
                       const int64_t *roots, const int64_t *lease_ms, int64_t nroots, lpi_rr_claims *out) {
    args a;
    args_begin(&a, prefix);
    arg_int(&a, ntasks);
    arg_str(&a, tpl);
    arg_int(&a, nroots);
    for (int64_t i = 0; i < nroots; i++) {
        arg_int(&a, roots[i]);
        arg_int(&a, lease_ms[i]);
    }
    return run_claims(ctx, s, SC_START, &a, out);
}

lp_status lpi_rr_complete(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t task, uint64_t checksum,
                          const char *out_key, const lpi_rr_consumer *cons, int ncons, const lpi_rr_input *ins,
                          int nins, int reap_max, lpi_rr_claims *out) {
    char hx[17];
    snprintf(hx, sizeof hx, "%016" PRIx64, checksum);
    args a;
    args_begin(&a, prefix);
    arg_int(&a, task);
    arg_str(&a, hx);
    arg_str(&a, out_key ? out_key : "");
    arg_int(&a, ncons);
    for (int i = 0; i < ncons; i++) {
        arg_int(&a, cons[i].task);
        arg_int(&a, cons[i].ndeps);
        arg_int(&a, cons[i].lease_ms);
    }
    arg_int(&a, nins);
    for (int i = 0; i < nins; i++) {
        arg_str(&a, ins[i].key);
        arg_int(&a, ins[i].readers);
    }
    arg_int(&a, reap_max);
    return run_claims(ctx, s, SC_COMPLETE, &a, out);
}

lp_status lpi_rr_reap(lp_ctx *ctx, lpi_store *s, const char *prefix, int max, lpi_rr_claims *out) {
    args a;
    args_begin(&a, prefix);
    arg_int(&a, max);
    return run_claims(ctx, s, SC_REAP, &a, out);
}

lp_status lpi_rr_refused(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t task, const char *why,
                         lpi_rr_state *state) {
    args a;
    args_begin(&a, prefix);
    task_arg(&a, task);
    arg_str(&a, why);
    lpi_rr_claims c;
    lp_status st = run_claims(ctx, s, SC_REFUSED, &a, &c);
    *state = st ? LPI_RR_STOP : c.state;
    lpi_rr_claims_free(&c);
    return st;
}

lp_status lpi_rr_requeue(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t task, int64_t lease_ms) {
    args a;
    args_begin(&a, prefix);
    arg_int(&a, task);
    arg_int(&a, lease_ms);
    lpi_rr_claims c;
    lp_status st = run_claims(ctx, s, SC_REQUEUE, &a, &c);
    lpi_rr_claims_free(&c);
    return st;
}

lp_status lpi_rr_fail(lp_ctx *ctx, lpi_store *s, const char *prefix, lp_status code, const char *msg) {
    size_t n = strlen(msg) + 40;
    char *m = lp_malloc(n);
    if (!m) return lpi_nomem(ctx);
    snprintf(m, n, "%s:%s", lpi_status_name(code), msg);
    args a;
    args_begin(&a, prefix);
    arg_str(&a, m);
    long long v;
    lp_status st = run_int(ctx, s, SC_FAIL, &a, &v);
    lp_free(m);
    return st;
}

lp_status lpi_rr_touch(lp_ctx *ctx, lpi_store *s, const char *prefix, const char *key, bool *alive) {
    args a;
    args_begin(&a, prefix);
    arg_str(&a, key);
    long long v = 0;
    lp_status st = run_int(ctx, s, SC_TOUCH, &a, &v);
    *alive = v == 1;
    return st;
}

lp_status lpi_rr_hold(lp_ctx *ctx, lpi_store *s, const char *prefix, int64_t lease_ms, const char *doc, size_t doclen,
                      lpi_rr_state *state) {
    args a;
    args_begin(&a, prefix);
    arg_int(&a, lease_ms);
    arg_add(&a, doc ? doc : "", doc ? doclen : 0);
    lpi_rr_claims c;
    lp_status st = run_claims(ctx, s, SC_HOLD, &a, &c);
    *state = st ? LPI_RR_STOP : c.state;
    lpi_rr_claims_free(&c);
    return st;
}

lp_status lpi_rr_cleanup(lp_ctx *ctx, lpi_store *s, const char *prefix) {
    args a;
    args_begin(&a, prefix);
    long long v;
    return run_int(ctx, s, SC_CLEANUP, &a, &v);
}

lp_status lpi_rr_wait(lp_ctx *ctx, lpi_store *s, const char *prefix, double timeout_sec, char **result) {
    *result = NULL;
    char key[LPI_STORE_KEY_MAX + 16], to[32];
    snprintf(key, sizeof key, "%s/result", prefix);
    snprintf(to, sizeof to, "%.3f", timeout_sec > 0.001 ? timeout_sec : 0.001);
    const char *argv[3] = {"BLPOP", key, to};
    redisReply *r;
    lp_status st = lpi_redis_command(ctx, s, "BLPOP", 3, argv, NULL, &r);
    if (st) return st;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
        if (!(*result = lp_malloc(r->element[1]->len + 1))) st = lpi_nomem(ctx);
        else {
            memcpy(*result, r->element[1]->str, r->element[1]->len);
            (*result)[r->element[1]->len] = 0;
        }
    } else if (r->type != REDIS_REPLY_NIL && !(r->type == REDIS_REPLY_ARRAY && r->elements == 0)) {
        st = lpi_error(ctx, LP_ERR_IO, "BLPOP %s: %s: unexpected reply", key, lpi_store_url(s));
    }
    freeReplyObject(r);
    return st;
}

lp_status lpi_rr_get(lp_ctx *ctx, lpi_store *s, const char *key, size_t max, char **text, size_t *len) {
    *text = NULL;
    char end[32];
    snprintf(end, sizeof end, "%zu", max ? max - 1 : 0);
    /* GETRANGE: never more than max bytes come back, whatever is stored */
    const char *argv[4] = {"GETRANGE", key, "0", end};
    redisReply *r;
    lp_status st = lpi_redis_command(ctx, s, "GETRANGE", 4, argv, NULL, &r);
    if (st) return st;
    if (r->type != REDIS_REPLY_STRING) st = lpi_error(ctx, LP_ERR_IO, "%s: %s: not a string value", key, lpi_store_url(s));
    else if (r->len == 0) st = lpi_error(ctx, LP_ERR_NOTFOUND, "%s: not found in %s", key, lpi_store_url(s));
    else if (!(*text = lp_malloc(r->len + 1))) st = lpi_nomem(ctx);
    else {
        memcpy(*text, r->str, r->len);
        (*text)[r->len] = 0;
        if (len) *len = r->len;
    }
    freeReplyObject(r);
    return st;
}

lp_status lpi_rr_checksums(lp_ctx *ctx, lpi_store *s, const char *prefix, const int64_t *tasks, int n,
                           uint64_t *sums, bool *have) {
    if (n == 0) return LP_OK;
    char key[LPI_STORE_KEY_MAX + 16];
    snprintf(key, sizeof key, "%s/done", prefix);
    args a;
    memset(&a, 0, sizeof a);
    arg_str(&a, "HMGET");
    arg_str(&a, key);
    for (int i = 0; i < n; i++) arg_int(&a, tasks[i]);
    if (a.oom) { args_free(&a); return lpi_nomem(ctx); }
    redisReply *r;
    lp_status st = lpi_redis_command(ctx, s, "HMGET", a.n, a.v, a.len, &r);
    args_free(&a);
    if (st) return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)n) {
        st = lpi_error(ctx, LP_ERR_IO, "HMGET %s: %s: unexpected reply", key, lpi_store_url(s));
    } else {
        for (int i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            char *end;
            have[i] = false;
            if (e->type == REDIS_REPLY_STRING && e->len == 16) {
                sums[i] = strtoull(e->str, &end, 16);
                have[i] = end == e->str + 16;
            }
        }
    }
    freeReplyObject(r);
    return st;
}
