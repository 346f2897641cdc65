#!/usr/bin/env bash
# Builds zmesh (Release, in build-release/) and runs the demo: one controller drives a
# {host=2,gpu=4} mesh of processes on this machine.
# Usage: scripts/demo.sh [--transport ipc|tcp]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "demo.sh: configuring build-release/"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DZMESH_BUILD_TESTS=OFF -DZMESH_BUILD_BENCH=OFF \
  >build-release.configure.log 2>&1 || { cat build-release.configure.log; exit 1; }
echo "demo.sh: building the demo with $(nproc) jobs (log: build-release.build.log)"
cmake --build build-release -j "$(nproc)" --target mesh_demo >build-release.build.log 2>&1 ||
  { tail -n 60 build-release.build.log; echo "demo.sh: build failed, full log in build-release.build.log"; exit 1; }
echo "demo.sh: running build-release/examples/mesh_demo $*"
exec build-release/examples/mesh_demo "$@"
