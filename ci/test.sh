#!/usr/bin/env bash
# The README's test command, then the hwloc feature. Runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
# The hwloc back-end: the topology unit tests and every topology test file,
# including the check that both back-ends agree on this machine.
cargo test --features hwloc --lib topology::
cargo test --features hwloc --test topology_backends --test topology_fixtures --test topology_live
# The serde Encoding of session::codec (its doc test round-trips a value).
cargo test --features serde --doc session::codec
# FIX interop of examples/fix_session.rs with QuickFIX, both ways (~15 s).
FIX_INTEROP_REQUIRED=1 tests/quickfix/run.sh
