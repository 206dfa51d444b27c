/* What the servers (`lampy store`, `lampy worker`, `lampy serve`) share: the security options
 * (a shared key, TLS, --insecure), the refusal to serve beyond loopback unauthenticated, the
 * "listening on URL" line tests and scripts wait for, and the wait for SIGTERM/SIGINT; and
 * `lampy serve` itself. */
#include "cli.h"
#include "server/datasrv.h"
#include "server/http.h"
#include "store/auth.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_is_loopback(const char *addr) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return true;
}

int cli_server_setup(lp_ctx *ctx, const char *who, const char *bind, cli_server *o) {
    lp_status st = o->key_file ? lpi_key_load(ctx, o->key_file, &o->key) : lpi_key_from_env(ctx, &o->key);
    if (st) return cli_lib_error(ctx, st);
    if (!o->ca_file && getenv("LAMPY_CA_FILE") && *getenv("LAMPY_CA_FILE")) o->ca_file = getenv("LAMPY_CA_FILE");
    if (!cli_is_loopback(bind) && !o->key) {
        if (!o->insecure)
            return cli_usage_error("%s: refusing to serve on %s without a key: anyone who can reach it could use it. "
                                   "Give --key-file (or LAMPY_KEY_FILE), or --insecure on a trusted network", who, bind);
        fprintf(stderr, "lampy %s: warning: serving on %s without authentication (--insecure)\n", who, bind);
    }
    if (!lpi_http_catch_signals()) return cli_error("cannot install the SIGTERM/SIGINT handlers");
    return 0;
}

void cli_server_done(cli_server *o) {
    lpi_key_release(o->key);
    o->key = NULL;
}

const char *cli_serve_until_signal(const char *url) {
    printf("listening on %s\n", url);
    fflush(stdout);
    return lpi_http_wait_signal() == SIGINT ? "SIGINT" : "SIGTERM";
}

/* ---- lampy serve ---------------------------------------------------------------------- */

const char cli_serve_help[] =
    "usage: lampy serve --dir DIR [--port N] [--bind ADDR] [--token TOKEN] [--insecure]\n"
    "                   [--threads N]\n"
    "\n"
    "Serve the datasets below DIR (.npy files and Zarr v3 arrays) read-only over HTTP,\n"
    "for lp.load('http://ADDR:PORT/x.npy'), `lampy info` and load tasks on workers.\n"
    "Prints 'listening on http://ADDR:PORT' once ready and runs until SIGTERM or SIGINT.\n"
    "\n"
    "  GET /            JSON listing: path, format, dtype and shape of every array\n"
    "  GET /PATH        the file's bytes (Range: bytes=a-b gives 206), HEAD likewise;\n"
    "                   paths resolve below DIR only; ETag and Last-Modified name the\n"
    "                   file's version\n"
    "  GET /status      'ready'\n"
    "\n"
    "Options:\n"
    "  --dir DIR        the directory served (must exist)\n"
    "  --port N         TCP port; 0 picks a free one (default 0)\n"
    "  --bind ADDR      numeric IPv4/IPv6 address (default 127.0.0.1). Beyond loopback\n"
    "                   a --token is required, unless --insecure is given.\n"
    "  --token TOKEN    require 'Authorization: Bearer TOKEN' (or the token as the\n"
    "                   password of HTTP Basic: http://:TOKEN@ADDR:PORT/x.npy)\n"
    "  --insecure       allow serving beyond loopback without a token\n"
    "  --threads N      HTTP threads (default: 2 per core, at least 4)\n"
    "  -h, --help       show this help\n";

int cli_serve(int argc, char **argv) {
    lpi_datasrv_opts o = {.bind = "127.0.0.1"};
    bool insecure = false;
    long port = 0, threads = 0;
    const cli_opt opts[] = {
        {.name = "--dir", .kind = CLI_STR, .dst = &o.dir},
        {.name = "--port", .kind = CLI_INT, .dst = &port, .lo = 0, .hi = 65535},
        {.name = "--bind", .kind = CLI_STR, .dst = &o.bind},
        {.name = "--token", .kind = CLI_STR, .dst = &o.token},
        {.name = "--insecure", .kind = CLI_FLAG, .dst = &insecure},
        {.name = "--threads", .kind = CLI_INT, .dst = &threads, .lo = 1, .hi = 1024},
        {0},
    };
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0, prc;
    if ((prc = cli_parse_args("serve", argc, argv, opts, 0, pos, &npos))) return prc;
    if (npos) return cli_usage_error("serve: unknown argument '%s'; see 'lampy serve --help'", pos[0]);
    o.port = (unsigned)port;
    o.threads = (unsigned)threads;
    if (!o.dir || !*o.dir) return cli_usage_error("serve: --dir is required; see 'lampy serve --help'");
    if (!cli_is_loopback(o.bind) && !o.token && !insecure)
        return cli_usage_error("serve: refusing to serve %s beyond loopback without --token (or --insecure)", o.bind);
    if (!cli_is_loopback(o.bind) && !o.token)
        fprintf(stderr, "lampy serve: warning: serving on %s without a token (--insecure): anyone who can reach it "
                "can read every dataset below the directory\n", o.bind);
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) return cli_error("out of memory");
    if (!lpi_http_catch_signals()) { lp_ctx_destroy(ctx); return cli_error("cannot install the SIGTERM/SIGINT handlers"); }
    lpi_datasrv *srv;
    lp_status st = lpi_datasrv_start(ctx, &o, &srv);
    if (st != LP_OK) {
        int rc = cli_lib_error(ctx, st);
        lp_ctx_destroy(ctx);
        return rc;
    }
    const char *sig = cli_serve_until_signal(lpi_datasrv_url(srv));
    fprintf(stderr, "lampy serve: %s received, stopping\n", sig);
    lpi_datasrv_stop(srv);
    lp_ctx_destroy(ctx);
    return CLI_EXIT_OK;
}
