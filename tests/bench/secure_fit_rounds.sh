#!/usr/bin/env bash
# The cost of secure aggregation as a user meets it: the same site-stratified
# Cox fit over N sites (200 synthetic patients each, 4 covariates), run with
# `fedrad sandbox` once plain (verifiable rounds only) and once with
# `secure_aggregation: true`, whole federations on loopback with mutual TLS.
# Prints, per N, the fit's wall time and rounds from results.json
# (models.cox.fit_seconds, .rounds) and the ratio; the secure fit's rounds
# include the one-off setup (secagg.advertise, secagg.shares). Both fits must
# give the same coefficients (printed side by side). Not a test.
#
#   tests/bench/secure_fit_rounds.sh [BUILD_DIR=build] [SITES="4 16"]
set -euo pipefail
BUILD=${1:-build}
SITES=${2:-"4 16"}
FEDRAD=$(realpath "$BUILD/bin/fedrad")
WORK=$(mktemp -d /tmp/fedrad-secure-fit.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
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
  for mode in plain secure; do
    "$FEDRAD" sandbox --quiet --site-wait 120 --study "$dir/$mode.textproto" --out "$dir/out_$mode" \
      "${args[@]}" >"$dir/$mode.log" 2>&1 || { echo "sites=$n $mode: sandbox failed, see $dir/$mode.log"; exit 1; }
  done
  python3 - "$dir" "$n" <<'PY'
import json, sys
d, n = sys.argv[1], sys.argv[2]
m = {k: json.load(open(f"{d}/out_{k}/results.json"))["models"]["cox"] for k in ("plain", "secure")}
p, s = m["plain"], m["secure"]
same = max(abs(p["coefficients"][k] - s["coefficients"][k]) for k in p["coefficients"])
print(f"sites={n} plain: {p['rounds']} rounds {p['fit_seconds']*1000:.0f} ms  "
      f"secure: {s['rounds']} rounds {s['fit_seconds']*1000:.0f} ms  "
      f"ratio {s['fit_seconds']/p['fit_seconds']:.2f}  max |beta diff| {same:.1e}")
PY
done
