/* What drivers and workers of an orchestrated run share (see orchestrate.h): the run
 * document's reader, the orchestrate invocation's body, and the HTTP call that delivers it. */
#include "exec/orchestrate.h"
#include "core/hmap.h"
#include "core/json.h"

#include "store/auth.h"
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool lpi_run_id_valid(const char *id) {
    size_t n = strlen(id);
    return n >= 1 && n <= LPI_RUN_ID_MAX && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n &&
           strcmp(id, ".") && strcmp(id, "..");
}

static const char *const K_DOC[] = {"format", "version", "run", "graph", "data", "chunk_bytes", "threads", "fusion",
                                    "budget", "max_tries", "lease_ms", "runtime_sec", "lambda_mem_mb", "store", "lambda",
                                    "workers", "sinks", NULL};
static const char *const K_SINK[] = {"target", "file", "offset", NULL};
static const char *const K_DATA[] = {"node", "key", "checksum", NULL};

static bool url_ok(const char *u) {
    size_t n = strlen(u);
    return n > 7 && n <= 1000 && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) && !strpbrk(u, "?# \t\r\n");
}

lp_status lpi_rundoc_parse(lp_ctx *ctx, const char *text, size_t n, lpi_rundoc *d) {
    memset(d, 0, sizeof *d);
    const char *W = "run document";
    json_error_t jerr;
    if (!(d->doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr)))
        return lpi_error(ctx, LP_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", W, jerr.line, jerr.column, jerr.text);
    json_t *top = d->doc;
    lp_status st;
    const char *fmt;
    int64_t version, cb, th, budget, tries, lease, mem;
    bool fusion;
    if (!json_is_object(top)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: must be a JSON object", W); goto fail; }
    if ((st = lpi_json_only_keys(ctx, W, top, K_DOC, "key")) || (st = lpi_json_str(ctx, W, top, "format", false, &fmt)) ||
        (st = lpi_json_int(ctx, W, top, "version", false, 0, INT32_MAX, &version)))
        goto fail;
    if (strcmp(fmt, LPI_RUNDOC_FORMAT) || version != LPI_RUNDOC_VERSION) {
        st = lpi_error(ctx, LP_ERR_FORMAT, "%s: not a %s document of version %d", W, LPI_RUNDOC_FORMAT, LPI_RUNDOC_VERSION);
        goto fail;
    }
    if ((st = lpi_json_str(ctx, W, top, "run", false, &d->run)) ||
        (st = lpi_json_int(ctx, W, top, "chunk_bytes", false, 0, (int64_t)1 << 40, &cb)) ||
        (st = lpi_json_int(ctx, W, top, "threads", false, 0, 1024, &th)) ||
        (st = lpi_json_bool(ctx, W, top, "fusion", false, &fusion)) ||
        (st = lpi_json_int(ctx, W, top, "budget", false, 1, 1 << 20, &budget)) ||
        (st = lpi_json_int(ctx, W, top, "max_tries", false, 1, 100, &tries)) ||
        (st = lpi_json_int(ctx, W, top, "lease_ms", false, 10, 24 * 3600 * 1000, &lease)) ||
        (st = lpi_json_flt(ctx, W, top, "runtime_sec", false, &d->runtime_sec)) ||
        (st = lpi_json_int(ctx, W, top, "lambda_mem_mb", false, 0, 1 << 24, &mem)) ||
        (st = lpi_json_str(ctx, W, top, "store", false, &d->store)) ||
        (st = lpi_json_str(ctx, W, top, "lambda", false, &d->lambda)))
        goto fail;
    if (!lpi_run_id_valid(d->run)) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'run' is not a run id", W); goto fail; }
    if (!(d->runtime_sec >= 0.1 && d->runtime_sec <= 86400)) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'runtime_sec' must be 0.1..86400", W); goto fail; }
    if (!*d->lambda || strlen(d->lambda) > 100 || strspn(d->lambda, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(d->lambda)) {
        st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'lambda' is not a lambda name", W);
        goto fail;
    }
    if (strlen(d->store) > 1024) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: 'store' is too long", W); goto fail; }
    snprintf(d->prefix, sizeof d->prefix, "lampy/%s", d->run);
    d->chunk_bytes = cb;
    d->threads = (int)th;
    d->fusion = fusion;
    d->budget = (int)budget;
    d->max_tries = (int)tries;
    d->lease_ms = lease;
    d->lambda_mem_mb = mem;
    d->graph = json_object_get(top, "graph");
    if (!json_is_object(d->graph)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'graph' must be a graph document", W); goto fail; }
    const json_t *ws = json_object_get(top, "workers"), *data = json_object_get(top, "data");
    if (!json_is_array(ws) || json_array_size(ws) < 1 || json_array_size(ws) > LPI_ORCH_MAX_WORKERS) {
        st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'workers' must list 1 to %d URLs", W, LPI_ORCH_MAX_WORKERS);
        goto fail;
    }
    d->nworkers = (int)json_array_size(ws);
    if (!(d->workers = lp_calloc((size_t)d->nworkers, sizeof *d->workers))) { st = lpi_nomem(ctx); goto fail; }
    for (int i = 0; i < d->nworkers; i++) {
        const json_t *u = json_array_get(ws, (size_t)i);
        if (!json_is_string(u) || !url_ok(json_string_value(u))) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: worker %d is not an http:// URL", W, i);
            goto fail;
        }
        d->workers[i] = json_string_value(u);
    }
    if (!json_is_array(data) || json_array_size(data) > (1 << 20)) {
        st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'data' must be a list", W);
        goto fail;
    }
    d->ndata = (int)json_array_size(data);
    if (!(d->data = lp_calloc((size_t)d->ndata + 1, sizeof *d->data))) { st = lpi_nomem(ctx); goto fail; }
    for (int i = 0; i < d->ndata; i++) {
        const json_t *e = json_array_get(data, (size_t)i);
        char w[64];
        const char *cs;
        snprintf(w, sizeof w, "%s: data %d", W, i);
        if (!json_is_object(e)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: must be an object", w); goto fail; }
        if ((st = lpi_json_only_keys(ctx, w, e, K_DATA, "key")) ||
            (st = lpi_json_int(ctx, w, e, "node", false, 0, INT32_MAX, &d->data[i].node)) ||
            (st = lpi_json_str(ctx, w, e, "key", false, &d->data[i].key)) || (st = lpi_json_str(ctx, w, e, "checksum", false, &cs)))
            goto fail;
        /* the run's own keys only: a document cannot make a worker read other data */
        size_t pl = strlen(d->prefix);
        char *end;
        if (strncmp(d->data[i].key, d->prefix, pl) || strncmp(d->data[i].key + pl, "/data/", 6) ||
            !lpi_store_key_valid(d->data[i].key, NULL)) {
            st = lpi_error(ctx, LP_ERR_VALUE, "%s: the key must be %s/data/...", w, d->prefix);
            goto fail;
        }
        if (strlen(cs) != 16 || (d->data[i].checksum = strtoull(cs, &end, 16), end != cs + 16)) {
            st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'checksum' must be 16 hex digits", w);
            goto fail;
        }
    }
    /* result sinks: where each is allowed is the worker's check (lpi_wire_sink_open) */
    const json_t *sk = json_object_get(top, "sinks");
    if (sk && (!json_is_array(sk) || json_array_size(sk) > 4096)) {
        st = lpi_error(ctx, LP_ERR_FORMAT, "%s: 'sinks' must be a list", W);
        goto fail;
    }
    d->nsinks = sk ? (int)json_array_size(sk) : 0;
    if (!(d->sinks = lp_calloc((size_t)d->nsinks + 1, sizeof *d->sinks))) { st = lpi_nomem(ctx); goto fail; }
    for (int i = 0; i < d->nsinks; i++) {
        const json_t *e = json_array_get(sk, (size_t)i);
        char w[64];
        snprintf(w, sizeof w, "%s: sink %d", W, i);
        if (!json_is_object(e)) { st = lpi_error(ctx, LP_ERR_FORMAT, "%s: must be an object", w); goto fail; }
        if ((st = lpi_json_only_keys(ctx, w, e, K_SINK, "key")) ||
            (st = lpi_json_int(ctx, w, e, "target", false, 0, INT32_MAX, &d->sinks[i].target)) ||
            (st = lpi_json_str(ctx, w, e, "file", false, &d->sinks[i].file)) ||
            (st = lpi_json_int(ctx, w, e, "offset", false, 0, INT64_MAX >> 2, &d->sinks[i].offset)))
            goto fail;
        for (int k = 0; k < i; k++)
            if (d->sinks[k].target == d->sinks[i].target) { st = lpi_error(ctx, LP_ERR_VALUE, "%s: a second sink of its target", w); goto fail; }
    }
    return LP_OK;
fail:
    lpi_rundoc_free(d);
    return st;
}

void lpi_rundoc_free(lpi_rundoc *d) {
    if (!d) return;
    lp_free(d->workers);
    lp_free(d->data);
    lp_free(d->sinks);
    json_decref(d->doc);
    memset(d, 0, sizeof *d);
}

/* ---- loops ---- */

static bool is_loop_op(const json_t *node) {
    const char *op = json_string_value(json_object_get(node, "op"));
    return op && (!strcmp(op, "while_loop") || !strcmp(op, "fori_loop"));
}

bool lpi_rundoc_has_loops(const json_t *graph) {
    const json_t *nodes = json_object_get(graph, "nodes");
    for (size_t i = 0; i < json_array_size(nodes); i++)
        if (is_loop_op(json_array_get(nodes, i))) return true;
    return false;
}

json_t *lpi_rundoc_loop_outputs(const json_t *graph) {
    const json_t *nodes = json_object_get(graph, "nodes");
    json_t *ids = json_array();
    for (size_t i = 0; ids && i < json_array_size(nodes); i++) {
        const json_t *o = json_array_get(nodes, i), *id = json_object_get(o, "id");
        const char *op = json_string_value(json_object_get(o, "op"));
        if (op && !strcmp(op, "loop_output") && json_is_integer(id) && json_array_append(ids, (json_t *)id)) {
            json_decref(ids);
            ids = NULL;
        }
    }
    return ids;
}

/* Keep the top-level nodes the targets reach (through "inputs"), in their order. */
static lp_status prune(lp_ctx *ctx, json_t *graph) {
    json_t *nodes = json_object_get(graph, "nodes"), *targets = json_object_get(graph, "targets");
    size_t n = json_array_size(nodes);
    lpi_hmap at = {0};
    bool *keep = lp_calloc(n + 1, sizeof *keep);
    size_t *stack = lp_malloc((n + 1) * sizeof *stack), sp = 0;
    json_t *kept = json_array();
    lp_status st = LP_OK;
    if (!keep || !stack || !kept || !lpi_hmap_init(&at, n + 1)) st = lpi_nomem(ctx);
    for (size_t i = 0; !st && i < n; i++) {
        const json_t *id = json_object_get(json_array_get(nodes, i), "id");
        if (json_is_integer(id) && !lpi_hmap_put(&at, (uint64_t)json_integer_value(id), (int64_t)i)) st = lpi_nomem(ctx);
    }
    /* ids that name no node are left for the graph's validator to report */
    for (size_t t = 0; !st && t < json_array_size(targets); t++) {
        int64_t i;
        const json_t *e = json_array_get(targets, t);
        if (!json_is_integer(e) || !lpi_hmap_get(&at, (uint64_t)json_integer_value(e), &i) || keep[i]) continue;
        keep[i] = true;
        stack[sp++] = (size_t)i;
        while (sp) {
            const json_t *ins = json_object_get(json_array_get(nodes, stack[--sp]), "inputs");
            for (size_t k = 0; k < json_array_size(ins); k++) {
                const json_t *x = json_array_get(ins, k);
                if (!json_is_integer(x) || !lpi_hmap_get(&at, (uint64_t)json_integer_value(x), &i) || keep[i]) continue;
                keep[i] = true;
                stack[sp++] = (size_t)i;
            }
        }
    }
    for (size_t i = 0; !st && i < n; i++)
        if (keep[i] && json_array_append(kept, json_array_get(nodes, i))) st = lpi_nomem(ctx);
    if (!st && json_object_set(graph, "nodes", kept)) st = lpi_nomem(ctx);
    json_decref(kept);
    lpi_hmap_free(&at);
    lp_free(keep);
    lp_free(stack);
    return st;
}

lp_status lpi_rundoc_bind_loops(lp_ctx *ctx, json_t *doc, const int64_t *ids, char *const *keys, const uint64_t *sums, int n) {
    json_t *graph = json_object_get(doc, "graph"), *data = json_object_get(doc, "data");
    json_t *nodes = json_object_get(graph, "nodes");
    if (!json_is_array(nodes) || !json_is_array(data)) return lpi_error(ctx, LP_ERR_FORMAT, "run document: no graph nodes or data table");
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *o = json_array_get(nodes, i);
        const json_t *id = json_object_get(o, "id");
        int k = 0;
        while (k < n && !(json_is_integer(id) && json_integer_value(id) == ids[k])) k++;
        if (k == n) continue;
        char hx[17];
        snprintf(hx, sizeof hx, "%016" PRIx64, sums[k]);
        json_t *attrs = json_pack("{s:s}", "path", keys[k]);
        json_t *e = json_pack("{s:I,s:s,s:s}", "node", (json_int_t)ids[k], "key", keys[k], "checksum", hx);
        int r = !attrs || !e;
        r |= json_object_set_new(o, "op", json_string("load"));
        r |= json_object_set_new(o, "attrs", attrs);
        r |= json_object_del(o, "inputs") != 0;
        r |= json_array_append_new(data, e);
        if (r) return lpi_nomem(ctx);
    }
    /* the graph is version 1 again when no loop is left */
    lp_status st = prune(ctx, graph);
    if (!st && !lpi_rundoc_has_loops(graph) && json_object_set_new(graph, "version", json_integer(1))) st = lpi_nomem(ctx);
    return st;
}

char *lpi_orch_request(const char *run, const char *store, int64_t task) {
    char key[LPI_RUN_ID_MAX + 16];
    snprintf(key, sizeof key, "lampy/%s/run", run);
    json_t *j = json_pack("{s:s,s:i,s:s,s:s,s:[s],s:s}", "format", "lampy.tasks", "version", 1, "kind", "orchestrate",
                          "run", run, "stores", store, "doc", key);
    if (j && task >= 0 && json_object_set_new(j, "task", json_integer((json_int_t)task))) { json_decref(j); j = NULL; }
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* ---- invocations ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc;
static void curl_init(void) { curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Workers that failed an invocation lately (skipped while others remain). */
#define BAD_MAX 64
static pthread_mutex_t bad_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char url[256]; double until; } bad[BAD_MAX];

static bool is_bad(const char *url, double now) {
    bool b = false;
    pthread_mutex_lock(&bad_lock);
    for (int i = 0; i < BAD_MAX && !b; i++) b = bad[i].until > now && !strcmp(bad[i].url, url);
    pthread_mutex_unlock(&bad_lock);
    return b;
}

static void mark_bad(const char *url, double now) {
    pthread_mutex_lock(&bad_lock);
    int slot = 0;
    for (int i = 0; i < BAD_MAX; i++) {
        if (!strcmp(bad[i].url, url)) { slot = i; break; }
        if (bad[i].until < bad[slot].until) slot = i;
    }
    snprintf(bad[slot].url, sizeof bad[slot].url, "%s", url);
    bad[slot].until = now + 5;
    pthread_mutex_unlock(&bad_lock);
}

typedef struct xfer {
    char reply[512];
    size_t n;
    atomic_int *sent;
} xfer;

static size_t on_data(char *p, size_t sz, size_t nm, void *arg) {
    xfer *x = arg;
    size_t k = sz * nm, room = sizeof x->reply - 1 - x->n;
    memcpy(x->reply + x->n, p, k < room ? k : room);
    x->n += k < room ? k : room;
    x->reply[x->n] = 0;
    return k;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    xfer *x = arg;
    if (x->sent && ultotal > 0 && ulnow >= ultotal) atomic_store(x->sent, 1);
    return 0;
}

lp_status lpi_orch_invoke(lp_ctx *ctx, const char *const *urls, int n, int first, const char *lambda, const char *body,
                          const char *agent, double timeout_sec, const lpi_orch_auth *auth, atomic_int *sent) {
    pthread_once(&curl_once, curl_init);
    if (curl_rc != CURLE_OK) return lpi_error(ctx, LP_ERR_REMOTE, "libcurl failed to initialize");
    if (n < 1) return lpi_error(ctx, LP_ERR_VALUE, "no worker to invoke");
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    if (hd) hd = curl_slist_append(hd, "Expect:");
    if (!h || !hd) {
        curl_easy_cleanup(h);
        curl_slist_free_all(hd);
        return lpi_nomem(ctx);
    }
    char body_hash[65] = "";
    if (auth && auth->key) lpi_sha256_hex(body, strlen(body), body_hash);
    char why[LPI_ERRMSG_MAX] = "no worker tried";
    lp_status st = LP_ERR_REMOTE;
    bool all_busy = true, denied = false;
    double now = lpi_now();
    /* two passes: workers not marked bad first, then the others */
    for (int pass = 0; pass < 2 && st; pass++)
        for (int i = 0; i < n && st; i++) {
            const char *base = urls[((first % n) + n + i) % n];
            if (is_bad(base, now) != (pass == 1)) continue;
            char url[1200], err[CURL_ERROR_SIZE] = "";
            snprintf(url, sizeof url, "%s/run/%s", base, lambda);
            xfer x = {.sent = sent};
            curl_easy_reset(h);
            curl_easy_setopt(h, CURLOPT_URL, url);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
            struct curl_slist *signed_hd = NULL;
            if (auth && auth->key) {
                /* signed like every batch: method, path, the run's scope, the body's hash */
                lpi_auth_hdrs ah;
                const char *path = strstr(url, "://");
                path = path ? path + 3 + strcspn(path + 3, "/") : url;
                lpi_auth_sign(auth->key, "POST", path, auth->scope, body_hash, &ah);
                struct curl_slist *l = NULL, *l2;
                for (const struct curl_slist *p = hd; p; p = p->next)
                    if ((l2 = curl_slist_append(l, p->data))) l = l2;
                for (int k = 0; k < 5; k++)
                    if ((l2 = curl_slist_append(l, ah.line[k]))) l = l2;
                signed_hd = l;
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, signed_hd);
            }
            if (auth && auth->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, auth->ca_file);
            curl_easy_setopt(h, CURLOPT_USERAGENT, agent);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
            curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
            curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
            curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
            curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(h, CURLOPT_PROXY, "");
            curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_sec * 1000));
            CURLcode cc = curl_easy_perform(h);
            curl_slist_free_all(signed_hd);
            long code = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            if (cc == CURLE_OK && code >= 200 && code < 300) {
                /* OpenLambda answers 200 with Lampy's error inside ("code") */
                const char *e = strstr(x.reply, "\"error\"");
                if (!e) { st = LP_OK; break; }
                snprintf(why, sizeof why, "%.300s: %.150s", url, x.reply);
            } else if (cc == CURLE_OK) {
                /* a worker's JSON error: its message, not the raw body */
                json_t *ej = json_loads(x.reply, 0, NULL);
                const char *em = json_string_value(json_object_get(ej, "error"));
                snprintf(why, sizeof why, "%.300s: HTTP %ld: %.400s", url, code, em ? em : x.reply);
                json_decref(ej);
            } else {
                snprintf(why, sizeof why, "%.300s: %.150s", url, err[0] ? err : curl_easy_strerror(cc));
            }
            for (char *p = why; *p; p++)
                if (*p == '\n' || *p == '\r') *p = ' ';
            all_busy &= cc == CURLE_OK && code == 429;
            denied = cc == CURLE_OK && (code == 401 || code == 403);
            mark_bad(base, lpi_now());
            if (cc == CURLE_OK && code >= 400 && code < 500 && code != 429) {
                /* the request itself is wrong: no other worker will take it either */
                pass = 2;
                break;
            }
        }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    if (st) return lpi_error(ctx, all_busy ? LP_ERR_LIMIT : denied ? LP_ERR_DENIED : LP_ERR_REMOTE, "%s", why);
    return LP_OK;
}
