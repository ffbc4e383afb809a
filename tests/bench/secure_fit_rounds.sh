#!/usr/bin/env bash
# The cost of secure aggregation as a user meets it: the same site-stratified
# Cox fit over N sites (200 synthetic patients each, 4 covariates), run with
# `fedrad sandbox` once plain (verifiable rounds only) and once with
# `secure_aggregation: true`, whole federations on loopback with mutual TLS.
# Prints, per N: the time per evaluation of the derivatives (from one
# models.derivatives exchange to the next, from the second evaluation on,
# read from the coordinator's audit log: for the secure fit the masked exchange, the reveal and the
# coordinator's step; for the plain fit the verified plain exchange and the
# step) and its ratio; the secure fit's one-off setup (secagg.advertise,
# secagg.shares); the whole fits (results.json models.cox.fit_seconds) and
# the largest coefficient difference. Not a test. KEEP=1 keeps the work folder.
#
#   [REPEAT=3] tests/bench/secure_fit_rounds.sh [BUILD_DIR=build] [SITES="4 16 50"]
set -euo pipefail
BUILD=${1:-build}
SITES=${2:-"4 16 50"}
FEDRAD=$(realpath "$BUILD/bin/fedrad")
WORK=$(mktemp -d /tmp/fedrad-secure-fit.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
for n in $SITES; do
  dir="$WORK/n$n"
  mkdir -p "$dir"
  python3 - "$dir" "$n" <<'PY'
import math, random, sys
out, n = sys.argv[1], int(sys.argv[2])
random.seed(n)
names = ["S%02d" % s for s in range(n)]
for name in names:
    with open(f"{out}/{name}.csv", "w") as f:
        f.write("patient_id,time,status,x1,x2,x3,x4\n")
        for i in range(200):
            x1, x2 = random.gauss(0, 1), random.gauss(3, 0.5)
            x3, x4 = random.randint(0, 1), random.random()
            lp = 0.5 * x1 - 0.3 * (x2 - 3) + 0.4 * x3 + 0.2 * x4
            t, c = random.expovariate(math.exp(lp) / 1500), random.uniform(300, 3000)
            f.write(f"{name}{i:04d},{int(min(t, c)) + 1},{int(t < c)},"
                    f"{x1:.6f},{x2:.6f},{x3},{x4:.6f}\n")
spec = (f'name: "fit{n}"\n' + "".join(f'sites: "{s}"\n' for s in names) +
        'id_column: "patient_id"\nmodels {\n  name: "cox"\n  type: COX\n'
        '  time_column: "time"\n  event_column: "status"\n  ties: "breslow"\n}\n')
open(f"{out}/plain.textproto", "w").write(spec)
open(f"{out}/secure.textproto", "w").write(spec.replace("id_column", "secure_aggregation: true\nid_column"))
PY
  args=()
  for f in "$dir"/S*.csv; do s=$(basename "$f" .csv); args+=(--site "$s=$f"); done
  # REPEAT fits of each kind, interleaved (a fit takes only a few
  # evaluations; the steady-state ones of all repeats are pooled).
  for rep in $(seq 1 "${REPEAT:-3}"); do
    for mode in plain secure; do
      "$FEDRAD" sandbox --quiet --site-wait 120 --study "$dir/$mode.textproto" \
        --out "$dir/out_${mode}_$rep" "${args[@]}" >"$dir/$mode.log" 2>&1 ||
        { echo "sites=$n $mode: sandbox failed, see $dir/$mode.log"; exit 1; }
    done
  done
  python3 - "$dir" "$n" "${REPEAT:-3}" <<'PY'
import json, statistics, sys
from datetime import datetime
d, n, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])

def rounds(out_dir):
    """(kind, first record, last record) of each exchange in the coordinator's audit log."""
    out = {}
    for line in open(f"{out_dir}/audit/coordinator.log"):
        r = json.loads(line)
        if r.get("direction") not in ("sent", "received"):
            continue
        t = datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
        key = int(r["task"].split("/")[-2])
        kind, lo, hi = out.get(key, (r["kind"], t, t))
        out[key] = (kind, min(lo, t), max(hi, t))
    return [out[k] for k in sorted(out)]

def per_evaluation(out_dir):
    """Times from one models.derivatives exchange to the next (the secure
    round's reveal and the coordinator's step included), and the one-off
    secure-aggregation setup."""
    rs = rounds(out_dir)
    starts = [lo for kind, lo, hi in rs if kind == "models.derivatives"]
    # From the second evaluation on: the first also carries each site's
    # first check of every other site's certificate (n^2 chain checks, done
    # at the secure session's setup instead in a secure fit).
    steps = [b - a for a, b in zip(starts[1:], starts[2:])]
    setup = [(lo, hi) for kind, lo, hi in rs if kind in ("secagg.advertise", "secagg.shares")]
    setup_s = setup[-1][1] - setup[0][0] if setup else 0.0
    return steps, setup_s

steps = {"plain": [], "secure": []}
fit_s = {"plain": [], "secure": []}
setups, same = [], 0.0
for rep in range(1, repeats + 1):
    m = {}
    for mode in ("plain", "secure"):
        out_dir = f"{d}/out_{mode}_{rep}"
        m[mode] = json.load(open(f"{out_dir}/results.json"))["models"]["cox"]
        st, setup = per_evaluation(out_dir)
        steps[mode] += st
        fit_s[mode].append(m[mode]["fit_seconds"])
        if mode == "secure":
            setups.append(setup)
    p, s = m["plain"], m["secure"]
    same = max([same] + [abs(p["coefficients"][k] - s["coefficients"][k]) for k in p["coefficients"]])
pe, se = statistics.median(steps["plain"]), statistics.median(steps["secure"])
pf, sf = statistics.median(fit_s["plain"]), statistics.median(fit_s["secure"])
print(f"sites={n} per evaluation (median of {len(steps['plain'])} / {len(steps['secure'])} "
      f"steady-state evaluations over {repeats} fits each): plain {pe*1000:.1f} ms, "
      f"secure {se*1000:.1f} ms, ratio {se/pe:.2f}; secure setup once "
      f"{statistics.median(setups)*1000:.0f} ms; whole fit (median): plain {pf*1000:.0f} ms, "
      f"secure {sf*1000:.0f} ms (ratio {sf/pf:.2f}); max |beta diff| {same:.1e}")
PY
done
