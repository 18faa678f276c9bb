// memwin-conform: runs the conformance scenarios (tests/vectors/*.vec) against
// any implementation of Go's Windows memory layer given as a shared library,
// calling its exports through libffi with the signatures of
// tests/vectors/manifest.txt, and compares the observations with the goldens.
// The vector format is tools/vecfmt (shared with tests/vectors_replay.cpp).
// See README.md next to this file.
#include <chrono>
#include <thread>
#include <ffi.h>

#include "vecfmt.h"
#if !defined(_WIN32)
#include "traces.h"
#endif

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

#if defined(_WIN32)
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#else
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#ifndef MEMWIN_VECTORS_DIR
#define MEMWIN_VECTORS_DIR "tests/vectors"
#endif

namespace {

using namespace memwin_vecfmt;
using std::map;
using std::string;
using std::vector;

// ---- ABI mirrors (include/memwin.h, include/memwin_prim.h) ----------------
// (the MEM_*, PAGE_* and fault class values are in vecfmt.h)

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

bool load_scenario(const string &dir, const string &name, Scenario &sc, string &err)
{
    string path = dir + "/" + name + ".vec";
    std::ifstream in(path);
    if (!in) {
        err = path + ": cannot open";
        return false;
    }
    return parse_scenario(in, name, path, sc, err);
}

// The golden of the newest Go measured ("golden goV" lines: NAME.goV.golden).
// A Linux exit status keeps only the low 8 bits of the status passed to
// exit, so there golden exit values are compared modulo 256 (Go 1.26's
// fail-fast 0xC0000602 under GOTRACEBACK=crash reads as 2).
bool read_golden(const string &dir, const Scenario &sc, vector<string> &out, string &err)
{
    string path = dir + "/" + sc.name + golden_suffix(sc, "go1.999");
    std::ifstream in(path);
    if (!in) {
        err = path + ": cannot open";
        return false;
    }
    if (!parse_golden(in, path, true, out, err))
        return false;
#if !defined(_WIN32)
    for (string &l : out) {
        vector<string> f = fields_of(l);
        if (f.size() == 3 && f[1] == "exit")
            l = f[0] + " exit " + std::to_string(std::strtoull(f[2].c_str(), nullptr, 10) & 0xFF);
    }
#endif
    return true;
}

// The scenario's "env NAME=VALUE" lines, set in the child before it runs.
void apply_env(const Scenario &sc)
{
    for (const string &e : sc.env) {
        string name = e.substr(0, e.find('=')), value = e.substr(e.find('=') + 1);
#if defined(_WIN32)
        SetEnvironmentVariableA(name.c_str(), value.c_str());
#else
        setenv(name.c_str(), value.c_str(), 1);
#endif
    }
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

#if defined(_WIN32)
// An export is code when its page is executable (a data export lives in a
// section without execute rights).
bool is_function_symbol(void *addr)
{
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(addr, &mbi, sizeof mbi) == 0)
        return true; // cannot tell: assume so
    return (mbi.Protect & (PAGE_EXECUTE | PAGE_EXECUTE_READ | PAGE_EXECUTE_READWRITE |
                           PAGE_EXECUTE_WRITECOPY)) != 0;
}

// LoadLibraryW by absolute path (no search), GetProcAddress by name.
void *lib_load(const string &path, string &err)
{
    wchar_t wide[MAX_PATH * 2], full[MAX_PATH * 2];
    if (!MultiByteToWideChar(CP_UTF8, 0, path.c_str(), -1, wide, MAX_PATH * 2) ||
        !GetFullPathNameW(wide, MAX_PATH * 2, full, nullptr)) {
        err = "bad path";
        return nullptr;
    }
    HMODULE h = LoadLibraryExW(full, nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (!h)
        err = "LoadLibraryW failed with error " + std::to_string(GetLastError());
    return (void *)h;
}

void *lib_sym(void *handle, const string &name)
{
    return (void *)GetProcAddress((HMODULE)handle, name.c_str());
}
#else
void *lib_load(const string &path, string &err)
{
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        err = e ? e : "?";
    }
    return h;
}

void *lib_sym(void *handle, const string &name)
{
    dlerror();
    return dlsym(handle, name.c_str());
}

bool is_function_symbol(void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = nullptr;
    if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
        return true; // cannot tell: assume so
    int t = ELF64_ST_TYPE(sym->st_info);
    return t == STT_FUNC || t == STT_GNU_IFUNC;
}
#endif

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
    string why;
    lib.handle = lib_load(path, why);
    if (!lib.handle) {
        err = path + ": cannot load: " + why;
        return false;
    }
    for (const auto &kv : m.fns) {
        const string &name = kv.first;
        const Sig &sig = kv.second;
        bool is_hook = name.rfind("memwin_", 0) == 0;
        if (is_hook && !hooks)
            continue;
        void *a = lib_sym(lib.handle, name);
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
CallTrace t_trace;
uintptr_t s_align = 65536;
uint64_t s_left;
uintptr_t s_held;

void out_line(const string &l)
{
    string s = l + "\n";
    (void)!write(g_out, s.data(), s.size());
}

void record(uint32_t cls, bool ok)
{
    if (t_tracing)
        t_trace.add(cls, ok);
}

void squat_after_release(uintptr_t base)
{
    uint32_t err = t_host->get_last_error();
    if (s_held) {
        t_host->virtual_free((void *)s_held, 0, kMemRelease);
        s_held = 0;
    } else if (s_left > 0) {
        s_left--;
        s_held = (uintptr_t)t_host->virtual_alloc(
            (void *)((base + s_align - 1) & ~(s_align - 1)), 65536, kMemReserve, kPageReadWrite);
    }
    t_host->set_last_error(err);
}

extern "C" {
static void *tr_virtual_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    void *r = t_below->virtual_alloc(addr, size, type, protect);
    record(vf_alloc_class(type), r != nullptr);
    return r;
}
static int tr_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    uint32_t cls = vf_free_class(type);
    int r = t_below->virtual_free(addr, size, type);
    record(cls, r != 0);
    if (r && cls == kFaultRelease && t_tracing)
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

#if defined(_WIN32)
// The host's view is VirtualQuery itself: no snapshot to take.
struct MapEnt {
};

vector<MapEnt> read_maps()
{
    return {};
}

void host_state(const vector<MapEnt> &, uintptr_t a, uint32_t &state, uint32_t &prot,
                uintptr_t &end)
{
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery((const void *)a, &mbi, sizeof mbi) == 0) {
        state = kMemFree;
        prot = 1;
        end = UINTPTR_MAX & ~(uintptr_t)4095;
        return;
    }
    state = mbi.State;
    prot = mbi.Protect;
    end = (uintptr_t)mbi.BaseAddress + mbi.RegionSize;
}
#else
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
            state = (m.r || m.w || m.x) ? kMemCommit : kMemReserve;
            prot = !state ? 0 : m.w ? 4 : m.r ? 2 : 1;
            if (state == kMemReserve)
                prot = 0;
            end = m.hi;
            // Adjacent mappings with the same view continue the run.
            for (size_t j = i + 1; j < maps.size() && maps[j].lo == end; j++) {
                const MapEnt &n = maps[j];
                uint32_t s2 = (n.r || n.w || n.x) ? kMemCommit : kMemReserve;
                uint32_t p2 = s2 == kMemReserve ? 0 : n.w ? 4 : n.r ? 2 : 1;
                if (s2 != state || p2 != prot)
                    break;
                end = n.hi;
            }
            return;
        }
        if (m.lo > a) {
            state = kMemFree;
            prot = 1;
            end = m.lo;
            return;
        }
    }
    state = kMemFree;
    prot = 1;
    end = UINTPTR_MAX & ~(uintptr_t)4095;
}
#endif

class Runner : Harness {
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
        } catch (const StepError &e) {
            out_line("0 error " + string(e.what()));
        }
    }

private:
    Lib &lib_;
    Regions regions_;
    uint64_t stat_ = 0;

    static string num(int i) { return std::to_string(i); }

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
        // Windows' 64-bit user address space ends at 0x7fffffff0000: above
        // it VirtualQuery fails with 87 (Wine 8), whatever Linux maps there.
        const uintptr_t user_end = sizeof(void *) == 8 ? (uintptr_t)0x7fffffff0000ull : 0;
        if (user_end && a >= user_end) {
            err = 87;
            return false;
        }
        host_state(*maps, a & ~(uintptr_t)4095, st, pr, end);
        if (user_end && end > user_end)
            end = user_end;
        info.base = (void *)(a & ~(uintptr_t)4095);
        info.allocation_base = nullptr;
        info.allocation_protect = 0;
        info.state = st;
        info.protect = pr;
        info.region_size = end - (a & ~(uintptr_t)4095);
        err = 0;
        return true;
    }

    void observe_all(int step)
    {
        vector<MapEnt> maps;
        if (!lib_.query)
            maps = read_maps();
        auto q = [&](uintptr_t a, RegionInfo &info, uint32_t &err) {
            return query(a, info, err, &maps);
        };
        for (const Region &r : regions_.list)
            if (r.base != 0)
                observe<RegionInfo>(step, r, regions_, lib_.query, q, out_line);
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
        uintptr_t reserved = (uintptr_t)kOutSentinel; // must be written by the call
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
            vector<string> lines;
            harness_step(i, st, regions_, *this, lines);
            for (const string &l : lines)
                out_line(l);
            return;
        }
        uint64_t a[3], hint;
        regions_.args(*op, st, a, hint);
        uint64_t stat0 = __atomic_load_n(&stat_, __ATOMIC_SEQ_CST), mr0 = mapped_ready();
        t_trace.clear();
        t_tracing = true;
        uint64_t r, r2;
        call(st.op, a[0], a[1], a[2], r, r2);
        t_tracing = false;
        uint64_t mr1 = mapped_ready(), stat1 = __atomic_load_n(&stat_, __ATOMIC_SEQ_CST);
        for (const string &l : regions_.result(i, *op, st, a, hint, r, r2,
                                                t_trace.str(), stat1 - stat0, mr1 - mr0))
            out_line(l);
        observe_all(i);
        if (st.fatal)
            out_line(num(i) + " exit 0");
    }

    // Harness: the host side of the harness operations.
    uintptr_t reserve(uintptr_t size) override
    {
        if (lib_.prim)
            return (uintptr_t)t_host->virtual_alloc(nullptr, size, kMemReserve, kPageReadWrite);
#if defined(_WIN32)
        return (uintptr_t)VirtualAlloc(nullptr, size, MEM_RESERVE, PAGE_READWRITE);
#else
        void *p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        return p == MAP_FAILED ? 0 : (uintptr_t)p;
#endif
    }

    void release(uintptr_t p, uintptr_t size) override
    {
        if (lib_.prim)
            t_host->virtual_free((void *)p, 0, kMemRelease);
        else
#if defined(_WIN32)
            VirtualFree((void *)p, 0, MEM_RELEASE), (void)size;
#else
            munmap((void *)p, size);
#endif
    }

    bool writable(uintptr_t v, uintptr_t n) override
    {
        vector<MapEnt> maps;
        if (!lib_.query)
            maps = read_maps();
        return memwin_vecfmt::writable<RegionInfo>(
            v, n, [&](uintptr_t a, RegionInfo &info, uint32_t &err) {
                return query(a, info, err, &maps);
            });
    }

    void set_stat(uint64_t v) override { stat_ = v; }

    bool fault(uint32_t cls, uint64_t nth, uint64_t count, uint32_t error) override
    {
        fault_clear();
        lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)t_host});
        uint64_t rc = lib_.call("memwin_fault_set", {cls, nth, count, error});
        t_below = (const Prim *)(uintptr_t)lib_.call("memwin_prim_current", {});
        lib_.call("memwin_prim_set", {(uint64_t)(uintptr_t)&trace_table});
        return rc == 0;
    }

    void nofault() override { fault_clear(); }

    void squat(uintptr_t align, uint64_t count) override
    {
        if (s_held)
            t_host->virtual_free((void *)s_held, 0, kMemRelease);
        s_held = 0;
        s_align = align;
        s_left = count;
    }
};

// ---- running a scenario in a child process ------------------------------------

struct Outcome {
    enum Kind { kRan, kCrashed, kSkipped, kError } kind = kRan;
    vector<string> obs;
    string reason;
    int crash_step = 0;
};

int g_timeout = 60;

// What a child process left: its observation lines, its standard error, and
// how it ended.
struct ChildEnd {
    string obs, err;
    bool started = false; // false: could not run a child at all
    bool killed = false;  // ended by a signal, an exception or the time limit
    string kill_reason;
    int status = 0;       // exit status when not killed
};

void run_child_body(Lib &lib, const Scenario &sc)
{
    apply_env(sc);
    Runner r(lib);
    r.run(sc);
    out_line("@done");
}

#if defined(_WIN32)
// Windows has no fork: the runner starts itself with --child-run, which
// loads the library and the one scenario again and writes its lines to a
// file.  These are the settings the child needs.
string g_vectors_dir, g_manifest_path;
bool g_hooks = true;

string temp_file(const char *prefix)
{
    char dir[MAX_PATH + 1], name[MAX_PATH + 1];
    if (!GetTempPathA(sizeof dir, dir) || !GetTempFileNameA(dir, prefix, 0, name))
        return "";
    return name;
}

string slurp(const string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

string quote_arg(const string &a)
{
    return "\"" + a + "\"";
}

const char *exception_name(DWORD code)
{
    switch (code) {
    case EXCEPTION_ACCESS_VIOLATION: return "access violation";
    case EXCEPTION_STACK_OVERFLOW: return "stack overflow";
    case EXCEPTION_ILLEGAL_INSTRUCTION: return "illegal instruction";
    case EXCEPTION_INT_DIVIDE_BY_ZERO: return "integer divide by zero";
    default: return "exception";
    }
}

ChildEnd spawn_child(Lib &lib, const Scenario &sc)
{
    ChildEnd e;
    char self[MAX_PATH + 1];
    if (!GetModuleFileNameA(nullptr, self, sizeof self))
        return e;
    // GetTempFileName creates the files: every way out below removes them.
    string obs = temp_file("mco"), err = temp_file("mce");
    auto remove_files = [&]() {
        if (!obs.empty())
            DeleteFileA(obs.c_str());
        if (!err.empty())
            DeleteFileA(err.c_str());
    };
    SECURITY_ATTRIBUTES sa = {sizeof sa, nullptr, TRUE};
    HANDLE herr = obs.empty() || err.empty()
                      ? INVALID_HANDLE_VALUE
                      : CreateFileA(err.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                    &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (herr == INVALID_HANDLE_VALUE) {
        remove_files();
        return e;
    }
    string cmd = quote_arg(self) + " --child-run " + quote_arg(obs) + " --vectors " +
                 quote_arg(g_vectors_dir) + " --manifest " + quote_arg(g_manifest_path) +
                 " --only " + quote_arg(sc.name) + (g_hooks ? "" : " --no-hooks") + " " +
                 quote_arg(lib.path);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = herr;
    si.hStdError = herr;
    vector<char> line(cmd.begin(), cmd.end());
    line.push_back('\0');
    fflush(stdout);
    fflush(stderr);
    BOOL ok = CreateProcessA(self, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi);
    CloseHandle(herr);
    if (!ok) {
        remove_files();
        return e;
    }
    e.started = true;
    DWORD code = 0;
    if (WaitForSingleObject(pi.hProcess, (DWORD)g_timeout * 1000) == WAIT_TIMEOUT) {
        TerminateProcess(pi.hProcess, 1);
        WaitForSingleObject(pi.hProcess, INFINITE);
        e.killed = true;
        e.kill_reason = "timed out after " + std::to_string(g_timeout) + "s";
    } else if (GetExitCodeProcess(pi.hProcess, &code) && (code & 0xF0000000u) == 0xC0000000u &&
               code != 0xC0000602u) {
        // STATUS_FAIL_FAST_EXCEPTION is an exit status: Go's crash under
        // GOTRACEBACK=crash/wer (RaiseFailFastException).
        char hex[16];
        snprintf(hex, sizeof hex, "%#lx", (unsigned long)code);
        e.killed = true;
        e.kill_reason = string("exception ") + hex + " (" + exception_name(code) + ")";
    } else {
        e.status = (int)code;
    }
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    e.obs = slurp(obs);
    e.err = slurp(err);
    remove_files();
    return e;
}

// In the child: an exception nobody handles ends the process at once with
// its code (no debugger, no dialog), which the parent reports.
LONG WINAPI child_crash(EXCEPTION_POINTERS *ep)
{
    TerminateProcess(GetCurrentProcess(), ep->ExceptionRecord->ExceptionCode);
    return EXCEPTION_EXECUTE_HANDLER;
}

int child_main(Lib &lib, const Scenario &sc, const string &obs_path)
{
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    SetUnhandledExceptionFilter(child_crash);
    g_out = _open(obs_path.c_str(), _O_WRONLY | _O_TRUNC | _O_BINARY);
    if (g_out < 0)
        return 3;
    run_child_body(lib, sc);
    _exit(0);
}
#else
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

ChildEnd spawn_child(Lib &lib, const Scenario &sc)
{
    ChildEnd e;
    FILE *obs = tmpfile(), *err = tmpfile();
    if (!obs || !err) {
        if (obs)
            fclose(obs);
        if (err)
            fclose(err);
        return e;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fileno(err), 2);
        g_out = fileno(obs);
        alarm((unsigned)g_timeout);
        run_child_body(lib, sc);
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        fclose(obs);
        fclose(err);
        return e;
    }
    e.started = true;
    e.obs = read_fd_all(fileno(obs));
    e.err = read_fd_all(fileno(err));
    fclose(obs);
    fclose(err);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        e.killed = true;
        e.kill_reason = sig == SIGALRM ? "timed out after " + std::to_string(g_timeout) + "s"
                                       : string("signal ") + strsignal(sig);
    } else {
        e.status = WEXITSTATUS(status);
    }
    return e;
}
#endif

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
    ChildEnd e = spawn_child(lib, sc);
    // Starting a process can fail for reasons of the host (Wine under load:
    // seen once in a CI run); try a few times.  A child that started is
    // never run again.
    for (int attempt = 1; !e.started && attempt < 4; attempt++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
        e = spawn_child(lib, sc);
    }
    if (!e.started) {
        oc.kind = Outcome::kError;
        oc.reason = "cannot run a child process";
        return oc;
    }
    int step = 0;
    bool done = false;
    std::istringstream in(e.obs);
    string l;
    while (std::getline(in, l)) {
        if (l.rfind("@step ", 0) == 0)
            step = atoi(l.c_str() + 6);
        else if (l == "@done")
            done = true;
        else
            oc.obs.push_back(l);
    }
    if (e.killed) {
        oc.kind = Outcome::kCrashed;
        oc.crash_step = step;
        oc.reason = e.kill_reason;
        return oc;
    }
    if (!done) {
        // The library ended the process (Go's throw): what Go records.
        for (const string &x : fatal_lines(e.err))
            oc.obs.push_back(std::to_string(step) + " stderr " + x);
        oc.obs.push_back(std::to_string(step) + " exit " + std::to_string((uint32_t)e.status));
    }
    return oc;
}

// ---- comparison ---------------------------------------------------------------

// Host observation cannot see allocation bases nor where one reservation
// ends and the next begins: mem lines are reduced to state, protection and
// access and contents (zero, fill, data), adjacent equal runs merged.
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
                runs.back().access == r.access && runs.back().zd == r.zd &&
                runs.back().off + runs.back().size == r.off) {
                runs.back().size += r.size;
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

// Differences in step order; fields in skip are not compared.
vector<Diff> compare(const vector<string> &want_l, const vector<string> &got_l,
                     const std::set<string> &skip, bool host_mem, size_t &compared)
{
    vector<string> w0 = want_l, g0 = got_l;
    if (host_mem) {
        w0 = project_mem(w0);
        g0 = project_mem(g0);
    }
    vector<Diff> ds = diff_obs(w0, g0, skip, compared);
    std::sort(ds.begin(), ds.end(), [](const Diff &a, const Diff &b) {
        return a.step != b.step ? a.step < b.step : a.order < b.order;
    });
    return ds;
}

// ---- main ----------------------------------------------------------------------

struct Result {
    string name, result, detail, reason, step_text;
    int step = 0;
    string field, want, got;
    size_t ndiffs = 0;
};

#if !defined(_WIN32)
// The library as a trace replay sees it (traces.h): Go's OS-layer
// functions by name through libffi, page states from memwin_query or, with
// --no-hooks or without it, from /proc/self/maps (read again after a call).
class LibTarget : public TraceTarget {
public:
    explicit LibTarget(Lib &lib) : lib_(lib) {}

    uint64_t call(int op, uint64_t v, uint64_t n) override
    {
        stale_ = true;
        if (op == TR_ALLOC)
            return lib_.call(tr_op_name(op), {n});
        return lib_.call(tr_op_name(op), {v, n});
    }

    uint32_t query(uint64_t a, tr_info &out) override
    {
        if (lib_.query) {
            RegionInfo info;
            uint32_t e = (uint32_t)lib_.call("memwin_query", {a, (uint64_t)(uintptr_t)&info});
            if (e == 0)
                out = {(uint64_t)(uintptr_t)info.base, (uint64_t)info.region_size,
                       (uint64_t)(uintptr_t)info.allocation_base, info.state, info.protect};
            return e;
        }
        if (stale_) {
            maps_ = read_maps();
            stale_ = false;
        }
        uint32_t st, pr;
        uintptr_t end, page = (uintptr_t)a & ~(uintptr_t)4095;
        host_state(maps_, page, st, pr, end);
        out = {page, (uint64_t)(end - page), st == kMemFree ? 0 : TR_UNKNOWN, st, pr};
        return 0;
    }

private:
    Lib &lib_;
    vector<MapEnt> maps_;
    bool stale_ = true;
};

// The calls a trace makes, each (v, n) but sysAllocOS (n); an absent or
// mismatched one is named.
string trace_calls_missing(const Lib &lib)
{
    string miss;
    for (int op = 0; op < TR_NOPS; op++) {
        const char *n = tr_op_name(op);
        auto it = lib.fns.find(n);
        size_t want = strcmp(n, "sysAllocOS") == 0 ? 1 : 2;
        if (it == lib.fns.end())
            miss += string(miss.empty() ? "" : "; ") +
                    (lib.unusable.count(n) ? lib.unusable.at(n) : "missing symbol " + string(n));
        else if (it->second.sig->params.size() != want)
            miss += string(miss.empty() ? "" : "; ") + n + " takes " +
                    std::to_string(it->second.sig->params.size()) + " arguments in the manifest, a trace passes " +
                    std::to_string(want);
    }
    return miss;
}
#endif

void usage()
{
    fprintf(stderr,
            "usage: memwin-conform [options] LIBRARY\n"
            "       memwin-conform [options] --diff LIBA LIBB\n"
            "       memwin-conform [--no-hooks] [--timeout SEC] [-v] --traces PATH [--traces PATH...] LIBRARY\n"
            "options:\n"
            "  --vectors DIR     scenarios and goldens (default %s)\n"
            "  --manifest FILE   signatures (default DIR/manifest.txt)\n"
            "  --json FILE       write the results as JSON\n"
            "  --only A,B,...    run only these scenarios\n"
            "  --no-hooks        ignore memwin_* observation hooks (host observation only)\n"
            "  --timeout SEC     per-scenario (per-trace) time limit (default 60)\n"
            "  --fail-fast       stop at the first scenario that is not identical (or\n"
            "                    skipped): the verdict on a library without the rest\n"
            "  --traces PATH     replay real programs' traces instead of the scenarios: a\n"
            "                    NAME.trace.gz with NAME.golden.gz beside it, or a directory\n"
            "                    of them (tests/traces); Linux, 64-bit\n"
            "  -v                print every difference, not only the first\n",
            MEMWIN_VECTORS_DIR);
}

} // namespace

int main(int argc, char **argv)
{
    string dir = MEMWIN_VECTORS_DIR, manifest_path, json_path;
    std::set<string> only;
    bool hooks = true, verbose = false;
    vector<string> libs;
    bool diff = false, fail_fast = false;
    string child_obs; // --child-run FILE (Windows): run one scenario, write to FILE
    vector<string> traces;
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
        else if (a == "--fail-fast") fail_fast = true;
        else if (a == "--traces") traces.push_back(next());
#if defined(_WIN32)
        else if (a == "--child-run") child_obs = next();
#endif
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
#if defined(_WIN32)
    g_vectors_dir = dir;
    g_manifest_path = manifest_path;
    g_hooks = hooks;
    if (!child_obs.empty()) {
        Scenario sc;
        if (only.size() != 1 || !load_scenario(dir, *only.begin(), sc, err)) {
            fprintf(stderr, "memwin-conform: --child-run: %s\n", err.c_str());
            return 2;
        }
        return child_main(L[0], sc, child_obs);
    }
#endif
    setvbuf(stdout, nullptr, _IOLBF, 0);

    if (!traces.empty()) {
#if defined(_WIN32)
        fprintf(stderr, "memwin-conform: --traces is not built on Windows: tools/conform -trace replays "
                        "memwin.dll there, next to the Go runtime's functions\n");
        return 2;
#else
        if (diff) {
            usage();
            return 2;
        }
        string miss = trace_calls_missing(L[0]);
        printf("library: %s\n  page states: %s\n", L[0].path.c_str(),
               L[0].query ? "memwin_query" : "the host's view (/proc/self/maps)");
        if (!miss.empty()) {
            fprintf(stderr, "memwin-conform: --traces: %s cannot replay a trace: %s\n",
                    L[0].path.c_str(), miss.c_str());
            return 2;
        }
        LibTarget target(L[0]);
        return run_traces(traces, target, g_timeout, verbose);
#endif
    }

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
    const vector<string> all = scenario_names(dir);
    for (const string &o : only)
        if (std::find(all.begin(), all.end(), o) == all.end()) {
            fprintf(stderr, "memwin-conform: --only: no scenario %s in %s\n", o.c_str(),
                    dir.c_str());
            return 2;
        }
    for (const string &name : all) {
        if (!only.empty() && !only.count(name))
            continue;
        Result r;
        r.name = name;
        Scenario sc;
        vector<string> golden;
        if (!load_scenario(dir, name, sc, err)) {
            r.result = "error";
            r.reason = "malformed vector: " + err;
        } else if (!diff && !read_golden(dir, sc, golden, err)) {
            r.result = "error";
            r.reason = "malformed golden: " + err;
        } else if (sizeof(void *) == 4 && !memwin_vecfmt::wide_number(sc).empty()) {
            // As tests/vectors_replay_test.cpp: not expressible in 32 bits.
            r.result = "skipped";
            r.reason = "n/a on a 32-bit port: needs a 64-bit uintptr (" +
                       memwin_vecfmt::wide_number(sc) + ")";
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
        if (fail_fast && r.result != "identical" && r.result != "skipped") {
            printf("\nstopped at the first scenario not identical (--fail-fast)\n");
            break;
        }
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
