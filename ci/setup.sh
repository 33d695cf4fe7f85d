#!/usr/bin/env bash
# Installs the system libraries the crate needs (the `hwloc` feature links
# against the system hwloc; the FIX interop test, tests/quickfix/run.sh,
# builds against QuickFIX). Runnable by hand; needs root or sudo.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! pkg-config --exists hwloc 2>/dev/null || [ ! -f /usr/include/quickfix/Application.h ]; then
  $SUDO apt-get update
  # libquickfix-dev and g++: the FIX interop test (tests/quickfix/run.sh).
  $SUDO apt-get install -y libhwloc-dev libudev-dev pkg-config libquickfix-dev g++
fi
rustup component add clippy rustfmt 2>/dev/null || true
