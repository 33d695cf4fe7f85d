#!/usr/bin/env bash
# Builds each deliberately broken variant of a protocol (the `Mutant`s of
# src/queue/notify.rs, and the `loom_mutant("...")` sites of src/sched,
# src/queue/stamped/by_stamp.rs and src/session/line.rs) and checks that the loom models guarding
# its rule FAIL against it. A mutant that passes means a model proves less
# than its docs say. Runnable by hand; slow (one loom build per mutant).
# Arguments, if any, pick the mutants to check (by name).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg corelane_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A target dir of its own: the mutant builds differ from the real one only
# by an environment variable, and must never overwrite it.
target="${LOOM_MUTANTS_TARGET_DIR:-target/loom-mutants}"

# mutant: the models (test file:model) that must fail against it.
declare -A models=(
  # The wake-up cell (loom-tests/tests/notify.rs).
  [ParkedNotCounted]="notify:asymmetric_park_is_woken"
  [SwitchWithoutBarrier]="notify:park_across_the_switch notify:async_waits_across_the_switch"
  [PublisherSkipsFence]="notify:park_across_the_switch notify:async_waits_across_the_switch"
  [WaitersFenceEarly]="notify:two_waiters_during_the_switch"
  [WokenNotCleared]="notify:two_waiters_during_the_switch"
  [TimedParkKeepsCount]="notify:timed_park_leaves_the_counts_balanced"
  # The scheduler (loom-tests/tests/sched.rs). The doorbell's two fences
  # (src/sched/inbox.rs):
  [RingSkipsFence]="sched:inbox_push_vs_park sched:foreign_push_vs_park sched:two_senders_vs_park sched:remote_wake_during_poll"
  [ParkSkipsFence]="sched:inbox_push_vs_park sched:foreign_push_vs_park sched:two_senders_vs_park sched:remote_wake_during_poll"
  # Abort's Dekker pair (task rule 5, src/sched/task.rs):
  [PollSkipsFence]="sched:abort_vs_first_poll sched:abort_vs_first_poll_on_the_core"
  [AbortSkipsFence]="sched:abort_vs_first_poll sched:abort_vs_first_poll_on_the_core"
  # The steal's claim (src/queue/stamped/by_stamp.rs, `claim_ready_run`):
  [StealClaimNotAtomic]="sched:steal_vs_owner_pop"
  [StealStampRelaxed]="sched:steal_vs_owner_pop"
  # The session line (src/session/line.rs): the Release RMWs that pass
  # the cell on (rule 1), the re-check of the word that raises a WAIT bit
  # (rule 5), the wake of a gone end (rule 4), the consumed frame given up
  # by a drop (rules 2 and 4).
  [LinePublishRelaxed]="session_line:turns_hand_the_line_over session_line:async_and_parked_ends"
  [LineHandOverRelaxed]="session_line:frames_in_a_row_wait_for_the_hand_over"
  [LineRecheckIgnored]="session_line:turns_hand_the_line_over session_line:frames_in_a_row_wait_for_the_hand_over session_line:an_abort_wakes_the_parked_peer session_line:async_and_parked_ends"
  [LineGoneWithoutWake]="session_line:an_abort_wakes_the_parked_peer session_line:a_parked_sender_learns_the_reader_left"
  [LineDropKeepsFrame]="session_line:each_payload_is_dropped_once"
)

if [ "$#" -gt 0 ]; then
  mutants=("$@")
else
  mutants=("${!models[@]}")
fi

# A log of our own: two runs at once (by hand and in CI) must not share one.
log="$(mktemp -t loom-mutant.XXXXXX)"
trap 'rm -f "$log"' EXIT

status=0
for mutant in "${mutants[@]}"; do
  if [ -z "${models[$mutant]:-}" ]; then
    echo "ERROR: no models listed for mutant $mutant"
    status=1
    continue
  fi
  for entry in ${models[$mutant]}; do
    test="${entry%%:*}" model="${entry#*:}"
    if CORELANE_LOOM_MUTANT="$mutant" cargo test --release -p corelane-loom-tests \
        --target-dir "$target" --test "$test" -- --exact "$model" >"$log" 2>&1; then
      echo "MUTANT SURVIVED: $mutant passes $test::$model"
      status=1
    elif grep -q "deadlock\|panicked" "$log"; then
      # The panic's message: the line after the first "panicked at".
      why="$(grep -m1 -A1 'panicked at' "$log" | sed -n 2p | cut -c1-80)"
      echo "ok: $mutant fails $test::$model ($why)"
    else
      echo "ERROR: $mutant / $model failed without a model failure (build error?)"
      tail -20 "$log"
      status=1
    fi
  done
done
exit $status
