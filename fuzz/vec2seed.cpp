// vec2seed: converts scenario files (tests/vectors/*.vec syntax, see
// tests/vectors/FORMAT.md) into seed inputs for memwin_fuzz.
//
//     vec2seed [--quiet] --out DIR FILE.vec...
//
// Each scenario becomes DIR/<name>.bin in the fuzzer's binary format (see
// Decode in memwin_fuzz.cpp): names (A, B, X...) become slots in order of
// appearance, addresses NAME+OFFSET become slot-relative addresses, "free X
// SIZE [ALIGN]" becomes the fuzzer's hole operation, "fault" and "nofault"
// drive the fault injector, "fill" writes data.  The vectors are exact-mode
// scenarios; the fuzzer runs in recoverable mode, where Reserved pages must
// be mapped before they are used, so every used step is preceded by a
// sysMapOS of its range (refused, without effect, where it is not needed).
// Steps the fuzzer has no equivalent for (squat, region) are skipped.
//
// Lines are read by tools/vecfmt's parser one at a time, so that a line it
// rejects is skipped with a note (the converter keeps working while the
// vectors grow) and so that the seed-only steps of fuzz/seeds,
// "exactreserve SIZE" and "exactfree NAME", which the parser does not know,
// can be read here.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "vecfmt.h"

namespace fs = std::filesystem;
using namespace memwin_vecfmt;

namespace {

// Operation codes of memwin_fuzz.cpp's decoder (low 5 bits of the op byte).
enum Op : uint8_t {
    kSysReserve, kSysReserveOS, kSysAlloc, kSysAllocOS, kSysReserveAligned, kSysMap,
    kSysMapOS, kSysUsed, kSysUsedOS, kSysUnused, kSysUnusedOS, kSysFault, kSysFaultOS,
    kSysFree, kSysFreeOS, kSysUnreserve, kHint, kFill, kSetStat, kStatAdd, kFault,
    kNoFault, kHole, kNeedZero, kDrop, kExactReserve, kExactFree,
};

const std::map<std::string, Op> kPlain = {
    // Steps encoded as op byte, address, size.
    {"sysMapOS", kSysMapOS},     {"sysUnused", kSysUnused}, {"sysUnusedOS", kSysUnusedOS},
    {"sysFault", kSysFault},     {"sysFaultOS", kSysFaultOS}, {"sysFreeOS", kSysFreeOS},
    {"sysUnreserve", kSysUnreserve},
};
const char *const kHints[] = {"sysHugePage",   "sysNoHugePage",   "sysHugePageCollapse",
                              "sysHugePageOS", "sysNoHugePageOS", "sysHugePageCollapseOS"};
// The fuzzer's fault error codes, by index; others become index 0.
const uint64_t kErrors[] = {8, 1455, 87, 487, 5, 0, 1, 2};
const uint64_t kPage = 4096;

// A step the fuzzer cannot take; the reason goes into the note.
struct Skip {
    std::string why;
};

using Bytes = std::string;

Bytes le(uint64_t v, int n)
{
    Bytes b;
    for (int i = 0; i < n; i++)
        b += (char)(uint8_t)(v >> (8 * i));
    return b;
}

Bytes byte(unsigned v) { return Bytes(1, (char)(uint8_t)v); }

uint64_t number(const std::string &s)
{
    uint64_t v;
    if (!parse_number(s, v))
        throw Skip{"bad number " + s};
    return v;
}

int log2_of(uint64_t v)
{
    int n = 0;
    while (v >>= 1)
        n++;
    return n;
}

class Converter {
public:
    // The encoding of step st (fields after "fatal" and "NAME ="), or Skip.
    // Names get their slots as they are met, also in a step that is then
    // skipped, so that slots stay in order of appearance.
    Bytes step(const std::string &bind, const std::string &op,
               const std::vector<std::string> &args)
    {
        unsigned sl = bind.empty() ? 0 : slot(bind);
        auto code = [&](Op o, unsigned s) { return byte((s << 5) | o); };
        if (op == "sysReserve" || op == "sysReserveOS")
            return code(op == "sysReserve" ? kSysReserve : kSysReserveOS, sl) + addr(args[0]) +
                   size(args[1]);
        if (op == "sysAlloc")
            return code(kSysAlloc, sl) + size(args[0]) + byte(1);
        if (op == "sysAllocOS")
            return code(kSysAllocOS, sl) + size(args[0]);
        if (op == "sysReserveAligned") {
            Bytes b = code(kSysReserveAligned, sl) + addr(args[0]);
            b += size(args[1]);
            return b + align(args[2]);
        }
        if (op == "sysMap" || op == "sysFree") {
            Bytes b = code(op == "sysMap" ? kSysMap : kSysFree, sl) + addr(args[0]);
            return b + size(args[1]) + byte(1);
        }
        // The vectors are exact-mode scenarios, which may commit Reserved
        // pages directly; checked mode wants them mapped first, so each used
        // step is preceded by a sysMapOS of its range (refused, harmlessly,
        // where the pages are mapped already).
        if (op == "sysUsed" || op == "sysUsedOS") {
            Bytes b = premap(args);
            b += code(op == "sysUsed" ? kSysUsed : kSysUsedOS, sl) + addr(args[0]);
            b += size(args[1]);
            if (op == "sysUsed")
                b += byte(3) + size(args[2]);
            return b;
        }
        auto plain = kPlain.find(op);
        if (plain != kPlain.end()) {
            Bytes b = code(plain->second, sl) + addr(args[0]);
            return b + size(args[1]);
        }
        for (unsigned h = 0; h < sizeof kHints / sizeof kHints[0]; h++)
            if (op == kHints[h]) {
                Bytes b = code(kHint, sl) + byte(h) + addr(args[0]);
                return b + size(args[1]);
            }
        if (op == "needZeroAfterSysUnused" || op == "needZeroAfterSysUnusedOS")
            return code(kNeedZero, sl);
        if (op == "fill") {
            Bytes b = code(kFill, sl) + addr(args[0]);
            return b + size(args[1]);
        }
        if (op == "setstat")
            return code(kSetStat, sl) + byte(1) + le(number(args[0]), 8);
        if (op == "fault") {
            uint32_t classes;
            if (!parse_classes(args[0], classes))
                throw Skip{"bad fault class " + args[0]};
            uint64_t nth = number(args[1]), count = number(args[2]), err = number(args[3]);
            if (nth > 255 || count > 255)
                throw Skip{"fault nth/count above 255"};
            unsigned e = 0;
            for (unsigned i = 0; i < sizeof kErrors / sizeof kErrors[0]; i++)
                if (kErrors[i] == err) {
                    e = i;
                    break;
                }
            return code(kFault, sl) + byte(classes) + byte((unsigned)nth) + byte((unsigned)count) +
                   byte(e);
        }
        if (op == "nofault")
            return code(kNoFault, sl);
        if (op == "free") {
            unsigned k = slot(args[0]);
            Bytes sz = size(args[1]);
            uint64_t al = args.size() > 2 ? number(args[2]) : 1;
            if (al == 0 || (al & (al - 1)) || al >= (1u << 24))
                throw Skip{"hole alignment " + args[2]};
            return code(kHole, k) + sz + byte((unsigned)log2_of(al));
        }
        if (op == "drop")
            return code(kDrop, slot(args[0]));
        // Only in fuzz/seeds: a reservation made, or released, in exact mode.
        if (op == "exactreserve")
            return code(kExactReserve, sl) + size(args[0]);
        if (op == "exactfree")
            return code(kExactFree, slot(args[0]));
        throw Skip{"no fuzzer equivalent for " + op};
    }

private:
    std::map<std::string, unsigned> slots_;

    unsigned slot(const std::string &name)
    {
        auto it = slots_.find(name);
        if (it != slots_.end())
            return it->second;
        unsigned k = (unsigned)(slots_.size() % 8);
        slots_[name] = k;
        return k;
    }

    // nil | NUMBER | NAME | NAME+NUMBER | NAME-NUMBER (checked by the parser).
    Bytes addr(const std::string &s)
    {
        if (s == "nil")
            return byte(0);
        if (s[0] >= '0' && s[0] <= '9')
            return byte(3) + le(number(s), 8);
        size_t i = s.find_first_of("+-");
        uint64_t mag = i == std::string::npos ? 0 : number(s.substr(i + 1));
        bool neg = i != std::string::npos && s[i] == '-';
        unsigned k = slot(s.substr(0, i));
        if (neg ? mag <= (1ull << 31) : mag < (1ull << 31))
            return byte(2 | (k << 3)) + le(neg ? ~mag + 1 : mag, 4);
        if (!neg && mag % kPage == 0 && mag / kPage < (1u << 16))
            return byte(7 | (k << 3)) + le(mag / kPage, 2);
        throw Skip{"offset of " + s + " out of range"};
    }

    static Bytes size(const std::string &s)
    {
        uint64_t v = number(s);
        if (v % kPage == 0 && v / kPage < (1u << 16))
            return byte(1) + le(v / kPage, 2);
        return byte(2) + le(v, 8);
    }

    static Bytes align(const std::string &s)
    {
        uint64_t v = number(s);
        if (v && !(v & (v - 1)) && v < (1ull << 63))
            return byte((unsigned)log2_of(v));
        return byte(0x80) + le(v, 8);
    }

    Bytes premap(const std::vector<std::string> &args)
    {
        Bytes b = byte(kSysMapOS) + addr(args[0]);
        return b + size(args[1]);
    }
};

// The seed-only steps, "[NAME =] exactreserve SIZE" and "exactfree NAME":
// true if fields is one (bind, op, args set), with err set if it is malformed.
bool seed_step(const std::vector<std::string> &f, std::string &bind, std::string &op,
               std::vector<std::string> &args, std::string &err)
{
    size_t k = 0;
    if (f.size() >= 2 && f[1] == "=")
        k = 2;
    if (k >= f.size() || (f[k] != "exactreserve" && f[k] != "exactfree"))
        return false;
    bind = k ? f[0] : "";
    op = f[k];
    args.assign(f.begin() + (long)k + 1, f.end());
    uint64_t v;
    if (k && !is_ident(bind))
        err = "bad name " + bind;
    else if (k && op == "exactfree")
        err = "exactfree returns no pointer to name";
    else if (args.size() != 1)
        err = op + ": wrong number of arguments";
    else if (op == "exactreserve" ? !parse_number(args[0], v) : !is_ident(args[0]))
        err = "bad argument " + args[0];
    return true;
}

// The seed of the .vec file at path ("" if no step converts).
Bytes convert(const std::string &path, bool quiet)
{
    std::ifstream in(path, std::ios::binary);
    Converter conv;
    Bytes out;
    std::string raw;
    for (int ln = 1; std::getline(in, raw); ln++) {
        std::vector<std::string> f = fields_of(raw.substr(0, raw.find('#')));
        if (f.empty() || f[0] == "desc" || f[0] == "since" || f[0] == "env" || f[0] == "golden")
            continue;
        std::string bind, op, err;
        std::vector<std::string> args;
        if (!seed_step(f, bind, op, args, err)) {
            // One line as a scenario of its own: its step, or the reason.
            Scenario sc;
            std::istringstream line(raw);
            if (parse_scenario(line, path, "", sc, err)) {
                bind = sc.steps[0].bind;
                op = sc.steps[0].op;
                args = sc.steps[0].args;
            } else {
                err = err.substr(err.find(": ") + 2); // without ":1: "
            }
        }
        try {
            if (!err.empty())
                throw Skip{err};
            out += conv.step(bind, op, args);
        } catch (const Skip &s) {
            if (!quiet)
                std::fprintf(stderr, "vec2seed: %s:%d: skipped (%s)\n", path.c_str(), ln,
                             s.why.c_str());
        }
    }
    return out;
}

int usage()
{
    std::fprintf(stderr, "usage: vec2seed [--quiet] --out DIR FILE.vec...\n");
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    std::string outdir;
    bool quiet = false, opts = true;
    std::vector<std::string> files;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (opts && a == "--quiet") {
            quiet = true;
        } else if (opts && a == "--out") {
            if (++i >= argc)
                return usage();
            outdir = argv[i];
        } else if (opts && a.compare(0, 6, "--out=") == 0) {
            outdir = a.substr(6);
        } else if (opts && a == "--") {
            opts = false;
        } else if (opts && a.size() > 1 && a[0] == '-') {
            return usage();
        } else {
            files.push_back(a);
        }
    }
    if (outdir.empty())
        return usage();
    std::error_code ec;
    fs::create_directories(outdir, ec);
    if (ec) {
        std::fprintf(stderr, "vec2seed: %s: %s\n", outdir.c_str(), ec.message().c_str());
        return 1;
    }
    int n = 0;
    for (const std::string &path : files) {
        fs::path p(path);
        if (path.size() < 4 || path.compare(path.size() - 4, 4, ".vec") != 0 ||
            !fs::is_regular_file(p, ec))
            continue;
        Bytes data = convert(path, quiet);
        if (data.empty())
            continue;
        fs::path dst = fs::path(outdir) / (p.stem().string() + ".bin");
        std::ofstream f(dst, std::ios::binary | std::ios::trunc);
        f.write(data.data(), (std::streamsize)data.size());
        if (!f.flush()) {
            std::fprintf(stderr, "vec2seed: cannot write %s\n", dst.string().c_str());
            return 1;
        }
        n++;
    }
    std::printf("vec2seed: %d seed(s) in %s\n", n, outdir.c_str());
    return 0;
}
