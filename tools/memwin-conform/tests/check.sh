#!/bin/sh
# Assertions for memwin-conform's ctest tests (see ../CMakeLists.txt).
#   check.sh flagged RUNNER LIB JSON [ARGS]  the runner must flag LIB (exit 1, a difference)
#   check.sh diff RUNNER LIBA LIBB [ARGS]  --diff must report a divergence
#   check.sh badinput RUNNER VECTORS BADLIB OUTDIR
#   check.sh traces RUNNER TRACES LIB COMMITS DIES OUTDIR  --traces: LIB identical on
#       every trace (hooks and host view), COMMITS differs, DIES dies, bad files are errors
set -u
mode=$1; shift
# MC_EMULATOR: what starts the runner when it is not a native program (Wine).
emu=${MC_EMULATOR:-}
fail() { echo "FAIL: $*" >&2; exit 1; }
case $mode in
flagged)
  run=$1 lib=$2 json=$3; shift 3   # further arguments go to the runner (--no-hooks)
  out=$($emu "$run" "$@" --json "$json" "$lib"); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "runner exit status $rc, want 1 (variant not flagged)"
  echo "$out" | grep -Eq ' (differs at step|crashed at step)' || fail "no scenario flagged"
  grep -q '"result": "differs"' "$json" || fail "JSON has no differing scenario"
  ;;
diff)
  run=$1 a=$2 b=$3; shift 3   # further arguments go to the runner (--only)
  out=$($emu "$run" "$@" --diff "$a" "$b"); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "runner exit status $rc, want 1"
  echo "$out" | grep -q ' diverges at step' || fail "no divergence reported"
  out=$($emu "$run" "$@" --diff "$a" "$a"); rc=$?
  [ $rc -eq 0 ] || { echo "$out"; fail "a library diverges from itself"; }
  ;;
traces)
  run=$1 traces=$2 lib=$3 commits=$4 dies=$5 dir=$6
  n=$(ls "$traces"/*.trace.gz | wc -l)
  [ "$n" -gt 0 ] || fail "no traces in $traces"
  for how in "" --no-hooks; do
    out=$("$run" $how --traces "$traces" "$lib"); rc=$?
    echo "$out"
    [ $rc -eq 0 ] || fail "$lib $how: exit $rc, want 0"
    echo "$out" | grep -q "^summary: identical=$n total=$n\$" || fail "$lib $how: not every one of the $n traces identical"
  done
  out=$("$run" --traces "$traces" "$commits"); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "$commits: exit $rc, want 1"
  echo "$out" | grep -Eq '^binarytrees-go1.19 +differs at line [0-9]+ \(golden "[0-9]+ check live=' || fail "$commits: no checkpoint difference on binarytrees-go1.19"
  out=$("$run" --traces "$traces" "$dies"); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "$dies: exit $rc, want 1"
  echo "$out" | grep -Eq '^compile-go1.19 +died after [0-9]+ lines \(exit status 2, stderr: runtime: VirtualAlloc of [0-9]+ bytes failed with errno=487\)' || fail "$dies: no death on compile-go1.19"
  t=$dir/badtraces; rm -rf "$t"; mkdir -p "$t"
  printf 'memwin-trace 1\nt1 sysReserveOS 0 0x10000 = R1\nt1 sysFrobOS R1 0x1000\n' > "$t/badop.trace"
  printf 'memwin-trace 1\nt1 sysUsedOS R2 0x1000\n' > "$t/badregion.trace"
  printf 'memwin-trace 1\nt1 sysReserveOS 0 0x10000 = R1\n' > "$t/nogolden.trace"
  for f in badop badregion; do printf '# golden: none\n' | gzip > "$t/$f.golden.gz"; done
  out=$("$run" --traces "$t" "$lib"); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "bad traces: exit $rc, want 1"
  echo "$out" | grep -Eq '^badop +error \(malformed trace: line 3: unknown call\)' || fail "badop message"
  echo "$out" | grep -Eq '^badregion +error \(malformed trace: line 2: bad address\)' || fail "badregion message"
  echo "$out" | grep -Eq '^nogolden +error \(no golden: .*nogolden.golden.gz\)' || fail "nogolden message"
  out=$("$run" --traces "$t/none" "$lib" 2>&1); rc=$?
  [ $rc -eq 2 ] && echo "$out" | grep -q "no such file or directory" || fail "missing path: exit $rc"
  ;;
badinput)
  run=$1 vec=$2 bad=$3 dir=$4
  t=$dir/badinput; rm -rf "$t"; mkdir -p "$t/vec"
  # 1. malformed manifest: file, line and reason; runner exits 2.
  printf 'sysAllocOS ptr uintptr\n\nsysUsedOS void ptr size_t\n' > "$t/m1.txt"
  out=$($emu "$run" --manifest "$t/m1.txt" "$bad" 2>&1); rc=$?
  echo "$out"
  [ $rc -eq 2 ] || fail "bad manifest: exit $rc, want 2"
  echo "$out" | grep -q "m1.txt:3: sysUsedOS: bad parameter type \"size_t\"" || fail "bad manifest message"
  printf 'sysAllocOS ptr uintptr\nsysAllocOS ptr uintptr\n' > "$t/m2.txt"
  out=$($emu "$run" --manifest "$t/m2.txt" "$bad" 2>&1); rc=$?
  echo "$out"
  [ $rc -eq 2 ] && echo "$out" | grep -q "m2.txt:2: sysAllocOS: declared again" || fail "duplicate manifest entry"
  # 2. malformed vectors: file, line, reason; reported per scenario, the run goes on.
  cp "$vec/manifest.txt" "$t/vec/"
  cp "$vec/adj_free_second.vec" "$vec/adj_free_second.golden" "$t/vec/"
  printf 'desc broken\nA = sysReserveOS nil 64K\nsysFrobOS A 64K\n' > "$t/vec/bad_op.vec"
  printf 'desc broken\nA = sysReserveOS nil lots\n' > "$t/vec/bad_arg.vec"
  printf 'desc broken\nfatal sysFreeOS nil 0\nsysMapOS nil 0\n' > "$t/vec/bad_fatal.vec"
  out=$($emu "$run" --vectors "$t/vec" --json "$t/bad.json" "$bad" 2>&1); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "malformed vectors: exit $rc, want 1"
  echo "$out" | grep -q "bad_op.vec:3: unknown operation sysFrobOS" || fail "bad_op message"
  echo "$out" | grep -q "bad_arg.vec:2: bad argument lots" || fail "bad_arg message"
  echo "$out" | grep -q "bad_fatal.vec:3: a fatal step must be the last step" || fail "bad_fatal message"
  # 3. missing symbols, data-not-function, crash and hang inside the library.
  # The time limit must end the hang, not a slow process start (Wine).
  limit=2; [ -n "$emu" ] && limit=10
  out=$($emu "$run" --timeout $limit --json "$t/badlib.json" "$bad" 2>&1); rc=$?
  echo "$out" | tail -n 40
  [ $rc -eq 1 ] || fail "badlib: exit $rc, want 1"
  echo "$out" | grep -Eq '^os_alloc_zero +crashed at step [0-9]+ \(.*sysAllocOS.*\): (signal|exception)' || fail "crash not reported"
  echo "$out" | grep -q "timed out after ${limit}s" || fail "hang not reported"
  echo "$out" | grep -q 'skipped (missing symbol sysReserveOS)' || fail "missing symbol not reported as skipped"
  echo "$out" | grep -q 'error (signature mismatch: sysUsed is exported as data, not a function)' || fail "data symbol not reported"
  echo "$out" | grep -q '^summary:' || fail "runner did not finish"
  grep -q '"result": "crashed"' "$t/badlib.json" && grep -q '"result": "skipped"' "$t/badlib.json" || fail "JSON"
  # 4. a manifest signature that the scenarios' arguments do not fit.
  sed 's/^sysAllocOS .*/sysAllocOS ptr uintptr uintptr/' "$vec/manifest.txt" > "$t/m3.txt"
  out=$($emu "$run" --manifest "$t/m3.txt" --only os_alloc_zero "$bad" 2>&1); rc=$?
  echo "$out"
  echo "$out" | grep -q 'error (signature mismatch: .*m3.txt:[0-9]* declares sysAllocOS as "ptr uintptr uintptr"' || fail "signature mismatch not reported"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo PASS
