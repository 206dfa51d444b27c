/* Local files: the helpers the file backend (io/file.c) shares with npy.c's streaming writer. */
#ifndef LP_IO_FILE_H
#define LP_IO_FILE_H

#include "core/core.h"

#include <sys/types.h>

/* pread/pwrite looping over short transfers and EINTR. pread returns the bytes read (short only
 * at EOF) or -1 with errno; pwrite 0 or -1 with errno. */
ssize_t lpi_pread_full(int fd, void *buf, size_t n, int64_t off);
int lpi_pwrite_full(int fd, const void *buf, size_t n, int64_t off);
/* An OS failure as a status: ENOENT/ENOTDIR are LP_ERR_NOTFOUND, the rest LP_ERR_IO;
 * the message is "<path>: <what>: <strerror>". */
lp_status lpi_os_error(lp_ctx *ctx, const char *path, const char *what, int err);
/* A temp file beside path (same file system, so the final rename is atomic), with the mode
 * open(path, O_CREAT, 0666) would give, a name within NAME_MAX, and removed if a signal stops
 * the program (io/tmpfile.h; *slot_out is its tracking slot). */
lp_status lpi_file_temp(lp_ctx *ctx, const char *path, char **tmp_out, int *slot_out, int *fd_out);
/* Sync and close fd, then (if st is LP_OK) rename tmp onto path and sync the directory, so the
 * file survives a crash after LP_OK; on any failure tmp is removed. Frees tmp. */
lp_status lpi_file_finish(lp_ctx *ctx, const char *path, char *tmp, int slot, int fd, lp_status st);
/* mkdir -p of path's parent directory. */
lp_status lpi_file_make_parents(lp_ctx *ctx, const char *path);

#endif
