#!/usr/bin/env bash
# Side-by-side benchmark: imserver, Redis pub/sub and ngIRCd under the same imload
# workload, in interleaved rounds, for conversations of K = 2, 10 and 100 members.
#
#   scripts/bench-peers.sh                 full run: 3 rounds of 3 s, medians (81 runs,
#                                          about 7 minutes)
#   scripts/bench-peers.sh --quick         one round of 1.5 s (27 runs, about 2 minutes)
#   scripts/bench-peers.sh --smoke         K = 10 only, 100 clients, half a second per run,
#                                          low rates (under a minute): checks the machinery
#                                          (build, servers, counters, imload, tables),
#                                          measures nothing
#   --only im,redis   servers to run (im, redis, irc; default all three)
#   --ks "10 100"     conversation sizes (default "2 10 100"; --smoke: 10)
#   --rounds N        rounds (default 3; --quick, --smoke: 1)
#   --syscalls auto|perf|strace|none   how system calls are counted (default auto: perf
#                     if it can count raw_syscalls:sys_enter here, else strace); none
#                     shows what counting costs the saturated rates
#
# The binaries are wherever cargo builds them (CARGO_TARGET_DIR is honoured). When a run
# fails, the temporary directory with every server's and imload's log is kept, and its
# path printed.
#
# Every server listens on 127.0.0.1 only and is pinned to CPU 0; imload is pinned to
# CPU 1 (scripts/lib/peers.sh). Each round, for each K, for each server:
#   - saturation: offered load above what any of the three delivers on one core. The
#     delivered rate is the headline, but it is the server's limit only when imload says
#     `bound: "server"` (the server used >= 95 % of its core in the measured window);
#     otherwise the table marks it (generator-bound, neither saturated, or bound n/a
#     when imload does not report it). The server's system calls are counted over the run;
#   - then, on a fresh server, runs at 25 % and 50 % of the rate this server delivered
#     in the saturation run just before: their corrected p50/p99/p99.9, the server's CPU
#     per delivery at that load, and (25 % run) the system calls at a light load.
# The tables give medians over rounds. A "delivery" is a message reaching a member other
# than its sender: IRC does not echo a message to its sender, im and Redis do, so echoes
# are left out of the rates for all three; system calls are divided by every write a
# server makes, echoes included (scripts/lib/bench-table.jq).
#
# mem-per-conn.sh sources this file for its helper functions (scripts/lib/peers.sh).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/peers.sh
source "$ROOT/scripts/lib/peers.sh"
# shellcheck source=lib/syscalls.sh
source "$ROOT/scripts/lib/syscalls.sh"

# Backstop for a fraction run: setup, warmup, duration and imload's own 10 s drain limit
# fit well inside it.
LATENCY_RUN_LIMIT_S=60
# The loads of the latency runs, in percent of the server's own saturated rate: a quarter
# is a light load (its system calls are the "light" count), half is the issue's p99 target.
FRACTIONS="25 50"
# Set by run_load: the delivered rate of its run, empty if it gave no report.
LAST_RATE=""

# run_load TARGET PID PORT K RATE KIND ROUND COUNT: one imload run at RATE messages/s
# (KIND is "saturation" or a percentage); COUNT=1 counts the server's system calls over
# it. Appends a JSON line to results.jsonl and sets LAST_RATE.
run_load() {
    local target=$1 pid=$2 port=$3 k=$4 rate=$5 kind=$6 round=$7 count=$8
    local json="$WORK/run.json" err="$WORK/imload-$target-k$k-$kind-r$round.err"
    rm -f "$json"
    LAST_RATE=""
    wait_idle "$pid"
    # Setup takes about a second; past warmup, duration and a few seconds more, a saturated
    # run is interrupted: imload then reports at once instead of draining its backlog. A
    # fraction run ends by itself (imload bounds setup and drain); its limit is a backstop.
    local limit=$LATENCY_RUN_LIMIT_S
    if [[ $kind == saturation ]]; then
        limit=$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%d", w + d + 4 }')
    fi
    # The counter covers imload's whole run, setup included: a few thousand calls (logins,
    # joins), nothing beside the millions a saturated second makes, and under 1 % of a
    # light run's calls at the default 1,000 clients.
    if ((count)); then
        start_counter "$pid"
    fi
    taskset -c "$LOAD_CPU" timeout -s INT "$limit" "$IMLOAD" --server "127.0.0.1:$port" \
        --target "$target" --clients "$CLIENTS" --members "$k" --size "$SIZE" --rate "$rate" \
        --duration "$DURATION" --warmup "$WARMUP" --server-pid "$pid" --json "$json" \
        >/dev/null 2>"$err" || true
    COUNTED=null
    if ((count)); then
        stop_counter
    fi
    if [[ ! -s "$json" ]]; then
        log "$target K=$k $kind: no report: $(tail -1 "$err") ($err)"
        KEEP_WORK=1
        return
    fi
    # Fields imload does not report yet (imload_cpu_share, bound) are null; the server's
    # share is computed as the contract defines it when imload does not give it.
    jq -c --arg kind "$kind" --argjson k "$k" --argjson round "$round" \
        --argjson calls "$COUNTED" --arg counter "$COUNTER" '
        (.delivered + .echoes) as $writes
        | {round: $round, kind: $kind, k: $k, target: .target,
           offered: (.offered_rate * ($k - 1)), rate: .delivered_per_s,
           server_share: (.server_cpu_share
             // (if .server_cpu_measured_s != null and .measured_s > 0
                 then .server_cpu_measured_s / .measured_s else null end)),
           imload_share: .imload_cpu_share, bound: .bound,
           cpu_us: .server_cpu_us_per_delivery,
           writes: $writes, calls: $calls, counter: $counter,
           calls_per_write: (if $calls != null and $writes > 0 then $calls / $writes else null end),
           p50: (.latency_corrected_us.p50 / 1000), p99: (.latency_corrected_us.p99 / 1000),
           p999: (.latency_corrected_us.p999 / 1000), lost: .lost}' "$json" >>"$WORK/results.jsonl"
    LAST_RATE=$(jq -r '.delivered_per_s' "$json")
    log "$(tail -1 "$WORK/results.jsonl")"
}

usage() {
    echo "usage: $0 [--quick | --smoke] [--only im,redis,irc] [--ks \"2 10 100\"] [--rounds N]" \
        "[--syscalls auto|perf|strace|none]" >&2
    exit 2
}

main() {
    local mode=full only="im,redis,irc" ks="" rounds="" syscalls=auto
    while (($#)); do
        case $1 in
        --quick) mode=quick ;;
        --smoke) mode=smoke ;;
        --only | --ks | --rounds | --syscalls)
            (($# >= 2)) || usage
            case $1 in
            --only) only=$2 ;;
            --ks) ks=$2 ;;
            --rounds) rounds=$2 ;;
            --syscalls) syscalls=$2 ;;
            esac
            shift
            ;;
        *) usage ;;
        esac
        shift
    done
    local targets=() t
    for t in ${only//,/ }; do
        case $t in
        im | redis | irc) targets+=("$t") ;;
        *) usage ;;
        esac
    done
    ((${#targets[@]})) || usage
    [[ -z $rounds || $rounds =~ ^[1-9][0-9]*$ ]] || usage
    [[ $syscalls =~ ^(auto|perf|strace|none)$ ]] || usage
    # Clients per run: enough sockets that the server's per-connection work shows, few
    # enough that setup takes well under a second.
    CLIENTS=1000
    SIZE=64
    # Offered deliveries per second in a saturation run: above what any of the three
    # delivers on one core (an independent driver saw imserver deliver all of 6 M/s at
    # K = 100), so that the server, or imload, is the limit; imload queues at most a
    # bounded amount per client, so an offer it cannot send costs no memory.
    SATURATE_DELIVERIES=10000000
    KS="2 10 100"
    if [[ $mode == quick ]]; then
        ROUNDS=1 DURATION=1.5 WARMUP=0.5
    elif [[ $mode == smoke ]]; then
        # 3 runs of about 2 s per server, at rates a shared machine takes in its stride.
        ROUNDS=1 DURATION=0.5 WARMUP=0.2 KS=10 CLIENTS=100
        SATURATE_DELIVERIES=50000
    else
        ROUNDS=3 DURATION=3 WARMUP=0.5
    fi
    [[ -z $ks ]] || KS=$ks
    [[ -z $rounds ]] || ROUNDS=$rounds
    for t in $KS; do
        if [[ ! $t =~ ^[0-9]+$ ]] || ((t < 2 || t > CLIENTS)); then
            usage
        fi
    done
    install_peers
    build
    raise_nofile
    setup_work
    choose_counter "$syscalls"
    local -A pid port
    for t in "${targets[@]}"; do
        start_server "$t"
        pid[$t]=$SERVER_PID
        port[$t]=$PORT
    done
    log "mode $mode: $ROUNDS round(s) of K in {$KS} x {${targets[*]}}, $DURATION s measured," \
        "$CLIENTS clients; system calls counted with $COUNTER"
    local round k rate frac sat light
    for ((round = 1; round <= ROUNDS; round++)); do
        for k in $KS; do
            for t in "${targets[@]}"; do
                rate=$((SATURATE_DELIVERIES / (k - 1)))
                run_load "$t" "${pid[$t]}" "${port[$t]}" "$k" "$rate" saturation "$round" 1
                sat=$LAST_RATE
                # A saturated server may hold a long backlog after imload leaves (ngIRCd
                # works for tens of seconds); a fresh one neither spends the shared core on
                # it nor makes the next run wait.
                stop_server "${pid[$t]}"
                start_server "$t"
                pid[$t]=$SERVER_PID
                if [[ -z $sat ]] || awk -v r="$sat" 'BEGIN { exit !(r <= 0) }'; then
                    log "$t K=$k round $round: no saturated rate, so no fraction runs"
                    continue
                fi
                light=1
                for frac in $FRACTIONS; do
                    rate=$(awk -v r="$sat" -v f="$frac" -v k="$k" \
                        'BEGIN { x = r * f / 100 / (k - 1); printf "%.1f", (x < 1 ? 1 : x) }')
                    run_load "$t" "${pid[$t]}" "${port[$t]}" "$k" "$rate" "$frac" "$round" "$light"
                    light=0
                done
            done
        done
    done
    echo
    echo "$(nproc) CPUs, $(uname -r); $CLIENTS clients, $SIZE-byte messages, $ROUNDS round(s) of" \
        "$DURATION s measured; saturation offers $SATURATE_DELIVERIES deliveries/s; system calls" \
        "counted with $COUNTER."
    if [[ $mode == smoke ]]; then
        echo "SMOKE RUN: this checks the machinery; \"saturated\" is not, and the numbers measure nothing."
    fi
    if [[ $COUNTER == strace ]]; then
        echo "strace stops the server at every system call: the saturated rates below are strace's, not the" \
            "servers', and the calls per delivery are those of a slowed server (more work per call): not" \
            "comparable with perf's."
    fi
    echo
    jq -rs --arg fractions "$FRACTIONS" -f "$ROOT/scripts/lib/bench-table.jq" "$WORK/results.jsonl"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
