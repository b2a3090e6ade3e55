#!/usr/bin/env bash
# Replays every conformance script on the real BEAM (all five registry
# stages, one BEAM invocation) and compares the dialogues with the recordings
# conformance/scripts/NAME.STAGE.out. A mismatching (script, stage) pair is
# replayed again, up to 3 attempts in all (the BEAM's own scheduling is not
# deterministic); it fails only if all 3 attempts differ. Excluded pairs
# (NAME.exclude, NAME.STAGE.exclude) are skipped.
#
# Then it replays the multi-client suite (conformance/multi/*.kv) MULTI_PLAYS
# times per (script, stage) (default 6, every other play with small random
# delays) and checks that every dialogue the BEAM prints is one recorded in
# multi/NAME.dialogues or listed in multi/kvsim-only.md. A dialogue in neither
# (the BEAM printed something rarer than the recording caught) fails only if
# kvsim cannot reach it either: kvsim is run on that pair under random, POS
# and PCT seeds (KVSIM, default target/debug/kvsim, built if missing) and a
# match is reported as a dialogue to record.
#
# Exit status: 0 all identical, 1 a pair differed 3 times (its unified diff
# is printed) or a multi-client dialogue is neither recorded nor reachable by
# kvsim, 2 elixir is missing or the runner could not run.
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

# ---- the multi-client suite: sets of dialogues -----------------------------

shopt -s nullglob
multi=("$here"/multi/*.kv)
shopt -u nullglob
multi_plays="${MULTI_PLAYS:-6}"
multi_failed=0
declare -A failed_pairs=()
if [ "${#multi[@]}" -gt 0 ]; then
  rc=0
  elixir "$runner" --check-multi "$multi_plays" --quiet --out "$tmp/multi" "${multi[@]}" \
    >"$tmp/unrecorded" 2>"$tmp/multi-stderr" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "check-beam.sh: the runner failed on the multi-client suite (exit $rc):" >&2
    cat "$tmp/multi-stderr" >&2
    exit 2
  fi

  kvsim_bin() {
    local bin="${KVSIM:-$here/../target/debug/kvsim}"
    if [ ! -x "$bin" ]; then
      (cd "$here/.." && cargo build --quiet --bin kvsim) >&2 || return 1
    fi
    echo "$bin"
  }

  # Prints the flags of the first schedule under which kvsim prints the
  # dialogue in FILE for SCRIPT on STAGE; fails if none does.
  kvsim_reaches() {
    local script="$1" stage="$2" file="$3" bin sched seed depth
    bin="$(kvsim_bin)" || return 1
    for seed in $(seq 0 999); do
      for sched in random pos; do
        if "$bin" run "$script" --registry "$stage" --schedule "$sched" --seed "$seed" | cmp -s - "$file"; then
          echo "--schedule $sched --seed $seed"
          return 0
        fi
      done
    done
    for depth in 1 2 3; do
      for seed in $(seq 0 199); do
        if "$bin" run "$script" --registry "$stage" --schedule pct --depth "$depth" --seed "$seed" | cmp -s - "$file"; then
          echo "--schedule pct --depth $depth --seed $seed"
          return 0
        fi
      done
    done
    return 1
  }

  unrecorded=0
  while IFS= read -r line; do
    kind="${line%% *}"
    rest="${line#* }"
    case "$kind" in
      MISSING)
        echo "--- no recording for $rest (conformance/record-multi.sh)"
        failed_pairs["$rest"]=1
        ;;
      UNRECORDED)
        file="${rest##* }"
        rest="${rest% *}"
        stage="${rest##* }"
        script="${rest% *}"
        name="$(basename "$script" .kv)"
        unrecorded=$((unrecorded + 1))
        if flags="$(kvsim_reaches "$script" "$stage" "$file")"; then
          echo "note: $name on $stage: the BEAM printed a dialogue not recorded, which kvsim reaches" \
            "(kvsim run conformance/multi/$name.kv --registry $stage $flags); re-record to keep it"
        else
          echo "--- $name on $stage: the BEAM printed a dialogue that is not recorded and that kvsim does not reach:"
          cat "$file"
          failed_pairs["$script $stage"]=1
        fi
        ;;
    esac
  done <"$tmp/unrecorded"

  multi_failed="${#failed_pairs[@]}"
  multi_pairs=$((${#multi[@]} * ${#stages[@]}))
  echo "beam-conformance-multi: ${#multi[@]} scripts x ${#stages[@]} stages x $multi_plays plays," \
    "$unrecorded unrecorded dialogue(s), $((multi_pairs - multi_failed)) passed, $multi_failed failed"
fi

if [ "$failed" -gt 0 ] || [ "$multi_failed" -gt 0 ]; then
  exit 1
fi
