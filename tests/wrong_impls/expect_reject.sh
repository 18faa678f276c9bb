#!/bin/sh
# Assertions for the wrong-implementation tests (CMakeLists.txt here):
#   expect_reject.sh reject RUNNER LIB JSON SCENARIO[:STEP]...
#       memwin-conform must reject LIB (exit 1) and every SCENARIO must be
#       among the differing ones (first difference at STEP, if given).
#   expect_reject.sh accept RUNNER LIB JSON SCENARIO...
#       LIB must be identical to the goldens on every SCENARIO (run alone:
#       --only; exit 0).
#   expect_reject.sh all RUNNER LIB JSON
#       LIB must be rejected by no scenario (skips are fine).
#   expect_reject.sh failfast RUNNER LIB JSON
#       with --fail-fast, memwin-conform must reject LIB (exit 1) having
#       run fewer scenarios than there are, every one before the last
#       identical or skipped and the last not, and say that it stopped.
#   expect_reject.sh onedefect BASE.c WRONG_MACRO
#       BASE.c tests WRONG_MACRO in exactly one #if/#elif, whose code is
#       marked DEFECT (so the wrong library differs from the base there only).
set -u
mode=$1; shift
fail() { echo "FAIL: $*" >&2; exit 1; }
case $mode in
reject|accept|all)
  run=$1 lib=$2 json=$3; shift 3
  only=
  if [ "$mode" = accept ]; then
    only=$(echo "$@" | tr ' ' ,)
    only="--only $only"
  fi
  out=$("$run" $only --json "$json" "$lib"); rc=$?
  echo "$out"
  if [ "$mode" = reject ]; then
    [ $rc -eq 1 ] || fail "memwin-conform exit status $rc, want 1 ($lib not rejected)"
  else
    [ $rc -eq 0 ] || fail "memwin-conform exit status $rc, want 0 ($lib rejected)"
  fi
  [ -s "$json" ] || fail "no JSON written"
  for s in "$@"; do
    name=${s%%:*}
    line=$(grep "{\"name\": \"$name\"," "$json") || fail "scenario $name not run"
    if [ "$mode" = reject ]; then
      echo "$line" | grep -q '"result": "differs"' || fail "$name does not reject $lib: $line"
      if [ "$name" != "$s" ]; then
        echo "$line" | grep -q "\"step\": ${s#*:}," || fail "$name: first difference not at step ${s#*:}: $line"
      fi
      echo "caught by $s: $line"
    else
      echo "$line" | grep -q '"result": "identical"' || fail "$name is not identical for $lib: $line"
    fi
  done
  ;;
failfast)
  run=$1 lib=$2 json=$3
  out=$("$run" --fail-fast --json "$json" "$lib"); rc=$?
  echo "$out"
  [ $rc -eq 1 ] || fail "memwin-conform --fail-fast exit status $rc, want 1 ($lib not rejected)"
  echo "$out" | grep -q '^stopped at the first scenario not identical (--fail-fast)$' ||
    fail "no line saying that the run stopped"
  all=$(sed -n 's/^  "vectors": "\(.*\)",$/\1/p' "$json")
  [ -d "$all" ] || fail "no vectors directory in $json"
  total=$(ls "$all"/*.vec | wc -l)
  results=$(grep -o '"result": "[a-z]*"' "$json" | sed 's/.*: "//; s/"//')
  run_n=$(echo "$results" | wc -l)
  [ "$run_n" -lt "$total" ] || fail "$run_n of $total scenarios run: the run did not stop"
  bad=$(echo "$results" | grep -cv '^\(identical\|skipped\)$')
  [ "$bad" -eq 1 ] || fail "$bad scenarios not identical, want exactly 1 (the last)"
  echo "$results" | tail -1 | grep -qv '^\(identical\|skipped\)$' ||
    fail "the last scenario run is identical or skipped"
  echo "stopped after $run_n of $total scenarios"
  ;;
onedefect)
  base=$1 macro=$2
  # The macro appears in exactly one #if/#elif of BASE.c, and the block it
  # selects is marked DEFECT.
  n=$(grep -c "^#\(el\)\?if.*defined($macro)" "$base")
  grep -n "defined($macro)" "$base"
  [ "$n" -eq 1 ] || fail "$macro is tested by $n #if lines of $base, want 1"
  grep -A1 "^#\(el\)\?if.*defined($macro)" "$base" | grep -q 'DEFECT' ||
    fail "the code $macro selects in $base is not marked DEFECT"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo PASS
