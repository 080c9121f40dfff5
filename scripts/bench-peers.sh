#!/usr/bin/env bash
# Side-by-side benchmark: imserver, Redis pub/sub and ngIRCd under the same imload
# workload, in interleaved rounds, for conversations of K = 2, 10 and 100 members.
#
#   scripts/bench-peers.sh            full run (3 rounds of 3 s, medians; under 10 minutes)
#   scripts/bench-peers.sh --quick    one short round (under 2 minutes)
#   scripts/bench-peers.sh --smoke    K = 10 only, 100 clients, half a second per run, low
#                                     rates (under a minute): checks the machinery (build,
#                                     servers, imload, table), measures nothing
#
# The binaries are wherever cargo builds them (CARGO_TARGET_DIR is honoured). When a run
# fails, the temporary directory with every server's and imload's log is kept, and its
# path printed.
#
# Every server listens on 127.0.0.1 only and is pinned to CPU 0; imload is pinned to
# CPU 1. For each K and server there are two runs:
#   - saturation: offered load above what any of the three delivers on one core, so the
#     delivered rate is the server's maximum; the server's CPU time (utime + stime from
#     /proc/PID/stat) over the run, divided by the deliveries, is its cost per delivery;
#   - latency: the same moderate load for all three, well inside every server's capacity;
#     its corrected p50/p99 are reported.
# A "delivery" is a message reaching a member other than its sender: IRC does not echo a
# message to its sender, im and Redis do, so echoes are left out for all three.
#
# mem-per-conn.sh sources this file for its helper functions.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/bins.sh
source "$ROOT/scripts/lib/bins.sh"
# Set by build(): where cargo put them.
IMSERVER=""
IMLOAD=""

# Loopback ports away from the usual ones (6379, 6667, 6666), so a server already
# running on this machine is never the one measured.
IM_PORT=17101
REDIS_PORT=17102
IRC_PORT=17103
SERVER_CPU=0
LOAD_CPU=1
# Enough for 50,000 connections per process and some files, where the hard limit allows.
WANT_NOFILE=200000
# How long a server may take to start listening before the script gives up.
START_PATIENCE_S=10
# Backstop for a latency run: setup, warmup, duration and imload's own 10 s drain limit
# fit well inside it.
LATENCY_RUN_LIMIT_S=60
# How long a server may take to settle before a run: retiring the last run's clients.
IDLE_PATIENCE_S=30
# How long apt-get waits for another install to release dpkg's lock before failing.
APT_LOCK_TIMEOUT_S=600

PIDS=()
WORK=""
# Set when a run failed: the logs are kept.
KEEP_WORK=""

log() { echo "bench: $*" >&2; }

# Installs redis-server, ngircd and jq from Debian's packages if any is missing.
install_peers() {
    local need=()
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v ngircd >/dev/null || [[ -x /usr/sbin/ngircd ]] || need+=(ngircd)
    command -v jq >/dev/null || need+=(jq)
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        # Another install (unattended upgrades, a colleague's script) may hold dpkg's lock
        # for a while: wait for it instead of failing.
        local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_S")
        apt-get "${lock[@]}" update -qq
        DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq "${need[@]}" >/dev/null
    fi
}

build() {
    log "building imserver and imload (release)"
    build_bins --release --bin imserver --bin imload
    IMSERVER=$(bin_path imserver)
    IMLOAD=$(bin_path imload)
}

# Raises the open-file limit as far as the hard limit allows.
raise_nofile() {
    ulimit -n "$WANT_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}

setup_work() {
    WORK="$(mktemp -d /tmp/bench-peers.XXXXXX)"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# Stops exactly the servers this script started, by pid; removes the logs unless something
# failed (the script's exit status, or a run that gave no report).
cleanup() {
    local status=$? pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    [[ -n "$WORK" ]] || return 0
    if ((status != 0)) || [[ -n $KEEP_WORK ]]; then
        log "something failed; logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}

wait_port() {
    local port=$1 tries=$((START_PATIENCE_S * 10))
    while ((tries--)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    log "nothing listens on 127.0.0.1:$port after ${START_PATIENCE_S}s"
    return 1
}

# The server's log, shown when it does not start (and kept with the others).
server_failed() {
    log "$1 did not start; the end of $WORK/$1.log:"
    tail -n 20 "$WORK/$1.log" >&2 || true
    return 1
}

# start_server TARGET: starts one server pinned to SERVER_CPU; sets SERVER_PID and PORT.
start_server() {
    case $1 in
    im)
        PORT=$IM_PORT
        # No line rate: imload's clients are meant to send as fast as they are told.
        taskset -c "$SERVER_CPU" "$IMSERVER" --listen "127.0.0.1:$PORT" --http off --log-level warn \
            --max-connections 100000 --max-output $((64 << 20)) --max-line-rate off \
            >"$WORK/im.log" 2>&1 &
        ;;
    redis)
        PORT=$REDIS_PORT
        # No persistence, no limit on pub/sub output buffers (a saturated run queues a
        # lot), enough clients.
        taskset -c "$SERVER_CPU" redis-server --port "$PORT" --bind 127.0.0.1 \
            --save '' --appendonly no --protected-mode no --maxclients 100000 \
            --client-output-buffer-limit 'pubsub 0 0 0' --dir "$WORK" \
            >"$WORK/redis.log" 2>&1 &
        ;;
    irc)
        PORT=$IRC_PORT
        cat >"$WORK/ngircd.conf" <<EOF
[Global]
    Name = bench.imload
    Info = imload benchmark peer
    Listen = 127.0.0.1
    Ports = $PORT
    MotdPhrase = "imload benchmark"
[Limits]
    # No per-host or per-user caps, no flood penalties: the benchmark floods on purpose.
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxPenaltyTime = 0
    PingTimeout = 120
    PongTimeout = 60
[Options]
    # No lookups per connection: they would measure the resolver, not the server.
    DNS = no
    Ident = no
    PAM = no
EOF
        taskset -c "$SERVER_CPU" /usr/sbin/ngircd --nodaemon --config "$WORK/ngircd.conf" \
            >"$WORK/ngircd.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port "$PORT" || server_failed "$(server_log_name "$1")"
}

# The log file start_server writes for TARGET, without .log.
server_log_name() {
    case $1 in
    irc) echo ngircd ;;
    *) echo "$1" ;;
    esac
}

# Waits until a server has stopped working (its CPU time stands still for a moment), so
# that retiring the last run's clients is neither charged to the next run nor in its way.
wait_idle() {
    local pid=$1 last now tries=$((IDLE_PATIENCE_S * 4))
    last=$(cpu_ticks "$pid")
    while ((tries--)); do
        sleep 0.25
        now=$(cpu_ticks "$pid")
        ((now == last)) && return 0
        last=$now
    done
    log "server $pid still busy after ${IDLE_PATIENCE_S}s; going on"
}

# Stops one server this script started.
stop_server() {
    local pid=$1 kept=() p
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do
        [[ $p == "$pid" ]] || kept+=("$p")
    done
    PIDS=("${kept[@]}")
}

# CPU time of a process so far, in clock ticks (utime + stime, fields 14 and 15).
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# run_load TARGET PID PORT K RATE KIND: one imload run; appends a JSON line to results.
run_load() {
    local target=$1 pid=$2 port=$3 k=$4 rate=$5 kind=$6
    local json="$WORK/run.json" err="$WORK/imload-$target-k$k-$kind.err" before after ticks
    rm -f "$json"
    wait_idle "$pid"
    # Setup takes about a second; past warmup, duration and a few seconds more, a saturated
    # run is interrupted: imload then reports at once instead of draining its backlog. A
    # latency run ends by itself (imload bounds setup and drain); its limit is a backstop.
    local limit=$LATENCY_RUN_LIMIT_S
    if [[ $kind == saturation ]]; then
        limit=$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%d", w + d + 4 }')
    fi
    before=$(cpu_ticks "$pid")
    taskset -c "$LOAD_CPU" timeout -s INT "$limit" "$IMLOAD" --server "127.0.0.1:$port" \
        --target "$target" --clients "$CLIENTS" --members "$k" --size "$SIZE" --rate "$rate" \
        --duration "$DURATION" --warmup "$WARMUP" --json "$json" >/dev/null 2>"$err" || true
    after=$(cpu_ticks "$pid")
    if [[ ! -s "$json" ]]; then
        log "$target K=$k $kind: no report: $(tail -1 "$err") ($err)"
        KEEP_WORK=1
        return
    fi
    ticks=$((after - before))
    jq -c --arg kind "$kind" --argjson k "$k" --argjson ticks "$ticks" --argjson hz "$(getconf CLK_TCK)" \
        '{kind: $kind, k: $k, target: .target, delivered_per_s: .delivered_per_s,
          cpu_us: (if .delivered > 0 then $ticks / $hz * 1e6 / .delivered else null end),
          p50: (.latency_corrected_us.p50 / 1000), p99: (.latency_corrected_us.p99 / 1000),
          lost: .lost}' "$json" >>"$WORK/results.jsonl"
    log "$(tail -1 "$WORK/results.jsonl")"
}

# Prints the markdown table: medians over rounds, ratios to imserver.
print_table() {
    echo "| K | server | delivered msgs/s (saturated) | × imserver | p50 ms | p99 ms | server CPU µs/delivery |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    jq -rs '
      def median: sort | .[(length / 2 | floor)];
      def med(f): map(f) | map(select(. != null)) | if length > 0 then median else null end;
      def fmt(d): if . == null then "n/a" else (. * pow(10; d) | round) / pow(10; d) | tostring end;
      (map(select(.kind == "saturation" and .target == "im")) | group_by(.k)
        | map({key: (.[0].k | tostring), value: med(.delivered_per_s)}) | from_entries) as $im
      | group_by(.k)[] | group_by(.target)[]
      | (map(select(.kind == "saturation"))) as $sat
      | (map(select(.kind == "latency"))) as $lat
      | .[0] as $one
      | ($sat | med(.delivered_per_s)) as $rate
      | [($one.k | tostring), {"im": "imserver", "redis": "Redis", "irc": "ngIRCd"}[$one.target],
         ($rate | fmt(0)),
         (if $rate == null or $im[$one.k | tostring] == null then "n/a"
          else ($rate / $im[$one.k | tostring]) | fmt(2) end),
         ($lat | med(.p50) | fmt(3)), ($lat | med(.p99) | fmt(3)),
         ($sat | med(.cpu_us) | fmt(3))]
      | "| " + join(" | ") + " |"' "$WORK/results.jsonl"
}

main() {
    local mode=full
    case "${1:-}" in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    "") ;;
    *)
        echo "usage: $0 [--quick | --smoke]" >&2
        exit 2
        ;;
    esac
    # Clients per run: enough sockets that the server's per-connection work shows, few
    # enough that setup takes well under a second.
    CLIENTS=1000
    SIZE=64
    # Offered deliveries per second: saturation is above what any of the three delivers
    # on one core of this machine (at K = 100, imload on its own core is then the limit
    # for imserver and Redis); latency is inside what the slowest, ngIRCd at K = 2
    # (about 20,000/s), delivers.
    SATURATE_DELIVERIES=6000000
    LATENCY_DELIVERIES=10000
    # 18 runs per round, about 6 to 8 s each with setup and settling.
    KS="2 10 100"
    if [[ $mode == quick ]]; then
        ROUNDS=1 DURATION=1.5 WARMUP=0.5
    elif [[ $mode == smoke ]]; then
        # 6 runs of about 2 s, at rates a shared machine takes in its stride.
        ROUNDS=1 DURATION=0.5 WARMUP=0.2 KS=10 CLIENTS=100
        SATURATE_DELIVERIES=50000 LATENCY_DELIVERIES=2000
    else
        ROUNDS=3 DURATION=3 WARMUP=0.5
    fi
    install_peers
    build
    raise_nofile
    setup_work
    local -A pid port
    local target
    for target in im redis irc; do
        start_server "$target"
        pid[$target]=$SERVER_PID
        port[$target]=$PORT
    done
    log "mode $mode: $ROUNDS round(s), $DURATION s measured, $CLIENTS clients"
    local round k rate
    for ((round = 1; round <= ROUNDS; round++)); do
        for k in $KS; do
            for target in im redis irc; do
                rate=$((SATURATE_DELIVERIES / (k - 1)))
                run_load "$target" "${pid[$target]}" "${port[$target]}" "$k" "$rate" saturation
                # A saturated server may hold a long backlog after imload leaves (ngIRCd
                # works for tens of seconds); a fresh one neither spends the shared core on
                # it nor makes the next run wait.
                stop_server "${pid[$target]}"
                start_server "$target"
                pid[$target]=$SERVER_PID
                rate=$((LATENCY_DELIVERIES / (k - 1)))
                run_load "$target" "${pid[$target]}" "${port[$target]}" "$k" "$rate" latency
            done
        done
    done
    echo
    echo "$(nproc) CPUs, $(uname -r); $CLIENTS clients, $SIZE-byte messages, $ROUNDS round(s) of $DURATION s;"
    echo "latency at $LATENCY_DELIVERIES deliveries/s offered, saturation at $SATURATE_DELIVERIES."
    if [[ $mode == smoke ]]; then
        echo "smoke mode: this checks the machinery; \"saturated\" is not, and the numbers measure nothing."
    fi
    echo
    print_table
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
