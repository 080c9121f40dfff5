#!/usr/bin/env bash
# Makes docs/screenshot.png, the README's picture of the page, from a real run: a real
# imserver on free ports, three imclient users, and alice's page in headless Chromium,
# driven into a conversation with a few messages, an unread one elsewhere and an invitation
# waiting (tests/browser/screenshot.rs, a test that writes the picture only when the
# script asks, does the driving).
#
#   scripts/screenshot.sh             writes docs/screenshot.png
#   scripts/screenshot.sh OUT.png     writes OUT.png instead
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/browser.sh
source "$ROOT/scripts/lib/browser.sh"

OUT="$(realpath -m "${1:-$ROOT/docs/screenshot.png}")"
install_browser
cd "$ROOT"
IMCHAT_SCREENSHOT="$OUT" cargo test --quiet --test browser -- \
    --exact screenshot::screenshot_for_the_readme
echo "screenshot.sh: wrote $OUT" >&2
