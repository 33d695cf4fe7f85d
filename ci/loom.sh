#!/usr/bin/env bash
# loom model checks of every atomic protocol. Runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg corelane_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A target dir of its own, so the loom cfg never invalidates the main build.
cargo test --release -p corelane-loom-tests --target-dir target/loom "$@"
