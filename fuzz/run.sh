#!/usr/bin/env bash
# Builds memwin_fuzz (clang: libFuzzer + AddressSanitizer + UBSan) and
# vec2seed in build/fuzz, makes the seed corpus from tests/vectors/*.vec (if
# present) and the hand-written fuzz/seeds/*.vec with vec2seed, replays every
# seed once, then fuzzes for a bounded time and prints the executions reached.
#
# Environment:
#   FUZZ_SECONDS       fuzzing time in seconds (default 60)
#   FUZZ_BUILD_DIR     build directory (default build/fuzz)
#   FUZZ_ARGS          extra libFuzzer flags (e.g. "-seed=1 -max_len=2048")
#   MEMWIN_FUZZ_ALLOW  known memwin divergences to tolerate (see
#                      fuzz/README.md); unset or empty: none (strict)
# Exit status: 0 if nothing diverged, 1 on a divergence or sanitizer report
# (the input is saved under build/fuzz/artifacts/), 2 on a build failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=${FUZZ_BUILD_DIR:-$root/build/fuzz}
secs=${FUZZ_SECONDS:-60}
fuzzer=$bdir/memwin_fuzz

echo "fuzz: building $fuzzer"
mkdir -p "$bdir"
if ! { cmake -S "$root/fuzz" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >"$bdir/configure.log" 2>&1 \
       && cmake --build "$bdir" --target memwin_fuzz vec2seed >"$bdir/build.log" 2>&1; }; then
    cat "$bdir/configure.log" "$bdir/build.log" 2>/dev/null | tail -n 40
    echo "fuzz: build failed"
    exit 2
fi

seeds=$bdir/seeds corpus=$bdir/corpus artifacts=$bdir/artifacts
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$artifacts"
shopt -s nullglob
vecs=("$root"/tests/vectors/*.vec "$root"/fuzz/seeds/*.vec)
"$bdir/vec2seed" --quiet --out "$seeds" "${vecs[@]}" || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64:malloc_context_size=8}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export MEMWIN_FUZZ_ALLOW=${MEMWIN_FUZZ_ALLOW:-}
echo "fuzz: tolerated known divergences: ${MEMWIN_FUZZ_ALLOW:-none (strict)}"

report() { # report LOG: the divergence or sanitizer report, without libFuzzer's noise
    grep -v -E '^#[0-9]+[[:space:]]|^INFO:|NEW_FUNC|^[[:space:]]+#[0-9]+ 0x|^MS: |^base unit|^NOTE: libFuzzer|^      Combine|^Running: |^Executed |Running [0-9]+ inputs|^$' "$1" |
        sed -n '1,60p'
}

# 1. Every seed once, in order, in as few processes as possible; a seed that
#    diverges is reported and the replay goes on with the next one.
seed_files=("$seeds"/*.bin)
log=$bdir/replay.log
bad=()
rest=("${seed_files[@]}")
while [ ${#rest[@]} -gt 0 ]; do
    if "$fuzzer" -artifact_prefix="$artifacts/" "${rest[@]}" >"$log" 2>&1; then
        break
    fi
    failed=$(grep -E '^Running: ' "$log" | tail -n 1 | sed 's/^Running: //')
    [ -n "$failed" ] || { report "$log"; echo "fuzz: FAILED (seed replay)"; exit 1; }
    bad+=("$failed")
    echo "fuzz: seed $(basename "$failed") diverges:"
    report "$log" | sed 's/^/  | /'
    for i in "${!rest[@]}"; do
        if [ "${rest[$i]}" = "$failed" ]; then
            rest=("${rest[@]:$((i + 1))}")
            break
        fi
    done
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${#bad[@]} of ${#seed_files[@]} seeds diverge; reproduce one with"
    echo "  MEMWIN_FUZZ_ALLOW='$MEMWIN_FUZZ_ALLOW' $fuzzer ${bad[0]}"
    exit 1
fi
echo "fuzz: ${#seed_files[@]} seeds replayed, no divergence"

# 2. Fuzzing for the bounded time, corpus kept in build/fuzz/corpus.
log=$bdir/fuzz.log
echo "fuzz: fuzzing for $secs s"
# shellcheck disable=SC2086
"$fuzzer" -max_total_time="$secs" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" "$seeds" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/.*/\1 edges, \2 features, corpus \3 inputs/p' <<<"$last")
if [ $rc -ne 0 ]; then
    report "$log"
    art=$(sed -n "s/.*Test unit written to //p" "$log" | tail -n 1)
    echo "fuzz: FAILED after ${execs:-?} executions; input: ${art:-?}"
    echo "fuzz: reproduce: MEMWIN_FUZZ_ALLOW='$MEMWIN_FUZZ_ALLOW' $fuzzer ${art:-<input>}"
    exit 1
fi
echo "fuzz: executions: ${execs:-?} in $secs s (${rate:-?} exec/s); coverage: ${cov:-?}"
echo "fuzz: OK"
