/* A small open-addressing hash map from uint64 keys to int64 values (graph bookkeeping). */
#ifndef LP_HMAP_H
#define LP_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lpi_hmap {
    uint64_t *keys;
    int64_t *vals;
    uint8_t *used;
    size_t cap, n;
} lpi_hmap;

bool lpi_hmap_init(lpi_hmap *m, size_t expected);
void lpi_hmap_free(lpi_hmap *m);
/* false on allocation failure */
bool lpi_hmap_put(lpi_hmap *m, uint64_t key, int64_t val);
bool lpi_hmap_get(const lpi_hmap *m, uint64_t key, int64_t *val);

static inline uint64_t lpi_mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#endif
