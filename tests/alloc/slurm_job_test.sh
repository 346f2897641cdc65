#!/usr/bin/env bash
# slurm_job_test.sh - the whole-job path on a real Slurm cluster with one slurmd per fake
# host (the ctest fixtures run scripts/netns-up.sh and scripts/slurm-up.sh): submits
# docs/examples/slurm_job.sh with `sbatch -N3`, polls until the job ends, and checks that it
# completed with exit 0, that cluster_demo started 3 launchers on the nodes Slurm names
# (`scontrol show hostnames`), saw both procs of the lost host reported as host lost, and
# that no cluster_demo or zmesh-launcher is left on any host afterwards.
# The job runs with CURVE: a key from `zmesh keygen` in ZMESH_KEY_FILE, as a user's would.
# Usage:  SLURM_TEST_DIR=DIR NETNS_PREFIX=P slurm_job_test.sh CLUSTER_DEMO ZMESH_LAUNCHER JOB_SCRIPT ZMESH
# Exit codes: 0 passed; 1 failed; 77 skipped (not root, or no cluster in SLURM_TEST_DIR).
set -euo pipefail
[ $# = 4 ] || { echo "usage: slurm_job_test.sh CLUSTER_DEMO ZMESH_LAUNCHER JOB_SCRIPT ZMESH" >&2; exit 2; }
DEMO=$1 LAUNCHER=$2 JOB=$3 ZMESH=$4
DIR=${SLURM_TEST_DIR:-/tmp/slurm-test}
P=${NETNS_PREFIX:-tnode}
T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
log() { echo "[slurm_job_test $(ms)ms] $*"; }
fail() { log "FAIL: $*"; [ -f "${WORK:-}/job.out" ] && sed 's/^/  job| /' "$WORK/job.out"; exit 1; }
[ "$(id -u)" = 0 ] || { log "SKIP: needs root (Slurm, network namespaces); CI runs it as root"; exit 77; }
[ -f "$DIR/env.sh" ] || { log "SKIP: no Slurm cluster in $DIR (scripts/slurm-up.sh skipped or failed; see its output)"; exit 77; }
# shellcheck disable=SC1091
. "$DIR/env.sh"
WORK=$(mktemp -d /tmp/zmesh-slurm-job.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

"$ZMESH" keygen "$WORK/key" >/dev/null || fail "zmesh keygen failed"

# Short heartbeats: the lost host is noticed in 1.5 s instead of 5 s.
jid=$(ZMESH_KEY_FILE=$WORK/key ZMESH_DEMO=$DEMO ZMESH_LAUNCHER=$LAUNCHER ZMESH_HEARTBEAT_INTERVAL_MS=100 ZMESH_HEARTBEAT_TIMEOUT_MS=1500 \
      sbatch --parsable -N3 --output="$WORK/job.out" "$JOB" --log-dir "$WORK/logs")
log "submitted job $jid: sbatch -N3 $JOB"
state=""
for _ in $(seq 1200); do  # 120 s
  state=$(scontrol show job "$jid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED) break ;; esac
  sleep 0.1
done
info=$(scontrol show job "$jid")
log "job $jid ended $state ($(echo "$info" | grep -o 'ExitCode=[0-9:]*'))"
[ "$state" = COMPLETED ] || { scancel "$jid" 2>/dev/null || true; fail "job $jid is $state, not COMPLETED"; }
echo "$info" | grep -q 'ExitCode=0:0' || fail "job $jid exit code is not 0:0"

out=$WORK/job.out
nodelist=$(echo "$info" | sed -n 's/^ *NodeList=\([^ ]*\).*/\1/p')
expected=$(scontrol show hostnames "$nodelist" | paste -sd, - | sed 's/,/, /g')
grep -qF "starting 3 zmesh-launchers with srun on $expected:" "$out" ||
  fail "cluster_demo's expansion of $nodelist differs from scontrol show hostnames ($expected)"
grep -q "started 3 of 3 launchers" "$out" || fail "not all 3 launchers came up"
[ "$(grep -c 'crashed: host lost' "$out")" = 2 ] || fail "expected 2 host lost events"
grep -q "a call to all now: 4 replies, 2 missing" "$out" || fail "the call after the loss did not return 4 and name 2"
grep -q "^done: 3 hosts, 6 procs" "$out" || fail "cluster_demo did not finish"
for n in 1 2 3; do
  [ -s "$WORK/logs/zmesh-launcher-$P$n.log" ] || fail "no launcher log for $P$n"
done
log "job output and launcher logs as expected"

# Nothing of ours may outlive the job on any host (zombies count as gone).
ours() {
  for ns in "$P"1 "$P"2 "$P"3; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && continue
      case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
        "$(readlink -f "$DEMO")"|"$(readlink -f "$LAUNCHER")") echo "$ns:$pid" ;;
      esac
    done
  done
}
for _ in $(seq 100); do [ -z "$(ours)" ] && break; sleep 0.1; done
left=$(ours | paste -sd' ' -)
[ -z "$left" ] || fail "left behind after the job: $left"
log "PASS: no cluster_demo or zmesh-launcher left on ${P}1-3"
