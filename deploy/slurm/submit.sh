#!/usr/bin/env bash
# Submits `kvsim explore` as a Slurm job array of N shards and a merge step
# that runs once every shard has ended, whatever their exit codes
# (afterany: a shard that found a failure exits 1, which Slurm calls
# FAILED, and the merge must still run). Prints the two job ids.
#
#   deploy/slurm/submit.sh N [explore flags...]
#   deploy/slurm/submit.sh 3 --registry unlinked --runs 100000
#
# Environment: KVSIM (the binary, default `kvsim` on PATH), KVSIM_SHARDS
# (where reports go, default ./kvsim-shards). Jobs run in the current
# directory with its environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:?usage: submit.sh N [explore flags...]}
shift
case $n in
  '' | *[!0-9]*) echo "submit.sh: N must be a positive number of shards, not '$n'" >&2; exit 2 ;;
esac
[ "$n" -ge 1 ] || { echo "submit.sh: N must be at least 1" >&2; exit 2; }
shards=${KVSIM_SHARDS:-kvsim-shards}
mkdir -p "$shards"
rm -f "$shards"/shard-*.json "$shards"/merged.json
array=$(sbatch --parsable --array="0-$((n - 1))" \
  --output="$shards/task-%a.log" "$here/explore.sbatch" "$@")
merge=$(sbatch --parsable --dependency="afterany:$array" \
  --output="$shards/merge.log" "$here/merge.sbatch")
echo "$array $merge"
