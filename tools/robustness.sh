#!/usr/bin/env bash
# memwin's robustness run (issue 5): sanitizers, valgrind, fuzzing, coverage.
#
#   asan      gtest suite + stress (exact, checked, recoverable) under
#             AddressSanitizer + UBSan                          build/asan
#   tsan      stress (exact, checked, recoverable) under ThreadSanitizer,
#             library and stress built with -fsanitize=thread   build/tsan
#   cycles    memwin_long_cycles under ThreadSanitizer: $CYCLES (200k)
#             reserve/release cycles of 1 MiB, then as many of mixed sizes,
#             2 threads, must stay in bounded address space and mappings
#             (50 s on 2 busy cores; 1M cycles: 10 min)      build/tsan
#   valgrind  memcheck over the native gtest suite and a short stress
#                                                               build/valgrind
#   fuzz      fuzz/run.sh: seed replay + memwin_fuzz for FUZZ_SECONDS
#                                                               build/fuzz
#   coverage  lines and branches of src/ from the gtest suites + stress
#             (gcov via gcovr), printed as tables              build/cov
#   wincov    the same for memwin.dll: the Windows build's gtest suite and
#             stress under Wine (mingw-w64's gcov)             build/wincov
#
# Prints one line per step (its log: build/logs/robustness-<step>.log), the
# figures each step measured, and exits non-zero if any step failed.
#
# Environment:
#   ROBUSTNESS_STEPS   steps to run, in order (default: asan tsan cycles valgrind fuzz coverage wincov)
#   CYCLES             reserve/release cycles of the cycles step (default 200000)
#   STRESS_SECONDS     seconds per stress run (default 3; 8 threads each)
#   STRESS_SEED        seed of the stress runs (default: random, printed)
#   FUZZ_SECONDS       fuzzing time (default 60)
#   MEMWIN_KNOWN_BUGS  "tolerate": do not fail on the memwin bugs known when
#                      this script was written (fuzz/README.md, "Known
#                      divergences"); default: strict
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logdir=$root/build/logs
mkdir -p "$logdir"
steps=${ROBUSTNESS_STEPS:-asan tsan cycles valgrind fuzz coverage wincov}
cycles=${CYCLES:-200000}
secs=${STRESS_SECONDS:-3}
export FUZZ_SECONDS=${FUZZ_SECONDS:-60}
seed=${STRESS_SEED:-$((RANDOM * 32768 + RANDOM))}
passed=0 failed=0 failures=()
start_all=$SECONDS

known=${MEMWIN_KNOWN_BUGS:-}
gtest_filter=()
lsan_supp= vg_supp=()
if [ "$known" = tolerate ]; then
    echo "robustness: tolerating known memwin bugs (MEMWIN_KNOWN_BUGS=tolerate):"
    echo "  - UB negating INT64_MIN: src/checked.c check_stat, src/mem.c memwin_gen_free/unused/fault"
    echo "  - stale checked-mode tracker records after exact-mode releases (leak, use-after-free)"
    echo "  - accounting precheck for n or sysMemStat >= 2^63; *reserved not zeroed on refusal"
    export MEMWIN_FUZZ_ALLOW=alloc-signbit,free-signbit,aligned-reserved,stale-tracker
    gtest_filter=(--gtest_filter=-*gen_free_signbit*)
    lsan_supp=$logdir/robustness-lsan.supp
    printf 'leak:trk_add\n' >"$lsan_supp"
    vg_supp=(--suppressions="$logdir/robustness-valgrind.supp")
    cat >"$logdir/robustness-valgrind.supp" <<'EOF'
{
   memwin-known-stale-tracker-record
   Memcheck:Leak
   match-leak-kinds: definite
   fun:calloc
   fun:trk_add
   ...
}
EOF
fi

step() { # step NAME FUNCTION
    local name=$1 fn=$2 log=$logdir/robustness-$1.log t=$SECONDS
    printf '== %-9s ' "$name"
    if "$fn" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "ok ($((SECONDS - t)) s)"
    else
        failed=$((failed + 1)); failures+=("$name"); echo "FAILED ($((SECONDS - t)) s), log: $log"
        grep -E 'FAIL|DIVERGENCE|ERROR|runtime error|SUMMARY|WARNING: ThreadSanitizer|definitely lost|Invalid|uninitialised' "$log" |
            head -n 12 | sed 's/^/   | /'
        tail -n 15 "$log" | sed 's/^/   | /'
    fi
    grep -E '^memwin_stress: PASS|^memwin_long_cycles: |^fuzz: executions|^valgrind: |^coverage: ' "$log" | sed 's/^/   /'
}

configure() { # configure DIR CMAKE-ARGS...: the project with the stress program (and tests)
    local dir=$1; shift
    cmake -S "$root/stress" -B "$dir" -G Ninja "$@" && cmake --build "$dir"
}

stress_modes() { # stress_modes PREFIX-COMMAND...: the stress in the three modes
    local m extra
    for m in exact checked recoverable; do
        extra=()
        [ $m = recoverable ] && extra=(--illegal 5)
        echo "+ memwin_stress --mode $m --seconds $secs --seed $seed ${extra[*]}"
        "$@" --mode "$m" --seconds "$secs" --seed "$seed" "${extra[@]}" || return 1
    done
}

run_asan() {
    local b=$root/build/asan
    configure "$b" -DCMAKE_BUILD_TYPE=Debug -DMEMWIN_WERROR=OFF \
        -DMEMWIN_SANITIZE=address,undefined || return 1
    export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1
    export UBSAN_OPTIONS=print_stacktrace=1
    [ -n "$lsan_supp" ] && export LSAN_OPTIONS=suppressions=$lsan_supp
    echo "+ memwin_tests ${gtest_filter[*]}"
    "$b/memwin_tests" "${gtest_filter[@]}" || return 1
    # The traces' replay writes into every page it commits.
    echo "+ memwin_trace_tests"
    "$b/memwin_trace_tests" --gtest_brief=1 || return 1
    stress_modes "$b/memwin_stress"
}

run_tsan_cmd() { # a TSan run; if this kernel's address-space layout does not suit TSan, again without ASLR
    local out rc
    out=$(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$@" 2>&1); rc=$?
    if [ $rc -ne 0 ] && grep -qE 'unexpected memory mapping|FATAL: ThreadSanitizer' <<<"$out"; then
        echo "tsan: the address-space layout does not suit TSan; running under setarch -R"
        out=$(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
            setarch "$(uname -m)" -R "$@" 2>&1); rc=$?
    fi
    printf '%s\n' "$out"
    return $rc
}

run_tsan() {
    local b=$root/build/tsan
    configure "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_WERROR=OFF \
        -DMEMWIN_BUILD_TESTS=OFF -DMEMWIN_SANITIZE=thread || return 1
    stress_modes run_tsan_cmd "$b/memwin_stress"
}

# Issue 14, item 8: released address space is reused, so a long run keeps
# TSan's shadow mappings (and the kernel's) bounded.
run_cycles() {
    local b=$root/build/tsan
    configure "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_WERROR=OFF \
        -DMEMWIN_BUILD_TESTS=OFF -DMEMWIN_SANITIZE=thread || return 1
    echo "+ memwin_long_cycles --cycles $cycles --threads 2 (vm.max_map_count $(cat /proc/sys/vm/max_map_count))"
    run_tsan_cmd "$b/memwin_long_cycles" --cycles "$cycles" --threads 2 --seed "$seed"
}

run_valgrind() {
    local b=$root/build/valgrind
    configure "$b" -DCMAKE_BUILD_TYPE=Debug -DMEMWIN_WERROR=ON || return 1
    # The vector replay tests whether a page is accessible by handing it to
    # write()/read() on a pipe (EFAULT instead of a fault): deliberate.
    local probe_supp=$logdir/robustness-valgrind-probe.supp
    cat >"$probe_supp" <<'EOF'
{
   memwin-tests-access-probe-write
   Memcheck:Param
   write(buf)
   ...
   fun:*probe*
}
{
   memwin-tests-access-probe-read
   Memcheck:Param
   read(buf)
   ...
   fun:*probe*
}
EOF
    # Child-process tests spawn the test program again: not traced.
    # --fair-sched: threads that wait by yielding (the concurrency tests'
    # start barrier, memwin's spin locks) would otherwise keep valgrind's one
    # running thread from handing over (a 9 s test once took 742 s in CI).
    local vg=(valgrind --tool=memcheck --fair-sched=yes --error-exitcode=1 --trace-children=no --leak-check=full
              --show-leak-kinds=definite,possible --errors-for-leak-kinds=definite,possible
              --num-callers=30 --suppressions="$probe_supp" "${vg_supp[@]}")
    echo "+ ${vg[*]} memwin_tests"
    "${vg[@]}" "$b/memwin_tests" || return 1
    echo "+ ${vg[*]} memwin_stress --threads 4 --ops 4000 --mode recoverable"
    "${vg[@]}" "$b/memwin_stress" --threads 4 --ops 4000 --mode recoverable --illegal 5 \
        --seed "$seed" || return 1
    echo "valgrind: memcheck clean on memwin_tests and memwin_stress"
}

run_fuzz() {
    "$root/fuzz/run.sh"
}

cov_flags="--coverage -fprofile-update=atomic" # atomic: the stress runs threads through the same code

cov_cmake() { # cov_cmake DIR [CMAKE-ARGS...]: configures DIR with coverage counters
    local b=$1; shift
    cmake -S "$root/stress" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMEMWIN_WERROR=ON -DCMAKE_C_FLAGS="$cov_flags" \
        -DCMAKE_CXX_FLAGS="$cov_flags" -DCMAKE_EXE_LINKER_FLAGS=--coverage \
        -DCMAKE_SHARED_LINKER_FLAGS=--coverage "$@"
}

configure_cov() { # configure_cov [BUILD-ARGS...]: the Linux coverage tree, built
    cov_cmake "$root/build/cov" && cmake --build "$root/build/cov" "$@"
}

cov_stress() { # cov_stress PREFIX-COMMAND...: the stress in the three modes, for what it covers
    local m
    for m in exact checked recoverable; do
        "$@" --mode $m --threads 4 --ops 30000 --seed "$seed" \
            $([ $m = recoverable ] && echo --illegal 5) >/dev/null 2>&1
    done
}

cov_report() { # cov_report BUILD-DIR GCOV TARGET WHAT: gcovr's tables for src/, then one summary line
    local b=$1 gcov=$2 target=$3 what=$4 objs sum
    # The library's objects only (the tests' and the stress's are not src/).
    objs=$(dirname "$(find "$b" -name 'checked.c.gcno' | head -n 1)")
    [ -d "$objs" ] || { echo "coverage: no .gcno for src/checked.c under $b"; return 1; }
    local g=(gcovr -r "$root" --gcov-executable "$gcov" --object-directory "$b" --filter "$root/src/" "$objs")
    echo "coverage of src/ by $what: lines (Missing: uncovered lines)"
    "${g[@]}" --txt || return 1
    echo
    echo "coverage of src/: branches (Missing: lines with a branch never taken)"
    "${g[@]}" --txt --branches || return 1
    # gcovr replaces its output file (never point it at /dev/null: that
    # turns /dev/null into a regular file for the whole machine).
    sum=$("${g[@]}" --print-summary --txt -o "$b/coverage.txt" 2>/dev/null)
    echo "coverage: $target $(grep -E '^(lines|branches):' <<<"$sum" | tr '\n' ' ')"
}

run_coverage() {
    local b=$root/build/cov
    command -v gcovr >/dev/null || { echo "coverage: gcovr missing (tools/install-deps.sh)"; return 1; }
    if [ -n "$cov_prebuild" ]; then
        wait "$cov_prebuild"
        cat "$logdir/robustness-coverage-build.log"
    fi
    configure_cov || return 1
    find "$b" -name '*.gcda' -delete
    # Coverage counts what ran; failures are the other steps' business.
    "$b/memwin_tests" >/dev/null 2>&1
    # The allocation- and system-call-failure tests (suites AllocFail and
    # SyscallFail), each in a process of its own (as ctest).
    local line suite=
    while IFS= read -r line; do
        case $line in
        "  "*) "$b/memwin_alloc_fail_tests" --gtest_filter="$suite${line#  }" >/dev/null 2>&1 ;;
        *) suite=$line ;;
        esac
    done < <("$b/memwin_alloc_fail_tests" --gtest_list_tests)
    cov_stress "$b/memwin_stress"
    cov_report "$b" gcov linux "the gtest suites + memwin_stress (Linux)"
}

# The same for the Windows build (memwin.dll over kernel32, run under Wine):
# the Windows-only code (prim_windows.c, sysinfo_windows.c, the DLL's paths)
# is measured here.  The programs write their .gcda files through Wine.
run_wincov() {
    local b=$root/build/wincov
    command -v gcovr >/dev/null || { echo "wincov: gcovr missing (tools/install-deps.sh)"; return 1; }
    cov_cmake "$b" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-mingw-w64.cmake" &&
        cmake --build "$b" --target memwin_tests memwin_stress || return 1
    find "$b" -name '*.gcda' -delete
    "$root/tools/wine/run.sh" "$b/memwin_tests.exe" >/dev/null 2>&1
    cov_stress "$root/tools/wine/run.sh" "$b/memwin_stress.exe"
    cov_report "$b" x86_64-w64-mingw32-gcov windows "the gtest suite + memwin_stress (Windows, under Wine)"
}

command -v valgrind >/dev/null || { echo "robustness: valgrind missing: run tools/install-deps.sh"; exit 2; }
command -v clang >/dev/null || { echo "robustness: clang missing: run tools/install-deps.sh"; exit 2; }
echo "robustness: steps: $steps; stress $secs s per mode (seed $seed); fuzz $FUZZ_SECONDS s"
cov_prebuild=
for s in $steps; do
    # The fuzzer keeps one core busy for FUZZ_SECONDS: build the coverage
    # tree on the other meanwhile.
    if [ "$s" = fuzz ] && [[ " $steps " == *" coverage "* ]]; then
        # One job at the lowest priority: the fuzzer keeps its core.
        (renice -n 19 -p "$BASHPID" >/dev/null 2>&1; configure_cov -j 1) \
            >"$logdir/robustness-coverage-build.log" 2>&1 &
        cov_prebuild=$!
    fi
    case $s in
    asan|tsan|cycles|valgrind|fuzz|coverage|wincov) step "$s" "run_$s" ;;
    *) echo "robustness: unknown step $s"; exit 2 ;;
    esac
    if [[ $s == coverage || $s == wincov ]] && [ -f "$logdir/robustness-$s.log" ]; then
        sed -n '/^coverage of src/,/^coverage: /p' "$logdir/robustness-$s.log"
    fi
done

echo
echo "robustness: $passed passed, $failed failed in $((SECONDS - start_all)) s"
if [ "$failed" != 0 ]; then
    # Repeat each failed step's evidence last, where a truncated log keeps it.
    for f in "${failures[@]}"; do
        echo "--- robustness step $f failed; its log: $logdir/robustness-$f.log"
        grep -n -E '\[  FAILED  \]|FAIL|DIVERGENCE|ERROR|runtime error|SUMMARY|WARNING: ThreadSanitizer|==[0-9]+== +(Invalid|Conditional|Syscall|Mismatched|[0-9,]+ bytes in)|definitely lost|uninitialised' \
            "$logdir/robustness-$f.log" | head -n 40 | sed 's/^/   ! /'
        # googletest's own account of each failed expectation: file, line, values.
        grep -n -A6 -E ': Failure$' "$logdir/robustness-$f.log" | head -n 40 | sed 's/^/   ? /'
        tail -n 30 "$logdir/robustness-$f.log" | sed 's/^/   | /'
    done
    echo "robustness: failed steps: ${failures[*]}"
    exit 1
fi
