#!/usr/bin/env bash
# slurm-up.sh - a throw-away Slurm cluster on this machine for zmesh's tests and demos:
# munged, slurmctld and one slurmd per node, with config, key, state, spool, logs and pid
# files all under one directory. Nodes: this host (default), N fake nodes on it, or one
# node per fake host made by scripts/netns-up.sh (own IP, hostname and /etc/hosts each).
# Installs slurmctld, slurmd, slurm-client and munge from Debian when missing. Needs root
# (slurmd runs as root). Safe to run again: a cluster already up is only re-checked.
#
# Usage:  [VAR=...] scripts/slurm-up.sh [--no-verify] [--no-install]
#   SLURM_TEST_DIR=/tmp/slurm-test  where everything lives
#   SLURM_TEST_NODES=1              >1: fake nodes node1..nodeN on this host (one slurmd each)
#   SLURM_TEST_NETNS=0              1: node i in the network namespace i of netns-up.sh
#                                   (NETNS_STATE_DIR says where its env.sh is); nodes are
#                                   named after the namespaces
#   SLURM_TEST_PORT=17817           slurmctld port; slurmd(s) use PORT+1(..PORT+N)
#   SLURM_TEST_TIMEOUT=60           seconds to wait for the nodes to be idle
#   SLURM_TEST_KEEP_ON_FAIL=0       1: leave the daemons up when a check fails
#   --no-verify                     skip the srun and sbatch checks (about 3 s)
# Then:   . "$SLURM_TEST_DIR/env.sh"   (exports SLURM_CONF, SLURM_TEST_NODELIST, ...)
#         sbatch -N 3 docs/examples/slurm_job.sh
# Exit codes: 0 up; 77 cannot run here (not root, or Slurm cannot be installed): tests
#             skip; 1 failed (logs in $SLURM_TEST_DIR/log). Stop: scripts/slurm-down.sh.
set -euo pipefail

DIR=${SLURM_TEST_DIR:-/tmp/slurm-test}
NODES=${SLURM_TEST_NODES:-}
NETNS=${SLURM_TEST_NETNS:-0}
PORT=${SLURM_TEST_PORT:-17817}
TIMEOUT=${SLURM_TEST_TIMEOUT:-60}
VERIFY=1
INSTALL=1
for a in "$@"; do
  case "$a" in
    --no-verify) VERIFY=0 ;;
    --no-install) INSTALL=0 ;;
    -h|--help) awk 'NR>1 && /^#/ {print; next} NR>1 {exit}' "$0"; exit 0 ;;
    *) echo "slurm-up: unknown argument $a" >&2; exit 2 ;;
  esac
done

T0=$(date +%s%N)
elapsed() { local cs=$(( ($(date +%s%N) - T0) / 10000000 )); printf '%d.%02d' $((cs / 100)) $((cs % 100)); }
log() { printf '[slurm-up %6ss] %s\n' "$(elapsed)" "$*"; }
STARTED=0
die() { log "ERROR: $*"; exit 1; }
on_exit() {  # any failure after daemons were started: stop them again
  local rc=$?
  if [ "$rc" != 0 ] && [ "$STARTED" = 1 ] && [ "${SLURM_TEST_KEEP_ON_FAIL:-0}" != 1 ]; then
    log "failed (rc=$rc): stopping what was started (SLURM_TEST_KEEP_ON_FAIL=1 keeps it); logs in $DIR/log"
    SLURM_TEST_DIR=$DIR "$(dirname "$(readlink -f "$0")")/slurm-down.sh" || true
  fi
}
trap on_exit EXIT
skip() { log "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (slurmd runs as root); run as root"
case "$DIR" in /?*) DIR=${DIR%/} ;; *) die "SLURM_TEST_DIR must be an absolute path, not '$DIR'" ;; esac
case "$NODES" in ''|[1-9]|[1-9][0-9]) ;; *) die "SLURM_TEST_NODES must be a number 1..99, not '$NODES'" ;; esac
case "$PORT" in [1-9][0-9][0-9][0-9]|[1-5][0-9][0-9][0-9][0-9]) ;; *) die "bad SLURM_TEST_PORT '$PORT'" ;; esac

# ---------------------------------------------------------------- install
need_install=0
for c in slurmctld slurmd sinfo srun sbatch scontrol munged mungekey munge; do
  command -v "$c" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" = 1 ]; then
  [ "$INSTALL" = 1 ] || skip "Slurm or munge is not installed and --no-install was given"
  command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get to install it"
  log "installing slurmctld slurmd slurm-client munge from Debian"
  # keep the packages' init scripts from starting system-wide daemons
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  pkgs="slurmctld slurmd slurm-client munge iproute2"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $pkgs >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || true
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $pkgs >/dev/null ||
      { [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; skip "cannot install $pkgs (no network or no Debian mirror?)"; }
  fi
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "installed $(slurmd -V)"
fi

# ---------------------------------------------------------------- helpers
CONF=$DIR/etc/slurm.conf
alive() {  # alive PIDFILE EXE -> true if the pid in PIDFILE runs EXE
  local pf=$1 exe=$2 pid
  [ -s "$pf" ] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  [ -n "$pid" ] || return 1
  case "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" in ''|Z|X) return 1 ;; esac
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$(command -v "$exe")")" ]
}
# ---- node model: NAMES[i], ADDRS[i], NSS[i] (network namespace or empty)
HOST=$(hostname -s)
CTLD_ADDR=127.0.0.1
NAMES=(); ADDRS=(); NSS=()
if [ "$NETNS" = 1 ]; then
  NSENV=${NETNS_STATE_DIR:-/tmp/netns-test}/env.sh
  [ -f "$NSENV" ] || die "SLURM_TEST_NETNS=1 but no $NSENV: run netns-up.sh first"
  # shellcheck disable=SC1090
  . "$NSENV"
  read -r -a NSS <<< "$NETNS_NAMES"; read -r -a ADDRS <<< "$NETNS_IPS"
  NODES=${NODES:-${#NSS[@]}}
  [ "$NODES" -le "${#NSS[@]}" ] || die "SLURM_TEST_NODES=$NODES but only ${#NSS[@]} namespaces"
  NSS=("${NSS[@]:0:$NODES}"); ADDRS=("${ADDRS[@]:0:$NODES}"); NAMES=("${NSS[@]}")
  CTLD_ADDR=$NETNS_BRIDGE_IP
else
  NODES=${NODES:-1}
  if [ "$NODES" -le 1 ]; then NAMES=("$HOST"); else for i in $(seq 1 "$NODES"); do NAMES+=("node$i"); done; fi
  for i in $(seq 1 "$NODES"); do ADDRS+=(127.0.0.1); NSS+=(""); done
fi
node_names() { printf '%s\n' "${NAMES[@]}"; }
all_idle() {  # true when every node reports idle (or mixed/allocated)
  local out
  out=$(SLURM_CONF=$CONF sinfo -h -N -o '%N %T' 2>/dev/null) || return 1
  [ -n "$out" ] || return 1
  ! echo "$out" | awk '{print $2}' | grep -qvE '^(idle|mixed|allocated)$'
}

# ---------------------------------------------------------------- already up?
if [ -f "$DIR/env.sh" ] && alive "$DIR/run/munged.pid" munged && alive "$DIR/run/slurmctld.pid" slurmctld; then
  ok=1
  for n in $(node_names); do alive "$DIR/run/slurmd-$n.pid" slurmd || ok=0; done
  if [ "$ok" = 1 ] && all_idle; then
    log "already running in $DIR (SLURM_CONF=$CONF); nothing to do"
    SLURM_CONF=$CONF sinfo -N
    exit 0
  fi
fi
# anything half-up from an earlier run in this dir is stopped first
if ls "$DIR"/run/*.pid >/dev/null 2>&1; then
  log "stale/partial cluster found in $DIR; stopping it first"
  SLURM_TEST_DIR=$DIR "$(dirname "$(readlink -f "$0")")/slurm-down.sh"
fi

# ---------------------------------------------------------------- ports free?
for p in $PORT $(seq $((PORT + 1)) $((PORT + NODES))); do
  if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
    die "TCP port $p already in use (another cluster?); set SLURM_TEST_PORT"
  fi
done

# ---------------------------------------------------------------- layout
log "preparing $DIR"
mkdir -p "$DIR"
chmod 0755 "$DIR"                       # munged insists on o+x for the socket path
rm -rf "${DIR:?}/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/jobs" "${DIR:?}/etc" "$DIR/tmp" "$DIR/nodes"
mkdir -p "$DIR/etc" "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/jobs"
chmod 0755 "$DIR/munge" "$DIR/etc"
chmod 1777 "$DIR/jobs"

# ---------------------------------------------------------------- munge
KEY=$DIR/munge/munge.key
SOCK=$DIR/munge/munge.socket.2
if [ ! -s "$KEY" ]; then
  mungekey -c -b 1024 -k "$KEY" && chmod 0600 "$KEY"
  log "generated munge key $KEY"
fi
rm -f "$SOCK" "$SOCK.lock"
STARTED=1
munged -S "$SOCK" --key-file="$KEY" --pid-file="$DIR/run/munged.pid" \
       --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
munge -S "$SOCK" -n | unmunge -S "$SOCK" >/dev/null || die "munge round-trip failed (see $DIR/log/munged.log)"
log "munged up (pid $(cat "$DIR/run/munged.pid"), socket $SOCK)"

# ---------------------------------------------------------------- slurm.conf
NPROC=$(nproc)
# Topology as slurmd sees it, so the node is not drained for a mismatch.
HW=$(slurmd -C | head -1)
get() { echo "$HW" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
SOCKETS=$(get SocketsPerBoard); CORES=$(get CoresPerSocket); THREADS=$(get ThreadsPerCore)
MEM=$(get RealMemory)
if [ $((SOCKETS * CORES * THREADS)) -ne "$NPROC" ]; then  # cpuset-limited: flat layout
  SOCKETS=1; CORES=$NPROC; THREADS=1
fi
MEMN=$(( MEM / NODES ))
HWSPEC="CPUs=$NPROC SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEMN State=UNKNOWN"
NODELINES=""
if [ "$NODES" -le 1 ] && [ "$NETNS" != 1 ]; then
  NODELINES="NodeName=$HOST NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$((PORT + 1)) $HWSPEC"
elif [ "$NETNS" != 1 ]; then   # several slurmd on one address: one port each
  NODELINES="NodeName=node[1-$NODES] NodeHostname=$HOST NodeAddr=127.0.0.1 Port=[$((PORT + 1))-$((PORT + NODES))] $HWSPEC"
else                           # one slurmd per network namespace: own address, same port
  for i in $(seq 0 $((NODES - 1))); do
    NODELINES+="NodeName=${NAMES[$i]} NodeHostname=${NAMES[$i]} NodeAddr=${ADDRS[$i]} Port=$((PORT + 1)) $HWSPEC"$'\n'
  done
fi
ISOLATE=0
if [ "$NODES" -gt 1 ] || [ "$NETNS" = 1 ]; then ISOLATE=1; fi
: > "$DIR/etc/plugstack.conf"
mkdir -p "$DIR/tmp"; chmod 1777 "$DIR/tmp"
EXTRA=""
if [ "$ISOLATE" = 1 ]; then
  # Each fake node sees its own $DIR/tmp (bind-mounted from $DIR/nodes/<n>/tmp in
  # the node's private mount namespace); tasks get TMPDIR pointing there and the
  # PMIx plugin puts its per-step dirs there, so fake nodes do not collide.
  printf '#!/bin/sh\necho "export TMPDIR=%s/tmp"\n' "$DIR" > "$DIR/etc/task-prolog.sh"
  chmod 755 "$DIR/etc/task-prolog.sh"
  echo "PMIxCliTmpDirBase=$DIR/tmp" > "$DIR/etc/mpi.conf"
  EXTRA="TaskProlog=$DIR/etc/task-prolog.sh"
fi
cat > "$CONF" <<EOF
# generated by slurm-up.sh - throw-away test cluster, everything under $DIR
ClusterName=testcluster
SlurmctldHost=$HOST($CTLD_ADDR)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCK
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$DIR/etc/plugstack.conf
TmpFS=$DIR/tmp
MailProg=/bin/true
$EXTRA
# no cgroups: plain /proc process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
# scheduling: cores are consumable, memory is not; jobs may share cores
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
# no accounting
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# short timers suit tests
MessageTimeout=10
SlurmctldTimeout=60
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=60
Waittime=0
$NODELINES
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
log "wrote $CONF (nodes: $(node_names | paste -sd, -), CPUs=$NPROC each$([ "$NETNS" = 1 ] && echo ", in netns ${NSS[*]}"))"

# ---------------------------------------------------------------- daemons
# -c: start with clean state (no jobs from an earlier run); -i: ignore missing state files
slurmctld -c -i -f "$CONF" || die "slurmctld failed to start (see $DIR/log/slurmctld.log)"
up=0
for _ in $(seq 100); do
  SLURM_CONF=$CONF timeout 3 scontrol ping 2>/dev/null | grep -q UP && { up=1; break; }
  if [ -s "$DIR/run/slurmctld.pid" ] && ! alive "$DIR/run/slurmctld.pid" slurmctld; then break; fi
  sleep 0.1
done
[ "$up" = 1 ] || die "slurmctld not answering: $(tail -2 "$DIR/log/slurmctld.log" 2>/dev/null | paste -sd' ' -)"
log "slurmctld up (pid $(cat "$DIR/run/slurmctld.pid"), $CTLD_ADDR:$PORT)"

for i in $(seq 0 $((NODES - 1))); do
  n=${NAMES[$i]}; ns=${NSS[$i]}
  mkdir -p "$DIR/spool/$n"
  if [ "$ISOLATE" = 0 ]; then
    slurmd -f "$CONF" || die "slurmd failed (see $DIR/log/slurmd-$n.log)"
  else
    mkdir -p "$DIR/nodes/$n/tmp"; chmod 1777 "$DIR/nodes/$n/tmp"
    # nsenter, not `ip netns exec`: the latter remounts /sys, hiding /sys/fs/cgroup,
    # and slurmd 22.05 refuses to start without it. /etc/hosts is bound by hand.
    wrap=(); hosts=""
    if [ -n "$ns" ]; then wrap=(nsenter "--net=/run/netns/$ns"); hosts=/etc/netns/$ns/hosts; fi
    # own hostname (UTS ns) and own $DIR/tmp (mount ns); slurmd daemonizes inside
    "${wrap[@]}" unshare --uts --mount --propagation private sh -c '
      hostname "$1" && mount --bind "$2/nodes/$1/tmp" "$2/tmp" &&
      { [ ! -f "$4" ] || mount --bind "$4" /etc/hosts; } && exec slurmd -f "$3" -N "$1"' \
      sh "$n" "$DIR" "$CONF" "$hosts" || die "slurmd -N $n failed (see $DIR/log/slurmd-$n.log)"
  fi
  for _ in $(seq 50); do [ -s "$DIR/run/slurmd-$n.pid" ] && break; sleep 0.1; done
  log "slurmd for node $n started (pid $(cat "$DIR/run/slurmd-$n.pid" 2>/dev/null || echo '?')${ns:+, netns $ns ${ADDRS[$i]}})"
done

# ---------------------------------------------------------------- wait idle
deadline=$(( $(date +%s) + TIMEOUT ))
until all_idle; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    SLURM_CONF=$CONF sinfo -N -l || true
    tail -20 "$DIR"/log/slurm*.log >&2 || true
    die "node(s) not idle after ${TIMEOUT}s"
  fi
  sleep 0.2
done
log "cluster idle after $(elapsed)s:"
SLURM_CONF=$CONF sinfo -N

# ---------------------------------------------------------------- env file
cat > "$DIR/env.sh" <<EOF
# source me: environment for the test Slurm cluster in $DIR
export SLURM_CONF=$CONF
export SLURM_TEST_DIR=$DIR
export SLURM_TEST_NODELIST="$(node_names | paste -sd' ' -)"
export SLURM_TEST_NODE_ADDRS="${ADDRS[*]}"
export SLURM_TEST_PARTITION=debug
export SLURM_TEST_MUNGE_SOCKET=$SOCK
EOF
sed -n 's/^export //p' "$DIR/env.sh" > "$DIR/env"   # KEY=VALUE form, for non-shell readers
log "wrote $DIR/env.sh and $DIR/env (SLURM_CONF=$CONF)"

# ---------------------------------------------------------------- verify
if [ "$VERIFY" = 1 ]; then
  export SLURM_CONF=$CONF
  out=$(timeout 60 srun -N1 -n4 --overcommit hostname)
  [ "$(echo "$out" | wc -l)" = 4 ] || die "srun -N1 -n4 --overcommit hostname gave: $out"
  log "srun -N1 -n4 --overcommit hostname OK: $(echo "$out" | sort | uniq -c | xargs)"
  if [ "$NODES" -gt 1 ]; then
    # shellcheck disable=SC2016
    out=$(timeout 60 srun -N"$NODES" --ntasks-per-node=1 sh -c 'echo "$SLURMD_NODENAME=$(hostname)/$(hostname -I | cut -d" " -f1)/TMPDIR=$TMPDIR"' | sort)
    [ "$(echo "$out" | wc -l)" = "$NODES" ] || die "srun across $NODES nodes gave: $out"
    log "srun -N$NODES --ntasks-per-node=1 OK (node=hostname/addr): $(echo "$out" | paste -sd' ' -)"
  fi
  # shellcheck disable=SC2016
  jid=$(sbatch --parsable -N"$NODES" --chdir="$DIR/jobs" --output="$DIR/jobs/verify-%j.out" \
        --wrap 'echo "batch job $SLURM_JOB_ID on $SLURMD_NODENAME:"; srun --ntasks-per-node=2 --overcommit hostname | sort | uniq -c')
  for _ in $(seq 300); do
    st=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
    sleep 0.1
  done
  [ "$st" = COMPLETED ] || die "sbatch job $jid ended $st: $(cat "$DIR/jobs/verify-$jid.out" 2>/dev/null)"
  log "sbatch job $jid COMPLETED: $(paste -sd' ' "$DIR/jobs/verify-$jid.out")"
fi
log "done in $(elapsed)s. Use: source $DIR/env.sh ; stop with slurm-down.sh"
