#!/usr/bin/env bash
# netns-up.sh - make K fake hosts on this machine for multi-host tests: network
# namespaces <prefix>1..K, each with a veth into one bridge, its own IP
# (<subnet>.(10+i)) and /etc/netns/<name>/hosts naming every host. No default
# route, no forwarding: test traffic stays on the bridge. Checks that the first
# host reaches every other one. Safe to run again (only re-checks).
#
# Usage:  [VAR=...] scripts/netns-up.sh [K]
#   K (or NETNS_COUNT)              number of hosts, 1..200 (default 3)
#   NETNS_PREFIX=tnode              hosts tnode1..tnodeK, bridge tnode-br (prefix <= 9 chars)
#   NETNS_SUBNET=10.250.0           /24: bridge .1, host i .(10+i)
#   NETNS_STATE_DIR=/tmp/netns-test env.sh / env / hosts written here
# Exit codes: 0 ready; 77 cannot run here (not root, or no `ip netns`): tests skip;
#             1 failed. Undo with scripts/netns-down.sh (same variables).
set -euo pipefail

K=${NETNS_COUNT:-3}
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d'; exit 0 ;;
    ''|*[!0-9]*) echo "netns-up: unknown argument '$a' (usage: netns-up.sh [K])" >&2; exit 2 ;;
    *) K=$a ;;
  esac
done
P=${NETNS_PREFIX:-tnode}
NET=${NETNS_SUBNET:-10.250.0}
STATE=${NETNS_STATE_DIR:-/tmp/netns-test}
BR=$P-br
log() { echo "[netns-up] $*"; }
skip() { echo "[netns-up] SKIP: $*" >&2; exit 77; }
die() { echo "[netns-up] ERROR: $*" >&2; exit 1; }

[ "$K" -ge 1 ] && [ "$K" -le 200 ] || die "K must be 1..200, not $K"
[ ${#P} -le 9 ] || die "NETNS_PREFIX '$P' is too long (interface names have at most 15 characters)"
echo "$NET" | grep -qE '^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$' || die "NETNS_SUBNET must look like 10.250.0, not '$NET'"
[ "$(id -u)" = 0 ] || skip "needs root (CAP_NET_ADMIN) to create network namespaces; run as root"
command -v ip >/dev/null || skip "the 'ip' command (iproute2) is not installed"
ip netns list >/dev/null 2>&1 || skip "'ip netns' does not work here (no network namespace support)"
routed=$(ip -4 route show "$NET.0/24")
if [ -n "$routed" ] && ! echo "$routed" | grep -q "dev $BR"; then
  die "$NET.0/24 is already routed elsewhere ($routed); choose another NETNS_SUBNET"
fi

ip link show "$BR" >/dev/null 2>&1 || { ip link add "$BR" type bridge; log "bridge $BR"; }
case "$(ip addr show dev "$BR")" in *"inet $NET.1/24"*) ;; *) ip addr add "$NET.1/24" dev "$BR" ;; esac
ip link set "$BR" up

HOSTS="$NET.1 $P-gw"
for i in $(seq 1 "$K"); do HOSTS="$HOSTS"$'\n'"$NET.$((10 + i)) $P$i"; done
NAMES=""; IPS=""
for i in $(seq 1 "$K"); do
  ns=$P$i; addr=$NET.$((10 + i))
  NAMES="$NAMES $ns"; IPS="$IPS $addr"
  [ -e "/run/netns/$ns" ] || { ip netns add "$ns"; log "namespace $ns"; }
  if ! ip link show "$ns-h" >/dev/null 2>&1; then
    ip link add "$ns-h" type veth peer name "$ns-n"
    ip link set "$ns-n" netns "$ns"
    ip -n "$ns" link set "$ns-n" name eth0
  fi
  ip link set "$ns-h" master "$BR"
  ip link set "$ns-h" up
  ip -n "$ns" link set lo up
  case "$(ip -n "$ns" addr show dev eth0)" in *"inet $addr/24"*) ;; *) ip -n "$ns" addr add "$addr/24" dev eth0 ;; esac
  ip -n "$ns" link set eth0 up
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n::1 localhost\n%s\n' "$HOSTS" > "/etc/netns/$ns/hosts"
  echo "$ns" > "/etc/netns/$ns/hostname"
done
NAMES=${NAMES# }; IPS=${IPS# }

mkdir -p "$STATE"
cat > "$STATE/env.sh" <<ENV
export NETNS_PREFIX=$P
export NETNS_NAMES="$NAMES"
export NETNS_IPS="$IPS"
export NETNS_BRIDGE=$BR
export NETNS_BRIDGE_IP=$NET.1
export NETNS_SUBNET=$NET
export NETNS_STATE_DIR=$STATE
ENV
sed -n 's/^export //p' "$STATE/env.sh" | tr -d '"' > "$STATE/env"
printf '%s\n' "$HOSTS" > "$STATE/hosts"

# Every host reaches the others and the root namespace (where a client may run) reaches
# them: a TCP connect to a closed port that is *refused* proves the path works (no ping
# needed; a lost path times out instead).
reachable() {  # reachable FROM-NAMESPACE-or-"" ADDRESS
  local out
  if [ -n "$1" ]; then out=$(ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)
  else out=$(timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1); fi
  case "$out" in *"Connection refused"*|"") return 0 ;; *) return 1 ;; esac
}
for i in $(seq 1 "$K"); do
  reachable "${P}1" "$NET.$((10 + i))" || die "${P}1 cannot reach $NET.$((10 + i))"
  reachable "" "$NET.$((10 + i))" || die "the root namespace cannot reach $NET.$((10 + i))"
done
log "ready: $NAMES ($IPS), bridge $BR $NET.1, state in $STATE"
