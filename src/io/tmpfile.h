/* tmpfile.h — temp files that vanish when the process is stopped by a signal.
 *
 * Lampy writes every output to a temp file beside the destination and renames it into place
 * (npy.c). A program killed by SIGINT/SIGTERM mid-write would leave that temp file behind, so
 * the temp files being written are tracked here, and a program's signal handler calls
 * lpi_tmp_unlink_all (async-signal-safe) before it lets the signal end the process (the CLI
 * does; a library never installs handlers itself).
 *
 * lpi_tmp_create makes the file and tracks it in one step that a handler running on another
 * thread cannot observe half done (the creating thread blocks the signals meanwhile and the
 * handler waits for the step to finish), so a tracked path always names our file or nothing. */
#ifndef LP_IO_TMPFILE_H
#define LP_IO_TMPFILE_H

#include "core/core.h"

/* Create a new temp file beside `path` (same directory, a name within NAME_MAX whatever the
 * length of path's own name), opened O_RDWR|O_CLOEXEC with mode 0666 & ~umask. *tmp_out is a
 * new lp_malloc'ed path; *slot_out a tracking slot for lpi_tmp_forget (-1 when every slot is
 * taken: the file then works but is not removed on a signal). errno is set on failure. */
int lpi_tmp_create(const char *path, char **tmp_out, int *slot_out);
/* Stop tracking (after the rename or the unlink). -1 is allowed. */
void lpi_tmp_forget(int slot);
/* Remove every tracked temp file. Async-signal-safe. */
void lpi_tmp_unlink_all(void);

#endif
