#!/usr/bin/env bash
# Installs, from Debian's packages, whatever memwin's build and tests need
# and this machine lacks.  Needs root (apt-get).
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have cmake || need+=(cmake)
have ninja || need+=(ninja-build)
have g++ || need+=(g++)
[ -d /usr/src/googletest ] || need+=(googletest)
[ -f /usr/lib/x86_64-linux-gnu/libgtest.a ] || need+=(libgtest-dev)
have x86_64-w64-mingw32-gcc-posix || need+=(mingw-w64 g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix)
have i686-w64-mingw32-gcc-posix || need+=(gcc-mingw-w64-i686-posix g++-mingw-w64-i686-posix)
have wine || need+=(wine wine64)
# 32-bit Windows programs (memwin.dll for i686, Go's windows/386) need Wine's
# i386 half; a Wine prefix made before it was installed must be made afresh
# (tools/wine/prefix.sh does).
if ! dpkg -s wine32:i386 >/dev/null 2>&1; then
    dpkg --print-foreign-architectures | grep -qx i386 || {
        echo "install-deps: adding the i386 architecture (for wine32)"
        dpkg --add-architecture i386
    }
    need+=(wine32:i386)
fi
[ -x /usr/lib/go-1.19/bin/go ] || need+=(golang-1.19-go)
pkg-config --exists libffi 2>/dev/null || need+=(libffi-dev pkg-config)
# memwin-conform --traces and memwin_trace_tests read gzip-compressed traces.
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
have valgrind || need+=(valgrind)
have clang || need+=(clang)
# libFuzzer and the sanitizer runtimes for clang (only a Recommends of clang).
compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
    need+=(libclang-rt-14-dev)
have gnuplot || need+=(gnuplot-nox)  # bench/run.sh: plots
have strace || need+=(strace)        # bench/run.sh: system calls per transition
have gcovr || need+=(gcovr)
have flock || need+=(util-linux)
have dpkg-source || need+=(dpkg-dev)  # tools/libffi-mingw.sh: Debian's libffi source
have make || need+=(make)
# tools/mutation/run.sh installs universalmutator (PyPI) into a venv.
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    echo "install-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${need[@]}"
fi
have go || { echo "install-deps: Go (1.26) must be on PATH" >&2; exit 1; }
# memwin-conform for Windows links a libffi cross-built from Debian's source.
"$(dirname "$0")/libffi-mingw.sh"
echo "install-deps: all present"
