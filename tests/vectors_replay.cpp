// Replay of the conformance scenarios; see vectors_replay.h.  The rules here
// mirror tools/conform/{vec,exec,golden}.go line for line: a change to the
// observation format must be made in both.
#include "vectors_replay.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "memwin.h"
#include "memwin_prim.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace memwin_vectors {

namespace {

// ---- operations -------------------------------------------------------

enum RetKind { kVoid, kPtr, kBool, kAligned };

struct OpInfo {
    const char *name;
    const char *args; // v address, n size, s "stat", N name, o classes; '|' = optional after
    RetKind ret;
    bool harness;
};

const OpInfo kOps[] = {
    {"sysAllocOS", "n", kPtr, false},
    {"sysUnusedOS", "vn", kVoid, false},
    {"sysUsedOS", "vn", kVoid, false},
    {"sysHugePageOS", "vn", kVoid, false},
    {"sysNoHugePageOS", "vn", kVoid, false},
    {"sysHugePageCollapseOS", "vn", kVoid, false},
    {"sysFreeOS", "vn", kVoid, false},
    {"sysFaultOS", "vn", kVoid, false},
    {"sysReserveOS", "vn", kPtr, false},
    {"sysMapOS", "vn", kVoid, false},
    {"needZeroAfterSysUnusedOS", "", kBool, false},
    {"sysAlloc", "ns", kPtr, false},
    {"sysUnused", "vn", kVoid, false},
    {"sysUsed", "vnn", kVoid, false},
    {"sysHugePage", "vn", kVoid, false},
    {"sysNoHugePage", "vn", kVoid, false},
    {"sysHugePageCollapse", "vn", kVoid, false},
    {"sysFree", "vns", kVoid, false},
    {"sysFault", "vn", kVoid, false},
    {"sysReserve", "vn", kPtr, false},
    {"sysMap", "vns", kVoid, false},
    {"sysUnreserve", "vn", kVoid, false},
    {"sysReserveAligned", "vnn", kAligned, false},
    {"needZeroAfterSysUnused", "", kBool, false},
    {"free", "Nn|n", kVoid, true},
    {"region", "Nvn", kVoid, true},
    {"drop", "N", kVoid, true},
    {"fill", "vn", kVoid, true},
    {"setstat", "n", kVoid, true},
    {"fault", "onnn", kVoid, true},
    {"nofault", "", kVoid, true},
    {"squat", "nn", kVoid, true},
};

const OpInfo *find_op(const std::string &name)
{
    for (const OpInfo &op : kOps)
        if (name == op.name)
            return &op;
    return nullptr;
}

struct HarnessError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct StopScenario {};

bool is_ident(const std::string &s)
{
    if (s.empty() || s == "nil" || s == "stat")
        return false;
    for (size_t i = 0; i < s.size(); i++) {
        char c = s[i];
        bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

bool parse_number(const std::string &s, uint64_t &out)
{
    uint64_t mult = 1;
    std::string body = s;
    if (!s.empty()) {
        switch (s.back()) {
        case 'K': mult = 1ull << 10; break;
        case 'M': mult = 1ull << 20; break;
        case 'G': mult = 1ull << 30; break;
        case 'p': mult = 4096; break;
        }
        if (mult != 1)
            body = s.substr(0, s.size() - 1);
    }
    int base = 10;
    if (body.size() > 2 && body[0] == '0' && body[1] == 'x') {
        body = body.substr(2);
        base = 16;
    }
    if (body.empty())
        return false;
    uint64_t v = 0;
    for (char c : body) {
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (mult != 1 && v > UINT64_MAX / mult)
        return false;
    out = v * mult;
    return true;
}

// nil | NUMBER | NAME | NAME+NUMBER | NAME-NUMBER
bool split_addr(const std::string &s, std::string &name, int64_t &off)
{
    name.clear();
    off = 0;
    if (s == "nil")
        return true;
    uint64_t v;
    if (!s.empty() && s[0] >= '0' && s[0] <= '9') {
        if (!parse_number(s, v))
            return false;
        off = (int64_t)v;
        return true;
    }
    size_t i = s.find_first_of("+-");
    if (i == std::string::npos) {
        name = s;
        return is_ident(s);
    }
    name = s.substr(0, i);
    if (!is_ident(name) || !parse_number(s.substr(i + 1), v))
        return false;
    off = (int64_t)(s[i] == '-' ? ~v + 1 : v); // two's complement, no overflow
    return true;
}

bool parse_classes(const std::string &s, uint32_t &out)
{
    static const std::map<std::string, uint32_t> bits = {
        {"reserve", MEMWIN_FAULT_RESERVE}, {"commit", MEMWIN_FAULT_COMMIT},
        {"alloc", MEMWIN_FAULT_ALLOC},     {"decommit", MEMWIN_FAULT_DECOMMIT},
        {"release", MEMWIN_FAULT_RELEASE},
    };
    out = 0;
    std::stringstream in(s);
    std::string w;
    while (std::getline(in, w, ',')) {
        auto it = bits.find(w);
        if (it == bits.end())
            return false;
        out |= it->second;
    }
    return out != 0;
}

std::vector<std::string> fields_of(const std::string &line)
{
    std::vector<std::string> f;
    std::istringstream in(line);
    std::string w;
    while (in >> w)
        f.push_back(w);
    return f;
}

std::string join(const std::vector<std::string> &v, size_t from = 0)
{
    std::string s;
    for (size_t i = from; i < v.size(); i++) {
        if (i > from)
            s += ' ';
        s += v[i];
    }
    return s;
}

// ---- formatting (exec.go) ----------------------------------------------

std::string fmt_size(uint64_t v)
{
    if (v == 0)
        return "0";
    if (v % (1ull << 30) == 0)
        return std::to_string(v >> 30) + "G";
    if (v % (1ull << 20) == 0)
        return std::to_string(v >> 20) + "M";
    if (v % (1ull << 10) == 0)
        return std::to_string(v >> 10) + "K";
    return std::to_string(v);
}

std::string fmt_delta(uint64_t d)
{
    if ((int64_t)d < 0)
        return "-" + fmt_size(~d + 1);
    return "+" + fmt_size(d);
}

std::string fmt_calls(const std::string &letters, size_t n)
{
    if (n == 0)
        return "-";
    if (n <= 120 && letters.size() == n)
        return letters;
    std::string head = letters.substr(0, 60);
    std::string tail;
    if (letters.size() == n && n > 100)
        tail = letters.substr(n - 40);
    return head + "..." + tail + "(" + std::to_string(n) + " calls)";
}

std::string state_name(uint32_t s)
{
    switch (s) {
    case MEMWIN_MEM_COMMIT: return "commit";
    case MEMWIN_MEM_RESERVE: return "reserve";
    case MEMWIN_MEM_FREE: return "free";
    }
    char b[32];
    snprintf(b, sizeof b, "state0x%x", s);
    return b;
}

std::string prot_name(uint32_t p)
{
    switch (p) {
    case 0: return "0";
    case 1: return "noaccess";
    case 2: return "readonly";
    case 4: return "rw";
    }
    char b[32];
    snprintf(b, sizeof b, "0x%x", p);
    return b;
}

uintptr_t low_align(uintptr_t p)
{
    uintptr_t a = p & (~p + 1);
    if (a > 65536 || a == 0)
        a = 65536;
    return a;
}

// ---- memory probes ----------------------------------------------------

#if defined(_WIN32)
int probe(uintptr_t addr)
{
    int r = 0;
    if (!IsBadReadPtr((const void *)addr, 1))
        r |= 1;
    if (!IsBadWritePtr((void *)addr, 1))
        r |= 2;
    return r;
}
#else
// The kernel reports EFAULT instead of faulting when a pipe transfer touches
// an inaccessible page: write() reads the byte, read() writes it back.
int probe(uintptr_t addr)
{
    static int fds[2] = {-1, -1};
    if (fds[0] < 0 && pipe(fds) != 0)
        return 0;
    int r = 0;
    if (write(fds[1], (const void *)addr, 1) != 1)
        return 0;
    r |= 1;
    if (read(fds[0], (void *)addr, 1) == 1) {
        r |= 2;
    } else {
        char tmp;
        (void)!read(fds[0], &tmp, 1);
    }
    return r;
}
#endif

bool is_zero(uintptr_t a, uintptr_t n)
{
    const volatile unsigned char *p = (const volatile unsigned char *)a;
    for (uintptr_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

// ---- tracing table, squatter, fault injection ---------------------------

thread_local bool t_tracing;
std::string t_letters;
size_t t_calls;
const memwin_prim *t_below;
uintptr_t s_align = 65536;
uint64_t s_left;
uintptr_t s_held;
// Reservations made by the code under test and not yet released by it; the
// cleanup releases these and nothing else.
std::vector<uintptr_t> t_created;

char class_letter(uint32_t cls, bool ok)
{
    char c = '?';
    switch (cls) {
    case MEMWIN_FAULT_RESERVE: c = 'r'; break;
    case MEMWIN_FAULT_COMMIT: c = 'c'; break;
    case MEMWIN_FAULT_ALLOC: c = 'a'; break;
    case MEMWIN_FAULT_DECOMMIT: c = 'd'; break;
    case MEMWIN_FAULT_RELEASE: c = 'f'; break;
    }
    return ok ? c : (char)(c - 'a' + 'A');
}

uint32_t alloc_class(uint32_t type)
{
    uint32_t both = MEMWIN_MEM_COMMIT | MEMWIN_MEM_RESERVE;
    if ((type & both) == both)
        return MEMWIN_FAULT_ALLOC;
    return (type & MEMWIN_MEM_RESERVE) ? MEMWIN_FAULT_RESERVE : MEMWIN_FAULT_COMMIT;
}

void record(uint32_t cls, bool ok)
{
    if (!t_tracing)
        return;
    if (t_letters.size() < 65536)
        t_letters += class_letter(cls, ok);
    t_calls++;
}

uintptr_t raw_reserve(uintptr_t addr, uintptr_t size)
{
    return (uintptr_t)memwin_prim_host()->virtual_alloc((void *)addr, size, MEMWIN_MEM_RESERVE,
                                                        MEMWIN_PAGE_READWRITE);
}

bool raw_release(uintptr_t addr)
{
    return memwin_prim_host()->virtual_free((void *)addr, 0, MEMWIN_MEM_RELEASE) != 0;
}

void squat_after_release(uintptr_t base)
{
    const memwin_prim *host = memwin_prim_host();
    uint32_t err = host->get_last_error();
    if (s_held) {
        raw_release(s_held);
        s_held = 0;
    } else if (s_left > 0) {
        s_left--;
        s_held = raw_reserve((base + s_align - 1) & ~(s_align - 1), 65536);
    }
    host->set_last_error(err);
}

void squat_clear()
{
    s_left = 0;
    if (s_held)
        raw_release(s_held);
    s_held = 0;
}

void *tr_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    void *r = t_below->virtual_alloc(addr, size, type, protect);
    record(alloc_class(type), r != nullptr);
    if (r && t_tracing && ((type & MEMWIN_MEM_RESERVE) || addr == nullptr))
        t_created.push_back((uintptr_t)r);
    return r;
}

int tr_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    uint32_t cls = type == MEMWIN_MEM_RELEASE ? MEMWIN_FAULT_RELEASE : MEMWIN_FAULT_DECOMMIT;
    int r = t_below->virtual_free(addr, size, type);
    record(cls, r != 0);
    if (r && cls == MEMWIN_FAULT_RELEASE && t_tracing) {
        auto it = std::find(t_created.begin(), t_created.end(), (uintptr_t)addr);
        if (it != t_created.end())
            t_created.erase(it);
        squat_after_release((uintptr_t)addr);
    }
    return r;
}

uint32_t tr_virtual_query(const void *addr, memwin_region_info *info)
{
    return t_below->virtual_query(addr, info);
}
uint32_t tr_get_last_error(void) { return t_below->get_last_error(); }
void tr_set_last_error(uint32_t code) { t_below->set_last_error(code); }
void tr_write_stderr(const char *b, size_t n) { t_below->write_stderr(b, n); }
void tr_exit_process(int status) { t_below->exit_process(status); }

const memwin_prim trace_table = {
    tr_virtual_alloc, tr_virtual_free,   tr_virtual_query, tr_get_last_error,
    tr_set_last_error, tr_write_stderr, tr_exit_process, nullptr,
};

// The injector sits between the tracing table and the host's, so the trace
// sees injected failures (as the Go side's hook does).
uint32_t fault_set(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error);
void fault_clear()
{
    if (t_below != memwin_prim_host()) {
        memwin_prim_set(t_below);
        memwin_fault_clear();
    }
    t_below = memwin_prim_host();
    memwin_prim_set(&trace_table);
}
uint32_t fault_set(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error)
{
    fault_clear();
    memwin_prim_set(memwin_prim_host());
    uint32_t r = memwin_fault_set(ops, nth, count, error);
    t_below = memwin_prim_current();
    memwin_prim_set(&trace_table);
    return r;
}

// ---- fatal handler --------------------------------------------------------

std::string f_text;
bool f_hit;

void record_fatal(const char *printed, const char *message, void *)
{
    f_text = std::string(printed ? printed : "") + "fatal error: " + (message ? message : "") + "\n";
    f_hit = true;
}

std::vector<std::string> fatal_lines(const std::string &text)
{
    std::vector<std::string> out;
    std::string t;
    for (char c : text)
        if (c != '\r')
            t += c;
    size_t pos = 0;
    while (pos <= t.size()) {
        size_t nl = t.find('\n', pos);
        std::string l = t.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? t.size() + 1 : nl + 1;
        if (l.empty() && out.empty())
            continue;
        out.push_back(l);
        if (l.rfind("fatal error: ", 0) == 0)
            return out;
    }
    while (!out.empty() && out.back().empty())
        out.pop_back();
    if (out.size() > 20)
        out.resize(20);
    return out;
}

// ---- the runner -------------------------------------------------------------

struct Region {
    std::string name;
    uintptr_t base, size;
};

class Runner {
public:
    std::vector<std::string> out;

    void run(const Scenario &sc)
    {
        const memwin_prim *prev_table = memwin_prim_current();
        t_below = memwin_prim_host();
        memwin_prim_set(&trace_table);
        memwin_fatal_fn prev_fatal = memwin_set_fatal_handler(record_fatal, nullptr);
        f_hit = false;
        t_created.clear();
        stat_ = 0;
        try {
            for (size_t i = 0; i < sc.steps.size(); i++)
                run_step((int)i + 1, sc.steps[i]);
        } catch (const StopScenario &) {
        } catch (const HarnessError &e) {
            emit("0 error " + std::string(e.what()));
        }
        cleanup();
        memwin_set_fatal_handler(prev_fatal == memwin_default_fatal ? nullptr : prev_fatal,
                                 nullptr);
        memwin_prim_set(prev_table == &trace_table ? nullptr : prev_table);
    }

private:
    std::vector<Region> regions_;
    sysMemStat stat_ = 0;

    void emit(const std::string &l) { out.push_back(l); }
    static std::string num(int i) { return std::to_string(i); }

    [[noreturn]] void fail(const std::string &msg) { throw HarnessError(msg); }

    Region *lookup(const std::string &name)
    {
        for (Region &r : regions_)
            if (r.name == name)
                return &r;
        return nullptr;
    }

    void bind(const std::string &name, uintptr_t base, uintptr_t size)
    {
        size = (size + 4095) & ~(uintptr_t)4095;
        if (Region *r = lookup(name)) {
            r->base = base;
            r->size = size;
            return;
        }
        regions_.push_back(Region{name, base, size});
    }

    uintptr_t addr(const std::string &s)
    {
        std::string name;
        int64_t off;
        if (!split_addr(s, name, off))
            fail("bad address " + s);
        if (name.empty())
            return (uintptr_t)off;
        Region *r = lookup(name);
        if (!r)
            fail("region " + name + " is not defined");
        return r->base + (uintptr_t)off;
    }

    uintptr_t size(const std::string &s)
    {
        uint64_t v;
        if (!parse_number(s, v))
            fail("bad number " + s);
        return (uintptr_t)v;
    }

    std::string rel(uintptr_t a)
    {
        for (size_t i = regions_.size(); i-- > 0;)
            if (regions_[i].base != 0 && regions_[i].base == a)
                return regions_[i].name + "+0";
        for (const Region &r : regions_)
            if (r.base != 0 && a >= r.base && a - r.base < r.size)
                return r.name + "+" + fmt_size(a - r.base);
        return "";
    }

    bool query(uintptr_t a, memwin_region_info &info, uint32_t &err)
    {
        err = memwin_query((const void *)a, &info);
        return err == 0;
    }

    void observe(int step, const Region &rg)
    {
        uintptr_t end = rg.base + rg.size;
        for (uintptr_t a = rg.base; a < end;) {
            memwin_region_info info;
            uint32_t err;
            std::string head = num(step) + " mem " + rg.name + " +" + fmt_size(a - rg.base);
            if (!query(a, info, err)) {
                emit(head + " error=" + std::to_string(err));
                return;
            }
            uintptr_t run_end = (uintptr_t)info.base + info.region_size;
            if (run_end > end)
                run_end = end;
            if (run_end <= a) {
                emit(head + " bad-run");
                return;
            }
            std::string ab = "-";
            if (info.allocation_base) {
                ab = rel((uintptr_t)info.allocation_base);
                if (ab.empty())
                    ab = "?";
            }
            int acc = probe(a) & probe(run_end - 4096);
            std::string access = std::string(1, (acc & 1) ? 'r' : '-') + ((acc & 2) ? 'w' : '-');
            std::string line = head + " " + fmt_size(run_end - a) + " " + state_name(info.state) +
                               " " + prot_name(info.protect) +
                               " ap=" + prot_name(info.allocation_protect) + " base=" + ab + " " +
                               access;
            if (info.state == MEMWIN_MEM_COMMIT && (acc & 1))
                line += is_zero(a, run_end - a) ? " zero" : " data";
            emit(line);
            a = run_end;
        }
    }

    void observe_all(int step)
    {
        for (const Region &r : regions_)
            if (r.base != 0)
                observe(step, r);
    }

    void cleanup()
    {
        fault_clear();
        squat_clear();
        for (uintptr_t b : t_created) {
            memwin_region_info info;
            uint32_t err;
            if (query(b, info, err) && info.state != MEMWIN_MEM_FREE &&
                (uintptr_t)info.allocation_base == b)
                raw_release(b);
        }
        t_created.clear();
    }

    void call(const std::string &op, uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t &r,
              uintptr_t &r2)
    {
        void *v = (void *)a;
        r = r2 = 0;
        if (op == "sysAllocOS") r = (uintptr_t)sysAllocOS(a);
        else if (op == "sysUnusedOS") sysUnusedOS(v, b);
        else if (op == "sysUsedOS") sysUsedOS(v, b);
        else if (op == "sysHugePageOS") sysHugePageOS(v, b);
        else if (op == "sysNoHugePageOS") sysNoHugePageOS(v, b);
        else if (op == "sysHugePageCollapseOS") sysHugePageCollapseOS(v, b);
        else if (op == "sysFreeOS") sysFreeOS(v, b);
        else if (op == "sysFaultOS") sysFaultOS(v, b);
        else if (op == "sysReserveOS") r = (uintptr_t)sysReserveOS(v, b);
        else if (op == "sysMapOS") sysMapOS(v, b);
        else if (op == "needZeroAfterSysUnusedOS") r = needZeroAfterSysUnusedOS() ? 1 : 0;
        else if (op == "sysAlloc") r = (uintptr_t)sysAlloc(a, &stat_);
        else if (op == "sysUnused") sysUnused(v, b);
        else if (op == "sysUsed") sysUsed(v, b, c);
        else if (op == "sysHugePage") sysHugePage(v, b);
        else if (op == "sysNoHugePage") sysNoHugePage(v, b);
        else if (op == "sysHugePageCollapse") sysHugePageCollapse(v, b);
        else if (op == "sysFree") sysFree(v, b, &stat_);
        else if (op == "sysFault") sysFault(v, b);
        else if (op == "sysReserve") r = (uintptr_t)sysReserve(v, b);
        else if (op == "sysMap") sysMap(v, b, &stat_);
        else if (op == "sysUnreserve") sysUnreserve(v, b);
        else if (op == "sysReserveAligned") r = (uintptr_t)sysReserveAligned(v, b, c, &r2);
        else if (op == "needZeroAfterSysUnused") r = needZeroAfterSysUnused() ? 1 : 0;
        else fail("unknown operation " + op);
    }

    void run_step(int i, const Step &st)
    {
        const OpInfo *op = find_op(st.op);
        if (op->harness) {
            harness_step(i, st);
            return;
        }
        uintptr_t a[3] = {0, 0, 0}, hint = 0;
        for (size_t k = 0; k < st.args.size(); k++) {
            char kind = op->args[k];
            if (kind == 'v') {
                a[k] = addr(st.args[k]);
                if (k == 0)
                    hint = a[k];
            } else if (kind == 'n') {
                a[k] = size(st.args[k]);
            }
        }
        uint64_t stat0 = memwin_stat_load(&stat_), mr0 = memwin_mapped_ready();
        t_letters.clear();
        t_calls = 0;
        t_tracing = true;
        uintptr_t r, r2;
        call(st.op, a[0], a[1], a[2], r, r2);
        t_tracing = false;
        uint64_t mr1 = memwin_mapped_ready(), stat1 = memwin_stat_load(&stat_);
        if (f_hit) {
            f_hit = false;
            for (const std::string &l : fatal_lines(f_text))
                emit(num(i) + " stderr " + l);
            emit(num(i) + " exit 2");
            throw StopScenario();
        }
        switch (op->ret) {
        case kBool:
            emit(num(i) + " ret " + (r ? "true" : "false"));
            break;
        case kPtr:
        case kAligned: {
            std::string s;
            if (r == 0)
                s = "nil";
            else if (hint != 0 && r == hint)
                s = "hint";
            else if ((s = rel(r)).empty())
                s = "new";
            emit(num(i) + " ret " + s);
            if (r != 0)
                emit(num(i) + " ret-align " + fmt_size(low_align(r)));
            if (op->ret == kAligned)
                emit(num(i) + " reserved " + fmt_size(r2));
            break;
        }
        case kVoid:
            break;
        }
        emit(num(i) + " calls " + fmt_calls(t_letters, t_calls));
        emit(num(i) + " stat " + fmt_delta(stat1 - stat0));
        emit(num(i) + " mr " + fmt_delta(mr1 - mr0));
        if (!st.bind.empty()) {
            uintptr_t sz = 0;
            if (st.op == "sysAllocOS" || st.op == "sysAlloc")
                sz = a[0];
            else if (st.op == "sysReserveOS" || st.op == "sysReserve")
                sz = a[1];
            else if (st.op == "sysReserveAligned")
                sz = r2;
            if (r == 0)
                sz = 0;
            bind(st.bind, r, sz);
        }
        observe_all(i);
        if (st.fatal)
            emit(num(i) + " exit 0");
    }

    void harness_step(int i, const Step &st)
    {
        const std::string &op = st.op;
        if (op == "free") {
            uintptr_t sz = size(st.args[1]), align = 65536;
            if (st.args.size() > 2)
                align = size(st.args[2]);
            if (align == 0 || (align & (align - 1)) != 0)
                fail("free: alignment is not a power of two");
            uintptr_t p = raw_reserve(0, sz + align);
            if (p == 0)
                fail("free: cannot find free address space");
            raw_release(p);
            bind(st.args[0], (p + align - 1) & ~(align - 1), sz);
        } else if (op == "region") {
            bind(st.args[0], addr(st.args[1]), size(st.args[2]));
        } else if (op == "drop") {
            Region *rg = lookup(st.args[0]);
            if (!rg)
                fail("drop: region " + st.args[0] + " is not defined");
            regions_.erase(regions_.begin() + (rg - regions_.data()));
        } else if (op == "fill") {
            uintptr_t v = addr(st.args[0]), n = size(st.args[1]);
            bool ok = n > 0;
            for (uintptr_t p = v & ~(uintptr_t)4095; p < v + n && ok;) {
                memwin_region_info info;
                uint32_t err;
                if (!query(p, info, err) || info.state != MEMWIN_MEM_COMMIT ||
                    info.protect != MEMWIN_PAGE_READWRITE) {
                    ok = false;
                    break;
                }
                p = (uintptr_t)info.base + info.region_size;
            }
            if (ok)
                memset((void *)v, 0xA5, n);
            emit(num(i) + (ok ? " fill ok" : " fill refused"));
        } else if (op == "setstat") {
            stat_ = size(st.args[0]);
        } else if (op == "fault") {
            uint32_t cls = 0;
            parse_classes(st.args[0], cls);
            if (fault_set(cls, size(st.args[1]), size(st.args[2]), (uint32_t)size(st.args[3])) != 0)
                fail("fault: memwin_fault_set refused");
        } else if (op == "nofault") {
            fault_clear();
        } else if (op == "squat") {
            squat_clear();
            s_align = size(st.args[0]);
            if (s_align == 0)
                s_align = 65536;
            s_left = size(st.args[1]);
        } else {
            fail("unknown harness operation " + op);
        }
    }
};

// ---- golden comparison (golden.go) ------------------------------------------

struct Entry {
    int step;
    std::string field, value;
};

std::vector<Entry> parse_obs(const std::vector<std::string> &lines)
{
    std::vector<Entry> out;
    std::map<std::string, int> seen;
    for (const std::string &l : lines) {
        Entry e;
        size_t a = l.find(' ');
        std::string stepstr = l.substr(0, a);
        e.step = atoi(stepstr.c_str());
        std::string rest = a == std::string::npos ? "" : l.substr(a + 1);
        size_t b = rest.find(' ');
        e.field = rest.substr(0, b);
        e.value = b == std::string::npos ? "" : rest.substr(b + 1);
        if (e.field == "mem") {
            size_t c = e.value.find(' ');
            e.field = "mem " + e.value.substr(0, c);
            e.value = c == std::string::npos ? "" : e.value.substr(c + 1);
        }
        std::string base = stepstr + " " + e.field;
        int k = seen[base]++;
        if (k > 0 || e.field == "stderr" || e.field.rfind("mem ", 0) == 0)
            e.field += "#" + std::to_string(k + 1);
        out.push_back(e);
    }
    return out;
}

} // namespace

std::string vectors_dir()
{
    std::string d = MEMWIN_VECTORS_DIR;
#if defined(_WIN32)
    if (!d.empty() && d[0] == '/') {
        d = "Z:" + d;
        std::replace(d.begin(), d.end(), '/', '\\');
    }
#endif
    return d;
}

std::vector<std::string> scenario_names()
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(vectors_dir(), ec)) {
        std::filesystem::path p = e.path();
        if (p.extension() == ".vec")
            names.push_back(p.stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

static std::string file_path(const std::string &name, const char *ext)
{
    return (std::filesystem::path(vectors_dir()) / (name + ext)).string();
}

bool load_scenario(const std::string &name, Scenario &sc, std::string &err)
{
    std::ifstream in(file_path(name, ".vec"));
    if (!in) {
        err = "cannot open " + file_path(name, ".vec");
        return false;
    }
    sc = Scenario();
    sc.name = name;
    std::string raw;
    int ln = 0;
    auto bad = [&](const std::string &m) {
        err = name + ".vec:" + std::to_string(ln) + ": " + m;
        return false;
    };
    while (std::getline(in, raw)) {
        ln++;
        size_t h = raw.find('#');
        if (h != std::string::npos)
            raw.resize(h);
        std::vector<std::string> f = fields_of(raw);
        if (f.empty())
            continue;
        if (f[0] == "desc") {
            sc.desc = join(f, 1);
            continue;
        }
        if (f[0] == "since") {
            if (f.size() != 2)
                return bad("since wants one version");
            sc.since = f[1];
            continue;
        }
        Step st;
        st.line = ln;
        st.text = join(f);
        size_t k = 0;
        if (f[k] == "fatal") {
            st.fatal = true;
            k++;
        }
        if (f.size() >= k + 2 && f[k + 1] == "=") {
            if (!is_ident(f[k]))
                return bad("bad name " + f[k]);
            st.bind = f[k];
            k += 2;
        }
        if (k >= f.size())
            return bad("missing operation");
        const OpInfo *op = find_op(f[k]);
        if (!op)
            return bad("unknown operation " + f[k]);
        st.op = f[k];
        st.args.assign(f.begin() + (long)k + 1, f.end());
        std::string kinds = op->args;
        size_t need = kinds.find('|');
        if (need != std::string::npos)
            kinds.erase(need, 1);
        else
            need = kinds.size();
        if (st.args.size() < need || st.args.size() > kinds.size())
            return bad(st.op + ": wrong number of arguments");
        if (!st.bind.empty() && op->ret != kPtr && op->ret != kAligned)
            return bad(st.op + " returns no pointer to name");
        if (st.fatal && op->harness)
            return bad("harness operations cannot be fatal");
        for (size_t i = 0; i < st.args.size(); i++) {
            const std::string &a = st.args[i];
            uint64_t v;
            std::string n;
            int64_t o;
            uint32_t c;
            bool ok = true;
            switch (kinds[i]) {
            case 's': ok = a == "stat"; break;
            case 'N': ok = is_ident(a); break;
            case 'n': ok = parse_number(a, v); break;
            case 'o': ok = parse_classes(a, c); break;
            case 'v': ok = split_addr(a, n, o); break;
            }
            if (!ok)
                return bad("bad argument " + a);
        }
        if (!sc.steps.empty() && sc.steps.back().fatal)
            return bad("a fatal step must be the last step");
        sc.steps.push_back(st);
    }
    if (sc.steps.empty())
        return bad("no steps");
    return true;
}

bool read_golden(const std::string &name, std::vector<std::string> &out)
{
    std::ifstream in(file_path(name, ".golden"));
    if (!in)
        return false;
    std::string l;
    out.clear();
    while (std::getline(in, l)) {
        if (!l.empty() && l.back() == '\r')
            l.pop_back();
        if (l.empty() || l[0] == '#')
            continue;
        out.push_back(l);
    }
    return true;
}

std::vector<std::string> run_scenario(const Scenario &sc)
{
    Runner r;
    r.run(sc);
    return r.out;
}

std::vector<std::string> compare(const Scenario &sc, const std::vector<std::string> &want,
                                 const std::vector<std::string> &got, const char *got_name)
{
    std::vector<Entry> w = parse_obs(want), g = parse_obs(got);
    std::map<std::string, std::string> wv, gv;
    auto key = [](const Entry &e) { return std::to_string(e.step) + " " + e.field; };
    for (const Entry &e : w)
        wv[key(e)] = e.value;
    for (const Entry &e : g)
        gv[key(e)] = e.value;
    std::vector<std::string> out;
    auto text = [&](int step) {
        return step >= 1 && step <= (int)sc.steps.size() ? sc.steps[step - 1].text : "-";
    };
    auto add = [&](const Entry &e, const std::string &want_v, const std::string &got_v) {
        out.push_back(sc.name + ": step " + std::to_string(e.step) + " (" + text(e.step) +
                      "), field " + e.field + ": Go (golden) = \"" + want_v + "\", " + got_name +
                      " = \"" + got_v + "\"");
    };
    for (const Entry &e : w) {
        auto it = gv.find(key(e));
        if (it == gv.end())
            add(e, e.value, "(missing)");
        else if (it->second != e.value)
            add(e, e.value, it->second);
    }
    for (const Entry &e : g)
        if (!wv.count(key(e)))
            add(e, "(missing)", e.value);
    return out;
}

} // namespace memwin_vectors
