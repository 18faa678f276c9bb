#!/usr/bin/env bash
# Checks run.sh's promise in a prefix of its own: a program's output (stdout
# and stderr, as ctest reads them) reaches its end when the program ends,
# while the Wine session its run started goes on (run.sh starts sessions with
# their streams on /dev/null).  Without that, $(run.sh ...) would only return
# once the session had ended.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
export MEMWIN_WINEPREFIX=$tmp/prefix
server() { WINEPREFIX=$MEMWIN_WINEPREFIX wineserver "$@" >/dev/null 2>&1; }
cleanup() {
    server -k || true
    server -w || true
    rm -rf "$tmp"
}
trap cleanup EXIT
"$here/prefix.sh" >/dev/null # made beforehand: its own wineboot ends its session
for i in 1 2; do
    out=$("$here/run.sh" cmd.exe /c echo memwin-session-$i 2>&1 | tr -d '\r')
    [ "$out" = "memwin-session-$i" ] || { echo "FAIL: run $i printed '$out'"; exit 1; }
    # A running session makes "wineserver -k" succeed (and ends it, so that
    # the second run starts a new one, again from run.sh).
    if ! server -k; then
        echo "FAIL: run $i: the output ended only with the Wine session"
        exit 1
    fi
    server -w || true
done
echo "PASS: output ends with the program; the session outlives it"
