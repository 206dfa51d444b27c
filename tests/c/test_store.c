/* The chunk store: keys, the chunk format, the mem:// and file:// backends, and the HTTP store
 * server with the http:// backend in-process (127.0.0.1, a free port), plus the HTTP glue's body
 * handling. redis:// and the `lampy store` binary are covered by tests/integration. */
#include "lpt.h"
#include "store_suite.h"

#include "server/http.h"
#include "server/storesrv.h"
#include "store/internal.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static lp_ctx *ctx;

/* ---- helpers ----------------------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(p);
}
static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static char *make_tmpdir(void) {
    char *d = strdup("/tmp/lpt_store_XXXXXX");
    return mkdtemp(d) ? d : NULL;
}

/* Count files below dir whose name holds '#' (temp files) and all regular files. */
static int ntemp, nfiles;
static int count_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    if (flag == FTW_F) {
        nfiles++;
        if (strchr(p + ftw->base, '#')) ntemp++;
    }
    return 0;
}
static void count_files(const char *dir) {
    ntemp = nfiles = 0;
    nftw(dir, count_one, 16, FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return; }
    fwrite(data, 1, n, f);
    fclose(f);
}

static size_t read_file(const char *path, void *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* ---- keys -------------------------------------------------------------------------------- */

static void test_keys(void) {
    char k200[201], k201[202];
    memset(k200, 'a', 200); k200[200] = 0;
    memset(k201, 'a', 201); k201[201] = 0;
    const char *good[] = {"a", "A", "0", "a/b", "job7/x/0.0", "A-Z_0.9", "a.b", ".hidden",
                          "..a", "a..", "a/..b", "b../c", "-", "_", "a-/-b", "...", "a/.../b",
                          k200};
    const char *bad[] = {"", "/", "/a", "a/", "a//b", ".", "..", "a/../b", "../a", "a/..",
                         "./a", "a/./b", "a/.", "a b", "a%2fb", "..%2f..", "a\\b", "a\x01",
                         "\xc3\xbc", "a?b", "a#b", "a:b", "~", "a\nb", "a*", k201};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *why = NULL;
        LPT_CHECKF(lpi_store_key_valid(good[i], &why), "\"%s\" should be valid: %s", good[i], why);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        LPT_CHECKF(!lpi_store_key_valid(bad[i], &why) && why, "\"%s\" should be invalid", bad[i]);
    }
    LPT_CHECK(!lpi_store_key_valid(NULL, NULL));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_key_check(ctx, "a/../b") == LP_ERR_VALUE);
    LPT_CHECKF(strcmp(lp_last_error(ctx), "invalid chunk key \"a/../b\": '..' component") == 0,
               "%s", lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_key_check(ctx, "a\nb") == LP_ERR_VALUE);
    LPT_CHECK(strchr(lp_last_error(ctx), '\n') == NULL); /* messages stay one line */
}

/* ---- the chunk format -------------------------------------------------------------------- */

static void rehash(uint8_t *hdr) {
    uint64_t h = XXH3_64bits(hdr, 88);
    for (int i = 0; i < 8; i++) hdr[88 + i] = (uint8_t)(h >> (8 * i));
}

static lp_status decode(const uint8_t *hdr, uint64_t max, lpi_chunk_info *out) {
    lpt_clear(ctx);
    return lpi_chunk_header_decode(ctx, "k", hdr, max, out);
}

static void test_header(void) {
    int64_t shape[3] = {2, 3, 4};
    float data[24];
    lpt_fill(data, sizeof data, 1);
    lpi_chunk_info info, got;
    LPT_OK(ctx, lpi_chunk_info_make(ctx, "k", LP_FLOAT32, 3, shape, data, sizeof data, &info));
    LPT_CHECK(info.checksum == XXH3_64bits(data, sizeof data));
    uint8_t hdr[LPI_CHUNK_HDR_SIZE], h2[LPI_CHUNK_HDR_SIZE];
    lpi_chunk_header_encode(&info, hdr);
    LPT_CHECK(memcmp(hdr, "LPCK", 4) == 0 && hdr[4] == 1 && hdr[5] == 0);
    LPT_CHECK(hdr[6] == LP_FLOAT32 && hdr[7] == 3 && hdr[8] == 2 && hdr[16] == 3 && hdr[24] == 4);
    LPT_CHECK(hdr[72] == 96 && hdr[73] == 0); /* nbytes, little-endian */
    LPT_OK(ctx, lpi_chunk_header_decode(ctx, "k", hdr, 1000, &got));
    LPT_CHECK(got.dtype == LP_FLOAT32 && got.ndim == 3 && got.nbytes == 96 &&
              got.checksum == info.checksum && got.shape[2] == 4 && got.shape[3] == 0);

    memcpy(h2, hdr, sizeof h2); h2[0] = 'X';
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "bad magic"));
    memcpy(h2, hdr, sizeof h2); h2[4] = 2; rehash(h2);
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "version 2"));
    memcpy(h2, hdr, sizeof h2); h2[16] = 4; /* swap-like damage, fields still consistent-ish */
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT &&
              strstr(lp_last_error(ctx), "header checksum mismatch"));
    memcpy(h2, hdr, sizeof h2); h2[6] = 99; rehash(h2);
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "invalid dtype 99"));
    memcpy(h2, hdr, sizeof h2); h2[7] = 9; rehash(h2);
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "ndim 9"));
    memcpy(h2, hdr, sizeof h2); h2[8 + 8 * 5] = 1; rehash(h2);
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "past ndim"));
    memcpy(h2, hdr, sizeof h2); h2[8 + 7] = 0x80; rehash(h2);
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "negative"));
    memcpy(h2, hdr, sizeof h2); h2[16] = 4; rehash(h2);
    LPT_CHECKF(decode(h2, 1000, &got) == LP_ERR_FORMAT &&
               strstr(lp_last_error(ctx), "header says 96 data bytes but shape (2,") &&
               strstr(lp_last_error(ctx), "4) of float32 needs 128"), "%s", lp_last_error(ctx));
    memcpy(h2, hdr, sizeof h2); /* a product that overflows */
    for (int i = 0; i < 3; i++) { memset(h2 + 8 + 8 * i, 0xff, 7); h2[8 + 8 * i + 7] = 0x0f; }
    rehash(h2);
    LPT_CHECK(decode(h2, 1000, &got) == LP_ERR_FORMAT && strstr(lp_last_error(ctx), "too large"));
    LPT_CHECK(decode(hdr, 95, &got) == LP_ERR_LIMIT &&
              strstr(lp_last_error(ctx), "96 data bytes exceed the store's limit of 95"));
    LPT_CHECK(decode(hdr, 96, &got) == LP_OK);

    /* a 0-d chunk and an empty one */
    int64_t z[1] = {0};
    int64_t one = 7;
    LPT_OK(ctx, lpi_chunk_info_make(ctx, "k", LP_INT64, 0, NULL, &one, 8, &info));
    lpi_chunk_header_encode(&info, hdr);
    LPT_CHECK(decode(hdr, 100, &got) == LP_OK && got.ndim == 0 && got.nbytes == 8);
    LPT_OK(ctx, lpi_chunk_info_make(ctx, "k", LP_BOOL, 1, z, NULL, 0, &info));
    lpi_chunk_header_encode(&info, hdr);
    LPT_CHECK(decode(hdr, 100, &got) == LP_OK && got.nbytes == 0);

    lpt_clear(ctx);
    LPT_CHECK(lpi_chunk_checksum_error(ctx, "a/b", 0x1234, 0xabcd) == LP_ERR_FORMAT);
    LPT_CHECKF(strcmp(lp_last_error(ctx), "chunk a/b: checksum mismatch (stored 0x0000000000001234, "
                      "computed 0x000000000000abcd)") == 0, "%s", lp_last_error(ctx));
}

/* ---- URLs -------------------------------------------------------------------------------- */

static void test_urls(void) {
    lpi_store *s = NULL;
    const char *bad[] = {"", "ftp://x", "mem:/x", "file://", "mem://a/../b",
                         "redis://", "redis://h:0", "redis://h:99999", "redis://h:12x",
                         "redis://h:1/notanumber", "redis://h/1?x=2", "redis://[::1",
                         "redis://pw@h", "http://", "http://h/?q", "http:///x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lpt_clear(ctx);
        lp_status st = lpi_store_open(ctx, bad[i], &s);
        LPT_CHECKF(st == LP_ERR_VALUE && s == NULL, "\"%s\": %s", bad[i], lp_status_str(st));
    }
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_open(ctx, "redis://:s3cret@h:1/0?x", &s) == LP_ERR_VALUE);
    LPT_CHECK(strstr(lp_last_error(ctx), "s3cret") == NULL); /* never echo a password */
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_open(ctx, "rediss://:s3cret@h:1/0", &s) == LP_ERR_VALUE);
    LPT_CHECKF(strstr(lp_last_error(ctx), "s3cret") == NULL && strstr(lp_last_error(ctx), "\"rediss\""),
               "%s", lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_open(ctx, "http://u:s3cret@h:1", &s) == LP_ERR_VALUE);
    LPT_CHECK(strstr(lp_last_error(ctx), "s3cret") == NULL);
    const char *good[] = {"mem://", "mem://shared-name", "redis://127.0.0.1", "redis://h:6380/3",
                          "redis://:pw@h:1/2", "redis://user:pw@h", "redis://[::1]:6379/0",
                          "http://127.0.0.1:1", "http://127.0.0.1:1/"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        lpt_clear(ctx);
        lp_status st = lpi_store_open(ctx, good[i], &s);
        LPT_CHECKF(st == LP_OK, "\"%s\": %s", good[i], lp_last_error(ctx));
        if (st == LP_OK) {
            LPT_CHECK(strcmp(lpi_store_url(s), good[i]) == 0);
            LPT_CHECK(lpi_store_max_chunk_bytes(s) == LPI_STORE_DEFAULT_MAX_CHUNK);
        }
        lpi_store_close(s);
        s = NULL;
    }
    lpi_store_close(NULL);

    /* nothing listens on port 1: a clean I/O error, not a hang or a crash */
    LPT_OK(ctx, lpi_store_open(ctx, "http://127.0.0.1:1", &s));
    lp_buffer *b = NULL;
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "k", &b) == LP_ERR_IO && b == NULL);
    LPT_CHECKF(strstr(lp_last_error(ctx), "chunk k: GET http://127.0.0.1:1") != NULL, "%s",
               lp_last_error(ctx));
    lpi_store_close(s);
    LPT_OK(ctx, lpi_store_open(ctx, "redis://127.0.0.1:1", &s));
    lpt_clear(ctx);
    bool ex;
    LPT_CHECK(lpi_store_exists(ctx, s, "k", &ex) == LP_ERR_IO);
    LPT_CHECKF(strstr(lp_last_error(ctx), "redis://127.0.0.1:1/0: connect") != NULL, "%s",
               lp_last_error(ctx));
    lpi_store_close(s);
}

/* ---- mem:// ------------------------------------------------------------------------------ */

static void test_mem(void) {
    lpi_store *s;
    LPT_OK(ctx, lpi_store_open(ctx, "mem://", &s));
    suite_all(ctx, s, "");
    suite_all(ctx, s, "again/");

    /* get shares the stored buffer: no copy */
    int64_t shape[1] = {4};
    int32_t v[4] = {1, 2, 3, 4};
    LPT_OK(ctx, lpi_store_put(ctx, s, "shared", LP_INT32, 1, shape, v, sizeof v));
    lp_buffer *b1 = NULL, *b2 = NULL;
    LPT_OK(ctx, lpi_store_get(ctx, s, "shared", &b1));
    LPT_OK(ctx, lpi_store_get(ctx, s, "shared", &b2));
    LPT_CHECK(b1 && b1 == b2);
    /* replacing the chunk leaves readers' buffers valid */
    int32_t w[4] = {5, 6, 7, 8};
    LPT_OK(ctx, lpi_store_put(ctx, s, "shared", LP_INT32, 1, shape, w, sizeof w));
    LPT_CHECK(memcmp(lp_buffer_data(b1), v, sizeof v) == 0);
    lp_buffer_release(b1);
    lp_buffer_release(b2);
    /* a reader that wrote into a shared buffer is caught by the checksum */
    LPT_OK(ctx, lpi_store_get(ctx, s, "shared", &b1));
    ((int32_t *)lp_buffer_data(b1))[0] = 99;
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "shared", &b2) == LP_ERR_FORMAT &&
              strstr(lp_last_error(ctx), "checksum mismatch"));
    lp_buffer_release(b1);

    /* a failed put stores nothing and leaks nothing: fail each allocation in turn */
    for (long n = 1; n <= 3; n++) {
        lpt_clear(ctx);
        lpi_alloc_fail_after(n);
        lp_status st = lpi_store_put(ctx, s, "allocfail", LP_INT32, 1, shape, v, sizeof v);
        lpi_alloc_fail_after(0);
        LPT_CHECKF(st == LP_ERR_NOMEM, "n=%ld: %s", n, lp_status_str(st));
        bool ex = true;
        LPT_OK(ctx, lpi_store_exists(ctx, s, "allocfail", &ex));
        LPT_CHECK(!ex);
    }
    lpi_store_close(s);

    /* named maps are shared by name and live until the last close */
    lpi_store *a, *c;
    LPT_OK(ctx, lpi_store_open(ctx, "mem://lpt-shared", &a));
    LPT_OK(ctx, lpi_store_open(ctx, "mem://lpt-shared", &c));
    LPT_OK(ctx, lpi_store_put(ctx, a, "x", LP_INT32, 1, shape, v, sizeof v));
    LPT_OK(ctx, lpi_store_get(ctx, c, "x", &b1));
    LPT_CHECK(b1 && memcmp(lp_buffer_data(b1), v, sizeof v) == 0);
    lpi_store_close(a);
    lpi_store_close(c);
    LPT_CHECK(memcmp(lp_buffer_data(b1), v, sizeof v) == 0); /* our reference outlives the map */
    lp_buffer_release(b1);
    LPT_OK(ctx, lpi_store_open(ctx, "mem://lpt-shared", &a));
    bool ex = true;
    LPT_OK(ctx, lpi_store_exists(ctx, a, "x", &ex));
    LPT_CHECK(!ex);
    LPT_OK(ctx, lpi_store_open(ctx, "mem://", &c)); /* anonymous maps are private */
    LPT_OK(ctx, lpi_store_put(ctx, a, "y", LP_INT32, 1, shape, v, sizeof v));
    LPT_OK(ctx, lpi_store_exists(ctx, c, "y", &ex));
    LPT_CHECK(!ex);
    lpi_store_close(a);
    lpi_store_close(c);
}

/* ---- file:// ----------------------------------------------------------------------------- */

static void test_file_corruption(lpi_store *s, const char *dir) {
    int64_t shape[2] = {16, 16};
    lp_status st;
    lpt_clear(ctx);
    void *d = lpt_put(ctx, s, "corrupt/k", LP_FLOAT64, 2, shape, 3, &st);
    LPT_OK(ctx, st);
    char path[1200];
    snprintf(path, sizeof path, "%s/corrupt/k", dir);
    static unsigned char raw[96 + 2048], bad[96 + 2048];
    size_t n = read_file(path, raw, sizeof raw);
    LPT_CHECK(n == 96 + 2048);
    /* the file is exactly the wire format: header then data */
    LPT_CHECK(memcmp(raw, "LPCK", 4) == 0 && memcmp(raw + 96, d, 2048) == 0);

    /* one flipped data bit: the checksum catches it */
    memcpy(bad, raw, n);
    bad[96 + 1000] ^= 0x10;
    write_file(path, bad, n);
    lp_buffer *b = NULL;
    lpt_clear(ctx);
    st = lpi_store_get(ctx, s, "corrupt/k", &b);
    LPT_CHECKF(st == LP_ERR_FORMAT && b == NULL &&
               strstr(lp_last_error(ctx), "chunk corrupt/k: checksum mismatch (stored 0x"),
               "%s", lp_last_error(ctx));
    char want[64];
    snprintf(want, sizeof want, "computed 0x%016llx)",
             (unsigned long long)XXH3_64bits(bad + 96, 2048));
    LPT_CHECKF(strstr(lp_last_error(ctx), want) != NULL, "%s", lp_last_error(ctx));
    /* head reads the header only; a range read cannot verify (documented) */
    lpi_chunk_info info;
    LPT_OK(ctx, lpi_store_head(ctx, s, "corrupt/k", &info));
    char one;
    LPT_OK(ctx, lpi_store_get_range(ctx, s, "corrupt/k", 1000, 1, &one));
    LPT_CHECK((unsigned char)one == bad[96 + 1000]);

    /* a flipped header bit */
    memcpy(bad, raw, n);
    bad[20] ^= 1;
    write_file(path, bad, n);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "corrupt/k", &b) == LP_ERR_FORMAT &&
              strstr(lp_last_error(ctx), "header checksum mismatch"));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_head(ctx, s, "corrupt/k", &info) == LP_ERR_FORMAT);

    /* truncated and extended files */
    write_file(path, raw, n - 1);
    lpt_clear(ctx);
    LPT_CHECKF(lpi_store_get(ctx, s, "corrupt/k", &b) == LP_ERR_FORMAT &&
               strstr(lp_last_error(ctx), "file is 2143 bytes but its header says 96 + 2048"),
               "%s", lp_last_error(ctx));
    memcpy(bad, raw, n);
    write_file(path, bad, 50);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "corrupt/k", &b) == LP_ERR_FORMAT &&
              strstr(lp_last_error(ctx), "shorter than the chunk header"));
    write_file(path, "", 0);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "corrupt/k", &b) == LP_ERR_FORMAT);
    /* restoring the bytes restores the chunk */
    write_file(path, raw, n);
    LPT_OK(ctx, lpi_store_get(ctx, s, "corrupt/k", &b));
    lp_buffer_release(b);
    lp_free(d);
}

static void test_file_atomic(lpi_store *s, const char *dir) {
    int64_t shape[1] = {1000};
    lp_status st;
    count_files(dir);
    LPT_CHECKF(ntemp == 0, "%d temp files left behind", ntemp);

    /* a write that fails midway (file size limit: EFBIG) leaves neither chunk nor temp file */
    int before = nfiles;
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    lpt_clear(ctx);
    void *d = lpt_put(ctx, s, "atomic/big", LP_INT32, 1, shape, 1, &st);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    LPT_CHECKF(st == LP_ERR_IO && strstr(lp_last_error(ctx), "chunk atomic/big: write"),
               "%s: %s", lp_status_str(st), lp_last_error(ctx));
    lp_free(d);
    count_files(dir);
    LPT_CHECK(ntemp == 0 && nfiles == before);
    bool ex = true;
    LPT_OK(ctx, lpi_store_exists(ctx, s, "atomic/big", &ex));
    LPT_CHECK(!ex);

    /* the same failure while replacing a chunk leaves the old chunk whole */
    int64_t small[1] = {10};
    d = lpt_put(ctx, s, "atomic/keep", LP_INT32, 1, small, 2, &st);
    LPT_OK(ctx, st);
    setrlimit(RLIMIT_FSIZE, &lim);
    signal(SIGXFSZ, SIG_IGN);
    lpt_clear(ctx);
    void *d2 = lpt_put(ctx, s, "atomic/keep", LP_INT32, 1, shape, 3, &st);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    LPT_CHECK(st == LP_ERR_IO);
    lp_buffer *b = NULL;
    LPT_OK(ctx, lpi_store_get(ctx, s, "atomic/keep", &b));
    LPT_CHECK(b && lp_buffer_nbytes(b) == 40 && memcmp(lp_buffer_data(b), d, 40) == 0);
    lp_buffer_release(b);
    lp_free(d);
    lp_free(d2);

    /* a chunk where a directory must go, and a directory where a chunk must go */
    int32_t v[2] = {1, 2};
    int64_t s2[1] = {2};
    lpt_clear(ctx);
    LPT_CHECKF(lpi_store_put(ctx, s, "atomic/keep/sub", LP_INT32, 1, s2, v, 8) == LP_ERR_VALUE &&
               strstr(lp_last_error(ctx), "\"atomic/keep\" is not a directory"), "%s",
               lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECKF(lpi_store_put(ctx, s, "atomic", LP_INT32, 1, s2, v, 8) == LP_ERR_VALUE, "%s",
               lp_last_error(ctx));
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "atomic", &b) == LP_ERR_NOTFOUND); /* a directory */
    LPT_OK(ctx, lpi_store_exists(ctx, s, "atomic", &ex));
    LPT_CHECK(!ex);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_del(ctx, s, "atomic") == LP_ERR_NOTFOUND);
    count_files(dir);
    LPT_CHECKF(ntemp == 0, "%d temp files left behind", ntemp);
}

static void test_file_symlinks(lpi_store *s, const char *dir) {
    /* a valid chunk outside the root, reachable only through symlinks planted inside it */
    char *out = make_tmpdir();
    char p[1200], q[1200];
    lpi_store *os;
    LPT_OK(ctx, lpi_store_open_dir(ctx, out, &os));
    int64_t shape[1] = {4};
    int32_t v[4] = {1, 2, 3, 4};
    LPT_OK(ctx, lpi_store_put(ctx, os, "secret", LP_INT32, 1, shape, v, sizeof v));
    snprintf(p, sizeof p, "%s/secret", out);
    snprintf(q, sizeof q, "%s/link", dir);
    LPT_CHECK(symlink(p, q) == 0);
    snprintf(q, sizeof q, "%s/linkdir", dir);
    LPT_CHECK(symlink(out, q) == 0);

    lp_buffer *b = NULL;
    bool ex = true;
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "link", &b) == LP_ERR_NOTFOUND && !b);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "linkdir/secret", &b) == LP_ERR_NOTFOUND && !b);
    lpi_chunk_info info;
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_head(ctx, s, "linkdir/secret", &info) == LP_ERR_NOTFOUND);
    LPT_OK(ctx, lpi_store_exists(ctx, s, "link", &ex));
    LPT_CHECK(!ex);
    LPT_OK(ctx, lpi_store_exists(ctx, s, "linkdir/secret", &ex));
    LPT_CHECK(!ex);
    /* writes and deletes do not go through them either */
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_put(ctx, s, "linkdir/planted", LP_INT32, 1, shape, v, sizeof v) != LP_OK);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_del(ctx, s, "linkdir/secret") == LP_ERR_NOTFOUND);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_del(ctx, s, "link") == LP_ERR_NOTFOUND);
    /* put over the link replaces the link inside the root, never the target */
    LPT_OK(ctx, lpi_store_put(ctx, s, "link", LP_INT32, 1, shape, v + 0, sizeof v));
    count_files(out);
    LPT_CHECK(nfiles == 1);
    LPT_OK(ctx, lpi_store_get(ctx, os, "secret", &b));
    lp_buffer_release(b);
    struct stat sb;
    LPT_CHECK(lstat(q, &sb) == 0 && S_ISLNK(sb.st_mode));
    lpi_store_close(os);
    rm_rf(out);
    free(out);
}

static void test_file(void) {
    char *dir = make_tmpdir();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/made/by/open", dir); /* created, with parents */
    char url[600];
    snprintf(url, sizeof url, "file://%s", sub);
    lpi_store *s;
    LPT_OK(ctx, lpi_store_open(ctx, url, &s));
    suite_all(ctx, s, "");
    count_files(sub);
    LPT_CHECKF(ntemp == 0, "%d temp files left behind", ntemp);
    test_file_corruption(s, sub);
    test_file_atomic(s, sub);
    test_file_symlinks(s, sub);
    lpi_store_close(s);

    /* a second store on the same directory sees the same chunks */
    lpi_store *s2;
    LPT_OK(ctx, lpi_store_open_dir(ctx, sub, &s2));
    bool ex = false;
    LPT_OK(ctx, lpi_store_exists(ctx, s2, "atomic/keep", &ex));
    LPT_CHECK(ex);
    lpi_store_close(s2);

    /* file://relative */
    char cwd[512], rel[64] = "lpt_store_rel_XXXXXX";
    if (getcwd(cwd, sizeof cwd) && mkdtemp(rel)) {
        snprintf(url, sizeof url, "file://%s/x", rel);
        LPT_OK(ctx, lpi_store_open(ctx, url, &s2));
        int32_t v = 5;
        LPT_OK(ctx, lpi_store_put(ctx, s2, "k", LP_INT32, 0, NULL, &v, 4));
        char path[600];
        snprintf(path, sizeof path, "%s/%s/x/k", cwd, rel);
        LPT_CHECK(access(path, F_OK) == 0);
        lpi_store_close(s2);
        rm_rf(rel);
    }
    /* a root that cannot be a directory */
    snprintf(url, sizeof url, "file://%s/made/by/open/atomic/keep", dir);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_open(ctx, url, &s2) == LP_ERR_IO);
    rm_rf(dir);
    free(dir);
}

/* ---- the store server in-process, through the http:// backend ---------------------------- */

static size_t sink(char *p, size_t s, size_t n, void *arg) { return s * n; }

/* A raw request with libcurl: returns the status. */
static long raw_request(const char *url, const char *method, const void *body, long len,
                        const char *hdr) {
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, len);
    }
    if (hdr) hl = curl_slist_append(hl, hdr);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return code;
}

static void test_server(void) {
    char *dir = make_tmpdir();
    lpi_storesrv_opts o = {.dir = dir, .port = 0, .threads = 2};
    lpi_storesrv *srv = NULL;
    LPT_OK(ctx, lpi_storesrv_start(ctx, &o, &srv));
    if (!srv) { rm_rf(dir); free(dir); return; }
    LPT_CHECK(lpi_storesrv_port(srv) > 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", lpi_storesrv_port(srv));
    LPT_CHECK(strcmp(lpi_storesrv_url(srv), url) == 0);
    lpi_store *s;
    LPT_OK(ctx, lpi_store_open(ctx, url, &s));
    suite_all(ctx, s, "");
    count_files(dir);
    LPT_CHECKF(ntemp == 0, "%d temp files left behind", ntemp);

    /* the server's directory is a file store: same bytes either way */
    lpi_store *fs;
    LPT_OK(ctx, lpi_store_open_dir(ctx, dir, &fs));
    int64_t shape[1] = {100};
    lp_status st;
    lpt_clear(ctx);
    void *d = lpt_put(ctx, s, "viahttp", LP_FLOAT32, 1, shape, 77, &st);
    LPT_OK(ctx, st);
    lp_buffer *b = NULL;
    LPT_OK(ctx, lpi_store_get(ctx, fs, "viahttp", &b));
    LPT_CHECK(b && memcmp(lp_buffer_data(b), d, 400) == 0);
    lp_buffer_release(b);
    lp_free(d);
    d = lpt_put(ctx, fs, "viafile", LP_FLOAT32, 1, shape, 78, &st);
    LPT_OK(ctx, lpi_store_get(ctx, s, "viafile", &b));
    LPT_CHECK(b && memcmp(lp_buffer_data(b), d, 400) == 0);
    lp_buffer_release(b);

    /* corruption on the server's disk is caught by the client */
    char path[600];
    snprintf(path, sizeof path, "%s/viafile", dir);
    static unsigned char raw[496];
    LPT_CHECK(read_file(path, raw, sizeof raw) == 496);
    raw[300] ^= 4;
    write_file(path, raw, sizeof raw);
    lpt_clear(ctx);
    LPT_CHECK(lpi_store_get(ctx, s, "viafile", &b) == LP_ERR_FORMAT &&
              strstr(lp_last_error(ctx), "checksum mismatch"));
    lp_free(d);

    /* the server's own limit answers 413 */
    lpi_store_set_max_chunk_bytes(s, (uint64_t)4 << 30);
    lpi_storesrv_stop(srv);
    o.max_chunk_bytes = 1000;
    LPT_OK(ctx, lpi_storesrv_start(ctx, &o, &srv));
    lpi_store_close(s);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", lpi_storesrv_port(srv));
    LPT_OK(ctx, lpi_store_open(ctx, url, &s));
    int64_t big[1] = {2000};
    lpt_clear(ctx);
    d = lpt_put(ctx, s, "big", LP_BOOL, 1, big, 1, &st);
    LPT_CHECKF(st == LP_ERR_LIMIT && strstr(lp_last_error(ctx), "too large"), "%s: %s",
               lp_status_str(st), lp_last_error(ctx));
    lp_free(d);

    /* raw requests the client library never sends */
    char u[256];
    snprintf(u, sizeof u, "%s/status", url);
    LPT_CHECK(raw_request(u, "GET", NULL, 0, NULL) == 200);
    LPT_CHECK(raw_request(u, "POST", "x", 1, NULL) == 405);
    snprintf(u, sizeof u, "%s/chunks/a/../../etc/passwd", url);
    LPT_CHECK(raw_request(u, "GET", NULL, 0, NULL) == 400);
    snprintf(u, sizeof u, "%s/chunks/..%%2f..%%2fx", url);
    LPT_CHECK(raw_request(u, "GET", NULL, 0, NULL) == 400);
    snprintf(u, sizeof u, "%s/chunks/k", url);
    LPT_CHECK(raw_request(u, "POST", "x", 1, NULL) == 405);
    LPT_CHECK(raw_request(u, "PUT", "short", 5, NULL) == 400);
    snprintf(u, sizeof u, "%s/nowhere", url);
    LPT_CHECK(raw_request(u, "GET", NULL, 0, NULL) == 404);
    count_files(dir);
    LPT_CHECKF(ntemp == 0, "%d temp files left behind", ntemp);

    /* keep-alive: one connection serves GET, HEAD, DELETE, a 404 and a PUT in turn */
    {
        int64_t sh[1] = {8};
        int32_t vals[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        lpi_chunk_info ci;
        LPT_OK(ctx, lpi_chunk_info_make(ctx, "ka", LP_INT32, 1, sh, vals, sizeof vals, &ci));
        unsigned char body[96 + sizeof vals];
        lpi_chunk_header_encode(&ci, body);
        memcpy(body + 96, vals, sizeof vals);
        CURL *h = curl_easy_init();
        struct { const char *method, *path; long want; } steps[] = {
            {"GET", "/status", 200}, {"PUT", "/chunks/ka", 201}, {"GET", "/chunks/ka", 200},
            {"HEAD", "/chunks/ka", 200}, {"DELETE", "/chunks/ka", 204},
            {"GET", "/chunks/ka", 404}, {"GET", "/status", 200}};
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            curl_easy_reset(h);
            snprintf(u, sizeof u, "%s%s", url, steps[i].path);
            curl_easy_setopt(h, CURLOPT_URL, u);
            curl_easy_setopt(h, CURLOPT_PROXY, "");
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
            if (strcmp(steps[i].method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
            else curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, steps[i].method);
            if (strcmp(steps[i].method, "PUT") == 0) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)sizeof body);
            }
            long code = 0, conns = -1;
            LPT_CHECK(curl_easy_perform(h) == CURLE_OK);
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
            LPT_CHECKF(code == steps[i].want, "%s %s: %ld", steps[i].method, steps[i].path, code);
            LPT_CHECKF(i == 0 || conns == 0, "%s %s opened a new connection", steps[i].method,
                       steps[i].path);
        }
        curl_easy_cleanup(h);
    }

    lpi_store_close(s);
    lpi_store_close(fs);
    lpi_storesrv_stop(srv);
    rm_rf(dir);
    free(dir);
}

/* ---- the HTTP glue's body handling (READ_BODY), as the worker will use it ----------------- */

static atomic_int glue_ends, glue_completed;

static lpi_http_action glue_request(void *app, lpi_http_req *req) {
    if (strcmp(lpi_http_method(req), "POST") != 0) {
        lpi_http_reply_text(req, 200, "text/plain", lpi_http_path(req));
        return LPI_HTTP_DONE;
    }
    lpi_http_set_body_limit(req, 1000);
    return LPI_HTTP_READ_BODY;
}
static void glue_body(void *app, lpi_http_req *req, const char *body, size_t n) {
    if (strlen(body) != n) { lpi_http_reply_error(req, 400, "body has a NUL"); return; }
    lpi_http_reply_json(req, 200, json_pack("{s:s%}", "echo", body, n));
}
static void glue_end(void *app, lpi_http_req *req, bool completed) {
    atomic_fetch_add(&glue_ends, 1);
    if (completed) atomic_fetch_add(&glue_completed, 1);
}

typedef struct resp { char buf[2048]; size_t n; } resp;
static size_t keep(char *p, size_t s, size_t n, void *arg) {
    resp *r = arg;
    size_t k = s * n;
    if (k > sizeof r->buf - 1 - r->n) k = sizeof r->buf - 1 - r->n;
    memcpy(r->buf + r->n, p, k);
    r->n += k;
    r->buf[r->n] = 0;
    return s * n;
}

static long post(const char *url, const char *body, long len, bool chunked, resp *r) {
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    memset(r, 0, sizeof *r);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, len);
    hl = curl_slist_append(hl, "Expect:");
    if (chunked) hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return code;
}

static void test_glue(void) {
    for (unsigned threads = 0; threads <= 2; threads += 2) { /* per connection, and a pool */
        lpi_http_opts o = {.threads = threads};
        lpi_http_handlers hd = {NULL, glue_request, NULL, glue_body, glue_end};
        lpi_http_server *srv = NULL;
        atomic_store(&glue_ends, 0);
        atomic_store(&glue_completed, 0);
        LPT_OK(ctx, lpi_http_start(ctx, &o, &hd, &srv));
        if (!srv) return;
        char url[128];
        snprintf(url, sizeof url, "%s/echo", lpi_http_url(srv));
        resp r;
        LPT_CHECK(post(url, "hello", 5, false, &r) == 200 && strstr(r.buf, "\"echo\":\"hello\""));
        LPT_CHECK(post(url, "", 0, false, &r) == 200 && strstr(r.buf, "\"echo\":\"\""));
        LPT_CHECK(post(url, "hi", 2, true, &r) == 200 && strstr(r.buf, "\"echo\":\"hi\""));
        static char big[5000];
        memset(big, 'x', sizeof big);
        LPT_CHECK(post(url, big, 1000, false, &r) == 200);
        LPT_CHECK(post(url, big, 1001, false, &r) == 413 && strstr(r.buf, "\"error\""));
        long code = post(url, big, sizeof big, true, &r); /* no Content-Length: cut at the limit */
        LPT_CHECKF(code == 413, "chunked over the limit: %ld", code);
        LPT_CHECK(post(url, "a\0b", 3, false, &r) == 400);
        LPT_CHECK(raw_request(url, "GET", NULL, 0, NULL) == 200);
        /* the path arrives undecoded */
        snprintf(url, sizeof url, "%s/a%%2e%%2e", lpi_http_url(srv));
        resp r2;
        CURL *h = curl_easy_init();
        memset(&r2, 0, sizeof r2);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r2);
        curl_easy_perform(h);
        curl_easy_cleanup(h);
        LPT_CHECKF(strcmp(r2.buf, "/a%2e%2e") == 0, "%s", r2.buf);
        lpi_http_stop(srv, 1.0);
        LPT_CHECKF(atomic_load(&glue_ends) == 9, "on_end ran %d times", atomic_load(&glue_ends));
        LPT_CHECKF(atomic_load(&glue_completed) == 7, "%d completed", atomic_load(&glue_completed));
    }
    /* a port in use is a clean error */
    lpi_http_opts o = {0};
    lpi_http_handlers hd = {NULL, glue_request, NULL, glue_body, glue_end};
    lpi_http_server *a = NULL, *b = NULL;
    LPT_OK(ctx, lpi_http_start(ctx, &o, &hd, &a));
    if (a) {
        o.port = lpi_http_port(a);
        lpt_clear(ctx);
        LPT_CHECK(lpi_http_start(ctx, &o, &hd, &b) == LP_ERR_IO && !b &&
                  strstr(lp_last_error(ctx), "cannot listen on 127.0.0.1"));
        lpi_http_stop(a, 0);
    }
    o.bind = "localhost"; /* numeric only */
    o.port = 0;
    lpt_clear(ctx);
    LPT_CHECK(lpi_http_start(ctx, &o, &hd, &b) == LP_ERR_VALUE);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (lp_ctx_create(&ctx) != LP_OK) return 1;
    LPT_RUN(test_keys);
    LPT_RUN(test_header);
    LPT_RUN(test_urls);
    LPT_RUN(test_mem);
    LPT_RUN(test_file);
    LPT_RUN(test_server);
    LPT_RUN(test_glue);
    lp_ctx_destroy(ctx);
    curl_global_cleanup();
    return lpt_done("test_store");
}
