/* `lampy store`: serve a directory of chunks over HTTP (the http:// store backend's server). */
#include "cli.h"
#include "server/http.h"
#include "server/storesrv.h"
#include "store/store.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char cli_store_help[] =
    "usage: lampy store --dir DIR [--port N] [--bind ADDR] [--max-chunk-bytes SIZE]\n"
    "                   [--threads N] [--key-file FILE] [--tls-cert FILE --tls-key FILE]\n"
    "                   [--insecure]\n"
    "\n"
    "Serve the chunks below DIR over HTTP, for workers that use the store URL\n"
    "http://ADDR:PORT. Prints 'listening on http://ADDR:PORT' once ready and runs\n"
    "until SIGTERM or SIGINT, then finishes the requests in flight and exits.\n"
    "\n"
    "  GET /chunks/KEY (Range: bytes=a-b), HEAD, PUT (verified before it is visible),\n"
    "  DELETE; GET /status answers 'ready'.\n"
    "\n"
    "Options:\n"
    "  --dir DIR               store directory (created if missing)\n"
    "  --port N                TCP port; 0 picks a free one (default 0)\n"
    "  --bind ADDR             numeric IPv4/IPv6 address (default 127.0.0.1); beyond\n"
    "                          loopback only with --key-file (or --insecure)\n"
    "  --max-chunk-bytes SIZE  largest chunk accepted, data bytes; suffixes k M G\n"
    "                          (default 1G)\n"
    "  --threads N             HTTP threads (default: 2 per core, at least 4)\n"
    CLI_SERVER_HELP
    "  -h, --help              show this help\n";

int cli_store(int argc, char **argv) {
    lpi_storesrv_opts o = {.bind = "127.0.0.1"};
    cli_server so = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int err = 0;
        long n;
        size_t sz;
        if (cli_server_opt(argc, argv, &i, &so, &err)) {
            if (err) return err;
        } else if (strncmp(a, "--dir", 5) == 0 && (a[5] == 0 || a[5] == '=')) {
            if (!(v = cli_opt_value(argc, argv, &i, "--dir", &err))) return err;
            if (!*v) return cli_usage_error("store: --dir must not be empty");
            o.dir = v;
        } else if (strncmp(a, "--port", 6) == 0 && (a[6] == 0 || a[6] == '=')) {
            if (!(v = cli_opt_value(argc, argv, &i, "--port", &err))) return err;
            if (cli_parse_int(v, 0, 65535, &n) != 0)
                return cli_usage_error("store: --port must be 0..65535, got '%s'", v);
            o.port = (unsigned)n;
        } else if (strncmp(a, "--bind", 6) == 0 && (a[6] == 0 || a[6] == '=')) {
            if (!(v = cli_opt_value(argc, argv, &i, "--bind", &err))) return err;
            o.bind = v;
        } else if (strncmp(a, "--max-chunk-bytes", 17) == 0 && (a[17] == 0 || a[17] == '=')) {
            if (!(v = cli_opt_value(argc, argv, &i, "--max-chunk-bytes", &err))) return err;
            if (cli_parse_size(v, &sz) != 0 || sz == 0)
                return cli_usage_error("store: --max-chunk-bytes must be a positive size, got '%s'",
                                       v);
            o.max_chunk_bytes = sz;
        } else if (strncmp(a, "--threads", 9) == 0 && (a[9] == 0 || a[9] == '=')) {
            if (!(v = cli_opt_value(argc, argv, &i, "--threads", &err))) return err;
            if (cli_parse_int(v, 1, 1024, &n) != 0)
                return cli_usage_error("store: --threads must be 1..1024, got '%s'", v);
            o.threads = (unsigned)n;
        } else {
            return cli_usage_error("store: unknown argument '%s'; see 'lampy store --help'", a);
        }
    }
    if (!o.dir) return cli_usage_error("store: --dir is required; see 'lampy store --help'");

    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) return cli_error("out of memory");
    int rc = cli_server_setup(ctx, "store", o.bind, &so);
    lpi_storesrv *srv = NULL;
    o.key = so.key;
    o.tls_cert = so.tls_cert;
    o.tls_key = so.tls_key;
    o.per_client = so.per_client;
    o.request_timeout_sec = so.request_timeout;
    lp_status st = rc ? LP_OK : lpi_storesrv_start(ctx, &o, &srv);
    if (st != LP_OK) rc = cli_lib_error(ctx, st);
    if (!rc) {
        const char *sig = cli_serve_until_signal(lpi_storesrv_url(srv));
        fprintf(stderr, "lampy store: %s received, stopping\n", sig);
        lpi_storesrv_stop(srv);
    }
    cli_server_done(&so);
    lp_ctx_destroy(ctx);
    return rc;
}
