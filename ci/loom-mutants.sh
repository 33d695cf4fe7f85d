#!/usr/bin/env bash
# Builds each deliberately broken variant of the wake-up cell (the `Mutant`s
# of src/queue/notify.rs) and checks that the loom models guarding its rule
# FAIL against it. A mutant that passes means a model proves less than its
# docs say. Runnable by hand; slow (one loom build per mutant).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg corelane_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A target dir of its own: the mutant builds differ from the real one only
# by an environment variable, and must never overwrite it.
target="${LOOM_MUTANTS_TARGET_DIR:-target/loom-mutants}"

# mutant: the models of loom-tests/tests/notify.rs that must fail against it.
declare -A models=(
  [ParkedNotCounted]="asymmetric_park_is_woken"
  [SwitchWithoutBarrier]="park_across_the_switch async_waits_across_the_switch"
  [PublisherSkipsFence]="park_across_the_switch async_waits_across_the_switch"
  [WaitersFenceEarly]="two_waiters_during_the_switch"
  [WokenNotCleared]="two_waiters_during_the_switch"
  [TimedParkKeepsCount]="timed_park_leaves_the_counts_balanced"
)

# A log of our own: two runs at once (by hand and in CI) must not share one.
log="$(mktemp -t loom-mutant.XXXXXX)"
trap 'rm -f "$log"' EXIT

status=0
for mutant in "${!models[@]}"; do
  for model in ${models[$mutant]}; do
    if CORELANE_LOOM_MUTANT="$mutant" cargo test --release -p corelane-loom-tests \
        --target-dir "$target" --test notify -- --exact "$model" >"$log" 2>&1; then
      echo "MUTANT SURVIVED: $mutant passes $model"
      status=1
    elif grep -q "deadlock\|panicked" "$log"; then
      echo "ok: $mutant fails $model ($(grep -oE 'deadlock[^]]*|assertion .*failed.*' "$log" | head -1 | cut -c1-60))"
    else
      echo "ERROR: $mutant / $model failed without a model failure (build error?)"
      tail -20 "$log"
      status=1
    fi
  done
done
exit $status
