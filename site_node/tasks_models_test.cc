// The site's model tasks (site_node/tasks_models.cc) at handler level, behind
// the real privacy guard, and driven by the real coordinator step
// (coordinator/analysis_models.cc) through an in-process StudyHost:
//  - models.fit (a model the spec develops on one site, fitted there) equals
//    the federated fit over that one site, and R (glm) on the fixture cohort;
//  - what a site refuses from a rogue coordinator: a steep beta, a beta that
//    puts one patient's weight above 1/k, covariates outside the approved
//    spec's roles, a spec whose event is one patient, more derivative
//    evaluations than the spec's iterations allow, a fit it was not asked
//    to develop;
//  - prepared rows cached by the model's whole definition and the table.
// Reference numbers: models/testdata/reference.json (make_fixtures.R, R 4.2,
// glm) on models/testdata/site_{A,B,C}.csv.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/analyses.h"
#include "proto/results_json.h"
#include "coordinator/study_context.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "models/testutil.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_fits.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;

constexpr int kK = 10;

CsvTable SiteTable(const std::string& site) { return models::testing::SiteTable(site); }

// Every fixture row in one table (one site holding the whole cohort).
CsvTable AllRows() {
  CsvTable all = SiteTable("A");
  for (const char* s : {"B", "C"}) {
    CsvTable t = SiteTable(s);
    for (const auto& row : t.rows()) EXPECT_OK(all.AddRow(row));
  }
  return all;
}

// Sites that answer tasks by calling their handlers, behind the guard.
class InProcessFederation : public coordinator::StudyHost {
 public:
  explicit InProcessFederation(std::map<std::string, CsvTable> tables)
      : tables_(std::move(tables)), guard_(GuardPolicy{kK, {}, false}) {
    RegisterModelTasks(registry_);
  }
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) {
      kinds_sent.push_back(task.kind());
      v1::TaskResult r;
      r.set_task_id(task.task_id());
      r.set_kind(task.kind());
      absl::Status status = Run(site, task, &r);
      r.set_status_code(static_cast<int>(status.code()));
      r.set_status_message(std::string(status.message()));
      out.emplace(site, r);
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

  std::map<std::string, std::string>& state(const std::string& site) { return state_[site]; }
  std::vector<std::string> kinds_sent;

 private:
  absl::Status Run(const std::string& site, const v1::Task& task, v1::TaskResult* r) {
    const TaskKind* kind = registry_.Find(task.kind());
    if (kind == nullptr) return absl::UnimplementedError(task.kind());
    TaskContext ctx;
    ctx.site_id = site;
    ctx.task = &task;
    ctx.table = &tables_[site];
    ctx.output_dir = ::testing::TempDir();
    ctx.min_cell_count = kK;
    ctx.state = &state_[site];
    absl::StatusOr<TaskOutput> output = kind->handler(ctx);
    if (!output.ok()) return output.status();
    absl::Status guard = guard_.CheckRelease(*kind, *output);
    if (!guard.ok()) return guard;
    r->set_n_contributing(output->n_contributing);
    *r->mutable_payload() = output->payload;
    return absl::OkStatus();
  }

  TaskRegistry registry_;
  std::map<std::string, CsvTable> tables_;
  std::map<std::string, std::map<std::string, std::string>> state_;
  PrivacyGuard guard_;
};

v1::Model CoxModel(const std::string& name) {
  v1::Model m;
  m.set_name(name);
  m.set_type(v1::Model::COX);
  for (const char* c : {"x1", "x2", "x3", "x4"}) m.add_covariates(c);
  return m;
}

v1::Model LogisticModel(const std::string& name) {
  v1::Model m;
  m.set_name(name);
  m.set_type(v1::Model::LOGISTIC);
  m.set_outcome_column("recur2y");
  for (const char* c : {"x1", "x2", "x3", "x4"}) m.add_covariates(c);
  return m;
}

// The model variants fitted both ways.
std::vector<v1::Model> Variants() {
  std::vector<v1::Model> out;
  out.push_back(CoxModel("cox"));
  v1::Model efron = CoxModel("cox_efron");
  efron.set_ties("efron");
  out.push_back(efron);
  v1::Model sel = CoxModel("cox_selected_ridge");
  sel.mutable_selection()->set_score_p_value(0.5);
  sel.mutable_selection()->set_max_covariates(3);
  sel.mutable_selection()->set_max_abs_correlation(0.9);
  sel.mutable_penalty()->set_type(v1::Penalty::L2);
  sel.mutable_penalty()->set_lambda(2);
  sel.set_standardize(true);
  out.push_back(sel);
  v1::Model lg = LogisticModel("logistic_std");
  lg.set_standardize(true);
  out.push_back(lg);
  v1::Model enet = LogisticModel("logistic_enet");
  enet.mutable_penalty()->set_type(v1::Penalty::ELASTIC_NET);
  enet.mutable_penalty()->set_lambda(3);
  enet.mutable_penalty()->set_l1_ratio(0.5);
  enet.mutable_selection()->set_score_p_value(0.9);
  enet.set_standardize(true);
  out.push_back(enet);
  return out;
}

json RunStudy(InProcessFederation* fed, const std::string& id, const v1::Study& study,
              const std::vector<std::string>& sites) {
  coordinator::StudyContext ctx(id, study, sites, fed);
  absl::Status st = coordinator::RunModels(ctx);
  EXPECT_OK(st);
  // results.json as the study runner prints it (proto/results_json.h).
  absl::StatusOr<std::string> text = PrintResults(ctx.results());
  EXPECT_OK(text);
  return json::parse(text.ok() ? *text : "{}");
}

void ExpectNear(const json& a, const json& b, const std::string& what) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    EXPECT_NEAR(x, y, 1e-8 * (1 + std::abs(y))) << what;
  } else if (a.is_object() && b.is_object()) {
    EXPECT_EQ(a.size(), b.size()) << what << ": " << a.dump() << " vs " << b.dump();
    for (const auto& [k, v] : b.items()) {
      ASSERT_TRUE(a.contains(k)) << what << "." << k;
      ExpectNear(a[k], v, what + "." + k);
    }
  } else if (a.is_array() && b.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) ExpectNear(a[i], b[i], absl::StrCat(what, "[", i, "]"));
  } else {
    EXPECT_EQ(a, b) << what;
  }
}

TEST(ModelsFit, SiteFitEqualsTheFederatedFitOnThatSite) {
  v1::Study fed_study, site_study;
  fed_study.set_name("federated");
  site_study.set_name("at-site");
  for (const v1::Model& m : Variants()) {
    *fed_study.add_models() = m;
    v1::Model at = m;
    at.add_develop_on("A");
    *site_study.add_models() = at;
  }
  // Federated: the one site answers models.derivatives rounds.
  InProcessFederation fed_host({{"A", SiteTable("A")}});
  json fed = RunStudy(&fed_host, "fed", fed_study, {"A"});
  EXPECT_THAT(fed_host.kinds_sent, Contains("models.derivatives"));
  EXPECT_THAT(fed_host.kinds_sent, Not(Contains("models.fit")));
  // At the site: one models.fit per model, no coordinator beta at all.
  InProcessFederation site_host({{"A", SiteTable("A")}});
  json at = RunStudy(&site_host, "site", site_study, {"A"});
  EXPECT_THAT(site_host.kinds_sent, Contains("models.fit"));
  EXPECT_THAT(site_host.kinds_sent, Not(Contains("models.derivatives")));

  for (const v1::Model& m : Variants()) {
    SCOPED_TRACE(m.name());
    const json& f = fed["models"][m.name()];
    const json& s = at["models"][m.name()];
    ASSERT_TRUE(s.contains("coefficients")) << at.dump(2);
    for (const char* key : {"coefficients", "std_errors", "loglik", "loglik_null", "iterations",
                            "step_halvings", "n", "events", "covariates", "sites", "site_rows"}) {
      ExpectNear(s[key], f[key], key);
    }
    for (const char* key : {"selection", "standardization", "penalty"}) {
      EXPECT_EQ(s.contains(key), f.contains(key)) << key;
      if (f.contains(key)) ExpectNear(s[key], f[key], key);
    }
    EXPECT_EQ(s["rounds"].get<int>(), 1);
    EXPECT_GT(f["rounds"].get<int>(), 1);
    // The site kept exactly the coefficients it released.
    std::optional<SiteFit> kept = FindSiteFit(site_host.state("A"), m.name());
    ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(kept->covariates, s["covariates"].get<std::vector<std::string>>());
    ASSERT_EQ(kept->beta.size(), s["coefficients"].size());
  }
  // The elastic net really dropped something or kept all; either way it says which.
  EXPECT_TRUE(at["models"]["logistic_enet"]["penalty"]["selected"].is_array());
  EXPECT_TRUE(at["models"]["cox_selected_ridge"]["selection"]["score_tests"].contains("x4"));
}

TEST(ModelsFit, LogisticFittedAtOneSiteHoldingTheCohortEqualsGlm) {
  v1::Study study;
  v1::Model m = LogisticModel("logistic");
  m.add_develop_on("ALL");
  *study.add_models() = m;
  InProcessFederation host({{"ALL", AllRows()}});
  json r = RunStudy(&host, "glm", study, {"ALL"});
  EXPECT_THAT(host.kinds_sent, Contains("models.fit"));
  const json ref = models::testing::Reference()["logistic"];
  const json& fit = r["models"]["logistic"];
  // R's glm converged at its own tolerance: agreement to 1e-6 as in
  // models/logistic_test.cc.
  EXPECT_NEAR(fit["coefficients"]["intercept"].get<double>(),
              ref["coefficients"]["(Intercept)"].get<double>(), 1e-6);
  for (const std::string c : {"x1", "x2", "x3", "x4"}) {
    EXPECT_NEAR(fit["coefficients"][c].get<double>(), ref["coefficients"][c].get<double>(), 1e-6);
    EXPECT_NEAR(fit["std_errors"][c].get<double>(), ref["std_errors"][c].get<double>(), 1e-6);
  }
  EXPECT_NEAR(fit["loglik"].get<double>(), ref["loglik"].get<double>(), 1e-6);
  EXPECT_EQ(fit["n"].get<int64_t>(), ref["n"].get<int64_t>());
}

// ---- One handler call --------------------------------------------------------

struct Call {
  absl::StatusOr<TaskOutput> output;
  absl::Status guard;
};

class Site {
 public:
  explicit Site(CsvTable table, std::string id = "A") : table_(std::move(table)), id_(id) {
    RegisterModelTasks(registry_);
  }
  Call Run(const v1::Task& task) {
    const TaskKind* kind = registry_.Find(task.kind());
    EXPECT_NE(kind, nullptr) << task.kind();
    TaskContext ctx;
    ctx.site_id = id_;
    ctx.task = &task;
    ctx.table = &table_;
    ctx.output_dir = ::testing::TempDir();
    ctx.min_cell_count = kK;
    ctx.state = &state_;
    Call c{kind->handler(ctx), absl::OkStatus()};
    if (c.output.ok()) c.guard = PrivacyGuard(GuardPolicy{kK, {}, false}).CheckRelease(*kind, *c.output);
    return c;
  }
  CsvTable& table() { return table_; }
  std::map<std::string, std::string>& state() { return state_; }

 private:
  TaskRegistry registry_;
  CsvTable table_;
  std::string id_;
  std::map<std::string, std::string> state_;
};

v1::Task MakeTask(const std::string& kind, const v1::Model& model,
                  const std::vector<std::string>& covs = {}, const std::vector<double>& beta = {}) {
  v1::Task task;
  task.set_study_id("st");
  task.set_kind(kind);
  *task.mutable_study()->add_models() = model;
  kinds::Put(task.mutable_params(), kinds::model_task::kModel, model.name());
  if (!covs.empty()) kinds::Put(task.mutable_params(), kinds::model_task::kCovariates, covs);
  if (!beta.empty()) AddVector(task.mutable_params(), "beta", beta);
  return task;
}

std::vector<double> Column(const CsvTable& t, const std::string& c) {
  absl::StatusOr<std::vector<double>> v = t.NumericColumn(c, MissingValues::kReject);
  EXPECT_OK(v);
  return *v;
}

bool IsPublicRefusal(const absl::Status& s, absl::StatusCode code, const std::string& rule) {
  return s.code() == code && IsPublic(s) &&
         std::string(s.message()).find(absl::StrCat("(rule ", rule)) != std::string::npos;
}

TEST(ModelsDerivatives, ALegitimateBetaIsAnsweredWithItsPopulation) {
  Site site(SiteTable("A"));
  const json ref = models::testing::Reference()["cox_breslow"]["coefficients"];
  Call c = site.Run(MakeTask("models.derivatives", CoxModel("cox"), {"x1", "x2", "x3", "x4"},
                             {ref["x1"].get<double>(), ref["x2"].get<double>(),
                              ref["x3"].get<double>(), ref["x4"].get<double>()}));
  ASSERT_OK(c.output);
  EXPECT_OK(c.guard);
  ASSERT_EQ(c.output->populations.size(), 1u);
  EXPECT_EQ(c.output->populations[0].ids.size(), 50u);  // every row of site A
  EXPECT_THAT(c.output->populations[0].quantities,
              ::testing::ElementsAre("models:time=time,event=status"));
}

TEST(ModelsDerivatives, SteepBetaIsRefused) {
  // beta = 1e7 (x1 - c), c between two consecutive x1 values: the gradient
  // would split the patients at c (the attack of issue 11).
  Site site(SiteTable("A"));
  std::vector<double> x1 = Column(site.table(), "x1");
  std::sort(x1.begin(), x1.end());
  const double c = 0.5 * (x1[24] + x1[25]);
  Call call = site.Run(MakeTask("models.derivatives", LogisticModel("lg"), {"x1"}, {-1e7 * c, 1e7}));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "bounded-linear-predictor"))
      << call.output.status();
  // Cox, the same idea.
  call = site.Run(MakeTask("models.derivatives", CoxModel("cox"), {"x1"}, {1e7}));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "bounded-linear-predictor"))
      << call.output.status();
}

TEST(ModelsDerivatives, BetaPuttingOnePatientAboveOneKthOfTheRiskSetIsRefused) {
  Site site(SiteTable("A"));
  std::vector<double> x1 = Column(site.table(), "x1");
  const double lo = *std::min_element(x1.begin(), x1.end());
  const double hi = *std::max_element(x1.begin(), x1.end());
  // The spread of the linear predictor stays below 30 (so the other rule is
  // not what refuses), yet the top patient's exp(lp) dominates the risk set.
  const double beta = 25 / (hi - lo);
  Call call = site.Run(MakeTask("models.derivatives", CoxModel("cox"), {"x1"}, {beta}));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "weight-dominance"))
      << call.output.status();
}

TEST(ModelsDerivatives, CovariatesOutsideTheApprovedRolesAreRefused) {
  Site site(SiteTable("A"));
  // The spec names the outcome as a covariate.
  v1::Model bad = LogisticModel("lg");
  bad.add_covariates("recur2y");
  for (const char* kind : {"models.prepare", "models.derivatives", "models.fit"}) {
    Call call = site.Run(MakeTask(kind, bad, {"x1"}, {0, 0}));
    EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kInvalidArgument,
                                "covariate-roles"))
        << kind << ": " << call.output.status();
  }
  // The coordinator names the outcome, the id or the time column in a round.
  for (const char* col : {"recur2y", "patient_id", "time"}) {
    Call call = site.Run(MakeTask("models.derivatives", LogisticModel("lg"), {"x1", col}, {0, 0, 0}));
    EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                                "covariate-roles"))
        << col << ": " << call.output.status();
  }
  // An event column that is the id column.
  v1::Model by_id = CoxModel("cox");
  by_id.set_event_column("patient_id");
  by_id.add_event_values("A001");
  Call call = site.Run(MakeTask("models.prepare", by_id));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kInvalidArgument,
                              "covariate-roles"))
      << call.output.status();
}

TEST(ModelsDerivatives, OneCaseAsTheEventIsRefusedByTheMinEventsRule) {
  Site site(SiteTable("A"));
  // The event column is x2 and the "event" one patient's value of it.
  v1::Model one = CoxModel("cox");
  one.clear_covariates();
  one.add_covariates("x1");
  one.set_event_column("x2");
  one.add_event_values(site.table().cell(7, static_cast<size_t>(site.table().ColumnIndex("x2"))));
  one.add_develop_on("A");
  Call call = site.Run(MakeTask("models.derivatives", one, {"x1"}, {0}));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "min-events"))
      << call.output.status();
  EXPECT_THAT(std::string(call.output.status().message()), Not(HasSubstr("1 event")));
  call = site.Run(MakeTask("models.fit", one));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "min-events"))
      << call.output.status();
  // Logistic: an outcome with fewer than k zeros.
  CsvTable few = SiteTable("A");
  const size_t y = static_cast<size_t>(few.ColumnIndex("recur2y"));
  int zeros = 0;
  for (size_t r = 0; r < few.num_rows(); ++r) {
    if (few.cell(r, y) == "0" && ++zeros > 3) few.mutable_cell(r, y) = "1";
  }
  Site skewed(few);
  call = skewed.Run(MakeTask("models.derivatives", LogisticModel("lg"), {"x1"}, {0, 0}));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "min-events"))
      << call.output.status();
}

// models.prepare answers every site (a validation site too); its event count
// is a cell like any other: withheld when it or the non-events are 1..k-1.
TEST(ModelsPrepare, EventCountBelowKIsWithheld) {
  CsvTable few = SiteTable("A");
  const size_t y = static_cast<size_t>(few.ColumnIndex("recur2y"));
  int ones = 0;
  for (size_t r = 0; r < few.num_rows(); ++r) {
    if (few.cell(r, y) == "1" && ++ones > 3) few.mutable_cell(r, y) = "0";
  }
  int left = 0;
  for (size_t r = 0; r < few.num_rows(); ++r) left += few.cell(r, y) == "1";
  ASSERT_EQ(left, 3);  // 3 outcomes = 1 remain: a cell below k = 10
  Site skewed(few);
  Call call = skewed.Run(MakeTask("models.prepare", LogisticModel("lg")));
  ASSERT_OK(call.output);
  EXPECT_TRUE(std::isnan(*GetScalar(call.output->payload, "events")));
  EXPECT_GE(*GetScalar(call.output->payload, "n"), 10);
  // With enough of both, the count is released.
  Site site(SiteTable("A"));
  call = site.Run(MakeTask("models.prepare", LogisticModel("lg")));
  ASSERT_OK(call.output);
  EXPECT_FALSE(std::isnan(*GetScalar(call.output->payload, "events")));
}

TEST(ModelsDerivatives, EvaluationsAreCappedByTheSpecsIterations) {
  Site site(SiteTable("A"));
  v1::Model m = CoxModel("cox");
  m.set_max_iterations(3);
  // One fit: 3 iterations + the start = 4 evaluations, plus a margin of 2.
  v1::Task task = MakeTask("models.derivatives", m, {"x1"}, {0.1});
  v1::Task idle = task;
  kinds::Put(idle.mutable_params(), kinds::model_task::kRole, kinds::model_task::kIdle);
  for (int i = 0; i < 6; ++i) {
    Call call = site.Run(task);
    ASSERT_OK(call.output) << i;
    EXPECT_OK(site.Run(idle).output);  // idle answers are not evaluations
  }
  Call call = site.Run(task);
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "evaluation-budget"))
      << call.output.status();
  // Another model of the study has its own budget.
  v1::Task other = MakeTask("models.derivatives", CoxModel("cox2"), {"x1"}, {0.1});
  *other.mutable_study()->add_models() = m;
  EXPECT_OK(site.Run(other).output);
}

TEST(ModelsDerivatives, CoordinatorArraysAreSizeChecked) {
  Site site(SiteTable("A"));
  v1::Model m = CoxModel("cox");
  for (const std::vector<double>& beta :
       {std::vector<double>{0.1}, std::vector<double>{0.1, 0.2, 0.3},
        std::vector<double>{std::nan("")}}) {
    Call call = site.Run(MakeTask("models.derivatives", m, {"x1", "x2"}, beta));
    EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kInvalidArgument,
                                "bounded-params"))
        << call.output.status();
  }
  v1::Task task = MakeTask("models.derivatives", m, {"x1", "x2"}, {0.1, 0.1});
  AddVector(task.mutable_params(), "center", {0.0, 0.0});
  AddVector(task.mutable_params(), "scale", {1.0});
  EXPECT_TRUE(IsPublicRefusal(site.Run(task).output.status(), absl::StatusCode::kInvalidArgument,
                              "bounded-params"));
}

TEST(ModelsFit, RefusedWhenTheSpecDoesNotDevelopTheModelOnThisSiteAlone) {
  Site site(SiteTable("A"));
  v1::Model everywhere = CoxModel("cox");
  Call call = site.Run(MakeTask("models.fit", everywhere));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "single-site-fit"))
      << call.output.status();
  v1::Model elsewhere = CoxModel("cox");
  elsewhere.add_develop_on("B");
  call = site.Run(MakeTask("models.fit", elsewhere));
  EXPECT_TRUE(IsPublicRefusal(call.output.status(), absl::StatusCode::kPermissionDenied,
                              "single-site-fit"));
  v1::Model here = CoxModel("cox");
  here.add_develop_on("A");
  call = site.Run(MakeTask("models.fit", here));
  ASSERT_OK(call.output);
  EXPECT_OK(call.guard);
  EXPECT_FALSE(call.output->populations.empty());
  EXPECT_TRUE(FindSiteFit(site.state(), "cox").has_value());
}

TEST(ModelsPrepare, RowsAreCachedByTheModelsWholeDefinition) {
  Site site(SiteTable("A"));
  const std::vector<double> x3 = Column(site.table(), "x3");
  const double x3_ones = static_cast<double>(std::count(x3.begin(), x3.end(), 1.0));
  // Same study, same model name, same covariates: first the status column...
  Call first = site.Run(MakeTask("models.prepare", CoxModel("m"), {"x1"}));
  ASSERT_OK(first.output);
  EXPECT_EQ(*GetScalar(first.output->payload, "events"), 37);  // site_A.csv: 37 events
  // ...then events defined by x3 = 1: its own rows, not the first model's.
  v1::Model by_x3 = CoxModel("m");
  by_x3.clear_covariates();
  by_x3.add_covariates("x1");
  by_x3.set_event_column("x3");
  by_x3.add_event_values("1");
  Call second = site.Run(MakeTask("models.prepare", by_x3, {"x1"}));
  ASSERT_OK(second.output);
  EXPECT_EQ(*GetScalar(second.output->payload, "events"), x3_ones);
  EXPECT_NE(x3_ones, 37);
  // A changed cell of the same table object gives new rows too.
  const std::vector<double> before = *GetVector(first.output->payload, "sum_x");
  site.table().mutable_cell(0, static_cast<size_t>(site.table().ColumnIndex("x1"))) = "100";
  Call third = site.Run(MakeTask("models.prepare", CoxModel("m"), {"x1"}));
  ASSERT_OK(third.output);
  EXPECT_NE((*GetVector(third.output->payload, "sum_x"))[0], before[0]);
  // The population: the model's outcome and covariate columns, every row.
  ASSERT_EQ(third.output->populations.size(), 1u);
  EXPECT_EQ(third.output->populations[0].ids.size(), 50u);
  EXPECT_EQ(third.output->populations[0].ids[0], "A001");
}

}  // namespace
}  // namespace fedrad::site
