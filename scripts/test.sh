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

# The page's model (web/protocol.js) has unit tests of its own, run by Node's built-in
# runner: no npm packages. Node comes from Debian's packages when missing.
if ! command -v node >/dev/null; then
    install_packages nodejs
fi
node --test web/tests/

exec cargo test "$@"
