#!/usr/bin/env bash
# Builds zmesh and runs every test. Default: ASan+UBSan build in build-asan/, plus the
# Release build of the whole tree in build-release/ (benchmarks and examples included,
# -Werror as every build) and its smoke tests (ctest -L smoke: the examples and a moment of
# each benchmark), then a short fuzzing run, then every test of the ASan build.
# Usage: scripts/test.sh [--tsan] [--plain] [--no-fuzz] [--no-release] [-R REGEX] [-L LABEL] [-j N]
#   --tsan        ThreadSanitizer build in build-tsan/ (suppressions: scripts/tsan.supp)
#   --plain       no sanitizers: the Release build in build-release/ (what benchmarks use),
#                 every test
#   --no-fuzz     skip the short fuzzing run (default ASan mode only: scripts/fuzz.sh, each
#                 target for $ZMESH_FUZZ_SECONDS s, default 10, before ctest)
#   --no-release  skip the Release build and its smoke tests (default ASan mode only)
#   other arguments are passed to ctest (of the ASan, TSan or plain build)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=asan
fuzz=1
release=1
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tsan) mode=tsan ;;
    --plain) mode=release ;;
    --no-fuzz) fuzz=0 ;;
    --no-release) release=0 ;;
    *) ctest_args+=("$1") ;;
  esac
  shift
done

scripts/install-deps.sh

jobs=$(nproc)
# The Release build (--plain, and the default mode's Release step) has everything, benchmarks
# included (named here, as scripts/demo.sh turns tests and benchmarks off in the same tree);
# it skips the header check, which the sanitizer builds run.
release_flags=(-DCMAKE_BUILD_TYPE=Release -DZMESH_BUILD_TESTS=ON -DZMESH_BUILD_EXAMPLES=ON
  -DZMESH_BUILD_BENCH=ON -DZMESH_CHECK_HEADERS=OFF)
case "$mode" in
  asan) build=build-asan; flags=(-DZMESH_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DZMESH_BUILD_BENCH=OFF) ;;
  tsan) build=build-tsan; flags=(-DZMESH_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZMESH_BUILD_BENCH=OFF) ;;
  release) build=build-release; flags=("${release_flags[@]}") ;;
esac

# configure_and_build DIR FLAGS...: configures and builds the whole tree in DIR; on failure
# prints the end of the log and returns 1.
configure_and_build() {
  local dir=$1
  shift
  echo "test.sh: configuring $dir ($*)"
  cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  echo "test.sh: building $dir with $jobs jobs (log: $dir.build.log)"
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 ||
    { tail -n 60 "$dir.build.log"; echo "test.sh: build of $dir failed, full log in $dir.build.log"; return 1; }
}

configure_and_build "$build" "${flags[@]}" || exit 1

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp:halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"

# The Release build and its smoke tests, then fuzzing, so that ctest's summary stays the last
# thing printed; a failure of either is reported again at the end.
release_failed=0
if [ "$mode" = asan ] && [ "$release" = 1 ]; then
  echo "test.sh: Release build of the whole tree and its smoke tests (--no-release skips)"
  if configure_and_build build-release "${release_flags[@]}"; then
    (cd build-release && ctest --output-on-failure -L smoke --no-tests=error --timeout 300) || release_failed=1
  else
    release_failed=1
  fi
fi

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
if [ "$release_failed" = 1 ]; then
  echo "test.sh: FAILED: the Release build or its smoke tests failed (reported above, before the tests)"
  exit 1
fi
if [ "$fuzz_failed" = 1 ]; then
  echo "test.sh: FAILED: fuzzing found a crash (reported above, before the tests)"
  exit 1
fi
exit "$ctest_status"
