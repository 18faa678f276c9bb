#!/usr/bin/env bash
# Creates (once) memwin's private Wine prefix with the bcryptprimitives.dll
# stand-in that Go >= 1.22 needs on Wine 8, and prints its path.
# MEMWIN_WINEPREFIX overrides the location (default: <repo>/build/wineprefix).
#
# With wine32 installed the prefix is a WoW64 one (64- and 32-bit programs;
# the stand-in in system32 and, 32-bit, in syswow64).  A prefix made before
# wine32 was installed has no 32-bit system (syswow64 empty: 32-bit programs
# fail with "could not load kernel32.dll"); it is made afresh.  The stamp
# records which kind a prefix is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${MEMWIN_WINEPREFIX:-$root/build/wineprefix}
stamp=$prefix/.memwin-ready
# Debian's wine32:i386 provides the 32-bit loader.
if [ -x /usr/lib/wine/wine ] && command -v i686-w64-mingw32-gcc >/dev/null; then
    want=wow64
else
    want=win64
fi

ready() {
    [ -f "$stamp" ] || return 1
    [ "$want" = win64 ] && return 0
    [ "$(cat "$stamp")" = wow64 ] &&
        [ -f "$prefix/drive_c/windows/syswow64/kernel32.dll" ] &&
        [ -f "$prefix/drive_c/windows/syswow64/bcryptprimitives.dll" ]
}

# Makes a prefix of kind $want in directory $1.
make_prefix() {
    local p=$1
    mkdir -p "$p"
    WINEPREFIX=$p WINEARCH=win64 WINEDEBUG=-all wineboot -i </dev/null >/dev/null 2>&1 || true
    WINEPREFIX=$p wineserver -w </dev/null >/dev/null 2>&1 || true
    x86_64-w64-mingw32-gcc -O2 -shared -o "$p/drive_c/windows/system32/bcryptprimitives.dll" \
        "$here/bcryptprimitives.c" -ladvapi32 -Wl,--kill-at -static
    if [ "$want" = wow64 ]; then
        if [ ! -f "$p/drive_c/windows/syswow64/kernel32.dll" ]; then
            echo "prefix.sh: wineboot made no 32-bit system in $p (is wine32:i386 complete?)" >&2
            exit 1
        fi
        i686-w64-mingw32-gcc -O2 -shared -o "$p/drive_c/windows/syswow64/bcryptprimitives.dll" \
            "$here/bcryptprimitives.c" -ladvapi32 -Wl,--kill-at -static
    fi
    echo "$want" >"$p/.memwin-ready"
}

if ! ready; then
    mkdir -p "$(dirname "$prefix")"
    # Serialise concurrent first starts (ctest runs tests in parallel).
    exec 9>"$prefix.lock"
    flock 9
    if ! ready; then
        if [ -d "$prefix/drive_c" ]; then
            # An outdated prefix: build the new one beside it, then swap, so
            # that programs still running in the old one (its wineserver
            # follows the directory) are not disturbed; the old one is
            # deleted once its wineserver has ended.
            rm -rf "$prefix.new" # left by an interrupted run
            make_prefix "$prefix.new"
            old=$prefix.old.$$
            mv "$prefix" "$old"
            mv "$prefix.new" "$prefix"
            (WINEPREFIX=$old wineserver -w; rm -rf "$old") </dev/null >/dev/null 2>&1 9>&- &
        else
            make_prefix "$prefix"
        fi
    fi
    exec 9>&-
fi
echo "$prefix"
