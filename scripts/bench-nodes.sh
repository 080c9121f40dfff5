#!/usr/bin/env bash
# What the Redis engine costs, and what several nodes give: the same imload run against one
# imserver on the memory engine, and against 1, 2 and 3 nodes sharing one Redis
# (`--engine redis://...`), in interleaved rounds, 127.0.0.1 only.
#
#   scripts/bench-nodes.sh [--rounds N] [--k K] [--rate MSGS_PER_S] [--duration S]
#
# Placement: the nodes and Redis on CPU 0, imload on CPU 1 (`taskset`). On a two-core
# machine, extra nodes share one core with each other and with Redis, so this measures what
# the engine costs per delivery, not how far more machines would scale.
#
# Per setup: a saturation run (offered far beyond what the nodes take), giving deliveries/s
# and the CPU per delivery of the nodes and of Redis apart (`server_processes`, from
# /proc/PID/stat over the measured window); and a run at a fixed low rate, giving the
# latency from send to delivery (p50, p99: what the engine adds per message). CPU 0 and
# CPU 1 are the servers' and imload's CPU, in cores, over the saturation run. imload puts
# client i on node i mod n, so each conversation's members span the nodes. Prints a table;
# medians of the rounds. Installs redis-server and jq from Debian's packages when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/bins.sh
source "$ROOT/scripts/lib/bins.sh"
# shellcheck source=lib/packages.sh
source "$ROOT/scripts/lib/packages.sh"

ROUNDS=3
K=10
CLIENTS=1000
SIZE=64
# Messages per second in the latency run: a few percent of a core on every setup, so the
# latency is the path's, not a queue's.
RATE=2000
DURATION=5
WARMUP=2
SATURATE=1000000
# The saturation run is shorter: offered far more than the engine's setups take, imload's
# open loop queues the excess in the sockets, and the run is only clean if that backlog is
# delivered within imload's DRAIN_PATIENCE_MS (10 s) after sending stops. Three nodes take
# about 55,000 messages a second here; 4 s of 145,000 offered leave some 6 s to drain.
SAT_DURATION=3
SAT_WARMUP=1
BASE_PORT=17300
REDIS_PORT=17399
SETUPS="memory redis1 redis2 redis3"
while (($#)); do
    case $1 in
    --rounds) ROUNDS=$2 && shift 2 ;;
    --k) K=$2 && shift 2 ;;
    --rate) RATE=$2 && shift 2 ;;
    --duration) DURATION=$2 && shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--k K] [--rate MSGS_PER_S] [--duration S]" >&2 && exit 2 ;;
    esac
done
command -v redis-server >/dev/null || install_packages redis-server
command -v jq >/dev/null || install_packages jq
build_bins --release --bin imserver --bin imload
IMSERVER=$(bin_path imserver)
IMLOAD=$(bin_path imload)
WORK=$(mktemp -d /tmp/bench-nodes.XXXXXX)
PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    PIDS=()
}
cleanup() {
    stop_all || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# wait_log FILE TEXT: until FILE holds TEXT (a server says it is ready), at most 10 s.
wait_log() {
    for _ in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench-nodes: $1 never said \"$2\":" >&2 && cat "$1" >&2 && exit 1
}

# run SETUP RATE DURATION WARMUP: one imload run against fresh servers; prints its JSON
# report, with the Redis process (if any) last in `server_processes`.
run() {
    local setup=$1 rate=$2 duration=$3 warmup=$4 nodes=1 engine=() servers=() pids=()
    if [[ $setup == redis* ]]; then
        nodes=${setup#redis}
        taskset -c 0 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
            --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
        PIDS+=($!)
        wait_log "$WORK/redis.log" "Ready to accept connections"
        engine=(--engine "redis://127.0.0.1:$REDIS_PORT")
    fi
    for i in $(seq "$nodes"); do
        local port=$((BASE_PORT + i))
        taskset -c 0 "$IMSERVER" --listen "127.0.0.1:$port" --http off --max-line-rate off \
            --log-level info "${engine[@]}" 2>"$WORK/node$i.log" &
        PIDS+=($!)
        pids+=($!)
        servers+=("127.0.0.1:$port")
        wait_log "$WORK/node$i.log" "listening on"
        [[ $setup == redis* ]] && wait_log "$WORK/node$i.log" "engine: connected to Redis"
    done
    # Redis's CPU is read with the nodes', listed last.
    [[ $setup == redis* ]] && pids+=("${PIDS[0]}")
    local server_list pid_list
    server_list=$(IFS=, && echo "${servers[*]}")
    pid_list=$(IFS=, && echo "${pids[*]}")
    taskset -c 1 "$IMLOAD" --server "$server_list" --clients "$CLIENTS" --members "$K" \
        --size "$SIZE" --rate "$rate" --duration "$duration" --warmup "$warmup" \
        --server-pid "$pid_list" --json "$WORK/report.json" >/dev/null 2>"$WORK/load.log" ||
        { tail -5 "$WORK/load.log" >&2; stop_all; exit 1; }
    stop_all
    cat "$WORK/report.json"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# The nodes' CPU per delivery (every process but Redis) and Redis's, in µs.
NODES_US='([.server_processes[] | .cpu_measured_s] | if length > 1 and $redis then .[:-1] else . end | add) * 1e6 / .delivered_measured'
REDIS_US='if $redis then (.server_processes[-1].cpu_measured_s * 1e6 / .delivered_measured) else 0 end'

# The CPU the servers used together (nodes and Redis, all on CPU 0), and imload's (CPU 1),
# as shares of one core over the measured window: which side was the limit.
CPU0='[.server_processes[] | .cpu_share] | add'

declare -A rate_of=() nodes_us=() redis_us=() cpu0=() cpu1=() p50=() p99=()
for round in $(seq "$ROUNDS"); do
    for setup in $SETUPS; do
        redis=false
        [[ $setup == redis* ]] && redis=true
        report=$(run "$setup" "$SATURATE" "$SAT_DURATION" "$SAT_WARMUP")
        rate_of[$setup]+="$(jq .delivered_per_s <<<"$report") "
        nodes_us[$setup]+="$(jq --argjson redis "$redis" "$NODES_US" <<<"$report") "
        redis_us[$setup]+="$(jq --argjson redis "$redis" "$REDIS_US" <<<"$report") "
        cpu0[$setup]+="$(jq "$CPU0" <<<"$report") "
        cpu1[$setup]+="$(jq .imload_cpu_share <<<"$report") "
        echo "bench-nodes: $setup saturated round $round: $(jq -c '{delivered_per_s, server_cpu_us_per_delivery, bound}' <<<"$report")" >&2
        report=$(run "$setup" "$RATE" "$DURATION" "$WARMUP")
        p50[$setup]+="$(jq .latency_corrected_us.p50 <<<"$report") "
        p99[$setup]+="$(jq .latency_corrected_us.p99 <<<"$report") "
        echo "bench-nodes: $setup at $RATE msgs/s round $round: $(jq -c '{delivered_per_s, latency_corrected_us}' <<<"$report")" >&2
    done
done

of() { tr ' ' '\n' <<<"$1" | grep . | median; }
printf '%-8s %14s %14s %14s %8s %8s %8s %8s\n' setup "deliveries/s" "nodes µs/deliv" \
    "redis µs/deliv" "CPU 0" "CPU 1" "p50 µs" "p99 µs"
for setup in $SETUPS; do
    printf '%-8s %14.0f %14.3f %14.3f %8.2f %8.2f %8.0f %8.0f\n' "$setup" \
        "$(of "${rate_of[$setup]}")" "$(of "${nodes_us[$setup]}")" "$(of "${redis_us[$setup]}")" \
        "$(of "${cpu0[$setup]}")" "$(of "${cpu1[$setup]}")" \
        "$(of "${p50[$setup]}")" "$(of "${p99[$setup]}")"
done
