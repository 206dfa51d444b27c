/* The s3:// backend: s3://bucket/key through the S3 REST API, signed with AWS Signature V4 by
 * libcurl (CURLOPT_AWS_SIGV4). Where and as whom, as every AWS tool decides it:
 *
 *   endpoint     $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, endpoint_url in the profile's config;
 *                else https://BUCKET.s3.REGION.amazonaws.com (path style for a custom endpoint)
 *   region       $AWS_REGION, $AWS_DEFAULT_REGION, region in the config; else us-east-1
 *   credentials  $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (+ $AWS_SESSION_TOKEN), else the
 *                profile in $AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), else the config;
 *                none (or $AWS_NO_SIGN_REQUEST=true): anonymous requests
 *   profile      $AWS_PROFILE, else "default"; config in $AWS_CONFIG_FILE (~/.aws/config)
 *
 * Reads are the http backend's ranged GETs. Writes collect up to one part (8 MiB) and PUT it;
 * larger objects become a multipart upload (parts of 8 MiB, completed on commit, aborted on
 * failure), so an object appears whole or not at all. */
#include "io/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PART_BYTES ((size_t)8 << 20)
#define MAX_PARTS 10000

/* value of `key` in [section] of an INI file ("" if absent) */
static void ini_get(const char *file, const char *section, const char *key, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = file ? fopen(file, "re") : NULL;
    if (!f) return;
    char line[4096];
    bool in = false;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        size_t n = strlen(p);
        while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) p[--n] = 0;
        if (*p == '[') {
            char *e = strchr(p, ']');
            if (!e) { in = false; continue; }
            *e = 0;
            char *s = p + 1;
            while (*s == ' ') s++;
            in = !strcmp(s, section);
            continue;
        }
        if (!in || strncmp(p, key, klen)) continue;
        char *q = p + klen;
        while (*q == ' ' || *q == '\t') q++;
        if (*q != '=') continue;
        q++;
        while (*q == ' ' || *q == '\t') q++;
        snprintf(out, cap, "%s", q);
        break;
    }
    fclose(f);
}

static void aws_file(const char *env, const char *leaf, char *out, size_t cap) {
    const char *e = getenv(env), *home = getenv("HOME");
    if (e && *e) snprintf(out, cap, "%s", e);
    else if (home && *home) snprintf(out, cap, "%s/.aws/%s", home, leaf);
    else out[0] = 0;
}

static void env_or(const char *a, const char *b, char *out, size_t cap) {
    const char *v = getenv(a);
    if ((!v || !*v) && b) v = getenv(b);
    if (v && *v) snprintf(out, cap, "%s", v);
}

/* RFC 3986 percent-encoding of a key; '/' stays (it is the path's separator). */
static bool encode_key(const char *k, char *out, size_t cap) {
    static const char hx[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '_' || *p == '.' || *p == '~' || *p == '/';
        if (j + 4 >= cap) return false;
        if (keep) out[j++] = (char)*p;
        else { out[j++] = '%'; out[j++] = hx[*p >> 4]; out[j++] = hx[*p & 15]; }
    }
    out[j] = 0;
    return true;
}

lp_status lpi_s3_resolve(lp_ctx *ctx, const char *s3url, char **http_url, lpi_s3_auth *auth) {
    *http_url = NULL;
    memset(auth, 0, sizeof *auth);
    const char *b = s3url + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen == 0 || blen > 255 || !slash || !slash[1])
        return lpi_error(ctx, LP_ERR_VALUE, "%s: an S3 URL is s3://BUCKET/KEY", s3url);
    for (size_t i = 0; i < blen; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: invalid bucket name", s3url);
    }
    const char *key = slash + 1;
    if (strlen(key) > 1024) return lpi_error(ctx, LP_ERR_VALUE, "%s: an S3 key has at most 1024 bytes", s3url);
    char profile[256] = "default", cfgfile[4096], credfile[4096], section[300];
    env_or("AWS_PROFILE", NULL, profile, sizeof profile);
    aws_file("AWS_CONFIG_FILE", "config", cfgfile, sizeof cfgfile);
    aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials", credfile, sizeof credfile);
    if (!strcmp(profile, "default")) snprintf(section, sizeof section, "default");
    else snprintf(section, sizeof section, "profile %s", profile);

    char region[128] = "", endpoint[1024] = "", ak[256] = "", sk[256] = "", nosign[16] = "";
    env_or("AWS_REGION", "AWS_DEFAULT_REGION", region, sizeof region);
    if (!region[0]) ini_get(cfgfile, section, "region", region, sizeof region);
    if (!region[0]) snprintf(region, sizeof region, "us-east-1");
    env_or("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", endpoint, sizeof endpoint);
    if (!endpoint[0]) ini_get(cfgfile, section, "endpoint_url", endpoint, sizeof endpoint);
    env_or("AWS_NO_SIGN_REQUEST", NULL, nosign, sizeof nosign);
    env_or("AWS_ACCESS_KEY_ID", NULL, ak, sizeof ak);
    env_or("AWS_SECRET_ACCESS_KEY", NULL, sk, sizeof sk);
    if (ak[0] && sk[0]) {
        env_or("AWS_SESSION_TOKEN", NULL, auth->token, sizeof auth->token);
    } else {
        ak[0] = sk[0] = 0;
        ini_get(credfile, profile, "aws_access_key_id", ak, sizeof ak);
        ini_get(credfile, profile, "aws_secret_access_key", sk, sizeof sk);
        ini_get(credfile, profile, "aws_session_token", auth->token, sizeof auth->token);
        if (!ak[0] || !sk[0]) {
            ini_get(cfgfile, section, "aws_access_key_id", ak, sizeof ak);
            ini_get(cfgfile, section, "aws_secret_access_key", sk, sizeof sk);
            ini_get(cfgfile, section, "aws_session_token", auth->token, sizeof auth->token);
        }
    }
    for (const char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return lpi_error(ctx, LP_ERR_VALUE, "%s: invalid AWS region '%.60s'", s3url, region);
    auth->sign = ak[0] && sk[0] && strcasecmp(nosign, "true") != 0;
    if (auth->sign) {
        snprintf(auth->sigv4, sizeof auth->sigv4, "aws:amz:%s:s3", region);
        snprintf(auth->userpwd, sizeof auth->userpwd, "%s:%s", ak, sk);
    }
    char ekey[3200];
    if (!encode_key(key, ekey, sizeof ekey)) return lpi_error(ctx, LP_ERR_VALUE, "%s: key too long", s3url);
    size_t cap = strlen(endpoint) + blen + strlen(ekey) + strlen(region) + 64;
    char *u = lp_malloc(cap);
    if (!u) return lpi_nomem(ctx);
    if (endpoint[0]) {
        size_t el = strlen(endpoint);
        while (el && endpoint[el - 1] == '/') endpoint[--el] = 0;
        if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) {
            lp_free(u);
            return lpi_error(ctx, LP_ERR_VALUE, "AWS endpoint URL '%.200s' must start with http:// or https://", endpoint);
        }
        snprintf(u, cap, "%s/%.*s/%s", endpoint, (int)blen, b, ekey);
    } else if (memchr(b, '.', blen)) {
        snprintf(u, cap, "https://s3.%s.amazonaws.com/%.*s/%s", region, (int)blen, b, ekey);
    } else {
        snprintf(u, cap, "https://%.*s.s3.%s.amazonaws.com/%s", (int)blen, b, region, ekey);
    }
    *http_url = u;
    return LP_OK;
}

lp_status lpi_s3_src_open(lp_ctx *ctx, const char *url, lpi_src **out) {
    *out = NULL;
    char *http;
    lpi_s3_auth auth;
    lp_status st = lpi_s3_resolve(ctx, url, &http, &auth);
    if (st) return st;
    st = lpi_remote_src_open(ctx, http, url, &auth, out);
    lp_free(http);
    return st;
}

/* ---- writing ---- */

typedef struct s3sink {
    lpi_sink base;
    char *http;               /* the object's request URL */
    lpi_s3_auth auth;
    char *buf;                /* the part being collected */
    size_t len, cap;
    char upload_id[512];      /* "" until a multipart upload is started */
    int nparts;
    char (*etags)[96];        /* per part */
} s3sink;

static lp_status s3_req(lp_ctx *ctx, s3sink *k, const char *method, const char *query, const char *body, size_t n,
                        lpi_hreq *r) {
    size_t cap = strlen(k->http) + (query ? strlen(query) : 0) + 2;
    char *u = lp_malloc(cap);
    if (!u) return lpi_nomem(ctx);
    snprintf(u, cap, "%s%s%s", k->http, query ? "?" : "", query ? query : "");
    memset(r, 0, sizeof *r);
    r->method = method;
    r->url = u;
    r->name = k->base.name;
    r->auth = &k->auth;
    r->body = body ? body : "";
    r->body_len = n;
    r->want_body_on_error = true;
    if (!strcmp(method, "POST")) { r->grow = true; r->max = 1 << 20; }
    lp_status st = lpi_hreq_run(ctx, r);
    lp_free(u);
    /* S3 may answer 200 and still report an error in the body (CompleteMultipartUpload) */
    if (!st && strstr(r->errbuf, "<Error>")) {
        char m[300];
        const char *p = strstr(r->errbuf, "<Message>");
        snprintf(m, sizeof m, "%.299s", p ? p + 9 : r->errbuf);
        char *e = strstr(m, "</Message>");
        if (e) *e = 0;
        st = lpi_error(ctx, LP_ERR_IO, "%s: %s failed: %s", k->base.name, method, m);
    }
    return st;
}

static bool xml_value(const char *xml, const char *tag, char *out, size_t cap) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = xml ? strstr(xml, open) : NULL;
    if (!a) return false;
    a += strlen(open);
    const char *e = strstr(a, close);
    if (!e || (size_t)(e - a) >= cap) return false;
    memcpy(out, a, (size_t)(e - a));
    out[e - a] = 0;
    return true;
}

static lp_status flush_part(lp_ctx *ctx, s3sink *k) {
    lpi_hreq r;
    lp_status st;
    if (!k->upload_id[0]) {
        if ((st = s3_req(ctx, k, "POST", "uploads=", "", 0, &r))) { lp_free(r.gbuf); return st; }
        char *xml = lp_malloc(r.glen + 1);
        if (!xml) { lp_free(r.gbuf); return lpi_nomem(ctx); }
        memcpy(xml, r.gbuf ? r.gbuf : "", r.glen);
        xml[r.glen] = 0;
        lp_free(r.gbuf);
        bool ok = xml_value(xml, "UploadId", k->upload_id, sizeof k->upload_id);
        lp_free(xml);
        if (!ok) return lpi_error(ctx, LP_ERR_IO, "%s: the server did not start a multipart upload", k->base.name);
        for (char *p = k->upload_id; *p; p++) /* it goes into a query string */
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                  *p == '_' || *p == '.' || *p == '~'))
                return lpi_error(ctx, LP_ERR_IO, "%s: unexpected upload id from the server", k->base.name);
    }
    if (!k->etags && !(k->etags = lp_calloc(MAX_PARTS, sizeof *k->etags))) return lpi_nomem(ctx);
    if (k->nparts == MAX_PARTS) return lpi_error(ctx, LP_ERR_LIMIT, "%s: more than %d parts", k->base.name, MAX_PARTS);
    char q[700];
    snprintf(q, sizeof q, "partNumber=%d&uploadId=%s", k->nparts + 1, k->upload_id);
    if ((st = s3_req(ctx, k, "PUT", q, k->buf, k->len, &r))) return st;
    if (!r.etag[0]) return lpi_error(ctx, LP_ERR_IO, "%s: part %d got no ETag", k->base.name, k->nparts + 1);
    snprintf(k->etags[k->nparts++], 96, "%s", r.etag);
    k->len = 0;
    return LP_OK;
}

static lp_status s3k_write(lp_ctx *ctx, lpi_sink *sk, const void *data, size_t n) {
    s3sink *k = (s3sink *)sk;
    const char *p = data;
    /* the buffer grows to one part: small objects (Zarr chunks, metadata) stay small */
    if (k->cap < PART_BYTES && k->len + n > k->cap) {
        size_t c = k->cap ? k->cap : 65536;
        while (c < k->len + n && c < PART_BYTES) c *= 2;
        if (c > PART_BYTES) c = PART_BYTES;
        char *b = lp_realloc(k->buf, c);
        if (!b) return lpi_nomem(ctx);
        k->buf = b;
        k->cap = c;
    }
    while (n) {
        size_t c = PART_BYTES - k->len < n ? PART_BYTES - k->len : n;
        memcpy(k->buf + k->len, p, c);
        k->len += c;
        p += c;
        n -= c;
        if (k->len == PART_BYTES && n) { /* the last part may be anything; flush only when more follows */
            lp_status st = flush_part(ctx, k);
            if (st) return st;
        }
    }
    return LP_OK;
}

static void s3_abort_upload(s3sink *k) {
    if (!k->upload_id[0]) return;
    lp_ctx *c;
    if (lp_ctx_create(&c) != LP_OK) return;
    char q[600];
    snprintf(q, sizeof q, "uploadId=%s", k->upload_id);
    lpi_hreq r;
    s3_req(c, k, "DELETE", q, NULL, 0, &r);
    lp_ctx_destroy(c);
    k->upload_id[0] = 0;
}

static void s3k_free(s3sink *k) {
    lp_free(k->http);
    lp_free(k->buf);
    lp_free(k->etags);
}

static lp_status s3k_commit(lp_ctx *ctx, lpi_sink *sk) {
    s3sink *k = (s3sink *)sk;
    lpi_hreq r;
    lp_status st;
    if (!k->upload_id[0]) {
        st = s3_req(ctx, k, "PUT", NULL, k->buf, k->len, &r);
    } else if ((st = flush_part(ctx, k)) == LP_OK) {
        size_t cap = 128 + (size_t)k->nparts * 160;
        char *xml = lp_malloc(cap);
        if (!xml) st = lpi_nomem(ctx);
        else {
            size_t j = (size_t)snprintf(xml, cap, "<CompleteMultipartUpload>");
            for (int i = 0; i < k->nparts; i++)
                j += (size_t)snprintf(xml + j, cap - j, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                      k->etags[i]);
            j += (size_t)snprintf(xml + j, cap - j, "</CompleteMultipartUpload>");
            char q[600];
            snprintf(q, sizeof q, "uploadId=%s", k->upload_id);
            st = s3_req(ctx, k, "POST", q, xml, j, &r);
            lp_free(r.gbuf);
            lp_free(xml);
            if (!st) k->upload_id[0] = 0;
        }
    }
    if (st) s3_abort_upload(k);
    s3k_free(k);
    return st;
}

static void s3k_abort(lpi_sink *sk) {
    s3sink *k = (s3sink *)sk;
    s3_abort_upload(k);
    s3k_free(k);
}

static const lpi_sink_ops s3_sink_ops = {s3k_write, s3k_commit, s3k_abort};

lp_status lpi_s3_sink_open(lp_ctx *ctx, const char *url, lpi_sink **out) {
    *out = NULL;
    s3sink *k = lp_calloc(1, sizeof *k);
    if (!k) return lpi_nomem(ctx);
    lp_status st = lpi_s3_resolve(ctx, url, &k->http, &k->auth);
    if (st) { lp_free(k); return st; }
    k->base.name = lp_strdup(url);
    if (!k->base.name) {
        s3k_free(k);
        lp_free(k->base.name);
        lp_free(k);
        return lpi_nomem(ctx);
    }
    k->base.ops = &s3_sink_ops;
    *out = &k->base;
    return LP_OK;
}
