#!/usr/bin/env bash
# The multi-node test (`make cluster-test`, docs/deployment.md "Multi-node test").
#
# Each host of the cluster is a Linux network namespace of this machine, joined by veth
# pairs to a bridge in a "switch" namespace (10.231.0.0/24). Everything is named with
# the prefix "sidc-", so whatever a crashed run left behind (namespaces, the processes in
# them, veth ends) is removed at the next start. Then tests/cluster/run.py drives the
# test from the client namespace: it starts PostgreSQL, Redis, the web nodes, the Celery
# workers and beat, nginx and the demo devices in their namespaces, runs the load and the
# faults, and prints the figures. On any exit (success, failure, Ctrl-C) the trap stops
# every process in our namespaces (by their ids, from `ip netns pids`), deletes the
# namespaces and the scratch folder. Needs root (namespaces, a second PostgreSQL).
#
#   tests/cluster/cluster.sh [run.py options]      e.g. --rate 4 --steady 30
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PREFIX=sidc-
SUBNET=10.231.0
# host name -> last octet of its address (run.py has the same table).
declare -A HOSTS=(
  [db]=10 [cache]=11 [web1]=21 [web2]=22 [worker1]=31 [worker2]=32 [beat]=33 [lb]=40
  [client]=50
)
SWITCH=${PREFIX}switch
LOCK=/run/${PREFIX}cluster-test.lock
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

if ((EUID != 0)); then
  echo "cluster-test: needs root (network namespaces, its own PostgreSQL)" >&2
  exit 1
fi
for tool in ip nginx redis-server; do
  command -v "$tool" >/dev/null || { echo "cluster-test: $tool is missing (.ci/system-packages --services)" >&2; exit 1; }
done
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $PG_BIN/initdb ]] || { echo "cluster-test: no PostgreSQL server binaries in /usr/lib/postgresql" >&2; exit 1; }

# One run at a time on this machine (the names are fixed).
exec 9>"$LOCK"
flock -n 9 || { echo "cluster-test: another run holds $LOCK" >&2; exit 1; }

our_namespaces() { ip netns list | awk '{print $1}' | grep "^${PREFIX}" || true; }

stop_namespace_processes() {  # SIGTERM, up to 5 s, then SIGKILL: only pids in our namespaces
  local ns pids deadline
  for signal in TERM KILL; do
    pids=""
    for ns in $(our_namespaces); do
      pids+=" $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
    done
    pids=$(echo $pids)
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086 -- a list of pids
    kill -s "$signal" $pids 2>/dev/null || true
    [[ $signal == KILL ]] && sleep 0.5 && return 0
    deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)); do
      local alive=""
      for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive+=" $pid"; done
      [[ -z $alive ]] && return 0
      # A stopped process (a frozen Redis) cannot act on SIGTERM: let it go on.
      # shellcheck disable=SC2086
      kill -s CONT $alive 2>/dev/null || true
      sleep 0.2
    done
  done
}

teardown() {
  stop_namespace_processes
  local ns link
  for ns in $(our_namespaces); do ip netns delete "$ns" 2>/dev/null || true; done
  # veth ends still in this namespace (a run stopped while it built the network).
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^${PREFIX}" || true); do
    ip link delete "$link" 2>/dev/null || true
  done
  if [[ -n ${WORKDIR:-} && -d $WORKDIR ]]; then rm -rf "$WORKDIR"; fi
}

WORKDIR=""
teardown  # what a crashed run left behind
trap 'status=$?; trap - EXIT INT TERM; teardown; exit $status' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the network ---------------------------------------------------------------
ip netns add "$SWITCH"
ip -n "$SWITCH" link add br0 type bridge
ip -n "$SWITCH" link set br0 up
ip -n "$SWITCH" link set lo up
for host in "${!HOSTS[@]}"; do
  ns=$PREFIX$host
  ip netns add "$ns"
  ip link add "${PREFIX}${host}" type veth peer name "${PREFIX}${host}-b"
  ip link set "${PREFIX}${host}" netns "$ns"
  ip link set "${PREFIX}${host}-b" netns "$SWITCH"
  ip -n "$ns" link set "${PREFIX}${host}" name eth0
  ip -n "$ns" addr add "$SUBNET.${HOSTS[$host]}/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  ip -n "$SWITCH" link set "${PREFIX}${host}-b" master br0
  ip -n "$SWITCH" link set "${PREFIX}${host}-b" up
done

# --- scratch space: PostgreSQL's data, Redis, the platform's data dir, logs ----------
WORKDIR=$(mktemp -d /tmp/${PREFIX}XXXXXX)
chmod 755 "$WORKDIR"
LOGS=$ROOT/var/cluster  # the last run's logs stay for reading
rm -rf "$LOGS"
mkdir -p "$LOGS"

ip netns exec "${PREFIX}client" "$PYTHON" tests/cluster/run.py \
  --workdir "$WORKDIR" --logs "$LOGS" --pg-bin "$PG_BIN" "$@"
