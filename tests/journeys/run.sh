#!/usr/bin/env bash
# User journeys: the READMEs' install and use recipes, run as written, in a
# copy of the working tree (a fresh clone: no build/ directory) under a
# scratch directory.  The commands are not repeated here: each one is the
# fenced block that follows a marker line in a README,
#   <!-- journey: NAME -->        a shell block, run with bash -e
#   <!-- journey-file: FILE -->   a file's text, written as FILE
# so a README edit changes what runs, and a lost marker fails the journey.
# The variables the READMEs name are set: PREFIX, WINPREFIX (install
# prefixes), MEMWIN_SRC (the clone).
#
#   c-linux      README "Building" + "Using the library from C": library-only
#                install (no -Werror), a C program through find_package and
#                through pkg-config (and, as the README says, not without an
#                rpath); the presets do use -Werror
#   c-windows    the same for memwin.dll: mingw-w64 with memwin_DIR (and, as
#                the README says, not with CMAKE_PREFIX_PATH), and gcc alone;
#                run under Wine
#   go-module    README "Go quick start": a module outside the repository
#                with a replace directive, go mod tidy offline (GOPROXY=off);
#                go_bindings/README.md gives the same commands and import path
#   memwin-go    tools/memwin-go/README.md: gofmt built with the full swap
#                and run under Wine on memwin.dll
#   conform-ffi  tools/memwin-conform/README.md's Windows command: a build
#                directory configured before tools/libffi-mingw.sh ran still
#                gets memwin-conform.exe once libffi is there
#
# Usage: tests/journeys/run.sh [journey...]   (default: all)
# Logs: build/logs/journeys/NAME.log.  Prints "N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
logdir=$root/build/logs/journeys
mkdir -p "$logdir"
work=$(mktemp -d "${TMPDIR:-/tmp}/memwin-journeys.XXXXXX")
trap 'rm -rf "$work"' EXIT
# What a fresh machine's user does not have set.
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH CMAKE_GENERATOR GOFLAGS GOOS GOARCH CGO_ENABLED
export GOTOOLCHAIN=local GOWORK=off

src=$work/src
export MEMWIN_SRC=$src PREFIX=$work/prefix WINPREFIX=$work/winprefix

# The working tree as a clone has it (tracked and new files, not build/).
copy_tree() {
    mkdir -p "$src"
    if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$src" -xf -
    else
        (cd "$root" && tar --exclude=./build -cf - .) | tar -C "$src" -xf -
    fi
}

# block FILE KIND NAME: the fenced block after "<!-- KIND: NAME -->" in FILE.
block() {
    awk -v m="<!-- $2: $3 -->" '
        $0 == m { f = 1; next }
        f == 1 && /^```/ { f = 2; next }
        f == 1 && !/^[[:space:]]*$/ { exit }
        f == 2 && /^```/ { exit }
        f == 2 { print }' "$1"
}

# run_block FILE NAME DIR: runs the shell block NAME of FILE in DIR.
run_block() {
    local text
    text=$(block "$1" journey "$2")
    [ -n "$text" ] || { echo "!! no block '<!-- journey: $2 -->' in ${1#"$src"/}"; return 1; }
    echo "== ${1#"$src"/}: journey $2 (in ${3#"$work"/})"
    (cd "$3" && bash -exo pipefail -c "$text")
}

# write_file FILE NAME DIR: writes the block "journey-file: NAME" as DIR/NAME.
write_file() {
    local text
    text=$(block "$1" journey-file "$2")
    [ -n "$text" ] || { echo "!! no block '<!-- journey-file: $2 -->' in ${1#"$src"/}"; return 1; }
    mkdir -p "$3" && printf '%s\n' "$text" >"$3/$2"
}

need() { command -v "$1" >/dev/null || { echo "!! $1 is missing (tools/install-deps.sh installs it)"; return 1; }; }
expect() { # expect PATTERN FILE: FILE has a line matching PATTERN
    grep -E -- "$1" "$2" >/dev/null || { echo "!! expected /$1/ in:"; cat "$2"; return 1; }
}

readme=$src/README.md

j_c-linux() {
    need cmake && need cc && need pkg-config || return 1
    run_block "$readme" install-linux "$src" || return 1
    [ -f "$PREFIX/lib/libmemwin.so" ] && [ -f "$PREFIX/lib/pkgconfig/memwin.pc" ] &&
        [ -f "$PREFIX/lib/cmake/memwin/memwinConfig.cmake" ] || { echo "!! not installed where the README says"; return 1; }
    # A consumer's build: warnings are not errors (a newer compiler's new
    # warning must not break it); the presets' builds: they are.  The one
    # error every build has, -Werror=return-type (a non-void function that can
    # end without a return), is one that correct code never triggers.
    if grep -rqsE -- '-Werror([^=]|$)' "$src/build/lib" --include=flags.make --include=build.ninja; then
        echo "!! the library-only build compiles with -Werror"; return 1
    fi
    (cd "$src" && cmake --preset linux -B "$work/preset-linux") >"$work/preset-linux.log" 2>&1 || { cat "$work/preset-linux.log"; return 1; }
    grep -qsE -- '-Werror([^=]|$)' "$work/preset-linux/build.ninja" || { echo "!! the linux preset does not compile with -Werror"; return 1; }
    echo "-Werror: off in the library-only build, on in the linux preset"
    # "It needs only a C compiler".
    cmake -S "$src" -B "$work/no-cxx" -DMEMWIN_BUILD_TESTS=OFF -DCMAKE_CXX_COMPILER=/nonexistent/c++ \
        >"$work/no-cxx.log" 2>&1 || { cat "$work/no-cxx.log"; echo "!! the library-only configure needs a C++ compiler"; return 1; }

    local c=$work/c-linux
    write_file "$readme" hello.c "$c" && write_file "$readme" CMakeLists.txt "$c" || return 1
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$PREFIX/include" "$c/hello.c" || return 1
    run_block "$readme" c-linux-cmake "$c" >"$work/out" 2>&1; local rc=$?
    cat "$work/out"; [ $rc = 0 ] && expect '^hello from memwin [0-9.]+: 1048576 bytes mapped$' "$work/out" || return 1
    rm -rf "$c/build" "$c/CMakeLists.txt"
    run_block "$readme" c-linux-pkgconfig "$c" >"$work/out" 2>&1; rc=$?
    cat "$work/out"; [ $rc = 0 ] && expect '^hello from memwin [0-9.]+: 1048576 bytes mapped$' "$work/out" || return 1
    # What the README says happens without the rpath.
    (cd "$c" && export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig &&
        cc hello.c $(pkg-config --cflags --libs memwin) -o hello-norpath && ./hello-norpath) >"$work/out" 2>&1 &&
        { echo "!! ran without an rpath"; return 1; }
    expect 'error while loading shared libraries: libmemwin\.so\.0: cannot open shared object file' "$work/out"
}

j_c-windows() {
    need x86_64-w64-mingw32-gcc && need wine || return 1
    run_block "$readme" install-windows "$src" || return 1
    [ -f "$WINPREFIX/bin/memwin.dll" ] && [ -f "$WINPREFIX/lib/libmemwin.dll.a" ] ||
        { echo "!! memwin.dll / libmemwin.dll.a not installed where the README says"; return 1; }
    # "it needs only system DLLs".
    x86_64-w64-mingw32-objdump -p "$WINPREFIX/bin/memwin.dll" | grep 'DLL Name' | tee "$work/imports"
    if grep -viE 'DLL Name: (kernel32|msvcrt|advapi32|user32|ntdll|api-ms-win-[a-z0-9-]+)\.dll' "$work/imports"; then
        echo "!! memwin.dll imports a DLL that Windows does not have"; return 1
    fi
    local c=$work/c-windows
    write_file "$readme" hello.c "$c" && write_file "$readme" CMakeLists.txt "$c" || return 1
    # What the README says of CMAKE_PREFIX_PATH under the mingw toolchain.
    if cmake -S "$c" -B "$work/c-windows-prefix-path" --toolchain "$src/cmake/toolchain-mingw-w64.cmake" \
        -DCMAKE_PREFIX_PATH="$WINPREFIX" >"$work/out" 2>&1; then
        echo "!! find_package found memwin through CMAKE_PREFIX_PATH: the README says it does not"; return 1
    fi
    expect 'Could not find a package configuration file provided by "memwin"' "$work/out" || return 1
    run_block "$readme" c-windows-cmake "$c" >"$work/out" 2>&1; local rc=$?
    tr -d '\r' <"$work/out" >"$work/out2"; cat "$work/out2"
    [ $rc = 0 ] && expect '^hello from memwin [0-9.]+: 1048576 bytes mapped$' "$work/out2" || return 1
    rm -f "$c/memwin.dll"
    run_block "$readme" c-windows-gcc "$c" >"$work/out" 2>&1; rc=$?
    tr -d '\r' <"$work/out" >"$work/out2"; cat "$work/out2"
    [ $rc = 0 ] && expect '^hello from memwin [0-9.]+: 1048576 bytes mapped$' "$work/out2"
}

j_go-module() {
    need go || return 1
    local g=$work/go-hello one two
    # One recipe: go_bindings/README.md gives the same commands.
    one=$(block "$readme" journey go-module)
    two=$(block "$src/go_bindings/README.md" journey go-module)
    [ -n "$one" ] && [ "$one" = "$two" ] ||
        { echo "!! the go-module blocks of README.md and go_bindings/README.md differ:"; diff <(echo "$one") <(echo "$two"); return 1; }
    # One import path everywhere; no go get of a module that is not published.
    local paths
    paths=$(grep -ohE '"github\.com/memwin/[^"]*"' "$readme" "$src/go_bindings/README.md" | sort -u)
    [ "$paths" = '"github.com/memwin/memwin/go_bindings"' ] || { echo "!! import paths in the READMEs: $paths"; return 1; }
    if grep -nE 'go get github\.com/memwin' "$readme" "$src/go_bindings/README.md"; then
        echo "!! a README still says go get"; return 1
    fi
    write_file "$readme" main.go "$g" || return 1
    [ -z "$(gofmt -l "$g/main.go")" ] || { echo "!! README.md's main.go is not gofmt-formatted"; gofmt -d "$g/main.go"; return 1; }
    # Offline: the replace directive names a local directory.
    GOPROXY=off GOFLAGS=-mod=mod run_block "$readme" go-module "$g" >"$work/out" 2>&1; local rc=$?
    cat "$work/out"; [ $rc = 0 ] && expect '^hello from memwin [0-9.]+$' "$work/out" &&
        expect '^replace github\.com/memwin/memwin => ' "$g/go.mod" &&
        expect '^require github\.com/memwin/memwin ' "$g/go.mod"
}

j_memwin-go() {
    need go && need wine && need x86_64-w64-mingw32-gcc || return 1
    run_block "$src/tools/memwin-go/README.md" memwin-go "$src" >"$work/out" 2>&1; local rc=$?
    tr -d '\r' <"$work/out" >"$work/out2"; cat "$work/out2"
    [ $rc = 0 ] && expect '^memwin-go: swap=full, .*exit status 0' "$work/out2" &&
        expect '^  commit +[1-9]' "$work/out2"
}

j_conform-ffi() {
    need x86_64-w64-mingw32-gcc || return 1
    # tools/memwin-conform/README.md's command, with the preset's configure
    # step (the build and tests of the workflow are tools/test.sh's stage).
    local cmd
    cmd=$(grep -m1 -E '^tools/libffi-mingw\.sh && cmake --workflow --preset windows$' "$src/tools/memwin-conform/README.md") ||
        { echo "!! tools/memwin-conform/README.md no longer gives the command this journey checks"; return 1; }
    echo "+ cmake --preset windows   (before libffi)"
    (cd "$src" && cmake --preset windows) >"$work/out" 2>&1 || { cat "$work/out"; return 1; }
    expect 'memwin-conform is NOT built: libffi not found' "$work/out" || return 1
    if grep -q 'memwin-conform\.exe' "$src/build/windows/build.ninja"; then echo "!! runner without libffi?"; return 1; fi
    # A build directory from before MEMWIN_CONFORM was AUTO: OFF was cached.
    sed -i 's/^MEMWIN_CONFORM:STRING=AUTO$/MEMWIN_CONFORM:BOOL=OFF/' "$src/build/windows/CMakeCache.txt"
    # libffi: the copy tools/install-deps.sh built, else built now.
    if [ -f "$root/build/deps/libffi-mingw/lib/libffi.a" ]; then
        mkdir -p "$src/build/deps" && cp -r "$root/build/deps/libffi-mingw" "$src/build/deps/"
    fi
    echo "+ $cmd   (its configure step)"
    (cd "$src" && tools/libffi-mingw.sh && cmake --preset windows) >"$work/out" 2>&1 || { cat "$work/out"; return 1; }
    cat "$work/out" | grep -i 'conform'
    grep -q 'memwin-conform\.exe' "$src/build/windows/build.ninja" ||
        { echo "!! libffi is there, but the build has no memwin-conform.exe"; return 1; }
    echo "memwin-conform.exe is in the build once libffi is there"
}

all=(c-linux c-windows go-module memwin-go conform-ffi)
if [ $# -gt 0 ]; then selected=("$@"); else selected=("${all[@]}"); fi
copy_tree || { echo "cannot copy the working tree"; exit 1; }
passed=0 failed=0 failures=()
for j in "${selected[@]}"; do
    log=$logdir/$j.log start=$SECONDS
    printf '== journey %-12s ' "$j"
    if ! declare -F "j_$j" >/dev/null; then
        echo "unknown (known: ${all[*]})"; failed=$((failed + 1)); failures+=("$j"); continue
    fi
    if "j_$j" >"$log" 2>&1; then
        passed=$((passed + 1)); echo "ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1)); failures+=("$j")
        echo "FAILED ($((SECONDS - start)) s), log: $log"
        grep -E '^!!' "$log" | head -n 10 | sed 's/^/   ! /'
        tail -n 25 "$log" | sed 's/^/   | /'
    fi
done
echo
echo "journeys: $passed passed, $failed failed"
[ "$failed" = 0 ] || { echo "failed: ${failures[*]}"; exit 1; }
