/* The store's parsers: the first byte picks one, the rest is its input.
 *   0  Range header of a GET (lpi_http_parse_range): 8 bytes of chunk size, then the header
 *   1  chunk key (lpi_store_key_valid), against an independent implementation of the key rule
 *   2  chunk header (lpi_chunk_header_decode); the mode byte's bit 4 makes the header hash
 *      right, so the checks behind it are reached; an accepted header must re-encode to itself
 *   3  store URL (lpi_store_open of redis://, http://, mem://: parsed, nothing connected)
 * Every check is against the contract in store.h / storesrv.h. */
#include "fuzz.h"
#include "server/http.h"
#include "server/storesrv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

/* The simple form bytes=A-B / bytes=A- / bytes=-N with at most 19 digits each (no overflow):
 * the answer computed directly from RFC 9110 14.1.2. Returns 2 when the header is not simple. */
static int simple_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b) {
    if (strncmp(h, "bytes=", 6)) return 2;
    h += 6;
    const char *dash = strchr(h, '-');
    if (!dash) return 2;
    size_t n1 = (size_t)(dash - h), n2 = strlen(dash + 1);
    if (n1 > 19 || n2 > 19 || (!n1 && !n2) || strspn(h, "0123456789") != n1 ||
        strspn(dash + 1, "0123456789") != n2)
        return 2;
    uint64_t x = n1 ? strtoull(h, NULL, 10) : 0, y = n2 ? strtoull(dash + 1, NULL, 10) : 0;
    if (!n1) {
        if (!y || !size) return -1;
        *a = y >= size ? 0 : size - y;
        *b = size - 1;
        return 1;
    }
    if ((n2 && y < x) || x >= size) return -1;
    *a = x;
    *b = n2 && y < size - 1 ? y : size - 1;
    return 1;
}

static void range(const uint8_t *d, size_t n) {
    uint64_t size = 0;
    for (size_t i = 0; i < 8 && i < n; i++) size |= (uint64_t)d[i] << (8 * i);
    char *h = fz_cstr(d + (n < 8 ? n : 8), n < 8 ? 0 : n - 8);
    uint64_t a = 7, b = 7, ea, eb;
    int rc = lpi_http_parse_range(h, size, &a, &b);
    CHECK(rc >= -1 && rc <= 1, "rc %d", rc);
    if (rc == 1) CHECK(a <= b && b < size, "[%llu, %llu] of %llu for \"%s\"", (unsigned long long)a,
                       (unsigned long long)b, (unsigned long long)size, h);
    int want = simple_range(h, size, &ea, &eb);
    if (want != 2) {
        CHECK(rc == want, "\"%s\" of %llu: %d, the RFC says %d", h, (unsigned long long)size, rc, want);
        if (rc == 1) CHECK(a == ea && b == eb, "\"%s\": [%llu, %llu], the RFC says [%llu, %llu]", h,
                           (unsigned long long)a, (unsigned long long)b, (unsigned long long)ea,
                           (unsigned long long)eb);
    }
    free(h);
}

/* The key rule of store.h, written again from its description. */
static bool key_ok(const char *k) {
    size_t n = strlen(k);
    if (n < 1 || n > LPI_STORE_KEY_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/", k[i])) return false;
    for (const char *c = k;;) {
        size_t len = strcspn(c, "/");
        if (!len || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return false;
        if (!c[len]) return true;
        c += len + 1;
    }
}

static void key(const uint8_t *d, size_t n) {
    char *k = fz_cstr(d, n);
    const char *why = NULL;
    bool v = lpi_store_key_valid(k, &why);
    CHECK(v == key_ok(k), "key \"%s\": valid %d, the rule says %d", k, v, !v);
    CHECK(v || why, "no reason given");
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    CHECK((lpi_store_key_check(ctx, k) == LP_OK) == v, "key_check disagrees");
    lp_ctx_destroy(ctx);
    free(k);
}

static void header(uint8_t mode, const uint8_t *d, size_t n) {
    uint8_t h[LPI_CHUNK_HDR_SIZE] = {0}, again[LPI_CHUNK_HDR_SIZE];
    memcpy(h, d, n < sizeof h ? n : sizeof h);
    if (mode & 0x10) {
        uint64_t sum = XXH3_64bits(h, 88);
        for (int i = 0; i < 8; i++) h[88 + i] = (uint8_t)(sum >> (8 * i));
    }
    lp_ctx *ctx;
    if (lp_ctx_create(&ctx) != LP_OK) abort();
    lpi_chunk_info info;
    if (lpi_chunk_header_decode(ctx, "k", h, (uint64_t)1 << 40, &info) == LP_OK) {
        CHECK(info.dtype >= 0 && info.dtype < LP_DTYPE_COUNT && info.ndim >= 0 && info.ndim <= LP_MAX_NDIM, "bad fields");
        uint64_t bytes = lp_dtype_size(info.dtype);
        bool empty = false;
        for (int i = 0; i < info.ndim; i++) {
            CHECK(info.shape[i] >= 0, "negative dimension");
            empty |= info.shape[i] == 0;
        }
        for (int i = 0; i < info.ndim && !empty; i++)
            CHECK(!__builtin_mul_overflow(bytes, (uint64_t)info.shape[i], &bytes), "size overflows");
        if (empty) bytes = 0;
        CHECK(bytes == info.nbytes && bytes <= (uint64_t)1 << 40, "nbytes %llu for %llu bytes of shape",
              (unsigned long long)info.nbytes, (unsigned long long)bytes);
        lpi_chunk_header_encode(&info, again);
        CHECK(!memcmp(again, h, sizeof h), "an accepted header does not re-encode to itself");
    } else {
        CHECK(lp_last_error(ctx)[0], "a failure without a message");
    }
    lp_ctx_destroy(ctx);
}

static void url(const uint8_t *d, size_t n) {
    char *u = fz_cstr(d, n);
    /* file:// would create directories; the file store is fuzzed through the HTTP store */
    if (!strncmp(u, "redis://", 8) || !strncmp(u, "http://", 7) || !strncmp(u, "mem://", 6)) {
        lp_ctx *ctx;
        if (lp_ctx_create(&ctx) != LP_OK) abort();
        lpi_store *s = NULL;
        if (lpi_store_open(ctx, u, &s) == LP_OK) CHECK(s && !strcmp(lpi_store_url(s), u), "url not kept");
        else CHECK(lp_last_error(ctx)[0], "a failure without a message");
        lpi_store_close(s);
        lp_ctx_destroy(ctx);
    }
    free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    switch (data[0] & 3) {
    case 0: range(data + 1, size - 1); break;
    case 1: key(data + 1, size - 1); break;
    case 2: header(data[0], data + 1, size - 1); break;
    case 3: url(data + 1, size - 1); break;
    }
    return 0;
}
