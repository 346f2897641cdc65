#!/usr/bin/env bash
# netns-down.sh - remove the fake hosts made by scripts/netns-up.sh: stops what
# still runs inside them (TERM, then KILL after 5 s; zombies count as gone),
# deletes the namespaces, their veths, /etc/netns/<name>, the bridge and the state
# files. Touches only names with the given prefix; never kills by name. Safe to run
# again.
#
# Usage:  [NETNS_PREFIX=tnode] [NETNS_STATE_DIR=/tmp/netns-test] scripts/netns-down.sh
# Exit codes: 0 done; 77 cannot run here (not root, or no `ip netns`).
set -uo pipefail
P=${NETNS_PREFIX:-tnode}
STATE=${NETNS_STATE_DIR:-/tmp/netns-test}
BR=$P-br
log() { echo "[netns-down] $*"; }
[ "$(id -u)" = 0 ] || { echo "[netns-down] SKIP: needs root" >&2; exit 77; }
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || { echo "[netns-down] SKIP: no 'ip netns' here" >&2; exit 77; }

alive() {  # pids in namespace $1 that are not zombies
  for p in $(ip netns pids "$1" 2>/dev/null); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"
  done
}
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${P}[0-9]+$"); do
  pids=$(alive "$ns" | paste -sd' ' -)
  if [ -n "$pids" ]; then
    log "stopping what is left in $ns: $pids"
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 50); do [ -z "$(alive "$ns")" ] && break; sleep 0.1; done
    left=$(alive "$ns" | paste -sd' ' -)
    [ -n "$left" ] && { kill -KILL $left 2>/dev/null; log "killed $left in $ns"; }
  fi
  ip link del "$ns-h" 2>/dev/null
  ip netns del "$ns" && log "deleted $ns"
  rm -rf "/etc/netns/$ns"
done
for hv in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${P}[0-9]+-h$"); do
  ip link del "$hv" 2>/dev/null && log "deleted stray veth $hv"
done
ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR" && log "deleted bridge $BR"
rm -f "$STATE/env.sh" "$STATE/env" "$STATE/hosts"
rmdir "$STATE" 2>/dev/null
exit 0
