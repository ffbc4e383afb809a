// Federated ComBat in one process: the real site task handlers
// (site_node/tasks_combat.cc) behind the real privacy guard, driven by the
// real coordinator step (coordinator/analysis_combat.cc) through a
// StudyHost that calls the handlers directly instead of the network.
// Compared with the pooled `fedrad harmonize` path and with R's
// sva::ComBat (harmonization/testdata/expected_*.csv, made by
// harmonization/testdata/make_fixtures.R).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harmonization/model.h"
#include "harmonization/pooled_table.h"
#include "harmonization/table.h"
#include "proto/payload.h"
#include "proto/results_json.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

// results.json as the study runner prints it (proto/results_json.h).
nlohmann::json ResultsJson(coordinator::StudyContext& ctx) {
  absl::StatusOr<std::string> text = PrintResults(ctx.results());
  EXPECT_OK(text);
  return nlohmann::json::parse(text.ok() ? *text : "{}");
}

namespace h = ::fedrad::harmonization;
using ::testing::HasSubstr;

std::string TestData(const std::string& name) {
  return std::string(FEDRAD_SOURCE_DIR) + "/harmonization/testdata/" + name;
}

CsvTable Read(const std::string& path) {
  absl::StatusOr<CsvTable> t = ReadCsv(path);
  EXPECT_OK(t);
  return t.ok() ? *t : CsvTable();
}

// Sites that answer tasks by calling their handlers, behind the guard.
class InProcessFederation : public coordinator::StudyHost {
 public:
  InProcessFederation(std::map<std::string, CsvTable> tables, const std::string& dir,
                      int min_cell_count = 10)
      : tables_(std::move(tables)), guard_(GuardPolicy{min_cell_count, {}, false}) {
    RegisterCombatTasks(registry_);
    for (const auto& [site, t] : tables_) {
      outputs_[site] = dir + "/sites/" + site;
      std::filesystem::create_directories(outputs_[site]);
    }
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

  const CsvTable& table(const std::string& site) const { return tables_.at(site); }
  std::string output(const std::string& site) const { return outputs_.at(site); }
  std::vector<std::string> kinds_sent;

 private:
  absl::Status Run(const std::string& site, const v1::Task& task, v1::TaskResult* r) {
    const TaskKind* kind = registry_.Find(task.kind());
    if (kind == nullptr) return absl::UnimplementedError(task.kind());
    TaskContext ctx;
    ctx.site_id = site;
    ctx.task = &task;
    ctx.table = &tables_[site];
    ctx.output_dir = outputs_[site];
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
  std::map<std::string, std::string> outputs_;
  std::map<std::string, std::map<std::string, std::string>> state_;
  PrivacyGuard guard_;
};

std::map<std::string, CsvTable> SiteTables() {
  std::map<std::string, CsvTable> t;
  for (const char* s : {"S1", "S2", "S3", "S4"}) {
    t[s] = Read(TestData(std::string("site_") + s + ".csv"));
  }
  return t;
}

std::string TempDir(const std::string& name) {
  std::string dir = std::string(::testing::TempDir()) + "/combat_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Variant {
  std::string name;      // expected_<name>.csv
  std::string method;
  std::string reference;
  bool covariates = true;
  bool empirical_bayes = true;
  bool nonparametric_mean_only = false;
};

v1::Study MakeStudy(const Variant& v) {
  v1::Study study;
  study.set_name("combat-" + v.name);
  auto* hz = study.mutable_harmonization();
  hz->set_enabled(true);
  hz->set_features("^f[0-9]+$");
  hz->set_method(v.method);
  hz->set_reference_site(v.reference);
  if (!v.empirical_bayes) hz->set_empirical_bayes(false);
  hz->set_nonparametric_mean_only(v.nonparametric_mean_only);
  if (v.covariates) {
    hz->add_covariates("age");
    hz->add_covariates("sex");
  }
  return study;
}

TEST(FederatedComBat, EqualsPooledAndSvaForEveryVariant) {
  const std::vector<Variant> variants = {{"parametric", "parametric", ""},
                                         {"nonparametric", "nonparametric", ""},
                                         {"mean_only", "mean-only", ""},
                                         {"reference_S1", "parametric", "S1"},
                                         {"no_covariates", "parametric", "", false},
                                         {"no_eb", "parametric", "", true, false},
                                         {"nonparametric_mean_only", "nonparametric", "", true,
                                          true, true},
                                         {"reference_S2_nonparametric", "nonparametric", "S2"}};
  CsvTable pooled_input = Read(TestData("pooled.csv"));
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    InProcessFederation fed(SiteTables(), TempDir(v.name));
    coordinator::StudyContext ctx("st-" + v.name, MakeStudy(v), {"S1", "S2", "S3", "S4"}, &fed);
    absl::Status st = coordinator::RunHarmonization(ctx);
    ASSERT_OK(st);
    EXPECT_THAT(fed.kinds_sent, ::testing::Contains("combat.fit"));

    // The pooled path on the concatenation.
    h::PooledTableOptions opt;
    opt.features_regex = "^f[0-9]+$";
    if (v.covariates) opt.covariates = {"age", "sex"};
    opt.exclude = {"patient_id"};
    opt.combat.method = *h::ParseMethod(v.method);
    opt.combat.reference_site = v.reference;
    opt.combat.empirical_bayes = v.empirical_bayes;
    opt.combat.nonparametric_mean_only = v.nonparametric_mean_only;
    ASSERT_OK_AND_ASSIGN(h::PooledTableResult pooled, h::HarmonizePooledTable(pooled_input, opt));
    CsvTable expected = Read(TestData("expected_" + v.name + ".csv"));

    size_t row = 0;  // pooled.csv lists S1, S2, S3, S4 in order
    for (const char* site : {"S1", "S2", "S3", "S4"}) {
      CsvTable written = Read(fed.output(site) + "/harmonized.csv");
      EXPECT_EQ(written.header(), fed.table(site).header());
      EXPECT_EQ(FormatCsv(written), FormatCsv(fed.table(site)));  // working table replaced
      for (size_t i = 0; i < written.num_rows(); ++i, ++row) {
        for (const std::string& f : pooled.model.features) {
          double fed_v, pooled_v, r_v, raw;
          ASSERT_TRUE(ParseNumber(written.cell(i, written.ColumnIndex(f)), &fed_v));
          ASSERT_TRUE(ParseNumber(pooled.table.cell(row, pooled.table.ColumnIndex(f)), &pooled_v));
          ASSERT_TRUE(ParseNumber(expected.cell(row, expected.ColumnIndex(f)), &r_v));
          ASSERT_TRUE(ParseNumber(pooled_input.cell(row, pooled_input.ColumnIndex(f)), &raw));
          EXPECT_NEAR(fed_v, pooled_v, 1e-10 * std::abs(pooled_v)) << site << " " << f;
          // 1e-9 of the feature's SD; every feature's SD here is > 0.05.
          EXPECT_NEAR(fed_v, r_v, 1e-9 * 0.05) << site << " " << f;
        }
      }
    }
    // results.json carries the estimates; they equal the pooled fit's.
    const nlohmann::json out = ResultsJson(ctx)["harmonization"];
    for (const char* site : {"S1", "S2", "S3", "S4"}) {
      for (size_t g = 0; g < pooled.model.adjusted.size(); ++g) {
        const std::string& f = pooled.model.adjusted[g];
        EXPECT_NEAR(out["sites"][site]["gamma_star"][f].get<double>(),
                    pooled.model.sites.at(site).gamma_star(g), 1e-10);
        EXPECT_NEAR(out["sites"][site]["delta_star"][f].get<double>(),
                    pooled.model.sites.at(site).delta_star(g), 1e-10);
      }
    }
    EXPECT_NEAR(out["pooled"]["var_pooled"]["f06"].get<double>(), pooled.model.pooled.var_pooled(5),
                1e-10 * pooled.model.pooled.var_pooled(5));
    if (v.covariates) {
      EXPECT_TRUE(out["pooled"]["beta"]["age"].contains("f01"));
    }
    EXPECT_OK(h::ModelFromJson(out["model"]));
  }
}

// Issue 16: lists are repeated strings, so a column name with a comma and a
// newline goes through every ComBat round with the numbers of a plain name.
TEST(FederatedComBat, ColumnNamesWithCommasRoundTrip) {
  const std::string odd = "f01,raw\nmm";
  std::map<std::string, CsvTable> renamed;
  for (const auto& [site, table] : SiteTables()) {
    std::string text = FormatCsv(table);
    text.replace(text.find("f01"), 3, "\"" + odd + "\"");
    renamed[site] = ParseCsv(text, site + ".csv").value();
  }
  std::map<std::string, nlohmann::json> out;
  for (const std::string& f : {odd, std::string("f01")}) {
    v1::Study study = MakeStudy({"parametric", "parametric", ""});
    study.mutable_harmonization()->set_features("^f[0-9]+");
    study.mutable_harmonization()->add_report_features(f);
    InProcessFederation fed(f == odd ? renamed : SiteTables(), TempDir(f == odd ? "odd" : "f01"));
    coordinator::StudyContext ctx("st-" + f, study, {"S1", "S2", "S3", "S4"}, &fed);
    ASSERT_TRUE(coordinator::RunHarmonization(ctx).ok());
    out[f] = ResultsJson(ctx)["harmonization"];
  }
  const nlohmann::json &got = out[odd], &want = out["f01"];
  EXPECT_EQ(got["features"][0], odd);
  for (const char* site : {"S1", "S2", "S3", "S4"}) {
    EXPECT_EQ(got["sites"][site]["gamma_star"][odd], want["sites"][site]["gamma_star"]["f01"]);
    EXPECT_EQ(got["distributions"][odd]["after"][site], want["distributions"]["f01"]["after"][site])
        << site;
  }
  EXPECT_EQ(got["pooled"]["var_pooled"][odd], want["pooled"]["var_pooled"]["f01"]);
}

TEST(FederatedComBat, ModelInResultsHarmonisesAJoiningSite) {
  // S1-S3 fit together; S4 joins later with the model from results.json.
  std::map<std::string, CsvTable> three = SiteTables();
  CsvTable s4 = three["S4"];
  three.erase("S4");
  InProcessFederation fed(three, TempDir("join"));
  coordinator::StudyContext ctx("st-join", MakeStudy({"parametric", "parametric", ""}),
                                {"S1", "S2", "S3"}, &fed);
  ASSERT_OK(coordinator::RunHarmonization(ctx));
  ASSERT_OK_AND_ASSIGN(h::ComBatModel model,
                       h::ModelFromJson(ResultsJson(ctx)["harmonization"]["model"]));
  s4.AddColumn("site", std::vector<std::string>(s4.num_rows(), "S4"));
  absl::StatusOr<CsvTable> joined = h::ApplyModelToTable(&model, s4, "site");
  ASSERT_OK(joined);
  EXPECT_TRUE(model.sites.at("S4").joined_after_fit);
  EXPECT_EQ(model.sites.size(), 4u);
}

TEST(FederatedComBat, OutputSuffixKeepsRawColumnsAndAddsHarmonisedOnes) {
  // The same study as "parametric" with output_suffix "_h": the raw columns
  // stay byte for byte, the new columns hold what the in-place run writes.
  const Variant v{"parametric", "parametric", ""};
  InProcessFederation in_place(SiteTables(), TempDir("suffix_in_place"));
  coordinator::StudyContext ctx1("st-in-place", MakeStudy(v), {"S1", "S2", "S3", "S4"},
                                 &in_place);
  ASSERT_OK(coordinator::RunHarmonization(ctx1));
  v1::Study study = MakeStudy(v);
  study.mutable_harmonization()->set_output_suffix("_h");
  InProcessFederation suffixed(SiteTables(), TempDir("suffix"));
  coordinator::StudyContext ctx2("st-suffix", study, {"S1", "S2", "S3", "S4"}, &suffixed);
  absl::Status st = coordinator::RunHarmonization(ctx2);
  ASSERT_OK(st);
  const std::map<std::string, CsvTable> raw = SiteTables();
  for (const char* site : {"S1", "S2", "S3", "S4"}) {
    const CsvTable& t = suffixed.table(site);
    const CsvTable& h_in_place = in_place.table(site);
    for (const std::string& f : raw.at(site).header()) {
      ASSERT_TRUE(t.HasColumn(f)) << site << " " << f;
      EXPECT_EQ(*t.StringColumn(f), *raw.at(site).StringColumn(f)) << site << " " << f;
      if (f.size() == 3 && f[0] == 'f') {
        ASSERT_TRUE(t.HasColumn(f + "_h")) << site << " " << f;
        EXPECT_EQ(*t.StringColumn(f + "_h"), *h_in_place.StringColumn(f)) << site << " " << f;
      }
    }
  }
  EXPECT_EQ(ResultsJson(ctx2)["harmonization"]["output_suffix"], "_h");
}

TEST(FederatedComBat, OutputSuffixThatCollidesWithAColumnIsRefused) {
  std::map<std::string, CsvTable> tables = SiteTables();
  CsvTable& s2 = tables["S2"];
  s2.AddColumn("f01_h", std::vector<std::string>(s2.num_rows(), "0"));
  v1::Study study = MakeStudy({"parametric", "parametric", ""});
  study.mutable_harmonization()->set_output_suffix("_h");
  InProcessFederation fed(tables, TempDir("suffix_collision"));
  coordinator::StudyContext ctx("st-collide", study, {"S1", "S2", "S3", "S4"}, &fed);
  absl::Status st = coordinator::RunHarmonization(ctx);
  // S2 fails combat.fit and is excluded; the quorum (all sites) then fails.
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("f01_h")));
}

// sva leaves a feature that is constant within one site unadjusted at every
// site; the federated step decides that from combat.check, before any
// aggregate, and equals sva (expected_constant_feature.csv).
TEST(FederatedComBat, FeatureConstantAtOneSiteIsLeftUnadjustedEverywhereAsSva) {
  auto t = SiteTables();
  for (size_t i = 0; i < t["S2"].num_rows(); ++i) {
    t["S2"].mutable_cell(i, t["S2"].ColumnIndex("f03")) = "250";  // as make_fixtures.R
  }
  InProcessFederation fed(t, TempDir("constant"));
  coordinator::StudyContext ctx("st-const", MakeStudy({"p", "parametric", ""}),
                                {"S1", "S2", "S3", "S4"}, &fed);
  absl::Status st = coordinator::RunHarmonization(ctx);
  ASSERT_OK(st);
  EXPECT_EQ(ResultsJson(ctx)["harmonization"]["unadjusted_features"], nlohmann::json({"f03"}));
  CsvTable expected = Read(TestData("expected_constant_feature.csv"));
  size_t row = 0;
  for (const char* site : {"S1", "S2", "S3", "S4"}) {
    CsvTable written = Read(fed.output(site) + "/harmonized.csv");
    EXPECT_EQ(*written.StringColumn("f03"), *t[site].StringColumn("f03"));
    for (size_t i = 0; i < written.num_rows(); ++i, ++row) {
      for (const char* f : {"f01", "f02", "f03", "f04", "f05", "f06"}) {
        double a, b;
        ASSERT_TRUE(ParseNumber(written.cell(i, written.ColumnIndex(f)), &a));
        ASSERT_TRUE(ParseNumber(expected.cell(row, expected.ColumnIndex(f)), &b));
        EXPECT_NEAR(a, b, 1e-9 * 0.05) << site << " " << f;
      }
    }
  }
}

// Bad input is refused with the cause named, after combat.check and before
// any aggregate of the data (combat.moments) is requested.
void ExpectRefusedBeforeMoments(std::map<std::string, CsvTable> tables, const Variant& v,
                                const std::string& message, const std::string& name) {
  InProcessFederation fed(std::move(tables), TempDir(name));
  coordinator::StudyContext ctx("st-" + name, MakeStudy(v), {"S1", "S2", "S3", "S4"}, &fed);
  absl::Status st = coordinator::RunHarmonization(ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr(message));
  EXPECT_THAT(fed.kinds_sent, ::testing::Not(::testing::Contains("combat.moments")));
  EXPECT_FALSE(std::filesystem::exists(fed.output("S1") + "/harmonized.csv"));
}

TEST(FederatedComBat, RefusesAFeatureMissingAtOneSite) {
  auto t = SiteTables();
  CsvTable s3(std::vector<std::string>{"patient_id", "age", "sex", "f01", "f02", "f03", "f04",
                                       "f05"}, "S3");
  for (const auto& row : t["S3"].rows()) {
    ASSERT_OK(s3.AddRow(std::vector<std::string>(row.begin(), row.end() - 1)));
  }
  t["S3"] = s3;
  ExpectRefusedBeforeMoments(t, {"p", "parametric", ""}, "feature 'f06' is missing at site(s) S3",
                             "missing_feature");
}

TEST(FederatedComBat, RefusesNonNumericAndMissingValues) {
  auto t = SiteTables();
  t["S2"].mutable_cell(3, t["S2"].ColumnIndex("f02")) = "n/a?";
  t["S4"].mutable_cell(5, t["S4"].ColumnIndex("age")) = "NA";
  ExpectRefusedBeforeMoments(t, {"p", "parametric", ""},
                             "site S2: feature column 'f02' has non-numeric cells; site S4: "
                             "covariate column 'age' has missing values",
                             "non_numeric");
}

TEST(FederatedComBat, RefusesAnUnknownReferenceSite) {
  auto t = SiteTables();
  Variant v{"p", "parametric", "S9"};
  ExpectRefusedBeforeMoments(t, v, "the reference site 'S9' is not among the sites",
                             "unknown_ref");
}

TEST(FederatedComBat, RefusesACovariateConfoundedWithSiteBeforeAnyFit) {
  auto t = SiteTables();
  for (auto& [site, table] : t) {
    table.AddColumn("scanner_a", std::vector<std::string>(table.num_rows(),
                                                           site == "S2" ? "1" : "0"));
  }
  InProcessFederation fed(t, TempDir("confounded"));
  v1::Study study = MakeStudy({"p", "parametric", ""});
  study.mutable_harmonization()->add_covariates("scanner_a");
  coordinator::StudyContext ctx("st-conf", study, {"S1", "S2", "S3", "S4"}, &fed);
  absl::Status st = coordinator::RunHarmonization(ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'scanner_a' is confounded with site"));
  // Only sums left the sites; no site fitted or wrote anything.
  EXPECT_THAT(fed.kinds_sent, ::testing::Not(::testing::Contains("combat.residuals")));
  EXPECT_FALSE(std::filesystem::exists(fed.output("S1") + "/harmonized.csv"));
}

TEST(FederatedComBat, RefusesASiteWithOnePatient) {
  auto t = SiteTables();
  CsvTable one(t["S3"].header(), "S3");
  ASSERT_OK(one.AddRow(t["S3"].rows()[0]));
  t["S3"] = one;
  InProcessFederation fed(t, TempDir("one_patient"));
  v1::Study study = MakeStudy({"p", "parametric", ""});
  study.mutable_quorum()->set_min_sites(4);
  coordinator::StudyContext ctx("st-one", study, {"S1", "S2", "S3", "S4"}, &fed);
  absl::Status st = coordinator::RunHarmonization(ctx);
  // The privacy guard (k = 10) refuses S3's check before the coordinator
  // even sees n; the quorum then stops the step naming S3.
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("S3")));
  EXPECT_THAT(fed.kinds_sent, ::testing::Not(::testing::Contains("combat.moments")));
}

// With a permissive policy (k = 1) the one-patient site reaches the
// coordinator, which refuses the step from combat.check, naming it.
TEST(FederatedComBat, RefusesASiteWithFewerPatientsThanItsParameters) {
  auto t = SiteTables();
  CsvTable one(t["S3"].header(), "S3");
  ASSERT_OK(one.AddRow(t["S3"].rows()[0]));
  t["S3"] = one;
  InProcessFederation fed(t, TempDir("one_patient_k1"), /*min_cell_count=*/1);
  coordinator::StudyContext ctx("st-one-k1", MakeStudy({"p", "parametric", ""}),
                                {"S1", "S2", "S3", "S4"}, &fed);
  absl::Status st = coordinator::RunHarmonization(ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("site S3 has 1 patient(s), fewer than the 2 parameters per feature"));
  EXPECT_THAT(fed.kinds_sent, ::testing::Not(::testing::Contains("combat.moments")));
}

// ---- The site trusts nothing it receives (issue 11): handler-level tests ----

// One handler call on site S4's fixture table (30 patients) with k = 10.
struct HandlerCall {
  absl::StatusOr<TaskOutput> output;
  absl::Status guard;
  double seconds = 0;
};

class ComBatHandler {
 public:
  explicit ComBatHandler(const std::string& name)
      : dir_(TempDir("handler_" + name)), table_(Read(TestData("site_S4.csv"))) {
    RegisterCombatTasks(registry_);
    output_dir_ = dir_ + "/sites/S4/study";
    std::filesystem::create_directories(output_dir_);
  }
  HandlerCall Call(const std::string& kind_name, const v1::Study& study, const v1::Payload& params) {
    const TaskKind* kind = registry_.Find(kind_name);
    EXPECT_NE(kind, nullptr);
    v1::Task task;
    task.set_kind(kind_name);
    *task.mutable_study() = study;
    *task.mutable_params() = params;
    TaskContext ctx;
    ctx.site_id = "S4";
    ctx.task = &task;
    ctx.table = &table_;
    ctx.output_dir = output_dir_;
    ctx.min_cell_count = 10;
    ctx.state = &state_;
    const auto start = std::chrono::steady_clock::now();
    HandlerCall call{kind->handler(ctx), absl::OkStatus()};
    call.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (call.output.ok()) {
      call.guard = PrivacyGuard(GuardPolicy{10, {}, false}).CheckRelease(*kind, *call.output);
    }
    return call;
  }
  // Every file under the test's folder (the site's folders and their parent).
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) out.push_back(e.path().string());
    }
    return out;
  }
  const std::string& output_dir() const { return output_dir_; }
  const CsvTable& table() const { return table_; }
  std::map<std::string, std::string>& state() { return state_; }

 private:
  std::string dir_, output_dir_;
  TaskRegistry registry_;
  CsvTable table_;
  std::map<std::string, std::string> state_;
};

// Plausible pooled estimates for 6 features and 2 covariates (age, sex).
v1::Payload Estimates() {
  v1::Payload p;
  AddVector(&p, "grand_mean", {10, 0, 200, 0.5, 5, 900});
  AddVector(&p, "var_pooled", {4, 1, 100, 0.01, 1, 400});
  AddMatrix(&p, "beta", 2, 6, std::vector<double>(12, 0.0));
  AddVector(&p, "intercept", {10, 0, 200, 0.5, 5, 900});
  return p;
}

v1::Study HandlerStudy() { return MakeStudy({"p", "parametric", ""}); }

void ExpectPublicRefusal(const HandlerCall& call, const std::string& field) {
  ASSERT_THAT(call.output, StatusIs(absl::StatusCode::kInvalidArgument,
                                    ::testing::AllOf(HasSubstr(field), HasSubstr("(rule "))));
  const absl::Status& s = call.output.status();
  EXPECT_TRUE(IsPublic(s)) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("/")));  // no path
  EXPECT_LT(s.message().size(), 300u);
}

TEST(ComBatSiteRules, OutputFileOutsideTheOutputFolderIsRefusedAndNothingIsWritten) {
  for (const std::string& file :
       std::vector<std::string>{"../../x", "/tmp/fedrad_combat_escape_x", "..", ".hidden",
                                "a/b.csv", std::string(300, 'a')}) {
    SCOPED_TRACE(file);
    ComBatHandler site("escape");
    v1::Study study = HandlerStudy();
    study.mutable_harmonization()->set_output_file(file);
    const std::string before = FormatCsv(site.table());
    HandlerCall call = site.Call("combat.fit", study, Estimates());
    ExpectPublicRefusal(call, "harmonization.output_file");
    EXPECT_TRUE(site.Files().empty());  // nothing in or around the site's folders
    EXPECT_FALSE(std::filesystem::exists("/tmp/fedrad_combat_escape_x"));
    EXPECT_EQ(FormatCsv(site.table()), before);  // the working table untouched
    EXPECT_EQ(site.state().count("combat.applied"), 0u);
  }
  // A traversal sent as a task param is ignored: the spec's default file,
  // inside the output folder, is written.
  ComBatHandler site("escape_param");
  v1::Payload params = Estimates();
  (*params.mutable_strings())["output_file"] = "../../x";
  HandlerCall call = site.Call("combat.fit", HandlerStudy(), params);
  ASSERT_OK(call.output);
  EXPECT_EQ(site.Files(), std::vector<std::string>{site.output_dir() + "/harmonized.csv"});
}

TEST(ComBatSiteRules, SettingsInTaskParamsAreIgnoredInFavourOfTheSpec) {
  ComBatHandler honest_site("params_honest");
  HandlerCall honest = honest_site.Call("combat.fit", HandlerStudy(), Estimates());
  ASSERT_OK(honest.output);
  EXPECT_OK(honest.guard);

  ComBatHandler site("params_crafted");
  v1::Payload crafted = Estimates();
  auto& s = *crafted.mutable_strings();
  s["covariates"] = "f01";
  s["method"] = "nonparametric";
  s["empirical_bayes"] = "false";
  s["mean_only"] = "true";
  s["reference"] = "true";
  s["output_suffix"] = "_zz";
  HandlerCall call = site.Call("combat.fit", HandlerStudy(), crafted);
  ASSERT_OK(call.output);
  EXPECT_EQ(call.output->payload.SerializeAsString(), honest.output->payload.SerializeAsString());
  EXPECT_FALSE(site.table().HasColumn("f01_zz"));
  EXPECT_EQ(FormatCsv(site.table()), FormatCsv(honest_site.table()));

  // "reference" comes from spec.reference_site == the certificate's name.
  ComBatHandler ref_site("params_reference");
  v1::Study ref = HandlerStudy();
  ref.mutable_harmonization()->set_reference_site("S4");
  HandlerCall r = ref_site.Call("combat.fit", ref, Estimates());
  ASSERT_OK(r.output);
  EXPECT_THAT(*GetVector(r.output->payload, "gamma_star"), ::testing::Each(0.0));
}

TEST(ComBatSiteRules, FeaturesFromTheTaskMustBeSelectedBySpec) {
  for (const std::vector<std::string>& features :
       std::vector<std::vector<std::string>>{{"patient_id"}, {"age"}, {"f01", "f01"},
                                             {"f01", "nothing"}, {"f01,f02"}}) {
    SCOPED_TRACE(absl::StrJoin(features, "|"));
    ComBatHandler site("features_param");
    v1::Payload p;
    kinds::Put(&p, kinds::combat::kFeatures, features);
    ExpectPublicRefusal(site.Call("combat.moments", HandlerStudy(), p), "features");
  }
  // A subset the spec selects is the coordinator's plan: accepted.
  ComBatHandler site("features_subset");
  v1::Payload p;
  kinds::Put(&p, kinds::combat::kFeatures, {"f02", "f05"});
  HandlerCall call = site.Call("combat.moments", HandlerStudy(), p);
  ASSERT_OK(call.output);
  EXPECT_EQ(GetVector(call.output->payload, "sum_features")->size(), 2u);
  // The population: every row, about the features and covariates used.
  ASSERT_EQ(call.output->populations.size(), 1u);
  EXPECT_EQ(call.output->populations[0].quantities,
            (std::vector<std::string>{"combat:f02", "combat:f05", "combat:age", "combat:sex"}));
  EXPECT_EQ(call.output->populations[0].ids.size(), 30u);
}

TEST(ComBatSiteRules, CraftedPooledEstimatesAreRefused) {
  const double nan = std::nan("");
  const std::vector<std::pair<std::string, v1::Payload>> cases = [&] {
    std::vector<std::pair<std::string, v1::Payload>> c;
    auto with = [&](const std::string& name, std::vector<double> v) {
      v1::Payload p = Estimates();
      for (auto& a : *p.mutable_arrays()) {
        if (a.name() == name) {
          a.clear_values();
          a.clear_shape();
          for (double x : v) a.add_values(x);
          a.add_shape(static_cast<int64_t>(v.size()));
        }
      }
      return p;
    };
    c.emplace_back("var_pooled", with("var_pooled", {4, 1, nan, 0.01, 1, 400}));
    c.emplace_back("var_pooled", with("var_pooled", {4, 1, 0, 0.01, 1, 400}));
    c.emplace_back("var_pooled", with("var_pooled", {4, 1, -1, 0.01, 1, 400}));
    c.emplace_back("grand_mean", with("grand_mean", {1, 2, 3}));
    c.emplace_back("grand_mean", with("grand_mean", {1e300, 0, 0, 0, 0, 0}));
    v1::Payload wide = Estimates();
    AddMatrix(&wide, "beta", 3, 6, std::vector<double>(18, 0.0));
    c.emplace_back("beta", wide);
    return c;
  }();
  for (const auto& [field, params] : cases) {
    SCOPED_TRACE(field);
    ComBatHandler site("estimates");
    HandlerCall call = site.Call("combat.fit", HandlerStudy(), params);
    ExpectPublicRefusal(call, field);
    EXPECT_TRUE(site.Files().empty());
  }
  ComBatHandler site("estimates_rss");
  v1::Payload p = Estimates();
  AddVector(&p, "intercept", {nan, 0, 0, 0, 0, 0});
  ExpectPublicRefusal(site.Call("combat.residuals", HandlerStudy(), p), "intercept");
}

TEST(ComBatSiteRules, OutputSuffixIsBoundedAndPlain) {
  for (const std::string& suffix :
       std::vector<std::string>{std::string(200 * 1024, 'h'), "/h", "_h\n"}) {
    ComBatHandler site("suffix");
    v1::Study study = HandlerStudy();
    study.mutable_harmonization()->set_output_suffix(suffix);
    HandlerCall call = site.Call("combat.fit", study, Estimates());
    ExpectPublicRefusal(call, "harmonization.output_suffix");
    EXPECT_EQ(site.table().num_columns(), 9u);
    EXPECT_TRUE(site.Files().empty());
  }
}

TEST(ComBatSiteRules, CraftedFeaturePatternsFailCleanlyAndFast) {
  ComBatHandler site("pattern");
  v1::Study deep = HandlerStudy();
  deep.mutable_harmonization()->set_features(std::string(100000, '(') + "f" +
                                             std::string(100000, ')'));
  HandlerCall call = site.Call("combat.check", deep, v1::Payload());
  ExpectPublicRefusal(call, "harmonization.features");
  EXPECT_LT(call.seconds, 1.0);
  v1::Study stars = HandlerStudy();
  std::string pattern;
  for (int i = 0; i < 100; ++i) pattern += ".*";
  stars.mutable_harmonization()->set_features(pattern + "Z");
  HandlerCall fast = site.Call("combat.check", stars, v1::Payload());
  ASSERT_OK(fast.output);
  EXPECT_TRUE(kinds::Has(fast.output->payload, kinds::combat_check::kFeatures));
  EXPECT_TRUE(kinds::Get(fast.output->payload, kinds::combat_check::kFeatures).empty());
  EXPECT_LT(fast.seconds, 1.0);
}

// The threshold sweep against combat.distributions: ignored; the site's own
// grid, every step >= k, the same answer as without thresholds.
TEST(ComBatSiteRules, DistributionsThresholdSweepGetsOnlyTheSiteGrid) {
  ComBatHandler site("sweep");
  v1::Payload plain;
  kinds::Put(&plain, kinds::combat_distributions::kColumns, {"f01", "f06"});
  v1::Payload sweep = plain;
  std::vector<double> t;
  for (double x = -100; x <= 1000; x += 0.25) t.push_back(x);
  AddVector(&sweep, "thresholds.f01", t);
  AddVector(&sweep, "thresholds.f06", t);
  HandlerCall a = site.Call("combat.distributions", HandlerStudy(), plain);
  HandlerCall b = site.Call("combat.distributions", HandlerStudy(), sweep);
  ASSERT_OK(b.output);
  EXPECT_OK(b.guard);
  EXPECT_EQ(a.output->payload.SerializeAsString(), b.output->payload.SerializeAsString());
  for (const char* c : {"f01", "f06"}) {
    const std::vector<double> counts = *GetVector(b.output->payload, absl::StrCat("counts.", c));
    // 30 distinct values, k = 10: two points (10 and 20), 10 values above.
    EXPECT_THAT(counts, ::testing::ElementsAre(10, 20)) << c;
  }
  EXPECT_EQ(b.output->populations.size(), 2u);
  // Columns the spec does not select, and more than 12, are refused.
  v1::Payload age;
  kinds::Put(&age, kinds::combat_distributions::kColumns, {"age"});
  ExpectPublicRefusal(site.Call("combat.distributions", HandlerStudy(), age), "spec-features");
  v1::Payload many;
  kinds::Put(&many, kinds::combat_distributions::kColumns,
             {"f01", "f02", "f03", "f04", "f05", "f06", "f01", "f02", "f03", "f04", "f05", "f06",
              "f01"});
  ExpectPublicRefusal(site.Call("combat.distributions", HandlerStudy(), many), "report-features");
}

}  // namespace
}  // namespace fedrad::site
