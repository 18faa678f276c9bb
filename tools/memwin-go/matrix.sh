#!/usr/bin/env bash
# The runtime swap on every Go release line: for each toolchain that
# tools/go-toolchains.sh lists (Go 1.19 to 1.27), builds progs/churn for
# windows/amd64 four ways and runs each under Wine:
#
#   none        memwin-go --swap=none: the plain program, no memwin; the
#               reference output
#   primitive   memwin-go --swap=primitive: the runtime's VirtualAlloc and
#               VirtualFree are memwin's interposers (go_bindings/swap's C
#               file linked in as an object)
#   full        memwin-go --swap=full: the runtime's sys*OS functions are
#               memwin's (go build -overlay)
#   package     the primitive swap as a Go package: churn built with
#               -tags memwinswap imports go_bindings/swap (plain go build,
#               cgo with mingw-w64, as docs/runtime-swap.md shows)
#
# progs/churn makes the runtime reserve, commit, decommit and release memory
# (GC-heavy trees, large slices, debug.FreeOSMemory, a heap dump) and prints
# only facts that do not depend on the swap.  A (Go, swap) cell passes when
#
#   - the program exits with status 0,
#   - its standard output is byte for byte the reference's,
#   - memwin-go's summary on stderr says "swap=<swap>, <version>, exit
#     status 0" (package: matrix.sh writes that line around `memwin-go
#     summary`, and the program must say "memwin/swap: active=true") and
#     the counters (memwin-go summary of MEMWIN_STATS) show reserve, commit,
#     decommit and release calls through memwin.dll's interposers, each > 0:
#     the swap was active and memwin served the runtime's calls.
#
# Prints one row per (Go version, swap) and exits 1 if any cell fails (or a
# toolchain could not be obtained), 2 on a usage error.
#
#   matrix.sh [--jobs N] [--only go1.NN[,go1.MM...]] [--arch=386]
#
# --arch=386: every cell built for windows/386 (memwin-go --arch=386, the
# package cell with GOARCH=386 and i686-w64-mingw32-gcc) against an i686
# memwin.dll (dll-386/), run by 32-bit Wine in the WoW64 prefix; cells and
# table in cells-386/ and table-386.md.
#
# --jobs: Go versions built and run at once (default 2, the machine's cores;
# each go build then runs with -p 1).  Everything lives in
# build/memwin-go/matrix/: its own memwin.dll (dll/), its own Wine prefix
# (wineprefix/, MEMWIN_WINEPREFIX), per-cell logs (cells/) and the table
# (table.md).  Not part of tools/test.sh: 66-82 s with a warm Go build cache,
# 340 s with an empty one (2026-12-02, 2 CPUs; docs/runtime-swap.md).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=2 only="" arch=amd64
while [ $# -gt 0 ]; do
    case $1 in
    --jobs) jobs=${2:-}; shift 2 ;;
    --jobs=*) jobs=${1#*=}; shift ;;
    --only) only=${2:-}; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --arch) arch=${2:-}; shift 2 ;;
    --arch=*) arch=${1#*=}; shift ;;
    *) echo "usage: $0 [--jobs N] [--only go1.NN[,go1.MM...]] [--arch=386]" >&2; exit 2 ;;
    esac
done
case $jobs in '' | *[!0-9]* | 0) echo "matrix: --jobs wants a positive number" >&2; exit 2 ;; esac

out=$root/build/memwin-go/matrix
# Per port (port.sh): the DLL, the cells, the table; the amd64 names are
# the original ones.  mingw is the C compiler of the port's cgo (package cell).
. "$here/port.sh"
memwin_port "$arch"
cells=$out/cells$sfx
dlldir=$out/dll$sfx
dll=$dlldir/memwin.dll
export MEMWIN_WINEPREFIX=$out/wineprefix
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=
unset GO GOOS GOARCH CGO_ENABLED
MG=$here/memwin-go
swaps=(primitive full package)
start_all=$SECONDS

say() { echo "matrix: $*" >&2; }

if [ ! -c /dev/null ]; then
    say "/dev/null is not a character device; fix it first"; exit 3
fi
mkdir -p "$out"
rm -rf "$cells"
mkdir -p "$cells"

# ---- setup: toolchains, memwin.dll, the Wine prefix, the command --------------
tc=$("$root/tools/go-toolchains.sh") || { say "tools/go-toolchains.sh failed"; exit 1; }
if [ ! -f "$dlldir/build.ninja" ]; then
    cmake -S "$root" -B "$dlldir" -G Ninja \
        -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_BUILD_TESTS=OFF -DMEMWIN_WERROR=ON >"$out/dll.log" 2>&1 ||
        { say "configuring memwin.dll failed: $out/dll.log"; exit 1; }
fi
ninja -C "$dlldir" -j2 memwin >>"$out/dll.log" 2>&1 || { say "building memwin.dll failed: $out/dll.log"; exit 1; }
"$root/tools/wine/prefix.sh" >/dev/null || { say "tools/wine/prefix.sh failed"; exit 1; }
"$MG" --help >/dev/null 2>&1 # builds the command once, before the jobs

# ---- one Go version --------------------------------------------------------------

# count NAME ERRFILE: the calls column of the summary's NAME row.
count() { awk -v n="$1" '$1 == n && $2 ~ /^[0-9]+$/ { print $2; exit }' "$2"; }

# cell LABEL GO VERSION SWAP: builds and runs progs/churn; writes
# cells/LABEL-SWAP.{out,err,rc,time}.
cell() {
    local label=$1 gobin=$2 swap=$3 base=$cells/$1-$3 t0=$SECONDS p=()
    [ "$jobs" -gt 1 ] && p=(-p=1)
    (cd "$here/progs" && "$MG" run --swap="$swap" --arch="$arch" --go="$gobin" --dll="$dll" \
        --stats="$base.stats" --timeout=300s "${p[@]}" ./churn) >"$base.out" 2>"$base.err"
    echo $? >"$base.rc"
    echo $((SECONDS - t0)) >"$base.time"
}

winpath() { echo "Z:${1//\//\\}"; }

# cell_package LABEL GO: churn importing go_bindings/swap, built with the go
# command alone; the summary is memwin-go's, from the stats file.
cell_package() {
    local label=$1 gobin=$2 base=$cells/$1-package t0=$SECONDS d=$cells/$1-package.d rc=0 w0 w1 p=()
    [ "$jobs" -gt 1 ] && p=(-p=1)
    mkdir -p "$d"
    (cd "$here/progs" && GOOS=windows GOARCH=$arch CGO_ENABLED=1 CC=$mingw GOFLAGS=-mod=mod \
        "$gobin" build "${p[@]}" -tags memwinswap -ldflags=-extldflags=-static -o "$d/churn.exe" ./churn) \
        >"$base.out" 2>"$base.err" || rc=3
    if [ $rc = 0 ]; then
        cp "$dll" "$d/memwin.dll"
        w0=$(date +%s.%N)
        MEMWIN_STATS=$(winpath "$base.stats") timeout 300 "$root/tools/wine/run.sh" "$d/churn.exe" >"$base.out" 2>"$base.err"
        rc=$?
        w1=$(date +%s.%N)
        printf 'memwin-go: swap=package, %s%s, exit status %d, %.2f s under Wine\n' \
            "$("$gobin" env GOVERSION)" "$port" $rc "$(echo "$w1 - $w0" | bc)" >>"$base.err"
        "$MG" summary "$base.stats" >>"$base.err" 2>&1
    fi
    echo $rc >"$base.rc"
    echo $((SECONDS - t0)) >"$base.time"
}

version_job() { # LABEL GO
    local label=$1 gobin=$2 s
    cell "$label" "$gobin" none
    for s in "${swaps[@]}"; do
        case $s in
        package) cell_package "$label" "$gobin" ;;
        *) cell "$label" "$gobin" "$s" ;;
        esac
    done
}

# ---- run, at most $jobs versions at once ------------------------------------------
labels=()
declare -A gobins=() versions=() sources=()
while IFS=$'\t' read -r label gobin version source; do
    [ -z "$label" ] && continue
    if [ -n "$only" ] && [[ ",$only," != *",$label,"* ]]; then continue; fi
    labels+=("$label") gobins[$label]=$gobin versions[$label]=$version sources[$label]=$source
done <<<"$tc"
[ ${#labels[@]} -gt 0 ] || { say "no toolchain selected"; exit 2; }

running=0
for label in "${labels[@]}"; do
    [ -n "${gobins[$label]}" ] || continue
    if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
    say "${versions[$label]}: building and running none ${swaps[*]}"
    version_job "$label" "${gobins[$label]}" &
    running=$((running + 1))
done
wait

# ---- checks and the table -----------------------------------------------------------
failed=0
table=$out/table$sfx.md
{
    echo "| Go | swap | result | exit | output = no-swap run | reserve | commit (failed) | decommit | release | total calls | peak committed | build + run |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$table"
for label in "${labels[@]}"; do
    v=${versions[$label]}
    if [ -z "${gobins[$label]}" ]; then
        echo "| $label | - | **FAIL**: ${sources[$label]} | | | | | | | | | |" >>"$table"
        failed=$((failed + 1)); continue
    fi
    ref=$cells/$label-none
    refok=1
    if [ "$(cat "$ref.rc")" != 0 ] || [ ! -s "$ref.out" ]; then
        refok=0
        say "$v none: exit status $(cat "$ref.rc"), log $ref.err"
    fi
    for s in "${swaps[@]}"; do
        b=$cells/$label-$s why=()
        rc=$(cat "$b.rc")
        [ "$rc" = 0 ] || why+=("exit status $rc")
        same=no
        if [ $refok = 0 ]; then why+=("no reference output (the no-swap run failed)")
        elif cmp -s "$ref.out" "$b.out"; then same=yes
        else why+=("output differs from the no-swap run"); fi
        grep -q "^memwin-go: swap=$s, $v$port, exit status 0, " "$b.err" || why+=("no summary line 'swap=$s, $v$port, exit status 0'")
        grep -q '^memwin/swap: cannot load' "$b.err" && why+=("memwin.dll not loaded")
        if [ "$s" = package ] && ! grep -q '^memwin/swap: active=true, ' "$b.err"; then
            why+=("the program does not say memwin/swap: active=true")
        fi
        declare -A n=()
        for op in reserve commit alloc decommit release total; do
            n[$op]=$(count "$op" "$b.err")
            case $op in alloc) ;; *) [ "${n[$op]:-0}" -gt 0 ] 2>/dev/null || why+=("$op calls: ${n[$op]:-none}") ;; esac
        done
        cfail=$(awk '$1 == "commit" { print $3; exit }' "$b.err")
        peak=$(sed -n 's/^  peak committed \(.*\), committed at exit.*/\1/p' "$b.err")
        wall=$(sed -n "s/^memwin-go: swap=$s, .*, \([0-9.]*\) s under Wine.*/\1/p" "$b.err")
        if [ ${#why[@]} = 0 ]; then res=ok; else res="**FAIL**: $(IFS=';'; echo "${why[*]}" | sed 's/;/; /g')"; failed=$((failed + 1)); fi
        echo "| $v | $s | $res | $rc | $same | ${n[reserve]:--} | ${n[commit]:--} (${cfail:--}) | ${n[decommit]:--} | ${n[release]:--} | ${n[total]:--} | ${peak:--} | $(cat "$b.time") s (${wall:--} s under Wine) |" >>"$table"
        if [ ${#why[@]} != 0 ]; then
            say "$v $s failed; log $b.err:"
            grep -vE '^(  |memwin-go: memory traffic)' "$b.err" | tail -n 8 | sed 's/^/    /' >&2
        fi
        unset n
    done
done
cat "$table"
wallall=$((SECONDS - start_all))
echo
echo "matrix: ${#labels[@]} Go versions x ${#swaps[@]} swaps, windows/$arch, $failed failed, $wallall s wall (--jobs $jobs; logs: $cells)"
echo "matrix: ${#labels[@]} Go versions x ${#swaps[@]} swaps, windows/$arch, $failed failed, $wallall s wall (--jobs $jobs)" >>"$table"
[ $failed = 0 ]
