#include "core/hmap.h"
#include "core/core.h"

#include <string.h>

bool lpi_hmap_init(lpi_hmap *m, size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    m->keys = lp_malloc(cap * sizeof *m->keys);
    m->vals = lp_malloc(cap * sizeof *m->vals);
    m->used = lp_calloc(cap, 1);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->vals || !m->used) { lpi_hmap_free(m); return false; }
    return true;
}

void lpi_hmap_free(lpi_hmap *m) {
    lp_free(m->keys); lp_free(m->vals); lp_free(m->used);
    memset(m, 0, sizeof *m);
}

static bool grow(lpi_hmap *m) {
    lpi_hmap n;
    if (!lpi_hmap_init(&n, m->cap)) return false;
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) lpi_hmap_put(&n, m->keys[i], m->vals[i]);
    lpi_hmap_free(m);
    *m = n;
    return true;
}

bool lpi_hmap_put(lpi_hmap *m, uint64_t key, int64_t val) {
    if ((m->n + 1) * 2 > m->cap && !grow(m)) return false;
    size_t i = lpi_mix64(key) & (m->cap - 1);
    while (m->used[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->used[i]) { m->used[i] = 1; m->keys[i] = key; m->n++; }
    m->vals[i] = val;
    return true;
}

bool lpi_hmap_get(const lpi_hmap *m, uint64_t key, int64_t *val) {
    if (!m->cap) return false;
    size_t i = lpi_mix64(key) & (m->cap - 1);
    while (m->used[i]) {
        if (m->keys[i] == key) { *val = m->vals[i]; return true; }
        i = (i + 1) & (m->cap - 1);
    }
    return false;
}
