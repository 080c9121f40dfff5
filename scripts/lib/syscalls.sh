# shellcheck shell=bash disable=SC2034  # (variables set here are read by the sourcing scripts)
# Sourced by bench-peers.sh: counts the system calls a server makes during one imload run.
#
#   choose_counter auto          # perf if it can count, else strace; sets COUNTER
#   start_counter PID            # just before imload starts
#   stop_counter                 # right after it ends: COUNTED is a number, or null
#
# perf counts the raw_syscalls:sys_enter tracepoint in the kernel: the server runs at full
# speed and pays a counter increment per call. It needs tracefs and a perf_event_paranoid
# setting that allows tracepoints (or root). Without them, strace -c counts instead; it
# stops the server at every call (ptrace), so the server runs several times slower and
# a saturated rate measured under it is strace's, not the server's: the table says so.
#
# Both count from the moment they attach, across all of the server's threads (perf -p
# takes every thread, strace -f follows them), to SIGINT.

# perf, strace or none (set by choose_counter).
COUNTER=none
COUNTER_PID=""

# The first number perf stat -x, printed, if it is one (else "<not counted>" and friends).
perf_count() {
    awk -F, '!/^#/ && NF > 2 { print $1; exit }' "$1"
}

# Whether perf can count system calls here: it counts them for `true`.
perf_counts() {
    command -v perf >/dev/null || return 1
    local out="$WORK/perf-probe.txt"
    perf stat -e raw_syscalls:sys_enter -x, -o "$out" -- true >/dev/null 2>&1 || return 1
    [[ $(perf_count "$out") =~ ^[0-9]+$ ]]
}

# choose_counter auto|perf|strace|none: sets COUNTER, installing linux-perf or strace from
# Debian's packages when missing. auto takes perf when it can count, else strace.
choose_counter() {
    local want=$1
    case $want in
    none)
        COUNTER=none
        return
        ;;
    auto | perf)
        command -v perf >/dev/null || apt_install linux-perf || true
        if perf_counts; then
            COUNTER=perf
            return
        fi
        if [[ $want == perf ]]; then
            log "perf cannot count raw_syscalls:sys_enter here (tracefs? perf_event_paranoid?)"
            return 1
        fi
        log "perf cannot count raw_syscalls:sys_enter here (tracefs, perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?')); counting with strace"
        ;;
    esac
    if ! command -v strace >/dev/null && ! apt_install strace; then
        log "no strace either: system calls are not counted"
        COUNTER=none
        return
    fi
    COUNTER=strace
}

# start_counter PID: attaches the counter to PID, in the background, on imload's CPU (it
# sleeps while it counts, but strace does not: it would take the server's core). It is not
# waited for: it attaches in milliseconds, while imload's setup takes most of a second, so
# at most a few of the setup's calls are missed.
start_counter() {
    local pid=$1
    rm -f "$WORK/syscalls.txt"
    case $COUNTER in
    perf)
        taskset -c "$LOAD_CPU" perf stat -e raw_syscalls:sys_enter -x, -o "$WORK/syscalls.txt" \
            -p "$pid" 2>>"$WORK/counter.err" &
        ;;
    strace)
        taskset -c "$LOAD_CPU" strace -c -f -o "$WORK/syscalls.txt" -p "$pid" \
            2>>"$WORK/counter.err" &
        ;;
    *) return 0 ;;
    esac
    COUNTER_PID=$!
    PIDS+=("$COUNTER_PID")
}

# stop_counter: interrupts the counter (both print their counts on SIGINT) and sets
# COUNTED to the calls counted, or null. (Not a $(...): a subshell cannot wait for it.)
COUNTED=null
stop_counter() {
    COUNTED=null
    [[ -n $COUNTER_PID ]] || return 0
    local calls=""
    stop_server "$COUNTER_PID" INT
    COUNTER_PID=""
    case $COUNTER in
    perf) calls=$(perf_count "$WORK/syscalls.txt" 2>/dev/null || true) ;;
    # The summary's last line: "100.00 SECONDS USECS/CALL CALLS [ERRORS] total".
    strace) calls=$(awk '$NF == "total" { print $4 }' "$WORK/syscalls.txt" 2>/dev/null || true) ;;
    esac
    if [[ $calls =~ ^[0-9]+$ ]]; then
        COUNTED=$calls
    else
        log "the $COUNTER counter gave no count ($WORK/counter.err)"
    fi
}
