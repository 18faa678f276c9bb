/* The trace reader and replayers of trace_replay.h. */
#include "trace_replay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MEMWIN_TRACE_ZLIB
#include <zlib.h>
/* gzopen reads an uncompressed file as it is. */
typedef gzFile tr_file;
static tr_file tr_open(const char *path) { return gzopen(path, "rb"); }
static char *tr_gets(char *buf, int n, tr_file f) { return gzgets(f, buf, n); }
static void tr_close(tr_file f) { gzclose(f); }
#else
typedef FILE *tr_file;
static tr_file tr_open(const char *path) { return fopen(path, "r"); }
static char *tr_gets(char *buf, int n, tr_file f) { return fgets(buf, n, f); }
static void tr_close(tr_file f) { fclose(f); }
#endif

static const char *const op_names[TR_NOPS] = {
    "sysAllocOS", "sysReserveOS", "sysMapOS", "sysUsedOS", "sysUnusedOS",
    "sysFaultOS", "sysFreeOS", "sysHugePageOS", "sysNoHugePageOS", "sysHugePageCollapseOS",
};

/* An address as the trace writes it: region (0: none) + offset, or an
 * absolute address (abs), or nil (region 0, off 0, !abs). */
typedef struct tr_step {
    uint8_t op, abs, at_hint;
    uint32_t region, result; /* result: the region a reserving call made, 0 for nil */
    uint64_t off, n;
} tr_step;

struct tr_trace {
    tr_step *steps;
    size_t n, cap;
    uint32_t regions;     /* R1 .. Rregions */
    uintptr_t *base;      /* per region, in the last replay (0: not reserved) */
    uint64_t *size;
    uint8_t *live;
};

size_t tr_steps(const tr_trace *t) { return t->n; }

const char *tr_op_name(int op) { return op >= 0 && op < TR_NOPS ? op_names[op] : NULL; }

void tr_destroy(tr_trace *t)
{
    if (!t)
        return;
    free(t->steps);
    free(t->base);
    free(t->size);
    free(t->live);
    free(t);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s)
        return 0;
    *v = strtoull(s, &end, 0);
    return *end == 0;
}

/* "0", "@0xA", "Rk" or "Rk+0xOFF" (k a region made earlier, OFF at most
 * its size). */
static int parse_addr(const char *s, tr_step *st, uint32_t regions, const uint64_t *sizes)
{
    if (strcmp(s, "0") == 0)
        return 1;
    if (s[0] == '@') {
        st->abs = 1;
        return parse_u64(s + 1, &st->off) && st->off != 0;
    }
    if (s[0] != 'R')
        return 0;
    char *end;
    unsigned long k = strtoul(s + 1, &end, 10);
    if (k == 0 || k > regions)
        return 0;
    st->region = (uint32_t)k;
    if (*end == 0)
        return 1;
    return *end == '+' && parse_u64(end + 1, &st->off) && st->off <= sizes[k];
}

static tr_trace *fail(tr_trace *t, tr_file f, char *err, size_t cap, unsigned line, const char *why)
{
    snprintf(err, cap, "line %u: %s", line, why);
    if (f)
        tr_close(f);
    tr_destroy(t);
    return NULL;
}

tr_trace *tr_load(const char *path, char *err, size_t cap)
{
    tr_file f = tr_open(path);
    if (!f) {
        snprintf(err, cap, "cannot open %s", path);
        return NULL;
    }
    tr_trace *t = calloc(1, sizeof *t);
    if (!t)
        return fail(t, f, err, cap, 0, "out of memory");
    char line[512];
    unsigned ln = 0;
    size_t size_cap = 0;
    while (tr_gets(line, (int)sizeof line, f)) {
        ln++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n')
            return fail(t, f, err, cap, ln, "line too long");
        line[strcspn(line, "\r\n")] = 0;
        if (ln == 1) {
            if (strcmp(line, "memwin-trace 1") != 0)
                return fail(t, f, err, cap, ln, "not a memwin trace");
            continue;
        }
        if (line[0] != 't')
            continue; /* metadata, comments, empty lines */
        char *tok[8];
        int nt = 0;
        for (char *p = strtok(line, " \t"); p && nt < 8; p = strtok(NULL, " \t"))
            tok[nt++] = p;
        if (nt < 3)
            return fail(t, f, err, cap, ln, "too few fields");
        tr_step st;
        memset(&st, 0, sizeof st);
        int op;
        for (op = 0; op < TR_NOPS && strcmp(tok[1], op_names[op]) != 0; op++)
            ;
        if (op == TR_NOPS)
            return fail(t, f, err, cap, ln, "unknown call");
        st.op = (uint8_t)op;
        int i = 2;
        if (op != TR_ALLOC && !parse_addr(tok[i++], &st, t->regions, t->size))
            return fail(t, f, err, cap, ln, "bad address");
        if (i >= nt || !parse_u64(tok[i++], &st.n))
            return fail(t, f, err, cap, ln, "bad size");
        if (op == TR_ALLOC || op == TR_RESERVE) {
            if (i + 1 >= nt || strcmp(tok[i], "=") != 0)
                return fail(t, f, err, cap, ln, "missing result");
            if (strcmp(tok[i + 1], "0") != 0) {
                if (tok[i + 1][0] != 'R' || strtoul(tok[i + 1] + 1, NULL, 10) != t->regions + 1UL)
                    return fail(t, f, err, cap, ln, "regions out of order");
                if (t->regions + 1 >= size_cap) {
                    size_t nc = size_cap ? 2 * size_cap : 256;
                    uint64_t *ns = realloc(t->size, nc * sizeof *ns);
                    if (!ns)
                        return fail(t, f, err, cap, ln, "out of memory");
                    t->size = ns;
                    size_cap = nc;
                }
                st.result = ++t->regions;
                t->size[st.result] = st.n;
                st.at_hint = i + 2 < nt && strcmp(tok[i + 2], "hint") == 0;
            }
        }
        if (t->n == t->cap) {
            size_t nc = t->cap ? 2 * t->cap : 1024;
            tr_step *ns = realloc(t->steps, nc * sizeof *ns);
            if (!ns)
                return fail(t, f, err, cap, ln, "out of memory");
            t->steps = ns;
            t->cap = nc;
        }
        t->steps[t->n++] = st;
    }
    tr_close(f);
    t->base = calloc(t->regions + 1, sizeof *t->base);
    t->live = calloc(t->regions + 1, 1);
    if (!t->base || !t->live)
        return fail(t, NULL, err, cap, ln, "out of memory");
    return t;
}

size_t tr_replay(tr_trace *t, const tr_side *s, uint64_t shift)
{
    size_t odd = 0;
    memset(t->base, 0, (t->regions + 1) * sizeof *t->base);
    memset(t->live, 0, t->regions + 1);
    for (size_t i = 0; i < t->n; i++) {
        const tr_step *st = &t->steps[i];
        uintptr_t v = 0;
        if (st->region) {
            if (!t->base[st->region]) {
                odd++;
                continue;
            }
            v = t->base[st->region] + (uintptr_t)st->off;
        } else if (st->abs) {
            v = (uintptr_t)(st->off + shift);
        }
        switch (st->op) {
        case TR_ALLOC:
        case TR_RESERVE: {
            void *r = st->op == TR_ALLOC ? s->alloc((uintptr_t)st->n) : s->reserve((void *)v, (uintptr_t)st->n);
            if (r && st->result) {
                t->base[st->result] = (uintptr_t)r;
                t->size[st->result] = st->n;
                t->live[st->result] = 1;
            } else if (r || st->result) {
                odd++;
                if (r)
                    s->range[TR_FREE](r, (uintptr_t)st->n);
            }
            break;
        }
        case TR_FREE:
            s->range[TR_FREE]((void *)v, (uintptr_t)st->n);
            if (st->region && st->off == 0)
                t->live[st->region] = 0;
            break;
        default:
            s->range[st->op]((void *)v, (uintptr_t)st->n);
        }
    }
    return odd;
}

void tr_release(tr_trace *t, const tr_side *s)
{
    for (uint32_t k = 1; k <= t->regions; k++)
        if (t->live[k]) {
            s->range[TR_FREE]((void *)t->base[k], (uintptr_t)t->size[k]);
            t->live[k] = 0;
        }
}

/* ---- the observing replay (tools/conform/trace's Replay, line for line) ---- */

#define TR_COMMIT 0x1000u
#define TR_RESERVE_STATE 0x2000u
#define TR_FREE_STATE 0x10000u
#define TR_READWRITE 0x04u

/* A growing line. */
typedef struct tr_line {
    char *p;
    size_t len, cap;
} tr_line;

static void line_add(tr_line *l, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(l->p ? l->p + l->len : NULL, l->p ? l->cap - l->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (l->p && l->len + (size_t)n < l->cap) {
            l->len += (size_t)n;
            return;
        }
        size_t nc = l->cap ? 2 * l->cap : 256;
        while (nc <= l->len + (size_t)n)
            nc *= 2;
        char *np = realloc(l->p, nc);
        if (!np)
            abort(); /* an observation cannot be written half */
        l->p = np;
        l->cap = nc;
    }
}

/* Go prints 0 as "0x0" under %#x, C as "0": numbers go through this. */
#define HEX "0x%llx"
#define H(v) ((unsigned long long)(v))

static void emitf(const tr_observer *o, tr_line *l, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    l->len = 0;
    line_add(l, "%s", buf);
    o->emit(o->ctx, l->p);
}

/* Reads the first word of every committed read-write page of [v, v+n),
 * counts the bytes of those where it is not zero, and writes mark there. */
static uint64_t touch(const tr_observer *o, uint64_t v, uint64_t n, uint64_t mark)
{
    uint64_t kept = 0, end = (v + n + 4095) & ~(uint64_t)4095;
    for (uint64_t a = v & ~(uint64_t)4095; a < end;) {
        tr_info in;
        if (o->query(o->ctx, a, &in) != 0 || in.base + in.size <= a)
            return kept;
        uint64_t e = in.base + in.size < end ? in.base + in.size : end;
        if (in.state == TR_COMMIT && in.protect == TR_READWRITE)
            for (uint64_t p = a; p < e; p += 4096) {
                volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)p;
                if (*w != 0)
                    kept += 4096;
                *w = mark | 1;
            }
        a = e;
    }
    return kept;
}

static void state_code(const tr_info *in, char *buf, size_t cap)
{
    if (in->state == TR_COMMIT && in->protect == TR_READWRITE)
        snprintf(buf, cap, "c");
    else if (in->state == TR_COMMIT)
        snprintf(buf, cap, "c/" HEX, H(in->protect));
    else if (in->state == TR_RESERVE_STATE)
        snprintf(buf, cap, "r");
    else if (in->state == TR_FREE_STATE)
        snprintf(buf, cap, "f");
    else
        snprintf(buf, cap, "s" HEX, H(in->state));
}

/* "N check live=K reserved=B committed=C", then per live region
 * "N Rk SIZE s:LEN ..." (runs of pages of one state in address order). */
static void checkpoint(const tr_trace *t, const tr_observer *o, size_t n, tr_line *l)
{
    tr_line body = {0};
    unsigned live = 0;
    uint64_t reserved = 0, committed = 0;
    for (uint32_t k = 1; k <= t->regions; k++) {
        if (!t->live[k])
            continue;
        live++;
        uint64_t base = t->base[k], size = t->size[k], end = base + size;
        reserved += size;
        if (body.len)
            line_add(&body, "\n");
        line_add(&body, "%zu R%u " HEX, n, k, H(size));
        char prev[32] = "", code[32];
        uint64_t run = 0;
        for (uint64_t a = base; a < end;) {
            tr_info in;
            uint32_t e = o->query(o->ctx, a, &in);
            if (e != 0) {
                line_add(&body, " error(+" HEX ": error %u)", H(a - base), e);
                break;
            }
            uint64_t stop = in.base + in.size < end ? in.base + in.size : end;
            if (stop <= a) {
                line_add(&body, " bad-run(+" HEX ")", H(a - base));
                break;
            }
            state_code(&in, code, sizeof code - 8);
            if (in.state != TR_FREE_STATE && in.alloc_base != base && in.alloc_base != TR_UNKNOWN)
                strcat(code, "@other");
            if (in.state == TR_COMMIT)
                committed += stop - a;
            if (strcmp(code, prev) == 0) {
                run += stop - a;
            } else {
                if (prev[0])
                    line_add(&body, " %s:" HEX, prev, H(run));
                strcpy(prev, code);
                run = stop - a;
            }
            a = stop;
        }
        if (prev[0])
            line_add(&body, " %s:" HEX, prev, H(run));
    }
    emitf(o, l, "%zu check live=%u reserved=" HEX " committed=" HEX, n, live, H(reserved), H(committed));
    /* One line per region, as the Go replayer emits them. */
    for (char *p = body.p, *q; p && *p; p = q) {
        q = strchr(p, '\n');
        if (q)
            *q++ = 0;
        else
            q = p + strlen(p);
        o->emit(o->ctx, p);
    }
    free(body.p);
}

void tr_observe(tr_trace *t, const tr_side *s, const tr_observer *o, uint64_t shift)
{
    tr_line l = {0};
    memset(t->base, 0, (t->regions + 1) * sizeof *t->base);
    memset(t->live, 0, t->regions + 1);
    emitf(o, &l, "# %zu steps, checkpoints every %u, absolute hints shifted by " HEX, t->n, TR_EVERY,
          H(shift));
    for (size_t i = 0; i < t->n; i++) {
        const tr_step *st = &t->steps[i];
        const size_t n = i + 1;
        uint64_t v = 0;
        if (st->region) {
            if (!t->base[st->region]) {
                emitf(o, &l, "%zu skipped: R%u was not reserved", n, st->region);
                continue;
            }
            v = t->base[st->region] + st->off;
        } else if (st->abs) {
            v = st->off + shift;
        }
        uint64_t r = 0;
        switch (st->op) {
        case TR_ALLOC:
            r = (uintptr_t)s->alloc((uintptr_t)st->n);
            break;
        case TR_RESERVE:
            r = (uintptr_t)s->reserve((void *)(uintptr_t)v, (uintptr_t)st->n);
            break;
        default:
            s->range[st->op]((void *)(uintptr_t)v, (uintptr_t)st->n);
        }
        if (st->op == TR_ALLOC || st->op == TR_RESERVE) {
            l.len = 0;
            line_add(&l, "%zu %s", n, op_names[st->op]);
            if (r == 0) {
                line_add(&l, " = 0");
                if (st->result)
                    line_add(&l, " (recorded R%u)", st->result);
            } else if (!st->result) {
                line_add(&l, " = memory, released (recorded 0)");
                s->range[TR_FREE]((void *)(uintptr_t)r, (uintptr_t)st->n);
            } else {
                t->base[st->result] = (uintptr_t)r;
                t->live[st->result] = 1;
                line_add(&l, " = R%u", st->result);
                if (st->op == TR_RESERVE && v != 0 && r == v)
                    line_add(&l, " hint");
                if (r % 0x10000 != 0)
                    line_add(&l, " misaligned(" HEX ")", H(r % 0x10000));
            }
            o->emit(o->ctx, l.p);
        }
        if (st->op == TR_USED || (st->op == TR_ALLOC && r != 0 && st->result)) {
            uint64_t kept = touch(o, st->op == TR_ALLOC ? r : v, st->n, (uint64_t)n);
            if (kept)
                emitf(o, &l, "%zu %s kept=" HEX, n, op_names[st->op], H(kept));
        }
        if (st->op == TR_FREE && st->region && st->off == 0)
            t->live[st->region] = 0;
        if (n % TR_EVERY == 0 && n != t->n)
            checkpoint(t, o, n, &l);
    }
    checkpoint(t, o, t->n, &l);
    tr_release(t, s);
    free(l.p);
}
