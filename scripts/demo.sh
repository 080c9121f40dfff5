#!/usr/bin/env bash
# A conversation on a real server, played by scripts: the server on a free loopback port,
# the doctor bot, and two imclient users (alice and bob) whose typing comes from this
# script through fifos. It shows what each one types and sees, then everyone's full
# screen, and stops everything by itself (a trap cleans up, even on failure or Ctrl-C).
#
# Usage: scripts/demo.sh          (DEMO_TIMEOUT=SECONDS bounds the run; default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

timeout_s="${DEMO_TIMEOUT:-30}"
echo "demo: building" >&2
# shellcheck source=lib/bins.sh
source scripts/lib/bins.sh
build_bins --bin imserver --bin imclient --example doctor
imserver=$(bin_path imserver)
imclient=$(bin_path imclient)
doctor_bin=$(bin_path doctor)

work="$(mktemp -d)"
pids=()
cleanup() {
    exec 3>&- 4>&- 2>/dev/null || true
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

deadline=$((SECONDS + timeout_s))

# Waits until FILE has a line containing TEXT (a fixed string), polling; fails the demo at
# the deadline, so it never hangs.
wait_for() {
    local file="$1" text="$2"
    until grep -qF -- "$text" "$file" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "demo: timed out waiting for \"$text\" in $(basename "$file"):" >&2
            cat "$file" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
}

# Shows the first line of FILE containing TEXT, as WHO sees it, once it is there.
see() {
    local who="$1" file="$2" text="$3"
    wait_for "$file" "$text"
    printf '%-6s sees   %s\n' "$who" "$(grep -F -- "$text" "$file" | head -n 1)"
}

# Types LINE into the imclient whose stdin is file descriptor FD.
type_as() {
    local who="$1" fd="$2" line="$3"
    printf '%-6s types  %s\n' "$who" "$line"
    echo "$line" >&"$fd"
}

"$imserver" --listen 127.0.0.1:0 --http off --presence-interval-ms 200 >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "$work/server.log" "listening on "
addr="$(sed -n 's/.*listening on //p' "$work/server.log" | head -n 1)"
echo "demo: server on $addr"

"$doctor_bin" --server "$addr" >"$work/doctor.log" 2>&1 &
doctor=$!
pids+=("$doctor")
wait_for "$work/doctor.log" "registered as doctor"

# Each user types through a fifo; the script holds its writing end open (fds 3 and 4), so
# closing that end is the user's end of input.
mkfifo "$work/alice.in" "$work/bob.in"
"$imclient" --server "$addr" --name alice <"$work/alice.in" >"$work/alice.out" &
alice=$!
pids+=("$alice")
exec 3>"$work/alice.in"
see alice "$work/alice.out" "* registered as alice"
"$imclient" --server "$addr" --name bob --status "studying" <"$work/bob.in" >"$work/bob.out" &
bob=$!
pids+=("$bob")
exec 4>"$work/bob.in"

see alice "$work/alice.out" "* bob came online (studying)"
type_as alice 3 "/invite bob doctor"
see alice "$work/alice.out" "* you started this conversation"
id="$(sed -n 's/^\[\([0-9]*\)\] \* you started this conversation$/\1/p' "$work/alice.out")"
see bob "$work/bob.out" "[$id] * invited by alice"
type_as bob 4 "/join $id"
see alice "$work/alice.out" "[$id] doctor: Good day."
see alice "$work/alice.out" "[$id] * bob joined"

type_as alice 3 "Hello both. I am worried about my exam."
see bob "$work/bob.out" "[$id] alice: Hello both."
see alice "$work/alice.out" "you are worried about your exam?"
type_as bob 4 "/status away"
see alice "$work/alice.out" "* bob is now away"
type_as bob 4 "me too, my exam is tomorrow"
see alice "$work/alice.out" "[$id] bob: me too"
see bob "$work/bob.out" "your exam is tomorrow?"
type_as bob 4 "/leave $id"
see alice "$work/alice.out" "[$id] * bob left"
type_as alice 3 "/list"
see alice "$work/alice.out" "(current)"
type_as alice 3 "/quit"
exec 4>&-
echo "bob    closes his input (end of input: imclient says GOODBYE)"
wait "$alice" || { echo "demo: alice's imclient failed" >&2; exit 1; }
wait "$bob" || { echo "demo: bob's imclient failed" >&2; exit 1; }
kill -INT "$doctor"
wait "$doctor" || { echo "demo: the doctor failed" >&2; exit 1; }

for who in alice bob; do
    echo
    echo "----- $who's screen -----"
    cat "$work/$who.out"
done
echo
echo "demo: done; everyone signed off"
