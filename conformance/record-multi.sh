#!/usr/bin/env bash
# Re-records the multi-client suite: plays every script under multi/ on every
# registry stage PLAYS times (default 1000) in each of four BEAM
# configurations — one scheduler (+S 1) and two (+S 2), each without and with
# small random delays before every command — and writes, per script,
# multi/NAME.dialogues: every distinct dialogue the BEAM printed, per stage,
# with its count per configuration, and the BEAM versions. Then review
# `git diff` and run `cargo test --test conformance_multi`.
#
#   conformance/record-multi.sh               # 4 x 1000 plays per (script, stage)
#   PLAYS=200 conformance/record-multi.sh     # a quicker, thinner recording
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runner="$here/beam/kv_runner.exs"
plays="${PLAYS:-1000}"

if ! command -v elixir >/dev/null 2>&1; then
  echo "record-multi.sh: 'elixir' is not on PATH; install it (Debian: apt-get install -y elixir) and retry" >&2
  exit 2
fi

shopt -s nullglob
scripts=("$here"/multi/*.kv)
shopt -u nullglob
if [ "${#scripts[@]}" -eq 0 ]; then
  echo "record-multi.sh: no scripts under $here/multi" >&2
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

counts=()
for s in 1 2; do
  for delays in "" --delays; do
    file="$tmp/s$s$delays"
    start=$SECONDS
    elixir --erl "+S $s" "$runner" $delays --plays "$plays" --counts "$file" "${scripts[@]}"
    echo "  (+S $s ${delays:-no delays}: $((SECONDS - start)) s)"
    counts+=("$file")
  done
done

rm -f "$here"/multi/*.dialogues
elixir "$runner" --merge "$here/multi" "${counts[@]}"
echo "recorded with $(elixir "$runner" --versions)"
