/* `lampy run GRAPH.json [-o OUT]`: run a dumped graph (docs/GRAPH_FORMAT.md, loops included)
 * with this machine's executor, print or save its targets. A graph written on one machine
 * runs on another: its load nodes name .npy files (lampy graph --json --data-dir DIR writes
 * in-memory data there). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char cli_run_help[] =
    "usage: lampy run GRAPH.json [-o OUT] [--target K] [--threads N] [--chunk-bytes B]\n"
    "                 [--no-fusion] [--executor E] [--workers URLS] [--store URL]\n"
    "                 [--report] [--trace FILE] [--no-progress]\n"
    "\n"
    "Run a graph file written by `lampy graph --json`, lp_graph_dump or Python's\n"
    "lp.Graph.dump / lp.dump_graph (while_loop and fori_loop included: they run inside the\n"
    "graph), and print its targets as NumPy prints arrays, or save them.\n"
    "\n"
    "Arguments:\n"
    "  GRAPH.json           a lampy.graph document (version 1 or 2); the .npy files of its\n"
    "                       load nodes are read relative to the working directory\n"
    "\n"
    "Options:\n"
    "  -o, --output PATH    save instead of printing: a .npy file for one target, else a\n"
    "                       directory (created) receiving target0.npy, target1.npy, ...\n"
    "  --target K           run only target K (0-based)\n"
    CLI_RUN_HELP
    CLI_REMOTE_HELP
    "  --report             print a run report to stderr\n"
    "  --trace FILE         write a Chrome trace-event file of the run\n"
    "  --no-progress        no progress bar\n"
    "  -h, --help           show this help\n"
    "\n"
    "Examples:\n"
    "  lampy graph 'fori_loop(0, 10, lambda i, x: x * 0.5 + i, ones(4))' --json -o g.json\n"
    "  lampy run g.json\n"
    "  lampy run g.json -o out.npy --executor lambda --workers http://127.0.0.1:5001\n";

int cli_run(int argc, char **argv) {
    const char *output = NULL;
    bool target_set = false;
    cli_report_opts rep = {0};
    long target = 0;
    cli_run_opts run = CLI_RUN_OPTS_INIT;
    cli_remote remote = CLI_REMOTE_INIT;
    const cli_opt opts[] = {
        {.name = "--output", .alias = "-o", .kind = CLI_STR, .dst = &output},
        {.name = "--target", .kind = CLI_INT, .dst = &target, .lo = 0, .hi = 1 << 20, .seen = &target_set},
        CLI_REPORT_OPTS(&rep),
        CLI_RUN_OPTS(&run),
        CLI_REMOTE_OPTS(&remote),
        {0},
    };
    const char **pos = calloc((size_t)argc, sizeof *pos);
    int npos = 0, rc = CLI_EXIT_OK, nt = 0;
    lp_ctx *ctx = NULL;
    lp_array **t = NULL;
    lp_buffer **bufs = NULL;
    lp_status st;
    if (!pos) return cli_error("out of memory");
    if ((rc = cli_parse_args("run", argc, argv, opts, 0, pos, &npos))) goto done;
    if (npos != 1) { rc = cli_usage_error("run: expected one GRAPH.json; see 'lampy run --help'"); goto done; }
    struct stat sb;
    if (stat(pos[0], &sb) != 0) { rc = cli_error("%s: %s", pos[0], strerror(errno)); goto done; }
    if (!S_ISREG(sb.st_mode)) { rc = cli_error("%s: not a file", pos[0]); goto done; }
    size_t n = strlen(pos[0]);
    if (n < 5 || strcmp(pos[0] + n - 5, ".json")) { rc = cli_usage_error("run: %s: expected a .json graph file", pos[0]); goto done; }
    if ((st = lp_ctx_create(&ctx)) != LP_OK) { rc = cli_error("%s", lp_status_str(st)); goto done; }
    if ((rc = cli_run_opts_apply(ctx, &run)) || (rc = cli_remote_apply(ctx, &remote)) || (rc = cli_report_setup(ctx, &rep)))
        goto done;
    if ((rc = cli_targets(ctx, pos[0], NULL, 0, &t, &nt))) goto done;
    lp_array **sel = t;
    int nsel = nt;
    if (target_set) {
        if (target >= nt) { rc = cli_error("run: --target %ld, but the graph has %d target%s", target, nt, nt == 1 ? "" : "s"); goto done; }
        sel = &t[target];
        nsel = 1;
    }
    if (!(bufs = calloc((size_t)nsel, sizeof *bufs))) { rc = cli_error("out of memory"); goto done; }
    if ((st = lp_run(ctx, sel, nsel, bufs)) != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
    if (output && nsel == 1) {
        if ((st = lp_save(ctx, output, bufs[0])) != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
    } else if (output) {
        if (mkdir(output, 0777) != 0 && errno != EEXIST) { rc = cli_error("%s: %s", output, strerror(errno)); goto done; }
        for (int k = 0; k < nsel; k++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/target%d.npy", output, k);
            if ((st = lp_save(ctx, path, bufs[k])) != LP_OK) { rc = cli_lib_error(ctx, st); goto done; }
        }
    } else {
        for (int k = 0; k < nsel; k++) {
            if (nsel > 1) printf("target %d:\n", target_set ? (int)target : k);
            if (cli_print_buffer(stdout, bufs[k]) != 0) { rc = cli_error("cannot print the result"); goto done; }
        }
    }
    rc = cli_report_finish(ctx, &rep);
done:
    if (bufs)
        for (int k = 0; k < (target_set ? 1 : nt); k++) lp_buffer_release(bufs[k]);
    free(bufs);
    cli_targets_free(t, nt);
    lp_ctx_destroy(ctx);
    free(pos);
    return rc;
}
