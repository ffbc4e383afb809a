#!/usr/bin/env bash
# Scale run (issue #7): a sandbox study of N site processes on this machine.
# Reports wall time, study rounds, time per round and the coordinator's peak
# resident memory (VmHWM, polled from /proc while it runs).
#
#   tests/scale/run_scale.sh BUILD_DIR N [PATIENTS_PER_SITE]
#   e.g. for n in 4 16 50; do tests/scale/run_scale.sh build $n; done
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
n=${2:?number of sites}
# 80 patients: each site then has at least k = 10 events and 10 censored, which a
# site needs before it answers a Cox round (rule min-events, docs/models.md).
patients=${3:-80}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/fedrad-scale-XXXX)
trap 'rm -rf "$work"' EXIT
python3 "$here/make_sites.py" --out "$work/data" --sites "$n" --patients "$patients"
args=()
for f in "$work"/data/S*.csv; do args+=(--site "$(basename "$f" .csv)=$f"); done
peak=0
start=$(date +%s.%N)
"$build/bin/fedrad" sandbox "${args[@]}" --study "$here/scale_study.textproto" --out "$work/out" \
  > "$work/sandbox.log" 2>&1 &
sandbox=$!
while kill -0 "$sandbox" 2>/dev/null; do
  for pid in $(pgrep -f "fedrad-coordinator.*$work" || true); do
    hwm=$(awk '/VmHWM/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
  done
  sleep 0.2
done
wait "$sandbox" || { echo "sandbox failed:"; tail -20 "$work/sandbox.log"; exit 1; }
end=$(date +%s.%N)
python3 - "$work/out/results.json" "$start" "$end" "$peak" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
start, end, peak, n = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rounds = r["study"].get("rounds")
wall = end - start
cox = r.get("models", {}).get("cox", {})
print(f"sites={n} state={r['study']['state']} wall={wall:.1f}s rounds={rounds} "
      f"per_round={wall / rounds if rounds else float('nan'):.2f}s coordinator_peak_rss={peak / 1024:.1f}MiB "
      f"pooled_n={r['cohort']['pooled']['n']} cox_iterations={cox.get('iterations')}")
ok = (r["study"]["state"] == "SUCCEEDED" and len(r["study"]["completed_sites"]) == int(n)
      and "gamma_star" in r["harmonization"]["sites"][r["study"]["completed_sites"][0]]
      and cox.get("iterations") is not None)
sys.exit(0 if ok else 1)
PY
