#!/usr/bin/env bash
# Builds zmesh's libFuzzer targets (tests/fuzz) with clang-16 in build-fuzz/ and runs each for a
# while on a copy of its seed corpus. Exits 1 if any target crashed (the reproducer path is
# printed), 77 if clang-16/libFuzzer are missing and cannot be installed (not root).
# Usage: scripts/fuzz.sh [--seconds N] [--merge] [--seeds] [--jobs N] [target...]
#   --seconds N  how long each target runs (default 60)
#   --merge      afterwards, minimize what the run found into tests/fuzz/corpus/<target>
#   --seeds      first regenerate the committed seeds (tests/fuzz/make_seeds.cpp)
#   --jobs N     build jobs (default 2)
#   target       fuzz_envelope fuzz_bulk_messages fuzz_link_header fuzz_agent_messages
#                fuzz_comm_messages fuzz_selection (default: all); the fuzz_ prefix may be left out
# Each run's corpus lives in build-fuzz/fuzz-corpus/<target> (kept between runs, refilled from
# the committed seeds each time), crashes in build-fuzz/fuzz-artifacts/<target>/, logs in
# build-fuzz/fuzz-logs/<target>.log. Reproduce a crash: build-fuzz/tests/fuzz/<target> <file>.
# ZMESH_FUZZ_ARGS adds libFuzzer flags, e.g. "-fork=1 -ignore_ooms=1" to keep going past a
# known out-of-memory finding.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(fuzz_envelope fuzz_bulk_messages fuzz_link_header fuzz_agent_messages fuzz_comm_messages fuzz_selection)
seconds=60
merge=0
seeds=0
jobs=2
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --merge) merge=1 ;;
    --seeds) seeds=1 ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) t="$1"; [[ "$t" == fuzz_* ]] || t="fuzz_$t"
       if [[ ! " ${all_targets[*]} " == *" $t "* ]]; then
         echo "fuzz.sh: unknown target $1 (targets: ${all_targets[*]})" >&2; exit 2
       fi
       targets+=("$t") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

# -- toolchain: clang-16 with libFuzzer and the sanitizer runtimes (Debian 12 packages) --
fuzz_packages=(clang-16 libfuzzer-16-dev libclang-rt-16-dev)
missing=()
for p in "${fuzz_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz.sh: SKIPPED: missing ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 77
  fi
  echo "fuzz.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
    echo "fuzz.sh: SKIPPED: could not install ${missing[*]}" >&2
    exit 77
  fi
fi
scripts/install-deps.sh >/dev/null

# -- configure and build only the fuzz targets (and the libraries they link) --
build=build-fuzz
launcher=()
if command -v ccache >/dev/null && [ "${ZMESH_FUZZ_CCACHE:-1}" != 0 ]; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
echo "fuzz.sh: configuring $build (clang++-16, ZMESH_FUZZ=ON)"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-16 -DZMESH_FUZZ=ON -DZMESH_BUILD_TESTS=OFF \
  -DZMESH_BUILD_BENCH=OFF -DZMESH_BUILD_EXAMPLES=OFF "${launcher[@]}" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
build_targets=("${targets[@]}")
[ "$seeds" = 0 ] || build_targets+=(fuzz_seeds)
echo "fuzz.sh: building ${build_targets[*]} with $jobs jobs (log: $build.build.log)"
start=$SECONDS
nice -n 10 cmake --build "$build" -j "$jobs" --target "${build_targets[@]}" >"$build.build.log" 2>&1 ||
  { tail -n 60 "$build.build.log"; echo "fuzz.sh: build failed, full log in $build.build.log"; exit 1; }
echo "fuzz.sh: built in $((SECONDS - start)) s"
if [ "$seeds" = 1 ]; then
  "$build/tests/fuzz/fuzz_seeds" tests/fuzz/corpus
  echo "fuzz.sh: regenerated the seeds in tests/fuzz/corpus"
fi

# -- run --
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp:${UBSAN_OPTIONS:-}"
for symbolizer in llvm-symbolizer-16 /usr/lib/llvm-16/bin/llvm-symbolizer llvm-symbolizer; do
  if path=$(command -v "$symbolizer"); then
    export ASAN_SYMBOLIZER_PATH="$path"
    export UBSAN_OPTIONS="$UBSAN_OPTIONS:external_symbolizer_path=$path"
    break
  fi
done
# A forged length must not make a decoder allocate wildly: such an input is a finding.
limits=(-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -max_len=4096)

summary=()
crashed=0
for target in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$target"
  artifacts="$build/fuzz-artifacts/$target"
  log="$build/fuzz-logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  dict=()
  [ -f "tests/fuzz/dict/$target.dict" ] && dict=(-dict="tests/fuzz/dict/$target.dict")
  echo "fuzz.sh: running $target for $seconds s (log: $log)"
  status=0
  # shellcheck disable=SC2086 # ZMESH_FUZZ_ARGS: extra libFuzzer flags, split on spaces
  nice -n 10 "$build/tests/fuzz/$target" "${limits[@]}" "${dict[@]}" -max_total_time="$seconds" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${ZMESH_FUZZ_ARGS:-} "$corpus" >"$log" 2>&1 ||
    status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  found=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then  # -fork=N prints no final stats: its last progress line instead
    execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -n 1)
    [ -z "$execs" ] || rate=$((execs / seconds))
    ooms=$(grep -o 'oom/timeout/crash: [0-9/]*' "$log" | tail -n 1 || true)
    [ -z "$ooms" ] || found="? (fork mode, ${ooms})"
  fi
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1 || true)
  crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
  if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
    crashed=1
    echo "fuzz.sh: $target CRASHED (exit $status); the report:"
    # The first report line and the frames in zmesh code (full report in the log).
    grep -m 1 -E 'ERROR: |runtime error|FUZZ_CHECK failed' "$log" || tail -n 20 "$log"
    grep -E '^ +#[0-9]+ .* in .*(zmesh|tests/fuzz)' "$log" | grep -v -E ' /usr/(bin|include|lib)/\S+$' |
      sed -E 's/ \(BuildId: [0-9a-f]+\)//; s/^ +/      /' | awk '!seen[$0]++' | head -n 10 || true
    echo "fuzz.sh: reproducer: ${crash:-none written (see $log)}"
    echo "fuzz.sh: reproduce with: $build/tests/fuzz/$target ${crash:-<input>}"
    summary+=("$(printf '%-20s CRASH  %10s execs %8s/s  %-22s %s' "$target" "${execs:-?}" \
      "${rate:-?}" "${cov:-cov: ?}" "${crash:-see $log}")")
  else
    summary+=("$(printf '%-20s ok     %10s execs %8s/s  %-22s %s new inputs' "$target" "${execs:-?}" \
      "${rate:-?}" "${cov:-cov: ?}" "${found:-0}")")
  fi
  if [ "$merge" = 1 ]; then
    before=$(ls "tests/fuzz/corpus/$target" | wc -l)
    nice -n 10 "$build/tests/fuzz/$target" "${limits[@]}" -merge=1 "tests/fuzz/corpus/$target" \
      "$corpus" >"$build/fuzz-logs/$target.merge.log" 2>&1 ||
      echo "fuzz.sh: merging $target failed (see $build/fuzz-logs/$target.merge.log)"
    echo "fuzz.sh: merged into tests/fuzz/corpus/$target: $before -> $(ls "tests/fuzz/corpus/$target" | wc -l) inputs"
  fi
done

echo "fuzz.sh: summary ($seconds s per target; corpus coverage as 'cov: edges ft: features')"
for line in "${summary[@]}"; do echo "  $line"; done
exit "$crashed"
