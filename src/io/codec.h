/* Byte codecs of Zarr v3 (bytes -> bytes): gzip (zlib), zstd (libzstd), blosc (libblosc) and
 * crc32c. Decoders bound their output (a corrupt or hostile chunk cannot make them allocate
 * more than `max` bytes). */
#ifndef LP_IO_CODEC_H
#define LP_IO_CODEC_H

#include "core/core.h"

#include <jansson.h>

typedef enum lpi_codec_kind { LPI_CODEC_GZIP = 0, LPI_CODEC_ZSTD, LPI_CODEC_BLOSC, LPI_CODEC_CRC32C } lpi_codec_kind;

typedef struct lpi_codec {
    lpi_codec_kind kind;
    int level;              /* gzip, zstd: level; blosc: clevel */
    bool checksum;          /* zstd: frames carry a checksum */
    char cname[16];         /* blosc compressor */
    int shuffle;            /* blosc: 0 none, 1 byte, 2 bit */
    int typesize, blocksize;
} lpi_codec;

/* Parse one codec object ({"name": ..., "configuration": {...}}); LP_ERR_FORMAT when it is not
 * a byte codec Lampy knows (the message names it). */
lp_status lpi_codec_from_json(lp_ctx *ctx, const char *where, const json_t *j, lpi_codec *out);
json_t *lpi_codec_to_json(const lpi_codec *c);

/* in[n] -> *out (lp_free), *out_n bytes; decoding produces at most max bytes. */
lp_status lpi_codec_decode(lp_ctx *ctx, const char *where, const lpi_codec *c, const void *in, size_t n, size_t max,
                           void **out, size_t *out_n);
lp_status lpi_codec_encode(lp_ctx *ctx, const char *where, const lpi_codec *c, const void *in, size_t n, void **out,
                           size_t *out_n);

uint32_t lpi_crc32c(const void *data, size_t n);

#endif
