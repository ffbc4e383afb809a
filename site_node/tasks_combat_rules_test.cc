// The site trusts nothing it receives (issue 11): ComBat's site task
// handlers (site_node/tasks_combat.cc) called one at a time on site S4's
// fixture table (harmonization/testdata/site_S4.csv, 30 patients) with
// k = 10, behind the real privacy guard, with crafted task params and
// specs: every refusal is public, names its field and rule, and leaves the
// site's table and folders untouched. The federated rounds are in
// tasks_combat_test.cc.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/site_rules.h"
#include "site_node/task_registry.h"
#include "site_node/tasks_combat_testutil.h"

namespace fedrad::site {
namespace {

using combat_testing::MakeStudy;
using combat_testing::Read;
using combat_testing::TempDir;
using combat_testing::TestData;
using ::fedrad::testing::StatusIs;
using ::testing::HasSubstr;

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
  HandlerCall Call(const std::string& kind_name, const v1::Study& study,
                   const v1::Payload& params) {
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
  for (const std::vector<std::string>& features : std::vector<std::vector<std::string>>{
           {"patient_id"}, {"age"}, {"f01", "f01"}, {"f01", "nothing"}, {"f01,f02"}}) {
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
  kinds::Put(
      &many, kinds::combat_distributions::kColumns,
      {"f01", "f02", "f03", "f04", "f05", "f06", "f01", "f02", "f03", "f04", "f05", "f06", "f01"});
  ExpectPublicRefusal(site.Call("combat.distributions", HandlerStudy(), many), "report-features");
}

}  // namespace
}  // namespace fedrad::site
