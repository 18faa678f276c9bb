// Replay of the conformance scenarios; see vectors_replay.h.  The format side
// is tools/vecfmt (shared with memwin-conform); it and the rules here mirror
// tools/conform/{vec,exec,golden}.go: a change to the format must be made in both.
#include "vectors_replay.h"

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "memwin.h"
#include "memwin_prim.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#endif

// The format's call classes are memwin's fault-injection classes.
static_assert(VF_CALL_RESERVE == MEMWIN_FAULT_RESERVE && VF_CALL_COMMIT == MEMWIN_FAULT_COMMIT &&
                  VF_CALL_ALLOC == MEMWIN_FAULT_ALLOC && VF_CALL_DECOMMIT == MEMWIN_FAULT_DECOMMIT &&
                  VF_CALL_RELEASE == MEMWIN_FAULT_RELEASE,
              "tools/vecfmt/calls.h and memwin_prim.h disagree");

namespace memwin_vectors {

namespace {

using namespace memwin_vecfmt;
// The format's Win32 values are memwin's.
static_assert(kMemCommit == MEMWIN_MEM_COMMIT && kMemReserve == MEMWIN_MEM_RESERVE &&
                  kMemFree == MEMWIN_MEM_FREE && kMemRelease == MEMWIN_MEM_RELEASE &&
                  kPageReadWrite == MEMWIN_PAGE_READWRITE,
              "memwin.h MEM_* values");
static_assert(kFaultReserve == MEMWIN_FAULT_RESERVE && kFaultCommit == MEMWIN_FAULT_COMMIT &&
                  kFaultAlloc == MEMWIN_FAULT_ALLOC && kFaultDecommit == MEMWIN_FAULT_DECOMMIT &&
                  kFaultRelease == MEMWIN_FAULT_RELEASE,
              "memwin.h MEMWIN_FAULT_* values");

struct StopScenario {};

// ---- tracing table, squatter, fault injection ---------------------------

thread_local bool t_tracing;
CallTrace t_trace;
const memwin_prim *t_below;
uintptr_t s_align = 65536;
uint64_t s_left;
uintptr_t s_held;
// Reservations made by the code under test and not yet released by it; the
// cleanup releases these and nothing else.
std::vector<uintptr_t> t_created;

void record(uint32_t cls, bool ok)
{
    if (t_tracing)
        t_trace.add(cls, ok);
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
    record(vf_alloc_class(type), r != nullptr);
    if (r && t_tracing && ((type & MEMWIN_MEM_RESERVE) || addr == nullptr))
        t_created.push_back((uintptr_t)r);
    return r;
}

int tr_virtual_free(void *addr, uintptr_t size, uint32_t type)
{
    uint32_t cls = vf_free_class(type);
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

// While f_capturing, memwin's default fatal path runs without ending the
// process: its text is dropped (record_fatal keeps Go's lines) and the
// status it exits with is kept in f_status.
bool f_capturing;
int f_status;
void tr_write_stderr(const char *b, size_t n)
{
    if (!f_capturing)
        t_below->write_stderr(b, n);
}
void tr_exit_process(int status)
{
    if (f_capturing) {
        f_status = status;
        return;
    }
    t_below->exit_process(status);
}

// The host's table with the VM calls traced and the process calls capturable.
// The entries it does not change come from the host's table even while the
// injector is below: the injector passes them on to the host's unchanged.
const memwin_prim *trace_table()
{
    static const memwin_prim t = [] {
        memwin_prim m{};
        m.virtual_alloc = tr_virtual_alloc;
        m.virtual_free = tr_virtual_free;
        m.write_stderr = tr_write_stderr;
        m.exit_process = tr_exit_process;
        memwin_prim_forward(&m, memwin_prim_host());
        // Still without the one-call aligned reservation: memwin reserves
        // aligned with Go's sequence, which the vectors record.
        m.virtual_alloc_aligned = nullptr;
        return m;
    }();
    return &t;
}

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
    memwin_prim_set(trace_table());
}
uint32_t fault_set(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error)
{
    fault_clear();
    memwin_prim_set(memwin_prim_host());
    uint32_t r = memwin_fault_set(ops, nth, count, error);
    t_below = memwin_prim_current();
    memwin_prim_set(trace_table());
    return r;
}

// ---- fatal handler --------------------------------------------------------

std::string f_text;
bool f_hit;

// Records the throw, then lets memwin's default fatal path pick the exit
// status (it follows GOTRACEBACK) with exit_process captured.
void record_fatal(const char *printed, const char *message, void *)
{
    f_text = std::string(printed ? printed : "") + "fatal error: " + (message ? message : "") + "\n";
    f_hit = true;
    f_capturing = true;
    f_status = -1;
    memwin_default_fatal(printed, message, nullptr);
    f_capturing = false;
}

// Sets the scenario's "env NAME=VALUE" lines for the run and puts the old
// values back afterwards (memwin reads them when a fatal error happens).
void env_put(const std::string &name, const std::string *value)
{
#if defined(_WIN32)
    SetEnvironmentVariableA(name.c_str(), value ? value->c_str() : nullptr);
#else
    if (value)
        setenv(name.c_str(), value->c_str(), 1);
    else
        unsetenv(name.c_str());
#endif
}

struct ScopedEnv {
    std::vector<std::pair<std::string, std::unique_ptr<std::string>>> saved;
    explicit ScopedEnv(const std::vector<std::string> &env)
    {
        for (const std::string &e : env) {
            std::string name = e.substr(0, e.find('=')), value = e.substr(e.find('=') + 1);
            const char *old = getenv(name.c_str());
            saved.emplace_back(name, old ? std::make_unique<std::string>(old) : nullptr);
            env_put(name, &value);
        }
    }
    ~ScopedEnv()
    {
        for (auto it = saved.rbegin(); it != saved.rend(); ++it)
            env_put(it->first, it->second.get());
    }
};

// ---- the runner -------------------------------------------------------------

class Runner : Harness {
public:
    std::vector<std::string> out;

    void run(const Scenario &sc)
    {
        const memwin_prim *prev_table = memwin_prim_current();
        t_below = memwin_prim_host();
        memwin_prim_set(trace_table());
        memwin_fatal_fn prev_fatal = memwin_set_fatal_handler(record_fatal, nullptr);
        ScopedEnv env(sc.env);
        f_hit = false;
        t_created.clear();
        stat_ = 0;
        try {
            for (size_t i = 0; i < sc.steps.size(); i++)
                run_step((int)i + 1, sc.steps[i]);
        } catch (const StopScenario &) {
        } catch (const StepError &e) {
            emit("0 error " + std::string(e.what()));
        }
        cleanup();
        memwin_set_fatal_handler(prev_fatal == memwin_default_fatal ? nullptr : prev_fatal,
                                 nullptr);
        memwin_prim_set(prev_table == trace_table() ? nullptr : prev_table);
    }

private:
    Regions regions_;
    sysMemStat stat_ = 0;

    void emit(const std::string &l) { out.push_back(l); }
    static std::string num(int i) { return std::to_string(i); }

    [[noreturn]] void fail(const std::string &msg) { throw StepError(msg); }

    bool query(uintptr_t a, memwin_region_info &info, uint32_t &err)
    {
        err = memwin_query((const void *)a, &info);
        return err == 0;
    }

    void observe_all(int step)
    {
        auto q = [this](uintptr_t a, memwin_region_info &info, uint32_t &err) {
            return query(a, info, err);
        };
        for (const Region &r : regions_.list)
            if (r.base != 0)
                observe<memwin_region_info>(step, r, regions_, true, q,
                                            [this](const std::string &l) { emit(l); });
    }

    void cleanup()
    {
        fault_clear();
        squat_clear();
        // In a checking mode memwin keeps a record of each reservation it
        // made; releasing those behind its back would leave records of
        // address space a later scenario may be given.  Exact mode's
        // sysFreeOS releases and drops the record, so it is used then.
        const int mode = memwin_get_mode();
        if (mode != MEMWIN_MODE_EXACT)
            memwin_set_mode(MEMWIN_MODE_EXACT);
        for (uintptr_t b : t_created) {
            memwin_region_info info;
            uint32_t err;
            if (query(b, info, err) && info.state != MEMWIN_MEM_FREE &&
                (uintptr_t)info.allocation_base == b) {
                if (mode == MEMWIN_MODE_EXACT)
                    raw_release(b);
                else
                    sysFreeOS((void *)b, 0);
            }
        }
        if (mode != MEMWIN_MODE_EXACT)
            memwin_set_mode(mode);
        t_created.clear();
    }

    void call(const std::string &op, uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t &r,
              uintptr_t &r2)
    {
        void *v = (void *)a;
        r = 0;
        r2 = (uintptr_t)memwin_vecfmt::kOutSentinel; // sysReserveAligned must write it
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
            harness_step(i, st, regions_, *this, out);
            return;
        }
        uint64_t a[3], hint;
        regions_.args(*op, st, a, hint);
        uint64_t stat0 = memwin_stat_load(&stat_), mr0 = memwin_mapped_ready();
        t_trace.clear();
        t_tracing = true;
        uintptr_t r, r2;
        call(st.op, (uintptr_t)a[0], (uintptr_t)a[1], (uintptr_t)a[2], r, r2);
        t_tracing = false;
        uint64_t mr1 = memwin_mapped_ready(), stat1 = memwin_stat_load(&stat_);
        if (f_hit) {
            f_hit = false;
            for (const std::string &l : fatal_lines(f_text))
                emit(num(i) + " stderr " + l);
            // As Go's harness reads a Windows exit code: unsigned 32 bits.
            emit(num(i) + " exit " + std::to_string((uint32_t)f_status));
            throw StopScenario();
        }
        for (const std::string &l : regions_.result(i, *op, st, a, hint, r, r2,
                                                     t_trace.str(),
                                                     stat1 - stat0, mr1 - mr0))
            emit(l);
        observe_all(i);
        if (st.fatal)
            emit(num(i) + " exit 0");
    }

    // Harness: the host side of the harness operations.
    uintptr_t reserve(uintptr_t size) override { return raw_reserve(0, size); }
    void release(uintptr_t p, uintptr_t) override { raw_release(p); }
    bool writable(uintptr_t v, uintptr_t n) override
    {
        return memwin_vecfmt::writable<memwin_region_info>(
            v, n, [this](uintptr_t a, memwin_region_info &info, uint32_t &err) {
                return query(a, info, err);
            });
    }
    void set_stat(uint64_t v) override { stat_ = v; }
    bool fault(uint32_t cls, uint64_t nth, uint64_t count, uint32_t error) override
    {
        return fault_set(cls, nth, count, error) == 0;
    }
    void nofault() override { fault_clear(); }
    void squat(uintptr_t align, uint64_t count) override
    {
        squat_clear();
        s_align = align;
        s_left = count;
    }
};

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
    return memwin_vecfmt::scenario_names(vectors_dir());
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
    return parse_scenario(in, name, name + ".vec", sc, err);
}

// The golden of the Go version memwin follows (memwin_go_version).
bool read_golden(const std::string &name, std::vector<std::string> &out)
{
    Scenario sc;
    std::string lerr;
    if (!load_scenario(name, sc, lerr))
        return false;
    std::ifstream in(file_path(name, golden_suffix(sc, memwin_go_version()).c_str()));
    std::string err;
    return in && parse_golden(in, "", false, out, err);
}

Load load_for_port(const std::string &name, Scenario &sc, std::vector<std::string> &golden,
                   std::string &why)
{
    if (!load_scenario(name, sc, why))
        return Load::kError;
    if (sizeof(void *) == 4) {
        const std::string wide = memwin_vecfmt::wide_number(sc);
        if (!wide.empty()) {
            why = "n/a on a 32-bit port: needs a 64-bit uintptr (" + wide + ")";
            return Load::kNotApplicable;
        }
    }
    if (!read_golden(name, golden)) {
        why = "no golden file for " + name + " (run tools/conformance.sh --regen)";
        return Load::kError;
    }
    return Load::kOk;
}

bool free_step_refused(const std::vector<std::string> &got)
{
    const std::string tail = " error free: cannot find free address space";
    for (const std::string &l : got)
        if (l.size() >= tail.size() && l.compare(l.size() - tail.size(), tail.size(), tail) == 0)
            return true;
    return false;
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
    size_t compared;
    std::vector<std::string> out;
    for (const Diff &d : diff_obs(want, got, {}, compared))
        out.push_back(sc.name + ": step " + std::to_string(d.step) + " (" +
                      step_text(sc, d.step) + "), field " + d.field + ": Go (golden) = \"" +
                      d.want + "\", " + got_name + " = \"" + d.got + "\"");
    return out;
}

} // namespace memwin_vectors
