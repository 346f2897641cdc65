#!/usr/bin/env bash
# slurm-down.sh - stop the test Slurm cluster that scripts/slurm-up.sh started in
# SLURM_TEST_DIR: cancels its jobs, then stops exactly the daemons named in its pid files
# (slurmd(s), slurmctld, munged) and any slurmstepd of that cluster (found by its open
# files under SLURM_TEST_DIR); TERM, then KILL after 10 s. Never kills by name. Safe to
# run again: with nothing running it says so. Run it before scripts/netns-down.sh.
#
# Usage:  [SLURM_TEST_DIR=/tmp/slurm-test] scripts/slurm-down.sh [--purge]
#   --purge   also delete SLURM_TEST_DIR (by default the logs are kept)
# Exit codes: 0 done; 77 not root (tests skip).
set -uo pipefail

DIR=${SLURM_TEST_DIR:-/tmp/slurm-test}
PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) awk 'NR>1 && /^#/ {print; next} NR>1 {exit}' "$0"; exit 0 ;;
    *) echo "slurm-down: unknown argument $a" >&2; exit 2 ;;
  esac
done
T0=$(date +%s%N)
log() { printf "[slurm-down %5dms] %s\n" $(( ($(date +%s%N) - T0) / 1000000 )) "$*"; }
case "$DIR" in /?*) ;; *) log "SLURM_TEST_DIR must be an absolute path, not '$DIR'"; exit 2 ;; esac
DIR=${DIR%/}
CONF=$DIR/etc/slurm.conf

[ "$(id -u)" = 0 ] || { log "SKIP: needs root" >&2; exit 77; }
if [ ! -d "$DIR" ]; then
  log "no $DIR; nothing to stop"; exit 0
fi

# gone or a zombie (PID 1 in some sandboxes reaps orphans only every ~2 s)
gone() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]; }
# pid of PIDFILE if it is alive and runs the program named EXE, else empty
live_pid() {
  local pf=$1 exe=$2 pid want
  [ -s "$pf" ] || return 0
  pid=$(cat "$pf" 2>/dev/null)
  [ -n "$pid" ] && ! gone "$pid" || return 0
  want=$(readlink -f "$(command -v "$exe" 2>/dev/null || echo "/usr/sbin/$exe")")
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$want" ] && echo "$pid"
}
stop_pid() {  # stop_pid PID WHAT : TERM, wait up to 10 s, then KILL
  local pid=$1 what=$2
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 200); do gone "$pid" && { log "stopped $what (pid $pid)"; return 0; }; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
  log "killed $what (pid $pid) after 10 s"
}

stopped=0
ctld=$(live_pid "$DIR/run/slurmctld.pid" slurmctld)

# 1. cancel jobs while the controller still answers
if [ -n "$ctld" ] && [ -f "$CONF" ]; then
  jobs=$(SLURM_CONF=$CONF timeout 10 squeue -h -o %i 2>/dev/null | paste -sd' ' -)
  if [ -n "$jobs" ]; then
    log "cancelling jobs: $jobs"
    SLURM_CONF=$CONF timeout 10 scancel $jobs 2>/dev/null
    for _ in $(seq 100); do
      [ -z "$(SLURM_CONF=$CONF timeout 10 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1
    done
  fi
fi

# 2. slurmd(s), one pid file per node
for pf in "$DIR"/run/slurmd-*.pid; do
  [ -e "$pf" ] || continue
  pid=$(live_pid "$pf" slurmd)
  if [ -n "$pid" ]; then stop_pid "$pid" "slurmd $(basename "$pf" .pid | sed 's/^slurmd-//')"; stopped=$((stopped+1)); fi
  rm -f "$pf"
done

# 3. leftover slurmstepd of this cluster: slurmstepd processes holding a file under $DIR open
stepd=$(readlink -f "$(command -v slurmstepd 2>/dev/null || echo /usr/sbin/slurmstepd)")
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$(readlink "$p/exe" 2>/dev/null)" = "$stepd" ] || continue
  for fd in "$p"/fd/*; do
    case "$(readlink "$fd" 2>/dev/null)" in
      "$DIR"/*) stop_pid "$pid" "slurmstepd"; stopped=$((stopped+1)); break ;;
    esac
  done
done

# 4. slurmctld
if [ -n "$ctld" ]; then stop_pid "$ctld" slurmctld; stopped=$((stopped+1)); fi
rm -f "$DIR/run/slurmctld.pid"

# 5. munged
pid=$(live_pid "$DIR/run/munged.pid" munged)
if [ -n "$pid" ]; then stop_pid "$pid" munged; stopped=$((stopped+1)); fi
rm -f "$DIR/run/munged.pid" "$DIR/munge/munge.socket.2" "$DIR/munge/munge.socket.2.lock"
rm -f "$DIR/env.sh" "$DIR/env"

[ "$stopped" = 0 ] && log "nothing was running in $DIR"
if [ "$PURGE" = 1 ]; then rm -rf "$DIR"; log "removed $DIR"; else log "logs kept in $DIR/log"; fi
exit 0
