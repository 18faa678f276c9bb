#include "test_util.h"

#include <cstdlib>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

namespace mwt {

memwin_region_info query(uintptr_t addr)
{
    memwin_region_info info;
    std::memset(&info, 0, sizeof info);
    uint32_t err = memwin_query(P(addr), &info);
    if (err != 0) {
        ADD_FAILURE() << "memwin_query(0x" << std::hex << addr << ") failed with " << std::dec
                      << err;
        std::memset(&info, 0, sizeof info);
    }
    return info;
}

static std::string hex(uintptr_t v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
    return buf;
}

::testing::AssertionResult region_is(uintptr_t addr, uint32_t state, uint32_t protect,
                                     uintptr_t alloc_base, uintptr_t region_size)
{
    memwin_region_info i = query(addr);
    if (i.state == state && i.protect == protect && U(i.allocation_base) == alloc_base &&
        i.region_size == region_size && U(i.base) == (addr & ~(kPage - 1)))
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "region at " << hex(addr) << ": got state=" << hex(i.state)
           << " protect=" << hex(i.protect) << " allocation_base=" << hex(U(i.allocation_base))
           << " region_size=" << hex(i.region_size) << " base=" << hex(U(i.base))
           << "; want state=" << hex(state) << " protect=" << hex(protect)
           << " allocation_base=" << hex(alloc_base) << " region_size=" << hex(region_size);
}

uint32_t state_of(uintptr_t addr)
{
    return query(addr).state;
}

uintptr_t free_area(uintptr_t n, uintptr_t align)
{
    const memwin_prim *h = memwin_prim_host();
    void *p = h->virtual_alloc(nullptr, n + align, MEMWIN_MEM_RESERVE, MEMWIN_PAGE_NOACCESS);
    if (!p) {
        ADD_FAILURE() << "free_area: reserving " << n + align << " bytes failed with "
                      << h->get_last_error();
        return 0;
    }
    if (!h->virtual_free(p, 0, MEMWIN_MEM_RELEASE))
        ADD_FAILURE() << "free_area: release failed with " << h->get_last_error();
    return (U(p) + align - 1) & ~(align - 1);
}

void release_if_reserved(uintptr_t base)
{
    memwin_region_info i;
    if (base == 0 || memwin_prim_host()->virtual_query(P(base), &i) != 0)
        return;
    if (i.state != MEMWIN_MEM_FREE && U(i.allocation_base) == base)
        memwin_prim_host()->virtual_free(P(base), 0, MEMWIN_MEM_RELEASE);
}

Reservations::~Reservations()
{
    for (uintptr_t b : bases_)
        release_if_reserved(b);
}

FaultGuard::FaultGuard(uint32_t ops, uint64_t nth, uint64_t count, uint32_t error)
{
    EXPECT_EQ(memwin_fault_set(ops, nth, count, error), 0u);
}

FaultGuard::~FaultGuard()
{
    memwin_fault_clear();
}

void set_env(const char *name, const char *value)
{
#if defined(_WIN32)
    _putenv_s(name, value ? value : ""); // "" removes it
#else
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
#endif
}

std::string to_string(const PrimCall &c)
{
    std::string s = c.op == PrimCall::kAlloc          ? "alloc("
                    : c.op == PrimCall::kAllocAligned ? "alloc_aligned(align="
                                                      : "free(";
    s += hex(c.addr) + ", " + hex(c.size) + ", " + hex(c.type) + ") -> " + hex(c.result);
    if (!c.ok())
        s += " err=" + std::to_string(c.error);
    return s;
}

std::string to_string(const std::vector<PrimCall> &calls)
{
    std::string s;
    for (const PrimCall &c : calls)
        s += "  " + to_string(c) + "\n";
    return s;
}

// ---- PrimRecorder --------------------------------------------------------

namespace {
std::mutex rec_mu;
std::vector<PrimCall> rec_calls;
std::string rec_stderr;
std::vector<int> rec_exits;
bool rec_capture;
const memwin_prim *rec_below;
const memwin_prim *rec_prev;

void record(const PrimCall &c)
{
    std::lock_guard<std::mutex> lk(rec_mu);
    rec_calls.push_back(c);
}

void *r_alloc(void *addr, uintptr_t size, uint32_t type, uint32_t protect)
{
    void *r = rec_below->virtual_alloc(addr, size, type, protect);
    uint32_t err = r ? 0 : rec_below->get_last_error();
    record({PrimCall::kAlloc, U(addr), size, type, U(r), err, protect});
    if (!r)
        rec_below->set_last_error(err);
    return r;
}

void *r_alloc_aligned(uintptr_t size, uintptr_t align, uint32_t type, uint32_t protect)
{
    void *r = nullptr;
    uint32_t err = MEMWIN_ERROR_CALL_NOT_IMPLEMENTED;
    if (rec_below->virtual_alloc_aligned) {
        r = rec_below->virtual_alloc_aligned(size, align, type, protect);
        err = r ? 0 : rec_below->get_last_error();
    }
    record({PrimCall::kAllocAligned, align, size, type, U(r), err, protect});
    if (!r)
        rec_below->set_last_error(err);
    return r;
}

int r_free(void *addr, uintptr_t size, uint32_t type)
{
    int r = rec_below->virtual_free(addr, size, type);
    uint32_t err = r ? 0 : rec_below->get_last_error();
    record({PrimCall::kFree, U(addr), size, type, uintptr_t(r), err});
    if (!r)
        rec_below->set_last_error(err);
    return r;
}

void r_write_stderr(const char *bytes, size_t len)
{
    if (!rec_capture) {
        rec_below->write_stderr(bytes, len);
        return;
    }
    std::lock_guard<std::mutex> lk(rec_mu);
    rec_stderr.append(bytes, len);
}

void r_exit_process(int status)
{
    if (!rec_capture) {
        rec_below->exit_process(status);
        return;
    }
    std::lock_guard<std::mutex> lk(rec_mu);
    rec_exits.push_back(status);
}

// The table below with the calls recorded (queries and the last error pass
// straight through).
memwin_prim rec_table;
} // namespace

PrimRecorder::PrimRecorder(bool capture_process)
{
    clear();
    rec_capture = capture_process;
    rec_below = memwin_prim_current();
    rec_table = memwin_prim{};
    rec_table.virtual_alloc = r_alloc;
    rec_table.virtual_free = r_free;
    rec_table.write_stderr = r_write_stderr;
    rec_table.exit_process = r_exit_process;
    rec_table.virtual_alloc_aligned = r_alloc_aligned;
    memwin_prim_forward(&rec_table, rec_below);
    rec_prev = memwin_prim_set(&rec_table);
}

PrimRecorder::~PrimRecorder()
{
    memwin_prim_set(rec_prev);
}

std::vector<PrimCall> PrimRecorder::calls() const
{
    std::lock_guard<std::mutex> lk(rec_mu);
    return rec_calls;
}

size_t PrimRecorder::count(PrimCall::Op op, uint32_t type) const
{
    std::lock_guard<std::mutex> lk(rec_mu);
    size_t n = 0;
    for (const PrimCall &c : rec_calls)
        if (c.op == op && (type == 0 || c.type == type))
            n++;
    return n;
}

std::string PrimRecorder::stderr_text() const
{
    std::lock_guard<std::mutex> lk(rec_mu);
    return rec_stderr;
}

std::vector<int> PrimRecorder::exits() const
{
    std::lock_guard<std::mutex> lk(rec_mu);
    return rec_exits;
}

void PrimRecorder::clear()
{
    std::lock_guard<std::mutex> lk(rec_mu);
    rec_calls.clear();
    rec_stderr.clear();
    rec_exits.clear();
}

// ---- NullPrim -------------------------------------------------------------

namespace {
void *null_alloc(void *a, uintptr_t, uint32_t, uint32_t)
{
    return a ? a : P(0x10000);
}
int null_free(void *, uintptr_t, uint32_t)
{
    return 1;
}
// The host's table with allocation and release doing nothing.
const memwin_prim *null_table()
{
    static memwin_prim t;
    t = memwin_prim{};
    t.virtual_alloc = null_alloc;
    t.virtual_free = null_free;
    memwin_prim_forward(&t, memwin_prim_host())->virtual_alloc_aligned = nullptr;
    return &t;
}
} // namespace

NullPrim::NullPrim() : prev_(memwin_prim_set(null_table()))
{
}

NullPrim::~NullPrim()
{
    memwin_prim_set(prev_);
}

void restore_mapped_ready(uint64_t value)
{
    // The counter wraps modulo 2^64: take the shorter way there, in steps a
    // uintptr_t holds (a 32-bit one cannot carry a wrapped difference).
    NullPrim np;
    const uint64_t step = UINTPTR_MAX;
    uint64_t up = value - memwin_mapped_ready(), down = uint64_t(0) - up;
    for (bool add = up <= down; add ? up != 0 : down != 0;) {
        uint64_t &left = add ? up : down;
        uint64_t k = left < step ? left : step;
        if (add)
            sysUsed(P(0x10000), 0, uintptr_t(k));
        else
            sysUnused(P(0x10000), uintptr_t(k));
        left -= k;
    }
}

// ---- FatalCapture --------------------------------------------------------

namespace {
void unexpected_fatal(const char *printed, const char *message, void *)
{
    ADD_FAILURE() << "unexpected fatal error: " << (printed ? printed : "")
                  << "fatal error: " << (message ? message : "");
}

// The test files of this suite (Go's exact behaviour).  While one of their
// tests runs, memwin is in exact mode and a fatal error nobody expected
// records a failure and returns instead of ending the test program.  Tests
// of other files are left as they are.
class ExactSuiteListener : public ::testing::EmptyTestEventListener {
public:
    void OnTestStart(const ::testing::TestInfo &t) override
    {
        static const char *const mine[] = {"transitions_test.cpp", "accounting_test.cpp",
                                           "fatal_test.cpp", "vm_rules_test.cpp",
                                           "concurrency_test.cpp"};
        std::string file = t.file() ? t.file() : "";
        active_ = false;
        for (const char *m : mine) {
            std::string name = m;
            if (file.size() >= name.size() &&
                file.compare(file.size() - name.size(), name.size(), name) == 0 &&
                (file.size() == name.size() || file[file.size() - name.size() - 1] == '/' ||
                 file[file.size() - name.size() - 1] == '\\'))
                active_ = true;
        }
        if (!active_)
            return;
        prev_mode_ = memwin_set_mode(MEMWIN_MODE_EXACT);
        memwin_set_fatal_handler(unexpected_fatal, nullptr);
    }
    void OnTestEnd(const ::testing::TestInfo &) override
    {
        if (!active_)
            return;
        active_ = false;
        memwin_set_fatal_handler(nullptr, nullptr);
        memwin_set_mode(prev_mode_);
    }

private:
    bool active_ = false;
    int prev_mode_ = MEMWIN_MODE_EXACT;
};

struct ListenerRegistration {
    ListenerRegistration()
    {
        ::testing::UnitTest::GetInstance()->listeners().Append(new ExactSuiteListener);
    }
} listener_registration;

// Restores a handler saved with memwin_get_fatal_handler.
void restore_handler(memwin_fatal_fn fn, void *ctx)
{
    memwin_set_fatal_handler(fn == memwin_default_fatal ? nullptr : fn, ctx);
}
} // namespace

DefaultFatal::DefaultFatal() : prev_(memwin_get_fatal_handler(&prev_ctx_))
{
    memwin_set_fatal_handler(nullptr, nullptr);
}

DefaultFatal::~DefaultFatal()
{
    restore_handler(prev_, prev_ctx_);
}

FatalCapture::FatalCapture() : prev_(memwin_get_fatal_handler(&prev_ctx_))
{
    memwin_set_fatal_handler(&FatalCapture::handler, this);
}

FatalCapture::~FatalCapture()
{
    restore_handler(prev_, prev_ctx_);
}

void FatalCapture::handler(const char *printed, const char *message, void *ctx)
{
    auto *self = static_cast<FatalCapture *>(ctx);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->events_.push_back({printed ? printed : "<null>", message ? message : "<null>"});
}

std::vector<FatalCapture::Event> FatalCapture::events() const
{
    std::lock_guard<std::mutex> lk(mu_);
    return events_;
}

size_t FatalCapture::count() const
{
    std::lock_guard<std::mutex> lk(mu_);
    return events_.size();
}

// ---- misc ------------------------------------------------------------------

std::string failed_line(const char *what, uint64_t n, uint32_t err)
{
    return std::string("runtime: ") + what + " of " + std::to_string(n) +
           " bytes failed with errno=" + std::to_string(err) + "\n";
}

namespace {
struct ChildJob {
    std::string child, test;
};
std::vector<ChildJob> &child_jobs()
{
    static std::vector<ChildJob> jobs;
    return jobs;
}

memwin_test::ChildResult run_child_safely(const std::string &name)
{
    try {
        return memwin_test::run_child(name.c_str());
    } catch (const std::exception &e) {
        memwin_test::ChildResult r;
        r.status = -1;
        r.stderr_ = std::string("could not run the child: ") + e.what();
        return r;
    }
}
} // namespace

ChildPrefetch::ChildPrefetch(const char *child, const char *test_full_name)
{
    child_jobs().push_back({child, test_full_name});
}

memwin_test::ChildResult child_result(const char *name)
{
    static std::once_flag once;
    static std::map<std::string, memwin_test::ChildResult> done;
    std::call_once(once, [] {
        std::set<std::string> selected;
        const ::testing::UnitTest *u = ::testing::UnitTest::GetInstance();
        for (int i = 0; i < u->total_test_suite_count(); i++) {
            const ::testing::TestSuite *s = u->GetTestSuite(i);
            for (int j = 0; j < s->total_test_count(); j++) {
                const ::testing::TestInfo *t = s->GetTestInfo(j);
                if (t->should_run())
                    selected.insert(std::string(t->test_suite_name()) + "." + t->name());
            }
        }
        std::vector<std::string> names;
        for (const ChildJob &j : child_jobs())
            if (selected.count(j.test))
                names.push_back(j.child);
        std::vector<memwin_test::ChildResult> results(names.size());
        std::atomic<size_t> next{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < 8; t++)
            workers.emplace_back([&] {
                for (size_t i; (i = next.fetch_add(1)) < names.size();)
                    results[i] = run_child_safely(names[i]);
            });
        for (std::thread &w : workers)
            w.join();
        for (size_t i = 0; i < names.size(); i++)
            done[names[i]] = results[i];
    });
    auto it = done.find(name);
    if (it != done.end())
        return it->second;
    return run_child_safely(name);
}

::testing::AssertionResult child_exits(const char *name, int status, const std::string &err)
{
    memwin_test::ChildResult r = child_result(name);
    if (r.status == status && r.stderr_ == err)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "child " << name << ": status " << r.status << " (want " << status
           << "), stderr:\n[" << r.stderr_ << "]\nwant:\n[" << err << "]";
}

std::vector<Step> steps_of(const std::vector<PrimCall> &calls)
{
    std::vector<Step> out;
    for (const PrimCall &c : calls)
        out.push_back({c.addr, c.size, c.ok()});
    return out;
}

std::string to_string(const std::vector<Step> &steps)
{
    std::string s;
    for (const Step &st : steps)
        s += "  (" + hex(st.addr) + ", " + hex(st.size) + ") " + (st.ok ? "ok" : "fail") + "\n";
    return s;
}

static uint8_t pattern_byte(uintptr_t off, uint32_t seed)
{
    uint32_t x = uint32_t(off) * 2654435761u + seed * 40503u + uint32_t(off >> 12);
    return uint8_t((x >> 13) | 1); // never zero
}

void fill_pattern(uintptr_t p, uintptr_t n, uint32_t seed)
{
    volatile uint8_t *b = reinterpret_cast<volatile uint8_t *>(p);
    for (uintptr_t i = 0; i < n; i++)
        b[i] = pattern_byte(i, seed);
}

bool check_pattern(uintptr_t p, uintptr_t n, uint32_t seed)
{
    const volatile uint8_t *b = reinterpret_cast<const volatile uint8_t *>(p);
    for (uintptr_t i = 0; i < n; i++)
        if (b[i] != pattern_byte(i, seed))
            return false;
    return true;
}

bool all_zero(uintptr_t p, uintptr_t n)
{
    const volatile uint8_t *b = reinterpret_cast<const volatile uint8_t *>(p);
    for (uintptr_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

} // namespace mwt
