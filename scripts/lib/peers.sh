# shellcheck shell=bash disable=SC2034  # (variables set here are read by the sourcing scripts)
# Sourced by bench-peers.sh (and, through it, mem-per-conn.sh): installs, builds, starts,
# watches and stops the three servers under comparison, imserver, Redis and ngIRCd.
#
# Every server listens on 127.0.0.1 only, pinned to CPU SERVER_CPU, with nothing that
# throttles; imload runs on CPU LOAD_CPU. The caller sets `set -euo pipefail`.

# shellcheck source=bins.sh
source "$(dirname "${BASH_SOURCE[0]}")/bins.sh"

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
# How long a server may take to settle before a run: retiring the last run's clients.
IDLE_PATIENCE_S=30
# How long apt-get waits for another install to release dpkg's lock before failing.
APT_LOCK_TIMEOUT_S=600

PIDS=()
WORK=""
# Set when a run failed: the logs are kept.
KEEP_WORK=""

log() { echo "bench: $*" >&2; }

# apt_install PACKAGE...: installs Debian packages, quietly.
apt_install() {
    log "installing $*"
    # Another install (unattended upgrades, a colleague's script) may hold dpkg's lock
    # for a while: wait for it instead of failing.
    local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_S")
    apt-get "${lock[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq "$@" >/dev/null
}

# Installs redis-server, ngircd and jq from Debian's packages if any is missing.
install_peers() {
    local need=()
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v ngircd >/dev/null || [[ -x /usr/sbin/ngircd ]] || need+=(ngircd)
    command -v jq >/dev/null || need+=(jq)
    if ((${#need[@]})); then
        apt_install "${need[@]}"
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

# Stops exactly the processes this script started, by pid; removes the logs unless
# something failed (the script's exit status, or a run that gave no report).
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
        cat >"$WORK/ngircd.conf" <<CONF
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
CONF
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

# stop_server PID [SIGNAL]: stops one process this script started (with SIGTERM, or
# SIGNAL) and waits for it.
stop_server() {
    local pid=$1 kept=() p
    kill -s "${2:-TERM}" "$pid" 2>/dev/null || true
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
