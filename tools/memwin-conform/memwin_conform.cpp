// memwin-conform: runs the conformance scenarios (tests/vectors/*.vec) against
// any implementation of Go's Windows memory layer given as a shared library,
// calling its exports through libffi with the signatures of
// tests/vectors/manifest.txt, and compares the observations with the goldens.
// Observation rules follow tests/vectors_replay.cpp (and tools/conform).
// See README.md next to this file.
#include <ffi.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MEMWIN_VECTORS_DIR
#define MEMWIN_VECTORS_DIR "tests/vectors"
#endif

namespace {

using std::map;
using std::string;
using std::vector;

// ---- ABI mirrors (include/memwin.h, include/memwin_prim.h) ----------------

const uint32_t MEM_COMMIT = 0x1000, MEM_RESERVE = 0x2000, MEM_FREE = 0x10000;
const uint32_t MEM_DECOMMIT = 0x4000, MEM_RELEASE = 0x8000;
const uint32_t PAGE_READWRITE = 4;
const uint32_t F_RESERVE = 1, F_COMMIT = 2, F_ALLOC = 4, F_DECOMMIT = 8, F_RELEASE = 16;

struct RegionInfo {
    void *base;
    void *allocation_base;
    uint32_t allocation_protect;
    uint32_t state;
    uint32_t protect;
    uintptr_t region_size;
};

struct Prim {
    void *(*virtual_alloc)(void *, uintptr_t, uint32_t, uint32_t);
    int (*virtual_free)(void *, uintptr_t, uint32_t);
    uint32_t (*virtual_query)(const void *, RegionInfo *);
    uint32_t (*get_last_error)(void);
    void (*set_last_error)(uint32_t);
    void (*write_stderr)(const char *, size_t);
    void (*exit_process)(int);
};

// ---- small helpers (as in vectors_replay.cpp) --------------------------------

vector<string> fields_of(const string &line)
{
    vector<string> f;
    std::istringstream in(line);
    string w;
    while (in >> w)
        f.push_back(w);
    return f;
}

string join(const vector<string> &v, size_t from = 0)
{
    string s;
    for (size_t i = from; i < v.size(); i++) {
        if (i > from)
            s += ' ';
        s += v[i];
    }
    return s;
}

bool is_ident(const string &s)
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

bool parse_number(const string &s, uint64_t &out)
{
    uint64_t mult = 1;
    string body = s;
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

bool split_addr(const string &s, string &name, int64_t &off)
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
    if (i == string::npos) {
        name = s;
        return is_ident(s);
    }
    name = s.substr(0, i);
    if (!is_ident(name) || !parse_number(s.substr(i + 1), v))
        return false;
    off = (int64_t)(s[i] == '-' ? ~v + 1 : v);
    return true;
}

bool parse_classes(const string &s, uint32_t &out)
{
    static const map<string, uint32_t> bits = {
        {"reserve", F_RESERVE}, {"commit", F_COMMIT},   {"alloc", F_ALLOC},
        {"decommit", F_DECOMMIT}, {"release", F_RELEASE},
    };
    out = 0;
    std::stringstream in(s);
    string w;
    while (std::getline(in, w, ',')) {
        auto it = bits.find(w);
        if (it == bits.end())
            return false;
        out |= it->second;
    }
    return out != 0;
}

string fmt_size(uint64_t v)
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

string fmt_delta(uint64_t d)
{
    if ((int64_t)d < 0)
        return "-" + fmt_size(~d + 1);
    return "+" + fmt_size(d);
}

string fmt_calls(const string &letters, size_t n)
{
    if (n == 0)
        return "-";
    if (n <= 120 && letters.size() == n)
        return letters;
    string head = letters.substr(0, 60), tail;
    if (letters.size() == n && n > 100)
        tail = letters.substr(n - 40);
    return head + "..." + tail + "(" + std::to_string(n) + " calls)";
}

string state_name(uint32_t s)
{
    switch (s) {
    case MEM_COMMIT: return "commit";
    case MEM_RESERVE: return "reserve";
    case MEM_FREE: return "free";
    }
    char b[32];
    snprintf(b, sizeof b, "state0x%x", s);
    return b;
}

string prot_name(uint32_t p)
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

// Fault-free probe: the kernel answers EFAULT instead of faulting when a pipe
// transfer touches an inaccessible page.
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

bool is_zero(uintptr_t a, uintptr_t n)
{
    const volatile unsigned char *p = (const volatile unsigned char *)a;
    for (uintptr_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

vector<string> fatal_lines(const string &text)
{
    vector<string> out;
    string t;
    for (char c : text)
        if (c != '\r')
            t += c;
    size_t pos = 0;
    while (pos <= t.size()) {
        size_t nl = t.find('\n', pos);
        string l = t.substr(pos, nl == string::npos ? string::npos : nl - pos);
        pos = nl == string::npos ? t.size() + 1 : nl + 1;
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

string json_str(const string &s)
{
    string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += (char)c;
        } else if (c < 0x20) {
            char b[8];
            snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else {
            o += (char)c;
        }
    }
    return o + "\"";
}

// ---- operations ------------------------------------------------------------

enum RetKind { kVoid, kPtr, kBool, kAligned };

struct OpInfo {
    const char *name;
    const char *args; // v address, n size, s stat, N name, o classes; '|' optional after
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

const OpInfo *find_op(const string &name)
{
    for (const OpInfo &op : kOps)
        if (name == op.name)
            return &op;
    return nullptr;
}

// ---- manifest ----------------------------------------------------------------

struct Sig {
    string ret;
    vector<string> params;
    int line = 0;
};

struct Manifest {
    string path;
    map<string, Sig> fns;
};

ffi_type *ffi_of(const string &t)
{
    if (t == "void") return &ffi_type_void;
    if (t == "ptr") return &ffi_type_pointer;
    if (t == "uintptr") return sizeof(uintptr_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    if (t == "bool") return &ffi_type_uint8;
    if (t == "u32") return &ffi_type_uint32;
    if (t == "u64") return &ffi_type_uint64;
    if (t == "i64") return &ffi_type_sint64;
    return nullptr;
}

bool load_manifest(const string &path, Manifest &m, string &err)
{
    std::ifstream in(path);
    if (!in) {
        err = path + ": cannot open";
        return false;
    }
    m.path = path;
    string raw;
    int ln = 0;
    while (std::getline(in, raw)) {
        ln++;
        size_t h = raw.find('#');
        if (h != string::npos)
            raw.resize(h);
        vector<string> f = fields_of(raw);
        if (f.empty())
            continue;
        auto bad = [&](const string &why) {
            err = path + ":" + std::to_string(ln) + ": " + why;
            return false;
        };
        if (!is_ident(f[0]))
            return bad("bad function name \"" + f[0] + "\"");
        if (f.size() < 2)
            return bad(f[0] + ": missing return type");
        if (m.fns.count(f[0]))
            return bad(f[0] + ": declared again (first on line " +
                       std::to_string(m.fns[f[0]].line) + ")");
        Sig s;
        s.line = ln;
        s.ret = f[1];
        if (!ffi_of(s.ret))
            return bad(f[0] + ": unknown return type \"" + s.ret + "\"");
        for (size_t i = 2; i < f.size(); i++) {
            if (!ffi_of(f[i]) || f[i] == "void")
                return bad(f[0] + ": bad parameter type \"" + f[i] + "\"");
            s.params.push_back(f[i]);
        }
        m.fns[f[0]] = s;
    }
    if (m.fns.empty()) {
        err = path + ":" + std::to_string(ln) + ": no functions declared";
        return false;
    }
    return true;
}

// What the runner passes for each operation: parameter kinds and return.
// 'v' address, 'n' size, 's' stat pointer, 'o' out-pointer.
bool type_fits(char kind, const string &t)
{
    switch (kind) {
    case 'v': return t == "ptr" || t == "uintptr";
    case 'n': return t == "uintptr" || t == "u64";
    case 's': case 'o': return t == "ptr";
    }
    return false;
}

string expected_params(const OpInfo &op)
{
    string k = op.args;
    if (op.ret == kAligned)
        k += 'o';
    return k;
}

bool ret_fits(RetKind r, const string &t)
{
    switch (r) {
    case kVoid: return t == "void";
    case kPtr: case kAligned: return t == "ptr" || t == "uintptr";
    case kBool: return t == "bool";
    }
    return false;
}

// ---- scenarios ---------------------------------------------------------------

struct Step {
    int line = 0;
    string text;
    bool fatal = false;
    string bind, op;
    vector<string> args;
};

struct Scenario {
    string name, desc, since;
    vector<Step> steps;
};

bool load_scenario(const string &dir, const string &name, Scenario &sc, string &err)
{
    string path = dir + "/" + name + ".vec";
    std::ifstream in(path);
    if (!in) {
        err = path + ": cannot open";
        return false;
    }
    sc = Scenario();
    sc.name = name;
    string raw;
    int ln = 0;
    auto bad = [&](const string &m) {
        err = path + ":" + std::to_string(ln) + ": " + m;
        return false;
    };
    while (std::getline(in, raw)) {
        ln++;
        size_t h = raw.find('#');
        if (h != string::npos)
            raw.resize(h);
        vector<string> f = fields_of(raw);
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
        string kinds = op->args;
        size_t need = kinds.find('|');
        if (need != string::npos)
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
            const string &a = st.args[i];
            uint64_t v;
            string n;
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

bool read_golden(const string &dir, const string &name, vector<string> &out, string &err)
{
    string path = dir + "/" + name + ".golden";
    std::ifstream in(path);
    if (!in) {
        err = path + ": cannot open";
        return false;
    }
    string l;
    int ln = 0;
    out.clear();
    while (std::getline(in, l)) {
        ln++;
        if (!l.empty() && l.back() == '\r')
            l.pop_back();
        if (l.empty() || l[0] == '#')
            continue;
        vector<string> f = fields_of(l);
        uint64_t v;
        if (f.size() < 2 || !parse_number(f[0], v)) {
            err = path + ":" + std::to_string(ln) + ": not \"STEP FIELD VALUE\"";
            return false;
        }
        out.push_back(l);
    }
    return true;
}

// ---- the library under test ------------------------------------------------

struct Fn {
    void *addr = nullptr;
    ffi_cif cif;
    vector<ffi_type *> types;
    const Sig *sig = nullptr;
    string problem; // why it cannot be called (signature mismatch, not a function)
};

struct Lib {
    string path;
    void *handle = nullptr;
    map<string, Fn> fns; // resolved and callable
    map<string, string> unusable; // name -> reason (missing / mismatch)
    bool query = false, mr = false, prim = false, fault = false;

    bool has(const string &n) const { return fns.count(n) != 0; }

    uint64_t call(const string &name, std::initializer_list<uint64_t> args)
    {
        Fn &f = fns.at(name);
        vector<uint64_t> vals(args);
        vector<void *> ptrs;
        vector<uint32_t> u32s(vals.size());
        vector<uint8_t> u8s(vals.size());
        vector<void *> pvals(vals.size());
        for (size_t i = 0; i < vals.size(); i++) {
            const string &t = f.sig->params[i];
            if (t == "u32") {
                u32s[i] = (uint32_t)vals[i];
                ptrs.push_back(&u32s[i]);
            } else if (t == "bool") {
                u8s[i] = (uint8_t)vals[i];
                ptrs.push_back(&u8s[i]);
            } else if (t == "ptr") {
                pvals[i] = (void *)(uintptr_t)vals[i];
                ptrs.push_back(&pvals[i]);
            } else {
                ptrs.push_back(&vals[i]);
            }
        }
        union {
            ffi_arg a;
            uint64_t u;
            void *p;
        } rv;
        rv.u = 0;
        ffi_call(&f.cif, FFI_FN(f.addr), &rv, ptrs.empty() ? nullptr : ptrs.data());
        const string &r = f.sig->ret;
        if (r == "void")
            return 0;
        if (r == "bool")
            return (uint8_t)rv.a != 0;
        if (r == "u32")
            return (uint32_t)rv.a;
        if (r == "ptr")
            return (uint64_t)(uintptr_t)rv.p;
        return (uint64_t)rv.u;
    }
};

bool is_function_symbol(void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = nullptr;
    if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
        return true; // cannot tell: assume so
    int t = ELF64_ST_TYPE(sym->st_info);
    return t == STT_FUNC || t == STT_GNU_IFUNC;
}

const char *kHookSigs[][2] = {
    {"memwin_mapped_ready", "u64"},
    {"memwin_query", "u32 ptr ptr"},
    {"memwin_prim_host", "ptr"},
    {"memwin_prim_current", "ptr"},
    {"memwin_prim_set", "ptr ptr"},
    {"memwin_fault_set", "u32 u32 u64 u64 u32"},
    {"memwin_fault_clear", "void"},
};

bool open_lib(Lib &lib, const string &path, const Manifest &m, bool hooks, string &err)
{
    lib.path = path;
    lib.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle) {
        const char *e = dlerror();
        err = path + ": cannot load: " + (e ? e : "?");
        return false;
    }
    for (const auto &kv : m.fns) {
        const string &name = kv.first;
        const Sig &sig = kv.second;
        bool is_hook = name.rfind("memwin_", 0) == 0;
        if (is_hook && !hooks)
            continue;
        dlerror();
        void *a = dlsym(lib.handle, name.c_str());
        if (!a) {
            lib.unusable[name] = "missing symbol " + name;
            continue;
        }
        Fn f;
        f.addr = a;
        f.sig = &sig;
        string want_sig = sig.ret;
        for (const string &p : sig.params)
            want_sig += " " + p;
        string reason;
        if (!is_function_symbol(a))
            reason = "signature mismatch: " + name + " is exported as data, not a function";
        if (reason.empty()) {
            if (const OpInfo *op = find_op(name)) {
                string k = expected_params(*op);
                bool ok = ret_fits(op->ret, sig.ret) && k.size() == sig.params.size();
                for (size_t i = 0; ok && i < k.size(); i++)
                    ok = type_fits(k[i], sig.params[i]);
                if (!ok)
                    reason = "signature mismatch: " + m.path + ":" + std::to_string(sig.line) +
                             " declares " + name + " as \"" + want_sig +
                             "\", which the scenarios' arguments do not fit";
            }
            for (auto &h : kHookSigs)
                if (name == h[0] && want_sig != h[1])
                    reason = "signature mismatch: " + m.path + ":" + std::to_string(sig.line) +
                             " declares " + name + " as \"" + want_sig + "\", expected \"" +
                             h[1] + "\"";
        }
        if (!reason.empty()) {
            lib.unusable[name] = reason;
            continue;
        }
        for (const string &p : sig.params)
            f.types.push_back(ffi_of(p));
        lib.fns[name] = f;
        Fn &g = lib.fns[name];
        if (ffi_prep_cif(&g.cif, FFI_DEFAULT_ABI, (unsigned)g.types.size(), ffi_of(sig.ret),
                         g.types.empty() ? nullptr : g.types.data()) != FFI_OK) {
            lib.unusable[name] = "libffi cannot prepare a call to " + name;
            lib.fns.erase(name);
        }
    }
    lib.query = lib.has("memwin_query");
    lib.mr = lib.has("memwin_mapped_ready");
    lib.prim = lib.has("memwin_prim_host") && lib.has("memwin_prim_current") &&
               lib.has("memwin_prim_set");
    lib.fault = lib.prim && lib.has("memwin_fault_set") && lib.has("memwin_fault_clear");
    return true;
}

// Why scenario sc cannot run on lib ("" if it can), and whether that is a
// failure (a signature mismatch) rather than a skip.
string cannot_run(const Lib &lib, const Scenario &sc, bool &is_error)
{
    is_error = false;
    for (const Step &st : sc.steps) {
        const OpInfo *op = find_op(st.op);
        if (!op->harness) {
            if (!lib.has(st.op)) {
                auto it = lib.unusable.find(st.op);
                if (it != lib.unusable.end()) {
                    is_error = it->second.rfind("signature", 0) == 0;
                    return it->second;
                }
                return "not in the manifest: " + st.op;
            }
        } else if (st.op == "fault" && !lib.fault) {
            return "missing symbol memwin_fault_set (fault injection)";
        } else if (st.op == "squat" && !lib.prim) {
            return "missing symbol memwin_prim_set (squatters)";
        }
    }
    return "";
}

// ---- the child: runs one scenario, writes observation lines to a fd ----------

int g_out = -1;
const Prim *t_below;
const Prim *t_host;
bool t_tracing;
string t_letters;
size_t t_calls;
uintptr_t s_align = 65536;
uint64_t s_left;
uintptr_t s_held;

void out_line(const string &l)
{
    string s = l + "\n";
    (void)!write(g_out, s.data(), s.size());
}

char class_letter(uint32_t cls, bool ok)
{
    char c = '?';
    switch (cls) {
    case F_RESERVE: c = 'r'; break;
    case F_COMMIT: c = 'c'; break;
    case F_ALLOC: c = 'a'; break;
    case F_DECOMMIT: c = 'd'; break;
    case F_RELEASE: c = 'f'; break;
    }
    return ok ? c : (char)(c - 'a' + 'A');
}

uint32_t alloc_class(uint32_t type)
{
    uint32_t both = MEM_COMMIT | MEM_RESERVE;
    if ((type & both) == both)
        return F_ALLOC;
    return (type & MEM_RESERVE) ? F_RESERVE : F_COMMIT;
}

void record(uint32_t cls, bool ok)
{
    if (!t_tracing)
        return;
    if (t_letters.size() < 65536)
        t_letters += class_letter(cls, ok);
    t_calls++;
}

void squat_after_release(uintptr_t base)
{
    uint32_t err = t_host->get_last_error();
    if (s_held) {
        t_host->virtual_free((void *)s_held, 0, MEM_RELEASE);
        s_held = 0;
    } else if (s_left > 0) {
        s_left--;
        s_held = (uintptr_t)t_host->virtual_alloc(
            (void *)((base + s_align - 1) & ~(s_align - 1)), 65536, MEM_RESERVE, PAGE_READWRITE);
    }
    t_host->set_last_error(err);
}

extern "C" {
static void *tr_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    void *r = t_below->virtual_alloc(addr, size, type, protect);
    record(alloc_class(type), r != nullptr);
    return r;
}
static int tr_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    uint32_t cls = type == MEM_RELEASE ? F_RELEASE : F_DECOMMIT;
    int r = t_below->virtual_free(addr, size, type);
    record(cls, r != 0);
    if (r && cls == F_RELEASE && t_tracing)
        squat_after_release((uintptr_t)addr);
    return r;
}
static uint32_t tr_virtual_query(const void *a, RegionInfo *i) { return t_below->virtual_query(a, i); }
static uint32_t tr_get_last_error(void) { return t_below->get_last_error(); }
static void tr_set_last_error(uint32_t c) { t_below->set_last_error(c); }
static void tr_write_stderr(const char *b, size_t n) { t_below->write_stderr(b, n); }
static void tr_exit_process(int s) { t_below->exit_process(s); }
}

const Prim trace_table = {tr_virtual_alloc, tr_virtual_free, tr_virtual_query, tr_get_last_error,
                          tr_set_last_error, tr_write_stderr, tr_exit_process};

struct HarnessError {
    string msg;
};

struct Region {
    string name;
    uintptr_t base, size;
};

struct MapEnt {
    uintptr_t lo, hi;
    bool r, w, x;
};

vector<MapEnt> read_maps()
{
    vector<MapEnt> v;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return v;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8] = {0};
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3)
            v.push_back(MapEnt{lo, hi, perms[0] == 'r', perms[1] == 'w', perms[2] == 'x'});
    }
    fclose(f);
    return v;
}

// Host view of the page at a: Windows-style state and protection, and where
// the run of identically mapped pages ends.
void host_state(const vector<MapEnt> &maps, uintptr_t a, uint32_t &state, uint32_t &prot,
                uintptr_t &end)
{
    for (size_t i = 0; i < maps.size(); i++) {
        const MapEnt &m = maps[i];
        if (a >= m.lo && a < m.hi) {
            state = (m.r || m.w || m.x) ? MEM_COMMIT : MEM_RESERVE;
            prot = !state ? 0 : m.w ? 4 : m.r ? 2 : 1;
            if (state == MEM_RESERVE)
                prot = 0;
            end = m.hi;
            // Adjacent mappings with the same view continue the run.
            for (size_t j = i + 1; j < maps.size() && maps[j].lo == end; j++) {
                const MapEnt &n = maps[j];
                uint32_t s2 = (n.r || n.w || n.x) ? MEM_COMMIT : MEM_RESERVE;
                uint32_t p2 = s2 == MEM_RESERVE ? 0 : n.w ? 4 : n.r ? 2 : 1;
                if (s2 != state || p2 != prot)
                    break;
                end = n.hi;
            }
            return;
        }
        if (m.lo > a) {
            state = MEM_FREE;
            prot = 1;
            end = m.lo;
            return;
        }
    }
    state = MEM_FREE;
    prot = 1;
    end = UINTPTR_MAX & ~(uintptr_t)4095;
}

class Runner {
public:
    explicit Runner(Lib &lib) : lib_(lib) {}

    void run(const Scenario &sc)
    {
        if (lib_.prim) {
            t_host = (const Prim *)(uintptr_t)lib_.call("memwin_prim_host", {});
            t_below = t_host;
            lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)&trace_table});
        }
        try {
            for (size_t i = 0; i < sc.steps.size(); i++)
                run_step((int)i + 1, sc.steps[i]);
        } catch (const HarnessError &e) {
            out_line("0 error " + e.msg);
        }
    }

private:
    Lib &lib_;
    vector<Region> regions_;
    uint64_t stat_ = 0;

    static string num(int i) { return std::to_string(i); }
    [[noreturn]] void fail(const string &m) { throw HarnessError{m}; }

    Region *lookup(const string &name)
    {
        for (Region &r : regions_)
            if (r.name == name)
                return &r;
        return nullptr;
    }

    void bind(const string &name, uintptr_t base, uintptr_t size)
    {
        size = (size + 4095) & ~(uintptr_t)4095;
        if (Region *r = lookup(name)) {
            r->base = base;
            r->size = size;
            return;
        }
        regions_.push_back(Region{name, base, size});
    }

    uintptr_t addr(const string &s)
    {
        string name;
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

    uintptr_t size(const string &s)
    {
        uint64_t v;
        if (!parse_number(s, v))
            fail("bad number " + s);
        return (uintptr_t)v;
    }

    string rel(uintptr_t a)
    {
        for (size_t i = regions_.size(); i-- > 0;)
            if (regions_[i].base != 0 && regions_[i].base == a)
                return regions_[i].name + "+0";
        for (const Region &r : regions_)
            if (r.base != 0 && a >= r.base && a - r.base < r.size)
                return r.name + "+" + fmt_size(a - r.base);
        return "";
    }

    // Page states: the library's own VirtualQuery if it exports one, else
    // the host's view (/proc/self/maps) with ap/base unknown ('?').
    bool query(uintptr_t a, RegionInfo &info, uint32_t &err, const vector<MapEnt> *maps)
    {
        if (lib_.query) {
            err = (uint32_t)lib_.call("memwin_query", {(uint64_t)a, (uint64_t)(uintptr_t)&info});
            return err == 0;
        }
        uint32_t st, pr;
        uintptr_t end;
        host_state(*maps, a & ~(uintptr_t)4095, st, pr, end);
        info.base = (void *)(a & ~(uintptr_t)4095);
        info.allocation_base = nullptr;
        info.allocation_protect = 0;
        info.state = st;
        info.protect = pr;
        info.region_size = end - (a & ~(uintptr_t)4095);
        err = 0;
        return true;
    }

    void observe(int step, const Region &rg, const vector<MapEnt> *maps)
    {
        uintptr_t end = rg.base + rg.size;
        for (uintptr_t a = rg.base; a < end;) {
            RegionInfo info;
            uint32_t err;
            string head = num(step) + " mem " + rg.name + " +" + fmt_size(a - rg.base);
            if (!query(a, info, err, maps)) {
                out_line(head + " error=" + std::to_string(err));
                return;
            }
            uintptr_t run_end = (uintptr_t)info.base + info.region_size;
            if (run_end > end)
                run_end = end;
            if (run_end <= a) {
                out_line(head + " bad-run");
                return;
            }
            string ab = "-", ap = prot_name(info.allocation_protect);
            if (!lib_.query) {
                ab = "?";
                ap = "?";
            } else if (info.allocation_base) {
                ab = rel((uintptr_t)info.allocation_base);
                if (ab.empty())
                    ab = "?";
            }
            int acc = probe(a) & probe(run_end - 4096);
            string access = string(1, (acc & 1) ? 'r' : '-') + ((acc & 2) ? 'w' : '-');
            string line = head + " " + fmt_size(run_end - a) + " " + state_name(info.state) + " " +
                          prot_name(info.protect) + " ap=" + ap + " base=" + ab + " " + access;
            if (info.state == MEM_COMMIT && (acc & 1))
                line += is_zero(a, run_end - a) ? " zero" : " data";
            out_line(line);
            a = run_end;
        }
    }

    void observe_all(int step)
    {
        vector<MapEnt> maps;
        if (!lib_.query)
            maps = read_maps();
        for (const Region &r : regions_)
            if (r.base != 0)
                observe(step, r, &maps);
    }

    uint64_t mapped_ready() { return lib_.mr ? lib_.call("memwin_mapped_ready", {}) : 0; }

    void fault_clear()
    {
        if (!lib_.prim)
            return;
        if (t_below != t_host) {
            lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)t_below});
            lib_.call("memwin_fault_clear", {});
        }
        t_below = t_host;
        lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)&trace_table});
    }

    void call(const string &op, uint64_t a, uint64_t b, uint64_t c, uint64_t &r, uint64_t &r2)
    {
        const OpInfo *info = find_op(op);
        string k = expected_params(*info);
        uint64_t vals[4] = {a, b, c, 0};
        uint64_t statp = (uint64_t)(uintptr_t)&stat_;
        uintptr_t reserved = 0;
        vector<uint64_t> args;
        size_t vi = 0;
        for (char kind : k) {
            if (kind == 's')
                args.push_back(statp);
            else if (kind == 'o')
                args.push_back((uint64_t)(uintptr_t)&reserved);
            else
                args.push_back(vals[vi++]);
        }
        r = r2 = 0;
        Fn &f = lib_.fns.at(op);
        (void)f;
        switch (args.size()) {
        case 0: r = lib_.call(op, {}); break;
        case 1: r = lib_.call(op, {args[0]}); break;
        case 2: r = lib_.call(op, {args[0], args[1]}); break;
        case 3: r = lib_.call(op, {args[0], args[1], args[2]}); break;
        default: r = lib_.call(op, {args[0], args[1], args[2], args[3]}); break;
        }
        r2 = reserved;
    }

    void run_step(int i, const Step &st)
    {
        const OpInfo *op = find_op(st.op);
        out_line("@step " + num(i));
        if (op->harness) {
            harness_step(i, st);
            return;
        }
        uint64_t a[3] = {0, 0, 0}, hint = 0;
        size_t vi = 0;
        for (size_t k = 0; k < st.args.size(); k++) {
            char kind = op->args[k];
            if (kind == 'v') {
                a[vi] = addr(st.args[k]);
                if (k == 0)
                    hint = a[vi];
                vi++;
            } else if (kind == 'n') {
                a[vi++] = size(st.args[k]);
            }
        }
        uint64_t stat0 = __atomic_load_n(&stat_, __ATOMIC_SEQ_CST), mr0 = mapped_ready();
        t_letters.clear();
        t_calls = 0;
        t_tracing = true;
        uint64_t r, r2;
        call(st.op, a[0], a[1], a[2], r, r2);
        t_tracing = false;
        uint64_t mr1 = mapped_ready(), stat1 = __atomic_load_n(&stat_, __ATOMIC_SEQ_CST);
        switch (op->ret) {
        case kBool:
            out_line(num(i) + " ret " + (r ? "true" : "false"));
            break;
        case kPtr:
        case kAligned: {
            string s;
            if (r == 0)
                s = "nil";
            else if (hint != 0 && r == hint)
                s = "hint";
            else if ((s = rel((uintptr_t)r)).empty())
                s = "new";
            out_line(num(i) + " ret " + s);
            if (r != 0)
                out_line(num(i) + " ret-align " + fmt_size(low_align((uintptr_t)r)));
            if (op->ret == kAligned)
                out_line(num(i) + " reserved " + fmt_size(r2));
            break;
        }
        case kVoid:
            break;
        }
        out_line(num(i) + " calls " + fmt_calls(t_letters, t_calls));
        out_line(num(i) + " stat " + fmt_delta(stat1 - stat0));
        out_line(num(i) + " mr " + fmt_delta(mr1 - mr0));
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
        observe_all(i);
        if (st.fatal)
            out_line(num(i) + " exit 0");
    }

    uintptr_t raw_reserve(uintptr_t size)
    {
        if (lib_.prim)
            return (uintptr_t)t_host->virtual_alloc(nullptr, size, MEM_RESERVE, PAGE_READWRITE);
        void *p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        return p == MAP_FAILED ? 0 : (uintptr_t)p;
    }

    void raw_release(uintptr_t p, uintptr_t size)
    {
        if (lib_.prim)
            t_host->virtual_free((void *)p, 0, MEM_RELEASE);
        else
            munmap((void *)p, size);
    }

    void harness_step(int i, const Step &st)
    {
        const string &op = st.op;
        if (op == "free") {
            uintptr_t sz = size(st.args[1]), align = 65536;
            if (st.args.size() > 2)
                align = size(st.args[2]);
            if (align == 0 || (align & (align - 1)) != 0)
                fail("free: alignment is not a power of two");
            uintptr_t p = raw_reserve(sz + align);
            if (p == 0)
                fail("free: cannot find free address space");
            raw_release(p, sz + align);
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
            vector<MapEnt> maps;
            if (!lib_.query)
                maps = read_maps();
            for (uintptr_t p = v & ~(uintptr_t)4095; p < v + n && ok;) {
                RegionInfo info;
                uint32_t err;
                if (!query(p, info, err, &maps) || info.state != MEM_COMMIT ||
                    info.protect != PAGE_READWRITE) {
                    ok = false;
                    break;
                }
                p = (uintptr_t)info.base + info.region_size;
            }
            if (ok)
                memset((void *)v, 0xA5, n);
            out_line(num(i) + (ok ? " fill ok" : " fill refused"));
        } else if (op == "setstat") {
            stat_ = size(st.args[0]);
        } else if (op == "fault") {
            uint32_t cls = 0;
            parse_classes(st.args[0], cls);
            fault_clear();
            lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)t_host});
            uint64_t rc = lib_.call("memwin_fault_set", {cls, size(st.args[1]), size(st.args[2]),
                                                         size(st.args[3])});
            t_below = (const Prim *)(uintptr_t)lib_.call("memwin_prim_current", {});
            lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)&trace_table});
            if (rc != 0)
                fail("fault: memwin_fault_set refused");
        } else if (op == "nofault") {
            fault_clear();
        } else if (op == "squat") {
            if (s_held)
                t_host->virtual_free((void *)s_held, 0, MEM_RELEASE);
            s_held = 0;
            s_align = size(st.args[0]);
            if (s_align == 0)
                s_align = 65536;
            s_left = size(st.args[1]);
        }
    }
};

// ---- running a scenario in a child process ------------------------------------

struct Outcome {
    enum Kind { kRan, kCrashed, kSkipped, kError } kind = kRan;
    vector<string> obs;
    string reason;
    int crash_step = 0;
};

string read_fd_all(int fd)
{
    string s;
    lseek(fd, 0, SEEK_SET);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        s.append(buf, (size_t)n);
    return s;
}

int g_timeout = 60;

Outcome run_in_child(Lib &lib, const Scenario &sc)
{
    Outcome oc;
    bool is_error;
    string why = cannot_run(lib, sc, is_error);
    if (!why.empty()) {
        oc.kind = is_error ? Outcome::kError : Outcome::kSkipped;
        oc.reason = why;
        return oc;
    }
    FILE *obs = tmpfile(), *err = tmpfile();
    if (!obs || !err) {
        oc.kind = Outcome::kError;
        oc.reason = "cannot create temporary files";
        return oc;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(err), 2);
        g_out = fileno(obs);
        alarm((unsigned)g_timeout);
        Runner r(lib);
        r.run(sc);
        out_line("@done");
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        oc.kind = Outcome::kError;
        oc.reason = "cannot run a child process";
        fclose(obs);
        fclose(err);
        return oc;
    }
    string text = read_fd_all(fileno(obs)), errtext = read_fd_all(fileno(err));
    fclose(obs);
    fclose(err);
    int step = 0;
    bool done = false;
    std::istringstream in(text);
    string l;
    while (std::getline(in, l)) {
        if (l.rfind("@step ", 0) == 0)
            step = atoi(l.c_str() + 6);
        else if (l == "@done")
            done = true;
        else
            oc.obs.push_back(l);
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        oc.kind = Outcome::kCrashed;
        oc.crash_step = step;
        oc.reason = sig == SIGALRM ? "timed out after " + std::to_string(g_timeout) + "s"
                                   : string("signal ") + strsignal(sig);
        return oc;
    }
    if (!done) {
        // The library ended the process (Go's throw): what Go records.
        for (const string &x : fatal_lines(errtext))
            oc.obs.push_back(std::to_string(step) + " stderr " + x);
        oc.obs.push_back(std::to_string(step) + " exit " + std::to_string(WEXITSTATUS(status)));
    }
    return oc;
}

// ---- comparison ---------------------------------------------------------------

struct Entry {
    int step;
    string field, value;
    size_t order;
};

// Host observation cannot see allocation bases nor where one reservation
// ends and the next begins: mem lines are reduced to state, protection and
// access, adjacent equal runs merged (zero only if all merged runs are).
vector<string> project_mem(const vector<string> &lines)
{
    vector<string> out;
    struct Run {
        uint64_t off, size;
        string state, prot, access, zd;
    };
    string cur_key;
    vector<Run> runs;
    auto flush = [&]() {
        for (const Run &r : runs) {
            string l = cur_key + " +" + fmt_size(r.off) + " " + fmt_size(r.size) + " " + r.state +
                       " " + r.prot + " " + r.access;
            if (!r.zd.empty())
                l += " " + r.zd;
            out.push_back(l);
        }
        runs.clear();
    };
    for (const string &l : lines) {
        vector<string> f = fields_of(l);
        if (f.size() >= 10 && f[1] == "mem") {
            string key = f[0] + " mem " + f[2];
            if (key != cur_key) {
                flush();
                cur_key = key;
            }
            uint64_t off = 0, sz = 0;
            parse_number(f[3].substr(1), off);
            parse_number(f[4], sz);
            Run r{off, sz, f[5], f[6], f[9], f.size() > 10 ? f[10] : ""};
            // The unusable rest of a reservation's last 64K granule is free
            // on Windows, but an emulation must hold it (PROT_NONE), so the
            // host shows it reserved: count it as reserved on both sides.
            uint64_t g = (off + 65535) & ~(uint64_t)65535;
            if (r.state == "free" && (off & 65535) != 0 && !runs.empty() &&
                runs.back().state != "free" && runs.back().off + runs.back().size == off) {
                uint64_t cut = std::min(g, off + sz);
                Run t{off, cut - off, "reserve", "0", "--", ""};
                if (runs.back().state == "reserve" && runs.back().access == "--")
                    runs.back().size += t.size;
                else
                    runs.push_back(t);
                if (cut == off + sz)
                    continue;
                r.off = cut;
                r.size = off + sz - cut;
            }
            if (!runs.empty() && runs.back().state == r.state && runs.back().prot == r.prot &&
                runs.back().access == r.access && runs.back().off + runs.back().size == r.off) {
                runs.back().size += r.size;
                if (r.zd == "data" || runs.back().zd == "data")
                    runs.back().zd = "data";
                continue;
            }
            runs.push_back(r);
            continue;
        }
        flush();
        cur_key.clear();
        out.push_back(l);
    }
    flush();
    return out;
}

vector<Entry> parse_obs(const vector<string> &lines)
{
    vector<Entry> out;
    map<string, int> seen;
    size_t order = 0;
    for (const string &l : lines) {
        Entry e;
        e.order = order++;
        size_t a = l.find(' ');
        string stepstr = l.substr(0, a);
        e.step = atoi(stepstr.c_str());
        string rest = a == string::npos ? "" : l.substr(a + 1);
        size_t b = rest.find(' ');
        e.field = rest.substr(0, b);
        e.value = b == string::npos ? "" : rest.substr(b + 1);
        if (e.field == "mem") {
            size_t c = e.value.find(' ');
            e.field = "mem " + e.value.substr(0, c);
            e.value = c == string::npos ? "" : e.value.substr(c + 1);
        }
        string base = stepstr + " " + e.field;
        int k = seen[base]++;
        if (k > 0 || e.field == "stderr" || e.field.rfind("mem ", 0) == 0)
            e.field += "#" + std::to_string(k + 1);
        out.push_back(e);
    }
    return out;
}

struct Diff {
    int step = 0;
    string field, want, got;
};

// Differences in step order; fields in skip are not compared.
vector<Diff> compare(const vector<string> &want_l, const vector<string> &got_l,
                     const std::set<string> &skip, bool host_mem, size_t &compared)
{
    vector<string> w0 = want_l, g0 = got_l;
    if (host_mem) {
        w0 = project_mem(w0);
        g0 = project_mem(g0);
    }
    vector<Entry> w = parse_obs(w0), g = parse_obs(g0);
    auto skipped = [&](const Entry &e) {
        string f = e.field.substr(0, e.field.find('#'));
        return skip.count(f) != 0;
    };
    map<string, const Entry *> wv, gv;
    auto key = [](const Entry &e) { return std::to_string(e.step) + " " + e.field; };
    for (const Entry &e : w)
        wv[key(e)] = &e;
    for (const Entry &e : g)
        gv[key(e)] = &e;
    vector<std::pair<std::pair<int, size_t>, Diff>> ds;
    compared = 0;
    for (const Entry &e : w) {
        if (skipped(e))
            continue;
        compared++;
        auto it = gv.find(key(e));
        if (it == gv.end())
            ds.push_back({{e.step, e.order}, Diff{e.step, e.field, e.value, "(missing)"}});
        else if (it->second->value != e.value)
            ds.push_back({{e.step, e.order}, Diff{e.step, e.field, e.value, it->second->value}});
    }
    for (const Entry &e : g)
        if (!skipped(e) && !wv.count(key(e)))
            ds.push_back({{e.step, (size_t)1 << 40 | e.order}, Diff{e.step, e.field, "(missing)", e.value}});
    std::sort(ds.begin(), ds.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    vector<Diff> out;
    for (auto &d : ds)
        out.push_back(d.second);
    return out;
}

// ---- main ----------------------------------------------------------------------

struct Result {
    string name, result, detail, reason, step_text;
    int step = 0;
    string field, want, got;
    size_t ndiffs = 0;
};

vector<string> scenario_names(const string &dir)
{
    vector<string> names;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return names;
    while (struct dirent *e = readdir(d)) {
        string n = e->d_name;
        if (n.size() > 4 && n.compare(n.size() - 4, 4, ".vec") == 0)
            names.push_back(n.substr(0, n.size() - 4));
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

void usage()
{
    fprintf(stderr,
            "usage: memwin-conform [options] LIBRARY\n"
            "       memwin-conform [options] --diff LIBA LIBB\n"
            "options:\n"
            "  --vectors DIR     scenarios and goldens (default %s)\n"
            "  --manifest FILE   signatures (default DIR/manifest.txt)\n"
            "  --json FILE       write the results as JSON\n"
            "  --only A,B,...    run only these scenarios\n"
            "  --no-hooks        ignore memwin_* observation hooks (host observation only)\n"
            "  --timeout SEC     per-scenario time limit (default 60)\n"
            "  -v                print every difference, not only the first\n",
            MEMWIN_VECTORS_DIR);
}

string step_text(const Scenario &sc, int step)
{
    return step >= 1 && step <= (int)sc.steps.size() ? sc.steps[(size_t)step - 1].text : "-";
}

} // namespace

int main(int argc, char **argv)
{
    string dir = MEMWIN_VECTORS_DIR, manifest_path, json_path;
    std::set<string> only;
    bool hooks = true, verbose = false;
    vector<string> libs;
    bool diff = false;
    for (int i = 1; i < argc; i++) {
        string a = argv[i];
        auto next = [&]() -> string {
            if (i + 1 >= argc) {
                usage();
                exit(2);
            }
            return argv[++i];
        };
        if (a == "--vectors") dir = next();
        else if (a == "--manifest") manifest_path = next();
        else if (a == "--json") json_path = next();
        else if (a == "--only") {
            std::stringstream ss(next());
            string w;
            while (std::getline(ss, w, ','))
                only.insert(w);
        } else if (a == "--no-hooks") hooks = false;
        else if (a == "--timeout") g_timeout = atoi(next().c_str());
        else if (a == "-v") verbose = true;
        else if (a == "--diff") diff = true;
        else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            usage();
            return 2;
        } else libs.push_back(a);
    }
    if (libs.size() != (diff ? 2u : 1u)) {
        usage();
        return 2;
    }
    if (manifest_path.empty())
        manifest_path = dir + "/manifest.txt";
    Manifest m;
    string err;
    if (!load_manifest(manifest_path, m, err)) {
        fprintf(stderr, "memwin-conform: bad manifest: %s\n", err.c_str());
        return 2;
    }
    vector<Lib> L(libs.size());
    for (size_t i = 0; i < libs.size(); i++)
        if (!open_lib(L[i], libs[i], m, hooks, err)) {
            fprintf(stderr, "memwin-conform: %s\n", err.c_str());
            return 2;
        }
    setvbuf(stdout, nullptr, _IOLBF, 0);

    // Fields not comparable: union over the libraries.
    std::set<string> skip;
    bool host_mem = false;
    vector<string> nc;
    for (Lib &l : L) {
        if (!l.prim) skip.insert("calls");
        if (!l.mr) skip.insert("mr");
        if (!l.query) host_mem = true;
    }
    for (const string &s : skip)
        nc.push_back(s);
    if (host_mem)
        nc.push_back("mem ap=/base=, run boundaries between adjacent reservations and the free tail of a reservation's last 64K granule (host view)");
    for (Lib &l : L) {
        printf("library: %s\n", l.path.c_str());
        printf("  hooks: query=%s mapped-ready=%s prim-table=%s fault-injection=%s\n",
               l.query ? "yes" : "no", l.mr ? "yes" : "no", l.prim ? "yes" : "no",
               l.fault ? "yes" : "no");
        for (auto &u : l.unusable)
            if (u.second.rfind("missing", 0) != 0 || u.first.rfind("memwin_", 0) != 0)
                printf("  %s\n", u.second.c_str());
    }
    if (!nc.empty()) {
        printf("not comparable through the host, left out of the comparison:");
        for (size_t i = 0; i < nc.size(); i++)
            printf("%s %s", i ? ";" : "", nc[i].c_str());
        printf("\n");
    }
    printf("\n%-44s result\n", "scenario");

    vector<Result> results;
    map<string, int> counts;
    for (const string &name : scenario_names(dir)) {
        if (!only.empty() && !only.count(name))
            continue;
        Result r;
        r.name = name;
        Scenario sc;
        vector<string> golden;
        if (!load_scenario(dir, name, sc, err)) {
            r.result = "error";
            r.reason = "malformed vector: " + err;
        } else if (!diff && !read_golden(dir, name, golden, err)) {
            r.result = "error";
            r.reason = "malformed golden: " + err;
        } else {
            vector<Outcome> oc;
            for (Lib &l : L)
                oc.push_back(run_in_child(l, sc));
            const char *who[2] = {"A", "B"};
            for (size_t i = 0; i < oc.size() && r.result.empty(); i++) {
                string pre = diff ? string(who[i]) + ": " : "";
                if (oc[i].kind == Outcome::kSkipped) {
                    r.result = "skipped";
                    r.reason = pre + oc[i].reason;
                } else if (oc[i].kind == Outcome::kError) {
                    r.result = "error";
                    r.reason = pre + oc[i].reason;
                } else if (oc[i].kind == Outcome::kCrashed) {
                    r.result = "crashed";
                    r.step = oc[i].crash_step;
                    r.step_text = step_text(sc, r.step);
                    r.reason = pre + oc[i].reason;
                }
            }
            if (r.result.empty()) {
                size_t compared = 0;
                vector<Diff> ds = diff ? compare(oc[0].obs, oc[1].obs, skip, host_mem, compared)
                                       : compare(golden, oc[0].obs, skip, host_mem, compared);
                if (ds.empty()) {
                    r.result = "identical";
                } else {
                    r.result = diff ? "diverges" : "differs";
                    r.step = ds[0].step;
                    r.step_text = step_text(sc, r.step);
                    r.field = ds[0].field;
                    r.want = ds[0].want;
                    r.got = ds[0].got;
                    r.ndiffs = ds.size();
                    if (verbose)
                        for (const Diff &d : ds)
                            printf("    %s: step %d (%s) %s: %s \"%s\" vs \"%s\"\n", name.c_str(),
                                   d.step, step_text(sc, d.step).c_str(), d.field.c_str(),
                                   diff ? "A/B" : "golden/got", d.want.c_str(), d.got.c_str());
                }
            }
        }
        counts[r.result]++;
        string line;
        if (r.result == "identical")
            line = host_mem || !skip.empty() ? "identical (comparable fields)" : "identical";
        else if (r.result == "differs" || r.result == "diverges")
            line = r.result + " at step " + std::to_string(r.step) + " (" + r.step_text +
                   ") field " + r.field + " (" + (diff ? "A" : "golden") + " \"" + r.want +
                   "\" vs " + (diff ? "B" : "got") + " \"" + r.got + "\")" +
                   (r.ndiffs > 1 ? " +" + std::to_string(r.ndiffs - 1) + " more" : "");
        else if (r.result == "crashed")
            line = "crashed at step " + std::to_string(r.step) + " (" + r.step_text + "): " + r.reason;
        else
            line = r.result + " (" + r.reason + ")";
        printf("%-44s %s\n", name.c_str(), line.c_str());
        results.push_back(r);
    }
    printf("\nsummary:");
    for (auto &c : counts)
        printf(" %s=%d", c.first.c_str(), c.second);
    printf(" total=%zu\n", results.size());

    if (!json_path.empty()) {
        FILE *f = fopen(json_path.c_str(), "w");
        if (!f) {
            fprintf(stderr, "memwin-conform: cannot write %s\n", json_path.c_str());
            return 2;
        }
        fprintf(f, "{\n  \"tool\": \"memwin-conform\",\n  \"mode\": %s,\n  \"libraries\": [",
                json_str(diff ? "diff" : "golden").c_str());
        for (size_t i = 0; i < L.size(); i++)
            fprintf(f, "%s%s", i ? ", " : "", json_str(L[i].path).c_str());
        fprintf(f, "],\n  \"vectors\": %s,\n  \"manifest\": %s,\n  \"not_compared\": [",
                json_str(dir).c_str(), json_str(manifest_path).c_str());
        for (size_t i = 0; i < nc.size(); i++)
            fprintf(f, "%s%s", i ? ", " : "", json_str(nc[i]).c_str());
        fprintf(f, "],\n  \"summary\": {");
        size_t k = 0;
        for (auto &c : counts)
            fprintf(f, "%s%s: %d", k++ ? ", " : "", json_str(c.first).c_str(), c.second);
        fprintf(f, "},\n  \"scenarios\": [\n");
        for (size_t i = 0; i < results.size(); i++) {
            const Result &r = results[i];
            fprintf(f, "    {\"name\": %s, \"result\": %s", json_str(r.name).c_str(),
                    json_str(r.result).c_str());
            if (r.step)
                fprintf(f, ", \"step\": %d, \"step_text\": %s", r.step, json_str(r.step_text).c_str());
            if (!r.field.empty())
                fprintf(f, ", \"field\": %s, \"%s\": %s, \"%s\": %s, \"differences\": %zu",
                        json_str(r.field).c_str(), diff ? "a" : "golden", json_str(r.want).c_str(),
                        diff ? "b" : "got", json_str(r.got).c_str(), r.ndiffs);
            if (!r.reason.empty())
                fprintf(f, ", \"reason\": %s", json_str(r.reason).c_str());
            fprintf(f, "}%s\n", i + 1 < results.size() ? "," : "");
        }
        fprintf(f, "  ]\n}\n");
        fclose(f);
    }
    bool bad = counts["differs"] || counts["diverges"] || counts["crashed"] || counts["error"];
    return bad ? 1 : 0;
}
