/* lampy-bench-rt: round trips to a worker's POST /run/<name>, the way the lambda executor makes
 * them (libcurl, one keep-alive connection, no 100-continue). Prints one JSON line:
 *   {"requests": N, "median_us": ..., "p10_us": ..., "p90_us": ..., "p99_us": ..., "status": 200}
 *
 * usage: lampy-bench-rt URL BODY_FILE [N]    (URL = http://127.0.0.1:PORT/run/lampy)
 * The body is sent as is; an empty batch measures the protocol, a batch with a tiny task adds
 * the worker's store write. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t sink(char *p, size_t sz, size_t n, void *arg) {
    (void)p;
    (void)arg;
    return sz * n;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL BODY_FILE [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 2000;
    if (n < 10) n = 10;
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    static char body[1 << 20];
    size_t blen = fread(body, 1, sizeof body - 1, f);
    fclose(f);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, argv[1]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    double *t = malloc((size_t)n * sizeof *t);
    long code = 0;
    int warm = n / 10;
    for (int i = -warm; i < n; i++) {
        double t0 = now_us();
        CURLcode rc = curl_easy_perform(h);
        double dt = now_us() - t0;
        if (rc != CURLE_OK) { fprintf(stderr, "request failed: %s\n", curl_easy_strerror(rc)); return 1; }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (i >= 0) t[i] = dt;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    printf("{\"requests\": %d, \"median_us\": %.1f, \"p10_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"status\": %ld}\n",
           n, t[n / 2], t[n / 10], t[n * 9 / 10], t[n * 99 / 100], code);
    free(t);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return 0;
}
