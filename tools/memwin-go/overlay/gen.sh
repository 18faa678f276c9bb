#!/usr/bin/env bash
# Regenerates the overlay files from template.go.in:
#   go1.19/mem_windows.go  Go 1.19 - 1.24 (stdcallN, no vmaName)
#   go1.25/mem_windows.go  Go 1.25 (stdcallN, vmaName)
#   go1.26/mem_windows.go  Go 1.26 - 1.27 (variadic stdcall, vmaName,
#                          needZeroAfterSysUnusedOS)
# gen.sh --check: changes nothing, exits 1 if the files are out of date.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$here
if [ "${1:-}" = --check ]; then
    dest=$(mktemp -d)
    trap 'rm -rf "$dest"' EXIT
fi
gen() { # dir range loader loadcall vma callstyle needzero
    local dir=$1 range=$2 loader=$3 loadcall=$4 vma=$5 style=$6 needzero=$7
    mkdir -p "$dest/$dir"
    local c0 c1 c2 c3
    if [ "$style" = variadic ]; then
        c0=stdcall c1=stdcall c2=stdcall c3=stdcall
    else
        c0=stdcall0 c1=stdcall1 c2=stdcall2 c3=stdcall3
    fi
    local nz=""
    if [ "$needzero" = 1 ]; then
        nz=$'\nfunc needZeroAfterSysUnusedOS() bool {\n\treturn '"$c0"$'(memwinProc(mwNeedZeroAfterSysUnusedOS))&0xff != 0\n}'
    fi
    awk -v range="$range" -v loader="$loader" -v loadcall="$loadcall" -v vma="$vma" \
        -v c0="$c0" -v c1="$c1" -v c2="$c2" -v c3="$c3" -v nz="$nz" '
        { gsub(/@RANGE@/, range); gsub(/@LOADER@/, loader); gsub(/@LOADCALL@/, loadcall)
          gsub(/@VMA@/, vma); gsub(/@CALL0@/, c0); gsub(/@CALL1@/, c1); gsub(/@CALL2@/, c2)
          gsub(/@CALL3@/, c3)
          if ($0 == "@NEEDZERO@") { if (nz != "") print substr(nz, 2); next }
          print }' "$here/template.go.in" >"$dest/$dir/mem_windows.go"
    gofmt -l "$dest/$dir/mem_windows.go" | sed 's/^/not gofmt-clean: /' >&2 || true
}
gen go1.19 "For Go 1.19 to 1.24." LoadLibraryW \
    'stdcall1(_LoadLibraryW, uintptr(unsafe.Pointer(\&memwinPath[0])))' "" numbered 0
gen go1.25 "For Go 1.25." LoadLibraryExW \
    'stdcall3(_LoadLibraryExW, uintptr(unsafe.Pointer(\&memwinPath[0])), 0, 0x8 /* LOAD_WITH_ALTERED_SEARCH_PATH */)' \
    ", _ string" numbered 0
gen go1.26 "For Go 1.26 and 1.27." LoadLibraryExW \
    'stdcall(_LoadLibraryExW, uintptr(unsafe.Pointer(\&memwinPath[0])), 0, 0x8 /* LOAD_WITH_ALTERED_SEARCH_PATH */)' \
    ", _ string" variadic 1
if [ "$dest" != "$here" ]; then
    for d in go1.19 go1.25 go1.26; do
        cmp -s "$dest/$d/mem_windows.go" "$here/$d/mem_windows.go" ||
            { echo "overlay/$d/mem_windows.go is out of date: run overlay/gen.sh" >&2; exit 1; }
    done
    echo "overlay files up to date"
fi
