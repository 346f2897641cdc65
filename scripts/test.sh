#!/usr/bin/env bash
# Builds zmesh and runs every test. Default: ASan+UBSan build in build-asan/.
# Usage: scripts/test.sh [--tsan] [--plain] [--no-fuzz] [-R REGEX] [-L LABEL] [-j N]
#   --tsan     ThreadSanitizer build in build-tsan/ (suppressions: scripts/tsan.supp)
#   --plain    no sanitizers, build-release/ (what benchmarks use)
#   --no-fuzz  skip the short fuzzing run (default ASan mode only: scripts/fuzz.sh, each
#              target for $ZMESH_FUZZ_SECONDS s, default 10, before ctest)
#   other arguments are passed to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

mode=asan
fuzz=1
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tsan) mode=tsan ;;
    --plain) mode=release ;;
    --no-fuzz) fuzz=0 ;;
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

# Fuzzing first, so that ctest's summary stays the last thing printed.
fuzz_failed=0
if [ "$mode" = asan ] && [ "$fuzz" = 1 ]; then
  echo "test.sh: fuzzing each target for ${ZMESH_FUZZ_SECONDS:-10} s (scripts/fuzz.sh; --no-fuzz skips)"
  fuzz_status=0
  scripts/fuzz.sh --seconds "${ZMESH_FUZZ_SECONDS:-10}" --jobs "$jobs" ||
    fuzz_status=$?
  if [ "$fuzz_status" = 77 ]; then
    echo "test.sh: fuzzing SKIPPED: clang-16/libFuzzer are not installed and cannot be (see above)"
  elif [ "$fuzz_status" != 0 ]; then
    fuzz_failed=1
  fi
fi

echo "test.sh: running tests (ctest in $build; failing output is printed)"
cd "$build"
ctest_status=0
ctest --output-on-failure -j "$jobs" --timeout 300 "${ctest_args[@]}" || ctest_status=$?
if [ "$fuzz_failed" = 1 ]; then
  echo "test.sh: FAILED: fuzzing found a crash (reported above, before the tests)"
  exit 1
fi
exit "$ctest_status"
