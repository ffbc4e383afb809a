#!/usr/bin/env python3
"""Writes results_fixture.json: a RENDERING FIXTURE for the report tests.

Every number here is made up (plausible in size, drawn from simple curves
below), not the output of any analysis. It exercises every section and every
key the renderer reads (docs/report.md), including suppressed cells, a
dropped site, excluded cases and HTML-looking text that must be escaped.
Its keys are those of proto/results.proto (the report refuses any other).
Run: python3 make_fixture.py > results_fixture.json
"""
import json, math, random

random.seed(3)
sites = ["C1", "C2", "C3", "C4"]
k = 10

def r(x, d=3):
    return round(x, d)

def col_numeric(mean, sd, n, miss=0):
    q1, med, q3 = mean - 0.67 * sd, mean - 0.05 * sd, mean + 0.67 * sd
    return {"type": "numeric", "n": n, "n_missing": miss, "mean": r(mean), "sd": r(sd),
            "q1": r(q1), "median": r(med), "q3": r(q3)}

def col_binary(count, n):
    return {"type": "binary", "n": n, "n_missing": 0, "count": count, "percent": r(100 * count / n, 1)}

ns = {"C1": 60, "C2": 45, "C3": 80, "C4": 30}
cohort_sites = {}
for i, s in enumerate(sites):
    n = ns[s]
    cols = {
        "age": col_numeric(63 + i, 10 - i * 0.5, n),
        "male": col_binary(int(n * (0.6 + 0.02 * i)), n),
        "n_lesions": col_numeric(2.3 + 0.1 * i, 1.5, n),
        "largest_diameter_mm": col_numeric(16 + i, 4.2, n),
        "neoadjuvant_chemo": col_binary(int(n * 0.45), n),
        "cea_ng_ml": col_numeric(12 + 3 * i, 15, n - 2, 2),
    }
    te = {"recurrence": {"n": n, "events": int(n * 0.75), "median_followup": 1300 + 40 * i},
          "dss": {"n": n, "events": int(n * 0.5), "median_followup": 1500 + 30 * i}}
    if s == "C4":
        cols["neoadjuvant_chemo"] = {"suppressed": True, "reason": "fewer than 10 zeros"}
        cols["cea_ng_ml"] = {"absent": True}
    cohort_sites[s] = {"n": n, "columns": cols, "time_events": te}
N = sum(ns.values())
pooled_cols = {
    "age": col_numeric(64.2, 9.8, N), "male": col_binary(133, N),
    "n_lesions": col_numeric(2.4, 1.5, N), "largest_diameter_mm": col_numeric(17.2, 4.4, N),
    "neoadjuvant_chemo": dict(col_binary(83, 185), incomplete=True, excluded_sites=["C4"]),
    "cea_ng_ml": dict(col_numeric(15.1, 15.3, 179, 6), incomplete=True, excluded_sites=["C4"]),
}
cohort = {"pooled": {"n": N, "sites": len(sites), "columns": pooled_cols,
                     "time_events": {"recurrence": {"n": N, "events": 161, "median_followup": 1342},
                                     "dss": {"n": N, "events": 107, "median_followup": 1521}}},
          "sites": cohort_sites,
          "method": {"sd": "Chan-Golub-LeVeque pooled moments",
                     "quantiles": "quartiles by count bisection (rank error 1 %)."}}

features = ["lesion_firstorder_entropy", "lesion_firstorder_variance", "lesion_glcm_contrast",
            "bkg_firstorder_entropy", "bkg_firstorder_variance", "bkg_glcm_joint_entropy",
            "bkg_glszm_zone_entropy", "lesion_shape_sphericity"]
offsets = {"C1": 0.0, "C2": -0.3, "C3": 0.25, "C4": 0.9}
scales = {"C1": 1.0, "C2": 1.5, "C3": 0.7, "C4": 0.8}
harm_sites = {}
for s in sites:
    harm_sites[s] = {"n": ns[s],
                     "gamma_star": {f: r(offsets[s] + random.gauss(0, 0.15)) for f in features},
                     "delta_star": {f: r(scales[s] * math.exp(random.gauss(0, 0.12))) for f in features}}
dist = {}
for f in features[:2]:
    base = 4.1 if "entropy" in f else 310.0
    spread = 0.35 if "entropy" in f else 90.0
    before, after = {}, {}
    for s in sites:
        m = base + offsets[s] * spread
        sd = spread * scales[s]
        before[s] = {"n": ns[s], "mean": r(m), "sd": r(sd), "q1": r(m - 0.6 * sd), "median": r(m), "q3": r(m + 0.7 * sd)}
        after[s] = {"n": ns[s], "mean": r(base + random.gauss(0, 0.03) * spread), "sd": r(spread * (1 + random.gauss(0, 0.04))),
                    "q1": r(base - 0.62 * spread), "median": r(base), "q3": r(base + 0.66 * spread)}
    before["C4"]["n"] = 30
    dist[f] = {"before": before, "after": after}
dist[features[1]]["after"]["C4"] = {"suppressed": True}
harmonization = {"method": "parametric", "empirical_bayes": True, "mean_only": False,
                 "reference_site": "", "covariates": ["neoadjuvant_chemo"], "features": features,
                 "unadjusted_features": [], "notes": [],
                 "pooled": {"n": N}, "sites": harm_sites, "distributions": dist}

cox_terms = {"bkg_firstorder_entropy": (0.48, 0.11), "bkg_glcm_joint_entropy": (0.21, 0.10),
             "lesion_firstorder_entropy": (0.31, 0.10), "lesion_glcm_contrast": (0.12, 0.09),
             "n_lesions": (0.16, 0.06), "largest_diameter_mm": (0.011, 0.012),
             "neoadjuvant_chemo": (0.27, 0.17), "log_cea": (0.19, 0.07)}
models = {
    "recurrence_cox": {"type": "cox", "outcome": "recurrence", "ties": "efron",
                       "sites": ["C1"], "n": 60, "events": 45,
                       "penalty": {"type": "l2", "lambda": 0.05, "l1_ratio": 0, "scale": "raw"},
                       "site_rows": {"C1": {"n": 60, "events": 45, "n_excluded": 1,
                                            "excluded": {"missing cea_ng_ml": 1}}},
                       "iterations": 5,
                       "coefficients": {t: v[0] for t, v in cox_terms.items()},
                       "std_errors": {t: v[1] for t, v in cox_terms.items()}},
    "recur2y_logistic": {"type": "logistic", "outcome": "recur2y", "n": 56, "events": 37,
                         "coefficients": {"intercept": 0.62, "bkg_firstorder_entropy": 0.71,
                                          "n_lesions": 0.25},
                         "std_errors": {"intercept": 0.30, "bkg_firstorder_entropy": 0.33,
                                        "n_lesions": 0.14}},
}

def km_curve(rate, n, tmax=2400):
    times, surv, risk = [], [], []
    s, at = 1.0, n
    t = 0
    while at > 2 and t < tmax:
        t += random.expovariate(rate * 2.2) * 1.0 + 5
        d = 1
        s *= (at - d) / at
        times.append(round(t)); surv.append(r(s, 4)); risk.append(at)
        at -= d + (1 if random.random() < 0.35 else 0)
    return {"time": times, "survival": surv, "n_at_risk": risk}

val_sites = {}
for i, s in enumerate(["C2", "C3", "C4"]):
    n = ns[s]
    c = [0.69, 0.66, 0.61][i]
    cal_pred = [0.30, 0.50, 0.70, 0.85]
    cal_obs = [r(p + random.gauss(0, 0.05) - 0.04 * i) for p in cal_pred]
    cal_n = [n // 4] * 4
    if s == "C4":
        cal_n = [6, 6, 6, 6]  # every bin below k: suppressed
    groups = []
    sizes = [int(n * 0.34), int(n * 0.33), int(n * 0.33)] if s != "C4" else [9, 10, 11]
    for (label, rate), size in zip((("low risk", 0.0006), ("intermediate", 0.0012), ("high risk", 0.0024)), sizes):
        g = {"label": label, "n": size}
        g.update(km_curve(rate, g["n"]))
        g["events"] = int(g["n"] * 0.7)
        groups.append(g)
    # C4's low-risk group (n = 9) is below k: suppressed.
    val_sites[s] = {"n": n, "events": int(n * 0.75), "n_excluded": 0, "bootstrap_replicates": 200,
                    "concordant_pairs": 1500 + 100 * i, "discordant_pairs": 700, "tied_risk_pairs": 3,
                    "harrell_c": c, "harrell_c_ci_low": r(c - 0.07), "harrell_c_ci_high": r(c + 0.06),
                    "uno_c": r(c - 0.01), "uno_c_ci_low": r(c - 0.09), "uno_c_ci_high": r(c + 0.07),
                    "calibration_slope": r(1.0 - 0.15 * i), "calibration_slope_ci_low": r(0.7 - 0.15 * i),
                    "calibration_slope_ci_high": r(1.3 - 0.15 * i),
                    "calibration": {"predicted": cal_pred, "observed": cal_obs, "n": cal_n},
                    "km_groups": groups}
bin_sites = {}
for i, s in enumerate(["C2", "C3", "C4"]):
    a = [0.74, 0.70, 0.63][i]
    fpr = [0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1]
    tpr = [0] + [r(min(1, x ** (1 / (1 + 2.2 * (a - 0.5) * 2)))) for x in fpr[1:-1]] + [1]
    bin_sites[s] = {"n": ns[s] - 3, "events": int(ns[s] * 0.6), "auc": a, "auc_ci_low": r(a - 0.09),
                    "auc_ci_high": r(a + 0.08), "brier": r(0.21 + 0.01 * i),
                    "roc": {"fpr": fpr, "tpr": tpr, "n_pos": int(ns[s] * 0.6), "n_neg": int(ns[s] * 0.35)}}
bin_sites["C4"]["roc"]["n_neg"] = 8  # below k: suppressed
validation = {
    "recurrence_cox": {"outcome": "recurrence", "t": 730, "tau": 1825, "time_unit": "days",
                       "sites": val_sites,
                       # The models module's form: <metric>_meta with suffixes, and
                       # the C over all within-site pairs as <metric>_stratified.
                       "pooled": {"n": 155, "events": 116, "sites": 3,
                                  "harrell_c_stratified": 0.653, "comparable_pairs": 8123,
                                  "harrell_c_meta": 0.659, "harrell_c_meta_ci_low": 0.612,
                                  "harrell_c_meta_ci_high": 0.706, "harrell_c_meta_pi_low": 0.55,
                                  "harrell_c_meta_pi_high": 0.76, "harrell_c_meta_i2": 0.21,
                                  "harrell_c_meta_tau2": 0.0012, "harrell_c_meta_q": 2.5,
                                  "harrell_c_meta_k": 3,
                                  "uno_c_meta": 0.648, "uno_c_meta_ci_low": 0.60,
                                  "uno_c_meta_ci_high": 0.695, "uno_c_meta_pi_low": 0.55,
                                  "uno_c_meta_pi_high": 0.74}},
    "recur2y_logistic": {"outcome": "recur2y", "sites": bin_sites,
                         "pooled": {"auc_meta": 0.695, "auc_meta_ci_low": 0.64,
                                    "auc_meta_ci_high": 0.75, "auc_meta_pi_low": 0.58,
                                    "auc_meta_pi_high": 0.79}},
}

results = {
    "study": {"id": "st-0007", "name": "CRLM <recurrence> & validation", "state": "done",
              "message": "finished with 4 of 5 sites", "sites": sites + ["C5"],
              "completed_sites": sites, "excluded_sites": {"C5": "timed out after 600 s in round combat.fit"},
              "rounds": 23, "finished_at": "2026-11-27T01:23:45Z", "min_cell_count": k},
    "provenance": {"software": "fedrad", "software_version": "0.1.0", "protocol_version": 1,
                   "spec_sha256": "9f2c4d1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
                   "audit_log_heads": {"coordinator": "4b1f" + "0" * 56 + "a1c3",
                                       "C1": "a9e2" + "1" * 56 + "77f0", "C2": "03bd" + "2" * 56 + "c4e1",
                                       "C3": "e7aa" + "3" * 56 + "19b2", "C4": "5c70" + "4" * 56 + "d8e9"}},
    "cohort": cohort,
    "features": {"sites": {"C2": {"n_cases": 45, "n_ok": 43, "n_excluded": 2,
                                  "excluded": [{"case": "C2_0007", "reason": "mask/image geometry mismatch"},
                                               {"case": "C2_0031", "reason": "mask/image geometry mismatch"}]},
                           "C3": {"n_cases": 80, "n_ok": 79, "n_excluded": 1,
                                  "excluded": [{"case": "C3_0012",
                                                "reason": "empty ROI (BKG) after re-segmentation"}]}}},
    "harmonization": harmonization,
    "models": models,
    "validation": validation,
    # A section the report does not draw: shown under Other results.
    "debug": {"sleep_n": 4},
}
print(json.dumps(results, indent=1))
