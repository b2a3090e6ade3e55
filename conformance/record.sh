#!/usr/bin/env bash
# Regenerates the generated scripts (gen_NNN.kv, from the seeded generator)
# and re-records the BEAM's dialogue for every script x stage as
# conformance/scripts/NAME.STAGE.out. Then replays the whole set RUNS more
# times (default 3) and lists every (script, stage) pair whose output
# changed: such a pair is timing-dependent and must be made deterministic
# with SETTLE or excluded (NAME.STAGE.exclude or NAME.exclude, one line:
# the reason). Excluded pairs get no .out file.
#
#   conformance/record.sh            # seed 4, 100 generated scripts
#   SEED=4 COUNT=100 RUNS=3 conformance/record.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runner="$here/beam/kv_runner.exs"
seed="${SEED:-4}"
count="${COUNT:-100}"
runs="${RUNS:-3}"

if ! command -v elixir >/dev/null 2>&1; then
  echo "record.sh: 'elixir' is not on PATH; install it (Debian: apt-get install -y elixir) and retry" >&2
  exit 2
fi

rm -f "$here"/scripts/gen_*.kv
python3 "$here/gen_scripts.py" --seed "$seed" --count "$count" --out "$here/scripts"

rm -f "$here"/scripts/*.out
elixir "$runner" --out "$here/scripts" "$here"/scripts/*.kv

unstable=0
for i in $(seq 1 "$runs"); do
  rc=0
  elixir "$runner" --check --quiet "$here"/scripts/*.kv >"$here/.record-check" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "replay $i: these pairs changed:"
    cat "$here/.record-check"
    unstable=1
  else
    echo "replay $i: identical"
  fi
done
rm -f "$here/.record-check"
echo "recorded with $(elixir "$runner" --versions)"
if [ "$unstable" -ne 0 ]; then
  echo "record.sh: timing-dependent pairs found: add SETTLE or an exclusion file, then record again" >&2
  exit 1
fi
