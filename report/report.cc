// RenderReport / WriteReportFile (report.h) and the Renderer's page skeleton:
// Render(), the shared section helpers, "At a glance", external validation and
// "Other results". The rest of the Renderer (report/internal/renderer.h) is in
// report_sections.cc (tables) and report_plots.cc (SVG plots); the JSON lookups
// and number formats are in internal/report_json.cc, the CSS/JS in
// internal/assets.cc.
#include "report/report.h"

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
#include "core/csv.h"
#include "core/hash.h"
#include "core/status.h"
#include "proto/results_json.h"
#include "report/internal/assets.h"
#include "report/internal/renderer.h"
#include "report/internal/report_json.h"
#include "report/internal/svg.h"

namespace fedrad::report_internal {

std::string Renderer::Render() {
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

void Renderer::ResolveK() {
  // The study's k when its spec set one, else the largest k a site used.
  const std::pair<int, const char*> sources[] = {
      {res_.study().min_cell_count(), "study.min_cell_count"},
      {res_.cohort().min_cell_count(), "cohort.min_cell_count"},
  };
  for (const auto& [k, name] : sources) {
    if (k >= 1) {
      k_ = k;
      k_source_ = name;
      return;
    }
  }
  k_ = o_.default_min_cell_count;
  k_source_ = "default; results.json states none";
}

std::string Renderer::NextId(const std::string& prefix) {
  return absl::StrCat(prefix, "-", ++plot_count_);
}

std::string Renderer::Absent(const std::string& id, const std::string& title,
                             const std::string& why) {
  return absl::StrCat("<section id=\"", id, "\" class=\"absent\"><h2>", Escape(title),
                      "</h2>not part of this study", why.empty() ? "" : " — ", Escape(why),
                      "</section>\n");
}

std::string Renderer::Open(const std::string& id, const std::string& title) {
  return absl::StrCat("<section id=\"", id, "\"><h2>", Escape(title), "</h2>\n");
}

std::string Renderer::Figure(const std::string& svg, const std::string& caption) {
  return absl::StrCat("<figure>", svg, "<figcaption>", caption, "</figcaption></figure>\n");
}

const v1::Results::ModelValidation& Renderer::ValidationOf(const std::string& model) const {
  auto it = res_.validation().find(model);
  return it == res_.validation().end() ? v1::Results::ModelValidation::default_instance()
                                       : it->second;
}

const v1::Results::SiteMetrics& Renderer::SiteMetricsOf(const std::string& model,
                                                        const std::string& site) const {
  const v1::Results::ModelValidation& v = ValidationOf(model);
  auto it = v.sites().find(site);
  return it == v.sites().end() ? v1::Results::SiteMetrics::default_instance() : it->second;
}

std::vector<std::string> Renderer::Sites() const {
  std::set<std::string> s;
  if (const json* list = At(&r_, {"study", "sites"}); list && list->is_array()) {
    for (const json& e : *list) s.insert(Str(&e));
  }
  for (const std::string& k : Keys(At(&r_, {"cohort", "sites"}))) s.insert(k);
  return {s.begin(), s.end()};
}

std::string Renderer::Glance() {
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
      for (const char* m : {"harrell_c", "uno_c", "auc"}) {
        const Pooled p = ReadPooled(ValidationOf(it.key()).pooled(), m);
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
        for (const char* m : {"harrell_c", "auc"}) {
          for (const auto& site : Keys(At(&*it, "sites"))) {
            const Estimate e = ReadEstimate(SiteMetricsOf(it.key(), site), m);
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

std::string Renderer::KeyValueRows(const json* obj, const std::set<std::string>& skip) {
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
std::string Renderer::OrderedRows(const json* obj, const std::vector<std::string>& first,
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

std::string Renderer::Validation() {
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
    if (!metrics.empty()) absl::StrAppend(&s, MetricTable(model, v, metrics));
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
      for (const char* m : {"harrell_c", "uno_c", "auc_t", "km_groups"}) {
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
std::string Renderer::Other() {
  static const std::set<std::string> kKnown = {"study",         "provenance", "cohort",
                                               "harmonization", "models",     "validation"};
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

}  // namespace fedrad::report_internal

namespace fedrad::report {

absl::StatusOr<std::string> RenderReport(const v1::Results& results, const ReportOptions& options) {
  // The sections that list keys (e.g. "Other results") read the same
  // results as results.json prints them.
  FEDRAD_ASSIGN_OR_RETURN(std::string text, PrintResults(results));
  const nlohmann::json tree = nlohmann::json::parse(text);
  report_internal::Renderer renderer(results, tree, options);
  return renderer.Render();
}

absl::StatusOr<std::string> RenderReport(const nlohmann::json& results, const ReportOptions& options) {
  if (!results.is_object()) {
    return absl::InvalidArgumentError("results.json must hold a JSON object at the top level");
  }
  FEDRAD_ASSIGN_OR_RETURN(v1::Results typed, ParseResults(results.dump(), "results"));
  return RenderReport(typed, options);
}

absl::Status WriteReportFile(const std::string& results_path, const std::string& out_path,
                             ReportOptions options) {
  FEDRAD_ASSIGN_OR_RETURN(std::string text, ReadFileToString(results_path));
  if (!nlohmann::json::accept(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(results_path, " is not valid JSON; give the results.json a study wrote"));
  }
  FEDRAD_ASSIGN_OR_RETURN(v1::Results results, ParseResults(text, results_path));
  if (options.results_source.empty()) options.results_source = results_path;
  if (options.results_sha256.empty()) options.results_sha256 = Sha256Hex(text);
  FEDRAD_ASSIGN_OR_RETURN(std::string html, RenderReport(results, options));
  return Annotate(WriteStringToFile(out_path, html), "writing the report");
}

}  // namespace fedrad::report
