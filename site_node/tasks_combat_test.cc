// Federated ComBat in one process: the real site task handlers
// (site_node/tasks_combat.cc) behind the real privacy guard, driven by the
// real coordinator step (coordinator/analysis_combat.cc) through a
// StudyHost that calls the handlers directly instead of the network.
// Compared with the pooled `fedrad harmonize` path and with R's
// sva::ComBat (harmonization/testdata/expected_*.csv, made by
// harmonization/testdata/make_fixtures.R). The site's own rules, one
// handler call at a time, are in tasks_combat_rules_test.cc.
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
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
#include "site_node/tasks_combat_testutil.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;
using combat_testing::MakeStudy;
using combat_testing::Read;
using combat_testing::TempDir;
using combat_testing::TestData;
using combat_testing::Variant;

// results.json as the study runner prints it (proto/results_json.h).
nlohmann::json ResultsJson(coordinator::StudyContext& ctx) {
  absl::StatusOr<std::string> text = PrintResults(ctx.results());
  EXPECT_OK(text);
  return nlohmann::json::parse(text.ok() ? *text : "{}");
}

namespace h = ::fedrad::harmonization;
using ::testing::HasSubstr;

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
    if (v.covariates) EXPECT_TRUE(out["pooled"]["beta"]["age"].contains("f01"));
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

}  // namespace
}  // namespace fedrad::site
