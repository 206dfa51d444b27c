/* `lampy worker`: run tasks for remote drivers over the OpenLambda invocation API. */
#include "cli.h"
#include "server/worker.h"

#include <stdlib.h>
#include <string.h>

const char cli_worker_help[] =
    "usage: lampy worker [--port N] [--bind ADDR] [--name NAME] [--max-concurrency C]\n"
    "                    [--allow-store URL]... [--load-dir DIR]... [--load-url PREFIX]...\n"
    "                    [--write-dir DIR]...\n"
    "                    [--max-body SIZE]\n"
    "                    [--max-chunk-bytes SIZE] [--max-task-bytes SIZE] [--max-memory SIZE]\n"
    "                    [--key-file FILE]\n"
    "                    [--tls-cert FILE --tls-key FILE] [--ca-file FILE] [--insecure]\n"
    "\n"
    "Serve Lampy's lambda the way an OpenLambda worker does, so `lampy eval --executor\n"
    "lambda --workers http://ADDR:PORT` (or any driver) can send it tasks. Prints\n"
    "'listening on http://ADDR:PORT' once ready and runs until SIGTERM or SIGINT, then\n"
    "finishes the batches in flight and exits.\n"
    "\n"
    "  POST /run/NAME   a batch of tasks (docs/PROTOCOL.md): inputs are fetched from the\n"
    "                   store the batch names, outputs written back; the reply lists them\n"
    "  GET  /status     'ready'        GET /stats   counters (JSON)\n"
    "  400 invalid batch, 401 not signed with the key, 403 store, load path or key not\n"
    "  allowed, 404 unknown lambda, 405 wrong method, 413 over a limit, 429 more than C\n"
    "  batches in flight or not enough --max-memory, 500 kernel or store failure.\n"
    "\n"
    "Options:\n"
    "  --port N               TCP port; 0 picks a free one (default 5000)\n"
    "  --bind ADDR            numeric IPv4/IPv6 address (default 127.0.0.1); beyond loopback\n"
    "                         only with --key-file (or --insecure)\n"
    "  --name NAME            lambda name in /run/NAME (default lampy)\n"
    "  --max-concurrency C    batches at once; more are answered 429 (default 2 per core)\n"
    "  --allow-store URL      a store batches may use (repeatable; none by default). A batch's\n"
    "                         store must have the same scheme, host, port and Redis database\n"
    "                         (or path); this URL, with its credentials, is what the worker\n"
    "                         opens. Others: 403.\n"
    "  --load-dir DIR         load tasks may read files below DIR (repeatable; none by\n"
    "                         default). Paths elsewhere, also through symlinks or '..': 403.\n"
    "  --load-url PREFIX      load tasks may read URLs that start with PREFIX, at a '/'\n"
    "                         (http://, https://, s3://; repeatable; none by default)\n"
    "  --write-dir DIR        tasks may write their output into a .npy file a driver created\n"
    "                         below DIR (a result sink: lampy eval -o; repeatable; none by\n"
    "                         default). Paths elsewhere, also through symlinks or '..': 403.\n"
    "  --max-body SIZE        largest request body (default 16M)\n"
    "  --max-chunk-bytes SIZE largest chunk read or written (default 1G)\n"
    "  --max-task-bytes SIZE  most memory one task may need (default 4G)\n"
    "  --max-memory SIZE      memory the batches in flight may hold together: each reserves\n"
    "                         8x its body to parse, then its tasks' needs (429 while it does\n"
    "                         not fit, 413 if it never could; default half the machine's)\n"
    CLI_SERVER_HELP
    "  --ca-file FILE         https:// stores: trust this CA bundle (PEM; default\n"
    "                         $LAMPY_CA_FILE, else the system's)\n"
    "  -h, --help             show this help\n";

/* test-only: hang:K, 429:K or 502:K for the next K batches; slow:MS for every task of an
 * orchestrated chain (runs long enough to be interrupted) */
static int parse_fault(const char *cmd, const char *opt, const char *v, void *dst) {
    lpi_worker_opts *o = dst;
    const char *c = strchr(v, ':');
    long k = 1;
    if (c && cli_parse_int(c + 1, 0, 1000000, &k)) return cli_usage_error("%s: %s KIND:COUNT", cmd, opt);
    size_t kl = c ? (size_t)(c - v) : strlen(v);
    if (kl == 4 && !strncmp(v, "hang", 4)) o->fault = LPI_FAULT_HANG;
    else if (kl == 3 && !strncmp(v, "429", 3)) o->fault = LPI_FAULT_BUSY;
    else if (kl == 3 && !strncmp(v, "502", 3)) o->fault = LPI_FAULT_FAIL;
    else if (kl == 4 && !strncmp(v, "slow", 4)) { o->cfg.slow_task_ms = (int)k; return 0; }
    else return cli_usage_error("%s: %s is hang, 429, 502 (with :COUNT) or slow:MS", cmd, opt);
    o->fault_count = (int)k;
    return 0;
}

static int positive(const char *opt, size_t v) {
    return v ? 0 : cli_usage_error("worker: %s needs a positive size", opt);
}

int cli_worker(int argc, char **argv) {
    lpi_worker_opts o;
    memset(&o, 0, sizeof o);
    o.bind = "127.0.0.1";
    lpi_wire_limits_default(&o.cfg.limits);
    long port = 5000, conc = 0;
    size_t max_body = 0, max_chunk = 0, max_task = 0, max_mem = 0;
    bool set_body = false, set_chunk = false, set_task = false, set_mem = false;
    cli_list stores = {0}, dirs = {0}, urls = {0}, wdirs = {0};
    cli_server so = {0};
    int rc = CLI_EXIT_OK;
    if ((rc = cli_list_init(&stores, argc)) || (rc = cli_list_init(&dirs, argc)) || (rc = cli_list_init(&urls, argc)) ||
        (rc = cli_list_init(&wdirs, argc)))
        goto done;
    const cli_opt opts[] = {
        {.name = "--port", .kind = CLI_INT, .dst = &port, .lo = 0, .hi = 65535},
        {.name = "--bind", .kind = CLI_STR, .dst = &o.bind},
        {.name = "--name", .kind = CLI_STR, .dst = &o.cfg.name},
        {.name = "--max-concurrency", .kind = CLI_INT, .dst = &conc, .lo = 1, .hi = 4096},
        {.name = "--allow-store", .kind = CLI_LIST, .dst = &stores},
        {.name = "--load-dir", .kind = CLI_LIST, .dst = &dirs},
        {.name = "--load-url", .kind = CLI_LIST, .dst = &urls},
        {.name = "--write-dir", .kind = CLI_LIST, .dst = &wdirs},
        {.name = "--max-body", .kind = CLI_SIZE, .dst = &max_body, .seen = &set_body},
        {.name = "--max-chunk-bytes", .kind = CLI_SIZE, .dst = &max_chunk, .seen = &set_chunk},
        {.name = "--max-task-bytes", .kind = CLI_SIZE, .dst = &max_task, .seen = &set_task},
        {.name = "--max-memory", .kind = CLI_SIZE, .dst = &max_mem, .seen = &set_mem},
        {.name = "--fault", .kind = CLI_FN, .dst = &o, .fn = parse_fault},
        CLI_SERVER_OPTS(&so),
        {0},
    };
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) { rc = cli_error("out of memory"); goto done; }
    rc = cli_parse_args("worker", argc, argv, opts, 0, pos, &npos);
    if (!rc && npos) rc = cli_usage_error("worker: unknown argument '%s'; see 'lampy worker --help'", pos[0]);
    free(pos);
    if (rc) goto done;
    for (int i = 0; i < dirs.n; i++)
        if (dirs.v[i][0] != '/') { rc = cli_usage_error("worker: --load-dir needs an absolute path, got '%s'", dirs.v[i]); goto done; }
    for (int i = 0; i < wdirs.n; i++)
        if (wdirs.v[i][0] != '/') { rc = cli_usage_error("worker: --write-dir needs an absolute path, got '%s'", wdirs.v[i]); goto done; }
    for (int i = 0; i < urls.n; i++)
        if (strncmp(urls.v[i], "http://", 7) && strncmp(urls.v[i], "https://", 8) && strncmp(urls.v[i], "s3://", 5)) {
            rc = cli_usage_error("worker: --load-url needs an http://, https:// or s3:// prefix, got '%s'", urls.v[i]);
            goto done;
        }
    if ((set_body && (rc = positive("--max-body", max_body))) || (set_chunk && (rc = positive("--max-chunk-bytes", max_chunk))) ||
        (set_task && (rc = positive("--max-task-bytes", max_task))) || (set_mem && (rc = positive("--max-memory", max_mem))))
        goto done;
    o.port = (unsigned)port;
    o.max_concurrency = (int)conc;
    if (set_body) o.max_body = max_body;
    if (set_chunk) o.cfg.limits.max_chunk_bytes = max_chunk;
    if (set_task) o.cfg.limits.max_task_bytes = max_task;
    if (set_mem) o.cfg.max_memory = max_mem;
    o.cfg.allow_stores = stores.n ? stores.v : NULL;
    o.cfg.limits.load_dirs = dirs.n ? dirs.v : NULL;
    o.cfg.limits.load_urls = urls.n ? urls.v : NULL;
    o.cfg.limits.write_dirs = wdirs.n ? wdirs.v : NULL;

    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) { rc = cli_error("out of memory"); goto done; }
    rc = cli_server_setup(ctx, "worker", o.bind, &so);
    o.cfg.key = so.key;
    o.cfg.ca_file = so.ca_file;
    o.tls_cert = so.tls_cert;
    o.tls_key = so.tls_key;
    o.per_client = (unsigned)so.per_client;
    o.request_timeout_sec = (unsigned)so.request_timeout;
    lpi_worker_server *srv = NULL;
    lp_status st = rc ? LP_OK : lpi_worker_server_start(ctx, &o, &srv);
    if (st != LP_OK) rc = cli_lib_error(ctx, st);
    if (!rc) {
        const char *sig = cli_serve_until_signal(lpi_worker_server_url(srv));
        fprintf(stderr, "lampy worker: %s received, finishing the batches in flight\n", sig);
        lpi_worker_server_stop(srv, 60.0);
    }
    cli_server_done(&so);
    lp_ctx_destroy(ctx);
done:
    cli_list_free(&stores);
    cli_list_free(&dirs);
    cli_list_free(&urls);
    cli_list_free(&wdirs);
    return rc;
}
