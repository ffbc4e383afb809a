#!/usr/bin/env python3
"""Writes N seeded per-site CSVs for the scale run (tests/scale/run_scale.sh).

Columns: patient_id, age, sex, f001..fNNN, time, status. Features carry a
site-specific additive and multiplicative batch effect (so ComBat has work to
do); the event hazard depends on age and the first three features.
"""
import argparse
import math
import os
import random

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--sites", type=int, required=True)
p.add_argument("--patients", type=int, default=40)
p.add_argument("--features", type=int, default=200)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = random.Random(a.seed)
for s in range(1, a.sites + 1):
    shift = [rng.gauss(0, 0.5) for _ in range(a.features)]
    scale = [math.exp(rng.gauss(0, 0.25)) for _ in range(a.features)]
    path = os.path.join(a.out, f"S{s:02d}.csv")
    with open(path, "w") as f:
        cols = ["patient_id", "age", "sex"] + [f"f{j:03d}" for j in range(1, a.features + 1)] + ["time", "status"]
        f.write(",".join(cols) + "\n")
        for i in range(a.patients):
            age = round(rng.gauss(62, 9), 1)
            sex = rng.randint(0, 1)
            latent = [rng.gauss(0, 1) for _ in range(a.features)]
            feats = [shift[j] + scale[j] * (latent[j] + 0.02 * (age - 62)) for j in range(a.features)]
            lp = 0.02 * (age - 62) + 0.4 * latent[0] - 0.3 * latent[1] + 0.2 * latent[2]
            t_event = rng.expovariate(math.exp(lp) / 900.0)
            t_cens = rng.uniform(200, 3000)
            time = max(1, round(min(t_event, t_cens)))
            status = int(t_event <= t_cens)
            row = [f"S{s:02d}-{i:04d}", str(age), str(sex)] + [f"{v:.6f}" for v in feats] + [str(time), str(status)]
            f.write(",".join(row) + "\n")
