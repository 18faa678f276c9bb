#!/usr/bin/env python3
"""Checks of tools/mutation/mutate.py's pure parts and of reasons.tsv, run by
ctest (mutation_tool): no mutants, no network.  A verdict in reasons.tsv
whose text no longer occurs in its function is stale and fails here, so a
source change cannot leave reasons that explain nothing."""
import os
import re
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, here)
import mutate  # noqa: E402


class Pure(unittest.TestCase):
    def test_functions_of(self):
        src = ["#include <x.h>", "static int f(int a)", "{", "    return a;", "}", "",
               "int g(void) { return 1; }", "int h(void);", "void *k(void *p,", "        int q)", "{", "}"]
        fn = mutate.functions_of(src)
        self.assertEqual(fn[1], "-")
        self.assertEqual(fn[2:6], ["f", "f", "f", "f"])
        self.assertEqual(fn[6], "-")
        self.assertEqual(fn[7], "g")
        self.assertEqual(fn[8], "-")  # a declaration, not a definition
        self.assertEqual(fn[9:13], ["k", "k", "k", "k"])

    def test_keys_tell_repeated_text_apart(self):
        src = ["int f(int a)", "{", "    if (a)", "        return 0;", "    g();",
               "    return 0;", "    if (a)", "        return 0;", "    h();", "    if (a)",
               "        return 0;", "    k();", "}", "int u(void)", "{", "    return 0;", "}"]
        fn = mutate.functions_of(src)
        key = lambda h: mutate.replaced_key(src, fn, h, h + 1)
        self.assertEqual(key(5), "return 0; [after: g();]")            # its line before is unique
        self.assertEqual(key(3), "return 0; [after: if (a) / before: g();]")
        self.assertEqual(key(7), "return 0; [after: if (a) / before: h();]")
        self.assertEqual(key(15), "return 0;")                         # once in u
        self.assertEqual(mutate.replaced_key(src, fn, 2, 4), "if (a) / return 0; [after: {]")
        same = ["void f(void)", "{", "    if (a)", "        b();", "    c();", "    if (a)", "        b();",
                "    c();", "}"]
        fs = mutate.functions_of(same)
        self.assertEqual(mutate.replaced_key(same, fs, 3, 4), "b(); [1 of 2]")
        self.assertEqual(mutate.replaced_key(same, fs, 6, 7), "b(); [2 of 2]")
        self.assertEqual(mutate.insertion_key(same, fs, 4), "after: b(); / before: c(); [1 of 2]")
        self.assertEqual(mutate.insertion_key(same, fs, 3), "after: if (a) / before: b(); [1 of 2]")
        brace = ["void f(void)", "{", "    {", "    }", "    {", "    }", "}"]
        fb = mutate.functions_of(brace)
        self.assertEqual(mutate.insertion_key(brace, fb, 3), "after: { / before: } [1 of 2]")
        self.assertEqual(mutate.insertion_key(brace, fb, 5), "after: { / before: } [2 of 2]")

    def test_verdict_for_any_function_covers_every_place(self):
        m = {"file": "f.c", "func": "f", "before": "return 0; [after: g();]", "plain": "return 0;",
             "after": "return 1;"}
        self.assertEqual(mutate.reason_for({("f.c", "*", "return 0;", "return 1;"): ("equivalent", "r")}, m),
                         ("equivalent", "r"))
        self.assertEqual(mutate.reason_for({("f.c", "f", "return 0;", "return 1;"): ("equivalent", "r")}, m),
                         ("", ""))

    def test_no_comments_keeps_lines_and_strings(self):
        t = 'a /* x\ny */ b // z\n"/*s*/"'
        self.assertEqual(mutate.no_comments(t), 'a  \n b  \n"/*s*/"')

    def test_scope_of(self):
        lines = {"f.c": {10}, ("executable", "f.c"): {10, 20}}
        m = lambda line, n=1: {"file": "f.c", "line": line, "nlines": n}
        self.assertEqual(mutate.scope_of(m(10), lines), "go")      # run by the vectors
        self.assertEqual(mutate.scope_of(m(20), lines), "memwin")  # code they never run
        self.assertEqual(mutate.scope_of(m(30), lines), "go")      # no code: a declaration
        self.assertEqual(mutate.scope_of(m(11, 0), lines), "go")   # a line added after 10
        self.assertEqual(mutate.scope_of(m(21, 0), lines), "memwin")
        # Inside a function the vectors never enter, a line gcov does not
        # count (a local declaration, an 'else') is memwin's too.
        lines[("unrun", "f.c")] = [(18, 25)]
        self.assertEqual(mutate.scope_of(m(19), lines), "memwin")
        self.assertEqual(mutate.scope_of(m(25, 2), lines), "go")   # reaches past the function
        self.assertEqual(mutate.scope_of(m(30), lines), "go")
        # A file the vectors never enter, with no data another file reads:
        # a file-scope declaration there is memwin's too.
        lines[("unreached", "f.c")] = True
        self.assertEqual(mutate.scope_of(m(30), lines), "memwin")
        self.assertEqual(mutate.scope_of(m(10), lines), "go")


    def test_statement_starts(self):
        src = ["int f(void)", "{", "    g(1,", "      2);", "    if (x)", "        h(\")\");", "}"]
        st = mutate.statement_starts(src)
        self.assertEqual(st[3:5], [3, 3])  # an argument line belongs to its call
        self.assertEqual(st[5:7], [5, 6])  # a braceless if's body is its own
        lines = {"f.c": {3}, ("executable", "f.c"): {3, 6}, ("starts", "f.c"): st}
        self.assertEqual(mutate.scope_of({"file": "f.c", "line": 4, "nlines": 1}, lines), "go")
        lines["f.c"] = set()
        self.assertEqual(mutate.scope_of({"file": "f.c", "line": 4, "nlines": 1}, lines), "memwin")


    def test_carry(self):
        parts = {"src": "s", "conform": "c", "gtest": "g"}
        vecs = {"a.vec": "1", "b.vec": "2"}
        r = lambda res: {"result": res}
        # Building reads only the sources.
        self.assertTrue(mutate.carry(r("not built"), dict(parts, conform="x", gtest="y"), {}, parts, vecs))
        self.assertTrue(mutate.carry(r("identical"), dict(parts, gtest="y"), {"z.vec": "9"}, parts, vecs))
        self.assertFalse(mutate.carry(r("not built"), dict(parts, src="t"), vecs, parts, vecs))
        # A vector kill holds with another googletest and scenarios added ...
        self.assertTrue(mutate.carry(r("killed by vectors"), dict(parts, gtest="y"), {"a.vec": "1"}, parts, vecs))
        self.assertTrue(mutate.carry(r("killed by vectors (ASan)"), parts, vecs, parts, vecs))
        # ... but not when a scenario it ran changed or went, or the runner changed.
        self.assertFalse(mutate.carry(r("killed by vectors"), parts, {"a.vec": "0"}, parts, vecs))
        self.assertFalse(mutate.carry(r("killed by vectors"), parts, {"c.vec": "3"}, parts, vecs))
        self.assertFalse(mutate.carry(r("killed by vectors"), dict(parts, conform="x"), vecs, parts, vecs))
        # A changed or removed scenario voids only the kills it made: a kill
        # by an unchanged scenario (its .vec and goldens) holds ...
        k = lambda name: {"result": "killed by vectors",
                          "detail": "differs=1 identical=2 total=3; first: %s: differs at step 1" % name}
        old = {"a.vec": "1", "a.golden": "1g", "b.vec": "2", "b.golden": "2g", "b.386.golden": "2h",
               "manifest.txt": "m", "FORMAT.md": "f", "memwin/checked.tsv": "t"}
        now = dict(old, **{"a.vec": "0", "FORMAT.md": "F", "memwin/checked.tsv": "T"})
        self.assertTrue(mutate.carry(k("b"), parts, old, parts, now))
        # ... but not one by the changed scenario, by a scenario whose golden
        # (any port's) changed or went, or when a file every scenario reads did.
        self.assertFalse(mutate.carry(k("a"), parts, old, parts, now))
        self.assertFalse(mutate.carry(k("b"), parts, old, parts, dict(now, **{"b.386.golden": "x"})))
        gone = dict(now)
        del gone["b.386.golden"]
        self.assertFalse(mutate.carry(k("b"), parts, old, parts, gone))
        self.assertFalse(mutate.carry(k("b"), parts, old, parts, dict(now, **{"manifest.txt": "n"})))
        self.assertFalse(mutate.carry(k("c"), parts, old, parts, dict(now, **{"c.vec": "3"})))
        # A kill with no first scenario (the run timed out) needs every scenario unchanged.
        self.assertFalse(mutate.carry({"result": "killed by vectors", "detail": "runner timed out"},
                                      parts, old, parts, now))
        # What googletest decided is judged again whenever anything differs.
        self.assertFalse(mutate.carry(r("survived"), parts, vecs, parts, vecs))
        self.assertFalse(mutate.carry(r("killed only by googletest"), parts, vecs, parts, vecs))
        self.assertFalse(mutate.carry(r("not built"), None, None, parts, vecs))

    def test_vectors_passed(self):
        parts = {"src": "s", "conform": "c", "gtest": "g"}
        vecs = {"a.vec": "1", "b.vec": "2"}
        old = dict(parts, gtest="old")
        surv = {"result": "survived", "conform_exit": 0, "asan_exit": 0, "gtest_exit": 0}
        kill = {"result": "killed only by googletest", "conform_exit": 0, "gtest_exit": 1,
                "detail": "2 test(s): Checked.Foo, Checked.Bar"}
        # Only googletest changed: the vectors need not run again.
        self.assertEqual(mutate.vectors_passed(surv, old, vecs, parts, vecs), {"plain": True, "asan": True})
        # A memwin-scope kill met googletest before the ASan vectors: those
        # still run; its killer runs first.
        self.assertEqual(mutate.vectors_passed(kill, old, vecs, parts, vecs),
                         {"plain": True, "asan": False, "killer": "Checked.Foo"})
        # Any change to the sources, the runner or the scenarios (an added
        # one too) runs everything again ...
        self.assertEqual(mutate.vectors_passed(surv, dict(old, src="t"), vecs, parts, vecs), {})
        self.assertEqual(mutate.vectors_passed(surv, dict(old, conform="x"), vecs, parts, vecs), {})
        self.assertEqual(mutate.vectors_passed(surv, old, {"a.vec": "1"}, parts, vecs), {})
        # ... but after a change of scenarios only, googletest's earlier
        # killer still goes first.
        self.assertEqual(mutate.vectors_passed(kill, old, {"a.vec": "1"}, parts, vecs), {"killer": "Checked.Foo"})
        self.assertEqual(mutate.vectors_passed(kill, dict(old, conform="x"), vecs, parts, vecs), {})
        self.assertEqual(mutate.vectors_passed(surv, None, None, parts, vecs), {})
        # A kill by one of memwin's own judges names the program: its test
        # runs first in that program, not in memwin_tests.
        af = dict(kill, detail="memwin_alloc_fail_tests: 1 test(s): AllocFail.CheckedRangeTrackerGrowthRefusal")
        self.assertEqual(mutate.vectors_passed(af, old, vecs, parts, vecs),
                         {"plain": True, "asan": False, "killer": "AllocFail.CheckedRangeTrackerGrowthRefusal",
                          "killer_judge": "memwin_alloc_fail_tests"})
        asan = dict(kill, asan_exit=0, detail="memwin_tests (ASan): 1 test(s): CheckedRuns.Foo")
        self.assertEqual(mutate.vectors_passed(asan, old, vecs, parts, vecs),
                         {"plain": True, "asan": True, "killer": "CheckedRuns.Foo",
                          "killer_judge": "memwin_tests (ASan)"})
        self.assertEqual(mutate.gtest_failures("", "no test ran"), "no test ran")
        # Vector kills and build results are carry()'s, not this.
        self.assertEqual(mutate.vectors_passed({"result": "killed by vectors", "conform_exit": 1},
                                               old, vecs, parts, vecs), {})


class Journal(unittest.TestCase):
    def test_store_and_merge(self):
        import gzip
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            j, store = os.path.join(d, "b", "journal.jsonl"), os.path.join(d, "journal.jsonl.gz")
            os.makedirs(os.path.dirname(j))
            with open(j, "w") as fh:
                fh.write('{"fp": "x", "vectors": {}}\n{"file": "a.c", "sha": "1"}\n')
            mutate.store_journal(j, store)
            first = open(store, "rb").read()
            mutate.store_journal(j, store)
            self.assertEqual(open(store, "rb").read(), first)  # same journal, same bytes
            with gzip.open(store, "rt") as fh:
                self.assertEqual(fh.read(), open(j).read())
            # Another checkout: no journal yet, then one with a line of its own.
            j2 = os.path.join(d, "c", "journal.jsonl")
            mutate.merge_journal(j2, store)
            self.assertEqual(open(j2).read(), open(j).read())
            with open(j2, "a") as fh:
                fh.write('{"file": "b.c", "sha": "2"}\n')
            mutate.merge_journal(j2, store)  # nothing new: nothing added twice
            self.assertEqual(open(j2).read().count('"a.c"'), 1)
            self.assertEqual(open(j2).read().count('"b.c"'), 1)

    def test_judges_count_by_sources(self):
        class A:
            root = root
            scenario_timeout, conform_timeout, gtest_timeout, gtest_asan_timeout = 5, 20, 60, 300
            gtest_af, gtest_asan, af_tests = "x", None, ["T.a"]
        p1, v1 = mutate.fingerprint_parts(A)
        A.conform = A.gtest = "/nonexistent/memwin-conform"  # binaries do not count
        p2, v2 = mutate.fingerprint_parts(A)
        self.assertEqual((p1, v1), (p2, v2))
        A.conform_timeout = 21
        self.assertNotEqual(mutate.fingerprint_parts(A)[0]["conform"], p1["conform"])
        self.assertEqual(mutate.fingerprint_parts(A)[0]["gtest"], p1["gtest"])


class Gaps(unittest.TestCase):
    def test_gaps_follow_the_scopes(self):
        def m(result, scope, equivalent=False, wrong=False):
            return {"result": result, "scope": scope, "equivalent": equivalent, "wrong_verdict": wrong}
        ok = [m("not built", "go"), m("identical", "memwin"), m("killed by vectors", "go"),
              m("killed by vectors (ASan)", "go"), m("killed only by googletest", "memwin"),
              m("survived", "go", equivalent=True), m("survived", "memwin", equivalent=True)]
        self.assertEqual(mutate.gaps(ok), [])
        # googletest does not answer for Go's scope; a survivor needs a verdict;
        # an "equivalent" verdict on a killed mutant is wrong.
        bad = [m("killed only by googletest", "go"), m("survived", "memwin"),
               m("killed by vectors", "go", wrong=True)]
        self.assertEqual([g[0] for g in mutate.gaps(ok + bad)], bad)
        # An "unrecordable" Go-scope mutant that googletest killed is no gap.
        unrec = dict(m("killed only by googletest", "go"), unrecordable=True)
        self.assertEqual(mutate.gaps([unrec]), [])

    def test_unrecordable_needs_googletest(self):
        def mut(result):
            x = {"scope": "go", "result": result, "detail": "1 test(s): EmuEdges.LastGranule"}
            mutate.apply_verdict(x, "unrecordable", "beyond Wine's addresses")
            return x
        killed, survived, vec = mut("killed only by googletest"), mut("survived"), mut("killed by vectors")
        self.assertEqual([x["unrecordable"] for x in (killed, survived, vec)], [True, False, False])
        self.assertEqual(killed["reason"], "beyond Wine's addresses (killed by 1 test(s): EmuEdges.LastGranule)")
        # A survivor stays a gap; a vector kill needs no verdict.
        self.assertEqual([g[0] for g in mutate.gaps([killed, survived, vec])], [survived])
        # memwin's scope has no use for it: there googletest counts anyway.
        w = {"scope": "memwin", "result": "killed only by googletest"}
        mutate.apply_verdict(w, "unrecordable", "r")
        self.assertFalse(w["unrecordable"])


class Reasons(unittest.TestCase):
    def test_every_reason_names_text_in_its_function(self):
        class A:
            pass
        a = A()
        a.root = root
        reasons = mutate.load_reasons(a)
        self.assertTrue(reasons)
        for (f, func, before, after), (verdict, why) in reasons.items():
            with open(os.path.join(root, "src", f)) as fh:
                src = fh.read().splitlines()
            fn = mutate.functions_of(src)
            # BEFORE is the changed lines joined by " / " (a line may hold
            # " / " itself: a division); an insertion's is "after: LINE",
            # or "after: LINE / before: LINE" (mutate.insertion_key).
            text = re.sub(r" \[(after: .*|\d+ of \d+)\]$", "", before)
            if text.startswith("after: "):
                text = text[len("after: "):].split(" / before: ")[0]
            hits = [i + 1 for i, l in enumerate(src)
                    if l.strip() and (text == l.strip() or text.startswith(l.strip() + " / "))
                    and (func == "*" or fn[i + 1] == func)]
            self.assertTrue(hits, "reasons.tsv: %r not found in %s (%s)" % (text, f, func))
            self.assertNotEqual(before, after)
            self.assertGreater(len(why), 20, "reasons.tsv: a reason must explain: %r" % why)


if __name__ == "__main__":
    unittest.main()
