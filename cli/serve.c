/* What `lampy store` and `lampy worker` share once their server is up: the warning when it
 * listens beyond loopback, the "listening on URL" line tests and scripts wait for, and the
 * wait for SIGTERM/SIGINT. */
#include "cli.h"
#include "server/http.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>

static bool is_loopback(const char *addr) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

const char *cli_serve_until_signal(const char *who, const char *bind, const char *url, const char *exposes) {
    if (!is_loopback(bind))
        fprintf(stderr, "lampy %s: warning: serving on %s without authentication; anyone who can reach it "
                "can %s\n", who, bind, exposes);
    printf("listening on %s\n", url);
    fflush(stdout);
    return lpi_http_wait_signal() == SIGINT ? "SIGINT" : "SIGTERM";
}
