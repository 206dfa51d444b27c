/* What `lampy store` and `lampy worker` share: the security options (a shared key, TLS,
 * --insecure), the refusal to serve beyond loopback unauthenticated, the "listening on URL"
 * line tests and scripts wait for, and the wait for SIGTERM/SIGINT. */
#include "cli.h"
#include "server/http.h"
#include "store/auth.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not a numeric address at all is left to the server's own message. */
static bool is_loopback(const char *addr) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return true;
}

static bool opt_is(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

int cli_server_opt(int argc, char **argv, int *i, cli_server *o, int *err) {
    const char *a = argv[*i];
    *err = 0;
    if (!strcmp(a, "--insecure")) {
        o->insecure = true;
        return 1;
    }
    if (opt_is(a, "--max-client-connections") || opt_is(a, "--request-timeout")) {
        bool mc = opt_is(a, "--max-client-connections");
        const char *name = mc ? "--max-client-connections" : "--request-timeout";
        const char *v = cli_opt_value(argc, argv, i, name, err);
        long n;
        if (!v) return 1;
        if (cli_parse_int(v, 1, mc ? 100000 : 86400, &n)) { *err = cli_usage_error("%s needs a positive integer, got '%s'", name, v); return 1; }
        *(mc ? &o->per_client : &o->request_timeout) = (unsigned)n;
        return 1;
    }
    const char *names[] = {"--key-file", "--tls-cert", "--tls-key", "--ca-file"};
    const char **dst[] = {&o->key_file, &o->tls_cert, &o->tls_key, &o->ca_file};
    for (int k = 0; k < 4; k++) {
        if (!opt_is(a, names[k])) continue;
        const char *v = cli_opt_value(argc, argv, i, names[k], err);
        if (!v) return 1;
        if (!*v) { *err = cli_usage_error("%s needs a file", names[k]); return 1; }
        *dst[k] = v;
        return 1;
    }
    return 0;
}

int cli_server_setup(lp_ctx *ctx, const char *who, const char *bind, cli_server *o) {
    lp_status st = o->key_file ? lpi_key_load(ctx, o->key_file, &o->key) : lpi_key_from_env(ctx, &o->key);
    if (st) return cli_lib_error(ctx, st);
    if (!o->ca_file && getenv("LAMPY_CA_FILE") && *getenv("LAMPY_CA_FILE")) o->ca_file = getenv("LAMPY_CA_FILE");
    if (!is_loopback(bind) && !o->key) {
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
