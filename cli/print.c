/* NumPy-style printing of a computed buffer: the text of print(np_array) in NumPy 2.
 *
 * This follows numpy/_core/arrayprint.py with its defaults (precision=8, floatmode='maxprec',
 * linewidth=75, threshold=1000, edgeitems=3, sign='-'): the element formatter is chosen from the
 * elements that will be shown (the corners when summarising), then _formatArray's recursion
 * lays the elements out with the same wrapping rules. Floats use the shortest digits that
 * round-trip in their own precision (Dragon4's "unique" mode), which we get from printf +
 * strtod/strtof; digits cut by the precision are rounded from the exact binary value, which
 * is what glibc's printf does and what Dragon4 does.
 */
#include "cli.h"
#include "core/core.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PR_PRECISION 8
#define PR_LINEWIDTH 75
#define PR_THRESHOLD 1000
#define PR_EDGEITEMS 3

/* ---- a growable string ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_reserve(sbuf *s, size_t extra) {
    if (s->oom) return;
    if (s->len + extra + 1 <= s->cap) return;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->len + extra + 1) cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) { s->oom = true; return; }
    s->p = p;
    s->cap = cap;
}

static void sb_putn(sbuf *s, const char *str, size_t n) {
    sb_reserve(s, n);
    if (s->oom) return;
    memcpy(s->p + s->len, str, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_puts(sbuf *s, const char *str) { sb_putn(s, str, strlen(str)); }

static void sb_spaces(sbuf *s, long n) {
    if (n <= 0) return;
    sb_reserve(s, (size_t)n);
    if (s->oom) return;
    memset(s->p + s->len, ' ', (size_t)n);
    s->len += (size_t)n;
    s->p[s->len] = '\0';
}

static void sb_free(sbuf *s) { free(s->p); s->p = NULL; s->len = s->cap = 0; }

/* ---- digits of floats ---- */

/* The decimal digits of |x| (x finite) and the exponent of the first digit: |x| = d.ddd * 10^e.
 * With ndig_max == 0 the digits are the shortest that read back as the same float32/float64;
 * otherwise |x| is rounded (exactly, by printf) to ndig_max significant digits. Trailing zeros
 * are removed. Returns the number of digits (at least 1). */
/* f32: 0 float64, 1 float32, 2 float16 (the shortest digits that give the value back) */
static int float_digits(double x, int f32, int ndig_max, char *dig, int *e10) {
    char buf[64];
    double ax = fabs(x);
    if (ax == 0) { dig[0] = '0'; dig[1] = '\0'; *e10 = 0; return 1; }
    int p;
    if (ndig_max > 0) {
        p = ndig_max;
        snprintf(buf, sizeof buf, "%.*e", p - 1, ax);
    } else {
        int pmax = f32 == 2 ? 5 : f32 ? 9 : 17;
        for (p = 1; p <= pmax; p++) {
            snprintf(buf, sizeof buf, "%.*e", p - 1, ax);
            if (f32 == 2 ? lpi_d2h(strtod(buf, NULL)) == lpi_d2h(ax)
                : f32 ? strtof(buf, NULL) == (float)ax : strtod(buf, NULL) == ax) break;
        }
        if (p > pmax) p = pmax;
    }
    int n = 0;
    const char *c = buf;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') dig[n++] = *c;
    *e10 = (*c == 'e') ? atoi(c + 1) : 0;
    while (n > 1 && dig[n - 1] == '0') n--;
    dig[n] = '\0';
    return n;
}

/* Positional text from digits: "-12.5", "0.001", "100."; min_frac zeros after the point. */
static void digits_positional(bool neg, const char *dig, int ndig, int e10, int min_frac,
                              char *out, size_t cap) {
    sbuf s = {0};
    char tmp[2] = {0, 0};
    if (neg) sb_puts(&s, "-");
    int nfrac = 0;
    if (e10 >= 0) {
        for (int i = 0; i <= e10; i++) { tmp[0] = i < ndig ? dig[i] : '0'; sb_puts(&s, tmp); }
        sb_puts(&s, ".");
        for (int i = e10 + 1; i < ndig; i++) { tmp[0] = dig[i]; sb_puts(&s, tmp); nfrac++; }
    } else {
        sb_puts(&s, "0.");
        for (int i = 0; i < -e10 - 1; i++) { sb_puts(&s, "0"); nfrac++; }
        for (int i = 0; i < ndig; i++) { tmp[0] = dig[i]; sb_puts(&s, tmp); nfrac++; }
    }
    for (; nfrac < min_frac; nfrac++) sb_puts(&s, "0");
    if (s.oom || !s.p) { snprintf(out, cap, "%s", "?"); sb_free(&s); return; }
    snprintf(out, cap, "%s", s.p);
    sb_free(&s);
}

/* dragon4_positional(x, precision=8, unique=True, fractional=True, trim='.'). */
static void fmt_positional(double x, int f32, char *out, size_t cap) {
    char dig[40];
    int e10;
    int ndig = float_digits(x, f32, 0, dig, &e10);
    int nfrac = ndig - 1 - e10;
    if (nfrac > PR_PRECISION) {
        /* more digits than the precision: round the exact value */
        snprintf(out, cap, "%.*f", PR_PRECISION, x);
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '0') out[--n] = '\0';
        return;
    }
    digits_positional(signbit(x) != 0, dig, ndig, e10, 0, out, cap);
}

/* dragon4_scientific(x, precision=8, unique=True, trim='.') split into its parts: the number
 * of fractional mantissa digits and the length of the exponent digits. */
static void sci_sizes(double x, int f32, int *frac_len, int *exp_digits) {
    char dig[40];
    int e10;
    int ndig = float_digits(x, f32, 0, dig, &e10);
    if (ndig - 1 > PR_PRECISION) ndig = float_digits(x, f32, PR_PRECISION + 1, dig, &e10);
    *frac_len = ndig - 1;
    int ae = abs(e10), nd = 1;
    while (ae >= 10) { ae /= 10; nd++; }
    *exp_digits = nd < 2 ? 2 : nd;
}

/* Scientific text with exactly `prec` fractional digits (the exact value rounded, as Dragon4
 * does with min_digits) and at least `exp_digits` exponent digits: "1.50e-05", "1.e+00". */
static void fmt_scientific(double x, int prec, int exp_digits, bool keep_point, char *out,
                           size_t cap) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", prec, x);
    char *e = strchr(buf, 'e');
    if (!e) { snprintf(out, cap, "%s", buf); return; }
    *e = '\0';
    int ex = atoi(e + 1);
    snprintf(out, cap, "%s%se%c%0*d", buf, (prec == 0 && keep_point) ? "." : "",
             ex < 0 ? '-' : '+', exp_digits, abs(ex));
}

/* ---- the element formatter (FloatingFormat / IntegerFormat / BoolFormat) ---- */

/* A complex array is ComplexFloatingFormat: a FloatingFormat of the real parts (sign '-') and
 * one of the imaginary parts (sign '+': "+2.", "-0.", "+inf"), each with its own paddings;
 * an element is the two side by side, the 'j' before the imaginary part's right padding. */
typedef struct fmt {
    lp_dtype dt;        /* of the values formatted: a complex array's parts are real */
    int part;           /* -1: not complex; 0/1: the real/imaginary parts */
    bool plus;          /* sign '+' */
    int int_width;
    bool exp_format;
    int pad_left, pad_right, precision, exp_size;
    struct fmt *imag;   /* a complex array's imaginary-part format (f itself the real one) */
} fmt;

static double elem_f_part(const lp_buffer *b, int64_t i, int part) {
    lp_dtype dt = lp_buffer_dtype(b);
    const char *p = (const char *)lp_buffer_data(b) + i * (int64_t)lp_dtype_size(dt);
    if (part < 0) return lpi_load_f64(p, dt);
    double c[2];
    lpi_load_c(p, dt, c);
    return c[part];
}

static double elem_f(const lp_buffer *b, int64_t i) { return elem_f_part(b, i, -1); }

static int64_t elem_i(const lp_buffer *b, int64_t i) {
    lp_dtype dt = lp_buffer_dtype(b);
    return lpi_load_i64((const char *)lp_buffer_data(b) + i * (int64_t)lp_dtype_size(dt), dt);
}

/* an integer element as NumPy prints it (uint64 past INT64_MAX too) */
static int int_text(const lp_buffer *b, int64_t i, char *s, size_t cap) {
    int64_t v = elem_i(b, i);
    if (lp_buffer_dtype(b) == LP_UINT64) return snprintf(s, cap, "%" PRIu64, (uint64_t)v);
    return snprintf(s, cap, "%" PRId64, v);
}

static bool elem_b(const lp_buffer *b, int64_t i) { return ((const uint8_t *)lp_buffer_data(b))[i] != 0; }

static void float_text(double v, int f32, char *s, size_t cap);
static void complex_text(const lp_buffer *b, int64_t i, char *s, size_t cap);

/* part: -1 the values themselves, 0/1 a complex array's real/imaginary parts (plus: sign '+') */
static void fmt_init(fmt *f, const lp_buffer *b, const int64_t *idx, int64_t n, int part, bool plus) {
    memset(f, 0, sizeof *f);
    f->dt = lp_buffer_dtype(b);
    f->part = part;
    f->plus = plus;
    if (part >= 0) f->dt = f->dt == LP_COMPLEX64 ? LP_FLOAT32 : LP_FLOAT64;
    if (lpi_dtype_is_int(f->dt)) {
        char t[32];
        for (int64_t k = 0; k < n; k++) {
            int w = int_text(b, idx[k], t, sizeof t);
            if (w > f->int_width) f->int_width = w;
        }
        return;
    }
    if (f->dt != LP_FLOAT16 && f->dt != LP_FLOAT32 && f->dt != LP_FLOAT64) return;
    int f32 = f->dt == LP_FLOAT32 ? 1 : f->dt == LP_FLOAT16 ? 2 : 0;
    int64_t nfinite = 0;
    double mx = 0, mn = INFINITY;
    bool have_nz = false, neginf = false;
    for (int64_t k = 0; k < n; k++) {
        double v = elem_f_part(b, idx[k], part);
        if (!isfinite(v)) {
            if (isinf(v) && v < 0) neginf = true;
            continue;
        }
        nfinite++;
        if (v != 0) {
            double a = fabs(v);
            have_nz = true;
            if (a > mx) mx = a;
            if (a < mn) mn = a;
        }
    }
    if (have_nz) {
        double cutoff = f32 == 2 ? 1e3 : f32 ? 1e6 : 1e8; /* 10**min(8, finfo(dtype).precision) */
        if (mx >= cutoff || mn < 0.0001 || mx / mn > 1000.) f->exp_format = true;
    }
    char s[512];
    if (nfinite == 0) {
        f->pad_left = f->pad_right = 0;
        f->exp_size = -1;
    } else if (f->exp_format) {
        int prec = 0, esz = 0, pl = 0;
        for (int64_t k = 0; k < n; k++) {
            double v = elem_f_part(b, idx[k], part);
            if (!isfinite(v)) continue;
            int fl, ed;
            sci_sizes(v, f32, &fl, &ed);
            if (fl > prec) prec = fl;
            if (ed > esz) esz = ed;
            int il = signbit(v) || plus ? 2 : 1;
            if (il > pl) pl = il;
        }
        f->precision = prec;
        f->exp_size = esz;
        f->pad_left = pl;
        f->pad_right = esz + 2 + prec;
    } else {
        int pl = 0, pr = 0;
        for (int64_t k = 0; k < n; k++) {
            double v = elem_f_part(b, idx[k], part);
            if (!isfinite(v)) continue;
            fmt_positional(v, f32, s, sizeof s);
            const char *dot = strchr(s, '.');
            int il = (dot ? (int)(dot - s) : (int)strlen(s)) + (plus && !signbit(v));
            int fl = dot ? (int)strlen(dot + 1) : 0;
            if (il > pl) pl = il;
            if (fl > pr) pr = fl;
        }
        f->pad_left = pl;
        f->pad_right = pr;
        f->exp_size = -1;
    }
    if (nfinite != n) {
        int offset = f->pad_right + 1;
        int need_nan = 3 - offset, need_inf = 3 + (neginf || plus ? 1 : 0) - offset;
        if (need_nan > f->pad_left) f->pad_left = need_nan;
        if (need_inf > f->pad_left) f->pad_left = need_inf;
    }
}

static void fmt_elem(const fmt *f, const lp_buffer *b, int64_t i, sbuf *out) {
    char s[512];
    if (f->imag) { /* the real part, then the imaginary one with its 'j' before its right padding */
        fmt re = *f;
        re.imag = NULL;
        fmt_elem(&re, b, i, out);
        sbuf t = {0};
        fmt_elem(f->imag, b, i, &t);
        size_t n = t.len;
        while (n > 0 && t.p[n - 1] == ' ') n--;
        sb_putn(out, t.p ? t.p : "", n);
        sb_puts(out, "j");
        if (t.p) sb_putn(out, t.p + n, t.len - n);
        if (t.oom) out->oom = true;
        sb_free(&t);
        return;
    }
    switch (f->dt) {
    case LP_BOOL:
        sb_puts(out, elem_b(b, i) ? " True" : "False");
        return;
    case LP_INT8: case LP_INT16: case LP_INT32: case LP_INT64:
    case LP_UINT8: case LP_UINT16: case LP_UINT32: case LP_UINT64: {
        int n = int_text(b, i, s, sizeof s);
        sb_spaces(out, f->int_width - n);
        sb_puts(out, s);
        return;
    }
    default: break;
    }
    double v = elem_f_part(b, i, f->part);
    const char *plus = f->plus && !signbit(v) ? "+" : "";
    if (!isfinite(v)) {
        char r[8];
        snprintf(r, sizeof r, "%s%s", isnan(v) ? (f->plus ? "+" : "") : v < 0 ? "-" : plus, isnan(v) ? "nan" : "inf");
        sb_spaces(out, (long)f->pad_left + f->pad_right + 1 - (long)strlen(r));
        sb_puts(out, r);
        return;
    }
    if (f->exp_format) {
        s[0] = '\0';
        strcpy(s, plus);
        fmt_scientific(v, f->precision, f->exp_size, true, s + strlen(plus), sizeof s - 1);
        const char *dot = strchr(s, '.');
        sb_spaces(out, f->pad_left - (dot ? (int)(dot - s) : 0));
        sb_puts(out, s);
        return;
    }
    strcpy(s, plus);
    fmt_positional(v, f->dt == LP_FLOAT32 ? 1 : f->dt == LP_FLOAT16 ? 2 : 0, s + strlen(plus), sizeof s - 1);
    const char *dot = strchr(s, '.');
    int il = dot ? (int)(dot - s) : (int)strlen(s);
    int fl = dot ? (int)strlen(dot + 1) : 0;
    sb_spaces(out, f->pad_left - il);
    sb_puts(out, s);
    sb_spaces(out, f->pad_right - fl);
}

/* str() of a NumPy scalar (what print() shows for a 0-d array). */
static void fmt_scalar(const lp_buffer *b, sbuf *out) {
    char s[512];
    lp_dtype dt = lp_buffer_dtype(b);
    if (dt == LP_BOOL) { sb_puts(out, elem_b(b, 0) ? "True" : "False"); return; }
    if (lpi_dtype_is_int(dt)) {
        int_text(b, 0, s, sizeof s);
        sb_puts(out, s);
        return;
    }
    if (dt == LP_COMPLEX64 || dt == LP_COMPLEX128) { complex_text(b, 0, s, sizeof s); sb_puts(out, s); return; }
    float_text(elem_f(b, 0), dt == LP_FLOAT32 ? 1 : dt == LP_FLOAT16 ? 2 : 0, s, sizeof s);
    sb_puts(out, s);
}

/* A float as str() of a NumPy scalar shows it (f32: 0 float64, 1 float32, 2 float16). */
static void float_text(double v, int f32, char *s, size_t cap) {
    if (isnan(v)) { snprintf(s, cap, "nan"); return; }
    if (isinf(v)) { snprintf(s, cap, v < 0 ? "-inf" : "inf"); return; }
    char dig[40];
    int e10;
    int ndig = float_digits(v, f32, 0, dig, &e10);
    long double a = fabsl((long double)v);
    if (a == 0 || (a >= 1e-4L && a < (f32 == 2 ? 1e3L : f32 ? 1e6L : 1e16L))) {
        digits_positional(signbit(v) != 0, dig, ndig, e10, 1, s, cap);
    } else {
        /* Python-style repr: mantissa without trailing zeros, no bare point: 1e+16, 1.5e-05 */
        char m[48];
        size_t k = 0;
        if (signbit(v)) m[k++] = '-';
        m[k++] = dig[0];
        if (ndig > 1) {
            m[k++] = '.';
            for (int i = 1; i < ndig; i++) m[k++] = dig[i];
        }
        m[k] = '\0';
        snprintf(s, cap, "%se%c%02d", m, e10 < 0 ? '-' : '+', abs(e10));
    }
}

/* str() of a NumPy complex scalar (Python's complex repr): each part as its float's str
 * without a trailing ".0", "(1.5-2j)", "(nan+infj)"; a +0 real part is left out: "2j". */
static void complex_text(const lp_buffer *b, int64_t i, char *s, size_t cap) {
    lp_dtype dt = lp_buffer_dtype(b);
    double c[2];
    lpi_load_c((const char *)lp_buffer_data(b) + i * (int64_t)lp_dtype_size(dt), dt, c);
    char part[2][64];
    for (int k = 0; k < 2; k++) {
        float_text(c[k], dt == LP_COMPLEX64, part[k], sizeof part[k]);
        size_t n = strlen(part[k]);
        if (n > 2 && !strcmp(part[k] + n - 2, ".0")) part[k][n - 2] = '\0';
    }
    if (c[0] == 0 && !signbit(c[0])) snprintf(s, cap, "%sj", part[1]);
    else snprintf(s, cap, "(%s%s%sj)", part[0], part[1][0] == '-' ? "" : "+", part[1]);
}

/* ---- layout (_formatArray) ---- */

typedef struct layout {
    const lp_buffer *b;
    const fmt *f;
    int ndim;
    const int64_t *shape;
    int64_t strides[LP_MAX_NDIM]; /* in elements */
    bool summarize;
} layout;

/* _extendLine: wrap before `word` if it would pass the width and wrapping helps. */
static void extend_line(sbuf *s, sbuf *line, const char *word, size_t wlen, long width,
                        size_t indent_len) {
    bool wrap = (long)(line->len + wlen) > width;
    if (line->len <= indent_len) wrap = false;
    if (wrap) {
        size_t n = line->len;
        while (n > 0 && line->p[n - 1] == ' ') n--;
        sb_putn(s, line->p ? line->p : "", n);
        sb_puts(s, "\n");
        line->len = 0;
        if (line->p) line->p[0] = '\0';
        sb_spaces(line, (long)indent_len);
    }
    sb_putn(line, word, wlen);
}

static void recurse(const layout *L, int axis, int64_t offset, long hang, long width, sbuf *out);

/* Element or nested block `i` of this axis (negative counts from the end) into a new string. */
static void sub_item(const layout *L, int axis, int64_t offset, int64_t i, long hang, long width,
                     sbuf *item) {
    int64_t n = L->shape[axis];
    if (i < 0) i += n;
    int64_t off = offset + i * L->strides[axis];
    if (axis + 1 == L->ndim) fmt_elem(L->f, L->b, off, item);
    else recurse(L, axis + 1, off, hang, width, item);
}

static void recurse(const layout *L, int axis, int64_t offset, long hang, long width, sbuf *out) {
    int axes_left = L->ndim - axis;
    long next_hang = hang + 1, next_width = width - 1;
    int64_t n = L->shape[axis];
    bool show_summary = L->summarize && 2 * PR_EDGEITEMS < n;
    int64_t leading = show_summary ? PR_EDGEITEMS : 0;
    int64_t trailing = show_summary ? PR_EDGEITEMS : n;
    sbuf s = {0};
    sb_spaces(&s, 0);

    if (axes_left == 1) {
        long elem_width = width - 1; /* max(len(separator.rstrip()), len(']')) */
        sbuf line = {0};
        sb_spaces(&line, hang);
        sb_puts(&line, "");
        sbuf w = {0};
        for (int64_t i = 0; i < leading; i++) {
            w.len = 0;
            sub_item(L, axis, offset, i, next_hang, next_width, &w);
            extend_line(&s, &line, w.p ? w.p : "", w.len, elem_width, (size_t)hang);
            sb_puts(&line, " ");
        }
        if (show_summary) {
            extend_line(&s, &line, "...", 3, elem_width, (size_t)hang);
            sb_puts(&line, " ");
        }
        for (int64_t i = trailing; i > 1; i--) {
            w.len = 0;
            sub_item(L, axis, offset, -i, next_hang, next_width, &w);
            extend_line(&s, &line, w.p ? w.p : "", w.len, elem_width, (size_t)hang);
            sb_puts(&line, " ");
        }
        w.len = 0;
        sub_item(L, axis, offset, -1, next_hang, next_width, &w);
        extend_line(&s, &line, w.p ? w.p : "", w.len, elem_width, (size_t)hang);
        sb_putn(&s, line.p ? line.p : "", line.len);
        if (line.oom || w.oom) s.oom = true;
        sb_free(&line);
        sb_free(&w);
    } else {
        char sep[LP_MAX_NDIM + 1];
        int nsep = axes_left - 1;
        memset(sep, '\n', (size_t)nsep);
        sep[nsep] = '\0';
        sbuf nested = {0};
        for (int64_t i = 0; i < leading; i++) {
            nested.len = 0;
            sub_item(L, axis, offset, i, next_hang, next_width, &nested);
            sb_spaces(&s, hang);
            sb_putn(&s, nested.p ? nested.p : "", nested.len);
            sb_puts(&s, sep);
        }
        if (show_summary) {
            sb_spaces(&s, hang);
            sb_puts(&s, "...");
            sb_puts(&s, sep);
        }
        for (int64_t i = trailing; i > 1; i--) {
            nested.len = 0;
            sub_item(L, axis, offset, -i, next_hang, next_width, &nested);
            sb_spaces(&s, hang);
            sb_putn(&s, nested.p ? nested.p : "", nested.len);
            sb_puts(&s, sep);
        }
        nested.len = 0;
        sub_item(L, axis, offset, -1, next_hang, next_width, &nested);
        sb_spaces(&s, hang);
        sb_putn(&s, nested.p ? nested.p : "", nested.len);
        if (nested.oom) s.oom = true;
        sb_free(&nested);
    }
    /* remove the hanging indent, and wrap in [] */
    sb_puts(out, "[");
    if (s.p && s.len >= (size_t)hang) sb_putn(out, s.p + hang, s.len - (size_t)hang);
    sb_puts(out, "]");
    if (s.oom) out->oom = true;
    sb_free(&s);
}

/* Flat indices of the elements that will be shown (_leading_trailing), in any order. */
static int64_t collect_shown(const layout *L, int axis, int64_t offset, int64_t *idx, int64_t k) {
    if (axis == L->ndim) { idx[k] = offset; return k + 1; }
    int64_t n = L->shape[axis];
    bool cut = L->summarize && n > 2 * PR_EDGEITEMS;
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == PR_EDGEITEMS) i = n - PR_EDGEITEMS;
        k = collect_shown(L, axis + 1, offset + i * L->strides[axis], idx, k);
    }
    return k;
}

char *cli_format_buffer(const lp_buffer *b) {
    sbuf out = {0};
    int ndim = lp_buffer_ndim(b);
    int64_t size = lp_buffer_size(b);
    if (ndim == 0) {
        fmt_scalar(b, &out);
    } else if (size == 0) {
        sb_puts(&out, "[]");
    } else {
        layout L = {.b = b, .ndim = ndim, .shape = lp_buffer_shape(b),
                    .summarize = size > PR_THRESHOLD};
        int64_t st = 1;
        int64_t nshown = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            L.strides[d] = st;
            st *= L.shape[d];
            int64_t n = L.shape[d];
            nshown *= (L.summarize && n > 2 * PR_EDGEITEMS) ? 2 * PR_EDGEITEMS : n;
        }
        int64_t *idx = malloc((size_t)nshown * sizeof *idx);
        if (!idx) return NULL;
        int64_t k = collect_shown(&L, 0, 0, idx, 0);
        fmt f, fi;
        const bool cplx = lpi_dtype_is_complex(lp_buffer_dtype(b));
        fmt_init(&f, b, idx, k, cplx ? 0 : -1, false);
        if (cplx) {
            fmt_init(&fi, b, idx, k, 1, true);
            f.imag = &fi;
        }
        free(idx);
        L.f = &f;
        recurse(&L, 0, 0, 1, PR_LINEWIDTH, &out);
    }
    if (out.oom || !out.p) { sb_free(&out); return NULL; }
    return out.p;
}

int cli_print_buffer(FILE *fp, const lp_buffer *b) {
    char *s = cli_format_buffer(b);
    if (!s) return -1;
    int rc = (fputs(s, fp) < 0 || fputc('\n', fp) == EOF) ? -1 : 0;
    free(s);
    return rc;
}
