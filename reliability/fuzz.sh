#!/usr/bin/env bash
# Runs every go-fuzz target of imgtool briefly (default 10s each; FUZZTIME=1m
# for longer). Independent of the Makefile, so CI can call it directly:
#   reliability/fuzz.sh            # all targets
#   reliability/fuzz.sh FuzzApply  # the named ones
# A crasher is written by `go test` to <pkg>/testdata/fuzz/<Target>/<hash>;
# commit it: it becomes a regression test that plain `go test` runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-10s}"
targets=(
  ./archive:FuzzFromReader
  ./archive:FuzzManifestJSON
  ./archive:FuzzIndexJSON
  ./tarball:FuzzApply
  ./tarball:FuzzAssemble
  ./reference:FuzzParse
  ./store:FuzzParseConfig
)
failed=()
for t in "${targets[@]}"; do
  pkg="${t%%:*}" name="${t##*:}"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  echo "=== $pkg $name ($fuzztime)"
  if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "${FUZZPARALLEL:-2}"; then
    failed+=("$pkg $name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all fuzz targets passed"
