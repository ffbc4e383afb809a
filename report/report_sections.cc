// Renderer (report/internal/renderer.h): the table sections — study and
// provenance, failed sites, cohort by center, excluded cases, harmonisation
// and models (with the metric tables validation uses).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
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

std::string Renderer::StudySection() {
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

std::string Renderer::FailedSites() {
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
std::string Renderer::CohortCell(const json* col, bool pooled) {
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

std::string Renderer::Cohort() {
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

// Every key named "excluded" anywhere, except the
// site list study.excluded_sites, rendered with its path.
void Renderer::FindExcluded(const json& j, const std::string& path,
                            std::vector<std::pair<std::string, const json*>>* out) {
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string p = path.empty() ? it.key() : path + "." + it.key();
    if (it.key() == "excluded") {
      out->emplace_back(p, &*it);
    } else if (it->is_object()) {
      FindExcluded(*it, p, out);
    }
  }
}

std::string Renderer::Excluded() {
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

std::string Renderer::Harmonization() {
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

std::vector<Renderer::Term> Renderer::ReadTerms(const v1::Results::ModelFit& model) {
  // By name, as results.json lists them (a protobuf map has no order).
  const std::map<std::string, double> coefficients(model.coefficients().begin(),
                                                   model.coefficients().end());
  std::vector<Term> terms;
  for (const auto& [name, beta] : coefficients) {
    auto se = model.std_errors().find(name);
    terms.push_back({name, beta, se == model.std_errors().end() ? kNaN : se->second});
  }
  return terms;
}

std::string Renderer::Models() {
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
    auto typed = res_.models().find(it.key());
    const std::vector<Term> terms =
        typed == res_.models().end() ? std::vector<Term>{} : ReadTerms(typed->second);
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

// Metrics present at any site or pooled, known ones first.
std::vector<std::string> Renderer::MetricsOf(const json* v) {
  static const std::vector<std::string> kOrder = {"harrell_c",
                                                  "uno_c",
                                                  "auc_t",
                                                  "auc",
                                                  "calibration_slope",
                                                  "calibration_intercept",
                                                  "oe_ratio_t",
                                                  "brier_t",
                                                  "integrated_brier",
                                                  "brier",
                                                  "sensitivity",
                                                  "specificity"};
  static const std::set<std::string> kNotMetrics = {"n",
                                                    "events",
                                                    "n_pos",
                                                    "n_neg",
                                                    "t",
                                                    "tau",
                                                    "threshold",
                                                    "youden_threshold",
                                                    "n_excluded",
                                                    "sites",
                                                    "bootstrap_replicates",
                                                    "comparable_pairs"};
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
      if (it->is_number()) found.insert(k);
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

std::string Renderer::MetricTable(const std::string& model, const json* v,
                                  const std::vector<std::string>& metrics) {
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
      const Estimate e = ReadEstimate(SiteMetricsOf(model, site), m);
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
      const Pooled p = ReadPooled(ValidationOf(model).pooled(), m);
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

}  // namespace fedrad::report_internal
