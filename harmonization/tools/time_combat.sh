#!/bin/sh
# Times ComBat at scale: 10 sites x 500 patients x 1,000 features (5,000
# patients), covariates age and sex.
#   harmonization/tools/time_combat.sh BUILD_DIR [WORK_DIR]
# Writes per-site CSVs (WORK_DIR/sites/S01.csv ...) and their concatenation
# (WORK_DIR/pooled.csv), then times `fedrad harmonize` on the pooled table
# for each method. The sandbox timing (federated) is printed too when
# `fedrad sandbox` exists.
set -eu
BUILD=${1:?usage: time_combat.sh BUILD_DIR [WORK_DIR]}
WORK=${2:-$(mktemp -d)}
FEDRAD=$BUILD/bin/fedrad
mkdir -p "$WORK/sites"
python3 - "$WORK" <<'PY'
import random, sys, os
work = sys.argv[1]
rng = random.Random(11)
G, SITES, N = 1000, 10, 500
hdr = ["patient_id", "age", "sex"] + ["f%04d" % (g + 1) for g in range(G)]
pooled = open(os.path.join(work, "pooled.csv"), "w")
pooled.write("site," + ",".join(hdr) + "\n")
for s in range(SITES):
    name = "S%02d" % (s + 1)
    loc = [rng.gauss(0, 0.5) for _ in range(G)]
    scale = [rng.uniform(0.6, 1.6) for _ in range(G)]
    with open(os.path.join(work, "sites", name + ".csv"), "w") as f:
        f.write(",".join(hdr) + "\n")
        for i in range(N):
            age = round(rng.gauss(62, 9), 1)
            sex = rng.randint(0, 1)
            vals = ["%.6g" % (10 + 0.03 * (age - 62) + 0.4 * sex + loc[g] + scale[g] * rng.gauss(0, 1))
                    for g in range(G)]
            row = ["%s-%04d" % (name, i + 1), "%g" % age, str(sex)] + vals
            f.write(",".join(row) + "\n")
            pooled.write(name + "," + ",".join(row) + "\n")
pooled.close()
PY
echo "data in $WORK ($(du -sh "$WORK/pooled.csv" | cut -f1) pooled)"
for method in parametric nonparametric mean-only; do
  start=$(date +%s.%N)
  "$FEDRAD" harmonize --input "$WORK/pooled.csv" --site-column site --features '^f[0-9]+$' \
      --covariates age,sex --method $method --out "$WORK/harmonized_$method.csv" 2>/dev/null
  end=$(date +%s.%N)
  echo "fedrad harmonize --method $method: $(echo "$end - $start" | bc) s"
done
if "$FEDRAD" sandbox --help >/dev/null 2>&1; then
  cat > "$WORK/study.textproto" <<'STUDY'
name: "combat-speed"
harmonization {
  enabled: true
  features: "^f[0-9]+$"
  covariates: "age"
  covariates: "sex"
  method: "parametric"
}
STUDY
  set --
  for f in "$WORK"/sites/*.csv; do
    name=$(basename "$f" .csv)
    set -- "$@" --site "$name=$f"
  done
  rm -rf "$WORK/sandbox"
  start=$(date +%s.%N)
  "$FEDRAD" sandbox --study "$WORK/study.textproto" --out "$WORK/sandbox" --quiet "$@"
  end=$(date +%s.%N)
  echo "fedrad sandbox (federated, 10 site processes + coordinator, mTLS): $(echo "$end - $start" | bc) s"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('study state:', r['study']['state'])" "$WORK/sandbox/results.json"
fi
