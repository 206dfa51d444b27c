/* file:// — one file per chunk below a root directory; key "a/b/c" is the file ROOT/a/b/c.
 *
 * Every path is resolved from the root's descriptor one component at a time with
 * openat(O_NOFOLLOW): a symlink planted below the root, as a directory or as the chunk, is never
 * followed, so nothing outside the root is ever read, written or removed (the store server relies
 * on this). Writes go to a temp file in the chunk's directory and are renamed over the chunk:
 * readers see the old chunk or the new one, never a part. There is no fsync: the store holds
 * intermediates of a run, which a crash loses anyway; atomicity is what readers need. */
#include "store/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct file_store {
    lpi_store base;
    int rootfd;
} file_store;

struct lpi_fwriter {
    file_store *fs;
    int dirfd;      /* the chunk's directory; == fs->rootfd for flat keys (not owned then) */
    int fd;
    char name[LPI_STORE_KEY_MAX + 1];
    char tmp[LPI_STORE_KEY_MAX + 64];
    char key[LPI_STORE_KEY_MAX + 1];
};

static atomic_uint tmp_counter;

static lp_status sys_error(lp_ctx *ctx, const char *key, const char *what, int err) {
    lp_status st = (err == ENOMEM) ? LP_ERR_NOMEM : LP_ERR_IO;
    return lpi_error(ctx, st, "chunk %s: %s: %s", key, what, strerror(err));
}

/* Open the directory that holds key's last component; *name_out points into key at that
 * component. create: make missing directories. The returned fd is fs->rootfd (not to be closed)
 * when the key has one component. */
static lp_status open_parent(lp_ctx *ctx, file_store *fs, const char *key, bool create,
                             bool quiet_missing, int *dirfd_out, const char **name_out) {
    int cur = fs->rootfd, restarts = 0;
    const char *c = key;
    char comp[LPI_STORE_KEY_MAX + 1];
    for (;;) {
        const char *slash = strchr(c, '/');
        if (!slash) break;
        size_t n = (size_t)(slash - c);
        memcpy(comp, c, n);
        comp[n] = 0;
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(cur, comp, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                if (cur != fs->rootfd) close(cur);
                if (e == ENOENT && restarts++ < 100) {
                    /* a delete removed a directory above, empty a moment ago: walk again */
                    cur = fs->rootfd;
                    c = key;
                    continue;
                }
                return sys_error(ctx, key, "cannot create directory", e);
            }
            next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        if (cur != fs->rootfd) close(cur);
        if (next < 0) {
            if (e == ENOENT)
                return lpi_error(quiet_missing ? NULL : ctx, LP_ERR_NOTFOUND,
                                 "chunk %s: not found", key);
            if (e == ENOTDIR || e == ELOOP) {
                /* a chunk (or a symlink, which we never follow) sits where a directory goes */
                if (create)
                    return lpi_error(ctx, LP_ERR_VALUE,
                                     "chunk %s: \"%.*s\" is not a directory (it is a chunk or a "
                                     "symlink)", key, (int)(slash - key), key);
                return lpi_error(quiet_missing ? NULL : ctx, LP_ERR_NOTFOUND,
                                 "chunk %s: not found", key);
            }
            return sys_error(ctx, key, "cannot open directory", e);
        }
        cur = next;
        c = slash + 1;
    }
    *dirfd_out = cur;
    *name_out = c;
    return LP_OK;
}

static void close_parent(file_store *fs, int fd) {
    if (fd >= 0 && fd != fs->rootfd) close(fd);
}

lp_status lpi_fstore_open_chunk(lp_ctx *ctx, lpi_store *s, const char *key, int *fd_out,
                                uint64_t *size_out) {
    file_store *fs = (file_store *)s;
    *fd_out = -1;
    int dirfd;
    const char *name;
    lp_status st = open_parent(ctx, fs, key, false, false, &dirfd, &name);
    if (st != LP_OK) return st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int e = errno;
    close_parent(fs, dirfd);
    if (fd < 0) {
        if (e == ENOENT || e == ELOOP || e == ENOTDIR)
            return lpi_error(ctx, LP_ERR_NOTFOUND, "chunk %s: not found", key);
        return sys_error(ctx, key, "cannot open", e);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) { e = errno; close(fd); return sys_error(ctx, key, "stat", e); }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        /* a directory of nested keys, a FIFO, a device: not a chunk */
        return lpi_error(ctx, LP_ERR_NOTFOUND, "chunk %s: not found (not a regular file)", key);
    }
    /* O_NONBLOCK only guarded the open against FIFOs; regular files ignore it, drop it anyway */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *fd_out = fd;
    *size_out = (uint64_t)sb.st_size;
    return LP_OK;
}

static lp_status pread_full(lp_ctx *ctx, const char *key, int fd, void *dst, size_t n,
                            uint64_t off) {
    char *p = dst;
    while (n) {
        size_t want = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r = pread(fd, p, want, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return sys_error(ctx, key, "read", errno);
        }
        if (r == 0)
            return lpi_error(ctx, LP_ERR_FORMAT, "chunk %s: file shrank while being read", key);
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return LP_OK;
}

/* Open, check the size and decode the header. */
static lp_status open_and_head(lp_ctx *ctx, lpi_store *s, const char *key, int *fd_out,
                               lpi_chunk_info *info) {
    uint64_t size;
    lp_status st = lpi_fstore_open_chunk(ctx, s, key, fd_out, &size);
    if (st != LP_OK) return st;
    uint8_t hdr[LPI_CHUNK_HDR_SIZE];
    if (size < LPI_CHUNK_HDR_SIZE)
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: file of %" PRIu64 " bytes is shorter than the chunk header", key,
                       size);
    else if ((st = pread_full(ctx, key, *fd_out, hdr, sizeof hdr, 0)) == LP_OK &&
             (st = lpi_chunk_header_decode(ctx, key, hdr, s->max_chunk, info)) == LP_OK &&
             size != LPI_CHUNK_HDR_SIZE + info->nbytes)
        st = lpi_error(ctx, LP_ERR_FORMAT,
                       "chunk %s: file is %" PRIu64 " bytes but its header says %d + %" PRIu64,
                       key, size, LPI_CHUNK_HDR_SIZE, info->nbytes);
    if (st != LP_OK) { close(*fd_out); *fd_out = -1; }
    return st;
}

static lp_status file_get(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *info,
                          lp_buffer **out) {
    int fd;
    lp_status st = open_and_head(ctx, s, key, &fd, info);
    if (st != LP_OK) return st;
    lp_buffer *b = lpi_buffer_new(info->dtype, info->ndim, info->shape);
    if (!b) { close(fd); return lpi_nomem(ctx); }
    st = pread_full(ctx, key, fd, b->data, info->nbytes, LPI_CHUNK_HDR_SIZE);
    close(fd);
    if (st != LP_OK) { lp_buffer_release(b); return st; }
    *out = b;
    return LP_OK;
}

static lp_status file_get_range(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t off,
                                size_t n, void *dst) {
    int fd;
    lpi_chunk_info info;
    lp_status st = open_and_head(ctx, s, key, &fd, &info);
    if (st != LP_OK) return st;
    if ((st = lpi_chunk_range_check(ctx, key, off, n, info.nbytes)) == LP_OK && n)
        st = pread_full(ctx, key, fd, dst, n, LPI_CHUNK_HDR_SIZE + off);
    close(fd);
    return st;
}

static lp_status file_head(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out) {
    int fd;
    lp_status st = open_and_head(ctx, s, key, &fd, out);
    if (st == LP_OK) close(fd);
    return st;
}

/* Remove the directories of a key's path that are empty now, deepest first (a concurrent put
 * below one of them recreates it: lpi_fwriter_open retries). Each step opens the parent with
 * open_parent, so no symlink is followed. */
static void remove_empty_parents(file_store *fs, const char *key) {
    char path[LPI_STORE_KEY_MAX + 1];
    snprintf(path, sizeof path, "%s", key);
    for (char *slash; (slash = strrchr(path, '/'));) {
        *slash = 0;
        int dirfd;
        const char *name;
        if (open_parent(NULL, fs, path, false, true, &dirfd, &name) != LP_OK) return;
        int r = unlinkat(dirfd, name, AT_REMOVEDIR);
        close_parent(fs, dirfd);
        if (r != 0) return; /* not empty (or gone): the ones above are not empty either */
    }
}

/* Remove everything below dirfd (not following symlinks: a link is removed, not its target). */
static int remove_tree(int dirfd, int depth) {
    if (depth > 128) return -1;
    DIR *d = fdopendir(dirfd);
    if (!d) { close(dirfd); return -1; }
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            if (remove_tree(sub, depth + 1) != 0 || unlinkat(dirfd, e->d_name, AT_REMOVEDIR) != 0) rc = -1;
        } else if (unlinkat(dirfd, e->d_name, 0) != 0 && errno != ENOENT) {
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static lp_status file_del_prefix(lp_ctx *ctx, lpi_store *s, const char *prefix) {
    file_store *fs = (file_store *)s;
    int dirfd;
    const char *name;
    lp_status st = open_parent(ctx, fs, prefix, false, true, &dirfd, &name);
    if (st == LP_ERR_NOTFOUND) return LP_OK;
    if (st) return st;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int r = fd < 0 ? (errno == ENOENT ? 0 : -1) : remove_tree(fd, 0);
    if (fd >= 0 && r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) r = -1;
    int e = errno;
    close_parent(fs, dirfd);
    if (r != 0) return sys_error(ctx, prefix, "cannot remove the directory", e);
    remove_empty_parents(fs, prefix);
    return LP_OK;
}

static lp_status file_del(lp_ctx *ctx, lpi_store *s, const char *key) {
    file_store *fs = (file_store *)s;
    int dirfd;
    const char *name;
    lp_status st = open_parent(ctx, fs, key, false, false, &dirfd, &name);
    if (st != LP_OK) return st;
    /* unlinkat never follows a symlink: it would remove the link itself, inside the root. Only
     * regular files are chunks, so refuse anything else rather than remove a user's link. */
    struct stat sb;
    int r = fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    if (r != 0 || !S_ISREG(sb.st_mode)) {
        close_parent(fs, dirfd);
        if (r == 0 || e == ENOENT || e == ENOTDIR)
            return lpi_error(ctx, LP_ERR_NOTFOUND, "chunk %s: not found", key);
        return sys_error(ctx, key, "stat", e);
    }
    r = unlinkat(dirfd, name, 0);
    e = errno;
    close_parent(fs, dirfd);
    if (r != 0) {
        if (e == ENOENT) return lpi_error(ctx, LP_ERR_NOTFOUND, "chunk %s: not found", key);
        return sys_error(ctx, key, "cannot remove", e);
    }
    remove_empty_parents(fs, key);
    return LP_OK;
}

static lp_status file_exists(lp_ctx *ctx, lpi_store *s, const char *key, bool *out) {
    file_store *fs = (file_store *)s;
    int dirfd;
    const char *name;
    *out = false;
    /* a missing directory means a missing chunk: probe without recording "not found" */
    lp_status st = open_parent(ctx, fs, key, false, true, &dirfd, &name);
    if (st == LP_ERR_NOTFOUND) return LP_OK;
    if (st != LP_OK) return st;
    struct stat sb;
    int r = fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW);
    int e = errno;
    close_parent(fs, dirfd);
    if (r == 0) *out = S_ISREG(sb.st_mode);
    else if (e != ENOENT && e != ENOTDIR) return sys_error(ctx, key, "stat", e);
    return LP_OK;
}

/* ---- the atomic writer ------------------------------------------------------------------- */

lp_status lpi_fwriter_open(lp_ctx *ctx, lpi_store *s, const char *key, lpi_fwriter **out) {
    file_store *fs = (file_store *)s;
    *out = NULL;
    lpi_fwriter *w = lp_calloc(1, sizeof *w);
    if (!w) return lpi_nomem(ctx);
    w->fs = fs;
    w->fd = -1;
    snprintf(w->key, sizeof w->key, "%s", key);
    const char *name;
    lp_status st = open_parent(ctx, fs, key, true, false, &w->dirfd, &name);
    if (st != LP_OK) { lp_free(w); return st; }
    snprintf(w->name, sizeof w->name, "%s", name);
    for (int tries = 0; tries < 100; tries++) {
        snprintf(w->tmp, sizeof w->tmp, "%s.#%ld.%u", name, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1));
        w->fd = openat(w->dirfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0666);
        if (w->fd < 0 && errno == ENOENT && strchr(key, '/')) {
            /* a delete removed the (then empty) directory meanwhile: make it again */
            close_parent(fs, w->dirfd);
            if ((st = open_parent(ctx, fs, key, true, false, &w->dirfd, &name)) != LP_OK) { lp_free(w); return st; }
            continue;
        }
        if (w->fd >= 0 || errno != EEXIST) break;
    }
    if (w->fd < 0) {
        st = sys_error(ctx, key, "cannot create temp file", errno);
        close_parent(fs, w->dirfd);
        lp_free(w);
        return st;
    }
    *out = w;
    return LP_OK;
}

static lp_status writev_full(lp_ctx *ctx, lpi_fwriter *w, struct iovec *iov, int iovcnt) {
    while (iovcnt) {
        ssize_t r = writev(w->fd, iov, iovcnt);
        if (r < 0) {
            if (errno == EINTR) continue;
            return sys_error(ctx, w->key, "write", errno);
        }
        size_t left = (size_t)r;
        while (iovcnt && left >= iov->iov_len) { left -= iov->iov_len; iov++; iovcnt--; }
        if (iovcnt) { iov->iov_base = (char *)iov->iov_base + left; iov->iov_len -= left; }
    }
    return LP_OK;
}

lp_status lpi_fwriter_write(lp_ctx *ctx, lpi_fwriter *w, const void *data, size_t n) {
    struct iovec iov = {(void *)data, n};
    return writev_full(ctx, w, &iov, n ? 1 : 0);
}

void lpi_fwriter_abort(lpi_fwriter *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    unlinkat(w->dirfd, w->tmp, 0);
    close_parent(w->fs, w->dirfd);
    lp_free(w);
}

lp_status lpi_fwriter_commit(lp_ctx *ctx, lpi_fwriter *w) {
    int r = close(w->fd);
    w->fd = -1;
    if (r != 0) {
        lp_status st = sys_error(ctx, w->key, "write", errno);
        lpi_fwriter_abort(w);
        return st;
    }
    if (renameat(w->dirfd, w->tmp, w->dirfd, w->name) != 0) {
        int e = errno;
        lp_status st = (e == EISDIR || e == ENOTEMPTY || e == EEXIST)
            ? lpi_error(ctx, LP_ERR_VALUE, "chunk %s: a directory of nested keys has this name",
                        w->key)
            : sys_error(ctx, w->key, "cannot rename temp file into place", e);
        lpi_fwriter_abort(w);
        return st;
    }
    close_parent(w->fs, w->dirfd);
    lp_free(w);
    return LP_OK;
}

static lp_status file_put(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                          const uint8_t *hdr, const void *data) {
    lpi_fwriter *w;
    lp_status st = lpi_fwriter_open(ctx, s, key, &w);
    if (st != LP_OK) return st;
    struct iovec iov[2] = {{(void *)hdr, LPI_CHUNK_HDR_SIZE}, {(void *)data, info->nbytes}};
    if ((st = writev_full(ctx, w, iov, info->nbytes ? 2 : 1)) != LP_OK) {
        lpi_fwriter_abort(w);
        return st;
    }
    return lpi_fwriter_commit(ctx, w);
}

static void file_close(lpi_store *s) {
    file_store *fs = (file_store *)s;
    if (fs->rootfd >= 0) close(fs->rootfd);
    lp_free(fs);
}

static const lpi_store_vtable file_vt = {
    .scheme = "file",
    .put = file_put,
    .get = file_get,
    .get_range = file_get_range,
    .head = file_head,
    .del = file_del,
    .exists = file_exists,
    .close = file_close,
    .del_prefix = file_del_prefix,
};

/* mkdir -p, for the root only (keys' directories go through open_parent). */
static int mkdir_p(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int r = mkdir(path, 0777);
        *p = '/';
        if (r != 0 && errno != EEXIST) return -1;
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

lp_status lpi_store_file_open(lp_ctx *ctx, const char *rest, lpi_store **out) {
    *out = NULL;
    if (!*rest) return lpi_error(ctx, LP_ERR_VALUE, "store URL file://: no directory given");
    file_store *fs = lp_calloc(1, sizeof *fs);
    if (!fs) return lpi_nomem(ctx);
    fs->base.vt = &file_vt;
    fs->rootfd = -1;
    fs->rootfd = open(rest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->rootfd < 0 && errno == ENOENT) {
        char *tmp = lp_strdup(rest);
        if (!tmp) { file_close(&fs->base); return lpi_nomem(ctx); }
        int r = mkdir_p(tmp);
        int e = errno;
        lp_free(tmp);
        if (r != 0) {
            file_close(&fs->base);
            return lpi_error(ctx, LP_ERR_IO, "store directory %s: cannot create: %s", rest,
                             strerror(e));
        }
        fs->rootfd = open(rest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fs->rootfd < 0) {
        int e = errno;
        file_close(&fs->base);
        return lpi_error(ctx, LP_ERR_IO, "store directory %s: %s", rest, strerror(e));
    }
    *out = &fs->base;
    return LP_OK;
}
