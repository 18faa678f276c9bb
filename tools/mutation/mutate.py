#!/usr/bin/env python3
"""Mutation run for memwin (issue 18); started by tools/mutation/run.sh.

Mutants come from universalmutator (its C rules plus tools/mutation/memwin.rules).
Each worker owns a copy of the library's sources and one configured build
directory; a mutant is swapped in, libmemwin.so rebuilt (ninja memwin), and
judged: not built / identical object / killed by the vectors (memwin-conform)
/ killed by the vectors on the address-sanitizer build (the same run against
an ASan+UBSan libmemwin.so of the mutant: an out-of-bounds write that changes
no result) / killed only by googletest (memwin_tests with LD_LIBRARY_PATH at
the mutant) / survived.  The report is written to docs/mutation.md (--out).
"""
import argparse
import datetime
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

# Files included by another translation unit (src/prim.c includes emu/prim_linux.c).
TU_OF = {"emu/prim_linux.c": "prim.c", "prim_windows.c": "prim.c",
         "sysinfo_linux.c": "sysinfo.c", "sysinfo_windows.c": "sysinfo.c"}
COPY = ["CMakeLists.txt", "cmake", "include", "src", "memwin.def"]


def sh(cmd, timeout=None, env=None, cwd=None):
    """Runs cmd in a process group of its own; returns (exit status or
    'timeout', combined output).  On timeout the whole group is killed (the
    judges fork a child per scenario or death test)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, cwd=cwd, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        return "timeout", out.decode("utf-8", "replace")


def stripped_obj(obj, dest):
    rc, out = sh(["objcopy", "--strip-debug", obj, dest])
    if rc != 0:
        raise RuntimeError("objcopy failed on %s: %s" % (obj, out))


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Worker:
    def __init__(self, k, a):
        self.a = a
        self.dir = os.path.join(a.build, "w%d" % k)
        self.src = os.path.join(self.dir, "tree")
        self.bld = os.path.join(self.dir, "build")
        self.asan = os.path.join(self.dir, "build-asan")
        self.ref = os.path.join(self.dir, "ref")

    def setup(self):
        a = self.a
        if os.path.isdir(self.src):
            shutil.rmtree(self.src)
        os.makedirs(self.src)
        for c in COPY:
            s = os.path.join(a.root, c)
            # Fresh modification times (shutil.copy, not copy2): the build
            # dir may hold objects of an earlier run's last mutant.
            if os.path.isdir(s):
                shutil.copytree(s, os.path.join(self.src, c), copy_function=shutil.copy)
            else:
                shutil.copy(s, os.path.join(self.src, c))
        if not os.path.exists(os.path.join(self.bld, "build.ninja")):
            rc, out = sh(["cmake", "-S", self.src, "-B", self.bld, "-G", "Ninja",
                          "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DMEMWIN_BUILD_TESTS=OFF",
                          "-DMEMWIN_WERROR=OFF"])
            if rc != 0:
                raise RuntimeError("configure failed in %s:\n%s" % (self.bld, out))
        rc, out = sh(["ninja", "-C", self.bld, "-j1", "memwin"])
        if rc != 0:
            raise RuntimeError("unmutated build failed in %s:\n%s" % (self.bld, out))
        if not os.path.exists(os.path.join(self.asan, "build.ninja")):
            rc, out = sh(["cmake", "-S", self.src, "-B", self.asan, "-G", "Ninja",
                          "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DMEMWIN_BUILD_TESTS=OFF",
                          "-DMEMWIN_WERROR=OFF", "-DMEMWIN_CONFORM=OFF",
                          "-DMEMWIN_SANITIZE=address,undefined"])
            if rc != 0:
                raise RuntimeError("configure failed in %s:\n%s" % (self.asan, out))
        rc, out = sh(["ninja", "-C", self.asan, "-j1", "memwin"])
        if rc != 0:
            raise RuntimeError("unmutated ASan build failed in %s:\n%s" % (self.asan, out))
        os.makedirs(self.ref, exist_ok=True)
        for f in set(a.files):
            tu = TU_OF.get(f, f)
            stripped_obj(self.obj(tu), os.path.join(self.ref, tu.replace("/", "_") + ".o"))

    def obj(self, tu):
        return os.path.join(self.bld, "CMakeFiles", "memwin.dir", "src", tu + ".o")

    def run(self, m):
        """Judges mutant m (dict); fills m['result'] and timings."""
        a = self.a
        t0 = time.time()
        target = os.path.join(self.src, "src", m["file"])
        orig = os.path.join(a.root, "src", m["file"])
        shutil.copyfile(m["path"], target)
        try:
            rc, out = sh(["ninja", "-C", self.bld, "-j1", "memwin"], timeout=300)
            if rc != 0:
                m["result"] = "not built"
                return
            tu = TU_OF.get(m["file"], m["file"])
            tmp = os.path.join(self.dir, "mut.o")
            stripped_obj(self.obj(tu), tmp)
            if sh(["cmp", "-s", tmp, os.path.join(self.ref, tu.replace("/", "_") + ".o")])[0] == 0:
                m["result"] = "identical"
                return
            lib = os.path.join(self.bld, "libmemwin.so")
            rc, out = sh([a.conform, "--timeout", str(a.scenario_timeout),
                          "--vectors", a.vectors, lib], timeout=a.conform_timeout)
            m["conform_exit"] = rc
            if rc != 0:
                m["result"] = "killed by vectors"
                m["detail"] = "runner timed out" if rc == "timeout" else first_failure(out)
                return
            # The same vectors against the mutant's ASan+UBSan build, the
            # sanitizer runtimes preloaded into the (uninstrumented) runner.
            rc, out = sh(["ninja", "-C", self.asan, "-j1", "memwin"], timeout=300)
            if rc == 0:
                rc, out = conform_asan(a, os.path.join(self.asan, "libmemwin.so"))
                m["asan_exit"] = rc
                if rc != 0:
                    m["result"] = "killed by vectors (ASan)"
                    m["detail"] = "runner timed out" if rc == "timeout" else first_failure(out)
                    return
            env = dict(os.environ, LD_LIBRARY_PATH=self.bld)
            rc, out = sh([a.gtest, "--gtest_brief=1"], timeout=a.gtest_timeout, env=env)
            m["gtest_exit"] = rc
            if rc != 0:
                m["result"] = "killed only by googletest"
                m["detail"] = gtest_failures(out, rc)
            else:
                m["result"] = "survived"
        finally:
            shutil.copyfile(orig, target)
            m["seconds"] = time.time() - t0


def conform_asan(a, lib):
    """memwin-conform over the vectors against an ASan+UBSan build of the
    library, gcc's sanitizer runtimes preloaded into the runner."""
    env = dict(os.environ, LD_PRELOAD=a.sanitizer_preload, ASAN_OPTIONS="detect_leaks=0",
               UBSAN_OPTIONS="halt_on_error=1")
    return sh([a.conform, "--timeout", str(a.scenario_timeout), "--vectors", a.vectors, lib],
              timeout=a.conform_timeout, env=env)


def first_failure(out):
    """memwin-conform's summary line and the first scenario not identical."""
    summary, first = "", ""
    for line in out.splitlines():
        w = line.split()
        if line.startswith("summary:"):
            summary = line[len("summary:"):].strip()
        elif len(w) >= 2 and not first and not w[0].endswith(":") and w[0] != "scenario" \
                and w[1] not in ("identical", "skipped"):
            first = "%s: %s" % (w[0], " ".join(w[1:]))
    if not summary:
        tail = [l for l in out.splitlines() if l.strip()]
        return tail[-1].strip() if tail else ""
    return "%s; first: %s" % (summary, first[:120])


def gtest_failures(out, rc):
    fails = [l.split("]", 1)[1].strip().split(" ")[0] for l in out.splitlines()
             if l.startswith("[  FAILED  ]") and "." in l]
    fails = list(dict.fromkeys(fails))
    if rc == "timeout":
        return "timed out"
    if fails:
        return "%d test(s): %s" % (len(fails), ", ".join(fails[:3]) + (" ..." if len(fails) > 3 else ""))
    return "exit %s" % rc


def no_comments(text):
    """The text with every comment replaced by one space (newlines inside
    block comments kept, so line numbers stay); strings and character
    constants are left alone.  Two texts equal after this differ only in
    comments, and compile to the same object."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" ")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def make_mutants(a):
    """universalmutator per file; returns the list of distinct mutants."""
    out = []
    for f in a.files:
        src = os.path.join(a.root, "src", f)
        d = os.path.join(a.build, "mutants", f)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        rc, txt = sh([a.mutate, src, "c", a.rules, "--noCheck", "--mutantDir", d], cwd=d)
        if rc != 0:
            raise RuntimeError("mutate failed on %s:\n%s" % (f, txt[-2000:]))
        with open(src) as fh:
            orig = fh.read()
        olines = orig.splitlines()
        ocode = no_comments(orig)
        seen = set()
        names = [n for n in os.listdir(d) if ".mutant." in n]
        names.sort(key=lambda n: int(n.split(".mutant.")[1].split(".")[0]))
        for n in names:
            p = os.path.join(d, n)
            with open(p) as fh:
                text = fh.read()
            h = hashlib.sha1(text.encode()).hexdigest()
            if text == orig or h in seen:
                continue
            seen.add(h)
            mlines = text.splitlines()
            # The changed lines: the common head and tail cut off.
            h = 0
            while h < min(len(olines), len(mlines)) and olines[h] == mlines[h]:
                h += 1
            t = 0
            while t < min(len(olines), len(mlines)) - h and olines[-1 - t] == mlines[-1 - t]:
                t += 1
            line = h + 1
            before = " / ".join(x.strip() for x in olines[h:len(olines) - t])
            after = " / ".join(x.strip() for x in mlines[h:len(mlines) - t])
            mcode = no_comments(text)
            out.append({"file": f, "path": p, "id": "%s#%s" % (f, n.split(".mutant.")[1].split(".")[0]),
                        "line": line, "before": before, "after": after,
                        "comment_only": mcode is not None and mcode == ocode})
    return out


def md_cell(s):
    s = s.replace("|", "\\|").replace("`", "'")
    return s if len(s) <= 140 else s[:137] + "..."


def write_report(a, mutants, chosen, wall, cmdline, started):
    cats = ["not built", "identical", "killed by vectors", "killed by vectors (ASan)",
            "killed only by googletest", "survived"]
    per = {}
    for f in a.files:
        per[f] = {"made": sum(1 for m in mutants if m["file"] == f),
                  "comment only": sum(1 for m in mutants if m["file"] == f and m["comment_only"]),
                  "run": sum(1 for m in chosen if m["file"] == f)}
        for c in cats:
            per[f][c] = sum(1 for m in chosen if m["file"] == f and m.get("result") == c)
    judged = [m for m in chosen if "seconds" in m]
    L = []
    L.append("# Mutation testing of the specification (issue 18)")
    L.append("")
    L.append("Written by `tools/mutation/run.sh` (see [tools/mutation/README.md](../tools/mutation/README.md)); "
             "do not edit by hand except the **reason** column.")
    L.append("")
    if a.sample:
        L.append("**This is a SAMPLE run: %d mutants drawn at random (seed %d) out of the %d that change code "
                 "(%d made in all).** A full run judges every one." % (
                     len(chosen), a.seed, sum(1 for m in mutants if not m["comment_only"]), len(mutants)))
    else:
        L.append("Full run: every one of the %d mutants that change code was judged (%d made in all)."
                 % (sum(1 for m in mutants if not m["comment_only"]), len(mutants)))
    L.append("")
    L.append("- date: %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    L.append("- command: `%s`" % cmdline)
    L.append("- commit: `%s`" % a.commit)
    L.append("- wall time: %.0f s (mutant generation, unmutated builds, baseline checks and %d mutants; %d worker(s))"
             % (wall, len(chosen), a.workers))
    if judged:
        tot = sum(m["seconds"] for m in judged)
        L.append("- time per mutant (one worker's time, build + judging): mean %.1f s, max %.1f s"
                 % (tot / len(judged), max(m["seconds"] for m in judged)))
    L.append("- mutation tool: universalmutator %s, rules `c` (with its `universal` and `c_like`) + "
             "`tools/mutation/memwin.rules`; duplicate mutants (same text) counted once" % a.um_version)
    L.append("- judges: `memwin-conform --timeout %d` over `tests/vectors` (%d scenarios; whole run limited to %d s), "
             "then the same run against the mutant's ASan+UBSan build (sanitizer runtimes preloaded), "
             "then for its survivors `memwin_tests` (googletest, limited to %d s) with `LD_LIBRARY_PATH` at the "
             "mutant's libmemwin.so; a judge that fails or runs out of time kills the mutant"
             % (a.scenario_timeout, a.n_vectors, a.conform_timeout, a.gtest_timeout))
    L.append("- build: each worker's own copy of CMakeLists.txt, cmake/, include/, src/, memwin.def, "
             "configured RelWithDebInfo with MEMWIN_WERROR=OFF (a mutant that only warns is still judged); "
             "`ninja memwin` per mutant; \"not built\" = compile or link error")
    L.append("- comment only: the mutant differs from the original only inside comments (the texts "
             "with comments blanked out, line breaks kept, are equal); these are not built nor judged, and not sampled")
    L.append("- identical: the mutated file's object (`objcopy --strip-debug`) is byte-identical to the unmutated one")
    L.append("")
    L.append("| file | mutants made | comment only | judged | not built | identical | killed by vectors | "
             "killed by vectors (ASan) | killed only by googletest | survived |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    tot = {k: 0 for k in ["made", "comment only", "run"] + cats}
    for f in a.files:
        p = per[f]
        L.append("| src/%s | %d | %d | %d | %s |" % (f, p["made"], p["comment only"], p["run"],
                                                   " | ".join(str(p[c]) for c in cats)))
        for k in tot:
            tot[k] += p[k]
    L.append("| **total** | %d | %d | %d | %s |" % (tot["made"], tot["comment only"], tot["run"],
                                                   " | ".join(str(tot[c]) for c in cats)))
    L.append("")
    surv = sorted([m for m in chosen if m.get("result") == "survived"], key=lambda m: (m["file"], m["line"]))
    L.append("## Survivors (%d)" % len(surv))
    L.append("")
    L.append("Neither the vectors nor googletest tell these from the original. The **reason** column is for a "
             "human: equivalent mutant (why), or a gap in the specification (which test to add).")
    L.append("")
    if surv:
        L.append("| mutant | file:line | original → mutated | reason |")
        L.append("|---|---|---|---|")
        for m in surv:
            L.append("| %s | src/%s:%d | `%s` → `%s` | |" % (m["id"], m["file"], m["line"],
                                                          md_cell(m["before"]), md_cell(m["after"])))
    else:
        L.append("None.")
    L.append("")
    gonly = sorted([m for m in chosen if m.get("result") == "killed only by googletest"],
                   key=lambda m: (m["file"], m["line"]))
    L.append("## Killed only by googletest (%d)" % len(gonly))
    L.append("")
    L.append("The vectors (the specification shared with Go) miss these; googletest catches them.")
    L.append("")
    if gonly:
        L.append("| mutant | file:line | original → mutated | googletest failures |")
        L.append("|---|---|---|---|")
        for m in gonly:
            L.append("| %s | src/%s:%d | `%s` → `%s` | %s |" % (m["id"], m["file"], m["line"],
                                                             md_cell(m["before"]), md_cell(m["after"]),
                                                             md_cell(m.get("detail", ""))))
    else:
        L.append("None.")
    L.append("")
    L.append("## Every judged mutant")
    L.append("")
    L.append("| mutant | file:line | original → mutated | result | s | detail |")
    L.append("|---|---|---|---|---:|---|")
    for m in sorted(chosen, key=lambda m: (m["file"], m["line"], m["id"])):
        L.append("| %s | src/%s:%d | `%s` → `%s` | %s | %.1f | %s |" % (
            m["id"], m["file"], m["line"], md_cell(m["before"]), md_cell(m["after"]),
            m.get("result", "not run"), m.get("seconds", 0.0), md_cell(m.get("detail", ""))))
    L.append("")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        fh.write("\n".join(L))


def main():
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.time()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--build", required=True, help="scratch directory (worker trees, mutants)")
    ap.add_argument("--base", required=True, help="configured build dir holding memwin-conform and memwin_tests")
    ap.add_argument("--mutate", required=True, help="universalmutator's mutate program")
    ap.add_argument("--files", default="api.c,mem.c,mem_windows.c,reserve_aligned.c,emu/prim_linux.c")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=0, help="judge N mutants drawn at random (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenario-timeout", type=int, default=10)
    ap.add_argument("--gtest-timeout", type=int, default=120,
                    help="seconds for one memwin_tests run (the unmutated one takes a few)")
    ap.add_argument("--conform-timeout", type=int, default=60,
                    help="seconds for one whole memwin-conform run (the unmutated one takes about one)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--cmdline", default=None)
    a = ap.parse_args()
    a.root = os.path.abspath(a.root)
    a.build = os.path.abspath(a.build)
    a.files = [f.strip() for f in a.files.split(",") if f.strip()]
    a.rules = os.path.join(a.root, "tools", "mutation", "memwin.rules")
    a.vectors = os.path.join(a.root, "tests", "vectors")
    a.n_vectors = len([n for n in os.listdir(a.vectors) if n.endswith(".vec")])
    a.conform = os.path.join(a.base, "memwin-conform")
    a.gtest = os.path.join(a.base, "memwin_tests")
    # gcc's sanitizer runtimes, preloaded for the ASan judge.
    libs = [subprocess.run(["gcc", "-print-file-name=" + n], capture_output=True, text=True).stdout.strip()
            for n in ("libasan.so", "libubsan.so")]
    a.sanitizer_preload = ":".join(libs)
    a.out = a.out or os.path.join(a.root, "docs", "mutation.md")
    a.commit = sh(["git", "-C", a.root, "rev-parse", "--short", "HEAD"])[1].strip()
    if sh(["git", "-C", a.root, "status", "--porcelain", "--", "src", "include"])[1].strip():
        a.commit += " (src/ or include/ modified in the working tree)"
    a.um_version = sh([os.path.join(os.path.dirname(a.mutate), "python"), "-c",
                       "import importlib.metadata as m; print(m.version('universalmutator'))"])[1].strip()
    for f in a.files:
        if not os.path.isfile(os.path.join(a.root, "src", f)):
            sys.exit("no such file: src/%s" % f)

    # Baseline: the unmutated library must pass both judges, or nothing is judged.
    base_lib = os.path.join(a.base, "libmemwin.so")
    rc, out = sh([a.conform, "--timeout", str(a.scenario_timeout), "--vectors", a.vectors, base_lib])
    if rc != 0:
        sys.exit("baseline: memwin-conform fails on the unmutated library (exit %s):\n%s" % (rc, out[-3000:]))
    log("baseline: memwin-conform passes on the unmutated library")

    os.makedirs(a.build, exist_ok=True)
    mutants = make_mutants(a)
    log("mutants made: %d (%s)" % (len(mutants), ", ".join(
        "%s %d" % (f, sum(1 for m in mutants if m["file"] == f)) for f in a.files)))
    code = [m for m in mutants if not m["comment_only"]]
    log("mutants changing code (not only comments): %d" % len(code))
    chosen = list(code)
    if a.sample and a.sample < len(code):
        chosen = random.Random(a.seed).sample(code, a.sample)
    else:
        a.sample = 0

    workers = [Worker(k, a) for k in range(max(1, a.workers))]
    for w in workers:
        w.setup()
    # memwin_tests must pass on a worker's unmutated library too (same flags as mutants).
    t = time.time()
    env = dict(os.environ, LD_LIBRARY_PATH=workers[0].bld)
    rc, out = sh([a.gtest, "--gtest_brief=1"], timeout=a.gtest_timeout, env=env)
    if rc != 0:
        sys.exit("baseline: memwin_tests fails on the unmutated library (exit %s):\n%s" % (rc, out[-3000:]))
    log("baseline: memwin_tests passes on the unmutated library (%.0f s)" % (time.time() - t))
    # And the vectors on a worker's unmutated ASan build (the ASan judge).
    rc, out = conform_asan(a, os.path.join(workers[0].asan, "libmemwin.so"))
    if rc != 0:
        sys.exit("baseline: memwin-conform fails on the unmutated ASan build (exit %s):\n%s" % (rc, out[-3000:]))
    log("baseline: memwin-conform passes on the unmutated ASan build")

    lock = threading.Lock()
    queue = list(chosen)
    done = [0]

    def loop(w):
        while True:
            with lock:
                if not queue:
                    return
                m = queue.pop(0)
            w.run(m)
            with lock:
                done[0] += 1
                log("[%d/%d] %s line %d: %s (%.1f s)" % (done[0], len(chosen), m["id"], m["line"],
                                                        m["result"], m["seconds"]))
    ts = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    write_report(a, mutants, chosen, time.time() - t0, a.cmdline or " ".join(sys.argv), started)
    log("report: %s" % a.out)


if __name__ == "__main__":
    main()
