#!/usr/bin/env bash
# Benches must compile; the main example runs in quick mode (figures are not
# judged in CI: the machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --no-run
cargo run --release --example latency -- --quick
# The user programs of issue 11 check their own results and exit non-zero
# when an item is lost, duplicated or out of order.
cargo run --release --example trading_pipeline -- --quick
cargo run --release --example async_orders -- --quick
cargo run --release --example bytes_fanout -- --quick
cargo run --release --example bytes_fanout -- --quick --crash-journal
# The sched engine skeleton checks its own order and journal accounting.
cargo run --release --example engine -- --quick
# The io_uring server loop (issue 13): every echo checked byte for byte
# against tokio, monoio and a mio loop (exits non-zero on a mismatch).
cargo build --release --example echo_server
cargo run --release --example echo_load -- --quick
# The session-typed FIX example (issue 14): both sides in this process,
# over io_uring TCP and over the rings; exits non-zero if an order or a
# report is lost, out of order or wrong, or a session ends without Logout.
cargo run --release --example fix_session -- --quick
cargo run --release --example fix_session -- --quick --in-process
# The broker (issue 15): the load generator against the corelane broker
# (block and drop policies) and the tokio reference, both as child
# processes; exits non-zero if a block-policy subscriber misses a message
# or sees one out of order.
cargo build --release --example broker
cargo run --release --example broker_load -- --quick
