#!/usr/bin/env bash
# Runs the whole test suite with mio built on poll(2) instead of epoll.
#
# mio is edge-triggered on epoll; on poll(2), which is level-triggered, it emulates edge
# triggering by dropping an interest once it has fired and re-arming it when an operation
# says WouldBlock. Code that drains every socket until WouldBlock works on both; code that
# stops early hangs on both, sooner or later. Passing here is the proof (docs/teaching.md).
#
# A separate target directory keeps the normal build (epoll) untouched: RUSTFLAGS changes
# invalidate every compiled crate.
#
# Usage: scripts/test-poll-backend.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="${RUSTFLAGS:-} --cfg mio_unsupported_force_poll_poll"
export CARGO_TARGET_DIR="${POLL_TARGET_DIR:-target/poll}"
echo "test-poll-backend: cargo test with RUSTFLAGS='$RUSTFLAGS' in $CARGO_TARGET_DIR" >&2
exec cargo test --no-fail-fast "$@"
