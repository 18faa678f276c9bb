#!/usr/bin/env bash
# fatal-once.sh EXE [RUNS] [OUTDIR] [LABEL]: runs EXE (progs/fatalonce, built with
# a swap; memwin.dll beside it) RUNS times (default 30) under Wine with
# MEMWIN_FAIL_COMMIT_NTH=200 MEMWIN_FAIL_COMMIT_COUNT=5 and checks that each
# run dies as the Go runtime does, with memwin's error thrown once (issue
# 15.1: under the full swap another thread threw it a second time, and the
# "runtime: VirtualAlloc ..." / "fatal error: out of memory" pair appeared
# twice or more):
#   - exit status 2;
#   - exactly one "runtime: VirtualAlloc of N bytes failed with errno=1455"
#     line and one "fatal error: out of memory" line;
#   - no other "fatal error:" line than "fatal error: runtime: cannot
#     allocate memory": the runtime's own throw on another thread when one
#     of the five injected failures hits its fresh allocation
#     (MEM_COMMIT|MEM_RESERVE) while the first thread dies.  Go prints it
#     without memwin too (the realhook build: 8 to 10 of 30 runs), so it is
#     counted, not refused; so is "fatal error: " cut off by the exit (Go
#     prints the message in a second write).  memwin's error thrown again
#     would show a second "runtime: VirtualAlloc" line before its own.
# Prints one RESULT line; exits 1 if any run differs (outputs in OUTDIR).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exe=${1:?usage: fatal-once.sh EXE [RUNS] [OUTDIR] [LABEL]}
runs=${2:-30}
outdir=${3:-$(mktemp -d)}
label=${4:-$exe}
mkdir -p "$outdir"
bad=0 goown=0
for i in $(seq 1 "$runs"); do
    o=$outdir/fatal-once-$i.out
    MEMWIN_FAIL_COMMIT_NTH=200 MEMWIN_FAIL_COMMIT_COUNT=5 "$root/tools/wine/run.sh" "$exe" >"$o" 2>&1
    rc=$?
    va=$(grep -cE '^runtime: VirtualAlloc of [0-9]+ bytes failed with errno=1455$' "$o")
    oom=$(grep -cx 'fatal error: out of memory' "$o")
    own=$(grep -cx -e 'fatal error: runtime: cannot allocate memory' -e 'fatal error: ' "$o")
    other=$(grep '^fatal error:' "$o" | grep -cvx -e 'fatal error: out of memory' \
        -e 'fatal error: runtime: cannot allocate memory' -e 'fatal error: ')
    [ "$own" -gt 0 ] && goown=$((goown + 1))
    if [ "$rc" != 2 ] || [ "$va" != 1 ] || [ "$oom" != 1 ] || [ "$other" != 0 ]; then
        bad=$((bad + 1))
        echo "FAIL run $i: exit status $rc, $va 'runtime: VirtualAlloc' lines, $oom 'fatal error: out of memory' lines, $other other fatal lines ($o):"
        grep -E '^(runtime: |fatal error:|survived)' "$o" | head -n 8 | sed 's/^/    /'
    fi
done
echo "RESULT fatal-once $label: $((runs - bad))/$runs runs threw memwin's error once (exit status 2; the runtime's own second throw 'runtime: cannot allocate memory' in $goown)"
[ "$bad" = 0 ]
