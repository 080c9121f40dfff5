# Sourced by the scripts that drive a real browser (test.sh, screenshot.sh): installs
# Debian's Chromium and its WebDriver, chromedriver, when either is missing. Neither comes
# with Rust; tests/browser/driver.rs looks for them at the same paths. Its sourcers also
# get install_packages (lib/packages.sh).
#
#   source "$ROOT/scripts/lib/browser.sh"
#   install_browser

# shellcheck source=packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

install_browser() {
    local need=()
    [[ -x $CHROMIUM ]] || need+=(chromium)
    [[ -x $CHROMEDRIVER ]] || need+=(chromium-driver)
    ((${#need[@]})) || return 0
    install_packages "${need[@]}"
}
