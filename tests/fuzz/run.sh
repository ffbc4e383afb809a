#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz/ (building it first), or all of
# them one after the other:
#   tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags...]
#   tests/fuzz/run.sh all SECONDS          # every target, SECONDS each, one per core (CI)
#   tests/fuzz/run.sh list                 # the target names
# The build is build-fuzz/ (clang, -DFEDRAD_FUZZ=ON; ccache when installed).
# Each run reads the committed seeds tests/fuzz/corpus/TARGET/ and keeps
# what it finds in build-fuzz/corpus/TARGET/ (not committed); a crash is
# written to build-fuzz/artifacts/ and the script exits non-zero. Set
# FEDRAD_FUZZ_BUILD to use another build folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=tests/fuzz
BUILD=${FEDRAD_FUZZ_BUILD:-build-fuzz}
TARGETS=(fuzz_site_task fuzz_coordinator_result fuzz_rounds fuzz_config fuzz_csv fuzz_audit
         fuzz_pem fuzz_image fuzz_dicom fuzz_report)

usage() { echo "usage: $0 TARGET|all SECONDS [libFuzzer flags...] | $0 list" >&2; exit 2; }

configure() {
  [ -f "$BUILD/build.ninja" ] && return 0
  local launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFEDRAD_FUZZ=ON -DFEDRAD_BUILD_TESTS=OFF -DFEDRAD_BUILD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
}

# build TARGET...: quiet unless it fails.
build() {
  if ! cmake --build "$BUILD" -j "$(nproc)" --target "$@" >"$BUILD/build-fuzz.log" 2>&1; then
    tail -50 "$BUILD/build-fuzz.log" >&2
    return 1
  fi
}

# run TARGET SECONDS [flags...]: one bounded run; non-zero on a crash.
run() {
  local target=$1 seconds=$2
  shift 2
  local seeds="$HERE/corpus/$target" work="$BUILD/corpus/$target"
  mkdir -p "$work" "$BUILD/artifacts" "$BUILD/logs"
  local flags=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1
               -artifact_prefix="$BUILD/artifacts/$target-")
  [ -f "$HERE/dict/$target.dict" ] && flags+=(-dict="$HERE/dict/$target.dict")
  echo "==> $target for ${seconds}s"
  # libFuzzer stops by itself after max_total_time; the outer timeout only
  # guards against a hang in start-up. The whole output is kept in
  # $BUILD/logs/TARGET.log; the summary lines are shown.
  mkdir -p "$BUILD/logs"
  export LSAN_OPTIONS="suppressions=$PWD/$HERE/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1"
  local log="$BUILD/logs/$target.log" rc=0
  timeout $((seconds + 300)) "$BUILD/fuzz/$target" "${flags[@]}" "$@" "$work" "$seeds" \
    >"$log" 2>&1 || rc=$?
  grep -a -E "^(INFO: seed corpus|#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$log" || true
  [ "$rc" -eq 0 ] || echo "!! $target exited with $rc; see $log" >&2
  return "$rc"
}

[ $# -ge 1 ] || usage
case "$1" in
  list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
  all)
    [ $# -ge 2 ] || usage
    configure
    build "${TARGETS[@]}"
    mkdir -p "$BUILD/logs"  # the summaries below are written before run() makes it
    # One target per core at a time (each is one process); the summaries
    # are printed in order once all ended.
    jobs_max=$(nproc)
    declare -A pid_of=()
    for t in "${TARGETS[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
      run "$t" "$2" >"$BUILD/logs/$t.summary" 2>&1 &
      pid_of[$t]=$!
    done
    failed=()
    for t in "${TARGETS[@]}"; do
      wait "${pid_of[$t]}" || failed+=("$t")
      cat "$BUILD/logs/$t.summary"
    done
    if [ ${#failed[@]} -gt 0 ]; then
      echo "fuzz targets with findings: ${failed[*]} (inputs in $BUILD/artifacts/)" >&2
      exit 1
    fi
    ;;
  *)
    [ $# -ge 2 ] || usage
    target=$1 seconds=$2
    shift 2
    printf '%s\n' "${TARGETS[@]}" | grep -qx "$target" || { echo "unknown target $target" >&2; usage; }
    if [ -z "${FEDRAD_FUZZ_NO_BUILD:-}" ]; then  # set by soak.sh, which builds once
      configure
      build "$target"
    fi
    run "$target" "$seconds" "$@"
    ;;
esac
