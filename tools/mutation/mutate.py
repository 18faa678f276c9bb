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
import json
import os
import random
import re
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
            reuse = m.get("reuse", {})
            if reuse.get("plain"):
                rc = 0  # passed with the same sources, runner and scenarios
            else:
                rc, out = sh(conform_cmd(a, lib), timeout=a.conform_timeout)
            m["conform_exit"] = rc
            if rc != 0:
                m["result"] = "killed by vectors"
                m["detail"] = "runner timed out" if rc == "timeout" else first_failure(out)
                return
            # Then the mutant's ASan+UBSan build against the same vectors
            # (the sanitizer runtimes preloaded into the uninstrumented
            # runner) and googletest.  A Go-scope mutant meets the ASan
            # vectors first, as only the vectors count for it; a memwin-scope
            # one meets googletest first, which kills most of them sooner.
            order = ("asan", "gtest") if m.get("scope") != "memwin" else ("gtest", "asan")
            for judge in order:
                if judge == "asan" and reuse.get("asan"):
                    m["asan_exit"] = 0
                    continue
                if judge == "asan":
                    rc, out = sh(["ninja", "-C", self.asan, "-j1", "memwin"], timeout=300)
                    if rc != 0:
                        continue
                    rc, out = conform_asan(a, os.path.join(self.asan, "libmemwin.so"))
                    m["asan_exit"] = rc
                    if rc != 0:
                        m["result"] = "killed by vectors (ASan)"
                        m["detail"] = "runner timed out" if rc == "timeout" else first_failure(out)
                        return
                else:
                    env = dict(os.environ, LD_LIBRARY_PATH=self.bld)
                    rc = 0
                    if reuse.get("killer") and not reuse.get("killer_judge"):
                        # The test that killed it before, alone first.
                        rc, out = sh([a.gtest, "--gtest_brief=1", "--gtest_filter=" + reuse["killer"]],
                                     timeout=a.gtest_timeout, env=env)
                    if rc == 0:
                        rc, out = sh([a.gtest, "--gtest_brief=1", "--gtest_fail_fast"],
                                     timeout=a.gtest_timeout, env=env)
                    m["gtest_exit"] = rc
                    if rc != 0:
                        m["result"] = "killed only by googletest"
                        m["detail"] = gtest_failures(out, rc)
                        return
            if m.get("scope") == "memwin":
                # memwin's own contract has two more googletest judges: the
                # tracker's and the emulation's behaviour when malloc fails,
                # and memory safety of the checking modes (see extra_judges).
                for judge, rc, out in self.extra_judges(m, reuse):
                    m["extra_exit"] = rc
                    if rc != 0:
                        m["result"] = "killed only by googletest"
                        m["detail"] = "%s: %s" % (judge, gtest_failures(out, rc))
                        return
            m["result"] = "survived"
        finally:
            shutil.copyfile(orig, target)
            m["seconds"] = time.time() - t0


    def extra_judges(self, m, reuse):
        """The memwin-scope judges after memwin_tests, one result at a time
        (judge name, exit, output), stopping at the first that fails:
        memwin_alloc_fail_tests, each test in a process of its own as ctest
        runs them (its malloc fails on request, which no sanitizer build and
        no test of memwin_tests can arrange), then memwin_tests built with
        ASan+UBSan against the mutant's ASan+UBSan library (an overrun of
        the tracker's run lists, or a leak, that changes no result).  The
        test that killed the mutant in an earlier run goes first."""
        a = self.a
        killer = reuse.get("killer_judge"), reuse.get("killer")
        env = dict(os.environ, LD_LIBRARY_PATH=self.bld)
        tests = list(a.af_tests)
        if killer[0] == AF_JUDGE and killer[1] in tests:
            tests.remove(killer[1])
            tests.insert(0, killer[1])
        for t in tests:
            rc, out = run_af_test(a, t, env)
            if rc != 0:
                yield AF_JUDGE, rc, out
                return
        if not a.gtest_asan:
            return
        rc, out = sh(["ninja", "-C", self.asan, "-j1", "memwin"], timeout=300)
        if rc != 0:
            return
        env = asan_gtest_env(self.asan)
        rc = 0
        if killer[0] == ASAN_GTEST_JUDGE and killer[1]:
            rc, out = sh([a.gtest_asan, "--gtest_brief=1", "--gtest_filter=" + killer[1]],
                         timeout=a.gtest_asan_timeout, env=env)
        if rc == 0:
            rc, out = sh([a.gtest_asan, "--gtest_brief=1", "--gtest_fail_fast"],
                         timeout=a.gtest_asan_timeout, env=env)
        yield ASAN_GTEST_JUDGE, rc, out


AF_JUDGE = "memwin_alloc_fail_tests"
ASAN_GTEST_JUDGE = "memwin_tests (ASan)"


def run_af_test(a, test, env):
    """One test of memwin_alloc_fail_tests in a process of its own; it fails
    unless it exits 0 having passed exactly that test."""
    rc, out = sh([a.gtest_af, "--gtest_brief=0", "--gtest_filter=" + test], timeout=a.gtest_timeout, env=env)
    if rc == 0 and "[  PASSED  ] 1 test" not in out:
        rc = "no test ran"
    return rc, out


def asan_gtest_env(libdir):
    """The ASan+UBSan memwin_tests' environment: the library of libdir, leaks
    and undefined behaviour fatal."""
    return dict(os.environ, LD_LIBRARY_PATH=libdir, ASAN_OPTIONS="detect_leaks=1",
                UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")


def counted_apart(m):
    """A mutant its verdict takes out of the score: equivalent, or
    unrecordable (see apply_verdict)."""
    return m["equivalent"] or m.get("unrecordable")


def gaps(chosen):
    """After write_report: the mutants the judges of their scope leave alive
    with no 'equivalent' verdict, and those with that verdict that a judge
    killed (the reason is then wrong)."""
    out = []
    for m in chosen:
        if m.get("wrong_verdict"):
            out.append((m, "killed (%s), yet reasons.tsv calls it equivalent" % m["result"]))
        elif m.get("result") in KILL_ANY + ("survived",) and not counted_apart(m):
            kills = KILL_GO if m.get("scope") == "go" else KILL_ANY
            if m["result"] not in kills:
                out.append((m, "%s in %s scope, no verdict" % (m["result"], m.get("scope"))))
    return out


def check_exit(a, chosen):
    """--check: report gaps(chosen) and exit 1 if there are any."""
    if not a.check:
        return
    found = gaps(chosen)
    for m, why in found:
        log("check: %s line %d (%s): %s" % (m["id"], m["line"], m["file"], why))
    if found:
        sys.exit("check: %d of %d mutants are gaps in the specification or wrong verdicts" % (len(found), len(chosen)))
    log("check: every mutant is killed by a judge of its scope or has a reasoned verdict (%d)" % len(chosen))


def conform_cmd(a, lib, fail_fast=True):
    """memwin-conform over the vectors against lib.  A verdict stops at the
    first scenario not identical; the baseline and the coverage run want
    every scenario."""
    return ([a.conform] + (["--fail-fast"] if fail_fast else []) +
            ["--timeout", str(a.scenario_timeout), "--vectors", a.vectors, lib])


def conform_asan(a, lib):
    """memwin-conform over the vectors against an ASan+UBSan build of the
    library, gcc's sanitizer runtimes preloaded into the runner."""
    env = dict(os.environ, LD_PRELOAD=a.sanitizer_preload, ASAN_OPTIONS="detect_leaks=0",
               UBSAN_OPTIONS="halt_on_error=1")
    return sh(conform_cmd(a, lib), timeout=a.conform_timeout, env=env)


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
    if rc in ("timeout", "no test ran"):
        return "timed out" if rc == "timeout" else rc
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


FUNC_RE = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(")


def functions_of(lines):
    """The function each line is in (1-based list; "-" outside any): a
    definition starts at a line in column 0 that names a function and does
    not end with ';', and ends at a '}' in column 0."""
    out, cur = ["-"], "-"
    for l in lines:
        m = FUNC_RE.match(l)
        one_line = False
        if m and not l.rstrip().endswith(";") and not l.startswith(("typedef", "#")):
            cur = m.group(1)
            one_line = l.rstrip().endswith("}")
        out.append(cur)
        if l.startswith("}") or one_line:
            cur = "-"
    return out


def _neighbour(olines, i, step):
    """The nearest non-blank line from 0-based line i on, going by step
    (stripped; "" past either end)."""
    while 0 <= i < len(olines):
        if olines[i].strip():
            return olines[i].strip()
        i += step
    return ""


def _nth(starts, h):
    """" [k of n]": which of the places starts (0-based lines, in order)
    h is, when nothing else tells them apart."""
    return " [%d of %d]" % (starts.index(h) + 1, len(starts))


def insertion_key(olines, funcs, h):
    """How the report and reasons.tsv name a line added before original
    line h (0-based): "after: " the line it follows, so that one insertion
    is told from another; when that line's text occurs more than once in its
    function (a lone "}", say), " / before: " the line it precedes too, and
    when that pair occurs more than once as well, " [k of n]" (the k-th such
    place of the function, in line order)."""
    prev = olines[h - 1].strip()
    fn = funcs[h]
    same = [i + 1 for i, l in enumerate(olines) if l.strip() == prev and funcs[i + 1] == fn]
    if len(same) > 1 and h < len(olines):
        nxt = olines[h].strip()
        pair = [i for i in same if i < len(olines) and olines[i].strip() == nxt]
        key = "after: %s / before: %s" % (prev, nxt)
        return key + (_nth(pair, h) if len(pair) > 1 else "")
    return "after: " + prev


def replaced_key(olines, funcs, h, e):
    """How the report and reasons.tsv name original lines h..e-1 (0-based)
    that a mutant replaces: their text joined by " / ", so that a verdict
    follows the line when others move; when the same text occurs more than
    once in its function (a "return 0;" of each error path, say), one
    verdict must not cover every place, so " [after: P]" is added with the
    nearest non-blank line before it, " [after: P / before: N]" with the
    one after it too when that is not enough, and " [k of n]" (the k-th
    place of the function, in line order) when neither tells them apart."""
    block = [x.strip() for x in olines[h:e]]
    text = " / ".join(block)
    fn = funcs[h + 1]
    n = len(block)
    starts = [i for i in range(len(olines) - n + 1)
              if funcs[i + 1] == fn and [x.strip() for x in olines[i:i + n]] == block]
    if len(starts) < 2:
        return text
    prev = _neighbour(olines, h - 1, -1)
    after = [i for i in starts if _neighbour(olines, i - 1, -1) == prev]
    if len(after) == 1:
        return "%s [after: %s]" % (text, prev)
    nxt = _neighbour(olines, e, 1)
    both = [i for i in after if _neighbour(olines, i + n, 1) == nxt]
    if len(both) == 1:
        return "%s [after: %s / before: %s]" % (text, prev, nxt)
    return text + _nth(starts, h)


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
        funcs = functions_of(olines)
        ocode = no_comments(orig)
        seen = set()
        names = [n for n in os.listdir(d) if ".mutant." in n]
        names.sort(key=lambda n: int(n.split(".mutant.")[1].split(".")[0]))
        for n in names:
            p = os.path.join(d, n)
            with open(p) as fh:
                text = fh.read()
            sha = hashlib.sha1(text.encode()).hexdigest()
            if text == orig or sha in seen:
                continue
            seen.add(sha)
            mlines = text.splitlines()
            # The changed lines: the common head and tail cut off.
            h = 0
            while h < min(len(olines), len(mlines)) and olines[h] == mlines[h]:
                h += 1
            t = 0
            while t < min(len(olines), len(mlines)) - h and olines[-1 - t] == mlines[-1 - t]:
                t += 1
            line = h + 1
            plain = " / ".join(x.strip() for x in olines[h:len(olines) - t])
            after = " / ".join(x.strip() for x in mlines[h:len(mlines) - t])
            if plain:
                before = replaced_key(olines, funcs, h, len(olines) - t)
            elif h > 0:
                before = insertion_key(olines, funcs, h)
            else:
                before = plain
            mcode = no_comments(text)
            out.append({"file": f, "path": p, "sha": sha, "id": "%s#%s" % (f, n.split(".mutant.")[1].split(".")[0]),
                        "line": line, "nlines": len(olines) - t - h,
                        "func": funcs[min(line, len(olines))], "before": before, "after": after,
                        "plain": plain,
                        "comment_only": mcode is not None and mcode == ocode})
    return out


def md_cell(s):
    s = s.replace("|", "\\|").replace("`", "'")
    return s if len(s) <= 140 else s[:137] + "..."


def load_reasons(a):
    """tools/mutation/reasons.tsv: a verdict on a mutant that the judges do
    not kill, with its reason.  Keyed by file and the changed text before
    and after (not by line or mutant number, which move when the source
    changes; a text that occurs more than once in its function is named
    with its neighbours, see replaced_key and insertion_key), and the
    function it is in ("*": any function and any place of the text).
    Lines: FILE<TAB>FUNCTION<TAB>BEFORE<TAB>AFTER<TAB>VERDICT<TAB>REASON,
    VERDICT one of
      equivalent  no caller can tell the mutant from the original (the
                  reason says why); counted apart, not in the score
      memwin      the change shows only in memwin's own modes, although the
                  vectors run the line (e.g. the mode test itself): the
                  mutant is judged in memwin's scope, where googletest counts
      unrecordable  Go's scope, but the change shows only at addresses the
                  reference runtimes under Wine do not get, so no golden can
                  record it (the reason says which and how that was
                  measured): googletest must kill it instead, and it is
                  counted apart, not in the Go score."""
    r = {}
    p = os.path.join(a.root, "tools", "mutation", "reasons.tsv")
    if os.path.exists(p):
        with open(p) as fh:
            for line in fh:
                if line.startswith("#") or not line.strip():
                    continue
                w = line.rstrip("\n").split("\t")
                if len(w) != 6 or w[4] not in ("equivalent", "memwin", "unrecordable"):
                    raise RuntimeError("reasons.tsv: bad line: %r" % line)
                r[(w[0], w[1], w[2], w[3])] = (w[4], w[5])
    return r


def reason_for(reasons, m):
    """m's verdict: the line for its function and its key (which tells a
    repeated text's places apart), else a line for any function ("*"),
    which covers the text wherever it is."""
    return reasons.get((m["file"], m.get("func", "-"), m["before"], m["after"])) or \
        reasons.get((m["file"], "*", m["before"], m["after"])) or \
        reasons.get((m["file"], "*", m.get("plain", m["before"]), m["after"])) or ("", "")


KILL_GO = ("killed by vectors", "killed by vectors (ASan)")
KILL_ANY = KILL_GO + ("killed only by googletest",)


def apply_verdict(m, verdict, reason):
    """Sets what reasons.tsv's verdict on m means for the report and --check:
    its scope, and whether it is equivalent, unrecordable or wrongly called
    equivalent."""
    m["reason"] = reason
    if verdict == "memwin":
        m["scope"] = "memwin"
    # "equivalent" stands only for a mutant no judge of its scope kills.
    unkilled = m.get("result") == "survived" or (
        m.get("scope") == "go" and m.get("result") == "killed only by googletest")
    m["equivalent"] = verdict == "equivalent" and unkilled
    m["wrong_verdict"] = verdict == "equivalent" and not unkilled and m.get("result") in KILL_ANY
    # "unrecordable" stands for a Go-scope mutant googletest kills and the
    # vectors cannot (see load_reasons); one that survives googletest too
    # stays a gap, and a vector kill needs no verdict.
    m["unrecordable"] = (verdict == "unrecordable" and m.get("scope") == "go" and
                         m.get("result") == "killed only by googletest")
    if m["unrecordable"]:
        m["reason"] = "%s (killed by %s)" % (reason, m.get("detail") or "googletest")


def write_report(a, mutants, chosen, wall, cmdline, started):
    cats = ["not built", "identical", "killed by vectors", "killed by vectors (ASan)",
            "killed only by googletest", "survived"]
    reasons = load_reasons(a)
    for m in chosen:
        apply_verdict(m, *reason_for(reasons, m))
    judged = [m for m in chosen if "seconds" in m]
    L = []
    L.append("# Mutation testing of the specification (issue 18)")
    L.append("")
    L.append("Written by `tools/mutation/run.sh` (see [tools/mutation/README.md](../tools/mutation/README.md)); "
             "do not edit by hand: reasons for survivors go in `tools/mutation/reasons.tsv`.")
    L.append("")
    if getattr(a, "left_out", 0):
        L.append("**This is a PARTIAL report of a run still going on: the %d mutants judged so far; %d more "
                 "that change code are not judged yet (`--report-only --partial`).**" % (len(chosen), a.left_out))
    elif a.sample:
        L.append("**This is a SAMPLE run: %d mutants drawn at random (seed %d) out of the %d that change code "
                 "(%d made in all).** A full run judges every one." % (
                     len(chosen), a.seed, sum(1 for m in mutants if not m["comment_only"]), len(mutants)))
    else:
        L.append("Full run over %s: every one of the %d mutants that change code was judged (%d made in all)."
                 % (", ".join("`src/%s`" % f for f in a.files),
                    sum(1 for m in mutants if not m["comment_only"]), len(mutants)))
    L.append("")
    L.append("- date: %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    L.append("- command: `%s`" % cmdline)
    L.append("- commit: `%s`" % a.commit)
    if a.resumed and a.resumed == len(chosen) and not a.run_walls:
        span = getattr(a, "span", None)
        L.append("- wall time: the run that judged these mutants was stopped before its end, on mutants of other "
                 "files, so it recorded no wall time of its own%s; this report was written from its journal "
                 "(`--report-only`)" % (
                     "; from its start to the last of these mutants: %.0f s" % span if span else
                     " (its journal has no time stamps)"))
    elif a.resumed and a.resumed == len(chosen):
        L.append("- wall time: %.0f s in all, the sum of the runs that judged these mutants (%s; each: mutant "
                 "generation, unmutated builds, baseline checks and its share of the mutants; %d worker(s)); "
                 "this report was written from their journal (`--report-only`)"
                 % (sum(a.run_walls), " + ".join("%.0f s" % w for w in a.run_walls) or "no run recorded", a.workers))
    elif a.resumed:
        L.append("- wall time of the last run: %.0f s (mutant generation, unmutated builds, baseline checks and "
                 "%d mutants; %d worker(s)); %d mutants' results were taken from earlier runs of the same "
                 "sources, vectors and judges (`--resume`); the runs' wall times: %s"
                 % (wall, len(chosen) - a.resumed, a.workers, a.resumed,
                    " + ".join("%.0f s" % w for w in a.run_walls + [wall])))
    else:
        L.append("- wall time: %.0f s (mutant generation, unmutated builds, baseline checks and %d mutants; %d worker(s))"
                 % (wall, len(chosen), a.workers))
    if getattr(a, "carried", 0):
        L.append("- carried: %d results come from runs whose inputs differ only in what cannot change them: "
                 "not built and identical from runs of the same sources; killed by the vectors from runs of the "
                 "same sources and memwin-conform with fewer scenarios (or another googletest); every other "
                 "mutant was judged again with this tree's scenarios and googletest" % a.carried)
    if judged:
        tot = sum(m["seconds"] for m in judged)
        L.append("- time per mutant (one worker's time, build + judging): mean %.1f s, max %.1f s; "
                 "all workers' time summed: %.0f s"
                 % (tot / len(judged), max(m["seconds"] for m in judged), tot))
    L.append("- mutation tool: universalmutator %s, rules `c` (with its `universal` and `c_like`) + "
             "`tools/mutation/memwin.rules`; duplicate mutants (same text) counted once" % a.um_version)
    L.append("- judges: `memwin-conform --timeout %d` over `tests/vectors` (%d scenarios; whole run limited to %d s), "
             "then, for its survivors, the same run against the mutant's ASan+UBSan build (sanitizer runtimes "
             "preloaded) and `memwin_tests --gtest_fail_fast` (googletest, limited to %d s) with `LD_LIBRARY_PATH` "
             "at the mutant's libmemwin.so, in that order for a Go-scope mutant and googletest first for a "
             "memwin-scope one; a judge that fails or runs out of time kills the mutant and ends its judging"
             % (a.scenario_timeout, a.n_vectors, a.conform_timeout, a.gtest_timeout))
    extra = []
    if a.af_tests:
        extra.append("`memwin_alloc_fail_tests` (its malloc fails on request), each of its %d tests in a process "
                     "of its own" % len(a.af_tests))
    if a.gtest_asan:
        extra.append("`memwin_tests` built with ASan+UBSan against the mutant's ASan+UBSan library "
                     "(`detect_leaks=1`, limited to %d s)" % a.gtest_asan_timeout)
    if extra:
        L.append("- memwin's own judges, for a memwin-scope mutant the judges above leave alive, in this order: "
                 "%s; a failure counts as killed only by googletest (its detail names the program)"
                 % "; then ".join(extra))
    L.append("- build: each worker's own copy of CMakeLists.txt, cmake/, include/, src/, memwin.def, "
             "configured RelWithDebInfo with MEMWIN_WERROR=OFF (a mutant that only warns is still judged); "
             "`ninja memwin` per mutant; \"not built\" = compile or link error")
    L.append("- comment only: the mutant differs from the original only inside comments; not built nor judged")
    L.append("- identical: the mutated file's object (`objcopy --strip-debug`) is byte-identical to the unmutated one")
    L.append("- scope: **Go** when the vectors execute a line the mutant changes (measured on the unmutated "
             "library built with `--coverage`, memwin-conform over the vectors, `gcov`), or when it changes no "
             "line gcov counts (a `#define`, a declaration); **memwin** when it changes only counted lines the "
             "vectors never run: code only memwin's own contract reaches (checked and recoverable modes, the one-call aligned "
             "reservation, fault injection, the emulation's extras, nil-pointer refusals Go does not make). "
             "A Go-scope mutant counts as killed only when the vectors kill it; a memwin-scope mutant when "
             "any judge does")
    L.append("")
    L.append("## Scores")
    L.append("")
    L.append("Score = killed / (judged - not built - identical - equivalent - unrecordable), per scope. "
             "\"equivalent\": a mutant no judge of its scope kills, with a reason in "
             "`tools/mutation/reasons.tsv` (listed below). \"unrecordable\": a Go-scope mutant whose change "
             "shows only at addresses the reference runtimes under Wine do not get, so that no golden can "
             "record it; googletest kills it (listed below with the reason and the test).")
    L.append("")
    L.append("| file | made | judged | not built | identical | equivalent | unrecordable | Go scope: rest "
             "| killed by vectors (plain + ASan) | Go score | memwin scope: rest | killed (vectors + googletest) "
             "| memwin score |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def row(name, ms, made):
        live = [m for m in ms if m.get("result") in KILL_ANY + ("survived",) and not counted_apart(m)]
        g = [m for m in live if m.get("scope") == "go"]
        w = [m for m in live if m.get("scope") != "go"]
        gk = sum(1 for m in g if m["result"] in KILL_GO)
        wk = sum(1 for m in w if m["result"] in KILL_ANY)
        pct = lambda k, n: "%.1f %%" % (100.0 * k / n) if n else "-"
        return "| %s | %d | %d | %d | %d | %d | %d | %d | %d (%d + %d) | %s | %d | %d | %s |" % (
            name, made, len(ms), sum(1 for m in ms if m.get("result") == "not built"),
            sum(1 for m in ms if m.get("result") == "identical"),
            sum(1 for m in ms if m["equivalent"]), sum(1 for m in ms if m.get("unrecordable")), len(g), gk,
            sum(1 for m in g if m["result"] == KILL_GO[0]), sum(1 for m in g if m["result"] == KILL_GO[1]),
            pct(gk, len(g)), len(w), wk, pct(wk, len(w)))
    for f in a.files:
        L.append(row("src/" + f, [m for m in chosen if m["file"] == f],
                     sum(1 for m in mutants if m["file"] == f)))
    L.append(row("**total**", chosen, len(mutants)))
    L.append("")
    L.append("Results by judge, both scopes together:")
    L.append("")
    L.append("| file | " + " | ".join(cats) + " |")
    L.append("|---|" + "---:|" * len(cats))
    for f in a.files + [None]:
        ms = [m for m in chosen if f is None or m["file"] == f]
        L.append("| %s | %s |" % ("src/" + f if f else "**total**",
                                  " | ".join(str(sum(1 for m in ms if m.get("result") == c)) for c in cats)))
    L.append("")

    def table(title, intro, ms, extra):
        L.append("## %s (%d)" % (title, len(ms)))
        L.append("")
        L.append(intro)
        L.append("")
        if not ms:
            L.append("None.")
            L.append("")
            return
        L.append("| mutant | file:line function | original → mutated | %s |" % extra)
        L.append("|---|---|---|---|")
        for m in sorted(ms, key=lambda m: (m["file"], m["line"], m["id"])):
            reasoned = counted_apart(m) or m["wrong_verdict"]
            last = m.get("detail", "") if m["result"] != "survived" else ""
            if reasoned:
                last = "%s: %s" % (m.get("scope"), m["reason"])
            L.append("| %s | src/%s:%d %s | `%s` → `%s` | %s |" % (
                m["id"], m["file"], m["line"], m.get("func", "-"), md_cell(m["before"]), md_cell(m["after"]),
                last.replace("|", "\\|") if reasoned else md_cell(last)))
        L.append("")
    wrong = [m for m in chosen if m["wrong_verdict"]]
    if wrong:
        table("Verdicts contradicted by this run",
              "`tools/mutation/reasons.tsv` calls these equivalent, but a judge of their scope killed them: "
              "the reason is wrong and must go.", wrong, "reason")
    table("Go scope: not killed by the vectors",
          "The vectors execute these lines but do not tell the mutant from Go's behaviour. Each is a gap "
          "in the specification (a scenario to add) or an equivalent mutant (the reason says why). "
          "Without a reason the last column shows what googletest saw, if it killed the mutant.",
          [m for m in chosen if m.get("scope") == "go" and not counted_apart(m)
           and m.get("result") in ("survived", "killed only by googletest")],
          "googletest")
    table("memwin scope: survived every judge",
          "Lines the vectors never run (or changes that show only in memwin's own modes), and googletest "
          "does not catch the change either: a test to add.",
          [m for m in chosen if m.get("scope") != "go" and not m["equivalent"] and m.get("result") == "survived"],
          "detail")
    table("Go scope: unrecordable, killed by googletest",
          "What Go would do here cannot be recorded: the change shows only at addresses the Go runtimes "
          "under Wine do not get. googletest holds the emulation to Windows' rule there instead.",
          [m for m in chosen if m.get("unrecordable")], "reason (killed by)")
    table("Equivalent mutants",
          "No judge of their scope kills these, and no caller could: each reason says why, for a reader to check.",
          [m for m in chosen if m["equivalent"]], "scope: reason")
    L.append("## Every judged mutant")
    L.append("")
    L.append("| mutant | file:line | scope | original → mutated | result | s | detail |")
    L.append("|---|---|---|---|---|---:|---|")
    for m in sorted(chosen, key=lambda m: (m["file"], m["line"], m["id"])):
        L.append("| %s | src/%s:%d | %s | `%s` → `%s` | %s | %.1f | %s |" % (
            m["id"], m["file"], m["line"], m.get("scope", ""), md_cell(m["before"]), md_cell(m["after"]),
            m.get("result", "not run"), m.get("seconds", 0.0), md_cell(m.get("detail", ""))))
    L.append("")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        fh.write("\n".join(L))


def vector_lines(a):
    """The lines of each mutated file that the vectors execute: the unmutated
    library built with --coverage (-O0), memwin-conform run over the vectors
    against it with tools/mutation/gcov_exit.c preloaded (a scenario that ends
    the process still writes its counts), then gcov.  A mutant on such a line
    is in the Go scope (the vectors must kill it); one on a line the vectors
    never run is in memwin's own scope (checked and recoverable modes, the
    one-call aligned reservation, fault injection, the emulation's extras).
    Returns {file: set(line numbers)}."""
    cov = os.path.join(a.build, "coverage")
    if os.path.isdir(cov):
        shutil.rmtree(cov)
    src = os.path.join(cov, "tree")
    os.makedirs(src)
    for c in COPY:
        s = os.path.join(a.root, c)
        if os.path.isdir(s):
            shutil.copytree(s, os.path.join(src, c))
        else:
            shutil.copy(s, os.path.join(src, c))
    bld = os.path.join(cov, "build")
    rc, out = sh(["cmake", "-S", src, "-B", bld, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
                  "-DCMAKE_C_FLAGS=--coverage -O0", "-DCMAKE_SHARED_LINKER_FLAGS=--coverage",
                  "-DMEMWIN_BUILD_TESTS=OFF", "-DMEMWIN_WERROR=OFF", "-DMEMWIN_CONFORM=OFF"])
    if rc == 0:
        rc, out = sh(["ninja", "-C", bld, "-j1", "memwin"])
    if rc != 0:
        raise RuntimeError("coverage build failed:\n%s" % out[-2000:])
    shim = os.path.join(cov, "gcov_exit.so")
    rc, out = sh(["gcc", "-shared", "-fPIC", "-O2", "-o", shim,
                  os.path.join(a.root, "tools", "mutation", "gcov_exit.c")])
    if rc != 0:
        raise RuntimeError("gcov_exit.c: %s" % out)
    env = dict(os.environ, LD_PRELOAD=shim)
    rc, out = sh(conform_cmd(a, os.path.join(bld, "libmemwin.so"), fail_fast=False), timeout=600, env=env)
    objdir = os.path.join(bld, "CMakeFiles", "memwin.dir", "src")
    lines = {f: set() for f in a.files}
    lines.update({("executable", f): set() for f in a.files})
    calls = {}  # (file, function, first line, last line): times the vectors entered it
    for tu in set(TU_OF.get(f, f) for f in a.files):
        gcda = os.path.join(objdir, tu + ".gcda")
        if not os.path.exists(gcda):
            continue
        p = subprocess.run(["gcov", "--json-format", "--stdout", gcda], capture_output=True,
                           text=True, cwd=cov)
        for doc in p.stdout.splitlines():
            if not doc.strip():
                continue
            for fj in json.loads(doc).get("files", []):
                rel = os.path.relpath(os.path.realpath(fj["file"]) if os.path.isabs(fj["file"])
                                      else os.path.realpath(os.path.join(objdir, fj["file"])),
                                      os.path.realpath(os.path.join(src, "src")))
                if rel in lines:
                    lines[rel] |= {l["line_number"] for l in fj["lines"] if l["count"] > 0}
                    lines[("executable", rel)] |= {l["line_number"] for l in fj["lines"]}
                    for fn in fj.get("functions", []):
                        k = (rel, fn["name"], fn["start_line"], fn["end_line"])
                        calls[k] = calls.get(k, 0) + fn["execution_count"]
    for f in a.files:
        lines[("unrun", f)] = sorted((lo, hi) for (g, _, lo, hi), n in calls.items() if g == f and n == 0)
        # A file of its own translation unit whose functions the vectors never
        # enter and whose object defines no data another file could read
        # (nm: no global data symbol) cannot change what the vectors see,
        # whatever the mutant changes at file scope (an enum, a #define, a
        # struct): all its mutants are memwin's.
        obj = os.path.join(objdir, f + ".o")
        if TU_OF.get(f, f) == f and os.path.exists(obj) and lines[f] == set() and \
                not any(n for (g, _, _, _), n in calls.items() if g == f):
            p = subprocess.run(["nm", obj], capture_output=True, text=True)
            data = [l for l in p.stdout.splitlines() if l.split()[-2:-1] and l.split()[-2] in "DBRCGSVu"]
            lines[("unreached", f)] = p.returncode == 0 and not data
    return lines


def statement_starts(src):
    """For each line (1-based list), the line its statement starts on: a
    line continues the one above while a parenthesis opened there is still
    open (a call's arguments over several lines); otherwise it starts its own
    (a braceless if's body is a statement of its own)."""
    start, depth = [0], 0
    for i, l in enumerate(no_comments("\n".join(src)).split("\n"), 1):
        start.append(start[i - 1] if depth > 0 and i > 1 else i)
        code, q = [], None
        for c in l:  # parentheses outside string and character literals
            if q:
                q = None if c == q else q
            elif c in "\"'":
                q = c
            else:
                code.append(c)
        depth = max(0, depth + "".join(code).count("(") - "".join(code).count(")"))
    return start


def scope_of(m, lines):
    """'go' when the vectors execute a line the mutant changes (or, for a
    mutant that only adds a line, the line before it), or when no line it
    changes holds code gcov counts (a #define, a declaration: its effect may
    be anywhere, so the vectors must answer for it); 'memwin' when it changes
    only counted lines the vectors never run, or only lines inside functions
    the vectors never enter (a local declaration or an 'else' there, which
    gcov does not count, cannot change what the vectors see), or any line
    of a file the vectors never enter at all and whose object holds no data
    another file could read."""
    n = m.get("nlines", 1)
    span = range(m["line"] - (1 if n == 0 else 0), m["line"] + max(n, 1))
    # A line that continues a statement (an argument on its own line) is
    # judged by the line the statement starts on, which gcov counts.
    starts = lines.get(("starts", m["file"]))
    if starts:
        span = sorted({starts[l] if 0 < l < len(starts) else l for l in span} | set(span))
    if any(l in lines.get(m["file"], ()) for l in span):
        return "go"
    if lines.get(("unreached", m["file"])):
        return "memwin"
    unrun = lines.get(("unrun", m["file"]), ())
    if all(any(lo <= l <= hi for lo, hi in unrun) for l in span):
        return "memwin"
    if not any(l in lines.get(("executable", m["file"]), ()) for l in span):
        return "go"
    return "memwin"


def _hash_files(a, paths):
    h = hashlib.sha1()
    for p in paths:
        h.update(os.path.relpath(p, a.root).encode() + b"\0")
        with open(p, "rb") as fh:
            h.update(hashlib.sha1(fh.read()).digest())
    return h


def _tree_files(a, tops, skip=()):
    """The files under the tree-relative paths tops (files or folders, in
    order), leaving out those under the tree-relative folders skip."""
    paths = []
    for top in tops:
        s = os.path.join(a.root, top)
        if os.path.isdir(s):
            for d, ds, fs in os.walk(s):
                ds[:] = sorted(x for x in ds if os.path.relpath(os.path.join(d, x), a.root) not in skip)
                paths += [os.path.join(d, f) for f in sorted(fs)]
        elif os.path.exists(s):
            paths.append(s)
    return paths


def _compilers():
    """The C and C++ compilers' version lines (the judges are built with them)."""
    out = []
    for cc in ("cc", "c++"):
        try:
            out.append(subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0])
        except OSError:
            out.append(cc + ": none")
    return " | ".join(out).encode()


def fingerprint_parts(a):
    """What a mutant's result depends on besides its own text, in parts:
    "src" the unmutated sources and build files (all a build reads),
    "conform" the sources memwin-conform is built from and its time limits,
    "gtest" the sources of memwin_tests (tests/ without its scenarios, the
    vectors' reader) and its limit, "extra" the same for memwin's own judges
    (one hash each), and each scenario file of tests/vectors (name: hash).
    The judges count by their sources and the compilers' versions, not by
    their binaries, so that a journal kept in the repository (--journal-store)
    holds for judges built again from the same tree on another machine or
    in another build directory."""
    parts = {"src": _hash_files(a, _tree_files(a, COPY)).hexdigest()}
    cc = _compilers()
    h = _hash_files(a, _tree_files(a, ["tools/memwin-conform", "tools/vecfmt"], skip=("tools/memwin-conform/tests",)))
    h.update(cc)
    h.update(("%d %d" % (a.scenario_timeout, a.conform_timeout)).encode())
    parts["conform"] = h.hexdigest()
    tests = _hash_files(a, _tree_files(a, ["tests", "tools/vecfmt"], skip=("tests/vectors",)))
    tests.update(cc)
    h = tests.copy()
    h.update(("%d" % a.gtest_timeout).encode())
    parts["gtest"] = h.hexdigest()
    # memwin's own judges (extra_judges): a new part, so a journal written
    # before they existed still matches "gtest" for the vector reuse.
    h = tests.copy()
    h.update(("%s %s" % (bool(a.gtest_af), bool(a.gtest_asan))).encode())
    h.update(("%d %s" % (a.gtest_asan_timeout, " ".join(a.af_tests))).encode())
    parts["extra"] = h.hexdigest()
    vecs = {}
    vdir = os.path.join(a.root, "tests", "vectors")
    for d, _, fs in sorted(os.walk(vdir)):
        for f in sorted(fs):
            with open(os.path.join(d, f), "rb") as fh:
                vecs[os.path.relpath(os.path.join(d, f), vdir)] = hashlib.sha1(fh.read()).hexdigest()
    return parts, vecs


def fingerprint(a, parts=None, vecs=None):
    """One hash of every part (see fingerprint_parts), computed again unless
    given."""
    if parts is None:
        parts, vecs = fingerprint_parts(a)
    return hashlib.sha1((json.dumps(parts, sort_keys=True) + json.dumps(vecs, sort_keys=True)).encode()).hexdigest()


# Results a later run may take from an earlier one that differs only in what
# cannot change them: building reads only the sources ("not built",
# "identical"), and a mutant the vectors killed stays killed while the
# sources and memwin-conform are the same and either the scenarios are only
# added or the scenario that killed it (the first that differed: memwin-conform
# stops there) is unchanged, its .vec and golden files byte for byte, and so
# is every other file memwin-conform reads (manifest.txt); a new googletest
# does not matter.  Everything else is judged again.
BUILT_ONLY = ("not built", "identical")
VECTOR_KILLS = ("killed by vectors", "killed by vectors (ASan)")


def killer_of(r):
    """The scenario that killed a vector kill (its detail's "first: NAME:"),
    or None (the whole run timed out or crashed)."""
    m = re.search(r"; first: ([A-Za-z0-9_]+): ", r.get("detail") or "")
    return m.group(1) if m else None


def _same_killer(name, old_vecs, vecs):
    """Whether scenario name and every file of tests/vectors that is no
    scenario's (but FORMAT.md and memwin/, which memwin-conform does not
    read) are the same in old_vecs and vecs."""
    def mine(k):
        return k == name + ".vec" or (k.startswith(name + ".") and k.endswith(".golden"))

    def shared(k):
        return not (k.endswith(".vec") or k.endswith(".golden") or k == "FORMAT.md" or
                    k.startswith("memwin" + os.sep))
    if name + ".vec" not in vecs:
        return False
    keys = set(old_vecs) | set(vecs)
    return all(old_vecs.get(k) == vecs.get(k) for k in keys if mine(k) or shared(k))


def carry(r, old_parts, old_vecs, parts, vecs):
    """Whether journal result r, judged with old_parts/old_vecs, holds for a
    run with parts/vecs (see BUILT_ONLY and VECTOR_KILLS)."""
    if old_parts is None or old_parts.get("src") != parts["src"]:
        return False
    if r["result"] in BUILT_ONLY:
        return True
    if r["result"] not in VECTOR_KILLS or old_parts.get("conform") != parts["conform"] or old_vecs is None:
        return False
    if all(vecs.get(k) == v for k, v in old_vecs.items()):
        return True
    killer = killer_of(r)
    return killer is not None and _same_killer(killer, old_vecs, vecs)


def vectors_passed(r, old_parts, old_vecs, parts, vecs):
    """What of an earlier judgement r that carry() does not take may still
    save work when googletest or the scenarios changed.  With the same
    sources and runner: the same scenario files too (exactly: an added
    scenario may kill) mean the vector judges that passed then pass again,
    so the mutant needs only googletest; and whatever changed, a test that
    killed it before runs first (an order, not a verdict: the vectors run
    again when they changed, and a killer that now passes is followed by
    the whole suite).  Returns {} or flags: "plain" (the plain vectors
    passed), "asan" (the ASan vectors passed too) and "killer" (the first
    test that failed, if googletest killed it)."""
    if (old_parts is None or old_parts.get("src") != parts["src"] or
            old_parts.get("conform") != parts["conform"]):
        return {}
    if r.get("result") not in ("survived", "killed only by googletest") or r.get("conform_exit") != 0:
        return {}
    got = {"plain": True, "asan": r.get("asan_exit") == 0} if old_vecs == vecs else {}
    d = r.get("detail") or ""
    if r["result"] == "killed only by googletest" and " test(s): " in d:
        got["killer"] = d.split(" test(s): ", 1)[1].split(",")[0].split(" ")[0]
        for judge in (AF_JUDGE, ASAN_GTEST_JUDGE):
            if d.startswith(judge + ": "):
                got["killer_judge"] = judge
    return got


def merge_journal(journal, store):
    """Adds to the journal the lines of the stored gzip copy it lacks (in
    the copy's order, after its own)."""
    import gzip
    have = set()
    if os.path.exists(journal):
        with open(journal) as fh:
            have = set(fh.read().splitlines())
    with gzip.open(store, "rt") as fh:
        new = [l for l in fh.read().splitlines() if l and l not in have]
    os.makedirs(os.path.dirname(journal), exist_ok=True)
    with open(journal, "a") as fh:
        for l in new:
            fh.write(l + "\n")
    log("journal: %d lines taken from %s" % (len(new), store))


def store_journal(journal, store):
    """Writes the journal's gzip copy (whole, then renamed into place);
    mtime 0, so the same journal makes the same bytes."""
    import gzip
    tmp = store + ".tmp"
    with open(journal, "rb") as src, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            shutil.copyfileobj(src, gz)
    os.replace(tmp, store)


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
    ap.add_argument("--lines", default=None,
                    help="FROM-TO: judge only the mutants whose change starts on these lines (one file in "
                         "--files; for a change's own mutants before a full run)")
    ap.add_argument("--scenario-timeout", type=int, default=10)
    ap.add_argument("--gtest-timeout", type=int, default=120,
                    help="seconds for one memwin_tests run (the unmutated one takes a few)")
    ap.add_argument("--base-asan", default=None,
                    help="build dir holding memwin_tests built with ASan+UBSan (memwin-scope judge; none: not run)")
    ap.add_argument("--gtest-asan-timeout", type=int, default=300,
                    help="seconds for one run of the ASan+UBSan memwin_tests")
    ap.add_argument("--conform-timeout", type=int, default=60,
                    help="seconds for one whole memwin-conform run (the unmutated one takes about one)")
    ap.add_argument("--from-end", action="store_true",
                    help="judge each file's mutants from its last line up (a long file's end is reached early)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--report-only", action="store_true",
                    help="judge nothing: write the report from the journal of earlier runs of the same "
                         "sources, vectors, judges and limits (every chosen mutant must be in it)")
    ap.add_argument("--resume", action="store_true",
                    help="take the results of mutants already judged (journal.jsonl in the scratch dir) "
                         "when the sources, vectors, judges and time limits are the same")
    ap.add_argument("--partial", action="store_true", dest="partial_report",
                    help="with --report-only: report the mutants the journal has and leave out the rest "
                         "(a long run's progress; the report says how many are left)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a chosen mutant is left alive by the judges of its scope without an "
                         "'equivalent' verdict, or has that verdict but was killed (for CI's sample)")
    ap.add_argument("--journal-store", default=None,
                    help="a gzip copy of the journal kept outside the scratch dir (in the repository, say): "
                         "merged into the journal at the start, written back every 50 mutants, at the end "
                         "and when the run is stopped (SIGTERM, SIGINT), so a run can go on from another "
                         "machine or checkout")
    ap.add_argument("--cmdline", default=None)
    a = ap.parse_args()
    a.root = os.path.abspath(a.root)
    a.build = os.path.abspath(a.build)
    a.files = [f.strip() for f in a.files.split(",") if f.strip()]
    a.rules = os.path.join(a.root, "tools", "mutation", "memwin.rules")
    # memwin-conform reads a copy of the vectors taken now, so a scenario
    # added to the tree while the run goes (a .vec whose golden is not
    # recorded yet) cannot kill mutants; the fingerprint of the live tree is
    # compared again at the end (memwin_tests reads the live directory).
    os.makedirs(a.build, exist_ok=True)
    a.vectors = os.path.join(a.build, "vectors")
    if os.path.isdir(a.vectors):
        shutil.rmtree(a.vectors)
    shutil.copytree(os.path.join(a.root, "tests", "vectors"), a.vectors)
    a.n_vectors = len([n for n in os.listdir(a.vectors) if n.endswith(".vec")])
    a.conform = os.path.join(a.base, "memwin-conform")
    a.gtest = os.path.join(a.base, "memwin_tests")
    # memwin-scope judges (Worker.extra_judges), when built.
    a.gtest_af = os.path.join(a.base, AF_JUDGE)
    a.af_tests = []
    if os.path.exists(a.gtest_af):
        rc, out = sh([a.gtest_af, "--gtest_list_tests"])
        suite = ""
        for line in out.splitlines():
            if line and not line.startswith(" "):
                suite = line.strip()
            elif line.strip() and suite:
                a.af_tests.append(suite + line.split("#")[0].strip())
    else:
        a.gtest_af = None
    a.gtest_asan = os.path.join(os.path.abspath(a.base_asan), "memwin_tests") if a.base_asan else None
    if a.gtest_asan and not os.path.exists(a.gtest_asan):
        sys.exit("--base-asan: no memwin_tests in %s" % a.base_asan)
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
    rc, out = sh(conform_cmd(a, base_lib, fail_fast=False))
    if rc != 0:
        sys.exit("baseline: memwin-conform fails on the unmutated library (exit %s):\n%s" % (rc, out[-3000:]))
    log("baseline: memwin-conform passes on the unmutated library")

    os.makedirs(a.build, exist_ok=True)
    mutants = make_mutants(a)
    log("mutants made: %d (%s)" % (len(mutants), ", ".join(
        "%s %d" % (f, sum(1 for m in mutants if m["file"] == f)) for f in a.files)))
    lines = vector_lines(a)
    for f in a.files:
        with open(os.path.join(a.root, "src", f)) as fh:
            lines[("starts", f)] = statement_starts(fh.read().splitlines())
    # A "memwin" verdict in reasons.tsv puts a mutant of a line the vectors
    # run in memwin's scope: it meets memwin's own judges too (extra_judges).
    reasons = load_reasons(a)
    for m in mutants:
        m["scope"] = scope_of(m, lines)
        if reason_for(reasons, m)[0] == "memwin":
            m["scope"] = "memwin"
    log("lines the vectors execute: %s" % ", ".join("%s %d of %d" % (f, len(lines[f]), len(lines[("executable", f)]))
                                                    for f in a.files))
    code = [m for m in mutants if not m["comment_only"]]
    log("mutants changing code (not only comments): %d" % len(code))
    chosen = list(code)
    if a.lines:
        if len(a.files) != 1:
            sys.exit("--lines needs exactly one file in --files")
        lo, hi = (int(x) for x in a.lines.split("-"))
        chosen = [m for m in chosen if lo <= m["line"] <= hi]
        log("--lines %d-%d: %d mutants" % (lo, hi, len(chosen)))
    if a.sample and a.sample < len(chosen):
        chosen = random.Random(a.seed).sample(chosen, a.sample)
    else:
        a.sample = 0

    # The journal: one line per judged mutant, written as soon as it is
    # judged, so an interrupted run can be resumed (--resume) with the same
    # sources, vectors, judges and limits.
    a.resume = a.resume or a.report_only
    a.parts, a.vecs = fingerprint_parts(a)
    a.fp = fingerprint(a, a.parts, a.vecs)
    journal = os.path.join(a.build, "journal.jsonl")
    if a.journal_store and os.path.exists(a.journal_store) and (a.resume or a.report_only):
        merge_journal(journal, a.journal_store)
    a.resumed = 0
    a.carried = 0
    a.run_walls = []
    if a.resume and os.path.exists(journal):
        old, vsets, walls, used, starts, last = {}, {}, {}, set(), {}, {}
        with open(journal) as fh:
            for line in fh:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if "vectors" in r:
                    vsets[r["fp"]] = (r.get("parts"), r["vectors"])
                    if "run_start" in r:
                        starts.setdefault(r["fp"], []).append(r["run_start"])
                    continue
                if "run_wall" in r:
                    walls.setdefault(r.get("fp"), []).append(r["run_wall"])
                    continue
                old.setdefault((r["file"], r["sha"]), []).append(r)

        def usable(r):
            """Same tree: any result.  Otherwise a result whose inputs are
            unchanged (see carry)."""
            if r.get("fp") == a.fp:
                return "same"
            old_parts, old_vecs = vsets.get(r.get("fp"), (None, None))
            if carry(r, old_parts, old_vecs, a.parts, a.vecs):
                return "carried"
            return None
        a.partial = 0
        for m in chosen:
            for r in old.get((m["file"], m["sha"]), []):
                if m.get("scope") == "memwin" and r.get("result") == "survived" and "extra_exit" not in r:
                    continue  # survived without memwin's own judges (in Go's scope then): judged again
                how = usable(r)
                if not how:
                    # Only googletest changed: the vector judges that passed
                    # need not run again (vectors_passed).
                    old_parts, old_vecs = vsets.get(r.get("fp"), (None, None))
                    got = vectors_passed(r, old_parts, old_vecs, a.parts, a.vecs)
                    if got and "reuse" not in m:
                        m["reuse"] = got
                        a.partial += 1
                    continue
                if "t_end" in r:
                    last[r.get("fp")] = max(last.get(r.get("fp"), 0), r["t_end"])
                for k in ("result", "detail", "seconds", "conform_exit", "asan_exit", "gtest_exit", "extra_exit"):
                    if k in r:
                        m[k] = r[k]
                a.resumed += 1
                a.carried += how == "carried"
                used.add(r.get("fp"))
                break
        a.run_walls = [w for fp in sorted(used) for w in walls.get(fp, [])]
        # A run stopped before its end records no wall time; with time
        # stamps, the span from its start to the last mutant used stands in.
        if len(used) == 1:
            fp = next(iter(used))
            st = [t for t in starts.get(fp, []) if t <= last.get(fp, 0)]
            if st and last.get(fp):
                a.span = last[fp] - max(st)
        log("resumed: %d mutants judged by earlier runs (%d of them carried from runs with other scenarios or "
            "googletest: results those cannot change); %d more meet googletest with an earlier result to go on "
            "(their vectors passed with the same sources, runner and scenarios, or an earlier killer runs first)"
            % (a.resumed, a.carried, a.partial))
    elif not a.resume and os.path.exists(journal):
        os.remove(journal)
    jlock = threading.Lock()
    with open(journal, "a") as fh:  # what this run's fingerprint stands for
        fh.write(json.dumps({"fp": a.fp, "parts": a.parts, "vectors": a.vecs, "run_start": time.time()}) + "\n")

    recorded = [0]

    def record(m):
        r = {k: m[k] for k in ("file", "sha", "id", "result", "seconds", "detail",
                               "conform_exit", "asan_exit", "gtest_exit", "extra_exit") if k in m}
        r["fp"] = a.fp
        r["t_end"] = time.time()
        with jlock:
            with open(journal, "a") as fh:
                fh.write(json.dumps(r) + "\n")
            recorded[0] += 1
            if a.journal_store and recorded[0] % 50 == 0:
                store_journal(journal, a.journal_store)

    if a.report_only:
        missing = [m for m in chosen if "result" not in m]
        if missing and a.partial_report:
            a.left_out = len(missing)
            chosen = [m for m in chosen if "result" in m]
        elif missing:
            sys.exit("--report-only: %d mutants are not in the journal (first: %s)" % (len(missing), missing[0]["id"]))
        write_report(a, mutants, chosen, 0.0, a.cmdline or " ".join(sys.argv), started)
        log("report: %s" % a.out)
        check_exit(a, chosen)
        return
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
    # And memwin's own judges on the unmutated libraries.
    for t in a.af_tests:
        rc, out = run_af_test(a, t, env)
        if rc != 0:
            sys.exit("baseline: %s --gtest_filter=%s fails on the unmutated library (exit %s):\n%s"
                     % (AF_JUDGE, t, rc, out[-3000:]))
    if a.af_tests:
        log("baseline: %s passes on the unmutated library (%d tests, each alone)" % (AF_JUDGE, len(a.af_tests)))
    if a.gtest_asan:
        t = time.time()
        rc, out = sh([a.gtest_asan, "--gtest_brief=1"], timeout=a.gtest_asan_timeout,
                     env=asan_gtest_env(workers[0].asan))
        if rc != 0:
            sys.exit("baseline: the ASan+UBSan memwin_tests fails on the unmutated ASan build (exit %s):\n%s"
                     % (rc, out[-3000:]))
        log("baseline: the ASan+UBSan memwin_tests passes on the unmutated ASan build (%.0f s)" % (time.time() - t))

    lock = threading.Lock()
    queue = [m for m in chosen if "result" not in m]
    if a.from_end:
        # Each file's mutants from its last line up, files in the given order
        # (the verdicts do not depend on the order).
        rank = {f: k for k, f in enumerate(a.files)}
        queue.sort(key=lambda m: (rank[m["file"]], -m["line"], -int(m["id"].split("#")[1])))
    done = [0]
    queue0 = list(queue)

    def loop(w):
        while True:
            with lock:
                if not queue:
                    return
                m = queue.pop(0)
            w.run(m)
            record(m)
            with lock:
                done[0] += 1
                log("[%d/%d] %s line %d: %s (%.1f s)" % (done[0], len(queue0), m["id"], m["line"],
                                                        m["result"], m["seconds"]))
    def stopped(signum, frame):
        # The mutants being judged are left out; the judged ones and this
        # part of the run's wall time are kept.
        with jlock:
            with open(journal, "a") as fh:
                fh.write(json.dumps({"run_wall": time.time() - t0, "judged": recorded[0], "fp": a.fp,
                                     "stopped": True}) + "\n")
            if a.journal_store:
                store_journal(journal, a.journal_store)
        log("stopped by signal %d after %d mutants; journal kept%s" % (
            signum, recorded[0], " and stored in %s" % a.journal_store if a.journal_store else ""))
        os._exit(3)
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    ts = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    for th in ts:
        th.start()
    for th in ts:
        while th.is_alive():
            th.join(1)
    wall = time.time() - t0
    if fingerprint(a) != a.fp:
        write_report(a, mutants, chosen, wall, a.cmdline or " ".join(sys.argv), started)
        sys.exit("the sources, tests/vectors or the judges changed while the run went: its results "
                 "are not one tree's (report %s written, journal entries kept under the old fingerprint)" % a.out)
    with jlock, open(journal, "a") as fh:
        fh.write(json.dumps({"run_wall": wall, "judged": len(queue0), "fp": a.fp}) + "\n")
    if a.journal_store:
        store_journal(journal, a.journal_store)
    write_report(a, mutants, chosen, wall, a.cmdline or " ".join(sys.argv), started)
    log("report: %s" % a.out)
    check_exit(a, chosen)


if __name__ == "__main__":
    main()
