#!/usr/bin/env bash
# Runs a Windows program under Wine in memwin's private prefix (see
# prefix.sh), quietly, passing stdout, stderr and the exit status through.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WINEPREFIX=$("$here/prefix.sh")
export WINEPREFIX WINEDEBUG=-all
# The first Wine program of a session starts the wineserver and the session's
# system processes (services.exe, explorer.exe, winedevice.exe...); they
# inherit its standard streams and live until the session ends.  Whoever reads
# those streams to their end (ctest, a $(...) substitution, a pipe) would wait
# for the whole session, not for the program: ctest once timed a 0.2 s test
# out at 120 s that way.  So the session is started here with the streams on
# /dev/null, once (the lock: parallel tests), and kept for 30 s after its last
# program.  A running server makes "wineserver -p" exit 2 at once.
flock -o "$WINEPREFIX.session.lock" sh -c \
    'wineserver -p30 </dev/null >/dev/null 2>&1 && wine wineboot </dev/null >/dev/null 2>&1; exit 0'
exec wine "$@"
