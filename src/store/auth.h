/*
 * auth.h — request signing with a shared key (docs/SECURITY.md, docs/PROTOCOL.md "Signing").
 *
 * Drivers, workers and stores that share a secret key sign every HTTP request they make and
 * reject the ones that are not signed with it. A signature is HMAC-SHA256 (GnuTLS) over
 *
 *     "LAMPY1\n" METHOD "\n" PATH "\n" DATE "\n" NONCE "\n" SCOPE "\n" BODY-SHA256
 *
 * carried in five headers: X-Lampy-Date (unix seconds), X-Lampy-Nonce (32 hex digits, random),
 * X-Lampy-Scope (the key prefix of the run the request belongs to, may be empty),
 * X-Lampy-Content-SHA256 (hex SHA-256 of the body) and X-Lampy-Signature (hex HMAC). A server
 * checks the signature from the headers alone, before it reads the body; a date more than
 * LPI_AUTH_WINDOW seconds away from its clock is stale; a nonce it has seen inside the window is
 * a replay; the body is hashed as it arrives and compared before anything uses it.
 *
 * The key file holds the secret: at least 16 bytes (trailing whitespace is not part of it),
 * not readable by every user (mode & 004 == 0).
 */
#ifndef LP_STORE_AUTH_H
#define LP_STORE_AUTH_H

#include "core/core.h"

#define LPI_AUTH_WINDOW 60.0          /* seconds a signed request stays valid, either way */
#define LPI_AUTH_SCOPE_MAX 200
#define LPI_HDR_DATE "X-Lampy-Date"
#define LPI_HDR_NONCE "X-Lampy-Nonce"
#define LPI_HDR_SCOPE "X-Lampy-Scope"
#define LPI_HDR_BODY "X-Lampy-Content-SHA256"
#define LPI_HDR_SIG "X-Lampy-Signature"

typedef struct lpi_key lpi_key;

/* Read a key file (see above). */
lp_status lpi_key_load(lp_ctx *ctx, const char *path, lpi_key **out);
/* The key file named by $LAMPY_KEY_FILE, or *out = NULL when it is unset or empty. */
lp_status lpi_key_from_env(lp_ctx *ctx, lpi_key **out);
lpi_key *lpi_key_retain(lpi_key *k);   /* NULL is allowed */
void lpi_key_release(lpi_key *k);      /* NULL is allowed */

/* ---- SHA-256 ---- */

typedef struct lpi_sha256 { void *h; } lpi_sha256;
bool lpi_sha256_init(lpi_sha256 *s);
void lpi_sha256_update(lpi_sha256 *s, const void *p, size_t n);
/* Lowercase hex digest; frees the state. */
void lpi_sha256_final_hex(lpi_sha256 *s, char out[65]);
void lpi_sha256_hex(const void *p, size_t n, char out[65]);
/* abort the state without a digest (NULL state allowed) */
void lpi_sha256_abort(lpi_sha256 *s);

/* ---- signing (clients) ---- */

/* The five header lines ("Name: value") of a signed request. */
typedef struct lpi_auth_hdrs { char line[5][LPI_AUTH_SCOPE_MAX + 64]; } lpi_auth_hdrs;
void lpi_auth_sign(const lpi_key *k, const char *method, const char *path, const char *scope,
                   const char body_sha256_hex[65], lpi_auth_hdrs *out);

/* ---- checking (servers) ---- */

/* Check a request's signature headers (any may be NULL = missing) against the key: LP_OK, or
 * LP_ERR_DENIED with the reason in why ("no signature", "bad signature", "stale date"...).
 * Constant time in the signature. */
lp_status lpi_auth_check(const lpi_key *k, const char *method, const char *path, const char *date,
                         const char *nonce, const char *scope, const char *body_hex, const char *sig,
                         char *why, size_t cap);

/* Nonces seen within the window (2 x LPI_AUTH_WINDOW), so a signed request is accepted once. */
typedef struct lpi_nonce_cache lpi_nonce_cache;
lpi_nonce_cache *lpi_nonce_cache_new(size_t max_entries);
void lpi_nonce_cache_free(lpi_nonce_cache *c);
/* 1: first time (remembered now), 0: a replay, -1: the cache is full of live nonces (the
 * request must be refused: remembering it is the only way to reject its replay). */
int lpi_nonce_cache_add(lpi_nonce_cache *c, const char *nonce_hex);

/* Constant-time equality of two NUL-terminated strings of the same expected length. */
bool lpi_ct_streq(const char *a, const char *b);

#endif
