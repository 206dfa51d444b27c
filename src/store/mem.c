/* mem:// — chunks in an in-process hash map. Stored data is an immutable lp_buffer: get hands
 * out a new reference to it (no copy), put swaps the entry under the write lock, so a reader
 * holding the old buffer keeps valid data. mem://NAME maps are shared process-wide by name. */
#include "store/internal.h"

#include <inttypes.h>
#include <string.h>
#include <xxhash.h>

typedef struct mem_entry {
    struct mem_entry *next;
    uint64_t hash;
    lpi_chunk_info info;
    lp_buffer *buf;
    char key[];
} mem_entry;

typedef struct mem_map {
    pthread_rwlock_t lock;
    mem_entry **buckets;
    size_t nbuckets;   /* power of two */
    size_t count;
    /* registry (named maps only) */
    char *name;
    int refs;
    struct mem_map *next_named;
} mem_map;

typedef struct mem_store {
    lpi_store base;
    mem_map *map;
} mem_store;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static mem_map *registry;

static mem_map *map_new(void) {
    mem_map *m = lp_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->nbuckets = 64;
    m->buckets = lp_calloc(m->nbuckets, sizeof *m->buckets);
    if (!m->buckets) { lp_free(m); return NULL; }
    pthread_rwlock_init(&m->lock, NULL);
    return m;
}

static void map_free(mem_map *m) {
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_entry *e = m->buckets[i];
        while (e) {
            mem_entry *n = e->next;
            lp_buffer_release(e->buf);
            lp_free(e);
            e = n;
        }
    }
    pthread_rwlock_destroy(&m->lock);
    lp_free(m->buckets);
    lp_free(m->name);
    lp_free(m);
}

static uint64_t key_hash(const char *key) { return XXH3_64bits(key, strlen(key)); }

/* The slot pointing at the entry for key (or at the NULL ending its chain). Lock held. */
static mem_entry **find_slot(mem_map *m, const char *key, uint64_t h) {
    mem_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) break;
    return pp;
}

/* Double the table when it gets loaded; on allocation failure keep the longer chains. */
static void maybe_grow(mem_map *m) {
    if (m->count * 4 < m->nbuckets * 3) return;
    size_t nb = m->nbuckets * 2;
    mem_entry **b = lp_calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_entry *e = m->buckets[i];
        while (e) {
            mem_entry *n = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = n;
        }
    }
    lp_free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

static lp_status mem_put(lp_ctx *ctx, lpi_store *s, const char *key, const lpi_chunk_info *info,
                         const uint8_t *hdr, const void *data) {
    mem_map *m = ((mem_store *)s)->map;
    /* Everything that can fail happens before the map is touched: a failed put stores nothing. */
    lp_buffer *buf = lpi_buffer_new(info->dtype, info->ndim, info->shape);
    if (!buf) return lpi_nomem(ctx);
    if (info->nbytes) memcpy(buf->data, data, info->nbytes);
    size_t klen = strlen(key);
    mem_entry *ne = lp_malloc(sizeof *ne + klen + 1);
    if (!ne) { lp_buffer_release(buf); return lpi_nomem(ctx); }
    ne->hash = key_hash(key);
    ne->info = *info;
    ne->buf = buf;
    memcpy(ne->key, key, klen + 1);

    lp_buffer *old = NULL;
    pthread_rwlock_wrlock(&m->lock);
    mem_entry **pp = find_slot(m, key, ne->hash);
    if (*pp) {
        mem_entry *e = *pp;
        old = e->buf;
        e->buf = buf;
        e->info = *info;
        ne->buf = NULL;
    } else {
        ne->next = NULL;
        *pp = ne;
        m->count++;
        maybe_grow(m);
        ne = NULL;
    }
    pthread_rwlock_unlock(&m->lock);
    lp_free(ne);
    lp_buffer_release(old); /* outside the lock: freeing a GiB takes a while */
    return LP_OK;
}

static lp_status not_found(lp_ctx *ctx, const char *key) {
    return lpi_error(ctx, LP_ERR_NOTFOUND, "chunk %s: not found", key);
}

static lp_status mem_get(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *info,
                         lp_buffer **out) {
    mem_map *m = ((mem_store *)s)->map;
    pthread_rwlock_rdlock(&m->lock);
    mem_entry *e = *find_slot(m, key, key_hash(key));
    if (e) {
        *info = e->info;
        lp_buffer_retain(e->buf);
        *out = e->buf;
    }
    pthread_rwlock_unlock(&m->lock);
    if (!e) return not_found(ctx, key);
    if (info->nbytes > s->max_chunk) {
        lp_buffer_release(*out);
        *out = NULL;
        return lpi_error(ctx, LP_ERR_LIMIT,
                         "chunk %s: %" PRIu64 " data bytes exceed the store's limit of %" PRIu64,
                         key, info->nbytes, s->max_chunk);
    }
    return LP_OK;
}

static lp_status mem_get_range(lp_ctx *ctx, lpi_store *s, const char *key, uint64_t off, size_t n,
                               void *dst) {
    mem_map *m = ((mem_store *)s)->map;
    lp_buffer *buf = NULL;
    pthread_rwlock_rdlock(&m->lock);
    mem_entry *e = *find_slot(m, key, key_hash(key));
    if (e) { buf = e->buf; lp_buffer_retain(buf); }
    pthread_rwlock_unlock(&m->lock);
    if (!buf) return not_found(ctx, key);
    lp_status st = lpi_chunk_range_check(ctx, key, off, n, buf->nbytes);
    if (st == LP_OK && n) memcpy(dst, (const char *)buf->data + off, n);
    lp_buffer_release(buf);
    return st;
}

static lp_status mem_head(lp_ctx *ctx, lpi_store *s, const char *key, lpi_chunk_info *out) {
    mem_map *m = ((mem_store *)s)->map;
    pthread_rwlock_rdlock(&m->lock);
    mem_entry *e = *find_slot(m, key, key_hash(key));
    if (e) *out = e->info;
    pthread_rwlock_unlock(&m->lock);
    if (!e) return not_found(ctx, key);
    if (out->nbytes > s->max_chunk)
        return lpi_error(ctx, LP_ERR_LIMIT,
                         "chunk %s: %" PRIu64 " data bytes exceed the store's limit of %" PRIu64,
                         key, out->nbytes, s->max_chunk);
    return LP_OK;
}

static lp_status mem_del(lp_ctx *ctx, lpi_store *s, const char *key) {
    mem_map *m = ((mem_store *)s)->map;
    pthread_rwlock_wrlock(&m->lock);
    mem_entry **pp = find_slot(m, key, key_hash(key));
    mem_entry *e = *pp;
    if (e) { *pp = e->next; m->count--; }
    pthread_rwlock_unlock(&m->lock);
    if (!e) return not_found(ctx, key);
    lp_buffer_release(e->buf);
    lp_free(e);
    return LP_OK;
}

static lp_status mem_exists(lp_ctx *ctx, lpi_store *s, const char *key, bool *out) {
    mem_map *m = ((mem_store *)s)->map;
    pthread_rwlock_rdlock(&m->lock);
    *out = *find_slot(m, key, key_hash(key)) != NULL;
    pthread_rwlock_unlock(&m->lock);
    return LP_OK;
}

static void mem_close(lpi_store *s) {
    mem_map *m = ((mem_store *)s)->map;
    if (m->name) {
        pthread_mutex_lock(&registry_lock);
        bool last = --m->refs == 0;
        if (last) {
            mem_map **pp = &registry;
            while (*pp != m) pp = &(*pp)->next_named;
            *pp = m->next_named;
        }
        pthread_mutex_unlock(&registry_lock);
        if (last) map_free(m);
    } else {
        map_free(m);
    }
    lp_free(s);
}

static const lpi_store_vtable mem_vt = {
    .scheme = "mem",
    .put = mem_put,
    .get = mem_get,
    .get_range = mem_get_range,
    .head = mem_head,
    .del = mem_del,
    .exists = mem_exists,
    .close = mem_close,
};

lp_status lpi_store_mem_open(lp_ctx *ctx, const char *rest, lpi_store **out) {
    *out = NULL;
    if (*rest && !lpi_store_key_valid(rest, NULL))
        return lpi_error(ctx, LP_ERR_VALUE,
                         "store URL mem://%.64s: the name must be a valid chunk key", rest);
    mem_store *ms = lp_calloc(1, sizeof *ms);
    if (!ms) return lpi_nomem(ctx);
    ms->base.vt = &mem_vt;
    if (!*rest) {
        if (!(ms->map = map_new())) { lp_free(ms); return lpi_nomem(ctx); }
        *out = &ms->base;
        return LP_OK;
    }
    pthread_mutex_lock(&registry_lock);
    mem_map *m = registry;
    while (m && strcmp(m->name, rest) != 0) m = m->next_named;
    if (!m) {
        m = map_new();
        if (m && !(m->name = lp_strdup(rest))) { map_free(m); m = NULL; }
        if (m) { m->next_named = registry; registry = m; }
    }
    if (m) m->refs++;
    pthread_mutex_unlock(&registry_lock);
    if (!m) { lp_free(ms); return lpi_nomem(ctx); }
    ms->map = m;
    *out = &ms->base;
    return LP_OK;
}
