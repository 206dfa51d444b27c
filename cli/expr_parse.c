/* The expression parser of `lampy eval`: tokens, then recursive descent into a syntax tree.
 *
 * Everything the parser allocates lives in one arena freed by cli_ast_free, so an error
 * anywhere simply abandons the tree. Nesting is bounded (MAX_DEPTH for the recursion of the
 * parser, MAX_HEIGHT for the tree the evaluator will recurse over) so no input can exhaust
 * the stack.
 */
#include "expr_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200   /* nested parentheses, calls, subscripts, unary and ** operators */
#define MAX_HEIGHT 2000 /* height of the syntax tree (long chains like a+a+...+a) */

/* ---- arena ---- */

typedef struct ablock {
    struct ablock *next;
    size_t used, cap;
    max_align_t data[];
} ablock;

struct cli_ast {
    ablock *blocks;
    cli_node *root;
};

static void *arena_alloc(cli_ast *A, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    ablock *b = A->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = A->blocks;
        b->used = 0;
        b->cap = cap;
        A->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void cli_ast_free(cli_ast *A) {
    if (!A) return;
    ablock *b = A->blocks;
    while (b) {
        ablock *n = b->next;
        free(b);
        b = n;
    }
    free(A);
}

const cli_node *cli_ast_root(const cli_ast *A) { return A ? A->root : NULL; }

/* ---- tokens ---- */

typedef enum { T_END, T_NAME, T_INT, T_FLOAT, T_IMAG, T_STR, T_OP } tkind;

typedef struct token {
    tkind k;
    int pos, len; /* byte offset and length in the source */
    int op;
    int64_t i;
    double f;
    const char *s; /* T_NAME, T_STR: NUL-terminated copy in the arena */
} token;

typedef struct parser {
    const char *src;
    size_t srclen;
    token *t;
    int nt, i;
    cli_ast *A;
    char *err;
    size_t errcap;
    bool failed;
    int depth;
} parser;

static int perr(parser *P, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *P, int pos, const char *fmt, ...) {
    if (P->failed) return -1;
    P->failed = true;
    if (!P->err || !P->errcap) return -1;
    int n = snprintf(P->err, P->errcap, "syntax error at column %d: ", pos + 1);
    if (n < 0 || (size_t)n >= P->errcap) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err + n, P->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(parser *P) {
    if (!P->failed && P->err && P->errcap) snprintf(P->err, P->errcap, "out of memory");
    P->failed = true;
    return -1;
}

static const struct { const char *s; int op; } multi_ops[] = {
    {"...", CLI_OP_ELLIPSIS}, {"**", CLI_OP_POW}, {"//", CLI_OP_FLOORDIV}, {"<=", CLI_OP_LE},
    {">=", CLI_OP_GE},        {"==", CLI_OP_EQ},  {"!=", CLI_OP_NE},       {"<<", CLI_OP_LSHIFT},
    {">>", CLI_OP_RSHIFT},
};

const char *cli_op_str(int op) {
    static char one[128][2];
    for (size_t k = 0; k < sizeof multi_ops / sizeof multi_ops[0]; k++)
        if (multi_ops[k].op == op) return multi_ops[k].s;
    if (op > 0 && op < 128) {
        one[op][0] = (char)op;
        return one[op];
    }
    return "?";
}

static char *arena_strndup(cli_ast *A, const char *s, size_t n) {
    char *p = arena_alloc(A, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_'; }

/* A digit run with single underscores between digits (Python's 1_000). Returns its end. */
static size_t scan_digits(const char *s, size_t i, size_t n, int (*isdig)(int), bool *bad) {
    bool any = false;
    while (i < n) {
        if (isdig((unsigned char)s[i])) { i++; any = true; continue; }
        if (s[i] == '_' && any && i + 1 < n && isdig((unsigned char)s[i + 1])) { i++; continue; }
        break;
    }
    if (i < n && s[i] == '_') *bad = true;
    return i;
}

static int is_bin(int c) { return c == '0' || c == '1'; }
static int is_oct(int c) { return c >= '0' && c <= '7'; }
static int is_dig(int c) { return isdigit(c); }
static int is_hex(int c) { return isxdigit(c); }

/* A copy of s[a..b) without underscores into buf (cap > 0). false if it does not fit. */
static bool strip_underscores(const char *s, size_t a, size_t b, char *buf, size_t cap) {
    size_t k = 0;
    for (size_t i = a; i < b; i++) {
        if (s[i] == '_') continue;
        if (k + 1 >= cap) return false;
        buf[k++] = s[i];
    }
    buf[k] = '\0';
    return true;
}

static int lex_number(parser *P, size_t *ip, token *t) {
    const char *s = P->src;
    size_t n = P->srclen, i = *ip, start = i;
    bool bad = false, is_float = false;
    char buf[512];
    t->pos = (int)start;
    if (s[i] == '0' && i + 1 < n && strchr("xXoObB", s[i + 1])) {
        int base = (s[i + 1] == 'x' || s[i + 1] == 'X') ? 16 : (s[i + 1] == 'o' || s[i + 1] == 'O') ? 8 : 2;
        int (*dig)(int) = base == 16 ? is_hex : base == 8 ? is_oct : is_bin;
        size_t j = i + 2;
        if (j < n && s[j] == '_') j++;
        size_t e = scan_digits(s, j, n, dig, &bad);
        if (e == j || bad) return perr(P, (int)start, "invalid number literal");
        if (e < n && (is_ident_char((unsigned char)s[e])))
            return perr(P, (int)e, "invalid digit '%c' in number literal", s[e]);
        if (!strip_underscores(s, j, e, buf, sizeof buf)) return perr(P, (int)start, "number literal too long");
        errno = 0;
        unsigned long long v = strtoull(buf, NULL, base);
        if (errno || v > (unsigned long long)INT64_MAX)
            return perr(P, (int)start, "integer literal does not fit in int64");
        t->k = T_INT;
        t->i = (int64_t)v;
        t->len = (int)(e - start);
        *ip = e;
        return 0;
    }
    size_t e = i;
    if (s[e] != '.') e = scan_digits(s, e, n, is_dig, &bad);
    if (e < n && s[e] == '.') {
        is_float = true;
        e++;
        if (e < n && isdigit((unsigned char)s[e])) e = scan_digits(s, e, n, is_dig, &bad);
    }
    if (e < n && (s[e] == 'e' || s[e] == 'E')) {
        size_t j = e + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < n && isdigit((unsigned char)s[j])) {
            e = scan_digits(s, j, n, is_dig, &bad);
            is_float = true;
        } else {
            return perr(P, (int)start, "invalid number literal");
        }
    }
    if (bad) return perr(P, (int)start, "invalid number literal");
    /* Python's imaginary literal: a decimal number followed by j (1+2j is 1 + (2j)) */
    bool imag = e < n && (s[e] == 'j' || s[e] == 'J');
    size_t end = imag ? e + 1 : e;
    if (end < n && (is_ident_char((unsigned char)s[end])))
        return perr(P, (int)start, "invalid number literal");
    if (!strip_underscores(s, start, e, buf, sizeof buf)) return perr(P, (int)start, "number literal too long");
    t->len = (int)(end - start);
    *ip = end;
    if (imag) {
        t->k = T_IMAG;
        t->f = strtod(buf, NULL); /* "010j" is valid in Python: no leading-zero rule */
        return 0;
    }
    if (is_float) {
        t->k = T_FLOAT;
        t->f = strtod(buf, NULL); /* overflow gives inf, as in Python's float literal 1e999 */
        return 0;
    }
    /* Python rejects leading zeros in decimal integers ("010"), but "00" is zero */
    if (buf[0] == '0' && buf[1]) {
        for (const char *c = buf; *c; c++)
            if (*c != '0') return perr(P, (int)start, "leading zeros in decimal integer literals are not permitted");
    }
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno || v > (unsigned long long)INT64_MAX)
        return perr(P, (int)start, "integer literal does not fit in int64");
    t->k = T_INT;
    t->i = (int64_t)v;
    return 0;
}

static int lex(parser *P) {
    const char *s = P->src;
    size_t n = P->srclen;
    if (n > (size_t)1 << 24) return perr(P, 0, "expression too long");
    P->t = arena_alloc(P->A, (n + 1) * sizeof(token));
    if (!P->t) return oom(P);
    size_t i = 0;
    int nt = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v'))
            i++;
        token *t = &P->t[nt];
        memset(t, 0, sizeof *t);
        t->pos = (int)i;
        if (i >= n) { t->k = T_END; nt++; break; }
        unsigned char c = (unsigned char)s[i];
        if (is_ident_start(c)) {
            size_t e = i;
            while (e < n && is_ident_char((unsigned char)s[e])) e++;
            if (e < n && (s[e] == '\'' || s[e] == '"'))
                return perr(P, (int)i, "string prefixes are not supported");
            t->k = T_NAME;
            t->len = (int)(e - i);
            t->s = arena_strndup(P->A, s + i, e - i);
            if (!t->s) return oom(P);
            i = e;
        } else if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            if (lex_number(P, &i, t)) return -1;
        } else if (c == '\'' || c == '"') {
            size_t e = i + 1;
            while (e < n && s[e] != (char)c && s[e] != '\n') {
                if (s[e] == '\\') return perr(P, (int)e, "escapes in strings are not supported");
                e++;
            }
            if (e >= n || s[e] != (char)c) return perr(P, (int)i, "unterminated string literal");
            t->k = T_STR;
            t->len = (int)(e + 1 - i);
            t->s = arena_strndup(P->A, s + i + 1, e - i - 1);
            if (!t->s) return oom(P);
            i = e + 1;
        } else {
            int op = 0, len = 0;
            for (size_t k = 0; k < sizeof multi_ops / sizeof multi_ops[0]; k++) {
                size_t l = strlen(multi_ops[k].s);
                if (i + l <= n && memcmp(s + i, multi_ops[k].s, l) == 0) {
                    op = multi_ops[k].op;
                    len = (int)l;
                    break;
                }
            }
            if (!op && c < 128 && strchr("+-*/%@&|^~<>()[],:.=", c) && c != 0) {
                op = c;
                len = 1;
            }
            if (!op) {
                if (c >= 32 && c < 127) return perr(P, (int)i, "invalid character '%c'", c);
                return perr(P, (int)i, "invalid character (byte 0x%02x)", c);
            }
            t->k = T_OP;
            t->op = op;
            t->len = len;
            i += (size_t)len;
        }
        nt++;
    }
    P->nt = nt;
    P->i = 0;
    return 0;
}

/* ---- parser ---- */

static token *cur(parser *P) { return &P->t[P->i]; }
static bool is_op(parser *P, int op) { return cur(P)->k == T_OP && cur(P)->op == op; }
static int col_of(const token *t) { return t->pos + 1; }

/* "unexpected ')'" / "unexpected end of expression" / "unexpected name 'foo'" */
static int unexpected(parser *P) {
    token *t = cur(P);
    switch (t->k) {
    case T_END: return perr(P, t->pos, "unexpected end of expression");
    case T_OP: return perr(P, t->pos, "unexpected '%s'", cli_op_str(t->op));
    case T_NAME: return perr(P, t->pos, "unexpected name '%.40s'", t->s);
    case T_STR: return perr(P, t->pos, "unexpected string");
    default: return perr(P, t->pos, "unexpected number '%.*s'", t->len > 40 ? 40 : t->len, P->src + t->pos);
    }
}

static int expect_op(parser *P, int op) {
    if (is_op(P, op)) { P->i++; return 0; }
    if (P->failed) return -1;
    return perr(P, cur(P)->pos, "expected '%s'", cli_op_str(op));
}

static cli_node *new_node(parser *P, cli_nkind k, int col) {
    cli_node *n = arena_alloc(P->A, sizeof *n);
    if (!n) { oom(P); return NULL; }
    n->kind = k;
    n->col = col;
    n->height = 1;
    return n;
}

static int h(const cli_node *n) { return n ? n->height : 0; }

/* Set n's height from its children; fail when the tree gets too tall. */
static int finish(parser *P, cli_node *n) {
    int m = 0;
    if (h(n->a) > m) m = h(n->a);
    if (h(n->b) > m) m = h(n->b);
    if (h(n->c) > m) m = h(n->c);
    for (int k = 0; k < n->nitems; k++)
        if (h(n->items[k]) > m) m = h(n->items[k]);
    n->height = m + 1;
    if (m + 1 > MAX_HEIGHT) return perr(P, n->col - 1, "expression is too long or too deeply nested");
    return 0;
}

static cli_node *parse_tuple_or_expr(parser *P, int close_op, bool *is_tuple);
static cli_node *parse_expr(parser *P);
static cli_node *parse_factor(parser *P);

/* Items of a growing list in the arena (doubling, old copies abandoned). */
typedef struct nlist {
    cli_node **v;
    int n, cap;
} nlist;

static int nlist_push(parser *P, nlist *l, cli_node *x) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        cli_node **v = arena_alloc(P->A, (size_t)cap * sizeof *v);
        if (!v) return oom(P);
        if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

static bool starts_expr(parser *P) {
    token *t = cur(P);
    if (t->k == T_END) return false;
    if (t->k != T_OP) return true;
    switch (t->op) {
    case '(': case '[': case '-': case '+': case '~': case CLI_OP_ELLIPSIS: return true;
    default: return false;
    }
}

static const char *keyword_hint(const char *name) {
    static const struct { const char *kw, *hint; } kws[] = {
        {"and", "'and' is not supported on arrays; use & with parentheses: (a > 0) & (b > 0)"},
        {"or", "'or' is not supported on arrays; use | with parentheses: (a > 0) | (b > 0)"},
        {"not", "'not' is not supported on arrays; use ~ or logical_not()"},
        {"if", "conditional expressions are not supported; use where(cond, a, b)"},
        {"else", "conditional expressions are not supported; use where(cond, a, b)"},
        {"in", "'in' is not supported"},
        {"is", "'is' is not supported; use =="},
        {"lambda", "lambda is only allowed as an argument (the body of fori_loop or while_loop)"},
        {"for", "comprehensions are not supported"},
        {"async", NULL}, {"await", NULL}, {"yield", NULL}, {"del", NULL}, {"import", NULL},
        {"from", NULL}, {"class", NULL}, {"def", NULL}, {"return", NULL}, {"pass", NULL},
        {"while", NULL}, {"with", NULL}, {"as", NULL}, {"try", NULL}, {"except", NULL},
        {"finally", NULL}, {"raise", NULL}, {"global", NULL}, {"nonlocal", NULL},
        {"assert", NULL}, {"break", NULL}, {"continue", NULL}, {"elif", NULL},
    };
    for (size_t k = 0; k < sizeof kws / sizeof kws[0]; k++)
        if (strcmp(kws[k].kw, name) == 0) return kws[k].hint ? kws[k].hint : "";
    return NULL;
}

static int keyword_error(parser *P, token *t) {
    const char *hint = keyword_hint(t->s);
    if (hint && *hint) return perr(P, t->pos, "%s", hint);
    return perr(P, t->pos, "unexpected keyword '%s'", t->s);
}

/* call arguments after '(' up to and including ')' */
static cli_node *parse_call(parser *P, cli_node *callee, int col) {
    nlist args = {0};
    bool seen_kw = false;
    P->i++; /* ( */
    while (!is_op(P, ')')) {
        token *t = cur(P);
        cli_node *arg;
        if (t->k == T_NAME && P->t[P->i + 1].k == T_OP && P->t[P->i + 1].op == '=') {
            if (keyword_hint(t->s)) { keyword_error(P, t); return NULL; }
            for (int k = 0; k < args.n; k++)
                if (args.v[k]->kind == CLI_N_KEYWORD && strcmp(args.v[k]->s, t->s) == 0) {
                    perr(P, t->pos, "keyword argument repeated: %s", t->s);
                    return NULL;
                }
            P->i += 2;
            cli_node *val = parse_expr(P);
            if (!val) return NULL;
            arg = new_node(P, CLI_N_KEYWORD, col_of(t));
            if (!arg) return NULL;
            arg->s = t->s;
            arg->a = val;
            if (finish(P, arg)) return NULL;
            seen_kw = true;
        } else {
            if (!starts_expr(P)) {
                if (t->k == T_OP && t->op == '*') perr(P, t->pos, "argument unpacking is not supported");
                else if (t->k == T_END) perr(P, t->pos, "expected ')'");
                else unexpected(P);
                return NULL;
            }
            if (seen_kw) { perr(P, t->pos, "positional argument follows keyword argument"); return NULL; }
            arg = parse_expr(P);
            if (!arg) return NULL;
        }
        if (nlist_push(P, &args, arg)) return NULL;
        if (is_op(P, ',')) { P->i++; continue; }
        if (!is_op(P, ')')) { perr(P, cur(P)->pos, "expected ')'"); return NULL; }
    }
    P->i++; /* ) */
    cli_node *n = new_node(P, CLI_N_CALL, col);
    if (!n) return NULL;
    n->a = callee;
    n->items = args.v;
    n->nitems = args.n;
    return finish(P, n) ? NULL : n;
}

/* one subscript item: an expression or a slice [start]:[stop][:[step]] */
static cli_node *parse_subscript_item(parser *P) {
    token *t0 = cur(P);
    cli_node *start = NULL;
    if (!is_op(P, ':')) {
        if (!starts_expr(P)) {
            if (t0->k == T_END || (t0->k == T_OP && (t0->op == ']' || t0->op == ',')))
                perr(P, t0->pos, "expected an index");
            else unexpected(P);
            return NULL;
        }
        start = parse_expr(P);
        if (!start) return NULL;
        if (!is_op(P, ':')) return start;
    }
    cli_node *sl = new_node(P, CLI_N_SLICE, col_of(t0));
    if (!sl) return NULL;
    sl->a = start;
    P->i++; /* first : */
    if (starts_expr(P)) {
        sl->b = parse_expr(P);
        if (!sl->b) return NULL;
    }
    if (is_op(P, ':')) {
        P->i++;
        if (starts_expr(P)) {
            sl->c = parse_expr(P);
            if (!sl->c) return NULL;
        }
    }
    return finish(P, sl) ? NULL : sl;
}

static cli_node *parse_subscript(parser *P, cli_node *obj, int col) {
    nlist items = {0};
    P->i++; /* [ */
    for (;;) {
        cli_node *it = parse_subscript_item(P);
        if (!it) return NULL;
        if (nlist_push(P, &items, it)) return NULL;
        if (is_op(P, ',')) {
            P->i++;
            if (is_op(P, ']')) break;
            continue;
        }
        if (!is_op(P, ']')) { perr(P, cur(P)->pos, "expected ']'"); return NULL; }
        break;
    }
    P->i++; /* ] */
    cli_node *n = new_node(P, CLI_N_SUBSCRIPT, col);
    if (!n) return NULL;
    n->a = obj;
    n->items = items.v;
    n->nitems = items.n;
    return finish(P, n) ? NULL : n;
}

static cli_node *parse_atom(parser *P) {
    token *t = cur(P);
    cli_node *n;
    switch (t->k) {
    case T_NAME: {
        cli_nkind k = CLI_N_NAME;
        if (strcmp(t->s, "True") == 0) k = CLI_N_TRUE;
        else if (strcmp(t->s, "False") == 0) k = CLI_N_FALSE;
        else if (strcmp(t->s, "None") == 0) k = CLI_N_NONE;
        else if (keyword_hint(t->s)) { keyword_error(P, t); return NULL; }
        n = new_node(P, k, col_of(t));
        if (!n) return NULL;
        n->s = t->s;
        P->i++;
        return n;
    }
    case T_INT:
        n = new_node(P, CLI_N_INT, col_of(t));
        if (!n) return NULL;
        n->i = t->i;
        P->i++;
        return n;
    case T_FLOAT: case T_IMAG:
        n = new_node(P, t->k == T_IMAG ? CLI_N_IMAG : CLI_N_FLOAT, col_of(t));
        if (!n) return NULL;
        n->f = t->f;
        P->i++;
        return n;
    case T_STR:
        n = new_node(P, CLI_N_STR, col_of(t));
        if (!n) return NULL;
        n->s = t->s;
        P->i++;
        return n;
    case T_OP:
        if (t->op == CLI_OP_ELLIPSIS) {
            P->i++;
            return new_node(P, CLI_N_ELLIPSIS, col_of(t));
        }
        if (t->op == '(' || t->op == '[') {
            int close = t->op == '(' ? ')' : ']';
            P->i++;
            bool is_tuple = false;
            if (is_op(P, close)) {
                P->i++;
                n = new_node(P, t->op == '(' ? CLI_N_TUPLE : CLI_N_LIST, col_of(t));
                return n && !finish(P, n) ? n : NULL;
            }
            n = parse_tuple_or_expr(P, close, &is_tuple);
            if (!n) return NULL;
            if (expect_op(P, close)) return NULL;
            if (t->op == '[') {
                if (n->kind != CLI_N_TUPLE || !is_tuple) {
                    cli_node *l = new_node(P, CLI_N_LIST, col_of(t));
                    if (!l) return NULL;
                    cli_node **v = arena_alloc(P->A, sizeof *v);
                    if (!v) { oom(P); return NULL; }
                    v[0] = n;
                    l->items = v;
                    l->nitems = 1;
                    return finish(P, l) ? NULL : l;
                }
                n->kind = CLI_N_LIST;
            }
            return n;
        }
        /* fallthrough */
    default:
        unexpected(P);
        return NULL;
    }
}

static cli_node *parse_primary(parser *P) {
    cli_node *n = parse_atom(P);
    while (n) {
        token *t = cur(P);
        if (t->k != T_OP) break;
        if (t->op == '(') {
            if (++P->depth > MAX_DEPTH) { perr(P, t->pos, "expression is too deeply nested"); return NULL; }
            n = parse_call(P, n, col_of(t));
            P->depth--;
        } else if (t->op == '[') {
            if (++P->depth > MAX_DEPTH) { perr(P, t->pos, "expression is too deeply nested"); return NULL; }
            n = parse_subscript(P, n, col_of(t));
            P->depth--;
        } else if (t->op == '.') {
            P->i++;
            token *nm = cur(P);
            if (nm->k != T_NAME) { perr(P, nm->pos, "expected an attribute name after '.'"); return NULL; }
            P->i++;
            cli_node *a = new_node(P, CLI_N_ATTR, col_of(nm));
            if (!a) return NULL;
            a->a = n;
            a->s = nm->s;
            n = finish(P, a) ? NULL : a;
        } else {
            break;
        }
    }
    return n;
}

static cli_node *binary(parser *P, int op, int col, cli_node *l, cli_node *r) {
    cli_node *n = new_node(P, CLI_N_BINARY, col);
    if (!n) return NULL;
    n->op = op;
    n->a = l;
    n->b = r;
    return finish(P, n) ? NULL : n;
}

/* power: primary ['**' factor] */
static cli_node *parse_power(parser *P) {
    cli_node *base = parse_primary(P);
    if (!base) return NULL;
    if (!is_op(P, CLI_OP_POW)) return base;
    token *t = cur(P);
    P->i++;
    if (++P->depth > MAX_DEPTH) { perr(P, t->pos, "expression is too deeply nested"); return NULL; }
    cli_node *e = parse_factor(P);
    P->depth--;
    if (!e) return NULL;
    return binary(P, CLI_OP_POW, col_of(t), base, e);
}

/* factor: ('+' | '-' | '~') factor | power */
static cli_node *parse_factor(parser *P) {
    token *t = cur(P);
    cli_node *n;
    if (t->k == T_OP && (t->op == '-' || t->op == '+' || t->op == '~')) {
        if (++P->depth > MAX_DEPTH) { perr(P, t->pos, "expression is too deeply nested"); return NULL; }
        P->i++;
        cli_node *x = parse_factor(P);
        P->depth--;
        n = NULL;
        if (x) {
            n = new_node(P, CLI_N_UNARY, col_of(t));
            if (n) {
                n->op = t->op;
                n->a = x;
                if (finish(P, n)) n = NULL;
            }
        }
    } else {
        n = parse_power(P);
    }
    return n;
}

static cli_node *parse_term(parser *P) {
    cli_node *l = parse_factor(P);
    while (l) {
        token *t = cur(P);
        if (t->k != T_OP || !(t->op == '*' || t->op == '/' || t->op == CLI_OP_FLOORDIV || t->op == '%' || t->op == '@'))
            break;
        P->i++;
        cli_node *r = parse_factor(P);
        if (!r) return NULL;
        l = binary(P, t->op, col_of(t), l, r);
    }
    return l;
}

static cli_node *parse_sum(parser *P) {
    cli_node *l = parse_term(P);
    while (l) {
        token *t = cur(P);
        if (t->k != T_OP || !(t->op == '+' || t->op == '-')) break;
        P->i++;
        cli_node *r = parse_term(P);
        if (!r) return NULL;
        l = binary(P, t->op, col_of(t), l, r);
    }
    return l;
}

static cli_node *parse_shift(parser *P) {
    cli_node *l = parse_sum(P);
    while (l && (is_op(P, CLI_OP_LSHIFT) || is_op(P, CLI_OP_RSHIFT))) {
        token *t = cur(P);
        P->i++;
        cli_node *r = parse_sum(P);
        if (!r) return NULL;
        l = binary(P, t->op, col_of(t), l, r);
    }
    return l;
}

static cli_node *parse_bitand(parser *P) {
    cli_node *l = parse_shift(P);
    while (l && is_op(P, '&')) {
        token *t = cur(P);
        P->i++;
        cli_node *r = parse_shift(P);
        if (!r) return NULL;
        l = binary(P, '&', col_of(t), l, r);
    }
    return l;
}

static cli_node *parse_bitxor(parser *P) {
    cli_node *l = parse_bitand(P);
    while (l && is_op(P, '^')) {
        token *t = cur(P);
        P->i++;
        cli_node *r = parse_bitand(P);
        if (!r) return NULL;
        l = binary(P, '^', col_of(t), l, r);
    }
    return l;
}

static cli_node *parse_bitor(parser *P) {
    cli_node *l = parse_bitxor(P);
    while (l && is_op(P, '|')) {
        token *t = cur(P);
        P->i++;
        cli_node *r = parse_bitxor(P);
        if (!r) return NULL;
        l = binary(P, '|', col_of(t), l, r);
    }
    return l;
}

static bool is_compare(parser *P) {
    token *t = cur(P);
    if (t->k != T_OP) return false;
    switch (t->op) {
    case '<': case '>': case CLI_OP_LE: case CLI_OP_GE: case CLI_OP_EQ: case CLI_OP_NE: return true;
    default: return false;
    }
}

/* comparison: bitor [compare_op bitor]; a chain (a < b < c) is refused */
static cli_node *parse_comparison(parser *P) {
    cli_node *l = parse_bitor(P);
    if (!l || !is_compare(P)) return l;
    token *t = cur(P);
    P->i++;
    cli_node *r = parse_bitor(P);
    if (!r) return NULL;
    if (is_compare(P)) {
        perr(P, cur(P)->pos, "chained comparisons are not supported; use (a < b) & (b < c)");
        return NULL;
    }
    return binary(P, t->op, col_of(t), l, r);
}

/* lambda [NAME {, NAME}]: expr */
static cli_node *parse_lambda(parser *P) {
    token *t0 = cur(P);
    P->i++; /* lambda */
    nlist params = {0};
    while (!is_op(P, ':')) {
        token *t = cur(P);
        if (t->k != T_NAME || keyword_hint(t->s)) {
            perr(P, t->pos, "expected a parameter name or ':' in lambda");
            return NULL;
        }
        for (int k = 0; k < params.n; k++)
            if (strcmp(params.v[k]->s, t->s) == 0) { perr(P, t->pos, "duplicate argument '%s' in lambda", t->s); return NULL; }
        cli_node *nm = new_node(P, CLI_N_NAME, col_of(t));
        if (!nm) return NULL;
        nm->s = t->s;
        P->i++;
        if (nlist_push(P, &params, nm)) return NULL;
        if (is_op(P, ',')) { P->i++; continue; }
        if (!is_op(P, ':')) { perr(P, cur(P)->pos, "expected ',' or ':' in lambda"); return NULL; }
    }
    P->i++; /* : */
    cli_node *body = parse_expr(P);
    if (!body) return NULL;
    cli_node *n = new_node(P, CLI_N_LAMBDA, col_of(t0));
    if (!n) return NULL;
    n->items = params.v;
    n->nitems = params.n;
    n->a = body;
    return finish(P, n) ? NULL : n;
}

static cli_node *parse_expr(parser *P) {
    if (++P->depth > MAX_DEPTH) { perr(P, cur(P)->pos, "expression is too deeply nested"); return NULL; }
    if (cur(P)->k == T_NAME && strcmp(cur(P)->s, "lambda") == 0) {
        cli_node *l = parse_lambda(P);
        P->depth--;
        return l;
    }
    cli_node *n = parse_comparison(P);
    P->depth--;
    if (n && cur(P)->k == T_NAME && keyword_hint(cur(P)->s)) {
        keyword_error(P, cur(P));
        return NULL;
    }
    return n;
}

/* expr {',' expr} [','] — a tuple when there is a comma. Stops before close_op (or end). */
static cli_node *parse_tuple_or_expr(parser *P, int close_op, bool *is_tuple) {
    int col = col_of(cur(P));
    if (!starts_expr(P)) {
        if (cur(P)->k == T_END) perr(P, cur(P)->pos, "expected an expression");
        else unexpected(P);
        return NULL;
    }
    cli_node *first = parse_expr(P);
    if (!first) return NULL;
    *is_tuple = false;
    if (!is_op(P, ',')) return first;
    nlist items = {0};
    if (nlist_push(P, &items, first)) return NULL;
    while (is_op(P, ',')) {
        P->i++;
        if (!starts_expr(P)) {
            if ((close_op && is_op(P, close_op)) || (!close_op && cur(P)->k == T_END)) break;
            unexpected(P);
            return NULL;
        }
        cli_node *x = parse_expr(P);
        if (!x) return NULL;
        if (nlist_push(P, &items, x)) return NULL;
    }
    cli_node *t = new_node(P, CLI_N_TUPLE, col);
    if (!t) return NULL;
    t->items = items.v;
    t->nitems = items.n;
    *is_tuple = true;
    return finish(P, t) ? NULL : t;
}

int cli_parse(const char *src, cli_ast **out, char *err, size_t errcap) {
    *out = NULL;
    if (err && errcap) err[0] = '\0';
    parser P = {.src = src ? src : "", .err = err, .errcap = errcap};
    P.srclen = strlen(P.src);
    P.A = calloc(1, sizeof *P.A);
    if (!P.A) {
        if (err && errcap) snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (lex(&P)) goto fail;
    bool is_tuple;
    cli_node *root = parse_tuple_or_expr(&P, 0, &is_tuple);
    if (!root) goto fail;
    if (cur(&P)->k != T_END) {
        token *t = cur(&P);
        if (t->k == T_OP && (t->op == ')' || t->op == ']')) perr(&P, t->pos, "unmatched '%s'", cli_op_str(t->op));
        else if (t->k == T_OP && t->op == '=') perr(&P, t->pos, "assignment is not supported; bind names with NAME=FILE.npy");
        else if (t->k == T_OP && t->op == ':') perr(&P, t->pos, "unexpected ':' outside a subscript");
        else if (t->k == T_NAME && keyword_hint(t->s)) keyword_error(&P, t);
        else unexpected(&P);
        goto fail;
    }
    P.A->root = root;
    *out = P.A;
    return 0;
fail:
    if (!P.failed && err && errcap) snprintf(err, errcap, "syntax error");
    cli_ast_free(P.A);
    return -1;
}
