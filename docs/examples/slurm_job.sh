#!/usr/bin/env bash
#SBATCH --job-name=zmesh-cluster-demo
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:10:00
# slurm_job.sh - a whole zmesh job under Slurm: `sbatch -N 3 slurm_job.sh` (or
# `salloc -N 3 slurm_job.sh`). The controller, cluster_demo, runs on the first node; it
# starts one zmesh-launcher per node with srun, waits until all listen, allocates a
# {host=3,gpu=2} mesh through them, runs the demo, and stops the launchers at the end.
# Your own controller does the same with zmesh::EngineLaunchers (docs/launcher.md).
# The binaries must be at the same path on every node (a shared file system).
#
# Usage:  [ZMESH_DEMO=/path/cluster_demo] [ZMESH_LAUNCHER=/path/zmesh-launcher]
#         [ZMESH_KEY_FILE=/path/key] sbatch -N 3 slurm_job.sh [cluster_demo options...]
#   e.g.  sbatch -N 3 slurm_job.sh --log-dir "$PWD/zmesh-logs"
# srun passes the job's environment (ZMESH_KEY_FILE, ZMESH_INSECURE, ZMESH_HEARTBEAT_*, ...)
# to the launchers, and they pass every ZMESH_* variable of the controller on to the procs.
set -euo pipefail
DEMO=${ZMESH_DEMO:-cluster_demo}
LAUNCHER=${ZMESH_LAUNCHER:-zmesh-launcher}
echo "job $SLURM_JOB_ID on $SLURM_JOB_NODELIST ($SLURM_JOB_NUM_NODES nodes), controller on $(hostname)"
exec "$DEMO" --start-launchers slurm --launcher "$LAUNCHER" ${ZMESH_KEY_FILE:+--key "$ZMESH_KEY_FILE"} "$@"
