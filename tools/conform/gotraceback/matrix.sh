#!/usr/bin/env bash
# Builds tools/conform/gotraceback with every toolchain of
# tools/go-toolchains.sh for windows/amd64 and windows/386, runs each under
# Wine and prints the exit codes side by side (README.md "Fatal errors").
# Takes about 10 minutes on 2 cores; outputs in build/gotraceback/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$root/build/gotraceback
mkdir -p "$out"
export MEMWIN_WINEPREFIX=${MEMWIN_WINEPREFIX:-$out/wineprefix}
"$root/tools/wine/prefix.sh" >/dev/null
one() { # label go-binary arch
    local ld=""
    case $1 in go1.19 | go1.2[0-2]) ;; *) ld=-checklinkname=0 ;; esac
    (cd "$root/tools/conform" && CGO_ENABLED=0 GOOS=windows GOARCH=$3 GOTOOLCHAIN=local \
        "$2" build -ldflags="$ld" -o "$out/gt-$1-$3.exe" ./gotraceback) >"$out/build-$1-$3.log" 2>&1 ||
        { echo "$1-$3: build failed (build/gotraceback/build-$1-$3.log)" >&2; return 0; }
    "$root/tools/wine/run.sh" "$out/gt-$1-$3.exe" >"$out/$1-$3.txt" 2>&1 || true
}
export -f one
export root out
"$root/tools/go-toolchains.sh" | while IFS=$'\t' read -r label gobin _ _; do
    [ -n "$gobin" ] && for a in amd64 386; do printf '%s %s %s\n' "$label" "$gobin" "$a"; done
done | xargs -P 2 -L 1 bash -c 'one "$0" "$1" "$2"'
# One row per setting, one column per build: the hexadecimal exit code.
files=("$out"/go1.*-*.txt)
printf '%-26s' setting
for f in "${files[@]}"; do b=$(basename "$f" .txt); printf ' %-11s' "${b#go}"; done
echo
sed 's/ *exit.*//' "${files[0]}" | while IFS= read -r setting; do
    printf '%-26s' "$setting"
    for f in "${files[@]}"; do
        code=$(grep -F "$setting " "$f" | head -1 | sed 's/.*(\(0x[0-9a-f]*\)).*/\1/')
        printf ' %-11s' "${code:-?}"
    done
    echo
done
