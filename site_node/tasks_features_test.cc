// The site's "features.extract" task on a tiny real synthetic cohort
// (synth::GenerateCohort: one center, 12 CT volumes with masks, case C1_0003
// written corrupt), run through the real handler and privacy guard; and the
// spec check of the study's `features` section, at the site and at the
// coordinator (which refuses a bad section before sending any task).
#include <filesystem>
#include <map>
#include <string>

#include <google/protobuf/util/message_differencer.h>

#include "coordinator/analyses.h"
#include "coordinator/study_context.h"
#include "core/csv.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/payload.h"
#include "proto/task_kinds.h"
#include "proto/textproto.h"
#include "site_node/builtin_tasks.h"
#include "site_node/privacy_guard.h"
#include "site_node/task_registry.h"
#include "site_node/tasks_features_spec.h"
#include "synth/cohort.h"

namespace fedrad::site {
namespace {

using ::fedrad::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFeatures[] = R"pb(
id_column: "case_id"
features {
  enabled: true
  settings { discretisation { bin_width: 25 } families: "stat" }
  regions { roi: "largest_lesion" prefix: "lesion_" }
  regions { roi: "bkg" prefix: "bkg_" }
}
)pb";

// One generated cohort for the whole test binary (about 1 s).
class FeaturesTaskTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(fs::temp_directory_path() /
                           ("fedrad-features-task-" + std::to_string(getpid())));
    synth::CohortOptions o;
    o.out_dir = *dir_ + "/cohort";
    o.patients_per_center = {12};
    o.seed = 5;
    o.threads = 2;
    o.corrupt_cases = {"C1_0003"};
    auto s = synth::GenerateCohort(o);
    ASSERT_OK(s);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
  }

  void SetUp() override {
    RegisterFeatureTasks(registry_);
    ASSERT_OK_AND_ASSIGN(auto t, ReadCsv(center_dir() + "/manifest.csv"));
    table_ = t;
    ASSERT_OK(ParseTextProto(kFeatures, "test", task_.mutable_study()));
    task_.set_kind("features.extract");
    output_dir_ = *dir_ + "/site-output/study-1";
    fs::create_directories(output_dir_);
  }

  std::string center_dir() const { return *dir_ + "/cohort/C1"; }

  TaskContext Context() {
    TaskContext ctx;
    ctx.site_id = "C1";
    ctx.task = &task_;
    ctx.table = &table_;
    ctx.output_dir = output_dir_;
    ctx.min_cell_count = 10;
    ctx.state = &state_;
    ctx.id_column = "case_id";
    ctx.data_dir = center_dir();
    ctx.extraction_threads = 2;
    return ctx;
  }

  absl::StatusOr<TaskOutput> RunTask() {
    TaskContext ctx = Context();
    return registry_.Find("features.extract")->handler(ctx);
  }

  static std::string* dir_;
  TaskRegistry registry_;
  v1::Task task_;
  CsvTable table_;
  std::string output_dir_;
  std::map<std::string, std::string> state_;
};
std::string* FeaturesTaskTest::dir_ = nullptr;

TEST_F(FeaturesTaskTest, CorruptImageIsExcludedNamedAndRemovedWhileTheRestIsExtracted) {
  ASSERT_EQ(table_.num_rows(), 12u);
  const size_t columns_before = table_.num_columns();
  ASSERT_OK_AND_ASSIGN(auto out, RunTask());

  EXPECT_EQ(*GetScalar(out.payload, "n_cases"), 12);
  EXPECT_EQ(*GetScalar(out.payload, "n_ok"), 11);
  EXPECT_EQ(*GetScalar(out.payload, "n_excluded"), 1);
  EXPECT_EQ(out.n_contributing, 11);
  auto excluded = kinds::Get(out.payload, kinds::features_extract::kExcludedCases);
  ASSERT_EQ(excluded.size(), 1u);
  EXPECT_EQ(excluded[0].case_id(), "C1_0003");
  const std::string reason = excluded[0].reason();
  EXPECT_THAT(reason, HasSubstr("<image>"));         // the column, ...
  EXPECT_THAT(reason, Not(HasSubstr(center_dir())));  // ... never the local path

  // The table lost the corrupt case and gained the features of both regions.
  ASSERT_EQ(table_.num_rows(), 11u);
  ASSERT_OK_AND_ASSIGN(auto ids, table_.StringColumn("case_id"));
  EXPECT_THAT(ids, Not(::testing::Contains("C1_0003")));
  const double n_columns = *GetScalar(out.payload, "n_feature_columns");
  EXPECT_EQ(table_.num_columns(), columns_before + static_cast<size_t>(n_columns));
  for (const char* c : {"lesion_stat_mean", "lesion_stat_variance", "bkg_stat_mean", "bkg_stat_variance"}) {
    auto v = table_.NumericColumn(c, MissingValues::kReject);
    ASSERT_OK(v) << c;
    EXPECT_EQ(v->size(), 11u);
  }
  // The synthetic parenchyma is brighter than the hypodense metastases.
  auto lesion = *table_.NumericColumn("lesion_stat_mean", MissingValues::kReject);
  auto bkg = *table_.NumericColumn("bkg_stat_mean", MissingValues::kReject);
  for (size_t i = 0; i < lesion.size(); ++i) EXPECT_LT(lesion[i], bkg[i]) << "row " << i;

  // Only the declared counts leave, and only above k.
  PrivacyGuard guard(GuardPolicy{10, {}, false});
  EXPECT_OK(guard.CheckRelease(*registry_.Find("features.extract"), out));
  PrivacyGuard strict(GuardPolicy{12, {}, false});
  EXPECT_THAT(strict.CheckRelease(*registry_.Find("features.extract"), out),
              StatusIs(absl::StatusCode::kPermissionDenied));

  // Local outputs for the operator.
  EXPECT_TRUE(fs::exists(output_dir_ + "/features.csv"));
  ASSERT_OK_AND_ASSIGN(auto errors, ReadCsv(output_dir_ + "/feature_errors.csv"));
  EXPECT_EQ(errors.num_rows(), 1u);
  // The cache sits beside the study folders, for every study of this site.
  EXPECT_TRUE(fs::exists(*dir_ + "/site-output/.feature-cache"));
}

TEST_F(FeaturesTaskTest, RepeatedTaskReturnsTheSameResultAndLeavesTheTableAlone) {
  ASSERT_OK_AND_ASSIGN(auto first, RunTask());
  const CsvTable after_first = table_;
  ASSERT_OK_AND_ASSIGN(auto second, RunTask());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(second.payload, first.payload));
  EXPECT_EQ(second.n_contributing, first.n_contributing);
  EXPECT_EQ(table_.header(), after_first.header());
  EXPECT_EQ(table_.rows(), after_first.rows());
}

TEST_F(FeaturesTaskTest, SiteWhereEveryCaseFailsFailsTheTaskWithAClearMessage) {
  const int image = table_.ColumnIndex("image");
  for (size_t r = 0; r < table_.num_rows(); ++r) table_.mutable_cell(r, image) = "missing/ct.nii.gz";
  auto out = RunTask();
  ASSERT_THAT(out, StatusIs(absl::StatusCode::kFailedPrecondition,
                            HasSubstr("failed for every one of the site's 12 cases")));
  EXPECT_EQ(table_.num_rows(), 12u);  // untouched
}

TEST_F(FeaturesTaskTest, EmptyPathCellExcludesTheCaseNamingTheColumnAndLine) {
  table_.mutable_cell(4, table_.ColumnIndex("liver_mask")) = "";
  ASSERT_OK_AND_ASSIGN(auto out, RunTask());
  auto excluded = kinds::Get(out.payload, kinds::features_extract::kExcludedCases);
  ASSERT_EQ(excluded.size(), 2u);  // C1_0003 (corrupt CT) and C1_0005 (no liver mask)
  EXPECT_EQ(excluded[0].case_id(), "C1_0003");
  EXPECT_EQ(excluded[1].case_id(), "C1_0005");
  EXPECT_EQ(excluded[1].reason(), "empty 'liver_mask' cell (data table line 6)");
  EXPECT_EQ(table_.num_rows(), 10u);
}

TEST_F(FeaturesTaskTest, MissingImageColumnIsNamed) {
  task_.mutable_study()->mutable_features()->set_image_column("ct_path");
  auto out = RunTask();
  ASSERT_THAT(out, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ct_path")));
}

// The hospital path: the same cohort written as DICOM CT series with an
// RTSTRUCT (columns image = series folder, rtstruct, lesion_roi, liver_roi)
// gives the same feature columns and values (to the float32 rounding of the
// NIfTI header's spacing) and excludes the corrupt case (a missing slice)
// without releasing a local path.
TEST_F(FeaturesTaskTest, DicomCenterGivesTheSameFeaturesAsNifti) {
  synth::CohortOptions o;
  o.out_dir = *dir_ + "/dicom-cohort";
  o.patients_per_center = {12};
  o.seed = 5;
  o.threads = 2;
  o.corrupt_cases = {"C1_0003"};
  o.dicom_centers = {"C1"};
  ASSERT_OK(synth::GenerateCohort(o));
  ASSERT_OK(RunTask());
  const CsvTable nifti = table_;
  ASSERT_OK_AND_ASSIGN(auto t, ReadCsv(o.out_dir + "/C1/manifest.csv"));
  ASSERT_FALSE(t.HasColumn("lesion_mask"));
  table_ = t;
  state_.clear();
  output_dir_ = *dir_ + "/site-output/study-dicom";
  fs::create_directories(output_dir_);
  TaskContext ctx = Context();
  ctx.data_dir = o.out_dir + "/C1";
  ASSERT_OK_AND_ASSIGN(auto out, registry_.Find("features.extract")->handler(ctx));
  auto excluded = kinds::Get(out.payload, kinds::features_extract::kExcludedCases);
  ASSERT_EQ(excluded.size(), 1u);
  EXPECT_EQ(excluded[0].case_id(), "C1_0003");
  const std::string reason = excluded[0].reason();
  EXPECT_THAT(reason, HasSubstr("missing slice"));
  EXPECT_THAT(reason, HasSubstr("<image>"));
  EXPECT_THAT(reason, Not(HasSubstr(o.out_dir)));
  ASSERT_EQ(table_.num_rows(), nifti.num_rows());
  for (const char* c : {"lesion_stat_mean", "lesion_stat_variance", "bkg_stat_mean",
                        "bkg_stat_variance", "lesion_stat_energy"}) {
    auto a = nifti.NumericColumn(c, MissingValues::kReject);
    auto b = table_.NumericColumn(c, MissingValues::kReject);
    ASSERT_OK(a) << c;
    ASSERT_OK(b) << c;
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_NEAR((*b)[i], (*a)[i], 1e-6 * std::max(1.0, std::abs((*a)[i]))) << c << " row " << i;
    }
  }
}

// The spec check names the field.
absl::Status Check(const std::string& text) {
  v1::Study study;
  absl::Status parsed = ParseTextProto(text, "test", &study);
  if (!parsed.ok()) return parsed;
  return ResolveFeatureExtraction(study.features()).status();
}

TEST(FeatureSpec, BadSectionsAreRefusedNamingTheField) {
  EXPECT_THAT(Check(R"pb(features { enabled: true regions { roi: "tumour" } })pb").message(),
              HasSubstr("features.regions[0].roi: 'tumour' is not a region"));
  EXPECT_THAT(Check(R"pb(features { enabled: true
                                    regions { roi: "bkg" prefix: "x_" }
                                    regions { roi: "liver" prefix: "x_" } })pb")
                  .message(),
              HasSubstr("two regions share the column prefix 'x_'"));
  EXPECT_THAT(Check(R"pb(features { enabled: true regions { roi: "bkg" } regions { roi: "bkg" prefix: "b2_" } })pb")
                  .message(),
              HasSubstr("features.regions[1].roi: 'bkg' is listed twice"));
  EXPECT_THAT(Check(R"pb(features { enabled: true settings { discretisation { bin_width: -5 } } })pb")
                  .message(),
              HasSubstr("features.settings: discretisation.bin_width must be > 0"));
  EXPECT_THAT(Check(R"pb(features { enabled: true families: "glcm" settings { families: "stat" } })pb")
                  .message(),
              HasSubstr("features.families and features.settings.families are both given"));
  EXPECT_THAT(Check(R"pb(features { enabled: true families: "texture" })pb").message(),
              HasSubstr("texture"));
}

TEST(FeatureSpec, DefaultsAreLargestLesionAndBkg) {
  ASSERT_OK_AND_ASSIGN(auto plan, ResolveFeatureExtraction(v1::FeatureExtraction()));
  ASSERT_EQ(plan.regions.size(), 2u);
  EXPECT_EQ(plan.regions[0], std::make_pair(std::string("largest_lesion"), std::string("lesion_")));
  EXPECT_EQ(plan.regions[1], std::make_pair(std::string("bkg"), std::string("bkg_")));
  EXPECT_TRUE(plan.needs_liver_mask);
  EXPECT_EQ(plan.image_column, "image");
  EXPECT_EQ(plan.settings_sha256.size(), 64u);
  // Only the regions asked for are computed.
  EXPECT_FALSE(plan.options.regions.each_lesion);
  EXPECT_FALSE(plan.options.regions.all_lesions);
  EXPECT_FALSE(plan.options.regions.liver);
  EXPECT_TRUE(plan.options.regions.bkg);
  EXPECT_TRUE(plan.options.largest_lesion);
  EXPECT_FALSE(plan.options.patient);
}

// A coordinator-side host that records whether any task was sent.
class CountingHost : public coordinator::StudyHost {
 public:
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    sent += static_cast<int>(tasks.size());
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) out.emplace(site, absl::UnavailableError("not used"));
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }
  int sent = 0;
};

TEST(FeatureSpec, CoordinatorRefusesABadSectionBeforeSendingAnyTask) {
  v1::Study study;
  ASSERT_OK(ParseTextProto(R"pb(features {
                                  enabled: true
                                  regions { roi: "lesion_7" }
                                }
                                cohort_summary { enabled: true })pb",
                           "test", &study));
  EXPECT_THAT(coordinator::CheckFeatureExtraction(study).message(),
              HasSubstr("features.regions[0].roi"));
  // The whole-spec check (submission, sandbox) names it too.
  EXPECT_THAT(coordinator::CheckStudy(study).message(),
              HasSubstr("features.regions[0].roi: 'lesion_7' is not a region"));
  CountingHost host;
  coordinator::StudyContext ctx("s1", study, {"A", "B"}, &host);
  absl::Status status = coordinator::RunAnalyses(ctx);
  EXPECT_THAT(status.message(), HasSubstr("features.regions[0].roi: 'lesion_7' is not a region"));
  EXPECT_EQ(host.sent, 0);
}

// A coordinator-side host where every site answers with `result`.
class AnsweringHost : public coordinator::StudyHost {
 public:
  explicit AnsweringHost(v1::TaskResult result) : result_(std::move(result)) {}
  std::map<std::string, absl::StatusOr<v1::TaskResult>> Exchange(
      const std::map<std::string, v1::Task>& tasks, double) override {
    std::map<std::string, absl::StatusOr<v1::TaskResult>> out;
    for (const auto& [site, task] : tasks) {
      v1::TaskResult r = result_;
      r.set_task_id(task.task_id());
      r.set_study_id(task.study_id());
      r.set_kind(task.kind());
      out.emplace(site, std::move(r));
    }
    return out;
  }
  void OnSiteState(const std::string&, const std::string&) override {}
  void OnProgress(const std::string&, double, const std::string&) override {}
  bool Cancelled() const override { return false; }

 private:
  v1::TaskResult result_;
};

// The excluded cases travel as typed case notes (proto/task_kinds.h) from the
// site's encoder to the coordinator's results (features.sites.<site>.excluded).
TEST_F(FeaturesTaskTest, TheCoordinatorRecordsTheExcludedCasesTheSiteSent) {
  ASSERT_OK_AND_ASSIGN(auto out, RunTask());
  v1::TaskResult result;
  *result.mutable_payload() = out.payload;
  AnsweringHost host(result);
  coordinator::StudyContext ctx("s1", task_.study(), {"C1"}, &host);
  ASSERT_OK(coordinator::RunFeatureExtraction(ctx));
  const auto& site = ctx.results().features().sites().at("C1");
  EXPECT_EQ(site.n_cases(), 12);
  EXPECT_EQ(site.n_excluded(), 1);
  ASSERT_EQ(site.excluded_size(), 1);
  EXPECT_EQ(site.excluded(0).case_(), "C1_0003");
  EXPECT_THAT(site.excluded(0).reason(), HasSubstr("<image>"));
}

}  // namespace
}  // namespace fedrad::site
