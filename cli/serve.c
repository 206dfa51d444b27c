/* `lampy serve`, and what the servers (store, worker, serve) share once they are up: the
 * warning when one listens beyond loopback unauthenticated, the "listening on URL" line tests
 * and scripts wait for, and the wait for SIGTERM/SIGINT. */
#include "cli.h"
#include "server/datasrv.h"
#include "server/http.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static bool is_loopback(const char *addr) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

const char *cli_serve_until_signal(const char *who, const char *bind, const char *url, const char *exposes) {
    if (exposes && !is_loopback(bind))
        fprintf(stderr, "lampy %s: warning: serving on %s without authentication; anyone who can reach it "
                "can %s\n", who, bind, exposes);
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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int err = 0;
        long n;
#define OPT(name) (strncmp(a, name, strlen(name)) == 0 && (a[strlen(name)] == 0 || a[strlen(name)] == '='))
        if (OPT("--dir")) {
            if (!(v = cli_opt_value(argc, argv, &i, "--dir", &err))) return err;
            o.dir = v;
        } else if (OPT("--port")) {
            if (!(v = cli_opt_value(argc, argv, &i, "--port", &err))) return err;
            if (cli_parse_int(v, 0, 65535, &n)) return cli_usage_error("serve: --port must be 0..65535, got '%s'", v);
            o.port = (unsigned)n;
        } else if (OPT("--bind")) {
            if (!(v = cli_opt_value(argc, argv, &i, "--bind", &err))) return err;
            o.bind = v;
        } else if (OPT("--token")) {
            if (!(v = cli_opt_value(argc, argv, &i, "--token", &err))) return err;
            if (!*v) return cli_usage_error("serve: --token must not be empty");
            o.token = v;
        } else if (!strcmp(a, "--insecure")) {
            insecure = true;
        } else if (OPT("--threads")) {
            if (!(v = cli_opt_value(argc, argv, &i, "--threads", &err))) return err;
            if (cli_parse_int(v, 1, 1024, &n)) return cli_usage_error("serve: --threads must be 1..1024, got '%s'", v);
            o.threads = (unsigned)n;
        } else {
            return cli_usage_error("serve: unknown argument '%s'; see 'lampy serve --help'", a);
        }
#undef OPT
    }
    if (!o.dir || !*o.dir) return cli_usage_error("serve: --dir is required; see 'lampy serve --help'");
    if (!is_loopback(o.bind) && !o.token && !insecure)
        return cli_usage_error("serve: refusing to serve %s beyond loopback without --token (or --insecure)", o.bind);
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) return cli_error("out of memory");
    lpi_http_block_signals();
    lpi_datasrv *srv;
    lp_status st = lpi_datasrv_start(ctx, &o, &srv);
    if (st != LP_OK) {
        int rc = cli_lib_error(ctx, st);
        lp_ctx_destroy(ctx);
        return rc;
    }
    const char *sig = cli_serve_until_signal("serve", o.bind, lpi_datasrv_url(srv),
                                            o.token ? NULL : "read every dataset below the directory");
    fprintf(stderr, "lampy serve: %s received, stopping\n", sig);
    lpi_datasrv_stop(srv);
    lp_ctx_destroy(ctx);
    return CLI_EXIT_OK;
}
