# shellcheck shell=bash
# Sourced by the scripts that install what they need from Debian's packages when it is
# missing (test.sh, and through lib/browser.sh screenshot.sh, check-service.sh,
# bench-tls.sh): one way to install, with one lock timeout.
#
#   source "$ROOT/scripts/lib/packages.sh"
#   command -v jq >/dev/null || install_packages jq

# How long apt-get waits for another install to release dpkg's lock before failing: an
# unattended upgrade or a colleague's install may hold it for minutes.
APT_LOCK_TIMEOUT_S=600

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
