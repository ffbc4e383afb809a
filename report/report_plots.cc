// Renderer (report/internal/renderer.h): the SVG plots — harmonisation strip
// charts and distributions, metric forest plots, calibration, Kaplan-Meier
// and ROC curves. Curve points below the minimum cell count k are suppressed.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "report/internal/renderer.h"
#include "report/internal/report_json.h"
#include "report/internal/svg.h"

namespace fedrad::report_internal {

// A strip chart: one row per site, one point per feature.
std::string Renderer::StripPlot(const std::string& title, const std::string& key, bool log_axis,
                                double reference) {
  const json* sites = At(&r_, {"harmonization", "sites"});
  std::vector<std::string> names = Keys(sites);
  double lo = reference, hi = reference;
  int points = 0;
  for (const auto& site : names) {
    const json* values = At(sites, {site.c_str(), key.c_str()});
    if (values == nullptr || !values->is_object()) continue;
    for (auto it = values->begin(); it != values->end(); ++it) {
      const double v = Num(&*it);
      if (!std::isfinite(v) || (log_axis && v <= 0)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      ++points;
    }
  }
  if (points == 0) return "";
  if (log_axis) {
    lo /= 1.15;
    hi *= 1.15;
  } else {
    const double pad = 0.06 * (hi - lo + 1e-9);
    lo -= pad;
    hi += pad;
  }
  const int n = static_cast<int>(names.size());
  PlotFrame frame{520, 70 + 34 * n, 90, 16, 26, 44};
  SvgPlot p(frame, Axis{lo, hi, key, log_axis}, Axis{n + 0.5, 0.5, "", false, false},
            NextId("strip"));
  p.Title(title);
  p.VLine(reference, "#777");
  for (int i = 0; i < n; ++i) {
    const json* values = At(sites, {names[i].c_str(), key.c_str()});
    if (values == nullptr || !values->is_object()) continue;
    std::vector<double> vs;
    int j = 0;
    for (auto it = values->begin(); it != values->end(); ++it, ++j) {
      const double v = Num(&*it);
      if (!std::isfinite(v) || (log_axis && v <= 0)) continue;
      vs.push_back(v);
      // Deterministic jitter so that features do not hide each other.
      const double jitter = ((j * 37) % 21 - 10) / 32.0;
      p.Marker(v, i + 1 + jitter, Palette(i), MarkerShape::kCircle, 3, false,
               absl::StrCat(names[i], " · ", it.key(), " = ", FmtG(v)));
    }
    if (!vs.empty()) {
      std::sort(vs.begin(), vs.end());
      const double med = vs[vs.size() / 2];
      p.Line({{med, i + 1 - 0.4}, {med, i + 1 + 0.4}}, "#111", 2.5);
    }
  }
  p.CategoryLabels(names);
  return p.Render(title);
}

// harmonization.distributions.<feature>.{before,after}.<site> =
//   {n, mean, sd, q1, median, q3 | suppressed}
std::string Renderer::Distributions(const json* d) {
  if (d == nullptr || !d->is_object() || d->empty()) {
    return "<h3>Feature distributions by center</h3><p class=\"note\">Before/after "
           "distributions (harmonization.distributions) not part of this study.</p>";
  }
  std::string s =
      "<h3>Feature distributions by center, before and after ComBat</h3><p class=\"note\">"
      "Box: quartiles with the median; whisker: mean ± SD; diamond: mean. Summaries come from "
      "site aggregates; a site with fewer than k values is not drawn.";
  if (const json* method = At(At(&r_, "harmonization"), "distributions_method")) {
    absl::StrAppend(&s, " ", Escape(Str(method)), ".");
  }
  absl::StrAppend(&s, "</p><div class=\"plots\">");
  int shown = 0;
  for (auto it = d->begin(); it != d->end() && shown < 12; ++it, ++shown) {
    const std::string feature = it.key();
    std::vector<std::string> sites;
    for (const char* phase : {"before", "after"}) {
      for (const auto& site : Keys(At(&*it, phase))) {
        if (std::find(sites.begin(), sites.end(), site) == sites.end()) sites.push_back(site);
      }
    }
    if (sites.empty()) continue;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const char* phase : {"before", "after"}) {
      for (const auto& site : sites) {
        const json* e = At(&*it, {phase, site.c_str()});
        const double m = Num(At(e, "mean")), sd = Num(At(e, "sd"));
        for (double v : {Num(At(e, "q1")), Num(At(e, "q3")), m - sd, m + sd, m}) {
          if (std::isfinite(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
          }
        }
      }
    }
    if (!std::isfinite(lo)) continue;
    const double pad = 0.08 * (hi - lo + 1e-9);
    std::vector<std::string> labels;
    for (const char* phase : {"before", "after"}) {
      for (const auto& site : sites) labels.push_back(absl::StrCat(site, " ", phase));
    }
    const int n = static_cast<int>(labels.size());
    SvgPlot p(PlotFrame{490, 60 + 24 * n, 140, 16, 26, 40}, Axis{lo - pad, hi + pad, feature},
              Axis{n + 0.5, 0.5, "", false, false}, NextId("dist"));
    p.Title(feature);
    std::vector<std::string> shown_labels;
    int row = 0;
    for (const char* phase : {"before", "after"}) {
      for (size_t si = 0; si < sites.size(); ++si, ++row) {
        const json* e = At(&*it, {phase, sites[si].c_str()});
        const double y = row + 1;
        const double n_site = Num(At(e, "n"));
        std::string label = labels[row];
        if (e == nullptr) {
          label += " (none)";
        } else if (IsTrue(At(e, "suppressed")) || (std::isfinite(n_site) && n_site < k_)) {
          label += " (suppressed)";
        } else {
          const std::string color = Palette(static_cast<int>(si));
          const double m = Num(At(e, "mean")), sd = Num(At(e, "sd"));
          const double q1 = Num(At(e, "q1")), med = Num(At(e, "median")), q3 = Num(At(e, "q3"));
          if (std::isfinite(m) && std::isfinite(sd)) p.HErrorBar(y, m - sd, m + sd, color, 1.2);
          if (std::isfinite(q1) && std::isfinite(q3)) {
            p.Line({{q1, y - 0.3}, {q3, y - 0.3}, {q3, y + 0.3}, {q1, y + 0.3}, {q1, y - 0.3}},
                   color, 1.6);
            if (std::isfinite(med)) p.Line({{med, y - 0.3}, {med, y + 0.3}}, color, 2.4);
          }
          p.Marker(m, y, color, MarkerShape::kDiamond, 3.2, true,
                   absl::StrCat(label, ": mean ", FmtG(m), ", SD ", FmtG(sd)));
        }
        shown_labels.push_back(label);
      }
    }
    p.HLine(sites.size() + 0.5, "#999", LineStyle::kDotted);
    p.CategoryLabels(shown_labels);
    absl::StrAppend(&s, Figure(p.Render(absl::StrCat("Distribution of ", feature,
                                                      " by center before and after ComBat")),
                               absl::StrCat(Escape(feature), ": top rows before, bottom rows after harmonisation.")));
  }
  absl::StrAppend(&s, "</div>");
  if (d->size() > 12) {
    absl::StrAppend(&s, "<p class=\"note\">", d->size() - 12, " more features not drawn.</p>");
  }
  return s;
}

// Forest plot of one metric across sites, with the pooled estimate.
std::string Renderer::MetricForest(const std::string& model, const json* v,
                                   const std::string& metric) {
  const json* sites = At(v, "sites");
  std::vector<std::string> names = Keys(sites);
  struct Row {
    std::string label;
    Estimate e;
  };
  std::vector<Row> rows;
  for (const auto& site : names) {
    const Estimate e = ReadEstimate(SiteMetricsOf(model, site), metric);
    if (std::isfinite(e.value)) rows.push_back({site, e});
  }
  const Pooled pooled = ReadPooled(ValidationOf(model).pooled(), metric);
  if (rows.empty() && !std::isfinite(pooled.value) &&
      !std::isfinite(Num(At(At(v, "pooled"), metric + "_stratified")))) {
    return "";
  }
  const double ref = MetricReference(metric);
  double lo = std::isfinite(ref) ? ref : kNaN, hi = lo;
  auto extend = [&](double x) {
    if (!std::isfinite(x)) return;
    lo = std::isfinite(lo) ? std::min(lo, x) : x;
    hi = std::isfinite(hi) ? std::max(hi, x) : x;
  };
  for (const Row& r : rows) {
    extend(r.e.value);
    extend(r.e.ci_low);
    extend(r.e.ci_high);
  }
  for (double x : {pooled.value, pooled.ci_low, pooled.ci_high, pooled.pi_low, pooled.pi_high}) {
    extend(x);
  }
  const double stratified = Num(At(At(v, "pooled"), metric + "_stratified"));
  const bool show_stratified = std::isfinite(stratified);
  if (show_stratified) extend(stratified);
  const double pad = 0.08 * (hi - lo + 1e-6);
  const int n = static_cast<int>(rows.size()) +
                (std::isfinite(pooled.value) || show_stratified ? 2 : 0) + (show_stratified ? 1 : 0);
  SvgPlot p(PlotFrame{470, 76 + 28 * n, 110, 110, 28, 44},
            Axis{lo - pad, hi + pad, Pretty(metric)}, Axis{n + 0.5, 0.5, "", false, false},
            NextId("forest"));
  p.Title(absl::StrCat(model, ": ", Pretty(metric), " by center"));
  p.VLine(ref, "#888");
  std::vector<std::string> labels;
  std::vector<bool> bold;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const double y = i + 1;
    p.HErrorBar(y, r.e.ci_low, r.e.ci_high, Palette(static_cast<int>(i)));
    p.Marker(r.e.value, y, Palette(static_cast<int>(i)), MarkerShape::kSquare, 4.5, true,
             absl::StrCat(r.label, ": ", Fmt(r.e.value)));
    labels.push_back(r.label);
    bold.push_back(false);
    p.PixelText(470 - 104, p.Y(y) + 4,
                absl::StrCat(Fmt(r.e.value), std::isfinite(r.e.ci_low)
                                                 ? absl::StrCat(" [", Fmt(r.e.ci_low), ", ",
                                                                Fmt(r.e.ci_high), "]")
                                                 : ""),
                "start", 10);
  }
  if (std::isfinite(pooled.value)) {
    const double y = rows.size() + 1.5;
    p.HLine(rows.size() + 0.75, "#bbb", LineStyle::kSolid);
    // Prediction interval: where a new center's value is expected to fall.
    if (std::isfinite(pooled.pi_low)) {
      p.HErrorBar(y + 0.55, pooled.pi_low, pooled.pi_high, "#7a7a7a", 2.2);
    }
    const double cl = std::isfinite(pooled.ci_low) ? pooled.ci_low : pooled.value;
    const double ch = std::isfinite(pooled.ci_high) ? pooled.ci_high : pooled.value;
    p.Diamond(y - 0.1, cl, pooled.value, ch, "#17324d", 7);
    labels.push_back("pooled");
    bold.push_back(true);
    p.PixelText(470 - 104, p.Y(y - 0.1) + 4,
                absl::StrCat(Fmt(pooled.value), " [", Fmt(pooled.ci_low), ", ",
                             Fmt(pooled.ci_high), "]"),
                "start", 10, "#111", true);
    if (std::isfinite(pooled.pi_low)) {
      p.PixelText(470 - 104, p.Y(y + 0.55) + 4,
                  absl::StrCat("PI [", Fmt(pooled.pi_low), ", ", Fmt(pooled.pi_high), "]"),
                  "start", 10, "#555");
    }
  }
  // A pooled value over all within-site pairs (e.g. Harrell's C from summed
  // pair counts), drawn as a hollow diamond under the meta-analysis.
  if (show_stratified) {
    const double y = rows.size() + 3.0;
    p.Marker(stratified, y, "#17324d", MarkerShape::kDiamond, 4.5, false,
             absl::StrCat("all within-site pairs: ", Fmt(stratified)));
    labels.push_back("");
    bold.push_back(false);
    p.PixelText(p.X(lo - pad) - 8, p.Y(y) + 4, "pooled pairs", "end", 11, "#222");
    p.PixelText(470 - 104, p.Y(y) + 4, Fmt(stratified), "start", 10, "#555");
  }
  p.CategoryLabels(labels, bold);
  std::string caption = absl::StrCat("Squares: each center's ", Escape(Pretty(metric)),
                                     " with its 95% CI");
  if (std::isfinite(pooled.value)) {
    absl::StrAppend(&caption, "; diamond: random-effects pooled estimate (95% CI)");
    if (std::isfinite(pooled.pi_low)) {
      absl::StrAppend(&caption, "; grey bar: 95% prediction interval for a new center");
    } else {
      absl::StrAppend(&caption, "; no prediction interval (it needs at least 3 centers)");
    }
    if (std::isfinite(pooled.i2)) absl::StrAppend(&caption, "; I² = ", Fmt(100 * pooled.i2, 0), "%");
    if (std::isfinite(pooled.tau2)) absl::StrAppend(&caption, ", τ² = ", FmtG(pooled.tau2));
  }
  if (show_stratified) {
    absl::StrAppend(&caption, "; hollow diamond: the statistic over all within-center pairs");
  }
  if (!std::isfinite(pooled.value) && !pooled.method.empty()) {
    absl::StrAppend(&caption, "; no pooled estimate: ", Escape(pooled.method));
  }
  absl::StrAppend(&caption, ".");
  return Figure(p.Render(absl::StrCat("Forest plot of ", Pretty(metric), " for model ", model)),
                caption);
}

// validation.<model>.sites.<site>.calibration = {predicted[], observed[], n[],
//   observed_ci_low[]?, observed_ci_high[]?}
std::string Renderer::CalibrationPlot(const std::string& model, const json* v) {
  const json* sites = At(v, "sites");
  std::vector<std::pair<std::string, std::string>> legend;
  int drawn = 0, suppressed = 0, i = -1;
  double hi = 0;
  for (const auto& site : Keys(sites)) {
    const json* c = At(sites, {site.c_str(), "calibration"});
    for (double x : NumArray(At(c, "predicted"))) hi = std::max(hi, x);
    for (double x : NumArray(At(c, "observed"))) hi = std::max(hi, x);
  }
  if (hi <= 0) return "";
  hi = std::min(1.0, hi * 1.1 + 0.02);
  // Survival models are calibrated at the horizon t; binary ones on the outcome.
  const bool survival = At(v, "threshold") == nullptr;
  const std::string horizon = std::isfinite(Num(At(v, "t")))
                                  ? absl::StrCat(" by t = ", Fmt(Num(At(v, "t")), 0), " ",
                                                 Str(At(v, "time_unit")).empty() ? "days" : Str(At(v, "time_unit")))
                                  : "";
  SvgPlot p(PlotFrame{430, 380, 56, 16, 28, 44},
            Axis{0, hi, survival ? absl::StrCat("predicted risk", horizon) : "predicted probability"},
            Axis{0, hi, survival ? "observed risk (1 − Kaplan–Meier)" : "observed proportion"},
            NextId("calibration"));
  p.Title(absl::StrCat(model, ": calibration"));
  p.Line({{0, 0}, {hi, hi}}, "#999", 1, LineStyle::kDashed);
  for (const auto& site : Keys(sites)) {
    ++i;
    const json* c = At(sites, {site.c_str(), "calibration"});
    if (c == nullptr) continue;
    const auto pred = NumArray(At(c, "predicted")), obs = NumArray(At(c, "observed"));
    const auto n = NumArray(At(c, "n"));
    const auto lo = NumArray(At(c, "observed_ci_low")), up = NumArray(At(c, "observed_ci_high"));
    std::vector<std::pair<double, double>> pts;
    const std::string color = Palette(i);
    for (size_t b = 0; b < pred.size() && b < obs.size(); ++b) {
      const double nb = b < n.size() ? n[b] : kNaN;
      if (!std::isfinite(nb) || nb < k_) {  // unknown or small counts are never drawn
        ++suppressed;
        continue;
      }
      pts.emplace_back(pred[b], obs[b]);
      if (b < lo.size() && b < up.size()) p.VErrorBar(pred[b], lo[b], up[b], color, 1.1);
      p.Marker(pred[b], obs[b], color, MarkerShape::kCircle, 4, true,
               absl::StrCat(site, ": predicted ", Fmt(pred[b]), ", observed ", Fmt(obs[b]),
                            ", n = ", Fmt(nb, 0)));
      ++drawn;
    }
    p.Line(pts, color, 1.4);
    if (!pts.empty()) legend.emplace_back(site, color);
  }
  if (drawn == 0) {
    return absl::StrCat("<p class=\"supp\">Calibration of ", Escape(model), ": all ", suppressed,
                        " bins have fewer than k = ", k_, " patients; suppressed.</p>");
  }
  p.Legend(legend, true);
  std::string caption = absl::StrCat(
      "Each point is one group of patients with similar predicted risk (equal-count bins of at "
      "least k = ", k_, " patients) at one center: mean predicted risk against the observed ",
      survival ? "risk (1 − Kaplan–Meier at t; bar: 95% Greenwood CI)"
               : "proportion (bar: 95% Wilson CI)",
      ". Points on the dashed diagonal are perfectly calibrated; above it the model "
      "underestimates risk, below it overestimates.");
  if (suppressed > 0) {
    absl::StrAppend(&caption, " <span class=\"supp\">", suppressed,
                    " bin(s) with fewer than k = ", k_, " patients suppressed.</span>");
  }
  return Figure(p.Render(absl::StrCat("Calibration plot for model ", model)), caption);
}

namespace {

// A Kaplan-Meier curve's number at risk under the plot: (label, color, drawn
// times, at risk).
struct AtRisk {
  std::string label, color;
  std::vector<double> time, n;
  double n0 = 0;  // the group's size, at time 0
};

// The number-at-risk table clinicians expect under a KM plot, at up to 8 of
// the released grid times; "&lt;k" where the curve has stopped. "" when no
// curve has a released time.
std::string AtRiskTable(const std::vector<AtRisk>& at_risk_rows, int k) {
  std::vector<double> times;
  for (const AtRisk& r : at_risk_rows) {
    for (double t : r.time) {
      if (std::find(times.begin(), times.end(), t) == times.end()) times.push_back(t);
    }
  }
  std::sort(times.begin(), times.end());
  const size_t stride = std::max<size_t>(1, (times.size() + 7) / 8);
  std::string risk_table;
  if (times.empty()) return risk_table;
  risk_table = "<table class=\"atrisk\"><tr><th>at risk</th><td>0</td>";
  for (size_t i = stride - 1; i < times.size(); i += stride) {
    absl::StrAppend(&risk_table, "<td>", Fmt(times[i], 0), "</td>");
  }
  absl::StrAppend(&risk_table, "</tr>");
  for (const AtRisk& r : at_risk_rows) {
    absl::StrAppend(&risk_table, "<tr><th style=\"color:", r.color, "\">", Escape(r.label),
                    "</th><td>", Fmt(r.n0, 0), "</td>");
    for (size_t i = stride - 1; i < times.size(); i += stride) {
      auto it = std::find(r.time.begin(), r.time.end(), times[i]);
      // Each site releases a group's points only where >= k patients
      // left its risk set: a time before the group's last released
      // point that it did not release is unknown ("–"), a later one
      // has fewer than k at risk.
      const bool after = r.time.empty() || times[i] > r.time.back();
      absl::StrAppend(&risk_table, "<td>",
                      it != r.time.end()
                          ? Fmt(r.n[static_cast<size_t>(it - r.time.begin())], 0)
                          : after ? absl::StrCat("&lt;", k) : std::string("–"),
                      "</td>");
    }
    absl::StrAppend(&risk_table, "</tr>");
  }
  absl::StrAppend(&risk_table, "</table>");
  return risk_table;
}

}  // namespace

// validation.<model>.sites.<site>.km_groups = [{label, n, events?, time[],
//   survival[], n_at_risk[]}]
std::string Renderer::KaplanMeier(const std::string& model, const json* v) {
  std::string out;
  const json* sites = At(v, "sites");
  double tmax = 0;
  for (const auto& site : Keys(sites)) {
    const json* groups = At(sites, {site.c_str(), "km_groups"});
    if (groups == nullptr || !groups->is_array()) continue;
    for (const json& g : *groups) {
      for (double t : NumArray(At(&g, "time"))) tmax = std::max(tmax, t);
    }
  }
  if (tmax <= 0) return "";
  std::string horizon_unit = Str(At(v, "time_unit"));
  if (horizon_unit.empty()) horizon_unit = "days";
  for (const auto& site : Keys(sites)) {
    const json* groups = At(sites, {site.c_str(), "km_groups"});
    if (groups == nullptr || !groups->is_array()) continue;
    SvgPlot p(PlotFrame{400, 300, 52, 16, 28, 44}, Axis{0, tmax, absl::StrCat("time (", horizon_unit, ")")},
              Axis{0, 1, "survival probability"}, NextId("km"));
    p.Title(absl::StrCat(model, " · ", site, ": Kaplan–Meier by predicted risk"));
    std::vector<std::pair<std::string, std::string>> legend;
    std::vector<std::string> notes;
    std::vector<AtRisk> at_risk_rows;
    int gi = -1, drawn = 0;
    for (const json& g : *groups) {
      ++gi;
      const std::string label = Str(At(&g, "label")).empty() ? absl::StrCat("group ", gi + 1)
                                                             : Str(At(&g, "label"));
      const double n = Num(At(&g, "n"));
      const auto time = NumArray(At(&g, "time")), surv = NumArray(At(&g, "survival"));
      const auto at_risk = NumArray(At(&g, "n_at_risk"));
      if (IsTrue(At(&g, "suppressed")) || !std::isfinite(n) || n < k_) {
        notes.push_back(absl::StrCat(label, ": suppressed (n &lt; k = ", k_, ")"));
        continue;
      }
      // Start at (0, 1); stop before the first point where fewer than k
      // patients remain at risk (later steps would reveal individuals).
      std::vector<std::pair<double, double>> pts{{0.0, 1.0}};
      bool truncated = false;
      for (size_t i = 0; i < time.size() && i < surv.size(); ++i) {
        if (i < at_risk.size() && at_risk[i] < k_) {
          truncated = true;
          break;
        }
        if (at_risk.size() < time.size()) {  // unknown risk set: do not draw
          truncated = true;
          break;
        }
        pts.emplace_back(time[i], surv[i]);
      }
      const std::string color = Palette(gi);
      AtRisk row{label, color, {}, {}, n};
      for (size_t i = 0; i + 1 < pts.size(); ++i) {
        row.time.push_back(time[i]);
        row.n.push_back(at_risk[i]);
      }
      at_risk_rows.push_back(row);
      p.Line(pts, color, 2, LineStyle::kSolid, true);
      ++drawn;
      std::string leg = absl::StrCat(label, " (n=", Fmt(n, 0));
      if (const double ev = Num(At(&g, "events")); std::isfinite(ev)) absl::StrAppend(&leg, ", ", Fmt(ev, 0), " ev");
      legend.emplace_back(leg + ")", color);
      if (truncated) {
        notes.push_back(absl::StrCat(Escape(label), ": curve stops where fewer than k = ", k_,
                                     " patients remain at risk"));
      }
    }
    if (drawn == 0) {
      absl::StrAppend(&out, "<p class=\"supp\">", Escape(site), ": every risk group has fewer "
                            "than k patients; curves suppressed.</p>");
      continue;
    }
    p.Legend(legend, true);
    const std::string risk_table = AtRiskTable(at_risk_rows, k_);
    std::string caption = absl::StrCat(
        risk_table, "Site ", Escape(site),
        ": observed event-free survival (Kaplan–Meier) of the patients the model puts at low, "
        "intermediate and high risk");
    if (const json* cuts = At(v, {"risk_groups", "cuts"}); cuts && cuts->is_array() && cuts->size() == 2) {
      absl::StrAppend(&caption, " (cut-points: tertiles of the risk score in the development "
                                "data, ", FmtG(Num(&(*cuts)[0])), " and ", FmtG(Num(&(*cuts)[1])),
                      ")");
    }
    absl::StrAppend(&caption, "; reported at grid points where at least k = ", k_,
                    " patients left the group's risk set, not at single event times, and "
                              "each curve stops where fewer than k = ", k_,
                    " patients remain at risk. Well "
                              "separated curves mean good discrimination.");
    if (!notes.empty()) {
      absl::StrAppend(&caption, " <span class=\"supp\">", absl::StrJoin(notes, "; "), ".</span>");
    }
    absl::StrAppend(&out, Figure(p.Render(absl::StrCat("Kaplan-Meier curves for model ", model,
                                                        " at site ", site)),
                                 caption));
  }
  return out;
}

// validation.<model>.sites.<site>.roc = {fpr[], tpr[], n_pos?, n_neg?}
std::string Renderer::Roc(const std::string& model, const json* v) {
  const json* sites = At(v, "sites");
  bool any = false;
  double td_t = kNaN;  // a survival model's cumulative/dynamic ROC at t
  for (const auto& site : Keys(sites)) {
    const json* roc = At(sites, {site.c_str(), "roc"});
    any |= roc != nullptr;
    if (const double t = Num(At(roc, "time_dependent_t")); std::isfinite(t)) td_t = t;
  }
  if (!any) return "";
  const bool td = std::isfinite(td_t);
  const std::string unit = Str(At(v, "time_unit")).empty() ? "days" : Str(At(v, "time_unit"));
  SvgPlot p(PlotFrame{400, 380, 52, 16, 28, 44}, Axis{0, 1, "1 − specificity (false-positive rate)"},
            Axis{0, 1, "sensitivity"}, NextId("roc"));
  p.Title(td ? absl::StrCat(model, ": ROC at t = ", Fmt(td_t, 0), " ", unit)
             : absl::StrCat(model, ": ROC curves"));
  p.Line({{0, 0}, {1, 1}}, "#999", 1, LineStyle::kDashed);
  std::vector<std::pair<std::string, std::string>> legend;
  std::vector<std::string> notes;
  int i = -1;
  for (const auto& site : Keys(sites)) {
    ++i;
    const json* roc = At(sites, {site.c_str(), "roc"});
    if (roc == nullptr) continue;
    const double npos = Num(At(roc, "n_pos")), nneg = Num(At(roc, "n_neg"));
    if (IsTrue(At(roc, "suppressed")) || (std::isfinite(npos) && npos < k_) ||
        (std::isfinite(nneg) && nneg < k_)) {
      notes.push_back(absl::StrCat(Escape(site), " suppressed (fewer than k = ", k_,
                                   " events or non-events)"));
      continue;
    }
    const auto fpr = NumArray(At(roc, "fpr")), tpr = NumArray(At(roc, "tpr"));
    std::vector<std::pair<double, double>> pts;
    for (size_t j = 0; j < fpr.size() && j < tpr.size(); ++j) pts.emplace_back(fpr[j], tpr[j]);
    p.Line(pts, Palette(i), 2);
    const Estimate auc = ReadEstimate(SiteMetricsOf(model, site), td ? "auc_t" : "auc");
    legend.emplace_back(std::isfinite(auc.value)
                            ? absl::StrCat(site, td ? " AUC(t) " : " AUC ", Fmt(auc.value, 2))
                            : site,
                        Palette(i));
  }
  if (legend.empty()) {
    return absl::StrCat("<p class=\"supp\">ROC curves of ", Escape(model),
                        " suppressed at every site.</p>");
  }
  p.Legend(legend, true);
  std::string caption =
      td ? absl::StrCat(
               "Time-dependent (cumulative/dynamic) ROC at t = ", Fmt(td_t, 0), " ", unit,
               " at each center: cases are patients with the event by t (weighted for "
               "censoring), controls those event-free beyond t; the predicted risk by t is the "
               "score. Each center releases the curve at the risk thresholds 0, 0.02, …, 1; its "
               "area is AUC(t) in the legend. Dashed: chance.")
         :
      "ROC curve of the binary outcome at each center (sensitivity against 1 − specificity as "
      "the probability threshold goes from 1 down to 0; each center releases the curve at the "
      "thresholds 0, 0.02, …, 1, so it is a slightly coarser polygon than the exact curve whose "
      "area is the AUC in the legend); dashed: chance.";
  if (!notes.empty()) absl::StrAppend(&caption, " <span class=\"supp\">", absl::StrJoin(notes, "; "), ".</span>");
  return Figure(p.Render(absl::StrCat("ROC curves for model ", model)), caption);
}

}  // namespace fedrad::report_internal
