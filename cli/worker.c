/* `lampy worker`: run tasks for remote drivers over the OpenLambda invocation API. */
#include "cli.h"
#include "server/http.h"
#include "server/worker.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char cli_worker_help[] =
    "usage: lampy worker [--port N] [--bind ADDR] [--name NAME] [--max-concurrency C]\n"
    "                    [--allow-store URL]... [--load-dir DIR]... [--max-body SIZE]\n"
    "                    [--max-chunk-bytes SIZE] [--max-task-bytes SIZE]\n"
    "\n"
    "Serve Lampy's lambda the way an OpenLambda worker does, so `lampy eval --executor\n"
    "lambda --workers http://ADDR:PORT` (or any driver) can send it tasks. Prints\n"
    "'listening on http://ADDR:PORT' once ready and runs until SIGTERM or SIGINT, then\n"
    "finishes the batches in flight and exits.\n"
    "\n"
    "  POST /run/NAME   a batch of tasks (docs/PROTOCOL.md): inputs are fetched from the\n"
    "                   store the batch names, outputs written back; the reply lists them\n"
    "  GET  /status     'ready'        GET /stats   counters (JSON)\n"
    "  400 invalid batch, 404 unknown lambda, 405 wrong method, 413 over a limit,\n"
    "  429 more than C batches in flight, 500 kernel or store failure.\n"
    "\n"
    "Options:\n"
    "  --port N               TCP port; 0 picks a free one (default 5000)\n"
    "  --bind ADDR            numeric IPv4/IPv6 address (default 127.0.0.1). The worker has\n"
    "                         no authentication: bind beyond loopback only on a trusted\n"
    "                         network.\n"
    "  --name NAME            lambda name in /run/NAME (default lampy)\n"
    "  --max-concurrency C    batches at once; more are answered 429 (default 2 per core)\n"
    "  --allow-store URL      a store batches may use (repeatable). redis:// and http://\n"
    "                         entries match as prefixes, file:// exactly. Default: any\n"
    "                         redis:// or http:// store, no file:// store.\n"
    "  --load-dir DIR         load tasks may read .npy files below DIR only (repeatable;\n"
    "                         default: any absolute path)\n"
    "  --max-body SIZE        largest request body (default 16M)\n"
    "  --max-chunk-bytes SIZE largest chunk read or written (default 1G)\n"
    "  --max-task-bytes SIZE  most memory one task may need (default 4G)\n"
    "  -h, --help             show this help\n";

static bool opt_is(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

int cli_worker(int argc, char **argv) {
    lpi_worker_opts o;
    memset(&o, 0, sizeof o);
    o.bind = "127.0.0.1";
    o.port = 5000;
    lpi_wire_limits_default(&o.cfg.limits);
    const char **stores = calloc((size_t)argc + 1, sizeof *stores), **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    int nstores = 0, ndirs = 0, rc = CLI_EXIT_OK;
    if (!stores || !dirs) { rc = cli_error("out of memory"); goto done; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int err = 0;
        long n;
        size_t sz;
#define VALUE(name) do { if (!(v = cli_opt_value(argc, argv, &i, name, &err))) { rc = err; goto done; } } while (0)
        if (opt_is(a, "--port")) {
            VALUE("--port");
            if (cli_parse_int(v, 0, 65535, &n)) { rc = cli_usage_error("worker: --port must be 0..65535, got '%s'", v); goto done; }
            o.port = (unsigned)n;
        } else if (opt_is(a, "--bind")) {
            VALUE("--bind");
            o.bind = v;
        } else if (opt_is(a, "--name")) {
            VALUE("--name");
            o.cfg.name = v;
        } else if (opt_is(a, "--max-concurrency")) {
            VALUE("--max-concurrency");
            if (cli_parse_int(v, 1, 4096, &n)) { rc = cli_usage_error("worker: --max-concurrency must be 1..4096, got '%s'", v); goto done; }
            o.max_concurrency = (int)n;
        } else if (opt_is(a, "--allow-store")) {
            VALUE("--allow-store");
            stores[nstores++] = v;
        } else if (opt_is(a, "--load-dir")) {
            VALUE("--load-dir");
            if (v[0] != '/') { rc = cli_usage_error("worker: --load-dir needs an absolute path, got '%s'", v); goto done; }
            dirs[ndirs++] = v;
        } else if (opt_is(a, "--max-body") || opt_is(a, "--max-chunk-bytes") || opt_is(a, "--max-task-bytes")) {
            const char *name = opt_is(a, "--max-body") ? "--max-body" : opt_is(a, "--max-chunk-bytes") ? "--max-chunk-bytes" : "--max-task-bytes";
            VALUE(name);
            if (cli_parse_size(v, &sz) || sz == 0) { rc = cli_usage_error("worker: %s needs a positive size, got '%s'", name, v); goto done; }
            if (name[6] == 'b') o.max_body = sz;
            else if (name[6] == 'c') o.cfg.limits.max_chunk_bytes = sz;
            else o.cfg.limits.max_task_bytes = sz;
        } else if (opt_is(a, "--fault")) {
            /* test-only: hang:K, 429:K or 502:K for the next K batches; slow:MS for every task of
             * an orchestrated chain (runs long enough to be interrupted) */
            VALUE("--fault");
            const char *c = strchr(v, ':');
            long k = 1;
            if (c && cli_parse_int(c + 1, 0, 1000000, &k)) { rc = cli_usage_error("worker: --fault KIND:COUNT"); goto done; }
            size_t kl = c ? (size_t)(c - v) : strlen(v);
            if (kl == 4 && !strncmp(v, "hang", 4)) o.fault = LPI_FAULT_HANG;
            else if (kl == 3 && !strncmp(v, "429", 3)) o.fault = LPI_FAULT_BUSY;
            else if (kl == 3 && !strncmp(v, "502", 3)) o.fault = LPI_FAULT_FAIL;
            else if (kl == 4 && !strncmp(v, "slow", 4)) o.cfg.slow_task_ms = (int)k;
            else { rc = cli_usage_error("worker: --fault is hang, 429, 502 (with :COUNT) or slow:MS"); goto done; }
            if (kl != 4 || strncmp(v, "slow", 4)) o.fault_count = (int)k;
        } else {
            rc = cli_usage_error("worker: unknown argument '%s'; see 'lampy worker --help'", a);
            goto done;
        }
#undef VALUE
    }
    o.cfg.allow_stores = nstores ? stores : NULL;
    o.cfg.limits.load_dirs = ndirs ? dirs : NULL;

    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) { rc = cli_error("out of memory"); goto done; }
    lpi_http_block_signals();
    lpi_worker_server *srv;
    lp_status st = lpi_worker_server_start(ctx, &o, &srv);
    if (st != LP_OK) {
        rc = cli_lib_error(ctx, st);
        lp_ctx_destroy(ctx);
        goto done;
    }
    const char *sig = cli_serve_until_signal("worker", o.bind, lpi_worker_server_url(srv),
                                             "run tasks and read the allowed stores");
    fprintf(stderr, "lampy worker: %s received, finishing the batches in flight\n", sig);
    lpi_worker_server_stop(srv, 60.0);
    lp_ctx_destroy(ctx);
done:
    free(stores);
    free(dirs);
    return rc;
}
