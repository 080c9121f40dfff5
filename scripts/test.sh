#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs `cargo test` with the
# arguments given (`scripts/test.sh --test browser`, `scripts/test.sh -- --nocapture`, ...),
# and with none, the protocol's suites again against a three-node cluster (below).
#
# The browser tests (tests/browser) drive Debian's headless Chromium through its WebDriver,
# chromedriver; both are installed here from Debian's packages when missing (lib/browser.sh).
# The Redis tests (tests/common/redis.rs) start their own redis-server on 127.0.0.1 and
# inspect it with redis-cli; Debian's redis-server (which brings redis-tools, redis-cli's
# package) is installed here when missing.
# A test that still finds any of them missing fails, naming this script: nothing is
# skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/packages.sh
source "$ROOT/scripts/lib/packages.sh"
# shellcheck source=lib/browser.sh
source "$ROOT/scripts/lib/browser.sh"

install_browser
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    install_packages redis-server
fi
cd "$ROOT"

# The page's model (web/protocol.js) has unit tests of its own, run by Node's built-in
# runner: no npm packages. Node comes from Debian's packages when missing.
if ! command -v node >/dev/null; then
    install_packages nodejs
fi
node --test web/tests/

cargo test "$@"

# The protocol's black-box suites once more, against a cluster: three imserver nodes
# sharing one Redis (`--engine redis`), each test's clients spread over the nodes in turn
# (`IMCHAT_TEST_NODES`, tests/common/mod.rs). Tests of what holds per node (limits,
# deadlines, shutdown) run on one node of the Redis engine. Only when no arguments narrow
# the run: `scripts/test.sh --test names` runs just what it names.
if [ "$#" -eq 0 ]; then
    IMCHAT_TEST_NODES=3 cargo test \
        --test conversations --test wire --test names --test admission --test shutdown \
        --test websocket --test page --test imclient --test imclient_reconnect \
        --test tls --test logs --test imload --test imload_servers
fi
