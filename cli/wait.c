/* `lampy wait RUN_ID`: the result of a run submitted with `lampy eval ... --orchestrate lambda
 * --detach` (or lp_submit), fetched once the functions have computed it. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char cli_wait_help[] =
    "usage: lampy wait RUN_ID [-o OUT.npy] [--timeout SEC] --workers URLS [--store URL]\n"
    "\n"
    "Wait for an orchestrated run (lampy eval ... --orchestrate lambda --detach printed its\n"
    "id), then print its result or save it with -o. The run's keys are deleted from the store\n"
    "afterwards, so a run is waited for once. Expired leases found while waiting are invoked\n"
    "again on the workers.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE    save the result to FILE (.npy) instead of printing it\n"
    "  --timeout SEC        give up after SEC seconds (the run goes on; default: its deadline)\n"
    CLI_REMOTE_HELP
    "  -h, --help           show this help\n";

int cli_wait(int argc, char **argv) {
    const char *output = NULL, *pos[4];
    long timeout = 0;
    int npos = 0, rc;
    cli_remote remote = CLI_REMOTE_INIT;
    const cli_opt opts[] = {
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &output},
        {.name = "--timeout", .kind = CLI_INT, .dst = &timeout, .lo = 0, .hi = 7 * 86400},
        CLI_REMOTE_OPTS(&remote),
        {0},
    };
    const char **p = argc > 4 ? calloc((size_t)argc, sizeof *p) : pos;
    if (!p) return cli_error("out of memory");
    if ((rc = cli_parse_args("wait", argc, argv, opts, 0, p, &npos))) goto out;
    if (npos != 1) { rc = cli_usage_error("wait: expected one RUN_ID; see 'lampy wait --help'"); goto out; }
    if (!remote.workers) { rc = cli_usage_error("wait: --workers URL[,URL...] is needed (expired tasks are invoked again)"); goto out; }
    lp_ctx *ctx;
    lp_status st;
    if ((st = lp_ctx_create(&ctx)) != LP_OK) { rc = cli_error("%s", lp_status_str(st)); goto out; }
    remote.executor = 1;    /* lambda */
    remote.orchestrate = 1; /* lambda */
    lp_buffer **res = NULL;
    int n = 0;
    if ((rc = cli_remote_apply(ctx, &remote))) goto done;
    if ((st = lp_wait(ctx, p[0], (double)timeout, &res, &n)) != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
    if (output && n != 1) { rc = cli_error("wait: run %s has %d results; -o saves one", p[0], n); goto done; }
    for (int i = 0; i < n && !rc; i++) {
        if (output) {
            if ((st = lp_save(ctx, output, res[i])) != LP_OK) rc = cli_lib_error(ctx, st);
        } else if (cli_print_buffer(stdout, res[i]) != 0) {
            rc = cli_error("cannot print the result (out of memory or write error)");
        }
    }
done:
    lp_free_results(res, n);
    lp_ctx_destroy(ctx);
out:
    if (p != pos) free(p);
    return rc;
}
