#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/status.h"
#include "report/internal/svg.h"

namespace fedrad::report {
namespace {

using json = nlohmann::json;
using report_internal::Axis;
using report_internal::Escape;
using report_internal::LineStyle;
using report_internal::MarkerShape;
using report_internal::Palette;
using report_internal::PlotFrame;
using report_internal::SvgPlot;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// JSON access: a missing key is nullptr, a non-number is NaN.

const json* At(const json* j, std::initializer_list<const char*> path) {
  for (const char* key : path) {
    if (j == nullptr || !j->is_object()) return nullptr;
    auto it = j->find(key);
    if (it == j->end()) return nullptr;
    j = &*it;
  }
  return j;
}
const json* At(const json* j, const std::string& key) {
  if (j == nullptr || !j->is_object()) return nullptr;
  auto it = j->find(key);
  return it == j->end() ? nullptr : &*it;
}

double Num(const json* j) {
  if (j == nullptr || !j->is_number()) return kNaN;
  return j->get<double>();
}

std::string Str(const json* j) {
  if (j == nullptr || j->is_null()) return "";
  if (j->is_string()) return j->get<std::string>();
  if (j->is_boolean()) return j->get<bool>() ? "yes" : "no";
  if (j->is_number_integer()) return absl::StrCat(j->get<int64_t>());
  if (j->is_number()) return absl::StrFormat("%.4g", j->get<double>());
  if (j->is_array()) {
    std::vector<std::string> parts;
    for (const json& e : *j) parts.push_back(Str(&e));
    return absl::StrJoin(parts, ", ");
  }
  return j->dump();
}

std::vector<double> NumArray(const json* j) {
  std::vector<double> out;
  if (j == nullptr || !j->is_array()) return out;
  for (const json& e : *j) out.push_back(e.is_number() ? e.get<double>() : kNaN);
  return out;
}

bool IsTrue(const json* j) {
  return j != nullptr && ((j->is_boolean() && j->get<bool>()) ||
                          (j->is_string() && j->get<std::string>() == "true"));
}

std::string Fmt(double v, int decimals = 3) {
  if (!std::isfinite(v)) return "—";
  return absl::StrFormat("%.*f", decimals, v);
}

// Numbers of any magnitude with ~4 significant digits.
std::string FmtG(double v) {
  if (!std::isfinite(v)) return "—";
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) return absl::StrFormat("%.3g", v);
  if (std::abs(v) >= 100) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.3g", v);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string FmtP(double p) {
  if (!std::isfinite(p)) return "—";
  if (p < 0.001) return "&lt;0.001";
  return absl::StrFormat("%.3f", p);
}

// Two-sided normal p-value of a Wald z.
double WaldP(double z) { return std::erfc(std::abs(z) / std::sqrt(2.0)); }

std::vector<std::string> Keys(const json* j) {
  std::vector<std::string> out;
  if (j == nullptr || !j->is_object()) return out;
  for (auto it = j->begin(); it != j->end(); ++it) out.push_back(it.key());
  return out;
}

std::string Pretty(const std::string& key) {
  static const std::map<std::string, std::string> kNames = {
      {"harrell_c", "Harrell's C"},         {"uno_c", "Uno's C"},
      {"c_index", "C-index"},               {"auc_t", "AUC(t)"},
      {"auc", "AUC"},                       {"brier_t", "Brier(t)"},
      {"brier", "Brier"},                   {"integrated_brier", "Integrated Brier"},
      {"calibration_slope", "Calibration slope"},
      {"calibration_intercept", "Calibration intercept"},
      {"oe_ratio_t", "O/E(t)"},             {"oe_ratio", "O/E"},
      {"sensitivity", "Sensitivity"},       {"specificity", "Specificity"},
      {"sensitivity_youden", "Sensitivity (Youden threshold)"},
      {"specificity_youden", "Specificity (Youden threshold)"},
      {"youden_threshold", "Youden threshold"},
  };
  auto it = kNames.find(key);
  return it == kNames.end() ? key : it->second;
}

// Reference value drawn as a dashed line in a metric's forest plot.
double MetricReference(const std::string& metric) {
  if (metric == "harrell_c" || metric == "uno_c" || metric == "c_index" || metric == "auc_t" ||
      metric == "auc") {
    return 0.5;
  }
  if (metric == "calibration_slope" || metric == "oe_ratio_t" || metric == "oe_ratio") return 1.0;
  if (metric == "calibration_intercept") return 0.0;
  return kNaN;
}

// A pooled (meta-analysed) estimate, from either
//   pooled.<m> = number, pooled.<m>_ci_low, _ci_high, _pi_low, _pi_high
// or pooled.<m> = {estimate|value, ci_low, ci_high, pi_low, pi_high, i2, tau2}.
struct Pooled {
  double value = kNaN, ci_low = kNaN, ci_high = kNaN, pi_low = kNaN, pi_high = kNaN;
  double i2 = kNaN, tau2 = kNaN;
  std::string method;
};

Pooled ReadPooled(const json* pooled, const std::string& m) {
  Pooled p;
  const json* v = At(pooled, m);
  if (v != nullptr && v->is_object()) {
    p.value = Num(At(v, "estimate"));
    if (!std::isfinite(p.value)) p.value = Num(At(v, "value"));
    p.ci_low = Num(At(v, "ci_low"));
    p.ci_high = Num(At(v, "ci_high"));
    p.pi_low = Num(At(v, "pi_low"));
    p.pi_high = Num(At(v, "pi_high"));
    p.i2 = Num(At(v, "i2"));
    p.tau2 = Num(At(v, "tau2"));
    p.method = Str(At(v, "method"));
  } else if (v == nullptr && At(pooled, m + "_meta") != nullptr) {
    // The models module's form: <m>_meta, <m>_meta_ci_low, …, <m>_meta_i2.
    const std::string k = m + "_meta";
    p.value = Num(At(pooled, k));
    p.ci_low = Num(At(pooled, k + "_ci_low"));
    p.ci_high = Num(At(pooled, k + "_ci_high"));
    p.pi_low = Num(At(pooled, k + "_pi_low"));
    p.pi_high = Num(At(pooled, k + "_pi_high"));
    p.i2 = Num(At(pooled, k + "_i2"));
    p.tau2 = Num(At(pooled, k + "_tau2"));
    p.method = Str(At(pooled, k + "_note"));
  } else {
    p.value = Num(v);
    p.ci_low = Num(At(pooled, m + "_ci_low"));
    p.ci_high = Num(At(pooled, m + "_ci_high"));
    p.pi_low = Num(At(pooled, m + "_pi_low"));
    p.pi_high = Num(At(pooled, m + "_pi_high"));
    p.i2 = Num(At(pooled, m + "_i2"));
    p.tau2 = Num(At(pooled, m + "_tau2"));
  }
  return p;
}

// A site's metric: <m> with <m>_ci_low/_ci_high, or <m> = {value, ci_low, ci_high}.
struct Estimate {
  double value = kNaN, ci_low = kNaN, ci_high = kNaN;
};
Estimate ReadEstimate(const json* site, const std::string& m) {
  Estimate e;
  const json* v = At(site, m);
  if (v != nullptr && v->is_object()) {
    e.value = Num(At(v, "value"));
    if (!std::isfinite(e.value)) e.value = Num(At(v, "estimate"));
    e.ci_low = Num(At(v, "ci_low"));
    e.ci_high = Num(At(v, "ci_high"));
  } else {
    e.value = Num(v);
    e.ci_low = Num(At(site, m + "_ci_low"));
    e.ci_high = Num(At(site, m + "_ci_high"));
  }
  return e;
}

// ---------------------------------------------------------------------------

constexpr char kCss[] = R"css(
:root { --ink:#1d2330; --muted:#5b6475; --line:#d9dde5; --accent:#0b5cad; --warn:#9a5b00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #f4f6f9; }
header.top { background: #17324d; color: #fff; padding: 18px 28px; }
header.top h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header.top .sub { color: #c9d6e3; font-size: 13px; }
nav.toc { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 28px; font-size: 13px; }
nav.toc a { color: var(--accent); margin-right: 14px; text-decoration: none; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 20px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 16px 0;
          padding: 14px 20px 18px; }
section h2 { margin: 0 0 8px; font-size: 18px; color: #17324d; }
section h3 { margin: 16px 0 6px; font-size: 15px; color: #17324d; }
section.absent { color: var(--muted); padding: 10px 20px; }
section.absent h2 { color: var(--muted); font-size: 16px; display: inline; margin-right: 10px; }
p.lead { color: var(--muted); margin: 0 0 10px; }
p.note, div.note { color: var(--muted); font-size: 12.5px; margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.mono, span.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
                     word-break: break-all; }
.supp { color: var(--warn); font-style: italic; }
.bad { color: #b00020; font-weight: 600; }
.good { color: #1b7f3b; font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 12px; color: var(--muted); max-width: 460px; margin-top: 2px; }
table.atrisk { font-size: 11px; margin: 0 0 6px 0; }
table.atrisk th, table.atrisk td { padding: 1px 5px; border: none; text-align: right; }
table.atrisk th { text-align: left; font-weight: 600; background: none; }
ul.glance { margin: 4px 0 0 0; padding-left: 20px; }
ul.glance li { margin: 3px 0; }
.kv th { width: 230px; }
details.render-check { margin-top: 20px; color: var(--muted); font-size: 12px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px; }
@media print { body { background: #fff; } section { break-inside: avoid; border: none; } nav.toc { display: none; } }
)css";

constexpr char kRenderCheckScript[] = R"js(
(function () {
  var svgs = document.querySelectorAll('svg.plot');
  var lines = [], ok = 0;
  for (var i = 0; i < svgs.length; i++) {
    var s = svgs[i], b = s.getBBox(), data = s.querySelector('g[clip-path]');
    var d = data ? data.getBBox() : { width: 0, height: 0 };
    var good = b.width > 0 && b.height > 0 && d.width > 0 && d.height > 0;
    s.setAttribute('data-rendered', good ? 'yes' : 'no');
    if (good) ok++;
    lines.push((good ? 'ok ' : 'EMPTY ') + s.getAttribute('data-plot-id') + ' ' +
               Math.round(b.width) + 'x' + Math.round(b.height) + ' data ' +
               Math.round(d.width) + 'x' + Math.round(d.height));
  }
  var el = document.getElementById('render-check');
  el.setAttribute('data-total', String(svgs.length));
  el.setAttribute('data-ok', String(ok));
  el.setAttribute('data-height', String(document.documentElement.scrollHeight));
  el.textContent = 'plots ' + svgs.length + ' rendered ' + ok + '\n' + lines.join('\n');
})();
)js";

class Renderer {
 public:
  Renderer(const json& r, const ReportOptions& o) : r_(r), o_(o) { ResolveK(); }

  std::string Render() {
    std::vector<std::pair<std::string, std::string>> toc;
    std::string body;
    auto add = [&](const std::string& id, const std::string& title, std::string html) {
      toc.emplace_back(id, title);
      body += html;
    };
    add("glance", "At a glance", Glance());
    add("study", "Study and provenance", StudySection());
    add("sites", "Sites that failed or timed out", FailedSites());
    add("cohort", "Cohort by center", Cohort());
    add("excluded", "Excluded cases", Excluded());
    add("harmonization", "Harmonisation", Harmonization());
    add("models", "Models", Models());
    add("validation", "External validation", Validation());
    std::string other = Other();
    if (!other.empty()) add("other", "Other results", other);

    const std::string name = Str(At(&r_, {"study", "name"}));
    const std::string title =
        !o_.title.empty() ? o_.title
                          : absl::StrCat("fedrad study report", name.empty() ? "" : ": ", name);
    std::string html = absl::StrCat(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
        "<title>", Escape(title), "</title>\n<style>", kCss, "</style>\n</head>\n<body>\n",
        "<header class=\"top\"><h1>", Escape(title), "</h1><div class=\"sub\">");
    std::vector<std::string> sub;
    if (const json* id = At(&r_, {"study", "id"})) sub.push_back("study " + Escape(Str(id)));
    if (const json* st = At(&r_, {"study", "state"})) sub.push_back("state " + Escape(Str(st)));
    if (const json* f = At(&r_, {"study", "finished_at"})) sub.push_back("finished " + Escape(Str(f)));
    sub.push_back(absl::StrCat("minimum cell count k = ", k_, " (", Escape(k_source_), ")"));
    absl::StrAppend(&html, absl::StrJoin(sub, " · "), "</div></header>\n<nav class=\"toc\">");
    for (const auto& [id, t] : toc) absl::StrAppend(&html, "<a href=\"#", id, "\">", Escape(t), "</a>");
    absl::StrAppend(&html, "</nav>\n<main>\n", body);
    absl::StrAppend(&html,
                    "<details class=\"render-check\"><summary>Render check (for automated tests)"
                    "</summary><pre id=\"render-check\" data-total=\"\" data-ok=\"\">"
                    "not run (scripts disabled)</pre></details>\n</main>\n<footer>Written by "
                    "<code>fedrad report</code> from aggregates in results.json only");
    if (!o_.results_source.empty()) absl::StrAppend(&html, " (", Escape(o_.results_source), ")");
    if (!o_.results_sha256.empty()) {
      absl::StrAppend(&html, ", SHA-256 <span class=\"mono\">", Escape(o_.results_sha256), "</span>");
    }
    absl::StrAppend(&html, ". No patient-level data is shown; curve points with fewer than k ",
                    "patients are suppressed.</footer>\n");
    if (o_.render_check) absl::StrAppend(&html, "<script>", kRenderCheckScript, "</script>\n");
    absl::StrAppend(&html, "</body>\n</html>\n");
    return html;
  }

 private:
  // ---- helpers -------------------------------------------------------------
  void ResolveK() {
    const std::vector<std::pair<std::vector<const char*>, std::string>> sources = {
        {{"study", "min_cell_count"}, "study.min_cell_count"},
        {{"privacy", "min_cell_count"}, "privacy.min_cell_count"},
        {{"cohort", "min_cell_count"}, "cohort.min_cell_count"},
        {{"cohort", "method", "min_cell_count"}, "cohort.method.min_cell_count"},
    };
    for (const auto& [path, name] : sources) {
      const json* j = &r_;
      for (const char* key : path) j = At(j, key);
      const double v = Num(j);
      if (std::isfinite(v) && v >= 1) {
        k_ = static_cast<int>(v);
        k_source_ = name;
        return;
      }
    }
    k_ = o_.default_min_cell_count;
    k_source_ = "default; results.json states none";
  }

  std::string NextId(const std::string& prefix) { return absl::StrCat(prefix, "-", ++plot_count_); }

  static std::string Absent(const std::string& id, const std::string& title,
                            const std::string& why = "") {
    return absl::StrCat("<section id=\"", id, "\" class=\"absent\"><h2>", Escape(title),
                        "</h2>not part of this study", why.empty() ? "" : " — ", Escape(why),
                        "</section>\n");
  }
  static std::string Open(const std::string& id, const std::string& title) {
    return absl::StrCat("<section id=\"", id, "\"><h2>", Escape(title), "</h2>\n");
  }
  static std::string Figure(const std::string& svg, const std::string& caption) {
    return absl::StrCat("<figure>", svg, "<figcaption>", caption, "</figcaption></figure>\n");
  }
  std::vector<std::string> Sites() const {
    std::set<std::string> s;
    if (const json* list = At(&r_, {"study", "sites"}); list && list->is_array()) {
      for (const json& e : *list) s.insert(Str(&e));
    }
    for (const std::string& k : Keys(At(&r_, {"cohort", "sites"}))) s.insert(k);
    return {s.begin(), s.end()};
  }

  // ---- sections ------------------------------------------------------------
  std::string Glance() {
    std::vector<std::string> items;
    if (const json* study = At(&r_, "study")) {
      std::string line = absl::StrCat("Study <b>", Escape(Str(At(study, "name"))), "</b>");
      if (const json* st = At(study, "state")) absl::StrAppend(&line, ": ", Escape(Str(st)));
      if (const json* sites = At(study, "sites"); sites && sites->is_array()) {
        absl::StrAppend(&line, "; ", sites->size(), " site(s): ", Escape(Str(sites)));
      }
      items.push_back(line + ".");
    }
    const json* cohort = At(&r_, "cohort");
    if (cohort != nullptr) {
      const double n = Num(At(cohort, {"pooled", "n"}));
      const auto sites = Keys(At(cohort, "sites"));
      items.push_back(absl::StrCat(Fmt(n, 0), " patients at ", sites.size(), " site(s): ",
                                   Escape(absl::StrJoin(sites, ", ")), "."));
      if (const json* te = At(cohort, {"pooled", "time_events"}); te && te->is_object()) {
        for (auto it = te->begin(); it != te->end(); ++it) {
          std::string events = Fmt(Num(At(&*it, "events")), 0);
          if (!std::isfinite(Num(At(&*it, "events")))) {
            // A site withheld its count (fewer than k events or non-events):
            // say what is known instead of a bare dash.
            double known = 0;
            std::vector<std::string> withheld;
            for (const auto& site : Keys(At(cohort, "sites"))) {
              const json* e = At(cohort, {"sites", site.c_str(), "time_events", it.key().c_str()});
              const double ev = Num(At(e, "events"));
              if (std::isfinite(ev)) {
                known += ev;
              } else {
                withheld.push_back(site);
              }
            }
            events = absl::StrCat(
                "at least ", Fmt(known, 0), " (", Escape(absl::StrJoin(withheld, ", ")),
                " withheld ", withheld.size() == 1 ? "its count" : "their counts",
                ": fewer than k events or non-events)");
          }
          items.push_back(absl::StrCat(Escape(it.key()), ": ", events, " events among ",
                                       Fmt(Num(At(&*it, "n")), 0), " patients (median follow-up ",
                                       FmtG(Num(At(&*it, "median_followup"))), ")."));
        }
      }
    }
    if (const json* ex = At(&r_, {"study", "excluded_sites"}); ex && ex->is_object() && !ex->empty()) {
      items.push_back(absl::StrCat("<span class=\"bad\">", ex->size(),
                                   " site(s) dropped</span>: ", Escape(absl::StrJoin(Keys(ex), ", ")),
                                   " (see below)."));
    }
    if (const json* h = At(&r_, "harmonization")) {
      items.push_back(absl::StrCat("Features harmonised with ", Escape(Str(At(h, "method"))),
                                   " ComBat (", At(h, "features") ? At(h, "features")->size() : 0,
                                   " features)."));
    }
    if (const json* v = At(&r_, "validation"); v && v->is_object()) {
      for (auto it = v->begin(); it != v->end(); ++it) {
        bool said = false;
        for (const char* m : {"harrell_c", "c_index", "uno_c", "auc"}) {
          const Pooled p = ReadPooled(At(&*it, "pooled"), m);
          const double pairs = Num(At(&*it, {"pooled", (std::string(m) + "_stratified").c_str()}));
          if (!std::isfinite(p.value) && std::isfinite(pairs)) {
            items.push_back(absl::StrCat("Model <b>", Escape(it.key()), "</b>: ", Pretty(m),
                                         " over all within-center pairs ", Fmt(pairs),
                                         " (no meta-analysis: ", Escape(p.method.empty() ? "too few sites" : p.method),
                                         ")."));
            said = true;
            break;
          }
          if (!std::isfinite(p.value)) continue;
          said = true;
          std::string line = absl::StrCat("Model <b>", Escape(it.key()), "</b>: pooled ", Pretty(m),
                                          " ", Fmt(p.value));
          if (std::isfinite(p.ci_low)) {
            absl::StrAppend(&line, " (95% CI ", Fmt(p.ci_low), "–", Fmt(p.ci_high), ")");
          }
          if (std::isfinite(p.pi_low)) {
            absl::StrAppend(&line, "; 95% prediction interval for a new center ", Fmt(p.pi_low),
                            "–", Fmt(p.pi_high));
          }
          items.push_back(line + ".");
          break;
        }
        if (!said) {  // no pooled value: list the centers' C or AUC
          std::vector<std::string> per_site;
          std::string metric;
          for (const char* m : {"harrell_c", "c_index", "auc"}) {
            for (const auto& site : Keys(At(&*it, "sites"))) {
              const Estimate e = ReadEstimate(At(&*it, {"sites", site.c_str()}), m);
              if (std::isfinite(e.value)) per_site.push_back(absl::StrCat(Escape(site), " ", Fmt(e.value)));
            }
            if (!per_site.empty()) {
              metric = m;
              break;
            }
          }
          if (!per_site.empty()) {
            items.push_back(absl::StrCat("Model <b>", Escape(it.key()), "</b>: ", Pretty(metric),
                                         " by center ", absl::StrJoin(per_site, ", "), "."));
          }
        }
      }
    }
    if (items.empty()) {
      return Absent("glance", "At a glance", "results.json holds no recognised section");
    }
    std::string s = Open("glance", "At a glance");
    absl::StrAppend(&s, "<ul class=\"glance\">");
    for (const auto& i : items) absl::StrAppend(&s, "<li>", i, "</li>");
    absl::StrAppend(&s, "</ul></section>\n");
    return s;
  }

  std::string KeyValueRows(const json* obj, const std::set<std::string>& skip) {
    std::string s;
    if (obj == nullptr || !obj->is_object()) return s;
    for (auto it = obj->begin(); it != obj->end(); ++it) {
      if (skip.count(it.key()) || it->is_object()) continue;
      const std::string value = it->is_array() && it->size() > 12
                                    ? absl::StrCat("[", it->size(), " values]")
                                    : Str(&*it);
      absl::StrAppend(&s, "<tr><th>", Escape(it.key()), "</th><td>", Escape(value), "</td></tr>");
    }
    return s;
  }

  // Scalars of `obj`: the keys in `first` in that order, then the rest.
  std::string OrderedRows(const json* obj, const std::vector<std::string>& first,
                          std::set<std::string> skip) {
    std::string s;
    for (const auto& key : first) {
      const json* v = At(obj, key);
      if (v == nullptr || v->is_object()) continue;
      absl::StrAppend(&s, "<tr><th>", Escape(key), "</th><td>", Escape(Str(v)), "</td></tr>");
      skip.insert(key);
    }
    return s + KeyValueRows(obj, skip);
  }

  std::string StudySection() {
    const json* study = At(&r_, "study");
    const json* prov = At(&r_, "provenance");
    if (study == nullptr && prov == nullptr) return Absent("study", "Study and provenance");
    std::string s = Open("study", "Study and provenance");
    absl::StrAppend(&s, "<table class=\"kv\">", OrderedRows(study, {"name", "id", "state", "message",
                                                                "sites", "completed_sites", "rounds",
                                                                "finished_at"},
                                                        {"excluded", "excluded_sites"}),
                    "<tr><th>minimum cell count k</th><td>", k_, " (", Escape(k_source_),
                    ")</td></tr>");
    if (prov != nullptr) {
      for (auto it = prov->begin(); it != prov->end(); ++it) {
        if (it->is_object()) continue;
        const bool hash = it.key().find("sha") != std::string::npos ||
                          it.key().find("hash") != std::string::npos;
        absl::StrAppend(&s, "<tr><th>", Escape(it.key()), "</th><td", hash ? " class=\"mono\"" : "",
                        ">", Escape(Str(&*it)), "</td></tr>");
      }
    }
    absl::StrAppend(&s, "</table>");
    if (const json* heads = At(prov, "audit_log_heads"); heads && heads->is_object()) {
      absl::StrAppend(&s,
                      "<h3>Audit logs</h3><p class=\"note\">Final record hash of each node's "
                      "tamper-evident log at the end of the study; an auditor compares them with "
                      "<code>fedrad audit verify</code> and <code>fedrad audit cross-check</code>."
                      "</p><table><tr><th>node</th><th>final hash</th></tr>");
      for (auto it = heads->begin(); it != heads->end(); ++it) {
        absl::StrAppend(&s, "<tr><td>", Escape(it.key()), "</td><td class=\"mono\">",
                        Escape(Str(&*it)), "</td></tr>");
      }
      if (const json* sites = At(study, "sites"); sites && sites->is_array()) {
        for (const json& e : *sites) {
          const std::string site = Str(&e);
          if (heads->contains(site)) continue;
          absl::StrAppend(&s, "<tr><td>", Escape(site), "</td><td class=\"supp\">not recorded "
                              "in results.json (the coordinator never sees a site's log): ask the "
                              "site for its log and add it with <code>fedrad study report "
                              "--audit-log ", Escape(site), "=LOG</code></td></tr>");
        }
      }
      absl::StrAppend(&s, "</table>");
    }
    // Any other nested provenance object, as key/value tables.
    if (prov != nullptr) {
      for (auto it = prov->begin(); it != prov->end(); ++it) {
        if (!it->is_object() || it.key() == "audit_log_heads") continue;
        absl::StrAppend(&s, "<h3>", Escape(it.key()), "</h3><table class=\"kv\">",
                        KeyValueRows(&*it, {}), "</table>");
      }
    }
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  std::string FailedSites() {
    const json* study = At(&r_, "study");
    if (At(study, "sites") == nullptr && At(study, "excluded_sites") == nullptr) {
      return Absent("sites", "Sites that failed or timed out", "results.json lists no sites");
    }
    std::string s = Open("sites", "Sites that failed or timed out");
    const json* ex = At(study, "excluded_sites");
    std::set<std::string> completed;
    if (const json* c = At(study, "completed_sites"); c && c->is_array()) {
      for (const json& e : *c) completed.insert(Str(&e));
    }
    std::vector<std::pair<std::string, std::string>> rows;
    if (ex != nullptr && ex->is_object()) {
      for (auto it = ex->begin(); it != ex->end(); ++it) rows.emplace_back(it.key(), Str(&*it));
    }
    if (const json* all = At(study, "sites"); all && all->is_array() && At(study, "completed_sites")) {
      for (const json& e : *all) {
        const std::string site = Str(&e);
        if (!completed.count(site) && !(ex && ex->contains(site))) {
          rows.emplace_back(site, "did not complete (no reason recorded)");
        }
      }
    }
    if (rows.empty()) {
      absl::StrAppend(&s, "<p class=\"good\">Every site completed every round.</p>");
    } else {
      absl::StrAppend(&s,
                      "<p class=\"lead\">These sites were dropped during the study (the quorum "
                      "allowed it); their data is not in the pooled results from that point on."
                      "</p><table><tr><th>site</th><th>reason</th></tr>");
      for (const auto& [site, why] : rows) {
        absl::StrAppend(&s, "<tr><td>", Escape(site), "</td><td class=\"bad\">", Escape(why),
                        "</td></tr>");
      }
      absl::StrAppend(&s, "</table>");
    }
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  // One Table-1 cell.
  std::string CohortCell(const json* col, bool pooled) {
    if (col == nullptr) return "<td class=\"num\">—</td>";
    if (IsTrue(At(col, "absent"))) return "<td class=\"num\" title=\"column absent\">absent</td>";
    if (IsTrue(At(col, "suppressed"))) {
      return absl::StrCat("<td class=\"num supp\" title=\"", Escape(Str(At(col, "reason"))),
                          "\">suppressed (&lt;", k_, ")</td>");
    }
    std::string cell;
    const std::string type = Str(At(col, "type"));
    const double n = Num(At(col, "n"));
    if (type == "binary" || At(col, "count") != nullptr) {
      cell = absl::StrCat(Fmt(Num(At(col, "count")), 0), " (", Fmt(Num(At(col, "percent")), 1), "%)");
    } else {
      cell = absl::StrCat(FmtG(Num(At(col, "mean"))), " ± ", FmtG(Num(At(col, "sd"))));
      const double med = Num(At(col, "median"));
      if (std::isfinite(med)) {
        absl::StrAppend(&cell, "<br>", FmtG(med), " [", FmtG(Num(At(col, "q1"))), "–",
                        FmtG(Num(At(col, "q3"))), "]");
      }
    }
    const double missing = Num(At(col, "n_missing"));
    if (std::isfinite(missing) && missing > 0) {
      absl::StrAppend(&cell, "<br><span class=\"note\">", Fmt(missing, 0), " missing</span>");
    }
    std::string title = absl::StrCat("n = ", Fmt(n, 0));
    if (pooled && IsTrue(At(col, "incomplete"))) {
      absl::StrAppend(&cell, " †");
      absl::StrAppend(&title, "; leaves out ", Str(At(col, "excluded_sites")));
    }
    return absl::StrCat("<td class=\"num\" title=\"", Escape(title), "\">", cell, "</td>");
  }

  std::string Cohort() {
    const json* cohort = At(&r_, "cohort");
    if (cohort == nullptr) return Absent("cohort", "Cohort by center");
    std::string s = Open("cohort", "Cohort by center");
    absl::StrAppend(&s,
                    "<p class=\"lead\">Descriptive statistics computed at each site and combined "
                    "exactly; numeric: mean ± SD and median [Q1–Q3]; binary: count (%). A cell "
                    "with fewer than k values is suppressed by its site.</p>");
    const json* pooled = At(cohort, "pooled");
    const json* sites = At(cohort, "sites");
    const std::vector<std::string> site_names = Keys(sites);
    absl::StrAppend(&s, "<table><tr><th>variable</th><th>pooled<br><span class=\"note\">n = ",
                    Fmt(Num(At(pooled, "n")), 0), "</span></th>");
    for (const auto& site : site_names) {
      absl::StrAppend(&s, "<th>", Escape(site), "<br><span class=\"note\">n = ",
                      Fmt(Num(At(sites, {site.c_str(), "n"})), 0), "</span></th>");
    }
    absl::StrAppend(&s, "</tr>");
    std::set<std::string> columns;
    for (const auto& c : Keys(At(pooled, "columns"))) columns.insert(c);
    for (const auto& site : site_names) {
      for (const auto& c : Keys(At(sites, {site.c_str(), "columns"}))) columns.insert(c);
    }
    bool any_incomplete = false;
    for (const auto& c : columns) {
      const json* pc = At(pooled, {"columns", c.c_str()});
      any_incomplete |= IsTrue(At(pc, "incomplete"));
      absl::StrAppend(&s, "<tr><th>", Escape(c), "</th>", CohortCell(pc, true));
      for (const auto& site : site_names) {
        absl::StrAppend(&s, CohortCell(At(sites, {site.c_str(), "columns", c.c_str()}), false));
      }
      absl::StrAppend(&s, "</tr>");
    }
    // Time-to-event outcomes.
    std::set<std::string> outcomes;
    for (const auto& o : Keys(At(pooled, "time_events"))) outcomes.insert(o);
    for (const auto& o : outcomes) {
      auto cell = [&](const json* te) {
        if (te == nullptr) return std::string("<td class=\"num\">—</td>");
        if (IsTrue(At(te, "suppressed"))) {
          return absl::StrCat("<td class=\"num supp\" title=\"", Escape(Str(At(te, "reason"))),
                              "\">suppressed (&lt;", k_, ")</td>");
        }
        return absl::StrCat("<td class=\"num\">", Fmt(Num(At(te, "events")), 0), " / ",
                            Fmt(Num(At(te, "n")), 0), "<br><span class=\"note\">median FU ",
                            FmtG(Num(At(te, "median_followup"))), "</span></td>");
      };
      absl::StrAppend(&s, "<tr><th>", Escape(o), " <span class=\"note\">events / n</span></th>",
                      cell(At(pooled, {"time_events", o.c_str()})));
      for (const auto& site : site_names) {
        absl::StrAppend(&s, cell(At(sites, {site.c_str(), "time_events", o.c_str()})));
      }
      absl::StrAppend(&s, "</tr>");
    }
    absl::StrAppend(&s, "</table>");
    if (any_incomplete) {
      absl::StrAppend(&s, "<p class=\"note\">† pooled value leaves out sites where the column was "
                          "absent or suppressed (hover for which).</p>");
    }
    if (const json* m = At(cohort, "method"); m && m->is_object()) {
      absl::StrAppend(&s, "<div class=\"note\">Methods:<ul>");
      for (auto it = m->begin(); it != m->end(); ++it) {
        absl::StrAppend(&s, "<li><b>", Escape(it.key()), "</b>: ",
                        Escape(it->is_object() ? it->dump() : Str(&*it)), "</li>");
      }
      absl::StrAppend(&s, "</ul></div>");
    } else if (m != nullptr) {
      absl::StrAppend(&s, "<p class=\"note\">Method: ", Escape(Str(m)), "</p>");
    }
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  // Every key named "excluded" (or "excluded_cases") anywhere, except the
  // site list study.excluded_sites, rendered with its path.
  void FindExcluded(const json& j, const std::string& path,
                    std::vector<std::pair<std::string, const json*>>* out) {
    if (!j.is_object()) return;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (it.key() == "excluded" || it.key() == "excluded_cases") {
        out->emplace_back(p, &*it);
      } else if (it->is_object()) {
        FindExcluded(*it, p, out);
      }
    }
  }

  std::string Excluded() {
    std::vector<std::pair<std::string, const json*>> found;
    FindExcluded(r_, "", &found);
    if (found.empty()) {
      return Absent("excluded", "Excluded cases", "results.json reports no excluded cases");
    }
    std::string s = Open("excluded", "Excluded cases");
    absl::StrAppend(&s, "<p class=\"lead\">Cases a site could not use, with the reason. A case "
                        "whose images could not be used is named by the site's pseudonymous "
                        "case id; other exclusions are counts.</p>");
    // Rows a model could not use (models.<model>.site_rows.<site>.excluded):
    // one table, model by site by reason.
    std::string model_rows;
    std::vector<std::pair<std::string, const json*>> other;
    for (const auto& [path, j] : found) {
      std::vector<std::string> parts = absl::StrSplit(path, '.');
      if (parts.size() == 5 && parts[0] == "models" && parts[2] == "site_rows" &&
          parts[4] == "excluded" && j->is_object()) {
        for (auto it = j->begin(); it != j->end(); ++it) {
          absl::StrAppend(&model_rows, "<tr><td>", Escape(parts[1]), "</td><td>",
                          Escape(parts[3]), "</td><td>", Escape(it.key()),
                          "</td><td class=\"num\">", Escape(Str(&*it)), "</td></tr>");
        }
      } else {
        other.emplace_back(path, j);
      }
    }
    if (!model_rows.empty()) {
      absl::StrAppend(&s, "<h3>Rows a model could not use</h3><p class=\"note\">From "
                          "<code>models.&lt;model&gt;.site_rows.&lt;site&gt;.excluded</code>: "
                          "e.g. a missing outcome (a logistic model's binary outcome is missing "
                          "when follow-up ended before the horizon) or a missing covariate.</p>"
                          "<table><tr><th>model</th><th>site</th><th>reason</th><th>rows</th></tr>",
                      model_rows, "</table>");
    }
    for (const auto& [path, j] : other) {
      absl::StrAppend(&s, "<h3><code>", Escape(path), "</code></h3>");
      if (j->is_array()) {
        std::vector<std::string> cols;
        for (const json& e : *j) {
          for (const auto& k : Keys(&e)) {
            if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
          }
        }
        if (cols.empty()) {
          absl::StrAppend(&s, "<ul>");
          for (const json& e : *j) absl::StrAppend(&s, "<li>", Escape(Str(&e)), "</li>");
          absl::StrAppend(&s, "</ul>");
          if (j->empty()) absl::StrAppend(&s, "<p class=\"note\">none</p>");
          continue;
        }
        absl::StrAppend(&s, "<table><tr>");
        for (const auto& c : cols) absl::StrAppend(&s, "<th>", Escape(c), "</th>");
        absl::StrAppend(&s, "</tr>");
        for (const json& e : *j) {
          absl::StrAppend(&s, "<tr>");
          for (const auto& c : cols) absl::StrAppend(&s, "<td>", Escape(Str(At(&e, c))), "</td>");
          absl::StrAppend(&s, "</tr>");
        }
        absl::StrAppend(&s, "</table>");
      } else if (j->is_object()) {
        absl::StrAppend(&s, "<table><tr><th>key</th><th>value</th></tr>");
        for (auto it = j->begin(); it != j->end(); ++it) {
          absl::StrAppend(&s, "<tr><td>", Escape(it.key()), "</td><td>",
                          Escape(it->is_object() ? it->dump() : Str(&*it)), "</td></tr>");
        }
        absl::StrAppend(&s, "</table>");
      } else {
        absl::StrAppend(&s, "<p>", Escape(Str(j)), "</p>");
      }
    }
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  // A strip chart: one row per site, one point per feature.
  std::string StripPlot(const std::string& title, const std::string& key, bool log_axis,
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

  std::string Harmonization() {
    const json* h = At(&r_, "harmonization");
    if (h == nullptr) return Absent("harmonization", "Harmonisation");
    std::string s = Open("harmonization", "Harmonisation");
    absl::StrAppend(&s,
                    "<p class=\"lead\">ComBat removes each site's additive (γ*) and multiplicative "
                    "(δ*², a variance ratio) effect on every feature, estimated from site sums with "
                    "empirical-Bayes shrinkage. γ* near 0 and δ*² near 1 mean the site already "
                    "matched the pool.</p>");
    absl::StrAppend(&s, "<table class=\"kv\">");
    for (const char* key : {"method", "empirical_bayes", "mean_only", "reference_site", "covariates"}) {
      if (const json* v = At(h, key)) {
        const std::string text = Str(v);
        absl::StrAppend(&s, "<tr><th>", key, "</th><td>",
                        text.empty() || text == "[]" ? "none" : Escape(text), "</td></tr>");
      }
    }
    const json* features = At(h, "features");
    absl::StrAppend(&s, "<tr><th>features harmonised</th><td>",
                    features && features->is_array() ? features->size() : 0, "</td></tr>");
    if (const json* suffix = At(h, "output_suffix"); suffix && !Str(suffix).empty()) {
      absl::StrAppend(&s, "<tr><th>harmonised columns</th><td><code>&lt;feature&gt;",
                      Escape(Str(suffix)), "</code> (the raw feature columns are kept; a model "
                      "names which it uses)</td></tr>");
    }
    if (const json* u = At(h, "unadjusted_features"); u && u->is_array() && !u->empty()) {
      absl::StrAppend(&s, "<tr><th>left unadjusted</th><td>", Escape(Str(u)), "</td></tr>");
    }
    if (const json* n = At(h, "notes"); n && !n->empty()) {
      absl::StrAppend(&s, "<tr><th>notes</th><td>", Escape(Str(n)), "</td></tr>");
    }
    if (const json* sites = At(h, "sites"); sites && sites->is_object()) {
      std::vector<std::string> ns;
      for (auto it = sites->begin(); it != sites->end(); ++it) {
        ns.push_back(absl::StrCat(it.key(), " ", Fmt(Num(At(&*it, "n")), 0)));
      }
      absl::StrAppend(&s, "<tr><th>patients by site</th><td>", Escape(absl::StrJoin(ns, ", ")),
                      "</td></tr>");
    }
    absl::StrAppend(&s, "</table><div class=\"plots\">");
    const std::string gamma = StripPlot("Location effect γ* by site", "gamma_star", false, 0.0);
    const std::string delta =
        StripPlot("Scale effect δ*² (variance ratio) by site", "delta_star", true, 1.0);
    if (!gamma.empty()) {
      absl::StrAppend(&s, Figure(gamma, "Each point is one feature's site effect (hover for its "
                                        "name); the black bar is the site's median."));
    }
    if (!delta.empty()) {
      absl::StrAppend(&s, Figure(delta, "δ*² on a log scale; 1 = same variance as the pool."));
    }
    absl::StrAppend(&s, "</div>");
    if (gamma.empty() && delta.empty()) {
      absl::StrAppend(&s, "<p class=\"note\">No per-site γ*/δ* in results.json.</p>");
    }
    absl::StrAppend(&s, Distributions(At(h, "distributions")));
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  // harmonization.distributions.<feature>.{before,after}.<site> =
  //   {n, mean, sd, q1, median, q3 | suppressed}
  std::string Distributions(const json* d) {
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

  struct Term {
    std::string name;
    double beta = kNaN, se = kNaN;
  };

  static std::vector<Term> ReadTerms(const json* model) {
    std::vector<Term> terms;
    const json* coef = At(model, "coefficients");
    const json* se = At(model, "std_errors");
    if (coef == nullptr) return terms;
    if (coef->is_object()) {
      for (auto it = coef->begin(); it != coef->end(); ++it) {
        terms.push_back({it.key(), Num(&*it), Num(At(se, it.key()))});
      }
    } else if (coef->is_array()) {
      const json* names = At(model, "terms");
      for (size_t i = 0; i < coef->size(); ++i) {
        const json& e = (*coef)[i];
        Term t;
        if (e.is_object()) {
          t.name = Str(At(&e, "term"));
          if (t.name.empty()) t.name = Str(At(&e, "name"));
          t.beta = Num(At(&e, "estimate"));
          if (!std::isfinite(t.beta)) t.beta = Num(At(&e, "coefficient"));
          t.se = Num(At(&e, "std_error"));
          if (!std::isfinite(t.se)) t.se = Num(At(&e, "se"));
        } else {
          t.name = names && names->is_array() && i < names->size() ? Str(&(*names)[i])
                                                                   : absl::StrCat("x", i + 1);
          t.beta = Num(&e);
          if (se && se->is_array() && i < se->size()) t.se = Num(&(*se)[i]);
        }
        terms.push_back(t);
      }
    }
    return terms;
  }

  std::string Models() {
    const json* models = At(&r_, "models");
    if (models == nullptr || !models->is_object() || models->empty()) {
      return Absent("models", "Models");
    }
    std::string s = Open("models", "Models");
    absl::StrAppend(&s, "<p class=\"lead\">Models fitted federatedly (each site returns only "
                        "gradient and Hessian sums). Ratios are per unit of the (harmonised, "
                        "possibly standardised) predictor; 95% Wald intervals.</p>");
    for (auto it = models->begin(); it != models->end(); ++it) {
      const json* m = &*it;
      const std::string type = Str(At(m, "type"));
      const bool logistic = type.find("logistic") != std::string::npos;
      const bool cox = type.find("cox") != std::string::npos || At(m, "baseline") != nullptr;
      const std::string ratio = logistic ? "OR" : cox ? "HR" : "exp(β)";
      // What a reader needs first; fit bookkeeping (rounds, timings) last.
      absl::StrAppend(&s, "<h3>", Escape(it.key()), "</h3><table class=\"kv\">",
                      OrderedRows(m, {"type", "n", "events", "sites", "covariates", "ties",
                                      "iterations", "loglik", "loglik_null", "step_halvings",
                                      "rounds", "fit_seconds", "coordinator_seconds"},
                                  {"coefficients", "std_errors", "terms", "baseline",
                                   "covariance"}),
                      "</table>");
      if (const json* rows = At(m, "site_rows"); rows && rows->is_object()) {
        absl::StrAppend(&s, "<table><tr><th>site</th><th>rows used</th><th>events</th>"
                            "<th>rows excluded</th></tr>");
        for (auto r = rows->begin(); r != rows->end(); ++r) {
          absl::StrAppend(&s, "<tr><td>", Escape(r.key()), "</td><td class=\"num\">",
                          Fmt(Num(At(&*r, "n")), 0), "</td><td class=\"num\">",
                          Fmt(Num(At(&*r, "events")), 0), "</td><td class=\"num\">",
                          Fmt(Num(At(&*r, "n_excluded")), 0), "</td></tr>");
        }
        absl::StrAppend(&s, "</table>");
      }
      const std::vector<Term> terms = ReadTerms(m);
      if (terms.empty()) {
        absl::StrAppend(&s, "<p class=\"note\">No coefficients in results.json.</p>");
        continue;
      }
      absl::StrAppend(&s, "<div class=\"plots\"><div><table><tr><th>term</th><th>β</th><th>SE</th><th>",
                      ratio, "</th><th>95% CI</th><th>p</th></tr>");
      double lo = 1, hi = 1;
      for (const Term& t : terms) {
        const double l = std::exp(t.beta - 1.959964 * t.se), h = std::exp(t.beta + 1.959964 * t.se);
        const bool intercept =
            t.name == "(intercept)" || t.name == "intercept" || t.name == "(Intercept)";
        // The intercept is the log odds at all covariates 0, not a ratio.
        const std::string ratio_cells =
            intercept ? "<td class=\"num\" title=\"not a ratio: the log odds when every "
                        "covariate is 0\">—</td><td class=\"num\">—</td>"
                      : absl::StrCat("<td class=\"num\">", Fmt(std::exp(t.beta), 2),
                                     "</td><td class=\"num\">", Fmt(l, 2), "–", Fmt(h, 2),
                                     "</td>");
        absl::StrAppend(&s, "<tr><td>", Escape(t.name), "</td><td class=\"num\">", Fmt(t.beta),
                        "</td><td class=\"num\">", Fmt(t.se), "</td>", ratio_cells,
                        "<td class=\"num\">", FmtP(WaldP(t.beta / t.se)), "</td></tr>");
        for (double v : {l, h, std::exp(t.beta)}) {
          if (!intercept && std::isfinite(v) && v > 0) {  // the axis is for the plotted ratios
            lo = std::min(lo, v);
            hi = std::max(hi, v);
          }
        }
      }
      absl::StrAppend(&s, "</table></div>");
      // The intercept is a baseline odds, not a ratio per unit: table only.
      std::vector<Term> plotted;
      for (const Term& t : terms) {
        if (t.name != "(intercept)" && t.name != "intercept" && t.name != "(Intercept)") {
          plotted.push_back(t);
        }
      }
      const int n = static_cast<int>(plotted.size());
      SvgPlot p(PlotFrame{470, 70 + 26 * n, 170, 20, 28, 44},
                Axis{lo / 1.1, hi * 1.1, absl::StrCat(ratio, " (95% CI), log scale"), true},
                Axis{n + 0.5, 0.5, "", false, false}, NextId("coef"));
      p.Title(absl::StrCat(it.key(), ": ", ratio, " per term"));
      p.VLine(1.0, "#777");
      std::vector<std::string> labels;
      for (int i = 0; i < n; ++i) {
        const Term& t = plotted[i];
        labels.push_back(t.name);
        p.HErrorBar(i + 1, std::exp(t.beta - 1.959964 * t.se), std::exp(t.beta + 1.959964 * t.se),
                    Palette(0));
        p.Marker(std::exp(t.beta), i + 1, Palette(0), MarkerShape::kSquare, 4, true,
                 absl::StrCat(t.name, ": ", ratio, " ", Fmt(std::exp(t.beta), 2)));
      }
      p.CategoryLabels(labels);
      absl::StrAppend(&s, Figure(p.Render(absl::StrCat("Forest plot of the ", ratio, "s of model ",
                                                        it.key())),
                                 absl::StrCat(ratio, " &gt; 1: higher risk with a higher value.")),
                      "</div>");
    }
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  // Forest plot of one metric across sites, with the pooled estimate.
  std::string MetricForest(const std::string& model, const json* v, const std::string& metric) {
    const json* sites = At(v, "sites");
    std::vector<std::string> names = Keys(sites);
    struct Row {
      std::string label;
      Estimate e;
    };
    std::vector<Row> rows;
    for (const auto& site : names) {
      const Estimate e = ReadEstimate(At(sites, site), metric);
      if (std::isfinite(e.value)) rows.push_back({site, e});
    }
    const Pooled pooled = ReadPooled(At(v, "pooled"), metric);
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

  // Metrics present at any site or pooled, known ones first.
  std::vector<std::string> MetricsOf(const json* v) {
    static const std::vector<std::string> kOrder = {
        "harrell_c", "c_index", "uno_c", "auc_t", "auc", "calibration_slope",
        "calibration_intercept", "oe_ratio_t", "oe_ratio", "brier_t", "integrated_brier", "brier",
        "sensitivity", "specificity"};
    static const std::set<std::string> kNotMetrics = {
        "n", "events", "n_events", "concordant", "discordant", "tied_risk", "n_pos", "n_neg",
        "t", "tau", "threshold", "youden_threshold", "replicates", "n_excluded", "sites",
        "bootstrap_replicates", "comparable_pairs"};
    std::set<std::string> found;
    auto scan = [&](const json* obj) {
      if (obj == nullptr || !obj->is_object()) return;
      for (auto it = obj->begin(); it != obj->end(); ++it) {
        const std::string& k = it.key();
        if (kNotMetrics.count(k)) continue;
        if (k.size() > 7 && (k.rfind("_ci_low") == k.size() - 7)) continue;
        if (k.size() > 8 && (k.rfind("_ci_high") == k.size() - 8)) continue;
        if (k.size() > 7 && (k.rfind("_pi_low") == k.size() - 7)) continue;
        if (k.size() > 8 && (k.rfind("_pi_high") == k.size() - 8)) continue;
        if (k.size() > 3 && (k.rfind("_i2") == k.size() - 3)) continue;
        if (k.size() > 5 && (k.rfind("_tau2") == k.size() - 5)) continue;
        if (k.find("_meta_") != std::string::npos || EndsWith(k, "_pairs") ||
            EndsWith(k, "_stratified") || EndsWith(k, "_note") || EndsWith(k, "_replicates")) {
          continue;
        }
        if (EndsWith(k, "_meta")) {
          found.insert(k.substr(0, k.size() - 5));
          continue;
        }
        if (it->is_number() || (it->is_object() && (it->contains("value") || it->contains("estimate")))) {
          found.insert(k);
        }
      }
    };
    if (const json* sites = At(v, "sites"); sites && sites->is_object()) {
      for (auto it = sites->begin(); it != sites->end(); ++it) scan(&*it);
    }
    scan(At(v, "pooled"));
    std::vector<std::string> out;
    for (const auto& m : kOrder) {
      if (found.count(m)) out.push_back(m);
    }
    for (const auto& m : found) {
      if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    return out;
  }

  std::string MetricTable(const json* v, const std::vector<std::string>& metrics) {
    std::string s = "<table><tr><th>center</th><th>n</th><th>events</th>";
    for (const auto& m : metrics) absl::StrAppend(&s, "<th>", Escape(Pretty(m)), "</th>");
    absl::StrAppend(&s, "</tr>");
    const json* sites = At(v, "sites");
    for (const auto& site : Keys(sites)) {
      const json* js = At(sites, site);
      if (const json* error = At(js, "error")) {
        absl::StrAppend(&s, "<tr><td>", Escape(site), "</td><td colspan=\"", metrics.size() + 2,
                        "\" class=\"bad\">", Escape(Str(error)), "</td></tr>");
        continue;
      }
      absl::StrAppend(&s, "<tr><td>", Escape(site), "</td><td class=\"num\">",
                      Fmt(Num(At(js, "n")), 0), "</td><td class=\"num\">",
                      Fmt(Num(At(js, "events")), 0), "</td>");
      for (const auto& m : metrics) {
        const Estimate e = ReadEstimate(js, m);
        absl::StrAppend(&s, "<td class=\"num\">", Fmt(e.value));
        if (std::isfinite(e.ci_low)) {
          absl::StrAppend(&s, "<br><span class=\"note\">", Fmt(e.ci_low), "–", Fmt(e.ci_high), "</span>");
        }
        absl::StrAppend(&s, "</td>");
      }
      absl::StrAppend(&s, "</tr>");
    }
    if (const json* pooled = At(v, "pooled")) {
      absl::StrAppend(&s, "<tr><th>pooled</th><td class=\"num\">", Fmt(Num(At(pooled, "n")), 0),
                      "</td><td class=\"num\">", Fmt(Num(At(pooled, "events")), 0), "</td>");
      for (const auto& m : metrics) {
        const Pooled p = ReadPooled(pooled, m);
        absl::StrAppend(&s, "<td class=\"num\"><b>", Fmt(p.value), "</b>");
        if (std::isfinite(p.ci_low)) {
          absl::StrAppend(&s, "<br><span class=\"note\">", Fmt(p.ci_low), "–", Fmt(p.ci_high), "</span>");
        }
        if (std::isfinite(p.pi_low)) {
          absl::StrAppend(&s, "<br><span class=\"note\">PI ", Fmt(p.pi_low), "–", Fmt(p.pi_high), "</span>");
        }
        if (const double st = Num(At(pooled, m + "_stratified")); std::isfinite(st)) {
          absl::StrAppend(&s, "<br><span class=\"note\">pairs ", Fmt(st), "</span>");
        }
        absl::StrAppend(&s, "</td>");
      }
      absl::StrAppend(&s, "</tr>");
    }
    absl::StrAppend(&s, "</table>");
    return s;
  }

  // validation.<model>.sites.<site>.calibration = {predicted[], observed[], n[],
  //   observed_ci_low[]?, observed_ci_high[]?}
  std::string CalibrationPlot(const std::string& model, const json* v) {
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

  // validation.<model>.sites.<site>.km_groups = [{label, n, events?, time[],
  //   survival[], n_at_risk[]}]
  std::string KaplanMeier(const std::string& model, const json* v) {
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
      // Number at risk under the plot: (label, color, drawn times, at risk).
      struct AtRisk {
        std::string label, color;
        std::vector<double> time, n;
        double n0 = 0;  // the group's size, at time 0
      };
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
      // The number-at-risk table clinicians expect under a KM plot, at up to
      // 8 of the released grid times; "&lt;k" where the curve has stopped.
      std::vector<double> times;
      for (const AtRisk& r : at_risk_rows) {
        for (double t : r.time) {
          if (std::find(times.begin(), times.end(), t) == times.end()) times.push_back(t);
        }
      }
      std::sort(times.begin(), times.end());
      const size_t stride = std::max<size_t>(1, (times.size() + 7) / 8);
      std::string risk_table;
      if (!times.empty()) {
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
                                : after ? absl::StrCat("&lt;", k_) : std::string("–"),
                            "</td>");
          }
          absl::StrAppend(&risk_table, "</tr>");
        }
        absl::StrAppend(&risk_table, "</table>");
      }
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
  std::string Roc(const std::string& model, const json* v) {
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
      const Estimate auc = ReadEstimate(At(sites, site), td ? "auc_t" : "auc");
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

  std::string Validation() {
    const json* val = At(&r_, "validation");
    if (val == nullptr || !val->is_object() || val->empty()) {
      return Absent("validation", "External validation");
    }
    std::string s = Open("validation", "External validation");
    absl::StrAppend(&s, "<p class=\"lead\">The frozen model is evaluated at each center on its own "
                        "patients; centers return metric values (with bootstrap CIs), and the "
                        "coordinator pools them with a random-effects meta-analysis.</p>");
    for (auto it = val->begin(); it != val->end(); ++it) {
      const std::string model = it.key();
      const json* v = &*it;
      absl::StrAppend(&s, "<h3>", Escape(model), "</h3>");
      std::string info = KeyValueRows(v, {"sites", "pooled"});
      if (!info.empty()) absl::StrAppend(&s, "<table class=\"kv\">", info, "</table>");
      const std::vector<std::string> metrics = MetricsOf(v);
      if (!metrics.empty()) absl::StrAppend(&s, MetricTable(v, metrics));
      std::string plots;
      for (const auto& m : metrics) plots += MetricForest(model, v, m);
      plots += CalibrationPlot(model, v);
      plots += Roc(model, v);
      const std::string km = KaplanMeier(model, v);
      if (!plots.empty()) absl::StrAppend(&s, "<div class=\"plots\">", plots, "</div>");
      if (!km.empty()) {
        absl::StrAppend(&s, "<h3>", Escape(model), ": Kaplan–Meier curves by predicted risk group</h3>"
                            "<div class=\"plots\">", km, "</div>");
      }
      std::vector<std::string> missing;
      bool has_cal = false, has_km = false, has_roc = false;
      for (const auto& site : Keys(At(v, "sites"))) {
        has_cal |= At(v, {"sites", site.c_str(), "calibration"}) != nullptr;
        has_km |= At(v, {"sites", site.c_str(), "km_groups"}) != nullptr;
        has_roc |= At(v, {"sites", site.c_str(), "roc"}) != nullptr;
      }
      // KM curves belong to survival models, ROC curves to binary ones (a
      // survival model's discrimination at t is AUC(t) above).
      bool binary = At(v, "threshold") != nullptr, survival = At(v, "risk_groups") != nullptr;
      for (const auto& site : Keys(At(v, "sites"))) {
        const json* e = At(v, {"sites", site.c_str()});
        binary |= At(e, "auc") != nullptr || At(e, "roc") != nullptr;
        for (const char* m : {"harrell_c", "c_index", "uno_c", "auc_t", "km_groups"}) {
          survival |= At(e, m) != nullptr;
        }
      }
      if (binary == survival) binary = survival = true;  // unknown type: list both
      if (!has_cal) missing.push_back("calibration curves");
      if (!has_km && survival) missing.push_back("Kaplan–Meier curves");
      if (!has_roc && binary) missing.push_back("ROC curves");
      if (!missing.empty()) {
        absl::StrAppend(&s, "<p class=\"note\">", Escape(absl::StrJoin(missing, ", ")),
                        ": not part of this study for this model.</p>");
      }
    }
    absl::StrAppend(&s, "</section>\n");
    return s;
  }

  // Top-level keys this renderer does not know, shown compactly so that
  // nothing in results.json is hidden from the reader.
  std::string Other() {
    static const std::set<std::string> kKnown = {"study", "provenance", "cohort", "harmonization",
                                                 "models", "validation", "privacy"};
    std::string s;
    for (auto it = r_.begin(); it != r_.end(); ++it) {
      if (kKnown.count(it.key())) continue;
      std::string text = it->dump(1);
      if (text.size() > 4000) text = text.substr(0, 4000) + "\n… (truncated)";
      absl::StrAppend(&s, "<h3><code>", Escape(it.key()), "</code></h3><pre>", Escape(text), "</pre>");
    }
    if (s.empty()) return "";
    return absl::StrCat(Open("other", "Other results"),
                        "<p class=\"note\">Sections of results.json this report does not draw.</p>",
                        s, "</section>\n");
  }

  const json& r_;
  ReportOptions o_;
  int k_ = 10;
  std::string k_source_;
  int plot_count_ = 0;
};

}  // namespace

absl::StatusOr<std::string> RenderReport(const nlohmann::json& results, const ReportOptions& options) {
  if (!results.is_object()) {
    return absl::InvalidArgumentError("results.json must hold a JSON object at the top level");
  }
  Renderer renderer(results, options);
  return renderer.Render();
}

absl::Status WriteReportFile(const std::string& results_path, const std::string& out_path,
                             ReportOptions options) {
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadFileToString(results_path));
  nlohmann::json results;
  try {
    results = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(results_path, " is not valid JSON: ", e.what()));
  }
  if (options.results_source.empty()) options.results_source = results_path;
  if (options.results_sha256.empty()) options.results_sha256 = Sha256Hex(text);
  FEDRAD_ASSIGN_OR_RETURN(std::string html, RenderReport(results, options));
  return Annotate(WriteStringToFile(out_path, html), "writing the report");
}

}  // namespace fedrad::report
