/* The file backend of io/source.h: pread on a descriptor opened once per source; writes go to a
 * temp file beside the target and are renamed into place on commit. */
#define _FILE_OFFSET_BITS 64 /* off_t must hold any file offset, also on 32-bit hosts */

#include "io/file.h"
#include "io/tmpfile.h"
#include "io/source.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* pread/pwrite at most this much per call: Linux caps a transfer at 0x7ffff000 bytes anyway,
 * and a bounded size keeps ssize_t arithmetic safe on 32-bit hosts. */
#define IO_MAX ((size_t)1 << 30)

ssize_t lpi_pread_full(int fd, void *buf, size_t n, int64_t off) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < IO_MAX ? n - done : IO_MAX;
        ssize_t r = pread(fd, (char *)buf + done, want, (off_t)(off + (int64_t)done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break; /* EOF */
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int lpi_pwrite_full(int fd, const void *buf, size_t n, int64_t off) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < IO_MAX ? n - done : IO_MAX;
        ssize_t r = pwrite(fd, (const char *)buf + done, want, (off_t)(off + (int64_t)done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) { errno = EIO; return -1; } /* a regular file never does this; don't spin */
        done += (size_t)r;
    }
    return 0;
}

/* Thread-safe strerror; GNU and XSI strerror_r differ in their return type. */
static const char *errno_str(int err, char *buf, size_t cap) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, cap);
#else
    return strerror_r(err, buf, cap) == 0 ? buf : "unknown error";
#endif
}

lp_status lpi_os_error(lp_ctx *ctx, const char *path, const char *what, int err) {
    char buf[128];
    lp_status st = err == ENOENT || err == ENOTDIR ? LP_ERR_NOTFOUND : LP_ERR_IO;
    return lpi_error(ctx, st, "%s: %s: %s", path, what, errno_str(err, buf, sizeof buf));
}

lp_status lpi_file_temp(lp_ctx *ctx, const char *path, char **tmp_out, int *slot_out, int *fd_out) {
    /* beside the destination, so the final rename stays within one file system; removed if a
     * signal stops the program (io/tmpfile.h) */
    int fd = lpi_tmp_create(path, tmp_out, slot_out);
    if (fd < 0) return errno == ENOMEM ? lpi_nomem(ctx) : lpi_os_error(ctx, path, "cannot create temporary file", errno);
    *fd_out = fd;
    return LP_OK;
}

/* The directory entry of a rename is durable once its directory is synced. */
static int sync_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0; /* a directory we may write but not read: nothing to sync with */
    int rc = fsync(fd) != 0 && errno != EINVAL && errno != EROFS ? -1 : 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

lp_status lpi_file_finish(lp_ctx *ctx, const char *path, char *tmp, int slot, int fd, lp_status st) {
    if (st == LP_OK && fsync(fd) != 0 && errno != EINVAL) st = lpi_os_error(ctx, path, "write failed (fsync)", errno);
    if (close(fd) != 0 && st == LP_OK) st = lpi_os_error(ctx, path, "write failed", errno);
    if (st == LP_OK && rename(tmp, path) != 0) st = lpi_os_error(ctx, path, "cannot rename temporary file", errno);
    if (st != LP_OK) unlink(tmp);
    lpi_tmp_forget(slot);
    if (st == LP_OK && sync_dir_of(path) != 0) st = lpi_os_error(ctx, path, "cannot sync its directory", errno);
    lp_free(tmp);
    return st;
}

lp_status lpi_file_make_parents(lp_ctx *ctx, const char *path) {
    char *d = lp_strdup(path);
    if (!d) return lpi_nomem(ctx);
    lp_status st = LP_OK;
    for (char *p = d + 1; *p && !st; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(d, 0777) != 0 && errno != EEXIST) st = lpi_os_error(ctx, d, "cannot create directory", errno);
        *p = '/';
    }
    lp_free(d);
    return st;
}

/* ---- reading ---- */

typedef struct fsrc {
    lpi_src base;
    int fd;
} fsrc;

static lp_status f_read(lp_ctx *ctx, lpi_src *s, int64_t off, size_t n, void *dst) {
    fsrc *f = (fsrc *)s;
    ssize_t r = lpi_pread_full(f->fd, dst, n, off);
    if (r < 0) return lpi_os_error(ctx, s->name, "read failed", errno);
    atomic_fetch_add(&s->moved, r);
    if ((size_t)r < n)
        return lpi_error(ctx, LP_ERR_IO, "%s: unexpected end of file at byte %lld (file changed while reading?)",
                         s->name, (long long)(off + r));
    return LP_OK;
}

static void f_close(lpi_src *s) {
    fsrc *f = (fsrc *)s;
    if (f->fd >= 0) close(f->fd);
    lp_free(f);
}

static const lpi_src_ops file_src_ops = {f_read, f_close};

lp_status lpi_file_src_open(lp_ctx *ctx, const char *path, const char *name, lpi_src **out) {
    *out = NULL;
    int fd;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (the S_ISREG check below refuses
     * it); reads of a regular file ignore the flag */
    do fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); while (fd < 0 && errno == EINTR);
    if (fd < 0) return lpi_os_error(ctx, name, "cannot open", errno);
    struct stat sb;
    lp_status st = LP_OK;
    if (fstat(fd, &sb) != 0) st = lpi_os_error(ctx, name, "cannot stat", errno);
    /* sizes are checked against the real size; a directory or a pipe has none */
    else if (!S_ISREG(sb.st_mode)) st = lpi_error(ctx, LP_ERR_IO, "%s: not a regular file", name);
    fsrc *f = st ? NULL : lp_calloc(1, sizeof *f);
    char *nm = st ? NULL : lp_strdup(name);
    if (!st && (!f || !nm)) st = lpi_nomem(ctx);
    if (st) { close(fd); lp_free(f); lp_free(nm); return st; }
    f->base.ops = &file_src_ops;
    f->base.kind = LPI_LOC_FILE;
    f->base.name = nm;
    f->base.id.size = (int64_t)sb.st_size;
    /* a rewrite (atomic rename or in place) changes the inode or the modification time */
    snprintf(f->base.id.tag, sizeof f->base.id.tag, "%llu:%lld.%09ld", (unsigned long long)sb.st_ino,
             (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
    atomic_init(&f->base.moved, 0);
    f->fd = fd;
    *out = &f->base;
    return LP_OK;
}

/* ---- writing ---- */

typedef struct fsink {
    lpi_sink base;
    char *path, *tmp;
    int fd, slot;
    int64_t off;
} fsink;

static lp_status fk_write(lp_ctx *ctx, lpi_sink *k, const void *data, size_t n) {
    fsink *f = (fsink *)k;
    if (lpi_pwrite_full(f->fd, data, n, f->off) != 0) return lpi_os_error(ctx, f->path, "write failed", errno);
    f->off += (int64_t)n;
    return LP_OK;
}

static lp_status fk_commit(lp_ctx *ctx, lpi_sink *k) {
    fsink *f = (fsink *)k;
    lp_status st = lpi_file_finish(ctx, f->path, f->tmp, f->slot, f->fd, LP_OK);
    lp_free(f->path);
    return st;
}

static void fk_abort(lpi_sink *k) {
    fsink *f = (fsink *)k;
    close(f->fd);
    unlink(f->tmp);
    lpi_tmp_forget(f->slot);
    lp_free(f->tmp);
    lp_free(f->path);
}

static const lpi_sink_ops file_sink_ops = {fk_write, fk_commit, fk_abort};

lp_status lpi_file_sink_open(lp_ctx *ctx, const char *path, bool make_dirs, lpi_sink **out) {
    *out = NULL;
    if (!*path) return lpi_error(ctx, LP_ERR_VALUE, "empty path");
    lp_status st;
    if (make_dirs && (st = lpi_file_make_parents(ctx, path))) return st;
    fsink *f = lp_calloc(1, sizeof *f);
    if (!f || !(f->path = lp_strdup(path)) || !(f->base.name = lp_strdup(path))) {
        if (f) { lp_free(f->path); lp_free(f); }
        return lpi_nomem(ctx);
    }
    if ((st = lpi_file_temp(ctx, path, &f->tmp, &f->slot, &f->fd))) {
        lp_free(f->path);
        lp_free(f->base.name);
        lp_free(f);
        return st;
    }
    f->base.ops = &file_sink_ops;
    *out = &f->base;
    return LP_OK;
}
