#!/usr/bin/env bash
# Mutation testing of the pure core (docs/testing.md § Mutation testing).
#
#   scripts/mutation.sh                      every module of sansio/ and codecs/, one by one
#   scripts/mutation.sh sansio.cycle         one module (or several)
#
# mutmut (configured in pyproject.toml, [tool.mutmut]) copies the tree to mutants/, runs the
# unit tests and the memory store's contract suite once to learn which tests reach which
# function, then runs only those tests against each mutant. One worker, niced, one module at
# a time: the machine is shared. Results accumulate in mutants/ (`mutmut results`,
# `mutmut show NAME`); the last line of each module's run is its tally.
set -euo pipefail
cd "$(dirname "$0")/.."
MUTMUT=${MUTMUT:-.venv/bin/mutmut}
if [ "$#" -eq 0 ]; then
  set -- $(cd src/sessionary && ls sansio/*.py codecs/*.py | grep -v __init__ | sed 's/\.py$//; s|/|.|')
fi
for module in "$@"; do
  echo "== sessionary.$module"
  nice -n 10 "$MUTMUT" run --max-children 1 "sessionary.$module.*" 2>&1 | tr '\r' '\n' | tail -n 2 || true
done
