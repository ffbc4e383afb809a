#!/usr/bin/env bash
# Long fuzzing runs (issue 17): runs every target until each has used at
# least CPU_MINUTES of CPU time in total, in chunks, and keeps a ledger so
# that the total carries over between invocations (and machines' sessions):
#   tests/fuzz/soak.sh run CPU_MINUTES [CHUNK_SECONDS] [TARGET...]
#   tests/fuzz/soak.sh report          # the totals per target, from the ledger
#   tests/fuzz/soak.sh table           # the same as a markdown table (for the docs)
# (clean_min: CPU minutes since the target's last finding; a target is done
# at 30).
# One target per core at a time, at nice 19 (other work on the machine goes
# first; the ledger counts CPU time, not wall time). Each chunk is one
# tests/fuzz/run.sh run (without its build step) (libFuzzer -max_total_time=CHUNK_SECONDS) on the
# kept corpus build-fuzz/corpus/TARGET/; its wall and CPU seconds (GNU time),
# executions and final coverage go to the ledger tests/fuzz/soak-ledger.tsv. A target
# with a finding stops (its input is in build-fuzz/artifacts/) and the script
# exits non-zero once the others are done.
set -euo pipefail
cd "$(dirname "$0")/../.."
# With the kernel's autogroups (Debian's default), nice only orders processes
# within their session: a soak started in its own session (setsid, nohup)
# would take an equal share from a build in another. Lower the whole
# session's group as well.
echo 19 >/proc/self/autogroup 2>/dev/null || true
BUILD=${FEDRAD_FUZZ_BUILD:-build-fuzz}
SOAK=$BUILD/soak
# The ledger is committed (a session's machine does not outlive it): each
# session's chunks are added and the figures in docs/architecture.md come
# from it. Its first lines are session 6's per-target totals (that
# session's chunk lines were lost with its build folder).
LEDGER=${FEDRAD_FUZZ_LEDGER:-tests/fuzz/soak-ledger.tsv}
mkdir -p "$SOAK"
[ -f "$LEDGER" ] || printf 'ended\ttarget\twall_s\tcpu_s\texecs\tcov\tft\tcorpus\trc\n' >"$LEDGER"

usage() { echo "usage: $0 run CPU_MINUTES [CHUNK_SECONDS] [TARGET...] | $0 report | $0 table" >&2; exit 2; }

# cpu_so_far TARGET: CPU seconds in the ledger since the target's last
# chunk with a finding or a failed run (integer): after a fix, a target
# needs its minutes again.
cpu_so_far() {
  awk -F'\t' -v t="$1" 'NR > 1 && $2 == t { s = ($9 != 0) ? 0 : s + $4 } END { printf "%d", s }' "$LEDGER"
}

report() {
  awk -F'\t' 'NR > 1 {
      cpu[$2] += $4; execs[$2] += $5; chunks[$2]++;
      clean[$2] = ($9 != 0) ? 0 : clean[$2] + $4;
      if ($6 > cov[$2]) cov[$2] = $6; if ($7 > ft[$2]) ft[$2] = $7; corpus[$2] = $8;
      if ($9 != 0) bad[$2]++
    }
    END {
      printf "%-26s %8s %9s %7s %14s %8s %8s %8s %s\n", "target", "cpu_min", "clean_min",
             "chunks", "executions", "cov", "ft", "corpus", "findings";
      for (t in cpu)
        printf "%-26s %8.1f %9.1f %7d %14d %8d %8d %8d %d\n", t, cpu[t] / 60, clean[t] / 60,
               chunks[t], execs[t], cov[t], ft[t], corpus[t], bad[t];
    }' "$LEDGER" | { read -r header; echo "$header"; sort; }
}

# table: the totals as the markdown table of docs/architecture.md.
table() {
  echo "| target | CPU min | clean CPU min | chunks | executions | cov | ft | corpus |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  awk -F'\t' 'NR > 1 {
      cpu[$2] += $4; execs[$2] += $5; chunks[$2]++;
      clean[$2] = ($9 != 0) ? 0 : clean[$2] + $4;
      if ($6 > cov[$2]) cov[$2] = $6; if ($7 > ft[$2]) ft[$2] = $7; corpus[$2] = $8
    }
    END {
      for (t in cpu)
        printf "| %s | %.1f | %.1f | %d | %d | %d | %d | %d |\n", t, cpu[t] / 60,
               clean[t] / 60, chunks[t], execs[t], cov[t], ft[t], corpus[t];
    }' "$LEDGER" | LC_ALL=C sort
}

# A second soak of a target already soaking (its own lane: FEDRAD_SOAK_LANE=2
# soak.sh run ...) keeps its own time, summary and log files; the corpus
# folder is shared (libFuzzer processes may share one) and so is the ledger.
LANE=${FEDRAD_SOAK_LANE:+.lane$FEDRAD_SOAK_LANE}
LOGS_DIR=$BUILD/logs${FEDRAD_SOAK_LANE:+/lane$FEDRAD_SOAK_LANE}

# chunk TARGET SECONDS: one run, one ledger line; returns run.sh's status.
chunk() {
  local target=$1 seconds=$2 times="$SOAK/$1$LANE.time" rc=0
  /usr/bin/time -f '%e %U %S' -o "$times" \
    env FEDRAD_FUZZ_NO_BUILD=1 LOGS="$LOGS_DIR" nice -n 19 tests/fuzz/run.sh "$target" "$seconds" \
    >"$SOAK/$target$LANE.chunk" 2>&1 || rc=$?
  local log="$LOGS_DIR/$target.log"
  local wall cpu execs cov ft corpus
  # GNU time writes "Command exited with non-zero status N" first on failure.
  read -r wall user sys < <(tail -1 "$times") || true
  cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.1f", u + s }')
  execs=$(grep -a -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{ print $2 }' | tail -1)
  # The last status line libFuzzer printed: "#N ... cov: C ft: F corp: K/..."
  local last
  last=$(grep -a -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|DONE|INITED)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "${wall:-0}" \
    "$cpu" "${execs:-0}" "${cov:-0}" "${ft:-0}" "${corpus:-0}" "$rc" >>"$LEDGER"
  return "$rc"
}

# soak TARGET MINUTES CHUNK: chunks until the ledger holds MINUTES of CPU.
soak() {
  local target=$1 need=$(( $2 * 60 )) seconds=$3
  while [ "$(cpu_so_far "$target")" -lt "$need" ]; do
    if ! chunk "$target" "$seconds"; then
      echo "!! $target: a finding or a failed run; see $LOGS_DIR/$target.log and $BUILD/artifacts/" >&2
      return 1
    fi
  done
  echo "$target: $(( $(cpu_so_far "$target") / 60 )) CPU-minutes"
}

[ $# -ge 1 ] || usage
case "$1" in
  report) report ;;
  table) table ;;
  run)
    [ $# -ge 2 ] || usage
    minutes=$2 seconds=${3:-600}
    shift $(( $# >= 3 ? 3 : 2 ))
    mapfile -t targets < <(if [ $# -gt 0 ]; then printf '%s\n' "$@"; else tests/fuzz/run.sh list; fi)
    # Built once, here; the chunks run in parallel and do not build.
    [ -f "$BUILD/build.ninja" ] || { echo "configure $BUILD first (tests/fuzz/run.sh list; run.sh TARGET 1)" >&2; exit 2; }
    nice -n 19 cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}" >"$SOAK/build.log" 2>&1 ||
      { tail -30 "$SOAK/build.log" >&2; exit 1; }
    failed=()
    declare -A pid_of=()
    for t in "${targets[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || true; done
      soak "$t" "$minutes" "$seconds" >"$SOAK/$t$LANE.summary" 2>&1 &
      pid_of[$t]=$!
    done
    for t in "${targets[@]}"; do
      wait "${pid_of[$t]}" || failed+=("$t")
      cat "$SOAK/$t$LANE.summary"
    done
    report
    [ ${#failed[@]} -eq 0 ] || { echo "targets with findings: ${failed[*]}" >&2; exit 1; }
    ;;
  *) usage ;;
esac
