# Sourced by matrix.sh, check.sh and bench.sh: the names that differ per
# Windows port (their --arch).  memwin_port ARCH sets sfx (suffix of the
# port's build directories, "" for amd64), mingw (the C compiler of its cgo),
# toolchain (CMake's mingw-w64 toolchain file for its memwin.dll) and port
# (" windows/386" in titles, "" for amd64); root must be set.
memwin_port() {
    case $1 in
    amd64) sfx="" mingw=x86_64-w64-mingw32-gcc toolchain=$root/cmake/toolchain-mingw-w64.cmake port="" ;;
    386)
        sfx=-386 mingw=i686-w64-mingw32-gcc toolchain=$root/cmake/toolchain-mingw-w64-i686.cmake
        port=" windows/386"
        ;;
    *) echo "$(basename "$0"): --arch wants amd64 or 386" >&2; exit 2 ;;
    esac
}
