#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs `cargo test` with the
# arguments given (`scripts/test.sh --test browser`, `scripts/test.sh -- --nocapture`, ...).
#
# The browser tests (tests/browser) drive Debian's headless Chromium through its WebDriver,
# chromedriver; both are installed here from Debian's packages when missing (lib/browser.sh).
# A test that still finds either missing fails, naming this script: nothing is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/browser.sh
source "$ROOT/scripts/lib/browser.sh"

install_browser
cd "$ROOT"
exec cargo test "$@"
