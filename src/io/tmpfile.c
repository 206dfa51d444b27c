/* Temp files removed on a signal (see tmpfile.h). */
#include "io/tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NSLOTS 64

enum { FREE = 0, CREATING, LIVE };

static struct {
    atomic_int state;
    char path[PATH_MAX];
} slots[NSLOTS];

static int claim(void) {
    for (int i = 0; i < NSLOTS; i++) {
        int want = FREE;
        if (atomic_compare_exchange_strong(&slots[i].state, &want, CREATING)) return i;
    }
    return -1;
}

int lpi_tmp_create(const char *path, char **tmp_out, int *slot_out) {
    *tmp_out = NULL;
    *slot_out = -1;
    const char *base = strrchr(path, '/');
    size_t dlen = base ? (size_t)(base - path) + 1 : 0, blen = strlen(path) - dlen;
    /* ".NAME.tmp.XXXXXXXX" must fit NAME_MAX: long names are cut (the temp name only has to
     * be unique, which the random part sees to) */
    size_t keep = blen > NAME_MAX - 14 ? NAME_MAX - 14 : blen;
    char *tmp = lp_malloc(dlen + keep + 16);
    if (!tmp) { errno = ENOMEM; return -1; }
    memcpy(tmp, path, dlen);
    tmp[dlen] = '.';
    memcpy(tmp + dlen + 1, path + dlen, keep);
    char *rnd = tmp + dlen + 1 + keep;
    memcpy(rnd, ".tmp.", 5);
    rnd += 5;
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    int fd = -1, err = EEXIST;
    for (int attempt = 0; attempt < 100 && fd < 0 && err == EEXIST; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
            r = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(lpi_now() * 1e9) ^ (uint64_t)attempt;
        static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 8; i++, r /= 36) rnd[i] = al[r % 36];
        rnd[8] = 0;
        /* the signals stay blocked in this thread between claiming the slot and publishing
         * the file: a handler on another thread waits for CREATING to end */
        pthread_sigmask(SIG_BLOCK, &stop, &old);
        int slot = strlen(tmp) < PATH_MAX ? claim() : -1;
        if (slot >= 0) memcpy(slots[slot].path, tmp, strlen(tmp) + 1);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = fd < 0 ? errno : 0;
        if (slot >= 0) atomic_store(&slots[slot].state, fd >= 0 ? LIVE : FREE);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (fd >= 0) *slot_out = slot;
    }
    if (fd < 0) {
        lp_free(tmp);
        errno = err;
        return -1;
    }
    *tmp_out = tmp;
    return fd;
}

void lpi_tmp_forget(int slot) {
    if (slot >= 0 && slot < NSLOTS) atomic_store(&slots[slot].state, FREE);
}

void lpi_tmp_unlink_all(void) {
    for (int i = 0; i < NSLOTS; i++) {
        /* a creation in progress on another thread takes microseconds; wait at most 1 s */
        for (int k = 0; k < 1000 && atomic_load(&slots[i].state) == CREATING; k++) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
        if (atomic_load(&slots[i].state) == LIVE) unlink(slots[i].path);
    }
}
