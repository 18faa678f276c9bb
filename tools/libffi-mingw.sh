#!/usr/bin/env bash
# Builds libffi for mingw-w64 (static) from the source Debian ships, for
# memwin-conform's Windows builds: Debian 12 packages libffi only for the
# native architecture.  Result: build/deps/libffi-mingw/{include,lib} for
# x86_64 (preset windows), build/deps/libffi-mingw-i686 for i686 (preset
# windows-386).
#
#   tools/libffi-mingw.sh [--host x86_64-w64-mingw32|i686-w64-mingw32] [PREFIX]
#
# The source comes from Debian's own archive (apt-get source libffi), through
# a private deb-src list and private apt state, so the machine's apt
# configuration is not touched.  Does nothing when the prefix already holds
# the library.  Needs dpkg-dev (dpkg-source) and mingw-w64, installed here
# when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
host=x86_64-w64-mingw32
if [ "${1:-}" = --host ]; then
    host=${2:?--host needs a triple}
    shift 2
fi
case $host in
x86_64-w64-mingw32) suffix= ;;
i686-w64-mingw32) suffix=-i686 ;;
*) echo "libffi-mingw: unknown host $host (x86_64-w64-mingw32 or i686-w64-mingw32)" >&2; exit 2 ;;
esac
prefix=${1:-$root/build/deps/libffi-mingw$suffix}
if [ -f "$prefix/lib/libffi.a" ] && [ -f "$prefix/include/ffi.h" ]; then
    exit 0
fi
say() { echo "libffi-mingw: $*"; }
missing=()
command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
command -v "$host-gcc-posix" >/dev/null || missing+=(mingw-w64)
command -v make >/dev/null || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
fi

# One work directory per host: both may be built at the same time.
work=$root/build/deps/libffi-src$suffix
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
# The suite the machine runs (bookworm on Debian 12), from the mirror its apt
# already uses for it (deb.debian.org when none is found).
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk -v s="$codename" '/^URIs:/ {u=$2} /^Suites:/ {for (i = 2; i <= NF; i++) if ($i == s && u ~ /debian\/?$/) {print u; exit}}')
[ -n "$mirror" ] || mirror=$(grep -hE "^deb +[^ ]*debian/? +$codename +" /etc/apt/sources.list 2>/dev/null |
    awk '{print $2; exit}')
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
cat >"$work/sources.list" <<LIST
deb-src $mirror $codename main
LIST
apt_opts=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=-
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
    -o APT::Sandbox::User=root)
say "fetching Debian's libffi source ($codename, $mirror)"
apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
(cd "$work/src" && apt-get "${apt_opts[@]}" source libffi >>"$work/apt.log" 2>&1) ||
    { cat "$work/apt.log"; exit 1; }
src=$(find "$work/src" -maxdepth 1 -mindepth 1 -type d -name 'libffi-*' | head -n 1)
[ -n "$src" ] && [ -x "$src/configure" ] || { say "no unpacked source with a configure script"; exit 1; }

say "building $(basename "$src") for $host (static)"
mkdir -p "$work/build"
(cd "$work/build" &&
    "$src/configure" --host="$host" --prefix="$prefix" --disable-shared \
        --enable-static --disable-docs --disable-multi-os-directory \
        CC="$host-gcc-posix" >"$work/configure.log" 2>&1 &&
    make -j"$(nproc)" >"$work/make.log" 2>&1 && make install >"$work/install.log" 2>&1) ||
    { tail -n 40 "$work"/*.log; exit 1; }
[ -f "$prefix/lib/libffi.a" ] || { say "libffi.a not installed in $prefix/lib"; exit 1; }
say "installed in $prefix"
