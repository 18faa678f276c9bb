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
# On a shared, loaded machine those ratios scatter by several per cent, so
# it also measures the extra cost per call of each swap's layer directly
# (csrc/callcost.c: the same commit/decommit pair through kernel32, through
# the interposers, through memwin's sysUsedOS/sysUnusedOS) and multiplies it
# by the number of calls the workload makes (its MEMWIN_STATS), which bounds
# the overhead much more tightly.
#
#   bench.sh [--rounds N] [--work N] [--go GO] [--arch=386]   (defaults: 25, 10, go, amd64)
#
# Results: build/memwin-go/bench/results.txt and report.md (--arch=386: every
# variant and callcost.exe built for windows/386, the i686 memwin.dll, 32-bit
# Wine; results in build/memwin-go/bench-386/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=25 work=10 gobin=${GO:-go} arch=amd64
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --work) work=$2; shift ;;
    --go) gobin=$2; shift ;;
    --arch=amd64 | --arch=386) arch=${1#--arch=} ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=
. "$here/port.sh" # sfx, mingw
memwin_port "$arch"
out=$root/build/memwin-go/bench$sfx
mkdir -p "$out"
variants=(none full none-ext primitive)
for v in "${variants[@]}"; do
    mkdir -p "$out/$v"
    (cd "$here/progs" && GO=$gobin "$here/memwin-go" build --swap="$v" --arch=$arch -o "$out/$v/allocbench.exe" ./allocbench) >&2
done
"$root/tools/wine/prefix.sh" >/dev/null
dll=$out/primitive/memwin.dll

# Per-call cost of the layers.
$mingw -O2 -I"$root/include" -o "$out/primitive/callcost.exe" \
    "$here/csrc/callcost.c" "$root/build/memwin-go/dll$sfx/libmemwin.dll.a"
"$root/tools/wine/run.sh" "$out/primitive/callcost.exe" 2000 41 >"$out/callcost.txt"
cat "$out/callcost.txt" >&2
# Calls the workload makes (through the interposers, and into memwin).
for v in primitive full; do
    MEMWIN_STATS=Z:${out//\//\\}\\$v\\stats.txt "$root/tools/wine/run.sh" "$out/$v/allocbench.exe" -rounds "$work" \
        >"$out/$v/stats-run.txt"
done
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
    echo "Go $("$gobin" env GOVERSION) windows/$arch, $rounds interleaved rounds, allocbench -rounds $work, $(nproc) CPUs, load average at start $(sed -n '1s/.*load \(.*\))/\1/p' "$res")."
    echo
    "$here/memwin-go" bench-report "$res"
    echo
    "$here/memwin-go" bench-estimate "$out/callcost.txt" "$out/primitive/stats.txt" "$out/full/stats.txt" \
        "$out/primitive/stats-run.txt" "$out/full/stats-run.txt"
} | tee "$out/report.md"
