# Sourced by the scripts that drive a real browser (test.sh, screenshot.sh): installs
# Debian's Chromium and its WebDriver, chromedriver, when either is missing (and, for
# test.sh, Node for the page's own unit tests). Neither comes
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
    install_packages "${need[@]}"
}

# Installs Debian packages, as root (CI is) or through sudo; without apt-get, says what to
# install instead.
install_packages() {
    if ! command -v apt-get >/dev/null; then
        echo "${0##*/}: the tests need Debian's $*; without apt-get, install them yourself" >&2
        return 1
    fi
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    echo "${0##*/}: installing $* from Debian's packages (the tests need them)" >&2
    local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_S")
    "${sudo[@]}" apt-get "${lock[@]}" update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${lock[@]}" install -y -qq "$@" >/dev/null
}
