#!/usr/bin/env bash
# Server memory per idle registered connection: imserver, Redis and ngIRCd each hold
# N idle clients (logged in, no conversation, no traffic); the growth of the server's
# resident set size, divided by N, is the cost of one connection in user space (kernel
# socket buffers are not in RSS).
#
#   scripts/mem-per-conn.sh                    10,000 connections against each server
#   scripts/mem-per-conn.sh --clients 19000    more (bounded by `ulimit -Hn` per process)
#   scripts/mem-per-conn.sh --only im          one server
#
# Helpers (install, build, start, stop) come from bench-peers.sh (scripts/lib/peers.sh).

set -euo pipefail
# shellcheck source=bench-peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-peers.sh"

# Connections are spread over these loopback source addresses, so more fit than one
# address has ephemeral ports.
SOURCE_IPS=127.0.0.1-127.0.0.8
# How long imload may take to connect and register everyone before the run is abandoned.
HOLD_PATIENCE_S=120

rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# measure TARGET N: prints one table row.
measure() {
    local target=$1 n=$2 before after tries rate=5000
    # ngIRCd accepts and welcomes new users ever more slowly as it holds more (its welcome
    # counts users), and its listen backlog is short: faster, and the kernel drops
    # handshakes that then wait on TCP retransmission.
    [[ $target == irc ]] && rate=250
    start_server "$target"
    wait_idle "$SERVER_PID"
    before=$(rss_kib "$SERVER_PID")
    taskset -c "$LOAD_CPU" "$IMLOAD" --server "127.0.0.1:$PORT" --target "$target" \
        --clients "$n" --idle --connect-rate "$rate" --source-ips "$SOURCE_IPS" \
        >"$WORK/idle.out" 2>"$WORK/idle.err" &
    local load=$!
    tries=$((HOLD_PATIENCE_S * 10))
    # imload says so on stderr (its stdout is for the report).
    until grep -q "holding them" "$WORK/idle.err"; do
        if ! kill -0 "$load" 2>/dev/null || ((tries-- == 0)); then
            log "$target: imload did not register $n clients: $(tail -1 "$WORK/idle.err")"
            kill -INT "$load" 2>/dev/null || true
            wait "$load" || true
            cleanup_server
            echo "| $target | $n | n/a | n/a | n/a |"
            return
        fi
        sleep 0.1
    done
    # Registration answers and presence changes are written by now; let the server finish.
    wait_idle "$SERVER_PID"
    after=$(rss_kib "$SERVER_PID")
    kill -INT "$load"
    wait "$load" || true
    cleanup_server
    awk -v t="$target" -v n="$n" -v b="$before" -v a="$after" \
        'BEGIN { printf "| %s | %d | %.1f | %.1f | %.0f |\n", t, n, b / 1024, a / 1024, (a - b) * 1024 / n }'
}

cleanup_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    PIDS=()
}

mem_main() {
    local n=10000 only=""
    while (($#)); do
        case $1 in
        --clients) n=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        *)
            echo "usage: $0 [--clients N] [--only im|redis|irc]" >&2
            exit 2
            ;;
        esac
    done
    install_peers
    build
    raise_nofile
    setup_work
    log "open-file limit $(ulimit -n) per process"
    echo "| server | idle connections | RSS before (MiB) | RSS after (MiB) | bytes per connection |"
    echo "|---|---:|---:|---:|---:|"
    local target
    for target in im redis irc; do
        if [[ -z "$only" || "$only" == "$target" ]]; then
            measure "$target" "$n"
        fi
    done
}

mem_main "$@"
