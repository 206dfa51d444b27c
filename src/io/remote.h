/* The HTTP machinery shared by the http(s) and s3 backends (io/http.c, io/s3.c): one request
 * with retries, range checks and version checks, over a pool of libcurl easy handles. */
#ifndef LP_IO_REMOTE_H
#define LP_IO_REMOTE_H

#include "io/source.h"

/* How an S3 request is signed (AWS Signature V4 by libcurl). */
typedef struct lpi_s3_auth {
    bool sign;               /* false: anonymous requests (public buckets) */
    char sigv4[96];          /* "aws:amz:REGION:s3" */
    char userpwd[512];       /* "ACCESS_KEY:SECRET" */
    char token[2048];        /* session token, "" if none */
} lpi_s3_auth;

typedef struct lpi_hreq {
    /* request */
    const char *method;      /* GET HEAD PUT POST DELETE */
    const char *url;         /* what is requested */
    const char *name;        /* what messages call it (the user's URL) */
    const lpi_s3_auth *auth; /* NULL: plain HTTP */
    const char *content_type;
    bool range;              /* ask for bytes [off, off + len) */
    int64_t off;
    size_t len;
    char *dst;               /* range: the len bytes land here */
    bool grow;               /* a whole body into a growing buffer of at most max bytes */
    size_t max;
    const char *body;        /* PUT/POST body */
    size_t body_len;
    const lpi_objid *expect; /* the version the answer must show (NULL: any) */
    atomic_llong *moved;     /* bytes received are added here (may be NULL) */
    bool want_body_on_error; /* keep a 2xx body in errbuf too (S3 XML answers) */
    /* answer */
    long code;
    int64_t clen;            /* Content-Length, -1 if none */
    int64_t cr_a, cr_b, cr_total; /* Content-Range (cr_total -1 for '*', cr_a -1 when absent) */
    char etag[96], lastmod[64];
    char *gbuf;              /* grow: the body (lp_free) */
    size_t glen, gcap;
    size_t got;              /* range: bytes of the range received */
    int64_t seen;            /* body bytes received */
    char errbuf[1024];       /* start of an error body */
    size_t errlen;
    lp_status st;            /* a failure found in a callback (message on ctx) */
    bool done;               /* transfer stopped on purpose (enough bytes) */
} lpi_hreq;

/* Perform the request, retrying what retrying can fix (5xx, 429, refused or dropped
 * connections, truncated bodies) with exponential backoff ($LAMPY_IO_TRIES attempts, default
 * 5). Statuses: 404 LP_ERR_NOTFOUND; other 4xx LP_ERR_IO with the server's message; a range
 * answer that does not match the request or the expected version LP_ERR_IO. */
lp_status lpi_hreq_run(lp_ctx *ctx, lpi_hreq *r);

/* The object's version from an answer's headers: ETag, else Last-Modified. */
void lpi_hreq_tag(const lpi_hreq *r, char *tag, size_t cap);

/* The process-wide pool of libcurl easy handles (reset on take; NULL when libcurl cannot be
 * initialised). Every HTTP client of Lampy takes its handles here. */
typedef void CURL;
CURL *lpi_curl_take(void);
void lpi_curl_give(CURL *h);

/* A source over an http(s) URL, signed with auth when it is not NULL (io/s3.c). */
lp_status lpi_remote_src_open(lp_ctx *ctx, const char *url, const char *name, const lpi_s3_auth *auth,
                              lpi_src **out);

/* S3: the request URL and signing for s3://bucket/key (io/s3.c). */
lp_status lpi_s3_resolve(lp_ctx *ctx, const char *s3url, char **http_url, lpi_s3_auth *auth);

#endif
