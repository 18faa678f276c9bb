#!/usr/bin/env bash
# Checks that the files of src/ call one way: each translation unit's object
# may use only symbols defined by units of a lower layer (the table below,
# top first), never one of its own layer or above.  Reads the objects of a
# built library with nm, so calls through the public headers count too.
#   tools/src-layers.sh [OBJECT_DIR]   (default build/linux/CMakeFiles/memwin.dir/src)
# Prints each unit's layer and the units it uses; exits 1 on an arrow that
# runs up or sideways, or on a unit missing from the table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
objdir=${1:-$root/build/linux/CMakeFiles/memwin.dir/src}
[ -d "$objdir" ] || { echo "src-layers: no objects in $objdir (build the linux preset first)" >&2; exit 2; }

# layer  unit (path under src/; prim.c includes the host table's file)
layers='
10 dllmain.c
10 heap/mheap.c
9 api.c
8 checked.c
7 reserve_aligned.c
7 mem.c
6 mem_windows.c
6 instrument/interpose.c
6 instrument/fault.c
5 fatal.c
4 mode.c
3 env.c
3 query.c
3 sysinfo.c
2 prim.c
1 rtree.c
1 version.c
'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$layers" | awk 'NF==2 {print $2, $1}' | sort >"$tmp/rank"
(cd "$objdir" && find . -name '*.c.o' | sed 's|^\./||; s|\.o$||' | sort) >"$tmp/units"
status=0
while read -r u; do
    grep -q "^$u " "$tmp/rank" || { echo "src-layers: src/$u is in no layer of tools/src-layers.sh"; status=1; }
done <"$tmp/units"
# defined symbol -> unit, and unit -> undefined symbol
while read -r u; do
    nm --defined-only "$objdir/$u.o" | awk -v u="$u" '$2 ~ /^[TDBRVC]$/ {print $3, u}'
done <"$tmp/units" | sort -u >"$tmp/defs"
while read -r u; do
    nm --undefined-only "$objdir/$u.o" | awk -v u="$u" '{print $2, u}'
done <"$tmp/units" | sort -u >"$tmp/uses"
# user unit, used unit
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 {print $2, $3}' | sort -u >"$tmp/edges"
while read -r u; do
    r=$(awk -v u="$u" '$1==u {print $2}' "$tmp/rank")
    used=$(awk -v u="$u" '$1==u {printf "%s ", $2}' "$tmp/edges")
    printf 'layer %2s  src/%-24s uses: %s\n' "${r:-?}" "$u" "${used:-nothing}"
done < <(join -1 1 -2 1 "$tmp/units" "$tmp/rank" | sort -k2,2nr -k1,1 | awk '{print $1}')
while read -r a b; do
    ra=$(awk -v u="$a" '$1==u {print $2}' "$tmp/rank")
    rb=$(awk -v u="$b" '$1==u {print $2}' "$tmp/rank")
    if [ -n "$ra" ] && [ -n "$rb" ] && [ "$rb" -ge "$ra" ]; then
        echo "src-layers: src/$a (layer $ra) uses src/$b (layer $rb): an arrow that does not run down"
        join "$tmp/uses" "$tmp/defs" | awk -v a="$a" -v b="$b" '$2==a && $3==b {print "    " $1}'
        status=1
    fi
done <"$tmp/edges"
[ $status = 0 ] && echo "src-layers: $(wc -l <"$tmp/units") units, $(wc -l <"$tmp/edges") arrows, every one runs down"
exit $status
