// The report's renderer: one results.json in, one HTML page out. Private to
// report/; RenderReport() (report.h) is the public entry point.
//
//   report_internal::Renderer renderer(results, options);
//   std::string html = renderer.Render();
//
// Its member functions live in three files: report/report.cc (the page
// skeleton, shared helpers, "At a glance", validation and other results),
// report/report_sections.cc (the table sections) and report/report_plots.cc
// (the SVG plots). Not thread safe; keeps a reference to `r`, which must
// outlive it.
#ifndef FEDRAD_REPORT_INTERNAL_RENDERER_H_
#define FEDRAD_REPORT_INTERNAL_RENDERER_H_

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "report/internal/report_json.h"
#include "proto/results.pb.h"
#include "report/report.h"

namespace fedrad::report_internal {

class Renderer {
 public:
  // `res` is the results (proto/results.proto); `r` the same printed as
  // results.json (proto/results_json.h), for the sections that list keys.
  Renderer(const v1::Results& res, const json& r, const report::ReportOptions& o)
      : res_(res), r_(r), o_(o) {
    ResolveK();
  }

  // The whole HTML page.
  std::string Render();

 private:
  // ---- helpers -------------------------------------------------------------
  void ResolveK();
  std::string NextId(const std::string& prefix);
  static std::string Absent(const std::string& id, const std::string& title,
                            const std::string& why = "");
  static std::string Open(const std::string& id, const std::string& title);
  static std::string Figure(const std::string& svg, const std::string& caption);
  std::vector<std::string> Sites() const;
  // validation.<model> (an empty message when there is none).
  const v1::Results::ModelValidation& ValidationOf(const std::string& model) const;
  // validation.<model>.sites.<site> (an empty message when there is none).
  const v1::Results::SiteMetrics& SiteMetricsOf(const std::string& model,
                                                const std::string& site) const;

  // ---- sections and plots ---------------------------------------------------
  // report.cc: Glance, KeyValueRows, OrderedRows, Validation, Other;
  // report_sections.cc: study, failed sites, cohort, excluded, harmonisation, models;
  // report_plots.cc: strip, distribution, forest, calibration, Kaplan-Meier, ROC.
  std::string Glance();
  std::string KeyValueRows(const json* obj, const std::set<std::string>& skip);
  // Scalars of `obj`: the keys in `first` in that order, then the rest.
  std::string OrderedRows(const json* obj, const std::vector<std::string>& first,
                          std::set<std::string> skip);
  std::string StudySection();
  std::string FailedSites();
  // One Table-1 cell.
  std::string CohortCell(const json* col, bool pooled);
  std::string Cohort();
  // Every key named "excluded" anywhere, except the
  // site list study.excluded_sites, rendered with its path.
  void FindExcluded(const json& j, const std::string& path,
                    std::vector<std::pair<std::string, const json*>>* out);
  std::string Excluded();
  // A strip chart: one row per site, one point per feature.
  std::string StripPlot(const std::string& title, const std::string& key, bool log_axis,
                        double reference);
  std::string Harmonization();
  // harmonization.distributions.<feature>.{before,after}.<site> =
  //   {n, mean, sd, q1, median, q3 | suppressed}
  std::string Distributions(const json* d);
  struct Term {
    std::string name;
    double beta = kNaN, se = kNaN;
  };
  static std::vector<Term> ReadTerms(const v1::Results::ModelFit& model);
  std::string Models();
  // Forest plot of one metric across sites, with the pooled estimate.
  std::string MetricForest(const std::string& model, const json* v, const std::string& metric);
  // Metrics present at any site or pooled, known ones first.
  std::vector<std::string> MetricsOf(const json* v);
  std::string MetricTable(const std::string& model, const json* v,
                          const std::vector<std::string>& metrics);
  // validation.<model>.sites.<site>.calibration = {predicted[], observed[], n[],
  //   observed_ci_low[]?, observed_ci_high[]?}
  std::string CalibrationPlot(const std::string& model, const json* v);
  // validation.<model>.sites.<site>.km_groups = [{label, n, events?, time[],
  //   survival[], n_at_risk[]}]
  std::string KaplanMeier(const std::string& model, const json* v);
  // validation.<model>.sites.<site>.roc = {fpr[], tpr[], n_pos?, n_neg?}
  std::string Roc(const std::string& model, const json* v);
  std::string Validation();
  // Top-level keys this renderer does not know, shown compactly so that
  // nothing in results.json is hidden from the reader.
  std::string Other();

  const v1::Results& res_;
  const json& r_;
  report::ReportOptions o_;
  int k_ = 10;
  std::string k_source_;
  int plot_count_ = 0;
};

}  // namespace fedrad::report_internal

#endif  // FEDRAD_REPORT_INTERNAL_RENDERER_H_
