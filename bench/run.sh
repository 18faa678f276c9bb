#!/usr/bin/env bash
# Builds and runs memwin's benchmarks and writes docs/performance.md with
# its plots (docs/perf-*.png).
#
#   bench/run.sh                 quick run (a few minutes)
#   bench/run.sh --long          more rounds and repetitions (several times longer)
#   bench/run.sh --check         also check the performance targets: exit 1 if one is missed
#   bench/run.sh --report-only   rewrite the report from the last results
#
# Options: --rounds N (process rounds), --reps N (repetitions per round),
# --no-build (use the built programs), --no-strace.
# Programs: bench/bench.c (Linux: libmemwin.so vs raw syscalls; Windows under
# Wine: memwin.dll vs kernel32; its replay suite replays tests/traces), bench/gowin (windows/amd64 Go program under
# Wine: the Go runtime's own functions vs memwin.dll vs kernel32), and
# bench/report (the statistics, the report and the targets).
# Results: build/bench/results; see bench/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/build/bench
res=$out/results

mode=quick rounds=3 reps=15 check=0 build=1 run=1 use_strace=1 long=()
while [ $# -gt 0 ]; do
    case $1 in
    --long) mode=long rounds=5 reps=41 long=(--long) ;;
    --check) check=1 ;;
    --rounds) rounds=$2; shift ;;
    --reps) reps=$2; shift ;;
    --no-build) build=0 ;;
    --no-strace) use_strace=0 ;;
    --report-only) build=0 run=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "bench: $*" >&2; }
need() {
    command -v "$1" >/dev/null 2>&1 || { say "$1 is missing: run tools/install-deps.sh (as root)"; exit 2; }
}
need go
need gnuplot
if [ $run = 1 ] || [ $build = 1 ]; then
    need gcc; need x86_64-w64-mingw32-gcc-posix; need wine; need cmake
fi
if [ $use_strace = 1 ] && ! command -v strace >/dev/null 2>&1; then
    say "strace is missing (tools/install-deps.sh installs it): no system-call counts"
    use_strace=0
fi
export GOTOOLCHAIN=local

start=$SECONDS
if [ $build = 1 ]; then
    say "building libmemwin.so, memwin.dll and bench.c for both (CMake target memwin_bench)"
    { cmake --preset linux && cmake --build --preset linux --target memwin_bench; } >/dev/null
    { cmake --preset windows && cmake --build --preset windows --target memwin_bench; } >/dev/null
    mkdir -p "$out"
    say "building the benchmarks"
    cp build/linux/memwin_bench "$out/bench-linux"
    cp build/windows/memwin_bench.exe "$out/bench-windows.exe"
    cp build/windows/memwin.dll "$out/memwin.dll"
    (cd bench && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
        go build -ldflags=-checklinkname=0 -o "$out/gowin.exe" ./gowin)
fi

if [ $run = 1 ]; then
    for f in "$out/bench-linux" "$out/bench-windows.exe" "$out/gowin.exe" "$out/memwin.dll"; do
        [ -e "$f" ] || { say "$f is missing: run without --no-build"; exit 2; }
    done
    unset MEMWIN_MODE
    # A Wine prefix of the benchmark's own: no wineserver shared with other
    # Wine programs (tests running at the same time), and a short strace.
    export MEMWIN_WINEPREFIX=$out/wineprefix
    WINEPREFIX=$(tools/wine/prefix.sh)
    export WINEPREFIX WINEDEBUG=-all
    dll=$(winepath -w "$out/memwin.dll" 2>/dev/null)
    rm -rf "$res"
    mkdir -p "$res"
    {
        printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
        printf 'mode\t%s\nrounds\t%s\nreps\t%s\n' "$mode" "$rounds" "$reps"
        printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
        printf 'cores\t%s\n' "$(nproc)"
        printf 'kernel\t%s\n' "$(uname -r)"
        printf 'wine\t%s\n' "$(wine --version 2>/dev/null)"
        printf 'go\t%s\n' "$(go env GOVERSION)"
        printf 'cc\t%s; %s\n' "$(gcc -dumpfullversion)" "mingw-w64 gcc $(x86_64-w64-mingw32-gcc-posix -dumpversion)"
        printf 'max_map_count\t%s\n' "$(cat /proc/sys/vm/max_map_count 2>/dev/null)"
        printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$res/meta.txt"
    for r in $(seq 1 "$rounds"); do
        say "round $r/$rounds: Linux"
        "$out/bench-linux" --reps "$reps" "${long[@]}" >"$res/linux.$r.txt"
        # The 64 MiB transitions again with glibc's heap trimming off: what the
        # emulation's per-reservation heap allocations cost (report, 2).
        GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=33554432 \
            "$out/bench-linux" --reps "$reps" trans --size 67108864 >"$res/linuxnotrim.$r.txt"
        say "round $r/$rounds: Wine, C"
        wine "$out/bench-windows.exe" --reps "$reps" "${long[@]}" >"$res/wine.$r.txt"
        say "round $r/$rounds: Wine, Go"
        if [ $mode = long ]; then
            wine "$out/gowin.exe" -dll "$dll" -reps "$reps" -long >"$res/gowin.$r.txt"
        else
            wine "$out/gowin.exe" -dll "$dll" -reps "$reps" >"$res/gowin.$r.txt"
        fi
    done
    # Real programs' traces (tests/traces), replayed whole: memwin exact,
    # memwin checked and the raw calls, appended to each round's records.
    mkdir -p "$out/traces"
    targs=() wargs=()
    for t in "$root"/tests/traces/*.trace.gz; do
        f=$out/traces/$(basename "${t%.gz}")
        gzip -dc "$t" >"$f"
        targs+=(--trace "$f")
        wargs+=(--trace "$(winepath -w "$f" 2>/dev/null)")
    done
    for r in $(seq 1 "$rounds"); do
        say "round $r/$rounds: trace replays, Linux and Wine"
        "$out/bench-linux" --reps "$reps" replay "${targs[@]}" >>"$res/linux.$r.txt"
        wine "$out/bench-windows.exe" --reps "$reps" replay "${wargs[@]}" >>"$res/wine.$r.txt"
    done
    if [ $use_strace = 1 ]; then
        say "system calls: strace of the trace runs"
        strace -f -qq -o "$res/strace-linux.txt" "$out/bench-linux" trace >/dev/null
        strace -f -qq -o "$res/strace-wine.txt" wine "$out/bench-windows.exe" trace >/dev/null
    fi
    {
        printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
        printf 'duration_hint\t%s\n' "$(( (SECONDS - start + 30) / 60 )) min"
    } >>"$res/meta.txt"
fi

say "writing docs/performance.md"
flags=()
[ $check = 1 ] && flags+=(-check)
(cd bench && go run ./report -results "$res" -docs "$root/docs" -work "$out/plots" -traces "$root/tests/traces" "${flags[@]}")
