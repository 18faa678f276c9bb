#!/bin/sh
# make_variant.sh SED_SCRIPT SRC_FILE OUT_FILE: applies one variant's edit and
# fails if it changed nothing (src/ drifted: the variant would be a copy).
set -e
sed -f "$1" "$2" > "$3.tmp"
if cmp -s "$2" "$3.tmp"; then
  echo "memwin-conform: $(basename "$1") did not change $(basename "$2")" >&2
  rm -f "$3.tmp"
  exit 1
fi
mv "$3.tmp" "$3"
