#!/usr/bin/env bash
# Formatting, clippy (both feature sets), docs with warnings denied.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --features hwloc -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features hwloc
