#!/usr/bin/env bash
# Checks the runtime swap end to end and exits non-zero on any difference:
#
#   unit              memwin-go's own tests (go test -short: command_test.go)
#   interpose-linux   unit test of memwin's interposers over libmemwin.so
#   interpose-wine    the same test over memwin.dll under Wine
#   interpose-sanitize (--full) the same test under TSan and ASan+UBSan
#   swap-package      go_bindings/swap imported by a program (Go 1.26 and
#                     1.19): active, counting, falls back without the DLL,
#                     a policy set from Go kills it as Go dies
#   runtime-go1.26    Go's own runtime tests (a memory/GC/scavenger/stack
#   runtime-go1.19    selection; --full: all), test binary built without
#                     and with the full swap: the same pass/fail/skip set
#   std-primitive     tests of allocation-heavy std packages without and
#                     with the primitive swap: the same set
#   oom-go1.26        a program under a commit budget dies as Go does at its
#                     commit limit: real runtime behind a plain C hook, the
#                     primitive swap and the full swap print the same lines
#                     and exit with status 2; likewise under an address-space
#                     (reservation) budget
#   fatal-once        progs/fatalonce (8 goroutines allocating) under
#                     MEMWIN_FAIL_COMMIT_NTH=200 _COUNT=5, 30 runs each
#                     with the full swap and with the plain C hook: every
#                     run dies with memwin's error thrown once (one
#                     "runtime: VirtualAlloc ..." / "fatal error: out of
#                     memory" pair, exit status 2), as the runtime does
#                     (fatal-once.sh)
#
# check.sh          the short selection (about 5 minutes with warm caches)
# check.sh --arch=386 (with or without --full) the same for windows/386
#                   (memwin-go --arch=386, the i686 memwin.dll, 32-bit
#                   Wine): unit, build-libs, interpose-wine, swap-package,
#                   the runtime stages and std-primitive; not interpose-linux
#                   and -sanitize (the Linux library, the same for both
#                   ports), oom and fatal-once (their budgets are measured
#                   on amd64); logs in build/memwin-go/check-386/
# check.sh --full   the whole runtime test suite (-short) and runtime/debug's
#                   memory tests with the full swap, and with the primitive
#                   swap (against a build linked the same way, none-ext);
#                   five std packages with both Go versions; oom with Go
#                   1.19 too
#
# Environment: GO126 (default go, must be Go 1.26), GO119 (default
# /usr/lib/go-1.19/bin/go).  Logs and results: build/memwin-go/check/.
# Test binaries are cached in build/memwin-go/cache (keyed by the Go version
# and the contents of the swap's sources).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
full=0 arch=amd64
for a in "$@"; do
    case $a in
    --full) full=1 ;;
    --arch=amd64 | --arch=386) arch=${a#--arch=} ;;
    *) echo "usage: $0 [--full] [--arch=386]" >&2; exit 2 ;;
    esac
done
# Per port (port.sh): suffix of the directories, mingw's C compiler and
# CMake toolchain.
. "$here/port.sh"
memwin_port "$arch"

GO126=${GO126:-go}
GO119=${GO119:-/usr/lib/go-1.19/bin/go}
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=
MG=$here/memwin-go
out=$root/build/memwin-go/check$sfx
cache=$root/build/memwin-go/cache
mkdir -p "$out" "$cache"
rm -f "$out"/*.log "$out"/results.md
start_all=$SECONDS
passed=0 failed=0 failures=()

say() { echo "check: $*" >&2; }

stage() { # stage NAME COMMAND...: runs a stage with its output in a log
    local name=$1; shift
    local log=$out/$name.log start=$SECONDS
    printf '== %-18s ' "$name"
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "ok ($((SECONDS - start)) s)"
        grep -E '^RESULT' "$log" | sed 's/^RESULT /   /'
    else
        failed=$((failed + 1)); failures+=("$name")
        echo "FAILED ($((SECONDS - start)) s), log: $log"
        grep -E '^(DIFF|RESULT|FAIL|MISMATCH)' "$log" | head -n 25 | sed 's/^/   | /'
        tail -n 12 "$log" | sed 's/^/   | /'
    fi
}

gover() { "$1" env GOVERSION; }
gominor() { gover "$1" | sed -E 's/^go1\.([0-9]+).*/\1/'; }

# ---- building ----------------------------------------------------------------

dlldir=$root/build/memwin-go/dll$sfx
dll=$dlldir/memwin.dll
# memwin-go's own tests (command_test.go; the build of the full swap on
# every toolchain is skipped with -short: matrix.sh runs it).
unit() { (cd "$here" && go test -short -count=1 ./); }

build_libs() {
    if [ ! -f "$dlldir/build.ninja" ]; then
        cmake -S "$root" -B "$dlldir" -G Ninja \
            -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_BUILD_TESTS=OFF -DMEMWIN_WERROR=ON || return 1
    fi
    cmake --build "$dlldir" --target memwin || return 1
    if [ ! -f "$root/build/memwin-go/linux/build.ninja" ]; then
        cmake -S "$root" -B "$root/build/memwin-go/linux" -G Ninja \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_BUILD_TESTS=OFF -DMEMWIN_WERROR=ON || return 1
    fi
    cmake --build "$root/build/memwin-go/linux" --target memwin || return 1
    "$MG" --help >/dev/null 2>&1 || true # builds the command
    "$here/overlay/gen.sh" --check
}

# cached_build GO SWAP KIND PKG [DIR]: prints the path of a windows test
# binary (KIND=test) or program (KIND=build) of PKG built with SWAP, from
# the cache when its key matches; memwin.dll is copied beside it.
cached_build() {
    local gobin=$1 swap=$2 kind=$3 pkg=$4 dir=${5:-$here}
    local v key src name exe
    v=$(gover "$gobin")
    case $swap in
    full) src=$(cat "$here"/overlay/*/mem_windows.go | sha256sum | cut -c1-12) ;;
    primitive) src=$(cat "$root/go_bindings/swap/swap_windows.c" "$root/include/memwin_interpose.h" | sha256sum | cut -c1-12) ;;
    realhook) src=$(sha256sum <"$here/csrc/realhook.c" | cut -c1-12) ;;
    *) src=base ;;
    esac
    if [ "$kind" = build ]; then
        src=$src-$(cat "$dir/$pkg"/*.go 2>/dev/null | sha256sum | cut -c1-8)
    else
        # Build std tests in their own directory (the std module), as
        # go test does there: from inside another module, that module's go
        # version would set the binary's GODEBUG defaults (panicnil=1,
        # asynctimerchan=1, ... for go 1.19) and change the tests.
        dir=$(cd "$here" && GOOS=windows "$gobin" list -f '{{.Dir}}' "$pkg") || return 1
        src=$src-stddir
    fi
    [ -n "${GOEXPERIMENT:-}" ] && src=$src-$GOEXPERIMENT
    name=$(echo "$pkg" | tr '/.' '__')
    key=$v-$swap-$src
    [ $arch = 386 ] && key=$key-386
    exe=$cache/$key/$name.exe
    if [ ! -f "$exe" ]; then
        mkdir -p "$cache/$key"
        local c=()
        [ "$kind" = test ] && c=(-c)
        (cd "$dir" && GO=$gobin "$MG" "$kind" "${c[@]}" --swap="$swap" --arch="$arch" --dll="$dll" -o "$exe.tmp" "$pkg") >&2 || return 1
        mv "$exe.tmp" "$exe"
    fi
    case $swap in
    primitive | full) cp "$dll" "$cache/$key/memwin.dll" ;;
    esac
    echo "$exe"
}

# run_tests GO SWAP PKG LOG ARGS...: runs PKG's test binary under Wine in
# the package directory.
run_tests() {
    local gobin=$1 swap=$2 pkg=$3 log=$4; shift 4
    local exe dir
    exe=$(cached_build "$gobin" "$swap" test "$pkg") || return 1
    dir=$(cd "$here" && GOOS=windows "$gobin" list -f '{{.Dir}}' "$pkg") || return 1
    say "running $pkg ($(gover "$gobin"), swap=$swap)"
    (cd "$dir" && MEMWIN_STATS=$(winpath "$log.stats") timeout 1500 \
        "$root/tools/wine/run.sh" "$exe" -test.v -test.count=1 -test.timeout=20m "$@") >"$log" 2>&1
    say "exit status $? in $(grep -cE '^\s*--- (PASS|FAIL|SKIP)' "$log") results"
    if [ -f "$log.stats" ]; then "$MG" summary "$log.stats" >&2; fi
    return 0
}

winpath() { echo "Z:${1//\//\\}"; }

# ---- stages -------------------------------------------------------------------

interpose_linux() {
    local bin=$out/interpose_test
    gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -I"$root/include" -o "$bin" \
        "$here/csrc/interpose_test.c" -L"$root/build/memwin-go/linux" -lmemwin -lpthread || return 1
    LD_LIBRARY_PATH=$root/build/memwin-go/linux "$bin" "$out/interpose-linux.trace"
}

interpose_sanitizers() {
    local srcs s
    srcs=$(sed -n '/^set(MEMWIN_SOURCES/,/)/p' "$root/CMakeLists.txt" | grep -o 'src/[A-Za-z0-9_]*\.c' | sed "s|^|$root/|")
    for s in thread address,undefined; do
        gcc -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -fsanitize=$s -fno-sanitize-recover=all \
            -I"$root/include" -o "$out/interpose_test-$s" "$here/csrc/interpose_test.c" $srcs -lpthread || return 1
        "$out/interpose_test-$s" "$out/interpose-$s.trace" || return 1
        echo "RESULT interposers under -fsanitize=$s: clean"
    done
}

interpose_wine() {
    local d=$out/interpose-wine
    mkdir -p "$d"
    $mingw -std=c11 -Wall -Wextra -Werror -O1 -I"$root/include" -o "$d/interpose_test.exe" \
        "$here/csrc/interpose_test.c" "$dlldir/libmemwin.dll.a" || return 1
    cp "$dll" "$d/"
    "$root/tools/wine/run.sh" "$d/interpose_test.exe" "$(winpath "$d/trace.txt")"
}

swap_package() {
    local gobin v d exe o rc
    for gobin in "$GO126" "$GO119"; do
        v=$(gover "$gobin")
        d=$out/swapdemo-$v
        mkdir -p "$d"
        exe=$d/swapdemo.exe
        (cd "$here/progs" && GOOS=windows GOARCH=$arch CGO_ENABLED=1 CC=$mingw \
            GOFLAGS=-mod=mod "$gobin" build -ldflags=-extldflags=-static -o "$exe" ./swapdemo) || return 1
        cp "$dll" "$d/"
        o=$("$root/tools/wine/run.sh" "$exe" 2>&1); rc=$?
        echo "$o"
        if [ $rc != 0 ] || ! grep -q '^active: true' <<<"$o" || ! grep -q 'served by .*memwin.dll' <<<"$o"; then
            echo "FAIL $v: swap not active (exit status $rc)"; return 1
        fi
        o=$("$root/tools/wine/run.sh" "$exe" die 2>&1); rc=$?
        grep -E '^(runtime: |fatal error|still)' <<<"$o"
        if [ $rc != 2 ] || ! grep -qx 'runtime: VirtualAlloc of 67108864 bytes failed with errno=1455' <<<"$o" ||
            ! grep -qx 'fatal error: out of memory' <<<"$o"; then
            echo "FAIL $v: a policy set from Go did not kill the program as Go dies (exit status $rc)"; return 1
        fi
        rm "$d/memwin.dll"
        o=$("$root/tools/wine/run.sh" "$exe" 2>&1); rc=$?
        echo "$o" | head -3
        if [ $rc != 0 ] || ! grep -q '^memwin/swap: cannot load .*the Go runtime keeps its own' <<<"$o" ||
            ! grep -q '^active: false' <<<"$o"; then
            echo "FAIL $v: no fallback without memwin.dll (exit status $rc)"; return 1
        fi
        echo "RESULT $v: active, counts, dies as Go under a policy, falls back without the DLL"
    done
}

# The runtime tests chosen by experiment: they run under Wine (no Go
# toolchain or C compiler inside), pass without the swap, and cover GC, heap
# growth, the page allocator, the scavenger, memory limits (pacer, CPU
# limiter, metrics with SetMemoryLimit), user arenas and stacks.
RT_SHORT='TestReadMemStats|TestMemStats|TestPageCacheLeak|TestScavengedBitsCleared|TestArenaCollision|TestPallocDataFindScavengeCandidate|TestPageAllocScavenge|TestScavenger|TestPageAlloc.*|TestPageCache.*|TestPallocBits.*|TestStackMem|TestStackGrowthCallback|TestStackCache|TestUserArena.*|TestHugeGCInfo|TestPeriodicGC|TestGcArraySlice|TestGcRescan|TestGcLastTime|TestUserForcedGC|TestGCTest.*|TestAppendGrowthHeap|TestDeferHeapAndStack|TestLFStack.*|TestGCInfo|TestHeapObjectsCanMove|TestMetricHeapUnusedLargeObjectOverflow|TestShrinkStack.*|TestSelectStackAdjust|TestPanicUseStack|TestCallbackGC|TestGcDeepNesting|TestGcHashmapIndirection|TestReadMetrics|TestReadMetricsConsistency|TestReadMetricsCumulative|TestGcPacer|TestGCCPULimiter|TestIdleMarkWorkerCount|TestGcSys|TestMemoryLimit|TestMemoryLimitNoGCPercent|TestPrintGC'
DEBUG_TESTS='TestFreeOSMemory|TestSetGCPercent|TestReadGCStats|TestWriteHeapDump.*|TestSetMaxThreadsOvf'

# runtime_tests GO BASE SWAP: Go's runtime tests without (BASE) and with
# SWAP; short: the selection above; --full: the whole runtime suite (-short)
# and runtime/debug's memory tests.
runtime_tests() {
    local gobin=$1 base=$2 swap=$3 v args=() sel=(-test.run "^($RT_SHORT)\$") what="memory selection"
    v=$(gover "$gobin")
    [ $full = 1 ] && sel=() what="whole suite"
    local b=$out/rt-$v-$base.tlog w=$out/rt-$v-$swap.tlog
    run_tests "$gobin" "$base" runtime "$b" -test.short "${sel[@]}" || return 1
    run_tests "$gobin" "$swap" runtime "$w" -test.short "${sel[@]}" || return 1
    args=("$base=$b" "$swap=$w")
    "$MG" compare "${args[@]}" | tee "$out/rt-$v-$swap.cmp" || return 1
    { echo "#### runtime ($what), $v, $swap swap"; echo; "$MG" compare --md "${args[@]}" | grep '^|'; echo; } >>"$out/results.md"
    grep -h '^identical' "$out/rt-$v-$swap.cmp" | sed "s/^/RESULT runtime ($what) $v $swap: /"
    if [ $full = 1 ]; then
        b=$out/dbg-$v-$base.tlog w=$out/dbg-$v-$swap.tlog
        run_tests "$gobin" "$base" runtime/debug "$b" -test.short -test.run "^($DEBUG_TESTS)\$" || return 1
        run_tests "$gobin" "$swap" runtime/debug "$w" -test.short -test.run "^($DEBUG_TESTS)\$" || return 1
        args=("$base=$b" "$swap=$w")
        "$MG" compare "${args[@]}" | tee "$out/dbg-$v-$swap.cmp" || return 1
        { echo "#### runtime/debug, $v, $swap swap"; echo; "$MG" compare --md "${args[@]}" | grep '^|'; echo; } >>"$out/results.md"
        grep -h '^identical' "$out/dbg-$v-$swap.cmp" | sed "s/^/RESULT runtime\/debug $v $swap: /"
    fi
}

std_primitive() {
    local pkgs=(container/list sort) gos=("$GO126") gobin p v ok=0 n
    [ $full = 1 ] && pkgs=(sort strings compress/flate encoding/json container/list) gos=("$GO126" "$GO119")
    for gobin in "${gos[@]}"; do
        v=$(gover "$gobin")
        for p in "${pkgs[@]}"; do
            n=$(echo "$p" | tr / _)
            run_tests "$gobin" none "$p" "$out/std-$v-$n-none.tlog" -test.short || return 1
            run_tests "$gobin" primitive "$p" "$out/std-$v-$n-primitive.tlog" -test.short || return 1
            "$MG" compare none="$out/std-$v-$n-none.tlog" primitive="$out/std-$v-$n-primitive.tlog" |
                tee "$out/std-$v-$n.cmp" || ok=1
            { echo "#### $p, $v, primitive swap"; echo
              "$MG" compare --md none="$out/std-$v-$n-none.tlog" primitive="$out/std-$v-$n-primitive.tlog" | grep '^|'
              echo; } >>"$out/results.md"
            grep -h '^identical' "$out/std-$v-$n.cmp" | sed "s|^|RESULT $p $v: |"
        done
    done
    return $ok
}

# The lines a dying Go program prints up to its "fatal error:" line, and
# its exit status.
death() { sed -n '1,/^fatal error:/p' "$1"; echo "exit status $(cat "$1.rc")"; }

oom() { # oom GO
    local gobin=$1 v s exe policy name n gx=""
    v=$(gover "$gobin")
    # Go 1.26 places the heap at a random base, which changes how much
    # address space the heap reserves from run to run (an extra arena now
    # and then): the oom builds turn that off, all three alike.
    [ "$(gominor "$gobin")" -ge 26 ] && gx=norandomizedheapbase64
    # Budgets in the middle of a 16 MiB step of the program for both Go
    # versions (committed / reserved bytes before the failing call: Go 1.19
    # 147.5 / 1384.1 MiB, Go 1.26 154.5 / 1383.3 MiB), far from the few
    # hundred KiB the runtime's own allocations vary by from run to run.
    for policy in MEMWIN_COMMIT_BUDGET=160m MEMWIN_RESERVE_BUDGET=1392m; do
        name=$v-${policy%%=*}
        for s in realhook primitive full; do
            exe=$([ -n "$gx" ] && export GOEXPERIMENT=$gx; cached_build "$gobin" "$s" build ./oom "$here/progs") || return 1
            say "oom ($v, $s) under $policy"
            env "$policy" "$root/tools/wine/run.sh" "$exe" >"$out/oom-$name-$s.out" 2>&1
            echo $? >"$out/oom-$name-$s.out.rc"
            death "$out/oom-$name-$s.out" >"$out/oom-$name-$s.death"
            sed 's/^/    /' "$out/oom-$name-$s.death" | tail -4
        done
        if ! grep -qx 'exit status 2' "$out/oom-$name-realhook.death" ||
            ! grep -q '^fatal error: out of memory' "$out/oom-$name-realhook.death"; then
            echo "FAIL the reference (realhook) did not die of out of memory under $policy"; return 1
        fi
        for s in primitive full; do
            if ! cmp -s "$out/oom-$name-realhook.death" "$out/oom-$name-$s.death"; then
                echo "MISMATCH under $policy, realhook vs $s:"
                diff "$out/oom-$name-realhook.death" "$out/oom-$name-$s.death"; return 1
            fi
        done
        # All show the runtime's own goroutine trace.
        for s in realhook primitive full; do
            grep -q '^goroutine 1 ' "$out/oom-$name-$s.out" || { echo "FAIL $s: no goroutine trace"; return 1; }
        done
        n=$(grep -c '^allocated' "$out/oom-$name-realhook.death")
        echo "RESULT oom $v $policy: realhook, primitive, full: after $n blocks, the same '$(grep -E '^(runtime|fatal error): ' "$out/oom-$name-realhook.death" | paste -sd'|' | sed "s/|/' + '/")', exit status 2"
    done
}

# A fatal error memwin catches under the full swap is thrown once, by the
# thread whose call raised it (issue 15.1); the plain C hook (realhook) is
# the runtime's own behaviour under the same policy.
fatal_once() { # fatal_once GO
    local gobin=$1 v s exe ok=0
    v=$(gover "$gobin")
    for s in realhook full; do
        exe=$(cached_build "$gobin" "$s" build ./fatalonce "$here/progs") || return 1
        "$here/fatal-once.sh" "$exe" 30 "$out/fatal-once-$v-$s" "$v $s" || ok=1
    done
    return $ok
}

# ---- main -----------------------------------------------------------------------

if [ ! -c /dev/null ]; then
    echo "check: /dev/null is not a character device (something replaced it); fix it first:" >&2
    echo "  mknod -m 666 /dev/null.new c 1 3 && mv -f /dev/null.new /dev/null" >&2
    exit 3
fi
say "Go: $(gover "$GO126"), $(gover "$GO119"); mode: $([ $full = 1 ] && echo full || echo short); windows/$arch"
[ "$(gominor "$GO126")" = 26 ] || say "warning: GO126 is $(gover "$GO126")"
stage unit unit
stage build-libs build_libs
if [ -f "$dll" ]; then
    "$root/tools/wine/prefix.sh" >/dev/null
    [ $arch = amd64 ] && stage interpose-linux interpose_linux
    stage interpose-wine interpose_wine
    [ $full = 1 ] && [ $arch = amd64 ] && stage interpose-sanitize interpose_sanitizers
    stage swap-package swap_package
    stage runtime-go1.26 runtime_tests "$GO126" none full
    stage runtime-go1.19 runtime_tests "$GO119" none full
    if [ $full = 1 ]; then
        stage rt-prim-go1.26 runtime_tests "$GO126" none-ext primitive
        stage rt-prim-go1.19 runtime_tests "$GO119" none-ext primitive
    fi
    stage std-primitive std_primitive
    if [ $arch = amd64 ]; then
        stage oom-go1.26 oom "$GO126"
        stage fatal-once fatal_once "$GO126"
        [ $full = 1 ] && stage oom-go1.19 oom "$GO119"
    fi
fi
echo
echo "check: $passed passed, $failed failed, $((SECONDS - start_all)) s (results: $out/results.md)"
[ "$failed" = 0 ] || { echo "failed: ${failures[*]}"; exit 1; }
