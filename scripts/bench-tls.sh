#!/usr/bin/env bash
# What TLS costs per delivery: the same imload run against one imserver, plain and over
# TLS, in interleaved rounds; the server pinned to CPU 0 and imload to CPU 1, 127.0.0.1 only.
#
#   scripts/bench-tls.sh [--rounds N] [--ks "2 10"] [--deliveries PER_S] [--duration S]
#
# Per K: a saturation run (imload offers far more than the server can take) and a run at a
# fixed rate of deliveries both modes carry at a fraction of a core, each giving deliveries/s and the server's CPU per
# delivery (`server_cpu_us_per_delivery`, from /proc/PID/stat over the measured window).
# The certificate is a P-256 one made here with openssl (installed from Debian's packages
# when missing), as Let's Encrypt issues by default. Prints a table; medians of the rounds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/bins.sh
source "$ROOT/scripts/lib/bins.sh"
# shellcheck source=lib/browser.sh
source "$ROOT/scripts/lib/browser.sh"

ROUNDS=3
KS="10 100"
CLIENTS=1000
SIZE=64
# Deliveries per second in the fixed-rate run (each message reaches K-1 others). Low enough
# that neither side nears a core: at a low rate every delivery is a write of its own (about
# 4 to 5 µs of server CPU on loopback, where the receiver's TCP work runs in the sender's
# call), so 200,000 a second already fill the server's core.
DELIVERIES=50000
DURATION=5
WARMUP=2
# Offered in the saturation run: far beyond what one core can deliver.
SATURATE=1000000
PORT=17111
while (($#)); do
    case $1 in
    --rounds) ROUNDS=$2 && shift 2 ;;
    --ks) KS=$2 && shift 2 ;;
    --deliveries) DELIVERIES=$2 && shift 2 ;;
    --duration) DURATION=$2 && shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--ks \"2 10\"] [--deliveries PER_S] [--duration S]" >&2 && exit 2 ;;
    esac
done
command -v openssl >/dev/null || install_packages openssl
command -v jq >/dev/null || install_packages jq
build_bins --release --bin imserver --bin imload
IMSERVER=$(bin_path imserver)
IMLOAD=$(bin_path imload)
WORK=$(mktemp -d /tmp/bench-tls.XXXXXX)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# run MODE K RATE: one imload run against a fresh server; prints its JSON report.
run() {
    local mode=$1 k=$2 rate=$3 tls=() load_tls=()
    if [[ $mode == tls ]]; then
        tls=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")
        load_tls=(--tls --ca "$WORK/cert.pem")
    fi
    taskset -c 0 "$IMSERVER" --listen "127.0.0.1:$PORT" --http off --max-line-rate off \
        --log-level info "${tls[@]}" 2>"$WORK/server.log" &
    SERVER_PID=$!
    # Loading the certificate takes a moment: imload starts once the server listens.
    for _ in $(seq 100); do
        grep -q "listening on" "$WORK/server.log" && break
        sleep 0.05
    done
    taskset -c 1 "$IMLOAD" --server "127.0.0.1:$PORT" --clients "$CLIENTS" --members "$k" \
        --size "$SIZE" --rate "$rate" --duration "$DURATION" --warmup "$WARMUP" \
        --server-pid "$SERVER_PID" --json "$WORK/report.json" "${load_tls[@]}" >/dev/null 2>"$WORK/load.log" ||
        { cat "$WORK/load.log" "$WORK/server.log" >&2; exit 1; }
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    cat "$WORK/report.json"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-4s %-10s %-6s %14s %16s %10s\n' K load mode "deliveries/s" "server µs/deliv" bound
for k in $KS; do
    for load in saturated fixed; do
        rate=$SATURATE
        [[ $load == fixed ]] && rate=$((DELIVERIES / (k - 1)))
        declare -A rates=() costs=() bounds=()
        for round in $(seq "$ROUNDS"); do
            for mode in plain tls; do
                report=$(run "$mode" "$k" "$rate")
                rates[$mode]+="$(jq .delivered_per_s <<<"$report") "
                costs[$mode]+="$(jq .server_cpu_us_per_delivery <<<"$report") "
                bounds[$mode]+="$(jq -r .bound <<<"$report"),"
                echo "bench-tls: K=$k $load $mode round $round: $(jq -c '{delivered_per_s, server_cpu_us_per_delivery, bound}' <<<"$report")" >&2
            done
        done
        for mode in plain tls; do
            printf '%-4s %-10s %-6s %14.0f %16.3f %10s\n' "$k" "$load" "$mode" \
                "$(tr ' ' '\n' <<<"${rates[$mode]}" | grep . | median)" \
                "$(tr ' ' '\n' <<<"${costs[$mode]}" | grep . | median)" \
                "${bounds[$mode]%,}"
        done
        unset rates costs bounds
    done
done
