#!/usr/bin/env bash
# Conformance report: memwin against the real Go runtime.
#
#   tools/conformance.sh            build, run, print the report, write docs/conformance.md
#   tools/conformance.sh --regen    the same, but first record the golden files
#                                   (tests/vectors/*.golden) from the Go runtime
#
# Builds the windows preset (memwin.dll), the linux preset (libmemwin.so and
# the googletest program), and the harness tools/conform with Go 1.19 and
# Go 1.26 (windows/amd64, cgo with mingw-w64, static).  Each harness runs
# every scenario of tests/vectors under Wine through the Go runtime and
# through memwin.dll; the googletest replay runs them against the Linux
# library.  Exits non-zero if any scenario differs anywhere.
#
# Environment: GO119 (default /usr/lib/go-1.19/bin/go), GO126 (default: go
# on PATH, must be Go 1.26), CONFORM_JOBS (child processes at a time, 2).
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

GO119=${GO119:-/usr/lib/go-1.19/bin/go}
GO126=${GO126:-go}
jobs=${CONFORM_JOBS:-2}
out=$root/build/conformance
mkdir -p "$out"

# Wine maps NUL to /dev/null; the runs are not trustworthy without it.
if [ ! -c /dev/null ]; then
    echo "conformance: /dev/null is not a character device (something replaced it); fix it first:" >&2
    echo "  mknod -m 666 /dev/null.new c 1 3 && mv -f /dev/null.new /dev/null" >&2
    exit 3
fi
start=$(date +%s)

step() { printf '== %s\n' "$*" >&2; }

step "building memwin.dll (cmake --preset windows)"
cmake --preset windows >"$out/cmake-windows.log" 2>&1 || { cat "$out/cmake-windows.log" >&2; exit 3; }
cmake --build --preset windows >>"$out/cmake-windows.log" 2>&1 || { tail -40 "$out/cmake-windows.log" >&2; exit 3; }
dll=$root/build/windows/memwin.dll
[ -f "$dll" ] || { echo "no $dll" >&2; exit 3; }

step "building libmemwin.so and memwin_tests (cmake --preset linux)"
cmake --preset linux >"$out/cmake-linux.log" 2>&1 || { cat "$out/cmake-linux.log" >&2; exit 3; }
cmake --build --preset linux >>"$out/cmake-linux.log" 2>&1 || { tail -40 "$out/cmake-linux.log" >&2; exit 3; }
gtest=$(find "$root/build/linux" -name memwin_tests -type f -perm -u+x | head -1)
[ -n "$gtest" ] || { echo "no memwin_tests in build/linux" >&2; exit 3; }

build_harness() { # go-binary version-label extra-ldflags
    local gobin=$1 label=$2 ldextra=$3
    step "building the harness with $("$gobin" version | awk '{print $3}')"
    (cd "$root/tools/conform" &&
        CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64 GOTOOLCHAIN=local \
            "$gobin" build -trimpath -ldflags="$ldextra -extldflags=-static" \
            -o "$out/conform-$label.exe" .)
}
build_harness "$GO119" go1.19 ""
# Go >= 1.23 refuses //go:linkname references into the runtime without this.
build_harness "$GO126" go1.26 "-checklinkname=0"

# A Wine prefix of its own: no wineserver shared with other test runs.
export MEMWIN_WINEPREFIX=$out/wineprefix
"$root/tools/wine/prefix.sh" >/dev/null

run_harness() { # label golden-mode
    local label=$1 mode=$2 args=()
    [ -n "$mode" ] && args=(-write-golden "$mode")
    step "running the scenarios under Wine: Go runtime ($label) and memwin.dll${mode:+ (recording goldens: $mode)}"
    # asyncpreemptoff: Go 1.26's asynchronous preemption sometimes faults
    # under Wine 8 (the harness would set it itself, at the cost of a re-exec).
    GODEBUG=asyncpreemptoff=1 "$root/tools/wine/run.sh" "$out/conform-$label.exe" -vectors "$root/tests/vectors" \
        -dll "$dll" -j "$jobs" -results "$out/results-$label.tsv" "${args[@]}" \
        >"$out/harness-$label.log" 2>&1 || true
    grep -E '^(DIFF|note|conform:|go1|memwin|time)' "$out/harness-$label.log" >&2 || true
    [ -s "$out/results-$label.tsv" ] || { echo "harness $label produced no results:" >&2; tail -20 "$out/harness-$label.log" >&2; exit 3; }
}
if [ $regen = 1 ]; then
    run_harness go1.19 all   # every scenario Go 1.19 can run
    run_harness go1.26 newer # the scenarios of functions Go 1.19 lacks
else
    run_harness go1.19 ""
    run_harness go1.26 ""
fi

step "replaying the scenarios against libmemwin (Linux)"
"$gtest" --gtest_filter='Vectors/VectorReplay.*' --gtest_output="json:$out/linux-replay.json" \
    >"$out/linux-replay.log" 2>&1 || true
[ -s "$out/linux-replay.json" ] || { tail -20 "$out/linux-replay.log" >&2; exit 3; }

mkdir -p "$root/docs"
secs=$(($(date +%s) - start))
rc=0
(cd "$root/tools/conform" && GOTOOLCHAIN=local "$GO126" run ./report \
    -vectors "$root/tests/vectors" -r19 "$out/results-go1.19.tsv" -r26 "$out/results-go1.26.tsv" \
    -gtest "$out/linux-replay.json" -md "$root/docs/conformance.md" -seconds "$secs" \
    -cmd "tools/conformance.sh") || rc=$?
echo "report written to docs/conformance.md (logs in build/conformance/)" >&2
exit $rc
