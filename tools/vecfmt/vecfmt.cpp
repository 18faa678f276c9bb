// The conformance-vector format; see vecfmt.h and tests/vectors/FORMAT.md.
#include "vecfmt.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace memwin_vecfmt {

// ---- operations ----

namespace {
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
} // namespace

const OpInfo *find_op(const std::string &name)
{
    for (const OpInfo &op : kOps)
        if (name == op.name)
            return &op;
    return nullptr;
}

// ---- values ----

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
        {"reserve", kFaultReserve}, {"commit", kFaultCommit},   {"alloc", kFaultAlloc},
        {"decommit", kFaultDecommit}, {"release", kFaultRelease},
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

std::string join(const std::vector<std::string> &v, size_t from)
{
    std::string s;
    for (size_t i = from; i < v.size(); i++) {
        if (i > from)
            s += ' ';
        s += v[i];
    }
    return s;
}

// ---- scenarios and goldens ----

bool parse_scenario(std::istream &in, const std::string &name, const std::string &where,
                    Scenario &sc, std::string &err)
{
    sc = Scenario();
    sc.name = name;
    std::string raw;
    int ln = 0;
    auto bad = [&](const std::string &m) {
        err = where + ":" + std::to_string(ln) + ": " + m;
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
        if (f[0] == "env") {
            if (f.size() != 2 || f[1].find('=') == std::string::npos || f[1][0] == '=')
                return bad("env wants one NAME=VALUE");
            sc.env.push_back(f[1]);
            continue;
        }
        if (f[0] == "golden") {
            if (f.size() == 2 && f[1] == "386") {
                sc.golden386 = true;
                continue;
            }
            if (f.size() != 2 || f[1].compare(0, 4, "go1.") != 0)
                return bad("golden wants one version like go1.21, or 386");
            sc.goldens.push_back(f[1]);
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
    if (!sc.env.empty() && !sc.steps.back().fatal)
        return bad("env needs a fatal last step");
    return true;
}

// "go1.N[.P]" as three numbers; "" is the oldest.
static void version_parts(const std::string &v, long p[3])
{
    size_t i = v.compare(0, 2, "go") == 0 ? 2 : 0;
    for (int k = 0; k < 3; k++) {
        p[k] = 0;
        while (i < v.size() && v[i] >= '0' && v[i] <= '9')
            p[k] = p[k] * 10 + (v[i++] - '0');
        while (i < v.size() && v[i] != '.')
            i++;
        if (i < v.size())
            i++;
    }
}

static bool version_less(const std::string &a, const std::string &b)
{
    long pa[3], pb[3];
    version_parts(a, pa);
    version_parts(b, pb);
    for (int k = 0; k < 3; k++)
        if (pa[k] != pb[k])
            return pa[k] < pb[k];
    return false;
}

std::string golden_suffix(const Scenario &sc, const std::string &version, bool ptr32)
{
    std::string best;
    for (const std::string &v : sc.goldens)
        if (!version_less(version, v) && version_less(best, v))
            best = v;
    std::string arch = ptr32 && sc.golden386 ? ".386" : "";
    return (best.empty() ? "" : "." + best) + arch + ".golden";
}

bool parse_golden(std::istream &in, const std::string &where, bool strict,
                  std::vector<std::string> &out, std::string &err)
{
    std::string l;
    int ln = 0;
    out.clear();
    while (std::getline(in, l)) {
        ln++;
        if (!l.empty() && l.back() == '\r')
            l.pop_back();
        if (l.empty() || l[0] == '#')
            continue;
        std::vector<std::string> f;
        uint64_t v;
        if (strict && ((f = fields_of(l)).size() < 2 || !parse_number(f[0], v))) {
            err = where + ":" + std::to_string(ln) + ": not \"STEP FIELD VALUE\"";
            return false;
        }
        out.push_back(l);
    }
    return true;
}

std::vector<std::string> scenario_names(const std::string &dir)
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(dir, ec)) {
        std::filesystem::path p = e.path();
        if (p.extension() == ".vec")
            names.push_back(p.stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string step_text(const Scenario &sc, int step)
{
    return step >= 1 && step <= (int)sc.steps.size() ? sc.steps[(size_t)step - 1].text : "-";
}

// ---- formatting of observed values ----

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
    std::string head = letters.substr(0, 60), tail;
    if (letters.size() == n && n > 100)
        tail = letters.substr(n - 40);
    return head + "..." + tail + "(" + std::to_string(n) + " calls)";
}

std::string state_name(uint32_t s)
{
    switch (s) {
    case kMemCommit: return "commit";
    case kMemReserve: return "reserve";
    case kMemFree: return "free";
    }
    char b[32];
    snprintf(b, sizeof b, "state0x%x", (unsigned)s);
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
    snprintf(b, sizeof b, "0x%x", (unsigned)p);
    return b;
}

uintptr_t low_align(uintptr_t p)
{
    uintptr_t a = p & (~p + 1);
    if (a > 65536 || a == 0)
        a = 65536;
    return a;
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

// ---- named regions ----

Region *Regions::lookup(const std::string &name)
{
    for (Region &r : list)
        if (r.name == name)
            return &r;
    return nullptr;
}

void Regions::bind(const std::string &name, uintptr_t base, uintptr_t size)
{
    size = (size + 4095) & ~(uintptr_t)4095;
    if (Region *r = lookup(name)) {
        r->base = base;
        r->size = size;
        return;
    }
    list.push_back(Region{name, base, size});
}

void Regions::drop(const std::string &name)
{
    Region *rg = lookup(name);
    if (!rg)
        throw StepError("drop: region " + name + " is not defined");
    list.erase(list.begin() + (rg - list.data()));
}

uintptr_t Regions::addr(const std::string &s)
{
    std::string name;
    int64_t off;
    if (!split_addr(s, name, off))
        throw StepError("bad address " + s);
    if (name.empty())
        return (uintptr_t)off;
    Region *r = lookup(name);
    if (!r)
        throw StepError("region " + name + " is not defined");
    return r->base + (uintptr_t)off;
}

uint64_t number64(const std::string &s)
{
    uint64_t v;
    if (!parse_number(s, v))
        throw StepError("bad number " + s);
    return v;
}

std::string wide_number(const Scenario &sc)
{
    for (const Step &st : sc.steps) {
        if (st.op == "setstat" || st.op == "fault")
            continue;
        for (const std::string &a : st.args) {
            std::string num = a;
            if (a.empty())
                continue;
            if (a[0] < '0' || a[0] > '9') {
                size_t i = a.find_first_of("+-");
                if (i == std::string::npos)
                    continue;
                num = a.substr(i + 1);
            }
            uint64_t v;
            if (parse_number(num, v) && v > 0xffffffffu)
                return a;
        }
    }
    return "";
}

uintptr_t Regions::size(const std::string &s)
{
    uint64_t v;
    if (!parse_number(s, v))
        throw StepError("bad number " + s);
    return (uintptr_t)v;
}

std::string Regions::rel(uintptr_t a)
{
    for (size_t i = list.size(); i-- > 0;)
        if (list[i].base != 0 && list[i].base == a)
            return list[i].name + "+0";
    for (const Region &r : list)
        if (r.base != 0 && a >= r.base && a - r.base < r.size)
            return r.name + "+" + fmt_size(a - r.base);
    return "";
}

void Regions::args(const OpInfo &op, const Step &st, uint64_t a[3], uint64_t &hint)
{
    a[0] = a[1] = a[2] = 0;
    hint = 0;
    size_t vi = 0;
    for (size_t k = 0; k < st.args.size(); k++) {
        char kind = op.args[k];
        if (kind == 'v') {
            a[vi] = addr(st.args[k]);
            if (k == 0)
                hint = a[vi];
            vi++;
        } else if (kind == 'n') {
            a[vi++] = size(st.args[k]);
        }
    }
}

std::vector<std::string> Regions::result(int step, const OpInfo &op, const Step &st,
                                         const uint64_t a[3], uint64_t hint, uint64_t r,
                                         uint64_t r2, const std::string &calls, uint64_t dstat,
                                         uint64_t dmr)
{
    std::vector<std::string> out;
    std::string n = std::to_string(step);
    switch (op.ret) {
    case kBool:
        out.push_back(n + " ret " + (r ? "true" : "false"));
        break;
    case kPtr:
    case kAligned: {
        std::string s;
        if (r == 0)
            s = "nil";
        else if (hint != 0 && r == hint)
            s = "hint";
        else if ((s = rel((uintptr_t)r)).empty())
            s = "new";
        out.push_back(n + " ret " + s);
        if (r != 0)
            out.push_back(n + " ret-align " + fmt_size(low_align((uintptr_t)r)));
        if (op.ret == kAligned)
            out.push_back(n + " reserved " + fmt_size(r2));
        break;
    }
    case kVoid:
        break;
    }
    out.push_back(n + " calls " + calls);
    out.push_back(n + " stat " + fmt_delta(dstat));
    out.push_back(n + " mr " + fmt_delta(dmr));
    if (!st.bind.empty()) {
        uintptr_t sz = 0;
        if (st.op == "sysAllocOS" || st.op == "sysAlloc")
            sz = (uintptr_t)a[0];
        else if (st.op == "sysReserveOS" || st.op == "sysReserve")
            sz = (uintptr_t)a[1];
        else if (st.op == "sysReserveAligned")
            sz = (uintptr_t)r2;
        if (r == 0)
            sz = 0;
        bind(st.bind, (uintptr_t)r, sz);
    }
    return out;
}

// ---- observation and harness operations ----

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
    if (write(fds[1], (const void *)addr, 1) != 1)
        return 0;
    int r = 1;
    if (read(fds[0], (void *)addr, 1) == 1) {
        r |= 2;
    } else {
        char tmp;
        (void)!read(fds[0], &tmp, 1);
    }
    return r;
}
#endif

const char *content_class(uintptr_t a, uintptr_t n)
{
    static const char *const names[3] = {"zero", "fill", "data"};
    return names[vf_content_class(a, n)];
}

void CallTrace::add(uint32_t cls, bool ok)
{
    if (letters.size() < 65536)
        letters += vf_call_letter(cls, ok);
    calls++;
}

void harness_step(int i, const Step &st, Regions &regions, Harness &h,
                  std::vector<std::string> &out)
{
    const std::string &op = st.op;
    if (op == "free") {
        uintptr_t sz = regions.size(st.args[1]), align = 65536;
        if (st.args.size() > 2)
            align = regions.size(st.args[2]);
        if (align == 0 || (align & (align - 1)) != 0)
            throw StepError("free: alignment is not a power of two");
        // The range is taken from the middle of a larger free one, so that
        // neither a top-down allocator (the kernel's) nor a first-fit
        // bottom-up one (valgrind's) hands it to another mapping of the
        // process before the scenario's hinted calls reach it.
        const uintptr_t pad = uintptr_t(64) << 20;
        uintptr_t p = h.reserve(pad + sz + align + pad);
        if (p == 0)
            throw StepError("free: cannot find free address space");
        h.release(p, pad + sz + align + pad);
        regions.bind(st.args[0], (p + pad + align - 1) & ~(align - 1), sz);
    } else if (op == "region") {
        regions.bind(st.args[0], regions.addr(st.args[1]), regions.size(st.args[2]));
    } else if (op == "drop") {
        regions.drop(st.args[0]);
    } else if (op == "fill") {
        uintptr_t v = regions.addr(st.args[0]), n = regions.size(st.args[1]);
        bool ok = h.writable(v, n);
        if (ok)
            memset((void *)v, 0xA5, n);
        out.push_back(std::to_string(i) + (ok ? " fill ok" : " fill refused"));
    } else if (op == "setstat") {
        h.set_stat(number64(st.args[0]));
    } else if (op == "fault") {
        uint32_t cls = 0;
        parse_classes(st.args[0], cls);
        if (!h.fault(cls, number64(st.args[1]), number64(st.args[2]),
                     (uint32_t)number64(st.args[3])))
            throw StepError("fault: memwin_fault_set refused");
    } else if (op == "nofault") {
        h.nofault();
    } else if (op == "squat") {
        uintptr_t align = regions.size(st.args[0]);
        h.squat(align == 0 ? 65536 : align, number64(st.args[1]));
    } else {
        throw StepError("unknown harness operation " + op);
    }
}

// ---- comparison ----

namespace {
struct Entry {
    int step;
    std::string field, value;
    uint64_t order;
};

std::vector<Entry> parse_obs(const std::vector<std::string> &lines)
{
    std::vector<Entry> out;
    std::map<std::string, int> seen;
    uint64_t order = 0;
    for (const std::string &l : lines) {
        Entry e;
        e.order = order++;
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

std::vector<Diff> diff_obs(const std::vector<std::string> &want,
                           const std::vector<std::string> &got,
                           const std::set<std::string> &skip, size_t &compared)
{
    std::vector<Entry> w = parse_obs(want), g = parse_obs(got);
    auto skipped = [&](const Entry &e) { return skip.count(e.field.substr(0, e.field.find('#'))) != 0; };
    std::map<std::string, const Entry *> wv, gv;
    auto key = [](const Entry &e) { return std::to_string(e.step) + " " + e.field; };
    for (const Entry &e : w)
        wv[key(e)] = &e;
    for (const Entry &e : g)
        gv[key(e)] = &e;
    std::vector<Diff> out;
    compared = 0;
    for (const Entry &e : w) {
        if (skipped(e))
            continue;
        compared++;
        auto it = gv.find(key(e));
        if (it == gv.end())
            out.push_back(Diff{e.step, e.field, e.value, "(missing)", e.order});
        else if (it->second->value != e.value)
            out.push_back(Diff{e.step, e.field, e.value, it->second->value, e.order});
    }
    for (const Entry &e : g)
        if (!skipped(e) && !wv.count(key(e)))
            out.push_back(Diff{e.step, e.field, "(missing)", e.value, (uint64_t)1 << 40 | e.order});
    return out;
}

} // namespace memwin_vecfmt
