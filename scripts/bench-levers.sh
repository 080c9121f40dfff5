#!/usr/bin/env bash
# What a change to the loop saves: two imserver builds side by side under the same imload,
# with the server's system calls counted by kind.
#
#   scripts/bench-levers.sh REV              REV's imserver against this tree's
#   scripts/bench-levers.sh REV --rounds 5   more rounds (default 3)
#
# REV (any git revision) is built in a temporary worktree, in release mode, in a target
# directory of its own, target/levers (a first build takes a few minutes; later ones reuse
# it). This tree's imserver and
# imload are built as bench-peers.sh builds them; the same imload drives both servers.
#
# For K in {10, 100}, at a fixed load (1,000,000 deliveries/s offered) and at saturation
# (10,000,000 offered), the two servers take turns, round after round. Each run counts the
# server's recvfrom, writev, epoll_wait and epoll_ctl calls and all its calls (perf stat,
# tracepoints, over imload's whole run, setup included), divided by the run's deliveries
# and echoes (every line the server writes to a member), and reports the server's CPU per
# delivery and the delivered rate. The table gives medians over rounds.
#
# Same machine rules as bench-peers.sh: loopback only, server on CPU 0, imload on CPU 1.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"

# The kinds of system call counted, as perf names their tracepoints.
KINDS=(recvfrom writev epoll_wait epoll_ctl)
CLIENTS=1000
SIZE=64
DURATION=3
WARMUP=0.5
# Offered deliveries per second: one a saturated server delivers with room to spare, one
# above what either build delivers on one core here.
FIXED_DELIVERIES=1000000
SATURATE_DELIVERIES=10000000

usage() {
    echo "usage: $0 REV [--rounds N]" >&2
    exit 2
}

# build_rev REV: builds REV's imserver; sets OLD_IMSERVER.
build_rev() {
    local rev=$1 tree="$WORK/tree"
    git -C "$ROOT" worktree add -q --detach "$tree" "$rev"
    log "building imserver at $(git -C "$tree" log --oneline -1)"
    local target="$ROOT/target/levers"
    (cd "$tree" && CARGO_TARGET_DIR="$target" cargo build -q --release --bin imserver)
    cp "$target/release/imserver" "$WORK/imserver-old"
    git -C "$ROOT" worktree remove --force "$tree"
    OLD_IMSERVER="$WORK/imserver-old"
}

# run_one LABEL BIN K RATE LOAD ROUND: one imload run against BIN; appends a JSON line.
run_one() {
    local label=$1 bin=$2 k=$3 rate=$4 load=$5 round=$6
    local json="$WORK/run.json" stat="$WORK/stat.txt" events=() kind
    IMSERVER=$bin start_server im
    local pid=$SERVER_PID
    for kind in "${KINDS[@]}"; do
        events+=(-e "syscalls:sys_enter_$kind")
    done
    taskset -c "$LOAD_CPU" perf stat "${events[@]}" -e raw_syscalls:sys_enter -x, -o "$stat" \
        -p "$pid" 2>>"$WORK/counter.err" &
    local counter=$!
    PIDS+=("$counter")
    rm -f "$json"
    taskset -c "$LOAD_CPU" timeout -s INT 30 "$IMLOAD" --server "127.0.0.1:$PORT" \
        --clients "$CLIENTS" --members "$k" --size "$SIZE" --rate "$rate" \
        --duration "$DURATION" --warmup "$WARMUP" --server-pid "$pid" --json "$json" \
        >/dev/null 2>"$WORK/imload.err" || true
    stop_server "$counter" INT
    stop_server "$pid"
    if [[ ! -s $json ]]; then
        log "$label K=$k $load: no report: $(tail -1 "$WORK/imload.err")"
        KEEP_WORK=1
        return
    fi
    # perf -x, lines: count,unit,event,...; the event's name without its prefix.
    local counts
    counts=$(awk -F, '!/^#/ && NF > 2 { sub(/.*sys_enter_?/, "", $3); if ($3 == "") $3 = "all";
                                        printf "%s\"%s\": %s", sep, $3, $1; sep = ", " }' "$stat")
    jq -c --arg build "$label" --arg load "$load" --argjson k "$k" --argjson round "$round" \
        --argjson calls "{$counts}" '
        (.delivered + .echoes) as $writes
        | {build: $build, load: $load, k: $k, round: $round, rate: .delivered_per_s,
           cpu_us: .server_cpu_us_per_delivery, share: .server_cpu_share, bound: .bound,
           per_write: ($calls | map_values(if $writes > 0 then . / $writes else null end))}' \
        "$json" >>"$WORK/results.jsonl"
    log "$(tail -1 "$WORK/results.jsonl")"
}

print_table() {
    echo "| K | load | build | delivered/s | server CPU | bound | CPU µs/delivery | recvfrom | writev | epoll_wait | epoll_ctl | all calls |"
    echo "|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    jq -rs '
      def median: sort | .[(length / 2 | floor)];
      def med(f): map(f) | map(select(. != null)) | if length > 0 then median else null end;
      def fmt(d): if . == null then "n/a" else (. * pow(10; d) | round) / pow(10; d) | tostring end;
      group_by([.k, .load, .build])[]
      | [(.[0].k | tostring), .[0].load, .[0].build, (med(.rate) | fmt(0)),
         ((med(.share) // null) | if . == null then "n/a" else (. * 100 | round | tostring) + " %" end),
         (map(.bound) | unique | join("/")), (med(.cpu_us) | fmt(3)),
         (med(.per_write.recvfrom) | fmt(3)), (med(.per_write.writev) | fmt(3)),
         (med(.per_write.epoll_wait) | fmt(4)), (med(.per_write.epoll_ctl) | fmt(4)),
         (med(.per_write.all) | fmt(3))]
      | "| " + join(" | ") + " |"' "$WORK/results.jsonl"
}

main() {
    [[ $# -ge 1 && $1 != -* ]] || usage
    local rev=$1 rounds=3
    shift
    while (($#)); do
        case $1 in
        --rounds)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
            rounds=$2
            shift 2
            ;;
        *) usage ;;
        esac
    done
    install_peers
    command -v perf >/dev/null || apt_install linux-perf
    build
    raise_nofile
    setup_work
    build_rev "$rev"
    local new=$IMSERVER round k load rate label
    for ((round = 1; round <= rounds; round++)); do
        for k in 10 100; do
            for load in fixed saturation; do
                rate=$((FIXED_DELIVERIES / (k - 1)))
                [[ $load == saturation ]] && rate=$((SATURATE_DELIVERIES / (k - 1)))
                for label in "$rev" this; do
                    local bin=$new
                    [[ $label == "$rev" ]] && bin=$OLD_IMSERVER
                    run_one "$label" "$bin" "$k" "$rate" "$load" "$round"
                done
            done
        done
    done
    echo
    echo "$(nproc) CPUs, $(uname -r); $CLIENTS clients, $SIZE-byte messages, $rounds round(s) of $DURATION s;"
    echo "fixed load $FIXED_DELIVERIES deliveries/s offered, saturation $SATURATE_DELIVERIES;"
    echo "system calls per line written (deliveries and echoes), counted over imload's whole run."
    echo
    print_table
}

main "$@"
