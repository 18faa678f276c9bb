#!/usr/bin/env bash
# Runs a Windows program under Wine in memwin's private prefix (see
# prefix.sh), quietly, passing stdout, stderr and the exit status through.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WINEPREFIX=$("$here/prefix.sh")
export WINEPREFIX WINEDEBUG=-all
exec wine "$@"
