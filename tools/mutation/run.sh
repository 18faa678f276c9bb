#!/bin/sh
# One-command mutation run of memwin (issue 18): see tools/mutation/README.md.
#   tools/mutation/run.sh [--sample N] [--seed S] [--files a.c,b.c] [--workers N]
#                         [--scenario-timeout S] [--out FILE]
# Environment: MUTATION_BUILD (scratch dir, default build/mutation),
#              MUTATION_VENV (universalmutator's venv, default build/mutation-venv),
#              MUTATION_BASE (build dir of the judges, default $MUTATION_BUILD/base),
#              MUTATION_BASE_ASAN (build dir of the ASan+UBSan memwin_tests,
#              default $MUTATION_BUILD/base-asan; "none": not built nor run),
#              MUTATION_JOURNAL (a gzip copy of the journal to go on from and
#              keep up to date, e.g. tools/mutation/journal.jsonl.gz: the full
#              run's, committed, so that --resume goes on in a fresh checkout).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${MUTATION_BUILD:-$root/build/mutation}
venv=${MUTATION_VENV:-$root/build/mutation-venv}
case $build in /*) ;; *) build=$root/$build ;; esac
case $venv in /*) ;; *) venv=$root/$venv ;; esac
cmdline="tools/mutation/run.sh $*"

# universalmutator from PyPI, in a venv of its own (created when missing).
if [ ! -x "$venv/bin/mutate" ]; then
  echo "run.sh: installing universalmutator into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'universalmutator==1.14.1'
fi

# The judges: memwin-conform and memwin_tests, built once from the real tree.
base=${MUTATION_BASE:-$build/base}
case $base in /*) ;; *) base=$root/$base ;; esac
if [ ! -f "$base/build.ninja" ]; then
  cmake -S "$root" -B "$base" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_CONFORM=ON >/dev/null
fi
ninja -C "$base" -j1 memwin memwin-conform memwin_tests memwin_alloc_fail_tests >/dev/null

# memwin's own judges besides memwin_tests: memwin_alloc_fail_tests (above)
# and memwin_tests built with ASan+UBSan, for memwin-scope mutants.
# MUTATION_BASE_ASAN=none leaves the second out (a quicker sample).
base_asan=${MUTATION_BASE_ASAN:-$build/base-asan}
if [ "$base_asan" != none ]; then
  case $base_asan in /*) ;; *) base_asan=$root/$base_asan ;; esac
  if [ ! -f "$base_asan/build.ninja" ]; then
    cmake -S "$root" -B "$base_asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMWIN_CONFORM=OFF \
      -DMEMWIN_WERROR=OFF -DMEMWIN_SANITIZE=address,undefined >/dev/null
  fi
  ninja -C "$base_asan" -j1 memwin_tests >/dev/null
  set -- --base-asan "$base_asan" "$@"
fi

if [ -n "${MUTATION_JOURNAL:-}" ]; then
  case $MUTATION_JOURNAL in /*) ;; *) MUTATION_JOURNAL=$root/$MUTATION_JOURNAL ;; esac
  set -- --journal-store "$MUTATION_JOURNAL" "$@"
fi

exec "$venv/bin/python" "$root/tools/mutation/mutate.py" --root "$root" --build "$build" \
  --base "$base" --mutate "$venv/bin/mutate" --cmdline "$cmdline" "$@"
