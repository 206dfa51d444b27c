/* Order-preserving unsigned keys of array elements, shared by sorting and searching: integers
 * with the sign bit flipped, floats with the IEEE trick (negatives inverted), NaN after +inf
 * (every NaN the same key). */
#ifndef LP_KERNELS_KEYS_H
#define LP_KERNELS_KEYS_H

#include "core/core.h"

#include <string.h>

#define SIGN64 0x8000000000000000ULL

/* canon: -0.0 equals 0.0 (argsort); else -0.0 sorts just before 0.0 (sort: values come back
 * from keys). NaN: the largest key. */
static inline uint64_t key_of(lp_dtype dt, const char *p, bool canon) {
    switch (dt) {
    case LP_BOOL: case LP_UINT8: return *(const uint8_t *)p;
    case LP_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case LP_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case LP_UINT64: { uint64_t v; memcpy(&v, p, 8); return v; }
    case LP_INT8: return (uint64_t)(int64_t) * (const int8_t *)p ^ SIGN64;
    case LP_INT16: { int16_t v; memcpy(&v, p, 2); return (uint64_t)(int64_t)v ^ SIGN64; }
    case LP_INT32: { int32_t v; memcpy(&v, p, 4); return (uint64_t)((uint32_t)v ^ 0x80000000u); }
    case LP_INT64: { uint64_t v; memcpy(&v, p, 8); return v ^ SIGN64; }
    case LP_FLOAT16: case LP_FLOAT32: {
        /* float16 by its float value: exact, so the float32 key orders it */
        float f;
        uint32_t b;
        if (dt == LP_FLOAT16) { uint16_t h; memcpy(&h, p, 2); f = lpi_h2f(h); }
        else memcpy(&f, p, 4);
        if (f != f) return UINT32_MAX;
        if (canon && f == 0) f = 0;
        memcpy(&b, &f, 4);
        return (b & 0x80000000u) ? (uint32_t)~b : (b | 0x80000000u);
    }
    default: {
        double f;
        uint64_t b;
        memcpy(&f, p, 8);
        if (f != f) return UINT64_MAX;
        if (canon && f == 0) f = 0;
        memcpy(&b, &f, 8);
        return (b & SIGN64) ? ~b : (b | SIGN64);
    }
    }
}

/* A complex element's key in NumPy's order ([R + Rj, R + nanj, nan + Rj, nan + nanj], each
 * class by its non-NaN parts): compared lexicographically as (class, k[1], k[2]). key_of's
 * single word cannot hold it. */
typedef struct { uint64_t w[3]; } lpi_ckey;

static inline lpi_ckey ckey_of(lp_dtype dt, const char *p, bool canon) {
    const bool single = dt == LP_COMPLEX64;
    const lp_dtype part = single ? LP_FLOAT32 : LP_FLOAT64;
    const uint64_t kr = key_of(part, p, canon), ki = key_of(part, p + (single ? 4 : 8), canon);
    const uint64_t nan = single ? UINT32_MAX : UINT64_MAX; /* key_of's NaN key, no number's */
    const bool nr = kr == nan, ni = ki == nan;
    lpi_ckey k = {{(uint64_t)(2 * nr + ni), 0, 0}};
    if (!nr) { k.w[1] = kr; k.w[2] = ni ? 0 : ki; }
    else if (!ni) k.w[1] = ki;
    return k;
}

/* -1, 0, 1 as a is before, equal to, after b */
static inline int ckey_cmp(lpi_ckey a, lpi_ckey b) {
    for (int i = 0; i < 3; i++)
        if (a.w[i] != b.w[i]) return a.w[i] < b.w[i] ? -1 : 1;
    return 0;
}

#endif
