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
  # A short -fuzzminimizetime keeps a worker from minimizing past the end
  # of a brief run. The Go fuzzing engine can still report "context
  # deadline exceeded" when its deadline fires on a busy worker (no input
  # failed; golang/go#56238): that, and only that, is run once more. A
  # real failure prints "Failing input written to" and fails at once.
  fuzzrun() { go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s -parallel "${FUZZPARALLEL:-2}" 2>&1 | tee /dev/stderr; }
  if ! out=$(fuzzrun); then
    if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      echo "=== $pkg $name: the fuzzing engine's deadline, not a failing input: once more"
      fuzzrun >/dev/null || failed+=("$pkg $name")
    else
      failed+=("$pkg $name")
    fi
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all fuzz targets passed"
