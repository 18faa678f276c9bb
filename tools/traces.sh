#!/usr/bin/env bash
# Real Go programs' memory traffic as conformance data (issue 17).
#
#   tools/traces.sh            replay every trace of tests/traces on three
#                              sides and compare each with its golden:
#                              libmemwin.so natively (memwin-go replay LIB;
#                              exact and checked mode),
#                              and under Wine the Go runtime's own functions
#                              and memwin.dll side by side (the harness of
#                              tools/conform built with Go 1.19 and with the
#                              machine's Go; for the windows/386 traces,
#                              NAME-386-*, built for 386 and run by 32-bit
#                              Wine with the i686 memwin.dll); exit 1 on any
#                              difference
#   tools/traces.sh --record [NAME...]
#                              record the corpus (or the programs named)
#                              again with both Go versions (memwin-go
#                              record) and write the goldens from the Go
#                              runtime of the recording Go; flatetest also
#                              with every other release line of
#                              tools/go-toolchains.sh (NAME flatetest-lines)
#
# Traces and goldens: tests/traces/NAME-goVERSION.trace.gz and .golden.gz;
# the format is tests/traces/FORMAT.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mwgo=$root/tools/memwin-go/memwin-go
go119=${GO119:-/usr/lib/go-1.19/bin/go}
gonew=${GONEW:-$(command -v go)}
dir=$root/tests/traces
export MEMWIN_WINEPREFIX=${MEMWIN_WINEPREFIX:-$root/build/traces/wineprefix}
mkdir -p "$root/build/traces"

mode=check only=" "
if [ "${1:-}" = --record ]; then
    mode=record; shift
    [ $# -gt 0 ] && only=" $* "
fi

if [ $mode = record ]; then
    tmp=$root/build/traces/tmp
    mkdir -p "$tmp"
    for gobin in "$go119" "$gonew"; do
        v=$("$gobin" env GOVERSION | sed -E 's/^(go[0-9]+\.[0-9]+).*/\1/')
        goroot=$("$gobin" env GOROOT)
        rec() { # NAME [--arch=386] [--test] package-and-args...
            local name=$1 test=() arch=(); shift
            [ "$1" = --arch=386 ] && { arch=(--arch=386); shift; }
            [ "$1" = --test ] && { test=(--test); shift; }
            [ "$only" = " " ] || [[ "$only" == *" $name "* ]] || return 0
            echo "== recording $name-$v" >&2
            # The program's exit status is its own (gofmt -l exits 2 on the
            # testdata files that do not parse); a recording ends with
            # memwin-go's "recorded N calls" line.
            GO=$gobin "$mwgo" record "${test[@]}" "$dir/$name-$v.trace.gz" "${arch[@]}" "$@" >"$tmp/$name-$v.out" 2>"$tmp/$name-$v.err" || true
            grep -q '^memwin-go: recorded [0-9]* calls' "$tmp/$name-$v.err" ||
                { echo "recording $name-$v failed:" >&2; tail -20 "$tmp/$name-$v.err" >&2; exit 1; }
            grep -E '^memwin-go: (swap=|recorded)' "$tmp/$name-$v.err" >&2
            recorded+=("$dir/$name-$v.trace.gz")
        }
        recorded=()
        # 1. gofmt over the toolchain's own sources (gofmt-386: the same
        #    program built for windows/386, run by 32-bit Wine)
        rec gofmt cmd/gofmt -- -l "$goroot/src"
        rec gofmt-386 --arch=386 cmd/gofmt -- -l "$goroot/src"
        # The recording must not change what the program does: the same run
        # without it prints the same files.
        for name in gofmt gofmt-386; do
            [ "$only" = " " ] || [[ "$only" == *" $name "* ]] || continue
            arch=amd64; [ $name = gofmt-386 ] && arch=386
            GO=$gobin "$mwgo" run --swap=full --arch=$arch --no-summary cmd/gofmt -l "$goroot/src" >"$tmp/$name-$v.plain.out" 2>/dev/null || true
            cmp -s "$tmp/$name-$v.out" "$tmp/$name-$v.plain.out" ||
                { echo "$name-$v: the output differs when recorded" >&2; exit 1; }
            echo "   $name-$v: the same $(wc -l <"$tmp/$name-$v.out") lines of output recorded and not recorded" >&2
        done
        # 2. the compiler compiling package unicode (no imports)
        files=$(ls "$goroot"/src/unicode/*.go | grep -v _test.go)
        rec compile cmd/compile -- -p unicode -std -complete -o "$tmp/unicode.a" $files
        # 3. a std package's tests (flatetest-386: for windows/386)
        rec flatetest --test compress/flate -- -test.short
        rec flatetest-386 --arch=386 --test compress/flate -- -test.short
        # 4. the runtime's own GC tests (those that need no go command)
        rec gctest --test runtime -- -test.short -test.run \
            '^(TestGcArraySlice|TestGcDeepNesting|TestGcLastTime|TestGcMapIndirection|TestGcPacer|TestGcRescan|TestGCInfo|TestGCTestIsReachable|TestGCTestMoveStackOnNextCall|TestGCTestMoveStackRepeatedly|TestGCTestPointerClass|TestGCCPULimiter)$'
        # 5. binary trees ($GOROOT/test/bench/garbage of Go 1.19)
        bench=/usr/lib/go-1.19/test/bench/garbage
        rec binarytrees "$bench/tree.go" "$bench/stats.go" -- -n 16
        # 6. binary trees again, under a memory limit below their peak with
        #    the collector's own trigger off: the collector runs whenever
        #    the heap reaches the limit and the scavenger returns memory all
        #    the time (its trace's sysUnusedOS calls: memwin-go diff)
        rec scavenger --env GOGC=off --env GOMEMLIMIT=24MiB "$bench/tree.go" "$bench/stats.go" -- -n 17
        # 7. compress/flate's tests again under GODEBUG=efence=1: the sweeper
        #    faults every freed large object's span and stackfree every
        #    stack (sysFaultOS), and nothing is ever reused
        rec efence --test --env GODEBUG=efence=1 compress/flate -- -test.short
        # 8. binary trees with GOGC=20000 (200 times the default): one
        #    collection, after which the goal passes 1 GiB and Go >= 1.21
        #    turns huge pages on for the heap's metadata (sysHugePageOS);
        #    the heap grows to 850 MiB without being collected again, and
        #    the span table, outgrown, is released seven times (sysFreeOS)
        rec hugepages --env GOGC=20000 "$bench/tree.go" "$bench/stats.go" -- -n 17
        if [ ${#recorded[@]} -gt 0 ]; then
            echo "== goldens of the $v traces from the Go runtime of $v under Wine" >&2
            GO=$gobin "$mwgo" replay --write-golden "${recorded[@]}"
        fi
    done
    # compress/flate's tests once more with every other release line of
    # tools/go-toolchains.sh (1.20-1.25, 1.27), each golden from its own
    # runtime; the check below replays them with Go 1.19's and the
    # machine's runtime like the rest.
    if [ "$only" = " " ] || [[ "$only" == *" flatetest-lines "* ]]; then
        while IFS=$'\t' read -r label gobin ver src; do
            case $label in "$("$go119" env GOVERSION | sed -E 's/^(go[0-9]+\.[0-9]+).*/\1/')"|"$("$gonew" env GOVERSION | sed -E 's/^(go[0-9]+\.[0-9]+).*/\1/')") continue ;; esac
            [ -n "$gobin" ] || { echo "no $label here ($src): flatetest-$label not recorded" >&2; exit 1; }
            echo "== recording flatetest-$label ($ver)" >&2
            GO=$gobin "$mwgo" record --test "$dir/flatetest-$label.trace.gz" compress/flate -- -test.short \
                >"$tmp/flatetest-$label.out" 2>"$tmp/flatetest-$label.err" || true
            grep -q '^memwin-go: recorded [0-9]* calls' "$tmp/flatetest-$label.err" ||
                { echo "recording flatetest-$label failed:" >&2; tail -20 "$tmp/flatetest-$label.err" >&2; exit 1; }
            GO=$gobin "$mwgo" replay --write-golden "$dir/flatetest-$label.trace.gz"
        done < <("$root/tools/go-toolchains.sh")
    fi
fi

# Replay every trace on the three sides.
shopt -s nullglob
traces=("$dir"/*.trace.gz)
[ ${#traces[@]} -gt 0 ] || { echo "no traces in $dir" >&2; exit 1; }
status=0
echo "== the trace package's own tests (go test ./trace)"
(cd "$root/tools/conform" && GOTOOLCHAIN=local GOFLAGS= go test -count=1 ./trace) || status=1
lib=$root/build/traces/linux/libmemwin.so
cmake -S "$root" -B "$root/build/traces/linux" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMEMWIN_BUILD_TESTS=OFF >/dev/null
ninja -C "$root/build/traces/linux" memwin >/dev/null
echo "== libmemwin.so on Linux (memwin-go replay TRACE... $lib)"
"$mwgo" replay "${traces[@]}" "$lib" || status=1
# Checked mode must accept a real program's traffic and change nothing Go
# would see (before sysAlloc sizes ending inside a page were accepted, it
# refused the 9 traces that ask for such sizes).
echo "== the same in checked mode (MEMWIN_MODE=checked)"
MEMWIN_MODE=checked "$mwgo" replay "${traces[@]}" "$lib" || status=1
for gobin in "$go119" "$gonew"; do
    echo "== under Wine: the Go runtime of $("$gobin" env GOVERSION) and memwin.dll"
    GO=$gobin "$mwgo" replay "${traces[@]}" || status=1
done
# The wrong libraries of tests/wrong_impls against the traces: base.c (a
# correct plain-mmap implementation, compared through /proc/self/maps) must
# pass every trace; each wrong one must be rejected by at least one.
echo "== the wrong implementations of tests/wrong_impls"
# memwin-replay as memwin-go replay LIB built it above, called directly:
# one trace at a time, so the first trace that rejects a library is named.
replay=$root/build/memwin-go/bin/memwin-replay
wdir=$root/build/traces/wrong
mkdir -p "$wdir"
for w in base decommit_keeps_contents no_decommit partial_release ignores_hints no_halving; do
    def=""; [ $w = base ] || def=-DWRONG_$(echo $w | tr a-z A-Z)
    gcc -std=c11 -O2 -shared -fPIC -I"$root/include" $def -o "$wdir/$w.so" "$root/tests/wrong_impls/base.c" -lpthread
    caught=""
    for t in "${traces[@]}"; do
        if ! "$replay" "$wdir/$w.so" "$t" >"$wdir/$w.log" 2>&1; then
            caught="$(basename "$t"): $(grep -oE '(DIFFERS|fatal error).*' "$wdir/$w.log" | head -1 | cut -c1-200)"
            break
        fi
    done
    if [ $w = base ]; then
        [ -z "$caught" ] && echo "   base: identical on every trace" || { echo "   base REJECTED: $caught"; status=1; }
    elif [ -n "$caught" ]; then
        echo "   $w: rejected by $caught"
    else
        case " ${TRACES_NOT_CAUGHT:-partial_release} " in
            *" $w "*) echo "   $w: passes every trace (expected: the corpus's releases -- the span table's in the hugepages traces, 8 KiB in gofmt under Go 1.26, and in every windows/386 trace the 516 MiB first try of the arena's aligned reservation -- each name a whole reservation, and no later reservation meets the pages releasing n bytes leaves behind; the vectors reject it)" ;;
            *) echo "   $w: NOT rejected by any trace"; status=1 ;;
        esac
    fi
done

if [ $status = 0 ]; then
    echo "traces: all ${#traces[@]} traces identical to their goldens on all three sides"
else
    echo "traces: FAILED (see above)"
fi
exit $status
