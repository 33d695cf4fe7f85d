#!/usr/bin/env bash
# Benches must compile; the main example runs in quick mode (figures are not
# judged in CI: the machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --no-run
cargo run --release --example latency -- --quick
