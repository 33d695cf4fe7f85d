#!/usr/bin/env bash
# Installs the system libraries the crate needs (the `hwloc` feature links
# against the system hwloc). Runnable by hand; needs root or sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! pkg-config --exists hwloc 2>/dev/null; then
  $SUDO apt-get update
  $SUDO apt-get install -y libhwloc-dev libudev-dev pkg-config
fi
rustup component add clippy rustfmt 2>/dev/null || true
