/* Request signing with a shared key: HMAC-SHA256 and SHA-256 from GnuTLS (see auth.h). */
#include "store/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_MIN 16
#define KEY_MAX 4096

struct lpi_key {
    atomic_int refs;
    size_t n;
    uint8_t bytes[];
};

lp_status lpi_key_load(lp_ctx *ctx, const char *path, lpi_key **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lpi_error(ctx, errno == ENOENT ? LP_ERR_NOTFOUND : LP_ERR_IO, "key file %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lpi_error(ctx, LP_ERR_VALUE, "key file %s: not a regular file", path);
    }
    if (sb.st_mode & S_IROTH) {
        close(fd);
        return lpi_error(ctx, LP_ERR_DENIED, "key file %s is readable by every user: chmod o-r (or 600) it", path);
    }
    uint8_t buf[KEY_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { int e = errno; close(fd); return lpi_error(ctx, LP_ERR_IO, "key file %s: %s", path, strerror(e)); }
        if (r == 0 || (n += (size_t)r) == sizeof buf) break;
    }
    close(fd);
    if (n > KEY_MAX) return lpi_error(ctx, LP_ERR_VALUE, "key file %s: longer than %d bytes", path, KEY_MAX);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
    if (n < KEY_MIN) {
        gnutls_memset(buf, 0, sizeof buf);
        return lpi_error(ctx, LP_ERR_VALUE, "key file %s: the key must have at least %d bytes (e.g. "
                         "head -c 32 /dev/urandom | base64 > %s)", path, KEY_MIN, path);
    }
    lpi_key *k = lp_malloc(sizeof *k + n);
    if (!k) { gnutls_memset(buf, 0, sizeof buf); return lpi_nomem(ctx); }
    atomic_init(&k->refs, 1);
    k->n = n;
    memcpy(k->bytes, buf, n);
    gnutls_memset(buf, 0, sizeof buf);
    *out = k;
    return LP_OK;
}

lp_status lpi_key_from_env(lp_ctx *ctx, lpi_key **out) {
    *out = NULL;
    const char *p = getenv("LAMPY_KEY_FILE");
    return p && *p ? lpi_key_load(ctx, p, out) : LP_OK;
}

lpi_key *lpi_key_retain(lpi_key *k) {
    if (k) atomic_fetch_add(&k->refs, 1);
    return k;
}

void lpi_key_release(lpi_key *k) {
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1) return;
    gnutls_memset(k->bytes, 0, k->n);
    lp_free(k);
}

/* ---- SHA-256 ---- */

static void hex(const uint8_t *p, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = 0;
}

bool lpi_sha256_init(lpi_sha256 *s) {
    gnutls_hash_hd_t h;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) { s->h = NULL; return false; }
    s->h = h;
    return true;
}

void lpi_sha256_update(lpi_sha256 *s, const void *p, size_t n) {
    if (s->h && n) gnutls_hash((gnutls_hash_hd_t)s->h, p, n);
}

void lpi_sha256_final_hex(lpi_sha256 *s, char out[65]) {
    uint8_t d[32];
    if (!s->h) { out[0] = 0; return; }
    gnutls_hash_deinit((gnutls_hash_hd_t)s->h, d);
    s->h = NULL;
    hex(d, 32, out);
}

void lpi_sha256_abort(lpi_sha256 *s) {
    if (s && s->h) gnutls_hash_deinit((gnutls_hash_hd_t)s->h, NULL);
    if (s) s->h = NULL;
}

void lpi_sha256_hex(const void *p, size_t n, char out[65]) {
    uint8_t d[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, n ? p : "", n, d) < 0) { out[0] = 0; return; }
    hex(d, 32, out);
}

/* ---- signatures ---- */

bool lpi_ct_streq(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na && i < nb; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static bool mac(const lpi_key *k, const char *method, const char *path, const char *date, const char *nonce,
                const char *scope, const char *body_hex, char out[65]) {
    /* the fields cannot contain '\n' (checked by the callers: digits, hex, key characters, a
     * request target), so the string is unambiguous */
    size_t n = 7 + strlen(method) + 1 + strlen(path) + 1 + strlen(date) + 1 + strlen(nonce) + 1 + strlen(scope) + 1 +
               strlen(body_hex) + 1;
    char stack[1024], *s = n <= sizeof stack ? stack : lp_malloc(n);
    if (!s) return false;
    int len = snprintf(s, n, "LAMPY1\n%s\n%s\n%s\n%s\n%s\n%s", method, path, date, nonce, scope, body_hex);
    uint8_t d[32];
    bool ok = len > 0 && gnutls_hmac_fast(GNUTLS_MAC_SHA256, k->bytes, k->n, s, (size_t)len, d) >= 0;
    if (s != stack) lp_free(s);
    if (ok) hex(d, 32, out);
    return ok;
}

void lpi_auth_sign(const lpi_key *k, const char *method, const char *path, const char *scope,
                   const char body_sha256_hex[65], lpi_auth_hdrs *out) {
    char date[24], nonce[33], sig[65] = "";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(date, sizeof date, "%lld", (long long)ts.tv_sec);
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r);
    hex(r, sizeof r, nonce);
    if (!scope) scope = "";
    mac(k, method, path, date, nonce, scope, body_sha256_hex, sig);
    snprintf(out->line[0], sizeof out->line[0], LPI_HDR_DATE ": %s", date);
    snprintf(out->line[1], sizeof out->line[1], LPI_HDR_NONCE ": %s", nonce);
    snprintf(out->line[2], sizeof out->line[2], LPI_HDR_SCOPE ": %s", scope);
    snprintf(out->line[3], sizeof out->line[3], LPI_HDR_BODY ": %s", body_sha256_hex);
    snprintf(out->line[4], sizeof out->line[4], LPI_HDR_SIG ": %s", sig);
}

static bool all_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static bool scope_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= LPI_AUTH_SCOPE_MAX || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                                         (s[n] >= '0' && s[n] <= '9') || strchr("._/-", s[n])))
            return false;
    return true;
}

lp_status lpi_auth_check(const lpi_key *k, const char *method, const char *path, const char *date,
                         const char *nonce, const char *scope, const char *body_hex, const char *sig,
                         char *why, size_t cap) {
    if (!sig || !date || !nonce || !body_hex) {
        snprintf(why, cap, "the request is not signed (the server needs the shared key: --key-file)");
        return LP_ERR_DENIED;
    }
    if (!scope) scope = "";
    char *end;
    errno = 0;
    long long t = strtoll(date, &end, 10);
    if (!*date || *end || errno || !all_hex(nonce, 32) || !all_hex(body_hex, 64) || !all_hex(sig, 64) ||
        !scope_ok(scope) || strchr(path, '\n')) {
        snprintf(why, cap, "malformed signature headers");
        return LP_ERR_DENIED;
    }
    char want[65];
    if (!mac(k, method, path, date, nonce, scope, body_hex, want)) {
        snprintf(why, cap, "cannot compute the signature (out of memory)");
        return LP_ERR_DENIED;
    }
    if (!lpi_ct_streq(want, sig)) {
        snprintf(why, cap, "bad signature (not made with this server's key)");
        return LP_ERR_DENIED;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double skew = (double)t - (double)ts.tv_sec;
    if (skew > LPI_AUTH_WINDOW || skew < -LPI_AUTH_WINDOW) {
        snprintf(why, cap, "stale request: signed %.0f s %s this server's clock (the window is %.0f s)",
                 skew < 0 ? -skew : skew, skew < 0 ? "behind" : "ahead of", LPI_AUTH_WINDOW);
        return LP_ERR_DENIED;
    }
    return LP_OK;
}

/* ---- nonces ----
 * A chained hash table of nonces in a FIFO ordered by expiry (insertion time + 2 x window: a
 * nonce is only accepted with a date inside the window, so it cannot be valid after that). */

typedef struct nnode {
    uint8_t nonce[16];
    double expiry;
    struct nnode *chain, *next;
} nnode;

struct lpi_nonce_cache {
    pthread_mutex_t mu;
    nnode **tab;
    size_t nbuckets, n, max;
    nnode *head, *tail;     /* oldest first */
};

lpi_nonce_cache *lpi_nonce_cache_new(size_t max_entries) {
    lpi_nonce_cache *c = lp_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->max = max_entries ? max_entries : 1;
    c->nbuckets = 1;
    while (c->nbuckets < c->max / 2 && c->nbuckets < ((size_t)1 << 22)) c->nbuckets <<= 1;
    if (!(c->tab = lp_calloc(c->nbuckets, sizeof *c->tab))) { lp_free(c); return NULL; }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void lpi_nonce_cache_free(lpi_nonce_cache *c) {
    if (!c) return;
    for (nnode *p = c->head, *q; p; p = q) { q = p->next; lp_free(p); }
    lp_free(c->tab);
    pthread_mutex_destroy(&c->mu);
    lp_free(c);
}

static size_t bucket(const lpi_nonce_cache *c, const uint8_t *nonce) {
    uint64_t h;
    memcpy(&h, nonce, 8); /* random bytes: any 8 of them hash well */
    return (size_t)(h & (c->nbuckets - 1));
}

static void unlink_node(lpi_nonce_cache *c, nnode *p) {
    nnode **pp = &c->tab[bucket(c, p->nonce)];
    while (*pp && *pp != p) pp = &(*pp)->chain;
    if (*pp) *pp = p->chain;
}

int lpi_nonce_cache_add(lpi_nonce_cache *c, const char *nonce_hex) {
    uint8_t nb[16];
    for (int i = 0; i < 16; i++) {
        int hi = nonce_hex[2 * i], lo = nonce_hex[2 * i + 1];
        hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
        lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
        nb[i] = (uint8_t)(hi << 4 | lo);
    }
    double now = lpi_now();
    int rc = 1;
    pthread_mutex_lock(&c->mu);
    while (c->head && c->head->expiry < now) {
        nnode *p = c->head;
        c->head = p->next;
        if (!c->head) c->tail = NULL;
        unlink_node(c, p);
        lp_free(p);
        c->n--;
    }
    size_t b = bucket(c, nb);
    for (nnode *p = c->tab[b]; p; p = p->chain)
        if (!memcmp(p->nonce, nb, 16)) { rc = 0; goto out; }
    nnode *p = c->n < c->max ? lp_malloc(sizeof *p) : NULL;
    if (!p) { rc = -1; goto out; }
    memcpy(p->nonce, nb, 16);
    p->expiry = now + 2 * LPI_AUTH_WINDOW;
    p->chain = c->tab[b];
    c->tab[b] = p;
    p->next = NULL;
    if (c->tail) c->tail->next = p; else c->head = p;
    c->tail = p;
    c->n++;
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}
