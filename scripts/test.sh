#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs `cargo test` with the
# arguments given (`scripts/test.sh --test browser`, `scripts/test.sh -- --nocapture`, ...).
#
# The browser tests (tests/browser) drive Debian's headless Chromium through its WebDriver,
# chromedriver. Neither comes with Rust, so they are installed here from Debian's packages
# when missing (as root, as CI runs; otherwise through sudo). A test that still finds either
# missing fails, naming this script: nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# How long apt-get waits for another install to release dpkg's lock before failing: an
# unattended upgrade or a colleague's install may hold it for minutes.
APT_LOCK_TIMEOUT_S=600
# Where the browser tests look for them (tests/browser/driver.rs names the same paths).
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

log() { echo "test.sh: $*" >&2; }

install_browser() {
    local need=()
    [[ -x $CHROMIUM ]] || need+=(chromium)
    [[ -x $CHROMEDRIVER ]] || need+=(chromium-driver)
    ((${#need[@]})) || return 0
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    log "installing ${need[*]} from Debian's packages (the browser tests need them)"
    local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_S")
    "${sudo[@]}" apt-get "${lock[@]}" update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${lock[@]}" install -y -qq chromium chromium-driver >/dev/null
}

install_browser
exec cargo test "$@"
