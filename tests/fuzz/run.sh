#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz/ (building it first), or all of
# them one after the other:
#   tests/fuzz/run.sh TARGET SECONDS [libFuzzer flags...]
#   tests/fuzz/run.sh all SECONDS          # every target, SECONDS each, one per core
#   tests/fuzz/run.sh ci                   # every target, a fixed seed and count (CI)
#   tests/fuzz/run.sh build                # configure and build every target only
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

# For `ci`: executions per target, about 20 s each on the 2-core machine
# (80 % of what a 20 s run executed in CI), with -seed=1. A fixed seed and
# count make the CI check repeatable: the same commit explores the same
# inputs, so CI fails because of a change, not because this run's random
# mutations happened upon an old bug. Finding new bugs is the long runs' job
# (soak.sh); what they find goes into the committed corpus, which CI runs.
declare -A CI_RUNS=([fuzz_site_task]=50000 [fuzz_coordinator_result]=10000 [fuzz_rounds]=16000
                    [fuzz_config]=150000 [fuzz_csv]=60000 [fuzz_audit]=2500 [fuzz_pem]=5000
                    [fuzz_image]=10000 [fuzz_dicom]=10000 [fuzz_report]=20000)

NORAND=()  # a command prefix for run(); see `ci`

usage() { echo "usage: $0 TARGET|all SECONDS [libFuzzer flags...] | $0 ci | $0 build | $0 list" >&2; exit 2; }

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
  local seeds="$HERE/corpus/$target" work="${WORK_CORPUS:-$BUILD/corpus}/$target"
  local logs=${LOGS:-$BUILD/logs}
  mkdir -p "$work" "$BUILD/artifacts" "$logs"
  local flags=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1
               -artifact_prefix="$BUILD/artifacts/$target-")
  [ -f "$HERE/dict/$target.dict" ] && flags+=(-dict="$HERE/dict/$target.dict")
  echo "==> $target for at most ${seconds}s${*:+ ($*)}"
  # libFuzzer stops by itself after max_total_time; the outer timeout only
  # guards against a hang in start-up. The whole output is kept in
  # $BUILD/logs/TARGET.log ($BUILD/ci-logs/ for `ci`, so that a CI check
  # beside a long run does not write into its log); the summary lines are
  # shown.
  export LSAN_OPTIONS="suppressions=$PWD/$HERE/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1"
  local log="$logs/$target.log" rc=0
  timeout $((seconds + 300)) "${NORAND[@]}" "$BUILD/fuzz/$target" "${flags[@]}" "$@" "$work" "$seeds" \
    >"$log" 2>&1 || rc=$?
  grep -a -E "^(INFO: seed corpus|#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$log" || true
  [ "$rc" -eq 0 ] || echo "!! $target exited with $rc; see $log" >&2
  return "$rc"
}

[ $# -ge 1 ] || usage
case "$1" in
  list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
  build) configure; build "${TARGETS[@]}" ;;
  all|ci)
    [ "$1" = ci ] || [ $# -ge 2 ] || usage
    mode=$1 seconds=${2:-}
    if [ "$mode" = ci ]; then
      if setarch -R true 2>/dev/null; then
        NORAND=(setarch -R)
        echo "(address randomisation off: setarch -R)"
      else
        echo "(setarch -R is not permitted here: address randomisation moves absl's hash seed," \
             "so these runs may differ from another machine's)"
      fi
    fi
    configure
    build "${TARGETS[@]}"
    logs=$BUILD/logs
    [ "$mode" = ci ] && logs=$BUILD/ci-logs
    mkdir -p "$logs"  # the summaries below are written before run() makes it
    # One target per core at a time (each is one process); the summaries
    # are printed in order once all ended.
    jobs_max=$(nproc)
    declare -A pid_of=()
    for t in "${TARGETS[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
      if [ "$mode" = ci ]; then
        # Only the committed corpus (a fresh folder for what the run adds);
        # max_total_time only bounds a much slower machine.
        # What else makes two runs differ: libFuzzer rereads its corpus
        # folders every second (-reload), and address randomisation moves
        # absl's per-process hash seed, so hash tables iterate in another
        # order (setarch -R turns it off where the kernel lets it).
        rm -rf "$BUILD/ci-corpus/$t"
        WORK_CORPUS=$BUILD/ci-corpus LOGS=$logs run "$t" 600 -seed=1 -reload=0 \
          -runs="${CI_RUNS[$t]}" >"$logs/$t.summary" 2>&1 &
      else
        run "$t" "$seconds" >"$logs/$t.summary" 2>&1 &
      fi
      pid_of[$t]=$!
    done
    failed=()
    for t in "${TARGETS[@]}"; do
      wait "${pid_of[$t]}" || failed+=("$t")
      cat "$logs/$t.summary"
    done
    if [ ${#failed[@]} -gt 0 ]; then
      echo "fuzz targets with findings: ${failed[*]} (inputs in $BUILD/artifacts/)" >&2
      # CI keeps only its log: print each small finding so that it can be
      # rebuilt from the log (base64 -d) and replayed here.
      for t in "${failed[@]}"; do
        for f in "$BUILD/artifacts/$t-"*; do
          if [ ! -f "$f" ] || [ "$(stat -c %s "$f")" -gt 65536 ]; then continue; fi
          echo "input $(basename "$f") (base64):" >&2
          base64 -w 0 "$f" >&2
          echo >&2
        done
      done
      exit 1
    fi
    ;;
  *)
    [ $# -ge 2 ] || usage
    target=$1 seconds=$2
    shift 2
    # Not `grep -q`: it may exit before printf has written all, and with
    # pipefail printf's SIGPIPE failed the check (a soak chunk did so).
    printf '%s\n' "${TARGETS[@]}" | grep -x "$target" >/dev/null ||
      { echo "unknown target $target" >&2; usage; }
    if [ -z "${FEDRAD_FUZZ_NO_BUILD:-}" ]; then  # set by soak.sh, which builds once
      configure
      build "$target"
    fi
    run "$target" "$seconds" "$@"
    ;;
esac
