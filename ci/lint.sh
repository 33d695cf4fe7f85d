#!/usr/bin/env bash
# Formatting, clippy (both feature sets, and the loom cfg), docs with
# warnings denied.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --features hwloc,serde -- -D warnings
# The loom build of the crate and its models (the loom tests' target dir).
RUSTFLAGS="--cfg corelane_loom" cargo clippy --target-dir target/loom \
    -p corelane -p corelane-loom-tests --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features hwloc,serde
