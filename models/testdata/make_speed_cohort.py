#!/usr/bin/env python3
"""Writes the speed scenario of docs/models.md: 10 sites x 2,000 patients x 200
covariates (columns patient_id, time, status, f001..f200), seeded, to OUT_DIR.

  python3 models/testdata/make_speed_cohort.py /tmp/speed
  fedrad sandbox --study models/testdata/speed_study.textproto --out /tmp/speed/out \
      $(for i in $(seq -w 1 10); do echo --site S$i=/tmp/speed/S$i.csv; done)
"""
import math
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/speed"
sites, n, p = 10, 2000, 200
os.makedirs(out, exist_ok=True)
rng = random.Random(20261127)
beta = [0.05 * (j % 7 - 3) / 3 for j in range(p)]
for s in range(1, sites + 1):
    rows = []
    for i in range(n):
        x = [rng.gauss(0, 1) for _ in range(p)]
        lp = sum(b * v for b, v in zip(beta, x)) + 0.1 * (s - 5)
        t_event = rng.expovariate(math.exp(lp) / 900.0)
        t_cens = rng.uniform(100, 3000)
        time = max(1, math.ceil(min(t_event, t_cens)))
        status = 1 if t_event <= t_cens else 0
        rows.append("S%02d%05d,%d,%d," % (s, i, time, status) + ",".join("%.5f" % v for v in x))
    with open(os.path.join(out, "S%02d.csv" % s), "w") as f:
        f.write("patient_id,time,status," + ",".join("f%03d" % (j + 1) for j in range(p)) + "\n")
        f.write("\n".join(rows) + "\n")
print("wrote", sites, "sites to", out)
