#!/usr/bin/env bash
# Builds zmesh and runs every test. Default: ASan+UBSan build in build-asan/.
# Usage: scripts/test.sh [--tsan] [--plain] [-R REGEX] [-L LABEL] [-j N]
#   --tsan   ThreadSanitizer build in build-tsan/ (suppressions: scripts/tsan.supp)
#   --plain  no sanitizers, build-release/ (what benchmarks use)
#   other arguments are passed to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

mode=asan
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tsan) mode=tsan ;;
    --plain) mode=release ;;
    *) ctest_args+=("$1") ;;
  esac
  shift
done

scripts/install-deps.sh

jobs=$(nproc)
case "$mode" in
  asan) build=build-asan; flags=(-DZMESH_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug) ;;
  tsan) build=build-tsan; flags=(-DZMESH_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  release) build=build-release; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
esac

echo "test.sh: configuring $build (${flags[*]})"
cmake -S . -B "$build" "${flags[@]}" -DZMESH_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
echo "test.sh: building with $jobs jobs (log: $build.build.log)"
cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1 ||
  { tail -n 60 "$build.build.log"; echo "test.sh: build failed, full log in $build.build.log"; exit 1; }

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp:halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"

echo "test.sh: running tests (ctest in $build; failing output is printed)"
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 300 "${ctest_args[@]}"
