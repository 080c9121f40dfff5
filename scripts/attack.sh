#!/usr/bin/env bash
# Issue 8's attacks, measured: each scenario starts a fresh imserver on 127.0.0.1 (a free
# port), attacks it from one client while a probe (two honest users in their own
# conversation) times its messages' echoes, prints one block, and stops the server.
#
#   scripts/attack.sh                          CI-friendly sizes (about 1.5 minutes)
#   scripts/attack.sh --big                    issue 8's sizes (5,000 fan-out users, 2,000 tails)
#   scripts/attack.sh --only flood,drip        some scenarios: conv-one, conv-all, conv-changes,
#                                              fanout, fanout-chunked, flood, drip
#   scripts/attack.sh --server OLD/imserver    a prebuilt binary (compare two builds)
#   scripts/attack.sh --server-args "--max-line-rate off"   extra server flags
#   scripts/attack.sh --help                   every size option
#
# The scenarios and their reports are described in scripts/attack.py; the machinery (the
# server's CPU and RSS from /proc, the client swarm, the probe) is in scripts/attack_lib.py.
# Memory: the big conversation made the old server queue gigabytes (issue 8, finding 1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A backstop over every phase's own limit (--phase-limit): a run that is still going after
# this long is interrupted, and attack.py stops its server on the way out.
BACKSTOP_S=1800

server=""
args=()
while (($#)); do
    case $1 in
    --server)
        server=$2
        shift 2
        ;;
    --server=*)
        server=${1#--server=}
        shift
        ;;
    *)
        args+=("$1")
        shift
        ;;
    esac
done

if [[ -z $server ]]; then
    echo "attack: building imserver (release)" >&2
    # shellcheck source=lib/bins.sh
    source "$ROOT/scripts/lib/bins.sh"
    build_bins --release --bin imserver
    server=$(bin_path imserver)
fi

# One descriptor per client in the driver (5,000 and some with --big): raise the soft limit
# to the hard one (the server raises its own).
ulimit -n "$(ulimit -Hn)"

exec timeout -s INT "$BACKSTOP_S" python3 "$ROOT/scripts/attack.py" --server "$server" "${args[@]}"
