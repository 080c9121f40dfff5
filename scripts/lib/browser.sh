# Sourced by the scripts that drive a real browser (test.sh, screenshot.sh): installs
# Debian's Chromium and its WebDriver, chromedriver, when either is missing. Neither comes
# with Rust; tests/browser/driver.rs looks for them at the same paths.
#
#   source "$ROOT/scripts/lib/browser.sh"
#   install_browser

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
# How long apt-get waits for another install to release dpkg's lock before failing: an
# unattended upgrade or a colleague's install may hold it for minutes.
APT_LOCK_TIMEOUT_S=600

install_browser() {
    local need=()
    [[ -x $CHROMIUM ]] || need+=(chromium)
    [[ -x $CHROMEDRIVER ]] || need+=(chromium-driver)
    ((${#need[@]})) || return 0
    if ! command -v apt-get >/dev/null; then
        echo "${0##*/}: the browser tests need $CHROMIUM and $CHROMEDRIVER (Debian's" \
            "chromium and chromium-driver); without apt-get, install them there yourself" >&2
        return 1
    fi
    # As root (CI is), apt-get itself; otherwise through sudo.
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    echo "${0##*/}: installing ${need[*]} from Debian's packages (the browser tests need them)" >&2
    local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_S")
    "${sudo[@]}" apt-get "${lock[@]}" update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${lock[@]}" install -y -qq chromium chromium-driver >/dev/null
}
