#!/usr/bin/env bash
# Installs the Debian 12 packages zmesh needs to build, test and benchmark, if missing.
# Usage: scripts/install-deps.sh   (as root; does nothing when everything is present)
set -euo pipefail

packages=(g++ cmake make pkg-config libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
  libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev
  libfmt-dev procps openmpi-bin libopenmpi-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
