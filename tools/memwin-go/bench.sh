#!/usr/bin/env bash
# Overhead of the runtime swap (a benchmark, not a test): an
# allocation-heavy Go program (progs/allocbench) built four ways and run
# under Wine in interleaved rounds (the order shuffled every round):
#
#   none       plain build (internal linking)       baseline of full
#   full       the runtime's sys*OS served by memwin.dll (overlay)
#   none-ext   cgo, external linking, no swap        baseline of primitive
#   primitive  runtime._VirtualAlloc/_VirtualFree -> memwin.dll interposers
#
# Reports medians and per-round ratios (median and interquartile range) of
# the workload's wall and CPU time as the program measures them (process
# times, Wine start-up excluded) and of the whole process's wall time.
#
#   bench.sh [--rounds N] [--work N] [--go GO]     (defaults: 15, 6, go)
#
# Results: build/memwin-go/bench/results.txt and report.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=15 work=6 gobin=${GO:-go}
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --work) work=$2; shift ;;
    --go) gobin=$2; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=
out=$root/build/memwin-go/bench
mkdir -p "$out"
variants=(none full none-ext primitive)
for v in "${variants[@]}"; do
    mkdir -p "$out/$v"
    (cd "$here/progs" && GO=$gobin "$here/memwin-go" build --swap="$v" -o "$out/$v/allocbench.exe" ./allocbench) >&2
done
"$root/tools/wine/prefix.sh" >/dev/null
res=$out/results.txt
echo "# round variant wall_ns cpu_ns outer_ns ($("$gobin" env GOVERSION), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))" >"$res"
for v in "${variants[@]}"; do # warm-up: Wine, page cache
    "$root/tools/wine/run.sh" "$out/$v/allocbench.exe" -rounds 1 >/dev/null
done
for r in $(seq 1 "$rounds"); do
    for v in $(printf '%s\n' "${variants[@]}" | shuf); do
        t0=$(date +%s%N)
        line=$("$root/tools/wine/run.sh" "$out/$v/allocbench.exe" -rounds "$work")
        t1=$(date +%s%N)
        wall=$(sed -nE 's/.*wall_ns=([0-9]+).*/\1/p' <<<"$line")
        cpu=$(sed -nE 's/.*cpu_ns=([0-9]+).*/\1/p' <<<"$line")
        echo "$r $v $wall $cpu $((t1 - t0))" >>"$res"
    done
    echo "bench: round $r/$rounds done" >&2
done
{
    echo "Go $("$gobin" env GOVERSION), $rounds interleaved rounds, allocbench -rounds $work, $(nproc) CPUs, load average at start $(sed -n '1s/.*load \(.*\))/\1/p' "$res")."
    echo
    "$here/memwin-go" bench-report "$res"
} | tee "$out/report.md"
