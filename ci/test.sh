#!/usr/bin/env bash
# The README's test command, then the hwloc feature. Runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
cargo test --features hwloc --lib --tests topology
