#!/usr/bin/env bash
# Replays every conformance script on the real BEAM (all five registry
# stages, one BEAM invocation) and compares the dialogues with the recordings
# conformance/scripts/NAME.STAGE.out. A mismatching (script, stage) pair is
# replayed again, up to 3 attempts in all (the BEAM's own scheduling is not
# deterministic); it fails only if all 3 attempts differ. Excluded pairs
# (NAME.exclude, NAME.STAGE.exclude) are skipped.
#
# Exit status: 0 all identical, 1 a pair differed 3 times (its unified diff
# is printed), 2 elixir is missing or the runner could not run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runner="$here/beam/kv_runner.exs"
stages=(naive monitored no-catch-all unlinked fixed)
attempts=3

if ! command -v elixir >/dev/null 2>&1; then
  echo "check-beam.sh: 'elixir' is not on PATH; install it (Debian: apt-get install -y elixir) and retry" >&2
  exit 2
fi

shopt -s nullglob
scripts=("$here"/scripts/*.kv)
shopt -u nullglob
if [ "${#scripts[@]}" -eq 0 ]; then
  echo "check-beam.sh: no scripts under $here/scripts" >&2
  exit 2
fi

# Count the pairs to play and the excluded ones.
total=0
excluded=0
for s in "${scripts[@]}"; do
  base="${s%.kv}"
  for st in "${stages[@]}"; do
    if [ -e "$base.exclude" ] || [ -e "$base.$st.exclude" ]; then
      excluded=$((excluded + 1))
    else
      total=$((total + 1))
    fi
  done
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

failed_file=""
for attempt in $(seq 1 "$attempts"); do
  out="$tmp/out$attempt"
  list="$tmp/mismatch$attempt"
  if [ "$attempt" -eq 1 ]; then
    args=("${scripts[@]}")
  else
    args=(--pairs "$failed_file")
  fi
  rc=0
  elixir "$runner" --check --quiet --out "$out" "${args[@]}" >"$list" 2>"$tmp/stderr$attempt" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "check-beam.sh: the runner failed (exit $rc):" >&2
    cat "$tmp/stderr$attempt" >&2
    exit 2
  fi
  n="$(grep -c -E '^(MISMATCH|MISSING) ' "$list" || true)"
  if [ "$attempt" -gt 1 ] || [ "$n" -gt 0 ]; then
    echo "attempt $attempt: $n mismatching pair(s)"
  fi
  failed_file="$list"
  if [ "$n" -eq 0 ]; then
    break
  fi
done

failed="$(grep -c -E '^(MISMATCH|MISSING) ' "$failed_file" || true)"
if [ "$failed" -gt 0 ]; then
  last_out="$tmp/out$attempt"
  while IFS= read -r line; do
    stage="${line##* }"
    script="${line#* }"
    script="${script% *}"
    name="$(basename "$script" .kv)"
    rec="${script%.kv}.$stage.out"
    [ -e "$rec" ] || rec=/dev/null
    echo "--- $name ($stage) differed in all $attempts attempts:"
    diff -u --label "recorded $name.$stage.out" --label "beam $name.$stage.out" \
      "$rec" "$last_out/$name.$stage.out" || true
  done <"$failed_file"
fi

echo "$(elixir "$runner" --versions); ${#scripts[@]} scripts x ${#stages[@]} stages, $excluded pair(s) excluded"
echo "beam-conformance: $((total - failed)) passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  exit 1
fi
