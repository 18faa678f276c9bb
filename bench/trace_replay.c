/* The trace reader and replayer of trace_replay.h. */
#include "trace_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* "0", "@0xA", "Rk" or "Rk+0xOFF". */
static int parse_addr(const char *s, tr_step *st, uint32_t regions)
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
    return *end == '+' && parse_u64(end + 1, &st->off);
}

static tr_trace *fail(tr_trace *t, FILE *f, char *err, size_t cap, unsigned line, const char *why)
{
    snprintf(err, cap, "line %u: %s", line, why);
    if (f)
        fclose(f);
    tr_destroy(t);
    return NULL;
}

tr_trace *tr_load(const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "cannot open %s", path);
        return NULL;
    }
    tr_trace *t = calloc(1, sizeof *t);
    if (!t)
        return fail(t, f, err, cap, 0, "out of memory");
    char line[512];
    unsigned ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
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
        if (op != TR_ALLOC && !parse_addr(tok[i++], &st, t->regions))
            return fail(t, f, err, cap, ln, "bad address");
        if (i >= nt || !parse_u64(tok[i++], &st.n))
            return fail(t, f, err, cap, ln, "bad size");
        if (op == TR_ALLOC || op == TR_RESERVE) {
            if (i + 1 >= nt || strcmp(tok[i], "=") != 0)
                return fail(t, f, err, cap, ln, "missing result");
            if (strcmp(tok[i + 1], "0") != 0) {
                if (tok[i + 1][0] != 'R' || strtoul(tok[i + 1] + 1, NULL, 10) != t->regions + 1UL)
                    return fail(t, f, err, cap, ln, "regions out of order");
                st.result = ++t->regions;
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
    fclose(f);
    t->base = calloc(t->regions + 1, sizeof *t->base);
    t->size = calloc(t->regions + 1, sizeof *t->size);
    t->live = calloc(t->regions + 1, 1);
    if (!t->base || !t->size || !t->live)
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
