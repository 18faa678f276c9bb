#!/usr/bin/env bash
# Fails unless the built library exports exactly the functions declared in
# the public headers, which must also be exactly memwin.def's list.
# Usage: check_exports.sh <source dir> <library file> <dll|so> [objdump]
# (objdump: the toolchain's, for the DLL of either width; i686 DLLs must
# export the same undecorated names, no _f@N.)
set -euo pipefail
src=$1 lib=$2 kind=$3 objdump=${4:-x86_64-w64-mingw32-objdump}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Function declarations at column 0 of the public headers.
grep -hoP '^(?!typedef)[A-Za-z_][A-Za-z0-9_ *]*[ *]\K[A-Za-z_][A-Za-z0-9_]*(?=\()' \
    "$src"/include/*.h | sort -u >"$tmp/header"
# memwin.def's EXPORTS section.
awk '/^EXPORTS/{on=1;next} on && $1 !~ /^;/ && NF {print $1}' "$src/memwin.def" | sort -u >"$tmp/def"
if [ "$kind" = dll ]; then
    "$objdump" -p "$lib" |
        awk '/\[Ordinal\/Name Pointer\] Table/{on=1;next} on && /^[ \t]*\[/{print $NF; next} on && NF==0 {on=0}' |
        sort -u >"$tmp/lib"
else
    nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sed 's/@.*//' | sort -u >"$tmp/lib"
fi

status=0
for pair in "header:def" "header:lib"; do
    a=${pair%%:*} b=${pair##*:}
    if ! diff -u "$tmp/$a" "$tmp/$b" >"$tmp/diff"; then
        echo "exports differ ($a vs $b of $lib):"
        cat "$tmp/diff"
        status=1
    fi
done
[ "$status" = 0 ] && echo "exports: $(wc -l <"$tmp/header") functions identical in headers, memwin.def and $(basename "$lib")"
exit $status
