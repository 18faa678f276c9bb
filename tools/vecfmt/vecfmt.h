// The conformance-vector format, shared by tests/vectors_replay.cpp (the
// googletest replay) and tools/memwin-conform (the libffi runner): the
// operation table, parsing of scenarios, goldens and observation lines, the
// region names used in arguments and results, and the formatting of observed
// values.  Running the steps stays with each consumer.  The format is defined
// by tests/vectors/FORMAT.md (tools/conform implements it in Go).
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "calls.h"   // the letters of the calls field, shared with C
#include "content.h" // the contents word of mem lines, shared with C

namespace memwin_vecfmt {

// Win32 values the format names (memwin.h: MEMWIN_MEM_*, MEMWIN_PAGE_*,
// MEMWIN_FAULT_*); memwin-conform cannot include memwin.h.
const uint32_t kMemCommit = 0x1000, kMemReserve = 0x2000, kMemFree = 0x10000;
const uint32_t kMemDecommit = 0x4000, kMemRelease = 0x8000;
const uint32_t kPageReadWrite = 4;
const uint32_t kFaultReserve = VF_CALL_RESERVE, kFaultCommit = VF_CALL_COMMIT,
               kFaultAlloc = VF_CALL_ALLOC, kFaultDecommit = VF_CALL_DECOMMIT,
               kFaultRelease = VF_CALL_RELEASE;

// The value an out-parameter (sysReserveAligned's reserved size) holds
// before the call, so that an implementation that does not write it on some
// path shows a wrong `reserved` instead of a lucky 0.
const uint64_t kOutSentinel = 0xA5A5A5A5A5A5A5A5ull;

// ---- operations ----

enum RetKind { kVoid, kPtr, kBool, kAligned };

struct OpInfo {
    const char *name;
    const char *args; // v address, n size, s "stat", N name, o classes; '|' = optional after
    RetKind ret;
    bool harness;
};

const OpInfo *find_op(const std::string &name);

// ---- values ----

bool is_ident(const std::string &s);
bool parse_number(const std::string &s, uint64_t &out);
// nil | NUMBER | NAME | NAME+NUMBER | NAME-NUMBER
bool split_addr(const std::string &s, std::string &name, int64_t &off);
bool parse_classes(const std::string &s, uint32_t &out);
std::vector<std::string> fields_of(const std::string &line);
std::string join(const std::vector<std::string> &v, size_t from = 0);

// ---- scenarios and goldens ----

struct Step {
    int line = 0;
    std::string text; // as written, spaces normalised
    bool fatal = false;
    std::string bind;
    std::string op;
    std::vector<std::string> args;
};

struct Scenario {
    std::string name;
    std::string desc;
    std::string since;
    std::vector<std::string> env;     // "env NAME=VALUE" lines: the fatal step's environment
    std::vector<std::string> goldens; // "golden goV" lines: Go >= goV has NAME.goV.golden
    bool golden386 = false;           // "golden 386": 32-bit ports have NAME[.goV].386.golden
    std::vector<Step> steps;
};

// The golden file suffix for Go `version`: ".golden", or ".goV.golden" for
// the newest "golden goV" line with goV <= version; on a 32-bit port
// (ptr32) of a scenario with a "golden 386" line, ".386" comes before
// ".golden".
std::string golden_suffix(const Scenario &sc, const std::string &version,
                          bool ptr32 = sizeof(void *) == 4);

// The first number of the scenario that a 32-bit uintptr cannot hold ("" if
// none): such a scenario cannot be written for a 32-bit port and is n/a
// there.  setstat values and fault counters (64 bits everywhere) do not count.
std::string wide_number(const Scenario &sc);
// A number that is 64 bits wide on every port (setstat, fault, squat counts).
uint64_t number64(const std::string &s);

// Parses a .vec file; errors read "WHERE:LINE: reason".
bool parse_scenario(std::istream &in, const std::string &name, const std::string &where,
                    Scenario &sc, std::string &err);
// Golden lines without comments; strict also rejects lines that are not
// "STEP FIELD VALUE" ("WHERE:LINE: ...").
bool parse_golden(std::istream &in, const std::string &where, bool strict,
                  std::vector<std::string> &out, std::string &err);
// Names of the *.vec files in dir, sorted.
std::vector<std::string> scenario_names(const std::string &dir);
// The step's text, "-" for a step number outside the scenario.
std::string step_text(const Scenario &sc, int step);

// ---- formatting of observed values ----

std::string fmt_size(uint64_t v);
std::string fmt_delta(uint64_t d);
std::string fmt_calls(const std::string &letters, size_t n);
std::string state_name(uint32_t s);
std::string prot_name(uint32_t p);
uintptr_t low_align(uintptr_t p);
// The stderr lines kept from a fatal error's output.
std::vector<std::string> fatal_lines(const std::string &text);
// ---- named regions ----

// A harness problem in a step (reported as "0 error MSG").
struct StepError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Region {
    std::string name;
    uintptr_t base, size;
};

// The scenario's region names: resolving address and size arguments and
// naming addresses in results; throws StepError.
class Regions {
public:
    std::vector<Region> list;

    Region *lookup(const std::string &name);
    void bind(const std::string &name, uintptr_t base, uintptr_t size);
    void drop(const std::string &name);
    uintptr_t addr(const std::string &s);
    uintptr_t size(const std::string &s);
    std::string rel(uintptr_t a); // "R+off", "" outside every region
    // Address and size arguments of an operation under test, in order; hint
    // is the first argument when it is an address.
    void args(const OpInfo &op, const Step &st, uint64_t a[3], uint64_t &hint);
    // Result lines of a call (ret, ret-align, reserved, calls, stat, mr), then
    // binds the step's name to the result.
    std::vector<std::string> result(int step, const OpInfo &op, const Step &st,
                                    const uint64_t a[3], uint64_t hint, uint64_t r, uint64_t r2,
                                    const std::string &calls, uint64_t dstat, uint64_t dmr);
};

// ---- observation and harness operations ----

// Access to the byte at addr without faulting: 1 readable, 2 writable.
int probe(uintptr_t addr);
// What [a, a+n) reads: "zero" (every byte 0), "fill" (every byte 0xA5, the
// pattern of the fill operation) or "data"; the same pointer for the same
// class.
const char *content_class(uintptr_t a, uintptr_t n);
// The end of the page that holds a, or limit if that comes first.
inline uintptr_t page_end(uintptr_t a, uintptr_t limit)
{
    uintptr_t e = (a & ~(uintptr_t)4095) + 4096;
    return e < limit ? e : limit;
}


// The "mem" lines of region rg after step (FORMAT.md).  query(a, info, err)
// is VirtualQuery into an Info (memwin_region_info or a mirror); without
// alloc_info (a host view) ap and base read "?".
template <class Info, class Query, class Emit>
void observe(int step, const Region &rg, Regions &regions, bool alloc_info, Query query,
             Emit emit)
{
    uintptr_t end = rg.base + rg.size;
    for (uintptr_t a = rg.base; a < end;) {
        Info info;
        uint32_t err;
        std::string head = std::to_string(step) + " mem " + rg.name + " +" + fmt_size(a - rg.base);
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
        std::string ab = "-", ap = prot_name(info.allocation_protect);
        if (!alloc_info) {
            ab = "?";
            ap = "?";
        } else if (info.allocation_base) {
            ab = regions.rel((uintptr_t)info.allocation_base);
            if (ab.empty())
                ab = "?";
        }
        int acc = probe(a) & probe(run_end - 4096);
        std::string tail = " " + state_name(info.state) + " " + prot_name(info.protect) +
                           " ap=" + ap + " base=" + ab + " " + ((acc & 1) ? 'r' : '-') +
                           ((acc & 2) ? 'w' : '-');
        if (info.state != kMemCommit || !(acc & 1)) {
            emit(head + " " + fmt_size(run_end - a) + tail);
            a = run_end;
            continue;
        }
        // A committed, readable run: one line per stretch of pages whose
        // contents read the same (zero, fill or data), page by page.
        while (a < run_end) {
            uintptr_t e = page_end(a, run_end);
            const char *cls = content_class(a, e - a);
            while (e < run_end && content_class(e, page_end(e, run_end) - e) == cls)
                e = page_end(e, run_end);
            emit(std::to_string(step) + " mem " + rg.name + " +" + fmt_size(a - rg.base) + " " +
                 fmt_size(e - a) + tail + " " + cls);
            a = e;
        }
    }
}

// Whether [v, v+n) is committed read-write (fill), query as for observe.
template <class Info, class Query>
bool writable(uintptr_t v, uintptr_t n, Query query)
{
    if (n == 0)
        return false;
    for (uintptr_t p = v & ~(uintptr_t)4095; p < v + n;) {
        Info info;
        uint32_t err;
        if (!query(p, info, err) || info.state != kMemCommit || info.protect != kPageReadWrite)
            return false;
        p = (uintptr_t)info.base + info.region_size;
    }
    return true;
}

// The calls a step made, as the "calls" field's letters.
struct CallTrace {
    std::string letters;
    size_t calls = 0;
    void clear() { letters.clear(), calls = 0; }
    void add(uint32_t cls, bool ok);
    std::string str() const { return fmt_calls(letters, calls); }
};

// The host side of the harness operations; the format side is harness_step.
class Harness {
public:
    virtual ~Harness() = default;
    virtual uintptr_t reserve(uintptr_t size) = 0; // anywhere; 0 if none
    virtual void release(uintptr_t p, uintptr_t size) = 0;
    virtual bool writable(uintptr_t v, uintptr_t n) = 0; // see writable()
    virtual void set_stat(uint64_t v) = 0;
    virtual bool fault(uint32_t cls, uint64_t nth, uint64_t count, uint32_t error) = 0; // false: refused
    virtual void nofault() = 0;
    virtual void squat(uintptr_t align, uint64_t count) = 0;
};

// Runs harness operation st as step i (FORMAT.md "Harness operations");
// throws StepError.
void harness_step(int i, const Step &st, Regions &regions, Harness &h,
                  std::vector<std::string> &out);

// ---- comparison ----

struct Diff {
    int step = 0;
    std::string field, want, got;
    uint64_t order = 0; // want's line index; got-only lines after all of want's
};

// Differences by key (step, field, occurrence) in want's order, then lines
// only in got; fields in skip are left out, compared counts want's others.
std::vector<Diff> diff_obs(const std::vector<std::string> &want,
                           const std::vector<std::string> &got,
                           const std::set<std::string> &skip, size_t &compared);

} // namespace memwin_vecfmt
