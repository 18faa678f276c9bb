#!/usr/bin/env bash
# Creates (once) memwin's private Wine prefix with the bcryptprimitives.dll
# stand-in that Go >= 1.22 needs on Wine 8, and prints its path.
# MEMWIN_WINEPREFIX overrides the location (default: <repo>/build/wineprefix).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${MEMWIN_WINEPREFIX:-$root/build/wineprefix}
stamp=$prefix/.memwin-ready
if [ ! -f "$stamp" ]; then
    mkdir -p "$prefix"
    # Serialise concurrent first starts (ctest runs tests in parallel).
    exec 9>"$prefix.lock"
    flock 9
    if [ ! -f "$stamp" ]; then
        WINEPREFIX=$prefix WINEDEBUG=-all wineboot -i </dev/null >/dev/null 2>&1 || true
        WINEPREFIX=$prefix wineserver -w </dev/null >/dev/null 2>&1 || true
        dll=$prefix/drive_c/windows/system32/bcryptprimitives.dll
        x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" "$here/bcryptprimitives.c" \
            -ladvapi32 -Wl,--kill-at -static
        touch "$stamp"
    fi
fi
echo "$prefix"
