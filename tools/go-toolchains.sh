#!/usr/bin/env bash
# The Go toolchains of the conformance matrix: one per release line, Go 1.19
# to Go 1.27.  Fetches what is missing (cached under build/toolchains/) and
# prints one line per release line, tab-separated:
#
#   LABEL  GO-BINARY-OR-EMPTY  VERSION  SOURCE
#
# An empty GO-BINARY means the line could not be obtained here; SOURCE then
# says why.  Where each comes from:
#   go1.19          Debian bookworm's golang-1.19-go (tools/install-deps.sh)
#   go1.21 - 1.25   Debian's golang-1.2x-go and -src packages, fetched with
#                   `apt-get download` from a private apt list of
#                   bookworm-backports, trixie and trixie-backports (never
#                   installed system-wide) and unpacked with `dpkg -x`
#   go1.26          the go on PATH (the machine's Go 1.26)
#   go1.20, go1.27  the Go module proxy's toolchain modules, through the go
#                   command's GOTOOLCHAIN switch (Debian has no golang-1.20
#                   in any suite reachable here; 1.27.3 is the approved 1.27)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cache=$root/build/toolchains
mkdir -p "$cache"
log=$cache/fetch.log

# Serialise concurrent runs (the cache is shared).
exec 8>"$cache/.lock"
flock 8

# Debian packages: line -> "suite package-version".  Pinned so that every
# run measures the same patch releases.
declare -A deb=(
    [1.21]="bookworm-backports 1.21.13-1~bpo12+1"
    [1.22]="bookworm-backports 1.22.12-3~bpo12+1"
    [1.23]="bookworm-backports 1.23.5-1~bpo12+1"
    [1.24]="trixie 1.24.4-1"
    [1.25]="trixie-backports 1.25.12-1~bpo13+1"
)
# Toolchains from the Go module proxy, by the go command.
declare -A proxy=([1.20]=go1.20.14 [1.27]=go1.27.3)

apt_ready=0
apt_opts=()
apt_setup() {
    [ $apt_ready = 1 ] && return 0
    local a=$cache/apt
    mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
    cat >"$a/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
EOF
    apt_opts=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache")
    apt-get "${apt_opts[@]}" update -q >>"$log" 2>&1 || return 1
    apt_ready=1
}

# fetch_deb LINE: unpacks golang-LINE-go and golang-LINE-src into
# build/toolchains/goLINE; prints the go binary or nothing.
fetch_deb() {
    local line=$1 ver=${deb[$1]#* } dir=$cache/go$1
    local gobin=$dir/usr/lib/go-$line/bin/go
    if [ ! -x "$gobin" ] || [ "$(cat "$dir/.version" 2>/dev/null)" != "$ver" ]; then
        apt_setup || return 0
        rm -rf "$dir" "$cache/debs-$line"
        mkdir -p "$dir" "$cache/debs-$line"
        (cd "$cache/debs-$line" &&
            apt-get "${apt_opts[@]}" download -q "golang-$line-go=$ver" "golang-$line-src=$ver") >>"$log" 2>&1 || return 0
        for f in "$cache/debs-$line"/*.deb; do dpkg -x "$f" "$dir"; done
        rm -rf "$cache/debs-$line"
        echo "$ver" >"$dir/.version"
    fi
    [ -x "$gobin" ] && echo "$gobin"
}

# fetch_proxy VERSION: the toolchain module's go binary, or nothing.
fetch_proxy() {
    local v=$1 goroot
    goroot=$(cd "$cache" && GOTOOLCHAIN=$v go env GOROOT 2>>"$log") || return 0
    [ -x "$goroot/bin/go" ] && echo "$goroot/bin/go"
}

row() { printf '%s\t%s\t%s\t%s\n' "$@"; }

for minor in 19 20 21 22 23 24 25 26 27; do
    line=1.$minor label=go1.$minor gobin="" src=""
    case $minor in
    19)
        gobin=/usr/lib/go-1.19/bin/go
        src="Debian bookworm golang-1.19-go"
        ;;
    26)
        gobin=$(command -v go || true)
        src="the machine's go on PATH"
        ;;
    *)
        if [ -n "${proxy[$line]:-}" ]; then
            gobin=$(fetch_proxy "${proxy[$line]}")
            src="Go module proxy, GOTOOLCHAIN=${proxy[$line]}"
        else
            gobin=$(fetch_deb "$line")
            src="Debian ${deb[$line]% *} golang-$line-go ${deb[$line]#* } (apt-get download, dpkg -x)"
        fi
        ;;
    esac
    version=""
    if [ -n "$gobin" ] && [ -x "$gobin" ]; then
        version=$(GOTOOLCHAIN=local "$gobin" env GOVERSION 2>>"$log" || true)
    fi
    case $version in
    go$line | go$line.*) row "$label" "$gobin" "$version" "$src" ;;
    *) row "$label" "" "-" "not obtained: $src failed${version:+ (it reports $version)}; see build/toolchains/fetch.log" ;;
    esac
done
