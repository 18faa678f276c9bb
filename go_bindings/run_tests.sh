#!/usr/bin/env bash
# Runs the Go binding's tests in every flavour and exits non-zero if any
# fails:
#   sources          the bundled src_*.c files match CMake's MEMWIN_SOURCES
#   vet              go vet: linux (cgo), windows (cgo), windows (no cgo); build:
#                    windows/386 (cgo: the C structs' layout checks of raw_cgo.go)
#   linux-go1.26     go test ./... with Go 1.26 (cgo, bundled C sources)
#   linux-race       the same under the race detector
#   linux-go1.19     go test ./... with Go 1.19
#   linux-system     -tags memwin_system against libmemwin installed from
#                    cmake --preset linux (found by pkg-config)
#   consumer         a separate module that imports the package
#   windows-cgo-go1.19, windows-cgo-go1.26
#                    cross-built with mingw-w64 (go test -c), run under Wine
#   windows-dll-go1.19, windows-dll-go1.26
#                    CGO_ENABLED=0, loading memwin.dll built by
#                    cmake --preset windows, run under Wine
# Usage: run_tests.sh [flavour...]   (default: all, in this order)
# Environment: GO (default go), GO119 (default /usr/lib/go-1.19/bin/go),
# MINGW_CC (default x86_64-w64-mingw32-gcc), MEMWIN_GO_LOGDIR (default
# build/logs/go_bindings).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
GO=${GO:-go}
GO119=${GO119:-/usr/lib/go-1.19/bin/go}
MINGW_CC=${MINGW_CC:-x86_64-w64-mingw32-gcc}
logdir=${MEMWIN_GO_LOGDIR:-$root/build/logs/go_bindings}
mkdir -p "$logdir"
work=$(mktemp -d "${TMPDIR:-/tmp}/memwin-go.XXXXXX")
trap 'rm -rf "$work"' EXIT

# cgo compiles only the package directory's files, and Go's build cache does
# not notice edits to the ../src and ../include files they #include: key the
# cache on those files' contents through CGO_CFLAGS.
stamp=$(cat "$root"/src/* "$root"/include/* 2>/dev/null | sha256sum | cut -c1-16)
export CGO_CFLAGS="-O2 -g -DMEMWIN_SOURCE_STAMP=$stamp"
export GOTOOLCHAIN=local GOWORK=off
cd "$here"

all=(sources vet linux-go1.26 linux-race linux-go1.19 linux-system consumer
    windows-cgo-go1.19 windows-dll-go1.19 windows-cgo-go1.26 windows-dll-go1.26)
if [ $# -gt 0 ]; then selected=("$@"); else selected=("${all[@]}"); fi

passed=0 failed=0 failures=()

# counts LOG: "N passed, M failed, K skipped" from -v test output.
counts() {
    local p f s
    p=$(grep -cE '^ *--- PASS' "$1")
    f=$(grep -cE '^ *--- FAIL' "$1")
    s=$(grep -cE '^ *--- SKIP' "$1")
    echo "$p passed, $f failed, $s skipped"
}

# flavour NAME COMMAND...: runs the command with its output in a log.
flavour() {
    local name=$1; shift
    local log=$logdir/$name.log start=$SECONDS info=""
    printf '== %-20s ' "$name"
    if "$@" >"$log" 2>&1; then
        grep -qE '^ *--- (PASS|FAIL|SKIP)' "$log" && info="$(counts "$log"), "
        passed=$((passed + 1)); echo "ok (${info}$((SECONDS - start)) s)"
    else
        grep -qE '^ *--- (PASS|FAIL|SKIP)' "$log" && info="$(counts "$log"), "
        failed=$((failed + 1)); failures+=("$name")
        echo "FAILED (${info}$((SECONDS - start)) s), log: $log"
        grep -E '^ *--- FAIL|^FAIL|_test\.go:[0-9]+:|panic:|cannot|error' "$log" | head -n 30 | sed 's/^/   | /'
        tail -n 15 "$log" | sed 's/^/   | /'
    fi
}

win() { # win GO CGO OUT: cross-builds the test binary for windows/amd64
    GOOS=windows GOARCH=amd64 CGO_ENABLED=$2 CC=$MINGW_CC "$1" test -c -o "$3" .
}

wine_run() { # wine_run EXE: runs a test binary under Wine from this directory
    "$root/tools/wine/run.sh" "$1" -test.v -test.count=1 -test.timeout=15m
}

build_dll() {
    if [ -z "${dll:-}" ]; then
        (cd "$root" && cmake --preset windows && cmake --build --preset windows --target memwin) || return 1
        dll=$root/build/windows/memwin.dll
        [ -f "$dll" ] || { echo "no $dll"; return 1; }
    fi
}

dll_flavour() { # dll_flavour GO
    build_dll || return 1
    win "$1" 0 "$work/dll.exe" || return 1
    # An absolute Windows path: Wine's drive Z: is the Unix root.
    MEMWIN_DLL="Z:${dll//\//\\}" wine_run "$work/dll.exe"
}

cgo_flavour() { # cgo_flavour GO
    win "$1" 1 "$work/cgo.exe" && wine_run "$work/cgo.exe"
}

linux_system() {
    # Installed under a scratch prefix: memwin.pc finds its prefix from its
    # own location, so the install is relocatable.
    # A fixed prefix: Go caches the flags pkg-config gave for this package.
    local sysroot=$root/build/go-sysroot
    rm -rf "$sysroot"
    (cd "$root" && cmake --preset linux && cmake --build --preset linux --target memwin &&
        cmake --install build/linux --prefix "$sysroot") || return 1
    local pc
    pc=$(find "$sysroot" -name memwin.pc | head -n 1)
    [ -n "$pc" ] || { echo "memwin.pc not installed"; return 1; }
    export PKG_CONFIG_PATH=$(dirname "$pc")
    export LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")")
    pkg-config --cflags --libs memwin || return 1
    "$GO" test -c -tags memwin_system -o "$work/system.test" . || return 1
    # The binary must use the installed library, not bundled sources.
    ldd "$work/system.test" | grep -F "$sysroot" || { echo "not linked to the installed libmemwin"; return 1; }
    "$work/system.test" -test.v -test.count=1 | tee "$work/system.out"
    local rc=${PIPESTATUS[0]}
    grep -q "system libmemwin" "$work/system.out" || { echo "TestLibrary did not report the system library"; return 1; }
    return "$rc"
}

consumer() {
    mkdir -p "$work/consumer"
    cat >"$work/consumer/go.mod" <<EOF
module example.com/consumer

go 1.19

require github.com/memwin/memwin v0.0.0

replace github.com/memwin/memwin => $here/..
EOF
    cat >"$work/consumer/main.go" <<'EOF'
package main

import (
	"errors"
	"fmt"
	"os"

	memwin "github.com/memwin/memwin/go_bindings"
)

func main() {
	r, err := memwin.Reserve(1 << 20)
	if err == nil {
		err = r.Map(0, 1<<16)
	}
	if err == nil {
		err = r.Commit(0, 1<<16)
	}
	var b []byte
	if err == nil {
		b, err = r.Bytes(0, 5)
	}
	if err == nil {
		copy(b, "hello")
		fmt.Println(string(b), memwin.Version())
		err = r.Release()
	}
	if err != nil && !errors.Is(err, memwin.ErrReleased) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
EOF
    (cd "$work/consumer" && "$GO" run . | grep -x "hello [0-9.]*" &&
        GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=$MINGW_CC "$GO" build -o consumer-cgo.exe . &&
        GOOS=windows GOARCH=amd64 CGO_ENABLED=0 "$GO" build -o consumer-dll.exe . &&
        "$root/tools/wine/run.sh" ./consumer-cgo.exe | tr -d '\r' | grep -x "hello [0-9.]*")
}

for f in "${selected[@]}"; do
    case $f in
    sources) flavour sources ./update_sources.sh --check ;;
    vet) flavour vet sh -c "'$GO' vet . &&
            GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC='$MINGW_CC' '$GO' vet . &&
            GOOS=windows GOARCH=amd64 CGO_ENABLED=0 '$GO' vet . &&
            GOOS=windows GOARCH=386 CGO_ENABLED=1 CC=i686-w64-mingw32-gcc '$GO' build -o /dev/null ." ;;
    linux-go1.26) flavour "$f" "$GO" test -v -count=1 ./... ;;
    linux-race) flavour "$f" "$GO" test -race -v -count=1 ./... ;;
    linux-go1.19) flavour "$f" "$GO119" test -v -count=1 ./... ;;
    linux-system) flavour "$f" linux_system ;;
    consumer) flavour "$f" consumer ;;
    windows-cgo-go1.19) flavour "$f" cgo_flavour "$GO119" ;;
    windows-cgo-go1.26) flavour "$f" cgo_flavour "$GO" ;;
    windows-dll-go1.19) flavour "$f" dll_flavour "$GO119" ;;
    windows-dll-go1.26) flavour "$f" dll_flavour "$GO" ;;
    *) echo "unknown flavour $f (known: ${all[*]})"; failed=$((failed + 1)); failures+=("$f") ;;
    esac
done

echo
echo "go_bindings: $passed flavour(s) passed, $failed failed"
[ "$failed" = 0 ] || { echo "failed: ${failures[*]}"; exit 1; }
