#!/usr/bin/env bash
# Conformance report: memwin against the real Go runtime, every Go release
# line from 1.19 to 1.27 on windows/amd64 and windows/386.
#
#   tools/conformance.sh            build, run, print the report, write docs/conformance.md
#   tools/conformance.sh --regen    the same, but first record the golden files
#                                   (tests/vectors/*.golden) from the Go runtime
#
# Builds memwin.dll for x86_64 (preset windows) and i686 (preset
# windows-386), the linux preset (libmemwin.so and the googletest program),
# and the harness tools/conform with every toolchain tools/go-toolchains.sh
# provides, for GOARCH amd64 and 386 (cgo with mingw-w64, static).  Each
# harness runs every scenario of tests/vectors under Wine through the Go
# runtime and through memwin.dll of its architecture; the googletest replay
# runs them against the Linux library.  Exits non-zero if any scenario
# differs anywhere.
#
# Environment: CONFORM_JOBS (harnesses built and run at a time, 2),
# CONFORM_ONLY (a regexp of labels such as go1.19-amd64 to run only those).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

regen=0
case "${1:-}" in
--regen) regen=1 ;;
"") ;;
*)
    echo "usage: $0 [--regen]" >&2
    exit 2
    ;;
esac

# A fresh machine: install what is missing (Debian packages; needs root).
"$root/tools/install-deps.sh"

jobs=${CONFORM_JOBS:-2}
only=${CONFORM_ONLY:-.}
out=$root/build/conformance
mkdir -p "$out"

# Wine maps NUL to /dev/null; the runs are not trustworthy without it.
if [ ! -c /dev/null ]; then
    echo "conformance: /dev/null is not a character device (something replaced it); fix it first:" >&2
    echo "  mknod -m 666 /dev/null.new c 1 3 && mv -f /dev/null.new /dev/null" >&2
    exit 3
fi
start=$(date +%s)

step() { printf "== [%4ss] %s\n" "$(($(date +%s) - start))" "$*" >&2; }

step "the Go toolchains (tools/go-toolchains.sh)"
"$root/tools/go-toolchains.sh" >"$out/toolchains.tsv"
cat "$out/toolchains.tsv" | cut -f1,3,4 | sed 's/^/   /' >&2

for preset in windows windows-386 linux; do
    step "building with cmake --preset $preset"
    cmake --preset $preset >"$out/cmake-$preset.log" 2>&1 || { cat "$out/cmake-$preset.log" >&2; exit 3; }
    cmake --build --preset $preset >>"$out/cmake-$preset.log" 2>&1 || { tail -40 "$out/cmake-$preset.log" >&2; exit 3; }
done
dll_amd64=$root/build/windows/memwin.dll
dll_386=$root/build/windows-386/memwin.dll
for d in "$dll_amd64" "$dll_386"; do [ -f "$d" ] || { echo "no $d" >&2; exit 3; }; done
gtest=$(find "$root/build/linux" -name memwin_tests -type f -perm -u+x | head -1)
[ -n "$gtest" ] || { echo "no memwin_tests in build/linux" >&2; exit 3; }

# The columns: label<TAB>go-binary<TAB>GOARCH, for every obtained toolchain.
columns=$out/columns.tsv
: >"$columns"
while IFS=$'\t' read -r label gobin version source; do
    [ -n "$gobin" ] || continue
    for arch in amd64 386; do
        [[ "$label-$arch" =~ $only ]] && printf '%s-%s\t%s\t%s\n' "$label" "$arch" "$gobin" "$arch" >>"$columns"
    done
done <"$out/toolchains.tsv"

build_harness() { # label go-binary arch
    local label=$1 gobin=$2 arch=$3 cc=x86_64-w64-mingw32-gcc ldextra=""
    [ "$arch" = 386 ] && cc=i686-w64-mingw32-gcc
    # Go >= 1.23 refuses //go:linkname references into the runtime without this.
    case $label in go1.19-* | go1.2[0-2]-*) ;; *) ldextra=-checklinkname=0 ;; esac
    (cd "$root/tools/conform" &&
        CGO_ENABLED=1 CC=$cc GOOS=windows GOARCH=$arch GOTOOLCHAIN=local \
            "$gobin" build -trimpath -ldflags="$ldextra -extldflags=-static" \
            -o "$out/conform-$label.exe" .) >"$out/build-$label.log" 2>&1 ||
        { echo "building the harness $label failed:" >&2; tail -20 "$out/build-$label.log" >&2; return 1; }
    echo "   built $label" >&2
}
export -f build_harness
export root out
step "building the harness: $(wc -l <"$columns") columns, $jobs at a time"
xargs -P "$jobs" -L 1 bash -c 'build_harness "$0" "$1" "$2"' <"$columns" || exit 3

# A Wine prefix of its own: no wineserver shared with other test runs.
export MEMWIN_WINEPREFIX=$out/wineprefix
"$root/tools/wine/prefix.sh" >/dev/null

run_harness() { # label golden-mode arch
    local label=$1 mode=$2 arch=$3 args=() dll=$dll_amd64
    [ "$arch" = 386 ] && dll=$dll_386
    [ "$mode" != - ] && args=(-write-golden "$mode")
    # asyncpreemptoff: Go 1.26's asynchronous preemption sometimes faults
    # under Wine 8 (the harness would set it itself, at the cost of a re-exec).
    GODEBUG=asyncpreemptoff=1 "$root/tools/wine/run.sh" "$out/conform-$label.exe" -vectors "$root/tests/vectors" \
        -dll "$dll" -j 1 -results "$out/results-$label.tsv" "${args[@]}" \
        >"$out/harness-$label.log" 2>&1 || true
    grep -E '^(note|go1|memwin|conform: gcC)' "$out/harness-$label.log" | sed "s/^/   $label: /" >&2 || true
    [ -s "$out/results-$label.tsv" ] || { echo "harness $label produced no results:" >&2; tail -20 "$out/harness-$label.log" >&2; return 1; }
}
export -f run_harness
export dll_amd64 dll_386
rm -f "$out"/results-*.tsv
if [ $regen = 1 ]; then
    # Goldens: Go 1.19 on amd64 records every scenario it can run; Go 1.26
    # the scenarios of functions 1.19 lacks and those with a golden of their
    # own from a newer Go; the 386 harnesses the same, for the scenarios with
    # goldens of their own on 32-bit ports (see tests/vectors/FORMAT.md).
    step "recording goldens with go1.19 and go1.26, amd64 and 386"
    run_harness go1.19-amd64 all amd64 || exit 3
    run_harness go1.26-amd64 newer amd64 || exit 3
    run_harness go1.19-386 all 386 || exit 3
    run_harness go1.26-386 newer 386 || exit 3
fi
step "running the scenarios under Wine: each Go runtime and memwin.dll of its architecture, $jobs harnesses at a time"
cut -f1,3 "$columns" | xargs -P "$jobs" -L 1 bash -c 'run_harness "$0" - "$1"' || exit 3

step "replaying the scenarios against libmemwin (Linux)"
"$gtest" --gtest_filter='Vectors/VectorReplay.*' --gtest_output="json:$out/linux-replay.json" \
    >"$out/linux-replay.log" 2>&1 || true
[ -s "$out/linux-replay.json" ] || { tail -20 "$out/linux-replay.log" >&2; exit 3; }

mkdir -p "$root/docs"
secs=$(($(date +%s) - start))
rc=0
hargs=()
while IFS=$'\t' read -r label _ _; do hargs+=(-harness "$label=$out/results-$label.tsv"); done <"$columns"
(cd "$root/tools/conform" && GOTOOLCHAIN=local go run ./report \
    -vectors "$root/tests/vectors" "${hargs[@]}" -toolchains "$out/toolchains.tsv" \
    -gtest "$out/linux-replay.json" -md "$root/docs/conformance.md" -seconds "$secs" \
    -cmd "tools/conformance.sh") || rc=$?
echo "report written to docs/conformance.md (logs in build/conformance/)" >&2
exit $rc
