/* `lampy store`: serve a directory of chunks over HTTP (the http:// store backend's server). */
#include "cli.h"
#include "server/storesrv.h"
#include "store/store.h"

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
    long port = 0, threads = 0;
    size_t max_chunk = 0;
    const cli_opt opts[] = {
        {.name = "--dir", .kind = CLI_STR, .dst = &o.dir},
        {.name = "--port", .kind = CLI_INT, .dst = &port, .lo = 0, .hi = 65535},
        {.name = "--bind", .kind = CLI_STR, .dst = &o.bind},
        {.name = "--max-chunk-bytes", .kind = CLI_SIZE, .dst = &max_chunk},
        {.name = "--threads", .kind = CLI_INT, .dst = &threads, .lo = 1, .hi = 1024},
        CLI_SERVER_OPTS(&so),
        {0},
    };
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0, prc;
    if ((prc = cli_parse_args("store", argc, argv, opts, 0, pos, &npos))) return prc;
    if (npos) return cli_usage_error("store: unknown argument '%s'; see 'lampy store --help'", pos[0]);
    if (!o.dir) return cli_usage_error("store: --dir is required; see 'lampy store --help'");
    o.port = (unsigned)port;
    o.threads = (unsigned)threads;
    o.max_chunk_bytes = max_chunk;

    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) return cli_error("out of memory");
    int rc = cli_server_setup(ctx, "store", o.bind, &so);
    lpi_storesrv *srv = NULL;
    o.key = so.key;
    o.tls_cert = so.tls_cert;
    o.tls_key = so.tls_key;
    o.per_client = (unsigned)so.per_client;
    o.request_timeout_sec = (unsigned)so.request_timeout;
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
